/* fuzz_json_text.c - libFuzzer target for the JSON text writer
 * (src/base/strbuf.c), which puts strings agents and users sent (status
 * messages, process names, job keys) into the task records the scheduler
 * stores and reloads. Any valid UTF-8 input, written as a JSON string,
 * must read back (jansson) as exactly that string; the writer must never
 * write past its buffer whatever the bytes. */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "base/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    struct bo_buf b = {0};
    bo_buf_adds(&b, "{\"k\":");
    bo_buf_json_str(&b, s);
    bo_buf_adds(&b, ",\"n\":");
    bo_buf_i64(&b, (int64_t)size * (size % 2 ? -1 : 1) * INT64_C(1000000007));
    bo_buf_adds(&b, "}");
    /* Only a NUL-free, valid UTF-8 string is something callers pass. */
    json_t *want = strlen(s) == size ? json_string(s) : NULL;
    if (want) {
        json_error_t jerr;
        json_t *got = json_loads(b.p, 0, &jerr);
        if (!got || !json_equal(json_object_get(got, "k"), want) ||
            json_integer_value(json_object_get(got, "n")) != (json_int_t)size * (size % 2 ? -1 : 1) * 1000000007)
            __builtin_trap();
        json_decref(got);
        json_decref(want);
    }
    bo_buf_free(&b);
    free(s);
    return 0;
}
