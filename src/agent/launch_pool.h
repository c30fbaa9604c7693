/* launch_pool.h - a few worker threads that prepare container launches
 * beside the agent's loop (sandbox, cgroup, bundle, forking the runtime's
 * helper: tens of ms of file system work per task that, done in the loop,
 * made 200 launches wait on each other). The loop submits jobs and takes
 * them back once run; it learns of that from one fd in its poll set.
 *
 * A job belongs to its submitter all along: the pool only holds a pointer
 * to it between submit and take. A job's `run` may use only what the job
 * owns and what nobody changes meanwhile (the agent's configuration). */
#ifndef BO_AGENT_LAUNCH_POOL_H
#define BO_AGENT_LAUNCH_POOL_H

#include "base/error.h"

struct launch_job {
    void (*run)(struct launch_job *job); /* in a worker thread */
    struct launch_job *next;             /* the pool's */
};

struct launch_pool;

int launch_pool_new(unsigned n_threads, struct launch_pool **ret, bo_error_t *err);
/* Waits for the jobs being run; queued and finished jobs stay their
 * submitters' (never run, never handed back). Threads end here: a
 * process forked by a job and tied to its thread (PR_SET_PDEATHSIG) gets
 * its signal now. */
void launch_pool_free(struct launch_pool *p);
void launch_pool_submit(struct launch_pool *p, struct launch_job *job);
/* Readable when a job has run. */
int launch_pool_fd(const struct launch_pool *p);
/* A job that has run (in submission order as far as the workers kept
 * it), or NULL: then the fd is quiet until the next one. */
struct launch_job *launch_pool_take(struct launch_pool *p);

#endif
