/* fuzz_parse_units.c - libFuzzer target for the number parsers behind
 * command-line options (src/base/parse.c): sizes (--ram, --disk),
 * durations (--agent-timeout, --wait-timeout, ...), integers and doubles.
 * A parsed size must print (bo_format_size) without overflowing. */
#include <stdint.h>
#include <string.h>

#include "base/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void explained(int r, bo_error_t err)
{
    if (r < 0 && (!err || !err->msg || !*err->msg))
        __builtin_trap();
    bo_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = bo_xstrndup((const char *)data, size);
    bo_error_t err = NULL;
    uint64_t bytes = 0;
    int r = bo_parse_size(s, "size", &bytes, &err);
    explained(r, err);
    if (r == 0) {
        char buf[32];
        bo_format_size(bytes, buf, sizeof(buf));
        if (!buf[0] || bytes > (uint64_t)9e18)
            __builtin_trap();
    }
    err = NULL;
    int64_t ms = 0;
    r = bo_parse_duration_ms(s, "duration", &ms, &err);
    explained(r, err);
    if (r == 0 && ms < 0)
        __builtin_trap();
    err = NULL;
    int64_t v = 0;
    r = bo_parse_i64(s, -1000, 1000, "integer", &v, &err);
    explained(r, err);
    if (r == 0 && (v < -1000 || v > 1000))
        __builtin_trap();
    err = NULL;
    double d = 0;
    r = bo_parse_double(s, 0, 1024, "cpu", &d, &err);
    explained(r, err);
    if (r == 0 && !(d >= 0 && d <= 1024))
        __builtin_trap();
    free(s);
    return 0;
}
