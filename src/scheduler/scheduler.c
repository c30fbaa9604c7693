/* scheduler.c - `borealis scheduler`: options, recovery and the event loop.
 *
 * One thread does everything: it polls the HTTP server's epoll fd and a
 * signalfd, runs MHD, then the timers that are due and a placement pass
 * when something changed, each in one store batch committed before any
 * agent hears of it. The poll sleeps until the earliest deadline (timer
 * heap, long polls, MHD), so an idle scheduler does not wake up. No locks,
 * and the order of events is the order of the loop. */
#include "scheduler/scheduler.h"
#include "scheduler/update.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#include "base/clock.h"
#include "base/fs.h"
#include "base/ident.h"
#include "base/help.h"
#include "base/ident.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/timefmt.h"
#include "model/host_mount.h"
#include "scheduler/agent_sync.h"
#include "scheduler/durable.h"
#include "scheduler/gate.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/store_open.h"
#include "scheduler/exec_session.h"
#include "scheduler/task_read.h"

#define SCHED_MAX_HOSTNAMES 16

struct sched_cli {
    const char *data_dir;
    const char *listen;
    int64_t port;
    const char *tls_cert, *tls_key;
    bool insecure;
    int64_t max_pending_agents;
    int64_t join_expiry_ms;
    int64_t max_connections, max_per_address, idle_timeout_ms, api_reserve;
    int sync; /* index in sync_modes */
    bool new_cluster;
    bool new_admin_token;
    int64_t audit_keep;
    const char *const *hostnames; /* into argv */
    size_t n_hostnames;
    struct sched_options opt;
};

static const char *const sync_modes[] = {"full", "normal", NULL};
#define SYNC_NORMAL 1

#define AT(m) BO_OPT_AT(struct sched_cli, m)

/* One table: parsing, defaults (also for tests and benchmarks through
 * scheduler_default_options), --help and docs/cli.md come from it. */
