/* lifecycle.c - task transitions and their consequences, and the timers
 * that drive them (THROTTLED release, transient timeouts, command resends,
 * silent agents). */
#include "scheduler/lifecycle.h"

#include <utlist.h>

#include "base/clock.h"
#include "base/timefmt.h"

static bool awaits_agent(const struct sched_task *t)
{
    return t->state == TASK_ASSIGNED || t->state == TASK_KILLING;
}

/* The next moment something is due for t at `now`, or -1: its release from
 * THROTTLED, or its transient timeout, or earlier its command's resend if
 * one was sent and the resend is not due yet (a due resend waits for the
 * agent's next answer, which re-arms). */
static int64_t task_deadline(const struct sched_state *st, const struct sched_task *t, int64_t now)
{
    if (t->state == TASK_THROTTLED)
        return t->throttle_until_mono;
    if (!task_state_is_transient(t->state))
        return -1;
    int64_t d = t->state_since_mono + st->opt.transient_timeout_ms;
    int64_t resend = t->last_command_mono + st->opt.command_resend_ms;
    if (awaits_agent(t) && t->last_command_mono && resend > now && resend < d)
        d = resend;
    return d;
}

static void arm_task(struct sched_state *st, struct sched_task *t, int64_t now)
{
    int64_t d = task_deadline(st, t, now);
    t->timer.kind = TIMER_TASK;
    if (d < 0)
        bo_timer_disarm(&st->timers, &t->timer);
    else
        bo_timer_arm(&st->timers, &t->timer, d);
}

void lifecycle_arm_timer(struct sched_state *st, struct sched_task *t)
{
    arm_task(st, t, bo_mono_ms());
}

static void set_state(struct sched_state *st, struct sched_task *t, enum task_state to, const char *msg)
{
    st->count_by_state[t->state]--;
    st->count_by_state[to]++;
    t->state = to;
    t->state_since_mono = bo_mono_ms();
    if (to != TASK_PENDING)
        state_task_set_reason(t, NULL);
    else
        t->pending_since_mono = t->state_since_mono;
    if (to == TASK_RUNNING && !t->running_since)
        t->running_since = bo_wall_ms();
    if (msg)
        state_task_set_message(t, msg);
    state_task_push_event(t, to, msg);
    state_queue_set(st, t, to == TASK_PENDING ? QUEUE_PENDING : QUEUE_NONE);
    lifecycle_arm_timer(st, t);
    if (task_state_is_terminal(to))
        state_task_unbind_agent(st, t);
}

static int reschedule(struct sched_state *st, struct sched_task *old, enum task_state previous, bo_error_t *err)
{
    struct sched_job *j = old->job;
    if (old->instance >= j->n_current || j->current[old->instance] != old)
        return 0; /* superseded (e.g. the instance was replaced) */
    struct sched_task *t = state_task_new(st, j, old->instance);
    t->ancestor_id = bo_xstrdup(old->id);
    t->failure_count = old->failure_count;
    int64_t ran = old->running_since ? bo_wall_ms() - old->running_since : 0;
    /* Ended by the scheduler or its agent (restart, drain, preemption, an
     * agent shutting down), not by itself: not flapping (Aurora's rule). */
    bool interrupted = previous == TASK_RESTARTING || previous == TASK_DRAINING || previous == TASK_PREEMPTING;
    bool flapped = !interrupted && ran < st->opt.flap_window_ms;
    t->consecutive_flaps = flapped ? old->consecutive_flaps + 1 : 0;
    int64_t penalty =
        task_flap_penalty_ms(t->consecutive_flaps, st->opt.flap_penalty_ms, st->opt.flap_penalty_max_ms);
    st->reschedules++;
    if (penalty > 0) {
        t->throttle_until = bo_wall_ms() + penalty;
        t->throttle_until_mono = bo_mono_ms() + penalty;
        char held[32], until[64];
        bo_format_duration(penalty, held, sizeof(held));
        bo_format_time(t->throttle_until, until, sizeof(until));
        _cleanup_free_ char *m =
            bo_xasprintf("rescheduled from %s; flapping, held for %s (until %s)", old->id, held, until);
        set_state(st, t, TASK_THROTTLED, m);
    } else {
        _cleanup_free_ char *m = bo_xasprintf("rescheduled from %s", old->id);
        set_state(st, t, TASK_PENDING, m);
    }
    return state_save_task(st, t, err);
}

int lifecycle_transition(struct sched_state *st, struct sched_task *t, enum task_state to, const char *msg,
                         bo_error_t *err)
{
    if (!task_state_can_transition(t->state, to))
        return 0;
    enum task_state from = t->state;
    if (to == TASK_FAILED)
        t->failure_count++;
    set_state(st, t, to, msg);
    if (state_save_task(st, t, err) < 0)
        return -1;
    if (task_state_is_terminal(to)) {
        struct reschedule_input in = {
            .service = t->config->service,
            .max_task_failures = t->config->max_task_failures,
            .failure_count = t->failure_count,
            .terminal = to,
            .previous = from,
            .kill_requested = t->kill_requested,
        };
        if (task_should_reschedule(&in) && reschedule(st, t, from, err) < 0)
            return -1;
        if (state_job_prune(st, t->job, st->opt.terminal_keep_per_job, t, err) < 0 ||
            state_job_refresh(st, t->job, err) < 0)
            return -1;
    }
    return 1;
}

