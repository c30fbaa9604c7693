/* store_threaded.c - the writer-thread backend (see store_threaded.h). It
 * is a backend like any other: the front end checks arguments and batch
 * state, then calls these ops, which append to a queue the writer thread
 * runs against the wrapped backend's ops.
 *
 * Why: with 10,000 agents starting 100,000 tasks, SQLite's inserts took a
 * sixth of the scheduler's one thread, which everything else waited
 * behind, while the second core was half idle (docs/benchmarks.md). */
#include "store/store_threaded.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/strbuf.h"

/* Past this much queued, the thread starts on it before a commit comes:
 * a huge batch is written while it is still being built, and the queue's
 * memory stays bounded. */
#define QUEUE_WAKE_BYTES (1u << 20)
/* The queues' memory is kept between groups, and freed after this many
 * seconds without one. */
#define IDLE_FREE_S 1

enum op_code {
    OP_BEGIN,
    OP_PUT,
    OP_DEL,
    OP_COMMIT,       /* the caller waits for its result */
    OP_COMMIT_ASYNC, /* a group's commit, reported through the event fd */
    OP_ROLLBACK,
    OP_SAVEPOINT,
    OP_RELEASE,
    OP_ROLLBACK_TO,
};

/* One queued operation; id and value follow it, each NUL-terminated, and
 * the next operation starts at the next multiple of 8. */
struct op {
    uint8_t code;
    int8_t kind;
    uint8_t autocommit;
    uint32_t id_len, value_len;
};

struct threaded_store {
    struct store base; /* first: struct store * <-> struct threaded_store * */
    struct store *inner;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    int efd;
    /* Under mu: */
    struct bo_buf queue;   /* operations the thread has not taken */
    struct bo_buf spare;   /* the last queue run, emptied: the next one reuses its memory */
    uint64_t queued, done; /* operations appended / run (or skipped) */
    bool wake, stopping;
    uint64_t async_done;   /* background commits that succeeded */
    char *dead;            /* why a background commit failed; set once */
    bo_error_t sync_err;   /* the failure of the last waited-for operation */
    /* The thread's own: */
    char *txn_err; /* the first failure in the open transaction */
};

static struct threaded_store *ts(struct store *s)
{
    return (struct threaded_store *)s;
}

/* ---- The writer thread ---------------------------------------------------- */

static void txn_fail(struct threaded_store *t, bo_error_t e)
{
    if (!t->txn_err)
        t->txn_err = bo_xstrdup(e && e->msg ? e->msg : "failed");
}

static void txn_end(struct threaded_store *t)
{
    free(t->txn_err);
    t->txn_err = NULL;
}

/* A commit: refused (and the transaction rolled back) if anything in it
 * failed. Returns 0, or -1 with the reason in *err. */
static int run_commit(struct threaded_store *t, bo_error_t *err)
{
    struct store *in = t->inner;
    int r = 0;
    if (t->txn_err) {
        bo_error_set(err, BO_E_IO, "%s", t->txn_err);
        r = -1;
    } else if (in->ops->commit(in, err) < 0) {
        r = -1;
    }
    if (r < 0)
        in->ops->rollback(in);
    txn_end(t);
    return r;
}

/* Run one operation. Sets *sync_err for the ones the caller waits for;
 * counts a background commit into *async, or makes the thread dead. */
static void run_op(struct threaded_store *t, const struct op *o, const char *id, const char *value,
                   bo_error_t *sync_err, uint64_t *async, char **dead)
{
    struct store *in = t->inner;
    _cleanup_error_ bo_error_t e = NULL;
    if (*dead) {
        /* Nothing after a lost group may become durable. */
        if (o->code == OP_COMMIT || ((o->code == OP_PUT || o->code == OP_DEL) && o->autocommit))
            bo_error_set(sync_err, BO_E_IO, "store `%s`: an earlier group commit failed: %s", store_path(in),
                         *dead);
        return;
    }
    switch (o->code) {
    case OP_BEGIN:
        txn_end(t);
        if (in->ops->begin(in, &e) < 0)
            txn_fail(t, e);
        break;
    case OP_PUT:
    case OP_DEL:
        if (o->autocommit) {
            if (o->code == OP_PUT)
                in->ops->put(in, o->kind, id, value, true, sync_err);
            else
                in->ops->del(in, o->kind, id, true, sync_err);
        } else if (!t->txn_err &&
                   (o->code == OP_PUT ? in->ops->put(in, o->kind, id, value, false, &e)
                                      : in->ops->del(in, o->kind, id, false, &e)) < 0) {
            txn_fail(t, e);
        }
        break;
    case OP_SAVEPOINT:
        if (!t->txn_err && in->ops->savepoint(in, &e) < 0)
            txn_fail(t, e);
        break;
    case OP_RELEASE:
        if (!t->txn_err && in->ops->release(in, &e) < 0)
            txn_fail(t, e);
        break;
    case OP_ROLLBACK_TO:
        if (!t->txn_err && in->ops->rollback_to(in) < 0)
            t->txn_err = bo_xstrdup("the backend rolled back its transaction");
        break;
    case OP_ROLLBACK:
        in->ops->rollback(in);
        txn_end(t);
        break;
    case OP_COMMIT:
        run_commit(t, sync_err);
        break;
    case OP_COMMIT_ASYNC:
        if (run_commit(t, &e) < 0)
            *dead = bo_xstrdup(e && e->msg ? e->msg : "commit failed");
        else
            (*async)++;
        break;
    }
}

