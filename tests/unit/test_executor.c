/* Black-box tests of borealis-executor: each test makes a sandbox, writes
 * task.json, runs the real (static) binary as a child, listens on the
 * notify socket and checks .borealis/status.json and what is left running.
 * Waits are event-driven (datagrams, FIFOs, waitpid); an alarm per test
 * turns a hang into a failure. Binary: $BOREALIS_EXECUTOR, default
 * build/bin/borealis-executor. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "base/clock.h"
#include "base/fs.h"
#include "harness.h"

#define TASK_ID "www-data-devel-hello-0-6c9f0000-0000-4000-8000-000000000000"
#define WAIT_MS 10000

struct sandbox {
    char dir[64];
    char sock_path[96];
    int sock;
    pid_t exe;
    int datagrams;
};

static const char *executor_path(void)
{
    const char *p = getenv("BOREALIS_EXECUTOR");
    return p && *p ? p : "build/bin/borealis-executor";
}

static char *sb_path(const struct sandbox *sb, const char *rel)
{
    return bo_xasprintf("%s/%s", sb->dir, rel);
}

static void sb_init(struct sandbox *sb)
{
    alarm(30); /* a hung executor fails the test instead of the suite */
    memset(sb, 0, sizeof(*sb));
    snprintf(sb->dir, sizeof(sb->dir), "/tmp/bo-exec-XXXXXX");
    CHECK(mkdtemp(sb->dir) != NULL);
    _cleanup_free_ char *b = sb_path(sb, ".borealis");
    CHECK(mkdir(b, 0755) == 0);
    snprintf(sb->sock_path, sizeof(sb->sock_path), "%s/notify.sock", sb->dir);
    sb->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(sb->sock >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, sb->sock_path);
    CHECK(bind(sb->sock, (struct sockaddr *)&a, sizeof(a)) == 0);
}

static void sb_done(struct sandbox *sb)
{
    close(sb->sock);
    CHECK(bo_rm_rf(sb->dir, NULL) == 0);
}

static void sb_write(const struct sandbox *sb, const char *rel, const char *text)
{
    _cleanup_free_ char *p = sb_path(sb, rel);
    CHECK(bo_write_file_atomic(p, text, strlen(text), false, NULL) == 0);
}

/* task.json from a JSON array of processes. */
static void sb_task(const struct sandbox *sb, const char *processes, const char *ordering, int grace_ms)
{
    json_error_t jerr;
    json_t *procs = json_loads(processes, 0, &jerr);
    CHECK(procs != NULL);
    json_t *t = json_pack("{s:s, s:o, s:s, s:i, s:s}", "task_id", TASK_ID, "processes", procs,
                          "ordering", ordering, "kill_grace_ms", grace_ms, "notify_socket",
                          sb->sock_path);
    _cleanup_free_ char *text = json_dumps(t, 0);
    json_decref(t);
    sb_write(sb, ".borealis/task.json", text);
}

/* Run the executor the way the agent does: new session, stdin /dev/null,
 * stdout/stderr to .borealis/executor.log. oom_adj >= 0 sets its
 * oom_score_adj first. */
static void sb_start_adj(struct sandbox *sb, int oom_adj)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setsid();
        _cleanup_free_ char *log = sb_path(sb, ".borealis/executor.log");
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || in < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        if (oom_adj >= 0) {
            FILE *f = fopen("/proc/self/oom_score_adj", "we");
            if (f) {
                fprintf(f, "%d", oom_adj);
                fclose(f);
            }
        }
        execl(executor_path(), "borealis-executor", sb->dir, (char *)NULL);
        _exit(127);
    }
    sb->exe = pid;
}

static void sb_start(struct sandbox *sb)
{
    sb_start_adj(sb, -1);
}

static json_t *sb_status(const struct sandbox *sb)
{
    _cleanup_free_ char *p = sb_path(sb, ".borealis/status.json");
    _cleanup_free_ char *buf = NULL;
    if (bo_read_file(p, 1 << 20, &buf, NULL, NULL) < 0)
        return NULL;
    json_t *j = json_loads(buf, 0, NULL);
    CHECK(j != NULL); /* written atomically: never half a file */
    return j;
}

