/* cmd-agent.c - `borealis agent`: the agent daemon is a library; its argv
 * (from "agent" on) goes to it untouched and it parses it with its own
 * option table, which is also listed here so `borealis help agent` and
 * docs/cli.md show it. */
#include "agent/agent.h"
#include "agent/options.h"
#include "cli/cli.h"

const struct cli_command cmd_agent_entry = {
    .name = "agent",
    .args = "[OPTIONS]",
    .summary = "run the agent daemon on this machine",
    .help = agent_help_text,
    .examples = agent_examples,
    .options = agent_option_table,
    .run_raw = agent_main,
};
