/* Unit tests for the ordering of a task's processes (model/process_graph.c):
 * unknown names, cycles named in order, final processes, and the implicit
 * chain of ordering sequential. */
#include <stdint.h>

#include "base/error.h"
#include "harness.h"
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

TEST_MAIN()
