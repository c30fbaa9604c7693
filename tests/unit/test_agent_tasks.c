/* test_agent_tasks.c - the agent's task manager against a fake cgroup tree
 * and tiny shell "executors": inventory versus unacked updates, the launch
 * record written before the executor starts, a kill that lands before the
 * executor is ready. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/journal.h"
#include "agent/tasks.h"
#include "base/clock.h"
#include "base/fs.h"
#include "harness.h"

#define TASK_ID "www-data-devel-hello-0-6c9f0000-0000-4000-8000-000000000001"

struct env {
    char dir[64];
    char *data, *db, *exe;
    struct journal *j;
    struct cgroup_mgr cg;
    struct task_mgr *m;
};

static void env_init(struct env *e, const char *exe_script)
{
    alarm(30);
    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/bo-tasks-XXXXXX");
    CHECK(mkdtemp(e->dir));
    e->data = bo_xasprintf("%s/data", e->dir);
    e->db = bo_xasprintf("%s/agent.db", e->dir);
    e->exe = bo_xasprintf("%s/exe.sh", e->dir);
    _cleanup_free_ char *sandboxes = bo_xasprintf("%s/sandboxes", e->data);
    CHECK(bo_mkdir_p(sandboxes, 0755, NULL) == 0);
    CHECK(bo_write_file_atomic(e->exe, exe_script, strlen(exe_script), false, NULL) == 0);
    CHECK(chmod(e->exe, 0755) == 0);
    _cleanup_free_ char *task_cg = bo_xasprintf("%s/cg/borealis/%s", e->dir, TASK_ID);
    CHECK(bo_mkdir_p(task_cg, 0755, NULL) == 0);
    e->cg = (struct cgroup_mgr){.flavour = CGROUP_V2, .fs_root = bo_xasprintf("%s/cg", e->dir),
                                .root_name = bo_xstrdup("borealis"), .fake = true};
}

static void env_open(struct env *e)
{
    CHECK(journal_open(e->db, &e->j, NULL) == 0);
    struct task_mgr_config tc = {.data_dir = e->data, .hostname = "h", .executor = e->exe,
                                 .notify_socket = "/nonexistent.sock", .sandbox_retention_ms = 3600000};
    CHECK(task_mgr_new(&tc, e->j, &e->cg, &e->m, NULL) == 0);
}

static void env_close(struct env *e)
{
    task_mgr_free(e->m);
    e->m = NULL;
    journal_close(e->j);
    e->j = NULL;
}

static void env_done(struct env *e)
{
    env_close(e);
    cgroup_mgr_clear(&e->cg);
    CHECK(bo_rm_rf(e->dir, NULL) == 0);
    free(e->data);
    free(e->db);
    free(e->exe);
}

/* The fake tree's cgroup.procs, which the launcher's child joins. */
static char *procs_file(const struct env *e)
{
    return bo_xasprintf("%s/cg/borealis/%s/cgroup.procs", e->dir, TASK_ID);
}

static void make_launch(struct sync_launch *l)
{
    json_t *task = json_pack("{s:{s:f, s:I, s:I}, s:[{s:s, s:s}]}", "resources", "cpu", 0.1, "ram",
                             (json_int_t)(32 << 20), "disk", (json_int_t)0, "processes", "name", "p", "cmdline",
                             "sleep 1000");
    memset(l, 0, sizeof(*l));
    l->task_id = bo_xstrdup(TASK_ID);
    l->job = bo_xstrdup("local/www-data/devel/hello");
    l->ports = json_object();
    CHECK(task_config_from_json(task, &l->task, NULL) == 0);
    json_decref(task);
}

static void clear_launch(struct sync_launch *l)
{
    free(l->task_id);
    free(l->job);
    json_decref(l->ports);
    task_config_clear(&l->task);
}

/* States of the journaled updates, oldest first, space-separated. */
static char *update_states(struct journal *j)
{
    json_t *list = NULL;
    CHECK(journal_list(j, 0, 100, &list, NULL) == 0);
    char *out = bo_xstrdup("");
    size_t i;
    json_t *u;
    json_array_foreach(list, i, u)
    {
        char *n = bo_xasprintf("%s%s%s", out, i ? " " : "", json_string_value(json_object_get(u, "state")));
        free(out);
        out = n;
    }
    json_decref(list);
    return out;
}

