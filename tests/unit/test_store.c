/* Unit tests for the store (SQLite backend): round trips, batches, rollback,
 * ordering, error messages, crash durability (SIGKILLed writer) and a
 * throughput figure (printed, never asserted). */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/fs.h"
#include "harness.h"
#include "store/store.h"

/* A fresh directory per test (each test is its own process). */
static char tmpdir[64];

static const char *db_path(void)
{
    static char path[128];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/borealis-store-XXXXXX");
        CHECK(mkdtemp(tmpdir));
        snprintf(path, sizeof(path), "%s/state.db", tmpdir);
    }
    return path;
}

static void cleanup_dir(void)
{
    if (tmpdir[0])
        CHECK(bo_rm_rf(tmpdir, NULL) == 0);
}

static struct store *open_db(bool sync_full)
{
    struct store *s = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (store_open_sqlite(db_path(), sync_full, &s, &err) < 0) {
        fprintf(stderr, "  open: %s\n", err->msg);
        exit(1);
    }
    return s;
}

static void put_ok(struct store *s, const char *kind, const char *id, const char *value)
{
    _cleanup_error_ bo_error_t err = NULL;
    if (store_put(s, kind, id, value, &err) < 0) {
        fprintf(stderr, "  put %s/%s: %s\n", kind, id, err->msg);
        exit(1);
    }
}

/* Load a kind into "id=value;id=value;" (heap string). */
static int collect_fn(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    char **acc = ctx;
    char *n = bo_xasprintf("%s%s=%s;", *acc, id, value);
    free(*acc);
    *acc = n;
    return 0;
}

static char *dump(struct store *s, const char *kind)
{
    char *acc = bo_xstrdup("");
    _cleanup_error_ bo_error_t err = NULL;
    if (store_load(s, kind, collect_fn, &acc, &err) < 0) {
        fprintf(stderr, "  load %s: %s\n", kind, err->msg);
        exit(1);
    }
    return acc;
}

#define CHECK_DUMP(s, kind, want)                                                                  \
    do {                                                                                           \
        _cleanup_free_ char *_d = dump((s), (kind));                                               \
        CHECK_STR(_d, (want));                                                                     \
    } while (0)

TEST(round_trip_and_overwrite)
{
    struct store *s = open_db(true);
    CHECK(!store_in_batch(s));
    put_ok(s, "job", "local/www/devel/hello", "{\"instances\":2}");
    put_ok(s, "task", "t1", "{\"state\":\"PENDING\"}");
    CHECK_DUMP(s, "job", "local/www/devel/hello={\"instances\":2};");
    CHECK_DUMP(s, "task", "t1={\"state\":\"PENDING\"};");
    CHECK_DUMP(s, "agent", "");
    put_ok(s, "task", "t1", "{\"state\":\"RUNNING\"}");
    CHECK_DUMP(s, "task", "t1={\"state\":\"RUNNING\"};");
    /* Values are opaque text: quotes, newlines, unicode, empty. */
    put_ok(s, "agent", "a'; DROP TABLE kv_task; --", "\"x\ny\" \xc3\xa9");
    put_ok(s, "agent", "b", "");
    CHECK_DUMP(s, "agent", "a'; DROP TABLE kv_task; --=\"x\ny\" \xc3\xa9;b=;");
    CHECK_DUMP(s, "task", "t1={\"state\":\"RUNNING\"};");
    store_close(s);
    s = open_db(true);
    CHECK_DUMP(s, "task", "t1={\"state\":\"RUNNING\"};");
    store_close(s);
    cleanup_dir();
}

TEST(batch_commit_visible_after_reopen)
{
    struct store *s = open_db(true);
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(store_begin(s, &err) == 0);
    CHECK(store_in_batch(s));
    put_ok(s, "job", "j", "1");
    put_ok(s, "task", "t0", "a");
    put_ok(s, "task", "t1", "b");
    CHECK(store_delete(s, "task", "t0", &err) == 0);
    /* The batch sees its own writes. */
    CHECK_DUMP(s, "task", "t1=b;");
    CHECK(store_commit(s, &err) == 0);
    CHECK(!store_in_batch(s));
    store_close(s);

    s = open_db(false);
    CHECK_DUMP(s, "job", "j=1;");
    CHECK_DUMP(s, "task", "t1=b;");
    store_close(s);
    cleanup_dir();
}

