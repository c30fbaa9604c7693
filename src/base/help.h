/* help.h - the one help format of every Borealis program: `--help` pages
 * (usage, text, options, examples) and the option rows of docs/cli.md, all
 * made from option tables (base/options.h). The scheduler, the agent and
 * each `borealis` command print their help through it, so they read alike. */
#ifndef BO_HELP_H
#define BO_HELP_H

#include <stdio.h>

#include "base/options.h"

#define BO_HELP_WIDTH 79
/* Column where option help texts start. */
#define BO_HELP_OPTION_COL 26

struct bo_help_page {
    const char *usage;    /* "borealis scheduler [OPTIONS]" (after "Usage: ") */
    const char *text;     /* paragraph, wrapped */
    /* Option tables listed under "Options:", in order (NULL-terminated
     * list, entries may be NULL); -h/--help is always listed last. */
    const struct bo_option *const *options;
    const char *examples; /* lines of shell, or NULL */
};

/* Print `text` wrapped at BO_HELP_WIDTH, every line indented by `indent`. */
void bo_help_wrap(FILE *f, const char *text, int indent);
/* "  HEAD    text that wraps under itself", with HEAD padded to column `col`. */
void bo_help_item(FILE *f, const char *head, int col, const char *text);
/* One line per option: "  -h, --name ARG   help (default: X)". */
void bo_help_options(FILE *f, const struct bo_option *table, int col);
void bo_help_page(FILE *f, const struct bo_help_page *p);
/* Markdown table rows "| `--name ARG` | help (default: X) |" of docs/cli.md. */
void bo_help_markdown_options(FILE *f, const struct bo_option *table);

#endif
