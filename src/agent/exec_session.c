/* exec_session.c - `task exec` on the agent: one thread per session,
 * dialing out, running the runtime's exec with a terminal, relaying. */
#include "agent/exec_session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent/oci_spec.h"
#include "agent/sandbox.h"
#include "base/clock.h"
#include "base/ident.h"
#include "model/json_check.h"
#include "net/exec_frame.h"
#include "net/http_upgrade.h"

/* Time to connect to the scheduler, for the runtime to hand over the
 * terminal, and to flush the last frames. */
#define CONNECT_MS 10000
#define CONSOLE_MS 30000
#define FLUSH_MS 5000
/* Buffered output toward the stream, and input toward the terminal. */
#define OUT_MAX (64u << 10)
#define TO_TTY_MAX (64u << 10)
#define READ_CHUNK (16u << 10)

struct exec_sessions {
    const char *url, *agent_id;
    struct http_tls tls;
    exec_target_fn target;
    void *ctx;
    int stop[2]; /* a byte on stop[1]: every session ends */
    pthread_mutex_t lock;
    pthread_cond_t idle;
    unsigned live;
};

struct session {
    struct exec_sessions *m;
    struct exec_request req;
    struct exec_target target;
    char *refusal; /* the target's error: sent instead of running */
};

/* ---- parsing ---- */

int exec_request_parse(json_t *j, struct exec_request *ret, bo_error_t *err)
{
    static const char *const keys[] = {"session", "task_id", "cmd", "rows", "cols", "term"};
    if (!json_is_object(j))
        return bo_error_set(err, BO_E_INVALID, "exec: not an object");
    if (json_check_keys(j, keys, BO_ARRAY_SIZE(keys), "exec", err) < 0)
        return -1;
    const char *session = json_string_value(json_object_get(j, "session"));
    if (!session || strlen(session) != 32 || strspn(session, "0123456789abcdef") != 32)
        return bo_error_set(err, BO_E_INVALID, "exec.session: 32 hex digits required");
    const char *task_id = json_string_value(json_object_get(j, "task_id"));
    if (!task_id || sandbox_validate_task_id(task_id, err) < 0)
        return bo_error_set(err, BO_E_INVALID, "exec.task_id: a task id required");
    json_t *cmd = json_object_get(j, "cmd"), *term = json_object_get(j, "term");
    if (cmd && (!json_is_array(cmd) || json_array_size(cmd) > 64))
        return bo_error_set(err, BO_E_INVALID, "exec.cmd: an array of at most 64 strings required");
    size_t i;
    json_t *w;
    json_array_foreach(cmd, i, w)
    {
        if (!json_is_string(w) || strlen(json_string_value(w)) != json_string_length(w) ||
            json_string_length(w) > 16384)
            return bo_error_set(err, BO_E_INVALID, "exec.cmd[%zu]: a string without NUL required", i);
    }
    if (term && (!json_is_string(term) || bo_ident_check(json_string_value(term), 64, 0, "exec.term", err) < 0))
        return bo_error_set(err, BO_E_INVALID, "exec.term: a terminal name required");
    unsigned size[2] = {24, 80};
    const char *size_keys[] = {"rows", "cols"};
    for (size_t k = 0; k < 2; k++) {
        json_t *v = json_object_get(j, size_keys[k]);
        if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10000))
            return bo_error_set(err, BO_E_INVALID, "exec.%s: integer in [1, 10000] required", size_keys[k]);
        if (v)
            size[k] = (unsigned)json_integer_value(v);
    }
    struct exec_request r = {.session = bo_xstrdup(session), .task_id = bo_xstrdup(task_id), .rows = size[0],
                             .cols = size[1], .term = bo_xstrdup(term ? json_string_value(term) : "xterm")};
    r.argv = bo_xcalloc(json_array_size(cmd) + 1, sizeof(char *));
    json_array_foreach(cmd, i, w)
    r.argv[i] = bo_xstrdup(json_string_value(w));
    *ret = r;
    return 0;
}

void exec_request_clear(struct exec_request *r)
{
    for (size_t i = 0; r->argv && r->argv[i]; i++)
        free(r->argv[i]);
    free(r->argv);
    free(r->session);
    free(r->task_id);
    free(r->term);
    *r = (struct exec_request){0};
}