TEST(rollback_discards)
{
    struct store *s = open_db(true);
    _cleanup_error_ bo_error_t err = NULL;
    put_ok(s, "task", "keep", "old");
    CHECK(store_begin(s, &err) == 0);
    put_ok(s, "task", "keep", "new");
    put_ok(s, "task", "extra", "x");
    CHECK(store_delete(s, "task", "keep", &err) == 0);
    store_rollback(s);
    CHECK(!store_in_batch(s));
    CHECK_DUMP(s, "task", "keep=old;");
    store_rollback(s); /* outside a batch: no-op */

    /* Closing with an open batch discards it too. */
    CHECK(store_begin(s, &err) == 0);
    put_ok(s, "task", "lost", "x");
    store_close(s);
    s = open_db(true);
    CHECK_DUMP(s, "task", "keep=old;");
    store_close(s);
    cleanup_dir();
}

TEST(delete_and_missing)
{
    struct store *s = open_db(true);
    _cleanup_error_ bo_error_t err = NULL;
    put_ok(s, "agent", "a1", "{}");
    put_ok(s, "agent", "a2", "{}");
    CHECK(store_delete(s, "agent", "a1", &err) == 0);
    CHECK_DUMP(s, "agent", "a2={};");
    CHECK(store_delete(s, "agent", "a1", &err) == 0); /* already gone: fine */
    CHECK(store_delete(s, "agent", "never", &err) == 0);
    CHECK(store_delete(s, "agent", "a2", &err) == 0);
    CHECK_DUMP(s, "agent", "");
    store_close(s);
    cleanup_dir();
}

