/* store_sqlite.c - the store front end (argument checks, batch state and
 * stats, shared by every backend) and the SQLite backend: one WAL-mode
 * database file, one `kv_<kind>` table per kind, prepared statements cached
 * per kind.
 *
 * The front end sits here only because this is the one backend so far; it
 * moves verbatim to store.c when the etcd backend arrives. */
#include "store/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

/* ---- Front end ------------------------------------------------------------ */

/* The one list of kinds. Names go into SQL table names, so they must stay
 * [a-z_]+ (checked again by the SQLite backend before use). */
static const char *const kind_names[STORE_KIND_COUNT] = {"job", "task", "agent", "meta", "token", "audit", "update"};

const char *store_kind_name(int kind)
{
    return kind >= 0 && kind < STORE_KIND_COUNT ? kind_names[kind] : NULL;
}

int store_kind_index(const char *kind)
{
    if (!kind)
        return -1;
    for (int i = 0; i < STORE_KIND_COUNT; i++)
        if (strcmp(kind_names[i], kind) == 0)
            return i;
    return -1;
}

static int check_kind(const char *kind, int *ret_kind, bo_error_t *err)
{
    int k = store_kind_index(kind);
    if (k < 0) /* %.64s: the kind may come from anywhere; keep the message short */
        return bo_error_set(err, BO_E_INVALID, "store: unknown kind `%.64s`",
                            kind ? kind : "(null)");
    *ret_kind = k;
    return 0;
}

static int check_key(const char *kind, const char *id, int *ret_kind, bo_error_t *err)
{
    if (check_kind(kind, ret_kind, err) < 0)
        return -1;
    if (!id || !*id)
        return bo_error_set(err, BO_E_INVALID, "store: empty id for kind `%s`", kind);
    if (strnlen(id, STORE_ID_MAX + 1) > STORE_ID_MAX)
        return bo_error_set(err, BO_E_INVALID, "store: %s id `%.64s...` longer than %d bytes",
                            kind, id, STORE_ID_MAX);
    return 0;
}

/* A failed change inside a batch spoils it (see store.h); outside a batch
 * there is nothing to spoil. Always returns -1. */
static int write_failed(struct store *s)
{
    if (s->in_batch)
        s->batch_spoiled = true;
    return -1;
}

static void end_batch(struct store *s)
{
    s->in_batch = false;
    s->batch_spoiled = false;
    s->batch_puts = s->batch_deletes = 0;
}

static int check_refused(const struct store *s, bo_error_t *err)
{
    if (s->refused)
        return bo_error_set(err, BO_E_IO, "store `%s`: writes refused after an earlier failure (%s)",
                            store_path(s), s->refused);
    return 0;
}

/* The group's transaction is gone with everything deferred into it: no
 * later write may succeed, or a flush would report those batches durable. */
static void group_lost(struct store *s, const char *why)
{
    s->group_open = false;
    s->group_batches = s->group_puts = s->group_deletes = 0;
    if (!s->refused)
        s->refused = bo_xasprintf("deferred batches lost: %s", why);
}

int store_begin(struct store *s, bo_error_t *err)
{
    if (check_refused(s, err) < 0)
        return -1;
    if (s->in_batch)
        return bo_error_set(err, BO_E_INTERNAL, "store: begin: a batch is already open");
    if ((s->group_open ? s->ops->savepoint(s, err) : s->ops->begin(s, err)) < 0)
        return -1;
    end_batch(s);
    s->in_batch = true;
    return 0;
}

/* A spoiled batch means a change was not written: BO_E_IO, never a kind a
 * caller could take for a harmless validation error (the scheduler rolls
 * back without stopping on those, and its memory would then be ahead of
 * the store). */
static int check_writable(struct store *s, bo_error_t *err)
{
    if (check_refused(s, err) < 0)
        return -1;
    if (s->in_batch && s->batch_spoiled)
        return bo_error_set(err, BO_E_IO,
                            "store: batch aborted by an earlier error; roll it back");
    return 0;
}