const struct bo_option scheduler_options[] = {
    {.name = "data-dir", .kind = BO_OPT_STRING, .arg = "DIR", .def = "/var/lib/borealis/scheduler",
     .at = AT(data_dir),
     .help = "directory of the embedded store (created if missing); a new cluster starts only in an empty one"},
    {.name = "new-cluster", .kind = BO_OPT_FLAG, .at = AT(new_cluster),
     .help = "make a new, empty cluster even though the data directory holds other files or a 0-byte store "
             "(a store with data is opened as usual, never replaced)"},
    {.name = "listen", .kind = BO_OPT_STRING, .arg = "ADDRESS", .def = "127.0.0.1", .at = AT(listen),
     .help = "address to serve the API on: IPv4 (0.0.0.0: all) or IPv6 (`::`: every IPv6 and IPv4 address)"},
    {.name = "port", .kind = BO_OPT_INT, .arg = "PORT", .def = "8081", .min = 0, .max = 65535, .at = AT(port),
     .help = "TCP port of the API (0: any free port)"},
    {.name = "hostname", .kind = BO_OPT_STRING, .arg = "NAME", .repeat = true,
     .help = "a DNS name clients reach the API by (repeatable): requests whose Host header names anything "
             "else than an IP address, localhost or these names are refused (DNS rebinding); the names also go "
             "in the certificate the scheduler issues itself (besides localhost, 127.0.0.1 and the --listen "
             "address)"},
    {.name = "new-admin-token", .kind = BO_OPT_FLAG, .at = AT(new_admin_token),
     .help = "replace token `admin` by a new one written to DIR/" AUTH_ADMIN_TOKEN_FILE
             " (when that file was lost); a new cluster gets one anyway"},
    {.name = "audit-keep", .kind = BO_OPT_INT, .arg = "N", .def = "10000", .min = 10, .max = 10000000,
     .at = AT(audit_keep), .help = "audit records kept; the oldest are deleted beyond"},
    {.name = "tls-cert", .kind = BO_OPT_STRING, .arg = "FILE", .at = AT(tls_cert),
     .help = "serve this PEM certificate (chain) instead of one issued by the scheduler's own CA (needs --tls-key)"},
    {.name = "tls-key", .kind = BO_OPT_STRING, .arg = "FILE", .at = AT(tls_key),
     .help = "the private key of --tls-cert (PEM, mode 0600)"},
    {.name = "insecure-listen-without-tls", .kind = BO_OPT_FLAG, .at = AT(insecure),
     .help = "serve plain HTTP: anyone who can reach the address can read the traffic and speak as any agent. "
             "Without it the API is always TLS (CA and certificate made in DATA/tls on first start)"},
    {.name = "max-agents", .kind = BO_OPT_INT, .def = "10000", .min = 1, .max = 1000000, .at = AT(opt.max_agents),
     .help = "most agents the cluster holds (joined and pending); more joins are refused"},
    {.name = "max-pending-agents", .kind = BO_OPT_INT, .def = "1000", .min = 1, .max = 1000000,
     .at = AT(max_pending_agents), .help = "most agents that joined and have not synced yet"},
    {.name = "join-expiry", .kind = BO_OPT_DURATION, .def = "10m", .min = 1000, .max = 604800000, .at = AT(join_expiry_ms),
     .help = "an agent that joined and did not sync within this long must join again"},
    {.name = "max-agent-cpu", .kind = BO_OPT_NUMBER, .def = "1024", .min = 0.01, .max = 1e6,
     .at = AT(opt.max_agent_cpu), .help = "most CPUs an agent may offer; a sync claiming more is refused"},
    {.name = "max-agent-ram", .kind = BO_OPT_SIZE, .def = "64TiB", .min = 1 << 20, .max = 9.0e18,
     .at = AT(opt.max_agent_ram), .help = "most RAM an agent may offer"},
    {.name = "max-agent-disk", .kind = BO_OPT_SIZE, .def = "1024TiB", .min = 1 << 20, .max = 9.0e18,
     .at = AT(opt.max_agent_disk), .help = "most disk an agent may offer"},
    {.name = "host-mount-allow", .kind = BO_OPT_STRING, .arg = "DIR", .repeat = true,
     .help = "jobs may mount host paths under DIR into their tasks (default: none). A job asking for "
             "another path is refused at create; each agent's own --host-mount-allow is checked again at launch"},
    {.name = "max-connections", .kind = BO_OPT_INT, .def = "20000", .min = 64, .max = 1000000,
     .at = AT(max_connections),
     .help = "connection budget (kept below the open file limit); a tenth is reserved for the addresses of "
             "agents that proved their certificate, so idle connections of others cannot lock them out"},
    {.name = "api-connection-reserve", .kind = BO_OPT_INT, .arg = "N", .def = "256", .min = 1, .max = 1000000,
     .at = AT(api_reserve),
     .help = "connections of the budget agents' syncs may not take (at most half of it): the CLI and health "
             "checks can connect when every agent holds its long poll; an agent refused for it is answered "
             "503 and retries later"},
    {.name = "max-connections-per-address", .kind = BO_OPT_INT, .def = "64", .min = 1, .max = 1000000,
     .at = AT(max_per_address), .help = "most connections from one client address"},
    {.name = "idle-timeout", .kind = BO_OPT_DURATION, .def = "60s", .min = 1000, .max = 86400000,
     .at = AT(idle_timeout_ms),
     .help = "close a connection idle this long (an agent's parked long poll is not idle)"},
    {.name = "cluster", .kind = BO_OPT_STRING, .arg = "NAME", .def = "local", .at = AT(opt.cluster),
     .help = "cluster name; jobs for another cluster are refused"},
    {.name = "agent-timeout", .kind = BO_OPT_DURATION, .def = "6s", .at = AT(opt.agent_timeout_ms),
     .min = 300, .max = 3600000,
     .help = "an agent silent this long is lost and its tasks rescheduled (at least 3 heartbeats)"},
    {.name = "agent-heartbeat", .kind = BO_OPT_DURATION, .def = "2s", .at = AT(opt.agent_heartbeat_ms),
     .min = 100, .max = 600000,
     .help = "how often agents sync when idle (their long poll is answered after this long)"},
    {.name = "drain-timeout", .kind = BO_OPT_DURATION, .def = "10m", .min = 1000, .max = 7 * 86400 * 1000LL,
     .at = AT(opt.drain_timeout_ms),
     .help = "a host drain waits for jobs' SLA policies at most this long, then moves every task (force)"},
    {.name = "reschedule-rate", .kind = BO_OPT_INT, .arg = "N", .def = "200", .min = 0, .max = 1000000,
     .at = AT(opt.reschedule_rate),
     .help = "tasks of lost agents rescheduled per second at most, after a burst of as many (0: no limit)"},
    {.name = "flap-window", .kind = BO_OPT_DURATION, .def = "5m", .at = AT(opt.flap_window_ms),
     .help = "a run shorter than this counts as flapping"},
    {.name = "flap-penalty", .kind = BO_OPT_DURATION, .def = "30s", .at = AT(opt.flap_penalty_ms),
     .help = "first THROTTLED delay of a flapping task (doubles per flap)"},
    {.name = "flap-penalty-max", .kind = BO_OPT_DURATION, .def = "5m", .at = AT(opt.flap_penalty_max_ms),
     .help = "cap of the flapping penalty"},
    {.name = "transient-timeout", .kind = BO_OPT_DURATION, .def = "5m", .at = AT(opt.transient_timeout_ms),
     .help = "a task stuck in ASSIGNED, KILLING, ... this long becomes LOST"},
    {.name = "command-resend", .kind = BO_OPT_DURATION, .def = "10s", .at = AT(opt.command_resend_ms),
     .help = "resend an unanswered launch or kill after this long"},
    {.name = "sync", .kind = BO_OPT_CHOICE, .arg = "MODE", .def = "full", .choices = sync_modes, .at = AT(sync),
     .help = "store durability: full (fsync every commit) or normal (survives process crashes only)"},
    {.name = NULL},
};

