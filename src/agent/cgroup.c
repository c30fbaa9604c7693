/* cgroup.c - flavour detection, dispatch and the helpers both cgroup
 * flavours share. */
#include "agent/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "agent/cgroup_internal.h"
#include "base/fs.h"
#include "base/parse.h"

#define CG_FILE_MAX (4u << 20)

static const struct cgroup_ops *ops_of(const struct cgroup_mgr *m)
{
    return m->flavour == CGROUP_V2 ? &cgroup_v2_ops : &cgroup_v1_ops;
}

const char *cgroup_flavour_name(enum cgroup_flavour f)
{
    return f == CGROUP_V2 ? "v2" : f == CGROUP_V1 ? "v1" : "detect";
}

int cgroup_mgr_init(struct cgroup_mgr *m, const char *fs_root, const char *root_name,
                    enum cgroup_flavour flavour, bo_error_t *err)
{
    if (flavour == CGROUP_DETECT) {
        struct statfs st;
        if (statfs(fs_root, &st) < 0)
            return bo_error_sys(err, errno, "statfs `%s`", fs_root);
        if (st.f_type == CGROUP2_SUPER_MAGIC) {
            flavour = CGROUP_V2;
        } else {
            _cleanup_free_ char *mem = bo_xasprintf("%s/memory", fs_root);
            if (!cg_exists(mem))
                return bo_error_set(err, BO_E_INTERNAL,
                                    "`%s` is neither a cgroup2 mount nor a v1 hierarchy with a memory controller",
                                    fs_root);
            flavour = CGROUP_V1;
        }
    }
    *m = (struct cgroup_mgr){.flavour = flavour, .fs_root = bo_xstrdup(fs_root), .root_name = bo_xstrdup(root_name)};
    return 0;
}

void cgroup_mgr_clear(struct cgroup_mgr *m)
{
    free(m->fs_root);
    free(m->root_name);
    *m = (struct cgroup_mgr){0};
}

int cgroup_create(const struct cgroup_mgr *m, const char *name, const struct cgroup_limits *l, bo_error_t *err)
{
    return ops_of(m)->create(m, name, l, err);
}

int cgroup_set_cpu(const struct cgroup_mgr *m, const char *name, double cpu, bo_error_t *err)
{
    if (ops_of(m)->set_cpu(m, name, cpu, err) < 0)
        return bo_error_wrap(err, "cgroup `%s`", name);
    return 0;
}

char **cgroup_procs_files(const struct cgroup_mgr *m, const char *name)
{
    return ops_of(m)->procs_files(m, name);
}

void cgroup_strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

int cgroup_join_self(char *const *procs_files)
{
    for (char *const *p = procs_files; *p; p++) {
        int fd = open(*p, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        ssize_t n = write(fd, "0", 1);
        int e = errno;
        close(fd);
        if (n != 1)
            return -(n < 0 ? e : EIO);
    }
    return 0;
}

int cgroup_count_procs(const struct cgroup_mgr *m, const char *name, bo_error_t *err)
{
    char **files = cgroup_procs_files(m, name);
    int total = 0;
    for (char **p = files; *p; p++) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (cg_read_procs(*p, &pids, &n, err) < 0) {
            cgroup_strv_free(files);
            return -1;
        }
        if ((int)n > total)
            total = (int)n;
    }
    cgroup_strv_free(files);
    return total;
}

int cgroup_kill_all(const struct cgroup_mgr *m, const char *name, bo_error_t *err)
{
    return ops_of(m)->kill_all(m, name, err);
}

int cgroup_oom_count(const struct cgroup_mgr *m, const char *name, int64_t *ret_count, bool *ret_exact,
                     bo_error_t *err)
{
    return ops_of(m)->oom_count(m, name, ret_count, ret_exact, err);
}

int cgroup_usage(const struct cgroup_mgr *m, const char *name, struct cgroup_usage *ret, bo_error_t *err)
{
    return ops_of(m)->usage(m, name, ret, err);
}

