/* metrics.h - counters the scheduler exports at /metrics (Prometheus text
 * format): API requests by route and code, tasks by state, agents, placement
 * latency, store commits. */
#ifndef BO_SCHEDULER_METRICS_H
#define BO_SCHEDULER_METRICS_H

#include <stdint.h>

#include "net/http_server.h"
#include "scheduler/state.h"

struct metric_request {
    const char *route;
    unsigned code;
    uint64_t count;
    uint64_t duration_ms_sum;
    struct metric_request *next;
};

struct metrics {
    struct metric_request *requests;
    int64_t started_wall_ms;
};

void metrics_observe_request(struct metrics *m, const char *route, unsigned code, int64_t duration_ms);
char *metrics_render(const struct metrics *m, struct sched_state *st);
void metrics_free(struct metrics *m);

#endif
