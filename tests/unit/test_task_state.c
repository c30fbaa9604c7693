/* Unit tests for the task lifecycle: every cell of the transition table
 * against a literal copy of aurora.md, the reschedule rules and the flap
 * penalty. */
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "model/task_state.h"

/* Independent copy of the names, in enum order. */
static const char *const names[] = {
    "INIT",     "THROTTLED",  "PENDING",    "ASSIGNED", "STARTING", "RUNNING",
    "FINISHED", "PREEMPTING", "RESTARTING", "DRAINING", "FAILED",   "KILLED",
    "KILLING",  "LOST",       "PARTITIONED", "DELETED",
};

/* aurora.md "Task lifecycle", written out literally, one row per state
 * ("STARTING: as ASSIGNED, plus PARTITIONED" and the shared PREEMPTING /
 * RESTARTING / DRAINING row expanded by hand; "(deleted)" is DELETED).
 * States with no row allow nothing. */
static const char *const aurora_table[] = {
    "INIT: PENDING THROTTLED",
    "PENDING: ASSIGNED KILLING",
    "THROTTLED: PENDING KILLING",
    "ASSIGNED: STARTING RUNNING FINISHED FAILED RESTARTING DRAINING KILLED KILLING LOST PREEMPTING",
    "STARTING: RUNNING FINISHED FAILED RESTARTING DRAINING KILLED KILLING LOST PREEMPTING "
    "PARTITIONED",
    "RUNNING: FINISHED RESTARTING DRAINING FAILED KILLING KILLED LOST PREEMPTING PARTITIONED",
    "PREEMPTING: FINISHED FAILED KILLING KILLED LOST PARTITIONED",
    "RESTARTING: FINISHED FAILED KILLING KILLED LOST PARTITIONED",
    "DRAINING: FINISHED FAILED KILLING KILLED LOST PARTITIONED",
    "KILLING: FINISHED FAILED KILLED LOST PARTITIONED DELETED",
    "PARTITIONED: LOST FAILED FINISHED RUNNING ASSIGNED STARTING RESTARTING DRAINING PREEMPTING "
    "KILLING",
    "FINISHED:",
    "FAILED:",
    "KILLED:",
    "LOST:",
    "DELETED:",
};

static int name_index(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == len && strncmp(names[i], s, len) == 0)
            return (int)i;
    fprintf(stderr, "  unknown state in test table: %.*s\n", (int)len, s);
    exit(1);
}

/* Parse aurora_table into expected[from][to]; every state must have
 * exactly one row. */
static void parse_table(bool expected[TASK_STATE_COUNT][TASK_STATE_COUNT])
{
    bool seen[TASK_STATE_COUNT] = {0};
    memset(expected, 0, sizeof(bool) * TASK_STATE_COUNT * TASK_STATE_COUNT);
    for (size_t r = 0; r < sizeof(aurora_table) / sizeof(aurora_table[0]); r++) {
        const char *line = aurora_table[r];
        const char *colon = strchr(line, ':');
        CHECK(colon);
        int from = name_index(line, (size_t)(colon - line));
        CHECK(!seen[from]);
        seen[from] = true;
        const char *p = colon + 1;
        for (;;) {
            while (*p == ' ')
                p++;
            if (!*p)
                break;
            size_t n = strcspn(p, " ");
            int to = name_index(p, n);
            CHECK(!expected[from][to]); /* no duplicates in the literal table */
            expected[from][to] = true;
            p += n;
        }
    }
    for (int s = 0; s < TASK_STATE_COUNT; s++)
        CHECK(seen[s]);
}

TEST(names_match_enum_and_round_trip)
{
    CHECK(sizeof(names) / sizeof(names[0]) == TASK_STATE_COUNT);
    for (int s = 0; s < TASK_STATE_COUNT; s++) {
        CHECK_STR(task_state_name((enum task_state)s), names[s]);
        enum task_state back = TASK_STATE_COUNT;
        CHECK(task_state_from_name(names[s], &back) == 0);
        CHECK(back == (enum task_state)s);
    }
    CHECK_STR(task_state_name(TASK_STATE_COUNT), "INVALID");
    CHECK_STR(task_state_name((enum task_state)-1), "INVALID");
}

