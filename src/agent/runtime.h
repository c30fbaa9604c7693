/* runtime.h - the OCI runtime (crun preferred, runc supported): found and
 * version-checked at agent start, then used to run a task's bundle
 * detached and to delete the container once it has ended.
 *
 * Every invocation runs in a private mount namespace of its own (nothing
 * it mounts is seen by the host, and it all goes away when the runtime
 * exits): there the agent hides the hybrid layout's cgroup2 controller
 * list from crun (crun refuses hybrid hosts whose unified tree offers a
 * controller) and builds the container's root: for a task without an
 * image, an empty tmpfs holding a recursive read-only bind of each of the
 * host's top-level directories; with one, the image's overlay (so the
 * host's mount table never grows with the tasks). */
#ifndef BO_AGENT_RUNTIME_H
#define BO_AGENT_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

enum runtime_kind { RUNTIME_CRUN, RUNTIME_RUNC };

struct runtime {
    char *path;
    enum runtime_kind kind;
    char *version;    /* "1.8.1" */
    char *state_root; /* the runtime's --root: its state files, the agent's own */
    /* Hybrid host and crun: bind an empty file over the unified tree's
     * cgroup.controllers for each invocation. */
    char *hide_controllers; /* NULL, or the empty file to bind */
    /* "/" is not a mount point (the agent runs in a chroot): see
     * private_root_from_chroot() in runtime.c. */
    bool root_is_chroot;
};

/* `path` NULL: crun, then runc, from PATH. `state_root` is created. */
int runtime_init(struct runtime *rt, const char *path, const char *state_root, bo_error_t *err);
void runtime_clear(struct runtime *rt);
const char *runtime_kind_name(enum runtime_kind k);

/* A host path the agent checked and holds open (agent/host_mounts.h):
 * bound from the fd at `staging` (an empty directory or file in the
 * bundle) in the runtime's private mount namespace before the runtime
 * runs, so config.json names `staging` and the runtime mounts the very
 * file that was checked. Read-only binds are made so here already. */
struct runtime_bind {
    int fd;
    const char *staging;
    bool read_only;
};

struct runtime_run {
    const char *bundle; /* holds config.json; root.path is created here */
    const char *id;
    /* Non-NULL: root.path is this empty directory, and the host's
     * filesystem is shown there read-only (a task without an image). */
    const char *host_root_at;
    /* Non-NULL: the image's overlay, mounted on this root.path with these
     * options (image_rootfs_plan) in the private namespace. */
    const char *overlay_at, *overlay_options;
    int state_dirfd; /* becomes fd 3 of the container's first process */
    int notify_fd;   /* becomes fd 4 (-1: /dev/null) */
    const char *log; /* the runtime's and the executor's stdout/stderr */
    const struct runtime_bind *binds;
    size_t n_binds;
};

/* `runtime run --detach` beside the caller's loop: a helper process (in
 * the private mount namespace) runs the runtime and waits for it, so
 * several starts run at once and the loop only polls their fds. Begin
 * returns at once; runtime_start_fd is readable when the helper has
 * reported; finish then gives the container's first process (its pid in
 * the agent's pid namespace, a pidfd on it opened while it could not be
 * reaped, its start time). Errors carry the runtime's own last message
 * from the log. An agent that dies mid-start kills its helpers and their
 * runtimes (PR_SET_PDEATHSIG). */
struct runtime_start;
int runtime_start_begin(const struct runtime *rt, const struct runtime_run *r, struct runtime_start **ret,
                        bo_error_t *err);
int runtime_start_fd(const struct runtime_start *s);
int runtime_start_finish(struct runtime_start *s, pid_t *ret_pid, int *ret_pidfd, int64_t *ret_start,
                         bo_error_t *err);
/* Closes the report channel (a helper still running ends on its own). */
void runtime_start_free(struct runtime_start *s);
/* The same, waiting: begin, wait for the report, finish (tests, and
 * callers without a loop). */
int runtime_start(const struct runtime *rt, const struct runtime_run *r, pid_t *ret_pid, int *ret_pidfd,
                  bo_error_t *err);
/* `runtime delete --force`: kills what is left and removes the runtime's
 * state and cgroups. A container the runtime does not know is success. */
int runtime_delete(const struct runtime *rt, const char *id, bo_error_t *err);

/* `runtime exec` of `/bin/sh -c CMD` in container `id` as uid:gid with
 * no new privileges (`task run`), beside the caller's loop: a helper (in
 * the private mount namespace, its own session) runs the runtime, whose
 * stdout and stderr come on `out`; it writes the runtime's wait status (an
 * int) on `status` when it has ended. Both non-blocking. */
struct runtime_exec {
    pid_t helper;
    int out, status;
    char *pidfile; /* where the runtime writes the command's pid */
};
int runtime_exec_begin(const struct runtime *rt, const char *id, uid_t uid, gid_t gid, const char *cwd,
                       const char *cmd, struct runtime_exec *ret, bo_error_t *err);
/* SIGKILL to the command (its session: the runtime starts it in one of
 * its own), the runtime and the helper. */
void runtime_exec_kill(const struct runtime_exec *ex);
/* Close its fds and remove its pid file. */
void runtime_exec_clear(struct runtime_exec *ex);

/* `runtime exec --tty` (`task exec`): argv (NULL or empty: /bin/sh) in
 * container `id` as uid:gid, no new privileges, TERM=term. The runtime
 * makes the terminal inside the container (its controlling terminal) and
 * sends the master end to the unix socket listening at console_socket;
 * out and status as runtime_exec_begin's (the runtime's own messages on
 * out, the command's exit status as the runtime's). */
struct runtime_exec_tty {
    const char *id;
    uid_t uid;
    gid_t gid;
    const char *cwd;
    char *const *argv;
    const char *term;
    const char *console_socket;
};
int runtime_exec_tty_begin(const struct runtime *rt, const struct runtime_exec_tty *t, struct runtime_exec *ret,
                           bo_error_t *err);

/* The agent is a child subreaper (so a detached container's first process
 * is its child): the runtime's own helper processes that exit after their
 * parent are its children too. Reap every exited child; the tasks' ones
 * are watched by pidfd, which still reports their exit. */
void runtime_reap_orphans(void);

#endif
