/* bench_disk_walk.c - the cost of measuring a task's disk (disk_watch.c):
 * one walk over a sandbox of N files in D directories, warm cache (the
 * agent walks every interval, so the tree is usually cached), best of 5.
 *
 *   bench_disk_walk N
 *
 * Prints the time per walk and per entry; the tree is made under /var/tmp
 * and removed. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/disk_watch.h"
#include "base/fs.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_disk_walk N\n");
        return 2;
    }
    int n = atoi(argv[1]);
    if (n < 1 || n > DISK_WATCH_MAX_ENTRIES) {
        fprintf(stderr, "N must be 1..%d\n", DISK_WATCH_MAX_ENTRIES);
        return 2;
    }
    char root[] = "/var/tmp/bo-bench-walk-XXXXXX";
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    char path[256];
    int per_dir = 1000;
    for (int i = 0; i < n; i++) {
        if (i % per_dir == 0) {
            snprintf(path, sizeof(path), "%s/d%d", root, i / per_dir);
            mkdir(path, 0700);
        }
        snprintf(path, sizeof(path), "%s/d%d/f%d", root, i / per_dir, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, "x", 1) != 1) {
            perror(path);
            return 1;
        }
        close(fd);
    }
    double best = 1e18;
    uint64_t bytes = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now_ms();
        if (disk_usage(root, DISK_WATCH_MAX_ENTRIES, DISK_WATCH_MAX_DEPTH, NULL, &bytes) != DISK_WALK_OK) {
            fprintf(stderr, "the walk stopped short (N past its bounds)\n");
            bo_rm_rf(root, NULL);
            return 1;
        }
        double dt = now_ms() - t0;
        if (dt < best)
            best = dt;
    }
    printf("disk walk: %d files in %d dirs (%llu KiB allocated): %.1f ms per walk, %.2f us per entry\n", n,
           (n + per_dir - 1) / per_dir, (unsigned long long)(bytes >> 10), best, best * 1e3 / n);
    bo_rm_rf(root, NULL);
    return 0;
}
