/* cgroup_v2.c - task cgroups on the unified (v2) hierarchy: one directory,
 * controllers enabled through the parents' subtree_control, cgroup.kill. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent/cgroup_internal.h"
#include "base/clock.h"

#define CFS_PERIOD_US 100000
#define KILL_TIMEOUT_MS 5000

static char *task_dir(const struct cgroup_mgr *m, const char *name)
{
    return bo_xasprintf("%s/%s/%s", m->fs_root, m->root_name, name);
}

static int set_file(const struct cgroup_mgr *m, const char *dir, const char *file, const char *value, bo_error_t *err)
{
    _cleanup_free_ char *path = bo_xasprintf("%s/%s", dir, file);
    return cg_write(m, path, value, err);
}

static int v2_remove(const struct cgroup_mgr *m, const char *name, bo_error_t *err)
{
    _cleanup_free_ char *dir = task_dir(m, name);
    return cg_rmdir(dir, err);
}

static void v2_remove_root(const struct cgroup_mgr *m)
{
    _cleanup_free_ char *dir = bo_xasprintf("%s/%s", m->fs_root, m->root_name);
    (void)rmdir(dir); /* EBUSY: other task cgroups still live there */
}

static int v2_set_cpu(const struct cgroup_mgr *m, const char *name, double cpu, bo_error_t *err)
{
    char buf[64];
    long long quota = (long long)(cpu * CFS_PERIOD_US);
    if (quota < 1000)
        quota = 1000;
    if (cpu > 0)
        snprintf(buf, sizeof(buf), "%lld %d", quota, CFS_PERIOD_US);
    else
        snprintf(buf, sizeof(buf), "max %d", CFS_PERIOD_US);
    _cleanup_free_ char *dir = task_dir(m, name);
    return set_file(m, dir, "cpu.max", buf, err);
}

static int v2_create(const struct cgroup_mgr *m, const char *name, const struct cgroup_limits *l, bo_error_t *err)
{
    _cleanup_free_ char *parent = bo_xasprintf("%s/%s", m->fs_root, m->root_name);
    _cleanup_free_ char *dir = task_dir(m, name);
    if (cg_mkdir(parent, err) < 0)
        goto wrap;
    /* Controllers reach a cgroup only if every ancestor delegates them. */
    if (set_file(m, m->fs_root, "cgroup.subtree_control", "+memory +cpu +pids", err) < 0 ||
        set_file(m, parent, "cgroup.subtree_control", "+memory +cpu +pids", err) < 0)
        goto wrap;
    if (cg_mkdir(dir, err) < 0)
        goto wrap;
    char buf[64];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)l->ram);
    if (set_file(m, dir, "memory.max", buf, err) < 0)
        goto fail;
    {
        /* Absent when the kernel does not account swap: nothing to limit. */
        _cleanup_free_ char *swap = bo_xasprintf("%s/memory.swap.max", dir);
        if ((m->fake || cg_exists(swap)) && cg_write(m, swap, "0", err) < 0)
            goto fail;
    }
    if (v2_set_cpu(m, name, l->cpu, err) < 0)
        goto fail;
    snprintf(buf, sizeof(buf), "%lld", (long long)(l->pids_max > 0 ? l->pids_max : 4096));
    if (set_file(m, dir, "pids.max", buf, err) < 0)
        goto fail;
    return 0;
fail:
    if (!m->fake)
        v2_remove(m, name, NULL);
wrap:
    return bo_error_wrap(err, "cgroup `%s`", name);
}

static char **v2_procs_files(const struct cgroup_mgr *m, const char *name)
{
    char **v = bo_xcalloc(2, sizeof(char *));
    _cleanup_free_ char *dir = task_dir(m, name);
    v[0] = bo_xasprintf("%s/cgroup.procs", dir);
    return v;
}

static int v2_kill_all(const struct cgroup_mgr *m, const char *name, bo_error_t *err)
{
    _cleanup_free_ char *dir = task_dir(m, name);
    if (!cg_exists(dir))
        return 0;
    _cleanup_free_ char *procs = bo_xasprintf("%s/cgroup.procs", dir);
    _cleanup_free_ char *killf = bo_xasprintf("%s/cgroup.kill", dir);
    bool have_kill = m->fake || cg_exists(killf);
    int64_t deadline = bo_mono_ms() + KILL_TIMEOUT_MS;
    int kill_errno = 0; /* reported if processes survive */
    for (int round = 0;; round++) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        /* cgroup.kill (5.14+) kills atomically, forks included. */
        if (have_kill && round % 50 == 0 && cg_write(m, killf, "1", err) < 0)
            return -1;
        if (cg_read_procs(procs, &pids, &n, err) < 0)
            return -1;
        if (n == 0)
            return 0;
        if (bo_mono_ms() > deadline)
            return bo_error_set(err, BO_E_INTERNAL, "%zu process%s still in cgroup `%s` after SIGKILL%s%s", n,
                                n == 1 ? "" : "es", dir, kill_errno ? ": kill: " : "",
                                kill_errno ? strerror(kill_errno) : "");
        if (!have_kill) {
            if (set_file(m, dir, "cgroup.freeze", "1", err) < 0)
                return -1;
            /* Re-read once frozen: a pid listed before may have exited and
             * been reused by a process outside the cgroup. */
            free(pids);
            pids = NULL;
            if (cg_read_procs(procs, &pids, &n, err) < 0) {
                set_file(m, dir, "cgroup.freeze", "0", NULL);
                return -1;
            }
            for (size_t i = 0; i < n; i++)
                if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH) /* ESRCH: it exited meanwhile */
                    kill_errno = errno;
            if (set_file(m, dir, "cgroup.freeze", "0", err) < 0)
                return -1;
        }
        cg_sleep_ms(2);
    }
}

static int v2_oom_count(const struct cgroup_mgr *m, const char *name, int64_t *ret_count, bool *ret_exact,
                        bo_error_t *err)
{
    _cleanup_free_ char *dir = task_dir(m, name);
    _cleanup_free_ char *events = bo_xasprintf("%s/memory.events", dir);
    int64_t v = 0;
    bool found = false;
    if (cg_read_key(events, "oom_kill", &v, &found, err) < 0)
        return -1;
    *ret_count = found ? v : 0;
    *ret_exact = true;
    return 0;
}

static int v2_usage(const struct cgroup_mgr *m, const char *name, struct cgroup_usage *ret, bo_error_t *err)
{
    _cleanup_free_ char *dir = task_dir(m, name);
    _cleanup_free_ char *stat = bo_xasprintf("%s/cpu.stat", dir);
    _cleanup_free_ char *current = bo_xasprintf("%s/memory.current", dir);
    _cleanup_free_ char *peak = bo_xasprintf("%s/memory.peak", dir);
    int64_t usec = 0;
    bool found = false;
    if ((cg_exists(stat) && cg_read_key(stat, "usage_usec", &usec, &found, err) < 0) ||
        cg_read_opt_int(current, &ret->memory, err) < 0 || cg_read_opt_int(peak, &ret->memory_peak, err) < 0)
        return -1;
    ret->cpu_ns = found && usec >= 0 && usec <= INT64_MAX / 1000 ? usec * 1000 : -1;
    return 0;
}

const struct cgroup_ops cgroup_v2_ops = {
    .usage = v2_usage,
    .create = v2_create,
    .procs_files = v2_procs_files,
    .kill_all = v2_kill_all,
    .oom_count = v2_oom_count,
    .remove = v2_remove,
    .remove_root = v2_remove_root,
    .set_cpu = v2_set_cpu,
};
