/* store_fixture.h - the scratch store of a scheduler unit test. Each test
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

#include "base/fs.h"
#include "harness.h"
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
    struct store *store = st->store;
    state_free(st);
    store_close(store);
}

#endif
