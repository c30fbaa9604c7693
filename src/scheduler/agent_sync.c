/* agent_sync.c - POST /api/v1/agents/sync. */
#include "scheduler/agent_sync.h"

#include <stddef.h>
#include <string.h>
#include <uthash.h>
#include <utlist.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/utf8.h"
#include "scheduler/durable.h"
#include "scheduler/lifecycle.h"
#include "scheduler/scheduler.h"
#include "scheduler/exec_session.h"
#include "scheduler/sync_request.h"
#include "scheduler/task_read.h"

/* Kept on a parked poll across its suspend, so the resumed call knows
 * whose commands to send and which acks it holds (only an answer with
 * nothing in it but acks parks); and on a request whose answer waits for
 * the store, so the agent counts as waiting on us until it is sent. */
struct sync_ctx {
    struct sched_agent *agent;
    char *acks; /* the acks held, as JSON array elements ("17,18"); NULL for none */
    bool kept;  /* counted in agent->answers_kept */
};

/* When the request is done: its answer sent, or its connection gone.
 * Agents are never freed while requests are served (state.h). */
static void sync_ctx_free(void *p)
{
    struct sync_ctx *c = p;
    if (c->kept)
        c->agent->answers_kept--;
    free(c->acks);
    free(c);
}

/* What applying a sync adds to its answer, written as JSON text while the
 * request is applied (an answer is written straight into a buffer, not
 * built as a jansson tree and dumped: three syncs per task started). Each
 * buffer holds the elements of one array, comma-separated. */
struct sync_reply {
    struct bo_buf acks;     /* seq numbers */
    struct bo_buf rejected; /* {"seq","reason"} */
    struct bo_buf strays;   /* kills of tasks the agent should not run: {"task_id","grace_ms"} */
};

static void sync_reply_clear(struct sync_reply *r)
{
    bo_buf_free(&r->acks);
    bo_buf_free(&r->rejected);
    bo_buf_free(&r->strays);
}

/* Before the next element of an array being written into b. */
static void next_elem(struct bo_buf *b)
{
    if (b->len)
        bo_buf_add(b, ",", 1);
}

static void add_kill(struct bo_buf *b, const char *task_id, int64_t grace_ms)
{
    next_elem(b);
    bo_buf_adds(b, "{\"task_id\":");
    bo_buf_json_str(b, task_id);
    bo_buf_adds(b, ",\"grace_ms\":");
    bo_buf_i64(b, grace_ms);
    bo_buf_add(b, "}", 1);
}

static void add_rejected(struct sync_reply *r, int64_t seq, const char *reason)
{
    /* Reasons quote what the agent sent, cut at a byte count: possibly in
     * the middle of a character, which the agent's parser would refuse. */
    _cleanup_free_ char *clean = bo_utf8_sanitize(reason);
    next_elem(&r->rejected);
    bo_buf_adds(&r->rejected, "{\"seq\":");
    bo_buf_i64(&r->rejected, seq);
    bo_buf_adds(&r->rejected, ",\"reason\":");
    bo_buf_json_str(&r->rejected, clean);
    bo_buf_add(&r->rejected, "}", 1);
}

static int kill_stray(struct sched_agent *a, struct sync_reply *rep, const char *task_id)
{
    add_kill(&rep->strays, task_id, 5000);
    a->has_work = true;
    return 0;
}

/* The registration a sync carries (boot, after a failure, when asked), of
 * the right types: what the json_unpack_ex formats in register_agent
 * accept, read without parsing a format on each such sync (old agents
 * send it on all of them). False: let
 * json_unpack_ex decide and word the error. */
struct registration {
    const char *id, *hostname;
    json_t *attrs;
    double cpu;
    json_int_t ram, disk, lo, hi;
};

static bool registration_typed(json_t *body, struct registration *r)
{
    json_t *res = json_object_get(body, "resources"), *range = json_object_get(body, "port_range");
    json_t *cpu = json_object_get(res, "cpu"), *ram = json_object_get(res, "ram"), *disk = json_object_get(res, "disk");
    r->id = json_string_value(json_object_get(body, "agent_id"));
    r->hostname = json_string_value(json_object_get(body, "hostname"));
    if (!r->id || !r->hostname || !json_is_object(res) || !json_is_number(cpu) || !json_is_integer(ram) ||
        !json_is_integer(disk) || !json_is_array(range) || json_array_size(range) < 2 ||
        !json_is_integer(json_array_get(range, 0)) || !json_is_integer(json_array_get(range, 1)))
        return false;
    r->attrs = json_object_get(body, "attributes");
    r->cpu = json_number_value(cpu);
    r->ram = json_integer_value(ram);
    r->disk = json_integer_value(disk);
    r->lo = json_integer_value(json_array_get(range, 0));
    r->hi = json_integer_value(json_array_get(range, 1));
    return true;
}

