/* state.c - in-memory cluster state, its indexes, persistence records and
 * JSON views. Lifecycle decisions live in lifecycle.c; this file only keeps
 * the structures consistent (resources, ports, queues, counters). */
#include "scheduler/state.h"

#include <string.h>
#include <utlist.h>

#include "base/clock.h"
#include "base/strbuf.h"
#include "model/task_id.h"
#include "net/http_server.h"
#include "scheduler/update.h"

const int64_t placement_latency_bounds_ms[8] = {1, 5, 10, 50, 100, 500, 1000, 5000};

const char *job_state_name(enum job_state s)
{
    static const char *names[] = {"active", "finished", "killed", "failed"};
    return names[s];
}

int job_state_from_name(const char *s, enum job_state *ret)
{
    for (int i = JOB_ACTIVE; i <= JOB_FAILED; i++)
        if (strcmp(job_state_name((enum job_state)i), s) == 0) {
            *ret = (enum job_state)i;
            return 0;
        }
    return -1;
}

static int flush_dirty(void *ctx, bo_error_t *err);
static void drop_dirty(void *ctx);

void state_init(struct sched_state *st, const struct sched_options *opt, struct store *store)
{
    memset(st, 0, sizeof(*st));
    st->opt = *opt;
    st->store = store;
    if (store)
        store_set_hooks(store, &(struct store_hooks){.before_commit = flush_dirty, .on_rollback = drop_dirty, .ctx = st});
}

void state_fatal(struct sched_state *st, const char *what, const char *msg)
{
    if (!st->fatal)
        st->fatal = bo_xasprintf("%s: %s", what, msg);
    /* Memory may be ahead of the store now: whatever runs before the loop
     * stops (timers, placement, other requests) must not commit it. */
    if (st->store)
        store_refuse_writes(st->store, st->fatal);
}

bool state_error_is_clean(const struct bo_error_s *e)
{
    return e->kind == BO_E_INVALID || e->kind == BO_E_EXISTS || e->kind == BO_E_NOTFOUND ||
           e->kind == BO_E_REFUSED;
}

struct sched_job *state_job_find(struct sched_state *st, const char *key)
{
    struct sched_job *j;
    HASH_FIND_STR(st->jobs, key, j);
    return j;
}

struct sched_task *state_task_find(struct sched_state *st, const char *id)
{
    struct sched_task *t;
    HASH_FIND_STR(st->tasks, id, t);
    return t;
}

struct sched_agent *state_agent_find(struct sched_state *st, const char *id)
{
    struct sched_agent *a;
    HASH_FIND_STR(st->agents, id, a);
    return a;
}

/* ---- queues ------------------------------------------------------------ */

/* Pending tasks are kept ordered by priority (higher first), FIFO within a
 * priority, so the placement loop just walks the list. */
static void pending_insert(struct sched_state *st, struct sched_task *t)
{
    int64_t prio = t->config->priority;
    struct sched_task *it;
    /* Walk from the tail: new tasks usually go last. */
    for (it = st->pending ? st->pending->q_prev : NULL; it; it = (it == st->pending) ? NULL : it->q_prev) {
        if (it->config->priority >= prio) {
            DL_APPEND_ELEM2(st->pending, it, t, q_prev, q_next);
            return;
        }
    }
    DL_PREPEND2(st->pending, t, q_prev, q_next);
}

void state_queue_set(struct sched_state *st, struct sched_task *t, int queue)
{
    if (t->queue == queue)
        return;
    if (t->queue == QUEUE_PENDING) {
        if (st->place_cursor == t) /* the sweep goes on with the next one */
            st->place_cursor = t->q_next;
        DL_DELETE2(st->pending, t, q_prev, q_next);
    }
    t->q_prev = t->q_next = NULL;
    t->queue = (uint8_t)queue;
    if (queue == QUEUE_PENDING) {
        pending_insert(st, t);
        st->placement_due = true;
    }
}

/* ---- agents and resources ---------------------------------------------- */

void state_agent_add(struct sched_state *st, struct sched_agent *a)
{
    if (a->up || a->state == AGENT_UNKNOWN)
        bo_timer_arm(&st->timers, &a->timer, a->last_seen_mono + st->opt.agent_timeout_ms);
    a->timer.kind = TIMER_AGENT;
    HASH_ADD_KEYPTR(hh, st->agents, a->id, strlen(a->id), a);
    st->agent_vec = bo_xrealloc(st->agent_vec, (st->n_agent_vec + 1) * sizeof(*st->agent_vec));
    st->agent_vec[st->n_agent_vec++] = a;
}

