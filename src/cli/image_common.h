/* image_common.h - what the `borealis image` commands share: the data
 * directory option, the registry options, opening the store. */
#ifndef BO_CLI_IMAGE_COMMON_H
#define BO_CLI_IMAGE_COMMON_H

#include "cli/cli.h"
#include "image/store.h"

#define IMAGE_OPT_DATA_DIR                                                                          \
    {.name = "data-dir", .kind = BO_OPT_STRING, .arg = "DIR", .def = "/var/lib/borealis/agent",     \
     .help = "the agent's data directory (its image store is DIR/images)"}
#define IMAGE_OPTS_REGISTRY                                                                         \
    {.name = "registry-ca", .kind = BO_OPT_STRING, .arg = "FILE",                                   \
     .help = "PEM file of the CAs trusted for HTTPS registries (default: the system's)"},           \
    {.name = "plain-http", .kind = BO_OPT_STRING, .arg = "HOST:PORT", .repeat = true,               \
     .help = "speak plain HTTP to this registry (repeatable; default: HTTPS)"},                     \
    {.name = "registry-auth", .kind = BO_OPT_STRING, .arg = "FILE",                                 \
     .help = "credentials, as Docker's config.json: {\"auths\": {\"HOST\": {\"auth\": "             \
             "\"base64(user:password)\"}}}"},                                                       \
    {.name = "registry-timeout", .kind = BO_OPT_DURATION, .def = "30s", .min = 100, .max = 3600000, \
     .help = "give up on a registry that accepts no connection or sends nothing for this long"}

void image_cli_registry_opts(const struct cli_args *a, struct registry_opts *ret);
/* Open the store of --data-dir; prints the error and returns NULL. */
struct image_store *image_cli_open_store(const struct cli_args *a);
/* Print a store or registry error; its exit code: 7 unreachable, 9 timed
 * out, 30 credentials refused, else 4 (no such image, digest mismatch, bad
 * content). */
int image_cli_fail(const struct bo_error_s *e);
/* Progress lines to stderr. */
void image_cli_progress(void *arg, const char *line);

#endif
