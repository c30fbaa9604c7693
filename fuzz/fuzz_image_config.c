/* fuzz_image_config.c - libFuzzer target for image configs
 * (image_config_parse in src/image/manifest.c): what it accepts has
 * NAME=VALUE env entries, an absolute working dir and sha256 diff_ids. */
#include <stdint.h>
#include <string.h>

#include "image/manifest.h"
#include "model/image_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct image_config c;
    bo_error_t err = NULL;
    if (image_config_parse((const char *)data, size, &c, &err) == 0) {
        for (size_t i = 0; i < c.n_env; i++)
            if (!strchr(c.env[i], '='))
                __builtin_trap();
        for (size_t i = 0; i < c.n_diff_ids; i++)
            if (!image_digest_valid(c.diff_ids[i]))
                __builtin_trap();
        if (c.working_dir && c.working_dir[0] && c.working_dir[0] != '/')
            __builtin_trap();
        image_config_clear(&c);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    return 0;
}