void state_agent_has_work(struct sched_state *st, struct sched_agent *a)
{
    a->has_work = true;
    if (a->in_ready)
        return;
    if (st->n_ready == st->cap_ready) {
        st->cap_ready = st->cap_ready ? 2 * st->cap_ready : 64;
        st->ready = bo_xrealloc(st->ready, st->cap_ready * sizeof(*st->ready));
    }
    st->ready[st->n_ready++] = a;
    a->in_ready = true;
}

void state_agent_set_ports(struct sched_agent *a, uint32_t lo, uint32_t hi)
{
    if (hi < lo)
        hi = lo;
    a->port_lo = lo;
    a->port_hi = hi;
    free(a->port_used);
    a->port_used = NULL; /* made by the first port_take */
    a->ports_free = hi - lo + 1;
}

static bool port_take(struct sched_agent *a, uint32_t p)
{
    if (p < a->port_lo || p > a->port_hi)
        return false;
    if (!a->port_used)
        a->port_used = bo_xcalloc((a->port_hi - a->port_lo) / 8 + 1, 1);
    uint8_t bit = (uint8_t)(1u << ((p - a->port_lo) % 8));
    uint8_t *byte = &a->port_used[(p - a->port_lo) / 8];
    if (*byte & bit)
        return false;
    *byte |= bit;
    a->ports_free--;
    return true;
}

static void port_release(struct sched_agent *a, uint32_t p)
{
    if (p < a->port_lo || p > a->port_hi || !a->port_used)
        return;
    uint8_t bit = (uint8_t)(1u << ((p - a->port_lo) % 8));
    uint8_t *byte = &a->port_used[(p - a->port_lo) / 8];
    if (!(*byte & bit))
        return;
    *byte &= (uint8_t)~bit;
    a->ports_free++;
}

void state_task_bind_agent(struct sched_state *st, struct sched_task *t, struct sched_agent *a,
                           const uint16_t *ports)
{
    t->agent = a;
    if (t->agent_id != a->id) {
        free(t->agent_id);
        t->agent_id = bo_xstrdup(a->id);
    }
    const struct task_config *tc = &t->config->task;
    a->used_cpu += tc->cpu;
    a->used_ram += tc->ram;
    a->used_disk += tc->disk;
    a->n_tasks++;
    if (task_state_awaits_agent(t->state)) {
        a->n_awaiting++;
        DL_PREPEND2(a->tasks, t, a_prev, a_next);
    } else {
        DL_APPEND2(a->tasks, t, a_prev, a_next);
    }
    if (tc->n_ports) {
        if (!t->ports)
            t->ports = bo_xcalloc(tc->n_ports, sizeof(uint16_t));
        for (size_t i = 0; i < tc->n_ports; i++) {
            if (ports)
                t->ports[i] = ports[i];
            port_take(a, t->ports[i]);
        }
    }
}

void state_task_state_changed(struct sched_task *t, enum task_state from)
{
    struct sched_agent *a = t->agent;
    if (!a)
        return;
    int d = task_state_awaits_agent(t->state) - task_state_awaits_agent(from);
    a->n_awaiting += d;
    if (d > 0) { /* first in its agent's list: answers look there */
        DL_DELETE2(a->tasks, t, a_prev, a_next);
        DL_PREPEND2(a->tasks, t, a_prev, a_next);
    }
}

bool state_agent_counts_ok(const struct sched_agent *a)
{
    int64_t n = 0;
    int32_t awaiting = 0;
    const struct sched_task *t;
    DL_FOREACH2(a->tasks, t, a_next)
    {
        n++;
        awaiting += task_state_awaits_agent(t->state);
    }
    return n == a->n_tasks && awaiting == a->n_awaiting;
}

void state_task_unbind_agent(struct sched_state *st, struct sched_task *t)
{
    struct sched_agent *a = t->agent;
    if (!a)
        return;
    const struct task_config *tc = &t->config->task;
    a->used_cpu -= tc->cpu;
    if (a->used_cpu < 1e-9)
        a->used_cpu = 0;
    a->used_ram -= tc->ram;
    a->used_disk -= tc->disk;
    a->n_tasks--;
    a->n_awaiting -= task_state_awaits_agent(t->state);
    DL_DELETE2(a->tasks, t, a_prev, a_next);
    for (size_t i = 0; t->ports && i < tc->n_ports; i++)
        port_release(a, t->ports[i]);
    t->agent = NULL;
    st->placement_due = true; /* freed resources may fit a pending task */
}

/* ---- jobs and tasks ----------------------------------------------------- */