#define STR_(x) #x
#define STR(x) STR_(x)
const char scheduler_help_text[] =
    "Runs the scheduler: the HTTP API (docs/api.md), the job and task store, and placement of tasks on "
    "agents. Durations take a unit: 250ms, 30s, 5m, 1h. A new, empty cluster is made only in an empty (or "
    "new) --data-dir, or with --new-cluster; a store that is missing from a data dir holding other files, "
    "empty (0 bytes), unreadable, in use by another scheduler or holding an invalid row is refused with a "
    "message naming the file (and the table and row), and the scheduler exits " STR(SCHEDULER_EXIT_STORE) ". "
    "It exits 1 when it stops on a "
    "failure while running (e.g. a store write failed: fail-stop), 2 on a usage error, 0 after SIGINT or "
    "SIGTERM.";
const char scheduler_examples[] =
    "borealis scheduler --data-dir /var/lib/borealis/scheduler --port 8081 --cluster local";

static void usage(FILE *f)
{
    const struct bo_option *const tables[] = {scheduler_options, NULL};
    struct bo_help_page p = {.usage = "borealis scheduler [OPTIONS]",
                             .text = scheduler_help_text,
                             .options = tables,
                             .examples = scheduler_examples};
    bo_help_page(f, &p);
}

/* Returns 0, or BO_OPTS_BAD_USAGE / BO_OPTS_BAD_VALUE with an error. */
static int parse_args(int argc, char **argv, struct sched_cli *c, bool *help, bo_error_t *err)
{
    memset(c, 0, sizeof(*c));
    struct bo_opts o;
    int r = bo_opts_parse(scheduler_options, argc > 0 ? argc - 1 : 0, argv + (argc > 0), c, &o, err);
    if (r < 0)
        return r;
    *help = o.help;
    const char *const *names = bo_opts_texts(&o, "hostname", &c->n_hostnames);
    if (c->n_hostnames) {
        const char **copy = bo_xcalloc(c->n_hostnames, sizeof(char *));
        memcpy(copy, names, c->n_hostnames * sizeof(char *));
        c->hostnames = copy;
    }
    for (size_t i = 0; r == 0 && i < c->n_hostnames; i++)
        r = bo_ident_check(c->hostnames[i], 253, 0, "--hostname", err);
    if (r < 0) {
        free((void *)c->hostnames);
        c->hostnames = NULL;
    }
    size_t n_allow = 0;
    const char *const *allow = bo_opts_texts(&o, "host-mount-allow", &n_allow);
    if (r == 0 && n_allow > HOST_MOUNT_ALLOW_MAX)
        r = bo_error_set(err, BO_E_INVALID, "--host-mount-allow: at most %d paths", HOST_MOUNT_ALLOW_MAX);
    for (size_t i = 0; r == 0 && i < n_allow; i++)
        r = host_mount_path_check(allow[i], "--host-mount-allow", err);
    if (r == 0 && n_allow) {
        char **copy = bo_xcalloc(n_allow, sizeof(char *));
        memcpy(copy, allow, n_allow * sizeof(char *));
        c->opt.host_mount_allow = copy;
        c->opt.n_host_mount_allow = n_allow;
    }
    if (r == 0 && c->n_hostnames > SCHED_MAX_HOSTNAMES)
        r = bo_error_set(err, BO_E_INVALID, "--hostname: at most %d names", SCHED_MAX_HOSTNAMES);
    if (r == 0 && !o.help && (c->tls_cert != NULL) != (c->tls_key != NULL))
        r = bo_error_set(err, BO_E_INVALID, "--tls-cert and --tls-key go together");
    if (r == 0 && !o.help && o.n_pos > 0)
        r = bo_error_set(err, BO_E_INVALID, "unexpected argument `%.100s` (the scheduler takes only options)",
                         o.pos[0]);
    bo_opts_clear(&o);
    c->opt.terminal_keep_per_job = 100;
    /* Three heartbeats missed before an agent is lost: one late or
     * dropped answer is not a dead machine. */
    if (r == 0 && c->opt.agent_timeout_ms < 3 * c->opt.agent_heartbeat_ms) {
        char to[32], hb[32];
        bo_format_duration(c->opt.agent_timeout_ms, to, sizeof(to));
        bo_format_duration(c->opt.agent_heartbeat_ms, hb, sizeof(hb));
        bo_error_set(err, BO_E_INVALID,
                     "--agent-timeout %s is shorter than 3 heartbeats (--agent-heartbeat %s): healthy agents "
                     "would be marked lost",
                     to, hb);
        r = BO_OPTS_BAD_VALUE;
    }
    return r;
}

