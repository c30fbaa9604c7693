/* bench_placement.c - the scheduler core at scale, in one process: N agents,
 * M tasks in jobs of K instances, created and placed through the same
 * lifecycle, placement and SQLite store code the daemon runs (the store in
 * a temp dir, synchronous=NORMAL as under `--sync normal`). Prints job
 * creation rate, placement rate and scheduler memory per task. Not a test:
 * it only prints. Usage: bench_placement [AGENTS [TASKS [PER_JOB]]] */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <utlist.h>

#include "base/clock.h"
#include "base/fs.h"
#include "base/parse.h"
#include "base/strbuf.h"
#include "scheduler/agent_sync.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/scheduler.h"
#include "scheduler/sync_request.h"

#include "bench_core.h"

#define USAGE "bench_placement [AGENTS [TASKS [PER_JOB]]]"

/* i as text, for json_pack's s++ (a few live at once). */
static const char *num(int64_t i)
{
    static char bufs[8][24];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, 24, "%06lld", (long long)i);
    return b;
}

int main(int argc, char **argv)
{
    int64_t n_agents = bench_arg(argc, argv, 1, 10000, USAGE), n_tasks = bench_arg(argc, argv, 2, 1000000, USAGE),
            per_job = bench_arg(argc, argv, 3, 1000, USAGE);
    char dir[] = "/tmp/bo-bench-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    _cleanup_free_ char *db = bo_xasprintf("%s/s.db", dir);
    struct store *store = NULL;
    bo_error_t err = NULL;
    if (store_open_sqlite(db, false, &store, &err) < 0) {
        fprintf(stderr, "%s\n", err->msg);
        return 1;
    }
    struct sched_options o;
    scheduler_default_options(&o);
    struct sched_state st;
    state_init(&st, &o, store);
    /* Agents register as real ones do, through a sync (attributes and
     * all), so the memory per idle agent is the scheduler's real cost
     * (without the HTTP library's per-connection memory). */
    long rss_a0 = bench_status_kib("VmRSS:");
    /* Not 20,000 lines of "registered" on the terminal. */
    fflush(stderr);
    int saved_stderr = dup(2), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    dup2(devnull, 2);
    int64_t ta0 = bo_mono_ms();
    for (int64_t i = 0; i < n_agents; i++) {
        json_t *body = json_pack("{s:s+, s:s+, s:{s:f, s:I, s:I}, s:[i, i], s:{s:s+, s:s+}}", "agent_id",
                                 "agent-", num(i), "hostname", "host-", num(i), "resources", "cpu", 64.0,
                                 "ram", (json_int_t)(512LL << 30), "disk", (json_int_t)(1LL << 40), "port_range",
                                 31000, 31999, "attributes", "rack", "r", num(i % 500), "zone", "z",
                                 num(i % 3));
        struct bo_buf answer = {0}; /* as the HTTP handler: the answer's text, no tree */
        struct sync_outcome out;
        struct sync_request rq; /* a registration: read by jansson, as in the scheduler */
        sync_request_from_json(body, &rq);
        int r = agent_sync_apply_text(&st, &rq, &answer, &out, &err);
        sync_request_clear(&rq);
        if (r < 0 ||
            ((i + 1) % 16 == 0 && store_flush(store, &err) < 0)) {
            fprintf(stderr, "register: %s\n", err->msg);
            return 1;
        }
        free(out.acks);
        bo_buf_free(&answer);
    }
    if (store_flush(store, &err) < 0) {
        fprintf(stderr, "register: %s\n", err->msg);
        return 1;
    }
    int64_t ta1 = bo_mono_ms();
    long rss_a1 = bench_status_kib("VmRSS:");
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    close(devnull);
    long rss0 = bench_status_kib("VmRSS:");

    int64_t t0 = bo_mono_ms();
    int64_t jobs = (n_tasks + per_job - 1) / per_job;
    for (int64_t j = 0; j < jobs; j++) {
        int inst = (int)(j == jobs - 1 && n_tasks % per_job ? n_tasks % per_job : per_job);
        struct job_config *c = bench_job((int)j, inst);
        struct sched_job *sj;
        if (store_begin(store, &err) < 0 || lifecycle_create_job(&st, c, &sj, &err) < 0 ||
            store_commit(store, &err) < 0) {
            fprintf(stderr, "create: %s\n", err->msg);
            return 1;
        }
        job_config_unref(c);
    }
    int64_t t1 = bo_mono_ms();
    long rss1 = bench_status_kib("VmRSS:");
    if (store_begin(store, &err) < 0) {
        fprintf(stderr, "%s\n", err->msg);
        return 1;
    }
    int placed = placement_run(&st, 0, &err);
    if (placed < 0 || store_commit(store, &err) < 0) {
        fprintf(stderr, "place: %s\n", err->msg);
        return 1;
    }
    int64_t t2 = bo_mono_ms();
    long rss2 = bench_status_kib("VmRSS:");
    double create_s = (double)(t1 - t0) / 1000.0, place_s = (double)(t2 - t1) / 1000.0;
    printf("scheduler core: %lld agents, %lld tasks in %lld jobs of %lld (store: SQLite, synchronous=NORMAL)\n",
           (long long)n_agents, (long long)n_tasks, (long long)jobs, (long long)per_job);
    printf("  register agents (via syncs):    %8.2f s  %10.0f agents/s\n", (double)(ta1 - ta0) / 1000.0,
           (double)n_agents / ((double)(ta1 - ta0) / 1000.0 > 0 ? (double)(ta1 - ta0) / 1000.0 : 1e-3));
    printf("  scheduler memory per idle agent:%8.0f bytes (RSS growth %ld KiB; HTTP connections not included)\n",
           (double)(rss_a1 - rss_a0) * 1024.0 / (double)n_agents, rss_a1 - rss_a0);
    printf("  create (PENDING, persisted):    %8.2f s  %10.0f tasks/s\n", create_s,
           (double)n_tasks / (create_s > 0 ? create_s : 1e-3));
    printf("  place  (ASSIGNED, persisted):   %8.2f s  %10.0f tasks/s  (%d placed)\n", place_s,
           (double)placed / (place_s > 0 ? place_s : 1e-3), placed);
    printf("  scheduler memory per task:      %8.0f bytes (RSS growth %ld KiB over %lld tasks, after placement)\n",
           (double)(rss2 - rss0) * 1024.0 / (double)n_tasks, rss2 - rss0, (long long)n_tasks);
    printf("  (after create: %.0f bytes/task)\n", (double)(rss1 - rss0) * 1024.0 / (double)n_tasks);
    /* Status updates as agents send them: each agent one sync carrying
     * STARTING then one carrying RUNNING for every task it got. */
    int64_t n_updates = 0, syncs = 0;
    struct store_stats s0, s1;
    store_get_stats(store, &s0);
    int64_t t3 = bo_mono_ms();
    for (int phase = 0; phase < 2; phase++) {
        const char *state = phase == 0 ? "STARTING" : "RUNNING";
        for (size_t i = 0; i < st.n_agent_vec; i++) {
            struct sched_agent *a = st.agent_vec[i];
            json_t *updates = json_array();
            struct sched_task *t;
            int64_t seq = phase * 1000000 + 1;
            DL_FOREACH2(a->tasks, t, a_next)
            json_array_append_new(updates, json_pack("{s:I, s:s, s:s, s:s, s:i}", "seq", (json_int_t)seq++,
                                                     "task_id", t->id, "state", state, "message", "", "executor_pid",
                                                     4242));
            n_updates += (int64_t)json_array_size(updates);
            json_t *body = json_pack("{s:s, s:s, s:{s:f, s:I, s:I}, s:[i, i], s:o}", "agent_id", a->id, "hostname",
                                     a->hostname, "resources", "cpu", a->cpu, "ram", (json_int_t)a->ram, "disk",
                                     (json_int_t)a->disk, "port_range", 31000, 31999, "updates", updates);
            struct bo_buf answer = {0};
            struct sync_outcome out;
            struct sync_request rq;
            sync_request_from_json(body, &rq);
            int r = agent_sync_apply_text(&st, &rq, &answer, &out, &err);
            sync_request_clear(&rq);
            if (r < 0) {
                fprintf(stderr, "sync: %s\n", err->msg);
                return 1;
            }
            /* The loop commits the syncs of one pass over the server
             * together; say 16 arrive per pass. */
            if (++syncs % 16 == 0 && store_flush(store, &err) < 0) {
                fprintf(stderr, "flush: %s\n", err->msg);
                return 1;
            }
            free(out.acks);
            bo_buf_free(&answer);
        }
    }
    if (store_flush(store, &err) < 0) {
        fprintf(stderr, "flush: %s\n", err->msg);
        return 1;
    }
    int64_t t4 = bo_mono_ms();
    store_get_stats(store, &s1);
    double sync_s = (double)(t4 - t3) / 1000.0;
    printf("  status updates via agent syncs: %8.2f s  %10.0f updates/s  (%lld updates in %lld syncs, %llu commits)\n",
           sync_s, (double)n_updates / (sync_s > 0 ? sync_s : 1e-3), (long long)n_updates, (long long)syncs,
           (unsigned long long)(s1.commits - s0.commits));
    /* GET of a 1,000-instance job: the tasks' JSON as a jansson tree then
     * dumped (as before), and written as text (as the API does now). */
    struct sched_job *gj = state_job_find(&st, "local/bench/prod/j0");
    const int gets = 20;
    size_t bytes = 0;
    int64_t g0 = bo_mono_ms();
    for (int r = 0; r < gets; r++) {
        json_t *tasks = json_array();
        for (int64_t i = 0; i < gj->n_current; i++)
            json_array_append_new(tasks, state_task_to_json(gj->current[i]));
        char *text = json_dumps(tasks, JSON_COMPACT);
        bytes = strlen(text);
        free(text);
        json_decref(tasks);
    }
    int64_t g1 = bo_mono_ms();
    for (int r = 0; r < gets; r++) {
        struct bo_buf b = {0};
        bo_buf_add(&b, "[", 1);
        for (int64_t i = 0; i < gj->n_current; i++) {
            if (i)
                bo_buf_add(&b, ",", 1);
            state_task_view_text(&b, gj->current[i]);
        }
        bo_buf_add(&b, "]", 1);
        bo_buf_free(&b);
    }
    int64_t g2 = bo_mono_ms();
    printf("  GET of a %lld-instance job (tasks' JSON, %zu bytes): jansson tree %.1f ms, text %.1f ms\n",
           (long long)gj->n_current, bytes, (double)(g1 - g0) / gets, (double)(g2 - g1) / gets);
    store_close(store);
    bo_rm_rf(dir, NULL);
    return placed == n_tasks ? 0 : 1;
}