TEST(load_in_id_order)
{
    struct store *s = open_db(false);
    static const char *const ids[] = {"task-2", "b", "task-10", "B", "a", "b0", "\xc3\xa9", "_"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        put_ok(s, "task", ids[i], "v");
    /* Byte order: upper case < '_' < lower case < UTF-8 lead bytes. */
    CHECK_DUMP(s, "task", "B=v;_=v;a=v;b=v;b0=v;task-10=v;task-2=v;\xc3\xa9=v;");
    store_close(s);
    cleanup_dir();
}

struct stop_ctx {
    int seen;
};

static int stop_after_two(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    struct stop_ctx *c = ctx;
    if (++c->seen == 2)
        return bo_error_set(err, BO_E_INVALID, "bad task `%s`", id);
    return 0;
}

static int nested_load(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    return store_load(ctx, "task", stop_after_two, &(struct stop_ctx){0}, err);
}

TEST(load_callback_error_stops)
{
    struct store *s = open_db(false);
    put_ok(s, "task", "a", "1");
    put_ok(s, "task", "b", "2");
    put_ok(s, "task", "c", "3");
    struct stop_ctx c = {0};
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(store_load(s, "task", stop_after_two, &c, &err) == -1);
    CHECK(c.seen == 2);
    CHECK_STR(err->msg, "bad task `b`");
    bo_error_freep(&err);
    /* The statement was reset: a second load starts from the beginning. */
    CHECK_DUMP(s, "task", "a=1;b=2;c=3;");
    /* A nested load of the same kind is refused, not silently restarted. */
    CHECK(store_load(s, "task", nested_load, s, &err) == -1);
    CHECK_CONTAINS(err->msg, "already loading");
    bo_error_freep(&err);
    CHECK_DUMP(s, "task", "a=1;b=2;c=3;");
    store_close(s);
    cleanup_dir();
}

TEST(kinds_are_validated)
{
    struct store *s = open_db(false);
    static const char *const bad[] = {"kv_job", "job; DROP TABLE kv_job", "JOB", "", "jobs",
                                      "sqlite_master", "job "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        _cleanup_error_ bo_error_t err = NULL;
        CHECK(store_put(s, bad[i], "x", "1", &err) == -1);
        CHECK(err->kind == BO_E_INVALID);
        CHECK_CONTAINS(err->msg, "unknown kind");
        bo_error_freep(&err);
        CHECK(store_delete(s, bad[i], "x", &err) == -1);
        CHECK(err->kind == BO_E_INVALID);
        bo_error_freep(&err);
        CHECK(store_load(s, bad[i], collect_fn, NULL, &err) == -1);
        CHECK(err->kind == BO_E_INVALID);
    }
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(store_put(s, NULL, "x", "1", &err) == -1);
    CHECK(err->kind == BO_E_INVALID);
    for (int k = 0; k < STORE_KIND_COUNT; k++)
        CHECK(store_kind_index(store_kind_name(k)) == k);
    CHECK(store_kind_name(STORE_KIND_COUNT) == NULL);
    CHECK(store_kind_name(-1) == NULL);
    CHECK(store_kind_index("meta") == 3);
    store_close(s);
    cleanup_dir();
}

TEST(ids_and_values_are_limited)
{
    struct store *s = open_db(false);
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(store_put(s, "task", "", "1", &err) == -1);
    CHECK(err->kind == BO_E_INVALID);
    bo_error_freep(&err);
    CHECK(store_put(s, "task", NULL, "1", &err) == -1);
    bo_error_freep(&err);
    CHECK(store_put(s, "task", "x", NULL, &err) == -1);
    CHECK(err->kind == BO_E_INVALID);
    bo_error_freep(&err);
    char id[STORE_ID_MAX + 2];
    memset(id, 'i', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    CHECK(store_put(s, "task", id, "1", &err) == -1);
    CHECK_CONTAINS(err->msg, "longer than");
    bo_error_freep(&err);
    id[STORE_ID_MAX] = '\0';
    put_ok(s, "task", id, "1");
    char *big = bo_xmalloc(STORE_VALUE_MAX + 2);
    memset(big, 'v', STORE_VALUE_MAX + 1);
    big[STORE_VALUE_MAX + 1] = '\0';
    CHECK(store_put(s, "task", "big", big, &err) == -1);
    CHECK_CONTAINS(err->msg, "value longer than");
    free(big);
    store_close(s);
    cleanup_dir();
}

TEST(failed_change_spoils_batch)
{
    struct store *s = open_db(false);
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(store_begin(s, &err) == 0);
    put_ok(s, "task", "a", "1");
    CHECK(store_put(s, "nope", "b", "2", &err) == -1);
    bo_error_freep(&err);
    /* Further writes are refused rather than applied to half a batch... */
    CHECK(store_put(s, "task", "c", "3", &err) == -1);
    CHECK(err->kind == BO_E_IO);
    bo_error_freep(&err);
    /* ... and commit rolls everything back. */
    CHECK(store_commit(s, &err) == -1);
    CHECK(err->kind == BO_E_IO);
    CHECK_CONTAINS(err->msg, "rolled back");
    CHECK(!store_in_batch(s));
    CHECK_DUMP(s, "task", "");
    /* The store is usable again afterwards. */
    put_ok(s, "task", "d", "4");
    CHECK_DUMP(s, "task", "d=4;");
    store_close(s);
    cleanup_dir();
}

TEST(batch_misuse)
{
    struct store *s = open_db(false);
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(store_commit(s, &err) == -1);
    CHECK_CONTAINS(err->msg, "without a batch");
    bo_error_freep(&err);
    CHECK(store_begin(s, &err) == 0);
    CHECK(store_begin(s, &err) == -1);
    CHECK_CONTAINS(err->msg, "already open");
    CHECK(store_in_batch(s)); /* the first batch is still open and usable */
    bo_error_freep(&err);
    put_ok(s, "meta", "k", "1");
    CHECK(store_commit(s, &err) == 0);
    CHECK_DUMP(s, "meta", "k=1;schema_version=1;");
    store_close(s);
    store_close(NULL);
    cleanup_dir();
}

TEST(stats_count_committed_work)
{
    struct store *s = open_db(false);
    _cleanup_error_ bo_error_t err = NULL;
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK(st.commits == 0 && st.puts == 0 && st.deletes == 0);
    put_ok(s, "task", "a", "1"); /* autocommit */
    CHECK(store_delete(s, "task", "zz", &err) == 0);
    store_get_stats(s, &st);
    CHECK(st.commits == 2 && st.puts == 1 && st.deletes == 1);
    CHECK(store_begin(s, &err) == 0);
    put_ok(s, "task", "b", "1");
    put_ok(s, "task", "c", "1");
    put_ok(s, "task", "d", "1");
    CHECK(store_delete(s, "task", "a", &err) == 0);
    store_get_stats(s, &st);
    CHECK(st.commits == 2 && st.puts == 1); /* not yet committed */
    CHECK(store_commit(s, &err) == 0);
    store_get_stats(s, &st);
    CHECK(st.commits == 3 && st.puts == 4 && st.deletes == 2);
    CHECK(store_begin(s, &err) == 0);
    put_ok(s, "task", "e", "1");
    store_rollback(s);
    store_get_stats(s, &st);
    CHECK(st.commits == 3 && st.puts == 4 && st.deletes == 2);
    store_close(s);
    cleanup_dir();
}

TEST(open_errors_name_the_path)
{
    struct store *s = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(store_open_sqlite("/nonexistent-borealis-dir/x/state.db", true, &s, &err) == -1);
    CHECK(s == NULL);
    CHECK_CONTAINS(err->msg, "/nonexistent-borealis-dir/x/state.db");
    CHECK_CONTAINS(err->msg, "unable to open");
    CHECK(err->kind == BO_E_IO);
    bo_error_freep(&err);

    const char *p = db_path();
    static const char junk[] = "this is not an sqlite database, just some text padding it out to "
                               "more than one hundred bytes so the header check fails cleanly.";
    CHECK(bo_write_file_atomic(p, junk, sizeof(junk) - 1, false, NULL) == 0);
    CHECK(store_open_sqlite(p, true, &s, &err) == -1);
    CHECK_CONTAINS(err->msg, p);
    CHECK_CONTAINS(err->msg, "not a database");
    bo_error_freep(&err);

    CHECK(store_open_sqlite("", true, &s, &err) == -1);
    CHECK(err->kind == BO_E_INVALID);
    cleanup_dir();
}

TEST(schema_version_and_wal)
{
    struct store *s = open_db(true);
    CHECK_DUMP(s, "meta", "schema_version=1;");
    store_close(s);

    /* Checked from outside with a plain connection: WAL is on and every
     * kind has its table. */
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(db_path(), &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master "
                             "WHERE type = 'table' ORDER BY name)",
                             -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "kv_agent,kv_audit,kv_job,kv_meta,kv_task,kv_token,kv_update");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* A database from a future build is refused, naming the version. */
    s = open_db(true);
    put_ok(s, "meta", "schema_version", "99");
    store_close(s);
    struct store *s2 = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(store_open_sqlite(db_path(), true, &s2, &err) == -1);
    CHECK_CONTAINS(err->msg, "schema_version is 99");
    CHECK_CONTAINS(err->msg, db_path());
    cleanup_dir();
}

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

TEST(fds_are_cloexec)
{
    bool before[256];
    for (int fd = 0; fd < 256; fd++)
        before[fd] = fd_open(fd);
    struct store *s = open_db(true);
    put_ok(s, "task", "a", "1"); /* creates the -wal and -shm files */
    CHECK_DUMP(s, "task", "a=1;");
    int fresh = 0;
    for (int fd = 0; fd < 256; fd++) {
        if (before[fd] || !fd_open(fd))
            continue;
        fresh++;
        int fl = fcntl(fd, F_GETFD);
        if (!(fl & FD_CLOEXEC)) {
            fprintf(stderr, "  fd %d is not close-on-exec\n", fd);
            exit(1);
        }
    }
    CHECK(fresh >= 2); /* at least the database and its WAL */
    store_close(s);
    cleanup_dir();
}

/* Crash durability: a child commits, tells the parent, and is SIGKILLed
 * while still holding the database open (and, in the second phase, in the
 * middle of an uncommitted batch). Committed data must survive; the open
 * batch must vanish whole. */
TEST(sigkilled_writer_keeps_committed_data)
{
    const char *path = db_path();
    int pfd[2];
    CHECK(pipe2(pfd, O_CLOEXEC) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct store *s = NULL;
        if (store_open_sqlite(path, true, &s, NULL) < 0)
            _exit(2);
        if (store_begin(s, NULL) < 0 || store_put(s, "job", "j", "{\"v\":1}", NULL) < 0 ||
            store_put(s, "task", "t1", "{\"s\":\"RUNNING\"}", NULL) < 0 ||
            store_commit(s, NULL) < 0)
            _exit(3);
        if (store_put(s, "task", "t2", "auto", NULL) < 0) /* autocommit */
            _exit(4);
        /* An open batch that must not survive. */
        if (store_begin(s, NULL) < 0 || store_put(s, "task", "t3", "half", NULL) < 0 ||
            store_delete(s, "task", "t1", NULL) < 0)
            _exit(5);
        (void)!write(pfd[1], "k", 1);
        for (;;)
            pause();
    }
    close(pfd[1]);
    char c = 0;
    CHECK(read(pfd[0], &c, 1) == 1 && c == 'k');
    close(pfd[0]);
    CHECK(kill(pid, SIGKILL) == 0);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    struct store *s = open_db(true);
    CHECK_DUMP(s, "job", "j={\"v\":1};");
    CHECK_DUMP(s, "task", "t1={\"s\":\"RUNNING\"};t2=auto;");
    store_close(s);
    cleanup_dir();
}

/* Batch atomicity under a crash at a random point: the child commits
 * batches {task/N, meta/last=N} as fast as it can (synchronous=NORMAL,
 * which still promises durability against a process crash) until it is
 * killed. Afterwards, meta/last names exactly the tasks present. */
static int count_fn(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    (*(long *)ctx)++;
    return 0;
}

static int last_fn(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    if (strcmp(id, "last") == 0)
        *(long *)ctx = strtol(value, NULL, 10);
    return 0;
}

TEST(sigkill_mid_stream_keeps_whole_batches)
{
    const char *path = db_path();
    int pfd[2];
    CHECK(pipe2(pfd, O_CLOEXEC) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct store *s = NULL;
        if (store_open_sqlite(path, false, &s, NULL) < 0)
            _exit(2);
        (void)!write(pfd[1], "k", 1);
        for (long i = 0;; i++) {
            char id[32], val[32];
            snprintf(id, sizeof(id), "t%08ld", i);
            snprintf(val, sizeof(val), "%ld", i);
            if (store_begin(s, NULL) < 0 || store_put(s, "task", id, val, NULL) < 0 ||
                store_put(s, "meta", "last", val, NULL) < 0 || store_commit(s, NULL) < 0)
                _exit(3);
        }
    }
    close(pfd[1]);
    char c = 0;
    CHECK(read(pfd[0], &c, 1) == 1);
    close(pfd[0]);
    struct timespec ts = {0, 150 * 1000 * 1000};
    nanosleep(&ts, NULL);
    CHECK(kill(pid, SIGKILL) == 0);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st));

    struct store *s = open_db(false);
    long last = -1, tasks = 0;
    CHECK(store_load(s, "meta", last_fn, &last, NULL) == 0);
    CHECK(store_load(s, "task", count_fn, &tasks, NULL) == 0);
    printf("  killed writer after %ld committed batches\n", tasks);
    CHECK(last >= 0);
    CHECK(tasks == last + 1);
    store_close(s);
    cleanup_dir();
}

