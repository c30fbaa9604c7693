/* cmd-task-exec.c - `borealis task exec KEY/INSTANCE [-- CMD...]`: an
 * interactive command with a terminal inside a task's container, through
 * the scheduler to the task's agent (net/exec_frame.h frames on an
 * upgraded connection). The local terminal is raw meanwhile: every key,
 * Ctrl-C included, goes to the remote terminal. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "base/ident.h"
#include "cli/api.h"
#include "cli/cli.h"
#include "cli/credentials.h"
#include "cli/exitcode.h"
#include "cli/task_read.h"
#include "net/exec_frame.h"
#include "net/http_upgrade.h"

#define OPEN_TIMEOUT_MS 30000
/* How long the scheduler may refuse to take our input before we give up. */
#define SEND_TIMEOUT_MS 60000

static int winch_pipe[2] = {-1, -1};

static void on_winch(int sig)
{
    int e = errno;
    (void)!write(winch_pipe[1], "w", 1);
    errno = e;
}

/* The refusals of the scheduler, as `task run`'s. */
static int refused(const struct cli_ctx *ctx, const struct http_response *r)
{
    static const struct {
        long status;
        int exit;
    } map[] = {{400, CLI_EXIT_INVALID_PARAMETER}, {401, CLI_EXIT_AUTH}, {403, CLI_EXIT_AUTH},
               {404, CLI_EXIT_API},              {409, CLI_EXIT_COMMAND_FAILURE}, {503, CLI_EXIT_COMMAND_FAILURE}};
    int code = CLI_EXIT_API;
    for (size_t i = 0; i < BO_ARRAY_SIZE(map); i++)
        if (map[i].status == r->status)
            code = map[i].exit;
    const char *msg = json_string_value(json_object_get(r->body, "error"));
    if (r->status == 401 && !ctx->token)
        return cli_fail(code, "the scheduler requires a token and none was found: %s", CLI_CREDENTIALS_HINT);
    if (msg)
        return cli_fail(code, "%s", msg);
    return cli_fail(code, "the scheduler answered HTTP %ld instead of opening the session", r->status);
}

static int send_frame(struct http_stream *st, enum exec_frame_type type, const void *p, size_t len)
{
    uint8_t hdr[EXEC_FRAME_HEADER];
    exec_frame_header(hdr, type, len);
    _cleanup_error_ bo_error_t err = NULL;
    if (http_stream_send_all(st, hdr, sizeof(hdr), SEND_TIMEOUT_MS, &err) < 0 ||
        (len && http_stream_send_all(st, p, len, SEND_TIMEOUT_MS, &err) < 0))
        return -1;
    return 0;
}

static int send_size(struct http_stream *st)
{
    struct winsize ws;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
        return 0;
    uint8_t p[4] = {(uint8_t)(ws.ws_row >> 8), (uint8_t)ws.ws_row, (uint8_t)(ws.ws_col >> 8), (uint8_t)ws.ws_col};
    return send_frame(st, EXEC_FRAME_RESIZE, p, sizeof(p));
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* our own terminal is gone: nothing to tell it */
        p += w;
        n -= (size_t)w;
    }
}

/* The session, until its EXIT or ERROR frame or its end. Returns the
 * exit code; *ret_msg: what to print once the terminal is restored. */