int cgroup_remove(const struct cgroup_mgr *m, const char *name, bo_error_t *err)
{
    return ops_of(m)->remove(m, name, err);
}

void cgroup_remove_root(const struct cgroup_mgr *m)
{
    ops_of(m)->remove_root(m);
}

/* ---- helpers shared by the flavours ---- */

void cg_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int cg_write(const struct cgroup_mgr *m, const char *path, const char *value, bo_error_t *err)
{
    int flags = O_WRONLY | O_CLOEXEC | (m->fake ? O_CREAT | O_TRUNC : 0);
    _cleanup_close_ int fd = open(path, flags, 0644);
    if (fd < 0)
        return bo_error_sys(err, errno, "open `%s`", path);
    size_t len = strlen(value);
    ssize_t n;
    do
        n = write(fd, value, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return bo_error_sys(err, errno, "write `%s` to `%s`", value, path);
    if ((size_t)n != len)
        return bo_error_set(err, BO_E_IO, "short write of `%s` to `%s`", value, path);
    return 0;
}

bool cg_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

int cg_mkdir(const char *path, bo_error_t *err)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return bo_error_sys(err, errno, "mkdir `%s`", path);
    return 0;
}

int cg_rmdir(const char *path, bo_error_t *err)
{
    /* Right after its last process exits a cgroup may still be busy for a
     * moment (css offlining), so retry for up to ~2 s. */
    for (int i = 0;; i++) {
        if (rmdir(path) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY || i >= 200)
            return bo_error_sys(err, errno, "rmdir `%s`", path);
        cg_sleep_ms(10);
    }
}

static bool pid_is_zombie(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_free_ char *buf = NULL;
    if (bo_read_file(path, 4096, &buf, NULL, NULL) < 0)
        return true; /* gone */
    const char *p = strrchr(buf, ')');
    return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

int cg_read_procs(const char *path, pid_t **ret, size_t *ret_n, bo_error_t *err)
{
    _cleanup_free_ char *buf = NULL;
    bo_error_t e = NULL;
    if (bo_read_file(path, CG_FILE_MAX, &buf, NULL, &e) < 0) {
        if (e->sys_errno == ENOENT || e->sys_errno == ENODEV) {
            bo_error_free(e);
            *ret = NULL;
            *ret_n = 0;
            return 0;
        }
        *err = e;
        return -1;
    }
    size_t n = 0, cap = 0;
    pid_t *pids = NULL;
    for (char *save = NULL, *tok = strtok_r(buf, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
        int64_t v;
        if (bo_parse_i64(tok, 1, INT32_MAX, path, &v, NULL) < 0 || pid_is_zombie((pid_t)v))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            pids = bo_xrealloc(pids, cap * sizeof(*pids));
        }
        pids[n++] = (pid_t)v;
    }
    *ret = pids;
    *ret_n = n;
    return 0;
}

int cg_read_key(const char *path, const char *key, int64_t *ret, bool *ret_found, bo_error_t *err)
{
    _cleanup_free_ char *buf = NULL;
    if (bo_read_file(path, CG_FILE_MAX, &buf, NULL, err) < 0)
        return -1;
    size_t klen = strlen(key);
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, key, klen) != 0 || line[klen] != ' ')
            continue;
        if (bo_parse_i64(line + klen + 1, 0, INT64_MAX, path, ret, err) < 0)
            return -1;
        *ret_found = true;
        return 0;
    }
    *ret_found = false;
    return 0;
}

int cg_read_int(const char *path, int64_t *ret, bo_error_t *err)
{
    _cleanup_free_ char *buf = NULL;
    if (bo_read_file(path, 4096, &buf, NULL, err) < 0)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return bo_parse_i64(buf, INT64_MIN, INT64_MAX, path, ret, err);
}

int cg_read_opt_int(const char *path, int64_t *ret, bo_error_t *err)
{
    *ret = -1;
    if (!cg_exists(path))
        return 0;
    if (cg_read_int(path, ret, err) < 0)
        return -1;
    if (*ret < 0)
        *ret = -1;
    return 0;
}
