/* metrics.c - Prometheus text exposition. */
#include "scheduler/metrics.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"

void metrics_observe_request(struct metrics *m, const char *route, unsigned code, int64_t duration_ms)
{
    struct metric_request *r;
    for (r = m->requests; r; r = r->next)
        if (r->code == code && strcmp(r->route, route) == 0)
            break;
    if (!r) {
        r = bo_xcalloc(1, sizeof(*r));
        r->route = route;
        r->code = code;
        r->next = m->requests;
        m->requests = r;
    }
    r->count++;
    r->duration_ms_sum += (uint64_t)(duration_ms > 0 ? duration_ms : 0);
}

char *metrics_render(const struct metrics *m, struct sched_state *st)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    fprintf(f, "# HELP borealis_tasks Tasks by state.\n# TYPE borealis_tasks gauge\n");
    for (int s = 0; s < TASK_STATE_COUNT; s++)
        if (s != TASK_DELETED)
            fprintf(f, "borealis_tasks{state=\"%s\"} %lld\n", task_state_name((enum task_state)s),
                    (long long)st->count_by_state[s]);
    fprintf(f, "# HELP borealis_jobs Jobs known to the scheduler.\n# TYPE borealis_jobs gauge\n");
    fprintf(f, "borealis_jobs %u\n", HASH_COUNT(st->jobs));
    fprintf(f, "# HELP borealis_agents Agents by state.\n# TYPE borealis_agents gauge\n");
    fprintf(f, "borealis_agents{state=\"up\"} %lld\n", (long long)st->agents_up);
    fprintf(f, "borealis_agents{state=\"lost\"} %lld\n", (long long)(HASH_COUNT(st->agents) - st->agents_up));
    fprintf(f, "# HELP borealis_placement_latency_ms Time from PENDING to ASSIGNED.\n"
               "# TYPE borealis_placement_latency_ms histogram\n");
    for (size_t b = 0; b < BO_ARRAY_SIZE(placement_latency_bounds_ms); b++)
        fprintf(f, "borealis_placement_latency_ms_bucket{le=\"%lld\"} %llu\n",
                (long long)placement_latency_bounds_ms[b], (unsigned long long)st->placement_latency_buckets[b]);
    fprintf(f, "borealis_placement_latency_ms_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)st->placements);
    fprintf(f, "borealis_placement_latency_ms_sum %llu\n", (unsigned long long)st->placement_latency_sum_ms);
    fprintf(f, "borealis_placement_latency_ms_count %llu\n", (unsigned long long)st->placements);
    fprintf(f, "# HELP borealis_reschedules_total Tasks created to replace a terminated task.\n"
               "# TYPE borealis_reschedules_total counter\nborealis_reschedules_total %llu\n",
            (unsigned long long)st->reschedules);
    fprintf(f, "# HELP borealis_agent_sync_reads_total Agent sync requests by the reader that parsed them.\n"
               "# TYPE borealis_agent_sync_reads_total counter\n"
               "borealis_agent_sync_reads_total{reader=\"in_place\"} %llu\n"
               "borealis_agent_sync_reads_total{reader=\"jansson\"} %llu\n",
            (unsigned long long)st->sync_reads_in_place, (unsigned long long)st->sync_reads_jansson);
    struct store_stats ss;
    store_get_stats(st->store, &ss);
    fprintf(f, "# HELP borealis_store_commits_total Store transactions committed.\n"
               "# TYPE borealis_store_commits_total counter\nborealis_store_commits_total %llu\n",
            (unsigned long long)ss.commits);
    fprintf(f, "# HELP borealis_store_puts_total Records written by committed store transactions.\n"
               "# TYPE borealis_store_puts_total counter\nborealis_store_puts_total %llu\n",
            (unsigned long long)ss.puts);
    fprintf(f, "# HELP borealis_api_requests_total API requests by route and status code.\n"
               "# TYPE borealis_api_requests_total counter\n");
    for (const struct metric_request *r = m->requests; r; r = r->next)
        fprintf(f, "borealis_api_requests_total{route=\"%s\",code=\"%u\"} %llu\n", r->route, r->code,
                (unsigned long long)r->count);
    fprintf(f, "# HELP borealis_api_request_duration_ms_sum Total time answering, by route and code.\n"
               "# TYPE borealis_api_request_duration_ms_sum counter\n");
    for (const struct metric_request *r = m->requests; r; r = r->next)
        fprintf(f, "borealis_api_request_duration_ms_sum{route=\"%s\",code=\"%u\"} %llu\n", r->route, r->code,
                (unsigned long long)r->duration_ms_sum);
    fprintf(f, "# HELP borealis_uptime_seconds Seconds since the scheduler started.\n"
               "# TYPE borealis_uptime_seconds gauge\nborealis_uptime_seconds %lld\n",
            (long long)((bo_wall_ms() - m->started_wall_ms) / 1000));
    fclose(f);
    return out;
}

void metrics_free(struct metrics *m)
{
    while (m->requests) {
        struct metric_request *n = m->requests->next;
        free(m->requests);
        m->requests = n;
    }
}