static int register_agent(struct sched_state *st, json_t *body, struct sched_agent **ret, bo_error_t *err)
{
    struct registration reg = {0};
    bool typed = registration_typed(body, &reg);
    if (!typed) {
        json_t *res = NULL, *range = NULL;
        json_error_t jerr;
        if (json_unpack_ex(body, &jerr, 0, "{s:s, s:s, s:o, s:o, s?o}", "agent_id", &reg.id, "hostname",
                           &reg.hostname, "resources", &res, "port_range", &range, "attributes", &reg.attrs) < 0)
            return bo_error_set(err, BO_E_INVALID, "sync request: %s", jerr.text);
        if (job_ident_validate(reg.id, "agent_id", err) < 0)
            return -1;
        if (json_unpack_ex(res, &jerr, 0, "{s:F, s:I, s:I}", "cpu", &reg.cpu, "ram", &reg.ram, "disk", &reg.disk) < 0 ||
            json_unpack_ex(range, &jerr, 0, "[I, I]", &reg.lo, &reg.hi) < 0)
            return bo_error_set(err, BO_E_INVALID, "sync request resources/port_range: %s", jerr.text);
    }
    const char *id = reg.id, *hostname = reg.hostname;
    json_t *attrs = reg.attrs;
    double cpu = reg.cpu;
    json_int_t ram = reg.ram, disk = reg.disk, lo = reg.lo, hi = reg.hi;
    if (typed && job_ident_validate(id, "agent_id", err) < 0)
        return -1;
    if (cpu < 0 || ram < 0 || disk < 0 || lo < 1 || hi > 65535 || lo > hi)
        return bo_error_set(err, BO_E_INVALID, "sync request: resources must be >= 0 and port_range within 1-65535");
    /* What an agent claims is believed for placement: bound it by what the
     * operator says a machine can have. */
    const struct sched_options *o = &st->opt;
    if ((o->max_agent_cpu > 0 && cpu > o->max_agent_cpu) || (o->max_agent_ram && (uint64_t)ram > o->max_agent_ram) ||
        (o->max_agent_disk && (uint64_t)disk > o->max_agent_disk))
        return bo_error_set(err, BO_E_INVALID,
                            "sync request: the agent claims cpu %g, ram %lld, disk %lld: above the scheduler's "
                            "limits (--max-agent-cpu %g, --max-agent-ram %llu, --max-agent-disk %llu)",
                            cpu, (long long)ram, (long long)disk, o->max_agent_cpu,
                            (unsigned long long)o->max_agent_ram, (unsigned long long)o->max_agent_disk);
    if (attrs && !json_is_object(attrs))
        return bo_error_set(err, BO_E_INVALID, "sync request: attributes must be an object");
    const char *aname;
    json_t *aval;
    json_object_foreach(attrs, aname, aval)
    {
        if (!json_is_string(aval)) /* placement compares strings (the parser refuses a NUL in one) */
            return bo_error_set(err, BO_E_INVALID, "sync request: attribute `%.64s` must be a string", aname);
    }
    json_t *lv = json_object_get(body, "leaving");
    if (lv && !json_is_boolean(lv))
        return bo_error_set(err, BO_E_INVALID, "sync request: leaving must be a boolean");
    bool leaving = json_is_true(lv);

    struct sched_agent *a = state_agent_find(st, id);
    bool changed = false, fresh = !a;
    if (!a && st->opt.max_agents > 0 && (int64_t)HASH_COUNT(st->agents) >= st->opt.max_agents)
        return bo_error_set(err, BO_E_REFUSED, "sync request: the cluster has its maximum of %lld agents (--max-agents)",
                            (long long)st->opt.max_agents);
    if (!a) {
        a = bo_xcalloc(1, sizeof(*a));
        a->id = bo_xstrdup(id);
        a->hostname = bo_xstrdup(hostname);
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
    if (attrs && !state_agent_attrs_equal(a, attrs)) {
        state_agent_set_attrs(a, attrs);
        changed = true;
    }
    if (!a->up && !leaving) {
        /* Back from LOST or UNKNOWN (a scheduler restart): what it runs is
         * checked against what we hold before anything else (explicit
         * reconciliation), so a copy replaced elsewhere is killed. */
        if (a->state == AGENT_LOST || a->state == AGENT_UNKNOWN)
            a->needs_inventory = true;
        lifecycle_agent_set_state(st, a, AGENT_UP,
                                  fresh ? "registered"
                                  : json_is_true(json_object_get(body, "boot")) ? "synced after its restart"
                                                                                : "synced again");
    } else if (a->up && leaving) {
        /* Down, so nothing is placed on it; not timed out either, since it
         * said goodbye. Its next boot sync brings it back. */
        lifecycle_agent_set_state(st, a, AGENT_DOWN, "it is shutting down");
    }
    lifecycle_agent_seen(st, a);
    a->last_seen_wall = bo_wall_ms();
    if (changed && state_save_agent(st, a, err) < 0)
        return -1;
    *ret = a;
    return 0;
}

/* The agent ended the task itself (it is shutting down, or it crashed while
 * launching it): the task did nothing wrong. It goes through DRAINING, so
 * it is rescheduled as a scheduler-side interruption, without a flapping
 * penalty and without counting a failure (Aurora treats a drained host the
 * same way). A task the user is killing just ends. */
static int end_by_agent(struct sched_state *st, struct sched_agent *a, struct sched_task *t,
                        const struct sync_update *u, bo_error_t *err)
{
    enum task_state to = u->state == TASK_FAILED ? TASK_LOST : u->state;
    if (!t->kill_requested && t->state != TASK_KILLING) {
        _cleanup_free_ char *m = bo_xasprintf("agent %s (%s) stopped the task", a->hostname, a->id);
        if (lifecycle_transition(st, t, TASK_DRAINING, m, err) < 0)
            return -1;
    }
    return lifecycle_transition(st, t, to, u->message, err);
}

/* The agent is shutting down and kills every task it runs: each becomes
 * DRAINING now (an interruption: rescheduled without penalty when its
 * KILLED arrives, or LOST by the transient timeout if it never does); a
 * task not launched yet is lost at once. A kill the user asked for just
 * completes. */
static int drain_leaving_agent(struct sched_state *st, struct sched_agent *a, bo_error_t *err)
{
    _cleanup_free_ char *m = bo_xasprintf("agent %s (%s) is shutting down", a->hostname, a->id);
    struct sched_task *t, *tmp;
    DL_FOREACH_SAFE2(a->tasks, t, tmp, a_next)
    {
        if (t->kill_requested || !task_state_is_active(t->state) || t->state == TASK_KILLING)
            continue;
        bool launched = t->state != TASK_ASSIGNED;
        if (lifecycle_transition(st, t, TASK_DRAINING, m, err) < 0)
            return -1;
        if (!launched && lifecycle_transition(st, t, TASK_LOST, "the agent shut down before starting it", err) < 0)
            return -1;
    }
    return 0;
}

/* Apply one entry. Every entry with a valid seq is acked (applied, a
 * harmless duplicate, or rejected with a reason in `rejected`), so one bad
 * entry can never hold back the agent's queue. */
static int apply_update(struct sched_state *st, struct sched_agent *a, const struct sync_update *u,
                        struct sync_reply *rep, bo_error_t *err)
{
    if (u->seq < 1) {
        /* Nothing to ack it with: an agent of this protocol never sends one. */
        log_warn("agent %s: an update without a valid seq ignored", a->id);
        return 0;
    }
    _cleanup_free_ char *owned = NULL;
    const char *reason = u->reason;
    next_elem(&rep->acks);
    bo_buf_i64(&rep->acks, u->seq);
    struct sched_task *t = reason ? NULL : state_task_find(st, u->task_id);
    if (!reason && !t) {
        if (task_state_is_active(u->state))
            kill_stray(a, rep, u->task_id);
        reason = owned = bo_xasprintf("task `%.200s` is unknown to the scheduler", u->task_id);
    } else if (!reason && (!t->agent_id || strcmp(t->agent_id, a->id) != 0)) {
        reason = owned = bo_xasprintf("task `%.200s` is not on this agent (stale report)", u->task_id);
    }
    if (reason) {
        add_rejected(rep, u->seq, reason);
        return 0;
    }
    bool info_changed = false;
    if (u->executor_pid && u->executor_pid != t->executor_pid) {
        t->executor_pid = (int32_t)u->executor_pid;
        info_changed = true;
    }
    if (u->processes && !json_equal(u->processes, t->processes)) {
        json_decref(t->processes);
        t->processes = json_incref(u->processes);
        info_changed = true;
    }
    if (t->state == u->state)
        return info_changed ? state_save_task(st, t, err) : 0;
    /* A task that finished on its own finished, whoever was stopping. */
    bool by_agent = u->agent_cause && task_state_is_active(t->state) && u->state != TASK_FINISHED;
    int r = by_agent ? end_by_agent(st, a, t, u, err) : lifecycle_transition(st, t, u->state, u->message, err);
    if (r < 0)
        return -1;
    if (r == 0) {
        /* Not a legal move: an old update, or a task we hold terminal that
         * the agent says is alive, which must be killed. */
        if (task_state_is_terminal(t->state) && task_state_is_active(u->state))
            kill_stray(a, rep, u->task_id);
        add_rejected(rep, u->seq, task_state_refusal(t->state, u->state));
        if (info_changed)
            return state_save_task(st, t, err);
    }
    return 0;
}

/* Boot or periodic inventory: what the agent runs versus what we think. */
static int reconcile(struct sched_state *st, struct sched_agent *a, const struct sync_request *rq,
                     struct sync_reply *rep, bo_error_t *err)
{
    json_t *seen = json_object();
    for (size_t i = 0; i < rq->n_inventory; i++) {
        const char *id = rq->inventory[i].task_id, *sn = rq->inventory[i].state;
        enum task_state s;
        if (!id || !sn || task_state_from_name(sn, &s) < 0)
            continue;
        json_object_set_new(seen, id, json_true());
        struct sched_task *t = state_task_find(st, id);
        if (task_state_is_active(s) && (!t || !task_state_is_active(t->state)))
            kill_stray(a, rep, id);
        /* Its agent is back and the task still runs there: RUNNING again.
         * (Terminal states come as journaled updates.) */
        else if (t && t->state == TASK_PARTITIONED && t->agent == a && task_state_is_active(s) && s != TASK_KILLING &&
                 lifecycle_transition(st, t, s == TASK_STARTING ? TASK_STARTING : TASK_RUNNING,
                                      "its agent is back", err) < 0) {
            json_decref(seen);
            return -1;
        }
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
        if (lifecycle_task_lost_with_agent(st, t, "agent restarted without this task", err) < 0) {
            r = -1;
            break;
        }
    }
    json_decref(seen);
    return r;
}

static void add_buf(struct bo_buf *out, const struct bo_buf *b)
{
    if (b->len)
        bo_buf_add(out, b->p, b->len);
}

static void add_launch(struct bo_buf *b, struct sched_task *t, bool first)
{
    const struct task_config *tc = &t->config->task;
    bo_buf_adds(b, first ? "{\"task_id\":" : ",{\"task_id\":");
    bo_buf_json_str(b, t->id);
    bo_buf_adds(b, ",\"job\":");
    bo_buf_json_str(b, t->job->key);
    bo_buf_adds(b, ",\"instance\":");
    bo_buf_i64(b, t->instance);
    bo_buf_adds(b, ",\"ports\":{");
    for (size_t i = 0; i < tc->n_ports; i++) {
        if (i)
            bo_buf_add(b, ",", 1);
        bo_buf_json_key(b, tc->ports[i]);
        bo_buf_i64(b, t->ports[i]);
    }
    /* The task object is the same for every instance of a config: written
     * once, kept on the config. */
    bo_buf_adds(b, "},\"task\":");
    bo_buf_adds(b, job_config_launch_text(t->config));
    bo_buf_add(b, "}", 1);
}

/* `,"key":` and v as JSON (taken). For the rare parts of an answer (a
 * user's `task logs`, `task run`), made as trees by their modules. */
static void add_json_field(struct bo_buf *b, const char *key, json_t *v)
{
    _cleanup_free_ char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!text)
        return; /* not UTF-8 (they are built from parsed JSON): the reads time out for their users */
    bo_buf_add(b, ",", 1);
    bo_buf_json_key(b, key);
    bo_buf_adds(b, text);
}

