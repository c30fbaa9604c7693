/* disk_watch.c - tasks' disk usage measured in a thread beside the loop
 * (see disk_watch.h). */
#include "agent/disk_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

uint64_t disk_usage(const char *path, uint64_t max_entries, const bool *stop, bool *ret_truncated)
{
    char *argv[] = {(char *)path, NULL};
    /* FTS_PHYSICAL: symlinks are counted, never followed; FTS_XDEV: a
     * mount point below is not entered; FTS_NOCHDIR: the thread never
     * changes the process's working directory. */
    FTS *fts = fts_open(argv, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR, NULL);
    uint64_t bytes = 0, entries = 0;
    bool truncated = false;
    if (!fts) {
        *ret_truncated = false;
        return 0;
    }
    FTSENT *e;
    while ((e = fts_read(fts))) {
        if (e->fts_info == FTS_DP)
            continue; /* a directory seen again on the way out */
        if (++entries > max_entries || (stop && __atomic_load_n(stop, __ATOMIC_RELAXED))) {
            truncated = true;
            break;
        }
        if (e->fts_statp && e->fts_info != FTS_NS && e->fts_info != FTS_NSOK && e->fts_info != FTS_ERR &&
            e->fts_info != FTS_DNR)
            bytes += (uint64_t)e->fts_statp->st_blocks * 512;
    }
    fts_close(fts);
    *ret_truncated = truncated;
    return bytes;
}

static void *round_main(void *arg)
{
    struct disk_watch *w = arg;
    for (size_t i = 0; i < w->n_items && !__atomic_load_n(&w->stop, __ATOMIC_RELAXED); i++) {
        struct disk_item *it = &w->items[i];
        for (size_t p = 0; p < BO_ARRAY_SIZE(it->paths) && it->paths[p]; p++) {
            bool trunc = false;
            it->used += disk_usage(it->paths[p], DISK_WATCH_MAX_ENTRIES, &w->stop, &trunc);
            it->truncated |= trunc;
        }
    }
    char b = 1;
    while (write(w->pipe[1], &b, 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

int disk_watch_init(struct disk_watch *w, bo_error_t *err)
{
    *w = (struct disk_watch){.pipe = {-1, -1}};
    if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return bo_error_sys(err, errno, "pipe");
    return 0;
}

int disk_watch_fd(const struct disk_watch *w) { return w->pipe[0]; }

bool disk_watch_running(const struct disk_watch *w) { return w->running; }

int disk_watch_start(struct disk_watch *w, struct disk_item *items, size_t n, bo_error_t *err)
{
    w->items = items;
    w->n_items = n;
    __atomic_store_n(&w->stop, false, __ATOMIC_RELAXED);
    int r = pthread_create(&w->thread, NULL, round_main, w);
    if (r != 0) {
        disk_items_free(items, n);
        w->items = NULL;
        w->n_items = 0;
        return bo_error_sys(err, r, "starting the disk usage thread");
    }
    w->running = true;
    return 0;
}

void disk_watch_finish(struct disk_watch *w, struct disk_item **ret, size_t *ret_n)
{
    char b;
    while (read(w->pipe[0], &b, 1) < 0 && errno == EINTR)
        ;
    if (w->running)
        pthread_join(w->thread, NULL);
    w->running = false;
    *ret = w->items;
    *ret_n = w->n_items;
    w->items = NULL;
    w->n_items = 0;
}

void disk_items_free(struct disk_item *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].task_id);
        for (size_t p = 0; p < BO_ARRAY_SIZE(v[i].paths); p++)
            free(v[i].paths[p]);
    }
    free(v);
}

void disk_watch_clear(struct disk_watch *w)
{
    if (w->running) {
        __atomic_store_n(&w->stop, true, __ATOMIC_RELAXED);
        pthread_join(w->thread, NULL);
        w->running = false;
    }
    disk_items_free(w->items, w->n_items);
    w->items = NULL;
    w->n_items = 0;
    if (w->pipe[0] >= 0)
        close(w->pipe[0]);
    if (w->pipe[1] >= 0)
        close(w->pipe[1]);
    w->pipe[0] = w->pipe[1] = -1;
}