TEST(from_name_rejects_and_leaves_ret)
{
    static const char *const bad[] = {"running", "Running", "", "RUNNING ", " RUNNING", "RUN",
                                      "RUNNINGX", "INVALID", "(deleted)"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum task_state s = TASK_KILLED;
        CHECK(task_state_from_name(bad[i], &s) == -1);
        CHECK(s == TASK_KILLED);
    }
    enum task_state s = TASK_KILLED;
    CHECK(task_state_from_name(NULL, &s) == -1);
    CHECK(s == TASK_KILLED);
}

TEST(every_transition_matches_aurora_table)
{
    bool expected[TASK_STATE_COUNT][TASK_STATE_COUNT];
    parse_table(expected);
    int mismatches = 0, allowed = 0;
    for (int from = 0; from < TASK_STATE_COUNT; from++) {
        for (int to = 0; to < TASK_STATE_COUNT; to++) {
            bool got = task_state_can_transition((enum task_state)from, (enum task_state)to);
            const char *why = task_state_refusal((enum task_state)from, (enum task_state)to);
            if (got != expected[from][to] || (why == NULL) != got) {
                fprintf(stderr, "  %s -> %s: expected %s, can_transition %d, refusal %s\n",
                        names[from], names[to], expected[from][to] ? "allowed" : "refused", got,
                        why ? why : "(null)");
                mismatches++;
            }
            allowed += got;
        }
    }
    CHECK(mismatches == 0);
    /* Row sizes add up to the table as written in aurora.md. */
    CHECK(allowed == 2 + 2 + 2 + 10 + 10 + 9 + 6 * 3 + 6 + 10);
}

TEST(same_state_and_out_of_range_refused)
{
    for (int s = 0; s < TASK_STATE_COUNT; s++) {
        CHECK(!task_state_can_transition((enum task_state)s, (enum task_state)s));
        const char *why = task_state_refusal((enum task_state)s, (enum task_state)s);
        CHECK(why);
    }
    CHECK(!task_state_can_transition(TASK_STATE_COUNT, TASK_PENDING));
    CHECK(!task_state_can_transition(TASK_INIT, TASK_STATE_COUNT));
    CHECK(!task_state_can_transition((enum task_state)-1, TASK_PENDING));
    CHECK_CONTAINS(task_state_refusal(TASK_INIT, TASK_STATE_COUNT), "unknown task state");
}

TEST(refusal_messages)
{
    CHECK_STR(task_state_refusal(TASK_FINISHED, TASK_RUNNING),
              "cannot go from FINISHED to RUNNING: FINISHED is terminal");
    CHECK_STR(task_state_refusal(TASK_PENDING, TASK_RUNNING),
              "cannot go from PENDING to RUNNING: PENDING can only go to ASSIGNED, KILLING");
    CHECK_STR(task_state_refusal(TASK_RUNNING, TASK_RUNNING),
              "cannot go from RUNNING to RUNNING: already RUNNING");
    CHECK_STR(task_state_refusal(TASK_DELETED, TASK_PENDING),
              "cannot go from DELETED to PENDING: the task is deleted");
    /* The longest rows are not truncated: they end with their last target. */
    const char *m = task_state_refusal(TASK_PARTITIONED, TASK_INIT);
    CHECK_CONTAINS(m, "PARTITIONED can only go to ASSIGNED, STARTING, RUNNING, FINISHED, "
                      "PREEMPTING, RESTARTING, DRAINING, FAILED, KILLING, LOST");
    CHECK(strcmp(m + strlen(m) - 4, "LOST") == 0);
    m = task_state_refusal(TASK_STARTING, TASK_INIT);
    CHECK(strcmp(m + strlen(m) - strlen("PARTITIONED"), "PARTITIONED") == 0);
    /* Every refusal names both states; the pointer is stable. */
    for (int from = 0; from < TASK_STATE_COUNT; from++) {
        for (int to = 0; to < TASK_STATE_COUNT; to++) {
            const char *why = task_state_refusal((enum task_state)from, (enum task_state)to);
            if (!why)
                continue;
            char want[64];
            snprintf(want, sizeof(want), "cannot go from %s to %s: ", names[from], names[to]);
            CHECK(strncmp(why, want, strlen(want)) == 0);
            CHECK(why == task_state_refusal((enum task_state)from, (enum task_state)to));
        }
    }
}

