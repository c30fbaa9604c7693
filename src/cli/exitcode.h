/* exitcode.h - the exit codes of `borealis` (Aurora's numbering), their
 * meanings (for --help and docs/cli.md) and the one place errors are
 * printed: "borealis: <message>" on stderr. */
#ifndef BO_CLI_EXITCODE_H
#define BO_CLI_EXITCODE_H

#include <stddef.h>

#include "base/error.h"

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_INVALID_CONFIG = 3,
    CLI_EXIT_COMMAND_FAILURE = 4,
    CLI_EXIT_INVALID_COMMAND = 5,
    CLI_EXIT_INVALID_PARAMETER = 6,
    CLI_EXIT_NETWORK = 7,
    CLI_EXIT_TIMEOUT = 9,
    CLI_EXIT_API = 10,
    CLI_EXIT_AUTH = 30,
};

struct cli_exit_info {
    enum cli_exit code;
    const char *name;
    const char *meaning;
};

const struct cli_exit_info *cli_exit_table(size_t *ret_n);

/* Print "borealis: <message>" to stderr and return `code`. */
int cli_fail(int code, const char *fmt, ...) BO_PRINTF(2, 3);
/* Print e's message and return `code`, except that network, timeout and
 * auth errors always give CLI_EXIT_NETWORK / _TIMEOUT / _AUTH. */
int cli_fail_error(const struct bo_error_s *e, int code);

#endif