struct sched_job *state_job_add(struct sched_state *st, struct job_config *c, int64_t created_ms)
{
    struct sched_job *j = bo_xcalloc(1, sizeof(*j));
    j->key = job_key_str(&c->key);
    j->config = job_config_ref(c);
    j->state = JOB_ACTIVE;
    j->created_ms = created_ms;
    j->n_current = c->instances;
    j->current = bo_xcalloc((size_t)c->instances, sizeof(*j->current));
    j->update_timer.kind = TIMER_UPDATE;
    bool added;
    state_job_intern_config(j, c, &added);
    HASH_ADD_KEYPTR(hh, st->jobs, j->key, strlen(j->key), j);
    return j;
}

struct sched_task *state_task_new(struct sched_state *st, struct sched_job *j, int32_t instance,
                                  struct job_config *c)
{
    struct sched_task *t = bo_xcalloc(1, sizeof(*t));
    t->id = task_id_new(&j->config->key, instance);
    t->job = j;
    t->config = job_config_ref(c);
    t->instance = instance;
    t->state = TASK_INIT;
    /* Strictly after every other task of the job, even within one
     * millisecond or when the wall clock steps back: state_load takes the
     * newest task of an instance as its current one, and an update's
     * replacement has no ancestor to break a tie with the task it
     * replaces. The tail of j->tasks is the newest (appended here, sorted
     * on load). */
    t->created_ms = bo_wall_ms();
    if (j->tasks && t->created_ms <= j->tasks->j_prev->created_ms)
        t->created_ms = j->tasks->j_prev->created_ms + 1;
    t->state_since_mono = bo_mono_ms();
    st->count_by_state[TASK_INIT]++;
    HASH_ADD_KEYPTR(hh, st->tasks, t->id, strlen(t->id), t);
    DL_APPEND2(j->tasks, t, j_prev, j_next);
    if (instance < j->n_current)
        j->current[instance] = t;
    return t;
}

struct job_config *state_job_intern_config(struct sched_job *j, struct job_config *c, bool *ret_added)
{
    *ret_added = false;
    for (size_t i = 0; i < j->n_configs; i++)
        if (j->configs[i].config == c)
            return c;
    /* Equal content is one config: tasks of unchanged instances, and an
     * update back to an older config, share it (one placement class). */
    json_t *want = job_config_to_json(c);
    for (size_t i = 0; i < j->n_configs; i++) {
        json_t *have = job_config_to_json(j->configs[i].config);
        bool same = json_equal(want, have);
        json_decref(have);
        if (same) {
            json_decref(want);
            return j->configs[i].config;
        }
    }
    json_decref(want);
    j->configs = bo_xrealloc(j->configs, (j->n_configs + 1) * sizeof(*j->configs));
    j->configs[j->n_configs++] = (struct job_config_slot){job_config_ref(c), j->next_config_id++};
    *ret_added = true;
    return c;
}

struct job_config *state_job_config_by_id(const struct sched_job *j, int64_t id)
{
    for (size_t i = 0; i < j->n_configs; i++)
        if (j->configs[i].id == id)
            return j->configs[i].config;
    return NULL;
}

int64_t state_job_config_id(const struct sched_job *j, const struct job_config *c)
{
    for (size_t i = 0; i < j->n_configs; i++)
        if (j->configs[i].config == c)
            return j->configs[i].id;
    return -1;
}

void state_job_drop_unused_configs(struct sched_job *j)
{
    size_t keep = 0;
    for (size_t i = 0; i < j->n_configs; i++) {
        struct job_config *c = j->configs[i].config;
        bool used = c == j->config || (j->update && (c == j->update->from || c == j->update->to));
        struct sched_task *t;
        DL_FOREACH2(j->tasks, t, j_next)
        if (t->config == c)
            used = true;
        if (used)
            j->configs[keep++] = j->configs[i];
        else
            job_config_unref(c);
    }
    j->n_configs = keep;
}

void state_job_set_config(struct sched_job *j, struct job_config *c)
{
    job_config_ref(c);
    job_config_unref(j->config);
    j->config = c;
}

void state_job_reserve_instances(struct sched_job *j, int64_t n)
{
    if (n <= j->n_current)
        return;
    j->current = bo_xrealloc(j->current, (size_t)n * sizeof(*j->current));
    for (int64_t i = j->n_current; i < n; i++)
        j->current[i] = NULL;
    j->n_current = n;
}

