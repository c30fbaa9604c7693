/* sync_request.h - an agent's sync request body (docs/protocol.md section
 * 3), read into a struct that agent_sync.c applies.
 *
 * Two readers fill it. Every agent sends a sync every few seconds, and
 * building a jansson tree of each was the largest single cost of the
 * scheduler's loop when 10,000 agents start 100,000 tasks (15% of its
 * CPU). So the common shape (a bare sync: agent_id, updates, wait_ms,
 * boot, leaving, inventory, usage) is read in place with base/jscan, and
 * anything else (a registration, an unknown field, a type that is wrong,
 * JSON outside jscan's subset) with jansson, which also words the
 * errors. For any body the fast reader takes, the jansson
 * reader gives the same struct (fuzz/fuzz_sync_request.c checks this), so
 * which one read a body never changes what is applied. */
#ifndef BO_SCHEDULER_SYNC_REQUEST_H
#define BO_SCHEDULER_SYNC_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "model/task_state.h"

/* One entry of `updates`. A bad field rejects its entry (with the reason
 * the agent logs) rather than the request: dropped unacknowledged, it
 * would be resent for ever. */
struct sync_update {
    int64_t seq;        /* < 1: it had no valid seq and is ignored (there is nothing to ack it with) */
    const char *reason; /* why the entry is rejected (static, or owned_reason), or NULL */
    char *owned_reason;
    const char *task_id;
    enum task_state state;
    const char *message;  /* "" when absent or null */
    int64_t executor_pid; /* 0: absent or null (never started) */
    json_t *processes;    /* a reference held; NULL: absent or null */
    bool agent_cause;     /* ended by the agent, not by the task */
};

/* One entry of `inventory`; each field NULL where it is not a string. */
struct sync_item {
    const char *task_id, *state;
};

struct sync_request {
    const char *agent_id;  /* NULL: absent or not a string */
    bool registration;     /* it carries a field of the registration (hostname, resources, ...) */
    bool boot, leaving;    /* true only when the field is `true` */
    bool leaving_bad;      /* `leaving` is there and not a boolean */
    bool arrays_bad;       /* `updates` or `inventory` is there and not an array */
    int64_t wait_ms;       /* 0 unless an integer */
    struct sync_update *updates;
    size_t n_updates;
    bool has_inventory;
    struct sync_item *inventory;
    size_t n_inventory;
    json_t *usage; /* a reference held (kept per task as JSON); NULL when absent */
    json_t *body;  /* the tree, when jansson read it (the registration is read from it); NULL otherwise */
    char *text;    /* the fast reader's copy of the body, which its strings point into */
};

/* The fast reader: true with *ret filled when `body` has the common shape
 * and every field its type; false (nothing held) for anything else, which
 * the caller then parses with jansson. `body` is not modified. */
bool sync_request_scan(const char *body, size_t len, struct sync_request *ret);
/* The jansson reader, for any JSON object (`body` is taken: the request
 * holds the reference). Never fails: what is wrong is marked in *ret and
 * refused when the request is applied, at the point it always was. */
void sync_request_from_json(json_t *body, struct sync_request *ret);
void sync_request_clear(struct sync_request *r);
/* `usage`: [{task_id, cpu_ms, memory_bytes, memory_peak_bytes}], each
 * counter a non-negative integer or null (the kernel lacks it). Checked
 * whole before anything is applied: a malformed one refuses the request
 * (BO_E_INVALID). */
int sync_request_check_usage(const struct sync_request *r, bo_error_t *err);

#endif