TEST(inventory_keeps_a_terminal_task_until_its_update_is_acked)
{
    struct env e;
    env_init(&e, "#!/bin/sh\nexit 0\n");
    CHECK(journal_open(e.db, &e.j, NULL) == 0);
    _cleanup_free_ char *sb = bo_xasprintf("%s/sandboxes/%s", e.data, TASK_ID);
    struct journal_task rec = {.task_id = TASK_ID, .sandbox = sb, .cgroup = TASK_ID, .executor_pid = 0,
                               .state = "FINISHED", .ended_ms = bo_wall_ms(), .cleaned = true};
    CHECK(journal_task_put(e.j, &rec, NULL) == 0);
    json_t *u = json_pack("{s:s, s:s}", "task_id", TASK_ID, "state", "FINISHED");
    int64_t seq;
    CHECK(journal_enqueue(e.j, u, &seq, NULL) == 0);
    json_decref(u);
    journal_close(e.j);
    env_open(&e);
    CHECK(task_mgr_recover(e.m, NULL) == 0);
    /* The FINISHED update may not fit in the request carrying the
     * inventory: the task must not look missing (the scheduler would call
     * it LOST and run it again). */
    json_t *inv = task_mgr_inventory(e.m);
    CHECK(json_array_size(inv) == 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(inv, 0), "state")), "FINISHED");
    json_decref(inv);
    CHECK(journal_ack(e.j, seq, NULL) == 0);
    inv = task_mgr_inventory(e.m);
    CHECK(json_array_size(inv) == 0);
    json_decref(inv);
    env_done(&e);
}

static bool record_exists(const char *db)
{
    struct journal *j;
    if (journal_open(db, &j, NULL) < 0)
        return false;
    struct journal_task *recs = NULL;
    size_t n = 0;
    bool found = false;
    if (journal_task_list(j, &recs, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            found |= strcmp(recs[i].task_id, TASK_ID) == 0 && strcmp(recs[i].state, "ASSIGNED") == 0;
            journal_task_clear(&recs[i]);
        }
        free(recs);
    }
    journal_close(j);
    return found;
}

TEST(launch_is_recorded_before_the_executor_starts)
{
    struct env e;
    /* The "executor" notes its pid, then idles. */
    env_init(&e, "#!/bin/sh\necho $$ > \"$1/exe.pid.tmp\"; mv \"$1/exe.pid.tmp\" \"$1/exe.pid\"; exec sleep 1000\n");
    _cleanup_free_ char *procs = procs_file(&e);
    /* Joining the cgroup blocks on this FIFO: the launch stops between
     * fork and exec, where an agent crash used to leave no trace. */
    CHECK(mkfifo(procs, 0600) == 0);
    /* Create the journal (WAL mode, schema) before two processes use it:
     * switching a new database to WAL while another process opens it can
     * fail with "database is locked". */
    env_open(&e);
    env_close(&e);
    fflush(NULL);
    pid_t agent = fork();
    CHECK(agent >= 0);
    if (agent == 0) {
        env_open(&e);
        struct sync_launch l;
        make_launch(&l);
        task_mgr_launch(e.m, &l, 1);
        _exit(0);
    }
    bool recorded = false;
    for (int64_t deadline = bo_mono_ms() + 3000; !recorded && bo_mono_ms() < deadline; usleep(20000))
        recorded = record_exists(e.db);
    /* Once its executor is forked (blocked joining the cgroup), the agent
     * dies mid-launch; its executor goes on. (Killing it as soon as the
     * record is seen could come before the fork, on a loaded machine.) */
    _cleanup_free_ char *children = bo_xasprintf("/proc/%d/task/%d/children", (int)agent, (int)agent);
    for (int64_t deadline = bo_mono_ms() + 5000; bo_mono_ms() < deadline; usleep(10000)) {
        _cleanup_free_ char *list = NULL;
        size_t len = 0;
        if (bo_read_file(children, 4096, &list, &len, NULL) == 0 && len > 0)
            break;
    }
    kill(agent, SIGKILL);
    CHECK(waitpid(agent, NULL, 0) == agent);
    int fd = open(procs, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    CHECK(fd >= 0);
    _cleanup_free_ char *pidfile = bo_xasprintf("%s/sandboxes/%s/exe.pid", e.data, TASK_ID);
    _cleanup_free_ char *pidtext = NULL;
    for (int64_t deadline = bo_mono_ms() + 5000; bo_mono_ms() < deadline; usleep(10000))
        if (bo_read_file(pidfile, 64, &pidtext, NULL, NULL) == 0)
            break;
    close(fd);
    unlink(procs);
    CHECK(pidtext != NULL);
    pid_t orphan = (pid_t)strtol(pidtext, NULL, 10);
    CHECK(orphan > 1);
    kill(orphan, SIGKILL); /* not our child: cannot reap, only stop it */
    for (int64_t deadline = bo_mono_ms() + 5000; kill(orphan, 0) == 0 && bo_mono_ms() < deadline;)
        usleep(10000);
    CHECK(recorded);
    /* The restarted agent knows the task and reports it LOST, as its own
     * doing (cause agent_restart), not a failure of the task. */
    env_open(&e);
    CHECK(task_mgr_recover(e.m, NULL) == 0);
    _cleanup_free_ char *states = update_states(e.j);
    CHECK_STR(states, "LOST");
    json_t *list = NULL;
    CHECK(journal_list(e.j, 0, 10, &list, NULL) == 0);
    CHECK_CONTAINS(json_string_value(json_object_get(json_array_get(list, 0), "message")), "while launching");
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "cause")), "agent_restart");
    CHECK(json_is_null(json_object_get(json_array_get(list, 0), "executor_pid")));
    json_decref(list);
    env_done(&e);
}

