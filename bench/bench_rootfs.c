/* bench_rootfs.c - per-task cost of a container root filesystem from a
 * cached image: N image_rootfs_prepare (one overlay mount over the shared
 * layers, no copy) then N image_rootfs_release, with p50/p99 of each.
 *
 *   bench_rootfs DATA_DIR DIGEST_REF N
 *
 * The image must be in DATA_DIR's store (bench/image.sh imports one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "image/store.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    printf("%-8s %d tasks: total %.1f ms, p50 %.2f ms, p99 %.2f ms per task\n", what, n, sum, v[n / 2],
           v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1]);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_rootfs DATA_DIR DIGEST_REF N\n");
        return 2;
    }
    int n = atoi(argv[3]);
    if (n < 1 || n > 100000)
        return 2;
    struct image_store *s;
    bo_error_t err = NULL;
    if (image_store_open(argv[1], NULL, &s, &err) < 0) {
        fprintf(stderr, "%s\n", err->msg);
        return 1;
    }
    double *prep = calloc((size_t)n, sizeof(double)), *rel = calloc((size_t)n, sizeof(double));
    int status = 0, made = 0;
    for (int i = 0; i < n; i++) {
        char *dir = bo_xasprintf("%s/bench-rootfs/%d", argv[1], i), *rootfs = NULL;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (image_rootfs_prepare(s, argv[2], dir, &rootfs, NULL, &err) < 0) {
            fprintf(stderr, "task %d: %s\n", i, err->msg);
            bo_error_free(err);
            err = NULL;
            free(dir);
            status = 1;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        prep[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        made++;
        free(rootfs);
        free(dir);
    }
    for (int i = 0; i < made; i++) {
        char *dir = bo_xasprintf("%s/bench-rootfs/%d", argv[1], i);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (image_rootfs_release(s, dir, &err) < 0) {
            fprintf(stderr, "task %d: %s\n", i, err->msg);
            bo_error_free(err);
            err = NULL;
            status = 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        rel[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        rmdir(dir);
        free(dir);
    }
    char *top = bo_xasprintf("%s/bench-rootfs", argv[1]);
    rmdir(top);
    free(top);
    if (made)
        report("prepare", prep, made);
    if (made)
        report("release", rel, made);
    free(prep);
    free(rel);
    image_store_close(s);
    return status;
}
