/* args.c - table-driven option parsing for the commands. */
#include "cli/args.h"

#include <string.h>

#define CLI_MAX_URL 2048

const struct cli_option cli_global_options[] = {
    {"scheduler", "URL", false,
     "scheduler API address (default: $" CLI_SCHEDULER_ENV ", else " CLI_DEFAULT_SCHEDULER ")"},
    {"help", NULL, false, "show this help"},
    {NULL, NULL, false, NULL},
};

static size_t count_options(const struct cli_option *o)
{
    size_t n = 0;
    while (o && o[n].name)
        n++;
    return n;
}

static int find_option(const struct cli_option *o, const char *name, size_t len)
{
    for (size_t i = 0; o && o[i].name; i++)
        if (strlen(o[i].name) == len && strncmp(o[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

char *cli_scheduler_url(const char *s, bo_error_t *err)
{
    size_t len = strlen(s);
    if (len > CLI_MAX_URL)
        return bo_error_set(err, BO_E_INVALID, "scheduler URL is longer than %d bytes", CLI_MAX_URL),
               NULL;
    if (len == 0)
        return bo_error_set(err, BO_E_INVALID, "scheduler URL is empty"), NULL;
    size_t prefix = strncmp(s, "http://", 7) == 0 ? 7 : strncmp(s, "https://", 8) == 0 ? 8 : 0;
    if (!prefix)
        return bo_error_set(err, BO_E_INVALID,
                            "scheduler URL `%s` must start with http:// or https://", s),
               NULL;
    while (len > prefix && s[len - 1] == '/')
        len--;
    if (len == prefix || s[prefix] == '/')
        return bo_error_set(err, BO_E_INVALID, "scheduler URL `%s` has no host", s), NULL;
    return bo_xstrndup(s, len);
}

static void add_value(struct cli_args *a, size_t i, const char *v)
{
    a->values[i] = bo_xrealloc(a->values[i], (a->n_values[i] + 1) * sizeof(char *));
    a->values[i][a->n_values[i]++] = v;
}

int cli_args_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_ctx *ctx,
                   struct cli_args *ret, bool *ret_help, bo_error_t *err)
{
    size_t n_opts = count_options(cmd->options);
    struct cli_args a = {.cmd = cmd};
    a.values = bo_xcalloc(n_opts + 1, sizeof(*a.values));
    a.n_values = bo_xcalloc(n_opts + 1, sizeof(*a.n_values));
    a.pos = bo_xcalloc((size_t)argc + 1, sizeof(char *));
    bool help = false, options_done = false;

    for (int i = 0; i < argc; i++) {
        char *w = argv[i];
        if (options_done || w[0] != '-' || strcmp(w, "-") == 0) {
            a.pos[a.n_pos++] = w;
            continue;
        }
        if (strcmp(w, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(w, "-h") == 0) {
            help = true;
            continue;
        }
        if (w[1] != '-') {
            bo_error_set(err, BO_E_INVALID, "unknown option `%s`", w);
            goto fail;
        }
        const char *name = w + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct cli_option *opt;
        int idx = find_option(cmd->options, name, len);
        int gidx = idx < 0 ? find_option(cli_global_options, name, len) : -1;
        if (idx >= 0)
            opt = &cmd->options[idx];
        else if (gidx >= 0)
            opt = &cli_global_options[gidx];
        else {
            bo_error_set(err, BO_E_INVALID, "unknown option `--%.*s`", (int)len, name);
            goto fail;
        }
        const char *val = NULL;
        if (opt->arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                bo_error_set(err, BO_E_INVALID, "option `--%s` needs a value (%s)", opt->name,
                             opt->arg);
                goto fail;
            }
        } else if (eq) {
            bo_error_set(err, BO_E_INVALID, "option `--%s` takes no value", opt->name);
            goto fail;
        }
        if (idx >= 0) {
            if (!opt->repeat && a.n_values[idx] > 0) {
                bo_error_set(err, BO_E_INVALID, "option `--%s` given twice", opt->name);
                goto fail;
            }
            if (val)
                add_value(&a, (size_t)idx, val);
            else
                a.n_values[idx]++;
        } else if (strcmp(opt->name, "help") == 0) {
            help = true;
        } else if (strcmp(opt->name, "scheduler") == 0) {
            ctx->scheduler = val;
        }
    }
    *ret_help = help;
    if (!help && (int)a.n_pos < cmd->min_args) {
        bo_error_set(err, BO_E_INVALID, "missing argument%s: expected %s",
                     cmd->min_args - (int)a.n_pos > 1 ? "s" : "", cmd->args);
        goto fail;
    }
    if (!help && cmd->max_args >= 0 && (int)a.n_pos > cmd->max_args) {
        bo_error_set(err, BO_E_INVALID, "unexpected argument `%s`", a.pos[cmd->max_args]);
        goto fail;
    }
    *ret = a;
    return 0;
fail:
    cli_args_clear(&a);
    return -1;
}

void cli_args_clear(struct cli_args *a)
{
    size_t n = a->cmd ? count_options(a->cmd->options) : 0;
    for (size_t i = 0; a->values && i < n; i++)
        free(a->values[i]);
    free(a->values);
    free(a->n_values);
    free(a->pos);
    memset(a, 0, sizeof(*a));
}

static int option_index(const struct cli_args *a, const char *name)
{
    int i = find_option(a->cmd->options, name, strlen(name));
    if (i < 0)
        abort(); /* a command asked for an option it does not declare: a bug */
    return i;
}

bool cli_flag(const struct cli_args *a, const char *name)
{
    return a->n_values[option_index(a, name)] > 0;
}

const char *cli_value(const struct cli_args *a, const char *name)
{
    int i = option_index(a, name);
    return a->values[i] && a->n_values[i] ? a->values[i][a->n_values[i] - 1] : NULL;
}

const char *const *cli_values(const struct cli_args *a, const char *name, size_t *ret_n)
{
    int i = option_index(a, name);
    *ret_n = a->values[i] ? a->n_values[i] : 0;
    return (const char *const *)a->values[i];
}