void scheduler_default_options(struct sched_options *ret)
{
    char *argv[] = {(char *)"scheduler", NULL};
    struct sched_cli c;
    bool help = false;
    if (parse_args(1, argv, &c, &help, NULL) < 0)
        abort(); /* the table's own defaults are invalid: a bug */
    free((void *)c.hostnames);
    c.opt.host_mount_allow = NULL; /* none without arguments */
    *ret = c.opt;
}

static void observe(const struct http_request *req, unsigned status, int64_t duration_ms, void *ctx)
{
    struct scheduler *s = ctx;
    metrics_observe_request(&s->metrics, req->route ? req->route->name : "unknown", status, duration_ms);
}

/* Run one batch of work (timers or placement) into the group commit: its
 * commands reach the agents in answers that wait for it (durable.h). */
static int run_batch(struct scheduler *s, int (*fn)(struct scheduler *, bo_error_t *), bo_error_t *err)
{
    if (store_begin(s->state.store, err) < 0)
        return -1;
    if (fn(s, err) < 0 || store_commit_deferred(s->state.store, err) < 0) {
        store_rollback(s->state.store);
        return -1;
    }
    return 0;
}

static int do_timers(struct scheduler *s, bo_error_t *err)
{
    return lifecycle_run_timers(&s->state, bo_mono_ms(), err);
}

static int do_place(struct scheduler *s, bo_error_t *err)
{
    int n = placement_run(&s->state, PLACEMENT_PASS_MAX, err);
    return n < 0 ? -1 : 0;
}

/* The earlier of two poll timeouts, where -1 means none. */
static int64_t earliest(int64_t a, int64_t b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static int read_signal(struct scheduler *s, int sigfd, bo_error_t *err)
{
    struct signalfd_siginfo si;
    ssize_t n = read(sigfd, &si, sizeof(si));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n != (ssize_t)sizeof(si))
        return bo_error_sys(err, n < 0 ? errno : EIO, "read signalfd");
    log_info("signal %u: stopping", si.ssi_signo);
    s->stopping = true;
    return 0;
}

