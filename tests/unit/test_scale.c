/* What the scale benchmark relies on, at a size `make test` affords (no
 * timing): placement of 20,000 tasks in several resource shapes over 500
 * agents never overcommits an agent and keeps every constraint; agents
 * lost together are marked in bounded batches, and all of them and their
 * tasks are handled in the end; and with the group commit of agent syncs,
 * a scheduler killed (SIGKILL) amid status updates recovers every update
 * it acknowledged. */
#include <signal.h>
#include <utlist.h>

#include "base/clock.h"
#include "base/fs.h"
#include "harness.h"
#include "store_fixture.h"
#include "scheduler/agent_sync.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/scheduler.h"

/* A job: `extra` is more top-level fields (constraints), `res` the
 * resources and ports of its task. */
static struct sched_job *create(struct sched_state *st, const char *name, int instances, const char *extra,
                                const char *res)
{
    _cleanup_free_ char *text = bo_xasprintf(
        "{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"prod\",\"name\":\"%s\",\"instances\":%d,"
        "\"service\":true%s,\"task\":{%s,\"processes\":[{\"name\":\"p\",\"cmdline\":\"true\"}]}}",
        name, instances, extra, res);
    json_t *j = json_loads(text, 0, NULL);
    CHECK(j);
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (job_config_from_json(j, &c, &err) < 0)
        fprintf(stderr, "  config: %s\n", err->msg);
    CHECK(c);
    json_decref(j);
    struct sched_job *sj = NULL;
    CHECK(store_begin(st->store, NULL) == 0);
    CHECK(lifecycle_create_job(st, c, &sj, NULL) == 0);
    CHECK(store_commit(st->store, NULL) == 0);
    job_config_unref(c);
    return sj;
}

static struct sched_agent *agent(struct sched_state *st, int i, double cpu, uint64_t ram, const char *attrs)
{
    struct sched_agent *a = bo_xcalloc(1, sizeof(*a));
    a->id = bo_xasprintf("agent-%04d", i);
    a->hostname = bo_xasprintf("host-%04d", i);
    a->cpu = cpu;
    a->ram = ram;
    a->disk = 1ULL << 30;
    state_agent_set_ports(a, 31000, 31019);
    json_t *o = json_loads(attrs, 0, NULL);
    CHECK(json_is_object(o));
    state_agent_set_attrs(a, o);
    json_decref(o);
    a->up = true;
    a->state = AGENT_UP;
    a->last_seen_mono = bo_mono_ms();
    st->agents_up++;
    state_agent_add(st, a);
    CHECK(state_save_agent(st, a, NULL) == 0);
    return a;
}

static const char *attr(const struct sched_agent *a, const char *name)
{
    return state_agent_attr(a, name);
}

/* Active tasks of job j per value of attribute `name`, at most `limit`. */
static void check_limit(struct sched_state *st, const struct sched_job *j, const char *name, int limit)
{
    json_t *count = json_object();
    const struct sched_task *t;
    DL_FOREACH2(j->tasks, t, j_next)
    {
        if (!t->agent)
            continue;
        const char *v = attr(t->agent, name);
        CHECK(v);
        json_int_t n = json_integer_value(json_object_get(count, v)) + 1;
        json_object_set_new(count, v, json_integer(n));
        CHECK(n <= limit);
    }
    json_decref(count);
}

static int placed_of(const struct sched_job *j)
{
    int n = 0;
    const struct sched_task *t;
    DL_FOREACH2(j->tasks, t, j_next)
    n += t->agent != NULL;
    return n;
}