/* The caller has disarmed j's timer (state_free frees the heap first). */
static void job_free(struct sched_state *st, struct sched_job *j)
{
    struct sched_update *u, *utmp;
    DL_FOREACH_SAFE2(j->updates, u, utmp, u_next)
    update_free(st, u);
    for (size_t i = 0; i < j->n_configs; i++)
        job_config_unref(j->configs[i].config);
    free(j->configs);
    job_config_unref(j->config);
    free(j->current);
    free(j->key);
    free(j);
}

static void task_free(struct sched_task *t)
{
    job_config_unref(t->config);
    for (int i = 0; i < t->n_events && i < TASK_MAX_EVENTS; i++)
        free(t->events[i].message);
    json_decref(t->processes);
    json_decref(t->usage);
    free(t->ports);
    free(t->message);
    state_reason_unref(t->pending_reason);
    free(t->ancestor_id);
    free(t->agent_id);
    free(t->prefer_agent);
    free(t->id);
    free(t);
}

void state_task_delete(struct sched_state *st, struct sched_task *t)
{
    /* Deleted from the store before: never written back at the commit. */
    if (t->dirty_slot)
        st->dirty[t->dirty_slot - 1] = NULL;
    t->dirty_slot = 0;
    bo_timer_disarm(&st->timers, &t->timer);
    state_queue_set(st, t, QUEUE_NONE);
    state_task_unbind_agent(st, t);
    st->count_by_state[t->state]--;
    HASH_DEL(st->tasks, t);
    struct sched_job *j = t->job;
    DL_DELETE2(j->tasks, t, j_prev, j_next);
    if (t->instance < j->n_current && j->current[t->instance] == t)
        j->current[t->instance] = NULL;
    task_free(t);
}

int state_job_remove(struct sched_state *st, struct sched_job *j, bo_error_t *err)
{
    struct sched_task *t, *tmp;
    DL_FOREACH_SAFE2(j->tasks, t, tmp, j_next)
    {
        if (store_delete(st->store, "task", t->id, err) < 0)
            return -1;
        state_task_delete(st, t);
    }
    struct sched_update *u;
    DL_FOREACH2(j->updates, u, u_next)
    if (store_delete(st->store, "update", u->id, err) < 0)
        return -1;
    if (store_delete(st->store, "job", j->key, err) < 0)
        return -1;
    HASH_DEL(st->jobs, j);
    bo_timer_disarm(&st->timers, &j->update_timer);
    job_free(st, j);
    return 0;
}

void state_task_set_message(struct sched_task *t, const char *msg)
{
    free(t->message);
    t->message = msg && *msg ? bo_xstrdup(msg) : NULL;
}

struct sched_reason *state_reason_new(const char *text)
{
    size_t n = strlen(text) + 1;
    struct sched_reason *r = bo_xmalloc(sizeof(*r) + n);
    r->refs = 1;
    memcpy(r->text, text, n);
    return r;
}

struct sched_reason *state_reason_ref(struct sched_reason *r)
{
    r->refs++;
    return r;
}

void state_reason_unref(struct sched_reason *r)
{
    if (r && --r->refs == 0)
        free(r);
}

void state_task_set_reason(struct sched_task *t, struct sched_reason *r)
{
    if (t->pending_reason == r)
        return;
    state_reason_unref(t->pending_reason);
    t->pending_reason = r ? state_reason_ref(r) : NULL;
}

void state_task_push_event(struct sched_task *t, enum task_state s, const char *msg)
{
    int slot = t->n_events % TASK_MAX_EVENTS;
    if (t->n_events >= TASK_MAX_EVENTS)
        free(t->events[slot].message);
    t->events[slot] = (struct task_event){bo_wall_ms(), s, msg && *msg ? bo_xstrdup(msg) : NULL};
    t->n_events++;
}

static bool is_current(const struct sched_task *t)
{
    return t->instance < t->job->n_current && t->job->current[t->instance] == t;
}

int state_job_prune(struct sched_state *st, struct sched_job *j, int64_t keep, const struct sched_task *spare,
                    bo_error_t *err)
{
    int64_t n = 0;
    struct sched_task *t, *tmp;
    DL_FOREACH2(j->tasks, t, j_next)
    if (task_state_is_terminal(t->state) && !is_current(t))
        n++;
    DL_FOREACH_SAFE2(j->tasks, t, tmp, j_next)
    {
        if (n <= keep)
            break;
        if (t == spare || !task_state_is_terminal(t->state) || is_current(t))
            continue;
        if (store_delete(st->store, "task", t->id, err) < 0)
            return -1;
        state_task_delete(st, t);
        n--;
    }
    return 0;
}