static const char *jstr(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

/* Wait (on datagrams) until status.json says `state`; returns it. */
static json_t *sb_wait_state(struct sandbox *sb, const char *state)
{
    int64_t deadline = bo_mono_ms() + WAIT_MS;
    for (;;) {
        json_t *st = sb_status(sb);
        if (st && strcmp(jstr(st, "state"), state) == 0)
            return st;
        json_decref(st);
        int64_t left = deadline - bo_mono_ms();
        if (left <= 0) {
            fprintf(stderr, "  timed out waiting for state %s\n", state);
            CHECK(!"timeout");
        }
        struct pollfd pfd = {.fd = sb->sock, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) == 1) {
            char buf[256];
            ssize_t n = recv(sb->sock, buf, sizeof(buf) - 1, 0);
            CHECK(n > 0);
            buf[n] = '\0';
            CHECK_STR(buf, TASK_ID);
            sb->datagrams++;
        }
    }
}

/* Waits for the executor to exit (the per-test alarm bounds it). */
static int sb_wait_exit(struct sandbox *sb)
{
    int st;
    CHECK(waitpid(sb->exe, &st, 0) == sb->exe);
    CHECK(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static json_t *proc_of(json_t *st, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(st, "processes"), i, p)
    {
        if (strcmp(jstr(p, "name"), name) == 0)
            return p;
    }
    fprintf(stderr, "  no process `%s` in status\n", name);
    CHECK(!"process missing");
    return NULL;
}

static pid_t proc_pid(json_t *st, const char *name)
{
    json_t *v = json_object_get(proc_of(st, name), "pid");
    CHECK(json_is_integer(v));
    return (pid_t)json_integer_value(v);
}

static bool gone(pid_t pid)
{
    return kill(pid, 0) < 0 && errno == ESRCH;
}

static bool group_gone(pid_t pgid)
{
    return kill(-pgid, 0) < 0 && errno == ESRCH;
}

static char *sb_read(const struct sandbox *sb, const char *rel)
{
    _cleanup_free_ char *p = sb_path(sb, rel);
    char *buf = NULL;
    if (bo_read_file(p, 1 << 20, &buf, NULL, NULL) < 0)
        return NULL;
    return buf;
}

/* Blocks until a process of the task opens the FIFO and writes a line:
 * proof it got past its setup (e.g. a `trap`). */
static void sb_await_fifo(const struct sandbox *sb, const char *rel)
{
    _cleanup_free_ char *p = sb_path(sb, rel);
    _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    char c;
    CHECK(read(fd, &c, 1) == 1);
}

static void sb_mkfifo(const struct sandbox *sb, const char *rel)
{
    _cleanup_free_ char *p = sb_path(sb, rel);
    CHECK(mkfifo(p, 0600) == 0);
}

static pid_t read_pid_file(const struct sandbox *sb, const char *rel)
{
    _cleanup_free_ char *s = sb_read(sb, rel);
    CHECK(s != NULL);
    long v = strtol(s, NULL, 10);
    CHECK(v > 1);
    return (pid_t)v;
}

TEST(parallel_processes_finish_with_their_output)
{
    struct sandbox sb;
    sb_init(&sb);
    sb_task(&sb,
            "[{\"name\": \"one\", \"cmdline\": \"echo hello from one\"},"
            " {\"name\": \"two\", \"cmdline\": \"echo hello from two; echo oops >&2\"}]",
            "parallel", 5000);
    sb_start(&sb);
    json_t *st = sb_wait_state(&sb, "FINISHED");
    CHECK(sb_wait_exit(&sb) == 0);
    CHECK(sb.datagrams >= 1);
    CHECK_STR(jstr(st, "task_id"), TASK_ID);
    CHECK_STR(jstr(st, "message"), "");
    CHECK(json_integer_value(json_object_get(st, "executor_pid")) == sb.exe);
    CHECK(json_integer_value(json_object_get(st, "updated_ms")) > 0);
    const char *names[] = {"one", "two"};
    for (size_t i = 0; i < 2; i++) {
        json_t *p = proc_of(st, names[i]);
        CHECK_STR(jstr(p, "state"), "SUCCESS");
        CHECK(json_integer_value(json_object_get(p, "exit_code")) == 0);
        CHECK(json_is_null(json_object_get(p, "signal")));
        CHECK(json_integer_value(json_object_get(p, "started_ms")) > 0);
        CHECK(json_integer_value(json_object_get(p, "ended_ms")) >=
              json_integer_value(json_object_get(p, "started_ms")));
    }
    _cleanup_free_ char *o1 = sb_read(&sb, ".logs/one/stdout");
    _cleanup_free_ char *o2 = sb_read(&sb, ".logs/two/stdout");
    _cleanup_free_ char *e2 = sb_read(&sb, ".logs/two/stderr");
    CHECK_STR(o1, "hello from one\n");
    CHECK_STR(o2, "hello from two\n");
    CHECK_STR(e2, "oops\n");
    json_decref(st);
    sb_done(&sb);
}

TEST(sequential_stops_at_first_failure)
{
    struct sandbox sb;
    sb_init(&sb);
    sb_task(&sb,
            "[{\"name\": \"first\", \"cmdline\": \"echo 1 > order\"},"
            " {\"name\": \"second\", \"cmdline\": \"echo 2 >> order; exit 3\"},"
            " {\"name\": \"third\", \"cmdline\": \"echo 3 >> order\"}]",
            "sequential", 5000);
    sb_start(&sb);
    json_t *st = sb_wait_state(&sb, "FAILED");
    CHECK(sb_wait_exit(&sb) == 0);
    json_decref(st);
    st = sb_status(&sb); /* the final one */
    CHECK_STR(jstr(st, "state"), "FAILED");
    CHECK_STR(jstr(st, "message"), "process `second` exited with status 3");
    CHECK_STR(jstr(proc_of(st, "first"), "state"), "SUCCESS");
    json_t *second = proc_of(st, "second");
    CHECK_STR(jstr(second, "state"), "FAILED");
    CHECK(json_integer_value(json_object_get(second, "exit_code")) == 3);
    json_t *third = proc_of(st, "third");
    CHECK_STR(jstr(third, "state"), "WAITING");
    CHECK(json_is_null(json_object_get(third, "pid")));
    CHECK(json_is_null(json_object_get(third, "started_ms")));
    _cleanup_free_ char *order = sb_read(&sb, "order");
    CHECK_STR(order, "1\n2\n");
    json_decref(st);
    sb_done(&sb);
}

TEST(sequential_runs_all_in_order)
{
    struct sandbox sb;
    sb_init(&sb);
    sb_task(&sb,
            "[{\"name\": \"a\", \"cmdline\": \"sleep 0.05; echo a >> order\"},"
            " {\"name\": \"b\", \"cmdline\": \"echo b >> order\"},"
            " {\"name\": \"c\", \"cmdline\": \"echo c >> order\"}]",
            "sequential", 5000);
    sb_start(&sb);
    json_t *st = sb_wait_state(&sb, "FINISHED");
    CHECK(sb_wait_exit(&sb) == 0);
    _cleanup_free_ char *order = sb_read(&sb, "order");
    CHECK_STR(order, "a\nb\nc\n");
    json_decref(st);
    sb_done(&sb);
}

TEST(sigterm_kills_the_task)
{
    struct sandbox sb;
    sb_init(&sb);
    sb_task(&sb, "[{\"name\": \"sleeper\", \"cmdline\": \"sleep 1000\"}]", "parallel", 5000);
    sb_start(&sb);
    json_t *st = sb_wait_state(&sb, "RUNNING");
    pid_t pid = proc_pid(st, "sleeper");
    json_decref(st);
    CHECK(!gone(pid));
    CHECK(kill(sb.exe, SIGTERM) == 0);
    st = sb_wait_state(&sb, "KILLED");
    CHECK(sb_wait_exit(&sb) == 0);
    json_t *p = proc_of(st, "sleeper");
    CHECK_STR(jstr(p, "state"), "KILLED");
    CHECK(json_integer_value(json_object_get(p, "signal")) == SIGTERM);
    CHECK(json_integer_value(json_object_get(p, "ended_ms")) > 0);
    CHECK(gone(pid));
    CHECK(group_gone(pid)); /* the `sleep` under the shell too */
    json_decref(st);
    sb_done(&sb);
}

TEST(sigterm_escalates_to_sigkill_after_grace)
{
    struct sandbox sb;
    sb_init(&sb);
    sb_mkfifo(&sb, "ready");
    sb_task(&sb,
            "[{\"name\": \"stubborn\", \"cmdline\": \"trap '' TERM; echo x > ready; sleep 1000\"}]",
            "parallel", 200);
    sb_start(&sb);
    json_t *st = sb_wait_state(&sb, "RUNNING");
    pid_t pid = proc_pid(st, "stubborn");
    json_decref(st);
    sb_await_fifo(&sb, "ready"); /* the trap is in place */
    int64_t t0 = bo_mono_ms();
    CHECK(kill(sb.exe, SIGTERM) == 0);
    st = sb_wait_state(&sb, "KILLED");
    int64_t took = bo_mono_ms() - t0;
    CHECK(sb_wait_exit(&sb) == 0);
    CHECK(took >= 150); /* the grace was honoured ... */
    CHECK(took < 5000); /* ... and bounded */
    json_t *p = proc_of(st, "stubborn");
    CHECK_STR(jstr(p, "state"), "KILLED");
    CHECK(json_integer_value(json_object_get(p, "signal")) == SIGKILL);
    CHECK(gone(pid));
    CHECK(group_gone(pid));
    json_decref(st);
    sb_done(&sb);
}

TEST(background_grandchildren_are_reaped_and_swept)
{
    struct sandbox sb;
    sb_init(&sb);
    /* One grandchild stays in the group, one escapes it with setsid; both
     * are orphaned to the executor when the shell exits 0. */
    sb_task(&sb,
            "[{\"name\": \"spawner\", \"cmdline\": "
            "\"sleep 1000 & echo $! > bg.pid; setsid sleep 1000 & echo $! > esc.pid; exit 0\"},"
            " {\"name\": \"quick\", \"cmdline\": \"(sleep 0.01; echo orphan > orphan.txt) & exit 0\"}]",
            "parallel", 5000);
    sb_start(&sb);
    json_t *st = sb_wait_state(&sb, "FINISHED");
    CHECK(sb_wait_exit(&sb) == 0);
    CHECK_STR(jstr(proc_of(st, "spawner"), "state"), "SUCCESS");
    pid_t bg = read_pid_file(&sb, "bg.pid");
    pid_t esc = read_pid_file(&sb, "esc.pid");
    CHECK(gone(bg));
    CHECK(gone(esc));
    CHECK(group_gone(proc_pid(st, "spawner")));
    CHECK(group_gone(proc_pid(st, "quick")));
    json_decref(st);
    sb_done(&sb);
}

/* Fork a child that gets pid `want` (via ns_last_pid, root only) and makes
 * itself a process-group leader, like any shell job or another task's
 * process. Returns its pid, or -1 if the pid could not be arranged. */
static pid_t impostor_with_pid(pid_t want)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "we");
        if (!f)
            return -1;
        fprintf(f, "%d", (int)want - 1);
        if (fclose(f) != 0)
            return -1;
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            setpgid(0, 0);
            for (;;)
                pause();
        }
        setpgid(pid, pid);
        if (pid == want)
            return pid;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return -1;
}

