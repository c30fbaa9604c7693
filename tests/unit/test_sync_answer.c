/* Unit tests for the sync answer written as text (src/scheduler/agent_sync.c
 * build_answer): it parses to exactly the answer a jansson tree built from
 * the same state gives (launches with ports and the task object, kills,
 * strays, acks, rejections), and a config's cached launch text
 * (job_config_launch_text) is its task_config_to_json. */
#include <utlist.h>

#include "base/fs.h"
#include "harness.h"
#include "store_fixture.h"
#include "scheduler/agent_sync.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/scheduler.h"

static const char registration[] =
    "{\"agent_id\":\"ag\",\"hostname\":\"aghost\",\"resources\":{\"cpu\":8,\"ram\":8589934592,"
    "\"disk\":8589934592},\"port_range\":[31000,31099]}";

/* Everything the text writer escapes or copies: quotes, backslashes,
 * control characters and non-ASCII in strings, several ports, env,
 * a health check. */
static const char job_text[] =
    "{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"devel\",\"name\":\"web\",\"instances\":4,"
    "\"service\":true,\"task\":{\"resources\":{\"cpu\":0.5,\"ram\":1048576,\"disk\":0},"
    "\"ports\":[\"http\",\"admin\"],\"env\":[\"GREETING=h\\u00e9 \\\"there\\\"\\\\\\n\\t\\u0001\"],"
    "\"processes\":[{\"name\":\"p\",\"cmdline\":\"echo {{ports.http}} {{ports.admin}} 'caf\\u00e9' \\\"q\\\"\"},"
    "{\"name\":\"q\",\"cmdline\":\"sleep 1\"}]}}";

static struct job_config *config(void)
{
    json_t *jj = json_loads(job_text, 0, NULL);
    CHECK(jj);
    struct job_config *c = NULL;
    bo_error_t err = NULL;
    if (job_config_from_json(jj, &c, &err) < 0)
        fprintf(stderr, "  job: %s\n", err->msg);
    CHECK(c);
    json_decref(jj);
    return c;
}

static json_t *sync_body(const char *extra)
{
    json_t *body = json_loads(registration, 0, NULL);
    CHECK(body);
    if (extra) {
        json_t *e = json_loads(extra, 0, NULL);
        CHECK(e);
        json_object_update(body, e);
        json_decref(e);
    }
    return body;
}

/* One agent, and a 4-instance job placed on it: instances 0, 1 and 3 to
 * be launched, instance 2 RUNNING and being killed. */
static struct sched_job *setup(struct sched_state *st)
{
    struct store *s = fixture_open_store();
    struct sched_options o;
    scheduler_default_options(&o);
    state_init(st, &o, s);
    json_decref(fixture_sync(st, sync_body(NULL), NULL));
    struct job_config *c = config();
    struct sched_job *j = NULL;
    CHECK(store_begin(s, NULL) == 0);
    CHECK(lifecycle_create_job(st, c, &j, NULL) == 0);
    job_config_unref(c);
    CHECK(placement_run(st, 0, NULL) == 4);
    struct sched_task *t2 = j->current[2];
    CHECK(lifecycle_transition(st, t2, TASK_STARTING, NULL, NULL) >= 0);
    CHECK(lifecycle_transition(st, t2, TASK_RUNNING, NULL, NULL) >= 0);
    CHECK(lifecycle_kill(st, t2, NULL) >= 0);
    CHECK(t2->state == TASK_KILLING);
    CHECK(store_commit(s, NULL) == 0);
    return j;
}

/* The answer as the tree version built it, from the same state. */
static json_t *expected(struct sched_state *st, struct sched_agent *a, json_t *acks, json_t *rejected,
                        json_t *strays)
{
    json_t *launch = json_array(), *kill = json_array();
    struct sched_task *t;
    DL_FOREACH2(a->tasks, t, a_next)
    {
        if (t->state == TASK_KILLING || t->state == TASK_DRAINING) {
            json_array_append_new(kill, json_pack("{s:s, s:I}", "task_id", t->id, "grace_ms",
                                                  (json_int_t)task_config_kill_budget_ms(&t->config->task)));
            continue;
        }
        if (t->state != TASK_ASSIGNED)
            continue;
        json_t *ports = json_object();
        for (size_t i = 0; i < t->config->task.n_ports; i++)
            json_object_set_new(ports, t->config->task.ports[i], json_integer(t->ports[i]));
        json_array_append_new(launch, json_pack("{s:s, s:s, s:i, s:o, s:o}", "task_id", t->id, "job", t->job->key,
                                                "instance", t->instance, "ports", ports, "task",
                                                task_config_to_json(&t->config->task)));
    }
    json_t *s;
    size_t i;
    json_array_foreach(strays, i, s)
    json_array_append_new(kill, json_pack("{s:O, s:i}", "task_id", s, "grace_ms", 5000));
    json_t *answer = json_pack("{s:O, s:o, s:o, s:I}", "acks", acks, "launch", launch, "kill", kill, "heartbeat_ms",
                               (json_int_t)st->opt.agent_heartbeat_ms);
    if (json_array_size(rejected) > 0)
        json_object_set(answer, "rejected", rejected);
    return answer;
}

