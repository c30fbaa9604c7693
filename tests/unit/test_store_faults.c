/* Every failed-commit path of the scheduler, driven with the fault-injecting
 * store (store_faulty.c), as SQLite tests its own I/O failures.
 *
 * For each path that writes (job create and replace, kill, agent
 * registration, agent updates and inventory, placement, the timer pass's
 * throttle release and agent loss, pruning), the path is run once to count
 * its store operations, then once per operation N with the Nth one failing
 * (a transient failure, and a dead disk from N on). Each failure must:
 * surface as an error (never be swallowed), leave the store exactly as
 * before (the batch rolled back), and either leave memory untouched (an
 * error a caller may treat as clean) or set the fatal flag, on which the
 * scheduler stops and recovers from the store. A reload of the store must
 * then succeed and show only what was committed before. No crash, no leak
 * (the tests also run under ASan and UBSan). */
#include <fcntl.h>
#include <utlist.h>

#include "base/clock.h"
#include "base/fs.h"
#include "harness.h"
#include "scheduler/agent_sync.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/scheduler.h"
#include "scheduler/update.h"
#include "store/store_faulty.h"

static char root[64];

__attribute__((destructor)) static void remove_root(void)
{
    if (root[0])
        bo_rm_rf(root, NULL);
}

/* A new store file per run: the path is set up from scratch each time. */
static char *new_db(void)
{
    static int n;
    if (!root[0]) {
        strcpy(root, "/tmp/bo-faults-XXXXXX");
        CHECK(mkdtemp(root));
    }
    return bo_xasprintf("%s/%d.db", root, n++);
}

static struct job_config *job(const char *name, int instances, bool service)
{
    _cleanup_free_ char *text = bo_xasprintf(
        "{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"devel\",\"name\":\"%s\",\"instances\":%d,"
        "\"service\":%s,\"max_task_failures\":1,\"task\":{\"resources\":{\"cpu\":0.5,\"ram\":1048576,\"disk\":0},"
        "\"ports\":[\"http\"],\"processes\":[{\"name\":\"p\",\"cmdline\":\"true\"}]}}",
        name, instances, service ? "true" : "false");
    json_t *j = json_loads(text, 0, NULL);
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, NULL) == 0);
    json_decref(j);
    return c;
}

#define AGENT_BODY                                                                                                 \
    "\"agent_id\":\"a\",\"hostname\":\"a\",\"resources\":{\"cpu\":4,\"ram\":1073741824,\"disk\":1073741824},"     \
    "\"port_range\":[31000,31009]"

/* Agent "a" as its first sync registers it. */
static void register_a(struct sched_state *st)
{
    json_t *body = json_loads("{" AGENT_BODY "}", 0, NULL), *answer = NULL;
    struct sched_agent *a = NULL;
    CHECK(body);
    CHECK(agent_sync_apply(st, body, &a, &answer, NULL) == 0);
    CHECK(store_flush(st->store, NULL) == 0);
    json_decref(body);
    json_decref(answer);
}

static struct sched_job *create(struct sched_state *st, struct job_config *c)
{
    struct sched_job *j = NULL;
    CHECK(lifecycle_create_job(st, c, &j, NULL) == 0);
    job_config_unref(c);
    return j;
}

static void run_task(struct sched_state *st, struct sched_task *t)
{
    CHECK(lifecycle_transition(st, t, TASK_STARTING, NULL, NULL) == 1);
    CHECK(lifecycle_transition(st, t, TASK_RUNNING, NULL, NULL) == 1);
}

static struct sched_job *the_job(struct sched_state *st)
{
    CHECK(HASH_COUNT(st->jobs) == 1);
    return st->jobs;
}

/* ---- how the scheduler's callers run a batch ------------------------------ */

/* As api.c (finish_batch) and the event loop (run_batch) do: one batch; on
 * failure roll back, and an error that is not clean means memory may be
 * ahead of the store: fatal. */
