/* health.h - the health of a task (Aurora's health checker): when checks
 * run, what passes and failures in a row mean. STARTING becomes RUNNING
 * after min_successes passes in a row; more than max_failures failures in
 * a row make the task unhealthy (failures are forgiven while it is
 * STARTING and initial_interval has not passed). While the snooze file
 * exists no check runs. One attempt is in flight at a time (probe.h). */
#ifndef BO_EXECUTOR_HEALTH_H
#define BO_EXECUTOR_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "executor/probe.h"

struct health {
    const struct health_spec *spec; /* NULL or kind NONE: no checks */
    struct probe probe;
    int64_t started_ms; /* CLOCK_MONOTONIC ms at launch */
    int64_t next_ms;    /* when the next attempt is due */
    int64_t successes, failures; /* in a row */
    int64_t forgiven;   /* failures in a row within initial_interval (logged once) */
    bool healthy;       /* reached min_successes once */
    bool snoozed;
    bool stopped;
};

enum health_event { HEALTH_NOTHING, HEALTH_BECAME_HEALTHY, HEALTH_BECAME_UNHEALTHY };

/* The first check runs at once. */
void health_init(struct health *h, const struct health_spec *spec, int64_t now);
bool health_enabled(const struct health *h);
/* Run what is due at `now`. HEALTH_BECAME_UNHEALTHY comes with
 * *ret_message (heap), e.g. "unhealthy: 3 health checks failed in a row,
 * the last: GET 127.0.0.1:31000/health returned status 500 (expected
 * 200)". */
enum health_event health_run(struct health *h, int64_t now, char **ret_message);
/* How long the loop may sleep, in ms (-1: no limit). */
int health_timeout_ms(const struct health *h, int64_t now);
/* The fd to poll, and for what, or -1. */
int health_poll_fd(const struct health *h, short *ret_events);
/* A child was reaped: true if it was the shell check's. */
bool health_reaped(struct health *h, pid_t pid, int wstatus);
/* No more checks (the task is being killed or has ended). */
void health_stop(struct health *h);
void health_clear(struct health *h);

#endif
