/* scale_agents.c - many simulated agents in one process, speaking the real
 * agent protocol (docs/protocol.md §3) over real TCP connections to a real
 * scheduler (`make bench-scale`, bench/scale.py).
 *
 * Each simulated agent holds one keep-alive HTTP/1.1 connection and makes
 * the requests a real agent makes (src/agent/sync.c): a boot sync with an
 * inventory and the registration (sent again only after a failure or when
 * the scheduler asks: `"register": true`), long polls of the scheduler's heartbeat, an inventory every
 * 60 s (spread out) and whenever the scheduler asks, every update until it
 * is acked (held, as the real agent's are: the scheduler acks them with
 * its next answer). It answers a launch like a very fast agent (updates
 * STARTING and RUNNING at once) and a kill with KILLED (LOST for a task it
 * does not have). It checks that placement never overcommits it: the
 * resources of the tasks it was asked to run must fit what it offered.
 *
 *   scale_agents --port P --agents N [--first I] [--cpu C] [--ram BYTES]
 *                [--disk BYTES] [--per-address K] [--racks R]
 *                [--connecting M] [--prefix NAME] [--source ADDRESS]
 *
 * Agent i is `PREFIX-i` with hostname `PREFIX-i`, attributes host and
 * rack (i % R). Agents connect from 127.1.x.y, K agents per source
 * address (so the scheduler's per-address limit and the ephemeral ports
 * are no bound), or all from --source, at most M connects in flight.
 *
 * Commands on stdin, one a line; answers on stdout, one JSON line each:
 *   stats            counters and this process's own CPU time
 *   mark             from now on count the agents answered (answered_since_mark)
 *   stop A B         agents A..B-1 die (connections closed, tasks gone)
 *   start A B        they come back as fresh machines (boot, no tasks)
 *   quit
 * Problems (an overcommit, a malformed answer) go to stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uthash.h>

#define INVENTORY_EVERY_MS 60000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MAX_UPDATES 500
#define READ_MAX (64u << 20)

enum conn_state { C_IDLE, C_CONNECTING, C_SENDING, C_READING };

struct task {
    char *id;
    double cpu;
    int64_t ram, disk;
    bool running_acked;
    UT_hash_handle hh;
};

struct update {
    int64_t seq;
    char *task_id;
    const char *state;
    const char *message;
    bool terminal;
};

struct agent {
    int idx;
    int fd;
    enum conn_state cs;
    bool alive;       /* not stopped */
    bool registered;  /* a boot sync was answered */
    bool answered;    /* an answer since the last `mark` */
    bool boot;
    bool send_registration; /* the next request carries the registration */
    bool req_registration;  /* the request in flight carries it */
    bool want_inventory;
    bool req_inventory; /* the request in flight carries one */
    int64_t inventory_at;
    int64_t retry_at;   /* no request before (mono ms) */
    int failures;
    int64_t poll_ms;
    int64_t next_seq;
    struct update *ups;
    size_t n_ups, cap_ups;
    struct task *tasks;
    double used_cpu;
    int64_t used_ram, used_disk;
    char *out;
    size_t out_len, out_off;
    char *in;
    size_t in_len, in_cap;
};

static struct {
    int port;
    int n, first;
    double cpu;
    int64_t ram, disk;
    int per_address, racks, connecting_max;
    const char *prefix;
    struct in_addr source; /* all agents from this address; s_addr 0: 127.1.x.y */
} cfg = {.n = 100, .cpu = 16, .ram = 64LL << 30, .disk = 1LL << 40, .per_address = 50, .racks = 20,
         .connecting_max = 512, .prefix = "sim"};

static struct agent *agents;
static int epfd;
static int n_connecting;
static struct {
    uint64_t requests, answers, http_errors, conn_errors, register_asked, launches, kills, kills_unknown, overcommits, acked;
    int64_t live, running_acked;
} st;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "scale_agents: out of memory\n");
        exit(1);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fprintf(stderr, "scale_agents: out of memory\n");
        exit(1);
    }
    return d;
}

static void agent_name(const struct agent *a, char *buf, size_t len)
{
    snprintf(buf, len, "%s-%05d", cfg.prefix, cfg.first + a->idx);
}

