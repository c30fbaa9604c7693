/* commands.h - the one table of `borealis` commands, from which dispatch,
 * every --help text and docs/cli.md are made. */
#ifndef BO_CLI_COMMANDS_H
#define BO_CLI_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"

struct cli_group {
    const char *name;
    const char *summary;
};

/* In the order help lists them: top-level commands, then each group's. */
const struct cli_command *const *cli_commands(size_t *ret_n);
const struct cli_group *cli_groups(size_t *ret_n);
/* group NULL: a top-level command. */
const struct cli_command *cli_command_find(const char *group, const char *name);
const struct cli_group *cli_group_find(const char *name);

#endif
