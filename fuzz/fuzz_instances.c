/* fuzz_instances.c - libFuzzer target for the CLI's instance lists
 * (src/cli/instances.c): "C/R/E/N/0,3,5-7" is split into key and list, the
 * list parsed; a parsed list must be sorted, unique, in range, and print
 * (instances_format) to a list that parses back to the same instances. */
#include <stdint.h>
#include <string.h>

#include "cli/instances.h"
#include "model/job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *list)
{
    int64_t *v = NULL;
    size_t n = 0;
    bo_error_t err = NULL;
    if (instances_parse(list, &v, &n, &err) < 0) {
        if (!err || !err->msg || !*err->msg)
            __builtin_trap();
        bo_error_free(err);
        return;
    }
    if (n == 0)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0 || v[i] >= JOB_MAX_INSTANCES || (i && v[i] <= v[i - 1]))
            __builtin_trap();
    char *text = instances_format(v, n);
    int64_t *v2 = NULL;
    size_t n2 = 0;
    if (instances_parse(text, &v2, &n2, NULL) < 0 || n2 != n || memcmp(v, v2, n * sizeof(*v)) != 0)
        __builtin_trap();
    free(v2);
    free(text);
    free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = bo_xstrndup((const char *)data, size);
    char *key = NULL, *list = NULL;
    instances_split_key(s, &key, &list);
    if (!key)
        __builtin_trap();
    check(list ? list : s);
    free(key);
    free(list);
    free(s);
    return 0;
}
