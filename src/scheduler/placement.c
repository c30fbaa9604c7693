/* placement.c - bin packing of pending tasks onto agents. */
#include "scheduler/placement.h"

#include <string.h>
#include <utlist.h>

#include "base/clock.h"
#include "base/parse.h"
#include "model/constraint.h"
#include "scheduler/lifecycle.h"

/* Relaxed randomisation (Borg): look at agents from a rotating start and
 * stop once this many feasible ones have been scored. Small clusters are
 * scanned whole; large ones cost O(this) per task, not O(agents). */
#define PLACEMENT_ENOUGH_FEASIBLE 32

static bool fits(const struct sched_agent *a, const struct task_config *tc)
{
    if (a->cpu - a->used_cpu + 1e-9 < tc->cpu || a->ram - a->used_ram < tc->ram ||
        a->disk - a->used_disk < tc->disk)
        return false;
    return a->ports_free >= tc->n_ports;
}

/* Active instances of one job per agent and per attribute value, built
 * once per job per pass and kept current as the pass assigns: spread and
 * limit:N constraints count them. */
struct spread_count {
    const void *key; /* an agent, or an interned "attribute=value" string */
    int64_t n;
    UT_hash_handle hh;
};

/* Attributes whose values are counted: rack (spread by default) and each
 * limit constraint's. */
#define SPREAD_ATTRIBUTE "rack"

struct spread_job {
    const struct sched_job *job;
    struct spread_count *by_agent;
    struct spread_count *by_value; /* key: owned "attribute=value" */
    UT_hash_handle hh;
};

static char *value_key(const char *attr, const char *value)
{
    return bo_xasprintf("%s=%s", attr, value);
}

/* Asked for every candidate agent of every task placed: the key is put
 * together on the stack (a heap string per call was 3% of the scheduler's
 * CPU while placing 100,000 tasks). */
static int64_t value_count(const struct spread_job *sj, const char *attr, const char *value)
{
    if (!value)
        return 0;
    size_t la = strlen(attr), lv = strlen(value);
    char stack[256];
    _cleanup_free_ char *heap = la + lv + 2 > sizeof(stack) ? bo_xmalloc(la + lv + 2) : NULL;
    char *k = heap ? heap : stack;
    memcpy(k, attr, la);
    k[la] = '=';
    memcpy(k + la + 1, value, lv + 1);
    struct spread_count *c;
    HASH_FIND(hh, sj->by_value, k, la + 1 + lv, c);
    return c ? c->n : 0;
}

static bool counted(const struct job_config *c, const char *attr)
{
    if (strcmp(attr, SPREAD_ATTRIBUTE) == 0)
        return true;
    for (size_t i = 0; i < c->n_constraints; i++)
        if (constraint_limit(c->constraints[i].value) && strcmp(c->constraints[i].attribute, attr) == 0)
            return true;
    return false;
}

static void spread_add(struct spread_job *sj, const struct sched_agent *a)
{
    struct spread_count *c;
    HASH_FIND_PTR(sj->by_agent, &a, c);
    if (!c) {
        c = bo_xcalloc(1, sizeof(*c));
        c->key = a;
        HASH_ADD_PTR(sj->by_agent, key, c);
    }
    c->n++;
    const char *pos = NULL, *name, *value;
    while (state_agent_attr_next(a, &pos, &name, &value)) {
        if (!counted(sj->job->config, name))
            continue;
        char *k = value_key(name, value);
        HASH_FIND_STR(sj->by_value, k, c);
        if (c) {
            free(k);
        } else {
            c = bo_xcalloc(1, sizeof(*c));
            c->key = k;
            HASH_ADD_KEYPTR(hh, sj->by_value, k, strlen(k), c);
        }
        c->n++;
    }
}