TEST(throughput_10k_puts_one_batch)
{
    struct store *s = open_db(true);
    _cleanup_error_ bo_error_t err = NULL;
    char id[96], val[256];
    int64_t t0 = bo_mono_ms();
    CHECK(store_begin(s, &err) == 0);
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "www-data-devel-hello-%d-6c9f0000-0000-4000-8000-%012d", i, i);
        snprintf(val, sizeof(val),
                 "{\"id\":\"%s\",\"instance\":%d,\"state\":\"PENDING\",\"failure_count\":0}", id,
                 i);
        put_ok(s, "task", id, val);
    }
    CHECK(store_commit(s, &err) == 0);
    int64_t ms = bo_mono_ms() - t0;
    printf("  store: 10000 puts in one batch (synchronous=FULL): %lld ms, %.0f puts/s\n",
           (long long)ms, 10000.0 * 1000.0 / (double)(ms > 0 ? ms : 1));

    t0 = bo_mono_ms();
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof(id), "auto-%d", i);
        put_ok(s, "agent", id, "{}");
    }
    ms = bo_mono_ms() - t0;
    printf("  store: 200 autocommitted puts (synchronous=FULL): %lld ms, %.0f commits/s\n",
           (long long)ms, 200.0 * 1000.0 / (double)(ms > 0 ? ms : 1));
    long n = 0;
    CHECK(store_load(s, "task", count_fn, &n, NULL) == 0);
    CHECK(n == 10000);
    store_close(s);
    cleanup_dir();
}

