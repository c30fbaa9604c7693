/* state_load.c - recovery: rebuild the in-memory state from the store.
 *
 * Stored rows are checked like any other input before they reach memory:
 * a row that was damaged on disk, edited by hand or written by a buggy
 * build must not become an out-of-range index (a task with instance -3
 * once overflowed a job's instance array). Every field is range-checked,
 * states must be known names, references must resolve, and the first bad
 * row stops the load with an error naming the store's file, the table, the
 * row's id and what is wrong; the scheduler then refuses to start. */
#include "scheduler/state.h"

#include <math.h>
#include <string.h>
#include <utlist.h>

#include "base/clock.h"
#include "base/jscan.h"
#include "model/json_check.h"
#include "scheduler/update.h"

/* The row being loaded, for error messages. */
struct row {
    struct sched_state *st;
    const char *kind;
    const char *id;
    bo_error_t *err;
};

/* "store `/d/scheduler.db`: table kv_task, id `x`: instance -3 is ...".
 * Ids are printed with unprintable bytes replaced: the row may be garbage. */
static int bad(const struct row *r, const char *fmt, ...) BO_PRINTF(2, 3);
static int bad(const struct row *r, const char *fmt, ...)
{
    char id[80];
    size_t n = 0;
    for (const char *p = r->id; *p && n < 64; p++)
        id[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
    id[n] = 0;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *what = bo_xvasprintf(fmt, ap);
    va_end(ap);
    return bo_error_set(r->err, BO_E_INVALID, "store `%s`: table kv_%s, id `%s%s`: %s", store_path(r->st->store),
                        r->kind, id, r->id[n] ? "..." : "", what);
}

static json_t *parse(const struct row *r, const char *value)
{
    json_error_t jerr;
    json_t *rec = json_loads(value, 0, &jerr);
    if (!rec) {
        bad(r, "not JSON: %s", jerr.text);
        return NULL;
    }
    if (!json_is_object(rec)) {
        json_decref(rec);
        bad(r, "not a JSON object");
        return NULL;
    }
    return rec;
}

/* An integer field, present and within [min, max]. */
static int get_int(const struct row *r, json_t *o, const char *name, int64_t min, int64_t max, int64_t *ret)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v))
        return bad(r, "field `%s` is %s, not an integer", name, v ? "of another type" : "missing");
    int64_t x = json_integer_value(v);
    if (x < min || x > max)
        return bad(r, "field `%s` is %lld, not within %lld-%lld", name, (long long)x, (long long)min,
                   (long long)max);
    *ret = x;
    return 0;
}

