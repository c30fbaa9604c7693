/* Unit tests for the writer-thread store (store_threaded.c) over SQLite:
 * background group commits and their tickets, order against durable
 * commits, reads of what is queued, and failures, injected with the
 * fault-injecting backend between the thread and SQLite. */
#include <poll.h>
#include <string.h>

#include "harness.h"
#include "store/store.h"
#include "store/store_faulty.h"
#include "store/store_threaded.h"
#include "store_fixture.h"

/* A second connection, opened before the test writes (opening one runs a
 * write transaction, which would wait behind an open group). */
static struct store *other;

static struct store *open_plain(void)
{
    struct store *s = NULL;
    CHECK(store_open_sqlite(fixture_db_path(), false, &s, NULL) == 0);
    return s;
}

/* The threaded store over SQLite, or over a faulty wrapper of it (*faulty). */
static struct store *open_threaded(struct store **faulty)
{
    struct store *inner = open_plain();
    if (!other)
        other = open_plain();
    if (faulty)
        inner = *faulty = store_faulty_wrap(inner);
    struct store *s = NULL;
    CHECK(store_threaded_wrap(inner, &s, NULL) == 0);
    CHECK(store_event_fd(s) >= 0);
    return s;
}

static int dump_fn(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    char **acc = ctx;
    char *n = bo_xasprintf("%s%s=%s;", *acc, id, value);
    free(*acc);
    *acc = n;
    return 0;
}

static int count_fn(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    (*(size_t *)ctx)++;
    return 0;
}

/* What that connection sees committed: "id=value;..." */
static char *committed(void)
{
    char *acc = bo_xstrdup("");
    CHECK(store_load(other, "task", dump_fn, &acc, NULL) == 0);
    return acc;
}

/* Close the test's stores (LeakSanitizer then sees the store's own leaks). */
static void finish(struct store *s)
{
    store_close(s);
    store_close(other);
    other = NULL;
}

static void batch(struct store *s, const char *id, const char *value, bool deferred)
{
    CHECK(store_begin(s, NULL) == 0);
    CHECK(store_put(s, "task", id, value, NULL) == 0);
    CHECK((deferred ? store_commit_deferred(s, NULL) : store_commit(s, NULL)) == 0);
}

/* Tasks t0000.. of 4 KiB each, into the open batch. */
static void put_many(struct store *s, int n)
{
    static char value[4096];
    memset(value, 'x', sizeof(value) - 1);
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "t%04d", i);
        CHECK(store_put(s, "task", id, value, NULL) == 0);
    }
}

/* Wait for the thread's signal, then collect. */
static int wait_collect(struct store *s, bo_error_t *err)
{
    struct pollfd p = {store_event_fd(s), POLLIN, 0};
    CHECK(poll(&p, 1, 10000) == 1);
    return store_collect(s, err);
}

TEST(a_background_commit_is_durable_when_its_ticket_is)
{
    struct store *s = open_threaded(NULL);
    CHECK(store_barrier(s) == 0 && store_durable(s) == 0);
    batch(s, "t1", "1", true);
    batch(s, "t2", "2", true);
    uint64_t ticket = store_barrier(s);
    CHECK(ticket == 1 && store_durable(s) == 0);
    CHECK(store_flush_start(s, NULL) == 0);
    CHECK(!store_has_deferred(s));
    /* A batch after the start joins the next group. */
    batch(s, "t3", "3", true);
    CHECK(store_barrier(s) == 2);
    while (store_durable(s) < ticket)
        CHECK(wait_collect(s, NULL) == 0);
    _cleanup_free_ char *c = committed();
    CHECK_CONTAINS(c, "t1=1;t2=2;");
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK(st.commits >= 1 && st.deferred >= 2);
    /* A synchronous flush makes everything durable. */
    CHECK(store_flush(s, NULL) == 0);
    CHECK(store_durable(s) == store_barrier(s) && store_durable(s) == 2);
    _cleanup_free_ char *c2 = committed();
    CHECK_STR(c2, "t1=1;t2=2;t3=3;");
    finish(s);
}

TEST(a_flush_waits_for_the_commits_started_before_it)
{
    struct store *s = open_threaded(NULL);
    /* A group big enough to be still running when the flush comes. */
    CHECK(store_begin(s, NULL) == 0);
    put_many(s, 2000);
    CHECK(store_commit_deferred(s, NULL) == 0);
    CHECK(store_flush_start(s, NULL) == 0);
    CHECK(!store_has_deferred(s));
    CHECK(store_flush(s, NULL) == 0);
    CHECK(store_durable(s) == 1 && store_barrier(s) == 1);
    size_t n = 0;
    CHECK(store_load(other, "task", count_fn, &n, NULL) == 0);
    CHECK(n == 2000);
    finish(s);
}

