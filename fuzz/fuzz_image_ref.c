/* fuzz_image_ref.c - libFuzzer target for image references (job files,
 * CLI arguments) and registries' WWW-Authenticate challenges: a parsed
 * reference prints back to itself. */
#include <stdint.h>
#include <string.h>

#include "image/registry.h"
#include "model/image_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = bo_xstrndup((const char *)data, size);
    struct image_ref r = {0};
    bo_error_t err = NULL;
    if (image_ref_parse(s, &r, &err) == 0) {
        char *back = image_ref_format(&r);
        if (strcmp(back, s) != 0)
            __builtin_trap();
        free(back);
        image_ref_clear(&r);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    err = NULL;
    struct registry_challenge c;
    if (registry_parse_challenge(s, &c, &err) == 0)
        registry_challenge_clear(&c);
    bo_error_free(err);
    free(s);
    return 0;
}
