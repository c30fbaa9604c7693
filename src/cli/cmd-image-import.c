/* cmd-image-import.c - `borealis image import FILE`: load a `docker save`
 * archive or an OCI image layout (tar) into an agent's image store. */
#include <string.h>

#include "cli/exitcode.h"
#include "cli/image_common.h"

static const struct bo_option options[] = {
    IMAGE_OPT_DATA_DIR,
    {.name = NULL},
};

static void print_line(void *arg, const char *line)
{
    if (strncmp(line, "imported ", 9) == 0)
        printf("%s\n", line + 9);
    else
        fprintf(stderr, "%s\n", line);
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct image_store *s = image_cli_open_store(a);
    if (!s)
        return CLI_EXIT_COMMAND_FAILURE;
    _cleanup_error_ bo_error_t err = NULL;
    int r = image_store_import(s, a->pos[0], print_line, NULL, &err);
    image_store_close(s);
    return r < 0 ? image_cli_fail(err) : CLI_EXIT_OK;
}

const struct cli_command cmd_image_import_entry = {
    .group = "image",
    .name = "import",
    .args = "FILE",
    .summary = "load a docker save archive or an OCI layout into the image store",
    .help = "Loads FILE, a tar made by `docker save` or an OCI image layout (index.json, blobs/) as a tar, into "
            "the image store of the agent data directory, for machines without a registry. Every blob is "
            "checked against its digest. Prints one line per image: NAME DIGEST. A job runs an imported image "
            "as any HOST/REPOSITORY@DIGEST (for example localhost/app@sha256:...): the agent finds it by its "
            "digest.",
    .examples = "docker save busybox:latest > busybox.tar   # on a machine with Docker\n"
                "borealis image import busybox.tar",
    .options = options,
    .min_args = 1,
    .max_args = 1,
    .offline = true,
    .run = run,
};