static void *writer_main(void *arg)
{
    struct threaded_store *t = arg;
    char *dead = NULL; /* the thread's copy of t->dead */
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->wake && !t->stopping) {
            if (!t->queue.cap && !t->spare.cap) {
                pthread_cond_wait(&t->work_cv, &t->mu);
                continue;
            }
            /* The queues' memory kept for the next groups is freed once
             * none came for IDLE_FREE_S: an idle scheduler holds none. */
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += IDLE_FREE_S;
            if (pthread_cond_timedwait(&t->work_cv, &t->mu, &until) == ETIMEDOUT && !t->wake && !t->queue.len) {
                bo_buf_free(&t->queue);
                bo_buf_free(&t->spare);
            }
        }
        if (!t->queue.len) {
            if (t->stopping)
                break;
            t->wake = false;
            continue;
        }
        struct bo_buf work = t->queue;
        /* The next queue in memory already touched: fresh pages cost a
         * fault each, a tenth of the caller's time for the queue. */
        t->queue = t->spare;
        t->spare = (struct bo_buf){0};
        t->wake = false;
        pthread_mutex_unlock(&t->mu);

        uint64_t n = 0, async = 0;
        bool was_dead = dead != NULL;
        bo_error_t sync_err = NULL;
        for (size_t at = 0; at < work.len; n++) {
            struct op o;
            memcpy(&o, work.p + at, sizeof(o));
            const char *id = work.p + at + sizeof(o);
            const char *value = id + o.id_len + 1;
            if (sync_err) { /* only the last operation is waited for */
                bo_error_free(sync_err);
                sync_err = NULL;
            }
            run_op(t, &o, id, value, &sync_err, &async, &dead);
            at += (sizeof(o) + o.id_len + 1 + o.value_len + 1 + 7) & ~(size_t)7;
        }
        pthread_mutex_lock(&t->mu);
        /* At most two queues' memory is kept for reuse, each of at most
         * the size that wakes the thread. Freed when none was, the next
         * group grew its queue again from 1 KiB, a realloc and fresh pages
         * each time: 2% of the loop's CPU while 100,000 tasks start. */
        if (!t->queue.cap && work.cap <= QUEUE_WAKE_BYTES) {
            work.len = 0;
            t->queue = work;
        } else if (!t->spare.cap && work.cap <= QUEUE_WAKE_BYTES) {
            work.len = 0;
            t->spare = work;
        } else {
            bo_buf_free(&work);
        }
        t->done += n;
        t->async_done += async;
        if (dead && !was_dead)
            t->dead = dead; /* freed by close, after the thread is joined */
        if (t->sync_err)
            bo_error_free(t->sync_err);
        t->sync_err = sync_err;
        pthread_cond_broadcast(&t->done_cv);
        if (async || (dead && !was_dead)) {
            uint64_t one = 1;
            /* Only fails if the counter is full: the fd is readable then. */
            (void)!write(t->efd, &one, sizeof(one));
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* ---- The caller's side ---------------------------------------------------- */

static void enqueue(struct threaded_store *t, enum op_code code, int kind, const char *id, const char *value,
                    bool autocommit)
{
    size_t id_len = id ? strlen(id) : 0, value_len = value ? strlen(value) : 0;
    struct op o = {.code = (uint8_t)code, .kind = (int8_t)kind, .autocommit = autocommit,
                   .id_len = (uint32_t)id_len, .value_len = (uint32_t)value_len};
    static const char zeros[8];
    pthread_mutex_lock(&t->mu);
    struct bo_buf *q = &t->queue;
    bo_buf_add(q, (const char *)&o, sizeof(o));
    bo_buf_add(q, id ? id : "", id_len + 1);
    bo_buf_add(q, value ? value : "", value_len + 1);
    bo_buf_add(q, zeros, (8 - q->len % 8) % 8);
    t->queued++;
    if (code == OP_COMMIT || code == OP_COMMIT_ASYNC || autocommit || q->len >= QUEUE_WAKE_BYTES) {
        t->wake = true;
        pthread_cond_signal(&t->work_cv);
    }
    pthread_mutex_unlock(&t->mu);
}

/* Wait until everything queued has run; return the last operation's
 * result (for the one the caller just queued). Called with mu unlocked. */
static int drain(struct threaded_store *t, bo_error_t *err)
{
    pthread_mutex_lock(&t->mu);
    if (t->done != t->queued) {
        t->wake = true;
        pthread_cond_signal(&t->work_cv);
    }
    while (t->done != t->queued)
        pthread_cond_wait(&t->done_cv, &t->mu);
    bo_error_t e = t->sync_err;
    t->sync_err = NULL;
    pthread_mutex_unlock(&t->mu);
    if (!e)
        return 0;
    if (err && !*err)
        *err = e;
    else
        bo_error_free(e);
    return -1;
}

static int th_begin(struct store *s, bo_error_t *err)
{
    enqueue(ts(s), OP_BEGIN, -1, NULL, NULL, false);
    return 0;
}

static int th_put(struct store *s, int kind, const char *id, const char *value, bool autocommit, bo_error_t *err)
{
    enqueue(ts(s), OP_PUT, kind, id, value, autocommit);
    return autocommit ? drain(ts(s), err) : 0;
}

static int th_del(struct store *s, int kind, const char *id, bool autocommit, bo_error_t *err)
{
    enqueue(ts(s), OP_DEL, kind, id, NULL, autocommit);
    return autocommit ? drain(ts(s), err) : 0;
}

static int th_commit(struct store *s, bo_error_t *err)
{
    enqueue(ts(s), OP_COMMIT, -1, NULL, NULL, false);
    return drain(ts(s), err);
}

static int th_commit_async(struct store *s, bo_error_t *err)
{
    enqueue(ts(s), OP_COMMIT_ASYNC, -1, NULL, NULL, false);
    return 0;
}

static int th_async_state(struct store *s, uint64_t *ret_done, bo_error_t *err)
{
    struct threaded_store *t = ts(s);
    uint64_t n;
    while (read(t->efd, &n, sizeof(n)) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&t->mu);
    *ret_done = t->async_done;
    int r = 0;
    if (t->dead)
        r = bo_error_set(err, BO_E_IO, "store `%s`: group commit failed: %s", store_path(s), t->dead);
    pthread_mutex_unlock(&t->mu);
    return r;
}

static int th_event_fd(const struct store *s)
{
    return ((const struct threaded_store *)s)->efd;
}

static void th_wait(struct store *s)
{
    drain(ts(s), NULL); /* nothing waited for: no result to take */
}

static void th_rollback(struct store *s)
{
    enqueue(ts(s), OP_ROLLBACK, -1, NULL, NULL, false);
}

static int th_savepoint(struct store *s, bo_error_t *err)
{
    enqueue(ts(s), OP_SAVEPOINT, -1, NULL, NULL, false);
    return 0;
}

static int th_release(struct store *s, bo_error_t *err)
{
    enqueue(ts(s), OP_RELEASE, -1, NULL, NULL, false);
    return 0;
}

/* Whether the backend lost the group is learnt at its commit, which then
 * fails. */
static int th_rollback_to(struct store *s)
{
    enqueue(ts(s), OP_ROLLBACK_TO, -1, NULL, NULL, false);
    return 0;
}

/* Reads see everything queued before them, as in the wrapped backend. */
static int th_load(struct store *s, int kind, store_load_fn fn, void *ctx, bo_error_t *err)
{
    struct threaded_store *t = ts(s);
    drain(t, NULL); /* nothing waited for: no result to take */
    return t->inner->ops->load(t->inner, kind, fn, ctx, err);
}

static void th_close(struct store *s)
{
    struct threaded_store *t = ts(s);
    drain(t, NULL);
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    pthread_cond_signal(&t->work_cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    /* The thread's transaction state: a queued rollback ran already. */
    txn_end(t);
    store_close(t->inner);
    bo_buf_free(&t->queue);
    bo_buf_free(&t->spare);
    free(t->dead);
    if (t->sync_err)
        bo_error_free(t->sync_err);
    close(t->efd);
    pthread_cond_destroy(&t->work_cv);
    pthread_cond_destroy(&t->done_cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static const struct store_ops threaded_ops = {
    .begin = th_begin,
    .put = th_put,
    .del = th_del,
    .commit = th_commit,
    .commit_async = th_commit_async,
    .async_state = th_async_state,
    .event_fd = th_event_fd,
    .wait = th_wait,
    .rollback = th_rollback,
    .savepoint = th_savepoint,
    .release = th_release,
    .rollback_to = th_rollback_to,
    .load = th_load,
    .close = th_close,
};

int store_threaded_wrap(struct store *inner, struct store **ret, bo_error_t *err)
{
    struct threaded_store *t = bo_xcalloc(1, sizeof(*t));
    t->base.ops = &threaded_ops;
    t->base.path = inner->path;
    t->inner = inner;
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->efd < 0) {
        int e = errno;
        free(t);
        store_close(inner);
        return bo_error_sys(err, e, "store `%s`: eventfd", store_path(inner));
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca; /* the idle timeout of writer_main, on the monotonic clock */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->work_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&t->done_cv, NULL);
    int r = pthread_create(&t->thread, NULL, writer_main, t);
    if (r != 0) {
        close(t->efd);
        pthread_cond_destroy(&t->work_cv);
        pthread_cond_destroy(&t->done_cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        store_close(inner);
        return bo_error_sys(err, r, "store: start the writer thread");
    }
    *ret = &t->base;
    return 0;
}
