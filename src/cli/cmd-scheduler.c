/* cmd-scheduler.c - `borealis scheduler`: the scheduler daemon is a
 * library; its argv (from "scheduler" on) goes to it untouched, and it owns
 * its options and --help. */
#include "cli/cli.h"
#include "scheduler/scheduler.h"

const struct cli_command cmd_scheduler_entry = {
    .name = "scheduler",
    .args = "[OPTIONS]",
    .summary = "run the scheduler daemon (the API server)",
    .help = "Runs the scheduler: the HTTP API (docs/api.md), the job and task store, and "
            "placement of tasks on agents. Its options are listed by "
            "`borealis scheduler --help`.",
    .examples = "borealis scheduler --data-dir /var/lib/borealis/scheduler --port 8081 "
                "--cluster local",
    .run_raw = scheduler_main,
};
