/* container.c - user lookup, bundle and runtime calls of one task (see
 * container.h). */
#include "agent/container.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/command.h"
#include "agent/oci_spec.h"
#include "agent/sandbox.h"
#include "base/fs.h"
#include "base/util.h"
#include "model/cmdline.h"

#define MAX_GROUPS 64

static char *role_of(const char *job)
{
    const char *a = job ? strchr(job, '/') : NULL;
    const char *b = a ? strchr(a + 1, '/') : NULL;
    return b ? bo_xstrndup(a + 1, (size_t)(b - a - 1)) : NULL;
}

static bool root_allowed(json_t *roles, const char *role)
{
    size_t i;
    json_t *v;
    json_array_foreach(roles, i, v) if (strcmp(json_string_value(v), role) == 0) return true;
    return false;
}

int container_user(const char *job, json_t *allow_root_roles, uid_t *ret_uid, gid_t *ret_gid, bo_error_t *err)
{
    _cleanup_free_ char *role = role_of(job);
    if (!role)
        return bo_error_set(err, BO_E_INVALID, "job key `%s` names no role", job ? job : "");
    /* The reentrant lookup: launches are prepared in worker threads
     * (launch_pool.h). */
    struct passwd pwbuf, *pw = NULL;
    char buf[4096];
    int r = getpwnam_r(role, &pwbuf, buf, sizeof(buf), &pw);
    if (r != 0 && r != ENOENT && r != ESRCH)
        return bo_error_sys(err, r, "looking up the Unix user of role `%s`", role);
    if (!pw)
        return bo_error_set(err, BO_E_NOTFOUND,
                            "role `%s` has no Unix user on this machine (tasks run as their role's user)", role);
    if (pw->pw_uid == 0 && !root_allowed(allow_root_roles, role))
        return bo_error_set(err, BO_E_INVALID,
                            "role `%s` is root on this machine, and this agent runs no task as root (see "
                            "--allow-root-role)",
                            role);
    *ret_uid = pw->pw_uid;
    *ret_gid = pw->pw_gid;
    return 0;
}

static char *bundle_dir(const char *data_dir, const char *task_id)
{
    return bo_xasprintf("%s/containers/%s", data_dir, task_id);
}

static int connect_notify(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof(sa.sun_path))
        return -1;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int chown_dir(const char *path, uid_t uid, gid_t gid, bo_error_t *err)
{
    if (chown(path, uid, gid) < 0)
        return bo_error_sys(err, errno, "chown `%s`", path);
    return 0;
}

/* An empty directory or file per host mount in the bundle: the runtime's
 * private mount namespace binds the checked fds there (runtime.c), and
 * config.json names them as the mounts' sources. */