/* A string field; with `nullable`, null (or absent) gives NULL. */
static int get_str(const struct row *r, json_t *o, const char *name, bool nullable, const char **ret)
{
    json_t *v = json_object_get(o, name);
    if (nullable && (!v || json_is_null(v))) {
        *ret = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return bad(r, "field `%s` is %s, not a string", name, v ? "of another type" : "missing");
    *ret = json_string_value(v);
    return 0;
}

/* Ids become hash keys, URL segments and path names: the identifier
 * charset, bounded. */
static int check_id(const struct row *r, const char *what, const char *s)
{
    size_t n = strnlen(s, STORE_ID_MAX + 1);
    if (n == 0 || n > STORE_ID_MAX)
        return bad(r, "%s is empty or longer than %d bytes", what, STORE_ID_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return bad(r, "%s has a byte outside [A-Za-z0-9_.-] at offset %zu", what, i);
    }
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return bad(r, "%s is `%s`", what, s);
    return 0;
}

static int get_state(const struct row *r, json_t *o, const char *name, enum task_state *ret)
{
    const char *s;
    if (get_str(r, o, name, false, &s) < 0)
        return -1;
    if (task_state_from_name(s, ret) < 0)
        return bad(r, "field `%s` is `%.32s`, not a task state", name, s);
    return 0;
}

/* ---- jobs --------------------------------------------------------------- */

/* Optional int field (absent in stores written before it existed). */
static int get_int_opt(const struct row *r, json_t *o, const char *name, int64_t min, int64_t max, int64_t def,
                       int64_t *ret)
{
    if (!json_object_get(o, name)) {
        *ret = def;
        return 0;
    }
    return get_int(r, o, name, min, max, ret);
}

/* The configs a job's tasks run besides its own (during and after an
 * update), each checked as a submitted job, with the job's key; ids
 * unique. Absent in stores written before updates: the job's only. */
static int load_job_configs(const struct row *r, json_t *rec, struct sched_job *j)
{
    int64_t main_id, next_id, slots;
    if (get_int_opt(r, rec, "config_id", 0, INT32_MAX, 0, &main_id) < 0 ||
        get_int_opt(r, rec, "next_config_id", 1, INT32_MAX, 1, &next_id) < 0 ||
        get_int_opt(r, rec, "instance_slots", 1, JOB_MAX_INSTANCES, j->config->instances, &slots) < 0)
        return -1;
    if (slots < j->config->instances)
        return bad(r, "field `instance_slots` is %lld, fewer than the config's %lld instances", (long long)slots,
                   (long long)j->config->instances);
    if (main_id >= next_id)
        return bad(r, "field `config_id` is %lld, not below `next_config_id` %lld", (long long)main_id,
                   (long long)next_id);
    j->configs[0].id = main_id;
    j->next_config_id = next_id;
    state_job_reserve_instances(j, slots);
    json_t *others = json_object_get(rec, "other_configs");
    if (!others)
        return 0;
    if (!json_is_array(others) || json_array_size(others) > 64)
        return bad(r, "field `other_configs` is not an array of at most 64 configs");
    size_t i;
    json_t *o;
    json_array_foreach(others, i, o)
    {
        int64_t id;
        if (!json_is_object(o))
            return bad(r, "other_configs[%zu] is not an object", i);
        if (get_int(r, o, "id", 0, next_id - 1, &id) < 0)
            return -1;
        if (state_job_config_by_id(j, id))
            return bad(r, "other_configs[%zu]: config id %lld is used twice", i, (long long)id);
        _cleanup_error_ bo_error_t cerr = NULL;
        struct job_config *c = NULL;
        if (job_config_from_json(json_object_get(o, "config"), &c, &cerr) < 0)
            return bad(r, "other_configs[%zu]: %s", i, cerr->msg);
        _cleanup_free_ char *key = job_key_str(&c->key);
        if (strcmp(key, j->key) != 0) {
            job_config_unref(c);
            return bad(r, "other_configs[%zu]: the config's key is `%.200s`", i, key);
        }
        /* Kept apart even if equal to another (the ids are what tasks name). */
        j->configs = bo_xrealloc(j->configs, (j->n_configs + 1) * sizeof(*j->configs));
        j->configs[j->n_configs++] = (struct job_config_slot){c, id};
    }
    return 0;
}

static int load_job(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    struct row r = {ctx, "job", id, err};
    json_t *rec = parse(&r, value);
    if (!rec)
        return -1;
    struct job_config *c = NULL;
    const char *sn;
    enum job_state js;
    int64_t created;
    int ret = -1;
    /* Declared before the first goto: cleanup must not run on them uninitialised. */
    _cleanup_free_ char *key = NULL;
    _cleanup_error_ bo_error_t cerr = NULL;
    if (get_str(&r, rec, "state", false, &sn) < 0 || get_int(&r, rec, "created_ms", 0, INT64_MAX, &created) < 0)
        goto out;
    if (job_state_from_name(sn, &js) < 0) {
        bad(&r, "field `state` is `%.32s`, not a job state", sn);
        goto out;
    }
    /* The same validation as a job submitted through the API. */
    if (job_config_from_json(json_object_get(rec, "config"), &c, &cerr) < 0) {
        bad(&r, "field `config`: %s", cerr->msg);
        goto out;
    }
    key = job_key_str(&c->key);
    if (strcmp(key, id) != 0) {
        bad(&r, "the config's key is `%.200s`", key);
        goto out;
    }
    if (state_job_find(r.st, id)) { /* ids are unique in a table; a safety net */
        bad(&r, "job loaded twice");
        goto out;
    }
    struct sched_job *j = state_job_add(r.st, c, created);
    j->state = js;
    if (load_job_configs(&r, rec, j) < 0)
        goto out;
    ret = 0;
out:
    job_config_unref(c);
    json_decref(rec);
    return ret;
}

/* ---- agents ------------------------------------------------------------- */

static int load_agent(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    struct row r = {ctx, "agent", id, err};
    if (check_id(&r, "the id", id) < 0)
        return -1;
    json_t *rec = parse(&r, value);
    if (!rec)
        return -1;
    int ret = -1;
    const char *rid, *host;
    int64_t ram, disk, lo, hi, seen;
    json_t *res = json_object_get(rec, "resources"), *pr = json_object_get(rec, "port_range"),
           *attrs = json_object_get(rec, "attributes");
    if (get_str(&r, rec, "id", false, &rid) < 0 || get_str(&r, rec, "hostname", false, &host) < 0)
        goto out;
    if (strcmp(rid, id) != 0) {
        bad(&r, "field `id` is `%.64s`", rid);
        goto out;
    }
    if (!json_is_object(res)) {
        bad(&r, "field `resources` is not an object");
        goto out;
    }
    json_t *cpu = json_object_get(res, "cpu");
    if (!json_is_number(cpu) || !isfinite(json_number_value(cpu)) || json_number_value(cpu) < 0) {
        bad(&r, "field `resources.cpu` is not a number >= 0");
        goto out;
    }
    if (get_int(&r, res, "ram", 0, INT64_MAX, &ram) < 0 || get_int(&r, res, "disk", 0, INT64_MAX, &disk) < 0)
        goto out;
    if (!json_is_array(pr) || json_array_size(pr) != 2 || !json_is_integer(json_array_get(pr, 0)) ||
        !json_is_integer(json_array_get(pr, 1))) {
        bad(&r, "field `port_range` is not [LOW, HIGH]");
        goto out;
    }
    lo = json_integer_value(json_array_get(pr, 0));
    hi = json_integer_value(json_array_get(pr, 1));
    if (lo < 1 || hi > 65535 || lo > hi) { /* the same rule as registration */
        bad(&r, "field `port_range` is %lld-%lld, not within 1-65535", (long long)lo, (long long)hi);
        goto out;
    }
    if (!json_is_object(attrs)) {
        bad(&r, "field `attributes` is not an object");
        goto out;
    }
    if (get_int(&r, rec, "last_seen_ms", 0, INT64_MAX, &seen) < 0)
        goto out;
    /* Absent in stores written before maintenance existed: NONE. */
    json_t *mv = json_object_get(rec, "maintenance");
    enum host_maintenance maint = MAINT_NONE;
    if (mv && host_maintenance_from_name(json_string_value(mv), &maint) < 0) {
        bad(&r, "field `maintenance` is not NONE, SCHEDULED, DRAINING or DRAINED");
        goto out;
    }
    int64_t drain_started = 0;
    if (json_object_get(rec, "drain_started_ms") &&
        get_int(&r, rec, "drain_started_ms", 0, INT64_MAX, &drain_started) < 0)
        goto out;
    struct sched_agent *a = bo_xcalloc(1, sizeof(*a));
    a->id = bo_xstrdup(id);
    a->hostname = bo_xstrdup(host);
    a->cpu = json_number_value(cpu);
    a->ram = (uint64_t)ram;
    a->disk = (uint64_t)disk;
    state_agent_set_ports(a, (uint32_t)lo, (uint32_t)hi);
    state_agent_set_attrs(a, attrs);
    a->last_seen_wall = seen;
    /* Unknown until it syncs with this scheduler: nothing is placed on it
     * meanwhile, and it is lost (its tasks rescheduled) if it has not
     * synced within --agent-timeout of the start. */
    a->state = AGENT_UNKNOWN;
    a->maintenance = (uint8_t)maint;
    a->drain_started_ms = drain_started;
    a->last_seen_mono = bo_mono_ms();
    state_agent_add(r.st, a);
    ret = 0;
out:
    json_decref(rec);
    return ret;
}

/* ---- tasks -------------------------------------------------------------- */

/* Everything a task row says, checked, before anything is allocated. */
struct task_row {
    struct sched_job *job;
    struct job_config *config; /* of the job's configs */
    int64_t instance, failure_count, flaps, running_since, throttle_until, created_ms, pid;
    enum task_state state;
    bool kill_requested;
    const char *ancestor_id, *agent_id, *message, *pending_reason;
    struct sched_agent *agent; /* bound: holds resources on it */
    json_t *ports, *events, *processes;
    /* What is built from: the port of each of the config's port names (0
     * if the row has none) and the events, oldest first. */
    uint16_t port_vals[JOB_MAX_PORTS];
    size_t n_ev;
    struct {
        enum task_state state;
        int64_t ts;
        const char *message;
    } ev[TASK_MAX_EVENTS];
};

/* Resources are held from ASSIGNED until terminal. */
static bool holds_resources(enum task_state s)
{
    return task_state_is_active(s) && s != TASK_PENDING && s != TASK_THROTTLED && s != TASK_INIT;
}

/* Is port p (in the agent's range) already held: by a task loaded before
 * (the agent's bitmap) or by another port of this task? Placement never
 * hands a port out twice, so either means damaged rows, and binding them
 * would let placement give the port to a third task later. */
static bool port_held(const struct sched_agent *a, uint32_t p, json_t *ports, const char *self)
{
    if (state_agent_port_used(a, p))
        return true;
    const char *name;
    json_t *v;
    json_object_foreach(ports, name, v)
    {
        if (strcmp(name, self) == 0)
            break; /* only ports checked before this one */
        if (json_integer_value(v) == (json_int_t)p)
            return true;
    }
    return false;
}

static int check_ports(const struct row *r, struct task_row *t)
{
    const struct task_config *tc = &t->config->task;
    if (!json_is_object(t->ports))
        return bad(r, "field `ports` is not an object");
    const char *name;
    json_t *v;
    json_object_foreach(t->ports, name, v)
    {
        size_t k = 0;
        while (k < tc->n_ports && strcmp(tc->ports[k], name) != 0)
            k++;
        if (k == tc->n_ports)
            return bad(r, "field `ports` names `%.64s`, which is not a port of job `%s`", name, t->job->key);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535)
            return bad(r, "port `%.64s` is not an integer within 0-65535", name);
        int64_t p = json_integer_value(v);
        if (t->agent && p != 0 && (p < t->agent->port_lo || p > t->agent->port_hi))
            return bad(r, "port `%.64s` is %lld, outside agent `%s`'s range %u-%u", name, (long long)p,
                       t->agent->id, t->agent->port_lo, t->agent->port_hi);
        if (t->agent && p != 0 && port_held(t->agent, (uint32_t)p, t->ports, name))
            return bad(r, "port `%.64s` is %lld, which another live task on agent `%s` holds", name,
                       (long long)p, t->agent->id);
    }
    return 0;
}

