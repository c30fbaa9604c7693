/* fuzz_jobfile.c - libFuzzer target for the YAML job file loader. The
 * input is a job file; it is loaded with and without a key and with a
 * bind, and a loaded config must encode to JSON that decodes again. */
#include <stdint.h>
#include <string.h>

#include "config/jobfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const binds[] = {"greeting=fuzz"};
    static const struct jobfile_options o = {binds, 1};
    static const char *const keys[] = {NULL, "local/www-data/devel/hello"};
    for (size_t i = 0; i < 2; i++) {
        struct job_config *c = NULL;
        bo_error_t err = NULL;
        if (jobfile_load_buffer("fuzz.yaml", (const char *)data, size, keys[i], &o, &c, &err) == 0) {
            json_t *j = job_config_to_json(c);
            struct job_config *c2 = NULL;
            if (job_config_from_json(j, &c2, NULL) < 0)
                __builtin_trap(); /* a loaded config must round-trip */
            json_t *j2 = job_config_to_json(c2);
            if (!json_equal(j, j2))
                __builtin_trap();
            json_decref(j2);
            json_decref(j);
            job_config_unref(c2);
            job_config_unref(c);
        } else if (!err || !err->msg || !*err->msg) {
            __builtin_trap(); /* every failure explains itself */
        }
        bo_error_free(err);
    }
    return 0;
}