/* A request failed its commit with memory ahead of the store: stop before
 * timers or placement act on that memory (the store refuses their writes
 * anyway, see state_fatal). */
static int stop_if_fatal(struct scheduler *s, bo_error_t *err)
{
    if (!s->state.fatal)
        return 0;
    return bo_error_set(err, BO_E_IO, "store failure, stopping to recover from the store on restart: %s",
                        s->state.fatal);
}

/* If no request waits to be read, the loop has heard every agent that
 * spoke before `now`: silence is judged up to there (heard_until_mono).
 * A loop busy for longer than --agent-timeout (a huge create, a long
 * placement pass, a backlog of requests) thus never counts its own
 * deafness against an agent; under an overload that never drains, agents
 * are judged once it does (a late LOST is safe, a false one makes two
 * copies). */
static void note_heard(struct scheduler *s, int64_t now)
{
    if (http_server_drained(s->http))
        s->state.heard_until_mono = now;
}

/* Log refused connections at most every 10 s (an attack must not flood
 * the log). */
static void log_refused(struct scheduler *s, int64_t now)
{
    static uint64_t pending, pending_agents;
    static int64_t last;
    pending += http_server_take_refused(s->http);
    pending_agents += http_server_take_refused_held(s->http);
    if ((pending || pending_agents) && now - last >= 10000) {
        log_warn("connection budget reached: %llu connections refused (--max-connections, "
                 "--max-connections-per-address), %llu agent syncs refused (--api-connection-reserve); %u "
                 "connections open, %u of them agents'",
                 (unsigned long long)pending, (unsigned long long)pending_agents,
                 http_server_connections(s->http), http_server_held(s->http));
        pending = pending_agents = 0;
        last = now;
    }
}

/* One pass over the HTTP server, then the group commit of what it (and the
 * work before it) wrote; the agents' answers leave only after it. With
 * `wait`, the commit is waited for (at the end). */
static void serve(struct scheduler *s, bool wait)
{
    http_server_run(s->http);
    _cleanup_error_ bo_error_t e = NULL;
    if (durable_flush(&s->state, s->http, wait, &e) < 0)
        state_fatal(&s->state, "committing to the store", e->msg);
}

static int loop(struct scheduler *s, int sigfd, bo_error_t *err)
{
    struct sched_state *st = &s->state;
    while (!s->stopping) {
        int64_t now = bo_mono_ms();
        int64_t timeout = placement_is_due(st) ? 0 : -1;
        timeout = earliest(timeout, bo_timer_heap_timeout_ms(&st->timers, now));
        int64_t poll_deadline = agent_sync_next_deadline(st);
        timeout = earliest(timeout, poll_deadline < 0 ? -1 : poll_deadline > now ? poll_deadline - now : 0);
        int64_t read_deadline = task_read_next_deadline();
        timeout = earliest(timeout, read_deadline < 0 ? -1 : read_deadline > now ? read_deadline - now : 0);
        int64_t exec_deadline = exec_session_next_deadline(now);
        timeout = earliest(timeout, exec_deadline < 0 ? -1 : exec_deadline > now ? exec_deadline - now : 0);
        timeout = earliest(timeout, http_server_timeout_ms(s->http));
        /* The store's fd: a group commit finished, its answers may go. */
        struct pollfd pfd[3] = {{http_server_fd(s->http), POLLIN, 0},
                                {sigfd, POLLIN, 0},
                                {store_event_fd(st->store), POLLIN, 0}};
        if (poll(pfd, pfd[2].fd < 0 ? 2 : 3, timeout > INT_MAX ? INT_MAX : (int)timeout) < 0 && errno != EINTR)
            return bo_error_sys(err, errno, "poll");
        if ((pfd[1].revents & POLLIN) && read_signal(s, sigfd, err) < 0)
            return -1;
        serve(s, false);
        if (stop_if_fatal(s, err) < 0)
            return -1;
        now = bo_mono_ms();
        note_heard(s, now);
        log_refused(s, now);
        if (bo_timer_heap_timeout_ms(&st->timers, now) == 0 && run_batch(s, do_timers, err) < 0)
            return -1;
        if (placement_is_due(st) && run_batch(s, do_place, err) < 0)
            return -1;
        task_read_expire(st, now);
        exec_session_expire(st, now);
        agent_sync_wake(s, now);
        serve(s, false);
        if (stop_if_fatal(s, err) < 0)
            return -1;
        note_heard(s, bo_mono_ms());
    }
    return 0;
}