static int batch(struct sched_state *st, const char *what, int (*fn)(struct sched_state *, bo_error_t *),
                 bo_error_t *err)
{
    int r = store_begin(st->store, err);
    if (r == 0)
        r = fn(st, err);
    if (r >= 0 && store_commit(st->store, err) == 0)
        return 0;
    store_rollback(st->store);
    if (!state_error_is_clean(*err))
        state_fatal(st, what, (*err)->msg);
    return -1;
}

/* As agent_sync_handle does. */
static int sync_body(struct sched_state *st, const char *text, bo_error_t *err)
{
    json_t *body = json_loads(text, 0, NULL), *answer = NULL;
    CHECK(body);
    struct sched_agent *a = NULL;
    int r = agent_sync_apply(st, body, &a, &answer, err);
    /* The loop's group commit, before any answer leaves. */
    if (r == 0)
        r = store_flush(st->store, err);
    json_decref(body);
    json_decref(answer);
    if (r < 0 && !state_error_is_clean(*err))
        state_fatal(st, "applying an agent sync", (*err)->msg);
    return r < 0 ? -1 : 0;
}

/* ---- the paths ------------------------------------------------------------ */

struct path {
    const char *name;
    void (*setup)(struct sched_state *st); /* committed, no faults */
    int (*run)(struct sched_state *st, bo_error_t *err);
    int64_t flap_penalty_ms, keep;
};

static void setup_agent(struct sched_state *st)
{
    register_a(st);
}

static int do_create(struct sched_state *st, bo_error_t *err)
{
    struct sched_job *j = NULL;
    struct job_config *c = job("web", 3, true);
    int r = lifecycle_create_job(st, c, &j, err);
    job_config_unref(c);
    return r;
}

static int run_create(struct sched_state *st, bo_error_t *err)
{
    return batch(st, "POST /jobs", do_create, err);
}

/* An ad hoc job that ended: creating its key again replaces it (deletes). */
static void setup_ended_job(struct sched_state *st)
{
    register_a(st);
    struct sched_job *j = create(st, job("web", 2, false));
    CHECK(placement_run(st, 0, NULL) == 2);
    for (int i = 0; i < 2; i++) {
        run_task(st, j->current[i]);
        CHECK(lifecycle_transition(st, j->current[i], TASK_FINISHED, NULL, NULL) == 1);
    }
    CHECK(j->state == JOB_FINISHED);
}

static void setup_running(struct sched_state *st)
{
    register_a(st);
    struct sched_job *j = create(st, job("web", 2, true));
    CHECK(placement_run(st, 0, NULL) == 2);
    run_task(st, j->current[0]);
    run_task(st, j->current[1]);
}

/* As h_job_kill: every instance, then the job's state. */
static int do_kill(struct sched_state *st, bo_error_t *err)
{
    struct sched_job *j = the_job(st);
    for (int64_t i = 0; i < j->n_current; i++)
        if (j->current[i] && lifecycle_kill(st, j->current[i], err) < 0)
            return -1;
    return state_job_refresh(st, j, err);
}

static int run_kill(struct sched_state *st, bo_error_t *err)
{
    return batch(st, "POST /jobs/KEY/kill", do_kill, err);
}

/* Pending tasks go straight to KILLED (and the job ends). */
static void setup_pending(struct sched_state *st)
{
    create(st, job("web", 2, true));
    CHECK(placement_run(st, 0, NULL) == 0);
}

static int run_register(struct sched_state *st, bo_error_t *err)
{
    return sync_body(st, "{\"agent_id\":\"b\",\"hostname\":\"b\",\"resources\":{\"cpu\":1,\"ram\":1,\"disk\":1},"
                         "\"port_range\":[1000,1001]}",
                     err);
}

/* An agent seen before comes back renamed, with more CPU. */
static int run_reregister(struct sched_state *st, bo_error_t *err)
{
    return sync_body(st,
                     "{\"agent_id\":\"a\",\"hostname\":\"a2\",\"resources\":{\"cpu\":8,\"ram\":1073741824,"
                     "\"disk\":1073741824},\"port_range\":[31000,31009]}",
                     err);
}

