/* Unit tests for the ordering of a task's processes (model/process_graph.c):
 * unknown names, cycles named in order, final processes, and the implicit
 * chain of ordering sequential; then the same rules where they are applied,
 * the job model at create and the executor's task.json reader. */
#include <stdint.h>
#include <string.h>

#include "base/error.h"
#include "executor/spec.h"
#include "harness.h"
#include "model/job.h"
#include "model/process_graph.h"

#define NODE(n, ...) {.name = n, .after = (char *[]){__VA_ARGS__}, .n_after = sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)}
#define LEAF(n) {.name = n}

TEST(dag_gives_each_process_its_predecessors)
{
    struct process_graph_node g[] = {NODE("c", "a", "b"), LEAF("a"), NODE("b", "a")};
    uint64_t after[3];
    CHECK(process_graph_check("task.processes", g, 3, false, after, NULL) == 0);
    CHECK(after[0] == ((1u << 1) | (1u << 2)));
    CHECK(after[1] == 0);
    CHECK(after[2] == (1u << 1));
}

TEST(cycle_is_named_in_order)
{
    _cleanup_error_ bo_error_t err = NULL;
    struct process_graph_node two[] = {NODE("a", "b"), NODE("b", "a")};
    CHECK(process_graph_check("task.processes", two, 2, false, NULL, &err) < 0);
    CHECK(err->kind == BO_E_INVALID);
    CHECK_CONTAINS(err->msg, "task.processes: a cycle a -> b -> a");
    bo_error_freep(&err);
    /* The cycle is reported without the path that led to it. */
    struct process_graph_node three[] = {NODE("x", "a"), NODE("a", "b"), NODE("b", "c"), NODE("c", "a")};
    CHECK(process_graph_check("task.processes", three, 4, false, NULL, &err) < 0);
    CHECK_CONTAINS(err->msg, "a cycle a -> b -> c -> a (");
    bo_error_freep(&err);
    struct process_graph_node self[] = {NODE("s", "s")};
    CHECK(process_graph_check("task.processes", self, 1, false, NULL, &err) < 0);
    CHECK_CONTAINS(err->msg, "a cycle s -> s");
}

TEST(unknown_name_is_named_with_its_position)
{
    _cleanup_error_ bo_error_t err = NULL;
    struct process_graph_node g[] = {LEAF("a"), NODE("b", "a", "nosuch")};
    CHECK(process_graph_check("task.processes", g, 2, false, NULL, &err) < 0);
    CHECK_CONTAINS(err->msg, "task.processes[1].after[1]: unknown process `nosuch`");
}

TEST(sequential_chains_regular_processes_and_skips_final_ones)
{
    struct process_graph_node g[] = {LEAF("a"), {.name = "f", .final = true}, LEAF("b"), LEAF("c")};
    uint64_t after[4];
    CHECK(process_graph_check("processes", g, 4, true, after, NULL) == 0);
    CHECK(after[0] == 0 && after[1] == 0);
    CHECK(after[2] == (1u << 0)); /* b after a, not after the final f */
    CHECK(after[3] == (1u << 2));
    /* A backward `after` closes a cycle with the chain. */
    _cleanup_error_ bo_error_t err = NULL;
    struct process_graph_node back[] = {NODE("a", "b"), LEAF("b")};
    CHECK(process_graph_check("processes", back, 2, true, NULL, &err) < 0);
    CHECK_CONTAINS(err->msg, "a cycle a -> b -> a");
}

TEST(final_processes_take_no_part_in_the_graph)
{
    _cleanup_error_ bo_error_t err = NULL;
    struct process_graph_node g1[] = {LEAF("a"), {.name = "f", .final = true, .after = (char *[]){"a"}, .n_after = 1}};
    CHECK(process_graph_check("task.processes", g1, 2, false, NULL, &err) < 0);
    CHECK_CONTAINS(err->msg, "task.processes[1].after: `f` is final");
    bo_error_freep(&err);
    struct process_graph_node g2[] = {NODE("a", "f"), {.name = "f", .final = true}};
    CHECK(process_graph_check("task.processes", g2, 2, false, NULL, &err) < 0);
    CHECK_CONTAINS(err->msg, "task.processes[0].after[0]: `f` is a final process");
}

TEST(at_most_64_processes)
{
    static struct process_graph_node g[PROCESS_GRAPH_MAX + 1];
    for (size_t i = 0; i < PROCESS_GRAPH_MAX + 1; i++)
        g[i] = (struct process_graph_node){.name = "p"};
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(process_graph_check("task.processes", g, PROCESS_GRAPH_MAX + 1, false, NULL, &err) < 0);
    CHECK_CONTAINS(err->msg, "more than 64 processes");
}

static const char job_head[] =
    "{\"cluster\": \"local\", \"role\": \"www-data\", \"environment\": \"devel\", \"name\": \"hello\","
    " \"task\": {\"resources\": {\"cpu\": 0.1, \"ram\": 33554432, \"disk\": 0}, \"processes\": ";

static int job_with(const char *processes, const char *more, bo_error_t *err)
{
    _cleanup_free_ char *text = bo_xasprintf("%s%s%s}}", job_head, processes, more);
    json_t *j = json_loads(text, 0, NULL);
    CHECK(j);
    struct job_config *c = NULL;
    int r = job_config_from_json(j, &c, err);
    json_decref(j);
    if (r == 0) {
        /* Defaults left out of the encoding, set values kept. */
        json_t *out = job_config_to_json(c);
        json_t *p0 = json_array_get(json_object_get(json_object_get(out, "task"), "processes"), 0);
        CHECK(!json_object_get(p0, "daemon") || json_is_true(json_object_get(p0, "daemon")));
        CHECK(!json_object_get(p0, "max_failures") || json_integer_value(json_object_get(p0, "max_failures")) != 1);
        json_decref(out);
        job_config_unref(c);
    }
    return r;
}

