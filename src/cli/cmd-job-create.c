/* cmd-job-create.c - `borealis job create KEY FILE`: load, template and
 * submit a job, optionally waiting for it to reach a state. */
#include "base/parse.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"

#define DEFAULT_WAIT_TIMEOUT_S 300
#define MAX_WAIT_TIMEOUT_S (7 * 24 * 3600)

static const struct cli_option options[] = {
    {"bind", "NAME=VALUE", true, "set template variable {{NAME}} (overrides the file's vars:)"},
    {"wait-until", "STATE", false,
     "after creating, wait until every instance is PENDING, RUNNING or FINISHED"},
    {"wait-timeout", "DURATION", false, "give up waiting after DURATION (e.g. 90s, 5m; default 5m)"},
    {NULL, NULL, false, NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct job_create_opts o = {.key = a->pos[0], .file = a->pos[1]};
    o.binds = cli_values(a, "bind", &o.n_binds);
    _cleanup_error_ bo_error_t err = NULL;
    const char *until = cli_value(a, "wait-until"), *timeout = cli_value(a, "wait-timeout");
    if (until) {
        if (wait_target_parse(until, &o.wait_until, &err) < 0)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
        o.wait = true;
    }
    int64_t ms = DEFAULT_WAIT_TIMEOUT_S * 1000;
    if (timeout) {
        if (!until)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--wait-timeout needs --wait-until");
        if (bo_parse_duration_ms(timeout, "--wait-timeout", &ms, &err) < 0)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
        if (ms < 1000 || ms > MAX_WAIT_TIMEOUT_S * 1000)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--wait-timeout: `%s` must be between 1s and 7d", timeout);
    }
    o.wait_timeout_ms = ms;
    return job_ops_create(ctx, &o);
}

const struct cli_command cmd_job_create_entry = {
    .group = "job",
    .name = "create",
    .args = "KEY FILE",
    .summary = "create a job from a YAML job file",
    .help = "Loads job KEY (cluster/role/environment/name) from FILE, resolves its template "
            "variables and submits it to the scheduler. Fails if an active job has the same "
            "key. With --wait-until, waits until every instance reaches the state: PENDING "
            "(all scheduled), RUNNING (all running, or already finished) or FINISHED (all "
            "ended successfully; exit 4 names the instances that failed).",
    .examples = "borealis job create local/www-data/devel/hello examples/hello.yaml\n"
                "borealis job create local/www-data/devel/hello examples/hello.yaml \\\n"
                "    --bind greeting=hi --wait-until RUNNING --wait-timeout 60s",
    .options = options,
    .min_args = 2,
    .max_args = 2,
    .run = run,
};
