/* test_task_files.c - the agent's confined reads of a task's logs and files
 * (src/agent/task_files.c) and its task read handling (task_io.c): tails,
 * rotation, the log folder a follower watches, and every way out of the
 * sandbox refused. */
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "agent/task_files.h"
#include "agent/task_io.h"
#include "base/fs.h"
#include "harness.h"

#define TID "www-data-devel-x-0-00000000-0000-0000-0000-000000000000"

static char root[64], sb[256];

static void put(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", sb, rel);
    FILE *f = fopen(p, "w");
    CHECK(f);
    fputs(text, f);
    fclose(f);
}

static void make_sandbox(void)
{
    strcpy(root, "/tmp/test-task-files-XXXXXX");
    CHECK(mkdtemp(root));
    snprintf(sb, sizeof(sb), "%s/" TID, root);
    char p[512];
    const char *dirs[] = {"", "/.borealis", "/.logs", "/.logs/main", "/d"};
    for (size_t i = 0; i < BO_ARRAY_SIZE(dirs); i++) {
        snprintf(p, sizeof(p), "%s%s", sb, dirs[i]);
        CHECK(mkdir(p, 0755) == 0);
    }
    put(".borealis/status.json",
        "{\"task_id\": \"" TID "\", \"state\": \"RUNNING\", \"message\": \"\", \"executor_pid\": 1, "
        "\"updated_ms\": 1, \"processes\": [{\"name\": \"main\", \"state\": \"RUNNING\", \"pid\": 2, "
        "\"exit_code\": null, \"signal\": null, \"started_ms\": 1, \"ended_ms\": null}]}");
    put(".logs/main/stdout", "one\ntwo\nthree\n");
    put("d/f.txt", "inside\n");
    snprintf(p, sizeof(p), "%s/secret", root);
    FILE *f = fopen(p, "w");
    fputs("SECRET\n", f);
    fclose(f);
    struct {
        const char *target, *name;
    } links[] = {{"../secret", "up"}, {"/etc/shadow", "shadow"}, {"..", "parent"}, {"d/f.txt", "ok"}};
    for (size_t i = 0; i < BO_ARRAY_SIZE(links); i++) {
        snprintf(p, sizeof(p), "%s/%s", sb, links[i].name);
        CHECK(symlink(links[i].target, p) == 0);
    }
}

static void cleanup(void)
{
    bo_error_t err = NULL;
    bo_rm_rf(root, &err);
    bo_error_free(err);
}

static char *decoded(json_t *res)
{
    const char *b = json_string_value(json_object_get(res, "data"));
    static char out[4096];
    int n = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)b, (int)strlen(b));
    CHECK(n >= 0);
    for (size_t i = strlen(b); i > 0 && b[i - 1] == '=' && n > 0; i--)
        n--;
    out[n] = '\0';
    return out;
}

static json_t *read_log(struct task_log_query *q, struct task_files_error *e)
{
    json_t *res = NULL;
    bool empty;
    if (q->max == 0)
        q->max = TASK_FILES_CHUNK_MAX;
    return task_files_log(sb, TID, q, &res, &empty, e) == 0 ? res : NULL;
}

TEST(log_whole_tail_and_offset)
{
    make_sandbox();
    struct task_files_error e = {0};
    struct task_log_query q = {.tail = -1};
    json_t *r = read_log(&q, &e);
    CHECK(r);
    CHECK_STR(decoded(r), "one\ntwo\nthree\n");
    CHECK_STR(json_string_value(json_object_get(r, "process")), "main");
    json_decref(r);
    q = (struct task_log_query){.tail = 2};
    r = read_log(&q, &e);
    CHECK_STR(decoded(r), "two\nthree\n");
    json_decref(r);
    q = (struct task_log_query){.tail = -1, .offset = 4, .max = 3};
    r = read_log(&q, &e);
    CHECK_STR(decoded(r), "two");
    CHECK(json_integer_value(json_object_get(r, "offset")) == 7);
    json_decref(r);
    q = (struct task_log_query){.tail = -1, .process = "nope"};
    CHECK(!read_log(&q, &e));
    CHECK(e.code == TASK_FILES_NOT_FOUND);
    CHECK_CONTAINS(e.message, "its processes: main");
    task_files_error_clear(&e);
    cleanup();
}

