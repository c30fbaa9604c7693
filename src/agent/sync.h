/* sync.h - the agent's side of POST /api/v1/agents/sync (docs/protocol.md
 * section 3) on libcurl's multi interface, driven by the agent's
 * single-threaded loop: one long poll outstanding when idle, a second
 * immediate request when new updates are journaled meanwhile (at most 2 in
 * flight), backoff on errors, strict parsing of the answer. */
#ifndef BO_AGENT_SYNC_H
#define BO_AGENT_SYNC_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/journal.h"
#include "base/error.h"
#include "net/http_client.h"
#include "model/job.h"

/* Long-poll wait until the scheduler's first answer names its heartbeat
 * (then that, within these bounds). */
#define SYNC_LONG_POLL_MS 2000
#define SYNC_MIN_POLL_MS 100
#define SYNC_MAX_POLL_MS 600000
#define SYNC_MAX_UPDATES 500
/* Bytes of updates per request: half the scheduler's 1 MiB body limit. */
#define SYNC_MAX_UPDATE_BYTES (512u << 10)
#define SYNC_INVENTORY_EVERY_MS 60000
/* Usage rides on the next request after this long: with the long poll at
 * heartbeat_ms that is a few seconds, whatever the number of tasks. */
#define SYNC_USAGE_EVERY_MS 5000
/* Longest task id of a command the agent still reports a refusal for. */
#define SYNC_MAX_REPORTED_ID 1024
/* Task reads in one answer. */
#define SYNC_MAX_READS 1000

struct sync_launch {
    char *task_id; /* NULL if the item had no task_id to report a refusal against */
    char *job;
    int64_t instance;
    json_t *ports; /* object name -> port */
    struct task_config task;
    bo_error_t error; /* set: the item is invalid and must be skipped */
};

struct sync_kill {
    char *task_id;
    int64_t grace_ms;
    bo_error_t error;
};

/* An update the scheduler acked without applying it, and why. */
struct sync_rejected {
    int64_t seq;
    char *reason;
};

struct sync_answer {
    int64_t *acks; /* every update the scheduler is done with, rejected ones included */
    size_t n_acks;
    struct sync_rejected *rejected;
    size_t n_rejected;
    struct sync_launch *launch;
    size_t n_launch;
    struct sync_kill *kill;
    size_t n_kill;
    json_t *reads;        /* task reads (task_io.h), each checked when done; never NULL */
    json_t *execs;        /* `task exec` sessions (exec_session.h); never NULL */
    int64_t heartbeat_ms; /* 0: absent */
    bool reconcile;       /* the scheduler asks for the inventory now */
    bool register_asked;  /* "register": nothing applied, send the registration now */
};

/* How long to wait before retry number `attempts` (1, 2, ...): 100 ms
 * doubling to 5 s, of which a random part (`rnd`, any 32-bit value) takes
 * up to half, so agents that failed together (a scheduler restart) come
 * back spread out instead of in lockstep. */
int64_t sync_backoff_ms(int attempts, uint32_t rnd);
/* The periodic inventory is due every SYNC_INVENTORY_EVERY_MS minus up to
 * a quarter of it, drawn again each time: agents started together drift
 * apart instead of sending their inventories together. */
int64_t sync_inventory_jitter_ms(uint32_t rnd);

/* Strict: an unknown or mistyped top-level field fails the whole answer; a
 * bad launch or kill item only marks that item (item.error). */
int sync_answer_parse(json_t *j, struct sync_answer *ret, bo_error_t *err);
void sync_answer_clear(struct sync_answer *a);

struct sync_hooks {
    void *ctx;
    /* [{"task_id", "state"}] of every task the agent holds (new reference). */
    json_t *(*inventory)(void *ctx);
    /* The tasks' "usage" (see task_mgr_usage; new reference), sent at most
     * every SYNC_USAGE_EVERY_MS. NULL: never sent. */
    json_t *(*usage)(void *ctx);
    /* A valid answer: acks are already deleted from the journal. */
    void (*answer)(void *ctx, const struct sync_answer *a);
};

struct sync;

/* `registration` holds agent_id, hostname, resources, port_range,
 * attributes; it is copied into the boot request, the first request after
 * a failed one, and a request the scheduler asked for it with
 * `"register": true`; every other request carries only agent_id. */
/* TLS settings of every request (copied; pointers must outlive s). */
void sync_set_tls(struct sync *s, const struct http_tls *tls);
int sync_new(const char *scheduler_url, json_t *registration, struct journal *j, const struct sync_hooks *hooks,
             struct sync **ret, bo_error_t *err);
void sync_free(struct sync *s);
/* Start the requests due now, wait up to timeout_ms for network progress
 * or one of `extra` (their revents are filled), then process finished
 * requests (calling the hooks). Returns 0, or -1 on an internal curl error
 * or when the journal cannot be read or written (the agent must stop). */
int sync_poll(struct sync *s, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms, bo_error_t *err);
/* From now on every request says `"leaving": true`: the agent is killing
 * every task to shut down (--cleanup-on-exit), so the scheduler stops
 * placing tasks on it and reschedules its tasks without penalty. */
void sync_set_leaving(struct sync *s);
/* Whether the scheduler has answered a request that said `leaving`. */
bool sync_left(const struct sync *s);
/* Whether the last request reached the scheduler (and the agent registered). */
bool sync_connected(const struct sync *s);
/* Start no new request (the agent stops after a failure). */
void sync_halt(struct sync *s);
/* Queue a task read's reply (task_io.h; consumed) for POST
 * /api/v1/agents/reads, sent beside the sync. */
void sync_send_reply(struct sync *s, json_t *reply);
/* Requests in flight (0..2). */
int sync_in_flight(const struct sync *s);

#endif