int store_put(struct store *s, const char *kind, const char *id, const char *value,
              bo_error_t *err)
{
    int k = -1;
    if (check_writable(s, err) < 0)
        return -1;
    if (check_key(kind, id, &k, err) < 0)
        return write_failed(s);
    if (!value) {
        bo_error_set(err, BO_E_INVALID, "store: put %s/%.64s: no value", kind, id);
        return write_failed(s);
    }
    if (strnlen(value, STORE_VALUE_MAX + 1) > STORE_VALUE_MAX) {
        bo_error_set(err, BO_E_INVALID, "store: put %s/%.64s: value longer than %u bytes", kind,
                     id, STORE_VALUE_MAX);
        return write_failed(s);
    }
    if (!s->in_batch && store_flush(s, err) < 0) /* an autocommit is durable, so is what came before */
        return -1;
    if (s->ops->put(s, k, id, value, !s->in_batch, err) < 0)
        return write_failed(s);
    if (s->in_batch) {
        s->batch_puts++;
    } else {
        s->stats.puts++;
        s->stats.commits++;
    }
    return 0;
}

int store_delete(struct store *s, const char *kind, const char *id, bo_error_t *err)
{
    int k = -1;
    if (check_writable(s, err) < 0)
        return -1;
    if (check_key(kind, id, &k, err) < 0)
        return write_failed(s);
    if (!s->in_batch && store_flush(s, err) < 0)
        return -1;
    if (s->ops->del(s, k, id, !s->in_batch, err) < 0)
        return write_failed(s);
    if (s->in_batch) {
        s->batch_deletes++;
    } else {
        s->stats.deletes++;
        s->stats.commits++;
    }
    return 0;
}

void store_set_hooks(struct store *s, const struct store_hooks *hooks)
{
    s->hooks = hooks ? *hooks : (struct store_hooks){0};
}

/* Write what the caller held back, into the batch (store.h
 * "Write-behind"). A failure spoils the batch; its error is BO_E_IO
 * whatever the put said, since memory is then ahead of the store. */
static int run_before_commit(struct store *s, bo_error_t *err)
{
    if (!s->hooks.before_commit || s->batch_spoiled || s->refused)
        return 0;
    _cleanup_error_ bo_error_t e = NULL;
    if (s->hooks.before_commit(s->hooks.ctx, &e) == 0)
        return 0;
    s->batch_spoiled = true;
    store_rollback(s);
    return bo_error_set(err, BO_E_IO, "store `%s`: commit refused: writing held-back records: %s",
                        store_path(s), e ? e->msg : "failed");
}

int store_commit(struct store *s, bo_error_t *err)
{
    if (!s->in_batch)
        return bo_error_set(err, BO_E_INTERNAL, "store: commit without a batch");
    if (run_before_commit(s, err) < 0)
        return -1;
    if (s->batch_spoiled || s->refused) {
        store_rollback(s);
        if (check_refused(s, err) < 0)
            return -1;
        return bo_error_set(err, BO_E_IO,
                            "store: commit refused: a change in the batch failed; rolled back");
    }
    if (s->group_open) {
        /* Into the group, then the group: one commit makes both durable. */
        if (s->ops->release(s, err) < 0) {
            store_rollback(s);
            return -1;
        }
        s->group_puts += s->batch_puts;
        s->group_deletes += s->batch_deletes;
        end_batch(s);
        return store_flush(s, err);
    }
    if (s->ops->commit(s, err) < 0) {
        store_rollback(s);
        store_collect(s, NULL); /* it may have failed for a lost background group */
        return -1;
    }
    s->stats.commits++;
    s->stats.puts += s->batch_puts;
    s->stats.deletes += s->batch_deletes;
    end_batch(s);
    return store_collect(s, err); /* it waited for every earlier commit */
}

