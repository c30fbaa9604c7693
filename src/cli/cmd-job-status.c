/* cmd-job-status.c - `borealis job status KEY`: the job and its tasks,
 * one line per task. */
#include <string.h>

#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/table.h"
#include "model/task_state.h"

static const struct bo_option options[] = {
    {.name = "json", .kind = BO_OPT_FLAG,
     .help = "print the scheduler's JSON answer"},
    {.name = "verbose", .kind = BO_OPT_FLAG,
     .help = "also each task's processes (state, runs, last exit code) and its CPU time and memory"},
    {.name = NULL},
};

static bool is_terminal(json_t *task)
{
    enum task_state s;
    const char *name = json_string_value(json_object_get(task, "state"));
    return name && task_state_from_name(name, &s) == 0 && task_state_is_terminal(s);
}

static int64_t last_ts(json_t *task)
{
    json_t *ev = json_object_get(task, "events");
    size_t n = json_array_size(ev);
    return n ? json_integer_value(json_object_get(json_array_get(ev, n - 1), "ts")) : 0;
}

/* By instance; a live task before the ended ones; newest first. */
static int task_cmp(const void *pa, const void *pb)
{
    json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    json_int_t ia = json_integer_value(json_object_get(a, "instance"));
    json_int_t ib = json_integer_value(json_object_get(b, "instance"));
    if (ia != ib)
        return ia < ib ? -1 : 1;
    if (is_terminal(a) != is_terminal(b))
        return is_terminal(a) ? 1 : -1;
    int64_t ta = last_ts(a), tb = last_ts(b);
    return ta == tb ? 0 : ta > tb ? -1 : 1;
}

/* "12.3 MiB", or "?" for a counter the agent could not read. */
static void mib_text(json_t *v, char *buf, size_t size)
{
    if (json_is_integer(v))
        snprintf(buf, size, "%.1f MiB", (double)json_integer_value(v) / (1024.0 * 1024.0));
    else
        snprintf(buf, size, "?");
}

/* --verbose: under the table, per task, what its cgroup used (sampled by
 * the agent every few seconds) and each process. */
static void print_details(json_t *const *tasks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *task = tasks[i];
        printf("\nInstance %lld, task %s:\n", (long long)json_integer_value(json_object_get(task, "instance")),
               json_string_value(json_object_get(task, "id")));
        json_t *usage = json_object_get(task, "usage");
        if (usage) {
            char mem[32], peak[32];
            mib_text(json_object_get(usage, "memory_bytes"), mem, sizeof(mem));
            mib_text(json_object_get(usage, "memory_peak_bytes"), peak, sizeof(peak));
            json_t *cpu = json_object_get(usage, "cpu_ms");
            if (json_is_integer(cpu))
                printf("  CPU %.2f s, memory %s (peak %s)\n", (double)json_integer_value(cpu) / 1000.0, mem, peak);
            else
                printf("  CPU ?, memory %s (peak %s)\n", mem, peak);
        }
        json_t *procs = json_object_get(task, "processes");
        if (json_array_size(procs) == 0) {
            printf("  No processes reported.\n");
            continue;
        }
        static const char *const headers[] = {"PROCESS", "STATE", "RUNS", "EXIT"};
        _cleanup_table_ struct table *t = table_new(BO_ARRAY_SIZE(headers), headers);
        table_set_align(t, 2, TABLE_RIGHT);
        table_set_align(t, 3, TABLE_RIGHT);
        json_t *p;
        size_t k;
        json_array_foreach(procs, k, p)
        {
            char runs[24] = "-", code[24] = "-";
            json_t *r = json_object_get(p, "runs"), *c = json_object_get(p, "exit_code");
            if (json_is_integer(r)) /* absent from an older agent */
                snprintf(runs, sizeof(runs), "%lld", (long long)json_integer_value(r));
            if (json_is_integer(c))
                snprintf(code, sizeof(code), "%lld", (long long)json_integer_value(c));
            const char *row[] = {json_string_value(json_object_get(p, "name")),
                                 json_string_value(json_object_get(p, "state")), runs, code};
            table_add_row(t, row);
        }
        _cleanup_free_ char *text = table_render(t);
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            printf("  %s\n", line);
    }
}

