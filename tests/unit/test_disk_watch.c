/* Unit tests for agent/disk_watch: what a walk counts (allocated blocks,
 * symlinks never followed, bounded entries) and a round in its thread. */
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
    bool trunc = true;
    uint64_t used = disk_usage(dir, 1000, NULL, &trunc);
    CHECK(!trunc);
    CHECK(used >= 2u << 20 && used < 3u << 20);
    /* Bounded: a walk stops after its entries, and says so. */
    used = disk_usage(dir, 2, NULL, &trunc);
    CHECK(trunc);
    CHECK(disk_usage("/nonexistent/path", 10, NULL, &trunc) == 0);
    bo_rm_rf(dir, NULL);
    bo_rm_rf(out, NULL);
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
    CHECK(v[0].used >= 1 << 20 && v[0].used > v[0].limit);
    CHECK(v[1].used >= 1 << 20 && v[1].used < v[1].limit);
    disk_items_free(v, n);
    disk_watch_clear(&w);
    bo_rm_rf(dir, NULL);
}

TEST_MAIN()
