/* images.c - pulls and image GC beside the agent's loop (see images.h). */
#include "agent/images.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>

#include "base/log.h"

struct waiter {
    char *task_id;
    struct waiter *next;
};

struct pull {
    struct agent_images *im;
    char *ref;
    struct waiter *waiters;
    bo_error_t err; /* set by the thread */
    bool done;
    struct pull *next;
};

struct agent_images {
    struct agent_images_config cfg;
    char **plain_http; /* owned copies of cfg.registry.plain_http */
    struct image_store *store;
    int pipe_rd, pipe_wr;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    struct pull *pulls; /* in flight and done, not drained */
    int running;        /* threads alive */
    bool gc_running;
    int64_t next_gc;
    int cancel; /* set at free: transfers in progress end */
};

static char *xdup(const char *s) { return s ? bo_xstrdup(s) : NULL; }

int agent_images_new(const struct agent_images_config *cfg, struct agent_images **ret, bo_error_t *err)
{
    struct agent_images *im = bo_xcalloc(1, sizeof(*im));
    im->cfg = *cfg;
    im->cfg.data_dir = xdup(cfg->data_dir);
    im->cfg.registry.ca_file = xdup(cfg->registry.ca_file);
    im->cfg.registry.auth_file = xdup(cfg->registry.auth_file);
    im->plain_http = bo_xcalloc(cfg->registry.n_plain_http + 1, sizeof(char *));
    for (size_t i = 0; i < cfg->registry.n_plain_http; i++)
        im->plain_http[i] = bo_xstrdup(cfg->registry.plain_http[i]);
    im->cfg.registry.plain_http = (const char *const *)im->plain_http;
    im->cfg.registry.cancel = &im->cancel;
    im->pipe_rd = im->pipe_wr = -1;
    pthread_mutex_init(&im->lock, NULL);
    pthread_cond_init(&im->idle, NULL);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        int e = errno;
        agent_images_free(im);
        return bo_error_sys(err, e, "pipe");
    }
    im->pipe_rd = fds[0];
    im->pipe_wr = fds[1];
    if (image_store_open(cfg->data_dir, NULL, &im->store, err) < 0) {
        agent_images_free(im);
        return -1;
    }
    *ret = im;
    return 0;
}

void agent_images_free(struct agent_images *im)
{
    if (!im)
        return;
    __atomic_store_n(&im->cancel, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&im->lock);
    while (im->running > 0)
        pthread_cond_wait(&im->idle, &im->lock);
    pthread_mutex_unlock(&im->lock);
    for (struct pull *p = im->pulls, *next; p; p = next) {
        next = p->next;
        for (struct waiter *w = p->waiters, *wn; w; w = wn) {
            wn = w->next;
            free(w->task_id);
            free(w);
        }
        if (p->err)
            bo_error_free(p->err);
        free(p->ref);
        free(p);
    }
    image_store_close(im->store);
    if (im->pipe_rd >= 0)
        close(im->pipe_rd);
    if (im->pipe_wr >= 0)
        close(im->pipe_wr);
    for (size_t i = 0; i < im->cfg.registry.n_plain_http; i++)
        free(im->plain_http[i]);
    free(im->plain_http);
    free((char *)im->cfg.data_dir);
    free((char *)im->cfg.registry.ca_file);
    free((char *)im->cfg.registry.auth_file);
    pthread_mutex_destroy(&im->lock);
    pthread_cond_destroy(&im->idle);
    free(im);
}

struct image_store *agent_images_store(struct agent_images *im) { return im->store; }

int agent_images_fd(const struct agent_images *im) { return im->pipe_rd; }

static void thread_end(struct agent_images *im)
{
    /* Under im->lock. */
    im->running--;
    if (im->running == 0)
        pthread_cond_broadcast(&im->idle);
    char c = 1;
    ssize_t r = write(im->pipe_wr, &c, 1); /* full pipe: already readable */
    (void)r;
}

