/* Unit tests for the scheduler's state, lifecycle and placement modules,
 * against a real SQLite store in a temporary directory (no daemons). */
#include <utlist.h>

#include "base/clock.h"
#include "base/fs.h"
#include "harness.h"
#include "store_fixture.h"
#include "scheduler/agent_sync.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/scheduler.h"

static struct sched_options test_opts(void)
{
    struct sched_options o;
    scheduler_default_options(&o);
    return o;
}

static struct job_config *job(const char *name, int instances, bool service, int max_failures, const char *ram)
{
    _cleanup_free_ char *text = bo_xasprintf(
        "{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"devel\",\"name\":\"%s\",\"instances\":%d,"
        "\"service\":%s,\"max_task_failures\":%d,\"task\":{\"resources\":{\"cpu\":0.5,\"ram\":%s,\"disk\":0},"
        "\"ports\":[\"http\"],\"processes\":[{\"name\":\"p\",\"cmdline\":\"true\"}]}}",
        name, instances, service ? "true" : "false", max_failures, ram);
    json_t *j = json_loads(text, 0, NULL);
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (job_config_from_json(j, &c, &err) < 0)
        fprintf(stderr, "config: %s\n", err->msg);
    CHECK(c);
    json_decref(j);
    return c;
}

static struct sched_job *create(struct sched_state *st, struct job_config *c)
{
    struct sched_job *j = NULL;
    CHECK(store_begin(st->store, NULL) == 0); /* one commit, as the API does */
    CHECK(lifecycle_create_job(st, c, &j, NULL) == 0);
    CHECK(store_commit(st->store, NULL) == 0);
    job_config_unref(c);
    return j;
}

static const char *reason(const struct sched_task *t)
{
    return t->pending_reason ? t->pending_reason->text : NULL;
}

TEST(spreads_instances_across_agents)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30), *b = fixture_agent(&st, "b", 4, 1ULL << 30);
    struct sched_job *j = create(&st, job("web", 2, true, 1, "1048576"));
    CHECK(placement_run(&st, 0, NULL) == 2);
    CHECK(j->current[0]->state == TASK_ASSIGNED && j->current[1]->state == TASK_ASSIGNED);
    CHECK(j->current[0]->agent != j->current[1]->agent);
    CHECK(a->n_tasks == 1 && b->n_tasks == 1);
    CHECK(a->has_work && b->has_work);
    fixture_done(&st);
}

TEST(ports_are_unique_on_an_agent)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    fixture_agent(&st, "a", 64, 1ULL << 34);
    struct sched_job *j = create(&st, job("web", 10, true, 1, "1048576"));
    CHECK(placement_run(&st, 0, NULL) == 10);
    for (int i = 0; i < 10; i++)
        for (int k = i + 1; k < 10; k++)
            CHECK(j->current[i]->ports[0] != j->current[k]->ports[0]);
    /* 10 ports in the range, all taken: the 11th task must wait for ports. */
    struct sched_job *j2 = create(&st, job("more", 1, true, 1, "1048576"));
    CHECK(placement_run(&st, 0, NULL) == 0);
    CHECK(j2->current[0]->state == TASK_PENDING);
    CHECK_CONTAINS(reason(j2->current[0]), "INSUFFICIENT_RESOURCES: ports");
    fixture_done(&st);
}

TEST(too_big_stays_pending_with_reason)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_job *j = create(&st, job("big", 2, true, 1, "68719476736"));
    CHECK(placement_run(&st, 0, NULL) == 0);
    CHECK_STR(reason(j->current[0]), "INSUFFICIENT_RESOURCES: no agents available");
    fixture_agent(&st, "a", 4, 1ULL << 30);
    CHECK(placement_run(&st, 0, NULL) == 0);
    CHECK(j->current[1]->state == TASK_PENDING);
    CHECK_STR(reason(j->current[1]),
              "INSUFFICIENT_RESOURCES: ram (needs 64GiB, most free on any agent 1GiB)");
    fixture_done(&st);
}

static void to_running(struct sched_state *st, struct sched_task *t)
{
    CHECK(lifecycle_transition(st, t, TASK_STARTING, NULL, NULL) == 1);
    CHECK(lifecycle_transition(st, t, TASK_RUNNING, NULL, NULL) == 1);
}

TEST(failed_service_is_rescheduled_with_ancestor_and_throttled)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    struct sched_job *j = create(&st, job("svc", 1, true, 1, "1048576"));
    CHECK(placement_run(&st, 0, NULL) == 1);
    struct sched_task *t = j->current[0];
    to_running(&st, t);
    CHECK(lifecycle_transition(&st, t, TASK_FAILED, "exited 1", NULL) == 1);
    CHECK(a->n_tasks == 0 && a->used_ram == 0);
    struct sched_task *n = j->current[0];
    CHECK(n != t);
    CHECK_STR(n->ancestor_id, t->id);
    /* It ran for less than the flap window: held in THROTTLED for 30 s. */
    CHECK(n->state == TASK_THROTTLED);
    CHECK(n->throttle_until - bo_wall_ms() > 29000);
    CHECK(lifecycle_run_timers(&st, bo_mono_ms(), NULL) == 0);
    CHECK(n->state == TASK_THROTTLED);
    CHECK(lifecycle_run_timers(&st, bo_mono_ms() + 31000, NULL) == 0);
    CHECK(n->state == TASK_PENDING);
    /* A duplicate terminal update is ignored. */
    CHECK(lifecycle_transition(&st, t, TASK_FAILED, "again", NULL) == 0);
    CHECK(j->current[0] == n);
    fixture_done(&st);
}

