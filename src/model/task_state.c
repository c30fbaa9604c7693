/* task_state.c - owns the task lifecycle table (names, terminal/transient
 * flags, legal transitions) and the reschedule and flap-penalty rules. */
#include "model/task_state.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define BIT(s) (1u << (s))

/* The whole lifecycle in one table: one row per state, `next` is the set of
 * states it may move to (aurora.md "Task lifecycle"). Adding or changing a
 * transition is editing one cell here. */
/* Who may report a state: the executor (status.json; the agent passes it
 * on) or the agent itself (a lost task). */
#define EXE 1u
#define AGENT 2u

static const struct state_info {
    const char *name;
    bool terminal;
    bool transient;
    uint32_t next;
    unsigned reported_by;
    bool awaits_agent; /* the agent is sent a command for it (launch, kill) */
} states[TASK_STATE_COUNT] = {
    [TASK_INIT] = {"INIT", false, false, BIT(TASK_PENDING) | BIT(TASK_THROTTLED), .reported_by = 0},
    [TASK_THROTTLED] = {"THROTTLED", false, false, BIT(TASK_PENDING) | BIT(TASK_KILLING), .reported_by = 0},
    [TASK_PENDING] = {"PENDING", false, false, BIT(TASK_ASSIGNED) | BIT(TASK_KILLING), .reported_by = 0},
    [TASK_ASSIGNED] = {"ASSIGNED", false, true,
                       BIT(TASK_STARTING) | BIT(TASK_RUNNING) | BIT(TASK_FINISHED) |
                           BIT(TASK_FAILED) | BIT(TASK_RESTARTING) | BIT(TASK_DRAINING) |
                           BIT(TASK_KILLED) | BIT(TASK_KILLING) | BIT(TASK_LOST) |
                           BIT(TASK_PREEMPTING), .reported_by = 0, .awaits_agent = true},
    /* "as ASSIGNED, plus PARTITIONED" (STARTING -> STARTING is no transition) */
    [TASK_STARTING] = {"STARTING", false, false,
                       BIT(TASK_RUNNING) | BIT(TASK_FINISHED) | BIT(TASK_FAILED) |
                           BIT(TASK_RESTARTING) | BIT(TASK_DRAINING) | BIT(TASK_KILLED) |
                           BIT(TASK_KILLING) | BIT(TASK_LOST) | BIT(TASK_PREEMPTING) |
                           BIT(TASK_PARTITIONED), .reported_by = EXE | AGENT},
    [TASK_RUNNING] = {"RUNNING", false, false,
                      BIT(TASK_FINISHED) | BIT(TASK_RESTARTING) | BIT(TASK_DRAINING) |
                          BIT(TASK_FAILED) | BIT(TASK_KILLING) | BIT(TASK_KILLED) |
                          BIT(TASK_LOST) | BIT(TASK_PREEMPTING) | BIT(TASK_PARTITIONED), .reported_by = EXE | AGENT},
    [TASK_FINISHED] = {"FINISHED", true, false, 0, .reported_by = EXE | AGENT},
    [TASK_PREEMPTING] = {"PREEMPTING", false, true,
                         BIT(TASK_FINISHED) | BIT(TASK_FAILED) | BIT(TASK_KILLING) |
                             BIT(TASK_KILLED) | BIT(TASK_LOST) | BIT(TASK_PARTITIONED), .reported_by = 0},
    [TASK_RESTARTING] = {"RESTARTING", false, true,
                         BIT(TASK_FINISHED) | BIT(TASK_FAILED) | BIT(TASK_KILLING) |
                             BIT(TASK_KILLED) | BIT(TASK_LOST) | BIT(TASK_PARTITIONED), .reported_by = 0},
    [TASK_DRAINING] = {"DRAINING", false, true,
                       BIT(TASK_FINISHED) | BIT(TASK_FAILED) | BIT(TASK_KILLING) |
                           BIT(TASK_KILLED) | BIT(TASK_LOST) | BIT(TASK_PARTITIONED), .reported_by = 0, .awaits_agent = true},
    [TASK_FAILED] = {"FAILED", true, false, 0, .reported_by = EXE | AGENT},
    [TASK_KILLED] = {"KILLED", true, false, 0, .reported_by = EXE | AGENT},
    [TASK_KILLING] = {"KILLING", false, true,
                      BIT(TASK_FINISHED) | BIT(TASK_FAILED) | BIT(TASK_KILLED) | BIT(TASK_LOST) |
                          BIT(TASK_PARTITIONED) | BIT(TASK_DELETED), .reported_by = 0, .awaits_agent = true},
    [TASK_LOST] = {"LOST", true, false, 0, .reported_by = AGENT},
    [TASK_PARTITIONED] = {"PARTITIONED", false, false,
                          BIT(TASK_LOST) | BIT(TASK_FAILED) | BIT(TASK_FINISHED) |
                              BIT(TASK_RUNNING) | BIT(TASK_ASSIGNED) | BIT(TASK_STARTING) |
                              BIT(TASK_RESTARTING) | BIT(TASK_DRAINING) | BIT(TASK_PREEMPTING) |
                              BIT(TASK_KILLING), .reported_by = 0},
    [TASK_DELETED] = {"DELETED", false, false, 0, .reported_by = 0},
};

