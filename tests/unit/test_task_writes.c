/* Unit tests for how the scheduler writes tasks to its store: a task
 * saved several times in one batch is written once, at the commit, as it
 * is then (state_save_task, store.h "Write-behind"); a rollback or a
 * failed commit leaves nothing to write later; a deleted task is never
 * written back. Against a real SQLite store in a temporary directory. */
#include "base/clock.h"
#include "base/fs.h"
#include "harness.h"
#include "store_fixture.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/scheduler.h"
#include "store/store_faulty.h"

static uint64_t store_puts(struct sched_state *st)
{
    struct store_stats ss;
    store_get_stats(st->store, &ss);
    return ss.puts;
}

/* A state with agent "a" and job "svc" of `instances`, all ASSIGNED to it. */
static struct sched_job *setup(struct sched_state *st, struct store *store, int instances)
{
    struct sched_options o;
    scheduler_default_options(&o);
    state_init(st, &o, store);
    fixture_agent(st, "a", 8, 1ULL << 30);
    _cleanup_free_ char *text = bo_xasprintf(
        "{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"devel\",\"name\":\"svc\",\"instances\":%d,"
        "\"service\":true,\"task\":{\"resources\":{\"cpu\":0.5,\"ram\":1048576,\"disk\":0},"
        "\"processes\":[{\"name\":\"p\",\"cmdline\":\"true\"}]}}",
        instances);
    json_t *j = json_loads(text, 0, NULL);
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, NULL) == 0);
    json_decref(j);
    struct sched_job *job = NULL;
    CHECK(store_begin(st->store, NULL) == 0);
    CHECK(lifecycle_create_job(st, c, &job, NULL) == 0);
    CHECK(store_commit(st->store, NULL) == 0);
    job_config_unref(c);
    CHECK(store_begin(st->store, NULL) == 0);
    CHECK(placement_run(st, 0, NULL) == instances);
    CHECK(store_commit(st->store, NULL) == 0);
    return job;
}

struct row {
    const char *id;
    char *value;
};

static int find_row(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    struct row *r = ctx;
    if (strcmp(id, r->id) == 0)
        r->value = bo_xstrdup(value);
    return 0;
}

/* The task's state as the store holds it (what the open batch wrote so
 * far, too), or NULL without a row. Heap. */
static char *stored_state(struct store *s, const char *id)
{
    struct row r = {.id = id};
    CHECK(store_load(s, "task", find_row, &r, NULL) == 0);
    if (!r.value)
        return NULL;
    json_t *j = json_loads(r.value, 0, NULL);
    free(r.value);
    CHECK(j);
    char *state = bo_xstrdup(json_string_value(json_object_get(j, "state")));
    json_decref(j);
    return state;
}

TEST(a_task_changed_twice_in_a_batch_is_written_once_and_reloads_in_its_final_state)
{
    struct sched_state st;
    struct sched_job *j = setup(&st, fixture_open_store(), 2);
    struct sched_task *t = j->current[0];
    _cleanup_free_ char *id = bo_xstrdup(t->id);
    uint64_t before = store_puts(&st);
    CHECK(store_begin(st.store, NULL) == 0);
    CHECK(lifecycle_transition(&st, t, TASK_STARTING, NULL, NULL) == 1);
    CHECK(lifecycle_transition(&st, t, TASK_RUNNING, "up", NULL) == 1);
    /* Held back until the commit: the store still has ASSIGNED. */
    _cleanup_free_ char *mid = stored_state(st.store, id);
    CHECK_STR(mid, "ASSIGNED");
    CHECK(store_commit(st.store, NULL) == 0);
    CHECK(store_puts(&st) == before + 1);
    _cleanup_free_ char *after = stored_state(st.store, id);
    CHECK_STR(after, "RUNNING");
    fixture_done(&st);

    state_init(&st, &(struct sched_options){0}, fixture_open_store());
    CHECK(state_load(&st, NULL) == 0);
    struct sched_task *r = state_task_find(&st, id);
    CHECK(r && r->state == TASK_RUNNING);
    CHECK(r->n_events >= 2 && r->events[(r->n_events - 1) % TASK_MAX_EVENTS].state == TASK_RUNNING);
    fixture_done(&st);
}

TEST(deferred_batches_write_their_tasks_into_the_group_before_the_flush)
{
    struct sched_state st;
    struct sched_job *j = setup(&st, fixture_open_store(), 2);
    uint64_t before = store_puts(&st);
    /* Two agent syncs in one group: each task moves twice in its batch. */
    for (int i = 0; i < 2; i++) {
        CHECK(store_begin(st.store, NULL) == 0);
        CHECK(lifecycle_transition(&st, j->current[i], TASK_STARTING, NULL, NULL) == 1);
        CHECK(lifecycle_transition(&st, j->current[i], TASK_RUNNING, NULL, NULL) == 1);
        CHECK(store_commit_deferred(st.store, NULL) == 0);
        CHECK(st.n_dirty == 0 && j->current[i]->dirty_slot == 0);
    }
    CHECK(store_has_deferred(st.store));
    CHECK(store_flush(st.store, NULL) == 0);
    CHECK(store_puts(&st) == before + 2);
    for (int i = 0; i < 2; i++) {
        _cleanup_free_ char *s = stored_state(st.store, j->current[i]->id);
        CHECK_STR(s, "RUNNING");
    }
    fixture_done(&st);
}

