/* container.h - a task's container: the Unix user of its role, its bundle
 * (config.json from oci_spec.h), and starting and removing it through the
 * OCI runtime. tasks.c calls container_start where it used to fork the
 * executor itself, and container_remove once the task has ended. */
#ifndef BO_AGENT_CONTAINER_H
#define BO_AGENT_CONTAINER_H

#include <jansson.h>
#include <sys/types.h>

#include "agent/host_mounts.h"
#include "agent/launcher.h"
#include "agent/runtime.h"
#include "base/error.h"
#include "image/store.h"
#include "model/template.h"

struct container_launch {
    const struct runtime *rt;
    const char *data_dir;
    const char *task_id;
    const char *job;           /* job key: the role is its second part */
    const char *sandbox;       /* prepared by sandbox_prepare */
    const char *executor;      /* host path of borealis-executor */
    const char *hostname;
    const char *cgroups_path;  /* "/<cgroup root>/<task id>" (created by the agent) */
    const char *notify_socket; /* the agent's datagram socket */
    json_t *allow_root_roles;  /* array of role names, or NULL */
    /* A task with an image: its root is the image's overlay (prepared
     * here, in the bundle), its environment the image's plus ours. NULL:
     * the host's filesystem, read-only. */
    struct image_store *images;
    const char *image; /* digest reference */
    /* The job's host mounts, resolved and checked (agent/host_mounts.h);
     * NULL: none. */
    const struct host_mounts *mounts;
    const struct image_config *image_config; /* its config (image_store_config), with image */
    /* The environment (agent/command.h): the job's entries and what
     * renders them. */
    char *const *job_env;
    size_t n_job_env;
    const struct template_runtime *vars;
};

/* The role's user (getpwnam on this machine). A role with no user, or one
 * that is root without --allow-root-role, is an error naming the role. */
int container_user(const char *job, json_t *allow_root_roles, uid_t *ret_uid, gid_t *ret_gid, bo_error_t *err);

/* Bundle, then `runtime run --detach` beside the caller's loop
 * (runtime_start_begin): returns at once with the start in flight; poll
 * runtime_start_fd(*ret), then container_started. */
int container_start(const struct container_launch *c, struct runtime_start **ret, bo_error_t *err);
/* The start reported: the container's first process (the executor), a
 * pidfd on it and its start time. */
int container_started(struct runtime_start *s, struct launcher_result *ret, bo_error_t *err);

/* The executor reports its processes' pids in the container's pid
 * namespace; replace those still running with their pids on this machine
 * (children of the executor, matched by NSpid). */
struct sandbox_status;
void container_host_pids(pid_t executor, struct sandbox_status *s);

/* `runtime delete --force` and the bundle directory. Idempotent. */
int container_remove(const struct runtime *rt, struct image_store *images, const char *data_dir, const char *task_id,
                     bo_error_t *err);

#endif
