/* cgroup_internal.h - what cgroup.c shares with its two flavours
 * (cgroup_v1.c, cgroup_v2.c). Not for use outside cgroup*.c. */
#ifndef BO_AGENT_CGROUP_INTERNAL_H
#define BO_AGENT_CGROUP_INTERNAL_H

#include <sys/types.h>

#include "agent/cgroup.h"

struct cgroup_ops {
    int (*create)(const struct cgroup_mgr *m, const char *name, const struct cgroup_limits *l, bo_error_t *err);
    char **(*procs_files)(const struct cgroup_mgr *m, const char *name);
    int (*kill_all)(const struct cgroup_mgr *m, const char *name, bo_error_t *err);
    int (*oom_count)(const struct cgroup_mgr *m, const char *name, int64_t *ret_count, bool *ret_exact,
                     bo_error_t *err);
    int (*usage)(const struct cgroup_mgr *m, const char *name, struct cgroup_usage *ret, bo_error_t *err);
    int (*remove)(const struct cgroup_mgr *m, const char *name, bo_error_t *err);
    void (*remove_root)(const struct cgroup_mgr *m); /* rmdir once, errors ignored */
    int (*set_cpu)(const struct cgroup_mgr *m, const char *name, double cpu, bo_error_t *err);
};

extern const struct cgroup_ops cgroup_v1_ops;
extern const struct cgroup_ops cgroup_v2_ops;

/* Write a control file (created only for a fake tree). */
int cg_write(const struct cgroup_mgr *m, const char *path, const char *value, bo_error_t *err);
bool cg_exists(const char *path);
/* mkdir; EEXIST is fine. */
int cg_mkdir(const char *path, bo_error_t *err);
int cg_rmdir(const char *path, bo_error_t *err);
/* Pids listed in a cgroup.procs file, zombies left out. A missing file is an
 * empty list. */
int cg_read_procs(const char *path, pid_t **ret, size_t *ret_n, bo_error_t *err);
/* Value of `key` in a "key value" lines file (memory.events, oom_control). */
int cg_read_key(const char *path, const char *key, int64_t *ret, bool *ret_found, bo_error_t *err);
int cg_read_int(const char *path, int64_t *ret, bo_error_t *err);
/* cg_read_int of an optional counter: -1 when the file does not exist. */
int cg_read_opt_int(const char *path, int64_t *ret, bo_error_t *err);
void cg_sleep_ms(int ms);

#endif