static int check_events(const struct row *r, json_t *events)
{
    if (!json_is_array(events) || json_array_size(events) > TASK_MAX_EVENTS)
        return bad(r, "field `events` is not an array of at most %d events", TASK_MAX_EVENTS);
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        enum task_state s;
        json_t *state = json_object_get(ev, "state"), *ts = json_object_get(ev, "ts");
        if (!json_is_object(ev))
            return bad(r, "event %zu is not an object", i);
        if (!json_is_string(state) || task_state_from_name(json_string_value(state), &s) < 0)
            return bad(r, "event %zu: field `state` is not a task state", i);
        if (!json_is_integer(ts) || json_integer_value(ts) < 0)
            return bad(r, "event %zu: field `ts` is not an integer >= 0", i);
        if (!json_is_string(json_object_get(ev, "message")))
            return bad(r, "event %zu: field `message` is not a string", i);
    }
    return 0;
}

static int check_task(const struct row *r, json_t *rec, struct task_row *t)
{
    struct sched_state *st = r->st;
    const char *rid, *jobkey;
    if (check_id(r, "the id", r->id) < 0 || get_str(r, rec, "id", false, &rid) < 0)
        return -1;
    if (strcmp(rid, r->id) != 0)
        return bad(r, "field `id` is `%.64s`", rid);
    if (get_str(r, rec, "job", false, &jobkey) < 0)
        return -1;
    if (!(t->job = state_job_find(st, jobkey)))
        return bad(r, "field `job` names `%.200s`, which is not in table kv_job", jobkey);
    if (get_int(r, rec, "instance", 0, INT32_MAX, &t->instance) < 0)
        return -1;
    if (t->instance >= t->job->n_current)
        return bad(r, "instance %lld is out of range: job `%s` has instances 0-%lld", (long long)t->instance,
                   t->job->key, (long long)t->job->n_current - 1);
    int64_t cid;
    if (get_int_opt(r, rec, "config_id", 0, INT32_MAX, state_job_config_id(t->job, t->job->config), &cid) < 0)
        return -1;
    if (!(t->config = state_job_config_by_id(t->job, cid)))
        return bad(r, "field `config_id` is %lld, which is not a config of job `%s`", (long long)cid, t->job->key);
    json_t *kr = json_object_get(rec, "kill_requested");
    if (!json_is_boolean(kr))
        return bad(r, "field `kill_requested` is not a boolean");
    t->kill_requested = json_is_true(kr);
    if (get_state(r, rec, "state", &t->state) < 0 ||
        get_int(r, rec, "failure_count", 0, INT32_MAX, &t->failure_count) < 0 ||
        get_int(r, rec, "consecutive_flaps", 0, INT32_MAX, &t->flaps) < 0 ||
        get_int(r, rec, "running_since", 0, INT64_MAX, &t->running_since) < 0 ||
        get_int(r, rec, "throttle_until", 0, INT64_MAX, &t->throttle_until) < 0 ||
        get_int(r, rec, "created_ms", 0, INT64_MAX, &t->created_ms) < 0 ||
        get_int(r, rec, "executor_pid", 0, INT32_MAX, &t->pid) < 0 ||
        get_str(r, rec, "ancestor_id", true, &t->ancestor_id) < 0 ||
        get_str(r, rec, "agent_id", true, &t->agent_id) < 0 || get_str(r, rec, "message", false, &t->message) < 0 ||
        get_str(r, rec, "pending_reason", true, &t->pending_reason) < 0)
        return -1;
    if (t->ancestor_id && check_id(r, "field `ancestor_id`", t->ancestor_id) < 0)
        return -1;
    if (t->agent_id && check_id(r, "field `agent_id`", t->agent_id) < 0)
        return -1;
    /* Agents are never deleted from the store, so a task holding resources
     * always names a stored one. */
    if (holds_resources(t->state)) {
        if (!t->agent_id)
            return bad(r, "state %s needs an agent, and field `agent_id` is null", task_state_name(t->state));
        if (!(t->agent = state_agent_find(st, t->agent_id)))
            return bad(r, "field `agent_id` names `%.64s`, which is not in table kv_agent", t->agent_id);
    }
    t->ports = json_object_get(rec, "ports");
    t->events = json_object_get(rec, "events");
    t->processes = json_object_get(rec, "processes");
    if (check_ports(r, t) < 0 || check_events(r, t->events) < 0)
        return -1;
    if (!json_is_array(t->processes))
        return bad(r, "field `processes` is not an array");
    if (state_task_find(st, r->id))
        return bad(r, "task loaded twice");
    return 0;
}

