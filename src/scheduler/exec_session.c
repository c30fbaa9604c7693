/* exec_session.c - `task exec` sessions: their table, the agents' and
 * users' upgraded connections, and the relay thread of each. */
#include "scheduler/exec_session.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <uthash.h>

#include "base/clock.h"
#include "base/ident.h"
#include "model/json_check.h"
#include "net/exec_frame.h"
#include "scheduler/agent_sync.h"
#include "scheduler/audit.h"
#include "scheduler/scheduler.h"
#include "scheduler/task_read.h"

/* A relay ending flushes what it holds toward the side still open for
 * at most this long. */
#define FLUSH_MS 5000
/* While relays run, the loop looks for ended ones this often. */
#define REAP_MS 200

struct side {
    int fd;
    void *handle; /* http_upgraded_close; NULL: not connected (yet) */
    char *extra;  /* bytes sent ahead of the upgrade */
    size_t extra_len;
};

struct session {
    int64_t id; /* names it to the upgrade callbacks (never a pointer: a
                   session may be gone before MHD calls them) */
    char token[33];
    char *agent_id, *task_id;
    json_t *item; /* what the agent is sent */
    bool sent, attached;
    int64_t deadline; /* mono ms: the agent attaches by then */
    struct side user, agent;
    pthread_t thread;
    bool started;
    atomic_bool done, stop;
    UT_hash_handle hh;  /* by id */
    UT_hash_handle hht; /* by token, until the agent attached */
};

static struct session *by_id, *by_token;
static int64_t last_id;
static bool kick;

static struct session *find_id(int64_t id)
{
    struct session *s = NULL;
    HASH_FIND(hh, by_id, &id, sizeof(id), s);
    return s;
}

/* ---- the relay ---- */

struct buf {
    char *data;
    size_t len;
};

static void buf_take_extra(struct buf *b, struct side *sd)
{
    if (sd->extra_len) {
        memcpy(b->data, sd->extra, sd->extra_len);
        b->len = sd->extra_len;
    }
}

/* Move what `from` has into b (up to its room). false: end of stream. */
static bool pull(int fd, struct buf *b)
{
    ssize_t n = recv(fd, b->data + b->len, EXEC_RELAY_BUF - b->len, MSG_DONTWAIT);
    if (n > 0) {
        b->len += (size_t)n;
        return true;
    }
    return n < 0 && (errno == EAGAIN || errno == EINTR);
}

static bool push(int fd, struct buf *b)
{
    ssize_t n = send(fd, b->data, b->len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
        memmove(b->data, b->data + n, b->len - (size_t)n);
        b->len -= (size_t)n;
        return true;
    }
    return n < 0 && (errno == EAGAIN || errno == EINTR);
}

/* Where the agent's frames begin and end, as their bytes pass: the
 * relay ends the session after the last one (EXIT or ERROR) has gone to
 * the user, without waiting for the agent's connection to close (under
 * TLS, MHD 0.9.75 does not pass a peer's close on to our socket). */
struct frames {
    uint8_t hdr[EXEC_FRAME_HEADER];
    size_t hdr_len, left;
    bool final; /* the frame under way is the last one */
    bool last, bad; /* the last frame is complete; the agent broke the framing */
};

static void frames_feed(struct frames *f, const uint8_t *p, size_t n)
{
    while (n > 0 && !f->bad && !f->last) {
        if (f->left) {
            size_t k = n < f->left ? n : f->left;
            f->left -= k;
            p += k;
            n -= k;
            f->last = f->final && !f->left;
            continue;
        }
        f->hdr[f->hdr_len++] = *p++;
        n--;
        if (f->hdr_len < EXEC_FRAME_HEADER)
            continue;
        f->hdr_len = 0;
        struct exec_frame fr;
        size_t used;
        uint8_t whole[EXEC_FRAME_HEADER + 4] = {0};
        memcpy(whole, f->hdr, EXEC_FRAME_HEADER);
        /* The header alone decides: parse it with a payload of zeros. */
        size_t len = (size_t)f->hdr[1] << 24 | (size_t)f->hdr[2] << 16 | (size_t)f->hdr[3] << 8 | f->hdr[4];
        _cleanup_error_ bo_error_t err = NULL;
        int r = exec_frame_parse(whole, EXEC_FRAME_HEADER + (len <= 4 ? len : 0), &fr, &used, &err);
        if (r < 0 || (r == 0 && len <= 4)) {
            f->bad = true;
            return;
        }
        f->left = len;
        f->final = f->hdr[0] == EXEC_FRAME_EXIT || f->hdr[0] == EXEC_FRAME_ERROR;
        f->last = f->final && !len;
    }
}

