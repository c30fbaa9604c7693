/* Unit tests for the scheduler's side of the agent protocol
 * (src/scheduler/agent_sync.c) through agent_sync_apply: every update is
 * acked, bad ones are rejected with a reason, updates of tasks the agent
 * ended itself (cause) and a leaving agent reschedule without penalty;
 * and which of the two readers of a sync body (sync_request.h) takes
 * which body. */
#include <utlist.h>

#include "base/clock.h"
#include "base/fs.h"
#include "harness.h"
#include "store_fixture.h"
#include "agent/sync.h"
#include "scheduler/agent_sync.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/scheduler.h"
#include "scheduler/sync_request.h"

static const char registration[] =
    "{\"agent_id\":\"ag\",\"hostname\":\"aghost\",\"resources\":{\"cpu\":8,\"ram\":8589934592,"
    "\"disk\":8589934592},\"port_range\":[31000,31099]}";

/* A state with the default options (a 30 s flapping penalty), one agent
 * registered through a sync, and a 2-instance service placed on it. */
static struct sched_job *setup(struct sched_state *st)
{
    struct store *s = fixture_open_store();
    struct sched_options o;
    scheduler_default_options(&o);
    CHECK(o.flap_penalty_ms > 0);
    state_init(st, &o, s);
    json_t *body = json_loads(registration, 0, NULL);
    struct sched_agent *a = NULL;
    json_t *answer = NULL;
    CHECK(agent_sync_apply(st, body, &a, &answer, NULL) == 0);
    json_decref(answer);
    json_decref(body);
    json_t *jj = json_loads("{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"devel\",\"name\":\"web\","
                            "\"instances\":2,\"service\":true,\"task\":{\"resources\":{\"cpu\":0.5,\"ram\":1048576,"
                            "\"disk\":0},\"ports\":[\"http\"],\"processes\":[{\"name\":\"p\",\"cmdline\":\"x\"}]}}",
                            0, NULL);
    struct job_config *c = NULL;
    CHECK(job_config_from_json(jj, &c, NULL) == 0);
    json_decref(jj);
    struct sched_job *j = NULL;
    CHECK(store_begin(s, NULL) == 0);
    CHECK(lifecycle_create_job(st, c, &j, NULL) == 0);
    job_config_unref(c);
    CHECK(placement_run(st, 0, NULL) == 2);
    CHECK(store_commit(s, NULL) == 0);
    return j;
}

/* Send `base` (a body's JSON text) with `updates` (a JSON array text, "@N"
 * standing for instance N's current task id) and `extra` fields; returns
 * the answer, and the agent it was applied to in *ret_agent (NULL: the
 * answer asks for the registration). */
static json_t *sync_from(struct sched_state *st, struct sched_job *j, const char *base, const char *updates,
                         const char *extra, struct sched_agent **ret_agent)
{
    json_t *body = json_loads(base, 0, NULL);
    CHECK(body);
    _cleanup_free_ char *text = bo_xstrdup(updates);
    json_t *u = json_loads(text, 0, NULL);
    CHECK(u);
    size_t i;
    json_t *v;
    json_array_foreach(u, i, v)
    {
        const char *id = json_string_value(json_object_get(v, "task_id"));
        if (id && id[0] == '@')
            json_object_set_new(v, "task_id", json_string(j->current[id[1] - '0']->id));
    }
    json_object_set_new(body, "updates", u);
    if (extra) {
        json_t *e = json_loads(extra, 0, NULL);
        CHECK(e);
        json_object_update(body, e);
        json_decref(e);
    }
    return fixture_sync(st, body, ret_agent);
}

/* The same from an agent that sends its registration with every sync. */
static json_t *sync_with(struct sched_state *st, struct sched_job *j, const char *updates, const char *extra)
{
    return sync_from(st, j, registration, updates, extra, NULL);
}

static char *acks_text(json_t *answer)
{
    return json_dumps(json_object_get(answer, "acks"), JSON_COMPACT);
}

/* The reason given for update `seq`, or NULL. */
static const char *reason_of(json_t *answer, int64_t seq)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(answer, "rejected"), i, v)
    {
        if (json_integer_value(json_object_get(v, "seq")) == seq)
            return json_string_value(json_object_get(v, "reason"));
    }
    return NULL;
}

