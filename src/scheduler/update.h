/* update.h - scheduler-driven job updates (Aurora's rolling updates): the
 * update record (what changes per instance, its settings, status and
 * history), its persistence, and the driver that moves instances from
 * one config to the other in the scheduler's loop (update.c), one batch
 * at a time, rolling back in reverse order when too many fail. */
#ifndef BO_SCHEDULER_UPDATE_H
#define BO_SCHEDULER_UPDATE_H

#include "scheduler/state.h"

/* The newest updates kept per job (Aurora keeps 10). */
#define UPDATE_HISTORY_MAX 10
/* Bounds of what a user attaches to an update. */
#define UPDATE_MESSAGE_MAX 1024
#define UPDATE_REQUEST_ID_MAX 128

/* Aurora's JobUpdateStatus. The first six are active. */
enum update_status {
    UPDATE_ROLLING_FORWARD,
    UPDATE_ROLLING_BACK,
    UPDATE_ROLL_FORWARD_PAUSED,
    UPDATE_ROLL_BACK_PAUSED,
    UPDATE_ROLL_FORWARD_AWAITING_PULSE,
    UPDATE_ROLL_BACK_AWAITING_PULSE,
    UPDATE_ROLLED_FORWARD,
    UPDATE_ROLLED_BACK,
    UPDATE_ABORTED,
    UPDATE_ERROR,
    UPDATE_FAILED,
    UPDATE_STATUS_COUNT
};

/* What happens to one instance rolling forward. Rolling back inverts it
 * (an added instance is killed, a killed one added back with the old
 * config, a replaced one replaced by the old config). */
enum update_action { UPDATE_ADD, UPDATE_KILL, UPDATE_REPLACE, UPDATE_ACTION_COUNT };

/* Where an instance is in the current direction. */
enum update_phase {
    PHASE_WAITING,   /* not started in this direction */
    PHASE_KILLING,   /* its old task is being killed */
    PHASE_WATCHING,  /* its new task must stay RUNNING for watch_secs */
    PHASE_SUCCEEDED, /* done in this direction */
    PHASE_FAILED,    /* failed more than max_per_instance_failures times */
    PHASE_COUNT
};

struct update_instance {
    int32_t instance;
    uint8_t action;  /* enum update_action (forward) */
    uint8_t phase;   /* enum update_phase in the current direction */
    bool touched;    /* started rolling forward: rolled back on failure */
    int32_t failures;
    char *task_id;   /* PHASE_WATCHING: the task watched */
    char *prefer_agent; /* the agent of the task it replaced (update affinity), or NULL */
};

/* An event in an update's history: a status change (instance -1) or an
 * instance's step, as Aurora's job and instance update events. */
struct update_event {
    int64_t ts; /* wall ms */
    int32_t instance;
    char *what;    /* "ROLLING_FORWARD", "INSTANCE_UPDATING", ... */
    char *user;    /* status changes: who; NULL for the scheduler */
    char *message; /* NULL if none */
};

/* How an update runs (the new config's `update:` settings, or a
 * restart's options); the same both ways, as Aurora's. */
struct update_settings {
    int64_t batch_size;
    int64_t watch_secs;
    int64_t max_per_instance_failures;
    int64_t max_total_failures;
    bool rollback_on_failure;
    int strategy; /* enum update_strategy (model/job.h) */
    int64_t batch_sizes[JOB_MAX_BATCH_SIZES]; /* variable */
    size_t n_batch_sizes;
    bool autopause_after_batch;
    int64_t pulse_interval_secs; /* 0: no pulses needed */
};

/* The settings of a job config's `update:`. */
void update_settings_from_config(const struct job_config *c, struct update_settings *ret);

struct sched_update {
    char *id;
    struct sched_job *job;
    struct job_config *from, *to; /* registered configs of the job (refs held) */
    struct update_settings settings;
    bool restart;                 /* a rolling restart: every instance replaced by itself */
    uint8_t status;               /* enum update_status */
    char *user;                   /* who started it */
    char *message;                /* given at start, or NULL */
    char *request_id;             /* the client's idempotency key, or NULL */
    int64_t *scope;               /* the instances it was asked to touch (sorted), NULL: all */
    size_t n_scope;
    int64_t created_ms, updated_ms;
    struct update_instance *inst; /* instances that change, by instance number */
    size_t n_inst;
    int32_t failed_instances;
    int32_t batches;        /* batch strategies: batches started in this direction */
    int32_t paused_after;   /* autopause: the batch after which it last paused */
    int64_t pulse_until_ms; /* wall: pulses keep it going until then */
    struct update_event *events;
    size_t n_events;
    struct sched_update *u_prev, *u_next;
};

