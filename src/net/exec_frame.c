/* exec_frame.c - parsing and writing the frames of a `task exec` stream. */
#include "net/exec_frame.h"

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int exec_frame_parse(const uint8_t *buf, size_t len, struct exec_frame *ret, size_t *ret_used, bo_error_t *err)
{
    if (len < EXEC_FRAME_HEADER)
        return 0;
    uint8_t type = buf[0];
    uint32_t n = get32(buf + 1);
    if (n > EXEC_FRAME_MAX)
        return bo_error_set(err, BO_E_INVALID, "exec frame `%c`: %u bytes (at most %u)", type >= 32 && type < 127 ? type : '?',
                            n, EXEC_FRAME_MAX);
    size_t want = 0; /* exact size, 0: any */
    switch (type) {
    case EXEC_FRAME_STDIN:
    case EXEC_FRAME_OUTPUT:
    case EXEC_FRAME_STDERR:
    case EXEC_FRAME_ERROR:
        break;
    case EXEC_FRAME_EOF:
    case EXEC_FRAME_PING:
        if (n != 0)
            return bo_error_set(err, BO_E_INVALID, "exec frame `%c` has a payload of %u bytes (none allowed)", type, n);
        break;
    case EXEC_FRAME_RESIZE:
    case EXEC_FRAME_EXIT:
        want = 4;
        break;
    default:
        return bo_error_set(err, BO_E_INVALID, "exec frame: unknown type 0x%02x", type);
    }
    if (want && n != want)
        return bo_error_set(err, BO_E_INVALID, "exec frame `%c`: %u bytes of payload (%zu required)", type, n, want);
    if (len - EXEC_FRAME_HEADER < n)
        return 0;
    struct exec_frame f = {.type = (enum exec_frame_type)type, .payload = buf + EXEC_FRAME_HEADER, .len = n};
    if (type == EXEC_FRAME_RESIZE) {
        f.rows = (uint16_t)(f.payload[0] << 8 | f.payload[1]);
        f.cols = (uint16_t)(f.payload[2] << 8 | f.payload[3]);
    } else if (type == EXEC_FRAME_EXIT) {
        f.status = get32(f.payload);
    }
    *ret = f;
    *ret_used = EXEC_FRAME_HEADER + n;
    return 1;
}

void exec_frame_header(uint8_t hdr[EXEC_FRAME_HEADER], enum exec_frame_type type, size_t len)
{
    hdr[0] = (uint8_t)type;
    hdr[1] = (uint8_t)(len >> 24);
    hdr[2] = (uint8_t)(len >> 16);
    hdr[3] = (uint8_t)(len >> 8);
    hdr[4] = (uint8_t)len;
}