TEST(log_follows_a_rename_rotation)
{
    make_sandbox();
    struct task_files_error e = {0};
    struct task_log_query q = {.tail = -1};
    json_t *r = read_log(&q, &e);
    int64_t ino = json_integer_value(json_object_get(r, "inode"));
    json_decref(r);
    /* More is written to the old file, then it is renamed and a new one
     * begins: the reader gets the old file's rest, then the new one. */
    put(".logs/main/stdout", "one\ntwo\nthree\nfour\n");
    char a[512], b[512];
    snprintf(a, sizeof(a), "%s/.logs/main/stdout", sb);
    snprintf(b, sizeof(b), "%s/.logs/main/stdout.1", sb);
    struct stat st;
    CHECK(stat(a, &st) == 0 && (int64_t)st.st_ino == ino); /* put() rewrote in place */
    CHECK(rename(a, b) == 0);
    /* Between the rename and the new file: nothing new yet, no error (a
     * follower waits; found by the integration test's rotation). */
    q = (struct task_log_query){.tail = -1, .offset = 19, .inode = ino};
    r = read_log(&q, &e);
    CHECK(r);
    CHECK_STR(decoded(r), "");
    CHECK(json_integer_value(json_object_get(r, "offset")) == 19);
    json_decref(r);
    put(".logs/main/stdout", "five\n");
    q = (struct task_log_query){.tail = -1, .offset = 14, .inode = ino};
    r = read_log(&q, &e);
    CHECK_STR(decoded(r), "four\n");
    /* From a file that is not the current one: read on at once. */
    CHECK(json_is_true(json_object_get(r, "rotated")));
    int64_t off = json_integer_value(json_object_get(r, "offset"));
    json_decref(r);
    q = (struct task_log_query){.tail = -1, .offset = off, .inode = ino};
    r = read_log(&q, &e);
    CHECK_STR(decoded(r), "five\n");
    CHECK(json_is_true(json_object_get(r, "rotated")));
    json_decref(r);
    cleanup();
}

TEST(a_follower_can_watch_the_log_folder)
{
    make_sandbox();
    int fd = task_files_log_dir_fd(sb, "main");
    CHECK(fd >= 0);
    int ifd = inotify_init1(IN_CLOEXEC);
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    CHECK(inotify_add_watch(ifd, p, IN_MODIFY) >= 0);
    close(ifd);
    close(fd);
    CHECK(task_files_log_dir_fd(sb, "..") < 0);
    cleanup();
}

TEST(files_list_and_read_inside)
{
    make_sandbox();
    struct task_files_error e = {0};
    json_t *r = NULL;
    CHECK(task_files_get(sb, "", 0, 100, &r, &e) == 0);
    CHECK_STR(json_string_value(json_object_get(r, "type")), "dir");
    json_t *first = json_array_get(json_object_get(r, "entries"), 0);
    CHECK_STR(json_string_value(json_object_get(first, "name")), ".borealis");
    json_decref(r);
    CHECK(task_files_get(sb, "ok", 0, 100, &r, &e) == 0); /* a symlink that stays inside */
    CHECK_STR(decoded(r), "inside\n");
    CHECK(json_is_true(json_object_get(r, "eof")));
    json_decref(r);
    CHECK(task_files_get(sb, "d/../d/f.txt", 2, 3, &r, &e) == 0);
    CHECK_STR(decoded(r), "sid");
    CHECK(!json_is_true(json_object_get(r, "eof")));
    json_decref(r);
    cleanup();
}

TEST(files_outside_the_sandbox_are_refused)
{
    make_sandbox();
    const char *bad[] = {"..", "../secret", "/etc/passwd", "up", "shadow", "parent/secret", "d/../../secret"};
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        struct task_files_error e = {0};
        json_t *r = NULL;
        if (task_files_get(sb, bad[i], 0, 100, &r, &e) == 0) {
            fprintf(stderr, "  `%s` was read\n", bad[i]);
            CHECK(0);
        }
        CHECK(e.code == TASK_FILES_OUTSIDE);
        CHECK_CONTAINS(e.message, "refused");
        task_files_error_clear(&e);
    }
    cleanup();
}

static json_t *last_reply;
static const char *sandbox_hook(void *ctx, const char *task_id, bool *ret_ended)
{
    *ret_ended = false;
    return strcmp(task_id, TID) == 0 ? sb : NULL;
}
static void reply_hook(void *ctx, json_t *reply)
{
    json_decref(last_reply);
    last_reply = reply;
}

