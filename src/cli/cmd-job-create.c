/* cmd-job-create.c - `borealis job create KEY FILE`: load, template and
 * submit a job, optionally waiting for it to reach a state. */
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/image_common.h"
#include "cli/job_ops.h"

static const struct bo_option options[] = {
    {.name = "bind", .kind = BO_OPT_STRING, .arg = "NAME=VALUE", .repeat = true,
     .help = "set template variable {{NAME}} (overrides the file's vars:)"},
    {.name = "wait-until", .kind = BO_OPT_STRING, .arg = "STATE",
     .help = "after creating, wait until every instance is PENDING, RUNNING or FINISHED"},
    {.name = "wait-timeout", .kind = BO_OPT_DURATION, .def = "5m", .min = 1000, .max = 7 * 24 * 3600 * 1000.0,
     .help = "give up waiting after this long (e.g. 90s, 5m)"},
    IMAGE_OPTS_REGISTRY,
    {.name = NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct job_create_opts o = {.key = a->pos[0], .file = a->pos[1]};
    o.binds = cli_values(a, "bind", &o.n_binds);
    _cleanup_error_ bo_error_t err = NULL;
    const char *until = cli_value(a, "wait-until");
    if (until) {
        if (wait_target_parse(until, &o.wait_until, &err) < 0)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
        o.wait = true;
    }
    if (cli_given(a, "wait-timeout") && !until)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--wait-timeout needs --wait-until");
    o.wait_timeout_ms = cli_typed(a, "wait-timeout").i;
    struct registry_opts ro;
    image_cli_registry_opts(a, &ro);
    o.registry = &ro;
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
            "ended successfully; exit 4 names the instances that failed). A task image given by tag is "
            "resolved to its digest here, with the registry options, so every instance runs the same bytes; "
            "an unknown tag or image is exit 3, an unreachable registry exit 7.",
    .examples = "borealis job create local/www-data/devel/hello examples/hello.yaml\n"
                "borealis job create local/www-data/devel/hello examples/hello.yaml \\\n"
                "    --bind greeting=hi --wait-until RUNNING --wait-timeout 60s",
    .options = options,
    .min_args = 2,
    .max_args = 2,
    .run = run,
};
