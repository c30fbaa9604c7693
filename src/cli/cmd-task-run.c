/* cmd-task-run.c - `borealis task run KEY[/INSTANCES] CMD...`: a command
 * run in each instance's container (as the task's user, in its sandbox),
 * by its agent, relayed by the scheduler; output prefixed by instance. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/task_read.h"

static const struct bo_option options[] = {
    {.name = "timeout", .kind = BO_OPT_DURATION, .def = "60s", .min = 1000, .max = 600000,
     .help = "kill the command after this long in each instance (at most 10m)"},
    {.name = NULL},
};

/* Each line of `out` with the prefix (a last line without newline gets
 * one). */
static void print_prefixed(int64_t inst, const char *out, size_t len)
{
    size_t at = 0;
    while (at < len) {
        const char *nl = memchr(out + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - out) : len;
        printf("%lld | %.*s\n", (long long)inst, (int)(end - at), out + at);
        at = end + 1;
    }
}

/* Run in one instance; *ret_failed: the command did not exit 0. Exit code
 * of the request. */
static int run_one(const struct cli_ctx *ctx, const char *key, int64_t inst, const char *cmd, int64_t timeout_ms,
                   bool *ret_failed)
{
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/jobs/%s/instances/%lld/run", key, (long long)inst);
    json_t *body = json_pack("{s:s, s:I}", "cmd", cmd, "timeout_s", (json_int_t)(timeout_ms / 1000));
    json_t *ans = NULL;
    int r = task_read_call(ctx, "POST", path, body, timeout_ms + 30000, &ans);
    json_decref(body);
    if (r != CLI_EXIT_OK) {
        fprintf(stderr, "instance %lld: not run\n", (long long)inst);
        return r;
    }
    json_t *out_j = json_object_get(ans, "output");
    json_object_set_new(ans, "data", out_j ? json_incref(out_j) : json_string(""));
    _cleanup_free_ char *out = NULL;
    size_t len = 0;
    r = task_read_data(ans, &out, &len);
    if (r == CLI_EXIT_OK) {
        print_prefixed(inst, out, len);
        fflush(stdout);
        json_t *code = json_object_get(ans, "exit_code"), *sig = json_object_get(ans, "signal");
        if (json_is_true(json_object_get(ans, "truncated")))
            fprintf(stderr, "instance %lld: output truncated: %lld bytes, the first %zu shown\n", (long long)inst,
                    (long long)json_integer_value(json_object_get(ans, "size")), len);
        if (json_is_true(json_object_get(ans, "timed_out"))) {
            fprintf(stderr, "instance %lld: timed out after %llds (killed)\n", (long long)inst,
                    (long long)(timeout_ms / 1000));
            *ret_failed = true;
        } else if (json_is_integer(code)) {
            fprintf(stderr, "instance %lld: exit code %lld\n", (long long)inst, (long long)json_integer_value(code));
            *ret_failed = *ret_failed || json_integer_value(code) != 0;
        } else {
            fprintf(stderr, "instance %lld: killed by signal %lld\n", (long long)inst,
                    (long long)json_integer_value(sig));
            *ret_failed = true;
        }
    }
    json_decref(ans);
    return r;
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    _cleanup_free_ int64_t *inst = NULL;
    size_t n = 0;
    int r = job_ops_key_instance_list(a->pos[0], &key, &inst, &n);
    if (r != CLI_EXIT_OK)
        return r;
    if (!inst) {
        json_t *job = NULL;
        if ((r = job_ops_get(ctx, key, &job)) != CLI_EXIT_OK)
            return r;
        json_int_t count = json_integer_value(json_object_get(json_object_get(job, "job"), "instances"));
        json_decref(job);
        n = count > 0 ? (size_t)count : 0;
        inst = bo_xcalloc(n ? n : 1, sizeof(*inst));
        for (size_t i = 0; i < n; i++)
            inst[i] = (int64_t)i;
    }
    /* The command's words, joined as ssh does: the shell splits them. */
    size_t total = 1;
    for (size_t i = 1; i < a->n_pos; i++)
        total += strlen(a->pos[i]) + 1;
    _cleanup_free_ char *cmd = bo_xcalloc(1, total);
    for (size_t i = 1; i < a->n_pos; i++) {
        if (i > 1)
            strcat(cmd, " ");
        strcat(cmd, a->pos[i]);
    }
    int64_t timeout_ms = cli_typed(a, "timeout").i;
    bool failed = false;
    int worst = CLI_EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        r = run_one(ctx, key, inst[i], cmd, timeout_ms, &failed);
        if (r != CLI_EXIT_OK && worst == CLI_EXIT_OK)
            worst = r;
    }
    if (worst != CLI_EXIT_OK)
        return worst;
    return failed ? CLI_EXIT_COMMAND_FAILURE : CLI_EXIT_OK;
}

const struct cli_command cmd_task_run_entry = {
    .group = "task",
    .name = "run",
    .args = "KEY[/INSTANCES] CMD...",
    .summary = "run a command in each instance of a job, inside its container",
    .help = "Runs CMD (its words joined by spaces, run by `/bin/sh -c`) in the container of each listed instance "
            "(all without /INSTANCES), one instance after the other: as the task's user, with no new privileges, "
            "in its namespaces and cgroup, in its sandbox. The agent that runs the task runs it, relayed by the "
            "scheduler; it needs permission to act on the job's role and is audited. Each line of output (stdout "
            "and stderr together) is printed as `INSTANCE | line`; how the command ended in each instance goes to "
            "stderr (`instance 0: exit code 3`). Output past 256 KiB per instance is dropped, with a note. Exit "
            "codes: 0 when the command exited 0 in every instance; 4 when it exited non-zero, was killed or timed "
            "out in one (or the instance is not running); otherwise the first request's error (6 a bad argument, "
            "10 an unknown job or instance, 30 no permission, 9 the agent did not answer). Put `--` before a CMD "
            "whose words start with `-`.",
    .examples = "borealis task run local/www-data/devel/hello 'id -un; ls'\n"
                "borealis task run --timeout 5m local/www-data/devel/hello/0-2 -- df -h .",
    .options = options,
    .min_args = 2,
    .max_args = -1,
    .run = run,
};
