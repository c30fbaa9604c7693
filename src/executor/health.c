/* health.c - the health check schedule and its counters (see health.h). */
#include "executor/health.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"

void health_init(struct health *h, const struct health_spec *spec, int64_t now)
{
    *h = (struct health){.spec = spec, .started_ms = now, .next_ms = now};
    probe_init(&h->probe);
}

bool health_enabled(const struct health *h)
{
    return h->spec && h->spec->kind != HEALTH_NONE && !h->stopped;
}

/* What was checked, for messages: "GET 127.0.0.1:8080/health". */
static char *what(const struct health_spec *s)
{
    switch (s->kind) {
    case HEALTH_HTTP:
        return bo_xasprintf("GET 127.0.0.1:%d%s", s->port, s->path);
    case HEALTH_TCP:
        return bo_xasprintf("TCP connect to 127.0.0.1:%d", s->port);
    case HEALTH_SHELL: {
        size_t n = strlen(s->command);
        return bo_xasprintf("command `%.64s%s`", s->command, n > 64 ? "..." : "");
    }
    default:
        return bo_xstrdup("nothing");
    }
}

static bool snoozing(const struct health *h)
{
    struct stat st;
    /* The task owns the sandbox: a symlink counts as the file existing,
     * it is never followed. */
    return fstatat(AT_FDCWD, h->spec->snooze_file, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static enum health_event record(struct health *h, enum probe_result r, int64_t now, char **ret_message)
{
    const struct health_spec *s = h->spec;
    if (r == PROBE_PASSED) {
        if (h->failures)
            log_info("health check passes again");
        h->failures = 0;
        h->forgiven = 0;
        h->successes++;
        if (!h->healthy && h->successes >= s->min_successes) {
            h->healthy = true;
            log_info("healthy after %lld check(s) in a row passed", (long long)h->successes);
            return HEALTH_BECAME_HEALTHY;
        }
        return HEALTH_NOTHING;
    }
    h->successes = 0;
    _cleanup_free_ char *w = what(s);
    const char *why = h->probe.message ? h->probe.message : "failed";
    if (!h->healthy && now < h->started_ms + s->initial_interval_ms) {
        if (h->forgiven++ == 0)
            log_info("health check: %s: %s (forgiven: within initial_interval)", w, why);
        return HEALTH_NOTHING;
    }
    h->failures++;
    log_info("health check failed (%lld in a row): %s: %s", (long long)h->failures, w, why);
    if (h->failures <= s->max_failures)
        return HEALTH_NOTHING;
    *ret_message = bo_xasprintf("unhealthy: %lld health check(s) failed in a row, the last: %s: %s",
                                (long long)h->failures, w, why);
    return HEALTH_BECAME_UNHEALTHY;
}

enum health_event health_run(struct health *h, int64_t now, char **ret_message)
{
    if (!health_enabled(h))
        return HEALTH_NOTHING;
    if (h->probe.active) {
        enum probe_result r = probe_advance(&h->probe, h->spec, now);
        if (r == PROBE_PENDING)
            return HEALTH_NOTHING;
        enum health_event e = record(h, r, now, ret_message);
        if (e != HEALTH_NOTHING)
            return e;
    }
    if (now < h->next_ms)
        return HEALTH_NOTHING;
    /* From the start of one attempt to the next; a late wake-up does not
     * make a burst. */
    h->next_ms = now + h->spec->interval_ms;
    bool snooze = snoozing(h);
    if (snooze != h->snoozed)
        log_info("health checks %s (`%s` %s)", snooze ? "paused" : "resumed", h->spec->snooze_file,
                 snooze ? "exists" : "is gone");
    h->snoozed = snooze;
    if (snooze)
        return HEALTH_NOTHING;
    enum probe_result r = probe_start(&h->probe, h->spec, now);
    if (r == PROBE_PENDING)
        return HEALTH_NOTHING;
    return record(h, r, now, ret_message);
}

int health_timeout_ms(const struct health *h, int64_t now)
{
    if (!health_enabled(h))
        return -1;
    /* The next attempt waits for the one in flight. */
    int64_t until = h->probe.active ? h->probe.deadline : h->next_ms;
    if (until <= now)
        return 0;
    return until - now > INT32_MAX ? INT32_MAX : (int)(until - now);
}

int health_poll_fd(const struct health *h, short *ret_events)
{
    if (!health_enabled(h))
        return -1;
    return probe_poll_fd(&h->probe, ret_events);
}

bool health_reaped(struct health *h, pid_t pid, int wstatus)
{
    return probe_reaped(&h->probe, pid, wstatus);
}

void health_stop(struct health *h)
{
    probe_abort(&h->probe);
    h->stopped = true;
}

void health_clear(struct health *h)
{
    probe_clear(&h->probe);
    h->stopped = true;
}
