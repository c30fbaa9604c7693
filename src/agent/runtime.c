/* runtime.c - finding, checking and invoking the OCI runtime (see
 * runtime.h). */
#include "agent/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/mount.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/launcher.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/util.h"

#define UNIFIED_CONTROLLERS "/sys/fs/cgroup/unified/cgroup.controllers"
#define OUTPUT_MAX 4096

static const struct {
    const char *name;
    enum runtime_kind kind;
    int min_major, min_minor; /* "rro" mounts and --preserve-fds */
} known[] = {
    {"crun", RUNTIME_CRUN, 1, 4},
    {"runc", RUNTIME_RUNC, 1, 1},
};

const char *runtime_kind_name(enum runtime_kind k)
{
    return k == RUNTIME_CRUN ? "crun" : "runc";
}

/* Search PATH like execvp, without running anything. */
static char *find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    _cleanup_free_ char *copy = bo_xstrdup(path);
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char *p = bo_xasprintf("%s/%s", dir, name);
        if (access(p, X_OK) == 0)
            return p;
        free(p);
    }
    return NULL;
}

/* Run argv with stdout+stderr captured (at most OUTPUT_MAX bytes); the
 * exit status in *ret_status. */
static int run_capture(char *const *argv, char **ret_out, int *ret_status, bo_error_t *err)
{
    int p[2];
    pid_t pid = bo_fork_with_pipe(p, err);
    if (pid < 0)
        return pid;
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    char *out = bo_xcalloc(1, OUTPUT_MAX + 1);
    size_t len = 0;
    for (;;) {
        char buf[512];
        ssize_t n = read(p[0], buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t k = (size_t)n < OUTPUT_MAX - len ? (size_t)n : OUTPUT_MAX - len;
        memcpy(out + len, buf, k);
        len += k;
    }
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *ret_out = out;
    *ret_status = st;
    return 0;
}

/* "crun version 1.8.1" / "runc version 1.1.5" (first line). */
static int check_version(struct runtime *rt, int min_major, int min_minor, bo_error_t *err)
{
    char *argv[] = {rt->path, "--version", NULL};
    _cleanup_free_ char *out = NULL;
    int st;
    if (run_capture(argv, &out, &st, err) < 0)
        return bo_error_wrap(err, "runtime `%s`", rt->path);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return bo_error_set(err, BO_E_INVALID, "runtime `%s`: `--version` failed: %.200s", rt->path, out);
    const char *v = strstr(out, "version ");
    int major = 0, minor = 0, patch = 0;
    if (!v || sscanf(v + 8, "%d.%d.%d", &major, &minor, &patch) < 2)
        return bo_error_set(err, BO_E_INVALID, "runtime `%s`: cannot read its version from `%.200s`", rt->path,
                            out);
    if (major < min_major || (major == min_major && minor < min_minor))
        return bo_error_set(err, BO_E_INVALID, "runtime `%s` is %s %d.%d; at least %d.%d is needed", rt->path,
                            runtime_kind_name(rt->kind), major, minor, min_major, min_minor);
    rt->version = bo_xasprintf("%d.%d.%d", major, minor, patch);
    return 0;
}

/* The hybrid layout crun refuses: a cgroup2 tree at /sys/fs/cgroup/unified
 * (v1 controllers elsewhere) that lists a controller. */
static bool unified_lists_controllers(void)
{
    _cleanup_free_ char *buf = NULL;
    if (bo_read_file(UNIFIED_CONTROLLERS, 4096, &buf, NULL, NULL) < 0)
        return false;
    for (const char *p = buf; *p; p++)
        if (*p != ' ' && *p != '\n')
            return true;
    return false;
}

static bool root_is_mount_point(void)
{
    struct statx stx;
    if (statx(AT_FDCWD, "/", 0, 0, &stx) < 0 || !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
        return true; /* cannot tell: assume the usual case */
    return stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
}

int runtime_init(struct runtime *rt, const char *path, const char *state_root, bo_error_t *err)
{
    *rt = (struct runtime){0};
    size_t which = 0;
    if (path) {
        rt->path = bo_xstrdup(path);
        if (access(path, X_OK) < 0)
            return bo_error_sys(err, errno, "runtime `%s` (set --runtime)", path);
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        which = strstr(base, "runc") ? 1 : 0;
    } else {
        for (which = 0; which < BO_ARRAY_SIZE(known) && !rt->path; which++)
            rt->path = find_in_path(known[which].name);
        if (!rt->path)
            return bo_error_set(err, BO_E_NOTFOUND,
                                "no OCI runtime found: install crun or runc (scripts/install-deps.sh) or set "
                                "--runtime");
        which--;
    }
    rt->kind = known[which].kind;
    if (check_version(rt, known[which].min_major, known[which].min_minor, err) < 0) {
        runtime_clear(rt);
        return -1;
    }
    rt->state_root = bo_xstrdup(state_root);
    if (bo_mkdir_p(state_root, 0700, err) < 0) {
        runtime_clear(rt);
        return -1;
    }
    rt->root_is_chroot = !root_is_mount_point();
    if (rt->kind == RUNTIME_CRUN && unified_lists_controllers()) {
        rt->hide_controllers = bo_xasprintf("%s/empty", state_root);
        if (bo_write_file_atomic(rt->hide_controllers, "", 0, false, err) < 0) {
            runtime_clear(rt);
            return -1;
        }
    }
    return 0;
}

void runtime_clear(struct runtime *rt)
{
    free(rt->path);
    free(rt->version);
    free(rt->state_root);
    free(rt->hide_controllers);
    *rt = (struct runtime){0};
}

/* The host's top level, read before fork: the child only mounts. */
struct host_root {
    char **src, **dst, **link; /* link[i] non-NULL: a symlink to recreate */
    size_t n;
    char *proc, *sys, *dev, *tmp, *sandbox;
};

static void host_root_clear(struct host_root *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->src[i]);
        free(h->dst[i]);
        free(h->link[i]);
    }
    free(h->src);
    free(h->dst);
    free(h->link);
    free(h->proc);
    free(h->sys);
    free(h->dev);
    free(h->tmp);
    free(h->sandbox);
    *h = (struct host_root){0};
}

