/* state.h - the scheduler's in-memory cluster state: jobs, tasks, agents and
 * the indexes over them. Every mutation goes through functions here or in
 * lifecycle.c, which also write the changed records to the store inside
 * the current batch (the caller commits before acting or answering).
 *
 * Memory: a task holds one pointer to its job's shared, refcounted config,
 * its ports as a small array, and a bounded event history. */
#ifndef BO_SCHEDULER_STATE_H
#define BO_SCHEDULER_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>

#include "base/timer_heap.h"
#include "model/job.h"
#include "model/task_state.h"
#include "store/store.h"

/* The newest events kept per task: a whole ordinary life (THROTTLED,
 * PENDING, ASSIGNED, STARTING, RUNNING, KILLING, KILLED) fits. */
#define TASK_MAX_EVENTS 8

struct sched_agent;
struct sched_job;
struct sched_update; /* scheduler/update.h */

/* Why a task is still PENDING: computed once per equivalence class (job
 * config) per placement pass and shared, refcounted, by its tasks. */
struct sched_reason {
    uint32_t refs;
    char text[];
};

/* What a struct bo_timer in the scheduler's heap is embedded in. */
enum { TIMER_TASK, TIMER_AGENT, TIMER_DRAIN, TIMER_UPDATE };

/* 16 bytes (8 of them in every task): the time and the state share a
 * word, 56 bits of wall ms last a million years. */
struct task_event {
    int64_t ts : 56; /* wall ms */
    enum task_state state : 8;
    char *message;
};

struct sched_task {
    char *id;
    struct sched_job *job;
    struct job_config *config; /* shared with the job (ref held) */
    int32_t instance;
    enum task_state state;
    int32_t failure_count;
    int32_t consecutive_flaps;
    int32_t executor_pid;
    bool kill_requested;
    uint8_t queue;  /* which queue the task is on (QUEUE_*) */
    struct bo_timer timer; /* next deadline: throttle, transient timeout, resend */
    char *ancestor_id;
    struct sched_agent *agent; /* set from ASSIGNED on */
    char *agent_id;            /* kept after the agent is forgotten */
    /* Placement tries this agent first (update affinity: a replaced
     * instance goes back to its machine, whose sandbox and image cache
     * it reuses); NULL: none. Not stored: a preference only. */
    char *prefer_agent;
    uint16_t *ports;           /* parallel to config->task.ports */
    char *message;
    struct sched_reason *pending_reason;
    int64_t pending_since_mono; /* for placement latency */
    int64_t running_since;      /* wall ms, 0 if never RUNNING */
    int64_t throttle_until;     /* wall ms (stored, shown) */
    int64_t throttle_until_mono; /* the same moment on the timer clock */
    int64_t state_since_mono;   /* for transient timeouts */
    int64_t last_command_mono;  /* last launch/kill sent to the agent */
    json_t *processes; /* as last reported by the agent */
    json_t *usage;     /* {cpu_ms, memory_bytes, memory_peak_bytes} last sampled by the agent; not stored */
    struct task_event events[TASK_MAX_EVENTS];
    int n_events; /* ring: the newest TASK_MAX_EVENTS */
    uint32_t dirty_slot; /* 1 + index in st->dirty: saved in the open batch, written at its commit; 0: none */
    int64_t created_ms; /* wall ms; orders an instance's tasks on recovery */

    UT_hash_handle hh;                       /* state->tasks by id */
    struct sched_task *q_prev, *q_next;      /* pending queue */
    struct sched_task *a_prev, *a_next;      /* agent's task list */
    struct sched_task *j_prev, *j_next;      /* job's task list (all, oldest first) */
};

/* FINISHED: every instance ended and none failed; FAILED: every instance
 * ended and some ended FAILED (ad hoc jobs only: services reschedule). */
enum job_state { JOB_ACTIVE, JOB_FINISHED, JOB_KILLED, JOB_FAILED };

