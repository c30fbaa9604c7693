/* cmd-image-rm.c - `borealis image rm NAME|DIGEST` and `borealis image gc`. */
#include "cli/exitcode.h"
#include "cli/image_common.h"

static const struct bo_option rm_options[] = {
    IMAGE_OPT_DATA_DIR,
    {.name = NULL},
};

static int run_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct image_store *s = image_cli_open_store(a);
    if (!s)
        return CLI_EXIT_COMMAND_FAILURE;
    _cleanup_error_ bo_error_t err = NULL;
    int r = 0;
    for (size_t i = 0; i < a->n_pos && r == 0; i++)
        r = image_store_remove(s, a->pos[i], &err);
    image_store_close(s);
    return r < 0 ? image_cli_fail(err) : CLI_EXIT_OK;
}

const struct cli_command cmd_image_rm_entry = {
    .group = "image",
    .name = "rm",
    .args = "NAME|DIGEST...",
    .summary = "remove images from this machine's image store",
    .help = "Forgets each image (by the name `image ls` shows, or by digest) and deletes its layers unless "
            "another image uses them. An image a task runs from is refused (exit 30).",
    .examples = "borealis image rm 127.0.0.1:5000/tools/busybox:1.36",
    .options = rm_options,
    .min_args = 1,
    .max_args = -1,
    .offline = true,
    .run = run_rm,
};

static const struct bo_option gc_options[] = {
    IMAGE_OPT_DATA_DIR,
    {.name = "age", .kind = BO_OPT_DURATION, .def = "24h", .min = 0, .max = 365.0 * 24 * 3600 * 1000,
     .help = "forget images no task has started from for this long"},
    {.name = "min-free", .kind = BO_OPT_INT, .def = "10", .min = 0, .max = 100,
     .help = "below this percentage of free disk, forget every image no task uses"},
    {.name = NULL},
};

static int run_gc(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct image_store *s = image_cli_open_store(a);
    if (!s)
        return CLI_EXIT_COMMAND_FAILURE;
    _cleanup_error_ bo_error_t err = NULL;
    int removed = 0;
    int r = image_store_gc(s, cli_typed(a, "age").i, (int)cli_typed(a, "min-free").i, &removed, &err);
    image_store_close(s);
    if (r < 0)
        return image_cli_fail(err);
    printf("%d layer%s removed\n", removed, removed == 1 ? "" : "s");
    return CLI_EXIT_OK;
}

const struct cli_command cmd_image_gc_entry = {
    .group = "image",
    .name = "gc",
    .summary = "delete images and layers no task uses",
    .help = "Forgets images that no task has started from for --age (every unused image when the disk has less "
            "than --min-free percent free), then deletes the blobs and layers no remaining image needs. Layers "
            "being pulled are left alone.",
    .examples = "borealis image gc --age 1h",
    .options = gc_options,
    .min_args = 0,
    .max_args = 0,
    .offline = true,
    .run = run_gc,
};