/* Write into `out` the answer for agent `a`: what applying its sync added
 * (rep), the launches and kills due for it, and kills of strays. At most
 * SYNC_MAX_COMMANDS launches and kills per answer: an agent launches a
 * batch in about 4 ms a task, so a bounded batch keeps its loop (and its
 * heartbeat and status updates) turning; the rest go with its next sync,
 * which is answered at once (has_work stays set). Returns whether the
 * answer holds anything but acks: something rejected, launched, killed,
 * read or exec'd. A poll whose answer holds no more than acks may park;
 * one with execs must not, as they are taken here. */
static bool build_answer(struct sched_state *st, struct sched_agent *a, const struct sync_reply *rep,
                         struct bo_buf *out)
{
    int64_t now = bo_mono_ms();
    struct bo_buf kill = {0};
    struct sched_task *t;
    size_t n = 0;
    bool more = false;
    /* Launches are written straight into the answer: each is most of 1
     * KiB, and a buffer of their own grew and was copied again. */
    bo_buf_adds(out, "{\"acks\":[");
    add_buf(out, &rep->acks);
    bo_buf_adds(out, "],\"launch\":[");
    size_t launch_at = out->len;
    /* The tasks awaiting a command come first (state.h): the walk stops
     * when it has seen them all, not after every task the agent runs
     * (a cache miss or two each: 5% of the loop's CPU while 100,000 tasks
     * start). */
    int32_t seen = 0;
    for (t = a->tasks; t && seen < a->n_awaiting; t = t->a_next) {
        if (!task_state_awaits_agent(t->state))
            continue;
        seen++;
        if (t->last_command_mono && now - t->last_command_mono < st->opt.command_resend_ms)
            continue;
        if (n++ >= SYNC_MAX_COMMANDS) {
            more = true;
            break;
        }
        t->last_command_mono = now;
        lifecycle_arm_timer(st, t); /* its resend is now a deadline */
        if (t->state == TASK_KILLING || t->state == TASK_DRAINING)
            add_kill(&kill, t->id, task_config_kill_budget_ms(&t->config->task));
        else
            add_launch(out, t, out->len == launch_at);
    }
    bool launched = out->len > launch_at;
    bool more_reads = false;
    json_t *reads = task_read_take(a->id, &more_reads);
    a->has_work = more || more_reads;
    json_t *execs = exec_session_take(a->id);
    bool work = launched || kill.len || rep->strays.len || rep->rejected.len || reads || execs;
    bo_buf_adds(out, "],\"kill\":[");
    add_buf(out, &kill);
    if (kill.len && rep->strays.len)
        bo_buf_add(out, ",", 1);
    add_buf(out, &rep->strays);
    bo_buf_adds(out, "],\"heartbeat_ms\":");
    bo_buf_i64(out, st->opt.agent_heartbeat_ms);
    if (reads)
        add_json_field(out, "reads", reads);
    if (execs)
        add_json_field(out, "execs", execs);
    if (a->needs_inventory)
        bo_buf_adds(out, ",\"reconcile\":true");
    if (rep->rejected.len) {
        bo_buf_adds(out, ",\"rejected\":[");
        add_buf(out, &rep->rejected);
        bo_buf_add(out, "]", 1);
    }
    bo_buf_add(out, "}", 1);
    bo_buf_free(&kill);
    return work;
}

