/* image_ref.h - container image references ("HOST[:PORT]/REPO[:TAG][@sha256:HEX]"):
 * the one parser and printer shared by the job model (a job's `image`), the
 * CLI and the agent's image store. libc only. */
#ifndef BO_MODEL_IMAGE_REF_H
#define BO_MODEL_IMAGE_REF_H

#include <stdbool.h>

#include "base/error.h"

#define IMAGE_REF_MAX 512
#define IMAGE_DIGEST_LEN 71 /* "sha256:" + 64 hex digits */

struct image_ref {
    char *registry;   /* "host[:port]" */
    char *repository; /* "team/app" */
    char *tag;        /* NULL when absent (and no digest: "latest" is never implied) */
    char *digest;     /* "sha256:<64 lowercase hex>" or NULL */
};

/* Parse a reference. The registry must be named (a first component with a
 * '.' or ':' or "localhost"): there is no default registry. A reference
 * with neither tag nor digest is refused (no implicit "latest"). Errors
 * (BO_E_INVALID) name the reference and what is wrong. */
int image_ref_parse(const char *text, struct image_ref *ret, bo_error_t *err);
void image_ref_clear(struct image_ref *r);
/* "registry/repository[:tag][@digest]", heap-allocated. */
char *image_ref_format(const struct image_ref *r);
/* "registry/repository@digest" (the form a job carries); r->digest set. */
char *image_ref_format_digest(const struct image_ref *r, const char *digest);
/* True for "sha256:" followed by 64 lowercase hex digits. */
bool image_digest_valid(const char *d);

#endif
