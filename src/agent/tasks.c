/* tasks.c - launch, monitoring, kill, cleanup and re-attach of tasks. */
#include "agent/tasks.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "agent/container.h"
#include "agent/disk_watch.h"
#include "agent/host_mounts.h"
#include "agent/images.h"
#include "agent/launch_pool.h"
#include "agent/launcher.h"
#include "agent/sandbox.h"
#include "model/template.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/parse.h"
#include "agent/oci_spec.h"
#include "model/task_state.h"

#define KILL_BACKSTOP_EXTRA_MS 5000
/* How long one pass of the loop may spend preparing launches (sandbox,
 * cgroup, bundle: a few ms each) before it syncs with the scheduler again. */
#define LAUNCH_BUDGET_MS 1000
/* Container starts in flight at once, from the launch pool's queue to the
 * runtime's report: the preparation (sandbox, cgroup, bundle) runs in
 * LAUNCH_THREADS worker threads and the runtime (tens of ms of CPU each:
 * namespaces, mounts, the seccomp filter) in helper processes, all beside
 * the loop; a few at once keep the machine's CPUs busy, more only queue
 * in the kernel and slow each one down. The rest wait (deferred). */
#define PARALLEL_STARTS 8
#define LAUNCH_THREADS 2
/* How long one pass may spend removing ended containers (`runtime delete`,
 * tens of ms each): a `job killall` of hundreds must not keep the loop
 * from syncing for longer than the scheduler's agent timeout. */
#define FINALIZE_BUDGET_MS 500
#define RESCAN_EVERY_MS 5000
#define GC_EVERY_MS 10000
/* Causes of updates for tasks the agent ended itself (protocol section 3). */
#define CAUSE_SHUTDOWN "agent_shutdown"
#define CAUSE_RESTART "agent_restart"

struct task {
    struct journal_task rec;
    int pidfd;          /* -1: executor not watched (gone or never started) */
    bool our_child;     /* started by this agent process: must be reaped */
    int64_t kill_deadline; /* mono ms of the kill backstop; 0: none */
    char *last_read_error; /* to log a bad status.json once */
    char *procs_sent;      /* its processes as last reported (compact JSON) */
    struct sync_launch *image_wait; /* the launch, while its image is pulled */
    bool deferred;                  /* image_wait holds a launch put off (budget, or no start slot) */
    struct prep *preparing;         /* its launch, being prepared in the launch pool */
    struct runtime_start *starting; /* its container start, in flight beside the loop */
    double cpu;                     /* set on its cgroup once started */
    bool kill_when_started;         /* a kill came while starting */
    bool finalize_later;            /* its cleanup was put off (FINALIZE_BUDGET_MS) */
};

struct task_mgr {
    struct task_mgr_config cfg;
    struct journal *journal;
    const struct cgroup_mgr *cg;
    struct task **tasks;
    size_t n_tasks;
    int64_t next_rescan, next_gc;
    bool cleaning;
    bo_error_t fatal; /* the first journal write that failed */
    size_t n_deferred; /* tasks whose container start was put off */
    size_t n_starting; /* container starts in flight (at most PARALLEL_STARTS) */
    size_t n_finalize_later; /* tasks whose cleanup was put off */
    int64_t pass_start;      /* mono ms: when this loop pass began (task_mgr_tick) */
    struct disk_watch disk; /* disk usage rounds beside the loop */
    struct launch_pool *pool; /* launches prepared beside the loop (with a runtime) */
    int64_t next_disk;      /* mono ms of the next round */
};

/* Records keep the state by name (journal rows, updates); the names and
 * what is terminal come from the one table (model/task_state.h). */
static bool state_terminal(const char *s)
{
    enum task_state st;
    return task_state_from_name(s, &st) == 0 && task_state_is_terminal(st);
}

static struct task *find_task(struct task_mgr *m, const char *id)
{
    for (size_t i = 0; i < m->n_tasks; i++)
        if (strcmp(m->tasks[i]->rec.task_id, id) == 0)
            return m->tasks[i];
    return NULL;
}

/* A launch kept while its task's image is pulled (the sync answer's is
 * freed after the answer is handled). */
static struct sync_launch *launch_copy(const struct sync_launch *l)
{
    struct sync_launch *c = bo_xcalloc(1, sizeof(*c));
    c->task_id = bo_xstrdup(l->task_id);
    c->job = l->job ? bo_xstrdup(l->job) : NULL;
    c->instance = l->instance;
    c->ports = l->ports ? json_deep_copy(l->ports) : NULL;
    json_t *tj = task_config_to_json(&l->task);
    bo_error_t err = NULL;
    if (task_config_from_json(tj, &c->task, &err) < 0) { /* it was decoded from the same JSON */
        fprintf(stderr, "task config does not round-trip: %s\n", err->msg);
        abort();
    }
    json_decref(tj);
    return c;
}

static void launch_free(struct sync_launch *l)
{
    if (!l)
        return;
    free(l->task_id);
    free(l->job);
    json_decref(l->ports);
    task_config_clear(&l->task);
    free(l);
}

/* A launch prepared in the launch pool (or in the loop without a runtime:
 * unit tests). Owned by its task (`preparing`) from submit to
 * prep_done(); while in the pool, `run` reads only the prep and the
 * manager's configuration, which nobody changes. */
struct prep {
    struct launch_job job; /* first: the pool hands it back as this */
    struct task_mgr *m;
    struct task *t;
    const struct sync_launch *l;
    struct sync_launch *owned; /* l's copy, when the prep outlives the caller's */
    char *sandbox, *cgroup;    /* the task's */
    struct host_mounts hm;     /* checked in the loop; held open until the helper has them */
    struct image_config icfg;  /* with an image */
    const char *image;         /* in l, or NULL */
    /* What the run made: the runtime's helper, or the step that failed. */
    struct runtime_start *rs;
    const char *what;
    bo_error_t err;
};

static void prep_free(struct prep *p)
{
    if (!p)
        return;
    launch_free(p->owned);
    free(p->sandbox);
    free(p->cgroup);
    host_mounts_clear(&p->hm);
    image_config_clear(&p->icfg);
    runtime_start_free(p->rs);
    bo_error_free(p->err);
    free(p);
}

static void task_free(struct task *t)
{
    prep_free(t->preparing);
    if (t->pidfd >= 0)
        close(t->pidfd);
    journal_task_clear(&t->rec);
    free(t->last_read_error);
    free(t->procs_sent);
    launch_free(t->image_wait);
    runtime_start_free(t->starting);
    free(t);
}

static void add_task(struct task_mgr *m, struct task *t)
{
    m->tasks = bo_xrealloc(m->tasks, (m->n_tasks + 1) * sizeof(*m->tasks));
    m->tasks[m->n_tasks++] = t;
}