static void add_update(struct agent *a, const char *task_id, const char *state, const char *message, bool terminal)
{
    if (a->n_ups == a->cap_ups) {
        a->cap_ups = a->cap_ups ? a->cap_ups * 2 : 8;
        a->ups = xrealloc(a->ups, a->cap_ups * sizeof(*a->ups));
    }
    a->ups[a->n_ups++] = (struct update){a->next_seq++, xstrdup(task_id), state, message, terminal};
}

static void drop_task(struct agent *a, struct task *t)
{
    HASH_DEL(a->tasks, t);
    a->used_cpu -= t->cpu;
    a->used_ram -= t->ram;
    a->used_disk -= t->disk;
    st.live--;
    if (t->running_acked)
        st.running_acked--;
    free(t->id);
    free(t);
}

/* A machine that dies (or comes back fresh): no connection, no tasks, no
 * journal. */
static void agent_reset(struct agent *a)
{
    if (a->fd >= 0) {
        if (a->cs == C_CONNECTING)
            n_connecting--;
        close(a->fd);
        a->fd = -1;
    }
    a->cs = C_IDLE;
    struct task *t, *tmp;
    HASH_ITER(hh, a->tasks, t, tmp)
    drop_task(a, t);
    for (size_t i = 0; i < a->n_ups; i++)
        free(a->ups[i].task_id);
    a->n_ups = 0;
    a->out_len = a->out_off = a->in_len = 0;
    a->boot = true;
    a->send_registration = true;
    a->registered = false;
    a->failures = 0;
    a->retry_at = 0;
    a->poll_ms = 2000;
    /* Spread the periodic inventories: agents started together must not
     * send them together. */
    a->inventory_at = mono_ms() - rand() % INVENTORY_EVERY_MS;
}

static void conn_close(struct agent *a)
{
    if (a->fd >= 0) {
        if (a->cs == C_CONNECTING)
            n_connecting--;
        close(a->fd);
    }
    a->fd = -1;
    a->cs = C_IDLE;
    a->in_len = a->out_len = a->out_off = 0;
}

static void failed(struct agent *a)
{
    conn_close(a);
    a->failures++;
    int64_t b = BACKOFF_MIN_MS;
    for (int i = 1; i < a->failures && b < BACKOFF_MAX_MS; i++)
        b *= 2;
    if (b > BACKOFF_MAX_MS)
        b = BACKOFF_MAX_MS;
    /* Full jitter: agents that failed together retry apart. */
    a->retry_at = mono_ms() + b / 2 + rand() % (b / 2 + 1);
    a->want_inventory = true;
    a->send_registration = true;
}

static int start_connect(struct agent *a)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    unsigned src = (unsigned)((cfg.first + a->idx) / cfg.per_address) + 1;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = cfg.source.s_addr ? cfg.source.s_addr : htonl((127u << 24) | (1u << 16) | (src & 0xffff));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    struct sockaddr_in da = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
    da.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&da, sizeof(da)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    a->fd = fd;
    a->cs = C_CONNECTING;
    n_connecting++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = (uint32_t)a->idx};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static json_t *inventory(struct agent *a)
{
    json_t *inv = json_array();
    struct task *t, *tmp;
    HASH_ITER(hh, a->tasks, t, tmp)
    json_array_append_new(inv, json_pack("{s:s, s:s}", "task_id", t->id, "state", "RUNNING"));
    for (size_t i = 0; i < a->n_ups; i++)
        if (a->ups[i].terminal)
            json_array_append_new(inv, json_pack("{s:s, s:s}", "task_id", a->ups[i].task_id, "state", a->ups[i].state));
    return inv;
}

