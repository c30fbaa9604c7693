/* task_read.c - reading a task's logs and files through the scheduler. */
#include "cli/task_read.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "base/parse.h"
#include "cli/api.h"
#include "cli/exitcode.h"
#include "cli/instances.h"
#include "cli/job_ops.h"
#include "model/job.h"
#include "net/http_client.h"

/* Longest line `job logs` holds back while waiting for its end. */
#define LINE_MAX_BYTES (64u << 10)
/* Timeout of a request that does not wait at the agent. */
#define READ_TIMEOUT_MS 30000
/* A follower's request: its wait plus the scheduler's margin and some. */
#define FOLLOW_TIMEOUT_MS (TASK_READ_FOLLOW_WAIT_MS + 15000)

int task_read_target(const char *arg, char **ret_key, int64_t *ret_instance)
{
    _cleanup_free_ char *key_text = NULL, *inst_text = NULL;
    instances_split_key(arg, &key_text, &inst_text);
    if (!inst_text)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "`%s`: give the task as KEY/INSTANCE (e.g. %s/0)", arg, arg);
    int r = job_ops_check_key(key_text, ret_key);
    if (r != CLI_EXIT_OK)
        return r;
    _cleanup_error_ bo_error_t err = NULL;
    if (bo_parse_i64(inst_text, 0, JOB_MAX_INSTANCES - 1, "instance", ret_instance, &err) < 0) {
        free(*ret_key);
        *ret_key = NULL;
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "`%s`: %s (one instance number)", arg, err->msg);
    }
    return CLI_EXIT_OK;
}

/* The scheduler's error codes of the read routes, and the exit codes. */
static const struct {
    long status;
    const char *code; /* NULL: any */
    int exit;
} exit_map[] = {
    {400, NULL, CLI_EXIT_INVALID_PARAMETER}, /* OUTSIDE_SANDBOX, INVALID */
    {401, NULL, CLI_EXIT_AUTH},
    {403, NULL, CLI_EXIT_AUTH},
    {404, NULL, CLI_EXIT_API},
    {409, NULL, CLI_EXIT_COMMAND_FAILURE}, /* not started, not a readable file */
    {503, NULL, CLI_EXIT_COMMAND_FAILURE}, /* the agent is down */
    {504, NULL, CLI_EXIT_TIMEOUT},
};

int task_read_get(const struct cli_ctx *ctx, const char *path, long timeout_ms, json_t **ret)
{
    return task_read_call(ctx, "GET", path, NULL, timeout_ms, ret);
}

int task_read_call(const struct cli_ctx *ctx, const char *method, const char *path, json_t *body, long timeout_ms,
                   json_t **ret)
{
    _cleanup_free_ char *url = bo_xasprintf("%s%s", ctx->scheduler, path);
    _cleanup_error_ bo_error_t err = NULL;
    struct http_response r;
    if (http_request(method, url, body, timeout_ms ? timeout_ms : READ_TIMEOUT_MS, ctx->token, &r, &err) < 0) {
        _cleanup_error_ bo_error_t why = NULL;
        api_transport_error(ctx, err, &why);
        return cli_fail_error(why, CLI_EXIT_NETWORK);
    }
    int code = CLI_EXIT_OK;
    if (r.status != 200 || !json_is_object(r.body)) {
        const char *msg = json_string_value(json_object_get(r.body, "error"));
        code = CLI_EXIT_API;
        for (size_t i = 0; i < BO_ARRAY_SIZE(exit_map); i++)
            if (exit_map[i].status == r.status)
                code = exit_map[i].exit;
        if (r.status == 401 && !ctx->token)
            cli_fail(code, "the scheduler requires a token and none was found: %s", CLI_CREDENTIALS_HINT);
        else if (msg)
            cli_fail(code, "%s", msg);
        else
            cli_fail(code, "%s %s: the scheduler answered HTTP %ld", method, path, r.status);
    } else {
        *ret = json_incref(r.body);
    }
    http_response_clear(&r);
    return code;
}

int task_read_data(json_t *answer, char **ret, size_t *ret_len)
{
    json_t *d = json_object_get(answer, "data");
    size_t n = json_string_length(d);
    const char *b64 = json_string_value(d);
    if (!b64 || n % 4)
        return cli_fail(CLI_EXIT_API, "the answer's `data` is not base64");
    char *out = bo_xmalloc(n / 4 * 3 + 1);
    int dn = n ? EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)b64, (int)n) : 0;
    if (dn < 0) {
        free(out);
        return cli_fail(CLI_EXIT_API, "the answer's `data` is not base64");
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    for (size_t i = n; i > 0 && b64[i - 1] == '=' && dn > 0; i--)
        dn--;
    out[dn] = '\0';
    *ret = out;
    *ret_len = (size_t)dn;
    return CLI_EXIT_OK;
}

int task_read_files(const struct cli_ctx *ctx, const char *key, int64_t instance, const char *path, int64_t offset,
                    json_t **ret)
{
    _cleanup_free_ char *q = api_escape(path);
    _cleanup_free_ char *url =
        bo_xasprintf("/api/v1/jobs/%s/instances/%lld/files?path=%s&offset=%lld", key, (long long)instance, q,
                     (long long)offset);
    return task_read_get(ctx, url, 0, ret);
}

static int write_all(int fd, const char *buf, size_t n, const char *shown)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return cli_fail(CLI_EXIT_COMMAND_FAILURE, "write `%s`: %s", shown, strerror(errno));
        buf += w;
        n -= (size_t)w;
    }
    return CLI_EXIT_OK;
}

