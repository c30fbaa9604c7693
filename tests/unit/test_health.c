/* Unit tests for the executor's health checks: the HTTP answer judge
 * (probe.c), the health_check part of task.json (spec.c) and the counters
 * of health.c (initial_interval, min successes, max failures, snooze),
 * driven with a fixed clock against loopback sockets. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "executor/health.h"
#include "executor/probe.h"
#include "executor/spec.h"
#include "harness.h"

static enum probe_result judge(const char *text, bool complete, int status, const char *body, char **why)
{
    *why = NULL;
    return probe_http_judge(text, strlen(text), complete, status, body, why);
}

TEST(http_judge)
{
    static const struct {
        const char *answer;
        bool complete;
        int status;
        const char *body;
        enum probe_result want;
        const char *why;
    } cases[] = {
        {"HTTP/1.0 200 OK\r\n\r\nok", true, 200, "ok", PROBE_PASSED, NULL},
        {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n", false, 200, "ok", PROBE_PASSED, NULL},
        {"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nok\n", false, 200, "ok", PROBE_PENDING, NULL},
        {"HTTP/1.1 200 OK\r\ncontent-length:  2 \r\n\r\nokEXTRA", false, 200, "ok", PROBE_PASSED, NULL},
        {"HTTP/1.0 200 OK\n\n  ok  \n", true, 200, "ok", PROBE_PASSED, NULL},
        {"HTTP/1.0 200 OK\r\n\r\nOK", true, 200, "ok", PROBE_FAILED, "answered `OK` (expected `ok`)"},
        {"HTTP/1.0 200 OK\r\n\r\n", true, 200, "", PROBE_PASSED, NULL},
        {"HTTP/1.0 200 OK\r\n", false, 200, "", PROBE_PASSED, NULL},
        {"HTTP/1.0 500 Oops\r\n", false, 200, "ok", PROBE_FAILED, "returned status 500 (expected 200)"},
        {"HTTP/1.0 204\r\n\r\n", true, 204, "", PROBE_PASSED, NULL},
        {"HTTP/1.0 20", false, 200, "ok", PROBE_PENDING, NULL},
        {"", true, 200, "ok", PROBE_FAILED, "closed the connection without an answer"},
        {"garbage", true, 200, "ok", PROBE_FAILED, "not HTTP"},
        {"SSH-2.0-OpenSSH\r\n", false, 200, "ok", PROBE_FAILED, "malformed status line `SSH-2.0-OpenSSH?`"},
        {"HTTP/1.0 2000 OK\r\n", false, 200, "ok", PROBE_FAILED, "malformed status line"},
        {"HTTP/1.0 200 OK\r\nX: y\r\n", true, 200, "ok", PROBE_FAILED, "in the middle of the headers"},
        {"HTTP/1.0 200 OK\r\n\r\n\x01\xff", true, 200, "ok", PROBE_FAILED, "answered `??` (expected `ok`)"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        char *why = NULL;
        enum probe_result r = judge(cases[i].answer, cases[i].complete, cases[i].status, cases[i].body, &why);
        if (r != cases[i].want)
            fprintf(stderr, "  case %zu: got %d, want %d (%s)\n", i, r, cases[i].want, why ? why : "");
        CHECK(r == cases[i].want);
        if (cases[i].why)
            CHECK_CONTAINS(why, cases[i].why);
        else
            CHECK(why == NULL);
        free(why);
    }
    /* A long body is quoted shortened. */
    char big[600];
    snprintf(big, sizeof(big), "HTTP/1.0 200 OK\r\n\r\n%0500d", 7);
    char *why = NULL;
    CHECK(judge(big, true, 200, "ok", &why) == PROBE_FAILED);
    CHECK(strlen(why) < 120 && strstr(why, "...`"));
    free(why);
}

#define TASK_HEAD "{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\", \"cmdline\": \"x\"}], \"health_check\": "
#define TIMES                                                                                                  \
    "\"initial_interval_ms\": 0, \"interval_ms\": 100, \"timeout_ms\": 50, \"max_consecutive_failures\": 0, " \
    "\"min_consecutive_successes\": 1, \"snooze_file\": \".snooze\""