static void check_equal(json_t *got, json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS);
        char *w = json_dumps(want, JSON_INDENT(1) | JSON_SORT_KEYS);
        fprintf(stderr, "  got:\n%s\n  want:\n%s\n", g, w);
        free(g);
        free(w);
    }
    CHECK(json_equal(got, want));
}

TEST(text_answer_is_the_tree_answer)
{
    struct sched_state st;
    struct sched_job *j = setup(&st);
    struct sched_agent *a = state_agent_find(&st, "ag");
    CHECK(a);
    /* An update of a task the scheduler does not know (rejected, and a
     * stray to kill), one of a task it does (applied, acked: instance 3 is
     * launched already), and an inventory with another stray. */
    _cleanup_free_ char *extra = bo_xasprintf(
        "{\"updates\":[{\"seq\":7,\"task_id\":\"ghost-1\",\"state\":\"RUNNING\"},"
        "{\"seq\":8,\"task_id\":\"%s\",\"state\":\"STARTING\",\"executor_pid\":42}],"
        "\"inventory\":[{\"task_id\":\"ghost-2\",\"state\":\"RUNNING\"},"
        "{\"task_id\":\"%s\",\"state\":\"RUNNING\"},{\"task_id\":\"%s\",\"state\":\"STARTING\"}]}",
        j->current[3]->id, j->current[2]->id, j->current[3]->id);
    json_t *got = fixture_sync(&st, sync_body(extra), NULL);
    json_t *acks = json_pack("[i, i]", 7, 8);
    json_t *rejected = json_pack("[{s:i, s:s}]", "seq", 7, "reason", "task `ghost-1` is unknown to the scheduler");
    json_t *strays = json_pack("[s, s]", "ghost-1", "ghost-2");
    json_t *want = expected(&st, a, acks, rejected, strays);
    CHECK(j->current[3]->state == TASK_STARTING && j->current[3]->executor_pid == 42);
    CHECK(json_array_size(json_object_get(got, "launch")) == 2);
    CHECK(json_array_size(json_object_get(got, "kill")) == 3);
    check_equal(got, want);
    /* Every command was just sent: the next answer has none, and nothing
     * acked or rejected (what a parked poll gets). */
    json_t *again = fixture_sync(&st, sync_body(NULL), NULL);
    json_t *none = json_array();
    json_t *want_none = json_pack("{s:[], s:[], s:[], s:I}", "acks", "launch", "kill", "heartbeat_ms",
                                  (json_int_t)st.opt.agent_heartbeat_ms);
    check_equal(again, want_none);
    json_decref(none);
    json_decref(want_none);
    json_decref(again);
    json_decref(acks);
    json_decref(rejected);
    json_decref(strays);
    json_decref(want);
    json_decref(got);
    fixture_done(&st);
}

/* The agent asked for (scheduler restart: reconcile), and a reason that
 * quotes the agent's task id cut in the middle of a character: the tree
 * version could not encode that entry at all; the text one must still be
 * JSON the agent parses. */
TEST(reconcile_flag_and_reason_cut_inside_a_character)
{
    struct sched_state st;
    setup(&st);
    struct sched_agent *a = state_agent_find(&st, "ag");
    a->needs_inventory = true;
    char id[260];
    memset(id, 'a', 199);
    strcpy(id + 199, "\xc3\xa9-tail"); /* 'é' across byte 200 */
    json_t *body = sync_body(NULL);
    json_object_set_new(body, "updates",
                        json_pack("[{s:i, s:s, s:s}]", "seq", 3, "task_id", id, "state", "FINISHED"));
    json_t *got = fixture_sync(&st, body, NULL);
    CHECK(json_is_true(json_object_get(got, "reconcile")));
    json_t *rej = json_array_get(json_object_get(got, "rejected"), 0);
    CHECK(json_integer_value(json_object_get(rej, "seq")) == 3);
    CHECK_CONTAINS(json_string_value(json_object_get(rej, "reason")), "is unknown to the scheduler");
    CHECK(json_array_size(json_object_get(got, "kill")) == 1); /* FINISHED is no stray */
    json_decref(got);
    fixture_done(&st);
}

TEST(launch_text_is_task_config_to_json)
{
    struct job_config *c = config();
    CHECK(c->launch_text == NULL);
    const char *text = job_config_launch_text(c);
    CHECK(text && job_config_launch_text(c) == text); /* made once */
    json_t *parsed = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    json_t *tree = task_config_to_json(&c->task);
    check_equal(parsed, tree);
    json_decref(parsed);
    json_decref(tree);
    job_config_unref(c);
}

TEST_MAIN()
