/* fuzz_auth_header.c - libFuzzer target for what the API gate reads from a
 * request before any handler (src/scheduler/gate.c): the Authorization
 * header (auth_parse_header, then the token lookup's hash), and the Host,
 * Origin and Content-Type checks. The input's first line is the header
 * value; the second, if any, the Host the Origin is compared with. */
#include <stdint.h>
#include <string.h>

#include "scheduler/auth.h"
#include "scheduler/gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *text = bo_xstrndup((const char *)data, size);
    char *second = strchr(text, '\n');
    if (second)
        *second++ = '\0';
    const char *tok = NULL;
    size_t len = 0;
    bo_error_t err = NULL;
    if (auth_parse_header(text, &tok, &len, &err) == 0) {
        if (!tok || len == 0 || tok < text || tok + len > text + strlen(text))
            __builtin_trap(); /* the token must lie inside the header */
        char h[AUTH_TOKEN_HEX + 1];
        auth_hash(tok, len, h);
        if (strlen(h) != AUTH_TOKEN_HEX)
            __builtin_trap();
    } else if (!err || !err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    const char *names[] = {"scheduler.example", "borealis"};
    (void)gate_host_ok(text, names, 2);
    (void)gate_origin_ok(text, second ? second : "127.0.0.1:8081");
    (void)gate_json_type(text);
    free(text);
    return 0;
}
