/* cmd-job-restart.c - `borealis job restart KEY[/INSTANCES]`: a rolling
 * restart run by the scheduler (an update that replaces each instance by
 * itself, batch by batch). */
#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/update_ops.h"

static const struct bo_option options[] = {
    {.name = "batch-size", .kind = BO_OPT_INT, .arg = "N", .min = 1, .max = JOB_MAX_INSTANCES,
     .help = "instances restarted at a time (default: the job's update.batch_size)"},
    {.name = "watch-secs", .kind = BO_OPT_INT, .arg = "S", .min = 0, .max = 86400,
     .help = "seconds a restarted instance must stay RUNNING (default: the job's update.watch_secs)"},
    {.name = "max-total-failures", .kind = BO_OPT_INT, .arg = "N", .min = 0, .max = JOB_MAX_INSTANCES,
     .help = "failed instances tolerated before the restart stops FAILED (default: the job's)"},
    {.name = "message", .kind = BO_OPT_STRING, .arg = "TEXT", .help = "why: kept in the restart's history"},
    {.name = "wait", .kind = BO_OPT_FLAG, .help = "wait until the restart ends (exit 0 only if every instance came back)"},
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
    static const struct {
        const char *option, *field;
    } settings[] = {{"batch-size", "batch_size"}, {"watch-secs", "watch_secs"},
                    {"max-total-failures", "max_total_failures"}};
    for (size_t i = 0; i < BO_ARRAY_SIZE(settings); i++)
        if (cli_given(a, settings[i].option))
            json_object_set_new(body, settings[i].field, json_integer(cli_typed(a, settings[i].option).i));
    if (cli_value(a, "message"))
        json_object_set_new(body, "message", json_string(cli_value(a, "message")));
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/jobs/%s/restart", key);
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    r = api_call(ctx, "POST", path, body, &answer, &err);
    json_decref(body);
    if (r < 0)
        return update_ops_fail(err, key);
    json_t *u = json_object_get(answer, "update");
    _cleanup_free_ char *id = bo_xstrdup(json_string_value(json_object_get(u, "id")) ?: "");
    printf("Restarting %zu instance%s of job %s (update %s)\n",
           json_array_size(json_object_get(json_object_get(u, "summary"), "replace")),
           json_array_size(json_object_get(json_object_get(u, "summary"), "replace")) == 1 ? "" : "s", key, id);
    json_decref(answer);
    fflush(stdout);
    if (!cli_flag(a, "wait"))
        return CLI_EXIT_OK;
    return update_ops_wait(ctx, key, id, cli_typed(a, "wait-timeout").i);
}

const struct cli_command cmd_job_restart_entry = {
    .group = "job",
    .name = "restart",
    .args = "KEY[/INSTANCES]",
    .summary = "restart the instances of a job, a batch at a time",
    .help = "Restarts the live instances of job KEY (or those of /INSTANCES, e.g. `0-2`) as a rolling update "
            "the scheduler runs: batch-size instances at a time are killed and started again with the config "
            "they had (on the same machine when it still fits), each watched for watch-secs before the next "
            "starts, so at least N - batch-size instances stay RUNNING. It is an update of the job (`update "
            "info`, `pause`, `resume`, `abort` act on it; it never rolls back). Exits 4 when the job already has "
            "an active update or no live instance; with --wait, 4 when it did not end ROLLED_FORWARD.",
    .examples = "borealis job restart local/www-data/prod/web --batch-size 2 --watch-secs 10 --wait\n"
                "borealis job restart local/www-data/prod/web/0-1",
    .options = options,
    .min_args = 1,
    .max_args = 1,
    .run = run,
};