TEST(spec_health_check)
{
    static const struct {
        const char *hc, *error; /* error NULL: accepted */
    } cases[] = {
        {"{\"type\": \"http\", \"port\": 80, \"path\": \"/h\", \"expected_status\": 200, \"expected_body\": \"ok\", " TIMES
         "}",
         NULL},
        {"{\"type\": \"tcp\", \"port\": 80, " TIMES "}", NULL},
        {"{\"type\": \"shell\", \"command\": \"true\", " TIMES "}", NULL},
        {"{\"type\": \"shell\", " TIMES "}", "health_check.command: required"},
        {"{\"type\": \"udp\", \"port\": 80, " TIMES "}", "health_check.type"},
        {"{\"type\": \"tcp\", \"port\": 0, " TIMES "}", "health_check.port"},
        {"{\"type\": \"tcp\", \"port\": 65536, " TIMES "}", "health_check.port"},
        {"{\"type\": \"tcp\", \"port\": 80, \"bogus\": 1, " TIMES "}", "health_check.bogus: unknown field"},
        {"{\"type\": \"tcp\", \"port\": 80}", "health_check.initial_interval_ms: required"},
        {"{\"type\": \"http\", \"port\": 80, \"path\": \"/a b\", \"expected_status\": 200, \"expected_body\": \"\", " TIMES
         "}",
         "health_check.path"},
        {"{\"type\": \"http\", \"port\": 80, \"path\": \"x\", \"expected_status\": 200, \"expected_body\": \"\", " TIMES
         "}",
         "health_check.path"},
        {"{\"type\": \"http\", \"port\": 80, \"path\": \"/\", \"expected_status\": 99, \"expected_body\": \"\", " TIMES
         "}",
         "health_check.expected_status"},
        {"{\"type\": \"tcp\", \"port\": 80, \"initial_interval_ms\": -1, \"interval_ms\": 100, \"timeout_ms\": 50, "
         "\"max_consecutive_failures\": 0, \"min_consecutive_successes\": 1, \"snooze_file\": \"s\"}",
         "health_check.initial_interval_ms"},
        {"{\"type\": \"tcp\", \"port\": 80, \"initial_interval_ms\": 0, \"interval_ms\": 100, \"timeout_ms\": 50, "
         "\"max_consecutive_failures\": 0, \"min_consecutive_successes\": 1, \"snooze_file\": \"../s\"}",
         "health_check.snooze_file"},
        {"[]", "health_check: must be an object"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *text = bo_xasprintf(TASK_HEAD "%s}", cases[i].hc);
        struct exec_spec s;
        bo_error_t err = NULL;
        int r = spec_parse("task.json", text, strlen(text), &s, &err);
        if (cases[i].error) {
            if (r == 0)
                fprintf(stderr, "  case %zu accepted\n", i);
            CHECK(r < 0);
            CHECK_CONTAINS(err->msg, cases[i].error);
            bo_error_free(err);
        } else {
            if (r < 0)
                fprintf(stderr, "  case %zu: %s\n", i, err->msg);
            CHECK(r == 0);
            CHECK(s.health.kind != HEALTH_NONE);
            spec_clear(&s);
        }
    }
}

TEST(spec_shutdown)
{
    static const struct {
        const char *sd, *error;
    } cases[] = {
        {"{\"port\": 8080, \"graceful_path\": \"/quitquitquit\", \"graceful_wait_ms\": 5000, "
         "\"abort_path\": \"/abortabortabort\", \"abort_wait_ms\": 5000}",
         NULL},
        {"{\"port\": 8080}", "shutdown.graceful_path"},
        {"{\"port\": 0, \"graceful_path\": \"/q\", \"graceful_wait_ms\": 1, \"abort_path\": \"/a\", "
         "\"abort_wait_ms\": 1}",
         "shutdown.port"},
        {"{\"port\": 1, \"graceful_path\": \"/q q\", \"graceful_wait_ms\": 1, \"abort_path\": \"/a\", "
         "\"abort_wait_ms\": 1}",
         "shutdown.graceful_path: must be printable ASCII"},
        {"{\"port\": 1, \"graceful_path\": \"/q\", \"graceful_wait_ms\": 60001, \"abort_path\": \"/a\", "
         "\"abort_wait_ms\": 1}",
         "shutdown.graceful_wait_ms"},
        {"{\"port\": 1, \"graceful_path\": \"/q\", \"graceful_wait_ms\": 1, \"abort_path\": \"a\", "
         "\"abort_wait_ms\": 1}",
         "shutdown.abort_path: must start with `/`"},
        {"{\"port\": 1, \"x\": 1}", "shutdown.x: unknown field"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *text = bo_xasprintf(
            "{\"task_id\": \"t\", \"processes\": [{\"name\": \"p\", \"cmdline\": \"x\"}], \"shutdown\": %s}", cases[i].sd);
        struct exec_spec s;
        bo_error_t err = NULL;
        int r = spec_parse("task.json", text, strlen(text), &s, &err);
        if (cases[i].error) {
            CHECK(r < 0);
            CHECK_CONTAINS(err->msg, cases[i].error);
            bo_error_free(err);
        } else {
            CHECK(r == 0);
            CHECK(s.shutdown.port == 8080 && s.shutdown.graceful_wait_ms == 5000);
            CHECK_STR(s.shutdown.abort_path, "/abortabortabort");
            spec_clear(&s);
        }
    }
}

/* A POST (a shutdown step) takes any status. */
TEST(post_takes_any_status)
{
    char *why = NULL;
    CHECK(probe_http_judge("HTTP/1.0 404 Not Found\r\n", 24, false, 0, "", &why) == PROBE_PASSED && !why);
}

/* A listening socket on 127.0.0.1; its port. */
static int listener(int *ret_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 16) == 0);
    socklen_t l = sizeof(a);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &l) == 0);
    *ret_port = ntohs(a.sin_port);
    return fd;
}