static int host_root_scan(const char *at, struct host_root *h, bo_error_t *err)
{
    /* The runtime mounts its own of these. */
    static const char *const skip[] = {".", "..", "proc", "sys", "dev", "tmp", "lost+found"};
    DIR *d = opendir("/");
    if (!d)
        return bo_error_sys(err, errno, "opendir `/`");
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        bool skipped = false;
        for (size_t i = 0; i < BO_ARRAY_SIZE(skip); i++)
            skipped |= strcmp(e->d_name, skip[i]) == 0;
        if (skipped)
            continue;
        char *src = bo_xasprintf("/%s", e->d_name);
        struct stat st;
        char *link = NULL;
        if (lstat(src, &st) < 0 || (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))) {
            free(src);
            continue;
        }
        if (S_ISLNK(st.st_mode)) {
            char buf[4096];
            ssize_t n = readlink(src, buf, sizeof(buf) - 1);
            if (n <= 0) {
                free(src);
                continue;
            }
            buf[n] = '\0';
            link = bo_xstrdup(buf);
        }
        if (h->n == cap) {
            cap = cap ? cap * 2 : 32;
            h->src = bo_xrealloc(h->src, cap * sizeof(char *));
            h->dst = bo_xrealloc(h->dst, cap * sizeof(char *));
            h->link = bo_xrealloc(h->link, cap * sizeof(char *));
        }
        h->src[h->n] = src;
        h->dst[h->n] = bo_xasprintf("%s/%s", at, e->d_name);
        h->link[h->n] = link;
        h->n++;
    }
    closedir(d);
    h->proc = bo_xasprintf("%s/proc", at);
    h->sys = bo_xasprintf("%s/sys", at);
    h->dev = bo_xasprintf("%s/dev", at);
    h->tmp = bo_xasprintf("%s/tmp", at);
    h->sandbox = bo_xasprintf("%s/sandbox", at);
    return 0;
}

enum child_step { STEP_NS = 1, STEP_HIDE, STEP_ROOT, STEP_OVERLAY, STEP_BINDS, STEP_FDS, STEP_EXEC };

/* The host mounts of one start: for each, a detached copy of the checked
 * file's mount tree (open_tree), made in the agent's mount namespace,
 * where the fd's mount lives, and attached by the child in its own. */
struct child_binds {
    const struct runtime_bind *v;
    size_t n;
    const int *tree;
};

static const char *step_name(int step)
{
    switch (step) {
    case STEP_NS: return "make a private mount namespace";
    case STEP_HIDE: return "hide " UNIFIED_CONTROLLERS;
    case STEP_ROOT: return "show the host's filesystem read-only";
    case STEP_OVERLAY: return "mount the image's overlay";
    case STEP_BINDS: return "bind the task's host mounts";
    case STEP_FDS: return "set up the runtime's fds";
    default: return "exec the runtime";
    }
}

