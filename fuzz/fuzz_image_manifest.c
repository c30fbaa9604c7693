/* fuzz_image_manifest.c - libFuzzer target for image manifests as a
 * registry sends them (image_doc_kind, image_manifest_parse in
 * src/image/manifest.c). A parsed manifest has valid digests. */
#include <stdint.h>

#include "image/manifest.h"
#include "model/image_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum image_doc_kind k;
    bo_error_t err = NULL;
    if (image_doc_kind((const char *)data, size, &k, &err) < 0)
        bo_error_free(err);
    err = NULL;
    struct image_manifest m;
    if (image_manifest_parse((const char *)data, size, &m, &err) == 0) {
        if (!image_digest_valid(m.config.digest) || m.n_layers > IMAGE_LAYERS_MAX)
            __builtin_trap();
        for (size_t i = 0; i < m.n_layers; i++)
            if (!image_digest_valid(m.layers[i].digest) || m.layers[i].size < 0)
                __builtin_trap();
        image_manifest_clear(&m);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    return 0;
}