/* ---- one session ---- */

struct out {
    uint8_t *data;
    size_t len;
};

/* Queue a frame toward the stream (the caller checked the room). */
static _Thread_local int64_t last_sent; /* when this session's thread last queued a frame */

static void out_frame(struct out *o, enum exec_frame_type type, const void *p, size_t len)
{
    last_sent = bo_mono_ms();
    exec_frame_header(o->data + o->len, type, len);
    if (len)
        memcpy(o->data + o->len + EXEC_FRAME_HEADER, p, len);
    o->len += EXEC_FRAME_HEADER + len;
}

static bool out_room(const struct out *o, size_t len) { return o->len + EXEC_FRAME_HEADER + len <= OUT_MAX + 64; }

/* Send what the stream takes now; false: it is gone. */
static bool out_flush(struct http_stream *st, struct out *o)
{
    while (o->len) {
        ssize_t n = http_stream_send(st, o->data, o->len);
        if (n < 0)
            return false;
        if (n == 0)
            return true;
        memmove(o->data, o->data + n, o->len - (size_t)n);
        o->len -= (size_t)n;
    }
    return true;
}

/* Flush everything, waiting up to FLUSH_MS. */
static void out_drain(struct http_stream *st, struct out *o)
{
    int64_t until = bo_mono_ms() + FLUSH_MS;
    while (o->len && out_flush(st, o) && o->len && bo_mono_ms() < until) {
        struct pollfd p = {http_stream_fd(st), POLLOUT, 0};
        (void)poll(&p, 1, 100);
    }
}

/* After the last frame the scheduler closes first, once the user has it
 * (closing here could lose it inside MHD's TLS relay). */
static void linger(struct http_stream *st)
{
    int64_t until = bo_mono_ms() + FLUSH_MS;
    char sink[4096];
    while (bo_mono_ms() < until) {
        ssize_t n = http_stream_recv(st, sink, sizeof(sink));
        if (n == -EAGAIN) {
            struct pollfd p = {http_stream_fd(st), POLLIN, 0};
            (void)poll(&p, 1, 100);
            continue;
        }
        if (n <= 0)
            return;
    }
}

static void send_error(struct http_stream *st, const char *msg)
{
    struct out o = {bo_xcalloc(1, OUT_MAX + 64 + EXEC_FRAME_HEADER), 0};
    size_t len = strlen(msg) > 2000 ? 2000 : strlen(msg);
    out_frame(&o, EXEC_FRAME_ERROR, msg, len);
    out_drain(st, &o);
    free(o.data);
    linger(st);
}

static int listen_console(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (fd < 0)
        return -1;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        close(fd);
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    (void)unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 || listen(fd, 1) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* The terminal's master end, sent by the runtime over the console socket. */
static int take_master(int lfd)
{
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return -1;
    struct pollfd p = {c, POLLIN, 0};
    if (poll(&p, 1, CONSOLE_MS) <= 0) {
        close(c);
        return -1;
    }
    char name[256];
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {name, sizeof(name)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
    ssize_t n = recvmsg(c, &msg, MSG_CMSG_CLOEXEC);
    close(c);
    struct cmsghdr *h = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL;
    if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS || h->cmsg_len != CMSG_LEN(sizeof(int)))
        return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(h), sizeof(fd));
    (void)fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void set_size(int master, unsigned rows, unsigned cols)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    (void)ioctl(master, TIOCSWINSZ, &ws);
}

/* How the runtime ended, as an exit code (128 + signal when killed). */
static int read_status(int fd, bool *ret_done)
{
    int st = 0;
    ssize_t n = read(fd, &st, sizeof(st));
    if (n == (ssize_t)sizeof(st)) {
        *ret_done = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
    }
    if (n == 0)
        *ret_done = true; /* the helper died: no status */
    return 1;
}

