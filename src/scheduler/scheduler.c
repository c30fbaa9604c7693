/* scheduler.c - `borealis scheduler`: options, recovery and the event loop.
 *
 * One thread does everything: it polls the HTTP server's epoll fd and a
 * signalfd, runs MHD, then the timers that are due and a placement pass
 * when something changed, each in one store batch committed before any
 * agent hears of it. The poll sleeps until the earliest deadline (timer
 * heap, long polls, MHD), so an idle scheduler does not wake up. No locks,
 * and the order of events is the order of the loop. */
#include "scheduler/scheduler.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/parse.h"
#include "scheduler/agent_sync.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/store_open.h"

/* Tasks examined per placement pass: about 100 ms of work at the measured
 * ~50k/s, then the loop serves HTTP again (and agents get their launches). */
#define PLACEMENT_PASS_MAX 5000

struct sched_cli {
    const char *data_dir;
    const char *listen;
    int64_t port;
    bool sync_normal;
    bool new_cluster;
    struct sched_options opt;
};

enum opt_type { OPT_STRING, OPT_PORT, OPT_DURATION, OPT_SYNC, OPT_FLAG };

/* One table: getopt's long options, defaults and --help all come from it. */
static const struct sched_option {
    const char *name;
    enum opt_type type;
    const char *def;
    size_t offset;
    const char *help;
} sched_options[] = {
    {"data-dir", OPT_STRING, "/var/lib/borealis/scheduler", offsetof(struct sched_cli, data_dir),
     "directory of the embedded store (created if missing); a new cluster starts only in an empty one"},
    {"new-cluster", OPT_FLAG, NULL, offsetof(struct sched_cli, new_cluster),
     "make a new, empty cluster even though the data directory holds other files or a 0-byte store "
     "(a store with data is opened as usual, never replaced)"},
    {"listen", OPT_STRING, "127.0.0.1", offsetof(struct sched_cli, listen), "IPv4 address to serve the API on"},
    {"port", OPT_PORT, "8081", offsetof(struct sched_cli, port), "TCP port of the API (0: any free port)"},
    {"cluster", OPT_STRING, "local", offsetof(struct sched_cli, opt.cluster),
     "cluster name; jobs for another cluster are refused"},
    {"agent-timeout", OPT_DURATION, "30s", offsetof(struct sched_cli, opt.agent_timeout_ms),
     "an agent silent this long is lost and its tasks rescheduled"},
    {"flap-window", OPT_DURATION, "5m", offsetof(struct sched_cli, opt.flap_window_ms),
     "a run shorter than this counts as flapping"},
    {"flap-penalty", OPT_DURATION, "30s", offsetof(struct sched_cli, opt.flap_penalty_ms),
     "first THROTTLED delay of a flapping task (doubles per flap)"},
    {"flap-penalty-max", OPT_DURATION, "5m", offsetof(struct sched_cli, opt.flap_penalty_max_ms),
     "cap of the flapping penalty"},
    {"transient-timeout", OPT_DURATION, "5m", offsetof(struct sched_cli, opt.transient_timeout_ms),
     "a task stuck in ASSIGNED, KILLING, ... this long becomes LOST"},
    {"command-resend", OPT_DURATION, "10s", offsetof(struct sched_cli, opt.command_resend_ms),
     "resend an unanswered launch or kill after this long"},
    {"sync", OPT_SYNC, "full", offsetof(struct sched_cli, sync_normal),
     "store durability: full (fsync every commit) or normal (survives process crashes only)"},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: borealis scheduler [OPTIONS]\n\nRuns the scheduler: the cluster state, its store and "
               "the HTTP API.\n\nOptions:\n");
    for (size_t i = 0; i < BO_ARRAY_SIZE(sched_options); i++) {
        const struct sched_option *o = &sched_options[i];
        if (o->def)
            fprintf(f, "  --%-20s %s (default: %s)\n", o->name, o->help, o->def);
        else
            fprintf(f, "  --%-20s %s\n", o->name, o->help);
    }
    fprintf(f, "  --%-20s show this help\n", "help");
    fprintf(f, "\nExit codes: 0 stopped by SIGINT/SIGTERM; 1 failed while running (e.g. a store write failed: "
               "fail-stop); 2 usage error; %d the store was refused at start: missing from a data directory "
               "that holds other files, empty (0 bytes), unreadable, or holding an invalid row (the message "
               "names the file, table and row).\n",
            SCHEDULER_EXIT_STORE);
}

static int set_option(struct sched_cli *c, const struct sched_option *o, const char *v, bo_error_t *err)
{
    void *field = (char *)c + o->offset;
    _cleanup_free_ char *what = bo_xasprintf("--%s", o->name);
    switch (o->type) {
    case OPT_STRING:
        if (!*v)
            return bo_error_set(err, BO_E_INVALID, "%s: must not be empty", what);
        *(const char **)field = v;
        return 0;
    case OPT_PORT:
        return bo_parse_i64(v, 0, 65535, what, (int64_t *)field, err);
    case OPT_DURATION:
        return bo_parse_duration_ms(v, what, (int64_t *)field, err);
    case OPT_FLAG:
        *(bool *)field = v != NULL;
        return 0;
    case OPT_SYNC:
        if (strcmp(v, "full") != 0 && strcmp(v, "normal") != 0)
            return bo_error_set(err, BO_E_INVALID, "%s: `%s` must be full or normal", what, v);
        *(bool *)field = strcmp(v, "normal") == 0;
        return 0;
    }
    return -1;
}

