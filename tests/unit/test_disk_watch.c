/* Unit tests for agent/disk_watch: what a walk counts (allocated blocks,
 * symlinks never followed, bounded entries and depth, trees deeper than
 * PATH_MAX) and a round in its thread. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/disk_watch.h"
#include "base/fs.h"
#include "harness.h"

static void write_bytes(const char *path, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    char buf[4096];
    memset(buf, 'x', sizeof(buf));
    for (size_t done = 0; done < n; done += sizeof(buf))
        CHECK(write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
    CHECK(fsync(fd) == 0);
    close(fd);
}

TEST(walk_counts_blocks_and_never_follows_symlinks)
{
    char dir[] = "/var/tmp/bo-disk-XXXXXX", out[] = "/var/tmp/bo-disk-out-XXXXXX";
    CHECK(mkdtemp(dir) && mkdtemp(out));
    char path[256];
    snprintf(path, sizeof(path), "%s/a", dir);
    write_bytes(path, 1 << 20);
    snprintf(path, sizeof(path), "%s/sub", dir);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof(path), "%s/sub/b", dir);
    write_bytes(path, 1 << 20);
    /* 8 MiB outside, reached by a symlink: not the task's disk. */
    char big[256];
    snprintf(big, sizeof(big), "%s/big", out);
    write_bytes(big, 8 << 20);
    snprintf(path, sizeof(path), "%s/link", dir);
    CHECK(symlink(out, path) == 0);
    /* A sparse file counts what it holds, not its size. */
    snprintf(path, sizeof(path), "%s/sparse", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 1LL << 30) == 0);
    close(fd);
    uint64_t used = 0;
    CHECK(disk_usage(dir, 1000, 16, NULL, &used) == DISK_WALK_OK);
    CHECK(used >= 2u << 20 && used < 3u << 20);
    /* Bounded: a walk stops after its entries, or its depth, and says so. */
    CHECK(disk_usage(dir, 2, 16, NULL, &used) == DISK_WALK_TOO_MANY);
    CHECK(disk_usage(dir, 1000, 1, NULL, &used) == DISK_WALK_TOO_DEEP);
    CHECK(disk_usage("/nonexistent/path", 10, 16, NULL, &used) == DISK_WALK_OK && used == 0);
    bool stop = true;
    CHECK(disk_usage(dir, 1000, 16, &stop, &used) == DISK_WALK_STOPPED);
    bo_rm_rf(dir, NULL);
    bo_rm_rf(out, NULL);
}

/* A file nested past PATH_MAX (a task can build one with relative mkdir
 * and chdir) is counted: nesting hides nothing. */
TEST(walk_measures_trees_deeper_than_path_max)
{
    char dir[] = "/var/tmp/bo-disk-XXXXXX";
    CHECK(mkdtemp(dir));
    char name[201];
    memset(name, 'n', 200);
    name[200] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(fd >= 0);
    for (int i = 0; i < 30; i++) { /* 30 x 201 bytes: past PATH_MAX (4096) */
        CHECK(mkdirat(fd, name, 0700) == 0);
        int next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(next >= 0);
        close(fd);
        fd = next;
    }
    int f = openat(fd, "deep", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CHECK(f >= 0);
    char buf[4096];
    memset(buf, 'x', sizeof(buf));
    for (int i = 0; i < 256; i++) /* 1 MiB */
        CHECK(write(f, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
    CHECK(fsync(f) == 0);
    close(f);
    close(fd);
    uint64_t used = 0;
    CHECK(disk_usage(dir, 1000, 64, NULL, &used) == DISK_WALK_OK);
    CHECK(used >= 1u << 20);
    CHECK(disk_usage(dir, 1000, 10, NULL, &used) == DISK_WALK_TOO_DEEP);
    /* bo_rm_rf works by path: take it apart from the bottom by fds. */
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fds[31];
    fds[0] = fd;
    for (int i = 1; i <= 30; i++)
        fds[i] = openat(fds[i - 1], name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(unlinkat(fds[30], "deep", 0) == 0);
    for (int i = 30; i >= 1; i--) {
        close(fds[i]);
        CHECK(unlinkat(fds[i - 1], name, AT_REMOVEDIR) == 0);
    }
    close(fds[0]);
    CHECK(rmdir(dir) == 0);
}

TEST(a_round_runs_in_a_thread_and_hands_back_its_results)
{
    char dir[] = "/var/tmp/bo-disk-XXXXXX";
    CHECK(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/a", dir);
    write_bytes(path, 1 << 20);
    struct disk_watch w;
    CHECK(disk_watch_init(&w, NULL) == 0);
    struct disk_item *items = calloc(2, sizeof(*items));
    items[0] = (struct disk_item){.task_id = strdup("t0"), .paths = {strdup(dir), NULL}, .limit = 4096};
    items[1] = (struct disk_item){.task_id = strdup("t1"), .paths = {strdup("/nonexistent"), strdup(dir)},
                                  .limit = 8 << 20};
    CHECK(disk_watch_start(&w, items, 2, NULL) == 0);
    CHECK(disk_watch_running(&w));
    struct pollfd p = {.fd = disk_watch_fd(&w), .events = POLLIN};
    CHECK(poll(&p, 1, 30000) == 1);
    struct disk_item *v = NULL;
    size_t n = 0;
    disk_watch_finish(&w, &v, &n);
    CHECK(!disk_watch_running(&w));
    CHECK(n == 2);
    CHECK(v[0].walk == DISK_WALK_OK && v[1].walk == DISK_WALK_OK);
    CHECK(v[0].used >= 1 << 20 && v[0].used > v[0].limit);
    CHECK(v[1].used >= 1 << 20 && v[1].used < v[1].limit);
    disk_items_free(v, n);
    disk_watch_clear(&w);
    bo_rm_rf(dir, NULL);
}

TEST_MAIN()