int store_commit_deferred(struct store *s, bo_error_t *err)
{
    if (!s->in_batch)
        return bo_error_set(err, BO_E_INTERNAL, "store: commit without a batch");
    if (run_before_commit(s, err) < 0)
        return -1;
    if (s->batch_spoiled || s->refused) {
        store_rollback(s);
        if (check_refused(s, err) < 0)
            return -1;
        return bo_error_set(err, BO_E_IO, "store: commit refused: a change in the batch failed; rolled back");
    }
    /* Nothing written and no group: nothing to wait for (an idle agent's
     * heartbeat is answered at once). */
    if (!s->group_open && !s->batch_puts && !s->batch_deletes) {
        s->ops->rollback(s);
        end_batch(s);
        return 0;
    }
    /* The first deferred batch's own transaction becomes the group's. */
    if (s->group_open && s->ops->release(s, err) < 0) {
        store_rollback(s);
        return -1;
    }
    s->group_open = true;
    s->group_batches++;
    s->group_puts += s->batch_puts;
    s->group_deletes += s->batch_deletes;
    end_batch(s);
    return 0;
}

/* Count a group's work as committed. */
static void count_group(struct store *s, uint64_t batches, uint64_t puts, uint64_t deletes)
{
    s->stats.commits++;
    s->stats.deferred += batches;
    s->stats.puts += puts;
    s->stats.deletes += deletes;
}

static void close_group(struct store *s)
{
    s->group_open = false;
    s->group_batches = s->group_puts = s->group_deletes = 0;
}

int store_flush(struct store *s, bo_error_t *err)
{
    if (s->in_batch)
        return bo_error_set(err, BO_E_INTERNAL, "store: flush inside a batch");
    if (!s->group_open) {
        if (s->n_inflight && s->ops->wait)
            s->ops->wait(s); /* what was started is durable when this returns */
        return store_collect(s, err) < 0 ? -1 : check_refused(s, err);
    }
    if (s->ops->commit(s, err) < 0) {
        s->ops->rollback(s);
        group_lost(s, err && *err ? (*err)->msg : "commit failed");
        store_collect(s, NULL);
        return -1;
    }
    count_group(s, s->group_batches, s->group_puts, s->group_deletes);
    close_group(s);
    s->started++;
    /* A synchronous commit runs after every earlier one. */
    if (store_collect(s, err) < 0)
        return -1;
    s->durable = s->started;
    return 0;
}

int store_flush_start(struct store *s, bo_error_t *err)
{
    if (s->in_batch)
        return bo_error_set(err, BO_E_INTERNAL, "store: flush inside a batch");
    if (!s->ops->commit_async)
        return store_flush(s, err);
    if (s->group_open) {
        if (s->ops->commit_async(s, err) < 0) {
            s->ops->rollback(s);
            group_lost(s, err && *err ? (*err)->msg : "commit failed");
            return -1;
        }
        if (s->n_inflight == s->cap_inflight) {
            s->cap_inflight = s->cap_inflight ? 2 * s->cap_inflight : 8;
            s->inflight = bo_xrealloc(s->inflight, s->cap_inflight * sizeof(*s->inflight));
        }
        s->inflight[s->n_inflight++] = (struct store_inflight){
            .ticket = ++s->started, .batches = s->group_batches, .puts = s->group_puts, .deletes = s->group_deletes};
        close_group(s);
    }
    if (store_collect(s, err) < 0)
        return -1;
    return check_refused(s, err);
}

int store_collect(struct store *s, bo_error_t *err)
{
    if (!s->ops->async_state || !s->n_inflight)
        return 0;
    uint64_t done = 0;
    _cleanup_error_ bo_error_t e = NULL;
    int r = s->ops->async_state(s, &done, &e);
    size_t n = 0; /* finished, oldest first */
    while (s->async_collected < done && n < s->n_inflight) {
        struct store_inflight *f = &s->inflight[n++];
        count_group(s, f->batches, f->puts, f->deletes);
        s->durable = f->ticket;
        s->async_collected++;
    }
    if (r < 0) { /* the first unfinished one failed: it and all after it are lost */
        group_lost(s, e ? e->msg : "background commit failed");
        s->n_inflight = 0;
        if (err && !*err) {
            *err = e;
            e = NULL;
        }
        return -1;
    }
    memmove(s->inflight, s->inflight + n, (s->n_inflight - n) * sizeof(*s->inflight));
    s->n_inflight -= n;
    return 0;
}