/* Kept in memory only: a sample every few seconds is not worth a write,
 * and after a restart the next one comes within SYNC_USAGE_EVERY_MS. */
static void apply_usage(struct sched_state *st, struct sched_agent *a, json_t *usage)
{
    json_t *item;
    size_t i;
    json_array_foreach(usage, i, item)
    {
        struct sched_task *t = state_task_find(st, json_string_value(json_object_get(item, "task_id")));
        if (!t || t->agent != a)
            continue; /* another agent's task is not this one's to describe */
        /* Its values are numbers and nulls nobody changes: shared, not copied. */
        json_t *u = json_copy(item);
        json_object_del(u, "task_id");
        json_decref(t->usage);
        t->usage = u;
    }
}

/* The agent of a bare sync (one without the registration), if what the
 * scheduler holds of it can be trusted without its registration: an agent
 * that registered with this scheduler process and is up, or down because
 * it said it is leaving and still says so. NULL for an unknown agent, one
 * held only from the store (UNKNOWN after a restart), one marked LOST, and
 * one coming back from DOWN: each of those changes the agent's state, and
 * the registration comes with that. A boot sync always carries it. */
static struct sched_agent *trusted_agent(struct sched_state *st, const struct sync_request *rq)
{
    struct sched_agent *a = state_agent_find(st, rq->agent_id);
    if (!a || rq->boot)
        return NULL;
    if (a->state == AGENT_UP || (a->state == AGENT_DOWN && rq->leaving))
        return a;
    return NULL;
}