int lifecycle_create_job(struct sched_state *st, struct job_config *c, struct sched_job **ret, bo_error_t *err)
{
    _cleanup_free_ char *key = job_key_str(&c->key);
    struct sched_job *old = state_job_find(st, key);
    if (old) {
        if (old->state == JOB_ACTIVE) {
            char when[64], count[48];
            bo_format_time(old->created_ms, when, sizeof(when));
            bo_format_count(old->n_current, "instance", count, sizeof(count));
            return bo_error_set(err, BO_E_EXISTS, "job %s already exists (created %s, %s)", key, when, count);
        }
        if (state_job_remove(st, old, err) < 0)
            return -1;
    }
    struct sched_job *j = state_job_add(st, c, bo_wall_ms());
    if (state_save_job(st, j, err) < 0)
        return -1;
    for (int32_t i = 0; i < (int32_t)c->instances; i++) {
        struct sched_task *t = state_task_new(st, j, i);
        set_state(st, t, TASK_PENDING, NULL);
        if (state_save_task(st, t, err) < 0)
            return -1;
    }
    *ret = j;
    return 0;
}

int lifecycle_kill(struct sched_state *st, struct sched_task *t, bo_error_t *err)
{
    if (!task_state_is_active(t->state))
        return 0;
    t->kill_requested = true;
    if (t->state == TASK_KILLING)
        return 1;
    if (t->state == TASK_INIT || t->state == TASK_PENDING || t->state == TASK_THROTTLED) {
        /* Nothing runs yet: straight through KILLING to KILLED. */
        set_state(st, t, TASK_KILLING, "killed by user");
        return lifecycle_transition(st, t, TASK_KILLED, "killed by user before it was placed", err) < 0 ? -1 : 1;
    }
    if (lifecycle_transition(st, t, TASK_KILLING, "killed by user", err) < 0)
        return -1;
    t->last_command_mono = 0; /* send the kill with the next answer */
    if (t->agent)
        t->agent->has_work = true;
    return 1;
}

int lifecycle_agent_lost(struct sched_state *st, struct sched_agent *a, const char *why, bo_error_t *err)
{
    struct sched_task *t, *tmp;
    DL_FOREACH_SAFE2(a->tasks, t, tmp, a_next)
    {
        if (lifecycle_transition(st, t, TASK_LOST, why, err) < 0)
            return -1;
    }
    return 0;
}

void lifecycle_agent_seen(struct sched_state *st, struct sched_agent *a)
{
    a->last_seen_mono = bo_mono_ms();
    /* Armed at most once: the timer re-arms itself from last_seen_mono when
     * it fires early, so a sync costs no heap operation. */
    if (!bo_timer_armed(&a->timer)) {
        a->timer.kind = TIMER_AGENT;
        bo_timer_arm(&st->timers, &a->timer, a->last_seen_mono + st->opt.agent_timeout_ms);
    }
}

void lifecycle_recovered(struct sched_state *st, int64_t now_mono, int64_t now_wall)
{
    struct sched_task *t, *tmp;
    HASH_ITER(hh, st->tasks, t, tmp)
    {
        if (t->state == TASK_PENDING)
            state_queue_set(st, t, QUEUE_PENDING);
        /* The stored release time is wall clock; the timers run on the
         * monotonic one. */
        t->throttle_until_mono = now_mono + (t->throttle_until - now_wall);
        lifecycle_arm_timer(st, t);
    }
}

static int task_timer(struct sched_state *st, struct sched_task *t, int64_t now, bo_error_t *err)
{
    if (t->state == TASK_THROTTLED && now >= t->throttle_until_mono)
        return lifecycle_transition(st, t, TASK_PENDING, "flapping penalty served", err) < 0 ? -1 : 0;
    if (task_state_is_transient(t->state) && now - t->state_since_mono >= st->opt.transient_timeout_ms) {
        _cleanup_free_ char *m = bo_xasprintf("stuck in %s for %llds", task_state_name(t->state),
                                              (long long)(st->opt.transient_timeout_ms / 1000));
        return lifecycle_transition(st, t, TASK_LOST, m, err) < 0 ? -1 : 0;
    }
    if (awaits_agent(t) && t->agent && t->last_command_mono &&
        now - t->last_command_mono >= st->opt.command_resend_ms)
        t->agent->has_work = true; /* answer its waiting poll with the resend */
    /* Every deadline of t left is after `now` (a due resend no longer
     * counts), so this pass cannot pop t again. */
    arm_task(st, t, now);
    return 0;
}

static int agent_timer(struct sched_state *st, struct sched_agent *a, int64_t now, bo_error_t *err)
{
    if (!a->up)
        return 0; /* re-armed by lifecycle_agent_seen when it is back */
    if (now - a->last_seen_mono < st->opt.agent_timeout_ms) {
        bo_timer_arm(&st->timers, &a->timer, a->last_seen_mono + st->opt.agent_timeout_ms);
        return 0;
    }
    a->up = false;
    st->agents_up--;
    _cleanup_free_ char *m = bo_xasprintf("agent %s (%s) stopped syncing for %llds", a->hostname, a->id,
                                          (long long)(st->opt.agent_timeout_ms / 1000));
    return lifecycle_agent_lost(st, a, m, err);
}

int lifecycle_run_timers(struct sched_state *st, int64_t now_mono, bo_error_t *err)
{
    struct bo_timer *tm;
    while ((tm = bo_timer_heap_pop_due(&st->timers, now_mono))) {
        int r = tm->kind == TIMER_AGENT
                    ? agent_timer(st, (struct sched_agent *)((char *)tm - offsetof(struct sched_agent, timer)),
                                  now_mono, err)
                    : task_timer(st, (struct sched_task *)((char *)tm - offsetof(struct sched_task, timer)),
                                 now_mono, err);
        if (r < 0)
            return -1;
    }
    return 0;
}