/* The in-memory task of a checked row (either reader); hashv is its id's
 * hash (HASH_VALUE), computed once for the duplicate check and the add. */
static struct sched_task *add_task(struct sched_state *st, const char *id, unsigned hashv,
                                   const struct task_row *tr)
{
    struct sched_job *j = tr->job;
    struct sched_task *t = bo_xcalloc(1, sizeof(*t));
    t->id = bo_xstrdup(id);
    t->job = j;
    t->config = job_config_ref(tr->config);
    t->instance = (int32_t)tr->instance;
    t->state = tr->state;
    st->count_by_state[tr->state]++;
    t->ancestor_id = tr->ancestor_id ? bo_xstrdup(tr->ancestor_id) : NULL;
    t->failure_count = (int32_t)tr->failure_count;
    t->consecutive_flaps = (int32_t)tr->flaps;
    t->kill_requested = tr->kill_requested;
    state_task_set_message(t, tr->message);
    t->pending_reason = tr->pending_reason ? state_reason_new(tr->pending_reason) : NULL;
    t->running_since = tr->running_since;
    t->throttle_until = tr->throttle_until;
    t->created_ms = tr->created_ms;
    t->executor_pid = (int32_t)tr->pid;
    /* No processes reported is NULL, as for a new task (shown as `[]`):
     * an empty jansson array would cost 120 bytes a task. */
    t->processes = json_array_size(tr->processes) ? json_incref(tr->processes) : NULL;
    t->state_since_mono = t->pending_since_mono = bo_mono_ms();
    /* As state_task_push_event, with the stored times (at most
     * TASK_MAX_EVENTS: the ring does not wrap). */
    for (size_t i = 0; i < tr->n_ev; i++)
        t->events[i] = (struct task_event){tr->ev[i].ts, tr->ev[i].state,
                                           tr->ev[i].message && *tr->ev[i].message ? bo_xstrdup(tr->ev[i].message)
                                                                                   : NULL};
    t->n_events = (int)tr->n_ev;
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, st->tasks, t->id, strlen(t->id), hashv, t);
    DL_APPEND2(j->tasks, t, j_prev, j_next);
    if (tr->agent_id && !tr->agent) /* binding copies the agent's id */
        t->agent_id = bo_xstrdup(tr->agent_id);
    const struct task_config *tc = &t->config->task;
    if (tc->n_ports) {
        t->ports = bo_xcalloc(tc->n_ports, sizeof(uint16_t));
        memcpy(t->ports, tr->port_vals, tc->n_ports * sizeof(uint16_t));
    }
    if (tr->agent)
        state_task_bind_agent(st, t, tr->agent, NULL);
    return t;
}

/* ---- tasks, the flat reader ---------------------------------------------- */

/* The rows this build writes are read with jscan (base/jscan.h), straight
 * into a task_row: a jansson tree per row (about 100 allocations for 26
 * keys and 4 events) was most of a restart's time. Any row it does not
 * take (outside the subset the writer produces, or failing a check) is
 * read again by the jansson reader (below), which names what is wrong: the
 * refusals are the same whichever reader saw the row first. */
bool state_load_flat = true;
size_t state_load_flat_rows;

struct task_loader {
    struct sched_state *st;
    char *buf; /* the row's text, read in place */
    size_t cap;
    /* The newest task added while every id so far came in ascending
     * order (SQLite gives rows by primary key): an id above it cannot be
     * a task loaded before, so no lookup (a cache miss a row) is needed. */
    const char *last_id;
    bool ascending;
};

enum {
    F_ID, F_JOB, F_INSTANCE, F_STATE, F_FAILURES, F_FLAPS, F_KILL, F_PORTS, F_RUNNING_SINCE, F_THROTTLE,
    F_CREATED, F_PID, F_EVENTS, F_ANCESTOR, F_AGENT, F_MESSAGE, F_REASON, F_PROCESSES, F_CONFIG_ID, F_COUNT
};

/* In the order state.c writes them (so the next key is usually the one
 * expected), each at most once; config_id is optional, as in old rows. */
static const char *const task_keys[F_COUNT] = {
    "id", "job", "instance", "state", "failure_count", "consecutive_flaps", "kill_requested", "ports",
    "running_since", "throttle_until", "created_ms", "executor_pid", "events", "ancestor_id", "agent_id",
    "message", "pending_reason", "processes", "config_id",
};

struct flat_row {
    const char *s[F_COUNT]; /* string fields (NULL: null) */
    int64_t i[F_COUNT];     /* integer fields */
    size_t n_ports;
    const char *port_name[JOB_MAX_PORTS];
    int64_t port[JOB_MAX_PORTS];
    size_t n_ev;
    const char *ev_state[TASK_MAX_EVENTS];
    bool has_config_id;
};