/* A bare sync of a known agent: what register_agent does besides taking
 * the registration in. */
static int refresh_agent(struct sched_state *st, struct sched_agent *a, const struct sync_request *rq,
                         bo_error_t *err)
{
    if (rq->leaving_bad)
        return bo_error_set(err, BO_E_INVALID, "sync request: leaving must be a boolean");
    if (a->up && rq->leaving)
        lifecycle_agent_set_state(st, a, AGENT_DOWN, "it is shutting down");
    lifecycle_agent_seen(st, a);
    a->last_seen_wall = bo_wall_ms();
    return 0;
}

/* The answer to a bare sync the scheduler cannot apply: nothing applied,
 * nothing acked, send the registration now. */
static void build_register_answer(struct sched_state *st, struct bo_buf *out)
{
    bo_buf_adds(out, "{\"acks\":[],\"launch\":[],\"kill\":[],\"heartbeat_ms\":");
    bo_buf_i64(out, st->opt.agent_heartbeat_ms);
    bo_buf_adds(out, ",\"register\":true}");
}

int agent_sync_apply_text(struct sched_state *st, const struct sync_request *rq, struct bo_buf *out,
                          struct sync_outcome *ret, bo_error_t *err)
{
    *ret = (struct sync_outcome){0};
    /* A sync without an agent_id, or with part of a registration, goes
     * through register_agent, which refuses it with the message it always
     * gave. Only the jansson reader lets either through (it holds body). */
    bool bare = rq->agent_id && !rq->registration;
    struct sched_agent *a = NULL;
    if (bare) {
        if (job_ident_validate(rq->agent_id, "agent_id", err) < 0)
            return -1;
        if (!(a = trusted_agent(st, rq))) {
            build_register_answer(st, out);
            return 0;
        }
    }
    if (rq->arrays_bad)
        return bo_error_set(err, BO_E_INVALID, "sync request: updates and inventory must be arrays");
    if (sync_request_check_usage(rq, err) < 0)
        return -1;
    if (store_begin(st->store, err) < 0)
        return -1;
    struct sync_reply rep = {0};
    int r = bare ? refresh_agent(st, a, rq, err) : register_agent(st, rq->body, &a, err);
    for (size_t i = 0; r == 0 && i < rq->n_updates; i++)
        r = apply_update(st, a, &rq->updates[i], &rep, err);
    if (r == 0 && rq->has_inventory) {
        r = reconcile(st, a, rq, &rep, err);
        a->needs_inventory = false;
    }
    if (r == 0 && rq->leaving)
        r = drain_leaving_agent(st, a, err);
    if (r == 0)
        r = lifecycle_maintenance_progress(st, a, err);
    /* Into the loop's group commit: the answer (which acks) leaves only
     * once it is durable (durable.h). */
    if (r == 0)
        r = store_commit_deferred(st->store, err);
    else
        store_rollback(st->store);
    if (r == 0 && rq->usage)
        apply_usage(st, a, rq->usage);
    if (r == 0) {
        ret->agent = a;
        ret->may_wait = !build_answer(st, a, &rep, out);
        if (ret->may_wait && rep.acks.len)
            ret->acks = bo_xstrndup(rep.acks.p, rep.acks.len);
    }
    sync_reply_clear(&rep);
    return r < 0 ? -1 : 0;
}

