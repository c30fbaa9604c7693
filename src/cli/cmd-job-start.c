/* cmd-job-start.c - `borealis job start KEY[/INSTANCES]`: bring killed
 * instances back, through an update the scheduler runs (to the job's
 * config, scoped to them: killed instances count as absent, so it adds
 * them). */
#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/update_ops.h"

static const struct bo_option options[] = {
    {.name = "message", .kind = BO_OPT_STRING, .arg = "TEXT", .help = "why: kept in the update's history"},
    {.name = "wait", .kind = BO_OPT_FLAG, .help = "wait until the update ends (exit 0 only if it rolled forward)"},
    {.name = "wait-timeout", .kind = BO_OPT_DURATION, .def = "1h", .min = 1000, .max = 7 * 24 * 3600 * 1000.0,
     .help = "with --wait, give up after this long"},
    {.name = NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *inst_text = NULL, *key = NULL;
    json_t *body = NULL;
    int r = job_ops_key_instances(a->pos[0], &key, &inst_text);
    if (r == CLI_EXIT_OK)
        r = update_ops_check_wait(a);
    if (r == CLI_EXIT_OK)
        r = update_ops_scoped_body(inst_text, &body);
    if (r != CLI_EXIT_OK)
        return r;
    _cleanup_free_ char *nothing = bo_xasprintf("Job %s has no killed instance%s to start", key,
                                                inst_text ? " among these" : "");
    return update_ops_start_scoped(ctx, key, "start", body, cli_value(a, "message"), nothing, cli_flag(a, "wait"),
                                   cli_typed(a, "wait-timeout").i);
}

const struct cli_command cmd_job_start_entry = {
    .group = "job",
    .name = "start",
    .args = "KEY[/INSTANCES]",
    .summary = "bring killed instances of a job back",
    .help = "Starts again the killed instances of job KEY (or of /INSTANCES, e.g. `1` or `0-2`) with the job's "
            "current config (the one `job inspect` shows), as an update the scheduler runs: it prints the "
            "instances to add, then starts the update (`update info`, `pause`, `abort` act on it; the job file's "
            "`update:` settings apply). Running instances are left alone (`Instance 2 is already running`); "
            "when none is killed it prints so and exits 0. The instances of a batch job that ended on their own "
            "(FINISHED, FAILED) are not started again, as in Aurora: it says so for each and exits 4 when nothing "
            "else was to start. Exits 6 for an instance the job does not have, 4 when "
            "the job already has an active update; with --wait, 4 when it did not end ROLLED_FORWARD.",
    .examples = "borealis job start local/www-data/prod/web/1 --wait\n"
                "borealis job start local/www-data/prod/web --message 'back after the incident'",
    .options = options,
    .min_args = 1,
    .max_args = 1,
    .run = run,
};