TEST(requests_are_parsed_strictly_and_answered)
{
    make_sandbox();
    struct task_io_hooks h = {.sandbox = sandbox_hook, .reply = reply_hook};
    struct task_io *io = NULL;
    bo_error_t err = NULL;
    CHECK(task_io_new(&h, &io, &err) == 0);
    json_t *j = json_pack("{s:i, s:s, s:s, s:s}", "id", 3, "task_id", TID, "op", "files", "path", "/etc/shadow");
    task_io_handle(io, j);
    json_decref(j);
    CHECK_STR(json_string_value(json_object_get(json_object_get(last_reply, "error"), "code")), "OUTSIDE_SANDBOX");
    j = json_pack("{s:i, s:s, s:s, s:i}", "id", 4, "task_id", TID, "op", "log", "bogus", 1);
    task_io_handle(io, j);
    json_decref(j);
    CHECK(json_integer_value(json_object_get(last_reply, "id")) == 4);
    CHECK_CONTAINS(json_string_value(json_object_get(json_object_get(last_reply, "error"), "message")), "bogus");
    /* A follower with nothing new waits, and is answered when data comes. */
    j = json_pack("{s:i, s:s, s:s, s:i, s:i}", "id", 5, "task_id", TID, "op", "log", "offset", 14, "wait_ms", 5000);
    task_io_handle(io, j);
    json_decref(j);
    CHECK(json_integer_value(json_object_get(last_reply, "id")) == 4);
    char p[512];
    snprintf(p, sizeof(p), "%s/.logs/main/stdout", sb);
    int fd = open(p, O_WRONLY | O_APPEND);
    CHECK(write(fd, "four\n", 5) == 5);
    close(fd);
    struct pollfd pfd = {.fd = task_io_fd(io), .events = POLLIN};
    CHECK(poll(&pfd, 1, 5000) == 1); /* inotify, not the periodic look */
    task_io_ready(io);
    CHECK(json_integer_value(json_object_get(last_reply, "id")) == 5);
    CHECK_STR(decoded(json_object_get(last_reply, "result")), "four\n");
    json_decref(last_reply);
    task_io_free(io);
    cleanup();
}

/* A stand-in for runtime_exec_begin: the same helper shape (a session of
 * its own, output on a pipe, the wait status on another) without a
 * container. */