/* Read `text` as the HTTP handler does: the fast reader, and jansson
 * for what it does not take (false if that is not a JSON object either). */
static bool read_request(const char *text, size_t len, struct sync_request *ret)
{
    if (sync_request_scan(text, len, ret))
        return true;
    json_t *body = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return false;
    }
    sync_request_from_json(body, ret);
    return true;
}

int agent_sync_apply(struct sched_state *st, json_t *body, struct sched_agent **ret_agent, json_t **ret_answer,
                     bo_error_t *err)
{
    /* Through the text, as from an agent: whichever reader takes it. */
    _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
    struct sync_request rq;
    if (!text || !read_request(text, strlen(text), &rq))
        return bo_error_set(err, BO_E_INVALID, "sync request: not a JSON object");
    struct bo_buf out = {0};
    struct sync_outcome o;
    int r = agent_sync_apply_text(st, &rq, &out, &o, err);
    sync_request_clear(&rq);
    if (r < 0) {
        bo_buf_free(&out);
        return -1;
    }
    free(o.acks);
    json_error_t jerr;
    json_t *answer = json_loadb(out.p, out.len, JSON_REJECT_DUPLICATES, &jerr);
    bo_buf_free(&out);
    if (!answer)
        return bo_error_set(err, BO_E_INTERNAL, "the sync answer written is not JSON: %s", jerr.text);
    *ret_agent = o.agent;
    *ret_answer = answer;
    return 0;
}

/* Suspended long polls, at most one per agent, keyed by agent id. A parked
 * HTTP request is plumbing of this protocol, not cluster state, so it lives
 * here rather than on struct sched_agent. One scheduler per process, so
 * one table. */
struct parked_poll {
    struct sched_agent *agent; /* the key */
    struct http_request *req;
    int64_t parked_mono;
    struct bo_timer deadline; /* in poll_deadlines: answered empty then */
    UT_hash_handle hh;
};
static struct parked_poll *parked;
/* The parked polls by deadline: with thousands of agents parked, neither
 * the loop's timeout nor the wake may walk them all (ready agents come
 * from st->ready, state_agent_has_work). */
static struct bo_timer_heap poll_deadlines;

/* Parked polls end on a grid of this many ms: libmicrohttpd walks its
 * whole list of suspended connections (one per idle agent) in every pass
 * that resumes one, so deadlines a few ms apart cost a walk each. On the
 * grid they end together: with 10,000 idle agents (5,000 heartbeats a
 * second) this took the scheduler's CPU from 36% to 25% of a core, the
 * walk from 16% of it to 4%. An answer at most this much later than
 * asked is nothing to an agent (it is timed out after several
 * heartbeats). */
#define PARK_GRAIN_MS 100

static void park(struct sched_agent *a, struct http_request *req, int64_t deadline_mono)
{
    deadline_mono = (deadline_mono + PARK_GRAIN_MS - 1) / PARK_GRAIN_MS * PARK_GRAIN_MS;
    struct parked_poll *p = NULL;
    HASH_FIND_PTR(parked, &a, p);
    if (p) {
        /* A newer poll replaces the old one, which is answered now. */
        struct http_request *old = p->req;
        p->req = req;
        p->parked_mono = bo_mono_ms();
        bo_timer_arm(&poll_deadlines, &p->deadline, deadline_mono);
        http_resume(old);
    } else {
        p = bo_xcalloc(1, sizeof(*p));
        p->agent = a;
        p->req = req;
        p->parked_mono = bo_mono_ms();
        bo_timer_arm(&poll_deadlines, &p->deadline, deadline_mono);
        HASH_ADD_PTR(parked, agent, p);
    }
    http_suspend(req);
}

