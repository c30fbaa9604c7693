/* Unit tests for recovery (state_load.c) and the scheduler's choice of
 * store (store_open.c): rows damaged directly in the SQLite file (as a
 * disk, a hand edit or a buggy build would) must fail the load with a
 * message naming the file, the table, the row and the fault, never reach
 * memory; a lost or truncated store must never start as an empty cluster. */
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <utlist.h>

#include "base/clock.h"
#include "base/fs.h"
#include "base/strbuf.h"
#include "harness.h"
#include "store_fixture.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/scheduler.h"
#include "scheduler/store_open.h"
#include "scheduler/update.h"

static char dir[64];

__attribute__((destructor)) static void remove_dir(void)
{
    if (dir[0])
        bo_rm_rf(dir, NULL);
}

static const char *db_path(void)
{
    static char path[128];
    if (!dir[0]) {
        strcpy(dir, "/tmp/bo-load-XXXXXX");
        CHECK(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/s.db", dir);
    }
    return path;
}

static struct sched_options opts(void)
{
    struct sched_options o;
    scheduler_default_options(&o);
    o.flap_penalty_ms = 0;
    return o;
}

static struct job_config *job_cmd(const char *name, int instances, const char *cmd)
{
    _cleanup_free_ char *text = bo_xasprintf(
        "{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"devel\",\"name\":\"%s\",\"instances\":%d,"
        "\"service\":true,\"task\":{\"resources\":{\"cpu\":0.5,\"ram\":1048576,\"disk\":0},"
        "\"ports\":[\"http\"],\"processes\":[{\"name\":\"p\",\"cmdline\":\"%s\"}]}}",
        name, instances, cmd);
    json_t *j = json_loads(text, 0, NULL);
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, NULL) == 0);
    json_decref(j);
    return c;
}

static struct job_config *job(const char *name, int instances) { return job_cmd(name, instances, "true"); }

/* A state on the test's store with agent "a" and job svc's 2 instances
 * placed on it (ASSIGNED). */
static struct sched_job *placed_svc(struct sched_state *st, struct store **ret_store)
{
    struct sched_options o = opts();
    CHECK(store_open_sqlite(db_path(), false, ret_store, NULL) == 0);
    state_init(st, &o, *ret_store);
    fixture_agent(st, "a", 4, 1ULL << 30);
    struct sched_job *j = NULL;
    struct job_config *c = job("svc", 2);
    CHECK(lifecycle_create_job(st, c, &j, NULL) == 0);
    job_config_unref(c);
    CHECK(placement_run(st, 0, NULL) == 2);
    return j;
}

/* A store with one agent and job local/r/devel/svc (2 instances): instance
 * 0 failed once and was replaced (ASSIGNED, its ancestor FAILED), instance
 * 1 RUNNING. Every kind of row and most fields are set. */
static void make_store(void)
{
    struct sched_state st;
    struct store *s = NULL;
    struct sched_job *j = placed_svc(&st, &s);
    for (int i = 0; i < 2; i++) {
        CHECK(lifecycle_transition(&st, j->current[i], TASK_STARTING, NULL, NULL) == 1);
        CHECK(lifecycle_transition(&st, j->current[i], TASK_RUNNING, NULL, NULL) == 1);
    }
    CHECK(lifecycle_transition(&st, j->current[0], TASK_FAILED, "exit 1", NULL) == 1);
    CHECK(placement_run(&st, 0, NULL) == 1);
    /* Job local/r/devel/upd (2 instances RUNNING) with an update in
     * flight to 3 instances and a new command line: instance 0 is being
     * replaced (its kill sent), 1 and 2 wait. */
    struct job_config *c = job("upd", 2);
    CHECK(lifecycle_create_job(&st, c, &j, NULL) == 0);
    job_config_unref(c);
    CHECK(placement_run(&st, 0, NULL) == 2);
    for (int i = 0; i < 2; i++) {
        CHECK(lifecycle_transition(&st, j->current[i], TASK_STARTING, NULL, NULL) == 1);
        CHECK(lifecycle_transition(&st, j->current[i], TASK_RUNNING, NULL, NULL) == 1);
    }
    c = job_cmd("upd", 3, "sleep 1");
    struct sched_update *u = NULL;
    struct update_start_opts uo = {.to = c, .user = "tester", .message = "why not", .request_id = "req-1"};
    CHECK(update_start(&st, j, &uo, &u, NULL) == 0);
    job_config_unref(c);
    CHECK(update_step(&st, j, bo_mono_ms(), NULL) == 0);
    CHECK(u->inst[0].phase == PHASE_KILLING);
    state_free(&st);
    store_close(s);
}

