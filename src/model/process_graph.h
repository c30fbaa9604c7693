/* process_graph.h - the ordering of a task's processes as a graph: each
 * process runs after those its `after` names (and, with ordering
 * sequential, after the regular process listed before it). Shared by the
 * job model (refused at create) and the executor (task.json is checked
 * again), so it depends on libc and base/error only. */
#ifndef BO_MODEL_PROCESS_GRAPH_H
#define BO_MODEL_PROCESS_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Enough for JOB_MAX_PROCESSES and SPEC_MAX_PROCESSES: a process's
 * predecessors fit in one uint64_t. */
#define PROCESS_GRAPH_MAX 64

struct process_graph_node {
    const char *name;
    char *const *after; /* names of processes this one runs after */
    size_t n_after;
    bool final; /* runs in finalization, in listed order: no edges to or from it */
};

/* Check the graph of `n` (<= PROCESS_GRAPH_MAX) nodes, with the implicit
 * chain of regular processes when `sequential`. `what` names the list in
 * errors: "task.processes[1].after[0]: unknown process `x`", "task.processes:
 * a cycle a -> b -> a (each runs after the next)". On success, when
 * `ret_after` is not NULL, ret_after[i] holds bit k for every process i runs
 * after (explicit and implicit). */
int process_graph_check(const char *what, const struct process_graph_node *nodes, size_t n, bool sequential,
                        uint64_t *ret_after, bo_error_t *err);

#endif