/* The relay, until the command ends or either side goes. */
static void relay(struct session *s, struct http_stream *st, struct runtime_exec *ex, int lfd)
{
    struct exec_sessions *m = s->m;
    int master = -1, code = 1;
    bool done = false, stream_gone = false;
    struct out o = {bo_xcalloc(1, OUT_MAX + 64 + EXEC_FRAME_HEADER), 0};
    uint8_t *in = bo_xcalloc(1, EXEC_FRAME_HEADER + EXEC_FRAME_MAX);
    size_t in_len = 0;
    uint8_t *to_tty = bo_xcalloc(1, TO_TTY_MAX);
    size_t tty_len = 0;
    char chunk[READ_CHUNK];
    _cleanup_free_ char *errors = NULL; /* the runtime's messages before the terminal came */
    size_t errors_len = 0;
    int64_t console_until = bo_mono_ms() + CONSOLE_MS;
    bool stream_more = true; /* data may wait inside the stream: read before polling */
    while (!done) {
        /* From the stream: frames. */
        while (!stream_gone && stream_more && in_len < EXEC_FRAME_HEADER + EXEC_FRAME_MAX) {
            ssize_t n = http_stream_recv(st, in + in_len, EXEC_FRAME_HEADER + EXEC_FRAME_MAX - in_len);
            if (n == -EAGAIN) {
                stream_more = false;
                break;
            }
            if (n <= 0) {
                stream_gone = true;
                break;
            }
            in_len += (size_t)n;
        }
        size_t at = 0;
        for (;;) {
            struct exec_frame f;
            size_t used;
            _cleanup_error_ bo_error_t err = NULL;
            int r = exec_frame_parse(in + at, in_len - at, &f, &used, &err);
            if (r < 0) {
                /* A peer that breaks the framing is told and dropped. */
                runtime_exec_kill(ex);
                _cleanup_free_ char *msg = bo_xasprintf("the session is closed: %s", err->msg);
                out_drain(st, &o);
                send_error(st, msg);
                stream_gone = true;
                break;
            }
            if (r == 0 || (f.type == EXEC_FRAME_STDIN && tty_len + f.len > TO_TTY_MAX) ||
                (f.type == EXEC_FRAME_EOF && tty_len + 1 > TO_TTY_MAX))
                break;
            if (f.type == EXEC_FRAME_STDIN) {
                memcpy(to_tty + tty_len, f.payload, f.len);
                tty_len += f.len;
            } else if (f.type == EXEC_FRAME_EOF) {
                /* A terminal has no half-close: its EOF character. */
                struct termios tio;
                to_tty[tty_len++] = master >= 0 && tcgetattr(master, &tio) == 0 ? (uint8_t)tio.c_cc[VEOF] : 4;
            } else if (f.type == EXEC_FRAME_RESIZE) {
                s->req.rows = f.rows ? f.rows : 1;
                s->req.cols = f.cols ? f.cols : 1;
                if (master >= 0)
                    set_size(master, s->req.rows, s->req.cols);
            }
            at += used;
        }
        memmove(in, in + at, in_len - at);
        in_len -= at;
        if (stream_gone) {
            runtime_exec_kill(ex);
            break;
        }
        if (bo_mono_ms() - last_sent >= EXEC_PING_MS && out_room(&o, 0))
            out_frame(&o, EXEC_FRAME_PING, NULL, 0);
        /* To the terminal. */
        if (master >= 0 && tty_len) {
            ssize_t n = write(master, to_tty, tty_len);
            if (n > 0) {
                memmove(to_tty, to_tty + n, tty_len - (size_t)n);
                tty_len -= (size_t)n;
            }
        }
        if (!out_flush(st, &o)) {
            runtime_exec_kill(ex);
            break;
        }
        struct pollfd p[6];
        int np = 0;
        p[np++] = (struct pollfd){m->stop[0], POLLIN, 0};
        p[np++] = (struct pollfd){ex->status, POLLIN, 0};
        p[np++] = (struct pollfd){ex->out, POLLIN, 0};
        p[np++] = (struct pollfd){http_stream_fd(st),
                                  (in_len < EXEC_FRAME_HEADER + EXEC_FRAME_MAX ? POLLIN : 0) | (o.len ? POLLOUT : 0), 0};
        int i_master = -1, i_listen = -1;
        if (master >= 0) {
            i_master = np;
            p[np++] = (struct pollfd){master, (out_room(&o, READ_CHUNK) ? POLLIN : 0) | (tty_len ? POLLOUT : 0), 0};
        } else if (lfd >= 0) {
            i_listen = np;
            p[np++] = (struct pollfd){lfd, POLLIN, 0};
        }
        int64_t console_left = console_until - bo_mono_ms();
        int timeout = master < 0 && console_left < 1000 ? (int)console_left : 1000;
        if (master < 0 && timeout <= 0) {
            runtime_exec_kill(ex);
            send_error(st, "the runtime did not hand over the terminal in time");
            break;
        }
        if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR)
            break;
        if (p[0].revents) {
            runtime_exec_kill(ex);
            break;
        }
        if (p[3].revents & (POLLIN | POLLHUP | POLLERR))
            stream_more = true;
        if (i_listen >= 0 && p[i_listen].revents) {
            master = take_master(lfd);
            if (master >= 0)
                set_size(master, s->req.rows, s->req.cols);
        }
        if (p[2].revents) {
            ssize_t n = read(ex->out, chunk, sizeof(chunk));
            if (n > 0 && master < 0 && errors_len < 2000) {
                errors = bo_xrealloc(errors, errors_len + (size_t)n + 1);
                memcpy(errors + errors_len, chunk, (size_t)n);
                errors_len += (size_t)n;
                errors[errors_len] = '\0';
            } else if (n > 0 && out_room(&o, (size_t)n)) {
                out_frame(&o, EXEC_FRAME_STDERR, chunk, (size_t)n);
            }
        }
        if (i_master >= 0 && (p[i_master].revents & (POLLIN | POLLHUP | POLLERR)) && out_room(&o, READ_CHUNK)) {
            ssize_t n = read(master, chunk, sizeof(chunk));
            if (n > 0)
                out_frame(&o, EXEC_FRAME_OUTPUT, chunk, (size_t)n);
        }
        if (p[1].revents) {
            code = read_status(ex->status, &done);
            if (!done)
                continue;
            /* What the terminal still holds (EIO once every writer is
             * gone), then how it ended. */
            for (int k = 0; master >= 0 && k < 64; k++) {
                if (!out_room(&o, READ_CHUNK))
                    out_drain(st, &o);
                ssize_t n = read(master, chunk, sizeof(chunk));
                if (n <= 0)
                    break;
                out_frame(&o, EXEC_FRAME_OUTPUT, chunk, (size_t)n);
            }
            for (;;) { /* the runtime's last words */
                ssize_t n = read(ex->out, chunk, 2000);
                if (n <= 0)
                    break;
                if (master >= 0 && out_room(&o, (size_t)n))
                    out_frame(&o, EXEC_FRAME_STDERR, chunk, (size_t)n);
                else if (master < 0 && errors_len < 2000) {
                    errors = bo_xrealloc(errors, errors_len + (size_t)n + 1);
                    memcpy(errors + errors_len, chunk, (size_t)n);
                    errors_len += (size_t)n;
                    errors[errors_len] = '\0';
                }
            }
            if (master < 0) {
                _cleanup_free_ char *msg =
                    bo_xasprintf("the runtime could not start the command (exit %d): %s", code,
                                 errors_len ? errors : "(no message)");
                size_t len = strlen(msg);
                while (len && msg[len - 1] == '\n')
                    msg[--len] = '\0';
                out_drain(st, &o);
                send_error(st, msg);
            } else {
                uint8_t c[4] = {(uint8_t)(code >> 24), (uint8_t)(code >> 16), (uint8_t)(code >> 8), (uint8_t)code};
                out_frame(&o, EXEC_FRAME_EXIT, c, 4);
                out_drain(st, &o);
            }
            linger(st);
        }
    }
    if (!done) {
        /* Killed: the helper reports once the runtime is gone. */
        struct pollfd p = {ex->status, POLLIN, 0};
        if (poll(&p, 1, FLUSH_MS) > 0)
            (void)read_status(ex->status, &done);
    }
    if (master >= 0)
        close(master);
    free(o.data);
    free(in);
    free(to_tty);
}

