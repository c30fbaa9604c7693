/* fuzz_health_http.c - libFuzzer target for the executor's judge of an HTTP
 * health check answer (src/executor/probe.c). The answer comes from the
 * task, so it is untrusted: any bytes, any length up to the read cap. The
 * first byte picks `complete` and the expected body; a failure must explain
 * itself in printable ASCII (it goes into status.json). */
#include <stdint.h>
#include <string.h>

#include "executor/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > PROBE_RESPONSE_MAX + 1)
        return 0;
    static const char *const bodies[] = {"ok", "", "  spaced out \n", "healthy"};
    bool complete = data[0] & 1;
    const char *body = bodies[(data[0] >> 1) & 3];
    int status = 100 + (data[0] >> 3) * 16;
    char *why = NULL;
    enum probe_result r = probe_http_judge((const char *)data + 1, size - 1, complete, status, body, &why);
    if (r == PROBE_FAILED) {
        if (!why || !*why || strlen(why) > 400)
            __builtin_trap();
        for (const char *c = why; *c; c++)
            if (*c < 0x20 || *c > 0x7e)
                __builtin_trap();
    } else if (why) {
        __builtin_trap(); /* only failures carry a message */
    }
    if (complete && r == PROBE_PENDING)
        __builtin_trap(); /* nothing more will come: a verdict is due */
    free(why);
    return 0;
}
