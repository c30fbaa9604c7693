/* agent_sync.c - POST /api/v1/agents/sync. */
#include "scheduler/agent_sync.h"

#include <string.h>
#include <utlist.h>

#include "base/clock.h"
#include "base/log.h"
#include "scheduler/lifecycle.h"
#include "scheduler/scheduler.h"

/* Kept on the request across a suspend, so the resumed call knows whose
 * commands to send. */
struct sync_ctx {
    char *agent_id;
    json_t *acks;
};

static void sync_ctx_free(void *p)
{
    struct sync_ctx *c = p;
    free(c->agent_id);
    json_decref(c->acks);
    free(c);
}

/* Agent-reportable states. */
static bool update_state_ok(enum task_state s)
{
    return s == TASK_STARTING || s == TASK_RUNNING || s == TASK_FINISHED || s == TASK_FAILED ||
           s == TASK_KILLED || s == TASK_LOST;
}

static int kill_stray(struct sched_agent *a, json_t *strays, const char *task_id)
{
    json_array_append_new(strays, json_string(task_id));
    a->has_work = true;
    return 0;
}

static int register_agent(struct sched_state *st, json_t *body, struct sched_agent **ret, bo_error_t *err)
{
    const char *id = NULL, *hostname = NULL;
    json_t *res = NULL, *range = NULL, *attrs = NULL;
    double cpu = 0;
    json_int_t ram = 0, disk = 0, lo = 0, hi = 0;
    json_error_t jerr;
    if (json_unpack_ex(body, &jerr, 0, "{s:s, s:s, s:o, s:o, s?o}", "agent_id", &id, "hostname", &hostname,
                       "resources", &res, "port_range", &range, "attributes", &attrs) < 0)
        return bo_error_set(err, BO_E_INVALID, "sync request: %s", jerr.text);
    if (job_ident_validate(id, "agent_id", err) < 0)
        return -1;
    if (json_unpack_ex(res, &jerr, 0, "{s:F, s:I, s:I}", "cpu", &cpu, "ram", &ram, "disk", &disk) < 0 ||
        json_unpack_ex(range, &jerr, 0, "[I, I]", &lo, &hi) < 0)
        return bo_error_set(err, BO_E_INVALID, "sync request resources/port_range: %s", jerr.text);
    if (cpu < 0 || ram < 0 || disk < 0 || lo < 1 || hi > 65535 || lo > hi)
        return bo_error_set(err, BO_E_INVALID, "sync request: resources must be >= 0 and port_range within 1-65535");
    if (attrs && !json_is_object(attrs))
        return bo_error_set(err, BO_E_INVALID, "sync request: attributes must be an object");

    struct sched_agent *a = state_agent_find(st, id);
    bool changed = false;
    if (!a) {
        a = bo_xcalloc(1, sizeof(*a));
        a->id = bo_xstrdup(id);
        a->hostname = bo_xstrdup(hostname);
        a->attributes = json_object();
        state_agent_set_ports(a, (uint32_t)lo, (uint32_t)hi);
        state_agent_add(st, a);
        changed = true;
        log_info("agent %s (%s) registered: cpu %g, ram %lld, disk %lld, ports %lld-%lld", hostname, id, cpu,
                 (long long)ram, (long long)disk, (long long)lo, (long long)hi);
    }
    if (strcmp(a->hostname, hostname) != 0) {
        free(a->hostname);
        a->hostname = bo_xstrdup(hostname);
        changed = true;
    }
    if (a->cpu != cpu || a->ram != (uint64_t)ram || a->disk != (uint64_t)disk) {
        a->cpu = cpu;
        a->ram = (uint64_t)ram;
        a->disk = (uint64_t)disk;
        changed = true;
        st->placement_due = true;
    }
    /* A new port range only takes effect while no task holds ports. */
    if ((a->port_lo != lo || a->port_hi != hi) && a->n_tasks == 0) {
        state_agent_set_ports(a, (uint32_t)lo, (uint32_t)hi);
        changed = true;
    }
    if (attrs && !json_equal(attrs, a->attributes)) {
        json_decref(a->attributes);
        a->attributes = json_deep_copy(attrs);
        changed = true;
    }
    if (!a->up) {
        a->up = true;
        st->agents_up++;
        st->placement_due = true;
        if (!changed)
            log_info("agent %s (%s) is back", a->hostname, a->id);
    }
    lifecycle_agent_seen(st, a);
    a->last_seen_wall = bo_wall_ms();
    if (changed && state_save_agent(st, a, err) < 0)
        return -1;
    *ret = a;
    return 0;
}