int task_mgr_new(const struct task_mgr_config *cfg, struct journal *j, const struct cgroup_mgr *cg,
                 struct task_mgr **ret, bo_error_t *err)
{
    struct task_mgr *m = bo_xcalloc(1, sizeof(*m));
    if (disk_watch_init(&m->disk, err) < 0) {
        free(m);
        return -1;
    }
    if (cfg->runtime && launch_pool_new(LAUNCH_THREADS, &m->pool, err) < 0) {
        disk_watch_clear(&m->disk);
        free(m);
        return -1;
    }
    m->cfg = *cfg;
    m->journal = j;
    m->cg = cg;
    *ret = m;
    return 0;
}

void task_mgr_free(struct task_mgr *m)
{
    if (!m)
        return;
    /* First: no worker may still read a task's prep. */
    launch_pool_free(m->pool);
    disk_watch_clear(&m->disk);
    for (size_t i = 0; i < m->n_tasks; i++)
        task_free(m->tasks[i]);
    free(m->tasks);
    bo_error_freep(&m->fatal);
    free(m);
}

/* A journal write failed: the update or record it carried is lost unless
 * the agent stops now (fail-stop, like the scheduler's store) and a restart
 * recovers from what the journal holds. The first failure is kept for the
 * agent's loop; later ones (the same disk) are dropped. */
static void journal_failed(struct task_mgr *m, bo_error_t err)
{
    if (!m->fatal)
        m->fatal = err;
    else
        bo_error_free(err);
}

static void save(struct task_mgr *m, struct task *t)
{
    bo_error_t err = NULL;
    if (journal_task_put(m->journal, &t->rec, &err) < 0) {
        bo_error_wrap(&err, "task %s", t->rec.task_id);
        journal_failed(m, err);
    }
}

static void enqueue(struct task_mgr *m, json_t *u)
{
    bo_error_t err = NULL;
    if (journal_enqueue(m->journal, u, NULL, &err) < 0) {
        bo_error_wrap(&err, "update of task %s", json_string_value(json_object_get(u, "task_id")));
        journal_failed(m, err);
    }
    json_decref(u);
}

/* A new update (without seq) for task_id. `cause` (NULL: the task's own
 * doing) says the agent ended the task itself (docs/protocol.md section 3). */
static json_t *update_new(const char *task_id, const char *state, const char *message, int64_t executor_pid,
                          json_t *exit_code, json_t *processes, const char *cause)
{
    json_t *u = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:o}", "task_id", task_id, "state", state, "message",
                          message, "ts", (json_int_t)bo_wall_ms(), "executor_pid",
                          executor_pid > 0 ? json_integer(executor_pid) : json_null(), "exit_code",
                          exit_code ? exit_code : json_null(), "processes", processes ? processes : json_array());
    if (cause)
        json_object_set_new(u, "cause", json_string(cause));
    return u;
}

static void remember_processes(struct task *t, const json_t *processes)
{
    free(t->procs_sent);
    t->procs_sent = processes ? json_dumps(processes, JSON_COMPACT) : NULL;
}

/* Journal update `u` (taken), after the task's record when `save_record`
 * (the record first, so a crash in between never leaves an update for a
 * task the agent forgot), both in one commit: one fsync per change. */
static void journal_update(struct task_mgr *m, struct task *t, json_t *u, bool save_record)
{
    bo_error_t err = NULL;
    bool grouped = journal_begin(m->journal, &err) == 0;
    if (!grouped)
        journal_failed(m, err);
    err = NULL;
    if (save_record)
        save(m, t);
    enqueue(m, u);
    if (grouped && journal_commit(m->journal, &err) < 0)
        journal_failed(m, err);
}

/* Record the new state, then journal the update (journal_update).
 * A task that ends while the agent kills everything to shut down ended
 * because of the agent, not of itself. */
static void report_cause(struct task_mgr *m, struct task *t, const char *state, const char *message,
                         json_t *exit_code, json_t *processes, const char *cause)
{
    if (!cause && m->cleaning && state_terminal(state) && strcmp(state, task_state_name(TASK_FINISHED)) != 0)
        cause = CAUSE_SHUTDOWN;
    free(t->rec.state);
    t->rec.state = bo_xstrdup(state);
    if (state_terminal(state) && t->rec.ended_ms == 0)
        t->rec.ended_ms = bo_wall_ms();
    log_info("task %s: %s%s%s", t->rec.task_id, state, *message ? ": " : "", message);
    remember_processes(t, processes);
    journal_update(m, t, update_new(t->rec.task_id, state, message, t->rec.executor_pid, exit_code, processes, cause),
                   true);
}

static void report(struct task_mgr *m, struct task *t, const char *state, const char *message, json_t *exit_code,
                   json_t *processes)
{
    report_cause(m, t, state, message, exit_code, processes, NULL);
}

/* A process ran again, or ended, while its task's state stays (a daemon's
 * reruns, an ephemeral process's end): the same state with the processes,
 * so `job status --verbose` shows run counts and exit codes as they are.
 * The executor paces reruns (min_duration), which bounds these. */
static void report_processes(struct task_mgr *m, struct task *t, json_t *processes)
{
    char *now = json_dumps(processes, JSON_COMPACT);
    if (!now || (t->procs_sent && strcmp(now, t->procs_sent) == 0)) {
        free(now);
        json_decref(processes);
        return;
    }
    free(t->procs_sent);
    t->procs_sent = now;
    journal_update(m, t, update_new(t->rec.task_id, t->rec.state, "", t->rec.executor_pid, NULL, processes, NULL),
                   false);
}

/* The memory message replaces a failure when the cgroup saw an OOM kill. */
static char *oom_message(struct task_mgr *m, struct task *t, const struct sandbox_status *s)
{
    int64_t count = 0;
    bool exact = true;
    bo_error_t err = NULL;
    if (cgroup_oom_count(m->cg, t->rec.cgroup, &count, &exact, &err) < 0) {
        log_warn("task %s: OOM counter: %s", t->rec.task_id, err->msg);
        bo_error_free(err);
        return NULL;
    }
    if (count <= 0)
        return NULL;
    if (!exact) {
        bool sigkilled = false;
        for (size_t i = 0; s && i < s->n_processes; i++)
            sigkilled |= s->processes[i].has_signal && s->processes[i].signal == SIGKILL;
        if (!sigkilled)
            return NULL;
    }
    char size[32];
    bo_format_size(t->rec.ram, size, sizeof(size));
    return bo_xasprintf("memory limit exceeded (limit %s): the kernel OOM killer ended the task", size);
}

static json_t *exit_code_of(const struct sandbox_status *s)
{
    if (strcmp(s->state, task_state_name(TASK_FINISHED)) == 0)
        return json_integer(0);
    for (size_t i = 0; i < s->n_processes; i++)
        if (strcmp(s->processes[i].state, "FAILED") == 0 && s->processes[i].has_exit_code)
            return json_integer(s->processes[i].exit_code);
    return NULL;
}