TEST(reused_pid_of_an_ended_process_is_never_signalled)
{
    struct sandbox sb;
    sb_init(&sb);
    sb_mkfifo(&sb, "ready");
    /* `quick` ends at once and leaves an empty group; its pid (= pgid) is
     * free for anybody. The task is then killed. */
    sb_task(&sb,
            "[{\"name\": \"quick\", \"cmdline\": \"exit 0\"},"
            " {\"name\": \"long\", \"cmdline\": \"echo x > ready; sleep 1000\"}]",
            "sequential", 5000);
    sb_start(&sb);
    sb_await_fifo(&sb, "ready"); /* quick was reaped before long started */
    json_t *st = sb_wait_state(&sb, "RUNNING");
    pid_t quick = proc_pid(st, "quick");
    json_decref(st);
    pid_t other = impostor_with_pid(quick);
    if (other < 0) {
        fprintf(stderr, "  (skipped: cannot choose pids through ns_last_pid)\n");
        kill(sb.exe, SIGKILL);
        waitpid(sb.exe, NULL, 0);
        sb_done(&sb);
        return;
    }
    CHECK(kill(sb.exe, SIGTERM) == 0);
    st = sb_wait_state(&sb, "KILLED");
    CHECK(sb_wait_exit(&sb) == 0);
    json_decref(st);
    /* The unrelated process group that now has quick's id is untouched. */
    int status;
    bool alive = waitpid(other, &status, WNOHANG) == 0;
    kill(other, SIGKILL);
    waitpid(other, NULL, 0);
    CHECK(alive);
    sb_done(&sb);
}