static int apply_update(struct sched_state *st, struct sched_agent *a, json_t *u, json_t *acks, json_t *strays,
                        bo_error_t *err)
{
    json_int_t seq = 0, pid = 0;
    const char *task_id = NULL, *state = NULL, *msg = "";
    json_t *procs = NULL;
    if (json_unpack(u, "{s:I, s:s, s:s, s?s, s?I, s?o}", "seq", &seq, "task_id", &task_id, "state", &state,
                    "message", &msg, "executor_pid", &pid, "processes", &procs) < 0 ||
        seq < 1)
        return 0; /* malformed entry: skipped, not acked (the agent refuses an ack below 1) */
    enum task_state s;
    json_array_append_new(acks, json_integer(seq));
    if (task_state_from_name(state, &s) < 0 || !update_state_ok(s))
        return 0;
    struct sched_task *t = state_task_find(st, task_id);
    if (!t) {
        if (task_state_is_active(s))
            kill_stray(a, strays, task_id);
        return 0;
    }
    if (!t->agent_id || strcmp(t->agent_id, a->id) != 0)
        return 0; /* a stale report from an agent the task is no longer on */
    bool info_changed = false;
    if (pid && pid != t->executor_pid) {
        t->executor_pid = (int32_t)pid;
        info_changed = true;
    }
    if (procs && json_is_array(procs) && !json_equal(procs, t->processes)) {
        json_decref(t->processes);
        t->processes = json_incref(procs);
        info_changed = true;
    }
    if (t->state == s) {
        return info_changed ? state_save_task(st, t, err) : 0;
    }
    int r = lifecycle_transition(st, t, s, msg, err);
    if (r < 0)
        return -1;
    if (r == 0) {
        /* Not a legal move: a duplicate or an old update, or a task we hold
         * terminal that the agent says is alive, which must be killed. */
        if (task_state_is_terminal(t->state) && task_state_is_active(s))
            kill_stray(a, strays, task_id);
        else if (info_changed)
            return state_save_task(st, t, err);
    }
    return 0;
}

/* Boot or periodic inventory: what the agent runs versus what we think. */
static int reconcile(struct sched_state *st, struct sched_agent *a, json_t *inventory, json_t *strays,
                     bo_error_t *err)
{
    json_t *seen = json_object();
    json_t *item;
    size_t i;
    json_array_foreach(inventory, i, item)
    {
        const char *id = json_string_value(json_object_get(item, "task_id"));
        const char *sn = json_string_value(json_object_get(item, "state"));
        enum task_state s;
        if (!id || !sn || task_state_from_name(sn, &s) < 0)
            continue;
        json_object_set_new(seen, id, json_true());
        struct sched_task *t = state_task_find(st, id);
        if (task_state_is_active(s) && (!t || !task_state_is_active(t->state)))
            kill_stray(a, strays, id);
    }
    struct sched_task *t, *tmp;
    int r = 0;
    DL_FOREACH_SAFE2(a->tasks, t, tmp, a_next)
    {
        if (json_object_get(seen, t->id))
            continue;
        if (t->state == TASK_ASSIGNED) {
            t->last_command_mono = 0; /* the launch was lost: send it again */
            a->has_work = true;
            continue;
        }
        if (lifecycle_transition(st, t, TASK_LOST, "agent restarted without this task", err) < 0) {
            r = -1;
            break;
        }
    }
    json_decref(seen);
    return r;
}

/* Launches and kills due for agent `a`, plus kills of strays. */
static json_t *build_answer(struct sched_state *st, struct sched_agent *a, json_t *acks, json_t *strays)
{
    int64_t now = bo_mono_ms();
    json_t *launch = json_array(), *kill = json_array();
    struct sched_task *t;
    DL_FOREACH2(a->tasks, t, a_next)
    {
        if (t->state != TASK_ASSIGNED && t->state != TASK_KILLING)
            continue;
        if (t->last_command_mono && now - t->last_command_mono < st->opt.command_resend_ms)
            continue;
        t->last_command_mono = now;
        lifecycle_arm_timer(st, t); /* its resend is now a deadline */
        if (t->state == TASK_KILLING) {
            json_array_append_new(kill, json_pack("{s:s, s:I}", "task_id", t->id, "grace_ms",
                                                  (json_int_t)t->config->task.kill_grace_ms));
            continue;
        }
        json_t *ports = json_object();
        for (size_t i = 0; i < t->config->task.n_ports; i++)
            json_object_set_new(ports, t->config->task.ports[i], json_integer(t->ports[i]));
        json_array_append_new(launch, json_pack("{s:s, s:s, s:i, s:o, s:o}", "task_id", t->id, "job", t->job->key,
                                                "instance", t->instance, "ports", ports, "task",
                                                task_config_to_json(&t->config->task)));
    }
    json_t *s;
    size_t i;
    json_array_foreach(strays, i, s)
    json_array_append_new(kill, json_pack("{s:O, s:i}", "task_id", s, "grace_ms", 5000));
    a->has_work = false;
    return json_pack("{s:O, s:o, s:o, s:I}", "acks", acks ? acks : json_array(), "launch", launch, "kill", kill,
                     "heartbeat_ms", (json_int_t)(st->opt.agent_timeout_ms / 3));
}