/* Queue an ERROR frame for the user, if it fits. */
static void buf_error(struct buf *b, const char *msg)
{
    size_t len = strlen(msg);
    if (b->len + EXEC_FRAME_HEADER + len > EXEC_RELAY_BUF)
        return;
    exec_frame_header((uint8_t *)b->data + b->len, EXEC_FRAME_ERROR, len);
    memcpy(b->data + b->len + EXEC_FRAME_HEADER, msg, len);
    b->len += EXEC_FRAME_HEADER + len;
}

static void *relay(void *arg)
{
    struct session *s = arg;
    int u = s->user.fd, a = s->agent.fd;
    struct buf u2a = {bo_xcalloc(1, EXEC_RELAY_BUF), 0}, a2u = {bo_xcalloc(1, EXEC_RELAY_BUF), 0};
    struct frames fr = {0};
    buf_take_extra(&u2a, &s->user);
    buf_take_extra(&a2u, &s->agent);
    frames_feed(&fr, (const uint8_t *)a2u.data, a2u.len);
    /* 0: both open; else the side that ended, whose data is flushed to
     * the other until FLUSH_MS. */
    int ended = 0;
    int64_t flush_until = 0, heard = bo_mono_ms();
    bool lingering = false;
    while (!atomic_load(&s->stop)) {
        int64_t now = bo_mono_ms();
        if (!ended && fr.bad)
            ended = a;
        /* The agent said its last: once it is with the user, the user
         * closes (MHD drops what it has not sent when we close first). */
        if (!ended && fr.last && !a2u.len) {
            ended = a;
            lingering = true;
        }
        if (!ended && now - heard > EXEC_SILENCE_MS) {
            buf_error(&a2u, "the agent went silent: the session is over");
            ended = a;
        }
        if (ended && !flush_until)
            flush_until = now + FLUSH_MS;
        struct pollfd p[2] = {{u, 0, 0}, {a, 0, 0}};
        if (!ended) {
            p[0].events = (u2a.len < EXEC_RELAY_BUF ? POLLIN : 0) | (a2u.len ? POLLOUT : 0);
            p[1].events = (a2u.len < EXEC_RELAY_BUF ? POLLIN : 0) | (u2a.len ? POLLOUT : 0);
            if (a2u.len == EXEC_RELAY_BUF)
                heard = now; /* not listening: its silence says nothing */
        } else if (ended == a && lingering) {
            p[0].events = POLLIN;
            p[1].fd = -1;
        } else if (ended == a) {
            if (!a2u.len)
                break;
            p[0].events = POLLOUT;
            p[1].fd = -1;
        } else {
            if (!u2a.len)
                break;
            p[1].events = POLLOUT;
            p[0].fd = -1;
        }
        int64_t left = ended ? flush_until - now : 1000;
        if (left <= 0)
            break;
        if (poll(p, 2, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
            break;
        if (lingering) {
            char sink[4096];
            if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
                recv(u, sink, sizeof(sink), MSG_DONTWAIT) <= 0 && errno != EAGAIN)
                break;
            continue;
        }
        bool ok = true;
        if (p[0].revents & POLLOUT)
            ok = push(u, &a2u);
        if (ok && (p[1].revents & POLLOUT))
            ok = push(a, &u2a);
        if (!ok)
            break; /* a side we were writing to is gone: nothing to flush to */
        if (!ended && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !pull(u, &u2a))
            ended = u;
        if (!ended && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            size_t before = a2u.len;
            if (!pull(a, &a2u))
                ended = a;
            if (a2u.len > before) {
                heard = bo_mono_ms();
                frames_feed(&fr, (const uint8_t *)a2u.data + before, a2u.len - before);
            }
        }
    }
    free(u2a.data);
    free(a2u.data);
    atomic_store(&s->done, true);
    return NULL;
}

/* ---- the table ---- */

static void close_side(struct side *sd)
{
    if (sd->handle)
        http_upgraded_close(sd->handle);
    sd->handle = NULL;
    free(sd->extra);
    sd->extra = NULL;
}

/* Tell the user why (a last ERROR frame, if the socket takes it) and
 * close everything. */
static void session_end(struct session *s, const char *why)
{
    if (s->started) {
        atomic_store(&s->stop, true);
        pthread_join(s->thread, NULL);
    } else if (why && s->user.handle) {
        size_t len = strlen(why);
        uint8_t hdr[EXEC_FRAME_HEADER];
        exec_frame_header(hdr, EXEC_FRAME_ERROR, len);
        struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)why, len}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
        (void)sendmsg(s->user.fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    close_side(&s->user);
    close_side(&s->agent);
    HASH_DELETE(hh, by_id, s);
    if (!s->attached)
        HASH_DELETE(hht, by_token, s);
    json_decref(s->item);
    free(s->agent_id);
    free(s->task_id);
    free(s);
}

static void maybe_start(struct session *s)
{
    if (s->started || !s->user.handle || !s->agent.handle)
        return;
    if (pthread_create(&s->thread, NULL, relay, s) != 0) {
        session_end(s, NULL);
        return;
    }
    s->started = true;
    kick = true;
}

static void on_upgraded(struct session *s, struct side *sd, int fd, const char *extra, size_t extra_len,
                        void *handle)
{
    sd->fd = fd;
    sd->handle = handle;
    if (extra_len) {
        /* At most what fits the buffer: MHD's read buffer is smaller. */
        sd->extra_len = extra_len < EXEC_RELAY_BUF ? extra_len : EXEC_RELAY_BUF;
        sd->extra = bo_xcalloc(1, sd->extra_len);
        memcpy(sd->extra, extra, sd->extra_len);
    }
    maybe_start(s);
}

static void on_user(void *cls, int fd, const char *extra, size_t extra_len, void *handle)
{
    struct session *s = find_id((int64_t)(intptr_t)cls);
    if (!s) {
        http_upgraded_close(handle);
        return;
    }
    on_upgraded(s, &s->user, fd, extra, extra_len, handle);
}

static void on_agent(void *cls, int fd, const char *extra, size_t extra_len, void *handle)
{
    struct session *s = find_id((int64_t)(intptr_t)cls);
    if (!s) {
        http_upgraded_close(handle);
        return;
    }
    on_upgraded(s, &s->agent, fd, extra, extra_len, handle);
}

/* ---- the user's request ---- */

/* The body: {"cmd": [words], "rows", "cols", "term"}, into item. */
static bool add_body(struct http_request *req, json_t *item)
{
    json_t *body = http_body_json(req);
    if (!body)
        return false;
    static const char *const keys[] = {"cmd", "rows", "cols", "term"};
    _cleanup_error_ bo_error_t err = NULL;
    if (json_check_keys(body, keys, BO_ARRAY_SIZE(keys), "body", &err) < 0) {
        json_decref(body);
        http_reply_bo_error(req, err);
        return false;
    }
    json_t *cmd = json_object_get(body, "cmd"), *term = json_object_get(body, "term");
    bool ok = !cmd || (json_is_array(cmd) && json_array_size(cmd) >= 1 && json_array_size(cmd) <= EXEC_ARGV_MAX);
    size_t total = 0, i;
    json_t *w;
    json_array_foreach(ok ? cmd : NULL, i, w)
    {
        if (!json_is_string(w) || strlen(json_string_value(w)) != json_string_length(w))
            ok = false;
        else
            total += json_string_length(w) + 1;
    }
    ok = ok && total <= EXEC_CMD_BYTES_MAX;
    const char *size_keys[] = {"rows", "cols"};
    for (size_t k = 0; k < 2; k++) {
        json_t *v = json_object_get(body, size_keys[k]);
        if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10000))
            ok = false;
    }
    if (term && (!json_is_string(term) || bo_ident_check(json_string_value(term), 64, 0, "term", NULL) < 0))
        ok = false;
    if (!ok) {
        json_decref(body);
        http_reply_error(req, 400, "INVALID",
                         "body: {\"cmd\": 1-%d strings without NUL, %d bytes at most, \"rows\", \"cols\": 1-10000, "
                         "\"term\": a terminal name} required", EXEC_ARGV_MAX, EXEC_CMD_BYTES_MAX);
        return false;
    }
    json_object_update(item, body);
    json_decref(body);
    return true;
}