TEST(a_rollback_leaves_no_task_to_write_later)
{
    struct sched_state st;
    struct sched_job *j = setup(&st, fixture_open_store(), 1);
    struct sched_task *t = j->current[0];
    CHECK(store_begin(st.store, NULL) == 0);
    CHECK(lifecycle_transition(&st, t, TASK_STARTING, NULL, NULL) == 1);
    CHECK(st.n_dirty == 1 && t->dirty_slot == 1);
    store_rollback(st.store);
    CHECK(st.n_dirty == 0 && t->dirty_slot == 0);
    /* A later batch that does not touch it commits nothing of it. */
    uint64_t before = store_puts(&st);
    CHECK(store_begin(st.store, NULL) == 0);
    CHECK(store_commit(st.store, NULL) == 0);
    CHECK(store_puts(&st) == before);
    _cleanup_free_ char *s = stored_state(st.store, t->id);
    CHECK_STR(s, "ASSIGNED");
    /* The same inside a group: one batch rolled back, the other kept. */
    CHECK(store_begin(st.store, NULL) == 0);
    CHECK(state_save_agent(&st, st.agents, NULL) == 0);
    CHECK(store_commit_deferred(st.store, NULL) == 0);
    CHECK(store_begin(st.store, NULL) == 0);
    CHECK(lifecycle_transition(&st, t, TASK_RUNNING, NULL, NULL) == 1);
    store_rollback(st.store);
    CHECK(st.n_dirty == 0 && t->dirty_slot == 0);
    CHECK(store_flush(st.store, NULL) == 0);
    _cleanup_free_ char *s2 = stored_state(st.store, t->id);
    CHECK_STR(s2, "ASSIGNED");
    fixture_done(&st);
}

TEST(a_task_deleted_in_the_batch_is_not_written_back)
{
    struct sched_state st;
    struct sched_job *j = setup(&st, fixture_open_store(), 2);
    _cleanup_free_ char *id0 = bo_xstrdup(j->current[0]->id);
    _cleanup_free_ char *id1 = bo_xstrdup(j->current[1]->id);
    CHECK(store_begin(st.store, NULL) == 0);
    CHECK(lifecycle_transition(&st, j->current[0], TASK_STARTING, NULL, NULL) == 1);
    CHECK(lifecycle_transition(&st, j->current[1], TASK_STARTING, NULL, NULL) == 1);
    CHECK(st.n_dirty == 2);
    CHECK(state_job_remove(&st, j, NULL) == 0); /* frees the tasks */
    CHECK(store_commit(st.store, NULL) == 0);
    CHECK(st.n_dirty == 0);
    CHECK(stored_state(st.store, id0) == NULL);
    CHECK(stored_state(st.store, id1) == NULL);
    fixture_done(&st);
}

TEST(a_failed_write_at_the_commit_fails_it_as_unclean_and_leaves_nothing_dirty)
{
    struct sched_state st;
    struct store *f = store_faulty_wrap(fixture_open_store());
    struct sched_job *j = setup(&st, f, 1);
    struct sched_task *t = j->current[0];
    CHECK(store_begin(st.store, NULL) == 0);
    CHECK(lifecycle_transition(&st, t, TASK_STARTING, NULL, NULL) == 1);
    store_faulty_fail_at(f, 1, false); /* the task's put, made by the commit */
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(store_commit(st.store, &err) < 0);
    CHECK(err && err->kind == BO_E_IO && !state_error_is_clean(err));
    CHECK_CONTAINS(err->msg, "held-back");
    CHECK(!store_in_batch(st.store));
    CHECK(st.n_dirty == 0 && t->dirty_slot == 0);
    _cleanup_free_ char *s = stored_state(st.store, t->id);
    CHECK_STR(s, "ASSIGNED");
    /* As the scheduler does on an unclean failure: nothing commits later. */
    state_fatal(&st, "test", err->msg);
    CHECK(store_begin(st.store, NULL) < 0);
    CHECK(state_save_task(&st, t, NULL) < 0);
    fixture_done(&st);
}

TEST(outside_a_batch_a_save_writes_at_once)
{
    struct sched_state st;
    struct sched_job *j = setup(&st, fixture_open_store(), 1);
    struct sched_task *t = j->current[0];
    uint64_t before = store_puts(&st);
    t->executor_pid = 42;
    CHECK(state_save_task(&st, t, NULL) == 0);
    CHECK(store_puts(&st) == before + 1 && st.n_dirty == 0);
    fixture_done(&st);
}

TEST_MAIN()