/* Build the next sync request into a->out. */
static void build_request(struct agent *a, int64_t now)
{
    char name[64], rack[32];
    agent_name(a, name, sizeof(name));
    snprintf(rack, sizeof(rack), "r%d", (cfg.first + a->idx) % cfg.racks);
    json_t *ups = json_array();
    for (size_t i = 0; i < a->n_ups && i < MAX_UPDATES; i++) {
        struct update *u = &a->ups[i];
        json_t *ju = json_pack("{s:I, s:s, s:s, s:s, s:I, s:n, s:n, s:[]}", "seq", (json_int_t)u->seq, "task_id",
                               u->task_id, "state", u->state, "message", u->message, "ts", (json_int_t)wall_ms(),
                               "executor_pid", "exit_code", "processes");
        json_array_append_new(ups, ju);
    }
    a->req_inventory = a->boot || a->want_inventory || now - a->inventory_at >= INVENTORY_EVERY_MS;
    /* Updates wait too, as the real agent's do: the scheduler holds a
     * request it would only ack and acks with its next answer. */
    int64_t wait = a->req_inventory ? 0 : a->poll_ms;
    a->req_registration = a->boot || a->send_registration;
    json_t *body = json_pack("{s:s, s:o, s:I}", "agent_id", name, "updates", ups, "wait_ms", (json_int_t)wait);
    if (a->req_registration) {
        json_object_update_new(body, json_pack("{s:s, s:{s:f, s:I, s:I}, s:[i, i], s:{s:s, s:s}}", "hostname", name,
                                               "resources", "cpu", cfg.cpu, "ram", (json_int_t)cfg.ram, "disk",
                                               (json_int_t)cfg.disk, "port_range", 31000, 31999, "attributes",
                                               "host", name, "rack", rack));
    }
    if (a->boot)
        json_object_set_new(body, "boot", json_true());
    if (a->req_inventory)
        json_object_set_new(body, "inventory", inventory(a));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    size_t blen = strlen(text);
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "POST /api/v1/agents/sync HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                      "Accept: application/json\r\nContent-Length: %zu\r\n\r\n",
                      cfg.port, blen);
    a->out = xrealloc(a->out, (size_t)hl + blen);
    memcpy(a->out, head, (size_t)hl);
    memcpy(a->out + hl, text, blen);
    free(text);
    a->out_len = (size_t)hl + blen;
    a->out_off = 0;
    a->in_len = 0;
    st.requests++;
}

static void try_send(struct agent *a);

/* Start the agent's next request, if it is due and it has a connection
 * (or connect first). */
static void kick(struct agent *a, int64_t now)
{
    if (!a->alive || a->cs != C_IDLE || now < a->retry_at)
        return;
    if (a->fd < 0) {
        if (n_connecting >= cfg.connecting_max)
            return;
        if (start_connect(a) < 0) {
            st.conn_errors++;
            failed(a);
        }
        return;
    }
    build_request(a, now);
    a->cs = C_SENDING;
    try_send(a);
}

static void try_send(struct agent *a)
{
    while (a->out_off < a->out_len) {
        ssize_t w = send(a->fd, a->out + a->out_off, a->out_len - a->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN)
            return;
        if (w <= 0) {
            st.conn_errors++;
            failed(a);
            return;
        }
        a->out_off += (size_t)w;
    }
    a->cs = C_READING;
}

static bool fits(const struct agent *a)
{
    return a->used_cpu <= cfg.cpu + 1e-6 && a->used_ram <= cfg.ram && a->used_disk <= cfg.disk;
}

