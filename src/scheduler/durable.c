/* durable.c - answers kept back until the store holds what they say (see
 * durable.h). The kept requests are listed by the HTTP server, which
 * knows when one is freed. */
#include "scheduler/durable.h"

#include "store/store.h"

bool durable_answer(struct sched_state *st, struct http_request *req)
{
    uint64_t ticket = store_barrier(st->store);
    if (ticket <= store_durable(st->store))
        return false;
    http_defer_answer(req, ticket);
    return true;
}

int durable_flush(struct sched_state *st, struct http_server *http, bool wait, bo_error_t *err)
{
    int r = wait ? store_flush(st->store, err) : store_flush_start(st->store, err);
    if (r < 0) {
        _cleanup_free_ char *why = bo_xasprintf("the scheduler is stopping after a store failure: %s",
                                                err && *err ? (*err)->msg : "commit failed");
        http_server_send_deferred(http, 0, why);
        return -1;
    }
    http_server_send_deferred(http, store_durable(st->store), NULL);
    return 0;
}