static int set_tree(const char *path, uint64_t attrs)
{
    struct mount_attr attr = {.attr_set = attrs};
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof(attr));
}

static int readonly_tree(const char *path)
{
    return set_tree(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
}

/* Attach each detached tree at its staging path. */
static int bind_host_mounts(const struct child_binds *b)
{
    for (size_t i = 0; b && i < b->n; i++)
        if (syscall(SYS_move_mount, b->tree[i], "", AT_FDCWD, b->v[i].staging, MOVE_MOUNT_F_EMPTY_PATH) < 0)
            return -1;
    return 0;
}

/* A detached recursive copy of the mount at `fd` (the checked file, not
 * whatever its path names now), read-only (recursively) unless asked,
 * never setuid or device files. */
static int clone_tree(const struct runtime_bind *b, bo_error_t *err)
{
    int tree = (int)syscall(SYS_open_tree, b->fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
                                                          AT_RECURSIVE);
    if (tree < 0)
        return bo_error_sys(err, errno, "open_tree of host mount `%s`", b->staging);
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                          (b->read_only ? MOUNT_ATTR_RDONLY : 0)};
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
        int e = errno;
        close(tree);
        return bo_error_sys(err, e, "mount_setattr of host mount `%s`", b->staging);
    }
    return tree;
}

/* The agent runs in a chroot: its "/" is a directory of the host's root
 * mount, not a mount point, so it can be neither made private (EINVAL) nor
 * pivoted away from by the runtime. A plain chroot shares the host's mount
 * namespace; this process already has a namespace of its own, where it
 * climbs out of the chroot to the namespace's real root (a chroot is no
 * barrier to root), makes that whole tree private (which changes nothing
 * in the host's namespace), then mounts a recursive copy of the chroot's
 * directory over itself and pivots into it: "/" is the namespace's private
 * root mount again, over the same files. Async-signal-safe: syscalls only. */
