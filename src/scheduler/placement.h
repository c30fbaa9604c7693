/* placement.h - matching PENDING tasks to agents.
 *
 * A sweep walks the pending queue (priority order) in bounded passes, each
 * resuming from a cursor. Feasibility is decided once per job config per
 * pass (Borg's equivalence classes): when one instance of a config fits
 * nowhere, its siblings are skipped with one hash lookup and share the
 * reason computed for it.
 * Agents are examined from a rotating start and the search stops after a
 * fixed number of feasible ones (Borg's relaxed randomisation), so a task
 * costs O(1) agents, not O(cluster). An agent must pass the job's
 * constraints (dedicated, attribute values, limit:N) and have the
 * resources; among those, the one whose rack, then itself, runs the
 * fewest instances of the same job wins (spread), then the one with the
 * most free memory. A task that fits nowhere stays PENDING with a reason:
 * DEDICATED_CONSTRAINT_MISMATCH, CONSTRAINT_MISMATCH, LIMIT_NOT_SATISFIED
 * or INSUFFICIENT_RESOURCES (naming the resource). */
#ifndef BO_SCHEDULER_PLACEMENT_H
#define BO_SCHEDULER_PLACEMENT_H

#include "scheduler/state.h"

/* Tasks examined per placement pass: about 100 ms of work at the measured
 * ~50k/s, then the loop serves HTTP again (and agents get their launches). */
#define PLACEMENT_PASS_MAX 5000

/* Examine at most max_tasks pending tasks (0: no limit, a whole sweep), so
 * one pass never holds the event loop for long; the next pass resumes
 * where this one stopped. Returns the number of tasks assigned, or -1 on a
 * store error. Agents that received work have has_work set. */
int placement_run(struct sched_state *st, size_t max_tasks, bo_error_t *err);

/* A pass is due: a sweep is under way, or something changed (tasks
 * queued, resources freed, agents up) since the last sweep began. False
 * after a sweep that nothing changed, so the loop sleeps. */
bool placement_is_due(const struct sched_state *st);

#endif