/* Re-read status.json; report a change of task state. */
static void refresh(struct task_mgr *m, struct task *t)
{
    if (state_terminal(t->rec.state) || t->rec.executor_pid <= 0)
        return;
    struct sandbox_status s;
    bo_error_t err = NULL;
    if (sandbox_read_status(t->rec.sandbox, t->rec.task_id, &s, &err) < 0) {
        if (err->kind != BO_E_NOTFOUND &&
            (!t->last_read_error || strcmp(t->last_read_error, err->msg) != 0)) {
            log_warn("task %s: %s", t->rec.task_id, err->msg);
            free(t->last_read_error);
            t->last_read_error = bo_xstrdup(err->msg);
        }
        bo_error_free(err);
        return;
    }
    if (m->cfg.runtime)
        container_host_pids((pid_t)t->rec.executor_pid, &s);
    if (strcmp(s.state, t->rec.state) != 0) {
        _cleanup_free_ char *oom = strcmp(s.state, task_state_name(TASK_FAILED)) == 0 ? oom_message(m, t, &s) : NULL;
        report(m, t, s.state, oom ? oom : s.message, exit_code_of(&s), sandbox_status_processes_json(&s));
    } else {
        report_processes(m, t, sandbox_status_processes_json(&s));
    }
    sandbox_status_clear(&s);
}

/* The runtime's container, its bundle and image root (none without a
 * runtime: unit tests). */
static int remove_container(struct task_mgr *m, struct task *t, bo_error_t *err)
{
    if (!m->cfg.runtime)
        return 0;
    struct image_store *images = m->cfg.images ? agent_images_store(m->cfg.images) : NULL;
    return container_remove(m->cfg.runtime, images, m->cfg.data_dir, t->rec.task_id, err);
}

/* Executor gone and task terminal: nothing may stay in the cgroup. */
static void finalize(struct task_mgr *m, struct task *t)
{
    if (t->finalize_later) {
        t->finalize_later = false;
        m->n_finalize_later--;
    }
    if (t->rec.cleaned)
        return;
    if (m->cfg.runtime && bo_mono_ms() - m->pass_start > FINALIZE_BUDGET_MS) {
        /* The next passes go on (task_mgr_tick); the loop syncs between. */
        t->finalize_later = true;
        m->n_finalize_later++;
        return;
    }
    bo_error_t err = NULL;
    if (cgroup_kill_all(m->cg, t->rec.cgroup, &err) < 0 ||
        remove_container(m, t, &err) < 0 ||
        cgroup_remove(m->cg, t->rec.cgroup, &err) < 0) {
        log_warn("task %s: cleanup: %s", t->rec.task_id, err->msg);
        bo_error_free(err);
        return; /* retried by the next tick */
    }
    t->rec.cleaned = true;
    save(m, t);
}

/* The executor is gone (pidfd fired, or found dead on recovery). */
static void executor_gone(struct task_mgr *m, struct task *t, const char *why)
{
    /* A SIGTERM that reaches the executor before it blocks the signal (in
     * the launcher child or while it reads task.json) kills it outright:
     * still the kill the scheduler asked for, not a failure. */
    bool kill_requested = t->kill_deadline != 0;
    if (t->our_child && t->pidfd >= 0) {
        /* By the pidfd, never by pid: runtime_reap_orphans may have reaped
         * it already, and its pid may be another container's now. */
        siginfo_t info;
        while (waitid(P_PIDFD, (id_t)t->pidfd, &info, WEXITED | WNOHANG) < 0 && errno == EINTR)
            ;
    }
    t->our_child = false;
    if (t->pidfd >= 0) {
        close(t->pidfd);
        t->pidfd = -1;
    }
    t->kill_deadline = 0;
    refresh(m, t);
    if (!state_terminal(t->rec.state)) {
        /* Read what the executor last knew about its processes. */
        struct sandbox_status s = {0};
        bo_error_t err = NULL;
        json_t *procs = NULL;
        if (sandbox_read_status(t->rec.sandbox, t->rec.task_id, &s, &err) == 0)
            procs = sandbox_status_processes_json(&s);
        bo_error_freep(&err);
        if (kill_requested)
            report(m, t, task_state_name(TASK_KILLED), "killed before the executor was ready", NULL, procs);
        else if (t->rec.executor_pid <= 0) /* never started: not its failure */
            report_cause(m, t, task_state_name(TASK_LOST), why, NULL, procs, CAUSE_RESTART);
        else
            report(m, t, task_state_name(TASK_FAILED), why, NULL, procs);
        sandbox_status_clear(&s);
    }
    finalize(m, t);
}

static void launch_failed(struct task_mgr *m, struct task *t, const char *what, bo_error_t err)
{
    char *msg = bo_xasprintf("launch failed: %s: %s", what, err->msg);
    bo_error_free(err);
    bo_error_t e2 = NULL;
    if (remove_container(m, t, &e2) < 0 ||
        cgroup_remove(m->cg, t->rec.cgroup, &e2) < 0) {
        log_warn("task %s: %s", t->rec.task_id, e2->msg);
        bo_error_free(e2);
    } else {
        t->rec.cleaned = true;
    }
    report(m, t, task_state_name(TASK_FAILED), msg, NULL, NULL);
    free(msg);
}

/* Phase 1 of a launch: the task's record (state ASSIGNED). Returns NULL
 * when there is nothing to start (invalid, known, or shutting down). Every
 * launch the agent refuses is reported against its task id (with no record:
 * an invalid id may not name a safe path), or the scheduler would hold the
 * task ASSIGNED and resend the launch for ever. */
static struct task *launch_record(struct task_mgr *m, const struct sync_launch *l)
{
    if (l->task_id && find_task(m, l->task_id)) {
        log_debug("task %s: launch again ignored (already known)", l->task_id);
        return NULL;
    }
    if (l->error) {
        if (!l->task_id) {
            log_warn("skipping launch item (no task id to report it against): %s", l->error->msg);
            return NULL;
        }
        _cleanup_free_ char *msg = bo_xasprintf("launch refused by the agent: %s", l->error->msg);
        log_warn("task %.200s: FAILED: %s", l->task_id, msg);
        enqueue(m, update_new(l->task_id, task_state_name(TASK_FAILED), msg, 0, NULL, NULL, NULL));
        return NULL;
    }
    if (m->cleaning) {
        log_info("task %s: launch refused while shutting down", l->task_id);
        enqueue(m, update_new(l->task_id, task_state_name(TASK_LOST), "the agent is shutting down", 0, NULL, NULL,
                              CAUSE_SHUTDOWN));
        return NULL;
    }
    struct task *t = bo_xcalloc(1, sizeof(*t));
    t->pidfd = -1;
    t->rec = (struct journal_task){
        .task_id = bo_xstrdup(l->task_id),
        .sandbox = bo_xasprintf("%s/sandboxes/%s", m->cfg.data_dir, l->task_id),
        .cgroup = bo_xstrdup(l->task_id),
        .state = bo_xstrdup(task_state_name(TASK_ASSIGNED)),
        .ram = l->task.ram,
        .disk = l->task.disk,
        .grace_ms = task_config_kill_budget_ms(&l->task),
    };
    add_task(m, t);
    save(m, t);
    return t;
}

