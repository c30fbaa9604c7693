/* placement.h - matching PENDING tasks to agents.
 *
 * One pass over the pending queue (priority order). Feasibility is decided
 * once per job config per pass (Borg's equivalence classes): when one
 * instance of a config fits nowhere, its siblings are not re-examined.
 * Agents are examined from a rotating start and the search stops after a
 * fixed number of feasible ones (Borg's relaxed randomisation), so a task
 * costs O(1) agents, not O(cluster). Among those, the one running the
 * fewest instances of the same job wins (spread), then the one with the
 * most free memory. A task that fits nowhere stays PENDING with a reason
 * naming the resource. */
#ifndef BO_SCHEDULER_PLACEMENT_H
#define BO_SCHEDULER_PLACEMENT_H

#include "scheduler/state.h"

/* Examine at most max_tasks pending tasks (0: no limit), so one pass never
 * holds the event loop for long; placement_due stays set when some are
 * left. Returns the number of tasks assigned, or -1 on a store error.
 * Agents that received work have has_work set. */
int placement_run(struct sched_state *st, size_t max_tasks, bo_error_t *err);

/* Why `tc` fits on no agent, e.g. "INSUFFICIENT_RESOURCES: ram (needs
 * 64GiB, most free on any agent 22GiB)". Heap string. */
char *placement_explain(struct sched_state *st, const struct task_config *tc);

#endif
