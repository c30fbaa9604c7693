/* cmd-job-killall.c - `borealis job killall KEY`: kill every instance. */
#include "cli/cli.h"
#include "cli/cmd-job-kill.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    int r = job_ops_check_key(a->pos[0], &key);
    if (r != CLI_EXIT_OK)
        return r;
    return job_kill(ctx, key, NULL, 0);
}

const struct cli_command cmd_job_killall_entry = {
    .group = "job",
    .name = "killall",
    .args = "KEY",
    .summary = "kill every instance of a job",
    .help = "Kills every live task of job KEY; the job then ends in state `killed` and its "
            "key may be used by a new `job create`. Exits 4 if the job had no live task.",
    .examples = "borealis job killall local/www-data/devel/hello",
    .options = NULL,
    .min_args = 1,
    .max_args = 1,
    .run = run,
};