/* The executor runs: its CPU limit, then it is watched and reported. */
static void executor_started(struct task_mgr *m, struct task *t, const struct launcher_result *lr, double cpu)
{
    bo_error_t err = NULL;
    if (cgroup_set_cpu(m->cg, t->rec.cgroup, cpu, &err) < 0) {
        /* The task would run without its CPU limit: not started at all. */
        (void)launcher_pidfd_signal(lr->pidfd, SIGKILL);
        siginfo_t info;
        while (waitid(P_PIDFD, (id_t)lr->pidfd, &info, WEXITED) < 0 && errno == EINTR)
            ;
        close(lr->pidfd);
        return launch_failed(m, t, "cgroup", err);
    }
    t->pidfd = lr->pidfd;
    t->our_child = true;
    t->rec.executor_pid = lr->pid;
    t->rec.executor_start = lr->start_time;
    report(m, t, task_state_name(TASK_STARTING), "", NULL, NULL);
    refresh(m, t);
}

/* A launch put off: its copy waits in image_wait for start_deferred().
 * `l` is taken. */
static void defer(struct task_mgr *m, struct task *t, struct sync_launch *l)
{
    t->image_wait = l;
    t->deferred = true;
    m->n_deferred++;
}

static bool start_slot_free(const struct task_mgr *m)
{
    return !m->cfg.runtime || m->n_starting < PARALLEL_STARTS;
}

/* Phase 2, the part beside the loop: sandbox, cgroup, bundle and the
 * runtime's helper forked (container.h). In a worker thread: nothing here
 * touches the journal or the task list; the loop takes the outcome in
 * prep_done(). */
static void prep_run(struct launch_job *job)
{
    struct prep *p = (struct prep *)job;
    struct task_mgr *m = p->m;
    const struct sync_launch *l = p->l;
    p->what = "sandbox";
    struct sandbox_launch sl = {.task_id = l->task_id, .instance = l->instance, .hostname = m->cfg.hostname,
                                .ports = l->ports, .task = &l->task, .notify_socket = m->cfg.notify_socket,
                                .image = p->image ? &p->icfg : NULL};
    if (sandbox_prepare(p->sandbox, &sl, &p->err) < 0)
        return;
    p->what = "cgroup";
    struct cgroup_limits lim = {.cpu = 0 /* set once started */, .ram = l->task.ram, .pids_max = m->cfg.pids_max};
    if (cgroup_create(m->cg, p->cgroup, &lim, &p->err) < 0 || !m->cfg.runtime)
        return;
    p->what = "container";
    _cleanup_free_ char *cg_path = bo_xasprintf("/%s/%s", m->cg->root_name, p->cgroup);
    struct template_runtime trt = {
        .instance = l->instance, .hostname = m->cfg.hostname, .task_id = l->task_id, .ports = l->ports};
    struct container_launch cl = {.rt = m->cfg.runtime, .data_dir = m->cfg.data_dir, .task_id = l->task_id,
                                  .job = l->job, .sandbox = p->sandbox,
                                  .executor = m->cfg.executor, .hostname = m->cfg.hostname, .cgroups_path = cg_path,
                                  .notify_socket = m->cfg.notify_socket, .allow_root_roles = m->cfg.allow_root_roles,
                                  .images = m->cfg.images ? agent_images_store(m->cfg.images) : NULL,
                                  .image = p->image, .image_config = &p->icfg, .job_env = l->task.env,
                                  .n_job_env = l->task.n_env, .vars = &trt, .mounts = &p->hm};
    (void)container_start(&cl, &p->rs, &p->err);
    /* The helper holds its own copies of the host mounts now. */
    host_mounts_clear(&p->hm);
}

/* Phase 2: host mounts checked and the image found (in the loop), then
 * prep_run beside it. */
static void launch_start(struct task_mgr *m, struct task *t, const struct sync_launch *l)
{
    bo_error_t err = NULL;
    struct prep *p = bo_xcalloc(1, sizeof(*p));
    p->job.run = prep_run;
    p->m = m;
    p->t = t;
    p->l = l;
    /* Checked before anything is made or pulled, and held open until the
     * runtime has mounted them (host_mounts.h). */
    if (host_mounts_resolve(l->task.mounts, l->task.n_mounts, m->cfg.host_mount_allow, m->cfg.n_host_mount_allow,
                            m->cfg.data_dir, &p->hm, &err) < 0) {
        prep_free(p);
        return launch_failed(m, t, "mounts", err);
    }
    if (l->task.image && *l->task.image) {
        /* The pull runs beside the loop; the task shows it meanwhile and
         * the launch goes on in image_pulled(). */
        if (m->cfg.images && agent_images_want(m->cfg.images, t->rec.task_id, l->task.image) == 0) {
            prep_free(p);
            t->image_wait = launch_copy(l);
            _cleanup_free_ char *msg = bo_xasprintf("pulling image %s", l->task.image);
            report(m, t, task_state_name(TASK_STARTING), msg, NULL, NULL);
            return;
        }
        if (!m->cfg.images || !m->cfg.runtime) {
            prep_free(p);
            bo_error_set(&err, BO_E_REFUSED, "this agent cannot run container images (image %s)", l->task.image);
            return launch_failed(m, t, "image", err);
        }
        /* In the store: the container's root is the image's overlay. */
        p->image = l->task.image;
    }
    /* The image's config says what its processes run (agent/command.h). */
    if (p->image && image_store_config(agent_images_store(m->cfg.images), p->image, &p->icfg, &err) < 0) {
        prep_free(p);
        return launch_failed(m, t, "image", err);
    }
    p->sandbox = bo_xstrdup(t->rec.sandbox);
    p->cgroup = bo_xstrdup(t->rec.cgroup);
    if (!m->cfg.runtime) {
        /* Unit tests only (tasks.h): prepared here, the executor forked
         * directly. */
        prep_run(&p->job);
        struct launcher_result lr;
        int r = -1;
        if (!p->err) {
            char **files = cgroup_procs_files(m->cg, t->rec.cgroup);
            r = launcher_start(m->cfg.executor, t->rec.sandbox, files, &lr, &p->err);
            p->what = "executor";
            cgroup_strv_free(files);
        }
        if (r < 0)
            launch_failed(m, t, p->what, BO_STEAL(p->err));
        else
            executor_started(m, t, &lr, l->task.cpu);
        prep_free(p);
        return;
    }
    /* The caller's launch is freed once it returns. */
    p->l = p->owned = launch_copy(l);
    if (p->image)
        p->image = p->owned->task.image;
    t->cpu = l->task.cpu;
    t->preparing = p;
    m->n_starting++;
    launch_pool_submit(m->pool, &p->job);
}

/* A prep came back from the pool: the runtime's helper is running (its
 * report polled from now on), or the launch failed. */
static void prep_done(struct task_mgr *m, struct prep *p)
{
    struct task *t = p->t;
    t->preparing = NULL;
    if (p->err) {
        m->n_starting--;
        launch_failed(m, t, p->what, BO_STEAL(p->err));
    } else {
        t->starting = BO_STEAL(p->rs);
    }
    prep_free(p);
}

