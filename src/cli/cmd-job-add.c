/* cmd-job-add.c - `borealis job add KEY/INSTANCE COUNT`: COUNT new
 * instances with instance INSTANCE's config, through an update that only
 * adds (Aurora's `job add`). */
#include "base/parse.h"
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
    int r = job_ops_key_instances(a->pos[0], &key, &inst_text);
    if (r != CLI_EXIT_OK)
        return r;
    if (!inst_text)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "`%s` names no instance to clone: give KEY/INSTANCE, e.g. %s/0",
                        a->pos[0], key);
    if ((r = update_ops_check_wait(a)) != CLI_EXIT_OK)
        return r;
    _cleanup_error_ bo_error_t perr = NULL;
    int64_t instance, count;
    if (bo_parse_i64(inst_text, 0, JOB_MAX_INSTANCES - 1, "instance", &instance, &perr) < 0)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s (one instance to clone, e.g. %s/0)", perr->msg, key);
    if (bo_parse_i64(a->pos[1], 1, JOB_MAX_INSTANCES, "COUNT", &count, &perr) < 0)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", perr->msg);
    json_t *body = json_pack("{s:I, s:I}", "instance", (json_int_t)instance, "count", (json_int_t)count);
    _cleanup_free_ char *nothing = bo_xasprintf("Job %s is unchanged", key);
    return update_ops_start_scoped(ctx, key, "add", body, cli_value(a, "message"), nothing, cli_flag(a, "wait"),
                                   cli_typed(a, "wait-timeout").i);
}

const struct cli_command cmd_job_add_entry = {
    .group = "job",
    .name = "add",
    .args = "KEY/INSTANCE COUNT",
    .summary = "add instances to a job, cloning one instance's config",
    .help = "Adds COUNT instances to job KEY, numbered after its last one, each with the config instance "
            "INSTANCE runs (which becomes the job's config), as an update the scheduler runs that only adds: "
            "it prints the instances to add, then starts the update (the job file's `update:` settings apply; "
            "`update info`, `pause`, `abort` act on it). Exits 6 when the job has no instance INSTANCE or when "
            "COUNT more would pass the limit of 4000 instances a job, 4 when the job already has an active "
            "update; with --wait, 4 when it did not end ROLLED_FORWARD.",
    .examples = "borealis job add local/www-data/prod/web/0 2 --wait",
    .options = options,
    .min_args = 2,
    .max_args = 2,
    .run = run,
};
