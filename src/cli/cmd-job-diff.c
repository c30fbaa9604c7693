/* cmd-job-diff.c - `borealis job diff KEY FILE`: how the job in FILE
 * differs from the job the scheduler runs under KEY. */
#include "cli/cli.h"
#include "cli/config_diff.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"

static const struct bo_option options[] = {
    {.name = "bind", .kind = BO_OPT_STRING, .arg = "NAME=VALUE", .repeat = true,
     .help = "set template variable {{NAME}} (overrides the file's vars:)"},
    {.name = NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    size_t n_binds;
    const char *const *binds = cli_values(a, "bind", &n_binds);
    struct job_config *local = NULL;
    int r = job_ops_load(a->pos[0], a->pos[1], binds, n_binds, &key, &local);
    if (r != CLI_EXIT_OK)
        return r;
    json_t *answer = NULL;
    r = job_ops_get(ctx, key, &answer);
    if (r != CLI_EXIT_OK) {
        job_config_unref(local);
        return r;
    }
    /* Round-trip the scheduler's copy through the model, so both sides
     * have the same defaults and canonical form. */
    _cleanup_error_ bo_error_t err = NULL;
    struct job_config *remote = NULL;
    if (job_config_from_json(json_object_get(answer, "config"), &remote, &err) < 0) {
        json_decref(answer);
        job_config_unref(local);
        return cli_fail(CLI_EXIT_API, "the scheduler's config of job %s is unreadable: %s", key,
                        err->msg);
    }
    json_decref(answer);
    struct config_diff d;
    config_diff_jobs(remote, local, &d);
    if (d.n == 0)
        printf("Job is unchanged\n");
    else
        config_diff_print(&d, stdout);
    config_diff_clear(&d);
    job_config_unref(remote);
    job_config_unref(local);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_job_diff_entry = {
    .group = "job",
    .name = "diff",
    .args = "KEY FILE",
    .summary = "compare a job file with the running job",
    .help = "Loads job KEY from FILE and compares it, field by field, with the configuration "
            "of the job the scheduler has under KEY. Prints `- PATH: OLD` (running) and "
            "`+ PATH: NEW` (file) for each changed field, or `Job is unchanged`. Values are "
            "JSON; processes are matched by name. Exits 0 whether or not there are changes.",
    .examples = "borealis job diff local/www-data/devel/hello examples/hello.yaml "
                "--bind greeting=hi",
    .options = options,
    .min_args = 2,
    .max_args = 2,
    .run = run,
};
