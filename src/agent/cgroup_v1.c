/* cgroup_v1.c - task cgroups on v1 hierarchies (also hybrid hosts): one
 * directory per controller, the freezer for a reliable kill-all. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent/cgroup_internal.h"
#include "base/clock.h"

#define CFS_PERIOD_US 100000
#define KILL_TIMEOUT_MS 5000

/* The freezer comes first so a kill-all that freezes catches a process as
 * soon as it joined any hierarchy. cpu and cpuacct are often co-mounted
 * (both names are then symlinks to one directory): harmless duplicates. */
static const struct {
    const char *name;
    bool required;
} controllers[] = {
    {"freezer", true}, {"memory", true}, {"cpu", true}, {"cpuacct", false}, {"pids", false},
};

static char *ctrl_dir(const struct cgroup_mgr *m, const char *ctrl, const char *name)
{
    return name ? bo_xasprintf("%s/%s/%s/%s", m->fs_root, ctrl, m->root_name, name)
                : bo_xasprintf("%s/%s/%s", m->fs_root, ctrl, m->root_name);
}

static bool ctrl_present(const struct cgroup_mgr *m, const char *ctrl)
{
    _cleanup_free_ char *p = bo_xasprintf("%s/%s", m->fs_root, ctrl);
    return cg_exists(p);
}

static int set_file(const struct cgroup_mgr *m, const char *ctrl, const char *name, const char *file,
                    const char *value, bo_error_t *err)
{
    _cleanup_free_ char *dir = ctrl_dir(m, ctrl, name);
    _cleanup_free_ char *path = bo_xasprintf("%s/%s", dir, file);
    return cg_write(m, path, value, err);
}

static int v1_remove(const struct cgroup_mgr *m, const char *name, bo_error_t *err)
{
    int r = 0;
    for (size_t i = 0; i < BO_ARRAY_SIZE(controllers); i++) {
        if (!ctrl_present(m, controllers[i].name))
            continue;
        _cleanup_free_ char *dir = ctrl_dir(m, controllers[i].name, name);
        /* Keep going: remove as much as possible, report the first error. */
        if (cg_rmdir(dir, r < 0 ? NULL : err) < 0)
            r = -1;
    }
    return r;
}

static void v1_remove_root(const struct cgroup_mgr *m)
{
    for (size_t i = 0; i < BO_ARRAY_SIZE(controllers); i++) {
        _cleanup_free_ char *dir = ctrl_dir(m, controllers[i].name, NULL);
        (void)rmdir(dir); /* EBUSY: other task cgroups still live there */
    }
    /* The OCI runtime makes the task's cgroup (and so the root) in every
     * hierarchy, also those the agent does not use (freezer, devices, the
     * named systemd one, the hybrid unified tree). */
    DIR *d = opendir(m->fs_root);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        _cleanup_free_ char *dir = bo_xasprintf("%s/%s/%s", m->fs_root, e->d_name, m->root_name);
        (void)rmdir(dir);
    }
    closedir(d);
}

static int v1_set_cpu(const struct cgroup_mgr *m, const char *name, double cpu, bo_error_t *err)
{
    char buf[64];
    long long quota = (long long)(cpu * CFS_PERIOD_US);
    if (quota < 1000)
        quota = 1000;
    snprintf(buf, sizeof(buf), "%lld", cpu > 0 ? quota : -1LL);
    if (set_file(m, "cpu", name, "cpu.cfs_period_us", "100000", err) < 0 ||
        set_file(m, "cpu", name, "cpu.cfs_quota_us", buf, err) < 0)
        return -1;
    return 0;
}

static int v1_create(const struct cgroup_mgr *m, const char *name, const struct cgroup_limits *l, bo_error_t *err)
{
    for (size_t i = 0; i < BO_ARRAY_SIZE(controllers); i++) {
        const char *c = controllers[i].name;
        if (!ctrl_present(m, c)) {
            if (!controllers[i].required)
                continue;
            bo_error_set(err, BO_E_INTERNAL, "cgroup v1 controller `%s` is not mounted under `%s`", c, m->fs_root);
            goto fail;
        }
        _cleanup_free_ char *parent = ctrl_dir(m, c, NULL);
        _cleanup_free_ char *dir = ctrl_dir(m, c, name);
        if (cg_mkdir(parent, err) < 0 || cg_mkdir(dir, err) < 0)
            goto fail;
    }
    char buf[64];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)l->ram);
    if (set_file(m, "memory", name, "memory.limit_in_bytes", buf, err) < 0)
        goto fail;
    {
        /* Only when swap accounting is on; must be >= the memory limit. */
        _cleanup_free_ char *dir = ctrl_dir(m, "memory", name);
        _cleanup_free_ char *memsw = bo_xasprintf("%s/memory.memsw.limit_in_bytes", dir);
        if (cg_exists(memsw) && cg_write(m, memsw, buf, err) < 0)
            goto fail;
    }
    if (set_file(m, "memory", name, "memory.swappiness", "0", err) < 0)
        goto fail;
    if (v1_set_cpu(m, name, l->cpu, err) < 0)
        goto fail;
    if (ctrl_present(m, "pids")) {
        snprintf(buf, sizeof(buf), "%lld", (long long)(l->pids_max > 0 ? l->pids_max : 4096));
        if (set_file(m, "pids", name, "pids.max", buf, err) < 0)
            goto fail;
    }
    return 0;