/* A config some task of a job runs, with the id its task records name
 * (tasks of one job run different configs during and after an update). */
struct job_config_slot {
    struct job_config *config; /* ref held */
    int64_t id;
};

struct sched_job {
    char *key;
    struct job_config *config; /* the job's config: new instances get it (one of `configs`) */
    enum job_state state;
    int64_t created_ms;
    struct sched_task **current; /* current task per instance, NULL = instance removed */
    int64_t n_current;           /* at least config->instances; more while an update removes some */
    struct sched_task *tasks;    /* all tasks of the job (utlist, j_ links) */
    struct job_config_slot *configs; /* every config a task, the job or its active update holds */
    size_t n_configs;
    int64_t next_config_id;
    struct sched_update *updates; /* history, oldest first (utlist, u_ links) */
    struct sched_update *update;  /* the active one (also in `updates`), or NULL */
    struct bo_timer update_timer; /* the active update's next step (TIMER_UPDATE) */
    UT_hash_handle hh;
};

/* What the scheduler knows of an agent's liveness (docs/architecture.md
 * "Liveness"). Only an UP agent gets new tasks. UNKNOWN: loaded from the
 * store after a restart and not heard from since; LOST: silent for
 * --agent-timeout; DOWN: said it was shutting down. */
enum agent_state { AGENT_UNKNOWN, AGENT_UP, AGENT_LOST, AGENT_DOWN };

/* A host's maintenance (Aurora's): SCHEDULED gets no new tasks; DRAINING
 * also moves its tasks elsewhere, then is DRAINED; activate: NONE. */
enum host_maintenance { MAINT_NONE, MAINT_SCHEDULED, MAINT_DRAINING, MAINT_DRAINED, MAINT_COUNT };

/* An agent, once known, stays in memory until the scheduler stops (none is
 * ever freed before): a pointer to one may be kept across requests. */
struct sched_agent {
    char *id;
    char *hostname;
    double cpu;
    uint64_t ram, disk;
    double used_cpu;
    uint64_t used_ram, used_disk;
    uint32_t port_lo, port_hi;
    uint32_t ports_free;
    /* bitmap over [port_lo, port_hi], made at the first port taken (NULL:
     * none is; an idle agent does not pay for it): state_agent_port_used */
    uint8_t *port_used;
    /* Its attributes (the registration's, names to strings) packed in one
     * allocation, "name\0value\0name\0value\0": a jansson object took
     * about 0.4 KiB an agent, a tenth of an idle agent's memory. NULL:
     * none. Read with state_agent_attr and state_agent_attr_next. */
    char *attrs;
    uint32_t attrs_len; /* bytes of attrs */
    int64_t drain_started_ms;    /* wall ms a drain began (persisted), for --drain-timeout */
    struct bo_timer drain_timer; /* next drain step while DRAINING */
    int64_t last_seen_mono;
    struct bo_timer timer; /* agent timeout, re-armed lazily from last_seen_mono */
    int64_t last_seen_wall;
    int64_t n_tasks;
    /* Of those, the ones in a state whose command the agent is sent
     * (task_state_awaits_agent): kept by state_task_bind_agent, _unbind
     * and state_task_state_changed (every change of state). Such a task is put first in `tasks` when
     * it enters that state, so an answer looks at the first few tasks
     * only, not at every task the agent runs (a cache miss or two each). */
    int32_t n_awaiting;
    struct sched_task *tasks; /* a_ links; tasks awaiting a command first */
    /* The flags together, for the struct's size (one per agent). */
    bool up; /* state == AGENT_UP (set only by lifecycle_agent_set_state) */
    uint8_t state; /* enum agent_state */
    uint8_t maintenance; /* enum host_maintenance (persisted) */
    bool needs_inventory; /* back from LOST or UNKNOWN: ask for its inventory */
    bool has_work;                        /* commands are due: answer a parked poll (set it
                                           * with state_agent_has_work, which queues the wake) */
    bool in_ready;                        /* on st->ready (state_agent_has_work) */
    uint8_t answers_kept; /* its syncs whose answers wait for the store (durable.h): it waits on us */
    UT_hash_handle hh;
};

