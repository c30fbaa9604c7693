/* cmd-scheduler.c - `borealis scheduler`: the scheduler daemon is a
 * library; its argv (from "scheduler" on) goes to it untouched and it
 * parses it with its own option table, which is also listed here so
 * `borealis help scheduler` and docs/cli.md show it. */
#include "cli/cli.h"
#include "scheduler/scheduler.h"

const struct cli_command cmd_scheduler_entry = {
    .name = "scheduler",
    .args = "[OPTIONS]",
    .summary = "run the scheduler daemon (the API server)",
    .help = scheduler_help_text,
    .examples = scheduler_examples,
    .options = scheduler_options,
    .run_raw = scheduler_main,
};