int agent_sync_apply(struct sched_state *st, json_t *body, struct sched_agent **ret_agent, json_t **ret_answer,
                     bo_error_t *err)
{
    json_t *updates = json_object_get(body, "updates");
    json_t *inventory = json_object_get(body, "inventory");
    if ((updates && !json_is_array(updates)) || (inventory && !json_is_array(inventory)))
        return bo_error_set(err, BO_E_INVALID, "sync request: updates and inventory must be arrays");
    if (store_begin(st->store, err) < 0)
        return -1;
    json_t *acks = json_array(), *strays = json_array();
    struct sched_agent *a = NULL;
    int r = register_agent(st, body, &a, err);
    json_t *u;
    size_t i;
    json_array_foreach(updates, i, u)
    {
        if (r < 0)
            break;
        r = apply_update(st, a, u, acks, strays, err);
    }
    if (r == 0 && inventory)
        r = reconcile(st, a, inventory, strays, err);
    if (r == 0)
        r = store_commit(st->store, err);
    else
        store_rollback(st->store);
    if (r < 0) {
        json_decref(acks);
        json_decref(strays);
        return -1;
    }
    json_t *answer = build_answer(st, a, acks, strays);
    json_decref(acks);
    json_decref(strays);
    *ret_agent = a;
    *ret_answer = answer;
    return 0;
}

void agent_sync_handle(struct http_request *req, void *ctx)
{
    struct scheduler *sch = ctx;
    struct sched_state *st = &sch->state;
    if (req->resumed) {
        struct sync_ctx *c = req->user;
        if (st->fatal) { /* no commands from memory the store does not hold */
            http_reply_error(req, 503, "UNAVAILABLE", "the scheduler is stopping after a store failure");
            return;
        }
        struct sched_agent *a = state_agent_find(st, c->agent_id);
        if (!a) {
            http_reply_error(req, 404, "NOT_FOUND", "agent `%s` is unknown", c->agent_id);
            return;
        }
        if (a->waiting == req)
            a->waiting = NULL;
        json_t *strays = json_array();
        http_reply_json(req, 200, build_answer(st, a, c->acks, strays));
        json_decref(strays);
        return;
    }
    json_t *body = http_body_json(req);
    if (!body)
        return;
    _cleanup_error_ bo_error_t err = NULL;
    json_int_t wait_ms = json_integer_value(json_object_get(body, "wait_ms"));
    struct sched_agent *a = NULL;
    json_t *answer = NULL;
    int r = agent_sync_apply(st, body, &a, &answer, &err);
    json_decref(body);
    if (r < 0) {
        /* Nothing was acked, so the agent resends; but memory may have
         * moved ahead of the store, which is fatal. */
        if (!state_error_is_clean(err))
            state_fatal(st, "applying an agent sync", err->msg);
        http_reply_bo_error(req, err);
        return;
    }
    json_t *acks = json_object_get(answer, "acks");
    bool empty = json_array_size(acks) == 0 && json_array_size(json_object_get(answer, "launch")) == 0 &&
                 json_array_size(json_object_get(answer, "kill")) == 0;
    if (empty && wait_ms > 0) {
        struct sync_ctx *c = bo_xcalloc(1, sizeof(*c));
        c->agent_id = bo_xstrdup(a->id);
        c->acks = json_incref(acks);
        json_decref(answer);
        req->user = c;
        req->user_free = sync_ctx_free;
        if (a->waiting) /* a newer poll replaces the old one */
            http_resume(a->waiting);
        a->waiting = req;
        a->waiting_deadline_mono = bo_mono_ms() + (wait_ms < SYNC_MAX_WAIT_MS ? wait_ms : SYNC_MAX_WAIT_MS);
        http_suspend(req);
        return;
    }
    http_reply_json(req, 200, answer);
}

void agent_sync_release_all(struct sched_state *st)
{
    struct sched_agent *a, *tmp;
    HASH_ITER(hh, st->agents, a, tmp)
    {
        if (a->waiting) {
            struct http_request *w = a->waiting;
            a->waiting = NULL;
            http_resume(w);
        }
    }
}

void agent_sync_wake(struct sched_state *st, int64_t now_mono)
{
    struct sched_agent *a, *tmp;
    HASH_ITER(hh, st->agents, a, tmp)
    {
        if (!a->waiting)
            continue;
        if (a->has_work || now_mono >= a->waiting_deadline_mono) {
            struct http_request *w = a->waiting;
            a->waiting = NULL;
            http_resume(w);
        }
    }
}

int64_t agent_sync_next_deadline(const struct sched_state *st)
{
    int64_t next = -1;
    const struct sched_agent *a, *tmp;
    HASH_ITER(hh, st->agents, a, tmp)
    {
        if (a->waiting && (next < 0 || a->waiting_deadline_mono < next))
            next = a->waiting_deadline_mono;
    }
    return next;
}
