/* cmd-task-files.c - `borealis task files KEY/INSTANCE [PATH]`: a folder
 * of a task's sandbox listed, or a file of it printed, read on its agent
 * (which refuses any path leading out of the sandbox). */
#include <string.h>
#include <unistd.h>

#include "base/parse.h"
#include "base/timefmt.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/table.h"
#include "cli/task_read.h"

static const struct bo_option options[] = {
    {.name = "json", .kind = BO_OPT_FLAG, .help = "print the scheduler's JSON answer (a folder's listing)"},
    {.name = NULL},
};

static void print_listing(json_t *entries)
{
    static const char *const headers[] = {"TYPE", "MODE", "SIZE", "MODIFIED", "NAME"};
    _cleanup_table_ struct table *t = table_new(BO_ARRAY_SIZE(headers), headers);
    table_set_align(t, 2, TABLE_RIGHT);
    json_t *e;
    size_t i;
    json_array_foreach(entries, i, e)
    {
        char mode[16], size[32], when[64];
        snprintf(mode, sizeof(mode), "%04llo", (unsigned long long)json_integer_value(json_object_get(e, "mode")));
        bo_format_size((uint64_t)json_integer_value(json_object_get(e, "size")), size, sizeof(size));
        bo_format_time(json_integer_value(json_object_get(e, "mtime_ms")), when, sizeof(when));
        const char *target = json_string_value(json_object_get(e, "target"));
        _cleanup_free_ char *name = target ? bo_xasprintf("%s -> %s", json_string_value(json_object_get(e, "name")),
                                                          target)
                                           : bo_xstrdup(json_string_value(json_object_get(e, "name")) ?: "?");
        /* A name is the task's choice: no control character reaches the
         * terminal (a newline would forge a row). */
        for (char *ch = name; *ch; ch++)
            if ((unsigned char)*ch < 0x20 || *ch == 0x7f)
                *ch = '?';
        const char *row[] = {json_string_value(json_object_get(e, "type")), mode, size, when, name};
        table_add_row(t, row);
    }
    table_print(t, stdout);
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    int64_t inst;
    int r = task_read_target(a->pos[0], &key, &inst);
    if (r != CLI_EXIT_OK)
        return r;
    const char *path = a->n_pos > 1 ? a->pos[1] : "";
    json_t *ans = NULL;
    if ((r = task_read_files(ctx, key, inst, path, 0, &ans)) != CLI_EXIT_OK)
        return r;
    const char *type = json_string_value(json_object_get(ans, "type"));
    if (type && !strcmp(type, "dir")) {
        if (cli_flag(a, "json"))
            job_ops_print_json(ans);
        else
            print_listing(json_object_get(ans, "entries"));
        if (json_is_true(json_object_get(ans, "truncated")))
            fprintf(stderr, CLI_PROGRAM ": only the first %zu entries are listed\n",
                    json_array_size(json_object_get(ans, "entries")));
    } else if (type && !strcmp(type, "file")) {
        fflush(stdout);
        r = task_read_copy(ctx, key, inst, path, ans, STDOUT_FILENO, "standard output");
    } else {
        r = cli_fail(CLI_EXIT_API, "the answer for `%s` is neither a folder nor a file", path);
    }
    json_decref(ans);
    return r;
}

const struct cli_command cmd_task_files_entry = {
    .group = "task",
    .name = "files",
    .args = "KEY/INSTANCE [PATH]",
    .summary = "list a folder of a task's sandbox, or print a file of it",
    .help = "Lists the folder PATH of the sandbox of task KEY/INSTANCE (the sandbox itself when PATH is left "
            "out), or prints the file PATH, read on the agent that runs or ran the task. PATH is relative to the "
            "sandbox: the agent refuses a path that leads out of it (`..`, an absolute path, a symbolic link "
            "out of it, whoever made it) with exit code 6, and anything but regular files and folders (a fifo, "
            "a file with several hard links) with exit code 4. Needs permission to read the job's role.",
    .examples = "borealis task files local/www-data/devel/hello/0\n"
                "borealis task files local/www-data/devel/hello/0 .logs/hello/stderr",
    .options = options,
    .min_args = 1,
    .max_args = 2,
    .run = run,
};
