/* scheduler.c - `borealis scheduler`: options, recovery and the event loop.
 *
 * One thread does everything: it polls the HTTP server's epoll fd and a
 * signalfd, runs MHD, then the timers and a placement pass when something
 * changed, each in one store batch committed before any agent hears of it.
 * No locks, and the order of events is the order of the loop. */
#include "scheduler/scheduler.h"

#include <errno.h>
#include <getopt.h>
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

#define TICK_MS 250
/* Tasks examined per placement pass: about 100 ms of work at the measured
 * ~50k/s, then the loop serves HTTP again (and agents get their launches). */
#define PLACEMENT_PASS_MAX 5000

struct sched_cli {
    const char *data_dir;
    const char *listen;
    int64_t port;
    bool sync_normal;
    struct sched_options opt;
};

enum opt_type { OPT_STRING, OPT_PORT, OPT_DURATION, OPT_SYNC };

/* One table: getopt's long options, defaults and --help all come from it. */
static const struct sched_option {
    const char *name;
    enum opt_type type;
    const char *def;
    size_t offset;
    const char *help;
} sched_options[] = {
    {"data-dir", OPT_STRING, "/var/lib/borealis/scheduler", offsetof(struct sched_cli, data_dir),
     "directory of the embedded store (created if missing)"},
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
        fprintf(f, "  --%-20s %s (default: %s)\n", o->name, o->help, o->def);
    }
    fprintf(f, "  --%-20s show this help\n", "help");
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
        if (set_option(c, &sched_options[i], sched_options[i].def, err) < 0)
            return -1;
    struct option lo[BO_ARRAY_SIZE(sched_options) + 2];
    for (size_t i = 0; i < BO_ARRAY_SIZE(sched_options); i++)
        lo[i] = (struct option){sched_options[i].name, required_argument, NULL, (int)i + 1000};
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
        if (set_option(c, &sched_options[ch - 1000], optarg, err) < 0)
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

static int do_tick(struct scheduler *s, bo_error_t *err)
{
    return lifecycle_tick(&s->state, bo_mono_ms(), bo_wall_ms(), err);
}

static int do_place(struct scheduler *s, bo_error_t *err)
{
    int n = placement_run(&s->state, PLACEMENT_PASS_MAX, err);
    return n < 0 ? -1 : 0;
}

static int loop(struct scheduler *s, int sigfd, bo_error_t *err)
{
    int64_t next_tick = bo_mono_ms();
    while (!s->stopping) {
        int64_t now = bo_mono_ms();
        int64_t timeout = next_tick - now;
        int64_t ht = http_server_timeout_ms(s->http);
        if (ht >= 0 && ht < timeout)
            timeout = ht;
        if (s->state.placement_due)
            timeout = 0;
        struct pollfd pfd[2] = {{http_server_fd(s->http), POLLIN, 0}, {sigfd, POLLIN, 0}};
        if (poll(pfd, 2, timeout < 0 ? 0 : (int)timeout) < 0 && errno != EINTR)
            return bo_error_sys(err, errno, "poll");
        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
                log_info("signal %u: stopping", si.ssi_signo);
                s->stopping = true;
            }
        }
        http_server_run(s->http);
        now = bo_mono_ms();
        if (now >= next_tick) {
            if (run_batch(s, do_tick, err) < 0)
                return -1;
            next_tick = now + TICK_MS;
        }
        if (s->state.placement_due && run_batch(s, do_place, err) < 0)
            return -1;
        agent_sync_wake(&s->state, now);
        http_server_run(s->http);
        if (s->state.fatal)
            return bo_error_set(err, BO_E_IO, "store failure, stopping to recover from the store on restart: %s",
                                s->state.fatal);
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
    /* Agents hold a connection each; make room for many. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    struct scheduler *s = bo_xcalloc(1, sizeof(*s));
    s->metrics.started_wall_ms = bo_wall_ms();
    struct store *store = NULL;
    _cleanup_free_ char *db = bo_xasprintf("%s/scheduler.db", cli.data_dir);
    int rc = 1;
    if (bo_mkdir_p(cli.data_dir, 0700, &err) < 0 || store_open_sqlite(db, !cli.sync_normal, &store, &err) < 0)
        goto out;
    state_init(&s->state, &cli.opt, store);
    int64_t t0 = bo_mono_ms();
    if (state_load(&s->state, &err) < 0)
        goto out;
    log_info("recovered %u jobs, %u tasks, %u agents from %s in %lld ms", HASH_COUNT(s->state.jobs),
             HASH_COUNT(s->state.tasks), HASH_COUNT(s->state.agents), db, (long long)(bo_mono_ms() - t0));
    /* Tasks recovered in PENDING go back on the queue; live ones on the
     * timed queue if transient. */
    struct sched_task *t, *tmp;
    HASH_ITER(hh, s->state.tasks, t, tmp)
    {
        if (t->state == TASK_PENDING)
            state_queue_set(&s->state, t, QUEUE_PENDING);
        else if (t->state == TASK_THROTTLED || task_state_is_transient(t->state))
            state_queue_set(&s->state, t, QUEUE_TIMED);
    }
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
    close(sigfd);
    return rc;
}
