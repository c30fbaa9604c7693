/* oci_spec.h - the OCI runtime bundle's config.json for one task: what the
 * task's container may see and do. The agent fills a struct oci_task (the
 * image side fills rootfs, args, env, cwd and user from the image config)
 * and oci_spec_render turns it into the JSON the runtime reads.
 *
 * Every container gets: pid, mount, ipc, uts and cgroup namespaces (the
 * host network), no capabilities, no_new_privs, the default seccomp filter
 * below, masked and read-only /proc and /sys paths, its own /tmp, a
 * read-only cgroupfs, and the given host directories hidden under empty
 * read-only tmpfs mounts. */
#ifndef BO_AGENT_OCI_SPEC_H
#define BO_AGENT_OCI_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

/* Where the executor and the sandbox appear inside every container. */
#define OCI_EXECUTOR_PATH "/dev/.borealis-executor"
#define OCI_SANDBOX_PATH "/sandbox"

struct oci_bind {
    const char *source;      /* host path */
    const char *destination; /* path in the container */
    bool read_only;
};

struct oci_task {
    const char *rootfs;       /* root.path (the prepared directory) */
    bool read_only_rootfs;
    const char *hostname;
    char *const *args;        /* process.args, NULL-terminated */
    char *const *env;         /* "K=V", NULL-terminated */
    const char *cwd;
    uid_t uid;
    gid_t gid;
    const gid_t *extra_gids;
    size_t n_extra_gids;
    int oom_score_adj;
    const char *cgroups_path; /* linux.cgroupsPath, e.g. "/borealis/<task id>" */
    /* Always mounted: the executor (read-only, at OCI_EXECUTOR_PATH), the
     * sandbox (read-write, at OCI_SANDBOX_PATH), and over the sandbox's
     * .borealis directory an empty read-only tmpfs. */
    const char *executor;
    const char *sandbox;
    const char *const *hidden; /* host paths masked by an empty tmpfs */
    size_t n_hidden;
    const struct oci_bind *binds; /* allowlisted host mounts of the job */
    size_t n_binds;
};

/* The config.json document (new reference). */
json_t *oci_spec_render(const struct oci_task *t);
/* Render and write `bundle`/config.json (mode 0600). */
int oci_spec_write(const struct oci_task *t, const char *bundle, bo_error_t *err);

#endif