static bool audit(struct http_request *req, struct scheduler *sch, struct sched_task *t, json_t *item)
{
    struct sched_state *st = &sch->state;
    json_t *cmd = json_object_get(item, "cmd");
    _cleanup_free_ char *words = cmd ? json_dumps(cmd, JSON_COMPACT) : bo_xstrdup("(the image's shell)");
    _cleanup_free_ char *detail = bo_xasprintf("task %s: exec %.300s", t->id, words ? words : "");
    struct audit_entry e = {.principal = req->principal, .action = req->route->name, .method = req->method,
                            .path = req->path, .job = t->job->key, .detail = detail, .status = 101};
    _cleanup_error_ bo_error_t err = NULL;
    if (store_begin(st->store, &err) == 0 && audit_append(&sch->audit, st->store, &e, bo_wall_ms(), &err) == 0 &&
        store_commit(st->store, &err) == 0)
        return true;
    store_rollback(st->store);
    http_reply_bo_error(req, err);
    return false;
}

static bool wants_upgrade(struct http_request *req)
{
    const char *up = http_header(req, "Upgrade"), *conn = http_header(req, "Connection");
    if (up && !strcmp(up, EXEC_PROTOCOL) && conn && strcasestr(conn, "upgrade"))
        return true;
    http_reply_error(req, 400, "INVALID",
                     "this endpoint switches to a stream: it needs `Connection: Upgrade` and `Upgrade: %s` "
                     "(borealis task exec)", EXEC_PROTOCOL);
    return false;
}