/* One round at `now`, waiting (for real) for the attempt to end; the clock
 * the module sees stays `now`, so no attempt times out. */
static enum health_event round_at(struct health *h, int64_t now, char **why)
{
    *why = NULL;
    enum health_event e = health_run(h, now, why);
    for (int spins = 0; h->probe.active && spins < 100 && e == HEALTH_NOTHING; spins++) {
        short ev = 0;
        int fd = health_poll_fd(h, &ev);
        CHECK(fd >= 0);
        struct pollfd p = {.fd = fd, .events = ev};
        CHECK(poll(&p, 1, 1000) == 1);
        e = health_run(h, now, why);
    }
    CHECK(!h->probe.active);
    return e;
}

static struct health_spec tcp_spec(int port)
{
    return (struct health_spec){.kind = HEALTH_TCP, .port = port, .initial_interval_ms = 1000, .interval_ms = 100,
                                .timeout_ms = 500, .max_failures = 1, .min_successes = 2,
                                .snooze_file = "health-test-snooze-does-not-exist"};
}

TEST(counters_follow_aurora)
{
    int port;
    int lfd = listener(&port);
    close(lfd); /* now refused */
    struct health_spec spec = tcp_spec(port);
    struct health h;
    health_init(&h, &spec, 0);
    char *why;
    /* Within initial_interval, failures are forgiven: never unhealthy. */
    for (int64_t t = 0; t < 1000; t += 100) {
        CHECK(round_at(&h, t, &why) == HEALTH_NOTHING);
        CHECK(h.failures == 0);
    }
    CHECK(health_timeout_ms(&h, 1000) == 0);
    /* Then max_failures (1) more are tolerated, the next one is fatal. */
    CHECK(round_at(&h, 1000, &why) == HEALTH_NOTHING && h.failures == 1);
    CHECK(round_at(&h, 1100, &why) == HEALTH_BECAME_UNHEALTHY);
    CHECK_CONTAINS(why, "unhealthy: 2 health check(s) failed in a row, the last: TCP connect to 127.0.0.1:");
    CHECK_CONTAINS(why, "Connection refused");
    free(why);
    health_clear(&h);

    /* Passing: RUNNING after min_successes (2) in a row, not before. */
    lfd = listener(&port);
    spec = tcp_spec(port);
    health_init(&h, &spec, 0);
    CHECK(round_at(&h, 0, &why) == HEALTH_NOTHING && h.successes == 1);
    CHECK(health_timeout_ms(&h, 0) == 100); /* the next is due an interval later */
    CHECK(round_at(&h, 50, &why) == HEALTH_NOTHING && h.successes == 1); /* not due yet */
    CHECK(round_at(&h, 100, &why) == HEALTH_BECAME_HEALTHY);
    CHECK(round_at(&h, 200, &why) == HEALTH_NOTHING && h.healthy);
    health_clear(&h);
    close(lfd);
}

