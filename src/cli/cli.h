/* cli.h - what every `borealis` command sees: the command table entry
 * (name, usage, options, handler), the parsed arguments and the run
 * context. The table itself lives in commands.c; each command lives in its
 * own cmd-*.c file and exports one `const struct cli_command`. */
#ifndef BO_CLI_CLI_H
#define BO_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "base/options.h"

#define CLI_PROGRAM "borealis"
#define CLI_VERSION "0.1.0"
#define CLI_DEFAULT_SCHEDULER "https://127.0.0.1:8081"
#define CLI_SCHEDULER_ENV "BOREALIS_SCHEDULER"
#define CLI_TOKEN_ENV "BOREALIS_TOKEN"
#define CLI_TOKEN_FILE_ENV "BOREALIS_TOKEN_FILE"
#define CLI_CREDENTIALS_HINT                                                                                   \
    "set $" CLI_TOKEN_FILE_ENV " to a token file, $" CLI_TOKEN_ENV " to a token, or write one to "          \
    "~/.config/borealis/credentials (mode 0600)"

/* Run context shared by all commands. */
struct cli_ctx {
    const char *argv0;     /* as invoked, for example commands we print */
    const char *scheduler; /* base URL, no trailing slash */
    const char *token;     /* bearer token (cli/credentials.h), or NULL */
};

/* Arguments of one command after option parsing. Values point into argv. */
struct cli_args {
    const struct cli_command *cmd;
    char **pos; /* positional arguments */
    size_t n_pos;
    struct bo_option *table; /* the command's options, then the global ones */
    struct bo_opts opts;
};

struct cli_command {
    const char *group; /* "job", "task", or NULL for a top-level command */
    const char *name;
    const char *args;    /* positional usage, "KEY FILE" */
    const char *summary; /* one line */
    const char *help;    /* paragraph(s) for --help and docs/cli.md */
    const char *examples; /* lines of shell, for --help and docs */
    /* NULL-name terminated (base/options.h), may be NULL. A daemon's
     * table is its own, listed here for help and docs/cli.md. */
    const struct bo_option *options;
    int min_args, max_args; /* max_args -1: no limit */
    bool offline; /* never talks to the scheduler (no --scheduler option) */
    /* Daemons parse their own options (with the same parser and table):
     * argv (starting at the command name) is handed to run_raw untouched,
     * --help included. */
    int (*run_raw)(int argc, char **argv);
    int (*run)(struct cli_ctx *ctx, const struct cli_args *args);
};

/* Option access by name (the name must be in the command's table). */
bool cli_flag(const struct cli_args *a, const char *name);
/* True when the option was given (not only defaulted). */
bool cli_given(const struct cli_args *a, const char *name);
/* The typed value (given or default) of an INT, DURATION, SIZE, ... option. */
union bo_opt_value cli_typed(const struct cli_args *a, const char *name);
/* The last value given, else the option's default, else NULL. */
const char *cli_value(const struct cli_args *a, const char *name);
/* Every value of a repeatable option. */
const char *const *cli_values(const struct cli_args *a, const char *name, size_t *ret_n);

#endif
