/* bench_restart.c - recovery at scale, in one process: a store with N
 * agents and M RUNNING tasks (jobs of K instances), written through the
 * same lifecycle, placement and SQLite store code the daemon runs, then
 * opened and loaded as the scheduler does at start (store open, state_load,
 * lifecycle_recovered), each step timed, with the memory it took. Not a
 * test: it only prints. The store is built once per DIR and kept, so load
 * runs can be repeated (`rm -r DIR` to rebuild).
 * Usage: bench_restart [AGENTS [TASKS [PER_JOB [DIR [LOADS]]]]] */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <utlist.h>

#include "base/clock.h"
#include "base/fs.h"
#include "base/parse.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/scheduler.h"
#include "scheduler/store_open.h"

#include "bench_core.h"

#define USAGE "bench_restart [AGENTS [TASKS [PER_JOB [DIR [LOADS]]]]]"

static void die(const char *what, bo_error_t err)
{
    fprintf(stderr, "bench_restart: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* Agents as stored after registration; tasks created, placed and RUNNING,
 * committed in batches as the loop does. */
static void build(const char *db, int64_t n_agents, int64_t n_tasks, int64_t per_job)
{
    struct store *store = NULL;
    bo_error_t err = NULL;
    if (store_open_sqlite(db, false, &store, &err) < 0)
        die("open", err);
    struct sched_options o;
    scheduler_default_options(&o);
    struct sched_state st;
    state_init(&st, &o, store);
    int64_t t0 = bo_mono_ms();
    if (store_begin(store, &err) < 0)
        die("begin", err);
    for (int64_t i = 0; i < n_agents; i++) {
        struct sched_agent *a = bo_xcalloc(1, sizeof(*a));
        a->id = bo_xasprintf("agent-%06lld", (long long)i);
        a->hostname = bo_xasprintf("host-%06lld", (long long)i);
        a->cpu = 64;
        a->ram = 512ULL << 30;
        a->disk = 1ULL << 40;
        state_agent_set_ports(a, 31000, 31999);
        json_t *attrs = json_pack("{s:s, s:s}", "rack", "r1", "zone", "z1");
        state_agent_set_attrs(a, attrs);
        json_decref(attrs);
        a->up = true;
        a->state = AGENT_UP;
        a->last_seen_mono = bo_mono_ms();
        a->last_seen_wall = bo_wall_ms();
        st.agents_up++;
        state_agent_add(&st, a);
        if (state_save_agent(&st, a, &err) < 0)
            die("save agent", err);
    }
    if (store_commit(store, &err) < 0)
        die("commit", err);
    int64_t jobs = (n_tasks + per_job - 1) / per_job;
    for (int64_t j = 0; j < jobs; j++) {
        int inst = (int)(j == jobs - 1 && n_tasks % per_job ? n_tasks % per_job : per_job);
        struct job_config *c = bench_job((int)j, inst);
        struct sched_job *sj;
        if (store_begin(store, &err) < 0 || lifecycle_create_job(&st, c, &sj, &err) < 0 ||
            placement_run(&st, 0, &err) < 0)
            die("create", err);
        job_config_unref(c);
        for (int64_t i = 0; i < sj->n_current; i++)
            if (lifecycle_transition(&st, sj->current[i], TASK_STARTING, NULL, &err) < 0 ||
                lifecycle_transition(&st, sj->current[i], TASK_RUNNING, NULL, &err) < 0)
                die("transition", err);
        if (store_commit(store, &err) < 0)
            die("commit", err);
    }
    printf("built %s: %lld agents, %lld RUNNING tasks in %lld jobs in %.1f s\n", db, (long long)n_agents,
           (long long)n_tasks, (long long)jobs, (double)(bo_mono_ms() - t0) / 1000.0);
    state_free(&st);
    store_close(store);
}

int main(int argc, char **argv)
{
    int64_t n_agents = bench_arg(argc, argv, 1, 10000, USAGE), n_tasks = bench_arg(argc, argv, 2, 100000, USAGE),
            per_job = bench_arg(argc, argv, 3, 1000, USAGE), loads = bench_arg(argc, argv, 5, 1, USAGE);
    char tmp[] = "/tmp/bo-restart-XXXXXX";
    const char *dir = argc > 4 ? argv[4] : NULL;
    if (!dir && !(dir = mkdtemp(tmp)))
        return 1;
    mkdir(dir, 0700);
    _cleanup_free_ char *db = bo_xasprintf("%s/scheduler.db", dir);
    struct stat sb;
    if (stat(db, &sb) < 0) {
        build(db, n_agents, n_tasks, per_job);
        stat(db, &sb);
    }
    printf("store %s: %.1f MiB\n", db, (double)sb.st_size / (1 << 20));
    bo_error_t err = NULL;
    for (int64_t run = 0; run < loads; run++) {
        long rss0 = bench_status_kib("VmRSS:");
        int64_t t0 = bo_mono_ms();
        struct store *store = NULL;
        if (store_open_sqlite_mode(db, false, STORE_OPEN_EXISTING, &store, &err) < 0)
            die("open", err);
        int64_t t1 = bo_mono_ms();
        struct sched_options o;
        scheduler_default_options(&o);
        struct sched_state st;
        state_init(&st, &o, store);
        if (state_load(&st, &err) < 0)
            die("load", err);
        int64_t t2 = bo_mono_ms();
        lifecycle_recovered(&st, bo_mono_ms(), bo_wall_ms());
        int64_t t3 = bo_mono_ms();
        long rss1 = bench_status_kib("VmRSS:");
        printf("restart: %u tasks, %u agents: open %lld ms, state_load %lld ms, recovered %lld ms, total %lld ms; "
               "RSS +%ld MiB (%.0f bytes/task)\n",
               HASH_COUNT(st.tasks), HASH_COUNT(st.agents), (long long)(t1 - t0), (long long)(t2 - t1),
               (long long)(t3 - t2), (long long)(t3 - t0), (rss1 - rss0) / 1024,
               (double)(rss1 - rss0) * 1024.0 / (double)(HASH_COUNT(st.tasks) ? HASH_COUNT(st.tasks) : 1));
        int64_t t4 = bo_mono_ms();
        state_free(&st);
        store_close(store);
        printf("  (freeing it: %lld ms)\n", (long long)(bo_mono_ms() - t4));
    }
    if (argc <= 4)
        bo_rm_rf(dir, NULL);
    return 0;
}