static bool has_event(const struct sched_task *t, enum task_state s)
{
    for (int i = 0; i < t->n_events && i < TASK_MAX_EVENTS; i++)
        if (t->events[i].state == s)
            return true;
    return false;
}

TEST(update_with_null_executor_pid_is_applied_and_acked)
{
    struct sched_state st;
    struct sched_job *j = setup(&st);
    struct sched_task *t0 = j->current[0];
    /* What an agent sends for a launch that failed before its executor
     * started: before, the whole entry was skipped and never acked. */
    json_t *ans = sync_with(&st, j,
                            "[{\"seq\":1,\"task_id\":\"@0\",\"state\":\"FAILED\",\"message\":\"launch failed\","
                            "\"ts\":1,\"executor_pid\":null,\"exit_code\":null,\"processes\":[]}]",
                            NULL);
    _cleanup_free_ char *acks = acks_text(ans);
    CHECK_STR(acks, "[1]");
    CHECK(!json_object_get(ans, "rejected"));
    CHECK(t0->state == TASK_FAILED);
    CHECK_STR(t0->message, "launch failed");
    json_decref(ans);
    fixture_done(&st);
}

TEST(every_update_is_acked_and_bad_ones_are_rejected_with_a_reason)
{
    struct sched_state st;
    struct sched_job *j = setup(&st);
    struct sched_task *t1 = j->current[1];
    json_t *ans = sync_with(&st, j,
                            "[{\"seq\":1,\"task_id\":\"@0\",\"state\":\"SLEEPING\"},"
                            " {\"seq\":2,\"task_id\":\"nosuchtask\",\"state\":\"FAILED\"},"
                            " {\"seq\":3,\"task_id\":\"@0\",\"state\":\"RUNNING\",\"message\":7},"
                            " {\"seq\":4,\"state\":\"RUNNING\"},"
                            " {\"seq\":5,\"task_id\":\"@0\",\"state\":\"KILLED\",\"cause\":\"bored\"},"
                            " {\"task_id\":\"@0\",\"state\":\"RUNNING\"},"
                            " {\"seq\":6,\"task_id\":\"@1\",\"state\":\"STARTING\",\"executor_pid\":42}]",
                            NULL);
    /* Every entry with a seq is acked, in order; the one without cannot be. */
    _cleanup_free_ char *acks = acks_text(ans);
    CHECK_STR(acks, "[1,2,3,4,5,6]");
    CHECK_CONTAINS(reason_of(ans, 1), "SLEEPING");
    CHECK_CONTAINS(reason_of(ans, 2), "`nosuchtask` is unknown");
    CHECK_CONTAINS(reason_of(ans, 3), "message");
    CHECK_CONTAINS(reason_of(ans, 4), "task_id");
    CHECK_CONTAINS(reason_of(ans, 5), "cause");
    CHECK(reason_of(ans, 6) == NULL);
    /* The good one after the bad ones is applied. */
    CHECK(t1->state == TASK_STARTING && t1->executor_pid == 42);
    CHECK(j->current[0]->state == TASK_ASSIGNED);
    json_decref(ans);
    /* A stale transition is acked with the refusal as its reason. */
    ans = sync_with(&st, j, "[{\"seq\":7,\"task_id\":\"@1\",\"state\":\"STARTING\"},"
                            " {\"seq\":8,\"task_id\":\"@1\",\"state\":\"RUNNING\"},"
                            " {\"seq\":9,\"task_id\":\"@1\",\"state\":\"STARTING\"}]",
                    NULL);
    _cleanup_free_ char *acks2 = acks_text(ans);
    CHECK_STR(acks2, "[7,8,9]");
    CHECK(reason_of(ans, 7) == NULL); /* a plain duplicate */
    CHECK_CONTAINS(reason_of(ans, 9), "cannot go from RUNNING to STARTING");
    CHECK(t1->state == TASK_RUNNING);
    json_decref(ans);
    fixture_done(&st);
}