bool store_has_deferred(const struct store *s)
{
    return s->group_open;
}

uint64_t store_barrier(const struct store *s)
{
    return s->group_open ? s->started + 1 : s->started;
}

uint64_t store_durable(const struct store *s)
{
    return s->durable;
}

int store_event_fd(const struct store *s)
{
    return s->ops->event_fd ? s->ops->event_fd(s) : -1;
}

void store_rollback(struct store *s)
{
    if (!s->in_batch)
        return;
    if (s->hooks.on_rollback)
        s->hooks.on_rollback(s->hooks.ctx);
    if (s->group_open) {
        if (s->ops->rollback_to(s) < 0)
            group_lost(s, "the backend rolled back its transaction");
    } else {
        s->ops->rollback(s);
    }
    end_batch(s);
}

bool store_in_batch(const struct store *s)
{
    return s->in_batch;
}

void store_refuse_writes(struct store *s, const char *why)
{
    store_rollback(s);
    if (!s->refused)
        s->refused = bo_xstrdup(why && *why ? why : "no reason given");
    if (s->group_open) { /* never answered for: dropped with the rest */
        s->ops->rollback(s);
        s->group_open = false;
    }
}

int store_load(struct store *s, const char *kind, store_load_fn fn, void *ctx, bo_error_t *err)
{
    int k = -1;
    if (check_kind(kind, &k, err) < 0)
        return -1;
    if (!fn)
        return bo_error_set(err, BO_E_INTERNAL, "store: load %s: no callback", kind);
    return s->ops->load(s, k, fn, ctx, err);
}

const char *store_path(const struct store *s)
{
    return s->path ? s->path : "(unnamed)";
}

void store_get_stats(const struct store *s, struct store_stats *ret)
{
    *ret = s->stats;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store_rollback(s);
    if (s->group_open) /* not flushed, so never answered for */
        s->ops->rollback(s);
    free(s->refused);
    free(s->inflight);
    s->ops->close(s);
}

/* ---- SQLite backend ------------------------------------------------------- */

#define SQ_SCHEMA_VERSION "1"
#define SQ_BUSY_TIMEOUT_MS 5000

struct sq_store {
    struct store base; /* first: struct store * <-> struct sq_store * */
    sqlite3 *db;
    char *path;
    sqlite3_stmt *begin, *commit, *rollback, *savepoint, *release, *rollback_to;
    struct {
        sqlite3_stmt *put, *del, *load;
    } kind[STORE_KIND_COUNT];
};

static struct sq_store *sq(struct store *s)
{
    return (struct sq_store *)s;
}

static enum bo_errkind sq_errkind(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return BO_E_TIMEOUT;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_PROTOCOL:
        return BO_E_IO;
    default:
        return BO_E_INTERNAL;
    }
}

/* "store `/var/lib/x.db`: put task/abc: database or disk is full". Call
 * before resetting the failed statement so the message is still current. */
static int sq_fail(struct sq_store *q, int rc, bo_error_t *err, const char *fmt, ...)
    BO_PRINTF(4, 5);
static int sq_fail(struct sq_store *q, int rc, bo_error_t *err, const char *fmt, ...)
{
    if (!err || *err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *what = bo_xvasprintf(fmt, ap);
    va_end(ap);
    const char *msg = q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);
    bo_error_set(err, sq_errkind(rc), "store `%s`: %s: %s", q->path, what, msg);
    if ((*err)->kind == BO_E_IO && q->db)
        (*err)->sys_errno = sqlite3_system_errno(q->db);
    return -1;
}

/* Bind up to two text parameters to a cached statement that returns no
 * rows, run it, and leave it reset and unbound for reuse. `verb`, `kind`
 * and `id` name the operation in errors ("put task/abc", or just
 * "commit" when kind is negative). */