/* t's state changed from `from`: its agent's count of tasks awaiting a
 * command follows, and a task now awaiting one goes first in its list. */
void state_task_state_changed(struct sched_task *t, enum task_state from);
/* Whether a's counts of its tasks (n_tasks, n_awaiting) match its list
 * of them: for tests and fuzz targets, which check it after what they do. */
bool state_agent_counts_ok(const struct sched_agent *a);

/* Set a's attributes from a JSON object; values that are not strings are
 * left out (registration refuses them; a record may predate that). */
void state_agent_set_attrs(struct sched_agent *a, json_t *obj);
/* The value of attribute `name`, or NULL. */
const char *state_agent_attr(const struct sched_agent *a, const char *name);
/* The next attribute after *pos (NULL: the first): false at the end. */
bool state_agent_attr_next(const struct sched_agent *a, const char **pos, const char **name, const char **value);
/* As a JSON object (new reference). */
json_t *state_agent_attrs_json(const struct sched_agent *a);
/* Whether obj (an object of strings) holds exactly a's attributes. */
bool state_agent_attrs_equal(const struct sched_agent *a, json_t *obj);

/* Whether port p of a's range is taken (false outside the range). */
static inline bool state_agent_port_used(const struct sched_agent *a, uint32_t p)
{
    if (!a->port_used || p < a->port_lo || p > a->port_hi)
        return false;
    return a->port_used[(p - a->port_lo) / 8] & (1u << ((p - a->port_lo) % 8));
}

enum { QUEUE_NONE, QUEUE_PENDING };

struct sched_options {
    const char *cluster;
    int64_t flap_window_ms;
    int64_t flap_penalty_ms;    /* first penalty; doubles up to flap_penalty_max_ms */
    int64_t flap_penalty_max_ms;
    int64_t transient_timeout_ms;
    int64_t agent_timeout_ms;
    int64_t agent_heartbeat_ms; /* the agents' sync interval (long-poll wait) */
    int64_t reschedule_rate;    /* tasks of lost agents rescheduled per second (token bucket) */
    int64_t drain_timeout_ms;   /* a drain ignores SLA policies after this long */
    int64_t command_resend_ms;
    int64_t terminal_keep_per_job;
    /* What an agent may claim (0: no limit). */
    int64_t max_agents;
    double max_agent_cpu;
    uint64_t max_agent_ram, max_agent_disk;
    /* Host paths jobs may mount (--host-mount-allow, checked at create;
     * each agent checks its own list again at launch). Into argv. */
    char *const *host_mount_allow;
    size_t n_host_mount_allow;
};