static void sql(const char *stmt)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(db_path(), &db) == SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, stmt, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "  sql `%s`: %s\n", stmt, msg);
        exit(1);
    }
    CHECK(sqlite3_changes(db) >= 1 || strncmp(stmt, "INSERT", 6) == 0);
    sqlite3_close(db);
}

/* The id of the first row of `table` matching `where`, as SQL text. */
static char *row_id(const char *table, const char *where)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(db_path(), &db) == SQLITE_OK);
    _cleanup_free_ char *q = bo_xasprintf("SELECT id FROM %s WHERE %s ORDER BY id LIMIT 1", table, where);
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    char *id = bo_xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return id;
}

/* Load the store; returns the error message (heap), NULL on success. */
static char *load(void)
{
    struct sched_options o = opts();
    struct sched_state st;
    struct store *s = NULL;
    CHECK(store_open_sqlite(db_path(), false, &s, NULL) == 0);
    state_init(&st, &o, s);
    bo_error_t err = NULL;
    int r = state_load(&st, &err);
    char *msg = NULL;
    if (r < 0) {
        CHECK(err && err->kind == BO_E_INVALID);
        msg = bo_xstrdup(err->msg);
    }
    bo_error_free(err);
    state_free(&st); /* a half-loaded state is freed cleanly (LeakSanitizer) */
    store_close(s);
    return msg;
}

/* Edit one row with SQLite's json_set/json_remove (`edit` is an SQL
 * expression of `value`), then check the load names the row and `want`. */
static void check_bad_row(const char *table, const char *where, const char *edit, const char *want)
{
    make_store();
    CHECK(load() == NULL);
    _cleanup_free_ char *id = row_id(table, where);
    _cleanup_free_ char *stmt = bo_xasprintf("UPDATE %s SET value = %s WHERE id = '%s'", table, edit, id);
    sql(stmt);
    _cleanup_free_ char *msg = load();
    if (!msg) {
        fprintf(stderr, "  %s (%s) loaded without error\n", table, edit);
        exit(1);
    }
    _cleanup_free_ char *head = bo_xasprintf("store `%s`: table %s, id `%s`: ", db_path(), table, id);
    CHECK_CONTAINS(msg, head);
    CHECK_CONTAINS(msg, want);
}

#define RUNNING "json_extract(value, '$.state') = 'RUNNING'"
#define ASSIGNED "json_extract(value, '$.state') = 'ASSIGNED'"
#define FAILED "json_extract(value, '$.state') = 'FAILED'"

/* The store record is written as text without jansson (state.c): it must
 * be valid JSON holding exactly what the JSON view shows, whatever the
 * strings hold (quotes, backslashes, control bytes, UTF-8). */