TEST(a_healthy_task_gets_no_initial_interval_grace)
{
    int port;
    int lfd = listener(&port);
    struct health_spec spec = tcp_spec(port);
    spec.min_successes = 1;
    spec.max_failures = 0;
    spec.initial_interval_ms = 3600000;
    struct health h;
    health_init(&h, &spec, 0);
    char *why;
    CHECK(round_at(&h, 0, &why) == HEALTH_BECAME_HEALTHY);
    close(lfd);
    CHECK(round_at(&h, 100, &why) == HEALTH_BECAME_UNHEALTHY);
    free(why);
    health_clear(&h);
}

TEST(snooze_file_skips_checks)
{
    char dir[] = "/tmp/bo-health-XXXXXX";
    CHECK(mkdtemp(dir));
    CHECK(chdir(dir) == 0);
    int port;
    int lfd = listener(&port);
    close(lfd);
    struct health_spec spec = tcp_spec(port);
    spec.snooze_file = "snooze";
    spec.initial_interval_ms = 0;
    spec.max_failures = 0;
    FILE *f = fopen("snooze", "w");
    CHECK(f);
    fclose(f);
    struct health h;
    health_init(&h, &spec, 0);
    char *why;
    for (int64_t t = 0; t < 1000; t += 100)
        CHECK(round_at(&h, t, &why) == HEALTH_NOTHING && h.snoozed && h.failures == 0);
    CHECK(unlink("snooze") == 0);
    CHECK(round_at(&h, 1000, &why) == HEALTH_BECAME_UNHEALTHY);
    free(why);
    health_clear(&h);
    CHECK(rmdir(dir) == 0);
}

static struct health_spec http_spec(int port)
{
    static char path[] = "/health", body[] = "ok", snooze[] = "health-test-snooze-does-not-exist";
    return (struct health_spec){.kind = HEALTH_HTTP, .port = port, .path = path, .expected_status = 200,
                                .expected_body = body, .initial_interval_ms = 0, .interval_ms = 100,
                                .timeout_ms = 500, .max_failures = 0, .min_successes = 1, .snooze_file = snooze};
}

/* From inside a task: an answer that never ends is cut at the read cap and
 * judged; the executor neither grows nor waits for it. */
TEST(endless_answer_is_cut_at_the_cap)
{
    int port;
    int lfd = listener(&port);
    struct health_spec spec = http_spec(port);
    struct health h;
    health_init(&h, &spec, 0);
    char *why = NULL;
    CHECK(health_run(&h, 0, &why) == HEALTH_NOTHING && h.probe.active);
    int c = accept(lfd, NULL, NULL);
    CHECK(c >= 0);
    CHECK(fcntl(c, F_SETFL, O_NONBLOCK) == 0);
    static char flood[64 * 1024];
    memset(flood, 'x', sizeof(flood));
    memcpy(flood, "HTTP/1.0 200 OK\r\n\r\n", 19);
    CHECK(write(c, flood, sizeof(flood)) >= PROBE_RESPONSE_MAX);
    CHECK(round_at(&h, 0, &why) == HEALTH_BECAME_UNHEALTHY);
    CHECK_CONTAINS(why, "answered `xxxxxxxx");
    CHECK(h.probe.len == PROBE_RESPONSE_MAX);
    free(why);
    close(c);
    close(lfd);
    health_clear(&h);
}

/* A server that accepts and never answers (or trickles) costs one timeout. */
TEST(silent_server_times_out)
{
    int port;
    int lfd = listener(&port);
    struct health_spec spec = http_spec(port);
    struct health h;
    health_init(&h, &spec, 0);
    char *why = NULL;
    CHECK(health_run(&h, 0, &why) == HEALTH_NOTHING && h.probe.active);
    CHECK(health_timeout_ms(&h, 0) == 500); /* the attempt's deadline, not the interval */
    int c = accept(lfd, NULL, NULL);
    CHECK(c >= 0 && write(c, "HTTP/1.0 2", 10) == 10);
    CHECK(health_run(&h, 499, &why) == HEALTH_NOTHING && h.probe.active);
    CHECK(health_run(&h, 500, &why) == HEALTH_BECAME_UNHEALTHY);
    CHECK_CONTAINS(why, "GET 127.0.0.1:");
    CHECK_CONTAINS(why, "/health: no answer within 500 ms");
    free(why);
    close(c);
    close(lfd);
    health_clear(&h);
}

TEST_MAIN()