static bool flat_str(struct jscan *s, bool nullable, const char **ret)
{
    if (nullable && jscan_peek(s) == JSCAN_NULL) {
        *ret = NULL;
        return jscan_null(s);
    }
    return jscan_string(s, ret);
}

static bool flat_ports(struct jscan *s, struct flat_row *f)
{
    const char *name;
    int k;
    if (!jscan_object(s))
        return false;
    while ((k = jscan_key(s, &name)) == 1) {
        if (f->n_ports == JOB_MAX_PORTS || !jscan_int(s, &f->port[f->n_ports]))
            return false;
        for (size_t i = 0; i < f->n_ports; i++)
            if (strcmp(f->port_name[i], name) == 0)
                return false; /* jansson keeps the last: leave it to that reader */
        f->port_name[f->n_ports++] = name;
    }
    return k == 0;
}

static bool flat_events(struct jscan *s, struct flat_row *f, struct task_row *tr)
{
    int k;
    if (!jscan_array(s))
        return false;
    while ((k = jscan_element(s)) == 1) {
        if (f->n_ev == TASK_MAX_EVENTS || !jscan_object(s))
            return false;
        const char *key, *state = NULL, *message = NULL;
        int64_t ts = -1;
        bool have_ts = false;
        int m;
        while ((m = jscan_key(s, &key)) == 1) {
            if (strcmp(key, "state") == 0 && !state) {
                if (!jscan_string(s, &state))
                    return false;
            } else if (strcmp(key, "ts") == 0 && !have_ts) {
                if (!jscan_int(s, &ts))
                    return false;
                have_ts = true;
            } else if (strcmp(key, "message") == 0 && !message) {
                if (!jscan_string(s, &message))
                    return false;
            } else {
                return false;
            }
        }
        if (m != 0 || !state || !message || ts < 0)
            return false;
        f->ev_state[f->n_ev] = state;
        tr->ev[f->n_ev].ts = ts;
        tr->ev[f->n_ev].message = message;
        f->n_ev++;
    }
    tr->n_ev = f->n_ev;
    return k == 0;
}

/* Read the row's fields (types only). */
static bool flat_read(struct jscan *s, struct flat_row *f, struct task_row *tr)
{
    uint32_t seen = 0;
    const char *key;
    int k, last = -1;
    if (!jscan_object(s))
        return false;
    while ((k = jscan_key(s, &key)) == 1) {
        int x = last + 1 < F_COUNT && strcmp(key, task_keys[last + 1]) == 0 ? last + 1 : -1;
        for (int i = 0; x < 0 && i < F_COUNT; i++)
            if (strcmp(key, task_keys[i]) == 0)
                x = i;
        if (x < 0 || (seen & (1u << x)))
            return false; /* unknown or twice: the jansson reader decides */
        seen |= 1u << x;
        last = x;
        bool ok;
        switch (x) {
        case F_ID: case F_JOB: case F_STATE: case F_MESSAGE:
            ok = jscan_string(s, &f->s[x]);
            break;
        case F_ANCESTOR: case F_AGENT: case F_REASON:
            ok = flat_str(s, true, &f->s[x]);
            break;
        case F_KILL:
            ok = jscan_bool(s, &tr->kill_requested);
            break;
        case F_PORTS:
            ok = flat_ports(s, f);
            break;
        case F_EVENTS:
            ok = flat_events(s, f, tr);
            break;
        case F_PROCESSES:
            ok = !tr->processes && json_scan_array(s, 0, &tr->processes);
            break;
        default:
            ok = jscan_int(s, &f->i[x]);
        }
        if (!ok)
            return false;
    }
    uint32_t required = ((1u << F_COUNT) - 1) & ~(1u << F_CONFIG_ID);
    f->has_config_id = seen & (1u << F_CONFIG_ID);
    return k == 0 && jscan_done(s) && (seen & required) == required;
}

static bool in_range(int64_t x, int64_t min, int64_t max) { return x >= min && x <= max; }

/* The checks of check_task on what flat_read read; r's error is a scratch
 * one (the jansson reader words the refusal). */
static bool flat_check(const struct row *r, struct flat_row *f, struct task_row *t)
{
    struct sched_state *st = r->st;
    if (check_id(r, "the id", r->id) < 0 || strcmp(f->s[F_ID], r->id) != 0 ||
        !(t->job = state_job_find(st, f->s[F_JOB])) || !in_range(f->i[F_INSTANCE], 0, t->job->n_current - 1))
        return false;
    t->instance = f->i[F_INSTANCE];
    int64_t cid = f->has_config_id ? f->i[F_CONFIG_ID] : state_job_config_id(t->job, t->job->config);
    if (!in_range(cid, 0, INT32_MAX) || !(t->config = state_job_config_by_id(t->job, cid)) ||
        task_state_from_name(f->s[F_STATE], &t->state) < 0 || !in_range(f->i[F_FAILURES], 0, INT32_MAX) ||
        !in_range(f->i[F_FLAPS], 0, INT32_MAX) || f->i[F_RUNNING_SINCE] < 0 || f->i[F_THROTTLE] < 0 ||
        f->i[F_CREATED] < 0 || !in_range(f->i[F_PID], 0, INT32_MAX))
        return false;
    t->failure_count = f->i[F_FAILURES];
    t->flaps = f->i[F_FLAPS];
    t->running_since = f->i[F_RUNNING_SINCE];
    t->throttle_until = f->i[F_THROTTLE];
    t->created_ms = f->i[F_CREATED];
    t->pid = f->i[F_PID];
    t->ancestor_id = f->s[F_ANCESTOR];
    t->agent_id = f->s[F_AGENT];
    t->message = f->s[F_MESSAGE];
    t->pending_reason = f->s[F_REASON];
    if ((t->ancestor_id && check_id(r, "field `ancestor_id`", t->ancestor_id) < 0) ||
        (t->agent_id && check_id(r, "field `agent_id`", t->agent_id) < 0))
        return false;
    if (holds_resources(t->state) && (!t->agent_id || !(t->agent = state_agent_find(st, t->agent_id))))
        return false;
    const struct task_config *tc = &t->config->task;
    for (size_t i = 0; i < f->n_ports; i++) {
        size_t k = 0;
        while (k < tc->n_ports && strcmp(tc->ports[k], f->port_name[i]) != 0)
            k++;
        int64_t p = f->port[i];
        if (k == tc->n_ports || !in_range(p, 0, 65535))
            return false;
        if (t->agent && p != 0) {
            const struct sched_agent *a = t->agent;
            if (p < a->port_lo || p > a->port_hi || state_agent_port_used(a, p))
                return false;
            for (size_t o = 0; o < i; o++)
                if (f->port[o] == p)
                    return false;
        }
        t->port_vals[k] = (uint16_t)p;
    }
    for (size_t i = 0; i < f->n_ev; i++)
        if (task_state_from_name(f->ev_state[i], &t->ev[i].state) < 0)
            return false;
    return true;
}