static int private_root_from_chroot(const struct runtime *rt)
{
    int old_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (old_root < 0)
        return -1;
    /* Chroot somewhere below: the working directory ("/", the old root) is
     * then outside the root, and ".." walks up past it. */
    if (chdir("/") < 0 || chroot(rt->state_root) < 0)
        return -1;
    for (int depth = 0; depth < PATH_MAX / 2; depth++) {
        struct stat here, up;
        if (stat(".", &here) < 0 || stat("..", &up) < 0)
            return -1;
        if (here.st_dev == up.st_dev && here.st_ino == up.st_ino)
            break;
        if (chdir("..") < 0)
            return -1;
    }
    if (chroot(".") < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return -1;
    int real_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (real_root < 0)
        return -1;
    int tree = (int)syscall(SYS_open_tree, old_root, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
                                                             AT_EMPTY_PATH);
    if (tree < 0)
        return -1;
    /* The copy becomes the namespace's root mount (pivot_root, then the
     * old root detached), not just this process's root: `exec` into a
     * container (setns) lands at its namespace's root, which must be the
     * container's, as on a machine without a chroot. */
    if (syscall(SYS_move_mount, tree, "", old_root, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0 ||
        fchdir(tree) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || fchdir(real_root) < 0 ||
        umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        return -1;
    (void)close(tree);
    (void)close(real_root);
    (void)close(old_root);
    return 0;
}

/* Child side of every invocation; async-signal-safe calls only (the agent
 * may have libcurl resolver threads). */
static int child_prologue(const struct runtime *rt)
{
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)setsid();
    const struct rlimit *nofile = launcher_task_nofile();
    if (nofile->rlim_max)
        (void)setrlimit(RLIMIT_NOFILE, nofile);
    if (unshare(CLONE_NEWNS) < 0)
        return STEP_NS;
    if (rt->root_is_chroot ? private_root_from_chroot(rt) < 0 : mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return STEP_NS;
    if (rt->hide_controllers && mount(rt->hide_controllers, UNIFIED_CONTROLLERS, NULL, MS_BIND, NULL) < 0)
        return STEP_HIDE;
    return 0;
}

/* What the child side reports on its pipe or socket: a step that failed
 * (with errno), or, from a start's helper, how the runtime ended and the
 * container's first process (pid, start time; its pidfd rides along). */
struct child_report {
    int step; /* 0: the runtime ran, `status` says how it ended */
    int err;
    int status;
    int pid;           /* the executor; 0: unknown */
    long long start;   /* its start time (clock ticks since boot) */
};

static void report_fail(int fd, int step, int e)
{
    struct child_report r = {.step = step, .err = e};
    (void)!write(fd, &r, sizeof(r));
}

/* Field 22 of /proc/PID/stat, async-signal-safe (a fixed buffer, no
 * allocation); 0 if unreadable. */
static long long stat_start_time(int pid)
{
    char path[32] = "/proc/";
    char digits[12];
    int n = 0;
    for (int v = pid; v > 0 && n < 11; v /= 10)
        digits[n++] = (char)('0' + v % 10);
    size_t at = strlen(path);
    while (n > 0)
        path[at++] = digits[--n];
    memcpy(path + at, "/stat", 6);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[1024];
    ssize_t len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (len <= 0)
        return 0;
    buf[len] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    /* p + 2 is field 3; field 22 is 19 fields further. */
    p += 2;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    long long v = 0;
    while (p && *p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
    return v;
}

/* The pid the runtime wrote (async-signal-safe); 0 if none. */
static int read_pidfile(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[32];
    ssize_t len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    long long v = 0;
    for (ssize_t i = 0; i < len && buf[i] >= '0' && buf[i] <= '9' && v <= INT32_MAX; i++)
        v = v * 10 + (buf[i] - '0');
    return v > 0 && v <= INT32_MAX ? (int)v : 0;
}

/* A start's helper, after its namespace and fds are set up: runs the
 * runtime as its own child and waits for it. It is a child subreaper, so
 * the container's first process, once the runtime exits, is its child:
 * nobody can reap it (and free its pid) before the helper has opened a
 * pidfd on it and read its start time, which it sends to the agent with
 * SCM_RIGHTS. When the helper exits, that process moves up to the agent
 * (a subreaper too). PR_SET_PDEATHSIG on both: an agent killed mid-start
 * takes its starts with it, so a restarted agent never finds a container
 * being made behind its back. */
static void __attribute__((noreturn)) helper_run(char *const *argv, const char *pidfile, int sock)
{
    pid_t pid = fork();
    if (pid < 0) {
        report_fail(sock, STEP_EXEC, errno);
        _exit(127);
    }
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        execv(argv[0], argv);
        report_fail(sock, STEP_EXEC, errno);
        _exit(127);
    }
    struct child_report r = {0};
    while (waitpid(pid, &r.status, 0) < 0 && errno == EINTR)
        ;
    int pidfd = -1;
    if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) {
        r.pid = read_pidfile(pidfile);
        if (r.pid > 0) {
            pidfd = (int)syscall(SYS_pidfd_open, r.pid, 0);
            r.err = pidfd < 0 ? errno : 0;
            r.start = stat_start_time(r.pid);
        }
    }
    struct iovec iov = {.iov_base = &r, .iov_len = sizeof(r)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (pidfd >= 0) {
        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof(u.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
    }
    while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
    _exit(0);
}

/* `helper`: NULL for a runtime invocation the caller waits for (exec'd
 * here), else a start's helper (helper_run). */
struct helper {
    const char *pidfile;
    pid_t agent;
    const char *overlay_at, *overlay_options; /* NULL: no image */
    const char *overlay_tmp;                  /* overlay_at/tmp */
};

static void __attribute__((noreturn))
child(const struct runtime *rt, const struct host_root *h, const char *root_at, const struct child_binds *binds,
      char *const *argv, int state_fd, int notify_fd, int log_fd, int errfd, const struct helper *hp)
{
    if (hp) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != hp->agent ||
            prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
            _exit(127); /* the agent is gone already: nobody to start for */
    }
    int step = child_prologue(rt);
    if (step)
        goto fail;
    /* The image's root: mounted here, in the private namespace the
     * runtime's container namespace is copied from, so the host's mount
     * table (which every new mount namespace copies, and the runtime
     * reads) does not grow with the tasks; it goes away with the
     * container. */
    step = STEP_OVERLAY;
    if (hp && hp->overlay_at && mount("overlay", hp->overlay_at, "overlay", 0, hp->overlay_options) < 0)
        goto fail;
    /* runc gives a tmpfs the mode of the directory it is mounted on (crun
     * its mode= option): an image without /tmp gets one as crun makes it,
     * in the task's own layer, so that /tmp is the task's under both. */
    if (hp && hp->overlay_tmp && mkdir(hp->overlay_tmp, 01777) == 0 && chmod(hp->overlay_tmp, 01777) < 0)
        goto fail;
    if (h) {
        step = STEP_ROOT;
        if (mount("tmpfs", root_at, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0)
            goto fail;
        for (size_t i = 0; i < h->n; i++) {
            if (h->link[i]) {
                if (symlink(h->link[i], h->dst[i]) < 0)
                    goto fail;
                continue;
            }
            if (mkdir(h->dst[i], 0755) < 0 || mount(h->src[i], h->dst[i], NULL, MS_BIND | MS_REC, NULL) < 0 ||
                readonly_tree(h->dst[i]) < 0)
                goto fail;
        }
        const char *dirs[] = {h->proc, h->sys, h->dev, h->tmp, h->sandbox};
        for (size_t i = 0; i < BO_ARRAY_SIZE(dirs); i++)
            if (mkdir(dirs[i], 0755) < 0)
                goto fail;
        /* The mode runc gives the task's /tmp (see above). */
        if (chmod(h->tmp, 01777) < 0)
            goto fail;
    }
    step = STEP_BINDS;
    if (bind_host_mounts(binds) < 0)
        goto fail;
    step = STEP_FDS;
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0 || dup2(state_fd, 3) < 0 ||
        dup2(notify_fd >= 0 ? notify_fd : null, 4) < 0)
        goto fail;
    if (syscall(SYS_close_range, 5U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        goto fail;
    if (hp)
        helper_run(argv, hp->pidfile, errfd);
    step = STEP_EXEC;
    execv(argv[0], argv);
fail:
    report_fail(errfd, step, errno);
    _exit(127);
}

void runtime_reap_orphans(void)
{
    siginfo_t info;
    for (;;) {
        info.si_pid = 0;
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (info.si_pid == 0)
            return;
    }
}

/* The last line the runtime wrote to the log, for an error message. */
static char *log_tail(const char *log)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    if (bo_read_file(log, 1 << 20, &buf, &len, NULL) < 0 || len == 0)
        return bo_xstrdup("(no output)");
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    char *nl = strrchr(buf, '\n');
    return bo_xstrdup(nl ? nl + 1 : buf);
}

/* fds >= 10 so that placing them at 3 and 4 in the child never clobbers
 * one with the other. */
static int high_fd(int fd)
{
    return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

static int spawn(const struct runtime *rt, const struct host_root *h, const char *root_at,
                 const struct child_binds *binds, char *const *argv, int state_fd, int notify_fd, const char *log,
                 int *ret_status, bo_error_t *err)
{
    _cleanup_close_ int lfd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0)
        return bo_error_sys(err, errno, "open `%s`", log);
    _cleanup_close_ int sfd = high_fd(state_fd >= 0 ? state_fd : lfd);
    _cleanup_close_ int nfd = high_fd(notify_fd);
    _cleanup_close_ int lfd2 = high_fd(lfd);
    if (sfd < 0 || lfd2 < 0 || (notify_fd >= 0 && nfd < 0))
        return bo_error_sys(err, errno, "fcntl F_DUPFD");
    int p[2];
    pid_t pid = bo_fork_with_pipe(p, err);
    if (pid < 0)
        return pid;
    if (pid == 0)
        child(rt, h, root_at, binds, argv, sfd, nfd, lfd2, p[1], NULL);
    close(p[1]);
    struct child_report report = {0};
    ssize_t n;
    do
        n = read(p[0], &report, sizeof(report));
    while (n < 0 && errno == EINTR);
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    /* No runtime_reap_orphans() here: a container whose executor already
     * ended would be reaped before the caller's pidfd_open (ESRCH, a task
     * reported as a failed launch instead of its own result). The loop's
     * tick reaps the runtime's leftovers. */
    if (n == (ssize_t)sizeof(report))
        return bo_error_sys(err, report.err, "cannot %s for `%s`", step_name(report.step), rt->path);
    *ret_status = st;
    return 0;
}

struct runtime_start {
    enum runtime_kind kind;
    pid_t helper;
    int sock;  /* the agent's end; readable when the helper reports */
    char *log;
};

int runtime_start_fd(const struct runtime_start *s) { return s->sock; }

void runtime_start_free(struct runtime_start *s)
{
    if (!s)
        return;
    /* A helper still running finishes on its own (the loop reaps it); the
     * container it makes is the task's, removed with the task. */
    if (s->sock >= 0)
        close(s->sock);
    free(s->log);
    free(s);
}

/* The runtime and the options every invocation starts with (its state
 * root; for crun, the cgroupfs manager): at most 4 entries of argv. */
static size_t global_args(const struct runtime *rt, char **argv)
{
    size_t n = 0;
    argv[n++] = rt->path;
    argv[n++] = "--root";
    argv[n++] = rt->state_root;
    if (rt->kind == RUNTIME_CRUN)
        argv[n++] = "--cgroup-manager=cgroupfs";
    return n;
}

/* Fork the helper with everything it needs prepared here (allocation is
 * not async-signal-safe in the child). */
static int start_helper(const struct runtime *rt, const struct runtime_run *r, const int *tree,
                        struct runtime_start *s, bo_error_t *err)
{
    struct host_root h = {0};
    if (r->host_root_at && host_root_scan(r->host_root_at, &h, err) < 0)
        return -1;
    _cleanup_free_ char *pidfile = bo_xasprintf("%s/pid", r->bundle);
    _cleanup_free_ char *overlay_tmp = r->overlay_at ? bo_xasprintf("%s/tmp", r->overlay_at) : NULL;
    char *argv[16];
    size_t n = global_args(rt, argv);
    argv[n++] = "run";
    argv[n++] = "--detach";
    argv[n++] = "--pid-file";
    argv[n++] = pidfile;
    argv[n++] = "--bundle";
    argv[n++] = (char *)r->bundle;
    argv[n++] = "--preserve-fds";
    argv[n++] = "2";
    argv[n++] = (char *)r->id;
    argv[n] = NULL;
    int rc = -1;
    int sv[2] = {-1, -1};
    _cleanup_close_ int lfd = open(r->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    _cleanup_close_ int sfd = high_fd(r->state_dirfd >= 0 ? r->state_dirfd : lfd);
    _cleanup_close_ int nfd = high_fd(r->notify_fd);
    _cleanup_close_ int lfd2 = high_fd(lfd);
    _cleanup_close_ int csock = -1;
    if (lfd < 0) {
        bo_error_sys(err, errno, "open `%s`", r->log);
        goto out;
    }
    if (sfd < 0 || lfd2 < 0 || (r->notify_fd >= 0 && nfd < 0)) {
        bo_error_sys(err, errno, "fcntl F_DUPFD");
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        bo_error_sys(err, errno, "socketpair");
        goto out;
    }
    csock = high_fd(sv[1]);
    close(sv[1]);
    if (csock < 0) {
        close(sv[0]);
        bo_error_sys(err, errno, "fcntl F_DUPFD");
        goto out;
    }
    struct child_binds binds = {.v = r->binds, .n = r->n_binds, .tree = tree};
    struct helper hp = {.pidfile = pidfile, .agent = getpid(), .overlay_at = r->overlay_at,
                        .overlay_options = r->overlay_options, .overlay_tmp = overlay_tmp};
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        bo_error_sys(err, errno, "fork");
        goto out;
    }
    if (pid == 0)
        child(rt, r->host_root_at ? &h : NULL, r->host_root_at, &binds, argv, sfd, nfd, lfd2, csock, &hp);
    s->helper = pid;
    s->sock = sv[0];
    rc = 0;
out:
    host_root_clear(&h);
    return rc;
}

int runtime_start_begin(const struct runtime *rt, const struct runtime_run *r, struct runtime_start **ret,
                        bo_error_t *err)
{
    int *tree = bo_xcalloc(r->n_binds + 1, sizeof(int));
    size_t n_tree = 0;
    int rc = 0;
    while (rc == 0 && n_tree < r->n_binds) {
        int fd = clone_tree(&r->binds[n_tree], err);
        if (fd < 0)
            rc = -1;
        else
            tree[n_tree++] = fd;
    }
    struct runtime_start *s = bo_xcalloc(1, sizeof(*s));
    s->kind = rt->kind;
    s->sock = -1;
    s->log = bo_xstrdup(r->log);
    if (rc == 0)
        rc = start_helper(rt, r, tree, s, err);
    /* The helper holds its own copies now; these were the agent's. */
    for (size_t i = 0; i < n_tree; i++)
        close(tree[i]);
    free(tree);
    if (rc < 0) {
        runtime_start_free(s);
        return -1;
    }
    *ret = s;
    return 0;
}

int runtime_start_finish(struct runtime_start *s, pid_t *ret_pid, int *ret_pidfd, int64_t *ret_start,
                         bo_error_t *err)
{
    struct child_report r = {0};
    struct iovec iov = {.iov_base = &r, .iov_len = sizeof(r)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n;
    while ((n = recvmsg(s->sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)) < 0 && errno == EINTR)
        ;
    int pidfd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n > 0 && c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&pidfd, CMSG_DATA(c), sizeof(int));
    _cleanup_close_ int owned = pidfd;
    if (n < 0)
        return bo_error_sys(err, errno, "reading the start report of runtime helper %d", (int)s->helper);
    if (n != (ssize_t)sizeof(r))
        return bo_error_set(err, BO_E_IO, "%s run: its helper process %d ended without a report",
                            runtime_kind_name(s->kind), (int)s->helper);
    if (r.step)
        return bo_error_sys(err, r.err, "cannot %s for %s", step_name(r.step), runtime_kind_name(s->kind));
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
        _cleanup_free_ char *tail = log_tail(s->log);
        return bo_error_set(err, BO_E_IO, "%s run: %s", runtime_kind_name(s->kind), tail);
    }
    if (r.pid <= 0)
        return bo_error_set(err, BO_E_IO, "%s run: no container pid in its pid file", runtime_kind_name(s->kind));
    if (pidfd < 0)
        return bo_error_sys(err, r.err, "pidfd_open of the container's executor %d", r.pid);
    owned = -1;
    *ret_pid = r.pid;
    *ret_pidfd = pidfd;
    *ret_start = r.start;
    return 0;
}

int runtime_start(const struct runtime *rt, const struct runtime_run *r, pid_t *ret_pid, int *ret_pidfd,
                  bo_error_t *err)
{
    struct runtime_start *s = NULL;
    if (runtime_start_begin(rt, r, &s, err) < 0)
        return -1;
    struct pollfd p = {.fd = runtime_start_fd(s), .events = POLLIN};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    int64_t start;
    int rc = runtime_start_finish(s, ret_pid, ret_pidfd, &start, err);
    runtime_start_free(s);
    return rc;
}

int runtime_delete(const struct runtime *rt, const char *id, bo_error_t *err)
{
    _cleanup_free_ char *state = bo_xasprintf("%s/%s", rt->state_root, id);
    struct stat st;
    if (lstat(state, &st) < 0 && errno == ENOENT)
        return 0;
    char *argv[8];
    size_t n = global_args(rt, argv);
    argv[n++] = "delete";
    argv[n++] = "--force";
    argv[n++] = (char *)id;
    argv[n] = NULL;
    _cleanup_free_ char *log = bo_xasprintf("%s/%s.delete.log", rt->state_root, id);
    int status = 0;
    int r = spawn(rt, NULL, NULL, NULL, argv, -1, -1, log, &status, err);
    if (r < 0)
        return -1;
    _cleanup_free_ char *tail = log_tail(log);
    (void)unlink(log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (lstat(state, &st) < 0 && errno == ENOENT)
            return 0;
        return bo_error_set(err, BO_E_IO, "%s delete `%s`: %s", runtime_kind_name(rt->kind), id, tail);
    }
    return 0;
}

/* The helper of an exec: runs the runtime as its child, its stdout and
 * stderr on `out`, and writes how it ended (a wait status, an int) on
 * `status` once it is gone. The agent reaps every orphan it finds, so the
 * status must come from a process of our own, never from the agent's
 * waitpid. Async-signal-safe calls only. */
static void __attribute__((noreturn)) exec_helper(const struct runtime *rt, char *const *argv, int out, int status)
{
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    int r = child_prologue(rt);
    int st = 127 << 8;
    if (r == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
            int devnull = open("/dev/null", O_RDONLY);
            if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
                _exit(127);
            execv(argv[0], argv);
            _exit(127);
        }
        (void)close(out);
        while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    while (write(status, &st, sizeof(st)) < 0 && errno == EINTR)
        ;
    _exit(0);
}

/* Forks the helper that runs the runtime's `exec` (exec_helper) with
 * `argv`; its output and its status come back through two non-blocking
 * pipes. Takes `pidfile` (freed on failure). */
static int spawn_exec_helper(const struct runtime *rt, char **argv, char *pidfile, struct runtime_exec *ret,
                             bo_error_t *err)
{
    int out[2], status[2];
    if (pipe2(out, O_CLOEXEC) < 0) {
        free(pidfile);
        return bo_error_sys(err, errno, "pipe");
    }
    if (pipe2(status, O_CLOEXEC) < 0) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        free(pidfile);
        return bo_error_sys(err, e, "pipe");
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        close(status[0]);
        close(status[1]);
        free(pidfile);
        return bo_error_sys(err, e, "fork");
    }
    if (pid == 0) {
        close(out[0]);
        close(status[0]);
        exec_helper(rt, argv, out[1], status[1]);
    }
    close(out[1]);
    close(status[1]);
    (void)fcntl(out[0], F_SETFL, O_NONBLOCK);
    (void)fcntl(status[0], F_SETFL, O_NONBLOCK);
    *ret = (struct runtime_exec){.helper = pid, .out = out[0], .status = status[0], .pidfile = pidfile};
    return 0;
}

int runtime_exec_begin(const struct runtime *rt, const char *id, uid_t uid, gid_t gid, const char *cwd,
                       const char *cmd, struct runtime_exec *ret, bo_error_t *err)
{
    char user[48];
    snprintf(user, sizeof(user), "%u:%u", (unsigned)uid, (unsigned)gid);
    char *argv[20];
    size_t n = global_args(rt, argv);
    argv[n++] = "exec";
    argv[n++] = "--user";
    argv[n++] = user;
    argv[n++] = "--cwd";
    argv[n++] = (char *)cwd;
    argv[n++] = "--no-new-privs";
    /* The runtime runs the command in its own session: its pid (on the
     * host) is how a timeout finds it. */
    static unsigned long long seq;
    char *pidfile = bo_xasprintf("%s/exec-%d-%llu.pid", rt->state_root, (int)getpid(), ++seq);
    argv[n++] = "--pid-file";
    argv[n++] = pidfile;
    argv[n++] = (char *)id;
    argv[n++] = "/bin/sh";
    argv[n++] = "-c";
    argv[n++] = (char *)cmd;
    argv[n] = NULL;
    return spawn_exec_helper(rt, argv, pidfile, ret, err);
}

void runtime_exec_kill(const struct runtime_exec *ex)
{
    int pid = read_pidfile(ex->pidfile);
    if (pid > 0) {
        (void)kill(-pid, SIGKILL);
        (void)kill(pid, SIGKILL);
    }
    (void)kill(-ex->helper, SIGKILL);
}

void runtime_exec_clear(struct runtime_exec *ex)
{
    close(ex->out);
    close(ex->status);
    (void)unlink(ex->pidfile);
    free(ex->pidfile);
    *ex = (struct runtime_exec){.out = -1, .status = -1};
}

int runtime_exec_tty_begin(const struct runtime *rt, const struct runtime_exec_tty *t, struct runtime_exec *ret,
                           bo_error_t *err)
{
    char user[48];
    snprintf(user, sizeof(user), "%u:%u", (unsigned)t->uid, (unsigned)t->gid);
    _cleanup_free_ char *console = bo_xasprintf("--console-socket=%s", t->console_socket);
    _cleanup_free_ char *env = bo_xasprintf("TERM=%s", t->term ? t->term : "xterm");
    size_t n_words = 0;
    while (t->argv && t->argv[n_words])
        n_words++;
    _cleanup_free_ char **argv = bo_xcalloc(24 + n_words, sizeof(char *));
    size_t n = global_args(rt, argv);
    argv[n++] = "exec";
    argv[n++] = "--tty";
    argv[n++] = console;
    /* With any --env the runtime looks the command up in that PATH only
     * (crun 1.8): the usual one, as docker's default. */
    argv[n++] = "--env";
    argv[n++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    argv[n++] = "--env";
    argv[n++] = env;
    argv[n++] = "--user";
    argv[n++] = user;
    argv[n++] = "--cwd";
    argv[n++] = (char *)t->cwd;
    argv[n++] = "--no-new-privs";
    static _Atomic unsigned long long seq;
    char *pidfile = bo_xasprintf("%s/exec-tty-%d-%llu.pid", rt->state_root, (int)getpid(), ++seq);
    argv[n++] = "--pid-file";
    argv[n++] = pidfile;
    argv[n++] = (char *)t->id;
    if (n_words == 0)
        argv[n++] = "/bin/sh";
    for (size_t i = 0; i < n_words; i++)
        argv[n++] = t->argv[i];
    argv[n] = NULL;
    return spawn_exec_helper(rt, argv, pidfile, ret, err);
}
