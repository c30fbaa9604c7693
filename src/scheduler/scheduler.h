/* scheduler.h - the scheduler daemon: options, the single-threaded event
 * loop (HTTP, timers, placement) and its entry point for `borealis
 * scheduler`. */
#ifndef BO_SCHEDULER_SCHEDULER_H
#define BO_SCHEDULER_SCHEDULER_H

#include "base/options.h"
#include "net/http_server.h"
#include "scheduler/agent_auth.h"
#include "scheduler/audit.h"
#include "scheduler/auth.h"
#include "scheduler/metrics.h"
#include "scheduler/state.h"

struct scheduler {
    struct sched_state state;
    struct http_server *http;
    struct metrics metrics;
    struct auth auth;
    struct audit audit;
    char **hostnames; /* --hostname: names the Host header may carry */
    size_t n_hostnames;
    struct agent_auth agent_auth; /* agents' identity: CA, join token, revocation */
    bool tls; /* the API is served over TLS: agents must show their certificate */
    bool stopping;
};

/* The option table of `borealis scheduler`, its help text and examples
 * (also shown by `borealis help scheduler` and in docs/cli.md). */
extern const struct bo_option scheduler_options[];
extern const char scheduler_help_text[];
extern const char scheduler_examples[];

/* The options `borealis scheduler` runs with when given none (from its
 * option table: the one place defaults are written). */
void scheduler_default_options(struct sched_options *ret);

/* Exit code when the store is refused at start (missing where it should
 * be, empty, unreadable, or holding an invalid row); 1 is any failure
 * while running, 2 a usage error. */
#define SCHEDULER_EXIT_STORE 3

/* argv[0] is "scheduler". Returns a process exit code. */
int scheduler_main(int argc, char **argv);

/* `borealis scheduler join-token` (argv[0] is "join-token"). */
extern const struct bo_option scheduler_join_token_options[];
extern const char scheduler_join_token_help[];
int scheduler_join_token_main(int argc, char **argv);

/* Routes of the public API (api.c). */
extern const struct http_route api_routes[];
extern const size_t api_routes_count;

#endif
