/* constraint.h - a job's placement constraints on agent attributes, as in
 * Aurora: by value (`rack: r1,r2`, negated `!r1,r2`), by count (`host:
 * limit:1`: at most one active task of the job per distinct value), and
 * `dedicated: ROLE/NAME` (only jobs that ask for it run on agents that
 * carry it, and only those agents run them).
 *
 * Pure: the grammar of a value and matching one attribute value against
 * it. Placement (src/scheduler/placement.c) applies them to agents. */
#ifndef BO_MODEL_CONSTRAINT_H
#define BO_MODEL_CONSTRAINT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

#define CONSTRAINT_DEDICATED "dedicated"
#define CONSTRAINT_LIMIT_MAX 1000

/* Check one constraint value; `path` names it in the error. */
int constraint_value_check(const char *attribute, const char *value, const char *path, bo_error_t *err);
/* N of "limit:N", or 0 for a value constraint. */
int64_t constraint_limit(const char *value);
/* Whether an agent whose attribute holds `attr` (NULL: the agent does not
 * have it) satisfies the value constraint `value` ("a,b" or "!a,b"). */
bool constraint_value_matches(const char *value, const char *attr);

#endif