/* Forget p and answer its request (the handler runs again, resumed). */
static void unpark(struct parked_poll *p)
{
    HASH_DEL(parked, p);
    bo_timer_disarm(&poll_deadlines, &p->deadline);
    struct http_request *req = p->req;
    free(p);
    http_resume(req);
}

/* Over TLS an agent's identity is its certificate (issued at join, CN =
 * agent id): a sync must come with it, claim that id, from an agent not
 * revoked, that synced before or joined recently. Answers and returns
 * false otherwise. */
bool agent_sync_identity_ok(struct scheduler *sch, struct http_request *req, const char *claimed)
{
    _cleanup_free_ char *cn = http_peer_identity(req);
    if (!cn) {
        http_reply_error(req, 401, "UNAUTHENTICATED",
                         "an agent sync needs the agent's client certificate: join the cluster first "
                         "(borealis agent --join-token-file FILE)");
        return false;
    }
    if (!claimed || strcmp(cn, claimed) != 0) {
        http_reply_error(req, 403, "FORBIDDEN", "the certificate is agent `%s`'s; this sync claims to be agent `%s`",
                         cn, claimed ? claimed : "(none)");
        return false;
    }
    if (agent_auth_is_revoked(&sch->agent_auth, cn)) {
        http_reply_error(req, 403, "FORBIDDEN", "agent `%s` is revoked", cn);
        return false;
    }
    if (!state_agent_find(&sch->state, cn) && !agent_auth_is_pending(&sch->agent_auth, cn, bo_mono_ms())) {
        http_reply_error(req, 403, "FORBIDDEN",
                         "agent `%s` joined more than --join-expiry ago without syncing: join again under a new "
                         "id (remove agent-id, agent.pem and agent.key from its data directory)", cn);
        return false;
    }
    return true;
}

/* Send the answer written in out (emptied). */
static void reply(struct http_request *req, struct bo_buf *out)
{
    bo_buf_add(out, "\n", 1);
    http_reply_text(req, 200, "application/json", bo_buf_steal(out));
}

/* Send agent a's answer written in out (emptied) once the store holds
 * everything written before it: the updates it acks, and the placements
 * and kills whose commands it carries (durable.h). Meanwhile the agent
 * waits on us, and its silence is not counted against it
 * (agent_sync_is_waiting). */
static void count_kept(struct sched_agent *a, struct http_request *req)
{
    struct sync_ctx *c = req->user;
    if (!c) {
        c = bo_xcalloc(1, sizeof(*c));
        c->agent = a;
        req->user = c;
        req->user_free = sync_ctx_free;
    }
    if (!c->kept) {
        c->kept = true;
        a->answers_kept++;
    }
}

static void reply_durable(struct sched_state *st, struct sched_agent *a, struct http_request *req,
                          struct bo_buf *out)
{
    if (durable_answer(st, req))
        count_kept(a, req);
    reply(req, out);
}

/* The answer to a parked poll: the acks it holds and the commands due. */
static void answer_poll(struct scheduler *sch, struct http_request *req)
{
    struct sched_state *st = &sch->state;
    struct sync_ctx *c = req->user;
    if (st->fatal) { /* no commands from memory the store does not hold */
        http_reply_error(req, 503, "UNAVAILABLE", "the scheduler is stopping after a store failure");
        return;
    }
    struct sched_agent *a = c->agent;
    if (sch->tls && agent_auth_is_revoked(&sch->agent_auth, a->id)) {
        http_reply_error(req, 403, "FORBIDDEN", "agent `%s` is revoked", a->id);
        return;
    }
    struct sync_reply held = {0};
    if (c->acks)
        bo_buf_adds(&held.acks, c->acks);
    struct bo_buf out = {0};
    build_answer(st, a, &held, &out);
    sync_reply_clear(&held);
    reply_durable(st, a, req, &out);
}