TEST(adhoc_fails_up_to_max_failures_then_stays_failed)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    o.flap_penalty_ms = 0;
    state_init(&st, &o, fixture_open_store());
    fixture_agent(&st, "a", 4, 1ULL << 30);
    struct sched_job *j = create(&st, job("batch", 1, false, 2, "1048576"));
    CHECK(placement_run(&st, 0, NULL) == 1);
    struct sched_task *first = j->current[0];
    to_running(&st, first);
    CHECK(lifecycle_transition(&st, first, TASK_FAILED, "exit 1", NULL) == 1);
    struct sched_task *second = j->current[0];
    CHECK(second != first && second->state == TASK_PENDING && second->failure_count == 1);
    CHECK(placement_run(&st, 0, NULL) == 1);
    to_running(&st, second);
    CHECK(lifecycle_transition(&st, second, TASK_FAILED, "exit 1", NULL) == 1);
    CHECK(j->current[0] == second && second->failure_count == 2);
    CHECK(j->state == JOB_FAILED);
    json_t *summary = state_job_summary_json(&st, j);
    CHECK_STR(json_string_value(json_object_get(summary, "state")), "failed");
    CHECK(json_integer_value(json_object_get(summary, "failed_instances")) == 1);
    json_decref(summary);
    fixture_done(&st);
}

TEST(finished_adhoc_is_not_rescheduled_but_finished_service_is)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    o.flap_penalty_ms = 0;
    state_init(&st, &o, fixture_open_store());
    fixture_agent(&st, "a", 4, 1ULL << 30);
    struct sched_job *adhoc = create(&st, job("once", 1, false, 1, "1048576"));
    struct sched_job *svc = create(&st, job("svc", 1, true, 1, "1048576"));
    CHECK(placement_run(&st, 0, NULL) == 2);
    struct sched_task *a0 = adhoc->current[0], *s0 = svc->current[0];
    to_running(&st, a0);
    to_running(&st, s0);
    CHECK(lifecycle_transition(&st, a0, TASK_FINISHED, NULL, NULL) == 1);
    CHECK(lifecycle_transition(&st, s0, TASK_FINISHED, NULL, NULL) == 1);
    CHECK(adhoc->current[0] == a0 && adhoc->state == JOB_FINISHED);
    CHECK(svc->current[0] != s0 && svc->state == JOB_ACTIVE);
    fixture_done(&st);
}

TEST(user_kill_is_final)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    struct sched_job *j = create(&st, job("svc", 2, true, 1, "1048576"));
    CHECK(placement_run(&st, 0, NULL) == 2);
    struct sched_task *t0 = j->current[0];
    to_running(&st, t0);
    a->has_work = false;
    CHECK(lifecycle_kill(&st, t0, NULL) == 1);
    CHECK(t0->state == TASK_KILLING && a->has_work);
    CHECK(lifecycle_transition(&st, t0, TASK_KILLED, NULL, NULL) == 1);
    CHECK(j->current[0] == t0);
    CHECK(j->state == JOB_ACTIVE); /* instance 1 still lives */
    CHECK(lifecycle_kill(&st, j->current[1], NULL) == 1);
    CHECK(lifecycle_transition(&st, j->current[1], TASK_KILLED, NULL, NULL) == 1);
    CHECK(state_job_refresh(&st, j, NULL) == 0);
    CHECK(j->state == JOB_KILLED);
    fixture_done(&st);
}

TEST(lost_agent_reschedules_its_tasks)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    o.flap_penalty_ms = 0;
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    struct sched_job *j = create(&st, job("svc", 1, true, 1, "1048576"));
    CHECK(placement_run(&st, 0, NULL) == 1);
    struct sched_task *t = j->current[0];
    to_running(&st, t);
    CHECK(lifecycle_run_timers(&st, bo_mono_ms() + 31000, NULL) == 0);
    CHECK(!a->up && t->state == TASK_LOST);
    CHECK(j->current[0] != t && j->current[0]->state == TASK_PENDING);
    CHECK_CONTAINS(t->message, "stopped syncing");
    fixture_done(&st);
}

TEST(recovery_restores_tasks_resources_and_current_instances)
{
    struct sched_options o = test_opts();
    o.flap_penalty_ms = 0;
    char *t0id, *t1id, *ancestor;
    {
        struct sched_state st;
        state_init(&st, &o, fixture_open_store());
        fixture_agent(&st, "a", 4, 1ULL << 30);
        struct sched_job *j = create(&st, job("svc", 2, true, 1, "1048576"));
        CHECK(placement_run(&st, 0, NULL) == 2);
        to_running(&st, j->current[0]);
        to_running(&st, j->current[1]);
        ancestor = bo_xstrdup(j->current[0]->id);
        CHECK(lifecycle_transition(&st, j->current[0], TASK_FAILED, "boom", NULL) == 1);
        CHECK(placement_run(&st, 0, NULL) == 1);
        t0id = bo_xstrdup(j->current[0]->id);
        t1id = bo_xstrdup(j->current[1]->id);
        fixture_done(&st); /* everything was committed; as if the process ended here */
    }
    struct sched_state st;
    state_init(&st, &o, fixture_open_store());
    CHECK(state_load(&st, NULL) == 0);
    struct sched_job *j = state_job_find(&st, "local/r/devel/svc");
    CHECK(j && j->n_current == 2);
    CHECK_STR(j->current[0]->id, t0id);
    CHECK_STR(j->current[1]->id, t1id);
    CHECK_STR(j->current[0]->ancestor_id, ancestor);
    CHECK(j->current[0]->state == TASK_ASSIGNED && j->current[1]->state == TASK_RUNNING);
    struct sched_agent *a = state_agent_find(&st, "a");
    CHECK(a && a->n_tasks == 2 && a->used_ram == 2 * 1048576);
    CHECK(st.count_by_state[TASK_FAILED] == 1 && st.count_by_state[TASK_RUNNING] == 1);
    free(t0id);
    free(t1id);
    free(ancestor);
    fixture_done(&st);
}