TEST(job_model_refuses_cycles_and_bad_process_fields)
{
    static const struct {
        const char *processes, *more, *error; /* error NULL: accepted */
    } cases[] = {
        {"[{\"name\": \"a\", \"cmdline\": \"true\", \"after\": [\"b\"]},"
         " {\"name\": \"b\", \"cmdline\": \"true\", \"after\": [\"a\"]}]",
         "", "task.processes: a cycle a -> b -> a"},
        {"[{\"name\": \"a\", \"cmdline\": \"true\", \"after\": [\"zz\"]}]", "",
         "task.processes[0].after[0]: unknown process `zz`"},
        {"[{\"name\": \"a\", \"cmdline\": \"true\", \"after\": [\"../x\"]}]", "", "task.processes[0].after[0]"},
        {"[{\"name\": \"a\", \"cmdline\": \"true\", \"max_failures\": -1}]", "",
         "task.processes[0].max_failures"},
        {"[{\"name\": \"a\", \"cmdline\": \"true\", \"daemon\": 1}]", "", "task.processes[0].daemon"},
        {"[{\"name\": \"a\", \"cmdline\": \"true\", \"min_duration\": -5}]", "",
         "task.processes[0].min_duration"},
        {"[{\"name\": \"a\", \"cmdline\": \"true\"}]", ", \"finalization_wait\": 600001",
         "task.finalization_wait"},
        {"[{\"name\": \"a\", \"cmdline\": \"true\"}]", ", \"max_concurrency\": 65", "task.max_concurrency"},
        {"[{\"name\": \"a\", \"cmdline\": \"true\", \"daemon\": true, \"max_failures\": 0},"
         " {\"name\": \"b\", \"cmdline\": \"true\", \"after\": [\"a\"], \"ephemeral\": true},"
         " {\"name\": \"f\", \"cmdline\": \"true\", \"final\": true}]",
         ", \"ordering\": \"sequential\", \"max_failures\": 0, \"max_concurrency\": 2", NULL},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        bo_error_t err = NULL;
        int r = job_with(cases[i].processes, cases[i].more, &err);
        if (cases[i].error) {
            if (r == 0)
                fprintf(stderr, "  case %zu accepted\n", i);
            CHECK(r < 0);
            if (err)
                CHECK_CONTAINS(err->msg, cases[i].error);
        } else {
            if (r < 0)
                fprintf(stderr, "  case %zu: %s\n", i, err->msg);
            CHECK(r == 0);
        }
        bo_error_free(err);
    }
}

TEST(executor_reads_process_fields_and_checks_the_graph)
{
    static const char ok[] =
        "{\"task_id\": \"t\", \"ordering\": \"sequential\", \"max_concurrency\": 1, \"processes\": ["
        "{\"name\": \"a\", \"argv\": [\"true\"], \"max_failures\": 0, \"min_duration_ms\": 10},"
        "{\"name\": \"f\", \"argv\": [\"true\"], \"final\": true},"
        "{\"name\": \"b\", \"argv\": [\"true\"], \"daemon\": true, \"after\": [\"a\"]}]}";
    struct exec_spec s;
    bo_error_t err = NULL;
    CHECK(spec_parse("task.json", ok, strlen(ok), &s, &err) == 0);
    CHECK(s.n_procs == 3);
    CHECK(s.procs[0].max_failures == 0 && s.procs[0].min_duration_ms == 10 && s.procs[0].after_mask == 0);
    CHECK(s.procs[1].final && s.procs[1].max_failures == 1 && s.procs[1].min_duration_ms == 5000);
    CHECK(s.procs[2].daemon && s.procs[2].after_mask == 1u);
    CHECK(s.max_concurrency == 1 && s.max_failures == 1 && s.finalization_wait_ms == 30000);
    spec_clear(&s);

    static const struct {
        const char *text, *error;
    } bad[] = {
        {"{\"task_id\": \"t\", \"processes\": [{\"name\": \"a\", \"argv\": [\"x\"], \"after\": [\"a\"]}]}",
         "processes: a cycle a -> a"},
        {"{\"task_id\": \"t\", \"processes\": [{\"name\": \"a\", \"argv\": [\"x\"], \"after\": \"b\"}]}",
         "processes[0].after: must be an array"},
        {"{\"task_id\": \"t\", \"processes\": [{\"name\": \"a\", \"argv\": [\"x\"], \"final\": \"yes\"}]}",
         "processes[0].final: must be true or false"},
        {"{\"task_id\": \"t\", \"processes\": [{\"name\": \"a\", \"argv\": [\"x\"], \"min_duration_ms\": 1e3}]}",
         "processes[0].min_duration_ms: must be an integer"},
        {"{\"task_id\": \"t\", \"processes\": [{\"name\": \"a\", \"argv\": [\"x\"], \"colour\": 1}]}",
         "processes[0].colour: unknown field"},
        {"{\"task_id\": \"t\", \"finalization_wait_ms\": -1, \"processes\": [{\"name\": \"a\", \"argv\": [\"x\"]}]}",
         "finalization_wait_ms: must be an integer in 0..600000"},
        {"{\"task_id\": \"t\", \"max_failures\": 65, \"processes\": [{\"name\": \"a\", \"argv\": [\"x\"]}]}",
         "max_failures: must be an integer in 0..64"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        CHECK(spec_parse("task.json", bad[i].text, strlen(bad[i].text), &s, &err) < 0);
        CHECK_CONTAINS(err->msg, bad[i].error);
        CHECK_CONTAINS(err->msg, "`task.json`");
        bo_error_freep(&err);
    }
}

TEST_MAIN()
