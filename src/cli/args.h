/* args.h - option parsing for the commands, with the shared parser of
 * base/options.h driven by each command's option table (so --help, docs
 * and parsing cannot disagree). */
#ifndef BO_CLI_ARGS_H
#define BO_CLI_ARGS_H

#include <stdbool.h>

#include "base/error.h"
#include "cli/cli.h"

/* Options every command that talks to the scheduler accepts, and that may
 * also come before the command ("borealis --scheduler URL job list"). */
extern const struct bo_option cli_global_options[];
/* The options of `borealis` itself, before the command: the global ones
 * and --version. */
extern const struct bo_option cli_main_options[];

/* Parse argv (the words after the command name) for `cmd`. Sets *ret_help
 * when -h/--help was given (then the argument count is not checked).
 * --scheduler updates ctx->scheduler. Returns 0 or, with a BO_E_INVALID
 * error naming the offending word, BO_OPTS_BAD_USAGE (the caller prints
 * the usage and exits CLI_EXIT_INVALID_COMMAND) or BO_OPTS_BAD_VALUE (a
 * bad option value: CLI_EXIT_INVALID_PARAMETER). */
int cli_args_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_ctx *ctx,
                   struct cli_args *ret, bool *ret_help, bo_error_t *err);
void cli_args_clear(struct cli_args *a);

/* Check and normalise a scheduler URL (http:// or https://, trailing '/'
 * removed). Returns a heap string or NULL with a BO_E_INVALID error. */
char *cli_scheduler_url(const char *s, bo_error_t *err);

#endif
