/* task_io.c - task reads: parsing, answering, and followers waiting for
 * log data. */
#include "agent/task_io.h"

#include <errno.h>
#include <openssl/evp.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/sandbox.h"
#include "agent/task_files.h"
#include "base/clock.h"
#include "model/json_check.h"

/* A parked follower also looks again this often: the task may have ended
 * (its executor gone: no event in the log folder) or an event been lost. */
#define RECHECK_MS 1000
/* Running commands are looked at this often (their output drained, their
 * end noticed): a poll, so the loop needs no fds per run. */
#define RUN_CHECK_MS 50

struct running {
    int64_t id;
    struct runtime_exec ex;
    char *out;
    size_t len;
    int64_t size; /* bytes the command wrote, kept or not */
    int64_t deadline;
};

struct parked {
    struct task_io_request req;
    int64_t deadline; /* mono ms */
    int wd;           /* inotify watch, -1: none (looked at every RECHECK_MS) */
};

struct task_io {
    struct task_io_hooks hooks;
    int ifd;
    struct parked *parked;
    size_t n_parked;
    int64_t next_check;
    struct running *runs;
    size_t n_runs;
};

/* ---- parsing ---- */

static int get_int(json_t *j, const char *key, int64_t lo, int64_t hi, int64_t def, int64_t *ret, bo_error_t *err)
{
    json_t *v = json_object_get(j, key);
    if (!v) {
        *ret = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return bo_error_set(err, BO_E_INVALID, "read.%s: integer in [%lld, %lld] required", key, (long long)lo,
                            (long long)hi);
    *ret = json_integer_value(v);
    return 0;
}

/* A string field without NUL bytes (jansson keeps them; paths cannot). */
static int get_string(json_t *j, const char *key, size_t max, char **ret, bo_error_t *err)
{
    json_t *v = json_object_get(j, key);
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v))
        return bo_error_set(err, BO_E_INVALID, "read.%s: a string of at most %zu bytes without NUL required", key,
                            max);
    *ret = bo_xstrdup(json_string_value(v));
    return 0;
}