TEST(task_ended_by_its_agent_is_rescheduled_without_penalty)
{
    struct sched_state st;
    struct sched_job *j = setup(&st);
    struct sched_task *t0 = j->current[0], *t1 = j->current[1];
    json_t *ans = sync_with(&st, j,
                            "[{\"seq\":1,\"task_id\":\"@0\",\"state\":\"RUNNING\",\"executor_pid\":10},"
                            " {\"seq\":2,\"task_id\":\"@1\",\"state\":\"RUNNING\",\"executor_pid\":11}]",
                            NULL);
    json_decref(ans);
    /* Instance 0 is killed by its agent shutting down; instance 1 fails on
     * its own (the control: it ran shorter than the flap window). */
    ans = sync_with(&st, j,
                    "[{\"seq\":3,\"task_id\":\"@0\",\"state\":\"KILLED\",\"message\":\"killed\","
                    "\"cause\":\"agent_shutdown\"},"
                    " {\"seq\":4,\"task_id\":\"@1\",\"state\":\"FAILED\",\"message\":\"exit 1\"}]",
                    NULL);
    CHECK(!json_object_get(ans, "rejected"));
    json_decref(ans);
    CHECK(t0->state == TASK_KILLED && has_event(t0, TASK_DRAINING));
    CHECK(t0->failure_count == 0);
    CHECK(j->current[0] != t0 && j->current[0]->state == TASK_PENDING);
    CHECK(j->current[1] != t1 && j->current[1]->state == TASK_THROTTLED);
    /* A task that finished by itself while its agent stopped finished: it
     * is not turned into an interruption (an ad hoc one would run again). */
    struct sched_task *n0 = j->current[0];
    CHECK(placement_run(&st, 0, NULL) >= 1 && n0->state == TASK_ASSIGNED);
    ans = sync_with(&st, j,
                    "[{\"seq\":5,\"task_id\":\"@0\",\"state\":\"RUNNING\"},"
                    " {\"seq\":6,\"task_id\":\"@0\",\"state\":\"FINISHED\",\"cause\":\"agent_shutdown\"}]",
                    NULL);
    json_decref(ans);
    CHECK(n0->state == TASK_FINISHED && !has_event(n0, TASK_DRAINING));
    fixture_done(&st);
}

TEST(leaving_agent_is_down_and_its_tasks_drain_without_penalty)
{
    struct sched_state st;
    struct sched_job *j = setup(&st);
    struct sched_task *t0 = j->current[0], *t1 = j->current[1];
    json_t *ans = sync_with(&st, j, "[{\"seq\":1,\"task_id\":\"@0\",\"state\":\"RUNNING\",\"executor_pid\":10}]",
                            NULL);
    json_decref(ans);
    ans = sync_with(&st, j, "[]", "{\"leaving\": true}");
    json_decref(ans);
    struct sched_agent *a = state_agent_find(&st, "ag");
    CHECK(!a->up && st.agents_up == 0);
    /* Running: DRAINING until the agent's KILLED arrives. Never launched:
     * lost at once and rescheduled, without penalty. */
    CHECK(t0->state == TASK_DRAINING);
    CHECK(t1->state == TASK_LOST && j->current[1]->state == TASK_PENDING);
    CHECK(placement_run(&st, 0, NULL) == 0); /* nothing goes to a leaving agent */
    ans = sync_with(&st, j,
                    "[{\"seq\":2,\"task_id\":\"@0\",\"state\":\"KILLED\",\"cause\":\"agent_shutdown\"}]",
                    "{\"leaving\": true}");
    CHECK(!json_object_get(ans, "rejected"));
    json_decref(ans);
    CHECK(t0->state == TASK_KILLED && j->current[0]->state == TASK_PENDING);
    /* Back after its restart: both instances are placed on it again. */
    ans = sync_with(&st, j, "[]", "{\"boot\": true, \"inventory\": []}");
    json_decref(ans);
    CHECK(a->up);
    CHECK(placement_run(&st, 0, NULL) == 2);
    fixture_done(&st);
}