static struct spread_job *spread_for(struct spread_job **all, const struct sched_job *j)
{
    struct spread_job *sj;
    HASH_FIND_PTR(*all, &j, sj);
    if (sj)
        return sj;
    sj = bo_xcalloc(1, sizeof(*sj));
    sj->job = j;
    HASH_ADD_PTR(*all, job, sj);
    for (int64_t i = 0; i < j->n_current; i++) {
        const struct sched_task *t = j->current[i];
        if (t && t->agent && task_state_is_active(t->state))
            spread_add(sj, t->agent);
    }
    return sj;
}

static int64_t spread_get(const struct spread_job *sj, const struct sched_agent *a)
{
    struct spread_count *c;
    HASH_FIND_PTR(sj->by_agent, &a, c);
    return c ? c->n : 0;
}

static void spread_free(struct spread_job **all)
{
    struct spread_job *sj, *tmp;
    HASH_ITER(hh, *all, sj, tmp)
    {
        struct spread_count *c, *ctmp;
        HASH_ITER(hh, sj->by_agent, c, ctmp)
        {
            HASH_DEL(sj->by_agent, c);
            free(c);
        }
        HASH_ITER(hh, sj->by_value, c, ctmp)
        {
            HASH_DEL(sj->by_value, c);
            free((void *)c->key);
            free(c);
        }
        HASH_DEL(*all, sj);
        free(sj);
    }
}

/* Whether agent `a` may run a task of job config `c`, as the first check
 * it fails, in the order a pending reason names them. */
enum verdict { FIT, NOT_DEDICATED, NOT_MATCHING, OVER_LIMIT, IN_MAINTENANCE, NO_RESOURCES };

static enum verdict judge(const struct sched_agent *a, const struct job_config *c, const struct spread_job *sj)
{
    /* Dedicated agents run only the jobs that ask for them, and such jobs
     * run only there. */
    const char *dedicated = state_agent_attr(a, CONSTRAINT_DEDICATED), *wanted = NULL;
    for (size_t i = 0; i < c->n_constraints; i++)
        if (strcmp(c->constraints[i].attribute, CONSTRAINT_DEDICATED) == 0)
            wanted = c->constraints[i].value;
    if ((dedicated || wanted) && !(dedicated && wanted && constraint_value_matches(wanted, dedicated)))
        return NOT_DEDICATED;
    for (size_t i = 0; i < c->n_constraints; i++) {
        const struct job_constraint *k = &c->constraints[i];
        if (strcmp(k->attribute, CONSTRAINT_DEDICATED) != 0 && !constraint_limit(k->value) &&
            !constraint_value_matches(k->value, state_agent_attr(a, k->attribute)))
            return NOT_MATCHING;
    }
    for (size_t i = 0; i < c->n_constraints; i++) {
        const struct job_constraint *k = &c->constraints[i];
        int64_t limit = constraint_limit(k->value);
        const char *v = state_agent_attr(a, k->attribute);
        if (limit && (!v || value_count(sj, k->attribute, v) >= limit))
            return OVER_LIMIT;
    }
    if (a->maintenance != MAINT_NONE)
        return IN_MAINTENANCE;
    return fits(a, &c->task) ? FIT : NO_RESOURCES;
}

/* Why config `c` fits on no agent, naming the furthest check any up agent
 * passed: DEDICATED_CONSTRAINT_MISMATCH, CONSTRAINT_MISMATCH,
 * LIMIT_NOT_SATISFIED, MAINTENANCE, or INSUFFICIENT_RESOURCES with the resource short
 * on the agents that pass the constraints. Heap string. */
