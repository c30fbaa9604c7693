/* update.c - the update driver: per instance add, kill or replace (kill,
 * then add with the new config), at most batch_size instances in flight
 * (Aurora's queue strategy), each watched until it has stayed RUNNING for
 * watch_secs; too many failures fail the update, which then rolls back in
 * reverse order. It runs as a timer in the scheduler's loop: a task of the
 * job changing state arms it at once, a watch ending arms it then, so it
 * never polls. Every step saves the update in the loop's batch. */
#include "scheduler/update.h"

#include <string.h>
#include <utlist.h>

#include "base/clock.h"
#include "base/log.h"
#include "scheduler/lifecycle.h"

static const char *const status_names[UPDATE_STATUS_COUNT] = {
    "ROLLING_FORWARD", "ROLLING_BACK", "ROLL_FORWARD_PAUSED", "ROLL_BACK_PAUSED", "ROLL_FORWARD_AWAITING_PULSE",
    "ROLL_BACK_AWAITING_PULSE", "ROLLED_FORWARD", "ROLLED_BACK", "ABORTED", "ERROR", "FAILED",
};
static const char *const action_names[UPDATE_ACTION_COUNT] = {"add", "kill", "replace"};
static const char *const phase_names[PHASE_COUNT] = {"WAITING", "KILLING", "WATCHING", "SUCCEEDED", "FAILED"};

static int name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

const char *update_status_name(enum update_status s)
{
    return (unsigned)s < UPDATE_STATUS_COUNT ? status_names[s] : "INVALID";
}

int update_status_from_name(const char *s, enum update_status *ret)
{
    int i = name_index(status_names, UPDATE_STATUS_COUNT, s);
    if (i < 0)
        return -1;
    *ret = (enum update_status)i;
    return 0;
}

bool update_status_is_active(enum update_status s)
{
    return s == UPDATE_ROLLING_FORWARD || s == UPDATE_ROLLING_BACK || s == UPDATE_ROLL_FORWARD_PAUSED ||
           s == UPDATE_ROLL_BACK_PAUSED || s == UPDATE_ROLL_FORWARD_AWAITING_PULSE ||
           s == UPDATE_ROLL_BACK_AWAITING_PULSE;
}

const char *update_action_name(enum update_action a)
{
    return (unsigned)a < UPDATE_ACTION_COUNT ? action_names[a] : "invalid";
}

int update_action_from_name(const char *s, enum update_action *ret)
{
    int i = name_index(action_names, UPDATE_ACTION_COUNT, s);
    if (i < 0)
        return -1;
    *ret = (enum update_action)i;
    return 0;
}

const char *update_phase_name(enum update_phase p)
{
    return (unsigned)p < PHASE_COUNT ? phase_names[p] : "INVALID";
}

int update_phase_from_name(const char *s, enum update_phase *ret)
{
    int i = name_index(phase_names, PHASE_COUNT, s);
    if (i < 0)
        return -1;
    *ret = (enum update_phase)i;
    return 0;
}

/* ---- records -------------------------------------------------------------- */

struct sched_update *update_new(struct sched_job *j, const char *id)
{
    struct sched_update *u = bo_xcalloc(1, sizeof(*u));
    u->id = bo_xstrdup(id);
    u->job = j;
    DL_APPEND2(j->updates, u, u_prev, u_next);
    return u;
}

void update_push_event(struct sched_update *u, int32_t instance, const char *what, const char *user,
                       const char *message, int64_t ts)
{
    u->events = bo_xrealloc(u->events, (u->n_events + 1) * sizeof(*u->events));
    u->events[u->n_events++] = (struct update_event){
        ts, instance, bo_xstrdup(what), user ? bo_xstrdup(user) : NULL,
        message && *message ? bo_xstrdup(message) : NULL,
    };
    u->updated_ms = ts;
}

