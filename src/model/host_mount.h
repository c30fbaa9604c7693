/* host_mount.h - a job's host mounts (`task.mounts`): the rules of their
 * paths and the allowlist match, shared by the job model (create), the
 * scheduler (its cluster allowlist) and the agent (its own allowlist,
 * checked again at launch on the resolved path).
 *
 * Pure string rules, libc only: resolving symlinks is the agent's job
 * (src/agent/host_mounts.c), on the machine whose files are mounted. */
#ifndef BO_MODEL_HOST_MOUNT_H
#define BO_MODEL_HOST_MOUNT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define HOST_MOUNT_PATH_MAX 1024
#define HOST_MOUNT_MAX 16
/* Allowlist entries an option takes (scheduler and agent). */
#define HOST_MOUNT_ALLOW_MAX 64

/* An absolute path in normal form: starts with '/', no empty, `.` or `..`
 * component, no trailing '/', no control character, at most
 * HOST_MOUNT_PATH_MAX bytes. `what` names it in the error. */
int host_mount_path_check(const char *s, const char *what, bo_error_t *err);
/* A host path of a mount: normal form, and not `/` itself. */
int host_mount_source_check(const char *s, const char *what, bo_error_t *err);
/* A path in the container: normal form, and neither `/` nor on or under a
 * path the container needs for itself (/proc, /sys, /dev, /sandbox). */
int host_mount_destination_check(const char *s, const char *what, bo_error_t *err);
/* `path` is `dir` or inside it, by whole components ("/srv/a" is under
 * "/srv", "/srvx" is not; everything is under "/"). Both in normal form. */
bool host_mount_under(const char *path, const char *dir);
/* The first entry of `allow` that `path` is under, or NULL. */
const char *host_mount_allowed(const char *path, char *const *allow, size_t n_allow);
/* "/a, /b" (or "none") for an error message; heap-allocated. */
char *host_mount_allow_text(char *const *allow, size_t n_allow);

#endif
