/* store_fixture.h - the scratch store of a scheduler unit test, an
 * agent as a registration makes one, and a sync it sends. Each test
 * runs in its own process (tests/unit/run.sh): the store's directory is
 * made on first use and removed when the process exits, and every call
 * opens the same file (a test reopens it to check what a restart loads).
 * fixture_done frees the state and closes its store, so LeakSanitizer
 * checks the modules, not the tests. */
#ifndef BO_TESTS_STORE_FIXTURE_H
#define BO_TESTS_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/fs.h"
#include "harness.h"
#include "scheduler/agent_sync.h"
#include "scheduler/state.h"
#include "store/store.h"

static char fixture_dir[64];

__attribute__((destructor)) static void fixture_remove_dir(void)
{
    if (fixture_dir[0])
        bo_rm_rf(fixture_dir, NULL);
}

/* DIR/s.db, the same path on every call. */
static inline const char *fixture_db_path(void)
{
    static char path[128];
    if (!fixture_dir[0]) {
        strcpy(fixture_dir, "/tmp/bo-unit-XXXXXX");
        CHECK(mkdtemp(fixture_dir));
        snprintf(path, sizeof(path), "%s/s.db", fixture_dir);
    }
    return path;
}

static inline struct store *fixture_open_store(void)
{
    struct store *s = NULL;
    CHECK(store_open_sqlite(fixture_db_path(), false, &s, NULL) == 0);
    return s;
}

static inline void fixture_done(struct sched_state *st)
{
    /* Whatever the test did, each agent's counts still match its tasks. */
    struct sched_agent *a, *atmp;
    HASH_ITER(hh, st->agents, a, atmp)
    CHECK(state_agent_counts_ok(a));
    struct store *store = st->store;
    state_free(st);
    store_close(store);
}

/* Agent `id` (also its hostname), up and heard from now, with `cpu` and
 * `ram`, 1 GiB of disk, ports 31000-31009 and no attributes; saved in the
 * store. */
static inline struct sched_agent *fixture_agent(struct sched_state *st, const char *id, double cpu, uint64_t ram)
{
    struct sched_agent *a = bo_xcalloc(1, sizeof(*a));
    a->id = bo_xstrdup(id);
    a->hostname = bo_xstrdup(id);
    a->cpu = cpu;
    a->ram = ram;
    a->disk = 1ULL << 30;
    state_agent_set_ports(a, 31000, 31009);
    a->up = true;
    a->state = AGENT_UP;
    a->last_seen_mono = bo_mono_ms();
    st->agents_up++;
    state_agent_add(st, a);
    CHECK(state_save_agent(st, a, NULL) == 0);
    return a;
}

/* Apply the sync request `body` (taken) as an agent would send it; it must
 * succeed. Returns its answer; *ret_agent (if not NULL) is the agent it
 * applied to (NULL when the scheduler asked for the registration). */
static inline json_t *fixture_sync(struct sched_state *st, json_t *body, struct sched_agent **ret_agent)
{
    struct sched_agent *a = NULL;
    json_t *answer = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    int r = agent_sync_apply(st, body, &a, &answer, &err);
    if (r < 0)
        fprintf(stderr, "  sync: %s\n", err->msg);
    CHECK(r == 0);
    json_decref(body);
    if (ret_agent)
        *ret_agent = a;
    return answer;
}

#endif