int task_io_request_parse(json_t *j, struct task_io_request *ret, bo_error_t *err)
{
    static const char *const keys[] = {"id",     "task_id", "op",      "process", "stream", "tail",
                                       "offset", "inode",   "wait_ms", "max",     "path",  "data",
                                       "cmd",    "timeout_ms"};
    *ret = (struct task_io_request){.tail = -1};
    if (!json_is_object(j))
        return bo_error_set(err, BO_E_INVALID, "read: not an object");
    json_t *id = json_object_get(j, "id");
    if (!json_is_integer(id) || json_integer_value(id) < 1)
        return bo_error_set(err, BO_E_INVALID, "read.id: positive integer required");
    ret->id = json_integer_value(id);
    if (json_check_keys(j, keys, BO_ARRAY_SIZE(keys), "read", err) < 0)
        return -1;
    const char *task_id = json_string_value(json_object_get(j, "task_id"));
    if (!task_id)
        return bo_error_set(err, BO_E_INVALID, "read.task_id: required string");
    if (sandbox_validate_task_id(task_id, err) < 0)
        return bo_error_wrap(err, "read.task_id");
    ret->task_id = bo_xstrdup(task_id);
    const char *op = json_string_value(json_object_get(j, "op"));
    if (op && !strcmp(op, "log"))
        ret->op = TASK_IO_LOG;
    else if (op && !strcmp(op, "files"))
        ret->op = TASK_IO_FILES;
    else if (op && !strcmp(op, "write"))
        ret->op = TASK_IO_WRITE;
    else if (op && !strcmp(op, "run"))
        ret->op = TASK_IO_RUN;
    else
        return bo_error_set(err, BO_E_INVALID, "read.op: \"log\", \"files\", \"write\" or \"run\" required");
    const char *stream = json_string_value(json_object_get(j, "stream"));
    if (json_object_get(j, "stream") && (!stream || (strcmp(stream, "stdout") && strcmp(stream, "stderr"))))
        return bo_error_set(err, BO_E_INVALID, "read.stream: \"stdout\" or \"stderr\" required");
    ret->stderr_stream = stream && !strcmp(stream, "stderr");
    if (get_string(j, "process", 64, &ret->process, err) < 0 ||
        get_string(j, "path", TASK_FILES_PATH_MAX, &ret->path, err) < 0 ||
        get_int(j, "tail", 0, TASK_FILES_TAIL_MAX, -1, &ret->tail, err) < 0 ||
        get_int(j, "offset", 0, INT64_MAX, 0, &ret->offset, err) < 0 ||
        get_int(j, "inode", 0, INT64_MAX, 0, &ret->inode, err) < 0 ||
        get_int(j, "wait_ms", 0, TASK_IO_WAIT_MAX_MS, 0, &ret->wait_ms, err) < 0 ||
        get_int(j, "max", 1, TASK_FILES_CHUNK_MAX, TASK_FILES_CHUNK_MAX, &ret->max, err) < 0 ||
        get_string(j, "cmd", TASK_IO_RUN_CMD_MAX, &ret->cmd, err) < 0 ||
        get_int(j, "timeout_ms", 1, TASK_IO_RUN_TIMEOUT_MAX_MS, 60000, &ret->timeout_ms, err) < 0)
        return -1;
    if ((ret->op == TASK_IO_RUN) != (ret->cmd != NULL) ||
        (ret->op != TASK_IO_RUN && json_object_get(j, "timeout_ms")))
        return bo_error_set(err, BO_E_INVALID, "read: a run, and only a run, has cmd (and timeout_ms)");
    if (ret->cmd && !*ret->cmd)
        return bo_error_set(err, BO_E_INVALID, "read.cmd: empty");
    if (ret->op == TASK_IO_FILES && !ret->path)
        ret->path = bo_xstrdup("");
    if (ret->op == TASK_IO_WRITE) {
        json_t *d = json_object_get(j, "data");
        size_t n = json_string_length(d);
        if (!ret->path || !json_is_string(d) || n % 4 || n > 4 * ((TASK_IO_WRITE_MAX + 2) / 3))
            return bo_error_set(err, BO_E_INVALID, "read: a write needs path and data (base64, at most %u bytes)",
                                TASK_IO_WRITE_MAX);
        ret->data = bo_xmalloc(n / 4 * 3 + 1);
        int dn = n ? EVP_DecodeBlock((unsigned char *)ret->data, (const unsigned char *)json_string_value(d), (int)n)
                   : 0;
        if (dn < 0)
            return bo_error_set(err, BO_E_INVALID, "read.data: not base64");
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        for (size_t i = n; i > 0 && json_string_value(d)[i - 1] == '=' && dn > 0; i--)
            dn--;
        ret->data_len = (size_t)dn;
    } else if (json_object_get(j, "data")) {
        return bo_error_set(err, BO_E_INVALID, "read.data: only a write has data");
    }
    return 0;
}

void task_io_request_clear(struct task_io_request *r)
{
    free(r->task_id);
    free(r->process);
    free(r->path);
    free(r->data);
    free(r->cmd);
    *r = (struct task_io_request){0};
}

/* ---- answering ---- */

int task_io_new(const struct task_io_hooks *hooks, struct task_io **ret, bo_error_t *err)
{
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd < 0)
        return bo_error_sys(err, errno, "inotify_init1");
    struct task_io *io = bo_xcalloc(1, sizeof(*io));
    io->hooks = *hooks;
    io->ifd = ifd;
    *ret = io;
    return 0;
}

static void reply_error(struct task_io *io, int64_t id, const char *code, const char *msg)
{
    io->hooks.reply(io->hooks.ctx,
                    json_pack("{s:I, s:{s:s, s:s}}", "id", (json_int_t)id, "error", "code", code, "message", msg));
}

static void reply_result(struct task_io *io, int64_t id, json_t *result)
{
    io->hooks.reply(io->hooks.ctx, json_pack("{s:I, s:o}", "id", (json_int_t)id, "result", result));
}

/* Do the read. Returns true when it was answered, false when a follower
 * should wait (`final`: answer even then). *ret_process: the log's
 * process (heap) when it waits. */