TEST(kill_before_the_executor_is_ready_is_reported_killed)
{
    struct env e;
    /* Like an executor that has not yet blocked SIGTERM: it just dies. */
    env_init(&e, "#!/bin/sh\nexec sleep 1000\n");
    _cleanup_free_ char *procs = procs_file(&e);
    CHECK(bo_write_file_atomic(procs, "", 0, false, NULL) == 0);
    env_open(&e);
    struct sync_launch l;
    make_launch(&l);
    task_mgr_launch(e.m, &l, 1);
    clear_launch(&l);
    struct sync_kill k = {.task_id = TASK_ID, .grace_ms = 100};
    task_mgr_kill(e.m, &k);
    struct curl_waitfd *fds = NULL;
    unsigned n = 0, cap = 0;
    task_mgr_waitfds(e.m, &fds, &n, &cap);
    CHECK(n == 1);
    struct pollfd pfd = {.fd = fds[0].fd, .events = POLLIN};
    CHECK(poll(&pfd, 1, 5000) == 1);
    task_mgr_pidfd_ready(e.m, fds[0].fd);
    free(fds);
    _cleanup_free_ char *states = update_states(e.j);
    CHECK_STR(states, "STARTING KILLED");
    env_done(&e);
}

/* Journaled update i (oldest first), a new reference. */
static json_t *update_at(struct journal *j, size_t i)
{
    json_t *list = NULL;
    CHECK(journal_list(j, 0, 100, &list, NULL) == 0);
    json_t *u = json_incref(json_array_get(list, i));
    json_decref(list);
    CHECK(u);
    return u;
}

TEST(refused_launches_are_reported_with_the_reason)
{
    struct env e;
    env_init(&e, "#!/bin/sh\nexec sleep 1000\n");
    env_open(&e);
    /* An id the agent cannot use as a path, and a bad spec (as the parser
     * marks them): each becomes a FAILED update naming why, and nothing
     * is created on disk for the bad id. */
    char long_id[260];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    struct sync_launch ls[2] = {{.task_id = long_id}, {.task_id = "../escape"}};
    bo_error_set(&ls[0].error, BO_E_INVALID, "launch[0]: task id `xxx` must be 1..200 characters");
    bo_error_set(&ls[1].error, BO_E_INVALID, "launch[1].task: unknown field `colour`");
    task_mgr_launch(e.m, ls, 2);
    bo_error_freep(&ls[0].error);
    bo_error_freep(&ls[1].error);
    CHECK(task_mgr_failure(e.m) == NULL);
    _cleanup_free_ char *states = update_states(e.j);
    CHECK_STR(states, "FAILED FAILED");
    json_t *u = update_at(e.j, 0);
    CHECK_STR(json_string_value(json_object_get(u, "task_id")), long_id);
    CHECK_CONTAINS(json_string_value(json_object_get(u, "message")), "must be 1..200 characters");
    json_decref(u);
    u = update_at(e.j, 1);
    CHECK_STR(json_string_value(json_object_get(u, "task_id")), "../escape");
    CHECK_CONTAINS(json_string_value(json_object_get(u, "message")), "unknown field `colour`");
    json_decref(u);
    _cleanup_free_ char *escaped = bo_xasprintf("%s/escape", e.data);
    CHECK(access(escaped, F_OK) < 0);
    /* A launch that arrives while the agent shuts down is refused too, as
     * the agent's doing (no penalty for the task). */
    task_mgr_begin_cleanup(e.m);
    struct sync_launch l;
    make_launch(&l);
    task_mgr_launch(e.m, &l, 1);
    clear_launch(&l);
    u = update_at(e.j, 2);
    CHECK_STR(json_string_value(json_object_get(u, "state")), "LOST");
    CHECK_STR(json_string_value(json_object_get(u, "cause")), "agent_shutdown");
    json_decref(u);
    CHECK(task_mgr_cleanup_done(e.m));
    env_done(&e);
}

TEST_MAIN()