static void run_session(struct session *s)
{
    struct exec_sessions *m = s->m;
    _cleanup_free_ char *url = bo_xasprintf("%s/api/v1/agents/exec/%s", m->url, s->req.session);
    json_t *body = json_pack("{s:s}", "agent_id", m->agent_id);
    struct http_stream *st = NULL;
    struct http_response refusal;
    _cleanup_error_ bo_error_t err = NULL;
    int r = http_upgrade_open(url, "borealis-exec", body, NULL, &m->tls, CONNECT_MS, &st, &refusal, &err);
    json_decref(body);
    if (r < 0)
        return;
    if (!st) {
        http_response_clear(&refusal);
        return;
    }
    if (s->refusal) {
        send_error(st, s->refusal);
        http_stream_close(st);
        return;
    }
    static _Atomic unsigned long long seq;
    _cleanup_free_ char *sock = bo_xasprintf("%s/tty-%d-%llu.sock", s->target.rt->state_root, (int)getpid(), ++seq);
    int lfd = listen_console(sock);
    if (lfd < 0) {
        _cleanup_free_ char *msg = bo_xasprintf("cannot listen on `%s`: %s", sock, strerror(errno));
        send_error(st, msg);
        http_stream_close(st);
        return;
    }
    struct runtime_exec_tty t = {.id = s->req.task_id, .uid = s->target.uid, .gid = s->target.gid,
                                 .cwd = OCI_SANDBOX_PATH, .argv = s->req.argv, .term = s->req.term,
                                 .console_socket = sock};
    struct runtime_exec ex;
    if (runtime_exec_tty_begin(s->target.rt, &t, &ex, &err) < 0) {
        send_error(st, err->msg);
    } else {
        relay(s, st, &ex, lfd);
        runtime_exec_clear(&ex);
    }
    close(lfd);
    (void)unlink(sock);
    http_stream_close(st);
}