static void *pull_thread(void *arg)
{
    struct pull *p = arg;
    struct agent_images *im = p->im;
    char *digest_ref = NULL;
    bo_error_t err = NULL;
    image_store_pull(im->store, p->ref, &im->cfg.registry, NULL, NULL, &digest_ref, &err);
    free(digest_ref);
    pthread_mutex_lock(&im->lock);
    p->err = err;
    p->done = true;
    thread_end(im);
    pthread_mutex_unlock(&im->lock);
    return NULL;
}

static bool start_thread(struct agent_images *im, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int r = pthread_create(&th, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (r == 0)
        im->running++;
    return r == 0;
}

int agent_images_want(struct agent_images *im, const char *task_id, const char *digest_ref)
{
    const char *at = strrchr(digest_ref, '@');
    if (at && image_store_has(im->store, at + 1))
        return 1;
    struct waiter *w = bo_xcalloc(1, sizeof(*w));
    w->task_id = bo_xstrdup(task_id);
    pthread_mutex_lock(&im->lock);
    struct pull *p = im->pulls;
    while (p && (p->done || strcmp(p->ref, digest_ref) != 0))
        p = p->next;
    if (!p) {
        p = bo_xcalloc(1, sizeof(*p));
        p->im = im;
        p->ref = bo_xstrdup(digest_ref);
        p->next = im->pulls;
        im->pulls = p;
        if (!start_thread(im, pull_thread, p)) {
            bo_error_set(&p->err, BO_E_INTERNAL, "cannot start a thread to pull %s", digest_ref);
            p->done = true;
            char c = 1;
            ssize_t r = write(im->pipe_wr, &c, 1);
            (void)r;
        }
    }
    w->next = p->waiters;
    p->waiters = w;
    pthread_mutex_unlock(&im->lock);
    return 0;
}

void agent_images_drain(struct agent_images *im, agent_images_done_fn done, void *arg)
{
    char buf[64];
    while (read(im->pipe_rd, buf, sizeof(buf)) > 0) {
    }
    pthread_mutex_lock(&im->lock);
    struct pull *finished = NULL;
    for (struct pull **pp = &im->pulls; *pp;) {
        struct pull *p = *pp;
        if (p->done) {
            *pp = p->next;
            p->next = finished;
            finished = p;
        } else {
            pp = &p->next;
        }
    }
    pthread_mutex_unlock(&im->lock);
    for (struct pull *p = finished, *next; p; p = next) {
        next = p->next;
        if (p->err)
            log_warn("image %s: %s", p->ref, p->err->msg);
        else
            log_info("image %s: pulled", p->ref);
        for (struct waiter *w = p->waiters, *wn; w; w = wn) {
            wn = w->next;
            bo_error_t e = NULL;
            if (p->err)
                bo_error_set(&e, p->err->kind, "%s", p->err->msg);
            done(arg, w->task_id, e);
            free(w->task_id);
            free(w);
        }
        if (p->err)
            bo_error_free(p->err);
        free(p->ref);
        free(p);
    }
}

static void *gc_thread(void *arg)
{
    struct agent_images *im = arg;
    int removed = 0;
    bo_error_t err = NULL;
    if (image_store_gc(im->store, im->cfg.gc_age_ms, im->cfg.min_free_pct, &removed, &err) < 0) {
        log_warn("image GC: %s", err->msg);
        bo_error_free(err);
    } else if (removed) {
        log_info("image GC: %d layer%s removed", removed, removed == 1 ? "" : "s");
    }
    pthread_mutex_lock(&im->lock);
    im->gc_running = false;
    thread_end(im);
    pthread_mutex_unlock(&im->lock);
    return NULL;
}

int64_t agent_images_tick(struct agent_images *im, int64_t now)
{
    /* A pass every tenth of the age, at least every 10 min, at most every 1 s. */
    int64_t every = im->cfg.gc_age_ms / 10;
    if (every > 600000)
        every = 600000;
    if (every < 1000)
        every = 1000;
    if (!im->next_gc)
        im->next_gc = now + every;
    if (now >= im->next_gc) {
        im->next_gc = now + every;
        pthread_mutex_lock(&im->lock);
        if (!im->gc_running && start_thread(im, gc_thread, im))
            im->gc_running = true;
        pthread_mutex_unlock(&im->lock);
    }
    return im->next_gc - now;
}