/* A container start reported (its fd was readable). */
static void container_start_done(struct task_mgr *m, struct task *t)
{
    struct launcher_result lr;
    bo_error_t err = NULL;
    int r = container_started(t->starting, &lr, &err);
    runtime_start_free(BO_STEAL(t->starting));
    m->n_starting--;
    if (r < 0)
        return launch_failed(m, t, "container", err);
    executor_started(m, t, &lr, t->cpu);
    if (t->kill_when_started && t->pidfd >= 0 && !t->kill_deadline) {
        struct sync_kill k = {.task_id = t->rec.task_id, .grace_ms = t->rec.grace_ms};
        task_mgr_kill(m, &k);
    }
}

/* Open (begin) or close a group of journal writes that commit together. */
static void journal_group(struct task_mgr *m, bool begin)
{
    bo_error_t err = NULL;
    if ((begin ? journal_begin(m->journal, &err) : journal_commit(m->journal, &err)) < 0)
        journal_failed(m, err);
}

void task_mgr_launch(struct task_mgr *m, const struct sync_launch *ls, size_t n)
{
    /* Every record is durable before any sandbox, cgroup or executor
     * exists: a crash past this point leaves records that recovery reports
     * FAILED and cleans up (killing an executor started but not yet
     * recorded as started). Without them a restarted agent would not know
     * the tasks, the scheduler's resent launches would start second
     * executors, and the first ones would run on untracked. One commit
     * covers the whole batch; a second one covers the STARTING reports,
     * which are sent only after it. */
    struct task **started = bo_xcalloc(n ? n : 1, sizeof(*started));
    int64_t t0 = bo_mono_ms();
    journal_group(m, true);
    size_t n_started = 0;
    for (size_t i = 0; i < n; i++)
        n_started += (started[i] = launch_record(m, &ls[i])) != NULL;
    journal_group(m, false);
    if (m->fatal) {
        /* The records may not be durable: starting executors now could
         * leave ones a restart does not know. The agent stops instead. */
        free(started);
        return;
    }
    journal_group(m, true);
    for (size_t i = 0; i < n; i++) {
        if (!started[i])
            continue;
        if (bo_mono_ms() - t0 > LAUNCH_BUDGET_MS || !start_slot_free(m)) {
            /* At most PARALLEL_STARTS containers start at once, and the
             * loop prepares launches for at most LAUNCH_BUDGET_MS a pass:
             * the rest waits for a free slot (start_deferred), and the
             * loop keeps syncing meanwhile. */
            defer(m, started[i], launch_copy(&ls[i]));
            continue;
        }
        launch_start(m, started[i], &ls[i]);
    }
    /* Executors started early in a long batch wrote their first states
     * while this loop ran, and the notify socket holds only a few
     * datagrams: read every new task's status once more now. */
    for (size_t i = 0; i < n; i++)
        if (started[i] && started[i]->pidfd >= 0)
            refresh(m, started[i]);
    journal_group(m, false);
    if (n_started > 1)
        log_info("launched a batch of %zu tasks in %lld ms", n_started, (long long)(bo_mono_ms() - t0));
    free(started);
}

/* A task killed before its image arrived: nothing of it exists yet. */
static void image_wait_end(struct task_mgr *m, struct task *t, const char *why)
{
    if (t->deferred) {
        t->deferred = false;
        m->n_deferred--;
        why = "killed before its container was started";
    }
    launch_free(BO_STEAL(t->image_wait));
    t->rec.cleaned = true;
    report(m, t, task_state_name(TASK_KILLED), why, NULL, NULL);
}

static void image_pulled(void *arg, const char *task_id, bo_error_t err)
{
    struct task_mgr *m = arg;
    struct task *t = find_task(m, task_id);
    struct sync_launch *l = t ? BO_STEAL(t->image_wait) : NULL;
    if (!l || state_terminal(t->rec.state) || m->cleaning) {
        if (err)
            bo_error_free(err);
        if (l && !state_terminal(t->rec.state)) {
            t->image_wait = l;
            image_wait_end(m, t, "killed while its image was being pulled");
        } else {
            launch_free(l);
        }
        return;
    }
    if (err) {
        launch_failed(m, t, "image", err);
    } else if (!start_slot_free(m)) {
        defer(m, t, BO_STEAL(l));
    } else {
        launch_start(m, t, l);
    }
    launch_free(l);
}

void task_mgr_kill(struct task_mgr *m, const struct sync_kill *k)
{
    if (k->error) {
        log_warn("skipping kill item: %s", k->error->msg);
        return;
    }
    struct task *t = find_task(m, k->task_id);
    if (!t) {
        log_info("task %s: kill of a task unknown to this agent, reporting LOST", k->task_id);
        enqueue(m, update_new(k->task_id, task_state_name(TASK_LOST), "unknown to agent", 0, NULL, NULL, NULL));
        return;
    }
    if (t->image_wait && !state_terminal(t->rec.state)) {
        image_wait_end(m, t, "killed while its image was being pulled");
        return;
    }
    if (t->starting || t->preparing) {
        /* Its executor is not there to signal yet: killed once it is. */
        t->kill_when_started = true;
        return;
    }
    if (state_terminal(t->rec.state) || t->pidfd < 0 || t->kill_deadline)
        return;
    log_info("task %s: killing (grace %lld ms)", t->rec.task_id, (long long)k->grace_ms);
    /* The executor runs the SIGTERM / grace / SIGKILL sequence itself. */
    int r = launcher_pidfd_signal(t->pidfd, SIGTERM);
    if (r < 0 && r != -ESRCH)
        log_warn("task %s: SIGTERM to executor %lld: %s", t->rec.task_id, (long long)t->rec.executor_pid,
                 strerror(-r));
    t->kill_deadline = bo_mono_ms() + k->grace_ms + KILL_BACKSTOP_EXTRA_MS;
}

void task_mgr_notified(struct task_mgr *m, const char *task_id)
{
    struct task *t = find_task(m, task_id);
    if (t)
        refresh(m, t);
}

/* A round of disk usage ended: a task over its limit ends FAILED at once,
 * its cgroup killed (as the kernel does at the memory limit). */
