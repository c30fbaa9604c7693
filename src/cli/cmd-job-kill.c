/* cmd-job-kill.c - `borealis job kill KEY[/INSTANCES]`, and the shared
 * kill request that `job killall` also uses. */
#include "cli/cmd-job-kill.h"

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/instances.h"
#include "cli/job_ops.h"

int job_kill(const struct cli_ctx *ctx, const char *key, const int64_t *inst, size_t n_inst)
{
    json_t *body = json_object(); /* {} kills every instance */
    if (inst) {
        json_t *list = json_array();
        for (size_t i = 0; i < n_inst; i++)
            json_array_append_new(list, json_integer(inst[i]));
        json_object_set_new(body, "instances", list);
    }
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/jobs/%s/kill", key);
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    int r = api_call(ctx, "POST", path, body, &answer, &err);
    json_decref(body);
    if (r < 0) {
        if (err->kind == BO_E_NOTFOUND)
            return cli_fail(CLI_EXIT_API, "job %s not found", key);
        if (err->kind == BO_E_INVALID) /* e.g. an instance the job does not have */
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
        return cli_fail_error(err, CLI_EXIT_API);
    }
    json_t *killed = json_object_get(answer, "killed"), *id;
    size_t i, n = json_array_size(killed);
    bool ok = json_is_array(killed);
    json_array_foreach(killed, i, id) ok = ok && json_is_string(id);
    if (!ok) {
        json_decref(answer);
        return cli_fail(CLI_EXIT_API, "POST %s: the scheduler's answer has no `killed` (a list of task ids)",
                        path);
    }
    _cleanup_free_ char *which = inst ? instances_format(inst, n_inst) : NULL;
    if (n == 0) {
        json_decref(answer);
        if (which)
            return cli_fail(CLI_EXIT_COMMAND_FAILURE, "no live task of job %s has instance %s",
                            key, which);
        return cli_fail(CLI_EXIT_COMMAND_FAILURE, "job %s has no live task", key);
    }
    printf("Killing %zu task%s of job %s:\n", n, n == 1 ? "" : "s", key);
    json_array_foreach(killed, i, id) printf("  %s\n", json_string_value(id));
    json_decref(answer);
    return CLI_EXIT_OK;
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    _cleanup_free_ int64_t *inst = NULL;
    size_t n = 0;
    int r = job_ops_key_instance_list(a->pos[0], &key, &inst, &n);
    if (r != CLI_EXIT_OK)
        return r;
    return job_kill(ctx, key, inst, n);
}

const struct cli_command cmd_job_kill_entry = {
    .group = "job",
    .name = "kill",
    .args = "KEY[/INSTANCES]",
    .summary = "kill some or all instances of a job",
    .help = "Kills the live tasks of the listed instances of job KEY: INSTANCES is a list of "
            "numbers and inclusive ranges such as `0`, `0-2` or `0,3,5-7`. Without "
            "/INSTANCES, every instance is killed. Each task gets SIGTERM, then SIGKILL after "
            "the job's kill grace. Exits 4 if no live task matched.",
    .examples = "borealis job kill local/www-data/devel/hello/1\n"
                "borealis job kill local/www-data/devel/hello/0,2-3",
    .options = NULL,
    .min_args = 1,
    .max_args = 1,
    .run = run,
};