void update_free(struct sched_state *st, struct sched_update *u)
{
    struct sched_job *j = u->job;
    DL_DELETE2(j->updates, u, u_prev, u_next);
    if (j->update == u)
        j->update = NULL;
    job_config_unref(u->from);
    job_config_unref(u->to);
    for (size_t i = 0; i < u->n_inst; i++)
    {
        free(u->inst[i].task_id);
        free(u->inst[i].prefer_agent);
    }
    free(u->inst);
    free(u->scope);
    for (size_t i = 0; i < u->n_events; i++) {
        free(u->events[i].what);
        free(u->events[i].user);
        free(u->events[i].message);
    }
    free(u->events);
    free(u->user);
    free(u->message);
    free(u->request_id);
    free(u->id);
    free(u);
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static const char *const strategy_names[] = {"queue", "batch", "variable"};

const char *update_strategy_name(int s) { return s >= 0 && s < 3 ? strategy_names[s] : "invalid"; }

int update_strategy_from_name(const char *s, int *ret)
{
    int i = name_index(strategy_names, 3, s);
    if (i < 0)
        return -1;
    *ret = i;
    return 0;
}

void update_settings_from_config(const struct job_config *c, struct update_settings *ret)
{
    *ret = (struct update_settings){.batch_size = c->update.batch_size,
                                    .watch_secs = c->update.watch_secs,
                                    .max_per_instance_failures = c->update.max_per_instance_failures,
                                    .max_total_failures = c->update.max_total_failures,
                                    .rollback_on_failure = c->update.rollback_on_failure,
                                    .strategy = c->update.strategy};
    for (size_t i = 0; i < c->update.n_batch_sizes && i < JOB_MAX_BATCH_SIZES; i++)
        ret->batch_sizes[ret->n_batch_sizes++] = c->update.batch_sizes[i];
    ret->autopause_after_batch = c->update.autopause_after_batch;
    ret->pulse_interval_secs = c->update.pulse_interval_secs;
}

static json_t *settings_json(const struct update_settings *c)
{
    json_t *sizes = json_array();
    for (size_t i = 0; i < c->n_batch_sizes; i++)
        json_array_append_new(sizes, json_integer(c->batch_sizes[i]));
    return json_pack("{s:I, s:I, s:I, s:I, s:b, s:s, s:o, s:b, s:I}", "batch_size", (json_int_t)c->batch_size,
                     "watch_secs", (json_int_t)c->watch_secs, "max_per_instance_failures",
                     (json_int_t)c->max_per_instance_failures, "max_total_failures",
                     (json_int_t)c->max_total_failures, "rollback_on_failure", c->rollback_on_failure, "strategy",
                     update_strategy_name(c->strategy), "batch_sizes", sizes, "autopause_after_batch",
                     c->autopause_after_batch, "pulse_interval_secs", (json_int_t)c->pulse_interval_secs);
}

/* The stored record and the API's view share this shape. */
static json_t *record(const struct sched_update *u, bool with_ids)
{
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:i}", "id", u->id, "job", u->job->key, "status",
                          update_status_name(u->status), "user", u->user ? u->user : "", "created_ms",
                          (json_int_t)u->created_ms, "updated_ms", (json_int_t)u->updated_ms, "failed_instances",
                          u->failed_instances);
    json_object_set_new(r, "message", str_or_null(u->message));
    json_object_set_new(r, "request_id", str_or_null(u->request_id));
    if (u->scope) {
        json_t *scope = json_array();
        for (size_t i = 0; i < u->n_scope; i++)
            json_array_append_new(scope, json_integer(u->scope[i]));
        json_object_set_new(r, "scope", scope);
    } else {
        json_object_set_new(r, "scope", json_null());
    }
    json_object_set_new(r, "kind", json_string(u->restart ? "restart" : "update"));
    json_object_set_new(r, "settings", settings_json(&u->settings));
    json_object_set_new(r, "batches", json_integer(u->batches));
    json_object_set_new(r, "paused_after", json_integer(u->paused_after));
    json_object_set_new(r, "pulse_until_ms", json_integer(u->pulse_until_ms));
    if (with_ids) {
        int64_t from = u->from ? state_job_config_id(u->job, u->from) : -1;
        int64_t to = u->to ? state_job_config_id(u->job, u->to) : -1;
        json_object_set_new(r, "from_config_id", from >= 0 ? json_integer(from) : json_null());
        json_object_set_new(r, "to_config_id", to >= 0 ? json_integer(to) : json_null());
    }
    json_t *inst = json_array();
    for (size_t i = 0; i < u->n_inst; i++) {
        const struct update_instance *x = &u->inst[i];
        json_t *o = json_pack("{s:i, s:s, s:s, s:b, s:i}", "instance", x->instance, "action",
                              update_action_name(x->action), "phase", update_phase_name(x->phase), "touched",
                              x->touched, "failures", x->failures);
        json_object_set_new(o, "task_id", str_or_null(x->task_id));
        if (x->prefer_agent)
            json_object_set_new(o, "prefer_agent", json_string(x->prefer_agent));
        json_array_append_new(inst, o);
    }
    json_object_set_new(r, "instances", inst);
    json_t *ev = json_array();
    for (size_t i = 0; i < u->n_events; i++) {
        const struct update_event *e = &u->events[i];
        json_t *o = json_pack("{s:I, s:i, s:s}", "ts", (json_int_t)e->ts, "instance", e->instance, "what", e->what);
        json_object_set_new(o, "user", str_or_null(e->user));
        json_object_set_new(o, "message", str_or_null(e->message));
        json_array_append_new(ev, o);
    }
    json_object_set_new(r, "events", ev);
    return r;
}