_Static_assert(TASK_STATE_COUNT <= 32, "transition rows are 32-bit masks");

static bool valid(enum task_state s)
{
    return (unsigned)s < TASK_STATE_COUNT;
}

const char *task_state_name(enum task_state s)
{
    return valid(s) ? states[s].name : "INVALID";
}

int task_state_from_name(const char *name, enum task_state *ret)
{
    if (!name)
        return -1;
    for (int s = 0; s < TASK_STATE_COUNT; s++) {
        if (strcmp(states[s].name, name) == 0) {
            *ret = (enum task_state)s;
            return 0;
        }
    }
    return -1;
}

bool task_state_is_terminal(enum task_state s)
{
    return valid(s) && states[s].terminal;
}

bool task_state_is_active(enum task_state s)
{
    return valid(s) && !states[s].terminal && s != TASK_DELETED;
}

bool task_state_is_transient(enum task_state s)
{
    return valid(s) && states[s].transient;
}

bool task_state_executor_reports(enum task_state s)
{
    return valid(s) && (states[s].reported_by & EXE);
}

bool task_state_agent_reports(enum task_state s)
{
    return valid(s) && (states[s].reported_by & AGENT);
}

bool task_state_awaits_agent(enum task_state s)
{
    return valid(s) && states[s].awaits_agent;
}

bool task_state_can_transition(enum task_state from, enum task_state to)
{
    return valid(from) && valid(to) && (states[from].next & BIT(to));
}

/* Refusal messages are built once, on first use, so callers get a static
 * string naming both states without allocating. The longest (a
 * PARTITIONED or STARTING row listing 10 targets) is about 150 bytes; the
 * unit test checks that none is truncated. */
#define REFUSAL_MAX 256
static char refusals[TASK_STATE_COUNT][TASK_STATE_COUNT][REFUSAL_MAX];
static pthread_once_t refusals_once = PTHREAD_ONCE_INIT;

static void build_refusal(enum task_state from, enum task_state to, char *buf, size_t len)
{
    const char *f = states[from].name, *t = states[to].name;
    if (from == to) {
        snprintf(buf, len, "cannot go from %s to %s: already %s", f, t, f);
    } else if (states[from].terminal) {
        snprintf(buf, len, "cannot go from %s to %s: %s is terminal", f, t, f);
    } else if (from == TASK_DELETED) {
        snprintf(buf, len, "cannot go from %s to %s: the task is deleted", f, t);
    } else {
        size_t n = (size_t)snprintf(buf, len, "cannot go from %s to %s: %s can only go to", f, t, f);
        const char *sep = " ";
        for (int s = 0; s < TASK_STATE_COUNT && n < len; s++) {
            if (!(states[from].next & BIT(s)))
                continue;
            n += (size_t)snprintf(buf + n, len - n, "%s%s", sep, states[s].name);
            sep = ", ";
        }
    }
}

static void build_refusals(void)
{
    for (int from = 0; from < TASK_STATE_COUNT; from++)
        for (int to = 0; to < TASK_STATE_COUNT; to++)
            build_refusal((enum task_state)from, (enum task_state)to, refusals[from][to],
                          REFUSAL_MAX);
}

const char *task_state_refusal(enum task_state from, enum task_state to)
{
    if (!valid(from) || !valid(to))
        return "cannot transition: unknown task state";
    if (task_state_can_transition(from, to))
        return NULL;
    pthread_once(&refusals_once, build_refusals);
    return refusals[from][to];
}

bool task_should_reschedule(const struct reschedule_input *in)
{
    if (!task_state_is_terminal(in->terminal))
        return false;
    /* A user kill wins over everything else: the task must stay dead. */
    if (in->kill_requested || in->previous == TASK_KILLING)
        return false;
    /* The scheduler itself stopped it to run it again (restart, host drain,
     * preemption), so however it ended, it comes back. */
    if (in->previous == TASK_RESTARTING || in->previous == TASK_DRAINING ||
        in->previous == TASK_PREEMPTING)
        return true;
    switch (in->terminal) {
    case TASK_FINISHED:
        return in->service;
    case TASK_FAILED:
        return in->service || in->max_task_failures < 0 ||
               in->failure_count < in->max_task_failures;
    case TASK_KILLED:
    case TASK_LOST:
        return true;
    default:
        return false;
    }
}

int64_t task_flap_penalty_ms(int consecutive_flaps, int64_t first_ms, int64_t max_ms)
{
    if (consecutive_flaps <= 0 || first_ms <= 0)
        return 0;
    int64_t p = first_ms;
    /* Loop rather than shift so a huge count cannot overflow. */
    for (int i = 1; i < consecutive_flaps && p < max_ms; i++)
        p *= 2;
    return p < max_ms ? p : max_ms;
}
