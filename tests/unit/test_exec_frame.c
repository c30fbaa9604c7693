/* Unit tests for `task exec`'s frames (net/exec_frame.c) and the agent's
 * parser of an exec request (agent/exec_session.c): round trips, partial
 * input, every refusal. */
#include <stdint.h>
#include <string.h>

#include "agent/exec_session.h"
#include "harness.h"
#include "net/exec_frame.h"

static size_t frame(uint8_t *buf, enum exec_frame_type t, const void *p, size_t len)
{
    exec_frame_header(buf, t, len);
    memcpy(buf + EXEC_FRAME_HEADER, p, len);
    return EXEC_FRAME_HEADER + len;
}

TEST(frames_round_trip_and_wait_for_their_end)
{
    uint8_t buf[64];
    size_t n = frame(buf, EXEC_FRAME_STDIN, "hello", 5);
    struct exec_frame f;
    size_t used = 0;
    bo_error_t err = NULL;
    for (size_t k = 0; k < n; k++)
        CHECK(exec_frame_parse(buf, k, &f, &used, &err) == 0 && !err);
    CHECK(exec_frame_parse(buf, n, &f, &used, &err) == 1);
    CHECK(f.type == EXEC_FRAME_STDIN && f.len == 5 && !memcmp(f.payload, "hello", 5) && used == n);
    n = frame(buf, EXEC_FRAME_RESIZE, "\x00\x21\x01\x00", 4);
    CHECK(exec_frame_parse(buf, n, &f, &used, &err) == 1 && f.rows == 33 && f.cols == 256);
    n = frame(buf, EXEC_FRAME_EXIT, "\x00\x00\x00\x03", 4);
    CHECK(exec_frame_parse(buf, n, &f, &used, &err) == 1 && f.status == 3);
    n = frame(buf, EXEC_FRAME_EOF, "", 0);
    CHECK(exec_frame_parse(buf, n, &f, &used, &err) == 1 && f.len == 0 && used == EXEC_FRAME_HEADER);
}

TEST(bad_frames_are_refused_by_their_header)
{
    uint8_t buf[16];
    struct exec_frame f;
    size_t used;
    const struct {
        enum exec_frame_type type;
        size_t len;
        const char *msg;
    } bad[] = {
        {EXEC_FRAME_OUTPUT, EXEC_FRAME_MAX + 1, "at most"},
        {EXEC_FRAME_RESIZE, 3, "4 required"},
        {EXEC_FRAME_EXIT, 8, "4 required"},
        {EXEC_FRAME_EOF, 1, "none allowed"},
        {EXEC_FRAME_PING, 2, "none allowed"},
        {(enum exec_frame_type)'Z', 0, "unknown type"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bo_error_t err = NULL;
        exec_frame_header(buf, bad[i].type, bad[i].len);
        /* Refused from the header alone: no waiting for a payload. */
        CHECK(exec_frame_parse(buf, EXEC_FRAME_HEADER, &f, &used, &err) < 0);
        CHECK_CONTAINS(err->msg, bad[i].msg);
        bo_error_free(err);
    }
}

static int parse(const char *text, struct exec_request *r, bo_error_t *err)
{
    json_t *j = json_loads(text, JSON_ALLOW_NUL, NULL);
    CHECK(j);
    int rc = exec_request_parse(j, r, err);
    json_decref(j);
    return rc;
}

TEST(exec_requests_are_parsed_strictly)
{
    struct exec_request r;
    bo_error_t err = NULL;
    CHECK(parse("{\"session\": \"0123456789abcdef0123456789abcdef\", \"task_id\": \"a-b-0-x\", "
                "\"cmd\": [\"ls\", \"-l\"], \"rows\": 30, \"cols\": 100, \"term\": \"xterm-256color\"}",
                &r, &err) == 0);
    CHECK_STR(r.argv[0], "ls");
    CHECK_STR(r.argv[1], "-l");
    CHECK(r.argv[2] == NULL && r.rows == 30 && r.cols == 100);
    CHECK_STR(r.term, "xterm-256color");
    exec_request_clear(&r);
    CHECK(parse("{\"session\": \"0123456789abcdef0123456789abcdef\", \"task_id\": \"t\"}", &r, &err) == 0);
    CHECK(r.argv[0] == NULL && r.rows == 24 && r.cols == 80);
    exec_request_clear(&r);
    const char *bad[] = {
        "[]",
        "{\"session\": \"short\", \"task_id\": \"t\"}",
        "{\"session\": \"0123456789ABCDEF0123456789abcdef\", \"task_id\": \"t\"}",
        "{\"session\": \"0123456789abcdef0123456789abcdef\", \"task_id\": \"../x\"}",
        "{\"session\": \"0123456789abcdef0123456789abcdef\", \"task_id\": \"t\", \"cmd\": \"ls\"}",
        "{\"session\": \"0123456789abcdef0123456789abcdef\", \"task_id\": \"t\", \"cmd\": [\"a\\u0000b\"]}",
        "{\"session\": \"0123456789abcdef0123456789abcdef\", \"task_id\": \"t\", \"rows\": 0}",
        "{\"session\": \"0123456789abcdef0123456789abcdef\", \"task_id\": \"t\", \"term\": \"a b\"}",
        "{\"session\": \"0123456789abcdef0123456789abcdef\", \"task_id\": \"t\", \"other\": 1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        CHECK(parse(bad[i], &r, &err) < 0 && err && err->msg[0]);
        bo_error_free(err);
    }
}

TEST_MAIN()
