/* fuzz_job_key.c - libFuzzer target for job keys as users type them
 * (job_key_parse in src/model/job.c: CLI arguments and the job file's
 * selector). A parsed key must print (job_key_str) to itself. */
#include <stdint.h>
#include <string.h>

#include "model/job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = bo_xstrndup((const char *)data, size);
    struct job_key k = {0};
    bo_error_t err = NULL;
    if (job_key_parse(s, &k, &err) == 0) {
        char *back = job_key_str(&k);
        if (strcmp(back, s) != 0 || job_key_validate(&k, NULL) < 0)
            __builtin_trap();
        free(back);
        job_key_clear(&k);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    free(s);
    return 0;
}
