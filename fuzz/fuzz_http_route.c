/* fuzz_http_route.c - libFuzzer target for the HTTP server's route matcher
 * (http_route_match in src/net/http_server.c) on arbitrary request paths:
 * the input's path is matched against every API route, as on_request does,
 * and, when the input holds a newline, against the pattern before it. */
#include <stdint.h>
#include <string.h>

#include "net/http_server.h"
#include "scheduler/scheduler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t stars(const char *pattern)
{
    size_t n = 0;
    for (const char *p = pattern; *p; p++)
        n += *p == '*';
    return n;
}

static void match(const char *pattern, const char *path)
{
    char *params[HTTP_MAX_PARAMS];
    size_t n = 99;
    if (!http_route_match(pattern, path, params, &n))
        return;
    if (n != stars(pattern) || n > HTTP_MAX_PARAMS)
        __builtin_trap(); /* a match captures every star */
    for (size_t i = 0; i < n; i++) {
        if (!params[i] || strlen(params[i]) > strlen(path))
            __builtin_trap();
        free(params[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = bo_xstrndup((const char *)data, size); /* MHD hands us a C string */
    char *nl = strchr(text, '\n');
    const char *path = nl ? nl + 1 : text;
    for (size_t i = 0; i < api_routes_count; i++)
        match(api_routes[i].pattern, path);
    if (nl) {
        *nl = '\0';
        match(text, path);
    }
    free(text);
    return 0;
}
