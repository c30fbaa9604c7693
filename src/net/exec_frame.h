/* exec_frame.h - the frames of a `task exec` stream (docs/protocol.md):
 * a type byte, a payload length (4 bytes, big-endian), the payload. The
 * CLI and the agent speak them; the scheduler only splices the bytes. */
#ifndef BO_NET_EXEC_FRAME_H
#define BO_NET_EXEC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define EXEC_FRAME_HEADER 5
/* The largest payload: a frame announcing more is an error (the stream
 * is closed), so neither end ever buffers more than this per frame. */
#define EXEC_FRAME_MAX (32u << 10)

enum exec_frame_type {
    EXEC_FRAME_STDIN = 'i',  /* CLI -> agent: bytes for the terminal */
    EXEC_FRAME_EOF = 'd',    /* CLI -> agent: no more input (empty) */
    EXEC_FRAME_RESIZE = 'w', /* CLI -> agent: rows, cols (2 bytes each, big-endian) */
    EXEC_FRAME_OUTPUT = 'o', /* agent -> CLI: what the terminal printed */
    EXEC_FRAME_STDERR = 'e', /* agent -> CLI: the runtime's own messages */
    EXEC_FRAME_EXIT = 'x',   /* agent -> CLI: exit status (4 bytes, big-endian), last frame */
    EXEC_FRAME_ERROR = 'E',  /* agent -> CLI: the command could not run: a message, last frame */
    EXEC_FRAME_PING = 'p',   /* agent -> CLI: alive (empty), every EXEC_PING_MS of silence */
};

/* The agent's longest silence: a relay that hears nothing from it for
 * EXEC_SILENCE_MS (while it could take more) ends the session. */
#define EXEC_PING_MS 5000
#define EXEC_SILENCE_MS 16000

struct exec_frame {
    enum exec_frame_type type;
    const uint8_t *payload; /* into the parsed buffer */
    size_t len;
    /* Decoded: RESIZE's size, EXIT's status. */
    uint16_t rows, cols;
    uint32_t status;
};

/* The first frame of buf[0..len): 1 and *ret (*ret_used bytes taken), 0
 * when the frame is not complete yet, -1 when it is invalid (an unknown
 * type, a payload past EXEC_FRAME_MAX or of the wrong size for its type). */
int exec_frame_parse(const uint8_t *buf, size_t len, struct exec_frame *ret, size_t *ret_used, bo_error_t *err);

/* Write the header of a frame of `len` payload bytes into hdr. */
void exec_frame_header(uint8_t hdr[EXEC_FRAME_HEADER], enum exec_frame_type type, size_t len);

#endif