static void print_human(const char *key, json_t *answer, bool verbose)
{
    json_t *job = json_object_get(answer, "job"), *tasks = json_object_get(answer, "tasks");
    const char *state = json_string_value(json_object_get(job, "state"));
    json_int_t n = json_integer_value(json_object_get(job, "instances"));
    json_int_t failed = json_integer_value(json_object_get(job, "failed_instances"));
    printf("Job %s: %s, %s, %lld instance%s", key, state ? state : "?",
           json_is_true(json_object_get(job, "service")) ? "service" : "adhoc", (long long)n,
           n == 1 ? "" : "s");
    if (failed)
        printf(" (%lld failed)", (long long)failed);
    printf("\n");
    const char *image = json_string_value(
        json_object_get(json_object_get(json_object_get(answer, "config"), "task"), "image"));
    if (image)
        printf("Image: %s\n", image);
    /* Each instance's task, and the last one that ended (why it was
     * replaced: the history is newest first). */
    json_t *history = json_object_get(answer, "history");
    size_t n_live = json_array_size(tasks), n_tasks = n_live;
    _cleanup_free_ json_t **sorted = bo_xmalloc((n_live + json_array_size(history) + 1) * sizeof(json_t *));
    for (size_t i = 0; i < n_live; i++)
        sorted[i] = json_array_get(tasks, i);
    for (size_t h = 0; h < json_array_size(history); h++) {
        json_t *old = json_array_get(history, h);
        json_t *inst = json_object_get(old, "instance");
        bool shown = false;
        for (size_t i = n_live; i < n_tasks && !shown; i++)
            shown = json_equal(json_object_get(sorted[i], "instance"), inst);
        if (!shown)
            sorted[n_tasks++] = old;
    }
    if (n_tasks == 0) {
        printf("No tasks.\n");
        return;
    }
    qsort(sorted, n_tasks, sizeof(json_t *), task_cmp);

    static const char *const headers[] = {"INSTANCE", "TASK", "STATE", "HOST", "PORTS", "DETAILS"};
    _cleanup_table_ struct table *t = table_new(BO_ARRAY_SIZE(headers), headers);
    table_set_align(t, 0, TABLE_RIGHT);
    for (size_t i = 0; i < n_tasks; i++) {
        json_t *task = sorted[i];
        char inst[24];
        snprintf(inst, sizeof(inst), "%lld",
                 (long long)json_integer_value(json_object_get(task, "instance")));
        _cleanup_free_ char *ports = job_ops_ports_text(json_object_get(task, "ports"));
        const char *st = json_string_value(json_object_get(task, "state"));
        const char *details = NULL;
        if (st && !strcmp(st, "PENDING"))
            details = json_string_value(json_object_get(task, "pending_reason"));
        else if (is_terminal(task) || (st && (!strcmp(st, "THROTTLED") || !strcmp(st, "STARTING"))))
            details = json_string_value(json_object_get(task, "message"));
        const char *row[] = {inst,
                             json_string_value(json_object_get(task, "id")),
                             st,
                             json_string_value(json_object_get(task, "host")),
                             ports,
                             details};
        table_add_row(t, row);
    }
    table_print(t, stdout);
    if (verbose)
        print_details(sorted, n_tasks);
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    int r = job_ops_check_key(a->pos[0], &key);
    if (r != CLI_EXIT_OK)
        return r;
    json_t *answer = NULL;
    r = job_ops_get(ctx, key, &answer);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_flag(a, "json"))
        job_ops_print_json(answer);
    else
        print_human(key, answer, cli_flag(a, "verbose"));
    json_decref(answer);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_job_status_entry = {
    .group = "job",
    .name = "status",
    .args = "KEY",
    .summary = "show a job and its tasks",
    .help = "Prints the job's state (active, finished, failed or killed), how many "
            "instances failed, and one line per task (live tasks and the most recent "
            "ended ones): instance, task id, state, host, ports, and why a PENDING task waits, "
            "what a STARTING task is doing (\"pulling image ...\") or how an ended task ended. A job "
            "with a container image shows it, by digest. --verbose adds, per task, each process's "
            "state, run count and last exit code, and the CPU time and memory (now and peak) of the "
            "task's cgroup, as its agent last sampled them (every few seconds while it runs).",
    .examples = "borealis job status local/www-data/devel/hello\n"
                "borealis job status local/www-data/devel/hello --verbose\n"
                "borealis job status local/www-data/devel/hello --json | jq '.tasks[].state'",
    .options = options,
    .min_args = 1,
    .max_args = 1,
    .run = run,
};
