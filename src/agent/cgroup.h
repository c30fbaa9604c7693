/* cgroup.h - one task cgroup per task, on cgroup v1 (incl. hybrid hosts)
 * or pure v2, behind one interface: create with limits, join, kill
 * everything inside, read the OOM-kill counter, remove. */
#ifndef BO_AGENT_CGROUP_H
#define BO_AGENT_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

enum cgroup_flavour { CGROUP_DETECT = 0, CGROUP_V1, CGROUP_V2 };

struct cgroup_limits {
    double cpu;       /* CPUs (CFS quota = cpu * period, at least 1 ms) */
    uint64_t ram;     /* bytes; swap is not allowed */
    int64_t pids_max; /* processes and threads */
};

struct cgroup_mgr {
    enum cgroup_flavour flavour;
    char *fs_root;   /* "/sys/fs/cgroup" */
    char *root_name; /* parent of every task cgroup, e.g. "borealis" */
    /* Tests only: run against a plain directory tree, creating the control
     * files a real cgroupfs would provide. */
    bool fake;
};

/* flavour CGROUP_DETECT: v2 when fs_root is a cgroup2 mount, else v1. */
int cgroup_mgr_init(struct cgroup_mgr *m, const char *fs_root, const char *root_name,
                    enum cgroup_flavour flavour, bo_error_t *err);
void cgroup_mgr_clear(struct cgroup_mgr *m);
const char *cgroup_flavour_name(enum cgroup_flavour f);

/* Create cgroup `name` (a task id) under the root and set its limits. On
 * failure nothing is left behind. */
int cgroup_create(const struct cgroup_mgr *m, const char *name, const struct cgroup_limits *l,
                  bo_error_t *err);
/* Set (cpu > 0) or lift (cpu <= 0) the CPU quota. A container starts
 * unthrottled (the runtime sets it up inside the cgroup, and a quota of a
 * few ms per period would make that take a second), then gets its quota. */
int cgroup_set_cpu(const struct cgroup_mgr *m, const char *name, double cpu, bo_error_t *err);
/* The cgroup.procs files a process writes "0" to in order to join the
 * cgroup (one per v1 hierarchy). NULL-terminated; free with
 * cgroup_strv_free. Computed before fork so the child only opens/writes. */
char **cgroup_procs_files(const struct cgroup_mgr *m, const char *name);
void cgroup_strv_free(char **v);
/* In a freshly forked child: join every file of cgroup_procs_files().
 * Async-signal-safe; returns 0 or -errno. */
int cgroup_join_self(char *const *procs_files);
/* Number of live (non-zombie) processes in the cgroup; 0 if it is gone. */
int cgroup_count_procs(const struct cgroup_mgr *m, const char *name, bo_error_t *err);
/* SIGKILL every process in the cgroup (forks included) and wait until it is
 * empty (a few seconds at most). A missing cgroup is success. */
int cgroup_kill_all(const struct cgroup_mgr *m, const char *name, bo_error_t *err);
/* OOM kills recorded by the kernel for this cgroup. *ret_exact is false
 * when only a v1 failcnt was available (then 1 means "hit the limit"). */
int cgroup_oom_count(const struct cgroup_mgr *m, const char *name, int64_t *ret_count, bool *ret_exact,
                     bo_error_t *err);
/* What the task has used, for `job status --verbose`. A counter the kernel
 * does not provide (no cpuacct hierarchy, memory.peak before Linux 5.19)
 * is -1. */
struct cgroup_usage {
    int64_t cpu_ns;      /* CPU time of everything that ran in it */
    int64_t memory;      /* bytes charged now (RSS and page cache) */
    int64_t memory_peak; /* the most ever charged */
};
int cgroup_usage(const struct cgroup_mgr *m, const char *name, struct cgroup_usage *ret, bo_error_t *err);
/* rmdir, retrying briefly (a just-emptied cgroup can be busy). A missing
 * cgroup is success. */
int cgroup_remove(const struct cgroup_mgr *m, const char *name, bo_error_t *err);
/* Remove the parent cgroup (root_name) if it is empty; one that still holds
 * task cgroups (another agent's, say) is left alone. Best effort. */
void cgroup_remove_root(const struct cgroup_mgr *m);

#endif