static void note_added(struct task_loader *l, const struct sched_task *t)
{
    if (l->last_id && strcmp(t->id, l->last_id) <= 0)
        l->ascending = false;
    l->last_id = t->id;
}

/* 1: the row was read and its task added; 0: leave it to the jansson reader. */
static int load_task_flat(struct task_loader *l, const char *id, const char *value)
{
    size_t len = strlen(value);
    if (len + 1 > l->cap) {
        l->cap = len + 1 > 2 * l->cap ? len + 1 : 2 * l->cap;
        l->buf = bo_xrealloc(l->buf, l->cap);
    }
    memcpy(l->buf, value, len + 1);
    struct jscan s;
    jscan_init(&s, l->buf, len);
    struct flat_row f;
    f.n_ports = f.n_ev = 0;
    struct task_row tr = {0};
    _cleanup_error_ bo_error_t scratch = NULL;
    struct row r = {l->st, "task", id, &scratch};
    bool ok = flat_read(&s, &f, &tr);
    unsigned hashv;
    HASH_VALUE(id, strlen(id), hashv);
    struct sched_task *twice = NULL;
    if (!ok || !flat_check(&r, &f, &tr))
        ok = false;
    else if (!l->ascending || (l->last_id && strcmp(id, l->last_id) <= 0))
        HASH_FIND_BYHASHVALUE(hh, l->st->tasks, id, strlen(id), hashv, twice);
    if (ok && !twice) {
        note_added(l, add_task(l->st, id, hashv, &tr));
        state_load_flat_rows++;
    } else {
        ok = false;
    }
    json_decref(tr.processes);
    return ok;
}

/* ---- tasks, the jansson reader --------------------------------------------- */

static int load_task(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    struct task_loader *l = ctx;
    if (state_load_flat && load_task_flat(l, id, value))
        return 0;
    struct row r = {l->st, "task", id, err};
    json_t *rec = parse(&r, value);
    if (!rec)
        return -1;
    struct task_row tr = {0};
    if (check_task(&r, rec, &tr) < 0) {
        json_decref(rec);
        return -1;
    }
    const struct task_config *tc = &tr.config->task;
    for (size_t k = 0; k < tc->n_ports; k++)
        tr.port_vals[k] = (uint16_t)json_integer_value(json_object_get(tr.ports, tc->ports[k]));
    size_t i;
    json_t *ev;
    json_array_foreach(tr.events, i, ev)
    {
        task_state_from_name(json_string_value(json_object_get(ev, "state")), &tr.ev[i].state); /* checked */
        tr.ev[i].ts = json_integer_value(json_object_get(ev, "ts"));
        tr.ev[i].message = json_string_value(json_object_get(ev, "message"));
    }
    tr.n_ev = json_array_size(tr.events);
    unsigned hashv;
    HASH_VALUE(id, strlen(id), hashv);
    note_added(l, add_task(l->st, id, hashv, &tr));
    json_decref(rec);
    return 0;
}

/* ---- updates ------------------------------------------------------------- */

/* Bounds of a stored update: its instances and its events. */
#define UPDATE_EVENTS_MAX (8 * JOB_MAX_INSTANCES + 1000)

static int get_bool(const struct row *r, json_t *o, const char *name, bool *ret)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_boolean(v))
        return bad(r, "field `%s` is not a boolean", name);
    *ret = json_is_true(v);
    return 0;
}

/* A short text a user gave (message, user, request id): a string within
 * `max` bytes, or null when `nullable`. */
static int get_text(const struct row *r, json_t *o, const char *name, bool nullable, size_t max, const char **ret)
{
    if (get_str(r, o, name, nullable, ret) < 0)
        return -1;
    if (*ret && strlen(*ret) > max)
        return bad(r, "field `%s` is longer than %zu bytes", name, max);
    return 0;
}

static int load_update_instances(const struct row *r, json_t *arr, struct sched_update *u)
{
    if (!json_is_array(arr) || json_array_size(arr) > JOB_MAX_INSTANCES)
        return bad(r, "field `instances` is not an array of at most %d instances", JOB_MAX_INSTANCES);
    u->inst = bo_xcalloc(json_array_size(arr) + 1, sizeof(*u->inst));
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        struct update_instance *x = &u->inst[u->n_inst];
        int64_t inst, failures;
        const char *action, *phase, *task_id, *prefer = NULL;
        enum update_action a;
        enum update_phase p;
        if (!json_is_object(o))
            return bad(r, "instances[%zu] is not an object", i);
        if (get_int(r, o, "instance", 0, JOB_MAX_INSTANCES - 1, &inst) < 0 ||
            get_int(r, o, "failures", 0, INT32_MAX, &failures) < 0 || get_str(r, o, "action", false, &action) < 0 ||
            get_str(r, o, "phase", false, &phase) < 0 || get_bool(r, o, "touched", &x->touched) < 0 ||
            get_str(r, o, "task_id", true, &task_id) < 0 || get_str(r, o, "prefer_agent", true, &prefer) < 0)
            return -1;
        if (prefer && check_id(r, "field `prefer_agent`", prefer) < 0)
            return -1;
        if (update_action_from_name(action, &a) < 0)
            return bad(r, "instances[%zu]: field `action` is `%.32s`, not add, kill or replace", i, action);
        if (update_phase_from_name(phase, &p) < 0)
            return bad(r, "instances[%zu]: field `phase` is `%.32s`, not an instance phase", i, phase);
        /* In instance order, each once: the driver walks them so. */
        if (u->n_inst && inst <= u->inst[u->n_inst - 1].instance)
            return bad(r, "instances[%zu]: instance %lld is not after the one before", i, (long long)inst);
        if (task_id && check_id(r, "field `task_id`", task_id) < 0)
            return -1;
        x->instance = (int32_t)inst;
        x->action = (uint8_t)a;
        x->phase = (uint8_t)p;
        x->failures = (int32_t)failures;
        x->task_id = task_id ? bo_xstrdup(task_id) : NULL;
        x->prefer_agent = prefer ? bo_xstrdup(prefer) : NULL;
        u->n_inst++;
    }
    return 0;
}

