/* cmd-job-logs.c - `borealis job logs KEY[/INSTANCES] [PROCESS]`: the
 * logs of a job's instances, each line prefixed by its instance (as
 * `docker service logs`); with --follow, interleaved as they come. */
#include <string.h>

#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/instances.h"
#include "cli/job_ops.h"
#include "cli/task_read.h"

/* Instances followed at once (one thread and one request each). */
#define FOLLOW_MAX 64

struct follower {
    const struct cli_ctx *ctx;
    struct log_cursor c;
    char prefix[32];
    pthread_mutex_t *lock;
    int rc;
};

static void *follow_one(void *p)
{
    struct follower *f = p;
    f->rc = task_read_log(f->ctx, &f->c, true, stdout, f->lock);
    return NULL;
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key_text = NULL, *inst_text = NULL, *key = NULL;
    instances_split_key(a->pos[0], &key_text, &inst_text);
    int r = job_ops_check_key(key_text, &key);
    if (r != CLI_EXIT_OK)
        return r;
    _cleanup_free_ int64_t *inst = NULL;
    size_t n = 0;
    _cleanup_error_ bo_error_t err = NULL;
    if (inst_text && instances_parse(inst_text, &inst, &n, &err) < 0)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
    if (!inst_text) {
        json_t *job = NULL;
        if ((r = job_ops_get(ctx, key, &job)) != CLI_EXIT_OK)
            return r;
        json_t *tasks = json_object_get(job, "tasks"), *t;
        size_t i;
        inst = bo_xcalloc(json_array_size(tasks) + 1, sizeof(*inst));
        json_array_foreach(tasks, i, t) inst[n++] = json_integer_value(json_object_get(t, "instance"));
        json_decref(job);
        if (n == 0)
            return cli_fail(CLI_EXIT_COMMAND_FAILURE, "job %s has no instances", key);
    }
    bool follow = cli_flag(a, "follow");
    if (follow && n > FOLLOW_MAX)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER,
                        "--follow reads at most %d instances at once; name some (%s/0-%d)", FOLLOW_MAX, key,
                        FOLLOW_MAX - 1);
    int width = snprintf(NULL, 0, "%lld", (long long)inst[n - 1]);
    struct follower *fs = bo_xcalloc(n, sizeof(*fs));
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    for (size_t i = 0; i < n; i++) {
        struct follower *f = &fs[i];
        snprintf(f->prefix, sizeof(f->prefix), "%*lld | ", width, (long long)inst[i]);
        f->ctx = ctx;
        f->lock = &lock;
        f->c = (struct log_cursor){.key = key, .instance = inst[i], .process = a->n_pos > 1 ? a->pos[1] : NULL,
                                   .stderr_stream = cli_flag(a, "stderr"),
                                   .tail = cli_given(a, "tail") ? cli_typed(a, "tail").i : -1, .prefix = f->prefix};
    }
    int rc = CLI_EXIT_OK;
    if (!follow) {
        /* Instance after instance, each to its current end. */
        for (size_t i = 0; i < n; i++)
            fs[i].rc = task_read_log(ctx, &fs[i].c, false, stdout, NULL);
    } else {
        pthread_t *th = bo_xcalloc(n, sizeof(*th));
        for (size_t i = 0; i < n; i++)
            if (pthread_create(&th[i], NULL, follow_one, &fs[i]) != 0) {
                fs[i].rc = cli_fail(CLI_EXIT_COMMAND_FAILURE, "cannot start a thread for instance %lld",
                                    (long long)inst[i]);
                th[i] = 0;
            }
        for (size_t i = 0; i < n; i++)
            if (th[i])
                pthread_join(th[i], NULL);
        free(th);
    }
    for (size_t i = 0; i < n; i++) {
        if (rc == CLI_EXIT_OK)
            rc = fs[i].rc;
        log_cursor_clear(&fs[i].c);
    }
    free(fs);
    return rc;
}

const struct cli_command cmd_job_logs_entry = {
    .group = "job",
    .name = "logs",
    .args = "KEY[/INSTANCES] [PROCESS]",
    .summary = "print the logs of a job's instances, each line prefixed by its instance",
    .help = "Prints the log of a process of each instance of job KEY (or of INSTANCES: 0,3,5-7), each line "
            "prefixed with `INSTANCE | `, as `task logs` reads them. Without --follow the instances come one "
            "after another; with it (64 instances at most) lines are interleaved as they are written. An "
            "instance whose log cannot be read is reported and the others go on; the exit code is then the "
            "first such error's.",
    .examples = "borealis job logs local/www-data/devel/hello\n"
                "borealis job logs local/www-data/devel/hello/0-3 --follow --tail 10",
    .options = task_logs_options,
    .min_args = 1,
    .max_args = 2,
    .run = run,
};
