/* cmd-agent.c - `borealis agent`: the agent daemon is a library; its argv
 * (from "agent" on) goes to it untouched, and it owns its options and
 * --help. */
#include "agent/agent.h"
#include "cli/cli.h"

const struct cli_command cmd_agent_entry = {
    .name = "agent",
    .args = "[OPTIONS]",
    .summary = "run the agent daemon on this machine",
    .help = "Runs an agent: it offers this machine's resources to the scheduler, and launches "
            "and supervises tasks in cgroups and sandboxes. Its options are listed by "
            "`borealis agent --help`.",
    .examples = "borealis agent --data-dir /var/lib/borealis/agent "
                "--scheduler http://127.0.0.1:8081",
    .run_raw = agent_main,
};