TEST(process_killed_from_outside_fails_the_task)
{
    struct sandbox sb;
    sb_init(&sb);
    sb_task(&sb,
            "[{\"name\": \"victim\", \"cmdline\": \"sleep 1000\"},"
            " {\"name\": \"bystander\", \"cmdline\": \"sleep 1000\"}]",
            "parallel", 2000);
    sb_start(&sb);
    json_t *st = sb_wait_state(&sb, "RUNNING");
    pid_t victim = proc_pid(st, "victim");
    pid_t bystander = proc_pid(st, "bystander");
    json_decref(st);
    CHECK(kill(victim, SIGKILL) == 0);
    st = sb_wait_state(&sb, "FAILED");
    CHECK_STR(jstr(st, "message"), "process `victim` was killed by signal 9 (Killed)");
    json_decref(st);
    CHECK(sb_wait_exit(&sb) == 0);
    st = sb_status(&sb);
    CHECK_STR(jstr(st, "state"), "FAILED");
    json_t *v = proc_of(st, "victim");
    CHECK_STR(jstr(v, "state"), "FAILED");
    CHECK(json_integer_value(json_object_get(v, "signal")) == 9);
    CHECK(json_is_null(json_object_get(v, "exit_code")));
    CHECK_STR(jstr(proc_of(st, "bystander"), "state"), "KILLED");
    CHECK(group_gone(victim));
    CHECK(group_gone(bystander));
    json_decref(st);
    sb_done(&sb);
}