/* Sets as literal name lists, compared with the predicates for all states. */
static void check_set(bool (*pred)(enum task_state), const char *list)
{
    for (int s = 0; s < TASK_STATE_COUNT; s++) {
        char padded[32];
        snprintf(padded, sizeof(padded), " %s ", names[s]);
        char hay[256];
        snprintf(hay, sizeof(hay), " %s ", list);
        bool want = strstr(hay, padded) != NULL;
        if (pred((enum task_state)s) != want) {
            fprintf(stderr, "  %s: expected %d in \"%s\"\n", names[s], want, list);
            exit(1);
        }
    }
    CHECK(!pred(TASK_STATE_COUNT));
}

TEST(terminal_active_transient_sets)
{
    check_set(task_state_is_terminal, "FAILED FINISHED KILLED LOST");
    check_set(task_state_is_active, "INIT THROTTLED PENDING ASSIGNED STARTING RUNNING PREEMPTING "
                                    "RESTARTING DRAINING KILLING PARTITIONED");
    check_set(task_state_is_transient, "ASSIGNED PREEMPTING RESTARTING DRAINING KILLING");
    /* Terminal states have no way out, per the table. */
    for (int s = 0; s < TASK_STATE_COUNT; s++)
        if (task_state_is_terminal((enum task_state)s))
            for (int t = 0; t < TASK_STATE_COUNT; t++)
                CHECK(!task_state_can_transition((enum task_state)s, (enum task_state)t));
}

struct resched_case {
    bool service;
    int64_t max, count;
    enum task_state terminal, previous;
    bool kill_requested;
    bool want;
    const char *why;
};

