/* disk_watch.c - tasks' disk usage measured in a thread beside the loop
 * (see disk_watch.h). */
#include "agent/disk_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

/* Depth-first with one open directory per level, every step relative to
 * its parent's fd: no path is ever built (a tree deeper than PATH_MAX is
 * measured like any other, so nesting hides nothing), nothing is
 * followed (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW), and the process's working
 * directory is never changed (the agent's other threads rely on it). */
enum disk_walk disk_usage(const char *path, uint64_t max_entries, size_t max_depth, const bool *stop,
                          uint64_t *ret_bytes)
{
    *ret_bytes = 0;
    int root = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0)
        return DISK_WALK_OK; /* nothing there (yet, or any more) */
    struct stat st;
    if (fstat(root, &st) < 0) {
        close(root);
        return DISK_WALK_OK;
    }
    dev_t dev = st.st_dev;
    uint64_t bytes = (uint64_t)st.st_blocks * 512, entries = 1;
    enum disk_walk result = DISK_WALK_OK;
    DIR **stack = bo_xcalloc(max_depth + 1, sizeof(*stack));
    size_t depth = 0;
    stack[depth] = fdopendir(root);
    if (!stack[depth]) {
        close(root);
        free(stack);
        *ret_bytes = bytes;
        return DISK_WALK_OK;
    }
    depth++;
    while (depth > 0) {
        DIR *top = stack[depth - 1];
        struct dirent *e = readdir(top);
        if (!e) {
            closedir(top);
            depth--;
            continue;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (stop && __atomic_load_n(stop, __ATOMIC_RELAXED)) {
            result = DISK_WALK_STOPPED;
            break;
        }
        if (++entries > max_entries) {
            result = DISK_WALK_TOO_MANY;
            break;
        }
        if (fstatat(dirfd(top), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
            continue; /* gone meanwhile, or another filesystem's mount point */
        bytes += (uint64_t)st.st_blocks * 512;
        if (!S_ISDIR(st.st_mode))
            continue;
        if (depth >= max_depth) { /* the root is one level */
            result = DISK_WALK_TOO_DEEP;
            break;
        }
        int fd = openat(dirfd(top), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        DIR *d = fdopendir(fd);
        if (!d) {
            close(fd);
            continue;
        }
        stack[depth++] = d;
    }
    while (depth > 0)
        closedir(stack[--depth]);
    free(stack);
    *ret_bytes = bytes;
    return result;
}

static void *round_main(void *arg)
{
    struct disk_watch *w = arg;
    for (size_t i = 0; i < w->n_items && !__atomic_load_n(&w->stop, __ATOMIC_RELAXED); i++) {
        struct disk_item *it = &w->items[i];
        for (size_t p = 0; p < BO_ARRAY_SIZE(it->paths) && it->paths[p] && it->walk == DISK_WALK_OK; p++) {
            uint64_t bytes = 0;
            it->walk = disk_usage(it->paths[p], DISK_WATCH_MAX_ENTRIES, DISK_WATCH_MAX_DEPTH, &w->stop, &bytes);
            it->used += bytes;
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