static void setup_assigned(struct sched_state *st)
{
    register_a(st);
    create(st, job("web", 2, true));
    CHECK(placement_run(st, 0, NULL) == 2);
}

static int run_updates(struct sched_state *st, bo_error_t *err)
{
    struct sched_job *j = the_job(st);
    _cleanup_free_ char *text = bo_xasprintf(
        "{" AGENT_BODY ",\"updates\":["
        "{\"seq\":1,\"task_id\":\"%s\",\"state\":\"STARTING\",\"executor_pid\":100},"
        "{\"seq\":2,\"task_id\":\"%s\",\"state\":\"RUNNING\",\"processes\":[{\"name\":\"p\"}]},"
        "{\"seq\":3,\"task_id\":\"%s\",\"state\":\"FAILED\",\"message\":\"launch failed\"}]}",
        j->current[0]->id, j->current[0]->id, j->current[1]->id);
    return sync_body(st, text, err);
}

/* An agent restarted without its tasks: they are LOST and replaced. */
static int run_inventory(struct sched_state *st, bo_error_t *err)
{
    return sync_body(st, "{" AGENT_BODY ",\"inventory\":[]}", err);
}

static int do_place(struct sched_state *st, bo_error_t *err)
{
    return placement_run(st, 0, err) < 0 ? -1 : 0;
}

static int run_place(struct sched_state *st, bo_error_t *err)
{
    return batch(st, "placement", do_place, err);
}

static void setup_queued(struct sched_state *st)
{
    register_a(st);
    create(st, job("web", 3, true));
}

/* A flapping task held in THROTTLED (the path runs with a penalty). */
static void setup_throttled(struct sched_state *st)
{
    register_a(st);
    struct sched_job *j = create(st, job("web", 1, true));
    CHECK(placement_run(st, 0, NULL) == 1);
    run_task(st, j->current[0]);
    CHECK(lifecycle_transition(st, j->current[0], TASK_FAILED, "exit 1", NULL) == 1);
    CHECK(j->current[0]->state == TASK_THROTTLED);
}

/* Past the 1 s penalty, long before the agent's timeout. */
static int do_tick_later(struct sched_state *st, bo_error_t *err)
{
    return lifecycle_run_timers(st, bo_mono_ms() + 2000, err);
}

static int run_release(struct sched_state *st, bo_error_t *err)
{
    return batch(st, "timers", do_tick_later, err);
}

static int do_tick_agent_gone(struct sched_state *st, bo_error_t *err)
{
    return lifecycle_run_timers(st, bo_mono_ms() + st->opt.agent_timeout_ms + 1, err);
}

static int run_agent_lost(struct sched_state *st, bo_error_t *err)
{
    return batch(st, "timers", do_tick_agent_gone, err);
}

/* One terminal task kept (keep = 1) and the current one RUNNING: its end
 * makes two, so the older is pruned (a delete) in the same batch. */
static void setup_prunable(struct sched_state *st)
{
    register_a(st);
    struct sched_job *j = create(st, job("web", 1, true));
    CHECK(placement_run(st, 0, NULL) == 1);
    run_task(st, j->current[0]);
    CHECK(lifecycle_transition(st, j->current[0], TASK_FAILED, "exit 1", NULL) == 1);
    CHECK(placement_run(st, 0, NULL) == 1);
    run_task(st, j->current[0]);
}

static int run_prune(struct sched_state *st, bo_error_t *err)
{
    struct sched_job *j = the_job(st);
    _cleanup_free_ char *text = bo_xasprintf(
        "{" AGENT_BODY ",\"updates\":[{\"seq\":1,\"task_id\":\"%s\",\"state\":\"FAILED\",\"message\":\"exit 2\"}]}",
        j->current[0]->id);
    return sync_body(st, text, err);
}