fail:
    v1_remove(m, name, NULL);
    return bo_error_wrap(err, "cgroup `%s`", name);
}

static char **v1_procs_files(const struct cgroup_mgr *m, const char *name)
{
    char **v = bo_xcalloc(BO_ARRAY_SIZE(controllers) + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < BO_ARRAY_SIZE(controllers); i++) {
        if (!ctrl_present(m, controllers[i].name))
            continue;
        _cleanup_free_ char *dir = ctrl_dir(m, controllers[i].name, name);
        v[n++] = bo_xasprintf("%s/cgroup.procs", dir);
    }
    return v;
}

static int freezer_set(const struct cgroup_mgr *m, const char *dir, const char *state, bo_error_t *err)
{
    _cleanup_free_ char *path = bo_xasprintf("%s/freezer.state", dir);
    if (cg_write(m, path, state, err) < 0)
        return -1;
    if (strcmp(state, "FROZEN") != 0)
        return 0;
    /* FREEZING can take a moment; a task stuck in the kernel may keep it
     * there, and then the SIGKILLs below still queue, so do not wait long. */
    for (int i = 0; i < 100; i++) {
        char buf[32] = "";
        FILE *f = fopen(path, "re");
        if (!f)
            break;
        bool frozen = fgets(buf, sizeof(buf), f) && strncmp(buf, "FROZEN", 6) == 0;
        fclose(f);
        if (frozen)
            break;
        cg_sleep_ms(1);
    }
    return 0;
}

static int v1_kill_all(const struct cgroup_mgr *m, const char *name, bo_error_t *err)
{
    _cleanup_free_ char *dir = ctrl_dir(m, "freezer", name);
    if (!cg_exists(dir))
        return 0;
    _cleanup_free_ char *procs = bo_xasprintf("%s/cgroup.procs", dir);
    int64_t deadline = bo_mono_ms() + KILL_TIMEOUT_MS;
    int kill_errno = 0; /* reported if processes survive */
    /* Freeze so nothing can fork while we kill, kill everything listed,
     * thaw so the SIGKILLs are delivered, and repeat until empty. */
    for (;;) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (cg_read_procs(procs, &pids, &n, err) < 0)
            return -1;
        if (n == 0)
            return 0;
        if (bo_mono_ms() > deadline)
            return bo_error_set(err, BO_E_INTERNAL, "%zu process%s still in cgroup `%s` after SIGKILL%s%s", n,
                                n == 1 ? "" : "es", dir, kill_errno ? ": kill: " : "",
                                kill_errno ? strerror(kill_errno) : "");
        if (freezer_set(m, dir, "FROZEN", err) < 0)
            return -1;
        free(pids);
        pids = NULL;
        if (cg_read_procs(procs, &pids, &n, err) < 0) {
            freezer_set(m, dir, "THAWED", NULL);
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH) /* ESRCH: it exited meanwhile */
                kill_errno = errno;
        if (freezer_set(m, dir, "THAWED", err) < 0)
            return -1;
        for (int i = 0; i < 50; i++) {
            free(pids);
            pids = NULL;
            if (cg_read_procs(procs, &pids, &n, err) < 0)
                return -1;
            if (n == 0)
                return 0;
            cg_sleep_ms(2);
        }
    }
}

static int v1_oom_count(const struct cgroup_mgr *m, const char *name, int64_t *ret_count, bool *ret_exact,
                        bo_error_t *err)
{
    _cleanup_free_ char *dir = ctrl_dir(m, "memory", name);
    _cleanup_free_ char *ctl = bo_xasprintf("%s/memory.oom_control", dir);
    int64_t v = 0;
    bool found = false;
    if (cg_read_key(ctl, "oom_kill", &v, &found, err) < 0)
        return -1;
    if (found) {
        *ret_count = v;
        *ret_exact = true;
        return 0;
    }
    /* Kernels before 4.13 do not count OOM kills: hitting the limit is the
     * best hint, confirmed by the caller with a SIGKILLed process. */
    _cleanup_free_ char *failcnt = bo_xasprintf("%s/memory.failcnt", dir);
    if (cg_read_int(failcnt, &v, err) < 0)
        return -1;
    *ret_count = v > 0 ? 1 : 0;
    *ret_exact = false;
    return 0;
}

static int v1_usage(const struct cgroup_mgr *m, const char *name, struct cgroup_usage *ret, bo_error_t *err)
{
    _cleanup_free_ char *mem = ctrl_dir(m, "memory", name);
    _cleanup_free_ char *cpu = ctrl_dir(m, "cpuacct", name);
    _cleanup_free_ char *usage = bo_xasprintf("%s/cpuacct.usage", cpu);
    _cleanup_free_ char *current = bo_xasprintf("%s/memory.usage_in_bytes", mem);
    _cleanup_free_ char *peak = bo_xasprintf("%s/memory.max_usage_in_bytes", mem);
    return cg_read_opt_int(usage, &ret->cpu_ns, err) < 0 || cg_read_opt_int(current, &ret->memory, err) < 0 ||
                   cg_read_opt_int(peak, &ret->memory_peak, err) < 0
               ? -1
               : 0;
}

const struct cgroup_ops cgroup_v1_ops = {
    .usage = v1_usage,
    .create = v1_create,
    .procs_files = v1_procs_files,
    .kill_all = v1_kill_all,
    .oom_count = v1_oom_count,
    .remove = v1_remove,
    .remove_root = v1_remove_root,
    .set_cpu = v1_set_cpu,
};
