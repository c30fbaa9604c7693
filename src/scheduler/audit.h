/* audit.h - the audit log: one record per write through the API (who,
 * when, which route, which job, the answer's status), kept in the store
 * (kind "audit", id = zero-padded sequence number) and bounded: the oldest
 * records are deleted as new ones come (--audit-keep).
 *
 * A successful write's record goes into the same store batch as the
 * change itself, so a committed change always has its record; a refused
 * write (403) is recorded on its own. */
#ifndef BO_SCHEDULER_AUDIT_H
#define BO_SCHEDULER_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define AUDIT_QUERY_MAX 1000

struct audit {
    int64_t next_seq;
    int64_t keep; /* records kept; the oldest beyond are deleted */
};

struct audit_entry {
    const char *principal; /* NULL: unauthenticated */
    const char *action;    /* route name: job_create, token_revoke, ... */
    const char *method, *path;
    const char *job;    /* job key or NULL */
    const char *detail; /* e.g. "token ops", or NULL */
    unsigned status;
};

/* Find the next sequence number; trim records beyond `keep`. */
int audit_load(struct audit *a, struct store *s, int64_t keep, bo_error_t *err);
/* Append a record (in the open batch, or autocommitted). */
int audit_append(struct audit *a, struct store *s, const struct audit_entry *e, int64_t now_ms, bo_error_t *err);
/* Records in sequence order: with after >= 0 the first `limit` after it,
 * else the newest `limit`; only those of `job` when non-NULL. Returns a
 * JSON array. */
int audit_query(struct store *s, const char *job, int64_t after, int64_t limit, json_t **ret, bo_error_t *err);

#endif