static void disk_round_done(struct task_mgr *m)
{
    struct disk_item *v = NULL;
    size_t n = 0;
    disk_watch_finish(&m->disk, &v, &n);
    journal_group(m, true);
    for (size_t i = 0; i < n; i++) {
        struct task *t = find_task(m, v[i].task_id);
        bool unmeasurable = v[i].walk == DISK_WALK_TOO_MANY || v[i].walk == DISK_WALK_TOO_DEEP;
        if (!t || (v[i].used <= v[i].limit && !unmeasurable) || v[i].walk == DISK_WALK_STOPPED ||
            state_terminal(t->rec.state) || t->pidfd < 0)
            continue;
        char limit[32], used[32];
        bo_format_size(v[i].limit, limit, sizeof(limit));
        bo_format_size(v[i].used, used, sizeof(used));
        const char *what = v[i].paths[1] ? "the sandbox and writable layer" : "the sandbox";
        _cleanup_free_ char *msg = NULL;
        if (v[i].walk == DISK_WALK_TOO_MANY)
            msg = bo_xasprintf("disk limit exceeded (limit %s): more than %d files and directories in %s, more than "
                               "the agent measures",
                               limit, DISK_WATCH_MAX_ENTRIES, what);
        else if (v[i].walk == DISK_WALK_TOO_DEEP)
            msg = bo_xasprintf("disk limit exceeded (limit %s): directories nested more than %d deep in %s, more "
                               "than the agent measures",
                               limit, DISK_WATCH_MAX_DEPTH, what);
        else
            msg = bo_xasprintf("disk limit exceeded (limit %s): %s in %s", limit, used, what);
        bo_error_t err = NULL;
        if (cgroup_kill_all(m->cg, t->rec.cgroup, &err) < 0) {
            log_warn("task %s: %s", t->rec.task_id, err->msg);
            bo_error_free(err);
        }
        report(m, t, task_state_name(TASK_FAILED), msg, NULL, NULL);
    }
    journal_group(m, false);
    disk_items_free(v, n);
}

/* The live tasks with a disk limit, for a round. */
static void disk_round_start(struct task_mgr *m)
{
    struct disk_item *v = bo_xcalloc(m->n_tasks + 1, sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < m->n_tasks; i++) {
        struct task *t = m->tasks[i];
        if (t->rec.disk == 0 || t->pidfd < 0 || state_terminal(t->rec.state))
            continue;
        _cleanup_free_ char *upper = bo_xasprintf("%s/containers/%s/image/upper", m->cfg.data_dir, t->rec.task_id);
        struct stat st;
        v[n++] = (struct disk_item){.task_id = bo_xstrdup(t->rec.task_id),
                                    .paths = {bo_xstrdup(t->rec.sandbox),
                                              lstat(upper, &st) == 0 ? BO_STEAL(upper) : NULL},
                                    .limit = t->rec.disk};
    }
    if (n == 0) {
        free(v);
        return;
    }
    bo_error_t err = NULL;
    if (disk_watch_start(&m->disk, v, n, &err) < 0) {
        log_warn("disk usage: %s", err->msg);
        bo_error_free(err);
    }
}

/* The other starts that have reported meanwhile, handled in the caller's
 * journal group: their STARTING reports share one commit (one fsync)
 * instead of one each, when a batch's starts end close together. */
static void starts_done_now(struct task_mgr *m)
{
    struct pollfd p[PARALLEL_STARTS];
    struct task *who[PARALLEL_STARTS];
    size_t n = 0;
    for (size_t i = 0; i < m->n_tasks && n < PARALLEL_STARTS; i++)
        if (m->tasks[i]->starting) {
            who[n] = m->tasks[i];
            p[n++] = (struct pollfd){.fd = runtime_start_fd(m->tasks[i]->starting), .events = POLLIN};
        }
    if (n == 0 || poll(p, n, 0) <= 0)
        return;
    for (size_t k = 0; k < n; k++)
        if (p[k].revents && who[k]->starting)
            container_start_done(m, who[k]);
}

void task_mgr_pidfd_ready(struct task_mgr *m, int fd)
{
    if (disk_watch_running(&m->disk) && fd == disk_watch_fd(&m->disk)) {
        disk_round_done(m);
        return;
    }
    if (m->cfg.images && fd == agent_images_fd(m->cfg.images)) {
        journal_group(m, true);
        agent_images_drain(m->cfg.images, image_pulled, m);
        journal_group(m, false);
        return;
    }
    if (m->pool && fd == launch_pool_fd(m->pool)) {
        journal_group(m, true);
        for (struct launch_job *j; (j = launch_pool_take(m->pool));)
            prep_done(m, (struct prep *)j);
        journal_group(m, false);
        return;
    }
    /* Still readable? A start handled early (starts_done_now) closed its
     * socket, and a worker thread may have been given the same number
     * since: a stale entry of the caller's ready list must not be taken
     * for a report or an executor's end. */
    struct pollfd q = {.fd = fd, .events = POLLIN};
    if (poll(&q, 1, 0) <= 0)
        return;
    for (size_t i = 0; i < m->n_tasks; i++) {
        struct task *t = m->tasks[i];
        if (t->starting && runtime_start_fd(t->starting) == fd) {
            journal_group(m, true);
            container_start_done(m, t);
            starts_done_now(m);
            journal_group(m, false);
            return;
        }
        if (t->pidfd == fd) {
            executor_gone(m, t, "executor died unexpectedly");
            return;
        }
    }
}

void task_mgr_waitfds(struct task_mgr *m, struct curl_waitfd **fds, unsigned *n, unsigned *cap)
{
    if (disk_watch_running(&m->disk)) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *fds = bo_xrealloc(*fds, *cap * sizeof(**fds));
        }
        (*fds)[(*n)++] = (struct curl_waitfd){.fd = disk_watch_fd(&m->disk), .events = POLLIN};
    }
    if (m->cfg.images) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *fds = bo_xrealloc(*fds, *cap * sizeof(**fds));
        }
        (*fds)[(*n)++] = (struct curl_waitfd){.fd = agent_images_fd(m->cfg.images), .events = POLLIN};
    }
    if (m->pool) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *fds = bo_xrealloc(*fds, *cap * sizeof(**fds));
        }
        (*fds)[(*n)++] = (struct curl_waitfd){.fd = launch_pool_fd(m->pool), .events = POLLIN};
    }
    for (size_t i = 0; i < m->n_tasks; i++) {
        struct task *t = m->tasks[i];
        int fd = t->starting ? runtime_start_fd(t->starting) : t->pidfd;
        if (fd < 0)
            continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *fds = bo_xrealloc(*fds, *cap * sizeof(**fds));
        }
        (*fds)[(*n)++] = (struct curl_waitfd){.fd = fd, .events = POLLIN};
    }
}

static void kill_backstop(struct task_mgr *m, struct task *t)
{
    log_warn("task %s: executor %lld still alive %d ms after the grace period, killing its cgroup", t->rec.task_id,
             (long long)t->rec.executor_pid, KILL_BACKSTOP_EXTRA_MS);
    t->kill_deadline = 0;
    bo_error_t err = NULL;
    if (cgroup_kill_all(m->cg, t->rec.cgroup, &err) < 0) {
        log_error("task %s: %s", t->rec.task_id, err->msg);
        bo_error_free(err);
    }
    if (!state_terminal(t->rec.state))
        report(m, t, task_state_name(TASK_KILLED),
               "killed by the agent: the executor did not stop within the grace period", NULL, NULL);
}