TEST(launches_go_in_bounded_batches)
{
    struct sched_state st;
    struct sched_job *j = setup(&st);
    (void)j;
    json_t *jj = json_loads("{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"devel\",\"name\":\"many\","
                            "\"instances\":450,\"service\":true,\"task\":{\"resources\":{\"cpu\":0.001,"
                            "\"ram\":1048576,\"disk\":0},\"processes\":[{\"name\":\"p\",\"cmdline\":\"x\"}]}}",
                            0, NULL);
    struct job_config *c = NULL;
    CHECK(job_config_from_json(jj, &c, NULL) == 0);
    json_decref(jj);
    struct sched_job *many = NULL;
    CHECK(store_begin(st.store, NULL) == 0);
    CHECK(lifecycle_create_job(&st, c, &many, NULL) == 0);
    job_config_unref(c);
    CHECK(placement_run(&st, 0, NULL) == 450);
    CHECK(store_commit(st.store, NULL) == 0);
    /* 452 launches due (2 of setup's job): 200, 200, then 52, and the
     * agent has work (its next poll is answered at once) until then. */
    size_t sizes[3];
    for (int k = 0; k < 3; k++) {
        json_t *ans = sync_with(&st, j, "[]", NULL);
        sizes[k] = json_array_size(json_object_get(ans, "launch"));
        CHECK(state_agent_find(&st, "ag")->has_work == (k < 2));
        json_decref(ans);
    }
    CHECK(sizes[0] == SYNC_MAX_COMMANDS && sizes[1] == SYNC_MAX_COMMANDS && sizes[2] == 52);
    fixture_done(&st);
}

/* The sync request's "usage" (docs/protocol.md section 3): kept per task
 * and shown in its JSON; a malformed entry refuses the request with a
 * reason naming it, and leaves the last good sample alone. */
