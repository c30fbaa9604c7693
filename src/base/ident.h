/* ident.h - the one identifier rule of the project. Job key parts, process
 * and port names, task ids, agent ids, --bind names, cgroup roots and host
 * names all end up as path segments (API URLs, sandbox and log folders,
 * cgroup names) or inside task ids, so they share one character set:
 * [A-Za-z0-9_.-], never empty, never `.` or `..`, with a length limit
 * given by the caller. Port names also leave out the dot, as {{ports.NAME}}
 * would be ambiguous. Libc only: the static executor checks its task.json
 * with it too. */
#ifndef BO_IDENT_H
#define BO_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

enum bo_ident_flags {
    BO_IDENT_NO_DOT = 1 << 0, /* port names: [A-Za-z0-9_-] */
};

/* Whether `c` may appear in an identifier. */
bool bo_ident_char(char c, unsigned flags);
bool bo_ident_ok(const char *s, size_t max, unsigned flags);
/* As bo_ident_ok, with a BO_E_INVALID error naming `what` and the value:
 * "role `www data` must match [A-Za-z0-9_.-]+". */
int bo_ident_check(const char *s, size_t max, unsigned flags, const char *what, bo_error_t *err);

#endif