void task_mgr_gc(struct task_mgr *m)
{
    int64_t now = bo_wall_ms();
    for (size_t i = 0; i < m->n_tasks && !m->fatal;) {
        struct task *t = m->tasks[i];
        bool pending = true;
        bo_error_t err = NULL;
        if (!state_terminal(t->rec.state) || !t->rec.cleaned || t->pidfd >= 0 || t->preparing ||
            now < t->rec.ended_ms + m->cfg.sandbox_retention_ms) {
            i++;
            continue;
        }
        if (journal_has_task(m->journal, t->rec.task_id, &pending, &err) < 0) {
            journal_failed(m, err);
            return;
        }
        if (pending) {
            i++;
            continue;
        }
        if (bo_rm_rf(t->rec.sandbox, &err) < 0) {
            log_warn("task %s: removing sandbox: %s", t->rec.task_id, err->msg);
            bo_error_free(err);
            i++;
            continue;
        }
        if (journal_task_delete(m->journal, t->rec.task_id, &err) < 0) {
            journal_failed(m, err);
            return;
        }
        log_debug("task %s: sandbox removed", t->rec.task_id);
        task_free(t);
        m->tasks[i] = m->tasks[--m->n_tasks];
    }
}

/* Start put-off containers while a start slot is free, for at most
 * LAUNCH_BUDGET_MS. */
static void start_deferred(struct task_mgr *m)
{
    int64_t t0 = bo_mono_ms();
    journal_group(m, true);
    for (size_t i = 0; i < m->n_tasks && m->n_deferred > 0 && start_slot_free(m) && bo_mono_ms() - t0 <= LAUNCH_BUDGET_MS;
         i++) {
        struct task *t = m->tasks[i];
        if (!t->deferred)
            continue;
        t->deferred = false;
        m->n_deferred--;
        struct sync_launch *l = BO_STEAL(t->image_wait);
        if (!state_terminal(t->rec.state) && !m->cleaning)
            launch_start(m, t, l);
        launch_free(l);
    }
    journal_group(m, false);
}

int task_mgr_tick(struct task_mgr *m)
{
    m->pass_start = bo_mono_ms();
    runtime_reap_orphans();
    for (size_t i = 0; i < m->n_tasks && m->n_finalize_later > 0; i++)
        if (m->tasks[i]->finalize_later && m->tasks[i]->pidfd < 0)
            finalize(m, m->tasks[i]);
    if (m->n_deferred > 0 && start_slot_free(m) && !m->fatal)
        start_deferred(m);
    int64_t now = bo_mono_ms();
    int64_t next = now + RESCAN_EVERY_MS;
    if (m->cfg.disk_check_ms > 0 && !disk_watch_running(&m->disk) && now >= m->next_disk && !m->cleaning) {
        disk_round_start(m);
        m->next_disk = now + m->cfg.disk_check_ms;
    }
    if (m->cfg.disk_check_ms > 0 && m->next_disk < next)
        next = m->next_disk > now ? m->next_disk : now + m->cfg.disk_check_ms;
    for (size_t i = 0; i < m->n_tasks; i++) {
        struct task *t = m->tasks[i];
        if (t->kill_deadline && t->pidfd >= 0 && now >= t->kill_deadline)
            kill_backstop(m, t);
        if (t->kill_deadline && t->kill_deadline < next)
            next = t->kill_deadline;
    }
    if (now >= m->next_rescan) {
        /* Datagrams can be lost (full socket buffer): re-read everything. */
        for (size_t i = 0; i < m->n_tasks; i++) {
            struct task *t = m->tasks[i];
            refresh(m, t);
            if (t->pidfd < 0 && state_terminal(t->rec.state) && !t->rec.cleaned)
                finalize(m, t);
        }
        m->next_rescan = now + RESCAN_EVERY_MS;
    }
    if (now >= m->next_gc) {
        task_mgr_gc(m);
        m->next_gc = now + GC_EVERY_MS;
    }
    if (m->next_rescan < next)
        next = m->next_rescan;
    if (m->next_gc < next)
        next = m->next_gc;
    if (m->cfg.images) {
        int64_t in = agent_images_tick(m->cfg.images, now);
        if (now + in < next)
            next = now + in;
    }
    /* Put-off launches with a free slot: at once. Without one, a start's
     * report (polled) frees one. */
    if ((m->n_deferred > 0 && start_slot_free(m)) || m->n_finalize_later > 0)
        return 0;
    return next <= now ? 0 : (int)(next - now);
}

const char *task_mgr_sandbox(struct task_mgr *m, const char *task_id, bool *ret_ended)
{
    struct task *t = find_task(m, task_id);
    if (!t || !t->rec.sandbox)
        return NULL;
    /* Ended for a log reader: its executor is gone too, so nothing in the
     * container writes any more. */
    *ret_ended = state_terminal(t->rec.state) && t->pidfd < 0;
    return t->rec.sandbox;
}

json_t *task_mgr_inventory(struct task_mgr *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->n_tasks; i++) {
        struct task *t = m->tasks[i];
        bool pending = false;
        if (state_terminal(t->rec.state)) {
            /* Its final update may not be in the request carrying this
             * inventory (the update list is capped): left out, the task
             * would be declared LOST (and rescheduled) before the real
             * FINISHED/FAILED arrives. Listed with its terminal state it is
             * neither lost nor killed. */
            bo_error_t err = NULL;
            if (journal_has_task(m->journal, t->rec.task_id, &pending, &err) < 0) {
                journal_failed(m, err);
                pending = true;
            }
            if (!pending)
                continue;
        }
        json_array_append_new(a, json_pack("{s:s, s:s}", "task_id", t->rec.task_id, "state", t->rec.state));
    }
    return a;
}

static json_t *counter(int64_t v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

json_t *task_mgr_usage(struct task_mgr *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->n_tasks; i++) {
        struct task *t = m->tasks[i];
        if (state_terminal(t->rec.state) || t->rec.executor_pid <= 0 || !t->rec.cgroup)
            continue;
        struct cgroup_usage u;
        bo_error_t err = NULL;
        if (cgroup_usage(m->cg, t->rec.cgroup, &u, &err) < 0) {
            /* The cgroup may be going away with the task: its end is
             * reported anyway, and the next round has the others. */
            log_debug("task %s: usage: %s", t->rec.task_id, err->msg);
            bo_error_free(err);
            continue;
        }
        json_array_append_new(a, json_pack("{s:s, s:o, s:o, s:o}", "task_id", t->rec.task_id, "cpu_ms",
                                           counter(u.cpu_ns >= 0 ? u.cpu_ns / 1000000 : -1), "memory_bytes",
                                           counter(u.memory), "memory_peak_bytes", counter(u.memory_peak)));
    }
    return a;
}