/* A rolling update: 2 RUNNING instances to 3 with a new config. */
static int do_update_start(struct sched_state *st, bo_error_t *err)
{
    struct sched_job *j = the_job(st);
    struct job_config *c = job("web", 3, true);
    json_t *cj = job_config_to_json(c);
    job_config_unref(c);
    json_t *p = json_array_get(json_object_get(json_object_get(cj, "task"), "processes"), 0);
    json_object_set_new(p, "cmdline", json_string("sleep 1"));
    CHECK(job_config_from_json(cj, &c, NULL) == 0);
    json_decref(cj);
    struct sched_update *u = NULL;
    struct update_start_opts o = {.to = c, .user = "tester", .message = "m"};
    int r = update_start(st, j, &o, &u, err);
    job_config_unref(c);
    return r;
}

static int run_update_start(struct sched_state *st, bo_error_t *err)
{
    return batch(st, "POST /jobs/KEY/updates", do_update_start, err);
}

static void setup_updating(struct sched_state *st)
{
    setup_running(st);
    CHECK(batch(st, "setup", do_update_start, NULL) == 0);
}

/* Its first step: instance 0's kill goes out. */
static int do_update_step(struct sched_state *st, bo_error_t *err)
{
    return update_step(st, the_job(st), bo_mono_ms(), err);
}

static int run_update_step(struct sched_state *st, bo_error_t *err)
{
    return batch(st, "update step", do_update_step, err);
}

static int do_update_abort(struct sched_state *st, bo_error_t *err)
{
    struct sched_job *j = the_job(st);
    return update_command(st, j->update, UPDATE_CMD_ABORT, "tester", "stop", err);
}

static int run_update_abort(struct sched_state *st, bo_error_t *err)
{
    return batch(st, "POST /jobs/KEY/update/abort", do_update_abort, err);
}

static const struct path paths[] = {
    {"update start", setup_running, run_update_start, 0, 100},
    {"update step", setup_updating, run_update_step, 0, 100},
    {"update abort", setup_updating, run_update_abort, 0, 100},
    {"job create", setup_agent, run_create, 0, 100},
    {"job create replacing an ended job", setup_ended_job, run_create, 0, 100},
    {"kill of running tasks", setup_running, run_kill, 0, 100},
    {"kill of pending tasks", setup_pending, run_kill, 0, 100},
    {"agent registration", setup_agent, run_register, 0, 100},
    {"agent registration with changes", setup_running, run_reregister, 0, 100},
    {"agent updates", setup_assigned, run_updates, 0, 100},
    {"agent inventory", setup_running, run_inventory, 0, 100},
    {"placement pass", setup_queued, run_place, 0, 100},
    {"timer pass: throttle released", setup_throttled, run_release, 1000, 100},
    {"timer pass: agent lost", setup_running, run_agent_lost, 0, 100},
    {"prune", setup_prunable, run_prune, 0, 1},
};

/* ---- checks --------------------------------------------------------------- */

/* Everything the scheduler shows of its memory, in a canonical text. */
static char *mem_dump(struct sched_state *st)
{
    json_t *jobs = json_object(), *tasks = json_object(), *agents = json_object(), *counts = json_array();
    struct sched_job *j, *jt;
    HASH_ITER(hh, st->jobs, j, jt)
    {
        json_t *cur = json_array();
        for (int64_t i = 0; i < j->n_current; i++)
            json_array_append_new(cur, j->current[i] ? json_string(j->current[i]->id) : json_null());
        json_t *o = state_job_summary_json(st, j);
        json_object_set_new(o, "current", cur);
        json_object_set_new(jobs, j->key, o);
    }
    struct sched_task *t, *tt;
    HASH_ITER(hh, st->tasks, t, tt)
    {
        json_t *o = state_task_to_json(t);
        json_object_set_new(o, "queue", json_integer(t->queue));
        json_object_set_new(tasks, t->id, o);
    }
    struct sched_agent *a, *at;
    HASH_ITER(hh, st->agents, a, at)
    json_object_set_new(agents, a->id, state_agent_to_json(a));
    for (int s = 0; s < TASK_STATE_COUNT; s++)
        json_array_append_new(counts, json_integer(st->count_by_state[s]));
    json_t *all = json_pack("{s:o, s:o, s:o, s:o, s:I}", "jobs", jobs, "tasks", tasks, "agents", agents, "counts",
                            counts, "agents_up", (json_int_t)st->agents_up);
    char *text = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(all);
    return text;
}