static bool attempt(struct task_io *io, const struct task_io_request *r, bool final, char **ret_process)
{
    bool ended = false;
    const char *sandbox = io->hooks.sandbox(io->hooks.ctx, r->task_id, &ended);
    if (!sandbox) {
        _cleanup_free_ char *m = bo_xasprintf("task `%s` is not on this agent any more (its sandbox was removed)",
                                              r->task_id);
        reply_error(io, r->id, "NOT_FOUND", m);
        return true;
    }
    struct task_files_error e = {0};
    json_t *res = NULL;
    bool empty = false;
    int rc;
    if (r->op == TASK_IO_FILES) {
        rc = task_files_get(sandbox, r->path, r->offset, r->max, &res, &e);
    } else if (r->op == TASK_IO_WRITE) {
        rc = task_files_put(sandbox, r->path, r->offset, r->data, r->data_len, &res, &e);
    } else {
        struct task_log_query q = {.process = r->process, .stderr_stream = r->stderr_stream, .tail = r->tail,
                                   .offset = r->offset, .inode = r->inode, .max = r->max};
        rc = task_files_log(sandbox, r->task_id, &q, &res, &empty, &e);
    }
    if (rc < 0) {
        reply_error(io, r->id, task_files_code_name(e.code), e.message);
        task_files_error_clear(&e);
        return true;
    }
    if (r->op == TASK_IO_LOG) {
        /* Ended: this read saw the log after the task's end, so there is
         * nothing more to wait for once it is read to its end. */
        json_object_set_new(res, "ended", json_boolean(ended));
        if (empty && !ended && r->wait_ms > 0 && !final) {
            *ret_process = bo_xstrdup(json_string_value(json_object_get(res, "process")));
            json_decref(res);
            return false;
        }
    }
    reply_result(io, r->id, res);
    return true;
}

static void unwatch_if_unused(struct task_io *io, int wd)
{
    if (wd < 0)
        return;
    for (size_t i = 0; i < io->n_parked; i++)
        if (io->parked[i].wd == wd)
            return;
    inotify_rm_watch(io->ifd, wd);
}

static void park(struct task_io *io, struct task_io_request *r, const char *process)
{
    bool ended;
    const char *sandbox = io->hooks.sandbox(io->hooks.ctx, r->task_id, &ended);
    int wd = -1;
    _cleanup_close_ int dfd = sandbox ? task_files_log_dir_fd(sandbox, process) : -1;
    if (dfd >= 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", dfd);
        wd = inotify_add_watch(io->ifd, path, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF);
    }
    io->parked = bo_xrealloc(io->parked, (io->n_parked + 1) * sizeof(*io->parked));
    io->parked[io->n_parked++] = (struct parked){.req = *r, .deadline = bo_mono_ms() + r->wait_ms, .wd = wd};
    *r = (struct task_io_request){0};
}

/* ---- runs (`task run`) ---- */

static void run_start(struct task_io *io, const struct task_io_request *r)
{
    if (io->n_runs >= TASK_IO_MAX_RUNS) {
        _cleanup_free_ char *m = bo_xasprintf("%d commands run on this agent already: try again", TASK_IO_MAX_RUNS);
        reply_error(io, r->id, "REFUSED", m);
        return;
    }
    _cleanup_error_ bo_error_t err = NULL;
    struct runtime_exec ex;
    if (!io->hooks.run) {
        reply_error(io, r->id, "REFUSED", "this agent runs no commands");
        return;
    }
    if (io->hooks.run(io->hooks.ctx, r->task_id, r->cmd, &ex, &err) < 0) {
        reply_error(io, r->id, err->kind == BO_E_NOTFOUND ? "NOT_FOUND" : "REFUSED", err->msg);
        return;
    }
    io->runs = bo_xrealloc(io->runs, (io->n_runs + 1) * sizeof(*io->runs));
    io->runs[io->n_runs++] = (struct running){.id = r->id, .ex = ex, .out = bo_xmalloc(TASK_IO_RUN_OUTPUT_MAX),
                                              .deadline = bo_mono_ms() + r->timeout_ms};
}

static void run_drain(struct running *x)
{
    char buf[16384];
    ssize_t n;
    while ((n = read(x->ex.out, buf, sizeof(buf))) > 0) {
        size_t keep = TASK_IO_RUN_OUTPUT_MAX - x->len < (size_t)n ? TASK_IO_RUN_OUTPUT_MAX - x->len : (size_t)n;
        memcpy(x->out + x->len, buf, keep);
        x->len += keep;
        x->size += n;
    }
}

