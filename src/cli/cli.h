/* cli.h - what every `borealis` command sees: the command table entry
 * (name, usage, options, handler), the parsed arguments and the run
 * context. The table itself lives in commands.c; each command lives in its
 * own cmd-*.c file and exports one `const struct cli_command`. */
#ifndef BO_CLI_CLI_H
#define BO_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_PROGRAM "borealis"
#define CLI_VERSION "0.1.0"
#define CLI_DEFAULT_SCHEDULER "http://127.0.0.1:8081"
#define CLI_SCHEDULER_ENV "BOREALIS_SCHEDULER"

/* One option of a command. `arg` is the metavariable of its value ("URL"),
 * NULL for a flag. A `repeat` option may be given several times (--bind). */
struct cli_option {
    const char *name; /* long name without "--" */
    const char *arg;
    bool repeat;
    const char *help;
};

/* Run context shared by all commands. */
struct cli_ctx {
    const char *argv0;     /* as invoked, for example commands we print */
    const char *scheduler; /* base URL, no trailing slash */
};

/* Arguments of one command after option parsing. Values point into argv. */
struct cli_args {
    const struct cli_command *cmd;
    char **pos; /* positional arguments */
    size_t n_pos;
    /* values[i] / n_values[i]: the values given for cmd->options[i]
     * (a flag has n_values > 0 and values NULL). */
    const char ***values;
    size_t *n_values;
};

struct cli_command {
    const char *group; /* "job", "task", or NULL for a top-level command */
    const char *name;
    const char *args;    /* positional usage, "KEY FILE" */
    const char *summary; /* one line */
    const char *help;    /* paragraph(s) for --help and docs/cli.md */
    const char *examples; /* lines of shell, for --help and docs */
    const struct cli_option *options; /* NULL-name terminated, may be NULL */
    int min_args, max_args; /* max_args -1: no limit */
    bool offline; /* never talks to the scheduler (no --scheduler option) */
    /* Daemons own their options: argv (starting at the command name) is
     * handed to run_raw untouched, --help included. */
    int (*run_raw)(int argc, char **argv);
    int (*run)(struct cli_ctx *ctx, const struct cli_args *args);
};

/* Option access by name (the name must be in the command's table). */
bool cli_flag(const struct cli_args *a, const char *name);
/* The last value given, or NULL. */
const char *cli_value(const struct cli_args *a, const char *name);
/* Every value of a repeatable option. */
const char *const *cli_values(const struct cli_args *a, const char *name, size_t *ret_n);

#endif