/* "scope": null (absent in older records) or the instances, ascending. */
static int load_update_scope(const struct row *r, json_t *arr, struct sched_update *u)
{
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > JOB_MAX_INSTANCES)
        return bad(r, "field `scope` is not null or a list of 1 to %d instances", JOB_MAX_INSTANCES);
    u->scope = bo_xcalloc(json_array_size(arr), sizeof(*u->scope));
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= JOB_MAX_INSTANCES ||
            (i > 0 && json_integer_value(v) <= u->scope[i - 1]))
            return bad(r, "scope[%zu] is not an instance above the one before", i);
        u->scope[u->n_scope++] = json_integer_value(v);
    }
    return 0;
}

static int load_update_events(const struct row *r, json_t *arr, struct sched_update *u)
{
    if (!json_is_array(arr) || json_array_size(arr) > UPDATE_EVENTS_MAX)
        return bad(r, "field `events` is not an array of at most %d events", UPDATE_EVENTS_MAX);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        int64_t ts, inst;
        const char *what, *user, *message;
        if (!json_is_object(o))
            return bad(r, "events[%zu] is not an object", i);
        if (get_int(r, o, "ts", 0, INT64_MAX, &ts) < 0 || get_int(r, o, "instance", -1, JOB_MAX_INSTANCES - 1, &inst) < 0 ||
            get_text(r, o, "what", false, 64, &what) < 0 || get_text(r, o, "user", true, STORE_ID_MAX, &user) < 0 ||
            get_text(r, o, "message", true, 4096, &message) < 0)
            return -1;
        update_push_event(u, (int32_t)inst, what, user, message, ts);
    }
    return 0;
}

/* The same bounds as the job file's `update:` fields (model/job.c). */
static int load_update_settings(const struct row *r, json_t *o, struct update_settings *ret)
{
    static const struct {
        const char *name;
        size_t offset;
        int64_t min, max;
    } ints[] = {
        {"batch_size", offsetof(struct update_settings, batch_size), 1, JOB_MAX_INSTANCES},
        {"watch_secs", offsetof(struct update_settings, watch_secs), 0, 86400},
        {"max_per_instance_failures", offsetof(struct update_settings, max_per_instance_failures), 0, 1000},
        {"max_total_failures", offsetof(struct update_settings, max_total_failures), 0, JOB_MAX_INSTANCES},
    };
    if (!json_is_object(o))
        return bad(r, "field `settings` is not an object");
    *ret = (struct update_settings){0};
    for (size_t i = 0; i < BO_ARRAY_SIZE(ints); i++)
        if (get_int(r, o, ints[i].name, ints[i].min, ints[i].max, (int64_t *)((char *)ret + ints[i].offset)) < 0)
            return -1;
    const char *strategy;
    json_t *sizes = json_object_get(o, "batch_sizes");
    if (get_bool(r, o, "rollback_on_failure", &ret->rollback_on_failure) < 0 ||
        get_bool(r, o, "autopause_after_batch", &ret->autopause_after_batch) < 0 ||
        get_int(r, o, "pulse_interval_secs", 0, 86400, &ret->pulse_interval_secs) < 0 ||
        get_str(r, o, "strategy", false, &strategy) < 0)
        return -1;
    if (update_strategy_from_name(strategy, &ret->strategy) < 0)
        return bad(r, "field `settings.strategy` is `%.32s`, not queue, batch or variable", strategy);
    if (!json_is_array(sizes) || json_array_size(sizes) > JOB_MAX_BATCH_SIZES)
        return bad(r, "field `settings.batch_sizes` is not a list of at most %d sizes", JOB_MAX_BATCH_SIZES);
    size_t i;
    json_t *v;
    json_array_foreach(sizes, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > JOB_MAX_INSTANCES)
            return bad(r, "settings.batch_sizes[%zu] is not within 1-%d", i, JOB_MAX_INSTANCES);
        ret->batch_sizes[ret->n_batch_sizes++] = json_integer_value(v);
    }
    return 0;
}