struct join_token_cli {
    const char *data_dir;
    const char *cluster;
    bool rotate;
};

#define JT(m) BO_OPT_AT(struct join_token_cli, m)

const struct bo_option scheduler_join_token_options[] = {
    {.name = "data-dir", .kind = BO_OPT_STRING, .arg = "DIR", .def = "/var/lib/borealis/scheduler",
     .at = JT(data_dir), .help = "the scheduler's data directory"},
    {.name = "cluster", .kind = BO_OPT_STRING, .arg = "NAME", .def = "local", .at = JT(cluster),
     .help = "cluster name (names the CA when it is made here)"},
    {.name = "rotate", .kind = BO_OPT_FLAG, .at = JT(rotate),
     .help = "make a new token: the old one stops working at once (joined agents keep their certificates)"},
    {.name = NULL},
};

const char scheduler_join_token_help[] =
    "Prints the join token agents need to join this cluster (`borealis agent --join-token-file FILE`). It holds "
    "the fingerprint of the scheduler's CA, so an agent verifies the scheduler before it sends the secret part. "
    "Works offline from the data directory (the running scheduler reads the token file at every join, so "
    "--rotate takes effect at once); the CA is made there if missing.";

int scheduler_join_token_main(int argc, char **argv)
{
    struct join_token_cli c = {0};
    struct bo_opts o;
    _cleanup_error_ bo_error_t err = NULL;
    int r = bo_opts_parse(scheduler_join_token_options, argc - 1, argv + 1, &c, &o, &err);
    if (r == 0 && o.n_pos > 0)
        r = bo_error_set(&err, BO_E_INVALID, "unexpected argument `%.100s`", o.pos[0]);
    bool help = r == 0 && o.help;
    bo_opts_clear(&o);
    if (r < 0) {
        fprintf(stderr, "borealis scheduler join-token: %s\n", err->msg);
        return 2;
    }
    if (help) {
        const struct bo_option *const tables[] = {scheduler_join_token_options, NULL};
        struct bo_help_page p = {.usage = "borealis scheduler join-token [--rotate] [--data-dir DIR]",
                                 .text = scheduler_join_token_help,
                                 .options = tables,
                                 .examples = "borealis scheduler join-token --data-dir /var/lib/borealis/scheduler "
                                             "> /etc/borealis/join-token"};
        bo_help_page(stdout, &p);
        return 0;
    }
    _cleanup_free_ char *token = NULL;
    if (agent_auth_join_token(c.data_dir, c.cluster, c.rotate, &token, &err) < 0) {
        fprintf(stderr, "borealis scheduler join-token: %s\n", err->msg);
        return 1;
    }
    printf("%s\n", token);
    return 0;
}

static bool is_loopback(const char *addr)
{
    struct in_addr a;
    return (inet_pton(AF_INET, addr, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127) || strcmp(addr, "::1") == 0;
}

/* The names and addresses of the certificate the scheduler issues itself:
 * localhost, 127.0.0.1, the --listen address (every local IPv4 address
 * for 0.0.0.0) and the --hostname names. */
static int issue_server_cert(struct scheduler *s, const struct sched_cli *cli, bo_error_t *err)
{
    const char *dns[SCHED_MAX_HOSTNAMES + 1] = {"localhost"};
    size_t n_dns = 1;
    for (size_t i = 0; i < cli->n_hostnames; i++)
        dns[n_dns++] = cli->hostnames[i];
    char ipbuf[34][INET_ADDRSTRLEN];
    const char *ips[34] = {"127.0.0.1", "::1"};
    size_t n_ips = 2;
    if (strcmp(cli->listen, "0.0.0.0") == 0 || strcmp(cli->listen, "::") == 0) {
        struct ifaddrs *ifa = NULL;
        if (getifaddrs(&ifa) == 0) {
            for (struct ifaddrs *i = ifa; i && n_ips < 34; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
                    continue;
                inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ipbuf[n_ips], INET_ADDRSTRLEN);
                if (strcmp(ipbuf[n_ips], "127.0.0.1") != 0) {
                    ips[n_ips] = ipbuf[n_ips];
                    n_ips++;
                }
            }
            freeifaddrs(ifa);
        }
    } else if (strcmp(cli->listen, "127.0.0.1") != 0 && strcmp(cli->listen, "::1") != 0) {
        ips[n_ips++] = cli->listen;
    }
    return agent_auth_server_cert(&s->agent_auth, dns, n_dns, ips, n_ips, cli->tls_cert, cli->tls_key, err);
}