static int collect(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    char **acc = ctx;
    char *n = bo_xasprintf("%s%s=%s\n", *acc, id, value);
    free(*acc);
    *acc = n;
    return 0;
}

/* The store's whole content. */
static char *store_dump(struct store *s)
{
    char *acc = bo_xstrdup("");
    for (int k = 0; k < STORE_KIND_COUNT; k++)
        CHECK(store_load(s, store_kind_name(k), collect, &acc, NULL) == 0);
    return acc;
}

/* Recover from the file with a second, plain connection, as a restarted
 * scheduler would: the load must succeed (every row valid). */
static char *reload_dump(const char *db, const struct sched_options *o)
{
    struct store *s = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(store_open_sqlite_mode(db, false, STORE_OPEN_EXISTING, &s, NULL) == 0);
    struct sched_state st;
    state_init(&st, o, s);
    if (state_load(&st, &err) < 0) {
        fprintf(stderr, "  reload: %s\n", err->msg);
        exit(1);
    }
    char *d = mem_dump(&st);
    state_free(&st);
    store_close(s);
    return d;
}

/* After the fatal flag the loop stops, but timers, placement or another
 * request may run first: none may commit what memory holds, even once the
 * disk works again. */
static void later_actions_commit_nothing(struct sched_state *st, const char *store0)
{
    store_faulty_fail_at(st->store, 0, false);
    _cleanup_error_ bo_error_t e1 = NULL, e2 = NULL, e3 = NULL;
    CHECK(run_release(st, &e1) < 0 && e1->kind == BO_E_IO);
    CHECK_CONTAINS(e1->msg, "writes refused after an earlier failure");
    CHECK(run_place(st, &e2) < 0);
    CHECK(run_register(st, &e3) < 0);
    _cleanup_free_ char *after = store_dump(st->store);
    CHECK_STR(after, store0);
}

static struct sched_options path_opts(const struct path *p)
{
    struct sched_options o;
    scheduler_default_options(&o);
    o.flap_penalty_ms = p->flap_penalty_ms;
    o.terminal_keep_per_job = p->keep;
    return o;
}

/* The scheduler logs each agent's registration; hundreds of set-ups would
 * bury the test's own messages. */
static void setup_quietly(const struct path *p, struct sched_state *st)
{
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK(saved >= 0 && null >= 0);
    dup2(null, 2);
    p->setup(st);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(null);
}

