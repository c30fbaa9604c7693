/* lifecycle.c - task transitions and their consequences, and the timers
 * that drive them (THROTTLED release, transient timeouts, command resends,
 * silent agents). */
#include "scheduler/lifecycle.h"

#include <utlist.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/timefmt.h"

/* Why a task ended, beyond its states: a task lost with its agent did
 * nothing wrong (no flapping penalty), and its replacement goes through
 * the reschedule rate limit. */
enum { END_BY_TASK = 0, END_WITH_AGENT = 1 };

static int transition(struct sched_state *st, struct sched_task *t, enum task_state to, const char *msg,
                      int cause, bo_error_t *err);

static bool awaits_agent(const struct sched_task *t)
{
    return task_state_awaits_agent(t->state);
}

/* When a PARTITIONED task gives up on its agent (LOST, rescheduled), or
 * -1 if it waits for it for ever. */
static int64_t partition_expires(const struct sched_task *t)
{
    if (!t->config->partition_policy.reschedule)
        return -1;
    return t->state_since_mono + t->config->partition_policy.delay_secs * 1000;
}

/* The next moment something is due for t at `now`, or -1: its release from
 * THROTTLED, or its transient timeout, or earlier its command's resend if
 * one was sent and the resend is not due yet (a due resend waits for the
 * agent's next answer, which re-arms). */
