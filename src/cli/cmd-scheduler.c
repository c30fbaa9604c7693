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
            "`borealis scheduler --help`. A new, empty cluster is made only in an empty (or "
            "new) --data-dir, or with --new-cluster; a store that is missing from a data dir "
            "holding other files, empty (0 bytes), unreadable or holding an invalid row is "
            "refused with a message naming the file (and the table and row), and the "
            "scheduler exits 3. It exits 1 when it stops on a failure while running (e.g. a "
            "store write failed), 2 on a usage error, 0 after SIGINT or SIGTERM.",
    .examples = "borealis scheduler --data-dir /var/lib/borealis/scheduler --port 8081 "
                "--cluster local",
    .run_raw = scheduler_main,
};