static char *explain(struct sched_state *st, const struct job_config *c, const struct spread_job *sj)
{
    if (st->agents_up == 0)
        return bo_xstrdup("INSUFFICIENT_RESOURCES: no agents available");
    const struct task_config *tc = &c->task;
    enum verdict furthest = NOT_DEDICATED;
    double max_cpu = 0;
    uint64_t max_ram = 0, max_disk = 0;
    uint32_t max_ports = 0;
    struct sched_agent *a, *tmp;
    HASH_ITER(hh, st->agents, a, tmp)
    {
        if (!a->up)
            continue;
        enum verdict v = judge(a, c, sj);
        if (v > furthest)
            furthest = v;
        if (v != NO_RESOURCES)
            continue;
        if (a->cpu - a->used_cpu > max_cpu)
            max_cpu = a->cpu - a->used_cpu;
        if (a->ram - a->used_ram > max_ram)
            max_ram = a->ram - a->used_ram;
        if (a->disk - a->used_disk > max_disk)
            max_disk = a->disk - a->used_disk;
        if (a->ports_free > max_ports)
            max_ports = a->ports_free;
    }
    if (furthest == NOT_DEDICATED)
        return bo_xstrdup("DEDICATED_CONSTRAINT_MISMATCH: no up agent is dedicated to what this job asks for (or "
                          "the only ones are dedicated to other jobs)");
    if (furthest == NOT_MATCHING)
        return bo_xstrdup("CONSTRAINT_MISMATCH: no up agent has the attribute values the job's constraints ask for");
    if (furthest == IN_MAINTENANCE)
        return bo_xstrdup("MAINTENANCE: the agents that match are in maintenance (borealis host status)");
    if (furthest == OVER_LIMIT)
        return bo_xstrdup("LIMIT_NOT_SATISFIED: every agent that matches holds the job's limit:N of instances for "
                          "its attribute value");
    char need[32], have[32];
    if (max_cpu + 1e-9 < tc->cpu)
        return bo_xasprintf("INSUFFICIENT_RESOURCES: cpu (needs %g, most free on any agent %g)", tc->cpu,
                            max_cpu);
    if (max_ram < tc->ram) {
        bo_format_size(tc->ram, need, sizeof(need));
        bo_format_size(max_ram, have, sizeof(have));
        return bo_xasprintf("INSUFFICIENT_RESOURCES: ram (needs %s, most free on any agent %s)", need, have);
    }
    if (max_disk < tc->disk) {
        bo_format_size(tc->disk, need, sizeof(need));
        bo_format_size(max_disk, have, sizeof(have));
        return bo_xasprintf("INSUFFICIENT_RESOURCES: disk (needs %s, most free on any agent %s)", need, have);
    }
    if (tc->n_ports && max_ports < tc->n_ports)
        return bo_xasprintf("INSUFFICIENT_RESOURCES: ports (needs %zu, most free on any agent %u)", tc->n_ports,
                            max_ports);
    return bo_xstrdup("INSUFFICIENT_RESOURCES: no single agent has enough cpu, ram, disk and ports together");
}

/* Take n free ports, starting from a spot that moves on each call so a port
 * just released is not immediately handed to the next task. */
static void take_ports(struct sched_agent *a, size_t n, uint16_t *out)
{
    static uint32_t cursor;
    uint32_t span = a->port_hi - a->port_lo + 1;
    size_t got = 0;
    for (uint32_t i = 0; i < span && got < n; i++) {
        uint32_t off = (cursor + i) % span;
        if (state_agent_port_used(a, a->port_lo + off))
            continue;
        out[got++] = (uint16_t)(a->port_lo + off);
    }
    cursor += (uint32_t)n;
}

/* The agent the task prefers if it may run it (update affinity); else,
 * among the agents that may run it: fewest instances of the same job on
 * the agent's rack, then on the agent (spread), then most free memory. */
static struct sched_agent *choose(struct sched_state *st, const struct sched_task *t, const struct spread_job *sj)
{
    static size_t cursor;
    if (t->prefer_agent) {
        struct sched_agent *a = state_agent_find(st, t->prefer_agent);
        if (a && a->up && judge(a, t->config, sj) == FIT)
            return a;
    }
    struct sched_agent *best = NULL;
    int64_t best_rack = 0, best_count = 0;
    uint64_t best_free = 0;
    size_t n = st->n_agent_vec, feasible = 0;
    for (size_t i = 0; i < n && feasible < PLACEMENT_ENOUGH_FEASIBLE; i++) {
        struct sched_agent *a = st->agent_vec[(cursor + i) % n];
        if (!a->up || judge(a, t->config, sj) != FIT)
            continue;
        feasible++;
        int64_t rack = value_count(sj, SPREAD_ATTRIBUTE, state_agent_attr(a, SPREAD_ATTRIBUTE));
        int64_t c = spread_get(sj, a);
        uint64_t free_ram = a->ram - a->used_ram;
        if (!best || rack < best_rack || (rack == best_rack && c < best_count) ||
            (rack == best_rack && c == best_count && free_ram > best_free)) {
            best = a;
            best_rack = rack;
            best_count = c;
            best_free = free_ram;
        }
    }
    cursor++;
    return best;
}