int state_job_refresh(struct sched_state *st, struct sched_job *j, bo_error_t *err)
{
    bool active = false, killed = false, failed = false;
    for (int64_t i = 0; i < j->n_current; i++) {
        struct sched_task *t = j->current[i];
        if (!t)
            continue;
        if (task_state_is_active(t->state))
            active = true;
        if (t->kill_requested)
            killed = true;
        if (t->state == TASK_FAILED)
            failed = true;
    }
    /* An update between killing an instance's task and adding its new
     * one: the job is not over. */
    if (j->update)
        active = true;
    /* A user's kill explains the end better than the failures it caused. */
    enum job_state ns = active ? JOB_ACTIVE : killed ? JOB_KILLED : failed ? JOB_FAILED : JOB_FINISHED;
    if (ns == j->state)
        return 0;
    j->state = ns;
    return state_save_job(st, j, err);
}

/* ---- persistence records ----------------------------------------------- */

static json_t *ports_json(const struct sched_task *t)
{
    json_t *o = json_object();
    for (size_t i = 0; t->ports && i < t->config->task.n_ports; i++)
        json_object_set_new(o, t->config->task.ports[i], json_integer(t->ports[i]));
    return o;
}

static json_t *events_json(const struct sched_task *t)
{
    json_t *a = json_array();
    int n = t->n_events < TASK_MAX_EVENTS ? t->n_events : TASK_MAX_EVENTS;
    int start = t->n_events < TASK_MAX_EVENTS ? 0 : t->n_events % TASK_MAX_EVENTS;
    for (int i = 0; i < n; i++) {
        const struct task_event *e = &t->events[(start + i) % TASK_MAX_EVENTS];
        json_array_append_new(a, json_pack("{s:s, s:I, s:s}", "state", task_state_name(e->state), "ts",
                                           (json_int_t)e->ts, "message", e->message ? e->message : ""));
    }
    return a;
}

static json_t *task_record(const struct sched_task *t)
{
    json_t *r = json_pack("{s:s, s:s, s:i, s:s, s:i, s:i, s:b, s:o, s:I, s:I, s:I, s:i, s:o}", "id", t->id,
                          "job", t->job->key, "instance", t->instance, "state", task_state_name(t->state),
                          "failure_count", t->failure_count, "consecutive_flaps", t->consecutive_flaps,
                          "kill_requested", t->kill_requested, "ports", ports_json(t), "running_since",
                          (json_int_t)t->running_since, "throttle_until", (json_int_t)t->throttle_until,
                          "created_ms", (json_int_t)t->created_ms, "executor_pid", t->executor_pid,
                          "events", events_json(t));
    json_object_set_new(r, "ancestor_id", t->ancestor_id ? json_string(t->ancestor_id) : json_null());
    json_object_set_new(r, "agent_id", t->agent_id ? json_string(t->agent_id) : json_null());
    json_object_set_new(r, "message", json_string(t->message ? t->message : ""));
    json_object_set_new(r, "pending_reason",
                        t->pending_reason ? json_string(t->pending_reason->text) : json_null());
    json_object_set_new(r, "processes", t->processes ? json_incref(t->processes) : json_array());
    json_object_set_new(r, "config_id", json_integer(state_job_config_id(t->job, t->config)));
    return r;
}

static int save_json(struct sched_state *st, const char *kind, const char *id, json_t *rec, bo_error_t *err)
{
    _cleanup_free_ char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    return store_put(st->store, kind, id, text, err);
}

/* `,"key":` for a literal key, copied as it is: the record's keys need no
 * escaping, and escaping them on every save was a third of the record's
 * cost. */
#define key_lit(b, k) bo_buf_add((b), ",\"" k "\":", sizeof(",\"" k "\":") - 1)
#define key_i64(b, k, v) (key_lit(b, k), bo_buf_i64((b), (v)))
#define key_str(b, k, v) (key_lit(b, k), bo_buf_json_str((b), (v)))

/* A name of ours (a task state: capitals only) as a JSON string. */
static void name_str(struct bo_buf *b, const char *name)
{
    bo_buf_add(b, "\"", 1);
    bo_buf_adds(b, name);
    bo_buf_add(b, "\"", 1);
}

/* task_record() as text, written straight into a buffer: a task is saved
 * on every status change, and building the jansson tree and dumping it
 * cost more than the SQLite write (docs/benchmarks.md). Same fields, same
 * values (a unit test compares the two). With `view`, what
 * state_task_to_json() shows instead (GET of a job with thousands of
 * instances writes them all). */
