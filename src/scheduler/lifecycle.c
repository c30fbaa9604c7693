/* lifecycle.c - task transitions and their consequences. */
#include "scheduler/lifecycle.h"

#include <utlist.h>

#include "base/clock.h"

/* Which queue a task in state s belongs on. */
static int queue_for(enum task_state s)
{
    if (s == TASK_PENDING)
        return QUEUE_PENDING;
    if (s == TASK_THROTTLED || task_state_is_transient(s))
        return QUEUE_TIMED;
    return QUEUE_NONE;
}

static void set_state(struct sched_state *st, struct sched_task *t, enum task_state to, const char *msg)
{
    st->count_by_state[t->state]--;
    st->count_by_state[to]++;
    t->state = to;
    t->state_since_mono = bo_mono_ms();
    if (to != TASK_PENDING) {
        free(t->pending_reason);
        t->pending_reason = NULL;
    } else {
        t->pending_since_mono = t->state_since_mono;
    }
    if (to == TASK_RUNNING && !t->running_since)
        t->running_since = bo_wall_ms();
    if (msg)
        state_task_set_message(t, msg);
    state_task_push_event(t, to, msg);
    state_queue_set(st, t, queue_for(to));
    if (task_state_is_terminal(to))
        state_task_unbind_agent(st, t);
}

static int reschedule(struct sched_state *st, struct sched_task *old, bo_error_t *err)
{
    struct sched_job *j = old->job;
    if (old->instance >= j->n_current || j->current[old->instance] != old)
        return 0; /* superseded (e.g. the instance was replaced) */
    struct sched_task *t = state_task_new(st, j, old->instance);
    t->ancestor_id = bo_xstrdup(old->id);
    t->failure_count = old->failure_count;
    int64_t ran = old->running_since ? bo_wall_ms() - old->running_since : 0;
    bool flapped = ran < st->opt.flap_window_ms;
    t->consecutive_flaps = flapped ? old->consecutive_flaps + 1 : 0;
    int64_t penalty =
        task_flap_penalty_ms(t->consecutive_flaps, st->opt.flap_penalty_ms, st->opt.flap_penalty_max_ms);
    st->reschedules++;
    if (penalty > 0) {
        t->throttle_until = bo_wall_ms() + penalty;
        _cleanup_free_ char *m = bo_xasprintf("rescheduled from %s; flapping, held %llds", old->id,
                                              (long long)(penalty / 1000));
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
        if (task_should_reschedule(&in) && reschedule(st, t, err) < 0)
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
        if (old->state == JOB_ACTIVE)
            return bo_error_set(err, BO_E_EXISTS, "job `%s` already exists (created %lld, %lld instances)",
                                key, (long long)old->created_ms, (long long)old->n_current);
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

int lifecycle_tick(struct sched_state *st, int64_t now_mono, int64_t now_wall, bo_error_t *err)
{
    struct sched_task *t, *tmp;
    DL_FOREACH_SAFE2(st->timed, t, tmp, q_next)
    {
        if (t->state == TASK_THROTTLED) {
            if (t->throttle_until <= now_wall &&
                lifecycle_transition(st, t, TASK_PENDING, "flapping penalty served", err) < 0)
                return -1;
        } else if (now_mono - t->state_since_mono >= st->opt.transient_timeout_ms) {
            _cleanup_free_ char *m = bo_xasprintf("stuck in %s for %llds", task_state_name(t->state),
                                                  (long long)(st->opt.transient_timeout_ms / 1000));
            if (lifecycle_transition(st, t, TASK_LOST, m, err) < 0)
                return -1;
        }
    }
    struct sched_agent *a, *atmp;
    HASH_ITER(hh, st->agents, a, atmp)
    {
        if (!a->up || now_mono - a->last_seen_mono < st->opt.agent_timeout_ms)
            continue;
        a->up = false;
        st->agents_up--;
        _cleanup_free_ char *m = bo_xasprintf("agent %s (%s) stopped syncing for %llds", a->hostname, a->id,
                                              (long long)(st->opt.agent_timeout_ms / 1000));
        if (lifecycle_agent_lost(st, a, m, err) < 0)
            return -1;
    }
    return 0;
}
