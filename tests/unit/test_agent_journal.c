/* test_agent_journal.c - the agent's update journal and task records:
 * enqueue, list unacked, ack, survive reopening. */
#include <jansson.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "agent/journal.h"
#include "base/fs.h"
#include "harness.h"

static char *tmp_db(char *dir)
{
    CHECK(mkdtemp(dir));
    return bo_xasprintf("%s/agent.db", dir);
}

static json_t *update(const char *task, const char *state)
{
    return json_pack("{s:s, s:s, s:s, s:I}", "task_id", task, "state", state, "message", "", "ts", (json_int_t)1);
}

TEST(enqueue_list_ack)
{
    char dir[] = "/tmp/borealis-journal-XXXXXX";
    char *path = tmp_db(dir);
    struct journal *j;
    bo_error_t err = NULL;
    CHECK(journal_open(path, &j, &err) == 0);
    int64_t s1, s2, s3;
    json_t *u = update("t1", "STARTING");
    CHECK(journal_enqueue(j, u, &s1, &err) == 0);
    CHECK(json_object_get(u, "seq") == NULL); /* caller's object untouched */
    json_decref(u);
    u = update("t1", "RUNNING");
    CHECK(journal_enqueue(j, u, &s2, &err) == 0);
    json_decref(u);
    u = update("t2", "STARTING");
    CHECK(journal_enqueue(j, u, &s3, &err) == 0);
    json_decref(u);
    CHECK(s1 < s2 && s2 < s3);

    json_t *list;
    CHECK(journal_list(j, 0, 500, &list, &err) == 0);
    CHECK(json_array_size(list) == 3);
    CHECK(json_integer_value(json_object_get(json_array_get(list, 0), "seq")) == s1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 1), "state")), "RUNNING");
    json_decref(list);
    CHECK(journal_list(j, 0, 2, &list, &err) == 0);
    CHECK(json_array_size(list) == 2);
    json_decref(list);
    /* After a seq: what a held request does not carry already. */
    CHECK(journal_list(j, s1, 500, &list, &err) == 0);
    CHECK(json_array_size(list) == 2);
    CHECK(json_integer_value(json_object_get(json_array_get(list, 0), "seq")) == s2);
    json_decref(list);
    CHECK(journal_list(j, s3, 500, &list, &err) == 0);
    CHECK(json_array_size(list) == 0);
    json_decref(list);

    CHECK(journal_ack(j, s1, &err) == 0);
    CHECK(journal_ack(j, s1, &err) == 0);      /* duplicate ack */
    CHECK(journal_ack(j, 999999, &err) == 0);  /* unknown seq */
    int64_t n;
    CHECK(journal_count(j, &n, &err) == 0 && n == 2);
    bool has;
    CHECK(journal_has_task(j, "t1", &has, &err) == 0 && has);
    CHECK(journal_ack(j, s2, &err) == 0);
    CHECK(journal_has_task(j, "t1", &has, &err) == 0 && !has);
    CHECK(journal_list(j, 0, 500, &list, &err) == 0);
    CHECK(json_array_size(list) == 1);
    CHECK(json_integer_value(json_object_get(json_array_get(list, 0), "seq")) == s3);
    json_decref(list);
    journal_close(j);
    bo_rm_rf(dir, NULL);
    free(path);
}

