/* fuzz_agent_sync.c - libFuzzer target for the scheduler's side of the
 * agent sync (agent_sync_apply in src/scheduler/agent_sync.c: registration,
 * status updates, inventory reconciliation) with a real SQLite store in a
 * temporary directory, opened once per process.
 *
 * Each input is a sync request body. It is applied to a fresh state holding
 * one job of 4 instances on agent "fx": instance 0 ASSIGNED, 1 STARTING,
 * 2 RUNNING, 3 KILLING. Task ids are random, so any string "@0".."@3" in the
 * input stands for the task id of that instance. The answer must be one the
 * agent's own parser accepts, and applying the same body again (agents
 * resend until acked) must succeed too. A body without the registration
 * (a bare sync) is applied to "fx" as it is up; any other agent is asked
 * for its registration with nothing acked. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/sync.h"
#include "base/fs.h"
#include "scheduler/agent_sync.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/scheduler.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *store;
static char dir[128];

static struct sched_options opts; /* the daemon's defaults, set at init */

static void must(int r, bo_error_t err, const char *what)
{
    if (r < 0) {
        fprintf(stderr, "fuzz_agent_sync: %s: %s\n", what, err ? err->msg : "?");
        abort();
    }
}

static void remove_dir(void)
{
    static const char *const files[] = {"s.db", "s.db-wal", "s.db-shm", "s.db-journal"};
    for (size_t i = 0; i < BO_ARRAY_SIZE(files); i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    scheduler_default_options(&opts);
    opts.terminal_keep_per_job = 5; /* so inputs reach pruning */
    const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/bo-fuzz-sync-XXXXXX", tmp);
    if (!mkdtemp(dir))
        abort();
    char db[200];
    snprintf(db, sizeof(db), "%s/s.db", dir);
    bo_error_t err = NULL;
    must(store_open_sqlite(db, false, &store, &err), err, "open store");
    atexit(remove_dir);
    return 0;
}

static const char fixture_agent[] =
    "{\"agent_id\":\"fx\",\"hostname\":\"fxhost\",\"resources\":{\"cpu\":8,\"ram\":8589934592,"
    "\"disk\":8589934592},\"port_range\":[31000,31099],\"attributes\":{\"rack\":\"a\"}}";
static const char fixture_job[] =
    "{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"devel\",\"name\":\"web\",\"instances\":4,"
    "\"service\":true,\"task\":{\"resources\":{\"cpu\":0.5,\"ram\":1048576,\"disk\":0},\"ports\":[\"http\"],"
    "\"processes\":[{\"name\":\"p\",\"cmdline\":\"echo {{instance}} {{ports.http}}\"}]}}";

/* The fixture state; returns the job. */
static struct sched_job *fixture(struct sched_state *st)
{
    bo_error_t err = NULL;
    state_init(st, &opts, store);
    json_t *body = json_loads(fixture_agent, 0, NULL);
    struct sched_agent *a = NULL;
    json_t *answer = NULL;
    must(agent_sync_apply(st, body, &a, &answer, &err), err, "register fixture agent");
    json_decref(answer);
    json_decref(body);
    json_t *jj = json_loads(fixture_job, 0, NULL);
    struct job_config *c = NULL;
    must(job_config_from_json(jj, &c, &err), err, "fixture job");
    json_decref(jj);
    struct sched_job *j = NULL;
    must(store_begin(store, &err), err, "begin");
    must(lifecycle_create_job(st, c, &j, &err), err, "create job");
    job_config_unref(c);
    if (placement_run(st, 0, &err) != 4)
        must(-1, err, "placement of the fixture job");
    struct sched_task **t = j->current;
    must(lifecycle_transition(st, t[1], TASK_STARTING, NULL, &err), err, "t1");
    must(lifecycle_transition(st, t[2], TASK_STARTING, NULL, &err), err, "t2");
    must(lifecycle_transition(st, t[2], TASK_RUNNING, NULL, &err), err, "t2");
    must(lifecycle_transition(st, t[3], TASK_STARTING, NULL, &err), err, "t3");
    must(lifecycle_transition(st, t[3], TASK_RUNNING, NULL, &err), err, "t3");
    must(lifecycle_kill(st, t[3], &err), err, "t3 kill");
    must(store_commit(store, &err), err, "commit");
    return j;
}

/* Replace "@N" strings anywhere in `j` by the task id of instance N. */
static void substitute(json_t *j, struct sched_job *job)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v)
        substitute(v, job);
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        substitute(v, job);
    } else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (s[0] == '@' && s[1] >= '0' && s[1] <= '3' && !s[2])
            json_string_set(j, job->current[s[1] - '0']->id);
    }
}

