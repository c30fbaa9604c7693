/* agent.c - the agent daemon: set-up, the single-threaded event loop
 * (libcurl multi + signalfd + notify socket + executor pidfds), shutdown. */
#include "agent/agent.h"
#include "agent/join.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/identity.h"
#include "agent/images.h"
#include "agent/journal.h"
#include "agent/launcher.h"
#include "agent/options.h"
#include "agent/runtime.h"
#include "agent/sync.h"
#include "agent/exec_session.h"
#include "agent/task_io.h"
#include "agent/tasks.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"

struct agent {
    struct agent_images *images;
    struct agent_options opt;
    char id[37];
    char *sock_path;
    int lock_fd, sig_fd, notify_fd;
    struct journal *journal;
    struct cgroup_mgr cg;
    struct runtime rt;
    struct task_mgr *tasks;
    struct sync *sync;
    struct task_io *io;
    struct agent_tls tls;
    struct http_tls http_tls;
    struct exec_sessions *execs;
};

static json_t *inventory_hook(void *ctx)
{
    struct agent *a = ctx;
    return task_mgr_inventory(a->tasks);
}

static json_t *usage_hook(void *ctx)
{
    struct agent *a = ctx;
    return task_mgr_usage(a->tasks);
}

static void answer_hook(void *ctx, const struct sync_answer *ans)
{
    struct agent *a = ctx;
    task_mgr_launch(a->tasks, ans->launch, ans->n_launch);
    for (size_t i = 0; i < ans->n_kill; i++)
        task_mgr_kill(a->tasks, &ans->kill[i]);
    json_t *item;
    size_t i;
    json_array_foreach(ans->reads, i, item)
    task_io_handle(a->io, item);
    json_array_foreach(ans->execs, i, item)
    exec_sessions_start(a->execs, item);
    if (ans->n_acks > 0 && a->opt.sandbox_retention_ms == 0)
        task_mgr_gc(a->tasks);
}

static const char *sandbox_hook(void *ctx, const char *task_id, bool *ret_ended)
{
    struct agent *a = ctx;
    return task_mgr_sandbox(a->tasks, task_id, ret_ended);
}

static int run_hook(void *ctx, const char *task_id, const char *cmd, struct runtime_exec *ret, bo_error_t *err)
{
    struct agent *a = ctx;
    return task_mgr_run(a->tasks, task_id, cmd, ret, err);
}

static int exec_target_hook(void *ctx, const char *task_id, struct exec_target *ret, bo_error_t *err)
{
    struct agent *a = ctx;
    return task_mgr_exec_target(a->tasks, task_id, &ret->rt, &ret->uid, &ret->gid, err);
}

static void reply_hook(void *ctx, json_t *reply)
{
    struct agent *a = ctx;
    sync_send_reply(a->sync, reply);
}

static int open_notify_socket(const char *path, bo_error_t *err)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return bo_error_sys(err, errno, "socket");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        close(fd);
        return bo_error_set(err, BO_E_INVALID, "socket path `%s` is too long", path);
    }
    strcpy(sa.sun_path, path);
    /* A stale socket from a previous run (we hold the data-dir lock). */
    if (unlink(path) < 0 && errno != ENOENT) {
        int e = errno;
        close(fd);
        return bo_error_sys(err, e, "unlink `%s`", path);
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return bo_error_sys(err, e, "bind `%s`", path);
    }
    return fd;
}

static void drain_notify(struct agent *a)
{
    char buf[512];
    for (;;) {
        ssize_t n = recv(a->notify_fd, buf, sizeof(buf) - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* Only a hint: the periodic re-read finds what it announced. */
            if (errno != EAGAIN)
                log_warn("reading `%s`: %s", a->sock_path, strerror(errno));
            break;
        }
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        task_mgr_notified(a->tasks, buf);
    }
}