/* Group commit: deferred batches are atomic each, invisible to another
 * connection (a restarted scheduler) until the flush, and a rolled-back
 * batch inside the group leaves the others. */
static void batch_ok(struct store *s, const char *id, const char *value, bool deferred)
{
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(store_begin(s, &err) == 0);
    CHECK(store_put(s, "task", id, value, &err) == 0);
    CHECK((deferred ? store_commit_deferred(s, &err) : store_commit(s, &err)) == 0);
}

TEST(group_commit)
{
    struct store *s = open_db(false);
    struct store *other = open_db(false);
    /* A batch that writes nothing opens no group. */
    CHECK(store_begin(s, NULL) == 0);
    CHECK(store_commit_deferred(s, NULL) == 0);
    CHECK(!store_has_deferred(s) && !store_in_batch(s));
    batch_ok(s, "t1", "1", true);
    CHECK(store_has_deferred(s));
    batch_ok(s, "t2", "2", true);
    /* A batch rolled back inside the group: only it goes. */
    CHECK(store_begin(s, NULL) == 0);
    CHECK(store_put(s, "task", "t3", "3", NULL) == 0);
    CHECK(store_delete(s, "task", "t1", NULL) == 0);
    store_rollback(s);
    CHECK(store_has_deferred(s));
    CHECK_DUMP(s, "task", "t1=1;t2=2;");
    CHECK_DUMP(other, "task", ""); /* not durable yet */
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK(st.commits == 0);
    CHECK(store_flush(s, NULL) == 0);
    CHECK(!store_has_deferred(s));
    CHECK(store_flush(s, NULL) == 0); /* nothing open: a no-op */
    CHECK_DUMP(other, "task", "t1=1;t2=2;");
    store_get_stats(s, &st);
    CHECK(st.commits == 1 && st.deferred == 2 && st.puts == 2);
    /* A durable commit takes the group with it. */
    batch_ok(s, "t4", "4", true);
    batch_ok(s, "t5", "5", false);
    CHECK(!store_has_deferred(s));
    CHECK_DUMP(other, "task", "t1=1;t2=2;t4=4;t5=5;");
    /* So does a put outside a batch. */
    batch_ok(s, "t6", "6", true);
    put_ok(s, "task", "t7", "7");
    CHECK(!store_has_deferred(s));
    CHECK_DUMP(other, "task", "t1=1;t2=2;t4=4;t5=5;t6=6;t7=7;");
    /* A spoiled batch is not deferred. */
    CHECK(store_begin(s, NULL) == 0);
    _cleanup_error_ bo_error_t e1 = NULL;
    CHECK(store_put(s, "nokind", "x", "1", NULL) < 0);
    CHECK(store_commit_deferred(s, &e1) < 0 && e1->kind == BO_E_IO);
    CHECK(!store_in_batch(s) && !store_has_deferred(s));
    /* Refused writes drop the group: never answered for, never durable. */
    batch_ok(s, "t8", "8", true);
    store_refuse_writes(s, "disk gone");
    _cleanup_error_ bo_error_t e2 = NULL;
    CHECK(store_flush(s, &e2) < 0 && e2->kind == BO_E_IO);
    CHECK_CONTAINS(e2->msg, "disk gone");
    store_close(s);
    CHECK_DUMP(other, "task", "t1=1;t2=2;t4=4;t5=5;t6=6;t7=7;");
    /* Closing with a group open rolls it back. */
    s = open_db(false);
    batch_ok(s, "t9", "9", true);
    store_close(s);
    CHECK_DUMP(other, "task", "t1=1;t2=2;t4=4;t5=5;t6=6;t7=7;");
    store_close(other);
    cleanup_dir();
}

TEST_MAIN()