TEST(survives_reopen_and_never_reuses_seq)
{
    char dir[] = "/tmp/borealis-journal-XXXXXX";
    char *path = tmp_db(dir);
    struct journal *j;
    bo_error_t err = NULL;
    CHECK(journal_open(path, &j, &err) == 0);
    int64_t s1, s2;
    json_t *u = update("t1", "FAILED");
    CHECK(journal_enqueue(j, u, &s1, &err) == 0);
    json_decref(u);
    struct journal_task t = {.task_id = "t1", .sandbox = "/x/t1", .cgroup = "t1", .executor_pid = 42,
                             .executor_start = 12345, .state = "RUNNING", .ram = 1 << 20, .grace_ms = 5000};
    CHECK(journal_task_put(j, &t, &err) == 0);
    t.state = "FAILED";
    t.ended_ms = 77;
    CHECK(journal_task_put(j, &t, &err) == 0); /* replace */
    journal_close(j);

    CHECK(journal_open(path, &j, &err) == 0);
    json_t *list;
    CHECK(journal_list(j, 0, 500, &list, &err) == 0);
    CHECK(json_array_size(list) == 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "state")), "FAILED");
    json_decref(list);
    struct journal_task *tasks;
    size_t n;
    CHECK(journal_task_list(j, &tasks, &n, &err) == 0);
    CHECK(n == 1);
    CHECK_STR(tasks[0].task_id, "t1");
    CHECK_STR(tasks[0].state, "FAILED");
    CHECK(tasks[0].executor_pid == 42 && tasks[0].executor_start == 12345 && tasks[0].ended_ms == 77);
    CHECK(tasks[0].ram == 1 << 20 && tasks[0].grace_ms == 5000 && !tasks[0].cleaned);
    journal_task_clear(&tasks[0]);
    free(tasks);

    CHECK(journal_ack(j, s1, &err) == 0);
    u = update("t1", "FAILED");
    CHECK(journal_enqueue(j, u, &s2, &err) == 0);
    json_decref(u);
    CHECK(s2 > s1);
    CHECK(journal_task_delete(j, "t1", &err) == 0);
    CHECK(journal_task_list(j, &tasks, &n, &err) == 0 && n == 0);
    free(tasks);
    journal_close(j);
    bo_rm_rf(dir, NULL);
    free(path);
}

TEST(open_reports_the_path)
{
    struct journal *j;
    bo_error_t err = NULL;
    CHECK(journal_open("/nonexistent-dir/agent.db", &j, &err) < 0);
    CHECK_CONTAINS(err->msg, "/nonexistent-dir/agent.db");
    bo_error_free(err);
}

TEST(grouped_writes_commit_together_and_nest_enqueue)
{
    char dir[] = "/tmp/bo-journal-XXXXXX";
    CHECK(mkdtemp(dir));
    _cleanup_free_ char *path = bo_xasprintf("%s/agent.db", dir);
    struct journal *j = NULL;
    CHECK(journal_open(path, &j, NULL) == 0);
    CHECK(journal_begin(j, NULL) == 0);
    json_t *u = json_pack("{s:s, s:s}", "task_id", "t1", "state", "RUNNING");
    int64_t seq = 0;
    CHECK(journal_enqueue(j, u, &seq, NULL) == 0 && seq > 0);
    CHECK(journal_commit(j, NULL) == 0);
    json_decref(u);
    journal_close(j);
    /* Durable after reopening. */
    CHECK(journal_open(path, &j, NULL) == 0);
    int64_t n = 0;
    CHECK(journal_count(j, &n, NULL) == 0 && n == 1);
    journal_close(j);
    bo_rm_rf(dir, NULL);
}

TEST(a_journal_from_before_disk_limits_gets_the_column)
{
    char dir[] = "/tmp/borealis-journal-XXXXXX";
    char *path = tmp_db(dir);
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TABLE tasks (task_id TEXT PRIMARY KEY, sandbox TEXT NOT NULL, cgroup TEXT NOT NULL,"
                       " executor_pid INTEGER NOT NULL, executor_start INTEGER NOT NULL, state TEXT NOT NULL,"
                       " ended_ms INTEGER NOT NULL, ram INTEGER NOT NULL, grace_ms INTEGER NOT NULL,"
                       " cleaned INTEGER NOT NULL);"
                       "INSERT INTO tasks VALUES ('old', '/s', 'old', 1, 2, 'RUNNING', 0, 1048576, 5000, 0);",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    for (int round = 0; round < 2; round++) { /* the second open finds the column */
        struct journal *j;
        bo_error_t err = NULL;
        CHECK(journal_open(path, &j, &err) == 0);
        struct journal_task t = {.task_id = "new", .sandbox = "/n", .cgroup = "new", .state = "RUNNING",
                                 .disk = 8 << 20};
        CHECK(journal_task_put(j, &t, &err) == 0);
        struct journal_task *v = NULL;
        size_t n = 0;
        CHECK(journal_task_list(j, &v, &n, &err) == 0);
        CHECK(n == 2);
        CHECK(strcmp(v[0].task_id, "new") == 0 && v[0].disk == 8u << 20);
        CHECK(strcmp(v[1].task_id, "old") == 0 && v[1].disk == 0 && v[1].ram == 1048576);
        for (size_t i = 0; i < n; i++)
            journal_task_clear(&v[i]);
        free(v);
        journal_close(j);
    }
    bo_rm_rf(dir, NULL);
    free(path);
}

TEST_MAIN()