void agent_sync_handle(struct http_request *req, void *ctx)
{
    struct scheduler *sch = ctx;
    struct sched_state *st = &sch->state;
    if (req->resumed) { /* a poll replaced by a newer one, or released at shutdown */
        answer_poll(sch, req);
        return;
    }
    struct sync_request rq;
    if (sync_request_scan(req->body, req->body_len, &rq)) {
        st->sync_reads_in_place++;
    } else {
        json_t *body = http_body_json(req); /* words what is wrong with it */
        if (!body)
            return;
        sync_request_from_json(body, &rq);
        st->sync_reads_jansson++;
    }
    if (sch->tls && !agent_sync_identity_ok(sch, req, rq.agent_id)) {
        sync_request_clear(&rq);
        return;
    }
    _cleanup_error_ bo_error_t err = NULL;
    int64_t wait_ms = rq.wait_ms;
    struct bo_buf out = {0};
    struct sync_outcome o;
    int r = agent_sync_apply_text(st, &rq, &out, &o, &err);
    struct sched_agent *a = o.agent;
    _cleanup_free_ char *acks = o.acks;
    sync_request_clear(&rq);
    if (r < 0) {
        bo_buf_free(&out);
        /* Nothing was acked, so the agent resends; but memory may have
         * moved ahead of the store, which is fatal. */
        if (!state_error_is_clean(err))
            state_fatal(st, "applying an agent sync", err->msg);
        http_reply_bo_error(req, err);
        return;
    }
    if (!a) { /* asked for its registration: nothing applied, so at once */
        reply(req, &out);
        return;
    }
    if (sch->tls) {
        /* Registered now: no longer pending, and its address is kept in
         * the connection reserve. */
        agent_auth_seen(&sch->agent_auth, a->id);
        http_trust_peer_address(req);
    }
    if (o.may_wait && wait_ms > 0) {
        /* Nothing to say but acks: held like an empty poll, the acks going
         * with the next answer (docs/protocol.md "Held acks"). */
        struct sync_ctx *c = bo_xcalloc(1, sizeof(*c));
        c->agent = a;
        c->acks = acks;
        acks = NULL;
        bo_buf_free(&out);
        req->user = c;
        req->user_free = sync_ctx_free;
        /* Never longer than the heartbeat: the agent's next request is its
         * next sign of life, whatever wait it asked for. */
        int64_t wait = wait_ms < st->opt.agent_heartbeat_ms ? wait_ms : st->opt.agent_heartbeat_ms;
        park(a, req, bo_mono_ms() + (wait < SYNC_MAX_WAIT_MS ? wait : SYNC_MAX_WAIT_MS));
        if (a->has_work) /* left from before: the next wake answers it */
            state_agent_has_work(st, a);
        return;
    }
    reply_durable(st, a, req, &out);
}

bool agent_sync_is_waiting(const struct sched_agent *a)
{
    if (a->answers_kept)
        return true;
    struct parked_poll *p = NULL;
    HASH_FIND_PTR(parked, &a, p);
    return p != NULL;
}

void agent_sync_release_all(struct sched_state *st)
{
    struct parked_poll *p, *tmp;
    HASH_ITER(hh, parked, p, tmp)
    unpark(p);
}

/* Answer a parked poll while its request is still suspended: the answer
 * is kept (durable.h) and the request resumed once, when the store holds
 * what the answer says (at the next pass if it already does). Resumed
 * first, an answer carrying launches placed a moment ago was then kept,
 * its request suspended and resumed again: two epoll_ctl calls and a pass
 * more per launch. A poll answered late because the loop was busy: the
 * agent waited on us meanwhile, so the lateness is not its silence. */
static void answer(struct scheduler *sch, struct parked_poll *p, int64_t now_mono)
{
    struct sched_state *st = &sch->state;
    struct sched_agent *a = p->agent;
    struct http_request *req = p->req;
    int64_t deadline = p->deadline.deadline_ms;
    if (now_mono > deadline)
        lifecycle_agent_seen_at(a, now_mono - (deadline - p->parked_mono));
    HASH_DEL(parked, p);
    bo_timer_disarm(&poll_deadlines, &p->deadline);
    free(p);
    http_defer_answer(req, store_barrier(st->store));
    count_kept(a, req);
    answer_poll(sch, req);
}

void agent_sync_wake(struct scheduler *sch, int64_t now_mono)
{
    struct sched_state *st = &sch->state;
    for (size_t i = 0; i < st->n_ready; i++) {
        struct sched_agent *a = st->ready[i];
        a->in_ready = false;
        struct parked_poll *p = NULL;
        HASH_FIND_PTR(parked, &a, p);
        if (p && a->has_work)
            answer(sch, p, now_mono);
    }
    st->n_ready = 0;
    struct bo_timer *tm;
    while ((tm = bo_timer_heap_pop_due(&poll_deadlines, now_mono))) {
        struct parked_poll *p = (struct parked_poll *)((char *)tm - offsetof(struct parked_poll, deadline));
        /* popped, so disarmed: unpark's disarm is a no-op; keep the
         * deadline for answer()'s lateness */
        answer(sch, p, now_mono);
    }
}

int64_t agent_sync_next_deadline(const struct sched_state *st)
{
    const struct bo_timer *tm = bo_timer_heap_peek(&poll_deadlines);
    return tm ? tm->deadline_ms : -1;
}
