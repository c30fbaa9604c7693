/* journal.c - agent.db: task records and the status-update journal. */
#include "agent/journal.h"

#include <sqlite3.h>
#include <string.h>

struct journal {
    sqlite3 *db;
    char *path;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS tasks ("
    " task_id TEXT PRIMARY KEY, sandbox TEXT NOT NULL, cgroup TEXT NOT NULL,"
    " executor_pid INTEGER NOT NULL, executor_start INTEGER NOT NULL, state TEXT NOT NULL,"
    " ended_ms INTEGER NOT NULL, ram INTEGER NOT NULL, grace_ms INTEGER NOT NULL,"
    " cleaned INTEGER NOT NULL, disk INTEGER NOT NULL DEFAULT 0);"
    /* AUTOINCREMENT: a seq is never reused, even after every row is acked. */
    "CREATE TABLE IF NOT EXISTS updates ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, json TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS updates_task ON updates(task_id);";

static int db_error(struct journal *j, bo_error_t *err, const char *what)
{
    return bo_error_set(err, BO_E_IO, "%s in `%s`: %s", what, j->path, sqlite3_errmsg(j->db));
}

/* A journal from before disk limits has no `disk` column: added once
 * (its tasks keep 0, no limit, as they were launched). */
static int add_disk_column(struct journal *j, char **ret_msg)
{
    sqlite3_stmt *st = NULL;
    bool has = false;
    if (sqlite3_prepare_v2(j->db, "SELECT 1 FROM pragma_table_info('tasks') WHERE name = 'disk'", -1, &st, NULL) !=
        SQLITE_OK) {
        *ret_msg = sqlite3_mprintf("%s", sqlite3_errmsg(j->db));
        return -1;
    }
    has = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (has)
        return 0;
    return sqlite3_exec(j->db, "ALTER TABLE tasks ADD COLUMN disk INTEGER NOT NULL DEFAULT 0", NULL, NULL,
                        ret_msg) == SQLITE_OK ? 0 : -1;
}

int journal_open(const char *path, struct journal **ret, bo_error_t *err)
{
    struct journal *j = bo_xcalloc(1, sizeof(*j));
    j->path = bo_xstrdup(path);
    if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        bo_error_set(err, BO_E_IO, "open `%s`: %s", path, j->db ? sqlite3_errmsg(j->db) : "out of memory");
        journal_close(j);
        return -1;
    }
    sqlite3_busy_timeout(j->db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(j->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(j->db, schema, NULL, NULL, &msg) != SQLITE_OK || add_disk_column(j, &msg) < 0) {
        bo_error_set(err, BO_E_IO, "initialise `%s`: %s", path, msg ? msg : "unknown error");
        sqlite3_free(msg);
        journal_close(j);
        return -1;
    }
    *ret = j;
    return 0;
}

void journal_close(struct journal *j)
{
    if (!j)
        return;
    sqlite3_close(j->db);
    free(j->path);
    free(j);
}

static int prepare(struct journal *j, const char *sql, sqlite3_stmt **st, bo_error_t *err)
{
    if (sqlite3_prepare_v2(j->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_error(j, err, "prepare");
    return 0;
}

/* Step a statement that returns no rows and finalise it. */
static int exec_stmt(struct journal *j, sqlite3_stmt *st, const char *what, bo_error_t *err)
{
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_DONE ? 0 : db_error(j, err, what);
    sqlite3_finalize(st);
    return r;
}

/* Savepoints nest: a group wraps enqueue's own savepoint, and the
 * outermost RELEASE is the durable commit. */
int journal_begin(struct journal *j, bo_error_t *err)
{
    if (sqlite3_exec(j->db, "SAVEPOINT grp", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(j, err, "begin");
    return 0;
}

int journal_commit(struct journal *j, bo_error_t *err)
{
    if (sqlite3_exec(j->db, "RELEASE grp", NULL, NULL, NULL) != SQLITE_OK) {
        db_error(j, err, "commit");
        sqlite3_exec(j->db, "ROLLBACK TO grp; RELEASE grp", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int journal_enqueue(struct journal *j, json_t *update, int64_t *ret_seq, bo_error_t *err)
{
    const char *task_id = json_string_value(json_object_get(update, "task_id"));
    if (!task_id)
        return bo_error_set(err, BO_E_INVALID, "update without task_id");
    char *msg = NULL;
    if (sqlite3_exec(j->db, "SAVEPOINT enq", NULL, NULL, &msg) != SQLITE_OK) {
        bo_error_set(err, BO_E_IO, "begin in `%s`: %s", j->path, msg ? msg : "");
        sqlite3_free(msg);
        return -1;
    }
    sqlite3_stmt *st;
    int r = prepare(j, "INSERT INTO updates(task_id, json) VALUES (?, '')", &st, err);
    if (r == 0) {
        sqlite3_bind_text(st, 1, task_id, -1, SQLITE_TRANSIENT);
        r = exec_stmt(j, st, "insert update", err);
    }
    int64_t seq = sqlite3_last_insert_rowid(j->db);
    if (r == 0) {
        /* The seq is part of the stored JSON, so resending is a plain read. */
        json_t *copy = json_deep_copy(update);
        json_object_set_new(copy, "seq", json_integer(seq));
        char *text = json_dumps(copy, JSON_COMPACT);
        json_decref(copy);
        r = prepare(j, "UPDATE updates SET json = ? WHERE seq = ?", &st, err);
        if (r == 0) {
            sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, seq);
            r = exec_stmt(j, st, "store update", err);
        }
        free(text);
    }
    if (r == 0 && sqlite3_exec(j->db, "RELEASE enq", NULL, NULL, NULL) != SQLITE_OK)
        r = db_error(j, err, "commit");
    if (r < 0) {
        sqlite3_exec(j->db, "ROLLBACK TO enq; RELEASE enq", NULL, NULL, NULL);
        return -1;
    }
    if (ret_seq)
        *ret_seq = seq;
    return 0;
}

int journal_list(struct journal *j, int64_t after_seq, size_t max, json_t **ret, bo_error_t *err)
{
    sqlite3_stmt *st;
    if (prepare(j, "SELECT seq, json FROM updates WHERE seq > ? ORDER BY seq LIMIT ?", &st, err) < 0)
        return -1;
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 1);
        json_t *u = text ? json_loads(text, 0, NULL) : NULL;
        if (!json_is_object(u)) {
            /* Cannot happen unless the file was edited: drop nothing, fail. */
            json_decref(u);
            json_decref(arr);
            int64_t seq = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
            return bo_error_set(err, BO_E_INTERNAL, "update %lld in `%s` is not a JSON object", (long long)seq,
                                j->path);
        }
        json_array_append_new(arr, u);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return db_error(j, err, "list updates");
    }
    *ret = arr;
    return 0;
}

static int query_int(struct journal *j, const char *sql, const char *text_arg, int64_t *ret, bo_error_t *err)
{
    sqlite3_stmt *st;
    if (prepare(j, sql, &st, err) < 0)
        return -1;
    if (text_arg)
        sqlite3_bind_text(st, 1, text_arg, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return db_error(j, err, "query");
    }
    *ret = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

int journal_last_seq(struct journal *j, int64_t *ret, bo_error_t *err)
{
    return query_int(j, "SELECT COALESCE(MAX(seq), 0) FROM updates", NULL, ret, err);
}

int journal_count(struct journal *j, int64_t *ret, bo_error_t *err)
{
    return query_int(j, "SELECT COUNT(*) FROM updates", NULL, ret, err);
}

int journal_has_task(struct journal *j, const char *task_id, bool *ret, bo_error_t *err)
{
    int64_t n;
    if (query_int(j, "SELECT COUNT(*) FROM updates WHERE task_id = ?", task_id, &n, err) < 0)
        return -1;
    *ret = n > 0;
    return 0;
}

int journal_ack(struct journal *j, int64_t seq, bo_error_t *err)
{
    sqlite3_stmt *st;
    if (prepare(j, "DELETE FROM updates WHERE seq = ?", &st, err) < 0)
        return -1;
    sqlite3_bind_int64(st, 1, seq);
    return exec_stmt(j, st, "ack update", err);
}

int journal_task_put(struct journal *j, const struct journal_task *t, bo_error_t *err)
{
    sqlite3_stmt *st;
    if (prepare(j,
                "INSERT OR REPLACE INTO tasks(task_id, sandbox, cgroup, executor_pid, executor_start, state,"
                " ended_ms, ram, grace_ms, cleaned, disk) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &st, err) < 0)
        return -1;
    sqlite3_bind_text(st, 1, t->task_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, t->sandbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, t->cgroup, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, t->executor_pid);
    sqlite3_bind_int64(st, 5, t->executor_start);
    sqlite3_bind_text(st, 6, t->state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 7, t->ended_ms);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)t->ram);
    sqlite3_bind_int64(st, 9, t->grace_ms);
    sqlite3_bind_int(st, 10, t->cleaned);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)t->disk);
    return exec_stmt(j, st, "store task", err);
}

int journal_task_delete(struct journal *j, const char *task_id, bo_error_t *err)
{
    sqlite3_stmt *st;
    if (prepare(j, "DELETE FROM tasks WHERE task_id = ?", &st, err) < 0)
        return -1;
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_TRANSIENT);
    return exec_stmt(j, st, "delete task", err);
}

static char *col_str(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return bo_xstrdup(s ? s : "");
}

int journal_task_list(struct journal *j, struct journal_task **ret, size_t *ret_n, bo_error_t *err)
{
    sqlite3_stmt *st;
    if (prepare(j,
                "SELECT task_id, sandbox, cgroup, executor_pid, executor_start, state, ended_ms, ram,"
                " grace_ms, cleaned, disk FROM tasks ORDER BY task_id",
                &st, err) < 0)
        return -1;
    struct journal_task *v = NULL;
    size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        v = bo_xrealloc(v, (n + 1) * sizeof(*v));
        v[n++] = (struct journal_task){
            .task_id = col_str(st, 0),
            .sandbox = col_str(st, 1),
            .cgroup = col_str(st, 2),
            .executor_pid = sqlite3_column_int64(st, 3),
            .executor_start = sqlite3_column_int64(st, 4),
            .state = col_str(st, 5),
            .ended_ms = sqlite3_column_int64(st, 6),
            .ram = (uint64_t)sqlite3_column_int64(st, 7),
            .grace_ms = sqlite3_column_int64(st, 8),
            .cleaned = sqlite3_column_int(st, 9) != 0,
            .disk = (uint64_t)sqlite3_column_int64(st, 10),
        };
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < n; i++)
            journal_task_clear(&v[i]);
        free(v);
        return db_error(j, err, "list tasks");
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

void journal_task_clear(struct journal_task *t)
{
    free(t->task_id);
    free(t->sandbox);
    free(t->cgroup);
    free(t->state);
    *t = (struct journal_task){0};
}