TEST(terminal_tasks_are_pruned_per_job)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    o.flap_penalty_ms = 0;
    o.terminal_keep_per_job = 3;
    state_init(&st, &o, fixture_open_store());
    fixture_agent(&st, "a", 4, 1ULL << 30);
    struct sched_job *j = create(&st, job("svc", 1, true, 1, "1048576"));
    for (int i = 0; i < 6; i++) {
        CHECK(placement_run(&st, 0, NULL) == 1);
        to_running(&st, j->current[0]);
        CHECK(lifecycle_transition(&st, j->current[0], TASK_FAILED, "x", NULL) == 1);
    }
    int n = 0;
    struct sched_task *t;
    DL_FOREACH2(j->tasks, t, j_next)
    n++;
    CHECK(n == 4); /* 3 kept terminal + the current PENDING one */
    CHECK(st.count_by_state[TASK_FAILED] == 3);
    fixture_done(&st);
}

TEST(placement_pass_is_bounded)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    fixture_agent(&st, "a", 64, 1ULL << 34);
    create(&st, job("web", 7, true, 1, "1048576"));
    CHECK(placement_run(&st, 3, NULL) == 3);
    CHECK(placement_is_due(&st)); /* more to do */
    CHECK(placement_run(&st, 3, NULL) == 3);
    CHECK(placement_run(&st, 3, NULL) == 1);
    CHECK(!placement_is_due(&st));
    fixture_done(&st);
}

/* Passes of at most `max` tasks until placement is not due; returns how
 * many passes it took (bounded, or the test fails). */
static int place_until_idle(struct sched_state *st, size_t max, int bound)
{
    int passes = 0;
    while (placement_is_due(st)) {
        CHECK(++passes <= bound);
        CHECK(placement_run(st, max, NULL) >= 0);
    }
    return passes;
}

TEST(placeable_task_behind_thousands_of_unplaceable_ones_is_placed)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    fixture_agent(&st, "a", 4, 1ULL << 30);
    create(&st, job("big", 3000, true, 1, "68719476736"));
    struct sched_job *big = create(&st, job("bigger", 3000, true, 1, "137438953472"));
    struct sched_job *small = create(&st, job("small", 1, true, 1, "1048576"));
    /* 6,001 tasks, 100 per pass: the sweep reaches the last one in 61. */
    CHECK(place_until_idle(&st, 100, 61) == 61);
    CHECK(small->current[0]->state == TASK_ASSIGNED);
    CHECK(big->current[2999]->state == TASK_PENDING);
    CHECK_CONTAINS(reason(big->current[2999]), "INSUFFICIENT_RESOURCES: ram");
    fixture_done(&st);
}

TEST(a_sweep_that_places_nothing_leaves_placement_not_due)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    create(&st, job("big", 50, true, 1, "68719476736"));
    struct sched_job *fill = create(&st, job("fill", 1, false, 1, "1073741824"));
    CHECK(place_until_idle(&st, 10, 6) == 6);
    CHECK(fill->current[0]->state == TASK_ASSIGNED);
    /* Nothing changed since: no pass is due, so the loop sleeps. */
    CHECK(!placement_is_due(&st));
    CHECK(placement_run(&st, 10, NULL) == 0); /* a pass anyway starts a sweep */
    CHECK(place_until_idle(&st, 10, 4) == 4);
    CHECK(!placement_is_due(&st));
    /* Freed resources make placement due again. */
    to_running(&st, fill->current[0]);
    CHECK(lifecycle_transition(&st, fill->current[0], TASK_FINISHED, NULL, NULL) == 1);
    CHECK(a->used_ram == 0 && placement_is_due(&st));
    fixture_done(&st);
}

TEST(the_reason_is_computed_once_per_class_per_pass)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    fixture_agent(&st, "a", 4, 1ULL << 30);
    struct sched_job *big = create(&st, job("big", 3000, true, 1, "68719476736"));
    struct sched_job *huge = create(&st, job("huge", 10, true, 1, "137438953472"));
    CHECK(placement_run(&st, 0, NULL) == 0);
    /* One reason object per class, shared by every task of it. */
    const struct sched_reason *r = big->current[0]->pending_reason;
    CHECK(r && r->refs == 3000);
    for (int i = 0; i < 3000; i++)
        CHECK(big->current[i]->pending_reason == r);
    const struct sched_reason *rh = huge->current[0]->pending_reason;
    CHECK(rh != r && rh->refs == 10);
    CHECK_CONTAINS(rh->text, "needs 128GiB");
    /* A bounded pass: the tasks it examined share one new reason. */
    CHECK(placement_run(&st, 100, NULL) == 0);
    const struct sched_reason *r2 = big->current[0]->pending_reason;
    CHECK(r2 != r && r2->refs == 100 && big->current[99]->pending_reason == r2);
    CHECK(big->current[100]->pending_reason == r && r->refs == 2900);
    fixture_done(&st);
}