TEST(task_record_text_matches_the_view)
{
    struct sched_state st;
    struct store *s = NULL;
    struct sched_job *j = placed_svc(&st, &s);
    const char *odd = "q\"b\\n\n t\t c\x01\x1f e\xc3\xa9 /<>";
    struct sched_task *t0 = j->current[0];
    CHECK(lifecycle_transition(&st, t0, TASK_STARTING, odd, NULL) == 1);
    CHECK(lifecycle_transition(&st, t0, TASK_RUNNING, NULL, NULL) == 1);
    t0->executor_pid = 4242;
    t0->processes = json_pack("[{s:s, s:i, s:[s, n]}]", "name", odd, "pid", 7, "x", "y");
    CHECK(lifecycle_transition(&st, t0, TASK_FAILED, odd, NULL) == 1);
    j->current[1]->usage = json_pack("{s:i, s:n}", "cpu_ms", 12, "memory_bytes");
    for (int i = 0; i < 12; i++) /* past TASK_MAX_EVENTS: the ring wraps */
        state_task_push_event(j->current[1], TASK_ASSIGNED, i % 2 ? odd : NULL);
    struct sched_task *t, *tmp;
    int n = 0;
    HASH_ITER(hh, st.tasks, t, tmp)
    {
        _cleanup_free_ char *text = state_task_record_text(t);
        json_error_t jerr;
        json_t *rec = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!rec) {
            fprintf(stderr, "  %s: %s\n", text, jerr.text);
            exit(1);
        }
        CHECK(json_integer_value(json_object_get(rec, "consecutive_flaps")) == t->consecutive_flaps);
        CHECK(json_integer_value(json_object_get(rec, "throttle_until")) == t->throttle_until);
        json_object_del(rec, "consecutive_flaps");
        json_object_del(rec, "throttle_until");
        json_t *view = state_task_to_json(t);
        /* The view as text (GET of a job) is the same view. */
        struct bo_buf vb = {0};
        state_task_view_text(&vb, t);
        json_t *vt = json_loads(vb.p, JSON_REJECT_DUPLICATES, &jerr);
        if (!vt || !json_equal(vt, view)) {
            _cleanup_free_ char *v = json_dumps(view, JSON_SORT_KEYS);
            fprintf(stderr, "  view text %s\n  view      %s\n", vb.p, v);
            exit(1);
        }
        json_decref(vt);
        bo_buf_free(&vb);
        json_object_del(view, "host");
        json_object_del(view, "usage");
        json_object_del(view, "throttled_until_ms");
        if (!json_equal(rec, view)) {
            _cleanup_free_ char *v = json_dumps(view, JSON_SORT_KEYS);
            fprintf(stderr, "  record %s\n  view   %s\n", text, v);
            exit(1);
        }
        json_decref(rec);
        json_decref(view);
        n++;
    }
    CHECK(n == 3); /* the failed task, its replacement, instance 1 */
    state_free(&st);
    store_close(s);
}

TEST(good_store_loads)
{
    make_store();
    CHECK(load() == NULL);
}

/* Everything a load gave, as text: each job's tasks (record, current or
 * not, bound agent) and each agent's use, in load order. */
static char *load_summary(bool flat, size_t *ret_flat_rows)
{
    struct sched_options o = opts();
    struct sched_state st;
    struct store *s = NULL;
    CHECK(store_open_sqlite(db_path(), false, &s, NULL) == 0);
    state_init(&st, &o, s);
    state_load_flat = flat;
    bo_error_t err = NULL;
    if (state_load(&st, &err) < 0) {
        fprintf(stderr, "  load (flat %d): %s\n", flat, err->msg);
        exit(1);
    }
    state_load_flat = true;
    *ret_flat_rows = state_load_flat_rows;
    struct bo_buf b = {0};
    struct sched_job *j, *jt;
    HASH_ITER(hh, st.jobs, j, jt)
    {
        struct sched_task *t;
        DL_FOREACH2(j->tasks, t, j_next)
        {
            _cleanup_free_ char *text = state_task_record_text(t);
            _cleanup_free_ char *line = bo_xasprintf("%s current=%d agent=%s pending=%d\n", text,
                                                     j->current[t->instance] == t, t->agent ? t->agent->id : "-",
                                                     t->queue == QUEUE_PENDING);
            bo_buf_adds(&b, line);
        }
    }
    struct sched_agent *a, *at;
    HASH_ITER(hh, st.agents, a, at)
    {
        unsigned used = 0; /* the first 16 ports' bits */
        for (unsigned k = 0; k < 16; k++)
            used |= (unsigned)state_agent_port_used(a, a->port_lo + k) << k;
        _cleanup_free_ char *line = bo_xasprintf("agent %s cpu %.3f ram %llu tasks %lld ports %04x\n", a->id,
                                                 a->used_cpu, (unsigned long long)a->used_ram, (long long)a->n_tasks,
                                                 used);
        bo_buf_adds(&b, line);
    }
    for (int i = 0; i < TASK_STATE_COUNT; i++) {
        _cleanup_free_ char *line = bo_xasprintf("%s=%lld ", task_state_name(i), (long long)st.count_by_state[i]);
        bo_buf_adds(&b, line);
    }
    state_free(&st);
    store_close(s);
    return bo_buf_steal(&b);
}

