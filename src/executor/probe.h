/* probe.h - one health check attempt, without blocking: an HTTP GET or a
 * TCP connect to 127.0.0.1:PORT, or `/bin/sh -c COMMAND` in its own process
 * group. The executor's poll loop drives it (probe_poll_fd, probe_advance)
 * and hands it its child's wait status (probe_reaped).
 *
 * The HTTP client is written here rather than taken from libcurl: the
 * executor is one static binary per task, and a GET over loopback with a
 * timeout and a size cap is about 150 lines, while a static libcurl brings
 * its TLS and resolver stacks into every task's memory. */
#ifndef BO_EXECUTOR_PROBE_H
#define BO_EXECUTOR_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "executor/process.h"

/* What a health check is (task.json "health_check", docs/protocol.md
 * section 4). Owned by the exec_spec. */
enum health_kind { HEALTH_NONE, HEALTH_HTTP, HEALTH_TCP, HEALTH_SHELL };

struct health_spec {
    enum health_kind kind;
    int port;            /* HTTP, TCP */
    char *path;          /* HTTP */
    int expected_status; /* HTTP; 0 = any */
    bool post;           /* HTTP: POST with an empty body (the shutdown steps), not GET */
    char *expected_body; /* HTTP; "" = any */
    char *command;       /* SHELL */
    int64_t initial_interval_ms;
    int64_t interval_ms;
    int64_t timeout_ms;
    int64_t max_failures;  /* max_consecutive_failures */
    int64_t min_successes; /* min_consecutive_successes */
    char *snooze_file;     /* relative to the sandbox (our cwd) */
};

/* The most of an answer read: the status line, headers and a body to
 * compare with an expected body of at most 1 KiB fit easily. */
#define PROBE_RESPONSE_MAX 8192

enum probe_result { PROBE_PENDING, PROBE_PASSED, PROBE_FAILED };

struct probe {
    bool active;
    int fd;           /* socket, or -1 */
    bool connected;
    struct proc proc;
    char *shell_argv[4]; /* /bin/sh -c COMMAND: proc.argv of a shell check */ /* SHELL: the command's process (pid 0: none) */
    int64_t deadline; /* CLOCK_MONOTONIC ms */
    char *request;
    size_t request_len, sent;
    char *buf; /* the answer so far */
    size_t len;
    bool reaped;
    int wstatus;
    char *message; /* why the last attempt failed (heap), or NULL */
};

void probe_init(struct probe *p);
/* Start an attempt at `now`. PROBE_PENDING while it runs; it may also end
 * at once (a refused connection). */
enum probe_result probe_start(struct probe *p, const struct health_spec *h, int64_t now);
/* The fd to poll and for what, or -1. */
int probe_poll_fd(const struct probe *p, short *ret_events);
/* Make progress (after a wake-up or at the deadline). On PROBE_FAILED,
 * p->message says what it returned. */
enum probe_result probe_advance(struct probe *p, const struct health_spec *h, int64_t now);
/* `pid` ended with `wstatus`: true if it was the shell check's. */
bool probe_reaped(struct probe *p, pid_t pid, int wstatus);
/* Give up the attempt in flight (the shell check's group gets SIGKILL; the
 * executor's reaper collects it). */
void probe_abort(struct probe *p);
void probe_clear(struct probe *p);

/* Judge an HTTP answer: `len` bytes so far, `complete` when no more will
 * come (the peer closed, or PROBE_RESPONSE_MAX was reached). PROBE_PENDING:
 * more is needed. PROBE_FAILED: *ret_message (heap) says why, e.g.
 * "returned status 500 (expected 200)". The body is compared without its
 * surrounding white space. Pure, for the fuzzer. */
enum probe_result probe_http_judge(const char *buf, size_t len, bool complete, int expected_status,
                                   const char *expected_body, char **ret_message);

#endif
