/* cmd-task-cp.c - `borealis task cp KEY/INSTANCE:PATH LOCAL`: a file of a
 * task's sandbox copied here, read on its agent chunk by chunk. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/task_read.h"

/* Bytes per request: 256 KiB of base64 (the agent's TASK_IO_WRITE_MAX). */
#define UPLOAD_CHUNK (192u << 10)

/* LOCAL -> KEY/INSTANCE:PATH, chunk by chunk (the first one cuts the
 * file), each one a write the agent checks. */
static int upload(struct cli_ctx *ctx, const char *local, const char *key, int64_t inst, const char *path)
{
    int fd = open(local, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int e = fd < 0 ? errno : EISDIR;
        if (fd >= 0)
            close(fd);
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "`%s`: %s (task cp copies one regular file)", local,
                        strerror(e));
    }
    _cleanup_free_ char *url = bo_xasprintf("/api/v1/jobs/%s/instances/%lld/files", key, (long long)inst);
    _cleanup_free_ char *buf = bo_xmalloc(UPLOAD_CHUNK);
    _cleanup_free_ char *b64 = bo_xmalloc(4 * ((UPLOAD_CHUNK + 2) / 3) + 1);
    int64_t off = 0;
    int r = CLI_EXIT_OK;
    for (bool first = true; r == CLI_EXIT_OK; first = false) {
        ssize_t n = read(fd, buf, UPLOAD_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = cli_fail(CLI_EXIT_COMMAND_FAILURE, "read `%s`: %s", local, strerror(errno));
            break;
        }
        if (n == 0 && !first)
            break;
        int bn = EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)buf, (int)n);
        json_t *body = json_pack("{s:s, s:I, s:s%}", "path", path, "offset", (json_int_t)off, "data", b64,
                                 (size_t)bn);
        json_t *ans = NULL;
        r = task_read_call(ctx, "POST", url, body, 0, &ans);
        json_decref(body);
        json_decref(ans);
        off += n;
        if (n == 0)
            break;
    }
    close(fd);
    return r;
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *src = a->pos[0], *dst = a->pos[1];
    const char *colon = strchr(src, ':');
    if (!colon && strchr(dst, ':')) {
        /* To the sandbox. */
        const char *dcolon = strchr(dst, ':');
        _cleanup_free_ char *dtarget = bo_xstrndup(dst, (size_t)(dcolon - dst)), *dkey = NULL;
        int64_t dinst;
        int rc = task_read_target(dtarget, &dkey, &dinst);
        if (rc != CLI_EXIT_OK)
            return rc;
        if (!dcolon[1])
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "`%s`: give the destination as KEY/INSTANCE:PATH", dst);
        return upload(ctx, src, dkey, dinst, dcolon + 1);
    }
    if (!colon || !colon[1])
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "`%s`: give the source as KEY/INSTANCE:PATH", src);
    _cleanup_free_ char *target = bo_xstrndup(src, (size_t)(colon - src)), *key = NULL;
    const char *path = colon + 1;
    int64_t inst;
    int r = task_read_target(target, &key, &inst);
    if (r != CLI_EXIT_OK)
        return r;
    json_t *ans = NULL;
    if ((r = task_read_files(ctx, key, inst, path, 0, &ans)) != CLI_EXIT_OK)
        return r;
    if (strcmp(json_string_value(json_object_get(ans, "type")) ?: "", "file") != 0) {
        json_decref(ans);
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "`%s` is a folder in the task's sandbox: task cp copies a file",
                        path);
    }
    /* Into a folder: under the file's own name, as cp does. */
    struct stat st;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    _cleanup_free_ char *out = stat(dst, &st) == 0 && S_ISDIR(st.st_mode) ? bo_xasprintf("%s/%s", dst, base)
                                                                          : bo_xstrdup(dst);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0) {
        json_decref(ans);
        return cli_fail(CLI_EXIT_COMMAND_FAILURE, "open `%s`: %s", out, strerror(errno));
    }
    r = task_read_copy(ctx, key, inst, path, ans, fd, out);
    json_decref(ans);
    if (close(fd) < 0 && r == CLI_EXIT_OK)
        r = cli_fail(CLI_EXIT_COMMAND_FAILURE, "write `%s`: %s", out, strerror(errno));
    return r;
}

const struct cli_command cmd_task_cp_entry = {
    .group = "task",
    .name = "cp",
    .args = "KEY/INSTANCE:PATH LOCAL | LOCAL KEY/INSTANCE:PATH",
    .summary = "copy a file from a task's sandbox, or into it",
    .help = "Copies the file PATH of the sandbox of task KEY/INSTANCE to LOCAL (into it, under the same name, "
            "when LOCAL is a folder), read on the agent that runs or ran the task, 256 KiB at a time. PATH is "
            "relative to the sandbox, and a path leading out of it is refused as by `task files` (exit code 6). "
            "A file that changes while it is copied is copied as it was read. The other way round, LOCAL is "
            "written to PATH in the sandbox (which needs permission to act on the job's role, and is audited): "
            "created as the sandbox's owner, never through a symbolic link, a fifo or a hard link, and never "
            "into `.borealis/` (the agent's files).",
    .examples = "borealis task cp local/www-data/devel/hello/0:out/report.csv .\n"
                "borealis task cp config.json local/www-data/devel/hello/0:conf/config.json",
    .options = NULL,
    .min_args = 2,
    .max_args = 2,
    .run = run,
};