TEST(placement_of_20k_tasks_on_500_agents_never_overcommits_and_keeps_constraints)
{
    struct sched_options o;
    scheduler_default_options(&o);
    struct sched_state st;
    state_init(&st, &o, fixture_open_store());
    for (int i = 0; i < 500; i++) {
        _cleanup_free_ char *attrs = bo_xasprintf("{\"host\":\"h%d\",\"rack\":\"r%d\",\"zone\":\"z%d\"}", i, i % 25,
                                                  i % 3);
        agent(&st, i, 4 + i % 5, (4ULL + (uint64_t)(i % 4) * 4) << 30, attrs);
    }
    const char *small = "\"resources\":{\"cpu\":0.1,\"ram\":67108864,\"disk\":0}";
    const char *web = "\"resources\":{\"cpu\":0.2,\"ram\":134217728,\"disk\":1048576},\"ports\":[\"http\",\"admin\"]";
    const char *big = "\"resources\":{\"cpu\":1,\"ram\":1073741824,\"disk\":0}";
    /* Jobs have at most 4000 instances: a shape may take several. */
    const char *not_z0 = ",\"constraints\":[{\"attribute\":\"zone\",\"value\":\"!z0\"}]";
    const char *racks = ",\"constraints\":[{\"attribute\":\"rack\",\"value\":\"r1,r2,r3,r4,r5,r6,r7,r8,r9,r10\"},"
                        "{\"attribute\":\"host\",\"value\":\"limit:20\"}]";
    struct sched_job *a[2] = {create(&st, "not-z0-1", 4000, not_z0, small), create(&st, "not-z0-2", 1000, not_z0, small)};
    struct sched_job *b = create(&st, "one-per-host", 600,
                                 ",\"constraints\":[{\"attribute\":\"host\",\"value\":\"limit:1\"}]", small);
    struct sched_job *c = create(&st, "one-per-rack", 30,
                                 ",\"constraints\":[{\"attribute\":\"rack\",\"value\":\"limit:1\"}]", big);
    struct sched_job *d[3] = {create(&st, "web-1", 4000, racks, web), create(&st, "web-2", 4000, racks, web),
                              create(&st, "web-3", 1370, racks, web)};
    struct sched_job *e[2] = {create(&st, "big-1", 4000, "", big), create(&st, "big-2", 1000, "", big)};
    CHECK(st.count_by_state[TASK_PENDING] == 20000);
    int placed = placement_run(&st, 0, NULL);
    CHECK(placed > 0);
    CHECK(placed + st.count_by_state[TASK_PENDING] == 20000);

    /* No agent holds more than it has; its books match its tasks; each
     * port is in its range and held once. */
    for (size_t i = 0; i < st.n_agent_vec; i++) {
        struct sched_agent *ag = st.agent_vec[i];
        double cpu = 0;
        uint64_t ram = 0, disk = 0;
        int n = 0;
        uint8_t used[20] = {0};
        struct sched_task *t;
        DL_FOREACH2(ag->tasks, t, a_next)
        {
            CHECK(t->agent == ag && t->state == TASK_ASSIGNED);
            const struct task_config *tc = &t->config->task;
            cpu += tc->cpu;
            ram += tc->ram;
            disk += tc->disk;
            n++;
            for (size_t p = 0; p < tc->n_ports; p++) {
                CHECK(t->ports[p] >= 31000 && t->ports[p] <= 31019);
                CHECK(!used[t->ports[p] - 31000]);
                used[t->ports[p] - 31000] = 1;
            }
        }
        CHECK(cpu <= ag->cpu + 1e-6 && ram <= ag->ram && disk <= ag->disk);
        CHECK(n == ag->n_tasks && ram == ag->used_ram && disk == ag->used_disk && n == ag->n_awaiting);
        CHECK(cpu - ag->used_cpu < 1e-6 && ag->used_cpu - cpu < 1e-6);
    }
    /* Constraints: none in z0; one per host (500 hosts for 600); one per
     * rack (25 racks for 30); racks r1-r10 and at most 50 per host. */
    struct sched_task *t;
    for (int k = 0; k < 2; k++) {
        DL_FOREACH2(a[k]->tasks, t, j_next)
        {
            CHECK(t->agent); /* small enough: all fit */
            CHECK(strcmp(attr(t->agent, "zone"), "z0") != 0);
        }
    }
    check_limit(&st, b, "host", 1);
    CHECK(placed_of(b) == 500);
    check_limit(&st, c, "rack", 1);
    CHECK(placed_of(c) == 25);
    int web_placed = 0;
    for (int k = 0; k < 3; k++) {
        DL_FOREACH2(d[k]->tasks, t, j_next)
        if (t->agent) {
            long long r = 0;
            CHECK(sscanf(attr(t->agent, "rack"), "r%lld", &r) == 1);
            CHECK(r >= 1 && r <= 10);
        }
        check_limit(&st, d[k], "host", 20);
        web_placed += placed_of(d[k]);
    }
    CHECK(web_placed > 0);
    /* The big ones fill what is left; the rest wait, with a reason. */
    CHECK(placed_of(e[0]) > 0 && placed_of(e[1]) < 1000);
    CHECK(e[1]->current[999]->state == TASK_PENDING && e[1]->current[999]->pending_reason);
    fixture_done(&st);
}

