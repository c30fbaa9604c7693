/* store_threaded.h - a store backend that runs another backend's writes on
 * a thread of their own, so that a group commit (store.h) is written while
 * the caller goes on with its next requests.
 *
 * Every write operation is queued, in order, and returns at once; the
 * thread runs the queue against the wrapped backend when a commit (or a
 * large queue) is in it. Nothing else changes for the caller:
 *   - store_commit() and a put or delete outside a batch wait until the
 *     thread has run everything queued, and return its result;
 *   - store_flush_start() queues the group's commit and returns; the
 *     thread then signals store_event_fd(), and store_flush_start() or
 *     store_collect() learn which groups are durable (store_durable());
 *   - loads wait until the queue is empty, then read on the caller's
 *     thread (the wrapped backend is never used by two threads at once).
 *
 * Errors: a write queued inside a transaction cannot fail when it is
 * queued, so its failure fails the transaction's commit instead (a batch
 * whose put failed is never committed: the thread runs nothing more of that
 * transaction and rolls it back). A background commit that fails stops
 * the thread for good: it runs nothing after it, and every later commit
 * fails, since those batches were built on memory that held the lost
 * group (store.h "Group commit": the front end then refuses writes). */
#ifndef BO_STORE_STORE_THREADED_H
#define BO_STORE_STORE_THREADED_H

#include "store/store.h"

/* Wrap `inner` (taking ownership: closing the wrapper closes it). Fails
 * only if the thread or its event fd cannot be made (inner is then
 * closed). */
int store_threaded_wrap(struct store *inner, struct store **ret, bo_error_t *err);

#endif