/* Answer a run that ended (`status` a wait status) or timed out. */
static void run_finish(struct task_io *io, struct running *x, bool timed_out, int status)
{
    run_drain(x);
    _cleanup_free_ char *b64 = bo_xmalloc(4 * ((x->len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)x->out, (int)x->len);
    json_t *res = json_pack("{s:s, s:s, s:I, s:b, s:b}", "type", "run", "output", b64, "size", (json_int_t)x->size,
                            "truncated", x->size > (int64_t)x->len, "timed_out", timed_out);
    if (!timed_out && WIFEXITED(status))
        json_object_set_new(res, "exit_code", json_integer(WEXITSTATUS(status)));
    else if (!timed_out && WIFSIGNALED(status))
        json_object_set_new(res, "signal", json_integer(WTERMSIG(status)));
    reply_result(io, x->id, res);
    runtime_exec_clear(&x->ex);
    free(x->out);
}

static void run_check(struct task_io *io)
{
    int64_t now = bo_mono_ms();
    for (size_t i = 0; i < io->n_runs;) {
        struct running *x = &io->runs[i];
        run_drain(x);
        int st;
        ssize_t n = read(x->ex.status, &st, sizeof(st));
        if (n == (ssize_t)sizeof(st) || n == 0) {
            run_finish(io, x, false, n == 0 ? 127 << 8 : st);
        } else if (now >= x->deadline) {
            runtime_exec_kill(&x->ex);
            run_finish(io, x, true, 0);
        } else {
            i++;
            continue;
        }
        io->runs[i] = io->runs[--io->n_runs];
    }
}

void task_io_handle(struct task_io *io, json_t *item)
{
    struct task_io_request r;
    _cleanup_error_ bo_error_t err = NULL;
    if (task_io_request_parse(item, &r, &err) < 0) {
        if (r.id > 0)
            reply_error(io, r.id, "INVALID", err->msg);
        task_io_request_clear(&r);
        return;
    }
    if (r.op == TASK_IO_RUN) {
        run_start(io, &r);
        task_io_request_clear(&r);
        return;
    }
    _cleanup_free_ char *process = NULL;
    if (!attempt(io, &r, io->n_parked >= TASK_IO_MAX_PARKED, &process))
        park(io, &r, process);
    task_io_request_clear(&r);
}

/* Look at every parked read again (`all`), or only at those due. */
static void recheck(struct task_io *io, bool all)
{
    int64_t now = bo_mono_ms();
    for (size_t i = 0; i < io->n_parked;) {
        struct parked *p = &io->parked[i];
        bool due = now >= p->deadline;
        _cleanup_free_ char *process = NULL;
        if (!(all || due || p->wd < 0 || now >= io->next_check) || !attempt(io, &p->req, due, &process)) {
            i++;
            continue;
        }
        int wd = p->wd;
        task_io_request_clear(&p->req);
        io->parked[i] = io->parked[--io->n_parked];
        unwatch_if_unused(io, wd);
    }
    if (now >= io->next_check)
        io->next_check = now + RECHECK_MS;
}

int task_io_fd(const struct task_io *io) { return io->ifd; }

void task_io_ready(struct task_io *io)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (read(io->ifd, buf, sizeof(buf)) > 0)
        ; /* which folder does not matter: every parked read looks again */
    recheck(io, true);
}

int task_io_tick(struct task_io *io)
{
    run_check(io);
    int run_next = io->n_runs ? RUN_CHECK_MS : INT32_MAX;
    if (io->n_parked == 0)
        return run_next;
    recheck(io, false);
    int64_t now = bo_mono_ms(), next = io->next_check;
    for (size_t i = 0; i < io->n_parked; i++)
        if (io->parked[i].deadline < next)
            next = io->parked[i].deadline;
    int wait = next <= now ? 0 : next - now > INT32_MAX ? INT32_MAX : (int)(next - now);
    return wait < run_next ? wait : run_next;
}

void task_io_free(struct task_io *io)
{
    if (!io)
        return;
    for (size_t i = 0; i < io->n_parked; i++)
        task_io_request_clear(&io->parked[i].req);
    free(io->parked);
    for (size_t i = 0; i < io->n_runs; i++) {
        runtime_exec_kill(&io->runs[i].ex);
        runtime_exec_clear(&io->runs[i].ex);
        free(io->runs[i].out);
    }
    free(io->runs);
    close(io->ifd);
    free(io);
}