int task_read_copy(const struct cli_ctx *ctx, const char *key, int64_t instance, const char *path, json_t *first,
                   int fd, const char *shown)
{
    json_t *ans = json_incref(first);
    for (;;) {
        _cleanup_free_ char *data = NULL;
        size_t n = 0;
        json_t *off = json_object_get(ans, "offset");
        int r = task_read_data(ans, &data, &n);
        if (r == CLI_EXIT_OK && !json_is_integer(off))
            r = cli_fail(CLI_EXIT_API, "the answer for `%s` has no offset", path);
        if (r == CLI_EXIT_OK)
            r = write_all(fd, data, n, shown);
        bool eof = json_is_true(json_object_get(ans, "eof"));
        int64_t next = json_integer_value(off);
        json_decref(ans);
        ans = NULL;
        if (r != CLI_EXIT_OK || eof)
            return r;
        /* A file that shrank under us would never reach its end otherwise. */
        if (n == 0)
            return cli_fail(CLI_EXIT_COMMAND_FAILURE, "`%s` changed while it was read", path);
        if ((r = task_read_files(ctx, key, instance, path, next, &ans)) != CLI_EXIT_OK)
            return r;
        if (strcmp(json_string_value(json_object_get(ans, "type")) ?: "", "file") != 0) {
            json_decref(ans);
            return cli_fail(CLI_EXIT_COMMAND_FAILURE, "`%s` changed while it was read", path);
        }
    }
}

void log_cursor_clear(struct log_cursor *c)
{
    free(c->partial);
    c->partial = NULL;
    c->n_partial = 0;
}

/* Write data; with a prefix, only whole lines (the rest is kept, or
 * written with a newline when `flush`). */
static void emit(struct log_cursor *c, const char *data, size_t n, bool flush, FILE *out, pthread_mutex_t *lock)
{
    if (!c->prefix) {
        fwrite(data, 1, n, out);
        fflush(out);
        return;
    }
    c->partial = bo_xrealloc(c->partial, c->n_partial + n + 1);
    memcpy(c->partial + c->n_partial, data, n);
    c->n_partial += n;
    size_t start = 0;
    if (lock)
        pthread_mutex_lock(lock);
    for (size_t i = 0; i < c->n_partial; i++) {
        if (c->partial[i] != '\n')
            continue;
        fprintf(out, "%s", c->prefix);
        fwrite(c->partial + start, 1, i + 1 - start, out);
        start = i + 1;
    }
    /* A line that never ends (a process writing without newlines) is cut
     * in pieces, so memory stays bounded and other instances' lines come. */
    for (; c->n_partial - start > LINE_MAX_BYTES; start += LINE_MAX_BYTES) {
        fprintf(out, "%s", c->prefix);
        fwrite(c->partial + start, 1, LINE_MAX_BYTES, out);
        fputc('\n', out);
    }
    if (flush && start < c->n_partial) {
        fprintf(out, "%s", c->prefix);
        fwrite(c->partial + start, 1, c->n_partial - start, out);
        fputc('\n', out);
        start = c->n_partial;
    }
    fflush(out);
    if (lock)
        pthread_mutex_unlock(lock);
    memmove(c->partial, c->partial + start, c->n_partial - start);
    c->n_partial -= start;
}

int task_read_log(const struct cli_ctx *ctx, struct log_cursor *c, bool follow, FILE *out, pthread_mutex_t *lock)
{
    for (;;) {
        _cleanup_free_ char *q_proc = c->process ? api_escape(c->process) : NULL;
        char at[96];
        if (!c->started && c->tail >= 0)
            snprintf(at, sizeof(at), "tail=%lld", (long long)c->tail);
        else
            snprintf(at, sizeof(at), "offset=%lld&inode=%lld", (long long)c->offset, (long long)c->inode);
        bool wait = follow && c->started;
        _cleanup_free_ char *path = bo_xasprintf(
            "/api/v1/jobs/%s/instances/%lld/logs?%s&stream=%s%s%s&wait_ms=%d", c->key, (long long)c->instance, at,
            c->stderr_stream ? "stderr" : "stdout", q_proc ? "&process=" : "", q_proc ? q_proc : "",
            wait ? TASK_READ_FOLLOW_WAIT_MS : 0);
        json_t *ans = NULL;
        int r = task_read_get(ctx, path, wait ? FOLLOW_TIMEOUT_MS : 0, &ans);
        if (r != CLI_EXIT_OK) {
            emit(c, "", 0, true, out, lock);
            return r;
        }
        _cleanup_free_ char *data = NULL;
        size_t n = 0;
        json_t *off = json_object_get(ans, "offset"), *ino = json_object_get(ans, "inode"),
               *size = json_object_get(ans, "size");
        if (!json_is_integer(off) || !json_is_integer(ino) || !json_is_integer(size) ||
            (r = task_read_data(ans, &data, &n)) != CLI_EXIT_OK) {
            json_decref(ans);
            return r != CLI_EXIT_OK ? r : cli_fail(CLI_EXIT_API, "GET %s: the answer has no offset, inode or size", path);
        }
        c->started = true;
        c->offset = json_integer_value(off);
        c->inode = json_integer_value(ino);
        bool at_end = c->offset >= json_integer_value(size) && !json_is_true(json_object_get(ans, "rotated"));
        bool ended = json_is_true(json_object_get(ans, "ended"));
        json_decref(ans);
        emit(c, data, n, false, out, lock);
        /* Without --follow, the log as it is now; with it, until the task
         * ended and everything it wrote was read. */
        if (at_end && (!follow || ended)) {
            emit(c, "", 0, true, out, lock);
            return CLI_EXIT_OK;
        }
    }
}