int update_save(struct sched_state *st, struct sched_update *u, bo_error_t *err)
{
    json_t *r = record(u, true);
    _cleanup_free_ char *text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return store_put(st->store, "update", u->id, text, err);
}

json_t *update_to_json(const struct sched_update *u, bool details)
{
    json_t *r = record(u, false);
    json_object_del(r, "request_id");
    /* The per-instance summary people read first. */
    json_t *by_action[UPDATE_ACTION_COUNT];
    for (int a = 0; a < UPDATE_ACTION_COUNT; a++)
        by_action[a] = json_array();
    for (size_t i = 0; i < u->n_inst; i++)
        json_array_append_new(by_action[u->inst[i].action], json_integer(u->inst[i].instance));
    json_t *sum = json_object();
    for (int a = 0; a < UPDATE_ACTION_COUNT; a++)
        json_object_set_new(sum, action_names[a], by_action[a]);
    json_object_set_new(r, "summary", sum);
    if (!details) {
        json_object_del(r, "instances");
        json_object_del(r, "events");
    }
    return r;
}

int update_prune(struct sched_state *st, struct sched_job *j, bo_error_t *err)
{
    size_t n = 0;
    struct sched_update *u, *tmp;
    DL_COUNT2(j->updates, u, n, u_next);
    DL_FOREACH_SAFE2(j->updates, u, tmp, u_next)
    {
        if (n <= UPDATE_HISTORY_MAX)
            break;
        if (u == j->update)
            continue;
        if (store_delete(st->store, "update", u->id, err) < 0)
            return -1;
        update_free(st, u);
        n--;
    }
    return 0;
}

/* ---- planning ------------------------------------------------------------- */

static struct sched_task *current_task(const struct sched_job *j, int64_t i)
{
    return i < j->n_current ? j->current[i] : NULL;
}

/* An instance is there unless it has no task or its task was killed, or
 * is being killed, for good (a user's kill, or a kill by an update). */
static struct sched_task *present_task(const struct sched_job *j, int64_t i)
{
    struct sched_task *t = current_task(j, i);
    return t && !t->kill_requested ? t : NULL;
}

struct sched_task *update_present_task(const struct sched_job *j, int64_t i) { return present_task(j, i); }

bool update_same_scope(const struct sched_update *u, const struct update_scope *scope)
{
    if (!u->scope || !scope->instances)
        return !u->scope && !scope->instances;
    return u->n_scope == scope->n && memcmp(u->scope, scope->instances, scope->n * sizeof(*u->scope)) == 0;
}

static bool in_scope(const struct update_scope *scope, int64_t i, size_t *k)
{
    if (!scope || !scope->instances)
        return true;
    while (*k < scope->n && scope->instances[*k] < i)
        (*k)++;
    return *k < scope->n && scope->instances[*k] == i;
}

void update_plan(const struct sched_job *j, const struct job_config *to, const struct update_scope *scope,
                 bool restart, struct update_instance **ret, size_t *ret_n, int64_t *ret_unchanged)
{
    size_t sk = 0;
    int64_t n = j->n_current > to->instances ? j->n_current : to->instances;
    struct update_instance *v = bo_xcalloc((size_t)n + 1, sizeof(*v));
    size_t k = 0;
    int64_t unchanged = 0;
    /* Instances share a handful of configs: compare each one once. */
    const struct job_config *seen[8];
    bool seen_same[8];
    size_t n_seen = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!in_scope(scope, i, &sk))
            continue;
        struct sched_task *t = present_task(j, i);
        bool want = i < to->instances;
        int action = -1;
        if (restart) {
            if (t)
                v[k++] = (struct update_instance){.instance = (int32_t)i, .action = UPDATE_REPLACE};
            continue;
        }
        if (want && !t)
            action = UPDATE_ADD;
        else if (!want && t)
            action = UPDATE_KILL;
        else if (want && t) {
            size_t s = 0;
            while (s < n_seen && seen[s] != t->config)
                s++;
            bool same;
            if (s < n_seen)
                same = seen_same[s];
            else {
                same = job_config_same_task(t->config, to);
                if (n_seen < BO_ARRAY_SIZE(seen)) {
                    seen[n_seen] = t->config;
                    seen_same[n_seen++] = same;
                }
            }
            if (!same)
                action = UPDATE_REPLACE;
            else
                unchanged++;
        }
        if (action >= 0)
            v[k++] = (struct update_instance){.instance = (int32_t)i, .action = (uint8_t)action};
    }
    *ret = v;
    *ret_n = k;
    *ret_unchanged = unchanged;
}