/* -1: a failed sync (the scheduler asked for the registration it was sent). */
static int handle_answer(struct agent *a, json_t *j, int64_t now)
{
    char name[64];
    agent_name(a, name, sizeof(name));
    if (json_is_true(json_object_get(j, "register"))) {
        /* Nothing applied: everything again, with the registration, at once. */
        st.register_asked++;
        if (a->req_registration) {
            fprintf(stderr, "scale_agents: %s: asked for the registration its sync carried\n", name);
            return -1;
        }
        a->send_registration = true;
        a->want_inventory = true;
        return 0;
    }
    if (a->req_registration)
        a->send_registration = false;
    json_t *acks = json_object_get(j, "acks");
    size_t i;
    json_t *v;
    /* Acked updates leave the queue. */
    json_array_foreach(acks, i, v)
    {
        int64_t seq = json_integer_value(v);
        for (size_t k = 0; k < a->n_ups; k++) {
            if (a->ups[k].seq != seq)
                continue;
            if (strcmp(a->ups[k].state, "RUNNING") == 0) {
                struct task *t = NULL;
                HASH_FIND_STR(a->tasks, a->ups[k].task_id, t);
                if (t && !t->running_acked) {
                    t->running_acked = true;
                    st.running_acked++;
                }
            }
            free(a->ups[k].task_id);
            memmove(&a->ups[k], &a->ups[k + 1], (a->n_ups - k - 1) * sizeof(*a->ups));
            a->n_ups--;
            st.acked++;
            break;
        }
    }
    json_array_foreach(json_object_get(j, "launch"), i, v)
    {
        const char *id = json_string_value(json_object_get(v, "task_id"));
        json_t *res = json_object_get(json_object_get(v, "task"), "resources");
        if (!id || !json_is_object(res)) {
            fprintf(stderr, "scale_agents: %s: malformed launch\n", name);
            continue;
        }
        struct task *t = NULL;
        HASH_FIND_STR(a->tasks, id, t);
        if (t)
            continue; /* a resend */
        t = calloc(1, sizeof(*t));
        t->id = xstrdup(id);
        t->cpu = json_number_value(json_object_get(res, "cpu"));
        t->ram = json_integer_value(json_object_get(res, "ram"));
        t->disk = json_integer_value(json_object_get(res, "disk"));
        HASH_ADD_KEYPTR(hh, a->tasks, t->id, strlen(t->id), t);
        a->used_cpu += t->cpu;
        a->used_ram += t->ram;
        a->used_disk += t->disk;
        st.live++;
        st.launches++;
        if (!fits(a)) {
            st.overcommits++;
            fprintf(stderr,
                    "scale_agents: OVERCOMMIT %s: launch %s makes cpu %.3f/%.3f ram %lld/%lld disk %lld/%lld\n",
                    name, id, a->used_cpu, cfg.cpu, (long long)a->used_ram, (long long)cfg.ram,
                    (long long)a->used_disk, (long long)cfg.disk);
        }
        add_update(a, id, "STARTING", "", false);
        add_update(a, id, "RUNNING", "", false);
    }
    json_array_foreach(json_object_get(j, "kill"), i, v)
    {
        const char *id = json_string_value(json_object_get(v, "task_id"));
        if (!id)
            continue;
        struct task *t = NULL;
        HASH_FIND_STR(a->tasks, id, t);
        if (t) {
            drop_task(a, t);
            st.kills++;
            add_update(a, id, "KILLED", "", true);
        } else {
            bool pending = false;
            for (size_t k = 0; k < a->n_ups; k++)
                pending |= a->ups[k].terminal && strcmp(a->ups[k].task_id, id) == 0;
            if (!pending) {
                st.kills_unknown++;
                add_update(a, id, "LOST", "unknown to agent", true);
            }
        }
    }
    json_int_t hb = json_integer_value(json_object_get(j, "heartbeat_ms"));
    if (hb > 0)
        a->poll_ms = hb < 100 ? 100 : hb > 600000 ? 600000 : hb;
    if (a->boot)
        a->registered = true;
    a->boot = false;
    a->answered = true;
    if (a->req_inventory) {
        a->inventory_at = now;
        a->want_inventory = false;
    }
    if (json_is_true(json_object_get(j, "reconcile")) && !a->req_inventory)
        a->want_inventory = true;
    a->failures = 0;
    return 0;
}

/* Parse a complete response in a->in, if there is one: returns 1 when one
 * was handled, 0 when more bytes are needed, -1 on a broken answer. */