void exec_session_handle_open(struct http_request *req, void *ctx)
{
    struct scheduler *sch = ctx;
    struct sched_state *st = &sch->state;
    if (!wants_upgrade(req))
        return;
    struct sched_task *t = task_read_find_task(req, st);
    if (!t)
        return;
    if (!t->agent_id || (t->state != TASK_RUNNING && t->state != TASK_STARTING)) {
        http_reply_error(req, 409, "REFUSED", "task %s is %s: a session opens only in a running task", t->id,
                         task_state_name(t->state));
        return;
    }
    struct sched_agent *a = state_agent_find(st, t->agent_id);
    if (!a || !a->up) {
        http_reply_error(req, 503, "AGENT_UNAVAILABLE", "the agent of task %s (%s) is %s", t->id,
                         a ? a->hostname : t->agent_id, a ? agent_state_name((enum agent_state)a->state) : "gone");
        return;
    }
    if (HASH_CNT(hh, by_id) >= EXEC_MAX_SESSIONS) {
        http_reply_error(req, 503, "BUSY", "%d exec sessions are open: try again later", EXEC_MAX_SESSIONS);
        return;
    }
    uint8_t rnd[16];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        http_reply_error(req, 500, "INTERNAL", "getrandom: %s", strerror(errno));
        return;
    }
    json_t *item = json_pack("{s:s}", "task_id", t->id);
    if (!add_body(req, item) || !audit(req, sch, t, item)) {
        json_decref(item);
        return;
    }
    struct session *s = bo_xcalloc(1, sizeof(*s));
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(s->token + 2 * i, 3, "%02x", rnd[i]);
    s->id = ++last_id;
    json_object_set_new(item, "session", json_string(s->token));
    s->item = item;
    s->agent_id = bo_xstrdup(a->id);
    s->task_id = bo_xstrdup(t->id);
    s->deadline = bo_mono_ms() + EXEC_ATTACH_TIMEOUT_MS;
    HASH_ADD(hh, by_id, id, sizeof(s->id), s);
    HASH_ADD(hht, by_token, token, strlen(s->token), s);
    http_reply_upgrade(req, EXEC_PROTOCOL, on_user, (void *)(intptr_t)s->id);
    state_agent_has_work(st, a); /* answers its parked poll now */
    kick = true;
}