/* Connections: a budget below the open file limit (the store, the signalfd
 * and MHD's epoll need descriptors too), a tenth kept for agents. */
static void connection_config(const struct sched_cli *cli, struct http_server_config *cfg)
{
    struct rlimit rl;
    uint64_t budget = (uint64_t)cli->max_connections;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        uint64_t room = rl.rlim_cur > 256 ? rl.rlim_cur - 128 : rl.rlim_cur / 2;
        if (budget > room)
            budget = room; /* logged with the budget */
    }
    cfg->max_connections = (unsigned)budget;
    cfg->reserve = (unsigned)(budget / 10);
    uint64_t api = (uint64_t)cli->api_reserve < budget / 2 ? (uint64_t)cli->api_reserve : budget / 2;
    cfg->held_route = "agent_sync";
    cfg->max_held = (unsigned)(budget - api);
    cfg->per_address = (unsigned)cli->max_per_address;
    cfg->idle_timeout_s = (unsigned)((cli->idle_timeout_ms + 999) / 1000);
}

int scheduler_main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "join-token") == 0)
        return scheduler_join_token_main(argc - 1, argv + 1);
    bo_log_init("scheduler");
    int64_t started = bo_mono_ms();
    struct sched_cli cli;
    bool help = false;
    _cleanup_error_ bo_error_t err = NULL;
    if (parse_args(argc, argv, &cli, &help, &err) < 0) {
        fprintf(stderr, "borealis scheduler: %s\nRun `borealis scheduler --help` for its options.\n", err->msg);
        return 2;
    }
    _cleanup_free_ void *hostnames = (void *)cli.hostnames; /* the array; names are argv's */
    (void)hostnames;
    _cleanup_free_ void *mount_allow = (void *)cli.opt.host_mount_allow; /* likewise */
    (void)mount_allow;
    if (help) {
        usage(stdout);
        return 0;
    }
    if (job_ident_validate(cli.opt.cluster, "--cluster", &err) < 0) {
        fprintf(stderr, "borealis scheduler: %s\n", err->msg);
        return 2;
    }
    /* Agents hold a connection each; make room for many (best effort: the
     * scheduler works with fewer agents without it). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("raising the open file limit to %llu: %s", (unsigned long long)rl.rlim_max,
                     strerror(errno));
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    _cleanup_close_ int sigfd = -1;
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
        (sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        log_error("setting up signal handling: %s", strerror(errno));
        return 1;
    }

    struct scheduler *s = bo_xcalloc(1, sizeof(*s));
    s->metrics.started_wall_ms = bo_wall_ms();
    struct store *store = NULL;
    int rc = SCHEDULER_EXIT_STORE;
    if (sched_store_open(cli.data_dir, cli.sync != SYNC_NORMAL, cli.new_cluster, &store, &err) < 0)
        goto out;
    state_init(&s->state, &cli.opt, store);
    int64_t t0 = bo_mono_ms();
    if (state_load(&s->state, &err) < 0)
        goto out;
    int64_t loaded = bo_mono_ms();
    rc = 1;
    char jobs[48], tasks[48], agents[48];
    bo_format_count(HASH_COUNT(s->state.jobs), "job", jobs, sizeof(jobs));
    bo_format_count(HASH_COUNT(s->state.tasks), "task", tasks, sizeof(tasks));
    bo_format_count(HASH_COUNT(s->state.agents), "agent", agents, sizeof(agents));
    log_info("recovered %s, %s, %s from %s in %lld ms", jobs, tasks, agents, store_path(store),
             (long long)(loaded - t0));
    if (auth_load(&s->auth, store, &err) < 0 || audit_load(&s->audit, store, cli.audit_keep, &err) < 0)
        goto out;
    int made = auth_bootstrap(&s->auth, store, cli.data_dir, cli.new_admin_token, bo_wall_ms(), &err);
    if (made < 0)
        goto out;
    if (made)
        log_info("admin token written to %s/" AUTH_ADMIN_TOKEN_FILE " (mode 0600)", cli.data_dir);
    s->hostnames = (char **)cli.hostnames;
    s->n_hostnames = cli.n_hostnames;
    lifecycle_recovered(&s->state, bo_mono_ms(), bo_wall_ms());
    lifecycle_maintenance_recovered(&s->state);
    s->state.update_step = update_step;
    update_recovered(&s->state);
    s->state.agent_waiting = agent_sync_is_waiting;
    if (agent_auth_open(&s->agent_auth, cli.data_dir, cli.opt.cluster, &err) < 0)
        goto out;
    s->agent_auth.max_agents = cli.opt.max_agents;
    s->agent_auth.max_pending = cli.max_pending_agents;
    s->agent_auth.pending_ttl_ms = cli.join_expiry_ms;
    s->tls = !cli.insecure;
    if (s->tls && issue_server_cert(s, &cli, &err) < 0)
        goto out;
    struct http_server_config hc = {.listen = cli.listen, .port = (unsigned)cli.port};
    if (s->tls) {
        hc.cert_pem = s->agent_auth.server_cert;
        hc.key_pem = s->agent_auth.server_key;
        hc.trust_pem = tls_ca_pem(s->agent_auth.ca);
    }
    connection_config(&cli, &hc);
    if (http_server_start(&hc, api_routes, api_routes_count, s, observe, &s->http, &err) < 0)
        goto out;
    http_server_set_gate(s->http, gate_check);
    if (!s->tls)
        log_warn("serving plain HTTP (--insecure-listen-without-tls)%s: anyone reaching %s can read the traffic "
                 "and speak as any agent", is_loopback(cli.listen) ? "" : " on a non-loopback address", cli.listen);
    bool v6 = strchr(cli.listen, ':') != NULL;
    log_info("cluster %s: API on %s://%s%s%s:%u/api/v1 (CA %s, %s)", cli.opt.cluster, s->tls ? "https" : "http",
             v6 ? "[" : "", cli.listen, v6 ? "]" : "", http_server_port(s->http), s->agent_auth.dir,
             tls_ca_fingerprint(s->agent_auth.ca));
    log_info("connections: budget %u (%u kept for agents, agents' syncs on at most %u), %u per address, idle "
             "timeout %us", hc.max_connections, hc.reserve, hc.max_held, hc.per_address, hc.idle_timeout_s);
    /* The agents could not sync while the store loaded (seconds with
     * 100,000s of tasks): their silence counts from now, or a load longer
     * than --agent-timeout would find every agent lost at once. */
    int64_t serving = bo_mono_ms();
    struct sched_agent *ag, *ag_tmp;
    HASH_ITER(hh, s->state.agents, ag, ag_tmp)
    lifecycle_agent_seen_at(ag, serving);
    /* Where a restart's time went (docs/benchmarks.md, "Scale"). */
    log_info("serving %lld ms after start: store opened in %lld ms, loaded in %lld ms, the rest %lld ms",
             (long long)(serving - started), (long long)(t0 - started), (long long)(loaded - t0),
             (long long)(serving - loaded));
    if (loop(s, sigfd, &err) < 0)
        goto out;
    rc = 0;
out:
    if (err)
        log_error("%s", err->msg);
    if (s->http) {
        serve(s, true);
        agent_sync_release_all(&s->state);
        task_read_release_all();
        exec_session_release_all();
        http_server_run(s->http); /* answers the resumed polls */
    }
    http_server_stop(s->http);
    agent_auth_close(&s->agent_auth);
    state_free(&s->state);
    auth_free(&s->auth);
    metrics_free(&s->metrics);
    store_close(store);
    free(s);
    return rc;
}