/* A config that fit nowhere in this pass (an equivalence class): its
 * other tasks are skipped with one lookup and share the reason. */
struct nofit {
    const struct job_config *config;
    struct sched_reason *reason;
    UT_hash_handle hh;
};

static void nofit_free(struct nofit **all)
{
    struct nofit *n, *tmp;
    HASH_ITER(hh, *all, n, tmp)
    {
        HASH_DEL(*all, n);
        state_reason_unref(n->reason);
        free(n);
    }
}

static int assign(struct sched_state *st, struct sched_task *t, struct sched_agent *a, bo_error_t *err)
{
    uint16_t ports[64];
    size_t np = t->config->task.n_ports;
    uint16_t *pp = np <= BO_ARRAY_SIZE(ports) ? ports : bo_xcalloc(np, sizeof(uint16_t));
    take_ports(a, np, pp);
    state_task_bind_agent(st, t, a, pp);
    if (pp != ports)
        free(pp);
    int64_t waited = bo_mono_ms() - t->pending_since_mono;
    _cleanup_free_ char *m = bo_xasprintf("assigned to %s", a->hostname);
    if (lifecycle_transition(st, t, TASK_ASSIGNED, m, err) < 0)
        return -1;
    t->last_command_mono = 0;
    state_agent_has_work(st, a);
    st->placements++;
    st->placement_latency_sum_ms += (uint64_t)waited;
    for (size_t b = 0; b < BO_ARRAY_SIZE(placement_latency_bounds_ms); b++)
        if (waited <= placement_latency_bounds_ms[b])
            st->placement_latency_buckets[b]++;
    return 0;
}

bool placement_is_due(const struct sched_state *st)
{
    return st->placement_due || st->place_cursor;
}

int placement_run(struct sched_state *st, size_t max_tasks, bo_error_t *err)
{
    /* A sweep walks the whole queue in bounded passes, each resuming where
     * the last stopped (as redis's activeExpireCycle), so a task behind
     * thousands that fit nowhere is reached in a bounded number of passes.
     * Changes during a sweep set placement_due again: another sweep
     * follows. A sweep that changed nothing leaves placement not due. */
    if (!st->place_cursor) {
        st->place_cursor = st->pending;
        st->placement_due = false;
    }
    int assigned = 0;
    struct nofit *nofit = NULL;
    struct spread_job *spread = NULL;
    for (size_t examined = 0; st->place_cursor && (!max_tasks || examined < max_tasks); examined++) {
        struct sched_task *t = st->place_cursor;
        st->place_cursor = t->q_next;
        struct nofit *n;
        HASH_FIND_PTR(nofit, &t->config, n);
        if (n) {
            state_task_set_reason(t, n->reason);
            continue;
        }
        struct spread_job *sj = spread_for(&spread, t->job);
        struct sched_agent *a = choose(st, t, sj);
        if (!a) {
            _cleanup_free_ char *why = explain(st, t->config, sj);
            n = bo_xcalloc(1, sizeof(*n));
            n->config = t->config;
            n->reason = state_reason_new(why);
            HASH_ADD_PTR(nofit, config, n);
            state_task_set_reason(t, n->reason);
            continue;
        }
        if (assign(st, t, a, err) < 0) {
            assigned = -1;
            break;
        }
        spread_add(sj, a);
        assigned++;
    }
    nofit_free(&nofit);
    spread_free(&spread);
    return assigned;
}
