/* cmd-help.c - `borealis help [COMMAND...]`, and `--markdown`, which
 * writes docs/cli.md. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/exitcode.h"
#include "cli/help.h"

static const struct bo_option options[] = {
    {.name = "markdown", .kind = BO_OPT_FLAG,
     .help = "print the whole command reference as Markdown (docs/cli.md)"},
    {.name = "job-fields", .kind = BO_OPT_FLAG,
     .help = "print the job file field table as Markdown (the one in docs/jobs.md)"},
    {.name = NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    if (cli_flag(a, "markdown")) {
        help_markdown(stdout);
        return CLI_EXIT_OK;
    }
    if (cli_flag(a, "job-fields")) {
        help_job_fields_markdown(stdout);
        return CLI_EXIT_OK;
    }
    if (a->n_pos == 0) {
        help_main(stdout);
        return CLI_EXIT_OK;
    }
    const struct cli_command *c = NULL;
    if (a->n_pos == 2)
        c = cli_command_find(a->pos[0], a->pos[1]);
    else if (cli_group_find(a->pos[0])) {
        help_group(a->pos[0], stdout);
        return CLI_EXIT_OK;
    } else
        c = cli_command_find(NULL, a->pos[0]);
    if (!c)
        return cli_fail(CLI_EXIT_INVALID_COMMAND, "unknown command `%s%s%s`; see `%s --help`",
                        a->pos[0], a->n_pos == 2 ? " " : "", a->n_pos == 2 ? a->pos[1] : "",
                        CLI_PROGRAM);
    help_command(c, stdout);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_help_entry = {
    .name = "help",
    .args = "[COMMAND]",
    .summary = "show help on borealis or one of its commands",
    .help = "Without arguments, lists the commands, global options, environment variables and "
            "exit codes. With a command (`help job create`) prints its usage, options and "
            "examples, as `COMMAND --help` does.",
    .examples = "borealis help job kill\n"
                "borealis help --markdown > docs/cli.md",
    .options = options,
    .min_args = 0,
    .max_args = 2,
    .offline = true,
    .run = run,
};
