/* resources.c - detection of the machine's resources offered to tasks. */
#include "agent/resources.h"

#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/parse.h"

int resources_detect_cpu(double *ret, bo_error_t *err)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return bo_error_sys(err, errno, "count online CPUs");
    *ret = (double)n;
    return 0;
}

int resources_detect_ram(uint64_t *ret, bo_error_t *err)
{
    _cleanup_free_ char *buf = NULL;
    if (bo_read_file("/proc/meminfo", 1 << 20, &buf, NULL, err) < 0)
        return -1;
    char *p = strstr(buf, "MemTotal:");
    if (!p)
        return bo_error_set(err, BO_E_INTERNAL, "no MemTotal in `/proc/meminfo`");
    p += strlen("MemTotal:");
    while (*p == ' ' || *p == '\t')
        p++;
    char *end = strchr(p, ' ');
    if (!end)
        return bo_error_set(err, BO_E_INTERNAL, "bad MemTotal line in `/proc/meminfo`");
    _cleanup_free_ char *num = bo_xstrndup(p, (size_t)(end - p));
    int64_t kib;
    if (bo_parse_i64(num, 1, INT64_MAX / 1024, "MemTotal", &kib, err) < 0)
        return -1;
    *ret = (uint64_t)kib * 1024;
    return 0;
}

int resources_detect_disk(const char *dir, uint64_t *ret, bo_error_t *err)
{
    struct statvfs st;
    if (statvfs(dir, &st) < 0)
        return bo_error_sys(err, errno, "statvfs `%s`", dir);
    *ret = (uint64_t)st.f_bavail * (uint64_t)st.f_frsize;
    return 0;
}