static int relay(struct http_stream *st, char **ret_msg)
{
    uint8_t *in = bo_xcalloc(1, EXEC_FRAME_HEADER + EXEC_FRAME_MAX);
    size_t in_len = 0;
    uint8_t buf[16384];
    bool stdin_open = true, more = true;
    int code = -1;
    while (code < 0) {
        /* Everything the stream holds now. */
        while (more && in_len < EXEC_FRAME_HEADER + EXEC_FRAME_MAX) {
            ssize_t n = http_stream_recv(st, in + in_len, EXEC_FRAME_HEADER + EXEC_FRAME_MAX - in_len);
            if (n == -EAGAIN) {
                more = false;
                break;
            }
            if (n <= 0) {
                *ret_msg = bo_xstrdup("the session ended without an exit status (the agent or the scheduler went "
                                      "away)");
                code = CLI_EXIT_NETWORK;
                break;
            }
            in_len += (size_t)n;
        }
        size_t at = 0;
        while (code < 0) {
            struct exec_frame f;
            size_t used;
            _cleanup_error_ bo_error_t err = NULL;
            int r = exec_frame_parse(in + at, in_len - at, &f, &used, &err);
            if (r < 0) {
                *ret_msg = bo_xasprintf("the session broke: %s", err->msg);
                code = CLI_EXIT_API;
            }
            if (r <= 0)
                break;
            at += used;
            if (f.type == EXEC_FRAME_OUTPUT)
                write_all(STDOUT_FILENO, f.payload, f.len);
            else if (f.type == EXEC_FRAME_STDERR)
                write_all(STDERR_FILENO, f.payload, f.len);
            else if (f.type == EXEC_FRAME_EXIT) /* PING: nothing to do */
                code = (int)(f.status & 0xff);
            else if (f.type == EXEC_FRAME_ERROR) {
                *ret_msg = bo_xasprintf("%.*s", (int)f.len, (const char *)f.payload);
                code = CLI_EXIT_COMMAND_FAILURE;
            }
        }
        memmove(in, in + at, in_len - at);
        in_len -= at;
        if (code >= 0)
            break;
        struct pollfd p[3] = {{http_stream_fd(st), POLLIN, 0},
                              {stdin_open ? STDIN_FILENO : -1, POLLIN, 0},
                              {winch_pipe[0], POLLIN, 0}};
        if (poll(p, 3, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            more = true;
        if (p[2].revents) {
            char drain[64];
            (void)!read(winch_pipe[0], drain, sizeof(drain));
            if (send_size(st) < 0)
                more = true; /* the stream's end says why */
        }
        if (p[1].revents) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n > 0 && send_frame(st, EXEC_FRAME_STDIN, buf, (size_t)n) < 0)
                more = true;
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                stdin_open = false;
                (void)send_frame(st, EXEC_FRAME_EOF, NULL, 0);
            }
        }
    }
    free(in);
    return code;
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    int64_t inst;
    int r = task_read_target(a->pos[0], &key, &inst);
    if (r != CLI_EXIT_OK)
        return r;
    json_t *body = json_object();
    if (a->n_pos > 1) {
        json_t *cmd = json_array();
        for (size_t i = 1; i < a->n_pos; i++)
            json_array_append_new(cmd, json_string(a->pos[i]));
        json_object_set_new(body, "cmd", cmd);
    }
    bool tty = isatty(STDIN_FILENO);
    struct winsize ws;
    if (tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
        json_object_set_new(body, "rows", json_integer(ws.ws_row));
        json_object_set_new(body, "cols", json_integer(ws.ws_col));
    }
    const char *term = getenv("TERM");
    if (term && bo_ident_ok(term, 64, 0))
        json_object_set_new(body, "term", json_string(term));
    _cleanup_free_ char *url = bo_xasprintf("%s/api/v1/jobs/%s/instances/%lld/exec", ctx->scheduler, key,
                                            (long long)inst);
    struct http_stream *st = NULL;
    struct http_response refusal;
    _cleanup_error_ bo_error_t err = NULL;
    r = http_upgrade_open(url, "borealis-exec", body, ctx->token, http_client_tls(), OPEN_TIMEOUT_MS, &st,
                          &refusal, &err);
    json_decref(body);
    if (r < 0) {
        _cleanup_error_ bo_error_t why = NULL;
        api_transport_error(ctx, err, &why);
        return cli_fail_error(why, CLI_EXIT_NETWORK);
    }
    if (!st) {
        r = refused(ctx, &refusal);
        http_response_clear(&refusal);
        return r;
    }
    struct termios saved;
    bool raw = tty && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (raw) {
        struct termios t = saved;
        cfmakeraw(&t);
        raw = tcsetattr(STDIN_FILENO, TCSADRAIN, &t) == 0;
    }
    struct sigaction sa = {.sa_handler = on_winch, .sa_flags = SA_RESTART}, old_winch, old_pipe;
    struct sigaction ign = {.sa_handler = SIG_IGN};
    if (pipe2(winch_pipe, O_CLOEXEC | O_NONBLOCK) == 0)
        sigaction(SIGWINCH, &sa, &old_winch);
    sigaction(SIGPIPE, &ign, &old_pipe);
    _cleanup_free_ char *msg = NULL;
    r = relay(st, &msg);
    http_stream_close(st);
    if (raw)
        (void)tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
    if (winch_pipe[0] >= 0) {
        sigaction(SIGWINCH, &old_winch, NULL);
        close(winch_pipe[0]);
        close(winch_pipe[1]);
        winch_pipe[0] = winch_pipe[1] = -1;
    }
    sigaction(SIGPIPE, &old_pipe, NULL);
    if (msg)
        return cli_fail(r, "%s", msg);
    return r;
}

const struct cli_command cmd_task_exec_entry = {
    .group = "task",
    .name = "exec",
    .args = "KEY/INSTANCE [-- CMD...]",
    .summary = "an interactive command with a terminal inside an instance's container (default: a shell)",
    .help = "Runs CMD (its words as given, no shell; /bin/sh when none) in the container of the instance, with a "
            "terminal, as `docker exec -it` does: as the task's user, with no new privileges, in its namespaces "
            "and cgroup, in its sandbox. The agent that runs the task runs it, relayed by the scheduler (the "
            "agent dials out; nothing listens on the machine); it needs permission to act on the job's role, as "
            "`task run`, and is audited. While it runs, the local terminal is raw: every key goes to the remote "
            "terminal (Ctrl-C interrupts the remote command, Ctrl-D ends a shell's input), and the window size "
            "follows the local one. Without a terminal on stdin, input is passed through and its end is sent as "
            "the remote terminal's end-of-file character. Exit codes: the command's own exit status (128+N when a "
            "signal N killed it; a command the container lacks gives the runtime's message and its status, 255 "
            "with crun); 4 when the session could not start it (the message says why) or the instance is not "
            "running; 7 when the session broke before the command ended (the agent or the scheduler went away); "
            "otherwise the request's error (6 a bad argument, 10 an unknown job or instance, 30 no permission). "
            "Put `--` before a CMD whose words start with `-`.",
    .examples = "borealis task exec local/www-data/devel/hello/0\n"
                "borealis task exec local/www-data/devel/hello/0 -- top -b -n 1",
    .min_args = 1,
    .max_args = -1,
    .run = run,
};