/* ---- the driver ----------------------------------------------------------- */

static bool forward(const struct sched_update *u)
{
    return u->status == UPDATE_ROLLING_FORWARD || u->status == UPDATE_ROLL_FORWARD_PAUSED ||
           u->status == UPDATE_ROLL_FORWARD_AWAITING_PULSE;
}

/* The config instance x should end up running in the current direction,
 * or NULL when it should end up without a task. */
static struct job_config *target(const struct sched_update *u, const struct update_instance *x)
{
    if (u->restart) /* each instance comes back with the config it had */
        return u->job->current[x->instance] ? u->job->current[x->instance]->config : NULL;
    if (forward(u))
        return x->action == UPDATE_KILL ? NULL : u->to;
    return x->action == UPDATE_ADD ? NULL : u->from;
}

/* Whether task t has done what an updated instance must: stayed RUNNING
 * for watch_secs. The one place that decides it. A task with a health
 * check is RUNNING only once healthy (STARTING until then), and one that
 * turns unhealthy is killed and ends FAILED, so "RUNNING this long" is
 * "healthy this long" (Aurora's rule). Otherwise *ret_wait_ms is how long
 * until it may be (-1: not RUNNING, a state change will say). */
static bool instance_settled(const struct sched_task *t, int64_t watch_ms, int64_t now_wall, int64_t *ret_wait_ms)
{
    *ret_wait_ms = -1;
    if (t->state != TASK_RUNNING || !t->running_since)
        return false;
    int64_t left = t->running_since + watch_ms - now_wall;
    if (left <= 0)
        return true;
    *ret_wait_ms = left;
    return false;
}

static void set_status(struct sched_update *u, enum update_status s, const char *user, const char *message)
{
    u->status = (uint8_t)s;
    update_push_event(u, -1, update_status_name(s), user, message, bo_wall_ms());
    log_info("job %s: update %s %s%s%s", u->job->key, u->id, update_status_name(s), message ? ": " : "",
             message ? message : "");
}

static void instance_event(struct sched_update *u, const struct update_instance *x, const char *what,
                           const char *message)
{
    update_push_event(u, x->instance, what, NULL, message, bo_wall_ms());
}

static int add_task(struct sched_state *st, struct sched_update *u, struct update_instance *x,
                    struct job_config *c, bo_error_t *err)
{
    struct sched_task *t, *prev = current_task(u->job, x->instance);
    _cleanup_free_ char *msg = bo_xasprintf("%s by %s %s", !forward(u) ? "rolled back" : prev ? "replaced" : "added",
                                            u->restart ? "restart" : "update", u->id);
    /* Affinity: the machine of the task it replaces (kept in the update's
     * record, so a scheduler restart before the new task is placed keeps
     * it: update_recovered). */
    if (prev && prev->agent_id) {
        free(x->prefer_agent);
        x->prefer_agent = bo_xstrdup(prev->agent_id);
    }
    if (lifecycle_add_instance(st, u->job, x->instance, c, prev ? x->prefer_agent : NULL, msg, &t, err) < 0)
        return -1;
    free(x->task_id);
    x->task_id = bo_xstrdup(t->id);
    x->phase = PHASE_WATCHING;
    return 0;
}

static void instance_done(struct sched_update *u, struct update_instance *x)
{
    x->phase = PHASE_SUCCEEDED;
    free(x->task_id);
    x->task_id = NULL;
    instance_event(u, x, forward(u) ? "INSTANCE_UPDATED" : "INSTANCE_ROLLED_BACK", NULL);
}

/* Move instance x one step towards its target. *ret_wait_ms: when to look
 * again if only time will tell (-1: a task's state change will). */