static int run_hook(void *ctx, const char *task_id, const char *cmd, struct runtime_exec *ret, bo_error_t *err)
{
    int out[2], st[2];
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0)
        return bo_error_sys(err, errno, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        pid_t c = fork();
        if (c == 0) {
            dup2(out[1], 1);
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        int status = 0;
        waitpid(c, &status, 0);
        (void)!write(st[1], &status, sizeof(status));
        _exit(0);
    }
    close(out[1]);
    close(st[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(st[0], F_SETFL, O_NONBLOCK);
    *ret = (struct runtime_exec){.helper = pid, .out = out[0], .status = st[0],
                                 .pidfile = bo_xstrdup("/nonexistent/pid")};
    return 0;
}

/* Tick until the run with `id` is answered. */
static json_t *run_answer(struct task_io *io, int id)
{
    for (int i = 0; i < 1000 && json_integer_value(json_object_get(last_reply, "id")) != id; i++) {
        usleep(10000);
        task_io_tick(io);
    }
    CHECK(json_integer_value(json_object_get(last_reply, "id")) == id);
    return json_object_get(last_reply, "result");
}

TEST(runs_are_parsed_strictly_capped_and_timed_out)
{
    make_sandbox();
    struct task_io_hooks h = {.sandbox = sandbox_hook, .reply = reply_hook};
    struct task_io *io = NULL;
    bo_error_t err = NULL;
    CHECK(task_io_new(&h, &io, &err) == 0);
    /* A run needs cmd; only a run has one; timeout_ms is bounded. */
    const char *bad[] = {
        "{\"id\": 1, \"task_id\": \"" TID "\", \"op\": \"run\"}",
        "{\"id\": 1, \"task_id\": \"" TID "\", \"op\": \"files\", \"cmd\": \"id\"}",
        "{\"id\": 1, \"task_id\": \"" TID "\", \"op\": \"run\", \"cmd\": \"\"}",
        "{\"id\": 1, \"task_id\": \"" TID "\", \"op\": \"run\", \"cmd\": \"id\", \"timeout_ms\": 600001}",
        "{\"id\": 1, \"task_id\": \"" TID "\", \"op\": \"run\", \"cmd\": 7}",
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        CHECK(j != NULL);
        task_io_handle(io, j);
        json_decref(j);
        CHECK_STR(json_string_value(json_object_get(json_object_get(last_reply, "error"), "code")), "INVALID");
    }
    /* Without a run hook (no runtime): refused. */
    json_t *j = json_pack("{s:i, s:s, s:s, s:s}", "id", 2, "task_id", TID, "op", "run", "cmd", "true");
    task_io_handle(io, j);
    json_decref(j);
    CHECK_STR(json_string_value(json_object_get(json_object_get(last_reply, "error"), "code")), "REFUSED");
    task_io_free(io);

    h.run = run_hook;
    CHECK(task_io_new(&h, &io, &err) == 0);
    /* More output than is kept: the first 256 KiB, the size, the status. */
    j = json_pack("{s:i, s:s, s:s, s:s}", "id", 3, "task_id", TID, "op", "run", "cmd",
                  "head -c 300000 /dev/zero | tr '\\0' x; exit 3");
    task_io_handle(io, j);
    json_decref(j);
    json_t *res = run_answer(io, 3);
    CHECK(json_integer_value(json_object_get(res, "exit_code")) == 3);
    CHECK(json_integer_value(json_object_get(res, "size")) == 300000);
    CHECK(json_is_true(json_object_get(res, "truncated")));
    CHECK(!json_is_true(json_object_get(res, "timed_out")));
    CHECK(json_string_length(json_object_get(res, "output")) == 4 * ((TASK_IO_RUN_OUTPUT_MAX + 2) / 3));
    /* Past its timeout: killed and answered as timed out. */
    j = json_pack("{s:i, s:s, s:s, s:s, s:i}", "id", 4, "task_id", TID, "op", "run", "cmd", "echo hi; exec sleep 60",
                  "timeout_ms", 200);
    task_io_handle(io, j);
    json_decref(j);
    res = run_answer(io, 4);
    CHECK(json_is_true(json_object_get(res, "timed_out")));
    CHECK(json_object_get(res, "exit_code") == NULL);
    CHECK_STR(json_string_value(json_object_get(res, "output")), "aGkK"); /* "hi\n" */
    json_decref(last_reply);
    last_reply = NULL;
    task_io_free(io);
    cleanup();
}

static int64_t inode_of(const char *rel)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", sb, rel);
    CHECK(stat(p, &st) == 0);
    return (int64_t)st.st_ino;
}

static void rename_log(const char *from, const char *to)
{
    char a[512], b[512];
    snprintf(a, sizeof(a), "%s/.logs/main/%s", sb, from);
    snprintf(b, sizeof(b), "%s/.logs/main/%s", sb, to);
    CHECK(rename(a, b) == 0);
}

/* Read as `task logs` (whole, or following) does: until at the end of the
 * current file, concatenating. */
static char *read_all(int64_t *off, int64_t *ino)
{
    static char all[4096];
    all[0] = '\0';
    for (int i = 0; i < 50; i++) {
        struct task_files_error e = {0};
        struct task_log_query q = {.tail = -1, .offset = *off, .inode = *ino};
        json_t *r = read_log(&q, &e);
        CHECK(r);
        strcat(all, decoded(r));
        *off = json_integer_value(json_object_get(r, "offset"));
        *ino = json_integer_value(json_object_get(r, "inode"));
        bool at_end = *off >= json_integer_value(json_object_get(r, "size")) &&
                      !json_is_true(json_object_get(r, "rotated"));
        json_decref(r);
        if (at_end)
            return all;
    }
    CHECK(0);
    return all;
}

TEST(log_reads_across_backups)
{
    make_sandbox();
    /* The executor's rotation: stdout.2 the oldest, stdout the newest. */
    put(".logs/main/stdout.2", "1\n2\n");
    put(".logs/main/stdout.1", "3\n4\n");
    put(".logs/main/stdout", "5\n6\n");
    int64_t off = 0, ino = 0;
    CHECK_STR(read_all(&off, &ino), "1\n2\n3\n4\n5\n6\n"); /* the whole log, oldest first */
    CHECK(ino == inode_of(".logs/main/stdout") && off == 4);

    struct task_files_error e = {0};
    struct task_log_query q = {.tail = 3};
    json_t *r = read_log(&q, &e);
    CHECK_STR(decoded(r), "4\n5\n6\n"); /* the tail reaches into stdout.1 */
    CHECK(json_integer_value(json_object_get(r, "offset")) == 4);
    json_decref(r);
    q = (struct task_log_query){.tail = 100};
    r = read_log(&q, &e);
    CHECK_STR(decoded(r), "1\n2\n3\n4\n5\n6\n");
    json_decref(r);
    q = (struct task_log_query){.tail = 5, .max = 7};
    r = read_log(&q, &e);
    CHECK_STR(decoded(r), "\n4\n5\n6\n"); /* at most max bytes, the newest */
    json_decref(r);

    /* A follower at the end of stdout.1 while two rotations happen: it
     * goes through every file in order, none skipped or repeated. */
    off = 4;
    ino = inode_of(".logs/main/stdout.1");
    rename_log("stdout.1", "stdout.2"); /* stdout.2 (1, 2) deleted */
    rename_log("stdout", "stdout.1");
    put(".logs/main/stdout", "7\n8\n");
    rename_log("stdout.2", "stdout.3");
    rename_log("stdout.1", "stdout.2");
    rename_log("stdout", "stdout.1");
    put(".logs/main/stdout", "9\n");
    CHECK_STR(read_all(&off, &ino), "5\n6\n7\n8\n9\n");

    /* One that fell behind past the kept backups goes on from the oldest
     * kept file (what was deleted is lost). */
    off = 1;
    ino = 999999999;
    CHECK_STR(read_all(&off, &ino), "3\n4\n5\n6\n7\n8\n9\n");
    cleanup();
}

TEST_MAIN()