static int parse_response(struct agent *a, int64_t now)
{
    a->in[a->in_len] = '\0';
    char *end = strstr(a->in, "\r\n\r\n");
    if (!end)
        return 0;
    size_t head_len = (size_t)(end - a->in) + 4;
    int status = 0;
    if (sscanf(a->in, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    long long clen = -1;
    bool close_after = false;
    for (char *line = strstr(a->in, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (strncasecmp(h, "Content-Length:", 15) == 0)
            clen = atoll(h + 15);
        else if (strncasecmp(h, "Connection:", 11) == 0 && strstr(h, "close") && strstr(h, "close") < strstr(h, "\r\n"))
            close_after = true;
    }
    if (clen < 0)
        return -1;
    if (a->in_len < head_len + (size_t)clen)
        return 0;
    st.answers++;
    if (status != 200) {
        st.http_errors++;
        if (st.http_errors <= 20)
            fprintf(stderr, "scale_agents: agent %d: HTTP %d: %.*s\n", a->idx, status, (int)clen > 300 ? 300 : (int)clen,
                    a->in + head_len);
        failed(a);
        return 1;
    }
    json_error_t jerr;
    json_t *j = json_loadb(a->in + head_len, (size_t)clen, 0, &jerr);
    if (!j) {
        fprintf(stderr, "scale_agents: agent %d: answer is not JSON: %s\n", a->idx, jerr.text);
        failed(a);
        return 1;
    }
    int hr = handle_answer(a, j, now);
    json_decref(j);
    if (hr < 0) {
        failed(a);
        return 1;
    }
    a->in_len = 0;
    a->cs = C_IDLE;
    if (close_after)
        conn_close(a);
    kick(a, now);
    return 1;
}

static void on_readable(struct agent *a, int64_t now)
{
    for (;;) {
        if (a->in_cap - a->in_len < 65536 + 1) {
            if (a->in_cap > READ_MAX) {
                failed(a);
                return;
            }
            a->in_cap = a->in_cap ? a->in_cap * 2 : 65536 * 2;
            a->in = xrealloc(a->in, a->in_cap);
        }
        ssize_t r = recv(a->fd, a->in + a->in_len, a->in_cap - a->in_len - 1, 0);
        if (r < 0 && errno == EAGAIN)
            break;
        if (r <= 0) {
            /* The scheduler closed the connection (an idle timeout, a
             * restart): a request in flight failed, an idle one reconnects. */
            if (a->cs == C_READING || a->cs == C_SENDING) {
                st.conn_errors++;
                failed(a);
            } else {
                conn_close(a);
            }
            return;
        }
        a->in_len += (size_t)r;
    }
    if (a->cs == C_READING && parse_response(a, now) < 0) {
        fprintf(stderr, "scale_agents: agent %d: malformed HTTP answer\n", a->idx);
        failed(a);
    }
}

static void on_event(struct agent *a, uint32_t events, int64_t now)
{
    if (a->fd < 0)
        return;
    if (a->cs == C_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int e = 0;
        socklen_t el = sizeof(e);
        getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        n_connecting--;
        a->cs = C_IDLE;
        if (e != 0) {
            a->cs = C_IDLE;
            close(a->fd);
            a->fd = -1;
            st.conn_errors++;
            failed(a);
            return;
        }
        kick(a, now);
        return;
    }
    if ((events & EPOLLOUT) && a->cs == C_SENDING)
        try_send(a);
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(a, now);
}

static void print_stats(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int registered = 0, alive = 0, connected = 0, answered = 0;
    for (int i = 0; i < cfg.n; i++) {
        answered += agents[i].alive && agents[i].answered;
        registered += agents[i].alive && agents[i].registered;
        alive += agents[i].alive;
        connected += agents[i].fd >= 0 && agents[i].cs != C_CONNECTING;
    }
    printf("{\"mono_ms\": %lld, \"agents\": %d, \"alive\": %d, \"registered\": %d, \"connected\": %d, \"answered_since_mark\": %d, "
           "\"live_tasks\": %lld, \"running_acked\": %lld, \"launches\": %llu, \"kills\": %llu, "
           "\"kills_unknown\": %llu, \"overcommits\": %llu, \"requests\": %llu, \"answers\": %llu, "
           "\"http_errors\": %llu, \"conn_errors\": %llu, \"register_asked\": %llu, \"acked\": %llu, "
           "\"cpu_user_ms\": %lld, "
           "\"cpu_sys_ms\": %lld, \"rss_kib\": %ld}\n",
           (long long)mono_ms(), cfg.n, alive, registered, connected, answered, (long long)st.live,
           (long long)st.running_acked, (unsigned long long)st.launches, (unsigned long long)st.kills,
           (unsigned long long)st.kills_unknown, (unsigned long long)st.overcommits,
           (unsigned long long)st.requests, (unsigned long long)st.answers, (unsigned long long)st.http_errors,
           (unsigned long long)st.conn_errors, (unsigned long long)st.register_asked, (unsigned long long)st.acked,
           (long long)(ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000),
           (long long)(ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000), ru.ru_maxrss);
    fflush(stdout);
}

/* Returns false on `quit` or end of input. */
static bool command(char *line)
{
    int a = 0, b = 0;
    if (strncmp(line, "stats", 5) == 0) {
        print_stats();
    } else if (strncmp(line, "mark", 4) == 0) {
        for (int i = 0; i < cfg.n; i++)
            agents[i].answered = false;
        printf("{\"ok\": \"mark\"}\n");
        fflush(stdout);
    } else if (sscanf(line, "stop %d %d", &a, &b) == 2 || sscanf(line, "start %d %d", &a, &b) == 2) {
        bool start = line[2] == 'a';
        if (a < 0)
            a = 0;
        if (b > cfg.n)
            b = cfg.n;
        for (int i = a; i < b; i++) {
            agent_reset(&agents[i]);
            agents[i].alive = start;
        }
        printf("{\"ok\": \"%s %d %d\"}\n", start ? "start" : "stop", a, b);
        fflush(stdout);
    } else if (strncmp(line, "quit", 4) == 0) {
        return false;
    } else {
        printf("{\"error\": \"unknown command\"}\n");
        fflush(stdout);
    }
    return true;
}

static int64_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    int64_t m = 1;
    if (*end == 'K' || *end == 'k')
        m = 1LL << 10;
    else if (*end == 'M')
        m = 1LL << 20;
    else if (*end == 'G')
        m = 1LL << 30;
    else if (*end == 'T')
        m = 1LL << 40;
    return (int64_t)(v * (double)m);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},      {"agents", required_argument, NULL, 'n'},
        {"first", required_argument, NULL, 'f'},     {"cpu", required_argument, NULL, 'c'},
        {"ram", required_argument, NULL, 'r'},       {"disk", required_argument, NULL, 'd'},
        {"per-address", required_argument, NULL, 'a'}, {"racks", required_argument, NULL, 'k'},
        {"connecting", required_argument, NULL, 'm'}, {"prefix", required_argument, NULL, 'x'},
        {"source", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'p': cfg.port = atoi(optarg); break;
        case 'n': cfg.n = atoi(optarg); break;
        case 'f': cfg.first = atoi(optarg); break;
        case 'c': cfg.cpu = atof(optarg); break;
        case 'r': cfg.ram = parse_size(optarg); break;
        case 'd': cfg.disk = parse_size(optarg); break;
        case 'a': cfg.per_address = atoi(optarg); break;
        case 'k': cfg.racks = atoi(optarg); break;
        case 'm': cfg.connecting_max = atoi(optarg); break;
        case 'x': cfg.prefix = optarg; break;
        case 's':
            if (inet_pton(AF_INET, optarg, &cfg.source) != 1) {
                fprintf(stderr, "scale_agents: --source `%s` is not an IPv4 address\n", optarg);
                return 2;
            }
            break;
        default:
            fprintf(stderr, "usage: scale_agents --port P --agents N [--first I] [--cpu C] [--ram SIZE] "
                            "[--disk SIZE] [--per-address K] [--racks R] [--connecting M] [--prefix NAME] "
                            "[--source ADDRESS]\n");
            return 2;
        }
    }
    if (cfg.port <= 0 || cfg.port > 65535 || cfg.n <= 0 || cfg.n > 1000000 || cfg.per_address <= 0 ||
        cfg.racks <= 0 || cfg.connecting_max <= 0 || strlen(cfg.prefix) > 40) {
        fprintf(stderr, "scale_agents: --port (1-65535) and --agents (1-1000000) are required; "
                        "--per-address, --racks, --connecting must be positive, --prefix at most 40 characters\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    srand((unsigned)(getpid() ^ (unsigned)mono_ms()));
    agents = calloc((size_t)cfg.n, sizeof(*agents));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!agents || epfd < 0) {
        perror("scale_agents");
        return 1;
    }
    for (int i = 0; i < cfg.n; i++) {
        agents[i].idx = i;
        agents[i].fd = -1;
        agents[i].next_seq = 1;
        agent_reset(&agents[i]);
        agents[i].alive = true;
    }
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    struct epoll_event sev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &sev);
    char line[256];
    size_t line_len = 0;
    struct epoll_event evs[1024];
    int64_t last_scan = 0;
    int scan_from = 0;
    for (;;) {
        int n = epoll_wait(epfd, evs, 1024, 10);
        int64_t now = mono_ms();
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u32 == UINT32_MAX) {
                for (;;) {
                    ssize_t r = read(0, line + line_len, 1);
                    if (r == 0)
                        return 0;
                    if (r < 0)
                        break;
                    if (line[line_len] == '\n' || line_len == sizeof(line) - 2) {
                        line[line_len + 1] = '\0';
                        line_len = 0;
                        if (!command(line))
                            return 0;
                    } else {
                        line_len++;
                    }
                }
                continue;
            }
            on_event(&agents[evs[k].data.u32], evs[k].events, now);
        }
        /* Due requests: backoffs that ended, agents waiting for a connect
         * slot. A round-robin start keeps the connect slots fair. */
        if (now - last_scan >= 10) {
            last_scan = now;
            for (int c = 0; c < cfg.n; c++) {
                struct agent *a = &agents[(scan_from + c) % cfg.n];
                if (a->alive && a->cs == C_IDLE)
                    kick(a, now);
            }
            scan_from = (scan_from + 1) % cfg.n;
        }
    }
}
