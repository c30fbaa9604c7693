/* args.c - table-driven option parsing for the commands. */
#include "cli/args.h"

#include <string.h>

#define CLI_MAX_URL 2048

#define SCHEDULER_OPTION                                                                                      \
    {.name = "scheduler", .kind = BO_OPT_STRING, .arg = "URL",                                               \
     .def_doc = "$" CLI_SCHEDULER_ENV ", else " CLI_DEFAULT_SCHEDULER, .help = "scheduler API address"}

const struct bo_option cli_global_options[] = {SCHEDULER_OPTION, {.name = NULL}};

const struct bo_option cli_main_options[] = {
    SCHEDULER_OPTION,
    {.name = "version", .kind = BO_OPT_FLAG, .help = "print the version"},
    {.name = NULL},
};

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

int cli_args_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_ctx *ctx,
                   struct cli_args *ret, bool *ret_help, bo_error_t *err)
{
    /* One table: the command's options, then the global ones. */
    size_t n_cmd = bo_opts_count(cmd->options), n_glob = bo_opts_count(cli_global_options);
    struct cli_args a = {.cmd = cmd};
    a.table = bo_xcalloc(n_cmd + n_glob + 1, sizeof(*a.table));
    if (n_cmd)
        memcpy(a.table, cmd->options, n_cmd * sizeof(*a.table));
    memcpy(a.table + n_cmd, cli_global_options, n_glob * sizeof(*a.table));
    int r = bo_opts_parse(a.table, argc, argv, NULL, &a.opts, err);
    if (r < 0) {
        free(a.table);
        return r;
    }
    a.pos = a.opts.pos;
    a.n_pos = a.opts.n_pos;
    bool help = a.opts.help;
    if (bo_opts_given(&a.opts, "scheduler"))
        ctx->scheduler = bo_opts_text(&a.opts, "scheduler");
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
    return BO_OPTS_BAD_USAGE;
}

void cli_args_clear(struct cli_args *a)
{
    bo_opts_clear(&a->opts);
    free(a->table);
    memset(a, 0, sizeof(*a));
}

bool cli_flag(const struct cli_args *a, const char *name) { return bo_opts_given(&a->opts, name); }

bool cli_given(const struct cli_args *a, const char *name) { return bo_opts_given(&a->opts, name); }

const char *cli_value(const struct cli_args *a, const char *name) { return bo_opts_text(&a->opts, name); }

const char *const *cli_values(const struct cli_args *a, const char *name, size_t *ret_n)
{
    return bo_opts_texts(&a->opts, name, ret_n);
}

union bo_opt_value cli_typed(const struct cli_args *a, const char *name) { return bo_opts_value(&a->opts, name); }
