/* help.h - every help text of `borealis` and docs/cli.md, generated from
 * the command table, the option tables and the exit code table. */
#ifndef BO_CLI_HELP_H
#define BO_CLI_HELP_H

#include <stdio.h>

#include "cli/cli.h"

/* "Usage: borealis job create KEY FILE [OPTIONS]" */
void help_usage(const struct cli_command *c, FILE *f);
/* `borealis <command> --help` */
void help_command(const struct cli_command *c, FILE *f);
/* `borealis --help` */
void help_main(FILE *f);
/* `borealis job --help` */
void help_group(const char *group, FILE *f);
/* docs/cli.md */
void help_markdown(FILE *f);
/* The field table of docs/jobs.md (from src/model/job.c's table). */
void help_job_fields_markdown(FILE *f);

#endif