TEST(timers_drive_the_poll_timeout_and_fire_on_their_deadline)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    o.agent_timeout_ms = 3600 * 1000;
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    int64_t now = bo_mono_ms();
    /* Only the agent's timeout is armed: an idle scheduler sleeps an hour. */
    CHECK(bo_timer_heap_timeout_ms(&st.timers, now) > 3500 * 1000);
    struct sched_job *j = create(&st, job("svc", 1, true, 1, "1048576"));
    CHECK(placement_run(&st, 0, NULL) == 1);
    struct sched_task *t = j->current[0];
    /* The launch goes out (as agent_sync does): its resend is a deadline. */
    a->has_work = false;
    t->last_command_mono = bo_mono_ms();
    lifecycle_arm_timer(&st, t);
    int64_t to = bo_timer_heap_timeout_ms(&st.timers, bo_mono_ms());
    CHECK(to > 0 && to <= o.command_resend_ms);
    CHECK(lifecycle_run_timers(&st, t->last_command_mono + o.command_resend_ms - 1, NULL) == 0);
    CHECK(!a->has_work);
    CHECK(lifecycle_run_timers(&st, t->last_command_mono + o.command_resend_ms, NULL) == 0);
    CHECK(a->has_work && t->state == TASK_ASSIGNED);
    /* A due resend waits for the agent: the next deadline is the transient
     * timeout, not "now" again (no spin). */
    CHECK(bo_timer_heap_peek(&st.timers) == &t->timer);
    CHECK(t->timer.deadline_ms == t->state_since_mono + o.transient_timeout_ms);
    CHECK(lifecycle_run_timers(&st, t->state_since_mono + o.transient_timeout_ms, NULL) == 0);
    CHECK(t->state == TASK_LOST);
    CHECK_CONTAINS(t->message, "stuck in ASSIGNED");
    fixture_done(&st);
}

TEST(agent_timeout_follows_its_last_sync)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    int64_t first = a->timer.deadline_ms;
    a->last_seen_mono += 10000; /* it synced 10 s later */
    CHECK(lifecycle_run_timers(&st, first, NULL) == 0);
    CHECK(a->up && a->timer.deadline_ms == first + 10000); /* re-armed, not lost */
    CHECK(lifecycle_run_timers(&st, first + 10000, NULL) == 0);
    CHECK(!a->up && !bo_timer_armed(&a->timer));
    lifecycle_agent_seen(&st, a); /* as a sync does: armed again */
    CHECK(bo_timer_armed(&a->timer));
    fixture_done(&st);
}

TEST(a_recovered_throttled_task_is_released_at_its_time)
{
    struct sched_options o = test_opts();
    o.agent_timeout_ms = 3600 * 1000;
    int64_t until;
    {
        struct sched_state st;
        state_init(&st, &o, fixture_open_store());
        fixture_agent(&st, "a", 4, 1ULL << 30);
        struct sched_job *j = create(&st, job("svc", 1, true, 1, "1048576"));
        CHECK(placement_run(&st, 0, NULL) == 1);
        to_running(&st, j->current[0]);
        CHECK(lifecycle_transition(&st, j->current[0], TASK_FAILED, "exit 1", NULL) == 1);
        CHECK(j->current[0]->state == TASK_THROTTLED);
        until = j->current[0]->throttle_until;
        fixture_done(&st);
    }
    struct sched_state st;
    state_init(&st, &o, fixture_open_store());
    CHECK(state_load(&st, NULL) == 0);
    int64_t now_mono = bo_mono_ms(), now_wall = bo_wall_ms();
    lifecycle_recovered(&st, now_mono, now_wall);
    struct sched_task *t = state_job_find(&st, "local/r/devel/svc")->current[0];
    CHECK(t->state == TASK_THROTTLED && t->timer.deadline_ms == now_mono + (until - now_wall));
    CHECK(bo_timer_heap_peek(&st.timers) == &t->timer); /* the loop wakes for it */
    CHECK(lifecycle_run_timers(&st, t->timer.deadline_ms - 1, NULL) == 0);
    CHECK(t->state == TASK_THROTTLED);
    CHECK(lifecycle_run_timers(&st, now_mono + (until - now_wall), NULL) == 0);
    CHECK(t->state == TASK_PENDING && placement_is_due(&st));
    fixture_done(&st);
}

TEST(pruning_never_frees_the_task_that_just_ended)
{
    /* The oldest-created task is the last to end: pruning by age must not
     * pick it while its transition is still running. */
    struct sched_state st;
    struct sched_options o = test_opts();
    o.flap_penalty_ms = 0;
    o.terminal_keep_per_job = 1;
    state_init(&st, &o, fixture_open_store());
    fixture_agent(&st, "a", 4, 1ULL << 30);
    struct sched_job *j = create(&st, job("svc", 3, true, 1, "1048576"));
    CHECK(placement_run(&st, 0, NULL) == 3);
    struct sched_task *t0 = j->current[0], *t1 = j->current[1], *t2 = j->current[2];
    to_running(&st, t0);
    to_running(&st, t1);
    to_running(&st, t2);
    CHECK(lifecycle_transition(&st, t2, TASK_KILLED, "agent stopped", NULL) == 1);
    CHECK(lifecycle_transition(&st, t1, TASK_KILLED, "agent stopped", NULL) == 1);
    CHECK(lifecycle_transition(&st, t0, TASK_KILLED, "agent stopped", NULL) == 1);
    CHECK(j->state == JOB_ACTIVE);
    CHECK(st.count_by_state[TASK_KILLED] == 1); /* keep = 1 */
    CHECK(st.count_by_state[TASK_PENDING] == 3);
    fixture_done(&st);
}