/* ---- the agent's side ---- */

void exec_session_handle_attach(struct http_request *req, void *ctx)
{
    struct scheduler *sch = ctx;
    if (!wants_upgrade(req))
        return;
    json_t *body = http_body_json(req);
    if (!body)
        return;
    static const char *const keys[] = {"agent_id"};
    _cleanup_error_ bo_error_t err = NULL;
    const char *agent = json_string_value(json_object_get(body, "agent_id"));
    if (json_check_keys(body, keys, BO_ARRAY_SIZE(keys), "body", &err) < 0 || !agent) {
        json_decref(body);
        if (err)
            http_reply_bo_error(req, err);
        else
            http_reply_error(req, 400, "INVALID", "body: {\"agent_id\": string} required");
        return;
    }
    if (sch->tls && !agent_sync_identity_ok(sch, req, agent)) {
        json_decref(body);
        return;
    }
    const char *token = req->params[0];
    struct session *s = NULL;
    if (strlen(token) == 32)
        HASH_FIND(hht, by_token, token, 32, s);
    /* Unknown, used already, or another agent's: the same answer, so a
     * guess learns nothing. */
    if (!s || strcmp(s->agent_id, agent) != 0) {
        http_reply_error(req, 404, "NOT_FOUND", "no exec session waits for agent %.64s under this id", agent);
        json_decref(body);
        return;
    }
    json_decref(body);
    HASH_DELETE(hht, by_token, s);
    s->attached = true;
    http_reply_upgrade(req, EXEC_PROTOCOL, on_agent, (void *)(intptr_t)s->id);
    kick = true;
}

json_t *exec_session_take(const char *agent_id)
{
    json_t *out = NULL;
    struct session *s, *tmp;
    HASH_ITER(hh, by_id, s, tmp)
    {
        if (s->sent || strcmp(s->agent_id, agent_id) != 0)
            continue;
        if (!out)
            out = json_array();
        s->sent = true;
        json_array_append(out, s->item);
    }
    return out;
}

void exec_session_expire(struct sched_state *st, int64_t now_mono)
{
    kick = false;
    struct session *s, *tmp;
    HASH_ITER(hh, by_id, s, tmp)
    {
        if (s->started) {
            if (atomic_load(&s->done))
                session_end(s, NULL);
            continue;
        }
        struct sched_agent *a = state_agent_find(st, s->agent_id);
        if (!a || !a->up) {
            _cleanup_free_ char *why = bo_xasprintf("the agent of task %s went %s before the session began",
                                                    s->task_id, a ? agent_state_name((enum agent_state)a->state)
                                                                  : "away");
            session_end(s, why);
        } else if (now_mono >= s->deadline) {
            _cleanup_free_ char *why = bo_xasprintf("agent %s did not attach to the session within %d s",
                                                    a->hostname, EXEC_ATTACH_TIMEOUT_MS / 1000);
            session_end(s, why);
        }
    }
}

int64_t exec_session_next_deadline(int64_t now_mono)
{
    int64_t next = kick ? 0 : -1;
    struct session *s, *tmp;
    HASH_ITER(hh, by_id, s, tmp)
    {
        int64_t d = s->started ? now_mono + REAP_MS : s->deadline;
        if (next < 0 || d < next)
            next = d;
    }
    return next;
}

void exec_session_release_all(void)
{
    struct session *s, *tmp;
    HASH_ITER(hh, by_id, s, tmp)
    session_end(s, "the scheduler is stopping");
}
