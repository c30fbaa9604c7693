/* disk_watch.h - how much disk each task uses (its sandbox, and the
 * writable layer of an image task), measured beside the agent's loop.
 *
 * A round measures a snapshot of tasks in a thread: each path is walked
 * physically (never following a symlink) and without leaving its
 * filesystem (a mount inside is not the task's disk), adding up allocated
 * blocks (st_blocks, so sparse files count what they hold). The cost is
 * bounded: at most DISK_WATCH_MAX_ENTRIES entries and DISK_WATCH_MAX_DEPTH
 * levels per task. A task past either cannot be measured, and rather than
 * let it hide data past the bound, the agent treats it as over its limit.
 * The thread owns the round until it writes a byte to the pipe; the loop
 * then takes the results. One round at a time, one every interval. */
#ifndef BO_AGENT_DISK_WATCH_H
#define BO_AGENT_DISK_WATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define DISK_WATCH_MAX_ENTRIES 1000000
#define DISK_WATCH_MAX_DEPTH 256

enum disk_walk {
    DISK_WALK_OK,
    DISK_WALK_TOO_MANY, /* more than the entries allowed */
    DISK_WALK_TOO_DEEP, /* directories nested deeper than allowed */
    DISK_WALK_STOPPED,  /* the agent is stopping */
};

struct disk_item {
    char *task_id;
    char *paths[2]; /* sandbox, writable layer (NULL: none) */
    uint64_t limit; /* bytes */
    uint64_t used;  /* filled by the round */
    enum disk_walk walk; /* DISK_WALK_OK: `used` is the whole of it */
};

struct disk_watch {
    int pipe[2];
    pthread_t thread;
    bool running;
    bool stop; /* set by the loop to end a round early (atomic access) */
    struct disk_item *items;
    size_t n_items;
};

int disk_watch_init(struct disk_watch *w, bo_error_t *err);
/* Ends a running round (the walk stops at its next entry) and frees all. */
void disk_watch_clear(struct disk_watch *w);
/* Readable when a round has ended. */
int disk_watch_fd(const struct disk_watch *w);
bool disk_watch_running(const struct disk_watch *w);
/* Start a round over `items` (taken over). */
int disk_watch_start(struct disk_watch *w, struct disk_item *items, size_t n, bo_error_t *err);
/* After the fd was readable: the round's results (the caller frees them
 * with disk_items_free). */
void disk_watch_finish(struct disk_watch *w, struct disk_item **ret, size_t *ret_n);
void disk_items_free(struct disk_item *v, size_t n);

/* One walk (also for tests and the benchmark): bytes allocated under the
 * directory `path` (0 if it does not exist), as far as the walk went. */
enum disk_walk disk_usage(const char *path, uint64_t max_entries, size_t max_depth, const bool *stop,
                          uint64_t *ret_bytes);

#endif