TEST(agents_lost_together_are_marked_in_bounded_batches_and_all_replaced)
{
    struct sched_options o;
    scheduler_default_options(&o);
    o.flap_penalty_ms = 0;
    o.terminal_keep_per_job = 1000; /* the LOST tasks are checked below */
    struct sched_state st;
    state_init(&st, &o, fixture_open_store());
    const int n = 2 * LIFECYCLE_LOST_PER_PASS + LIFECYCLE_LOST_PER_PASS / 2;
    for (int i = 0; i < n; i++) {
        _cleanup_free_ char *attrs = bo_xasprintf("{\"host\":\"h%d\"}", i);
        agent(&st, i, 4, 1ULL << 30, attrs);
    }
    struct sched_job *j = create(&st, "svc", n, ",\"constraints\":[{\"attribute\":\"host\",\"value\":\"limit:1\"}]",
                                 "\"resources\":{\"cpu\":0.5,\"ram\":1048576,\"disk\":0}");
    CHECK(placement_run(&st, 0, NULL) == n);
    struct sched_task **orig = bo_xcalloc((size_t)n, sizeof(*orig));
    for (int i = 0; i < n; i++) {
        orig[i] = j->current[i];
        CHECK(lifecycle_transition(&st, orig[i], TASK_STARTING, NULL, NULL) == 1);
        CHECK(lifecycle_transition(&st, orig[i], TASK_RUNNING, NULL, NULL) == 1);
    }
    /* Every agent falls silent at once. */
    int64_t later = bo_mono_ms() + o.agent_timeout_ms + 1;
    int64_t want[] = {LIFECYCLE_LOST_PER_PASS, 2 * LIFECYCLE_LOST_PER_PASS, n, n};
    for (size_t pass = 0; pass < BO_ARRAY_SIZE(want); pass++) {
        CHECK(store_begin(st.store, NULL) == 0);
        CHECK(lifecycle_run_timers(&st, later, NULL) == 0);
        CHECK(store_commit(st.store, NULL) == 0);
        CHECK(n - st.agents_up == want[pass]);
        /* What is marked is whole: a lost agent's task is LOST and
         * replaced; an agent not reached yet still runs its task. */
        for (int i = 0; i < n; i++) {
            bool lost = !orig[i]->agent || !orig[i]->agent->up;
            CHECK(orig[i]->state == (lost ? TASK_LOST : TASK_RUNNING));
            CHECK(lost == (j->current[i] != orig[i]));
        }
        /* Due again at once: the loop's next pass comes without delay. */
        if (want[pass] < n)
            CHECK(bo_timer_heap_timeout_ms(&st.timers, later) == 0);
    }
    for (int i = 0; i < n; i++) {
        struct sched_task *r = j->current[i];
        CHECK(r != orig[i] && r->ancestor_id && strcmp(r->ancestor_id, orig[i]->id) == 0);
        CHECK(r->state == TASK_PENDING || r->state == TASK_THROTTLED);
    }
    free(orig);
    fixture_done(&st);
}

/* ---- SIGKILL amid group-committed status updates ------------------------ */

#define KILL_INSTANCES 120
#define KILL_PER_SYNC 4
#define KILL_SYNCS_PER_FLUSH 3

static const char agent_fields[] = "\"agent_id\":\"a\",\"hostname\":\"a\",\"resources\":{\"cpu\":64,\"ram\":"
                                   "68719476736,\"disk\":1073741824},\"port_range\":[31000,31999]";

