/* options.h - the one command-line option parser of every Borealis program
 * (the scheduler, the agent and each `borealis` command), as tmux drives
 * its commands from one argument table. A table of options (name, short
 * letter, kind of value, default, bounds, help) drives parsing,
 * validation, defaults, `--help` (base/help.h) and docs/cli.md.
 *
 * Syntax, the same everywhere: options may come before, between or after
 * positional arguments; `--name value` and `--name=value` are the same;
 * `-x value` for an option with a short letter; `--` ends the options;
 * `-h` and `--help` are always known. An option given again overrides
 * the earlier value (so a script can append to a command line), unless it
 * is `repeat`able, which collects every value. */
#ifndef BO_OPTIONS_H
#define BO_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Values longer than this are refused (every user input has a limit). */
#define BO_OPT_VALUE_MAX 4096

enum bo_opt_kind {
    BO_OPT_FLAG,     /* no value; stored as bool */
    BO_OPT_STRING,   /* non-empty text; stored as const char * (into argv or the table) */
    BO_OPT_INT,      /* integer in [min, max]; stored as int64_t */
    BO_OPT_NUMBER,   /* decimal number in [min, max]; stored as double */
    BO_OPT_SIZE,     /* bytes, with units ("4GiB"), in [min, max]; stored as uint64_t */
    BO_OPT_DURATION, /* "250ms", "30s", "5m", in [min, max] milliseconds; stored as int64_t ms */
    BO_OPT_CHOICE,   /* one of `choices`; stored as int (its index) */
};

struct bo_option;
/* A setter for values that need more than their kind's check (a URL, a
 * directory made absolute, KEY:VALUE pairs). It gets the caller's target
 * and the text; the kind's check (bounds included) already passed. */
typedef int (*bo_opt_set_fn)(void *target, const struct bo_option *o, const char *value, bo_error_t *err);

/* Where a value is stored in the caller's struct: BO_OPT_AT(struct s, m).
 * 0 (the default of a designated initializer) means "not stored". */
#define BO_OPT_AT(type, member) (offsetof(type, member) + 1)

struct bo_option {
    const char *name; /* long name without "--"; NULL ends a table */
    char short_name;  /* 'x' for -x, or 0 */
    enum bo_opt_kind kind;
    const char *arg;  /* metavariable in help ("URL"); NULL: from the kind */
    const char *def;  /* default, written as on the command line and applied
                       * before parsing; NULL: none */
    const char *def_doc; /* the default as help shows it when it is found at
                          * run time ("online CPUs") */
    /* Bounds of INT, NUMBER, SIZE and DURATION (ms); both 0: no bounds. */
    double min, max;
    const char *const *choices; /* CHOICE: NULL-terminated */
    bool repeat;                /* every value is kept (--bind a=1 --bind b=2) */
    const char *help;
    size_t at;        /* BO_OPT_AT(...) or 0 */
    bo_opt_set_fn set; /* called instead of storing at `at` */
};

/* The typed value of one occurrence. */
union bo_opt_value {
    bool flag;
    int64_t i; /* INT, DURATION (ms) */
    uint64_t u; /* SIZE */
    double d;  /* NUMBER */
    int choice;
};

/* The result of a parse. Texts point into argv. */
struct bo_opts {
    const struct bo_option *table;
    size_t n;              /* options in the table */
    size_t *count;         /* count[i]: times table[i] was given */
    const char ***texts;   /* texts[i][k]: the k-th value of table[i] */
    union bo_opt_value *value; /* value[i]: the last value of table[i] */
    char **pos;            /* positional arguments */
    size_t n_pos;
    int n_used;            /* bo_opts_parse_head: words of argv it took */
    bool help;             /* -h or --help was given */
};

/* Parse argv[0..argc) (the words after the program or command name).
 * Defaults are applied first (to `target`, through `at` or `set`), then
 * each option given. `target` may be NULL when no option has `at` or
 * `set`. Positional arguments are collected, not checked. Errors
 * (BO_E_INVALID, naming the option) come in two sorts, as the CLI's exit
 * codes tell a wrong command from a wrong value:
 *   BO_OPTS_BAD_USAGE: an unknown option (with a "did you mean"
 *     suggestion), a missing value, a value given to a flag;
 *   BO_OPTS_BAD_VALUE: a value of the wrong kind, out of bounds, or
 *     refused by the option's setter. */
#define BO_OPTS_BAD_USAGE (-1)
#define BO_OPTS_BAD_VALUE (-2)
int bo_opts_parse(const struct bo_option *table, int argc, char **argv, void *target, struct bo_opts *ret,
                  bo_error_t *err);
/* The same for options before a command ("prog --opt V COMMAND ..."): stops
 * at the first word that is not an option (or after "--"); ret->n_used
 * says how many words it took. */
int bo_opts_parse_head(const struct bo_option *table, int argc, char **argv, void *target, struct bo_opts *ret,
                       bo_error_t *err);
void bo_opts_clear(struct bo_opts *o);

/* Access by name (the name must be in the table: a missing one is a bug and
 * aborts). */
bool bo_opts_given(const struct bo_opts *o, const char *name);
/* The last value given, else the default's text, else NULL. */
const char *bo_opts_text(const struct bo_opts *o, const char *name);
const char *const *bo_opts_texts(const struct bo_opts *o, const char *name, size_t *ret_n);
/* The typed value, given or default (the option must have one of them). */
union bo_opt_value bo_opts_value(const struct bo_opts *o, const char *name);

/* Number of options in a NULL-name terminated table. */
size_t bo_opts_count(const struct bo_option *table);
/* "URL", "N", "SIZE", "DURATION", "full|normal"; NULL for a flag. */
const char *bo_opt_metavar(const struct bo_option *o);

#endif