TEST(reschedule_rules)
{
    static const struct resched_case cases[] = {
        /* FINISHED: only services */
        {true, 1, 0, TASK_FINISHED, TASK_RUNNING, false, true, "service finished"},
        {false, 1, 0, TASK_FINISHED, TASK_RUNNING, false, false, "adhoc finished"},
        {false, -1, 0, TASK_FINISHED, TASK_RUNNING, false, false, "adhoc forever finished"},
        {false, 1, 0, TASK_FINISHED, TASK_STARTING, false, false, "adhoc finished from STARTING"},
        /* FAILED: services always, others while under max */
        {true, 1, 1, TASK_FAILED, TASK_RUNNING, false, true, "service failed once"},
        {true, 1, 500, TASK_FAILED, TASK_RUNNING, false, true, "service failed often"},
        {false, 1, 1, TASK_FAILED, TASK_RUNNING, false, false, "adhoc default max 1"},
        {false, 3, 1, TASK_FAILED, TASK_RUNNING, false, true, "adhoc 1 of 3"},
        {false, 3, 2, TASK_FAILED, TASK_RUNNING, false, true, "adhoc 2 of 3"},
        {false, 3, 3, TASK_FAILED, TASK_RUNNING, false, false, "adhoc 3 of 3"},
        {false, 3, 4, TASK_FAILED, TASK_RUNNING, false, false, "adhoc 4 of 3"},
        {false, -1, 1, TASK_FAILED, TASK_RUNNING, false, true, "adhoc forever 1"},
        {false, -1, 100000, TASK_FAILED, TASK_RUNNING, false, true, "adhoc forever many"},
        {false, 2, 1, TASK_FAILED, TASK_ASSIGNED, false, true, "adhoc failed at launch"},
        /* KILLED / LOST without KILLING: rescheduled */
        {false, 1, 0, TASK_KILLED, TASK_RUNNING, false, true, "adhoc killed by agent"},
        {true, 1, 0, TASK_KILLED, TASK_RUNNING, false, true, "service killed by agent"},
        {false, 1, 0, TASK_LOST, TASK_RUNNING, false, true, "adhoc lost"},
        {false, 1, 0, TASK_LOST, TASK_ASSIGNED, false, true, "lost in ASSIGNED (timeout)"},
        {false, 1, 0, TASK_LOST, TASK_PARTITIONED, false, true, "lost after partition"},
        {false, 1, 5, TASK_LOST, TASK_RUNNING, false, true, "lost ignores failure count"},
        /* After RESTARTING / DRAINING / PREEMPTING: rescheduled, whatever the end */
        {false, 1, 0, TASK_FINISHED, TASK_RESTARTING, false, true, "restart finished"},
        {false, 1, 1, TASK_FAILED, TASK_RESTARTING, false, true, "restart failed over max"},
        {false, 1, 0, TASK_KILLED, TASK_RESTARTING, false, true, "restart killed"},
        {false, 1, 0, TASK_LOST, TASK_RESTARTING, false, true, "restart lost"},
        {false, 1, 0, TASK_KILLED, TASK_DRAINING, false, true, "drain killed"},
        {false, 1, 0, TASK_FINISHED, TASK_DRAINING, false, true, "drain finished"},
        {false, 1, 9, TASK_FAILED, TASK_DRAINING, false, true, "drain failed"},
        {false, 1, 0, TASK_KILLED, TASK_PREEMPTING, false, true, "preempt killed"},
        {false, 1, 0, TASK_LOST, TASK_PREEMPTING, false, true, "preempt lost"},
        {false, 1, 0, TASK_FINISHED, TASK_PREEMPTING, false, true, "preempt finished"},
        /* After KILLING: never */
        {true, 1, 0, TASK_KILLED, TASK_KILLING, false, false, "service user-killed"},
        {false, 1, 0, TASK_KILLED, TASK_KILLING, false, false, "adhoc user-killed"},
        {true, 1, 0, TASK_LOST, TASK_KILLING, false, false, "lost while killing"},
        {true, 1, 0, TASK_FINISHED, TASK_KILLING, false, false, "finished while killing"},
        {true, -1, 1, TASK_FAILED, TASK_KILLING, false, false, "failed while killing"},
        /* kill_requested: went through KILLING earlier (e.g. then PARTITIONED) */
        {true, 1, 0, TASK_LOST, TASK_PARTITIONED, true, false, "killing, partitioned, lost"},
        {true, 1, 0, TASK_KILLED, TASK_RUNNING, true, false, "kill requested"},
        {true, 1, 0, TASK_KILLED, TASK_RESTARTING, true, false, "kill beats restart"},
        /* Not terminal: nothing to reschedule */
        {true, 1, 0, TASK_RUNNING, TASK_STARTING, false, false, "not terminal"},
        {true, 1, 0, TASK_DELETED, TASK_KILLING, false, false, "deleted"},
        {true, 1, 0, TASK_PARTITIONED, TASK_RUNNING, false, false, "partitioned"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct resched_case *c = &cases[i];
        struct reschedule_input in = {
            .service = c->service,
            .max_task_failures = c->max,
            .failure_count = c->count,
            .terminal = c->terminal,
            .previous = c->previous,
            .kill_requested = c->kill_requested,
        };
        if (task_should_reschedule(&in) != c->want) {
            fprintf(stderr, "  case \"%s\": expected %d\n", c->why, c->want);
            bad++;
        }
    }
    CHECK(bad == 0);
}

TEST(flap_penalty_sequence)
{
    static const int64_t want[] = {0, 30000, 60000, 120000, 240000, 300000, 300000, 300000};
    for (int i = 0; i < (int)(sizeof(want) / sizeof(want[0])); i++) {
        int64_t got = task_flap_penalty_ms(i, 30000, 300000);
        if (got != want[i]) {
            fprintf(stderr, "  flaps %d: got %lld want %lld\n", i, (long long)got, (long long)want[i]);
            exit(1);
        }
    }
    CHECK(task_flap_penalty_ms(-1, 30000, 300000) == 0);
    CHECK(task_flap_penalty_ms(64, 30000, 300000) == 300000);
    CHECK(task_flap_penalty_ms(INT32_MAX, 30000, 300000) == 300000);
    /* Configured values: 1 s doubling to 5 s; 0 turns the penalty off. */
    CHECK(task_flap_penalty_ms(3, 1000, 5000) == 4000);
    CHECK(task_flap_penalty_ms(4, 1000, 5000) == 5000);
    CHECK(task_flap_penalty_ms(3, 0, 5000) == 0);
}

TEST(who_reports_which_state)
{
    for (int s = 0; s < TASK_STATE_COUNT; s++) {
        bool exe = s == TASK_STARTING || s == TASK_RUNNING || s == TASK_FINISHED || s == TASK_FAILED ||
                   s == TASK_KILLED;
        CHECK(task_state_executor_reports((enum task_state)s) == exe);
        CHECK(task_state_agent_reports((enum task_state)s) == (exe || s == TASK_LOST));
    }
    CHECK(!task_state_executor_reports(TASK_STATE_COUNT) && !task_state_agent_reports((enum task_state)-1));
}

TEST_MAIN()