static int drive(struct sched_state *st, struct sched_update *u, struct update_instance *x, int64_t *ret_wait_ms,
                 bo_error_t *err)
{
    struct sched_job *j = u->job;
    struct job_config *want = target(u, x);
    const struct update_settings *s = &u->settings;
    *ret_wait_ms = -1;
    if (x->phase == PHASE_WAITING) {
        struct sched_task *cur = current_task(j, x->instance), *t = present_task(j, x->instance);
        if (cur && cur->kill_requested && task_state_is_active(cur->state)) {
            x->phase = PHASE_KILLING; /* on its way out (a rollback of a replace in flight) */
        } else if (t && (u->restart || !want || t->config != want)) {
            x->phase = PHASE_KILLING;
            if (lifecycle_kill(st, t, err) < 0)
                return -1;
        } else if (!t && want) {
            return add_task(st, u, x, want, err);
        } else if (t) {
            /* Already runs the target (a rollback before its kill): watch it. */
            x->phase = PHASE_WATCHING;
            free(x->task_id);
            x->task_id = bo_xstrdup(t->id);
        } else {
            instance_done(u, x);
            return 0;
        }
    }
    if (x->phase == PHASE_KILLING) {
        struct sched_task *t = current_task(j, x->instance);
        if (t && !task_state_is_terminal(t->state))
            return 0; /* its end arms the timer */
        if (!want) {
            instance_done(u, x);
            return 0;
        }
        return add_task(st, u, x, want, err);
    }
    if (x->phase != PHASE_WATCHING)
        return 0;
    struct sched_task *t = current_task(j, x->instance);
    bool same = t && x->task_id && strcmp(t->id, x->task_id) == 0;
    if (same && task_state_is_active(t->state)) {
        if (instance_settled(t, s->watch_secs * 1000, bo_wall_ms(), ret_wait_ms))
            instance_done(u, x);
        return 0;
    }
    /* The watched task ended (or was replaced by its reschedule). */
    x->failures++;
    const struct sched_task *w = x->task_id ? state_task_find(st, x->task_id) : NULL;
    _cleanup_free_ char *why = bo_xasprintf("task %s ended %s%s%s (failure %d of the instance)",
                                            x->task_id ? x->task_id : "?", w ? task_state_name(w->state) : "",
                                            w && w->message ? ": " : "", w && w->message ? w->message : "",
                                            x->failures);
    if (x->failures > s->max_per_instance_failures) {
        x->phase = PHASE_FAILED;
        u->failed_instances++;
        instance_event(u, x, forward(u) ? "INSTANCE_UPDATE_FAILED" : "INSTANCE_ROLLBACK_FAILED", why);
        return 0;
    }
    instance_event(u, x, "INSTANCE_FAILURE", why);
    if (t && task_state_is_active(t->state)) { /* its reschedule: watch that one */
        free(x->task_id);
        x->task_id = bo_xstrdup(t->id);
        return 0;
    }
    return add_task(st, u, x, want, err);
}

/* Remove the instance slots at the end that no task holds any more (an
 * update that removed instances), with the ended tasks of those slots. */
static int trim_instances(struct sched_state *st, struct sched_job *j, bo_error_t *err)
{
    int64_t n = j->n_current;
    while (n > j->config->instances && !present_task(j, n - 1))
        n--;
    if (n == j->n_current)
        return 0;
    struct sched_task *t, *tmp;
    DL_FOREACH_SAFE2(j->tasks, t, tmp, j_next)
    {
        if (t->instance < n)
            continue;
        if (store_delete(st->store, "task", t->id, err) < 0)
            return -1;
        state_task_delete(st, t);
    }
    j->n_current = n;
    return 0;
}

/* The update left the active states: the job is on its own again. */
static int finish(struct sched_state *st, struct sched_update *u, bo_error_t *err)
{
    struct sched_job *j = u->job;
    j->update = NULL;
    bo_timer_disarm(&st->timers, &j->update_timer);
    if (trim_instances(st, j, err) < 0)
        return -1;
    state_job_drop_unused_configs(j);
    if (update_save(st, u, err) < 0 || state_job_refresh(st, j, err) < 0 || state_save_job(st, j, err) < 0)
        return -1;
    return update_prune(st, j, err);
}

static void begin_rollback(struct sched_update *u, const char *user, const char *message)
{
    for (size_t i = 0; i < u->n_inst; i++) {
        struct update_instance *x = &u->inst[i];
        x->phase = x->touched ? PHASE_WAITING : PHASE_SUCCEEDED;
        x->failures = 0;
        free(x->task_id);
        x->task_id = NULL;
    }
    u->failed_instances = 0;
    u->batches = u->paused_after = 0;
    state_job_set_config(u->job, u->from);
    set_status(u, UPDATE_ROLLING_BACK, user, message);
}