static struct job_config *job_with_policy(const char *name, int instances, const char *policy)
{
    _cleanup_free_ char *text = bo_xasprintf(
        "{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"devel\",\"name\":\"%s\",\"instances\":%d,"
        "\"service\":true,\"partition_policy\":%s,\"task\":{\"resources\":{\"cpu\":0.1,\"ram\":1048576,"
        "\"disk\":0},\"processes\":[{\"name\":\"p\",\"cmdline\":\"true\"}]}}",
        name, instances, policy);
    json_t *j = json_loads(text, 0, NULL);
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, NULL) == 0);
    json_decref(j);
    return c;
}

/* The agent's last sync was a timeout ago: lost now (timers run at the
 * real `now`, so nothing else of the future fires). */
static void lose(struct sched_state *st, struct sched_agent *a)
{
    int64_t now = bo_mono_ms();
    a->last_seen_mono = now - st->opt.agent_timeout_ms - 1;
    bo_timer_arm(&st->timers, &a->timer, now);
    CHECK(store_begin(st->store, NULL) == 0);
    CHECK(lifecycle_run_timers(st, now, NULL) == 0);
    CHECK(store_commit(st->store, NULL) == 0);
    CHECK(!a->up && a->state == AGENT_LOST);
}

TEST(partition_policy_keeps_tasks_partitioned_or_loses_them_after_its_delay)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    struct sched_job *never = create(&st, job_with_policy("never", 1, "{\"reschedule\":false}"));
    struct sched_job *later = create(&st, job_with_policy("later", 1, "{\"delay_secs\":30}"));
    struct sched_job *plain = create(&st, job_with_policy("plain", 1, "{}"));
    CHECK(placement_run(&st, 0, NULL) == 3);
    struct sched_task *tn = never->current[0], *tl = later->current[0], *tp = plain->current[0];
    to_running(&st, tn);
    to_running(&st, tl);
    to_running(&st, tp);
    lose(&st, a);
    /* No policy: LOST and replaced. With one: PARTITIONED, still the
     * instance's task, holding its place on the agent. */
    CHECK(tp->state == TASK_LOST && plain->current[0] != tp);
    CHECK(tn->state == TASK_PARTITIONED && never->current[0] == tn && tn->agent == a);
    CHECK(tl->state == TASK_PARTITIONED && later->current[0] == tl);
    /* delay_secs later only the delayed one gives up. */
    CHECK(lifecycle_run_timers(&st, tl->state_since_mono + 30000, NULL) == 0);
    CHECK(tl->state == TASK_LOST && later->current[0] != tl);
    CHECK_CONTAINS(tl->message, "delay_secs");
    CHECK(tn->state == TASK_PARTITIONED && !bo_timer_armed(&tn->timer));
    /* Its agent is back and says it runs the task: RUNNING again; the
     * replaced one is killed there. */
    json_t *inv = json_pack("[{s:s, s:s}, {s:s, s:s}]", "task_id", tn->id, "state", "RUNNING", "task_id", tl->id,
                            "state", "RUNNING");
    json_t *body = json_pack("{s:s, s:s, s:{s:f, s:I, s:I}, s:[i, i], s:o, s:[]}", "agent_id", "a", "hostname", "a",
                             "resources", "cpu", 4.0, "ram", (json_int_t)(1 << 30), "disk", (json_int_t)(1 << 30),
                             "port_range", 31000, 31009, "inventory", inv, "updates");
    struct sched_agent *back = NULL;
    json_t *ans = NULL;
    CHECK(agent_sync_apply(&st, body, &back, &ans, NULL) == 0);
    CHECK(back == a && a->up && !a->needs_inventory);
    CHECK(tn->state == TASK_RUNNING);
    json_t *kill = json_object_get(ans, "kill");
    CHECK(json_array_size(kill) == 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(kill, 0), "task_id")), tl->id);
    json_decref(ans);
    json_decref(body);
    fixture_done(&st);
}

TEST(tasks_of_a_lost_agent_are_not_flapping_and_their_rescheduling_is_rate_limited)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    o.reschedule_rate = 2; /* a burst of 2, then one every 500 ms */
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    struct sched_job *j = create(&st, job_with_policy("svc", 5, "{}"));
    CHECK(placement_run(&st, 0, NULL) == 5);
    to_running(&st, j->current[0]); /* ran for a moment: would be flapping */
    struct sched_task *old[5];
    for (int i = 0; i < 5; i++)
        old[i] = j->current[i];
    lose(&st, a);
    int pending = 0, held = 0;
    for (int i = 0; i < 5; i++) {
        struct sched_task *t = j->current[i];
        CHECK(t != old[i] && old[i]->state == TASK_LOST && t->consecutive_flaps == 0);
        pending += t->state == TASK_PENDING;
        if (t->state == TASK_THROTTLED) {
            held++;
            CHECK_CONTAINS(t->message, "reschedule rate limit");
            /* never the flapping penalty (30 s): at most 2 s for the third
             * of three held ones */
            CHECK(t->throttle_until_mono - bo_mono_ms() <= 2000);
        }
    }
    CHECK(pending == 2 && held == 3);
    fixture_done(&st);
}