TEST(processes_get_oom_score_adj_zero_and_no_stray_fds)
{
    struct sandbox sb;
    sb_init(&sb);
    sb_task(&sb,
            "[{\"name\": \"probe\", \"cmdline\": \"cat /proc/self/oom_score_adj; ls /proc/self/fd\"}]",
            "parallel", 5000);
    /* The agent uses -1000, which needs CAP_SYS_RESOURCE; any non-zero
     * value shows the reset. */
    sb_start_adj(&sb, 500);
    json_t *st = sb_wait_state(&sb, "FINISHED");
    CHECK(sb_wait_exit(&sb) == 0);
    _cleanup_free_ char *out = sb_read(&sb, ".logs/probe/stdout");
    /* 0,1,2 plus ls's own directory fd: nothing of the executor leaks. */
    CHECK_STR(out, "0\n0\n1\n2\n3\n");
    json_decref(st);
    sb_done(&sb);
}

TEST(unstartable_process_fails_the_task)
{
    struct sandbox sb;
    sb_init(&sb);
    _cleanup_free_ char *logs = sb_path(&sb, ".logs");
    CHECK(mkdir(logs, 0755) == 0);
    sb_write(&sb, ".logs/broken", "a file where the log directory should be");
    sb_task(&sb,
            "[{\"name\": \"fine\", \"cmdline\": \"sleep 1000\"},"
            " {\"name\": \"broken\", \"cmdline\": \"true\"}]",
            "parallel", 1000);
    sb_start(&sb);
    json_t *st = sb_wait_state(&sb, "FAILED");
    CHECK_CONTAINS(jstr(st, "message"), "process `broken` could not be started");
    CHECK_CONTAINS(jstr(st, "message"), ".logs/broken");
    json_decref(st);
    CHECK(sb_wait_exit(&sb) == 0);
    st = sb_status(&sb);
    CHECK_STR(jstr(proc_of(st, "broken"), "state"), "FAILED");
    CHECK_STR(jstr(proc_of(st, "fine"), "state"), "KILLED");
    CHECK(group_gone(proc_pid(st, "fine")));
    json_decref(st);
    sb_done(&sb);
}

TEST(runs_without_an_agent)
{
    struct sandbox sb;
    sb_init(&sb);
    sb_task(&sb, "[{\"name\": \"p\", \"cmdline\": \"true\"}]", "parallel", 5000);
    close(sb.sock); /* nobody listens: sends fail, the task must not care */
    _cleanup_free_ char *sock = sb_path(&sb, "notify.sock");
    unlink(sock);
    sb_start(&sb);
    CHECK(sb_wait_exit(&sb) == 0);
    json_t *st = sb_status(&sb);
    CHECK(st != NULL);
    CHECK_STR(jstr(st, "state"), "FINISHED");
    json_decref(st);
    sb.sock = -1;
    sb_done(&sb);
}

/* Malformed task.json: exit 2, stderr names the file and the field. */
static void expect_rejected(const char *task_json, const char *field)
{
    struct sandbox sb;
    sb_init(&sb);
    if (task_json)
        sb_write(&sb, ".borealis/task.json", task_json);
    sb_start(&sb);
    CHECK(sb_wait_exit(&sb) == 2);
    _cleanup_free_ char *log = sb_read(&sb, ".borealis/executor.log");
    CHECK_CONTAINS(log, ".borealis/task.json");
    CHECK_CONTAINS(log, field);
    json_t *st = sb_status(&sb);
    CHECK(st == NULL); /* nothing was started */
    sb_done(&sb);
}