struct sched_state {
    struct sched_options opt;
    struct store *store;
    struct sched_job *jobs;
    struct sched_task *tasks;
    struct sched_agent *agents;
    struct sched_agent **agent_vec; /* the same agents, by index (placement) */
    /* Agents given work since the last wake (state_agent_has_work): the
     * loop answers their parked polls without scanning every agent. */
    struct sched_agent **ready;
    size_t n_ready, cap_ready;
    size_t n_agent_vec;
    struct sched_task *pending; /* q_ links, ordered by priority then age */
    /* Where the next placement pass resumes in `pending` (NULL: the sweep
     * is done, the next pass starts one from the head). */
    struct sched_task *place_cursor;
    /* Tasks saved in the open store batch, written once each when it
     * commits (state_save_task; NULL: deleted since). */
    struct sched_task **dirty;
    size_t n_dirty, cap_dirty;
    struct bo_timer_heap timers; /* deadlines of tasks and agents (mono ms) */
    int64_t count_by_state[TASK_STATE_COUNT];
    int64_t agents_up;
    bool placement_due; /* something changed that may make a task placeable */
    /* The latest moment the loop was listening (a poll(2) returned, after
     * which it reads every request that arrived before): an agent is
     * judged silent against this, not against the clock, so a loop busy
     * for longer than --agent-timeout never marks a healthy agent lost.
     * 0 (unit tests): the timers' `now`. */
    int64_t heard_until_mono;
    /* Whether this agent waits on us: a poll of it is parked, or an
     * answer to it waits for the store (agent_sync.c owns both): that is
     * contact. NULL: it never does. */
    bool (*agent_waiting)(const struct sched_agent *a);
    /* Advance the active update of `j` (update.c; a TIMER_UPDATE fired).
     * A pointer, so that lifecycle.c runs it without depending on it. */
    int (*update_step)(struct sched_state *st, struct sched_job *j, int64_t now_mono, bo_error_t *err);
    /* Token bucket (GCRA) of reschedules after agent loss: the theoretical
     * arrival time of the next one, mono ms. */
    double resched_tat_mono;
    /* Set when a store batch failed after memory had changed: memory and
     * store may now differ, so the scheduler stops (fail-stop) and a
     * restart recovers the truth from the store. */
    char *fatal;
    /* metrics */
    uint64_t placements;
    uint64_t placement_latency_sum_ms;
    uint64_t placement_latency_buckets[8];
    uint64_t reschedules;
    /* Agent sync bodies by the reader that took them (sync_request.h): in
     * place, or by jansson (registrations, usage, anything unusual). */
    uint64_t sync_reads_in_place, sync_reads_jansson;
};

extern const int64_t placement_latency_bounds_ms[8];

/* Record a fatal store failure (first one wins); the loop then exits. */
void state_fatal(struct sched_state *st, const char *what, const char *msg);
/* Errors of these kinds are raised before anything changes (validation,
 * lookups), so a rollback is enough; any other error in a batch is fatal. */
bool state_error_is_clean(const struct bo_error_s *e);

void state_init(struct sched_state *st, const struct sched_options *opt, struct store *store);
void state_free(struct sched_state *st);
/* Load everything from the store (after a restart; state_load.c). Every
 * row is checked first: an invalid one fails the load (BO_E_INVALID) with
 * a message naming the store's file, the table, the row's id and the
 * fault. The state is then partly filled; state_free() releases it. */
int state_load(struct sched_state *st, bo_error_t *err);
/* Task rows are read with the flat reader first (true, the default);
 * tests turn it off to compare the two readers. The rows it read in the
 * last load: the others went to the jansson reader. */
extern bool state_load_flat;
extern size_t state_load_flat_rows;

/* Commands (or a read, or a refusal) are due for a: set has_work and put
 * it on the ready list, whose parked poll the loop then answers. */
void state_agent_has_work(struct sched_state *st, struct sched_agent *a);
/* Index a new agent (hash and vector). */
void state_agent_add(struct sched_state *st, struct sched_agent *a);
/* Set the agent's port range; only while it holds no ports. */
void state_agent_set_ports(struct sched_agent *a, uint32_t lo, uint32_t hi);
struct sched_job *state_job_find(struct sched_state *st, const char *key);
struct sched_task *state_task_find(struct sched_state *st, const char *id);
struct sched_agent *state_agent_find(struct sched_state *st, const char *id);

/* Persist (inside the current store batch). Errors are fatal for the
 * scheduler: it cannot act on a change it could not record.
 * state_save_task inside a batch only marks the task: it is written once,
 * as it is then, when the batch commits (store.h "Write-behind"), however
 * often it changed; a rollback drops the mark, a delete forgets it. So a
 * save's failure shows at the commit. Outside a batch it writes at once. */
int state_save_job(struct sched_state *st, struct sched_job *j, bo_error_t *err);
/* A task's store record as JSON text (heap), written without jansson. */
char *state_task_record_text(const struct sched_task *t);
/* state_task_to_json() as text, appended to b (no jansson tree). */
struct bo_buf;
void state_task_view_text(struct bo_buf *b, const struct sched_task *t);
int state_save_task(struct sched_state *st, struct sched_task *t, bo_error_t *err);
int state_save_agent(struct sched_state *st, struct sched_agent *a, bo_error_t *err);