/* The machine came back without the task (rebooted, data wiped): not the
 * task's fault, so no flapping penalty although it ran only a moment
 * (found by bench-scale's churn phase: such tasks sat THROTTLED 30 s). */
TEST(a_task_its_agent_came_back_without_is_not_flapping)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    struct sched_job *j = create(&st, job_with_policy("svc", 1, "{}"));
    CHECK(placement_run(&st, 0, NULL) == 1);
    struct sched_task *old = j->current[0];
    to_running(&st, old);
    json_t *body = json_pack("{s:s, s:s, s:{s:f, s:I, s:I}, s:[i, i], s:[], s:[], s:b}", "agent_id", "a", "hostname",
                             "a", "resources", "cpu", 4.0, "ram", (json_int_t)(1 << 30), "disk",
                             (json_int_t)(1 << 30), "port_range", 31000, 31009, "inventory", "updates", "boot", 1);
    struct sched_agent *back = NULL;
    json_t *ans = NULL;
    CHECK(agent_sync_apply(&st, body, &back, &ans, NULL) == 0);
    CHECK(back == a && old->state == TASK_LOST);
    CHECK_CONTAINS(old->message, "agent restarted without this task");
    struct sched_task *t = j->current[0];
    CHECK(t != old && t->consecutive_flaps == 0 && t->state == TASK_PENDING);
    json_decref(ans);
    json_decref(body);
    fixture_done(&st);
}

TEST(a_busy_loop_or_a_parked_poll_never_makes_an_agent_lost)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    int64_t due = a->last_seen_mono + o.agent_timeout_ms;
    /* The loop last listened just after the agent's sync, then was busy
     * past the timeout: not lost, and judged again shortly. */
    st.heard_until_mono = a->last_seen_mono + 1;
    CHECK(lifecycle_run_timers(&st, due + 5000, NULL) == 0);
    CHECK(a->up && a->timer.deadline_ms == due + 5000 + o.agent_heartbeat_ms / 10 + 1);
    /* It listened again and heard nothing for the whole timeout: lost. */
    st.heard_until_mono = due + 5000 + o.agent_heartbeat_ms;
    CHECK(lifecycle_run_timers(&st, st.heard_until_mono, NULL) == 0);
    CHECK(!a->up && a->state == AGENT_LOST);
    fixture_done(&st);
}

static bool always_parked(const struct sched_agent *a)
{
    return true;
}

/* An agent's attributes, packed: read back by name and in order, compared
 * with the registration's object, stored as that object again. */
TEST(agent_attributes_round_trip)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    CHECK(state_agent_attr(a, "rack") == NULL);
    json_t *none = json_object();
    CHECK(state_agent_attrs_equal(a, none));
    json_t *in = json_pack("{s:s, s:s, s:i}", "rack", "r7", "zone", "", "count", 3);
    state_agent_set_attrs(a, in); /* the integer is left out */
    CHECK_STR(state_agent_attr(a, "rack"), "r7");
    CHECK_STR(state_agent_attr(a, "zone"), "");
    CHECK(state_agent_attr(a, "count") == NULL && state_agent_attr(a, "r7") == NULL);
    CHECK(!state_agent_attrs_equal(a, in) && !state_agent_attrs_equal(a, none));
    json_t *out = state_agent_attrs_json(a);
    CHECK(json_object_size(out) == 2 && state_agent_attrs_equal(a, out));
    const char *pos = NULL, *n, *v;
    CHECK(state_agent_attr_next(a, &pos, &n, &v) && strcmp(n, "rack") == 0 && strcmp(v, "r7") == 0);
    CHECK(state_agent_attr_next(a, &pos, &n, &v) && strcmp(n, "zone") == 0 && strcmp(v, "") == 0);
    CHECK(!state_agent_attr_next(a, &pos, &n, &v));
    json_object_set_new(out, "rack", json_string("r8"));
    CHECK(!state_agent_attrs_equal(a, out));
    state_agent_set_attrs(a, none);
    CHECK(a->attrs == NULL && state_agent_attr(a, "rack") == NULL);
    json_decref(in);
    json_decref(out);
    json_decref(none);
    fixture_done(&st);
}

TEST(a_parked_poll_is_contact)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    st.agent_waiting = always_parked;
    int64_t due = a->last_seen_mono + o.agent_timeout_ms;
    CHECK(lifecycle_run_timers(&st, due, NULL) == 0);
    CHECK(a->up && a->last_seen_mono == due);
    fixture_done(&st);
}

static struct job_config *job_with_constraints(const char *name, int instances, const char *constraints)
{
    _cleanup_free_ char *text = bo_xasprintf(
        "{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"devel\",\"name\":\"%s\",\"instances\":%d,"
        "\"service\":true,\"constraints\":%s,\"task\":{\"resources\":{\"cpu\":0.1,\"ram\":1048576,"
        "\"disk\":0},\"processes\":[{\"name\":\"p\",\"cmdline\":\"true\"}]}}",
        name, instances, constraints);
    json_t *j = json_loads(text, 0, NULL);
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (job_config_from_json(j, &c, &err) < 0)
        fprintf(stderr, "config: %s\n", err->msg);
    CHECK(c);
    json_decref(j);
    return c;
}