static int load_update(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    struct row r = {ctx, "update", id, err};
    if (check_id(&r, "the id", id) < 0)
        return -1;
    json_t *rec = parse(&r, value);
    if (!rec)
        return -1;
    int ret = -1;
    struct sched_update *u = NULL;
    const char *rid, *jobkey, *status, *user, *message, *request_id, *kind;
    int64_t created, updated, failed, from_id = -1, to_id = -1, batches, paused_after, pulse_until;
    struct update_settings settings;
    enum update_status us;
    struct sched_job *j;
    if (get_str(&r, rec, "id", false, &rid) < 0 || get_str(&r, rec, "job", false, &jobkey) < 0 ||
        get_str(&r, rec, "status", false, &status) < 0 ||
        get_text(&r, rec, "user", false, STORE_ID_MAX, &user) < 0 ||
        get_text(&r, rec, "message", true, UPDATE_MESSAGE_MAX, &message) < 0 ||
        get_text(&r, rec, "request_id", true, UPDATE_REQUEST_ID_MAX, &request_id) < 0 ||
        get_int(&r, rec, "created_ms", 0, INT64_MAX, &created) < 0 ||
        get_int(&r, rec, "updated_ms", 0, INT64_MAX, &updated) < 0 ||
        get_int(&r, rec, "failed_instances", 0, JOB_MAX_INSTANCES, &failed) < 0 ||
        get_str(&r, rec, "kind", false, &kind) < 0 ||
        get_int(&r, rec, "batches", 0, JOB_MAX_INSTANCES, &batches) < 0 ||
        get_int(&r, rec, "paused_after", 0, JOB_MAX_INSTANCES, &paused_after) < 0 ||
        get_int(&r, rec, "pulse_until_ms", 0, INT64_MAX, &pulse_until) < 0 ||
        load_update_settings(&r, json_object_get(rec, "settings"), &settings) < 0)
        goto out;
    if (strcmp(kind, "update") != 0 && strcmp(kind, "restart") != 0) {
        bad(&r, "field `kind` is `%.32s`, not update or restart", kind);
        goto out;
    }
    if (strcmp(rid, id) != 0) {
        bad(&r, "field `id` is `%.64s`", rid);
        goto out;
    }
    if (!(j = state_job_find(r.st, jobkey))) {
        bad(&r, "field `job` names `%.200s`, which is not in table kv_job", jobkey);
        goto out;
    }
    if (update_status_from_name(status, &us) < 0) {
        bad(&r, "field `status` is `%.32s`, not an update status", status);
        goto out;
    }
    if (json_is_integer(json_object_get(rec, "from_config_id")) &&
        get_int(&r, rec, "from_config_id", 0, INT32_MAX, &from_id) < 0)
        goto out;
    if (json_is_integer(json_object_get(rec, "to_config_id")) &&
        get_int(&r, rec, "to_config_id", 0, INT32_MAX, &to_id) < 0)
        goto out;
    struct job_config *from = from_id >= 0 ? state_job_config_by_id(j, from_id) : NULL;
    struct job_config *to = to_id >= 0 ? state_job_config_by_id(j, to_id) : NULL;
    if (update_status_is_active(us)) {
        /* An active update is driven on: everything it names must be here. */
        if (j->update) {
            bad(&r, "job `%s` has another active update, `%s`", j->key, j->update->id);
            goto out;
        }
        if (!from || !to) {
            bad(&r, "an active update's `from_config_id` and `to_config_id` must name configs of job `%s`", j->key);
            goto out;
        }
    }
    u = update_new(j, id);
    u->status = (uint8_t)us;
    u->settings = settings;
    u->batches = (int32_t)batches;
    u->paused_after = (int32_t)paused_after;
    u->pulse_until_ms = pulse_until;
    u->restart = strcmp(kind, "restart") == 0;
    u->from = from ? job_config_ref(from) : NULL;
    u->to = to ? job_config_ref(to) : NULL;
    u->user = bo_xstrdup(user);
    u->message = message ? bo_xstrdup(message) : NULL;
    u->request_id = request_id ? bo_xstrdup(request_id) : NULL;
    u->created_ms = created;
    u->failed_instances = (int32_t)failed;
    if (load_update_instances(&r, json_object_get(rec, "instances"), u) < 0 ||
        load_update_scope(&r, json_object_get(rec, "scope"), u) < 0 ||
        load_update_events(&r, json_object_get(rec, "events"), u) < 0)
        goto out;
    u->updated_ms = updated;
    for (size_t i = 0; i < u->n_inst; i++)
        if (u->inst[i].instance >= j->n_current && update_status_is_active(us) &&
            u->inst[i].instance >= u->to->instances) {
            bad(&r, "instances: instance %d is beyond job `%s`'s %lld instance slots", u->inst[i].instance, j->key,
                (long long)j->n_current);
            goto out;
        }
    if (update_status_is_active(us)) {
        j->update = u;
        state_job_reserve_instances(j, u->to->instances);
    }
    u = NULL;
    ret = 0;
out:
    if (u)
        update_free(r.st, u);
    json_decref(rec);
    return ret;
}

static int cmp_created(struct sched_task *a, struct sched_task *b)
{
    return a->created_ms < b->created_ms ? -1 : a->created_ms > b->created_ms;
}

int state_load(struct sched_state *st, bo_error_t *err)
{
    struct task_loader tasks = {.st = st, .ascending = HASH_COUNT(st->tasks) == 0};
    state_load_flat_rows = 0;
    /* Jobs and agents first: tasks refer to them. */
    if (store_load(st->store, "job", load_job, st, err) < 0 ||
        store_load(st->store, "agent", load_agent, st, err) < 0 ||
        store_load(st->store, "task", load_task, &tasks, err) < 0 ||
        store_load(st->store, "update", load_update, st, err) < 0) {
        free(tasks.buf);
        return -1;
    }
    free(tasks.buf);
    /* The current task of an instance is the newest one. Creation times tie
     * when a task is rescheduled within the same millisecond, so a task
     * whose ancestor is the current one always wins. Instances were
     * range-checked on load. */
    struct sched_job *j, *jtmp;
    HASH_ITER(hh, st->jobs, j, jtmp)
    {
        DL_SORT2(j->tasks, cmp_created, j_prev, j_next);
        struct sched_task *t;
        int64_t n = 0;
        DL_FOREACH2(j->tasks, t, j_next)
        {
            j->current[t->instance] = t;
            n++;
        }
        /* Each pass moves some instance one step down its ancestor chain;
         * more passes than tasks means the chain loops (damaged rows). */
        for (int64_t pass = 0;; pass++) {
            struct sched_task *moved = NULL;
            DL_FOREACH2(j->tasks, t, j_next)
            {
                if (!t->ancestor_id)
                    continue;
                struct sched_task *cur = j->current[t->instance];
                if (cur != t && strcmp(t->ancestor_id, cur->id) == 0) {
                    j->current[t->instance] = t;
                    moved = t;
                }
            }
            if (!moved)
                break;
            if (pass > n) {
                struct row r = {st, "task", moved->id, err};
                return bad(&r, "field `ancestor_id` is part of a cycle of ancestors (instance %d of job `%s`)",
                           moved->instance, j->key);
            }
        }
    }
    return 0;
}