/* The flat reader (state_load.c) takes the rows this build writes; rows it
 * does not take (escapes it leaves to jansson, keys twice or unknown, old
 * rows without a field) go to the jansson reader. Either way the state is
 * the one the jansson reader alone gives. */
TEST(flat_reader_loads_what_the_jansson_reader_loads)
{
    static const struct {
        const char *edit; /* SQL expression of `value`, on one RUNNING row; NULL: none */
        bool flat;        /* the flat reader takes the edited row */
    } cases[] = {
        {NULL, true},
        {"json_set(value, '$.message', 'q\"b\\n' || char(10, 9, 8, 12, 13) || ' é /<>')", true},
        {"json_set(value, '$.message', 'x' || char(1))", false}, /* written \u0001 */
        {"replace(value, '\"message\":\"', '\"message\":\"\\u00e9\\u0041')", false},
        {"json_remove(value, '$.config_id')", true},
        {"json_remove(value, '$.ancestor_id')", false},
        {"replace(value, '{\"id\"', '{\"extra\":[1.5,{\"x\":null}],\"id\"')", false},
        {"replace(value, '\"job\"', '\"state\":\"FAILED\",\"job\"')", false}, /* twice: the last wins */
        {"json_set(value, '$.processes', json('[{\"name\":\"p\",\"pid\":7,\"cpu\":0.5,\"x\":[\"\\u00e9\",null]}]'))",
         true},
        {"replace(replace(value, ',', ' ,\n'), ':', ' : ')", true},
        {"json_set(value, '$.events[0].extra', 1)", false},
        {"json_set(value, '$.ports', json('{}'))", true},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        pid_t pid = fork(); /* a fresh store each */
        if (pid != 0) {
            int status = 0;
            waitpid(pid, &status, 0);
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            continue;
        }
        dir[0] = 0;
        make_store();
        if (cases[i].edit) {
            _cleanup_free_ char *id = row_id("kv_task", RUNNING);
            _cleanup_free_ char *stmt =
                bo_xasprintf("UPDATE kv_task SET value = %s WHERE id = '%s'", cases[i].edit, id);
            sql(stmt);
        }
        size_t n_flat = 0, n_none = 0, rows = 0;
        _cleanup_free_ char *want = load_summary(false, &n_none);
        _cleanup_free_ char *got = load_summary(true, &n_flat);
        for (const char *p = want; (p = strstr(p, " current=")); p++)
            rows++;
        if (strcmp(want, got) != 0 || n_none != 0 || n_flat != rows - !cases[i].flat) {
            fprintf(stderr, "  case %zu (%s): %zu of %zu rows flat\n  jansson: %s\n  flat:    %s\n", i,
                    cases[i].edit ? cases[i].edit : "none", n_flat, rows, want, got);
            exit(1);
        }
        exit(0);
    }
}