static struct sched_agent *agent_with(struct sched_state *st, const char *id, const char *attrs)
{
    struct sched_agent *a = fixture_agent(st, id, 4, 1ULL << 30);
    json_t *o = json_loads(attrs, 0, NULL);
    CHECK(json_is_object(o));
    state_agent_set_attrs(a, o);
    json_decref(o);
    return a;
}

static int on(const struct sched_job *j, const struct sched_agent *a)
{
    int n = 0;
    for (int64_t i = 0; i < j->n_current; i++)
        n += j->current[i]->agent == a;
    return n;
}

TEST(constraints_by_value_and_negation_and_the_reason_when_none_match)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = agent_with(&st, "a", "{\"rack\":\"r1\"}");
    struct sched_agent *b = agent_with(&st, "b", "{\"rack\":\"r2\"}");
    struct sched_job *in = create(&st, job_with_constraints("in", 2, "[{\"attribute\":\"rack\",\"value\":\"r2,r3\"}]"));
    struct sched_job *out = create(&st, job_with_constraints("out", 2, "[{\"attribute\":\"rack\",\"value\":\"!r2\"}]"));
    struct sched_job *none = create(&st, job_with_constraints("none", 2, "[{\"attribute\":\"rack\",\"value\":\"r9\"}]"));
    CHECK(placement_run(&st, 0, NULL) == 4);
    CHECK(on(in, b) == 2 && on(out, a) == 2);
    CHECK(none->current[0]->state == TASK_PENDING && none->current[1]->state == TASK_PENDING);
    CHECK_CONTAINS(reason(none->current[0]), "CONSTRAINT_MISMATCH");
    CHECK(none->current[0]->pending_reason == none->current[1]->pending_reason); /* once per class */
    fixture_done(&st);
}

TEST(limit_per_attribute_value)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    agent_with(&st, "a", "{\"host\":\"a\",\"rack\":\"r1\"}");
    agent_with(&st, "b", "{\"host\":\"b\",\"rack\":\"r1\"}");
    agent_with(&st, "c", "{\"host\":\"c\",\"rack\":\"r2\"}");
    struct sched_job *j = create(&st, job_with_constraints("one", 4, "[{\"attribute\":\"host\",\"value\":\"limit:1\"}]"));
    struct sched_job *r = create(&st, job_with_constraints("rk", 3, "[{\"attribute\":\"rack\",\"value\":\"limit:1\"}]"));
    CHECK(placement_run(&st, 0, NULL) == 5);
    int pending = 0;
    for (int i = 0; i < 4; i++)
        pending += j->current[i]->state == TASK_PENDING;
    CHECK(pending == 1);
    for (int i = 0; i < 4; i++)
        if (j->current[i]->state == TASK_PENDING)
            CHECK_CONTAINS(reason(j->current[i]), "LIMIT_NOT_SATISFIED");
    /* One per rack: two racks, two instances; the third waits. */
    int placed = 0;
    for (int i = 0; i < 3; i++)
        placed += r->current[i]->state == TASK_ASSIGNED;
    CHECK(placed == 2);
    fixture_done(&st);
}

TEST(dedicated_agents_run_only_the_jobs_that_ask_for_them)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *plain = agent_with(&st, "plain", "{}");
    struct sched_agent *db = agent_with(&st, "db", "{\"dedicated\":\"r/db\"}");
    struct sched_job *any = create(&st, job_with_constraints("any", 4, "[]"));
    struct sched_job *mine = create(&st, job_with_constraints("mine", 2, "[{\"attribute\":\"dedicated\",\"value\":\"r/db\"}]"));
    struct sched_job *other = create(&st, job_with_constraints("other", 1, "[{\"attribute\":\"dedicated\",\"value\":\"r/cache\"}]"));
    CHECK(placement_run(&st, 0, NULL) == 6);
    CHECK(on(any, plain) == 4 && on(mine, db) == 2);
    CHECK(other->current[0]->state == TASK_PENDING);
    CHECK_CONTAINS(reason(other->current[0]), "DEDICATED_CONSTRAINT_MISMATCH");
    fixture_done(&st);
}

TEST(instances_spread_across_racks_first)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a1 = agent_with(&st, "a1", "{\"rack\":\"r1\"}");
    struct sched_agent *a2 = agent_with(&st, "a2", "{\"rack\":\"r1\"}");
    struct sched_agent *b1 = agent_with(&st, "b1", "{\"rack\":\"r2\"}");
    struct sched_job *j = create(&st, job_with_constraints("web", 4, "[]"));
    CHECK(placement_run(&st, 0, NULL) == 4);
    /* Two per rack: b1 alone holds r2's two, a1 and a2 one each. */
    CHECK(on(j, b1) == 2 && on(j, a1) == 1 && on(j, a2) == 1);
    fixture_done(&st);
}

