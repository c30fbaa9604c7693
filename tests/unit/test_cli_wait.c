/* Unit tests for `--wait-until`: the verdict on one job answer. */
#include "cli/api.h"
#include "cli/exitcode.h"
#include "cli/wait.h"

#include "harness.h"

/* A job answer with `n` instances and the given tasks (JSON array text). */
static json_t *answer(int n, const char *state, const char *tasks)
{
    json_error_t e;
    json_t *t = json_loads(tasks, 0, &e);
    CHECK(t != NULL);
    return json_pack("{s:{s:s,s:i,s:s},s:o}", "job", "key", "local/r/devel/j", "instances", n,
                     "state", state, "tasks", t);
}

TEST(target_parse)
{
    enum wait_target t;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(wait_target_parse("RUNNING", &t, NULL) == 0 && t == WAIT_RUNNING);
    CHECK(wait_target_parse("FINISHED", &t, NULL) == 0 && t == WAIT_FINISHED);
    CHECK(wait_target_parse("running", &t, &err) < 0);
    CHECK_CONTAINS(err->msg, "PENDING, RUNNING or FINISHED");
}

TEST(running_reached)
{
    json_t *a = answer(2, "active",
                       "[{\"id\": \"t0\", \"instance\": 0, \"state\": \"RUNNING\"},"
                       " {\"id\": \"t1\", \"instance\": 1, \"state\": \"RUNNING\"}]");
    struct wait_verdict v;
    wait_evaluate(a, WAIT_RUNNING, &v);
    CHECK(v.reached && !v.failed && v.done == 2);
    wait_verdict_clear(&v);
    json_decref(a);
}

TEST(running_missing_names_instances)
{
    json_t *a = answer(3, "active",
                       "[{\"id\": \"t0\", \"instance\": 0, \"state\": \"RUNNING\"},"
                       " {\"id\": \"t1\", \"instance\": 1, \"state\": \"PENDING\","
                       "  \"pending_reason\": \"INSUFFICIENT_RESOURCES: ram\"}]");
    struct wait_verdict v;
    wait_evaluate(a, WAIT_RUNNING, &v);
    CHECK(!v.reached && !v.failed && v.done == 1);
    CHECK_STR(v.missing, "instance 1 is PENDING (INSUFFICIENT_RESOURCES: ram), "
                         "instance 2 has no task yet");
    wait_verdict_clear(&v);
    json_decref(a);
}

TEST(pending_any_state)
{
    json_t *a = answer(2, "active",
                       "[{\"id\": \"t0\", \"instance\": 0, \"state\": \"PENDING\"},"
                       " {\"id\": \"t1\", \"instance\": 1, \"state\": \"FAILED\"}]");
    struct wait_verdict v;
    wait_evaluate(a, WAIT_PENDING, &v);
    CHECK(v.reached);
    wait_verdict_clear(&v);
    json_decref(a);
}

TEST(finished_counts_for_running)
{
    json_t *a = answer(1, "finished", "[{\"id\": \"t0\", \"instance\": 0, \"state\": \"FINISHED\"}]");
    struct wait_verdict v;
    wait_evaluate(a, WAIT_RUNNING, &v);
    CHECK(v.reached && !v.job_active);
    wait_verdict_clear(&v);
    json_decref(a);
}

TEST(failed_instance_without_replacement)
{
    json_t *a = answer(2, "active",
                       "[{\"id\": \"t0\", \"instance\": 0, \"state\": \"FINISHED\"},"
                       " {\"id\": \"t1\", \"instance\": 1, \"state\": \"FAILED\","
                       "  \"message\": \"process `x` exited with status 1\"}]");
    struct wait_verdict v;
    wait_evaluate(a, WAIT_FINISHED, &v);
    CHECK(!v.reached && v.failed);
    CHECK_STR(v.failures, "instance 1 is FAILED (process `x` exited with status 1)");
    wait_verdict_clear(&v);
    json_decref(a);
}

/* A failed task whose instance already has a live replacement is history:
 * the replacement is the instance's current task. */
TEST(replacement_is_current)
{
    json_t *a = answer(1, "active",
                       "[{\"id\": \"old\", \"instance\": 0, \"state\": \"FAILED\","
                       "  \"events\": [{\"state\": \"FAILED\", \"ts\": 5}]},"
                       " {\"id\": \"new\", \"instance\": 0, \"state\": \"PENDING\"}]");
    struct wait_verdict v;
    wait_evaluate(a, WAIT_FINISHED, &v);
    CHECK(!v.reached && !v.failed);
    CHECK_STR(v.missing, "instance 0 is PENDING");
    wait_verdict_clear(&v);
    json_decref(a);
}

/* Of two ended tasks, the latest one counts. */
TEST(latest_terminal_is_current)
{
    json_t *a = answer(1, "finished",
                       "[{\"id\": \"new\", \"instance\": 0, \"state\": \"FINISHED\","
                       "  \"events\": [{\"state\": \"FINISHED\", \"ts\": 9}]},"
                       " {\"id\": \"old\", \"instance\": 0, \"state\": \"FAILED\","
                       "  \"events\": [{\"state\": \"FAILED\", \"ts\": 5}]}]");
    struct wait_verdict v;
    wait_evaluate(a, WAIT_FINISHED, &v);
    CHECK(v.reached);
    wait_verdict_clear(&v);
    json_decref(a);
}

TEST(long_lists_are_cut)
{
    json_t *a = answer(8, "active", "[]");
    struct wait_verdict v;
    wait_evaluate(a, WAIT_PENDING, &v);
    CHECK(!v.reached);
    CHECK_CONTAINS(v.missing, "instance 4 has no task yet and 3 more");
    wait_verdict_clear(&v);
    json_decref(a);
}

TEST_MAIN()
