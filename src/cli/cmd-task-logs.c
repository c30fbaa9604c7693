/* cmd-task-logs.c - `borealis task logs KEY/INSTANCE [PROCESS]`: a
 * process's log, read on the agent that runs (or ran) the task. */
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/task_read.h"

/* Shared with `job logs` (cmd-job-logs.c), which has the same options. */
const struct bo_option task_logs_options[] = {
    {.name = "follow", .short_name = 'f', .kind = BO_OPT_FLAG,
     .help = "keep printing what the process writes, until the task ends (Ctrl-C to stop)"},
    {.name = "stderr", .kind = BO_OPT_FLAG, .help = "the process's standard error instead of its output"},
    {.name = "tail", .short_name = 'n', .kind = BO_OPT_INT, .arg = "N", .min = 0, .max = 100000,
     .help = "only the last N lines (then, with --follow, what comes next)"},
    {.name = NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    int64_t inst;
    int r = task_read_target(a->pos[0], &key, &inst);
    if (r != CLI_EXIT_OK)
        return r;
    struct log_cursor c = {.key = key, .instance = inst, .process = a->n_pos > 1 ? a->pos[1] : NULL,
                           .stderr_stream = cli_flag(a, "stderr"),
                           .tail = cli_given(a, "tail") ? cli_typed(a, "tail").i : -1};
    r = task_read_log(ctx, &c, cli_flag(a, "follow"), stdout, NULL);
    log_cursor_clear(&c);
    return r;
}

const struct cli_command cmd_task_logs_entry = {
    .group = "task",
    .name = "logs",
    .args = "KEY/INSTANCE [PROCESS]",
    .summary = "print a task's log, from wherever it runs",
    .help = "Prints the standard output (or --stderr) of a process of the task KEY/INSTANCE, read on the agent "
            "that runs or ran it, through the scheduler: no login on the machine is needed, only permission to "
            "read the job's role. PROCESS may be left out when the task has one. A task that ended can be read "
            "while its agent keeps its sandbox (--sandbox-retention, 1h by default). A rotated log (the process's "
            "`logging`, docs/jobs.md) is printed whole: the kept backups, oldest first, then the current file; "
            "--tail N reaches back into the backups. --follow keeps printing new output until the task ends, "
            "across rotations, without skipping or repeating a line.",
    .examples = "borealis task logs local/www-data/devel/hello/0\n"
                "borealis task logs local/www-data/devel/hello/0 server --stderr --tail 100 --follow",
    .options = task_logs_options,
    .min_args = 1,
    .max_args = 2,
    .run = run,
};