/* How many instances the next batch (or the queue) may hold. */
static int64_t batch_limit(const struct sched_update *u)
{
    const struct update_settings *s = &u->settings;
    if (s->strategy != UPDATE_STRATEGY_VARIABLE || s->n_batch_sizes == 0)
        return s->batch_size;
    size_t k = (size_t)u->batches < s->n_batch_sizes ? (size_t)u->batches : s->n_batch_sizes - 1;
    return s->batch_sizes[k];
}

static struct update_instance *nth(struct sched_update *u, size_t k)
{
    return &u->inst[forward(u) ? k : u->n_inst - 1 - k];
}

static bool ended(const struct update_instance *x)
{
    return x->phase == PHASE_SUCCEEDED || x->phase == PHASE_FAILED;
}

/* Start instance x in the current direction. */
static int begin_instance(struct sched_state *st, struct sched_update *u, struct update_instance *x, int64_t *wait,
                          bo_error_t *err)
{
    bool fwd = forward(u);
    if (fwd)
        x->touched = true;
    instance_event(u, x, fwd ? "INSTANCE_UPDATING" : "INSTANCE_ROLLING_BACK", update_action_name(x->action));
    int64_t w;
    if (drive(st, u, x, &w, err) < 0)
        return -1;
    if (w >= 0 && (*wait < 0 || w < *wait))
        *wait = w;
    return 0;
}

int update_step(struct sched_state *st, struct sched_job *j, int64_t now_mono, bo_error_t *err)
{
    struct sched_update *u = j->update;
    if (!u || (u->status != UPDATE_ROLLING_FORWARD && u->status != UPDATE_ROLLING_BACK))
        return 0;
    const struct update_settings *s = &u->settings;
    bool fwd = forward(u);
    /* With pulses, nothing moves unless one came recently enough. */
    if (s->pulse_interval_secs > 0 && bo_wall_ms() >= u->pulse_until_ms) {
        set_status(u, fwd ? UPDATE_ROLL_FORWARD_AWAITING_PULSE : UPDATE_ROLL_BACK_AWAITING_PULSE, NULL,
                   "no pulse within pulse_interval_secs");
        return update_save(st, u, err);
    }
    int64_t in_flight = 0, wait = -1;
    /* First what is in flight, in order; an instance done frees its slot. */
    for (size_t k = 0; k < u->n_inst; k++) {
        struct update_instance *x = nth(u, k);
        if (x->phase != PHASE_KILLING && x->phase != PHASE_WATCHING)
            continue;
        int64_t w;
        if (drive(st, u, x, &w, err) < 0)
            return -1;
        if (!ended(x))
            in_flight++;
        if (w >= 0 && (wait < 0 || w < wait))
            wait = w;
    }
    bool failed = u->failed_instances > s->max_total_failures;
    size_t waiting = 0;
    for (size_t i = 0; i < u->n_inst; i++)
        waiting += u->inst[i].phase == PHASE_WAITING;
    /* Then new ones: the queue refills as slots free up; a batch starts
     * once the one before is done (pausing first with autopause). Nothing
     * new starts once the update has failed. */
    bool queue = s->strategy == UPDATE_STRATEGY_QUEUE;
    if (!failed && waiting && (queue || in_flight == 0)) {
        if (!queue && s->autopause_after_batch && u->batches > 0 && u->paused_after < u->batches) {
            u->paused_after = u->batches;
            _cleanup_free_ char *m = bo_xasprintf("autopause after batch %d", u->batches);
            set_status(u, fwd ? UPDATE_ROLL_FORWARD_PAUSED : UPDATE_ROLL_BACK_PAUSED, NULL, m);
            bo_timer_disarm(&st->timers, &j->update_timer);
            return update_save(st, u, err);
        }
        int64_t limit = batch_limit(u), started = 0;
        for (size_t k = 0; k < u->n_inst && in_flight < limit; k++) {
            struct update_instance *x = nth(u, k);
            if (x->phase != PHASE_WAITING)
                continue;
            if (begin_instance(st, u, x, &wait, err) < 0)
                return -1;
            started++;
            if (!ended(x))
                in_flight++;
            else if (!queue)
                limit--; /* done at once (nothing to kill or add): still counts in its batch */
        }
        if (!queue && started)
            u->batches++;
        failed = u->failed_instances > s->max_total_failures;
    }
    if (failed) {
        _cleanup_free_ char *m = bo_xasprintf("%d instance%s failed (max_total_failures %lld)", u->failed_instances,
                                              u->failed_instances == 1 ? "" : "s", (long long)s->max_total_failures);
        if (fwd && s->rollback_on_failure && !u->restart) {
            begin_rollback(u, NULL, m);
            bo_timer_arm(&st->timers, &j->update_timer, now_mono);
            return update_save(st, u, err) < 0 || state_save_job(st, j, err) < 0 ? -1 : 0;
        }
        set_status(u, UPDATE_FAILED, NULL, m);
        return finish(st, u, err);
    }
    bool all_done = true;
    for (size_t i = 0; i < u->n_inst; i++)
        all_done = all_done && ended(&u->inst[i]);
    if (all_done) {
        set_status(u, fwd ? UPDATE_ROLLED_FORWARD : UPDATE_ROLLED_BACK, NULL, NULL);
        return finish(st, u, err);
    }
    /* A step of a batch that ended at once (nothing to wait for) goes on
     * with the next batch now. */
    if (in_flight == 0 && !queue)
        wait = 0;
    if (s->pulse_interval_secs > 0) {
        int64_t left = u->pulse_until_ms - bo_wall_ms();
        if (wait < 0 || left < wait)
            wait = left > 0 ? left : 0;
    }
    if (wait >= 0)
        bo_timer_arm(&st->timers, &j->update_timer, now_mono + wait);
    return update_save(st, u, err);
}