/* Set up path p on a new store; fail its `fail_at`th operation (0: none). */
static uint64_t run_path(const struct path *p, uint64_t fail_at, bool sticky)
{
    struct sched_options o = path_opts(p);
    _cleanup_free_ char *db = new_db();
    struct store *real = NULL;
    CHECK(store_open_sqlite(db, false, &real, NULL) == 0);
    struct store *s = store_faulty_wrap(real);
    struct sched_state st;
    state_init(&st, &o, s);
    if (p->setup)
        setup_quietly(p, &st);
    CHECK(!store_in_batch(s) && !st.fatal);
    _cleanup_free_ char *store0 = store_dump(s), *mem0 = mem_dump(&st), *reload0 = reload_dump(db, &o);
    uint64_t ops0 = store_faulty_ops(s);
    store_faulty_fail_at(s, fail_at, sticky);
    _cleanup_error_ bo_error_t err = NULL;
    int r = p->run(&st, &err);
    uint64_t n_ops = store_faulty_ops(s) - ops0;
    _cleanup_free_ char *store1 = store_dump(s), *reload1 = reload_dump(db, &o);
    CHECK(!store_in_batch(s));
    if (!fail_at) {
        if (r < 0)
            fprintf(stderr, "  %s: %s\n", p->name, err->msg);
        CHECK(r == 0 && !st.fatal);
        CHECK(strcmp(store0, store1) != 0); /* the path writes */
    } else {
        if (r == 0 || !err) {
            fprintf(stderr, "  %s: failure of operation %llu was swallowed\n", p->name,
                    (unsigned long long)fail_at);
            exit(1);
        }
        CHECK(store_faulty_failures(s) >= 1);
        /* The batch was rolled back: the store and a recovery from it are
         * as before. */
        CHECK_STR(store1, store0);
        CHECK_STR(reload1, reload0);
        if (state_error_is_clean(err)) {
            _cleanup_free_ char *mem1 = mem_dump(&st);
            CHECK(!st.fatal);
            CHECK_STR(mem1, mem0);
        } else if (!st.fatal) {
            fprintf(stderr, "  %s: operation %llu failed (%s) without the fatal flag\n", p->name,
                    (unsigned long long)fail_at, err->msg);
            exit(1);
        } else {
            later_actions_commit_nothing(&st, store0);
        }
    }
    state_free(&st);
    store_close(s);
    return n_ops;
}

static void check_path(const struct path *p)
{
    uint64_t n = run_path(p, 0, false);
    CHECK(n >= 3); /* at least begin, one change, commit */
    for (uint64_t i = 1; i <= n; i++) {
        run_path(p, i, false);
        run_path(p, i, true);
    }
    printf("  %s: %llu store operations, each failed in turn\n", p->name, (unsigned long long)n);
}

TEST(fault_injection_fails_the_nth_operation)
{
    _cleanup_free_ char *db = new_db();
    struct store *real = NULL;
    CHECK(store_open_sqlite(db, false, &real, NULL) == 0);
    struct store *s = store_faulty_wrap(real);
    store_faulty_fail_at(s, 3, false);
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(store_begin(s, NULL) == 0);              /* 1 */
    CHECK(store_put(s, "job", "a", "{}", NULL) == 0); /* 2 */
    CHECK(store_put(s, "job", "b", "{}", &err) < 0);  /* 3: injected */
    CHECK(err->kind == BO_E_IO);
    CHECK_CONTAINS(err->msg, "put job/b: injected failure (operation 3)");
    bo_error_freep(&err);
    CHECK(store_commit(s, &err) < 0); /* spoiled: rolled back */
    CHECK(err->kind == BO_E_IO);
    bo_error_freep(&err);
    CHECK(store_put(s, "job", "c", "{}", NULL) == 0); /* transient: works again */
    _cleanup_free_ char *d = store_dump(s);
    CHECK_STR(d, "c={}\nschema_version=1\n");
    /* A failed commit leaves nothing behind either. */
    store_faulty_fail_at(s, 3, true);
    CHECK(store_begin(s, NULL) == 0);
    CHECK(store_delete(s, "job", "c", NULL) == 0);
    CHECK(store_commit(s, &err) < 0);
    CHECK_CONTAINS(err->msg, "commit: injected failure");
    CHECK(store_begin(s, NULL) < 0); /* sticky: a dead disk */
    store_faulty_fail_at(s, 0, false);
    _cleanup_free_ char *d2 = store_dump(s);
    CHECK_STR(d2, "c={}\nschema_version=1\n");
    CHECK(store_faulty_ops(s) == 8 && store_faulty_failures(s) == 3);
    store_close(s);
}

TEST(every_failed_commit_path_rolls_back_or_is_fatal)
{
    for (size_t i = 0; i < BO_ARRAY_SIZE(paths); i++)
        check_path(&paths[i]);
}

TEST_MAIN()
