/* lifecycle.h - what happens to tasks: state transitions with their side
 * effects (resources, queues, persistence), rescheduling with ancestors and
 * the flapping penalty, kills, and the timers (THROTTLED release, tasks stuck
 * in transient states, silent agents). The legality of each transition is
 * decided by the pure model/task_state module. */
#ifndef BO_SCHEDULER_LIFECYCLE_H
#define BO_SCHEDULER_LIFECYCLE_H

#include "scheduler/state.h"

/* Create a job and its instances in PENDING. The job's key must not be held
 * by an active job; an inactive job with that key is replaced. */
int lifecycle_create_job(struct sched_state *st, struct job_config *c, struct sched_job **ret, bo_error_t *err);

/* Move t to `to` with `msg`. Returns 1 if applied, 0 if the transition is
 * not legal from t's state (ignored: duplicates and stale updates land here),
 * -1 on a store error. Entering a terminal state may create the instance's
 * next task, which becomes the job's current task for that instance, and
 * prunes the job's oldest terminal tasks beyond opt.terminal_keep_per_job
 * (never t itself). */
int lifecycle_transition(struct sched_state *st, struct sched_task *t, enum task_state to, const char *msg,
                         bo_error_t *err);

/* A new task for `instance` of j (the instance array grows if needed)
 * running config `c` (registered with the job), in PENDING with `msg`,
 * saved; it becomes the instance's current task. Placement tries agent
 * `prefer_agent` first (NULL: none). */
int lifecycle_add_instance(struct sched_state *st, struct sched_job *j, int32_t instance, struct job_config *c,
                           const char *prefer_agent, const char *msg, struct sched_task **ret, bo_error_t *err);

/* User kill: never rescheduled. Returns 1 if the task was live. */
int lifecycle_kill(struct sched_state *st, struct sched_task *t, bo_error_t *err);

/* Agents marked lost in one timer pass at most: each takes its tasks with
 * it (a transition and a replacement each), and the loop must keep
 * serving while a rack goes away. The rest are due again at once and go
 * in the next passes, after the loop has served what came meanwhile. */
#define LIFECYCLE_LOST_PER_PASS 100

/* Timers. Each task and agent has at most one timer in st->timers, armed
 * at its next deadline, so the loop sleeps until the earliest one. Run
 * every timer due at `now_mono` (passed in for testability), but stop
 * after marking LIFECYCLE_LOST_PER_PASS agents lost (the rest stay due). */
int lifecycle_run_timers(struct sched_state *st, int64_t now_mono, bo_error_t *err);
/* t's deadlines changed outside a transition (a command was sent): re-arm. */
void lifecycle_arm_timer(struct sched_state *st, struct sched_task *t);
/* The agent synced now: it is not silent (arms its timeout if needed). */
void lifecycle_agent_seen(struct sched_state *st, struct sched_agent *a);
/* The agent was in contact at `mono` (a parked poll answered late): its
 * silence counts from then at the earliest. */
void lifecycle_agent_seen_at(struct sched_agent *a, int64_t mono);
/* After state_load: queue PENDING tasks and arm every task's timer;
 * THROTTLED release times are carried from the wall clock to `now_mono`. */
void lifecycle_recovered(struct sched_state *st, int64_t now_mono, int64_t now_wall);

/* Every live task on the agent becomes LOST (rescheduled unless killed,
 * without a flapping penalty, at most --reschedule-rate per second), or
 * PARTITIONED when its job's partition policy says so. */
int lifecycle_agent_lost(struct sched_state *st, struct sched_agent *a, const char *why, bo_error_t *err);
/* One task its agent no longer has (the machine came back without it,
 * e.g. rebooted or its data wiped): LOST as with a lost agent, so not
 * flapping, and rescheduled within --reschedule-rate. Returns as
 * lifecycle_transition. */
int lifecycle_task_lost_with_agent(struct sched_state *st, struct sched_task *t, const char *why, bo_error_t *err);
/* Move the agent to `to`, logging the change with `why`; keeps `up` and
 * st->agents_up in step. A no-op if it is already there. */
void lifecycle_agent_set_state(struct sched_state *st, struct sched_agent *a, enum agent_state to,
                               const char *why);

/* Move host `a` to maintenance state `to` (activate: MAINT_NONE), saving
 * it. DRAINING moves the host's tasks to DRAINING (the agent kills them;
 * they are rescheduled elsewhere without penalty) as far as their jobs'
 * SLA policies allow, the rest in later steps (a timer), all of them once
 * --drain-timeout has passed. A deactivate of a host already draining or
 * drained, or a drain of a drained one, keeps it as it is. */
int lifecycle_maintenance(struct sched_state *st, struct sched_agent *a, enum host_maintenance to,
                          bo_error_t *err);
/* After state_load: resume the drains that were under way. */
void lifecycle_maintenance_recovered(struct sched_state *st);
/* A DRAINING host with no task left becomes DRAINED. */
int lifecycle_maintenance_progress(struct sched_state *st, struct sched_agent *a, bo_error_t *err);

#endif