static void sync_ok(struct sched_state *st, const char *text)
{
    json_t *body = json_loads(text, 0, NULL), *answer = NULL;
    CHECK(body);
    struct sched_agent *a = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (agent_sync_apply(st, body, &a, &answer, &err) < 0) {
        fprintf(stderr, "  sync: %s\n", err->msg);
        exit(1);
    }
    json_decref(answer);
    json_decref(body);
}

/* The scheduler's side as the loop runs it: syncs carrying STARTING then
 * RUNNING for every instance, committed as a group every few syncs, each
 * group's acks "sent" (a line to `out`: how many updates are acked) only
 * after its commit. Runs until killed. */
static void updater(int out)
{
    struct sched_options o;
    scheduler_default_options(&o);
    struct sched_state st;
    state_init(&st, &o, fixture_open_store());
    _cleanup_free_ char *reg = bo_xasprintf("{%s}", agent_fields);
    sync_ok(&st, reg);
    struct sched_job *j = create(&st, "svc", KILL_INSTANCES, "", "\"resources\":{\"cpu\":0.1,\"ram\":1048576,\"disk\":0}");
    CHECK(store_begin(st.store, NULL) == 0);
    CHECK(placement_run(&st, 0, NULL) == KILL_INSTANCES);
    CHECK(store_commit(st.store, NULL) == 0);
    int64_t seq = 0, sent = 0, syncs = 0;
    for (int phase = 0; phase < 2; phase++) {
        for (int i = 0; i < KILL_INSTANCES; i += KILL_PER_SYNC) {
            _cleanup_free_ char *text = bo_xasprintf("{%s,\"updates\":[", agent_fields);
            for (int k = i; k < i + KILL_PER_SYNC; k++) {
                char *more = bo_xasprintf("%s%s{\"seq\":%lld,\"task_id\":\"%s\",\"state\":\"%s\"}", text,
                                          k > i ? "," : "", (long long)++seq, j->current[k]->id,
                                          phase ? "RUNNING" : "STARTING");
                free(text);
                text = more;
            }
            char *full = bo_xasprintf("%s]}", text);
            free(text);
            text = full;
            sync_ok(&st, text);
            if (++syncs % KILL_SYNCS_PER_FLUSH == 0) {
                CHECK(store_flush(st.store, NULL) == 0);
                sent = seq;
                dprintf(out, "%lld\n", (long long)sent);
            }
        }
    }
    /* All acked: keep the scheduler busy (deferred, unacked work) until
     * the kill. */
    for (;;) {
        _cleanup_free_ char *text = bo_xasprintf("{%s}", agent_fields);
        sync_ok(&st, text);
    }
}

TEST(sigkill_amid_group_committed_updates_loses_nothing_acked)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    fixture_db_path();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        updater(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    CHECK(in);
    /* Kill it half-way through the RUNNING updates. */
    long long acked = 0, v;
    while (acked < KILL_INSTANCES + KILL_INSTANCES / 2 && fscanf(in, "%lld", &v) == 1)
        acked = v;
    CHECK(kill(pid, SIGKILL) == 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
    fclose(in);
    CHECK(acked >= KILL_INSTANCES + KILL_INSTANCES / 2);

    /* Restart: the store loads (every row checked) and holds every acked
     * state: instance i got STARTING with seq i+1 and RUNNING with seq
     * KILL_INSTANCES+i+1. */
    struct sched_options o;
    scheduler_default_options(&o);
    struct sched_state st;
    state_init(&st, &o, fixture_open_store());
    _cleanup_error_ bo_error_t err = NULL;
    if (state_load(&st, &err) < 0) {
        fprintf(stderr, "  load: %s\n", err->msg);
        exit(1);
    }
    struct sched_job *j = state_job_find(&st, "local/r/prod/svc");
    CHECK(j && j->n_current == KILL_INSTANCES);
    int running = 0;
    for (int i = 0; i < KILL_INSTANCES; i++) {
        enum task_state s = j->current[i]->state;
        CHECK(s == TASK_STARTING || s == TASK_RUNNING); /* every STARTING was acked */
        if (KILL_INSTANCES + i + 1 <= acked)
            CHECK(s == TASK_RUNNING);
        running += s == TASK_RUNNING;
    }
    CHECK(running >= acked - KILL_INSTANCES);
    fixture_done(&st);
}

TEST_MAIN()