TEST(order_holds_across_background_and_durable_commits)
{
    struct store *s = open_threaded(NULL);
    for (int i = 0; i < 50; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", i);
        batch(s, "t", v, i % 3 != 0);
        if (i % 2)
            CHECK(store_flush_start(s, NULL) == 0);
    }
    batch(s, "t", "last", false);
    _cleanup_free_ char *c = committed();
    CHECK_STR(c, "t=last;");
    /* Everything before the durable commit is durable with it. */
    CHECK(store_collect(s, NULL) == 0);
    CHECK(store_durable(s) == store_barrier(s));
    finish(s);
}

TEST(reads_see_what_is_queued)
{
    struct store *s = open_threaded(NULL);
    batch(s, "a", "1", true);
    CHECK(store_begin(s, NULL) == 0);
    CHECK(store_put(s, "task", "b", "2", NULL) == 0);
    CHECK(store_commit_deferred(s, NULL) == 0);
    char *acc = bo_xstrdup("");
    CHECK(store_load(s, "task", dump_fn, &acc, NULL) == 0);
    CHECK_STR(acc, "a=1;b=2;");
    free(acc);
    _cleanup_free_ char *c = committed();
    CHECK_STR(c, ""); /* not committed yet */
    /* Closing with the group open rolls it back. */
    store_close(s);
    _cleanup_free_ char *c2 = committed();
    CHECK_STR(c2, "");
    finish(NULL);
}

TEST(a_failed_background_commit_refuses_every_later_write)
{
    struct store *f = NULL;
    struct store *s = open_threaded(&f);
    batch(s, "t1", "1", false); /* durable; the queue is empty after it */
    /* The group: BEGIN, PUT t2, then COMMIT; its put fails. */
    store_faulty_fail_at(f, 2, false);
    batch(s, "t2", "2", true);
    _cleanup_error_ bo_error_t e = NULL;
    /* The start fails if the thread was done with the group by then. */
    int r = store_flush_start(s, &e);
    if (r == 0) {
        batch(s, "t3", "3", true); /* queued behind the lost group */
        while ((r = wait_collect(s, &e)) == 0)
            ;
    }
    CHECK(r < 0 && e->kind == BO_E_IO);
    CHECK_CONTAINS(e->msg, "injected failure");
    CHECK(store_durable(s) == 0);
    _cleanup_error_ bo_error_t e2 = NULL;
    CHECK(store_begin(s, &e2) < 0 && e2->kind == BO_E_IO);
    /* Nothing after the lost group was committed either. */
    _cleanup_error_ bo_error_t e3 = NULL;
    CHECK(store_flush(s, &e3) < 0);
    store_close(s);
    _cleanup_free_ char *c = committed();
    CHECK_STR(c, "t1=1;");
    finish(NULL);
}

TEST(a_failed_put_fails_its_durable_commit_only)
{
    struct store *f = NULL;
    struct store *s = open_threaded(&f);
    /* BEGIN, PUT t1, PUT t2 (fails), COMMIT. */
    store_faulty_fail_at(f, 3, false);
    CHECK(store_begin(s, NULL) == 0);
    CHECK(store_put(s, "task", "t1", "1", NULL) == 0);
    CHECK(store_put(s, "task", "t2", "2", NULL) == 0);
    _cleanup_error_ bo_error_t e = NULL;
    CHECK(store_commit(s, &e) < 0 && e->kind == BO_E_IO);
    CHECK_CONTAINS(e->msg, "put task/t2");
    CHECK(!store_in_batch(s));
    /* The batch is gone whole, and the store still writes. */
    batch(s, "t3", "3", false);
    _cleanup_free_ char *c = committed();
    CHECK_STR(c, "t3=3;");
    /* An autocommitted put reports its own failure. */
    store_faulty_fail_at(f, 1, false);
    _cleanup_error_ bo_error_t e2 = NULL;
    CHECK(store_put(s, "task", "t4", "4", &e2) < 0);
    CHECK_CONTAINS(e2->msg, "put task/t4");
    finish(s);
}

TEST(a_batch_larger_than_the_queue_commits_whole)
{
    struct store *s = open_threaded(NULL);
    CHECK(store_begin(s, NULL) == 0);
    /* Past the queue's 1 MiB the thread starts before the commit. */
    put_many(s, 1000);
    CHECK(store_commit(s, NULL) == 0);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK(st.puts == 1000 && st.commits == 1);
    store_close(s);
    size_t n = 0;
    CHECK(store_load(other, "task", count_fn, &n, NULL) == 0);
    CHECK(n == 1000);
    finish(NULL);
}

TEST_MAIN()