static void *session_main(void *arg)
{
    struct session *s = arg;
    struct exec_sessions *m = s->m;
    run_session(s);
    exec_request_clear(&s->req);
    free(s->refusal);
    free(s);
    pthread_mutex_lock(&m->lock);
    if (--m->live == 0)
        pthread_cond_broadcast(&m->idle);
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

struct exec_sessions *exec_sessions_new(const char *scheduler_url, const char *agent_id, const struct http_tls *tls,
                                        exec_target_fn target, void *ctx)
{
    struct exec_sessions *m = bo_xcalloc(1, sizeof(*m));
    m->url = scheduler_url;
    m->agent_id = agent_id;
    m->tls = *tls;
    m->target = target;
    m->ctx = ctx;
    if (pipe2(m->stop, O_CLOEXEC) < 0)
        m->stop[0] = m->stop[1] = -1;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->idle, NULL);
    return m;
}

void exec_sessions_start(struct exec_sessions *m, json_t *item)
{
    struct session *s = bo_xcalloc(1, sizeof(*s));
    s->m = m;
    _cleanup_error_ bo_error_t err = NULL;
    if (m->stop[0] < 0 || exec_request_parse(item, &s->req, &err) < 0) {
        exec_request_clear(&s->req);
        free(s);
        return;
    }
    pthread_mutex_lock(&m->lock);
    bool full = m->live >= EXEC_AGENT_MAX_SESSIONS;
    if (!full)
        m->live++;
    pthread_mutex_unlock(&m->lock);
    if (full) {
        /* Past the scheduler's own cap: the user hears that the agent did
         * not attach. */
        exec_request_clear(&s->req);
        free(s);
        return;
    }
    if (m->target(m->ctx, s->req.task_id, &s->target, &err) < 0)
        s->refusal = bo_xstrdup(err->msg);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int r = pthread_create(&th, &attr, session_main, s);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        exec_request_clear(&s->req);
        free(s->refusal);
        free(s);
        pthread_mutex_lock(&m->lock);
        m->live--;
        pthread_mutex_unlock(&m->lock);
    }
}

void exec_sessions_free(struct exec_sessions *m)
{
    if (!m)
        return;
    if (m->stop[1] >= 0)
        (void)!write(m->stop[1], "x", 1);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 15;
    pthread_mutex_lock(&m->lock);
    while (m->live > 0 && pthread_cond_timedwait(&m->idle, &m->lock, &until) == 0)
        ;
    bool left = m->live > 0;
    pthread_mutex_unlock(&m->lock);
    if (left)
        return; /* a thread stuck past its bounds: leave it its memory */
    if (m->stop[0] >= 0) {
        close(m->stop[0]);
        close(m->stop[1]);
    }
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->idle);
    free(m);
}
