/* host_mounts.h - a task's host mounts as the agent checks them at launch:
 * never trusting the scheduler's check, each host path is resolved here
 * (symlinks, on this machine), must lie under this agent's
 * --host-mount-allow and away from its data dir, and is held open (O_PATH)
 * so that what the runtime mounts is the very file that was checked, not
 * whatever the path names a moment later (runtime.c binds the fd). */
#ifndef BO_AGENT_HOST_MOUNTS_H
#define BO_AGENT_HOST_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "model/job.h"

struct host_mount {
    char *source;      /* resolved host path */
    char *destination; /* path in the container */
    bool read_only;
    bool is_dir;       /* else a regular file */
    int fd;            /* O_PATH on source */
};

struct host_mounts {
    struct host_mount *v;
    size_t n;
};

/* Resolve and check every mount of a task. A refusal is BO_E_REFUSED
 * naming the mount (`task.mounts[I]`), its path, what it resolved to and
 * the allowlist. */
int host_mounts_resolve(const struct mount_config *m, size_t n, char *const *allow, size_t n_allow,
                        const char *data_dir, struct host_mounts *ret, bo_error_t *err);
void host_mounts_clear(struct host_mounts *h);

#endif
