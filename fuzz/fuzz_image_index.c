/* fuzz_image_index.c - libFuzzer target for image indexes / manifest
 * lists (image_index_pick in src/image/manifest.c): the pick for
 * linux/amd64 is a valid descriptor or an error. */
#include <stdint.h>

#include "image/manifest.h"
#include "model/image_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct image_descriptor d;
    bo_error_t err = NULL;
    if (image_index_pick((const char *)data, size, "linux", "amd64", &d, &err) == 0) {
        if (!image_digest_valid(d.digest) || !d.media_type)
            __builtin_trap();
        image_descriptor_clear(&d);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    return 0;
}
