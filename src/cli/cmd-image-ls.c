/* cmd-image-ls.c - `borealis image ls`: the images in an agent's store. */
#include <jansson.h>
#include <string.h>

#include "cli/exitcode.h"
#include "cli/image_common.h"
#include "cli/table.h"

static const struct bo_option options[] = {
    IMAGE_OPT_DATA_DIR,
    {.name = "json", .kind = BO_OPT_FLAG, .help = "print the images as JSON"},
    {.name = NULL},
};

static int cmp(const void *x, const void *y)
{
    const struct image_entry *a = x, *b = y;
    return strcmp(a->name, b->name);
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct image_store *s = image_cli_open_store(a);
    if (!s)
        return CLI_EXIT_COMMAND_FAILURE;
    _cleanup_error_ bo_error_t err = NULL;
    struct image_entry *e;
    size_t n;
    int r = image_store_list(s, &e, &n, &err);
    image_store_close(s);
    if (r < 0)
        return image_cli_fail(err);
    if (n)
        qsort(e, n, sizeof(*e), cmp);
    if (cli_flag(a, "json")) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:i}", "name", e[i].name, "digest", e[i].digest,
                                                 "used_ms", (json_int_t)e[i].used_ms, "tasks", e[i].holds));
        char *text = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
        json_decref(arr);
    } else {
        static const char *const hdr[] = {"NAME", "DIGEST", "TASKS"};
        struct table *t = table_new(3, hdr);
        for (size_t i = 0; i < n; i++) {
            char tasks[16];
            snprintf(tasks, sizeof(tasks), "%d", e[i].holds);
            const char *cells[] = {e[i].name, e[i].digest, tasks};
            table_add_row(t, cells);
        }
        table_print(t, stdout);
        table_free(t);
    }
    image_entries_free(e, n);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_image_ls_entry = {
    .group = "image",
    .name = "ls",
    .summary = "list the images in this machine's image store",
    .help = "Lists the images pulled or imported into the image store of the agent data directory: name, "
            "digest, and how many task root filesystems use it now.",
    .examples = "borealis image ls --data-dir /var/lib/borealis/agent",
    .options = options,
    .min_args = 0,
    .max_args = 0,
    .offline = true,
    .run = run,
};
