/* task_state.h - the task lifecycle: states, the legal transitions between
 * them (Aurora's table, /work/shared/reference/aurora.md "Task lifecycle"),
 * and the pure rules the scheduler applies when a task ends: whether to
 * reschedule it and how long a flapping task waits in THROTTLED.
 *
 * Pure functions, no allocation, no I/O: the scheduler owns the tasks and
 * asks this module before every state change.
 *
 * The one enum and name table of task states for every program: the
 * scheduler, the agent, and the static executor, which links only src/base
 * and jansson plus this file (see the Makefile). So task_state.c must stay
 * libc only: no other module of the project, no allocation helpers. */
#ifndef BO_MODEL_TASK_STATE_H
#define BO_MODEL_TASK_STATE_H

#include <stdbool.h>
#include <stdint.h>

enum task_state {
    TASK_INIT,
    TASK_THROTTLED,
    TASK_PENDING,
    TASK_ASSIGNED,
    TASK_STARTING,
    TASK_RUNNING,
    TASK_FINISHED,
    TASK_PREEMPTING,
    TASK_RESTARTING,
    TASK_DRAINING,
    TASK_FAILED,
    TASK_KILLED,
    TASK_KILLING,
    TASK_LOST,
    TASK_PARTITIONED,
    TASK_DELETED, /* pseudo-state: KILLING -> (deleted); the task record goes away */
    TASK_STATE_COUNT
};

/* "RUNNING"; "INVALID" for a value outside the enum (never NULL, so it is
 * safe in a printf). */
const char *task_state_name(enum task_state s);
/* Exact, case-sensitive upper-case name ("RUNNING", also "DELETED") to
 * state. Returns 0, or -1 without touching *ret. */
int task_state_from_name(const char *name, enum task_state *ret);

/* FAILED, FINISHED, KILLED, LOST. */
bool task_state_is_terminal(enum task_state s);
/* Not terminal and not DELETED: the task still counts against its job. */
bool task_state_is_active(enum task_state s);
/* STARTING, RUNNING, FINISHED, FAILED, KILLED: what an executor writes in
 * status.json (STARTING until the task is healthy). */
bool task_state_executor_reports(enum task_state s);
/* Those and LOST: what an agent may send in an update. */
bool task_state_agent_reports(enum task_state s);
/* ASSIGNED, KILLING, DRAINING: the scheduler sends the task's agent a
 * command for it (a launch, a kill) until the agent reports it. */
bool task_state_awaits_agent(enum task_state s);
/* Aurora's transition table. same -> same is false (a duplicate status
 * update is not a transition; callers ignore it). Out-of-range is false. */
bool task_state_can_transition(enum task_state from, enum task_state to);
/* Why from -> to is refused, for user-facing messages, e.g.
 * "cannot go from FINISHED to RUNNING: FINISHED is terminal".
 * NULL when the transition is allowed. The string is static (owned by this
 * module, valid for the life of the process; thread-safe). */
const char *task_state_refusal(enum task_state from, enum task_state to);

struct reschedule_input {
    bool service;
    int64_t max_task_failures; /* -1 = forever */
    int64_t failure_count;     /* failures of this instance so far, INCLUDING this one if it failed */
    enum task_state terminal;  /* the terminal state just entered */
    enum task_state previous;  /* the state it came from */
    bool kill_requested;       /* it passed through KILLING (user kill): never reschedule */
};
/* Whether a task that just entered `in->terminal` gets a replacement task
 * (Aurora's rules, in this order):
 *   - not a terminal state: no;
 *   - came from KILLING or kill_requested: no (the user asked for it to stop);
 *   - came from RESTARTING, DRAINING or PREEMPTING: yes (the scheduler
 *     stopped it in order to run it again, elsewhere or anew);
 *   - FINISHED: only services;
 *   - FAILED: services always; others while failure_count < max_task_failures,
 *     or always when max_task_failures is negative (-1);
 *   - KILLED or LOST (not after KILLING): yes. */
bool task_should_reschedule(const struct reschedule_input *in);

/* Penalty before a rescheduled task may leave THROTTLED: 0 for 0 (or a
 * negative number of) consecutive flaps, first_ms for 1, doubling each
 * time, capped at max_ms; first_ms <= 0 turns it off. With Aurora's values
 * (the scheduler's defaults, 30 s and 5 min): 0, 30 s, 60 s, 120 s, 240 s,
 * 300 s, 300 s, ... The flap window and the transient-state timeout are
 * scheduler options too (src/scheduler/scheduler.c). */
int64_t task_flap_penalty_ms(int consecutive_flaps, int64_t first_ms, int64_t max_ms);

/* ASSIGNED, PREEMPTING, RESTARTING, DRAINING, KILLING: states the scheduler
 * expects the agent to move the task out of soon. (STARTING is not: with
 * health checks a task may legitimately stay STARTING for long.) */
bool task_state_is_transient(enum task_state s);

#endif