const char *update_status_name(enum update_status s);
int update_status_from_name(const char *s, enum update_status *ret);
bool update_status_is_active(enum update_status s);
const char *update_action_name(enum update_action a);
int update_action_from_name(const char *s, enum update_action *ret);
const char *update_phase_name(enum update_phase p);
/* "queue", "batch", "variable" (enum update_strategy). */
const char *update_strategy_name(int s);
int update_strategy_from_name(const char *s, int *ret);
int update_phase_from_name(const char *s, enum update_phase *ret);

/* Which instances an update may touch: all, or a sorted list (canaries,
 * `KEY/0-1`). */
struct update_scope {
    const int64_t *instances; /* NULL: every instance */
    size_t n;
};

/* Whether u was asked to touch exactly the instances of `scope`. */
bool update_same_scope(const struct sched_update *u, const struct update_scope *scope);

/* What `update start` would do to each instance of `j` (within `scope`,
 * NULL: all) given config `to`: fills *ret (heap, by instance) with the
 * instances that change and *ret_unchanged with the count of those that do
 * not. With `restart`, every present instance is replaced. */
void update_plan(const struct sched_job *j, const struct job_config *to, const struct update_scope *scope,
                 bool restart, struct update_instance **ret, size_t *ret_n, int64_t *ret_unchanged);

/* The task of instance i unless it has none or it was (or is being)
 * killed for good: instances without one are what an update adds. */
struct sched_task *update_present_task(const struct sched_job *j, int64_t i);

/* What starts an update. */
struct update_start_opts {
    struct job_config *to;         /* the new config (validated, same key); NULL for a restart */
    const struct update_settings *settings; /* NULL: the new config's `update:` */
    struct update_scope scope;     /* instances: all when .instances is NULL */
    const char *user, *message, *request_id;
};

/* Start an update of j (a rolling restart when o->to is NULL). Refused
 * (BO_E_EXISTS) while another is active; BO_E_INVALID ("job is unchanged",
 * or "nothing to restart") when no instance would change. Saves everything
 * in the current batch. */
int update_start(struct sched_state *st, struct sched_job *j, const struct update_start_opts *o,
                 struct sched_update **ret, bo_error_t *err);

/* User actions on the active update of j. BO_E_INVALID naming the
 * update's status when the action does not apply to it. */
enum update_command { UPDATE_CMD_PAUSE, UPDATE_CMD_RESUME, UPDATE_CMD_ABORT, UPDATE_CMD_ROLLBACK, UPDATE_CMD_PULSE };
int update_command(struct sched_state *st, struct sched_update *u, enum update_command cmd, const char *user,
                   const char *message, bo_error_t *err);

/* The timer step of j's active update (installed as st->update_step). */
int update_step(struct sched_state *st, struct sched_job *j, int64_t now_mono, bo_error_t *err);
/* After state_load: arm the timers of active updates. */
void update_recovered(struct sched_state *st);

/* A new, empty update attached to j's history (not saved); used by
 * update_start and by recovery. */
struct sched_update *update_new(struct sched_job *j, const char *id);
/* Append an event (strings copied; user and message may be NULL). */
void update_push_event(struct sched_update *u, int32_t instance, const char *what, const char *user,
                       const char *message, int64_t ts);
int update_save(struct sched_state *st, struct sched_update *u, bo_error_t *err);
/* Drop the oldest finished updates of j beyond UPDATE_HISTORY_MAX. */
int update_prune(struct sched_state *st, struct sched_job *j, bo_error_t *err);
/* Free u (unlinked from its job's history, timer disarmed). */
void update_free(struct sched_state *st, struct sched_update *u);

json_t *update_to_json(const struct sched_update *u, bool details);

#endif
