/* cmd-task-cp.c - `borealis task cp KEY/INSTANCE:PATH LOCAL`: a file of a
 * task's sandbox copied here, read on its agent chunk by chunk. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/task_read.h"

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *src = a->pos[0], *dst = a->pos[1];
    const char *colon = strchr(src, ':');
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
    .args = "KEY/INSTANCE:PATH LOCAL",
    .summary = "copy a file of a task's sandbox to this machine",
    .help = "Copies the file PATH of the sandbox of task KEY/INSTANCE to LOCAL (into it, under the same name, "
            "when LOCAL is a folder), read on the agent that runs or ran the task, 256 KiB at a time. PATH is "
            "relative to the sandbox, and a path leading out of it is refused as by `task files` (exit code 6). "
            "A file that changes while it is copied is copied as it was read.",
    .examples = "borealis task cp local/www-data/devel/hello/0:out/report.csv .",
    .options = NULL,
    .min_args = 2,
    .max_args = 2,
    .run = run,
};