void update_recovered(struct sched_state *st)
{
    struct sched_job *j, *tmp;
    HASH_ITER(hh, st->jobs, j, tmp)
    {
        j->update_timer.kind = TIMER_UPDATE;
        if (!j->update)
            continue;
        bo_timer_arm(&st->timers, &j->update_timer, bo_mono_ms());
        /* A task the update added that is not placed yet still prefers
         * the machine of the one it replaced. */
        for (size_t i = 0; i < j->update->n_inst; i++) {
            struct update_instance *x = &j->update->inst[i];
            struct sched_task *t = x->task_id ? state_task_find(st, x->task_id) : NULL;
            if (t && x->prefer_agent && !t->prefer_agent && !t->agent_id)
                t->prefer_agent = bo_xstrdup(x->prefer_agent);
        }
    }
}

/* ---- starting and commands ------------------------------------------------- */

static char *new_update_id(int64_t now)
{
    /* Zero-padded time first: the store loads rows in id order, which is
     * then the order of the job's history. */
    char uuid[37];
    bo_uuid4(uuid);
    return bo_xasprintf("u%013lld-%.8s", (long long)now, uuid);
}

int update_start(struct sched_state *st, struct sched_job *j, const struct update_start_opts *o,
                 struct sched_update **ret, bo_error_t *err)
{
    if (j->update)
        return bo_error_set(err, BO_E_EXISTS, "job %s already has an active update %s (%s, started by %s): "
                            "pause, resume, abort or wait for it first",
                            j->key, j->update->id, update_status_name(j->update->status), j->update->user);
    bool restart = !o->to;
    struct job_config *to = restart ? j->config : o->to;
    struct update_instance *plan;
    size_t n;
    int64_t unchanged;
    update_plan(j, to, &o->scope, restart, &plan, &n, &unchanged);
    if (n == 0) {
        free(plan);
        return bo_error_set(err, BO_E_INVALID, restart ? "job %s has no live instance to restart" : "job %s is unchanged",
                            j->key);
    }
    int64_t now = bo_wall_ms();
    _cleanup_free_ char *id = new_update_id(now);
    struct sched_update *u = update_new(j, id);
    bool added;
    u->to = job_config_ref(state_job_intern_config(j, to, &added));
    u->from = job_config_ref(j->config);
    u->restart = restart;
    if (o->settings)
        u->settings = *o->settings;
    else
        update_settings_from_config(to, &u->settings);
    u->user = bo_xstrdup(o->user ? o->user : "");
    u->message = o->message && *o->message ? bo_xstrdup(o->message) : NULL;
    u->request_id = o->request_id && *o->request_id ? bo_xstrdup(o->request_id) : NULL;
    if (o->scope.instances) {
        u->scope = bo_xcalloc(o->scope.n + 1, sizeof(*u->scope));
        memcpy(u->scope, o->scope.instances, o->scope.n * sizeof(*u->scope));
        u->n_scope = o->scope.n;
    }
    u->created_ms = now;
    u->inst = plan;
    u->n_inst = n;
    j->update = u;
    state_job_set_config(j, u->to);
    state_job_reserve_instances(j, to->instances);
    /* Instances that stay as they are run the new config from now on (it
     * differs from theirs only in instances or update settings). */
    for (int64_t i = 0; !restart && i < to->instances; i++) {
        struct sched_task *t = present_task(j, i);
        if (!t || t->config == u->to || !job_config_same_task(t->config, u->to))
            continue;
        bool changes = false;
        for (size_t k = 0; k < n && !changes; k++)
            changes = plan[k].instance == i;
        if (changes)
            continue;
        job_config_unref(t->config);
        t->config = job_config_ref(u->to);
        if (state_save_task(st, t, err) < 0)
            return -1;
    }
    /* With pulses it waits for the first one (Aurora's). */
    u->status = u->settings.pulse_interval_secs > 0 ? UPDATE_ROLL_FORWARD_AWAITING_PULSE : UPDATE_ROLLING_FORWARD;
    update_push_event(u, -1, update_status_name((enum update_status)u->status), u->user, u->message, now);
    log_info("job %s: %s %s started by %s (%zu instance%s to change, %lld unchanged)", j->key,
             restart ? "restart" : "update", u->id, u->user, n, n == 1 ? "" : "s", (long long)unchanged);
    bo_timer_arm(&st->timers, &j->update_timer, bo_mono_ms());
    if (update_save(st, u, err) < 0 || state_job_refresh(st, j, err) < 0 || state_save_job(st, j, err) < 0 ||
        update_prune(st, j, err) < 0)
        return -1;
    *ret = u;
    return 0;
}