static int sq_run(struct sq_store *q, sqlite3_stmt *st, const char *p1, const char *p2,
                  const char *verb, int kind, const char *id, bo_error_t *err)
{
    /* SQLITE_STATIC: the strings outlive the step; bindings are cleared
     * right after it. */
    int rc = SQLITE_OK;
    if (p1)
        rc = sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && p2)
        rc = sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        if (kind >= 0)
            sq_fail(q, rc, err, "%s %s/%.64s", verb, kind_names[kind], id);
        else
            sq_fail(q, rc, err, "%s", verb);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int sq_prepare(struct sq_store *q, const char *sql, sqlite3_stmt **ret, bo_error_t *err)
{
    /* PERSISTENT: these live as long as the connection. */
    int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "prepare `%s`", sql);
    return 0;
}

static int sq_exec(struct sq_store *q, const char *sql, bo_error_t *err)
{
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "`%s`", sql);
    return 0;
}

static int sq_begin(struct store *s, bo_error_t *err)
{
    struct sq_store *q = sq(s);
    return sq_run(q, q->begin, NULL, NULL, "begin", -1, NULL, err);
}

static int sq_commit(struct store *s, bo_error_t *err)
{
    struct sq_store *q = sq(s);
    return sq_run(q, q->commit, NULL, NULL, "commit", -1, NULL, err);
}

static void sq_rollback(struct store *s)
{
    struct sq_store *q = sq(s);
    /* SQLite may already have rolled back by itself (after SQLITE_FULL,
     * SQLITE_IOERR, ...); a second ROLLBACK would only fail. */
    if (sqlite3_get_autocommit(q->db))
        return;
    sqlite3_step(q->rollback);
    sqlite3_reset(q->rollback);
}

static int sq_savepoint(struct store *s, bo_error_t *err)
{
    struct sq_store *q = sq(s);
    return sq_run(q, q->savepoint, NULL, NULL, "savepoint", -1, NULL, err);
}

static int sq_release(struct store *s, bo_error_t *err)
{
    struct sq_store *q = sq(s);
    return sq_run(q, q->release, NULL, NULL, "release savepoint", -1, NULL, err);
}

/* ROLLBACK TO leaves the savepoint open: release it too. After an I/O
 * error SQLite may have rolled back the whole transaction by itself. */
static int sq_rollback_to(struct store *s)
{
    struct sq_store *q = sq(s);
    if (sqlite3_get_autocommit(q->db))
        return -1;
    sqlite3_step(q->rollback_to);
    sqlite3_reset(q->rollback_to);
    sqlite3_step(q->release);
    sqlite3_reset(q->release);
    return sqlite3_get_autocommit(q->db) ? -1 : 0;
}

/* A statement outside BEGIN is its own transaction in SQLite, so
 * autocommit needs nothing more. */
static int sq_put(struct store *s, int k, const char *id, const char *value, bool autocommit,
                  bo_error_t *err)
{
    struct sq_store *q = sq(s);
    return sq_run(q, q->kind[k].put, id, value, "put", k, id, err);
}

static int sq_del(struct store *s, int k, const char *id, bool autocommit, bo_error_t *err)
{
    struct sq_store *q = sq(s);
    return sq_run(q, q->kind[k].del, id, NULL, "delete", k, id, err);
}

