/* fuzz_exec_frame.c - libFuzzer target for the `task exec` stream's frame
 * parser (src/net/exec_frame.c), as the CLI and the agent run it over
 * whatever the other end sends: frame after frame until an error or an
 * incomplete one; a frame never reaches past the input, nor past
 * EXEC_FRAME_MAX, and a header written back parses the same. */
#include <stdint.h>
#include <string.h>

#include "net/exec_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t at = 0;
    for (;;) {
        struct exec_frame f;
        size_t used = 0;
        bo_error_t err = NULL;
        int r = exec_frame_parse(data + at, size - at, &f, &used, &err);
        if (r < 0) {
            if (!err || !err->msg || !*err->msg)
                __builtin_trap();
            bo_error_free(err);
            return 0;
        }
        if (r == 0)
            return 0;
        if (used != EXEC_FRAME_HEADER + f.len || used > size - at || f.len > EXEC_FRAME_MAX ||
            f.payload != data + at + EXEC_FRAME_HEADER)
            __builtin_trap();
        uint8_t hdr[EXEC_FRAME_HEADER];
        exec_frame_header(hdr, f.type, f.len);
        if (memcmp(hdr, data + at, EXEC_FRAME_HEADER) != 0)
            __builtin_trap();
        at += used;
    }
}