TEST(update_in_flight_is_recovered)
{
    make_store();
    struct sched_options o = opts();
    struct sched_state st;
    struct store *s = NULL;
    CHECK(store_open_sqlite(db_path(), false, &s, NULL) == 0);
    state_init(&st, &o, s);
    CHECK(state_load(&st, NULL) == 0);
    struct sched_job *j = state_job_find(&st, "local/r/devel/upd");
    CHECK(j && j->update);
    struct sched_update *u = j->update;
    CHECK(u->status == UPDATE_ROLLING_FORWARD);
    CHECK_STR(u->user, "tester");
    CHECK_STR(u->message, "why not");
    CHECK(u->n_inst == 3);
    CHECK(u->inst[0].phase == PHASE_KILLING && u->inst[0].action == UPDATE_REPLACE && u->inst[0].touched);
    CHECK(u->inst[1].phase == PHASE_WAITING && u->inst[2].action == UPDATE_ADD);
    /* The job is headed to the new config; its old tasks keep theirs. */
    CHECK(j->config == u->to && j->config->instances == 3 && j->n_current == 3);
    CHECK(j->current[0]->config == u->from && j->current[0]->kill_requested);
    CHECK(j->current[1]->config == u->from && !j->current[2]);
    CHECK_STR(u->to->task.processes[0].cmdline, "sleep 1");
    CHECK(u->n_events == 2);
    state_free(&st);
    store_close(s);
}

TEST(update_fields_are_checked)
{
    static const struct {
        const char *edit, *want;
    } cases[] = {
        {"json_set(value, '$.status', 'SIDEWAYS')", "field `status` is `SIDEWAYS`, not an update status"},
        {"json_set(value, '$.job', 'local/r/devel/gone')", "names `local/r/devel/gone`, which is not in table kv_job"},
        {"json_set(value, '$.to_config_id', 99)", "an active update's `from_config_id` and `to_config_id` must name"},
        {"json_set(value, '$.from_config_id', NULL)", "an active update's `from_config_id`"},
        {"json_set(value, '$.instances[0].phase', 'DREAMING')", "instances[0]: field `phase` is `DREAMING`"},
        {"json_set(value, '$.instances[1].action', 'explode')", "instances[1]: field `action` is `explode`"},
        {"json_set(value, '$.instances[1].instance', 0)", "instances[1]: instance 0 is not after the one before"},
        {"json_set(value, '$.instances[0].instance', 4000)", "field `instance` is 4000, not within 0-3999"},
        {"json_set(value, '$.instances[0].task_id', 'a/../b')", "field `task_id` has a byte outside"},
        {"json_set(value, '$.instances', json('{}'))", "field `instances` is not an array"},
        {"json_set(value, '$.events[0].what', 5)", "field `what` is of another type"},
        {"json_set(value, '$.message', printf('%.2000c', 'x'))", "field `message` is longer than 1024 bytes"},
        {"json_set(value, '$.failed_instances', -1)", "field `failed_instances` is -1"},
        {"json_set(value, '$.id', 'other')", "field `id` is `other`"},
        {"'[]'", "not a JSON object"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        pid_t pid = fork();
        if (pid == 0) {
            dir[0] = 0;
            check_bad_row("kv_update", "1", cases[i].edit, cases[i].want);
            exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "  case %zu (%s) failed\n", i, cases[i].edit);
            exit(1);
        }
    }
}

TEST(job_configs_and_task_config_ids_are_checked)
{
    static const struct {
        const char *table, *where, *edit, *want;
    } cases[] = {
        {"kv_task", "json_extract(value, '$.job') = 'local/r/devel/upd'", "json_set(value, '$.config_id', 7)",
         "field `config_id` is 7, which is not a config of job `local/r/devel/upd`"},
        {"kv_job", "id = 'local/r/devel/upd'", "json_set(value, '$.other_configs[0].config.name', 'svc')",
         "other_configs[0]: the config's key is `local/r/devel/svc`"},
        {"kv_job", "id = 'local/r/devel/upd'", "json_set(value, '$.other_configs[0].id', 1)",
         "other_configs[0]: config id 1 is used twice"},
        {"kv_job", "id = 'local/r/devel/upd'", "json_set(value, '$.other_configs[0].config.instances', -1)",
         "other_configs[0]: "},
        {"kv_job", "id = 'local/r/devel/upd'", "json_set(value, '$.instance_slots', 1)",
         "field `instance_slots` is 1, fewer than the config's 3 instances"},
        {"kv_job", "id = 'local/r/devel/upd'", "json_set(value, '$.config_id', 50)",
         "field `config_id` is 50, not below `next_config_id` 2"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        pid_t pid = fork();
        if (pid == 0) {
            dir[0] = 0;
            check_bad_row(cases[i].table, cases[i].where, cases[i].edit, cases[i].want);
            exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "  case %zu (%s) failed\n", i, cases[i].edit);
            exit(1);
        }
    }
}