static void task_text(struct bo_buf *b, const struct sched_task *t, bool view)
{
    bo_buf_adds(b, "{\"id\":");
    bo_buf_json_str(b, t->id);
    key_str(b, "job", t->job->key);
    key_i64(b, "instance", t->instance);
    key_lit(b, "state");
    name_str(b, task_state_name(t->state));
    key_i64(b, "failure_count", t->failure_count);
    if (!view)
        key_i64(b, "consecutive_flaps", t->consecutive_flaps);
    bo_buf_adds(b, t->kill_requested ? ",\"kill_requested\":true" : ",\"kill_requested\":false");
    bo_buf_adds(b, ",\"ports\":{");
    for (size_t i = 0; t->ports && i < t->config->task.n_ports; i++) {
        if (i)
            bo_buf_add(b, ",", 1);
        bo_buf_json_key(b, t->config->task.ports[i]);
        bo_buf_i64(b, t->ports[i]);
    }
    bo_buf_add(b, "}", 1);
    key_i64(b, "running_since", t->running_since);
    if (!view)
        key_i64(b, "throttle_until", t->throttle_until);
    key_i64(b, "created_ms", t->created_ms);
    key_i64(b, "executor_pid", t->executor_pid);
    bo_buf_adds(b, ",\"events\":[");
    int n = t->n_events < TASK_MAX_EVENTS ? t->n_events : TASK_MAX_EVENTS;
    int start = t->n_events < TASK_MAX_EVENTS ? 0 : t->n_events % TASK_MAX_EVENTS;
    for (int i = 0; i < n; i++) {
        const struct task_event *e = &t->events[(start + i) % TASK_MAX_EVENTS];
        bo_buf_adds(b, i ? ",{\"state\":" : "{\"state\":");
        name_str(b, task_state_name(e->state));
        key_i64(b, "ts", e->ts);
        key_str(b, "message", e->message ? e->message : "");
        bo_buf_add(b, "}", 1);
    }
    bo_buf_add(b, "]", 1);
    key_str(b, "ancestor_id", t->ancestor_id);
    key_str(b, "agent_id", t->agent_id);
    key_str(b, "message", t->message ? t->message : "");
    key_str(b, "pending_reason", t->pending_reason ? t->pending_reason->text : NULL);
    bo_buf_adds(b, ",\"processes\":");
    if (t->processes) {
        _cleanup_free_ char *p = json_dumps(t->processes, JSON_COMPACT | JSON_ENCODE_ANY);
        bo_buf_adds(b, p ? p : "[]");
    } else {
        bo_buf_adds(b, "[]");
    }
    key_i64(b, "config_id", state_job_config_id(t->job, t->config));
    if (view) {
        key_str(b, "host", t->agent ? t->agent->hostname : NULL);
        if (t->state == TASK_THROTTLED)
            key_i64(b, "throttled_until_ms", t->throttle_until);
        if (t->usage) {
            _cleanup_free_ char *u = json_dumps(t->usage, JSON_COMPACT);
            if (u) {
                bo_buf_adds(b, ",\"usage\":");
                bo_buf_adds(b, u);
            }
        }
    }
    bo_buf_add(b, "}", 1);
}

char *state_task_record_text(const struct sched_task *t)
{
    struct bo_buf b = {0};
    task_text(&b, t, false);
    return bo_buf_steal(&b);
}

void state_task_view_text(struct bo_buf *b, const struct sched_task *t)
{
    task_text(b, t, true);
}

static int write_task(struct sched_state *st, struct sched_task *t, bo_error_t *err)
{
    _cleanup_free_ char *text = state_task_record_text(t);
    return store_put(st->store, "task", t->id, text, err);
}

int state_save_task(struct sched_state *st, struct sched_task *t, bo_error_t *err)
{
    if (!store_in_batch(st->store))
        return write_task(st, t, err);
    if (t->dirty_slot)
        return 0; /* already due at the commit, as it will be then */
    if (st->n_dirty == st->cap_dirty) {
        st->cap_dirty = st->cap_dirty ? 2 * st->cap_dirty : 256;
        st->dirty = bo_xrealloc(st->dirty, st->cap_dirty * sizeof(*st->dirty));
    }
    st->dirty[st->n_dirty++] = t;
    t->dirty_slot = (uint32_t)st->n_dirty;
    return 0;
}

/* The store's before_commit hook: each task saved in the batch, once, as
 * it is now. On a failure the store rolls back, and drop_dirty clears
 * what is left. */