static int setup(struct agent *a, bo_error_t *err)
{
    const char *data = a->opt.data_dir;
    _cleanup_free_ char *sandboxes = bo_xasprintf("%s/sandboxes", data);
    if (bo_mkdir_p(data, 0700, err) < 0 || bo_mkdir_p(sandboxes, 0755, err) < 0)
        return -1;
    _cleanup_free_ char *lock = bo_xasprintf("%s/agent.lock", data);
    a->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (a->lock_fd < 0)
        return bo_error_sys(err, errno, "open `%s`", lock);
    /* An agent killed while launching leaves a child between fork and exec
     * that shares the lock for a moment: wait a little before concluding
     * that another agent runs. */
    int tries = 0;
    while (flock(a->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK || ++tries > 60)
            return bo_error_sys(err, errno, "another agent uses data dir `%s` (lock `%s`)", data, lock);
        usleep(50 * 1000);
    }
    if (agent_options_resolve(&a->opt, err) < 0)
        return -1;
    if (identity_load_or_create(data, a->id, err) < 0)
        return -1;
    if (agent_join(a->opt.scheduler_url, data, a->id, a->opt.join_token_file, a->opt.ca_file, &a->tls, err) < 0)
        return -1;
    _cleanup_free_ char *db = bo_xasprintf("%s/agent.db", data);
    if (journal_open(db, &a->journal, err) < 0)
        return -1;
    if (cgroup_mgr_init(&a->cg, "/sys/fs/cgroup", a->opt.cgroup_root, CGROUP_DETECT, err) < 0)
        return -1;
    _cleanup_free_ char *rt_root = bo_xasprintf("%s/runtime", data);
    if (runtime_init(&a->rt, a->opt.runtime, rt_root, err) < 0)
        return -1;
    log_info("OCI runtime: %s %s (%s)%s", runtime_kind_name(a->rt.kind), a->rt.version, a->rt.path,
             a->rt.hide_controllers ? ", hybrid cgroups: hiding the unified controllers from it" : "");
    if (a->rt.root_is_chroot)
        log_info("`/` is not a mount point (the agent runs in a chroot): each runtime invocation climbs out to "
                 "a private mount namespace and mounts a copy of it over itself");
    /* A container's first process outlives `runtime run --detach`: as a
     * subreaper the agent gets it as a child (and reaps it). */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        return bo_error_sys(err, errno, "PR_SET_CHILD_SUBREAPER");
    a->sock_path = bo_xasprintf("%s/agent.sock", data);
    if ((a->notify_fd = open_notify_socket(a->sock_path, err)) < 0)
        return -1;
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        return bo_error_sys(err, errno, "sigprocmask");
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        return bo_error_sys(err, errno, "ignoring SIGPIPE");
    if ((a->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        return bo_error_sys(err, errno, "signalfd");
    struct task_mgr_config tc = {
        .data_dir = data,
        .hostname = a->opt.hostname,
        .executor = a->opt.executor,
        .notify_socket = a->sock_path,
        .pids_max = a->opt.pids_max,
        .runtime = &a->rt,
        .allow_root_roles = a->opt.allow_root_roles,
        .host_mount_allow = a->opt.host_mount_allow,
        .n_host_mount_allow = a->opt.n_host_mount_allow,
        .sandbox_retention_ms = a->opt.sandbox_retention_ms,
        .disk_check_ms = a->opt.disk_check_ms,
    };
    struct agent_images_config ic = {
        .data_dir = data,
        .registry = {.ca_file = a->opt.registry_ca,
                     .auth_file = a->opt.registry_auth,
                     .plain_http = (const char *const *)a->opt.plain_http,
                     .n_plain_http = a->opt.n_plain_http,
                     .connect_timeout_ms = a->opt.registry_timeout_ms,
                     .stall_timeout_ms = a->opt.registry_timeout_ms,
                     .doc_timeout_ms = 2 * a->opt.registry_timeout_ms},
        .gc_age_ms = a->opt.image_gc_age_ms,
        .min_free_pct = 10,
    };
    if (agent_images_new(&ic, &a->images, err) < 0)
        return -1;
    tc.images = a->images;
    if (task_mgr_new(&tc, a->journal, &a->cg, &a->tasks, err) < 0)
        return -1;
    json_t *reg = json_pack("{s:s, s:s, s:{s:f, s:I, s:I}, s:[I, I], s:O}", "agent_id", a->id, "hostname",
                            a->opt.hostname, "resources", "cpu", a->opt.cpu, "ram", (json_int_t)a->opt.ram, "disk",
                            (json_int_t)a->opt.disk, "port_range", (json_int_t)a->opt.port_lo,
                            (json_int_t)a->opt.port_hi, "attributes", a->opt.attributes);
    struct sync_hooks hooks = {.ctx = a, .inventory = inventory_hook, .usage = usage_hook, .answer = answer_hook};
    int r = sync_new(a->opt.scheduler_url, reg, a->journal, &hooks, &a->sync, err);
    json_decref(reg);
    if (r < 0)
        return -1;
    struct http_tls tls = agent_tls_http(&a->tls);
    sync_set_tls(a->sync, &tls);
    struct task_io_hooks ioh = {.ctx = a, .sandbox = sandbox_hook, .reply = reply_hook, .run = run_hook};
    if (task_io_new(&ioh, &a->io, err) < 0)
        return -1;
    a->http_tls = tls;
    a->execs = exec_sessions_new(a->opt.scheduler_url, a->id, &a->http_tls, exec_target_hook, a);
    return task_mgr_recover(a->tasks, err);
}

/* Stopping: with --cleanup-on-exit every task is killed first (the
 * scheduler is told the agent is leaving, so it reschedules them without
 * penalty); then the agent waits up to this long for the scheduler to ack
 * their last updates, which a restart would send otherwise. */
#define FLUSH_MAX_MS 5000

struct loop {
    bool stopping;       /* killing every task (--cleanup-on-exit) */
    bool failed;         /* fail-stop: exit 1 once stopped */
    int64_t flush_until; /* mono ms: tasks are gone, last updates being sent */
};

static void begin_cleanup(struct agent *a, struct loop *l)
{
    l->stopping = true;
    task_mgr_begin_cleanup(a->tasks);
    if (!l->failed)
        sync_set_leaving(a->sync);
}

/* The journal (or libcurl) failed. Updates may be lost from here on, so the
 * agent stops, as the scheduler does when its store fails; a restart
 * recovers from the journal. With --cleanup-on-exit it kills its tasks
 * first, so nothing is left behind. Returns true to leave the loop now. */
static bool fail_stop(struct agent *a, struct loop *l, const char *why)
{
    if (l->failed)
        return false;
    l->failed = true;
    sync_halt(a->sync);
    log_error("%s; stopping (fail-stop): a restart recovers from the journal", why);
    if (!a->opt.cleanup_on_exit)
        return true;
    if (!l->stopping) {
        log_info("killing every task before exiting (--cleanup-on-exit)");
        begin_cleanup(a, l);
    }
    return false;
}

/* Whether the stopping agent is done: executors gone and cleaned up, the
 * scheduler told it is leaving and their last updates acked (or no
 * scheduler to take them). */
static bool stop_done(struct agent *a, struct loop *l)
{
    if (!l->flush_until && task_mgr_cleanup_done(a->tasks))
        l->flush_until = bo_mono_ms() + FLUSH_MAX_MS;
    if (!l->flush_until)
        return false;
    int64_t pending = 0;
    bo_error_t err = NULL;
    if (l->failed || !sync_connected(a->sync) || bo_mono_ms() >= l->flush_until)
        return true;
    if (journal_count(a->journal, &pending, &err) < 0) {
        fail_stop(a, l, err->msg);
        bo_error_free(err);
        return true;
    }
    return pending == 0 && sync_left(a->sync);
}

/* poll(2) on fds (levels, so events curl_multi_poll saw are seen again). */
static void wait_fds(struct curl_waitfd *fds, unsigned n, int timeout_ms)
{
    struct pollfd *p = bo_xcalloc(n, sizeof(*p));
    for (unsigned i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i].fd, .events = fds[i].events};
    int r;
    while ((r = poll(p, n, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (r < 0)
        log_warn("poll: %s", strerror(errno));
    for (unsigned i = 0; i < n; i++)
        fds[i].revents = r < 0 ? 0 : p[i].revents;
    free(p);
}

/* Read every queued signal. Returns the last one, or 0. */
static uint32_t read_signals(struct agent *a)
{
    struct signalfd_siginfo si;
    uint32_t signo = 0;
    for (;;) {
        ssize_t n = read(a->sig_fd, &si, sizeof(si));
        if (n == (ssize_t)sizeof(si)) {
            signo = si.ssi_signo;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            log_warn("reading signals: %s", strerror(errno));
        return signo;
    }
}

static int run(struct agent *a)
{
    struct curl_waitfd *fds = NULL;
    unsigned cap = 0;
    struct loop l = {0};
    for (;;) {
        if (l.stopping && stop_done(a, &l))
            break;
        int timeout = task_mgr_tick(a->tasks);
        int io_timeout = task_io_tick(a->io);
        if (io_timeout < timeout)
            timeout = io_timeout;
        if (l.flush_until) {
            int64_t left = l.flush_until - bo_mono_ms();
            if (left < timeout)
                timeout = left < 0 ? 0 : (int)left;
        }
        unsigned n = 0;
        if (cap < 3) {
            cap = 16;
            fds = bo_xrealloc(fds, cap * sizeof(*fds));
        }
        fds[n++] = (struct curl_waitfd){.fd = a->sig_fd, .events = POLLIN};
        fds[n++] = (struct curl_waitfd){.fd = a->notify_fd, .events = POLLIN};
        fds[n++] = (struct curl_waitfd){.fd = task_io_fd(a->io), .events = POLLIN};
        task_mgr_waitfds(a->tasks, &fds, &n, &cap);
        bo_error_t err = NULL;
        if (sync_poll(a->sync, fds, n, timeout, &err) < 0) {
            bool leave = fail_stop(a, &l, err->msg);
            bo_error_free(err);
            if (leave)
                break;
            /* Stopping after the failure: wait on our own fds, without
             * libcurl (it may be what failed). */
            wait_fds(fds, n, timeout);
        }
        if (fds[1].revents)
            drain_notify(a);
        if (fds[2].revents)
            task_io_ready(a->io);
        for (unsigned i = 3; i < n; i++)
            if (fds[i].revents)
                task_mgr_pidfd_ready(a->tasks, fds[i].fd);
        const struct bo_error_s *jf = task_mgr_failure(a->tasks);
        if (jf && fail_stop(a, &l, jf->msg))
            break;
        uint32_t signo = fds[0].revents ? read_signals(a) : 0;
        if (signo && l.stopping) {
            log_warn("second signal: exiting without waiting for tasks");
            break;
        }
        if (signo && !a->opt.cleanup_on_exit) {
            log_info("signal %u: stopping; tasks keep running and are re-attached on restart", signo);
            /* Starts in flight die with the agent (their helpers'
             * PR_SET_PDEATHSIG): let them finish and be recorded first. */
            task_mgr_settle_starts(a->tasks, 30000);
            break;
        }
        if (signo) {
            log_info("signal %u: killing every task before exiting (--cleanup-on-exit)", signo);
            begin_cleanup(a, &l);
        }
    }
    free(fds);
    return l.failed ? 1 : 0;
}

static void teardown(struct agent *a)
{
    exec_sessions_free(a->execs);
    task_io_free(a->io);
    sync_free(a->sync);
    agent_tls_clear(&a->tls);
    task_mgr_free(a->tasks);
    agent_images_free(a->images);
    journal_close(a->journal);
    cgroup_mgr_clear(&a->cg);
    runtime_clear(&a->rt);
    if (a->notify_fd >= 0) {
        close(a->notify_fd);
        if (unlink(a->sock_path) < 0 && errno != ENOENT)
            log_warn("removing `%s`: %s", a->sock_path, strerror(errno));
    }
    if (a->sig_fd >= 0)
        close(a->sig_fd);
    if (a->lock_fd >= 0)
        close(a->lock_fd);
    free(a->sock_path);
    agent_options_clear(&a->opt);
}

int agent_main(int argc, char **argv)
{
    bo_log_init("agent");
    struct agent a = {.lock_fd = -1, .sig_fd = -1, .notify_fd = -1};
    bo_error_t err = NULL;
    if (agent_options_parse(argc, argv, &a.opt, &err) < 0) {
        fprintf(stderr, "borealis agent: %s\n", err->msg);
        bo_error_free(err);
        return 2;
    }
    if (a.opt.help) {
        agent_options_help(stdout);
        agent_options_clear(&a.opt);
        return 0;
    }
    int rc = 0;
    launcher_raise_fd_limit();
    if (setup(&a, &err) < 0) {
        log_error("%s", err->msg);
        /* A bad option value is a usage error; anything else (a busy data
         * dir, an unwritable journal, no cgroups) is a failure. */
        rc = err->kind == BO_E_INVALID ? 2 : 1;
        bo_error_free(err);
    } else {
        log_info("agent %s on %s: %.2f CPUs, %llu MiB RAM, %llu MiB disk, ports %lld-%lld, cgroup %s, scheduler %s",
                 a.id, a.opt.hostname, a.opt.cpu, (unsigned long long)(a.opt.ram >> 20),
                 (unsigned long long)(a.opt.disk >> 20), (long long)a.opt.port_lo, (long long)a.opt.port_hi,
                 cgroup_flavour_name(a.cg.flavour), a.opt.scheduler_url);
        if (!launcher_can_protect_executor())
            log_warn("no CAP_SYS_RESOURCE: executors keep the default oom_score_adj instead of -1000");
        rc = run(&a);
    }
    teardown(&a);
    return rc;
}