static int sq_load(struct store *s, int k, store_load_fn fn, void *ctx, bo_error_t *err)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st = q->kind[k].load;
    /* The statement is shared; a nested load of the same kind from inside
     * fn would silently restart the outer one. */
    if (sqlite3_stmt_busy(st))
        return bo_error_set(err, BO_E_INTERNAL, "store `%s`: load %s: already loading",
                            q->path, kind_names[k]);
    int rc, r = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *value = (const char *)sqlite3_column_text(st, 1);
        if (!id || !value) { /* NULLs cannot be stored; only OOM gives NULL here */
            sqlite3_reset(st);
            return bo_error_set(err, BO_E_INTERNAL, "store `%s`: load %s: unreadable row",
                                q->path, kind_names[k]);
        }
        r = fn(ctx, id, value, err);
        if (r < 0) {
            sqlite3_reset(st);
            return r;
        }
    }
    if (rc != SQLITE_DONE) {
        sq_fail(q, rc, err, "load %s", kind_names[k]);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

static void sq_free(struct sq_store *q)
{
    /* finalize(NULL) is a no-op, so a half-opened store closes too. */
    sqlite3_finalize(q->begin);
    sqlite3_finalize(q->commit);
    sqlite3_finalize(q->rollback);
    sqlite3_finalize(q->savepoint);
    sqlite3_finalize(q->release);
    sqlite3_finalize(q->rollback_to);
    for (int k = 0; k < STORE_KIND_COUNT; k++) {
        sqlite3_finalize(q->kind[k].put);
        sqlite3_finalize(q->kind[k].del);
        sqlite3_finalize(q->kind[k].load);
    }
    sqlite3_close_v2(q->db);
    free(q->path);
    free(q);
}

static void sq_close(struct store *s)
{
    sq_free(sq(s));
}

static const struct store_ops sq_ops = {
    .begin = sq_begin,
    .put = sq_put,
    .del = sq_del,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .load = sq_load,
    .close = sq_close,
};

/* Kind names become part of SQL text; never let anything else through. */
static bool sql_ident_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
            return false;
    return true;
}

/* Read a one-row, one-column pragma result (e.g. journal_mode) into buf. */
static int sq_pragma(struct sq_store *q, const char *sql, char *buf, size_t len, bo_error_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "`%s`", sql);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sq_fail(q, rc, err, "`%s`", sql);
        sqlite3_finalize(st);
        return -1;
    }
    const char *v = (const char *)sqlite3_column_text(st, 0);
    snprintf(buf, len, "%s", v ? v : "");
    sqlite3_finalize(st);
    return 0;
}

/* Create the tables and check (or write) the schema version, in one
 * transaction so two processes opening a new file do not race. */