/* A new job from a validated config (takes a reference). */
struct sched_job *state_job_add(struct sched_state *st, struct job_config *c, int64_t created_ms);
/* Drop a job and all its tasks from memory and store. */
int state_job_remove(struct sched_state *st, struct sched_job *j, bo_error_t *err);
/* A new task in INIT for `instance` of job, running config `c` (one of
 * the job's configs; a ref is taken), not yet persisted. */
struct sched_task *state_task_new(struct sched_state *st, struct sched_job *j, int32_t instance,
                                  struct job_config *c);
/* The job's config equal to `c` (same JSON), registering `c` under a new
 * id if there is none. Borrowed: the job holds it. The job record must
 * be saved after a registration (returns true in *ret_added). */
struct job_config *state_job_intern_config(struct sched_job *j, struct job_config *c, bool *ret_added);
/* The registered config with id `id`, or NULL. */
struct job_config *state_job_config_by_id(const struct sched_job *j, int64_t id);
/* The id of a registered config, or -1. */
int64_t state_job_config_id(const struct sched_job *j, const struct job_config *c);
/* Forget the configs nothing holds any more (no task, not the job's, not
 * its active update's). The caller saves the job. */
void state_job_drop_unused_configs(struct sched_job *j);
/* Make `c` (registered) the job's config: new instances get it. */
void state_job_set_config(struct sched_job *j, struct job_config *c);
/* Grow the instance array to n (new slots empty). Never shrinks. */
void state_job_reserve_instances(struct sched_job *j, int64_t n);
void state_task_delete(struct sched_state *st, struct sched_task *t);

void state_queue_set(struct sched_state *st, struct sched_task *t, int queue);
void state_task_bind_agent(struct sched_state *st, struct sched_task *t, struct sched_agent *a,
                           const uint16_t *ports);
/* Release resources and ports on the agent (terminal task). */
void state_task_unbind_agent(struct sched_state *st, struct sched_task *t);
void state_task_set_message(struct sched_task *t, const char *msg);
/* A reason with one reference held by the caller; unref(NULL) is a no-op. */
struct sched_reason *state_reason_new(const char *text);
struct sched_reason *state_reason_ref(struct sched_reason *r);
void state_reason_unref(struct sched_reason *r);
/* Replace t's pending reason with r (a new reference is taken). */
void state_task_set_reason(struct sched_task *t, struct sched_reason *r);
void state_task_push_event(struct sched_task *t, enum task_state s, const char *msg);
/* Delete the oldest (by creation) terminal, non-current tasks of a job
 * beyond `keep`, never `spare` (the task whose transition is running: it
 * can be the oldest created and still the last to end). */
int state_job_prune(struct sched_state *st, struct sched_job *j, int64_t keep, const struct sched_task *spare,
                    bo_error_t *err);
/* Recompute job state from its instances; persists if it changed. */
int state_job_refresh(struct sched_state *st, struct sched_job *j, bo_error_t *err);

json_t *state_task_to_json(const struct sched_task *t);
json_t *state_job_summary_json(struct sched_state *st, const struct sched_job *j);
json_t *state_agent_to_json(const struct sched_agent *a);
/* "unknown", "up", "lost", "down". */
const char *agent_state_name(enum agent_state s);
/* "NONE", "SCHEDULED", "DRAINING", "DRAINED"; the inverse returns -1 for
 * an unknown name. */
const char *host_maintenance_name(enum host_maintenance m);
int host_maintenance_from_name(const char *s, enum host_maintenance *ret);
const char *job_state_name(enum job_state s);
/* The inverse of job_state_name(); -1 for an unknown name. */
int job_state_from_name(const char *s, enum job_state *ret);

#endif
