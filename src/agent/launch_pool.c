/* launch_pool.c - worker threads preparing launches beside the loop (see
 * launch_pool.h). */
#include "agent/launch_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/util.h"

struct queue {
    struct launch_job *head, *tail;
};

struct launch_pool {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a job was queued, or the pool stops */
    struct queue todo, done;
    bool stopping;
    int efd;
    pthread_t *threads;
    unsigned n_threads;
};

static void push(struct queue *q, struct launch_job *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
}

static struct launch_job *pop(struct queue *q)
{
    struct launch_job *j = q->head;
    if (j) {
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        j->next = NULL;
    }
    return j;
}

static void *worker(void *arg)
{
    struct launch_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stopping && !p->todo.head)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->stopping)
            break;
        struct launch_job *j = pop(&p->todo);
        pthread_mutex_unlock(&p->lock);
        j->run(j);
        pthread_mutex_lock(&p->lock);
        push(&p->done, j);
        /* After the push: a take that finds the queue empty and clears the
         * counter can only be followed by this write, never miss it. */
        uint64_t one = 1;
        while (write(p->efd, &one, sizeof(one)) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int launch_pool_new(unsigned n_threads, struct launch_pool **ret, bo_error_t *err)
{
    struct launch_pool *p = bo_xcalloc(1, sizeof(*p));
    p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->efd < 0) {
        int e = errno;
        free(p);
        return bo_error_sys(err, e, "eventfd");
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    p->threads = bo_xcalloc(n_threads ? n_threads : 1, sizeof(pthread_t));
    for (unsigned i = 0; i < n_threads; i++) {
        int r = pthread_create(&p->threads[i], NULL, worker, p);
        if (r != 0) {
            launch_pool_free(p);
            return bo_error_sys(err, r, "starting launch worker thread %u", i + 1);
        }
        p->n_threads++;
    }
    *ret = p;
    return 0;
}

void launch_pool_free(struct launch_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    close(p->efd);
    free(p);
}

void launch_pool_submit(struct launch_pool *p, struct launch_job *j)
{
    pthread_mutex_lock(&p->lock);
    push(&p->todo, j);
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
}

int launch_pool_fd(const struct launch_pool *p)
{
    return p->efd;
}

struct launch_job *launch_pool_take(struct launch_pool *p)
{
    pthread_mutex_lock(&p->lock);
    struct launch_job *j = pop(&p->done);
    if (!j) {
        uint64_t n;
        while (read(p->efd, &n, sizeof(n)) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&p->lock);
    return j;
}