TEST(task_instance_negative_is_refused)
{
    /* Once a heap-buffer-overflow in GET /jobs/KEY. */
    check_bad_row("kv_task", RUNNING, "json_set(value, '$.instance', -3)", "field `instance` is -3, not within 0-");
}

TEST(task_instance_beyond_the_job_is_refused)
{
    check_bad_row("kv_task", RUNNING, "json_set(value, '$.instance', 2)",
                  "instance 2 is out of range: job `local/r/devel/svc` has instances 0-1");
}

TEST(task_fields_are_checked)
{
    static const struct {
        const char *where, *edit, *want;
    } cases[] = {
        {RUNNING, "json_set(value, '$.state', 'SLEEPING')", "field `state` is `SLEEPING`, not a task state"},
        {RUNNING, "json_remove(value, '$.state')", "field `state` is missing"},
        {RUNNING, "json_set(value, '$.job', 'local/r/devel/gone')", "names `local/r/devel/gone`, which is not in table kv_job"},
        {RUNNING, "json_set(value, '$.agent_id', 'ghost')", "names `ghost`, which is not in table kv_agent"},
        {RUNNING, "json_set(value, '$.agent_id', NULL)", "state RUNNING needs an agent"},
        {RUNNING, "json_set(value, '$.agent_id', 'a/../b')", "field `agent_id` has a byte outside"},
        {RUNNING, "json_set(value, '$.ports.http', 70000)", "port `http` is not an integer within 0-65535"},
        {RUNNING, "json_set(value, '$.ports.http', 80)", "port `http` is 80, outside agent `a`'s range 31000-31009"},
        {RUNNING, "json_set(value, '$.ports.admin', 31001)", "`admin`, which is not a port of job"},
        /* Instance 0's task (ASSIGNED) loads first: its port is then held. */
        {RUNNING,
         "json_set(value, '$.ports.http', (SELECT json_extract(value, '$.ports.http') FROM kv_task WHERE " ASSIGNED
         "))",
         "which another live task on agent `a` holds"},
        {RUNNING, "json_set(value, '$.ports', json('[]'))", "field `ports` is not an object"},
        {RUNNING, "json_set(value, '$.failure_count', -1)", "field `failure_count` is -1"},
        {RUNNING, "json_set(value, '$.consecutive_flaps', 3000000000)", "field `consecutive_flaps` is 3000000000"},
        {RUNNING, "json_set(value, '$.executor_pid', 'x')", "field `executor_pid` is of another type"},
        {RUNNING, "json_set(value, '$.created_ms', -1)", "field `created_ms` is -1"},
        {RUNNING, "json_set(value, '$.running_since', 1.5)", "field `running_since` is of another type"},
        {RUNNING, "json_set(value, '$.kill_requested', 1)", "field `kill_requested` is not a boolean"},
        {RUNNING, "json_set(value, '$.message', json('{}'))", "field `message` is of another type"},
        {RUNNING, "json_set(value, '$.processes', json('{}'))", "field `processes` is not an array"},
        {RUNNING, "json_set(value, '$.events[0].state', 'NOPE')", "event 0: "},
        {RUNNING, "json_set(value, '$.events', json('[1,2,3,4,5,6,7,8,9]'))", "field `events` is not an array"},
        {RUNNING, "json_set(value, '$.id', 'other')", "field `id` is `other`"},
        {FAILED, "json_set(value, '$.ancestor_id', 'no spaces')", "field `ancestor_id` has a byte outside"},
        {RUNNING, "'not json'", "not JSON"},
        {RUNNING, "'[1]'", "not a JSON object"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        pid_t pid = fork(); /* a fresh store each */
        if (pid == 0) {
            dir[0] = 0;
            check_bad_row("kv_task", cases[i].where, cases[i].edit, cases[i].want);
            exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "  case %zu (%s) failed\n", i, cases[i].edit);
            exit(1);
        }
    }
}

