/* cmd-image-pull.c - `borealis image pull REF`: pull an image from its
 * registry into an agent's image store (on the agent's machine). */
#include "cli/exitcode.h"
#include "cli/image_common.h"
#include "model/image_ref.h"

static const struct bo_option options[] = {
    IMAGE_OPT_DATA_DIR,
    IMAGE_OPTS_REGISTRY,
    {.name = NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct image_ref ref = {0};
    _cleanup_error_ bo_error_t err = NULL;
    if (image_ref_parse(a->pos[0], &ref, &err) < 0)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
    image_ref_clear(&ref);
    struct image_store *s = image_cli_open_store(a);
    if (!s)
        return CLI_EXIT_COMMAND_FAILURE;
    struct registry_opts ro;
    image_cli_registry_opts(a, &ro);
    char *digest_ref = NULL;
    int r = image_store_pull(s, a->pos[0], &ro, image_cli_progress, NULL, &digest_ref, &err);
    image_store_close(s);
    if (r < 0)
        return image_cli_fail(err);
    printf("%s\n", digest_ref);
    free(digest_ref);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_image_pull_entry = {
    .group = "image",
    .name = "pull",
    .args = "REF",
    .summary = "pull an image into this machine's image store",
    .help = "Pulls REF (HOST[:PORT]/REPOSITORY:TAG or ...@sha256:DIGEST) from its registry into the image store "
            "of the agent data directory, verifying every blob against its digest, and prints the image as "
            "HOST/REPOSITORY@sha256:DIGEST. Layers already in the store are not downloaded again. Progress goes "
            "to stderr. Exit 6 for a bad reference, 7 when the registry cannot be reached, 9 when it stops "
            "answering, 30 when it refuses the credentials, 4 when it has no such image or a blob does not "
            "match its digest (nothing of that blob is kept).",
    .examples = "borealis image pull --plain-http 127.0.0.1:5000 127.0.0.1:5000/tools/busybox:1.36",
    .options = options,
    .min_args = 1,
    .max_args = 1,
    .offline = true,
    .run = run,
};