static int64_t task_deadline(const struct sched_state *st, const struct sched_task *t, int64_t now)
{
    if (t->state == TASK_THROTTLED)
        return t->throttle_until_mono;
    if (t->state == TASK_PARTITIONED)
        return partition_expires(t);
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
    enum task_state from = t->state;
    t->state = to;
    state_task_state_changed(t, from);
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

/* The token bucket of reschedules after agent loss, as GCRA: one
 * reschedule per 1/rate s, bursts of one second's worth pass at once. The
 * wait (0 if none) before the next one may leave PENDING. */
static int64_t rate_limit_wait(struct sched_state *st, int64_t now)
{
    if (st->opt.reschedule_rate <= 0)
        return 0;
    double interval = 1000.0 / (double)st->opt.reschedule_rate;
    double burst = 1000.0; /* one second's worth */
    if (st->resched_tat_mono < (double)now)
        st->resched_tat_mono = (double)now;
    double wait = st->resched_tat_mono - (double)now - burst + interval;
    st->resched_tat_mono += interval;
    return wait > 0 ? (int64_t)wait + 1 : 0;
}

static int reschedule(struct sched_state *st, struct sched_task *old, enum task_state previous, int cause,
                      bo_error_t *err)
{
    struct sched_job *j = old->job;
    if (old->instance >= j->n_current || j->current[old->instance] != old)
        return 0; /* superseded (e.g. the instance was replaced) */
    struct sched_task *t = state_task_new(st, j, old->instance, old->config);
    t->ancestor_id = bo_xstrdup(old->id);
    t->failure_count = old->failure_count;
    int64_t ran = old->running_since ? bo_wall_ms() - old->running_since : 0;
    /* Ended by the scheduler or its agent (restart, drain, preemption, an
     * agent shutting down), not by itself: not flapping (Aurora's rule). */
    /* A machine that died or vanished is not the task's fault either. */
    bool interrupted = previous == TASK_RESTARTING || previous == TASK_DRAINING || previous == TASK_PREEMPTING ||
                       cause == END_WITH_AGENT;
    bool flapped = !interrupted && ran < st->opt.flap_window_ms;
    t->consecutive_flaps = flapped ? old->consecutive_flaps + 1 : 0;
    int64_t penalty =
        task_flap_penalty_ms(t->consecutive_flaps, st->opt.flap_penalty_ms, st->opt.flap_penalty_max_ms);
    int64_t limited = cause == END_WITH_AGENT ? rate_limit_wait(st, bo_mono_ms()) : 0;
    st->reschedules++;
    if (limited > 0 && penalty == 0) {
        t->throttle_until = bo_wall_ms() + limited;
        t->throttle_until_mono = bo_mono_ms() + limited;
        char held[32];
        bo_format_duration(limited, held, sizeof(held));
        _cleanup_free_ char *m = bo_xasprintf("rescheduled from %s; held for %s by the reschedule rate limit "
                                              "(--reschedule-rate %lld/s)",
                                              old->id, held, (long long)st->opt.reschedule_rate);
        set_state(st, t, TASK_THROTTLED, m);
    } else if (penalty > 0) {
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
    return transition(st, t, to, msg, END_BY_TASK, err);
}

static int transition(struct sched_state *st, struct sched_task *t, enum task_state to, const char *msg,
                      int cause, bo_error_t *err)
{
    if (!task_state_can_transition(t->state, to))
        return 0;
    enum task_state from = t->state;
    if (to == TASK_FAILED)
        t->failure_count++;
    set_state(st, t, to, msg);
    if (state_save_task(st, t, err) < 0)
        return -1;
    /* The job's update watches its instances: let it look at once. */
    if (t->job->update)
        bo_timer_arm(&st->timers, &t->job->update_timer, bo_mono_ms());
    if (task_state_is_terminal(to)) {
        struct reschedule_input in = {
            .service = t->config->service,
            .max_task_failures = t->config->max_task_failures,
            .failure_count = t->failure_count,
            .terminal = to,
            .previous = from,
            .kill_requested = t->kill_requested,
        };
        if (task_should_reschedule(&in) && reschedule(st, t, from, cause, err) < 0)
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
        struct sched_task *t = state_task_new(st, j, i, j->config);
        set_state(st, t, TASK_PENDING, NULL);
        if (state_save_task(st, t, err) < 0)
            return -1;
    }
    *ret = j;
    return 0;
}

int lifecycle_add_instance(struct sched_state *st, struct sched_job *j, int32_t instance, struct job_config *c,
                           const char *prefer_agent, const char *msg, struct sched_task **ret, bo_error_t *err)
{
    state_job_reserve_instances(j, instance + 1);
    struct sched_task *t = state_task_new(st, j, instance, c);
    t->prefer_agent = prefer_agent ? bo_xstrdup(prefer_agent) : NULL;
    set_state(st, t, TASK_PENDING, msg);
    if (state_save_task(st, t, err) < 0 || state_job_refresh(st, j, err) < 0)
        return -1;
    *ret = t;
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
        state_agent_has_work(st, t->agent);
    return 1;
}

static bool partitions(const struct sched_task *t)
{
    const struct job_config *c = t->config;
    return (!c->partition_policy.reschedule || c->partition_policy.delay_secs > 0) && !t->kill_requested &&
           (t->state == TASK_STARTING || t->state == TASK_RUNNING);
}

int lifecycle_agent_lost(struct sched_state *st, struct sched_agent *a, const char *why, bo_error_t *err)
{
    struct sched_task *t, *tmp;
    DL_FOREACH_SAFE2(a->tasks, t, tmp, a_next)
    {
        if (t->state == TASK_PARTITIONED)
            continue; /* already waiting for this agent */
        enum task_state to = partitions(t) ? TASK_PARTITIONED : TASK_LOST;
        if (transition(st, t, to, why, END_WITH_AGENT, err) < 0)
            return -1;
    }
    return 0;
}

int lifecycle_task_lost_with_agent(struct sched_state *st, struct sched_task *t, const char *why, bo_error_t *err)
{
    return transition(st, t, TASK_LOST, why, END_WITH_AGENT, err);
}

void lifecycle_agent_set_state(struct sched_state *st, struct sched_agent *a, enum agent_state to,
                               const char *why)
{
    if (a->state == to && a->up == (to == AGENT_UP))
        return;
    log_info("agent %s (%s): %s -> %s: %s", a->hostname, a->id, agent_state_name((enum agent_state)a->state),
             agent_state_name(to), why);
    if (a->up)
        st->agents_up--;
    a->state = (uint8_t)to;
    a->up = to == AGENT_UP;
    if (a->up) {
        st->agents_up++;
        st->placement_due = true;
    }
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

void lifecycle_agent_seen_at(struct sched_agent *a, int64_t mono)
{
    if (mono > a->last_seen_mono)
        a->last_seen_mono = mono;
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
    if (t->state == TASK_PARTITIONED && partition_expires(t) >= 0 && now >= partition_expires(t)) {
        _cleanup_free_ char *m = bo_xasprintf("partitioned from its agent for %llds (partition_policy.delay_secs)",
                                              (long long)t->config->partition_policy.delay_secs);
        return transition(st, t, TASK_LOST, m, END_WITH_AGENT, err) < 0 ? -1 : 0;
    }
    if (task_state_is_transient(t->state) && now - t->state_since_mono >= st->opt.transient_timeout_ms) {
        _cleanup_free_ char *m = bo_xasprintf("stuck in %s for %llds", task_state_name(t->state),
                                              (long long)(st->opt.transient_timeout_ms / 1000));
        return lifecycle_transition(st, t, TASK_LOST, m, err) < 0 ? -1 : 0;
    }
    if (awaits_agent(t) && t->agent && t->last_command_mono &&
        now - t->last_command_mono >= st->opt.command_resend_ms)
        state_agent_has_work(st, t->agent); /* answer its waiting poll with the resend */
    /* Every deadline of t left is after `now` (a due resend no longer
     * counts), so this pass cannot pop t again. */
    arm_task(st, t, now);
    return 0;
}

/* 1 if a was marked lost, 0 if not (still heard, or not up), -1 on error. */
static int agent_timer(struct sched_state *st, struct sched_agent *a, int64_t now, bo_error_t *err)
{
    if (a->state != AGENT_UP && a->state != AGENT_UNKNOWN)
        return 0; /* re-armed by lifecycle_agent_seen when it is back */
    /* Silence is measured up to the last moment the loop listened, so a
     * loop that was busy (a huge create, a long placement pass) does not
     * count its own deafness against the agents. A parked poll is the
     * agent waiting on us: contact. */
    int64_t heard = st->heard_until_mono && st->heard_until_mono < now ? st->heard_until_mono : now;
    if (st->agent_waiting && st->agent_waiting(a))
        a->last_seen_mono = heard;
    if (heard - a->last_seen_mono < st->opt.agent_timeout_ms) {
        int64_t at = a->last_seen_mono + st->opt.agent_timeout_ms;
        /* Not heard up to its deadline yet (requests still waited to be
         * read): look again shortly. */
        bo_timer_arm(&st->timers, &a->timer, at > now ? at : now + st->opt.agent_heartbeat_ms / 10 + 1);
        return 0;
    }
    char silent[32];
    bo_format_duration(heard - a->last_seen_mono, silent, sizeof(silent));
    _cleanup_free_ char *m = a->state == AGENT_UNKNOWN
                                 ? bo_xasprintf("agent %s (%s) did not sync within %s of the scheduler's start",
                                                a->hostname, a->id, silent)
                                 : bo_xasprintf("agent %s (%s) stopped syncing for %s", a->hostname, a->id, silent);
    lifecycle_agent_set_state(st, a, AGENT_LOST, m);
    if (lifecycle_agent_lost(st, a, m, err) < 0)
        return -1;
    return lifecycle_maintenance_progress(st, a, err) < 0 ? -1 : 1;
}

static int drain_step(struct sched_state *st, struct sched_agent *a, int64_t now, bo_error_t *err);

int lifecycle_run_timers(struct sched_state *st, int64_t now_mono, bo_error_t *err)
{
    struct bo_timer *tm;
    int lost = 0;
    while ((tm = bo_timer_heap_pop_due(&st->timers, now_mono))) {
        if (tm->kind == TIMER_AGENT && lost >= LIFECYCLE_LOST_PER_PASS) {
            /* Enough for one pass: the loop serves requests (maybe this
             * agent's own sync) before the next pass looks again. */
            bo_timer_arm(&st->timers, tm, now_mono);
            break;
        }
        int r = tm->kind == TIMER_AGENT
                    ? agent_timer(st, (struct sched_agent *)((char *)tm - offsetof(struct sched_agent, timer)),
                                  now_mono, err)
                : tm->kind == TIMER_DRAIN
                    ? drain_step(st, (struct sched_agent *)((char *)tm - offsetof(struct sched_agent, drain_timer)),
                                 now_mono, err)
                : tm->kind == TIMER_UPDATE
                    ? (st->update_step ? st->update_step(st,
                                                         (struct sched_job *)((char *)tm -
                                                                              offsetof(struct sched_job, update_timer)),
                                                         now_mono, err)
                                       : 0)
                    : task_timer(st, (struct sched_task *)((char *)tm - offsetof(struct sched_task, timer)),
                                 now_mono, err);
        if (r < 0)
            return -1;
        if (tm->kind == TIMER_AGENT)
            lost += r;
    }
    return 0;
}

int lifecycle_maintenance_progress(struct sched_state *st, struct sched_agent *a, bo_error_t *err)
{
    if (a->maintenance != MAINT_DRAINING || a->n_tasks > 0)
        return 0;
    a->maintenance = MAINT_DRAINED;
    log_info("host %s (%s): maintenance DRAINING -> DRAINED: every task moved off", a->hostname, a->id);
    return state_save_agent(st, a, err);
}

/* Whether taking task t down keeps its job's SLA policy: enough of its
 * other instances RUNNING. */
static bool sla_allows(const struct sched_task *t)
{
    const struct sched_job *j = t->job;
    int64_t need = j->config->sla_policy.count;
    int64_t pct = (j->config->sla_policy.percentage * j->n_current + 99) / 100;
    if (pct > need)
        need = pct;
    if (need == 0)
        return true;
    int64_t running = 0;
    for (int64_t i = 0; i < j->n_current; i++)
        running += j->current[i] && j->current[i]->state == TASK_RUNNING;
    return running - 1 >= need;
}

/* One step of a drain: every task of the host whose job's SLA policy
 * allows it (or every task, once --drain-timeout has passed) goes to
 * DRAINING; the agent is told to kill it, and its end is an interruption
 * (rescheduled elsewhere, no flapping penalty, no failure counted). While
 * some wait for their job, the step runs again a heartbeat later. */
static int drain_step(struct sched_state *st, struct sched_agent *a, int64_t now, bo_error_t *err)
{
    if (a->maintenance != MAINT_DRAINING)
        return 0;
    bool force = bo_wall_ms() - a->drain_started_ms >= st->opt.drain_timeout_ms;
    _cleanup_free_ char *m = bo_xasprintf("host %s is draining for maintenance%s", a->hostname,
                                          force ? " (forced after --drain-timeout)" : "");
    int waiting = 0;
    struct sched_task *t, *tmp;
    DL_FOREACH_SAFE2(a->tasks, t, tmp, a_next)
    {
        if (t->kill_requested || !task_state_can_transition(t->state, TASK_DRAINING))
            continue;
        if (!force && t->state == TASK_RUNNING && !sla_allows(t)) {
            waiting++;
            continue;
        }
        if (lifecycle_transition(st, t, TASK_DRAINING, m, err) < 0)
            return -1;
        t->last_command_mono = 0; /* the kill goes with the next answer */
        state_agent_has_work(st, a);
    }
    a->drain_timer.kind = TIMER_DRAIN;
    if (waiting)
        bo_timer_arm(&st->timers, &a->drain_timer, now + st->opt.agent_heartbeat_ms);
    else
        bo_timer_disarm(&st->timers, &a->drain_timer);
    return lifecycle_maintenance_progress(st, a, err);
}

int lifecycle_maintenance(struct sched_state *st, struct sched_agent *a, enum host_maintenance to,
                          bo_error_t *err)
{
    enum host_maintenance from = (enum host_maintenance)a->maintenance;
    /* Drain again, or deactivate a drained host: it stays as drained. */
    if (from == to || (to == MAINT_SCHEDULED && from != MAINT_NONE) || (to == MAINT_DRAINING && from == MAINT_DRAINED))
        return 0;
    a->maintenance = (uint8_t)to;
    log_info("host %s (%s): maintenance %s -> %s", a->hostname, a->id, host_maintenance_name(from),
             host_maintenance_name(to));
    if (to == MAINT_NONE)
        st->placement_due = true;
    if (to != MAINT_DRAINING)
        bo_timer_disarm(&st->timers, &a->drain_timer);
    else
        a->drain_started_ms = bo_wall_ms();
    if (state_save_agent(st, a, err) < 0)
        return -1;
    return to == MAINT_DRAINING ? drain_step(st, a, bo_mono_ms(), err) : 0;
}

void lifecycle_maintenance_recovered(struct sched_state *st)
{
    struct sched_agent *a, *tmp;
    HASH_ITER(hh, st->agents, a, tmp)
    {
        if (a->maintenance != MAINT_DRAINING)
            continue;
        a->drain_timer.kind = TIMER_DRAIN;
        bo_timer_arm(&st->timers, &a->drain_timer, bo_mono_ms());
    }
}