TEST(job_fields_are_checked)
{
    static const struct {
        const char *edit, *want;
    } cases[] = {
        {"json_set(value, '$.state', 'paused')", "field `state` is `paused`, not a job state"},
        {"json_set(value, '$.created_ms', 'yesterday')", "field `created_ms` is of another type"},
        {"json_set(value, '$.config.instances', 0)", "field `config`: "},
        {"json_set(value, '$.config.instances', 100000)", "field `config`: "},
        {"json_set(value, '$.config.name', 'other')", "the config's key is `local/r/devel/other`"},
        {"json_remove(value, '$.config')", "field `config`: "},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        pid_t pid = fork();
        if (pid == 0) {
            dir[0] = 0;
            check_bad_row("kv_job", "1", cases[i].edit, cases[i].want);
            exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "  case %zu (%s) failed\n", i, cases[i].edit);
            exit(1);
        }
    }
}

TEST(agent_fields_are_checked)
{
    static const struct {
        const char *edit, *want;
    } cases[] = {
        {"json_set(value, '$.port_range', json('[0, 10]'))", "field `port_range` is 0-10, not within 1-65535"},
        {"json_set(value, '$.port_range', json('[40000, 30000]'))", "field `port_range` is 40000-30000"},
        {"json_set(value, '$.port_range', json('[1]'))", "field `port_range` is not [LOW, HIGH]"},
        {"json_set(value, '$.resources.cpu', -1)", "field `resources.cpu` is not a number >= 0"},
        {"json_set(value, '$.resources.ram', -1)", "field `ram` is -1"},
        {"json_set(value, '$.attributes', json('[]'))", "field `attributes` is not an object"},
        {"json_set(value, '$.hostname', 5)", "field `hostname` is of another type"},
        {"json_set(value, '$.id', 'b')", "field `id` is `b`"},
        {"json_set(value, '$.maintenance', 'SOON')", "field `maintenance` is not NONE, SCHEDULED, DRAINING or DRAINED"},
        {"json_set(value, '$.maintenance', 3)", "field `maintenance` is not NONE"},
        {"json_set(value, '$.drain_started_ms', -5)", "field `drain_started_ms` is -5"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        pid_t pid = fork();
        if (pid == 0) {
            dir[0] = 0;
            check_bad_row("kv_agent", "1", cases[i].edit, cases[i].want);
            exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "  case %zu (%s) failed\n", i, cases[i].edit);
            exit(1);
        }
    }
}

TEST(bad_ids_are_refused_and_printed_safely)
{
    make_store();
    sql("UPDATE kv_agent SET id = 'a' || char(10) || 'b'");
    _cleanup_free_ char *msg = load();
    CHECK(msg);
    CHECK_CONTAINS(msg, "table kv_agent, id `a?b`: the id has a byte outside [A-Za-z0-9_.-] at offset 1");
}

TEST(ancestor_cycle_is_refused_not_looped)
{
    /* Instance 0 has two tasks; make each the other's ancestor. */
    make_store();
    _cleanup_free_ char *failed = row_id("kv_task", FAILED), *assigned = row_id("kv_task", ASSIGNED);
    _cleanup_free_ char *stmt =
        bo_xasprintf("UPDATE kv_task SET value = json_set(value, '$.ancestor_id', '%s') WHERE id = '%s'", assigned,
                     failed);
    sql(stmt);
    _cleanup_free_ char *msg = load();
    CHECK(msg);
    CHECK_CONTAINS(msg, "field `ancestor_id` is part of a cycle of ancestors (instance 0 of job `local/r/devel/svc`)");
}

