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

const struct cli_command cmd_scheduler_join_token_entry = {
    .group = "scheduler",
    .name = "join-token",
    .args = "[--rotate]",
    .summary = "print (or rotate) the token agents join the cluster with",
    .help = scheduler_join_token_help,
    .examples = "borealis scheduler join-token --data-dir /var/lib/borealis/scheduler > /etc/borealis/join-token",
    .options = scheduler_join_token_options,
    .offline = true,
    .run_raw = scheduler_join_token_main,
};