TEST(malformed_task_json_is_rejected)
{
    expect_rejected("{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\", \"cmdline\": 42}]}",
                    "processes[0].cmdline");
    expect_rejected("{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\", \"cmdline\": \"x\"}],"
                    " \"bogus\": 1}",
                    "bogus");
    expect_rejected("{\"processes\": [{\"name\": \"p\", \"cmdline\": \"x\"}]}", "task_id");
    expect_rejected("{\"task_id\": \"t\", \"processes\": []}", "processes");
    expect_rejected("{\"task_id\": \"t\", \"processes\": [{\"name\": \"..\", \"cmdline\": \"x\"}]}",
                    "processes[0].name");
    expect_rejected("{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\", \"cmdline\": \"x\"},"
                    " {\"name\": \"p\", \"cmdline\": \"y\"}]}",
                    "processes[1].name");
    expect_rejected("{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\", \"cmdline\": \"x\"}],"
                    " \"kill_grace_ms\": 600001}",
                    "kill_grace_ms");
    expect_rejected("{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\", \"cmdline\": \"x\"}],"
                    " \"ordering\": \"random\"}",
                    "ordering");
    expect_rejected("{\"task_id\": \"t\", \"task_id\": \"u\"}", "duplicate");
    expect_rejected("{\"task_id\": ", "line 1");
    expect_rejected(NULL, "No such file or directory");
}

TEST(oversized_task_json_is_rejected)
{
    size_t n = (1 << 20) + 16;
    _cleanup_free_ char *big = bo_xmalloc(n + 1);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    expect_rejected(big, "larger than");
}

TEST(argv_runs_without_a_shell_in_its_working_directory)
{
    struct sandbox sb;
    sb_init(&sb);
    _cleanup_free_ char *dir = sb_path(&sb, "work");
    CHECK(mkdir(dir, 0755) == 0);
    /* The argument holds shell syntax that no shell sees; the process runs
     * in `cwd`, the executor stays in the sandbox (.logs are there). */
    json_t *procs = json_pack("[{s:s, s:[s,s,s,s]}]", "name", "direct", "argv", "sh", "-c",
                              "pwd; printf '%s\\n' \"$0\"", "$HOME;|&");
    _cleanup_free_ char *ptext = json_dumps(procs, 0);
    json_decref(procs);
    json_t *t = json_pack("{s:s, s:o, s:s, s:s}", "task_id", TASK_ID, "processes", json_loads(ptext, 0, NULL),
                          "notify_socket", sb.sock_path, "cwd", dir);
    _cleanup_free_ char *text = json_dumps(t, 0);
    json_decref(t);
    sb_write(&sb, ".borealis/task.json", text);
    sb_start(&sb);
    json_t *st = sb_wait_state(&sb, "FINISHED");
    CHECK(sb_wait_exit(&sb) == 0);
    _cleanup_free_ char *out = sb_read(&sb, ".logs/direct/stdout");
    _cleanup_free_ char *want = bo_xasprintf("%s\n$HOME;|&\n", dir);
    CHECK_STR(out, want);
    json_decref(st);
    sb_done(&sb);
}

TEST(a_missing_program_fails_the_process_with_its_name)
{
    struct sandbox sb;
    sb_init(&sb);
    sb_task(&sb, "[{\"name\": \"p\", \"argv\": [\"/nonexistent/prog\", \"x\"]}]", "parallel", 5000);
    sb_start(&sb);
    json_t *st = sb_wait_state(&sb, "FAILED");
    sb_wait_exit(&sb);
    CHECK(json_integer_value(json_object_get(proc_of(st, "p"), "exit_code")) == 127);
    _cleanup_free_ char *e = sb_read(&sb, ".logs/p/stderr");
    CHECK_CONTAINS(e, "exec `/nonexistent/prog`: No such file or directory");
    json_decref(st);
    sb_done(&sb);
}

TEST(bad_argv_and_cwd_are_rejected)
{
    expect_rejected("{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\", \"argv\": []}]}",
                    "processes[0].argv");
    expect_rejected("{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\", \"argv\": [\"\"]}]}",
                    "processes[0].argv[0]");
    expect_rejected("{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\", \"argv\": [\"a\", 1]}]}",
                    "processes[0].argv[1]");
    expect_rejected("{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\", \"argv\": [\"a\"],"
                    " \"cmdline\": \"a\"}]}",
                    "exclusive");
    expect_rejected("{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\"}]}", "argv (or cmdline) required");
    expect_rejected("{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\", \"argv\": [\"a\"]}],"
                    " \"cwd\": \"relative\"}",
                    "cwd");
}

TEST_MAIN()