/* ---- which store the scheduler opens (store_open.c) ---------------------- */

static char *open_in(const char *d, bool new_cluster, bo_error_t *err)
{
    struct store *s = NULL;
    if (sched_store_open(d, false, new_cluster, &s, err) < 0)
        return NULL;
    char *p = bo_xstrdup(store_path(s));
    store_close(s);
    return p;
}

TEST(new_cluster_only_in_an_empty_data_dir)
{
    db_path();
    _cleanup_error_ bo_error_t err = NULL;
    _cleanup_free_ char *fresh = bo_xasprintf("%s/fresh/sub", dir); /* missing: created */
    _cleanup_free_ char *p = open_in(fresh, false, &err);
    CHECK(p);
    _cleanup_free_ char *other = bo_xasprintf("%s/other", dir);
    CHECK(bo_mkdir_p(other, 0700, NULL) == 0);
    _cleanup_free_ char *junk = bo_xasprintf("%s/notes.txt", other);
    CHECK(bo_write_file_atomic(junk, "x", 1, false, NULL) == 0);
    CHECK(open_in(other, false, &err) == NULL);
    CHECK(err->kind == BO_E_NOTFOUND);
    _cleanup_free_ char *want = bo_xasprintf("data directory `%s` holds files (`notes.txt`, ...) but no store "
                                             "`scheduler.db`",
                                             other);
    CHECK_CONTAINS(err->msg, want);
    CHECK_CONTAINS(err->msg, "--new-cluster");
    bo_error_freep(&err);
    _cleanup_free_ char *made = open_in(other, true, &err); /* the operator's choice */
    CHECK(made);
}

TEST(truncated_store_is_refused_unless_new_cluster)
{
    make_store();
    /* The scheduler's file name in a data dir holding a real store. */
    _cleanup_free_ char *db = bo_xasprintf("%s/" SCHED_STORE_FILE, dir);
    CHECK(rename(db_path(), db) == 0);
    _cleanup_error_ bo_error_t err = NULL;
    _cleanup_free_ char *p = open_in(dir, false, &err);
    CHECK(p); /* a store with data opens */
    CHECK(truncate(db, 0) == 0);
    CHECK(open_in(dir, false, &err) == NULL);
    _cleanup_free_ char *want = bo_xasprintf("store `%s` is empty (0 bytes)", db);
    CHECK_CONTAINS(err->msg, want);
    bo_error_freep(&err);
    _cleanup_free_ char *again = open_in(dir, true, &err);
    CHECK(again);
    /* Now a real (empty) store: opens without the flag. */
    _cleanup_free_ char *third = open_in(dir, false, &err);
    CHECK(third);
}

TEST(unreadable_or_foreign_store_is_refused_even_with_new_cluster)
{
    db_path();
    _cleanup_free_ char *db = bo_xasprintf("%s/" SCHED_STORE_FILE, dir);
    CHECK(bo_write_file_atomic(db, "garbage garbage garbage", 23, false, NULL) == 0);
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(open_in(dir, true, &err) == NULL);
    _cleanup_free_ char *want = bo_xasprintf("store `%s`: unreadable", db);
    CHECK_CONTAINS(err->msg, want);
    bo_error_freep(&err);
    /* A SQLite database that is not a store (no schema version). */
    CHECK(unlink(db) == 0);
    sqlite3 *h = NULL;
    CHECK(sqlite3_open(db, &h) == SQLITE_OK);
    CHECK(sqlite3_exec(h, "CREATE TABLE t(a); INSERT INTO t VALUES(1)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(h);
    CHECK(open_in(dir, false, &err) == NULL);
    CHECK_CONTAINS(err->msg, "holds no Borealis store");
}

TEST_MAIN()
