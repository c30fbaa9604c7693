/* durable.c - answers kept back until the store holds what they say (see
 * durable.h). */
#include "scheduler/durable.h"

#include <stdlib.h>

#include "store/store.h"

/* Kept answers, newest first. A kept request stays suspended, so it is
 * not freed before it is sent (the loop sends all of them before it
 * stops the server). */
struct kept {
    struct http_request *req;
    uint64_t ticket; /* the store_barrier() it waits for */
    struct kept *next;
};

static struct kept *kept;

bool durable_answer(struct sched_state *st, struct http_request *req)
{
    uint64_t ticket = store_barrier(st->store);
    if (ticket <= store_durable(st->store))
        return false;
    struct kept *k = bo_xcalloc(1, sizeof(*k));
    k->req = req;
    k->ticket = ticket;
    k->next = kept;
    kept = k;
    http_defer_answer(req);
    return true;
}

int durable_flush(struct sched_state *st, bool wait, bo_error_t *err)
{
    int r = wait ? store_flush(st->store, err) : store_flush_start(st->store, err);
    uint64_t durable = store_durable(st->store);
    _cleanup_free_ char *why =
        r < 0 ? bo_xasprintf("the scheduler is stopping after a store failure: %s", err && *err ? (*err)->msg : "")
              : NULL;
    struct kept **at = &kept;
    while (*at) {
        struct kept *k = *at;
        if (!why && k->ticket > durable) {
            at = &k->next;
            continue;
        }
        *at = k->next;
        http_send_deferred(k->req, why);
        free(k);
    }
    return r;
}
