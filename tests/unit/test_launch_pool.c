/* Unit tests for agent/launch_pool: every submitted job runs once, in a
 * worker thread, and comes back through take; the fd is readable exactly
 * while a finished job waits; free with queued jobs leaves them to their
 * owner. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/launch_pool.h"
#include "harness.h"

struct job {
    struct launch_job base; /* first */
    int n;
    atomic_int runs;
    pthread_t thread;
    int usleep_us;
};

static void run(struct launch_job *j)
{
    struct job *x = (struct job *)j;
    if (x->usleep_us)
        usleep((useconds_t)x->usleep_us);
    x->thread = pthread_self();
    atomic_fetch_add(&x->runs, 1);
}

static bool readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1;
}

TEST(every_job_runs_once_in_a_worker_and_comes_back)
{
    struct launch_pool *p = NULL;
    bo_error_t err = NULL;
    CHECK(launch_pool_new(2, &p, &err) == 0);
    CHECK(!readable(launch_pool_fd(p), 0));
    CHECK(launch_pool_take(p) == NULL);
    enum { N = 50 };
    struct job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct job){.base = {.run = run}, .n = i};
        launch_pool_submit(p, &jobs[i].base);
    }
    int back = 0;
    bool seen[N] = {false};
    while (back < N) {
        CHECK(readable(launch_pool_fd(p), 10000));
        for (struct launch_job *j; (j = launch_pool_take(p));) {
            struct job *x = (struct job *)j;
            CHECK(x->n >= 0 && x->n < N && !seen[x->n]);
            seen[x->n] = true;
            CHECK(atomic_load(&x->runs) == 1);
            CHECK(!pthread_equal(x->thread, pthread_self()));
            back++;
        }
    }
    /* All taken: the fd is quiet again. */
    CHECK(!readable(launch_pool_fd(p), 0));
    launch_pool_free(p);
}

TEST(free_waits_for_running_jobs_and_leaves_queued_ones)
{
    struct launch_pool *p = NULL;
    bo_error_t err = NULL;
    CHECK(launch_pool_new(1, &p, &err) == 0);
    struct job slow = {.base = {.run = run}, .usleep_us = 100000};
    struct job queued = {.base = {.run = run}};
    launch_pool_submit(p, &slow.base);
    launch_pool_submit(p, &queued.base);
    /* The worker is joined: a job it had begun has ended (run counts it
     * last), and none runs twice. Which of the two it began is timing. */
    launch_pool_free(p);
    CHECK(atomic_load(&slow.runs) <= 1 && atomic_load(&queued.runs) <= 1);
    CHECK(atomic_load(&queued.runs) == 0 || atomic_load(&slow.runs) == 1);
}

TEST_MAIN()