TEST(maintenance_drains_tasks_without_penalty_and_is_persisted)
{
    struct sched_options o = test_opts();
    {
        struct sched_state st;
        state_init(&st, &o, fixture_open_store());
        struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
        struct sched_agent *b = fixture_agent(&st, "b", 4, 1ULL << 30);
        b->maintenance = MAINT_SCHEDULED; /* deactivated: nothing new */
        struct sched_job *j = create(&st, job_with_constraints("web", 2, "[]"));
        CHECK(placement_run(&st, 0, NULL) == 2);
        CHECK(on(j, a) == 2);
        struct sched_job *pin = create(&st, job_with_constraints("pin", 1, "[{\"attribute\":\"host\",\"value\":\"b\"}]"));
        json_t *host_b = json_pack("{s:s}", "host", "b");
        state_agent_set_attrs(b, host_b);
        json_decref(host_b);
        CHECK(placement_run(&st, 0, NULL) == 0);
        CHECK_CONTAINS(reason(pin->current[0]), "MAINTENANCE");
        to_running(&st, j->current[0]);
        struct sched_task *old = j->current[0];
        CHECK(store_begin(st.store, NULL) == 0);
        CHECK(lifecycle_maintenance(&st, a, MAINT_DRAINING, NULL) == 0);
        CHECK(store_commit(st.store, NULL) == 0);
        CHECK(old->state == TASK_DRAINING && a->has_work && a->maintenance == MAINT_DRAINING);
        CHECK(lifecycle_transition(&st, old, TASK_KILLED, "killed", NULL) == 1);
        CHECK(j->current[0] != old && j->current[0]->state == TASK_PENDING); /* no THROTTLED */
        CHECK(lifecycle_transition(&st, j->current[1], TASK_KILLED, "killed", NULL) == 1);
        CHECK(store_begin(st.store, NULL) == 0);
        CHECK(lifecycle_maintenance_progress(&st, a, NULL) == 0);
        CHECK(store_commit(st.store, NULL) == 0);
        CHECK(a->maintenance == MAINT_DRAINED);
        fixture_done(&st);
    }
    struct sched_state st;
    state_init(&st, &o, fixture_open_store());
    CHECK(state_load(&st, NULL) == 0);
    CHECK(state_agent_find(&st, "a")->maintenance == MAINT_DRAINED);
    CHECK(state_agent_find(&st, "b")->maintenance == MAINT_NONE); /* set in memory only above */
    fixture_done(&st);
}

TEST(a_drain_keeps_the_sla_policy_until_its_timeout)
{
    struct sched_state st;
    struct sched_options o = test_opts();
    state_init(&st, &o, fixture_open_store());
    struct sched_agent *a = fixture_agent(&st, "a", 4, 1ULL << 30);
    struct sched_agent *b = fixture_agent(&st, "b", 4, 1ULL << 30);
    b->maintenance = MAINT_SCHEDULED;
    _cleanup_free_ char *text = bo_xstrdup(
        "{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"devel\",\"name\":\"sla\",\"instances\":3,"
        "\"service\":true,\"sla_policy\":{\"count\":2},\"task\":{\"resources\":{\"cpu\":0.1,\"ram\":1048576,"
        "\"disk\":0},\"processes\":[{\"name\":\"p\",\"cmdline\":\"true\"}]}}");
    json_t *jj = json_loads(text, 0, NULL);
    struct job_config *c = NULL;
    CHECK(job_config_from_json(jj, &c, NULL) == 0);
    json_decref(jj);
    struct sched_job *j = create(&st, c);
    CHECK(placement_run(&st, 0, NULL) == 3);
    for (int i = 0; i < 3; i++)
        to_running(&st, j->current[i]);
    b->maintenance = MAINT_NONE;
    CHECK(store_begin(st.store, NULL) == 0);
    CHECK(lifecycle_maintenance(&st, a, MAINT_DRAINING, NULL) == 0);
    CHECK(store_commit(st.store, NULL) == 0);
    /* 3 RUNNING, 2 must stay: one goes, the others wait for it. */
    int draining = 0;
    for (int i = 0; i < 3; i++)
        draining += j->current[i]->state == TASK_DRAINING;
    CHECK(draining == 1 && bo_timer_armed(&a->drain_timer));
    /* Its replacement runs on b: the next step drains one more. */
    for (int i = 0; i < 3; i++)
        if (j->current[i]->state == TASK_DRAINING)
            CHECK(lifecycle_transition(&st, j->current[i], TASK_KILLED, "killed", NULL) == 1);
    CHECK(placement_run(&st, 0, NULL) == 1);
    for (int i = 0; i < 3; i++)
        if (j->current[i]->state == TASK_ASSIGNED) {
            CHECK(j->current[i]->agent == b);
            to_running(&st, j->current[i]);
        }
    CHECK(lifecycle_run_timers(&st, a->drain_timer.deadline_ms, NULL) == 0);
    draining = 0;
    for (int i = 0; i < 3; i++)
        draining += j->current[i]->state == TASK_DRAINING;
    CHECK(draining == 1);
    /* Past --drain-timeout the last one goes whatever the SLA says. */
    for (int i = 0; i < 3; i++)
        if (j->current[i]->state == TASK_DRAINING)
            CHECK(lifecycle_transition(&st, j->current[i], TASK_KILLED, "killed", NULL) == 1);
    a->drain_started_ms -= o.drain_timeout_ms;
    CHECK(lifecycle_run_timers(&st, a->drain_timer.deadline_ms, NULL) == 0);
    draining = 0;
    for (int i = 0; i < 3; i++)
        if (j->current[i]->state == TASK_DRAINING) {
            draining++;
            CHECK_CONTAINS(j->current[i]->message, "forced");
        }
    CHECK(draining == 1 && !bo_timer_armed(&a->drain_timer));
    fixture_done(&st);
}

TEST_MAIN()