int task_mgr_recover(struct task_mgr *m, bo_error_t *err)
{
    m->pass_start = bo_mono_ms();
    struct journal_task *recs;
    size_t n;
    if (journal_task_list(m->journal, &recs, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct task *t = bo_xcalloc(1, sizeof(*t));
        t->rec = recs[i];
        t->pidfd = -1;
        add_task(m, t);
        int64_t start;
        bo_error_t e = NULL;
        /* Same pid and same start time: the very executor we started. The
         * pidfd first: checked afterwards, the start time proves the pidfd
         * is that executor (checked before, the pid could be reused in
         * between and we would watch, then kill, a stranger). */
        int fd = t->rec.executor_pid > 0 && !t->rec.cleaned ? launcher_pidfd_open((pid_t)t->rec.executor_pid) : -1;
        if (fd >= 0) {
            if (launcher_proc_start_time((pid_t)t->rec.executor_pid, &start, &e) == 0 &&
                start == t->rec.executor_start)
                t->pidfd = fd;
            else
                close(fd);
        }
        bo_error_freep(&e);
        if (t->pidfd >= 0) {
            log_info("task %s: re-attached to executor %lld", t->rec.task_id, (long long)t->rec.executor_pid);
            refresh(m, t);
        } else if (!state_terminal(t->rec.state)) {
            executor_gone(m, t,
                          t->rec.executor_pid > 0 ? "executor died while the agent was down"
                                                  : "the agent stopped while launching the task");
        } else {
            finalize(m, t);
        }
    }
    free(recs);
    return 0;
}

void task_mgr_begin_cleanup(struct task_mgr *m)
{
    m->cleaning = true;
    for (size_t i = 0; i < m->n_tasks; i++) {
        struct task *t = m->tasks[i];
        if (t->image_wait && !state_terminal(t->rec.state))
            image_wait_end(m, t, "killed while its image was being pulled");
        if (t->starting || t->preparing)
            t->kill_when_started = true; /* killed as soon as its start reports */
        if (t->pidfd < 0 || t->kill_deadline)
            continue;
        struct sync_kill k = {.task_id = t->rec.task_id, .grace_ms = t->rec.grace_ms};
        task_mgr_kill(m, &k);
        if (state_terminal(t->rec.state) && !t->kill_deadline) {
            /* Terminal but the executor still winds down: same backstop. */
            int r = launcher_pidfd_signal(t->pidfd, SIGTERM);
            if (r < 0 && r != -ESRCH)
                log_warn("task %s: SIGTERM to executor %lld: %s", t->rec.task_id,
                         (long long)t->rec.executor_pid, strerror(-r));
            t->kill_deadline = bo_mono_ms() + t->rec.grace_ms + KILL_BACKSTOP_EXTRA_MS;
        }
    }
}

bool task_mgr_cleanup_done(struct task_mgr *m)
{
    for (size_t i = 0; i < m->n_tasks; i++)
        if (m->tasks[i]->pidfd >= 0 || m->tasks[i]->starting || m->tasks[i]->preparing)
            return false;
    /* Each step on its own, so that one failing (a journal on a full disk)
     * does not leave the sandbox or cgroup behind. */
    for (size_t i = 0; i < m->n_tasks; i++) {
        struct task *t = m->tasks[i];
        bo_error_t err = NULL;
        if (cgroup_kill_all(m->cg, t->rec.cgroup, &err) < 0 ||
            remove_container(m, t, &err) < 0 ||
            cgroup_remove(m->cg, t->rec.cgroup, &err) < 0) {
            log_warn("task %s: cleanup: %s", t->rec.task_id, err->msg);
            bo_error_freep(&err);
        }
        if (bo_rm_rf(t->rec.sandbox, &err) < 0) {
            log_warn("task %s: cleanup: %s", t->rec.task_id, err->msg);
            bo_error_freep(&err);
        }
        if (!m->fatal && journal_task_delete(m->journal, t->rec.task_id, &err) < 0)
            journal_failed(m, err);
    }
    cgroup_remove_root(m->cg);
    return true;
}

const struct bo_error_s *task_mgr_failure(const struct task_mgr *m)
{
    return m->fatal;
}

void task_mgr_settle_starts(struct task_mgr *m, int timeout_ms)
{
    int64_t deadline = bo_mono_ms() + timeout_ms;
    while (m->n_starting > 0 && !m->fatal) {
        int64_t left = deadline - bo_mono_ms();
        if (left <= 0) {
            log_warn("%zu container starts still in flight; their tasks are reported lost on restart",
                     m->n_starting);
            return;
        }
        struct pollfd *p = bo_xcalloc(m->n_starting + 1, sizeof(*p));
        size_t n = 0;
        if (m->pool) /* preps still in the pool count as starts */
            p[n++] = (struct pollfd){.fd = launch_pool_fd(m->pool), .events = POLLIN};
        for (size_t i = 0; i < m->n_tasks && n < m->n_starting + 1; i++)
            if (m->tasks[i]->starting)
                p[n++] = (struct pollfd){.fd = runtime_start_fd(m->tasks[i]->starting), .events = POLLIN};
        int r = poll(p, n, (int)left);
        for (size_t k = 0; r > 0 && k < n; k++)
            if (p[k].revents)
                task_mgr_pidfd_ready(m, p[k].fd);
        free(p);
        if (r < 0 && errno != EINTR)
            return;
    }
}

int task_mgr_run(struct task_mgr *m, const char *task_id, const char *cmd, struct runtime_exec *ret,
                 bo_error_t *err)
{
    struct task *t = find_task(m, task_id);
    if (!t || !t->rec.sandbox)
        return bo_error_set(err, BO_E_NOTFOUND, "task `%s` is not on this agent any more", task_id);
    if (state_terminal(t->rec.state) || t->pidfd < 0 || t->starting || t->preparing || !m->cfg.runtime)
        return bo_error_set(err, BO_E_REFUSED, "task `%s` is %s: a command runs only in a running task", task_id,
                            t->rec.state);
    /* Its user: the sandbox is made the task's (container.c). */
    struct stat sb;
    if (stat(t->rec.sandbox, &sb) < 0)
        return bo_error_sys(err, errno, "stat `%s`", t->rec.sandbox);
    return runtime_exec_begin(m->cfg.runtime, task_id, sb.st_uid, sb.st_gid, OCI_SANDBOX_PATH, cmd, ret, err);
}

int task_mgr_exec_target(struct task_mgr *m, const char *task_id, const struct runtime **ret_rt, uid_t *ret_uid,
                         gid_t *ret_gid, bo_error_t *err)
{
    struct task *t = find_task(m, task_id);
    if (!t || !t->rec.sandbox)
        return bo_error_set(err, BO_E_NOTFOUND, "task `%s` is not on this agent any more", task_id);
    if (state_terminal(t->rec.state) || t->pidfd < 0 || t->starting || !m->cfg.runtime)
        return bo_error_set(err, BO_E_REFUSED, "task `%s` is %s: a session opens only in a running task%s", task_id,
                            t->rec.state, m->cfg.runtime ? "" : " with a container");
    struct stat sb;
    if (stat(t->rec.sandbox, &sb) < 0)
        return bo_error_sys(err, errno, "stat `%s`", t->rec.sandbox);
    *ret_rt = m->cfg.runtime;
    *ret_uid = sb.st_uid;
    *ret_gid = sb.st_gid;
    return 0;
}
