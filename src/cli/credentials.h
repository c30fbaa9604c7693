/* credentials.h - where the CLI finds its API token, never on the command
 * line (where `ps` would show it). In order:
 *   $BOREALIS_TOKEN        the token itself;
 *   $BOREALIS_TOKEN_FILE   a file holding it (e.g. the admin.token of a
 *                          scheduler's data dir, as `borealis up` prints);
 *   $XDG_CONFIG_HOME/borealis/credentials (default ~/.config/...), if present.
 * A file must belong to the user (or root) and be readable by nobody else
 * (no group or other permission bits): otherwise it is refused. */
#ifndef BO_CLI_CREDENTIALS_H
#define BO_CLI_CREDENTIALS_H

#include <stddef.h>

#include "base/error.h"

#define CREDENTIALS_FILE_MAX 4096
#define CREDENTIALS_TOKEN_MAX 256

/* Parse a credentials file's text: blank lines and `#` comments are
 * skipped; exactly one other line, the token ([A-Za-z0-9_-], at most
 * CREDENTIALS_TOKEN_MAX), optionally written `token = VALUE`. `what` names
 * the file in errors. Caller frees *ret. */
int credentials_parse(const char *text, size_t len, const char *what, char **ret, bo_error_t *err);

/* Read and check one file (mode, owner, size), then parse it. */
int credentials_read_file(const char *path, char **ret, bo_error_t *err);

/* The token from the sources above; *ret NULL when there is none.
 * BO_E_AUTH for a file refused for its mode or owner, BO_E_INVALID for a
 * bad one, BO_E_IO for one that cannot be read (the CLI exits 30 for all). */
int credentials_find(char **ret, bo_error_t *err);

#endif