static int stage_mounts(const char *bundle, const struct host_mounts *hm, struct oci_bind *ret_binds,
                        struct runtime_bind *ret_run, bo_error_t *err)
{
    _cleanup_free_ char *dir = bo_xasprintf("%s/mounts", bundle);
    if (bo_mkdir_p(dir, 0700, err) < 0)
        return -1;
    for (size_t i = 0; i < hm->n; i++) {
        const struct host_mount *m = &hm->v[i];
        char *staging = bo_xasprintf("%s/%zu", dir, i);
        ret_binds[i] = (struct oci_bind){.source = staging, .destination = m->destination, .read_only = m->read_only};
        ret_run[i] = (struct runtime_bind){.fd = m->fd, .staging = staging, .read_only = m->read_only};
        if (m->is_dir) {
            if (mkdir(staging, 0700) < 0 && errno != EEXIST)
                return bo_error_sys(err, errno, "mkdir `%s`", staging);
            continue;
        }
        int fd = open(staging, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return bo_error_sys(err, errno, "create `%s`", staging);
        close(fd);
    }
    return 0;
}

static int start_runtime(const struct container_launch *c, const char *bundle, const char *rootfs,
                         const char *overlay_options, const char *meta, const struct runtime_bind *binds,
                         size_t n_binds, struct runtime_start **ret, bo_error_t *err);

int container_start(const struct container_launch *c, struct runtime_start **ret, bo_error_t *err)
{
    uid_t uid;
    gid_t gid;
    if (container_user(c->job, c->allow_root_roles, &uid, &gid, err) < 0)
        return -1;
    _cleanup_free_ char *role = role_of(c->job);
    gid_t groups[MAX_GROUPS];
    int n_groups = MAX_GROUPS;
    if (getgrouplist(role, gid, groups, &n_groups) < 0)
        n_groups = 0; /* more than MAX_GROUPS: the primary group only */

    /* The task owns its sandbox; the executor (same uid) writes status in
     * .borealis, which the task never sees. */
    _cleanup_free_ char *meta = bo_xasprintf("%s/.borealis", c->sandbox);
    _cleanup_free_ char *logs = bo_xasprintf("%s/.logs", c->sandbox);
    if (chown_dir(c->sandbox, uid, gid, err) < 0 || chown_dir(meta, uid, gid, err) < 0 ||
        chown_dir(logs, uid, gid, err) < 0)
        return -1;

    _cleanup_free_ char *bundle = bundle_dir(c->data_dir, c->task_id);
    _cleanup_free_ char *rootfs = bo_xasprintf("%s/rootfs", bundle);
    _cleanup_free_ char *overlay_options = NULL;
    if (bo_mkdir_p(rootfs, 0700, err) < 0)
        return -1;
    if (c->image) {
        /* The image's overlay (its layers, shared, plus this task's
         * writable layer) becomes the root instead of the host's view;
         * the runtime's helper mounts it (runtime.h). */
        _cleanup_free_ char *dir = bo_xasprintf("%s/image", bundle);
        char *root = NULL;
        if (!c->images)
            return bo_error_set(err, BO_E_REFUSED, "this agent has no image store (image %s)", c->image);
        if (image_rootfs_plan(c->images, c->image, dir, &root, &overlay_options, NULL, err) < 0)
            return bo_error_wrap(err, "image %s", c->image);
        free(rootfs);
        rootfs = root;
    }

    char **env = NULL;
    struct command_env_in ein = {.image = c->image ? c->image_config : NULL, .job_env = c->job_env,
                                 .n_job_env = c->n_job_env, .rt = c->vars, .role = role, .home = OCI_SANDBOX_PATH};
    if (command_env(&ein, &env, err) < 0)
        return -1;

    size_t n_mounts = c->mounts ? c->mounts->n : 0;
    struct oci_bind *binds = bo_xcalloc(n_mounts + 1, sizeof(*binds));
    struct runtime_bind *run_binds = bo_xcalloc(n_mounts + 1, sizeof(*run_binds));
    int r = n_mounts ? stage_mounts(bundle, c->mounts, binds, run_binds, err) : 0;

    char *args[] = {OCI_EXECUTOR_PATH, "--state-fd", "3", "--notify-fd", "4", OCI_SANDBOX_PATH, NULL};
    const char *hidden[] = {c->data_dir};
    struct oci_task t = {
        .rootfs = rootfs,
        .read_only_rootfs = !c->image, /* an image task writes to its own overlay layer */
        .hostname = c->hostname,
        .args = args,
        .env = env,
        .cwd = OCI_SANDBOX_PATH,
        .uid = uid,
        .gid = gid,
        .extra_gids = (const gid_t *)groups,
        .n_extra_gids = (size_t)n_groups,
        /* The kernel must pick the task, never its supervisor; the executor
         * sets its children back to 0. */
        .oom_score_adj = launcher_can_protect_executor() ? -1000 : 0,
        .cgroups_path = c->cgroups_path,
        .executor = c->executor,
        .sandbox = c->sandbox,
        .hidden = hidden,
        .n_hidden = c->image ? 0 : BO_ARRAY_SIZE(hidden), /* an image shows nothing of the host */
        .binds = binds,
        .n_binds = n_mounts,
    };
    if (r == 0)
        r = oci_spec_write(&t, bundle, err);
    cmdline_argv_free(env);
    if (r < 0)
        goto out;

    r = start_runtime(c, bundle, rootfs, overlay_options, meta, run_binds, n_mounts, ret, err);
out:
    for (size_t i = 0; i < n_mounts; i++)
        free((char *)binds[i].source);
    free(binds);
    free(run_binds);
    return r;
}

static int start_runtime(const struct container_launch *c, const char *bundle, const char *rootfs,
                         const char *overlay_options, const char *meta, const struct runtime_bind *binds,
                         size_t n_binds, struct runtime_start **ret, bo_error_t *err)
{
    _cleanup_close_ int state_fd = open(meta, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (state_fd < 0)
        return bo_error_sys(err, errno, "open `%s`", meta);
    _cleanup_close_ int notify_fd = connect_notify(c->notify_socket);
    _cleanup_free_ char *log = bo_xasprintf("%s/executor.log", meta);
    struct runtime_run run = {.bundle = bundle,
                              .id = c->task_id,
                              .host_root_at = c->image ? NULL : rootfs,
                              .overlay_at = overlay_options ? rootfs : NULL,
                              .overlay_options = overlay_options,
                              .state_dirfd = state_fd,
                              .notify_fd = notify_fd,
                              .log = log,
                              .binds = binds,
                              .n_binds = n_binds};
    return runtime_start_begin(c->rt, &run, ret, err);
}

int container_started(struct runtime_start *s, struct launcher_result *ret, bo_error_t *err)
{
    pid_t pid;
    int pidfd;
    int64_t start;
    if (runtime_start_finish(s, &pid, &pidfd, &start, err) < 0)
        return -1;
    *ret = (struct launcher_result){.pid = pid, .pidfd = pidfd, .start_time = start};
    return 0;
}

int container_remove(const struct runtime *rt, struct image_store *images, const char *data_dir, const char *task_id,
                     bo_error_t *err)
{
    if (runtime_delete(rt, task_id, err) < 0)
        return -1;
    _cleanup_free_ char *bundle = bundle_dir(data_dir, task_id);
    _cleanup_free_ char *image = bo_xasprintf("%s/image", bundle);
    struct stat st;
    if (images && lstat(image, &st) == 0 && image_rootfs_release(images, image, err) < 0)
        return -1;
    return bo_rm_rf(bundle, err);
}

/* The last pid of "NSpid:" in /proc/PID/status: its pid in the innermost
 * (the container's) pid namespace; 0 if unknown. */
static int64_t ns_pid(pid_t host)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)host);
    _cleanup_free_ char *buf = NULL;
    if (bo_read_file(path, 1 << 16, &buf, NULL, NULL) < 0)
        return 0;
    char *p = strstr(buf, "\nNSpid:");
    if (!p)
        return 0;
    p += strlen("\nNSpid:");
    char *end = strchr(p, '\n');
    if (end)
        *end = '\0';
    char *last = strrchr(p, '\t');
    if (!last)
        last = strrchr(p, ' ');
    return last ? strtoll(last + 1, NULL, 10) : 0;
}

void container_host_pids(pid_t executor, struct sandbox_status *s)
{
    char path[80];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)executor, (int)executor);
    _cleanup_free_ char *buf = NULL;
    if (bo_read_file(path, 1 << 16, &buf, NULL, NULL) < 0)
        return;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        pid_t host = (pid_t)strtol(tok, NULL, 10);
        int64_t inner = host > 0 ? ns_pid(host) : 0;
        for (size_t i = 0; inner > 0 && i < s->n_processes; i++)
            if (s->processes[i].pid == inner)
                s->processes[i].pid = host;
    }
}