static int parse_args(int argc, char **argv, struct sched_cli *c, bool *help, bo_error_t *err)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < BO_ARRAY_SIZE(sched_options); i++)
        if (sched_options[i].type != OPT_FLAG && set_option(c, &sched_options[i], sched_options[i].def, err) < 0)
            return -1;
    struct option lo[BO_ARRAY_SIZE(sched_options) + 2];
    for (size_t i = 0; i < BO_ARRAY_SIZE(sched_options); i++)
        lo[i] = (struct option){sched_options[i].name,
                                sched_options[i].type == OPT_FLAG ? no_argument : required_argument, NULL,
                                (int)i + 1000};
    lo[BO_ARRAY_SIZE(sched_options)] = (struct option){"help", no_argument, NULL, 'h'};
    lo[BO_ARRAY_SIZE(sched_options) + 1] = (struct option){0};
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (ch == 'h') {
            *help = true;
            return 0;
        }
        if (ch == '?' || ch == ':')
            return bo_error_set(err, BO_E_INVALID, "unknown option or missing value: `%s`", argv[optind - 1]);
        if (set_option(c, &sched_options[ch - 1000], optarg ? optarg : "", err) < 0)
            return -1;
    }
    if (optind < argc)
        return bo_error_set(err, BO_E_INVALID, "unexpected argument `%s`", argv[optind]);
    c->opt.terminal_keep_per_job = 100;
    return 0;
}

void scheduler_default_options(struct sched_options *ret)
{
    char *argv[] = {(char *)"scheduler", NULL};
    struct sched_cli c;
    bool help = false;
    if (parse_args(1, argv, &c, &help, NULL) < 0)
        abort(); /* the table's own defaults are invalid: a bug */
    *ret = c.opt;
}

static void observe(const struct http_request *req, unsigned status, int64_t duration_ms, void *ctx)
{
    struct scheduler *s = ctx;
    metrics_observe_request(&s->metrics, req->route ? req->route->name : "unknown", status, duration_ms);
}

/* Run one batch of work (timers or placement) and commit it. */
static int run_batch(struct scheduler *s, int (*fn)(struct scheduler *, bo_error_t *), bo_error_t *err)
{
    if (store_begin(s->state.store, err) < 0)
        return -1;
    if (fn(s, err) < 0 || store_commit(s->state.store, err) < 0) {
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

static int loop(struct scheduler *s, int sigfd, bo_error_t *err)
{
    struct sched_state *st = &s->state;
    while (!s->stopping) {
        int64_t now = bo_mono_ms();
        int64_t timeout = placement_is_due(st) ? 0 : -1;
        timeout = earliest(timeout, bo_timer_heap_timeout_ms(&st->timers, now));
        int64_t poll_deadline = agent_sync_next_deadline(st);
        timeout = earliest(timeout, poll_deadline < 0 ? -1 : poll_deadline > now ? poll_deadline - now : 0);
        timeout = earliest(timeout, http_server_timeout_ms(s->http));
        struct pollfd pfd[2] = {{http_server_fd(s->http), POLLIN, 0}, {sigfd, POLLIN, 0}};
        if (poll(pfd, 2, timeout > INT_MAX ? INT_MAX : (int)timeout) < 0 && errno != EINTR)
            return bo_error_sys(err, errno, "poll");
        if ((pfd[1].revents & POLLIN) && read_signal(s, sigfd, err) < 0)
            return -1;
        http_server_run(s->http);
        if (stop_if_fatal(s, err) < 0)
            return -1;
        now = bo_mono_ms();
        if (bo_timer_heap_timeout_ms(&st->timers, now) == 0 && run_batch(s, do_timers, err) < 0)
            return -1;
        if (placement_is_due(st) && run_batch(s, do_place, err) < 0)
            return -1;
        agent_sync_wake(st, now);
        http_server_run(s->http);
        if (stop_if_fatal(s, err) < 0)
            return -1;
    }
    return 0;
}

int scheduler_main(int argc, char **argv)
{
    bo_log_init("scheduler");
    struct sched_cli cli;
    bool help = false;
    _cleanup_error_ bo_error_t err = NULL;
    if (parse_args(argc, argv, &cli, &help, &err) < 0) {
        fprintf(stderr, "borealis scheduler: %s\n(see borealis scheduler --help)\n", err->msg);
        return 2;
    }
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
    if (sched_store_open(cli.data_dir, !cli.sync_normal, cli.new_cluster, &store, &err) < 0)
        goto out;
    state_init(&s->state, &cli.opt, store);
    int64_t t0 = bo_mono_ms();
    if (state_load(&s->state, &err) < 0)
        goto out;
    rc = 1;
    log_info("recovered %u jobs, %u tasks, %u agents from %s in %lld ms", HASH_COUNT(s->state.jobs),
             HASH_COUNT(s->state.tasks), HASH_COUNT(s->state.agents), store_path(store),
             (long long)(bo_mono_ms() - t0));
    lifecycle_recovered(&s->state, bo_mono_ms(), bo_wall_ms());
    if (http_server_start(cli.listen, (unsigned)cli.port, api_routes, api_routes_count, s, observe, &s->http,
                          &err) < 0)
        goto out;
    log_info("cluster %s: API on http://%s:%u/api/v1", cli.opt.cluster, cli.listen, http_server_port(s->http));
    if (loop(s, sigfd, &err) < 0)
        goto out;
    rc = 0;
out:
    if (err)
        log_error("%s", err->msg);
    if (s->http) {
        agent_sync_release_all(&s->state);
        http_server_run(s->http); /* answers the resumed polls */
    }
    http_server_stop(s->http);
    state_free(&s->state);
    metrics_free(&s->metrics);
    store_close(store);
    free(s);
    return rc;
}