TEST(usage_is_shown_in_the_task_json_and_a_malformed_one_is_refused)
{
    struct sched_state st;
    struct sched_job *j = setup(&st);
    _cleanup_free_ char *extra = bo_xasprintf(
        "{\"usage\":[{\"task_id\":\"%s\",\"cpu_ms\":1250,\"memory_bytes\":3145728,"
        "\"memory_peak_bytes\":null},{\"task_id\":\"nosuch\",\"cpu_ms\":1,\"memory_bytes\":1}]}",
        j->current[0]->id);
    json_decref(sync_with(&st, j, "[]", extra));
    json_t *tj = state_task_to_json(j->current[0]);
    json_t *usage = json_object_get(tj, "usage");
    CHECK(json_integer_value(json_object_get(usage, "cpu_ms")) == 1250);
    CHECK(json_integer_value(json_object_get(usage, "memory_bytes")) == 3145728);
    CHECK(json_is_null(json_object_get(usage, "memory_peak_bytes")));
    CHECK(!json_object_get(usage, "task_id"));
    json_decref(tj);
    tj = state_task_to_json(j->current[1]);
    CHECK(!json_object_get(tj, "usage")); /* no sample yet: absent */
    json_decref(tj);

    static const char *const bad[][2] = {
        {"{\"usage\":{}}", "usage must be an array"},
        {"{\"usage\":[7]}", "usage[0] is not an object"},
        {"{\"usage\":[{\"task_id\":\"x\",\"memory_bytes\":-1}]}", "usage[0].memory_bytes must be a non-negative"},
        {"{\"usage\":[{\"task_id\":\"x\",\"cpu_ms\":\"5\"}]}", "usage[0].cpu_ms"},
        {"{\"usage\":[{\"task_id\":\"x\",\"rss\":5}]}", "rss"},
        {"{\"usage\":[{\"cpu_ms\":5}]}", "usage[0].task_id must be a string"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        json_t *body = json_loads(registration, 0, NULL);
        json_t *e = json_loads(bad[i][0], 0, NULL);
        CHECK(e);
        json_object_update(body, e);
        json_decref(e);
        struct sched_agent *a = NULL;
        json_t *answer = NULL;
        bo_error_t err = NULL;
        CHECK(agent_sync_apply(&st, body, &a, &answer, &err) < 0);
        CHECK(err && err->kind == BO_E_INVALID);
        CHECK_CONTAINS(err->msg, bad[i][1]);
        bo_error_free(err);
        json_decref(body);
    }
    CHECK(json_integer_value(json_object_get(j->current[0]->usage, "cpu_ms")) == 1250);
    fixture_done(&st);
}

/* ---- syncs without the registration (protocol.md §3, "Registration") ---- */

static const char bare[] = "{\"agent_id\":\"ag\"}";

static bool asks_registration(json_t *answer)
{
    return json_is_true(json_object_get(answer, "register"));
}

TEST(bare_sync_of_a_known_agent_is_applied)
{
    struct sched_state st;
    struct sched_job *j = setup(&st);
    struct sched_agent *ag = state_agent_find(&st, "ag"), *a = NULL;
    ag->last_seen_mono = 0;
    json_t *ans = sync_from(&st, j, bare, "[{\"seq\":1,\"task_id\":\"@0\",\"state\":\"STARTING\"}]", "{\"wait_ms\":0}",
                            &a);
    CHECK(a == ag);
    CHECK(!asks_registration(ans));
    _cleanup_free_ char *acks = acks_text(ans);
    CHECK_STR(acks, "[1]");
    CHECK(j->current[0]->state == TASK_STARTING);
    CHECK(ag->last_seen_mono > 0); /* seen: its timeout starts again */
    /* What it registered with stays. */
    CHECK_STR(ag->hostname, "aghost");
    CHECK(ag->cpu == 8 && ag->port_lo == 31000 && ag->port_hi == 31099);
    /* The launch of the other instance comes with it, as always. */
    CHECK(json_array_size(json_object_get(ans, "launch")) == 1);
    json_decref(ans);
    fixture_done(&st);
}

TEST(bare_sync_of_an_unknown_agent_asks_for_its_registration_and_applies_nothing)
{
    struct sched_state st;
    struct sched_job *j = setup(&st);
    struct sched_agent *a = NULL;
    static const char other[] = "{\"agent_id\":\"newcomer\"}";
    json_t *ans = sync_from(&st, j, other, "[{\"seq\":1,\"task_id\":\"@0\",\"state\":\"STARTING\"}]",
                            "{\"inventory\":[],\"wait_ms\":5000}", &a);
    CHECK(a == NULL);
    CHECK(asks_registration(ans));
    CHECK(json_array_size(json_object_get(ans, "acks")) == 0);
    CHECK(json_array_size(json_object_get(ans, "launch")) == 0);
    CHECK(!state_agent_find(&st, "newcomer"));
    CHECK(j->current[0]->state == TASK_ASSIGNED);
    /* The answer is one the agent accepts. */
    struct sync_answer sa;
    CHECK(sync_answer_parse(ans, &sa, NULL) == 0 && sa.register_asked && sa.n_acks == 0);
    sync_answer_clear(&sa);
    json_decref(ans);
    /* A malformed id is refused as before, naming the field. */
    json_t *body = json_loads("{\"agent_id\":\"no/slash\"}", 0, NULL);
    json_t *answer = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(agent_sync_apply(&st, body, &a, &answer, &err) < 0);
    CHECK(err->kind == BO_E_INVALID);
    CHECK_CONTAINS(err->msg, "agent_id");
    json_decref(body);
    fixture_done(&st);
}

TEST(bare_sync_asks_for_the_registration_after_lost_down_or_at_boot)
{
    struct sched_state st;
    struct sched_job *j = setup(&st);
    struct sched_agent *ag = state_agent_find(&st, "ag"), *a = NULL;
    /* Its boot sync carries the registration: a bare one is not trusted. */
    json_t *ans = sync_from(&st, j, bare, "[]", "{\"boot\":true,\"inventory\":[]}", &a);
    CHECK(a == NULL && asks_registration(ans));
    json_decref(ans);
    /* Lost (timed out): it comes back with its registration. */
    CHECK(store_begin(st.store, NULL) == 0);
    lifecycle_agent_set_state(&st, ag, AGENT_LOST, "test");
    CHECK(store_commit(st.store, NULL) == 0);
    ans = sync_from(&st, j, bare, "[{\"seq\":1,\"task_id\":\"@1\",\"state\":\"STARTING\"}]", NULL, &a);
    CHECK(a == NULL && asks_registration(ans) && json_array_size(json_object_get(ans, "acks")) == 0);
    CHECK(ag->state == AGENT_LOST);
    json_decref(ans);
    ans = sync_from(&st, j, registration, "[]", "{\"inventory\":[]}", &a);
    CHECK(a == ag && ag->up && !asks_registration(ans));
    json_decref(ans);
    /* Leaving: down; its further bare syncs that still say leaving are
     * applied (its last updates are acked), one that does not is asked
     * for the registration. */
    ans = sync_from(&st, j, bare, "[]", "{\"leaving\":true}", &a);
    CHECK(a == ag && !ag->up && ag->state == AGENT_DOWN);
    json_decref(ans);
    ans = sync_from(&st, j, bare, "[{\"seq\":2,\"task_id\":\"nosuch\",\"state\":\"KILLED\"}]",
                    "{\"leaving\":true}", &a);
    CHECK(a == ag && !asks_registration(ans));
    _cleanup_free_ char *acks = acks_text(ans);
    CHECK_STR(acks, "[2]");
    json_decref(ans);
    ans = sync_from(&st, j, bare, "[]", NULL, &a);
    CHECK(a == NULL && asks_registration(ans) && !ag->up);
    json_decref(ans);
    ans = sync_from(&st, j, registration, "[]", NULL, &a);
    CHECK(a == ag && ag->up);
    json_decref(ans);
    fixture_done(&st);
}

TEST(partial_registration_is_refused_as_before)
{
    struct sched_state st;
    struct sched_job *j = setup(&st);
    (void)j;
    static const char *const bad[][2] = {
        {"{\"agent_id\":\"ag\",\"hostname\":\"aghost\"}", "resources"},
        {"{\"agent_id\":\"ag\",\"attributes\":{\"rack\":\"a\"}}", "hostname"},
        {"{\"agent_id\":\"ag\",\"hostname\":\"aghost\",\"resources\":{\"cpu\":1,\"ram\":1,\"disk\":1}}",
         "port_range"},
        {"{\"agent_id\":\"ag\",\"hostname\":\"aghost\",\"resources\":{\"cpu\":1},\"port_range\":[1,2]}",
         "sync request resources/port_range"},
        {"{\"hostname\":\"aghost\"}", "agent_id"},
        {"{\"agent_id\":7}", "Expected string"}, /* jansson's words, as always */
        /* Attributes are strings: placement compares strings. */
        {"{\"agent_id\":\"ag\",\"hostname\":\"aghost\",\"resources\":{\"cpu\":1,\"ram\":1,\"disk\":1},"
         "\"port_range\":[1,2],\"attributes\":{\"rack\":5}}",
         "attribute `rack` must be a string"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        json_t *body = json_loads(bad[i][0], 0, NULL);
        CHECK(body);
        struct sched_agent *a = NULL;
        json_t *answer = NULL;
        bo_error_t err = NULL;
        CHECK(agent_sync_apply(&st, body, &a, &answer, &err) < 0);
        CHECK(err && err->kind == BO_E_INVALID);
        CHECK_CONTAINS(err->msg, "sync request");
        CHECK_CONTAINS(err->msg, bad[i][1]);
        bo_error_free(err);
        json_decref(body);
    }
    fixture_done(&st);
}

TEST(old_agent_sending_its_registration_every_time_works_as_before)
{
    struct sched_state st;
    struct sched_job *j = setup(&st);
    struct sched_agent *ag = state_agent_find(&st, "ag"), *a = NULL;
    for (int i = 0; i < 3; i++) {
        char ups[128];
        snprintf(ups, sizeof(ups), "[{\"seq\":%d,\"task_id\":\"@%d\",\"state\":\"STARTING\"}]", i + 1, i % 2);
        json_t *ans = sync_from(&st, j, registration, ups, NULL, &a);
        CHECK(a == ag && !asks_registration(ans));
        CHECK(json_array_size(json_object_get(ans, "acks")) == 1);
        json_decref(ans);
    }
    CHECK(j->current[0]->state == TASK_STARTING && j->current[1]->state == TASK_STARTING);
    /* A change of its resources is taken in, as always. */
    json_t *body = json_loads(registration, 0, NULL);
    json_object_set_new(json_object_get(body, "resources"), "cpu", json_real(4));
    json_t *answer = NULL;
    CHECK(agent_sync_apply(&st, body, &a, &answer, NULL) == 0);
    CHECK(a == ag && ag->cpu == 4);
    json_decref(answer);
    json_decref(body);
    fixture_done(&st);
}

/* What src/agent sends (tasks.c update_new, journal.c's seq, the inventory
 * and usage of tasks.c) is read in place; a registration, `\u` escapes,
 * an unknown or repeated field and a number with a fraction go to jansson,
 * which reads them to the same values (fuzz/fuzz_sync_request.c checks
 * that for any body). */
TEST(fast_reader_takes_what_agents_send_and_leaves_the_rest_to_jansson)
{
    static const char agent_body[] =
        "{\"agent_id\":\"node-1\",\"updates\":[{\"task_id\":\"t1\",\"state\":\"RUNNING\",\"message\":\"up\","
        "\"ts\":1796114256150,\"executor_pid\":4242,\"exit_code\":null,\"processes\":[{\"name\":\"web\","
        "\"pid\":4243}],\"seq\":7},{\"task_id\":\"t2\",\"state\":\"KILLED\",\"message\":null,\"ts\":1,"
        "\"executor_pid\":null,\"exit_code\":137,\"processes\":[],\"cause\":\"agent_shutdown\",\"seq\":8},"
        "{\"seq\":9,\"task_id\":\"t3\",\"state\":\"BOGUS\"}],"
        "\"wait_ms\":5000,\"leaving\":true,\"inventory\":[{\"task_id\":\"t1\",\"state\":\"RUNNING\"}],"
        "\"usage\":[{\"task_id\":\"t1\",\"cpu_ms\":12,\"memory_bytes\":4096,\"memory_peak_bytes\":null}]}";
    struct sync_request r;
    CHECK(sync_request_scan(agent_body, strlen(agent_body), &r));
    CHECK(strcmp(r.agent_id, "node-1") == 0 && !r.registration && r.leaving && !r.boot && r.wait_ms == 5000);
    CHECK(r.n_updates == 3 && r.has_inventory && r.n_inventory == 1 && !r.body);
    json_t *sample = json_array_get(r.usage, 0);
    CHECK(json_array_size(r.usage) == 1 && json_integer_value(json_object_get(sample, "cpu_ms")) == 12);
    CHECK(json_is_null(json_object_get(sample, "memory_peak_bytes")) && sync_request_check_usage(&r, NULL) == 0);
    const struct sync_update *u = r.updates;
    CHECK(u[0].seq == 7 && !u[0].reason && strcmp(u[0].task_id, "t1") == 0 && u[0].state == TASK_RUNNING);
    CHECK(strcmp(u[0].message, "up") == 0 && u[0].executor_pid == 4242 && json_array_size(u[0].processes) == 1);
    CHECK(!u[0].agent_cause);
    CHECK(u[1].seq == 8 && !u[1].reason && u[1].state == TASK_KILLED && strcmp(u[1].message, "") == 0);
    CHECK(u[1].executor_pid == 0 && json_array_size(u[1].processes) == 0 && u[1].agent_cause);
    CHECK(u[2].seq == 9 && u[2].reason && strstr(u[2].reason, "state `BOGUS` is not one an agent may report"));
    CHECK(strcmp(r.inventory[0].task_id, "t1") == 0 && strcmp(r.inventory[0].state, "RUNNING") == 0);
    sync_request_clear(&r);

    static const char *const others[] = {
        "{\"agent_id\":\"a\",\"hostname\":\"h\",\"resources\":{},\"port_range\":[1,2]}",
        "{\"agent_id\":\"a\",\"usage\":[{\"task_id\":\"t\",\"swap\":1}]}",
        "{\"agent_id\":\"a\",\"updates\":[{\"seq\":1,\"task_id\":\"t\\u00e9\",\"state\":\"RUNNING\"}]}",
        "{\"agent_id\":\"a\",\"colour\":\"red\"}",
        "{\"agent_id\":\"a\",\"updates\":[{\"seq\":1,\"seq\":2,\"task_id\":\"t\",\"state\":\"RUNNING\"}]}",
        "{\"agent_id\":\"a\",\"wait_ms\":1.5}",
        "{\"agent_id\":\"a\",\"updates\":[{\"seq\":0,\"task_id\":\"t\",\"state\":\"RUNNING\"}]}",
        "{\"agent_id\":\"a\",\"updates\":{}}",
        "{\"updates\":[]}",
        "{\"agent_id\":\"a\"} x",
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(others); i++)
        CHECK(!sync_request_scan(others[i], strlen(others[i]), &r));
    /* The escape, read by jansson. */
    sync_request_from_json(json_loads(others[2], 0, NULL), &r);
    CHECK(r.n_updates == 1 && !r.updates[0].reason && strcmp(r.updates[0].task_id, "t\xc3\xa9") == 0);
    sync_request_clear(&r);
    /* A seq of 0 is ignored; a bad array refused when applied. */
    sync_request_from_json(json_loads(others[6], 0, NULL), &r);
    CHECK(r.n_updates == 1 && r.updates[0].seq == 0);
    sync_request_clear(&r);
    sync_request_from_json(json_loads(others[7], 0, NULL), &r);
    CHECK(r.arrays_bad && r.n_updates == 0);
    sync_request_clear(&r);
}

TEST_MAIN()