int update_command(struct sched_state *st, struct sched_update *u, enum update_command cmd, const char *user,
                   const char *message, bo_error_t *err)
{
    struct sched_job *j = u->job;
    enum update_status s = (enum update_status)u->status, to = UPDATE_STATUS_COUNT;
    static const char *const verbs[] = {"paused", "resumed", "aborted", "rolled back", "pulsed"};
    bool fwd = forward(u);
    switch (cmd) {
    case UPDATE_CMD_PAUSE:
        if (s == UPDATE_ROLLING_FORWARD || s == UPDATE_ROLLING_BACK || s == UPDATE_ROLL_FORWARD_AWAITING_PULSE ||
            s == UPDATE_ROLL_BACK_AWAITING_PULSE)
            to = fwd ? UPDATE_ROLL_FORWARD_PAUSED : UPDATE_ROLL_BACK_PAUSED;
        break;
    case UPDATE_CMD_RESUME:
        if (s == UPDATE_ROLL_FORWARD_PAUSED || s == UPDATE_ROLL_BACK_PAUSED)
            to = fwd ? UPDATE_ROLLING_FORWARD : UPDATE_ROLLING_BACK;
        break;
    case UPDATE_CMD_ABORT:
        if (update_status_is_active(s))
            to = UPDATE_ABORTED;
        break;
    case UPDATE_CMD_ROLLBACK:
        if (u->restart) /* every instance already runs the config it had */
            return bo_error_set(err, BO_E_INVALID, "%s of job %s is a restart: there is nothing to roll back (abort "
                                "it to stop it)", u->id, j->key);
        if (fwd)
            to = UPDATE_ROLLING_BACK;
        break;
    case UPDATE_CMD_PULSE:
        if (u->settings.pulse_interval_secs == 0)
            return bo_error_set(err, BO_E_INVALID, "update %s of job %s takes no pulses (its pulse_interval_secs is "
                                "0)", u->id, j->key);
        /* A pulse keeps it going for one more interval; a paused update
         * stays paused. */
        u->pulse_until_ms = bo_wall_ms() + u->settings.pulse_interval_secs * 1000;
        u->updated_ms = bo_wall_ms();
        to = s == UPDATE_ROLL_FORWARD_AWAITING_PULSE ? UPDATE_ROLLING_FORWARD
             : s == UPDATE_ROLL_BACK_AWAITING_PULSE  ? UPDATE_ROLLING_BACK
                                                     : s;
        break;
    }
    if (to == UPDATE_STATUS_COUNT)
        return bo_error_set(err, BO_E_INVALID, "update %s of job %s is %s: it cannot be %s", u->id, j->key,
                            update_status_name(s), verbs[cmd]);
    if (to == UPDATE_ROLLING_BACK && fwd)
        begin_rollback(u, user, message);
    else if (to != s)
        set_status(u, to, user, message);
    if (to == UPDATE_ABORTED)
        return finish(st, u, err);
    if (to == UPDATE_ROLLING_FORWARD || to == UPDATE_ROLLING_BACK)
        bo_timer_arm(&st->timers, &j->update_timer, bo_mono_ms());
    else
        bo_timer_disarm(&st->timers, &j->update_timer);
    return update_save(st, u, err) < 0 || state_save_job(st, j, err) < 0 ? -1 : 0;
}
