/* main.c - the `borealis` program: global options, then dispatch through
 * the command table (commands.c) to a group command ("job create"), a
 * top-level command ("up") or a daemon ("scheduler", "agent"). */
#include <stdlib.h>
#include <string.h>

#include "base/suggest.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/credentials.h"
#include "cli/exitcode.h"
#include "cli/help.h"
#include "cli/trust.h"

static int usage_error(const struct cli_command *c, const char *msg)
{
    cli_fail(CLI_EXIT_INVALID_COMMAND, "%s", msg);
    if (c) {
        help_usage(c, stderr);
        fprintf(stderr, "Run `" CLI_PROGRAM " %s%s%s --help` for details.\n",
                c->group ? c->group : "", c->group ? " " : "", c->name);
    } else {
        fprintf(stderr, "Run `" CLI_PROGRAM " --help` for the list of commands.\n");
    }
    return CLI_EXIT_INVALID_COMMAND;
}

static bool is_help(const char *w) { return !strcmp(w, "--help") || !strcmp(w, "-h"); }

/* "unknown command `job craete`; did you mean `create`?" over the top-level
 * commands and groups (group NULL) or one group's commands. */
static char *unknown_command(const char *group, const char *word)
{
    size_t n, ng;
    const struct cli_command *const *cmds = cli_commands(&n);
    const struct cli_group *groups = cli_groups(&ng);
    const char **names = bo_xcalloc(n + ng + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (group ? cmds[i]->group && !strcmp(cmds[i]->group, group) : !cmds[i]->group)
            names[k++] = cmds[i]->name;
    for (size_t i = 0; !group && i < ng; i++)
        names[k++] = groups[i].name;
    _cleanup_free_ char *hint = bo_did_you_mean(word, names, k, "");
    free(names);
    return bo_xasprintf("unknown command `%s%s%.100s`%s", group ? group : "", group ? " " : "", word, hint);
}

static int run_command(const struct cli_command *c, struct cli_ctx *ctx, int argc, char **argv)
{
    _cleanup_error_ bo_error_t err = NULL;
    struct cli_args args;
    bool help = false;
    int pr = cli_args_parse(c, argc, argv, ctx, &args, &help, &err);
    if (pr == BO_OPTS_BAD_VALUE)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
    if (pr < 0)
        return usage_error(c, err->msg);
    if (help) {
        help_command(c, stdout);
        cli_args_clear(&args);
        return CLI_EXIT_OK;
    }
    const char *url = ctx->scheduler ? ctx->scheduler : getenv(CLI_SCHEDULER_ENV);
    _cleanup_free_ char *norm = NULL;
    _cleanup_free_ char *token = NULL;
    if (!c->offline) {
        /* An empty $BOREALIS_SCHEDULER means unset; an empty --scheduler
         * is a mistake (a script's unset variable), not the default. */
        if (!url || (!*url && !ctx->scheduler))
            url = CLI_DEFAULT_SCHEDULER;
        norm = cli_scheduler_url(url, &err);
        if (!norm) {
            cli_args_clear(&args);
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s%s", err->msg,
                            ctx->scheduler ? "" : " (from $" CLI_SCHEDULER_ENV ")");
        }
        ctx->scheduler = norm;
        if (credentials_find(&token, &err) < 0) {
            cli_args_clear(&args);
            return cli_fail(CLI_EXIT_AUTH, "%s", err->msg);
        }
        ctx->token = token;
        cli_trust_setup(norm);
    }
    int r = c->run(ctx, &args);
    cli_args_clear(&args);
    ctx->token = NULL;
    if (token)
        explicit_bzero(token, strlen(token));
    fflush(stdout);
    return r;
}

int main(int argc, char **argv)
{
    struct cli_ctx ctx = {.argv0 = argc > 0 ? argv[0] : CLI_PROGRAM};
    /* Options before the command, parsed with the same parser. */
    _cleanup_error_ bo_error_t err = NULL;
    struct bo_opts o;
    int r = bo_opts_parse_head(cli_main_options, argc - 1, argv + 1, NULL, &o, &err);
    if (r == BO_OPTS_BAD_VALUE)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
    if (r < 0)
        return usage_error(NULL, err->msg);
    int i = 1 + o.n_used;
    bool help = o.help, version = bo_opts_given(&o, "version");
    if (bo_opts_given(&o, "scheduler"))
        ctx.scheduler = bo_opts_text(&o, "scheduler");
    bo_opts_clear(&o);
    if (help) {
        help_main(stdout);
        return CLI_EXIT_OK;
    }
    if (version) {
        printf(CLI_PROGRAM " %s\n", CLI_VERSION);
        return CLI_EXIT_OK;
    }
    if (i >= argc) {
        help_main(stderr);
        return CLI_EXIT_INVALID_COMMAND;
    }
    const char *word = argv[i];
    const struct cli_command *c = cli_command_find(NULL, word);
    if (c && c->run_raw) {
        /* `borealis agent revoke ID` is a command of the group named like
         * the daemon; anything else is the daemon's own argv. */
        const struct cli_command *sub = i + 1 < argc ? cli_command_find(word, argv[i + 1]) : NULL;
        if (sub && sub->run_raw)
            return sub->run_raw(argc - i - 1, argv + i + 1);
        if (sub)
            return run_command(sub, &ctx, argc - i - 2, argv + i + 2);
        return c->run_raw(argc - i, argv + i);
    }
    if (c)
        return run_command(c, &ctx, argc - i - 1, argv + i + 1);
    if (!cli_group_find(word)) {
        _cleanup_free_ char *m = unknown_command(NULL, word);
        return usage_error(NULL, m);
    }
    if (i + 1 >= argc || is_help(argv[i + 1])) {
        help_group(word, i + 1 >= argc ? stderr : stdout);
        return i + 1 >= argc ? CLI_EXIT_INVALID_COMMAND : CLI_EXIT_OK;
    }
    c = cli_command_find(word, argv[i + 1]);
    if (!c) {
        _cleanup_free_ char *m = unknown_command(word, argv[i + 1]);
        cli_fail(CLI_EXIT_INVALID_COMMAND, "%s", m);
        help_group(word, stderr);
        return CLI_EXIT_INVALID_COMMAND;
    }
    return run_command(c, &ctx, argc - i - 2, argv + i + 2);
}
