/* fuzz_parse_units.c - libFuzzer target for the number parsers behind
 * command-line options (src/base/parse.c): sizes (--ram, --disk),
 * durations (--agent-timeout, --wait-timeout, ...), integers and doubles.
 * A parsed size must print (bo_format_size) without overflowing. Also the
 * identifier rule (src/base/ident.c) and the UTF-8 sanitizer that error
 * answers echo user input through (src/base/utf8.c): its output must be
 * valid UTF-8 that jansson accepts. */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "base/ident.h"
#include "base/parse.h"
#include "base/utf8.h"

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
    err = NULL;
    r = bo_ident_check(s, 64, 0, "name", &err);
    explained(r, err);
    if ((r == 0) != bo_ident_ok(s, 64, 0) || (r == 0 && !bo_ident_ok(s, 64, BO_IDENT_NO_DOT) && !strchr(s, '.')))
        __builtin_trap();
    char *clean = bo_utf8_sanitize(s);
    json_t *j = json_string(clean);
    if (!j || !bo_utf8_valid(clean, strlen(clean)) ||
        (bo_utf8_valid(s, strlen(s)) && strcmp(clean, s) != 0))
        __builtin_trap();
    json_decref(j);
    free(clean);
    free(s);
    return 0;
}
