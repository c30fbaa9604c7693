/* bench_core.h - what the in-process scheduler benchmarks (bench_placement,
 * bench_restart) share: the job they place, reading their own memory, and
 * their positional arguments. */
#ifndef BO_BENCH_CORE_H
#define BO_BENCH_CORE_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/parse.h"
#include "base/util.h"
#include "model/job.h"

/* A field of /proc/self/status in KiB ("VmRSS:", "VmHWM:"), -1 if unread. */
static inline long bench_status_kib(const char *field)
{
    _cleanup_free_ char *buf = NULL;
    if (bo_read_file("/proc/self/status", 1 << 16, &buf, NULL, NULL) < 0)
        return -1;
    const char *p = strstr(buf, field);
    return p ? strtol(p + strlen(field), NULL, 10) : -1;
}

/* Job bench/prod/jN: `instances` small services with one port. */
static inline struct job_config *bench_job(int n, int instances)
{
    _cleanup_free_ char *text = bo_xasprintf(
        "{\"cluster\":\"local\",\"role\":\"bench\",\"environment\":\"prod\",\"name\":\"j%d\",\"instances\":%d,"
        "\"service\":true,\"task\":{\"resources\":{\"cpu\":0.01,\"ram\":16777216,\"disk\":0},"
        "\"ports\":[\"http\"],\"processes\":[{\"name\":\"main\",\"cmdline\":\"exec sleep 100000\"}]}}",
        n, instances);
    json_t *j = json_loads(text, 0, NULL);
    struct job_config *c = NULL;
    if (job_config_from_json(j, &c, NULL) < 0)
        abort();
    json_decref(j);
    return c;
}

/* Positional argument i (1-100,000,000), `def` when absent; exits 2 with
 * `usage` when it is not a number in range. */
static inline int64_t bench_arg(int argc, char **argv, int i, int64_t def, const char *usage)
{
    int64_t v = def;
    if (argc > i && bo_parse_i64(argv[i], 1, 100000000, "argument", &v, NULL) < 0) {
        fprintf(stderr, "usage: %s\n", usage);
        exit(2);
    }
    return v;
}

#endif