static void check_answer(json_t *answer)
{
    /* What the scheduler answers, the agent must accept. */
    char *text = json_dumps(answer, JSON_COMPACT);
    if (!text)
        __builtin_trap();
    json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    struct sync_answer a;
    bo_error_t err = NULL;
    if (!back || sync_answer_parse(back, &a, &err) < 0) {
        fprintf(stderr, "answer refused by the agent: %s\n", err ? err->msg : "not JSON");
        __builtin_trap();
    }
    for (size_t i = 0; i < a.n_launch; i++)
        if (a.launch[i].error) {
            fprintf(stderr, "launch refused by the agent: %s\n", a.launch[i].error->msg);
            __builtin_trap();
        }
    sync_answer_clear(&a);
    json_decref(back);
}

static void teardown(struct sched_state *st)
{
    bo_error_t err = NULL;
    must(store_begin(store, &err), err, "begin teardown");
    struct sched_task *t, *ttmp;
    HASH_ITER(hh, st->tasks, t, ttmp)
    must(store_delete(store, "task", t->id, &err), err, "delete task");
    struct sched_job *j, *jtmp;
    HASH_ITER(hh, st->jobs, j, jtmp)
    must(store_delete(store, "job", j->key, &err), err, "delete job");
    struct sched_agent *a, *atmp;
    HASH_ITER(hh, st->agents, a, atmp)
    {
        if (strlen(a->id) <= STORE_ID_MAX)
            must(store_delete(store, "agent", a->id, &err), err, "delete agent");
    }
    must(store_commit(store, &err), err, "commit teardown");
    state_free(st);
}

/* Each agent's counts match its tasks: an answer to an agent counted at
 * 0 tasks awaiting a command looks for no launches or kills. */
static void check_counts(struct sched_state *st)
{
    struct sched_agent *a, *atmp;
    HASH_ITER(hh, st->agents, a, atmp)
    {
        if (!state_agent_counts_ok(a))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!body || !json_is_object(body)) { /* http_body_json answers 400 */
        json_decref(body);
        return 0;
    }
    struct sched_state st;
    struct sched_job *job = fixture(&st);
    substitute(body, job);
    for (int round = 0; round < 2; round++) {
        struct sched_agent *a = NULL;
        json_t *answer = NULL;
        bo_error_t err = NULL;
        int r = agent_sync_apply(&st, body, &a, &answer, &err);
        if (r == 0 && store_flush(st.store, &err) < 0) /* the group commit the loop makes before answering */
            r = -1;
        if (r < 0) {
            if (!err || !err->msg || !*err->msg)
                __builtin_trap();
            if (err->kind != BO_E_INVALID) {
                fprintf(stderr, "store failed: %s\n", err->msg);
                __builtin_trap(); /* SQLite in a temp dir does not fail */
            }
            if (round == 1)
                __builtin_trap(); /* the first application succeeded */
            bo_error_free(err);
            break;
        }
        if (!a) {
            /* A sync without the registration from an agent the scheduler
             * cannot trust: nothing applied, nothing acked, register. */
            if (!json_is_true(json_object_get(answer, "register")) ||
                json_array_size(json_object_get(answer, "acks")) != 0)
                __builtin_trap();
            check_answer(answer);
            json_decref(answer);
            continue;
        }
        if (state_agent_find(&st, a->id) != a)
            __builtin_trap();
        check_counts(&st);
        /* Every update with a seq is acked, applied or rejected: one the
         * agent could not get acked would be resent for ever. */
        size_t with_seq = 0, i;
        json_t *u;
        json_array_foreach(json_object_get(body, "updates"), i, u)
        {
            json_t *seq = json_object_get(u, "seq");
            with_seq += json_is_integer(seq) && json_integer_value(seq) >= 1;
        }
        if (json_array_size(json_object_get(answer, "acks")) != with_seq)
            __builtin_trap();
        check_answer(answer);
        json_decref(answer);
    }
    json_decref(body);
    teardown(&st);
    return 0;
}