static int sq_init_schema(struct sq_store *q, bo_error_t *err)
{
    if (sq_exec(q, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    for (int k = 0; k < STORE_KIND_COUNT; k++) {
        _cleanup_free_ char *sql = bo_xasprintf("CREATE TABLE IF NOT EXISTS kv_%s("
                                                "id TEXT PRIMARY KEY, value TEXT NOT NULL) "
                                                "WITHOUT ROWID",
                                                kind_names[k]);
        if (sq_exec(q, sql, err) < 0)
            goto fail;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, "SELECT value FROM kv_meta WHERE id = 'schema_version'",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sq_fail(q, rc, err, "read schema_version");
        goto fail;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (!v || strcmp(v, SQ_SCHEMA_VERSION) != 0) {
            bo_error_set(err, BO_E_INVALID,
                         "store `%s`: schema_version is %.32s, this build supports %s", q->path,
                         v ? v : "NULL", SQ_SCHEMA_VERSION);
            sqlite3_finalize(st);
            goto fail;
        }
    } else if (rc != SQLITE_DONE) {
        sq_fail(q, rc, err, "read schema_version");
        sqlite3_finalize(st);
        goto fail;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE &&
        sq_exec(q,
                "INSERT INTO kv_meta(id, value) VALUES('schema_version', '" SQ_SCHEMA_VERSION "')",
                err) < 0)
        goto fail;
    if (sq_exec(q, "COMMIT", err) < 0)
        goto fail;
    return 0;
fail:
    if (!sqlite3_get_autocommit(q->db))
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int sq_prepare_all(struct sq_store *q, bo_error_t *err)
{
    if (sq_prepare(q, "BEGIN IMMEDIATE", &q->begin, err) < 0 ||
        sq_prepare(q, "COMMIT", &q->commit, err) < 0 ||
        sq_prepare(q, "ROLLBACK", &q->rollback, err) < 0 || sq_prepare(q, "SAVEPOINT batch", &q->savepoint, err) < 0 ||
        sq_prepare(q, "RELEASE batch", &q->release, err) < 0 ||
        sq_prepare(q, "ROLLBACK TO batch", &q->rollback_to, err) < 0)
        return -1;
    for (int k = 0; k < STORE_KIND_COUNT; k++) {
        const char *n = kind_names[k];
        _cleanup_free_ char *put =
            bo_xasprintf("INSERT OR REPLACE INTO kv_%s(id, value) VALUES(?1, ?2)", n);
        _cleanup_free_ char *del = bo_xasprintf("DELETE FROM kv_%s WHERE id = ?1", n);
        _cleanup_free_ char *load = bo_xasprintf("SELECT id, value FROM kv_%s ORDER BY id", n);
        if (sq_prepare(q, put, &q->kind[k].put, err) < 0 ||
            sq_prepare(q, del, &q->kind[k].del, err) < 0 ||
            sq_prepare(q, load, &q->kind[k].load, err) < 0)
            return -1;
    }
    return 0;
}

/* What is at `path` before SQLite touches it: SQLite would quietly make
 * an empty database out of a missing or 0-byte file. A store always has
 * its header page once the schema is written (WAL mode writes it), so 0
 * bytes means its content is gone. */
static int sq_check_file(const char *path, enum store_open_mode mode, bo_error_t *err)
{
    struct stat sb;
    if (stat(path, &sb) < 0) {
        if (errno == ENOENT && mode != STORE_OPEN_EXISTING)
            return 0;
        if (errno == ENOENT)
            return bo_error_set(err, BO_E_NOTFOUND, "store `%s` does not exist", path);
        return bo_error_sys(err, errno, "store `%s`: stat", path);
    }
    if (!S_ISREG(sb.st_mode))
        return bo_error_set(err, BO_E_IO, "store `%s` is not a regular file", path);
    if (mode == STORE_OPEN_EXISTING && sb.st_size == 0)
        return bo_error_set(err, BO_E_IO,
                            "store `%s` is empty (0 bytes): the cluster state it held is lost "
                            "(truncated or overwritten)",
                            path);
    if (mode == STORE_CREATE && sb.st_size > 0)
        return bo_error_set(err, BO_E_EXISTS, "store `%s` already exists (%lld bytes); not creating a new one",
                            path, (long long)sb.st_size);
    return 0;
}

/* An existing store must already carry its schema version: a database
 * without it is not a store (or its creation was interrupted before the
 * first commit). Checked before any pragma writes to the file. */
static int sq_check_existing(struct sq_store *q, bo_error_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, "SELECT value FROM kv_meta WHERE id = 'schema_version'", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE || (rc & 0xff) == SQLITE_ERROR) /* no row, or no kv_meta table */
        return bo_error_set(err, BO_E_IO,
                            "store `%s` holds no Borealis store (no schema version): not a store, or "
                            "its creation was interrupted",
                            q->path);
    return sq_fail(q, rc, err, "unreadable (not a database, or damaged)");
}

int store_open_sqlite(const char *path, bool sync_full, struct store **ret, bo_error_t *err)
{
    return store_open_sqlite_mode(path, sync_full, STORE_OPEN_OR_CREATE, ret, err);
}

/* Take the store for this process alone (store_open_sqlite_owned): in
 * locking_mode=EXCLUSIVE, set before the first read, SQLite keeps the
 * WAL index in memory (no -shm file) and holds the database file's lock
 * from the first read until close, instead of taking and dropping fcntl
 * locks on every transaction. The first read takes it, so another
 * process holding it shows here, as SQLITE_BUSY after the busy timeout. */
static int sq_take_exclusive(struct sq_store *q, bo_error_t *err)
{
    if (sq_exec(q, "PRAGMA locking_mode=EXCLUSIVE", err) < 0)
        return -1;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 0;
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return bo_error_set(err, BO_E_REFUSED,
                            "store `%s` is in use by another process (another scheduler with this data "
                            "directory?); one scheduler owns a store",
                            q->path);
    return sq_fail(q, rc, err, "unreadable (not a database, or damaged)");
}

static int sq_open(const char *path, bool sync_full, enum store_open_mode mode, bool exclusive, struct store **ret,
                   bo_error_t *err)
{
    if (!path || !*path)
        return bo_error_set(err, BO_E_INVALID, "store: empty database path");
    for (int k = 0; k < STORE_KIND_COUNT; k++)
        if (!sql_ident_ok(kind_names[k]))
            return bo_error_set(err, BO_E_INTERNAL, "store: kind `%s` is not [a-z_]+",
                                kind_names[k]);
    if (sq_check_file(path, mode, err) < 0)
        return -1;

    struct sq_store *q = bo_xcalloc(1, sizeof(*q));
    q->base.ops = &sq_ops;
    q->path = bo_xstrdup(path);
    q->base.path = q->path;

    /* NOMUTEX: one thread uses a store. EXRESCODE: extended codes in errors.
     * SQLite's unix VFS opens the database, WAL and shm files O_CLOEXEC. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    if (mode != STORE_OPEN_EXISTING)
        flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &q->db, flags, NULL);
    if (rc != SQLITE_OK) {
        sq_fail(q, rc, err, "open");
        goto fail;
    }
    rc = sqlite3_busy_timeout(q->db, SQ_BUSY_TIMEOUT_MS);
    if (rc != SQLITE_OK) {
        sq_fail(q, rc, err, "busy_timeout");
        goto fail;
    }
    if (exclusive && sq_take_exclusive(q, err) < 0)
        goto fail;
    if (mode == STORE_OPEN_EXISTING && sq_check_existing(q, err) < 0)
        goto fail;
    /* 16 KiB pages for a new store (an existing one keeps its own: the
     * size is fixed when the file is made, here by the WAL switch below).
     * A task record is most of 1 KiB, so a 4 KiB page held three or four
     * and a group commit wrote and read pages one system call each
     * (most of the scheduler's calls while 10,000 agents started 100,000
     * tasks): 16 KiB pages took that run from 7.8 to 7.3 s
     * (docs/benchmarks.md). */
    if (sq_exec(q, "PRAGMA page_size=16384", err) < 0)
        goto fail;
    /* WAL: commits append to the log (one fsync with synchronous=FULL, none
     * with NORMAL, which still survives a process crash). The mode is
     * persistent in the file, but ask every time and check it took. */
    char jmode[16];
    if (sq_pragma(q, "PRAGMA journal_mode=WAL", jmode, sizeof(jmode), err) < 0)
        goto fail;
    if (strcmp(jmode, "wal") != 0) {
        bo_error_set(err, BO_E_IO, "store `%s`: cannot enable WAL (journal_mode is %s)", path,
                     jmode);
        goto fail;
    }
    if (sq_exec(q, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err) < 0)
        goto fail;
    /* Dirty pages stay in memory until the commit, however many: with the
     * default (spill past the 2 MiB cache) a group commit of a few hundred
     * task updates wrote pages to the log mid-transaction, and again when
     * they changed once more (10,000 agents starting 100,000 tasks: 8.1 ->
     * 7.5 s, docs/benchmarks.md). What a
     * transaction dirties is bounded by the batch the scheduler holds in
     * memory anyway, and the cache shrinks back after it. */
    if (sq_exec(q, "PRAGMA cache_spill=OFF", err) < 0)
        goto fail;
    /* Each batch in a group is a savepoint, whose journal (the pages it
     * changed, as they were) SQLite writes to a temporary file past 64
     * KiB, four pages: one write system call a page changed. In memory it
     * is dropped at the batch's end. */
    if (sq_exec(q, "PRAGMA temp_store=MEMORY", err) < 0)
        goto fail;
    if (sq_init_schema(q, err) < 0 || sq_prepare_all(q, err) < 0)
        goto fail;
    *ret = &q->base;
    return 0;
fail:
    sq_free(q);
    return -1;
}

int store_open_sqlite_mode(const char *path, bool sync_full, enum store_open_mode mode, struct store **ret,
                           bo_error_t *err)
{
    return sq_open(path, sync_full, mode, false, ret, err);
}

int store_open_sqlite_owned(const char *path, bool sync_full, enum store_open_mode mode, struct store **ret,
                            bo_error_t *err)
{
    return sq_open(path, sync_full, mode, true, ret, err);
}