static int flush_dirty(void *ctx, bo_error_t *err)
{
    struct sched_state *st = ctx;
    for (size_t i = 0; i < st->n_dirty; i++) {
        struct sched_task *t = st->dirty[i];
        if (!t)
            continue;
        st->dirty[i] = NULL;
        t->dirty_slot = 0;
        if (write_task(st, t, err) < 0)
            return -1;
    }
    st->n_dirty = 0;
    return 0;
}

/* The store's on_rollback hook: the batch is gone, and with it the need
 * to write its tasks (the caller stops if memory is now ahead, see
 * state_fatal; a later batch must not commit that memory). */
static void drop_dirty(void *ctx)
{
    struct sched_state *st = ctx;
    for (size_t i = 0; i < st->n_dirty; i++)
        if (st->dirty[i])
            st->dirty[i]->dirty_slot = 0;
    st->n_dirty = 0;
}

int state_save_job(struct sched_state *st, struct sched_job *j, bo_error_t *err)
{
    json_t *rec = json_pack("{s:o, s:s, s:I, s:I, s:I, s:I}", "config", job_config_to_json(j->config), "state",
                            job_state_name(j->state), "created_ms", (json_int_t)j->created_ms, "config_id",
                            (json_int_t)state_job_config_id(j, j->config), "next_config_id",
                            (json_int_t)j->next_config_id, "instance_slots", (json_int_t)j->n_current);
    /* The other configs tasks run (`config` is one of them, kept once). */
    json_t *others = json_array();
    for (size_t i = 0; i < j->n_configs; i++)
        if (j->configs[i].config != j->config)
            json_array_append_new(others, json_pack("{s:I, s:o}", "id", (json_int_t)j->configs[i].id, "config",
                                                    job_config_to_json(j->configs[i].config)));
    json_object_set_new(rec, "other_configs", others);
    return save_json(st, "job", j->key, rec, err);
}

void state_agent_set_attrs(struct sched_agent *a, json_t *obj)
{
    struct bo_buf b = {0};
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v)
    {
        if (!json_is_string(v))
            continue;
        bo_buf_add(&b, name, strlen(name) + 1);
        bo_buf_add(&b, json_string_value(v), strlen(json_string_value(v)) + 1);
    }
    free(a->attrs);
    a->attrs_len = (uint32_t)b.len;
    a->attrs = b.len ? bo_buf_steal(&b) : NULL;
    bo_buf_free(&b);
}

bool state_agent_attr_next(const struct sched_agent *a, const char **pos, const char **name, const char **value)
{
    const char *p = *pos ? *pos : a->attrs;
    if (!p || p >= a->attrs + a->attrs_len)
        return false;
    *name = p;
    *value = p + strlen(p) + 1;
    *pos = *value + strlen(*value) + 1;
    return true;
}

const char *state_agent_attr(const struct sched_agent *a, const char *name)
{
    const char *pos = NULL, *n, *v;
    while (state_agent_attr_next(a, &pos, &n, &v))
        if (strcmp(n, name) == 0)
            return v;
    return NULL;
}

json_t *state_agent_attrs_json(const struct sched_agent *a)
{
    json_t *o = json_object();
    const char *pos = NULL, *n, *v;
    while (state_agent_attr_next(a, &pos, &n, &v))
        json_object_set_new(o, n, json_string(v));
    return o;
}

bool state_agent_attrs_equal(const struct sched_agent *a, json_t *obj)
{
    size_t n_a = 0;
    const char *pos = NULL, *n, *v;
    while (state_agent_attr_next(a, &pos, &n, &v)) {
        const char *o = json_string_value(json_object_get(obj, n));
        if (!o || strcmp(o, v) != 0)
            return false;
        n_a++;
    }
    return n_a == json_object_size(obj);
}

static json_t *agent_record(const struct sched_agent *a)
{
    return json_pack("{s:s, s:s, s:{s:f, s:I, s:I}, s:[i, i], s:o, s:I, s:s, s:I}", "id", a->id, "hostname",
                     a->hostname, "resources", "cpu", a->cpu, "ram", (json_int_t)a->ram, "disk", (json_int_t)a->disk,
                     "port_range", (int)a->port_lo, (int)a->port_hi, "attributes", state_agent_attrs_json(a),
                     "last_seen_ms", (json_int_t)a->last_seen_wall, "maintenance",
                     host_maintenance_name((enum host_maintenance)a->maintenance), "drain_started_ms",
                     (json_int_t)a->drain_started_ms);
}

int state_save_agent(struct sched_state *st, struct sched_agent *a, bo_error_t *err)
{
    return save_json(st, "agent", a->id, agent_record(a), err);
}

/* ---- JSON views --------------------------------------------------------- */

json_t *state_task_to_json(const struct sched_task *t)
{
    json_t *r = task_record(t);
    /* The record minus scheduler-internal bookkeeping. */
    json_object_del(r, "consecutive_flaps");
    json_object_del(r, "throttle_until");
    json_object_set_new(r, "host", t->agent ? json_string(t->agent->hostname) : json_null());
    if (t->state == TASK_THROTTLED)
        json_object_set_new(r, "throttled_until_ms", json_integer(t->throttle_until));
    if (t->usage)
        json_object_set(r, "usage", t->usage);
    return r;
}

json_t *state_job_summary_json(struct sched_state *st, const struct sched_job *j)
{
    const struct job_key *k = &j->config->key;
    json_t *counts = json_object();
    json_int_t failed = 0;
    for (int64_t i = 0; i < j->n_current; i++) {
        const struct sched_task *t = j->current[i];
        if (!t)
            continue;
        const char *name = task_state_name(t->state);
        json_t *c = json_object_get(counts, name);
        json_object_set_new(counts, name, json_integer(c ? json_integer_value(c) + 1 : 1));
        failed += t->state == TASK_FAILED;
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:I, s:o, s:I}", "key", j->key, "cluster",
                     k->cluster, "role", k->role, "environment", k->environment, "name", k->name, "state",
                     job_state_name(j->state), "instances", (json_int_t)j->n_current, "service",
                     j->config->service, "created_ms", (json_int_t)j->created_ms, "task_counts", counts,
                     "failed_instances", failed);
}

static const char *const agent_state_names[] = {"unknown", "up", "lost", "down"};
static const char *const maintenance_names[MAINT_COUNT] = {"NONE", "SCHEDULED", "DRAINING", "DRAINED"};

const char *host_maintenance_name(enum host_maintenance m)
{
    return (unsigned)m < MAINT_COUNT ? maintenance_names[m] : "INVALID";
}

int host_maintenance_from_name(const char *s, enum host_maintenance *ret)
{
    for (int m = 0; s && m < MAINT_COUNT; m++)
        if (strcmp(s, maintenance_names[m]) == 0) {
            *ret = (enum host_maintenance)m;
            return 0;
        }
    return -1;
}

const char *agent_state_name(enum agent_state s)
{
    return (unsigned)s < BO_ARRAY_SIZE(agent_state_names) ? agent_state_names[s] : "invalid";
}

json_t *state_agent_to_json(const struct sched_agent *a)
{
    json_t *r = agent_record(a);
    json_object_set_new(r, "state", json_string(a->up ? "up" : agent_state_name((enum agent_state)a->state)));
    json_object_set_new(r, "used", json_pack("{s:f, s:I, s:I}", "cpu", a->used_cpu, "ram",
                                             (json_int_t)a->used_ram, "disk", (json_int_t)a->used_disk));
    json_object_set_new(r, "free", json_pack("{s:f, s:I, s:I, s:I}", "cpu", a->cpu - a->used_cpu, "ram",
                                             (json_int_t)(a->ram - a->used_ram), "disk",
                                             (json_int_t)(a->disk - a->used_disk), "ports",
                                             (json_int_t)a->ports_free));
    json_object_set_new(r, "tasks", json_integer(a->n_tasks));
    return r;
}

void state_free(struct sched_state *st)
{
    if (st->store) {
        drop_dirty(st); /* an open batch is rolled back at store_close */
        store_set_hooks(st->store, NULL);
    }
    free(st->dirty);
    st->dirty = NULL;
    st->n_dirty = st->cap_dirty = 0;
    bo_timer_heap_free(&st->timers);
    st->place_cursor = NULL;
    free(st->agent_vec);
    st->agent_vec = NULL;
    free(st->ready);
    st->ready = NULL;
    st->n_ready = st->cap_ready = 0;
    st->n_agent_vec = 0;
    free(st->fatal);
    st->fatal = NULL;
    struct sched_job *j, *jtmp;
    HASH_ITER(hh, st->jobs, j, jtmp)
    {
        struct sched_task *t, *tmp;
        DL_FOREACH_SAFE2(j->tasks, t, tmp, j_next)
        {
            HASH_DEL(st->tasks, t);
            task_free(t);
        }
        HASH_DEL(st->jobs, j);
        job_free(st, j);
    }
    struct sched_agent *a, *atmp;
    HASH_ITER(hh, st->agents, a, atmp)
    {
        HASH_DEL(st->agents, a);
        free(a->attrs);
        free(a->port_used);
        free(a->hostname);
        free(a->id);
        free(a);
    }
}
