/* Unit tests for rolling updates (scheduler/update.c) driven in process:
 * the agents' part is played by lifecycle transitions, the loop's by
 * lifecycle_run_timers, so each step of the driver is checked exactly;
 * and for the update routes' body validation (update_request.c). */
#include <utlist.h>

#include "base/clock.h"
#include "base/fs.h"
#include "harness.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/scheduler.h"
#include "scheduler/update.h"
#include "scheduler/update_request.h"

static struct job_config *config(int instances, const char *cmd, const char *update)
{
    _cleanup_free_ char *text = bo_xasprintf(
        "{\"cluster\":\"local\",\"role\":\"r\",\"environment\":\"devel\",\"name\":\"web\",\"instances\":%d,"
        "\"service\":true,\"update\":%s,\"task\":{\"resources\":{\"cpu\":0.5,\"ram\":1048576,\"disk\":0},"
        "\"processes\":[{\"name\":\"p\",\"cmdline\":\"%s\"}]}}",
        instances, update ? update : "{\"watch_secs\":0}", cmd);
    json_t *j = json_loads(text, 0, NULL);
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, NULL) == 0);
    json_decref(j);
    return c;
}

static struct sched_agent *add_agent(struct sched_state *st, const char *id, uint64_t ram)
{
    struct sched_agent *a = bo_xcalloc(1, sizeof(*a));
    a->id = bo_xstrdup(id);
    a->hostname = bo_xstrdup(id);
    a->cpu = 8;
    a->ram = ram;
    a->disk = 1ULL << 30;
    state_agent_set_ports(a, 31000, 31009);
    a->up = true;
    a->state = AGENT_UP;
    a->last_seen_mono = bo_mono_ms();
    st->agents_up++;
    state_agent_add(st, a);
    return a;
}

static char dir[64];

/* Each test runs in its own process: its directory goes when it exits. */
__attribute__((destructor)) static void remove_dir(void)
{
    if (dir[0])
        bo_rm_rf(dir, NULL);
}

static void setup(struct sched_state *st, struct store **s)
{
    strcpy(dir, "/tmp/bo-update-XXXXXX");
    CHECK(mkdtemp(dir));
    _cleanup_free_ char *db = bo_xasprintf("%s/s.db", dir);
    struct sched_options o;
    scheduler_default_options(&o);
    o.flap_penalty_ms = 0;
    o.agent_timeout_ms = 3600 * 1000; /* the test's agents never sync */
    CHECK(store_open_sqlite(db, false, s, NULL) == 0);
    state_init(st, &o, *s);
    st->update_step = update_step;
}

/* Play the agents: place what is pending, start what was assigned, end
 * what is being killed; then run the loop's due timers. Until nothing
 * changes. */
static void settle(struct sched_state *st)
{
    for (int round = 0; round < 50; round++) {
        int changed = placement_run(st, 0, NULL);
        CHECK(changed >= 0);
        struct sched_task *t, *tmp;
        HASH_ITER(hh, st->tasks, t, tmp)
        {
            if (t->state == TASK_ASSIGNED) {
                CHECK(lifecycle_transition(st, t, TASK_STARTING, NULL, NULL) == 1);
                CHECK(lifecycle_transition(st, t, TASK_RUNNING, NULL, NULL) == 1);
                changed++;
            } else if (t->state == TASK_KILLING) {
                CHECK(lifecycle_transition(st, t, TASK_KILLED, NULL, NULL) == 1);
                changed++;
            }
        }
        bool due = bo_timer_heap_timeout_ms(&st->timers, bo_mono_ms()) == 0;
        CHECK(lifecycle_run_timers(st, bo_mono_ms(), NULL) == 0);
        if (!changed && !due)
            return;
    }
}

static struct sched_job *running_job(struct sched_state *st, struct job_config *c)
{
    struct sched_job *j = NULL;
    CHECK(lifecycle_create_job(st, c, &j, NULL) == 0);
    job_config_unref(c);
    settle(st);
    for (int64_t i = 0; i < j->n_current; i++)
        CHECK(j->current[i]->state == TASK_RUNNING);
    return j;
}

static struct sched_update *start(struct sched_state *st, struct sched_job *j, struct job_config *to,
                                  const int64_t *inst, size_t n)
{
    struct sched_update *u = NULL;
    struct update_start_opts o = {.to = to, .scope = {inst, n}, .user = "tester"};
    CHECK(update_start(st, j, &o, &u, NULL) == 0);
    job_config_unref(to);
    return u;
}

static const char *cmd_of(const struct sched_task *t) { return t->config->task.processes[0].cmdline; }

TEST(replace_update_rolls_forward)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    add_agent(&st, "a", 1ULL << 30);
    struct sched_job *j = running_job(&st, config(3, "v1", NULL));
    struct sched_update *u = start(&st, j, config(3, "v2", "{\"watch_secs\":0,\"batch_size\":2}"), NULL, 0);
    settle(&st);
    CHECK(u->status == UPDATE_ROLLED_FORWARD && !j->update);
    for (int i = 0; i < 3; i++) {
        CHECK(j->current[i]->state == TASK_RUNNING);
        CHECK_STR(cmd_of(j->current[i]), "v2");
        CHECK(u->inst[i].phase == PHASE_SUCCEEDED);
    }
    /* The old config is no longer held by anything live: only the new one
     * and those of the ended tasks kept as history remain. */
    CHECK(j->config == u->to);
    state_free(&st);
    store_close(s);
}

TEST(shrink_then_grow_adds_and_kills_only)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    add_agent(&st, "a", 1ULL << 30);
    struct sched_job *j = running_job(&st, config(3, "v1", NULL));
    struct sched_task *first = j->current[0];
    struct sched_update *u = start(&st, j, config(1, "v1", NULL), NULL, 0);
    CHECK(u->n_inst == 2 && u->inst[0].action == UPDATE_KILL && u->inst[1].action == UPDATE_KILL);
    settle(&st);
    CHECK(u->status == UPDATE_ROLLED_FORWARD);
    CHECK(j->n_current == 1 && j->current[0] == first);
    /* Killed instances' tasks went with their slots. */
    struct sched_task *t;
    DL_FOREACH2(j->tasks, t, j_next)
    CHECK(t->instance == 0);
    u = start(&st, j, config(3, "v1", NULL), NULL, 0);
    CHECK(u->n_inst == 2 && u->inst[0].action == UPDATE_ADD);
    settle(&st);
    CHECK(u->status == UPDATE_ROLLED_FORWARD && j->n_current == 3 && j->current[0] == first);
    CHECK(j->current[1]->state == TASK_RUNNING && j->current[2]->state == TASK_RUNNING);
    state_free(&st);
    store_close(s);
}

TEST(failing_version_rolls_back_in_reverse_order)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    add_agent(&st, "a", 1ULL << 30);
    struct sched_job *j = running_job(&st, config(3, "v1", NULL));
    struct sched_update *u = start(&st, j, config(3, "bad", "{\"watch_secs\":0,\"batch_size\":2}"), NULL, 0);
    /* One step by hand: instances 0 and 1 are killed, then added with
     * "bad"; instance 1's new task fails as it starts. */
    CHECK(lifecycle_run_timers(&st, bo_mono_ms(), NULL) == 0);
    for (int i = 0; i < 2; i++)
        CHECK(lifecycle_transition(&st, j->current[i], TASK_KILLED, NULL, NULL) == 1);
    CHECK(lifecycle_run_timers(&st, bo_mono_ms(), NULL) == 0);
    CHECK(placement_run(&st, 0, NULL) == 2);
    CHECK(u->status == UPDATE_ROLLING_FORWARD);
    CHECK_STR(cmd_of(j->current[1]), "bad");
    CHECK(lifecycle_transition(&st, j->current[1], TASK_FAILED, "exit 1", NULL) == 1);
    CHECK(lifecycle_run_timers(&st, bo_mono_ms(), NULL) == 0);
    CHECK(u->status == UPDATE_ROLLING_BACK && j->config == u->from);
    settle(&st);
    CHECK(u->status == UPDATE_ROLLED_BACK && !j->update);
    for (int i = 0; i < 3; i++)
        CHECK_STR(cmd_of(j->current[i]), "v1");
    /* Back in reverse order: 1 before 0; 2 was never touched. */
    int back1 = -1, back0 = -1;
    for (size_t k = 0; k < u->n_events; k++) {
        if (strcmp(u->events[k].what, "INSTANCE_ROLLING_BACK") == 0 && u->events[k].instance == 1)
            back1 = (int)k;
        if (strcmp(u->events[k].what, "INSTANCE_ROLLING_BACK") == 0 && u->events[k].instance == 0)
            back0 = (int)k;
        CHECK(!(u->events[k].instance == 2 && strcmp(u->events[k].what, "INSTANCE_UPDATING") == 0));
    }
    CHECK(back1 >= 0 && back0 > back1);
    state_free(&st);
    store_close(s);
}

TEST(pause_holds_and_resume_goes_on)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    add_agent(&st, "a", 1ULL << 30);
    struct sched_job *j = running_job(&st, config(2, "v1", NULL));
    struct sched_update *u = start(&st, j, config(2, "v2", NULL), NULL, 0);
    CHECK(update_command(&st, u, UPDATE_CMD_PAUSE, "me", "wait", NULL) == 0);
    settle(&st);
    CHECK(u->status == UPDATE_ROLL_FORWARD_PAUSED);
    CHECK_STR(cmd_of(j->current[0]), "v1");
    bo_error_t err = NULL;
    CHECK(update_command(&st, u, UPDATE_CMD_PAUSE, "me", NULL, &err) < 0);
    CHECK_CONTAINS(err->msg, "is ROLL_FORWARD_PAUSED: it cannot be paused");
    bo_error_free(err);
    CHECK(update_command(&st, u, UPDATE_CMD_RESUME, "me", NULL, NULL) == 0);
    settle(&st);
    CHECK(u->status == UPDATE_ROLLED_FORWARD);
    CHECK_STR(cmd_of(j->current[1]), "v2");
    state_free(&st);
    store_close(s);
}

TEST(a_second_update_is_refused_and_unchanged_is_said)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    add_agent(&st, "a", 1ULL << 30);
    struct sched_job *j = running_job(&st, config(2, "v1", NULL));
    struct sched_update *u = NULL;
    bo_error_t err = NULL;
    struct job_config *same = config(2, "v1", "{\"batch_size\":2}"); /* only the settings differ */
    struct update_start_opts o = {.to = same, .user = "me"};
    CHECK(update_start(&st, j, &o, &u, &err) < 0 && err->kind == BO_E_INVALID);
    CHECK_CONTAINS(err->msg, "job local/r/devel/web is unchanged");
    bo_error_freep(&err);
    job_config_unref(same);
    start(&st, j, config(2, "v2", "{\"watch_secs\":3600}"), NULL, 0);
    struct job_config *other = config(2, "v3", NULL);
    o.to = other;
    CHECK(update_start(&st, j, &o, &u, &err) < 0 && err->kind == BO_E_EXISTS);
    CHECK_CONTAINS(err->msg, "already has an active update");
    bo_error_free(err);
    job_config_unref(other);
    state_free(&st);
    store_close(s);
}

TEST(canaries_touch_only_their_instances)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    add_agent(&st, "a", 1ULL << 30);
    struct sched_job *j = running_job(&st, config(4, "v1", NULL));
    static const int64_t canaries[] = {1, 2};
    struct sched_update *u = start(&st, j, config(4, "v2", NULL), canaries, 2);
    CHECK(u->n_inst == 2 && u->inst[0].instance == 1 && u->inst[1].instance == 2);
    settle(&st);
    CHECK(u->status == UPDATE_ROLLED_FORWARD);
    CHECK_STR(cmd_of(j->current[0]), "v1");
    CHECK_STR(cmd_of(j->current[1]), "v2");
    CHECK_STR(cmd_of(j->current[2]), "v2");
    CHECK_STR(cmd_of(j->current[3]), "v1");
    state_free(&st);
    store_close(s);
}

TEST(replaced_instance_goes_back_to_its_agent)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    struct sched_agent *small = add_agent(&st, "small", 64ULL << 20);
    struct sched_job *j = running_job(&st, config(1, "v1", NULL));
    CHECK(j->current[0]->agent == small);
    /* A roomier agent joins: placement alone would now pick it. */
    add_agent(&st, "big", 1ULL << 30);
    start(&st, j, config(1, "v2", NULL), NULL, 0);
    settle(&st);
    CHECK_STR(cmd_of(j->current[0]), "v2");
    CHECK(j->current[0]->agent == small);
    state_free(&st);
    store_close(s);
}

TEST(affinity_survives_a_scheduler_restart)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    add_agent(&st, "small", 64ULL << 20);
    struct sched_job *j = running_job(&st, config(1, "v1", NULL));
    add_agent(&st, "big", 1ULL << 30);
    struct sched_update *u = start(&st, j, config(1, "v2", NULL), NULL, 0);
    /* The old task is killed and its replacement added, not placed yet,
     * when the scheduler goes down. */
    CHECK(lifecycle_run_timers(&st, bo_mono_ms(), NULL) == 0);
    CHECK(lifecycle_transition(&st, j->current[0], TASK_KILLED, NULL, NULL) == 1);
    CHECK(lifecycle_run_timers(&st, bo_mono_ms(), NULL) == 0);
    CHECK(j->current[0]->state == TASK_PENDING && u->inst[0].prefer_agent);
    CHECK_STR(u->inst[0].prefer_agent, "small");
    _cleanup_free_ char *id = bo_xstrdup(j->current[0]->id);
    struct sched_options o = st.opt;
    state_free(&st);

    struct sched_state st2;
    state_init(&st2, &o, s);
    st2.update_step = update_step;
    CHECK(state_load(&st2, NULL) == 0);
    lifecycle_recovered(&st2, bo_mono_ms(), bo_wall_ms());
    update_recovered(&st2);
    /* The agents sync again (the test's were never stored), the roomier
     * one first. */
    CHECK(!state_agent_find(&st2, "small"));
    add_agent(&st2, "big", 1ULL << 30);
    add_agent(&st2, "small", 64ULL << 20);
    j = state_job_find(&st2, "local/r/devel/web");
    CHECK(j && j->update && j->current[0]->state == TASK_PENDING);
    CHECK_STR(j->current[0]->id, id);
    CHECK_STR(j->current[0]->prefer_agent, "small");
    settle(&st2);
    CHECK_STR(cmd_of(j->current[0]), "v2");
    CHECK(j->current[0]->state == TASK_RUNNING && j->current[0]->agent);
    CHECK_STR(j->current[0]->agent->id, "small"); /* not the roomier one */
    state_free(&st2);
    store_close(s);
}

TEST(a_retry_is_only_an_identical_request)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    add_agent(&st, "a", 1ULL << 30);
    struct sched_job *j = running_job(&st, config(3, "v1", NULL));
    static const int64_t canary[] = {0, 1}, other[] = {0, 2};
    struct sched_update *u = start(&st, j, config(3, "v2", NULL), canary, 2);
    struct update_scope same = {canary, 2}, all = {NULL, 0}, diff = {other, 2}, fewer = {canary, 1};
    CHECK(update_same_scope(u, &same));
    CHECK(!update_same_scope(u, &all) && !update_same_scope(u, &diff) && !update_same_scope(u, &fewer));
    settle(&st);
    struct sched_update *v = start(&st, j, config(3, "v2", NULL), NULL, 0);
    CHECK(update_same_scope(v, &all) && !update_same_scope(v, &same));
    state_free(&st);
    store_close(s);
}

TEST(restart_replaces_each_instance_by_itself)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    add_agent(&st, "a", 1ULL << 30);
    struct sched_job *j = running_job(&st, config(2, "v1", NULL));
    struct sched_task *before[2] = {j->current[0], j->current[1]};
    struct update_settings set = {.batch_size = 1};
    struct update_start_opts o = {.settings = &set, .user = "me"};
    struct sched_update *u = NULL;
    CHECK(update_start(&st, j, &o, &u, NULL) == 0);
    CHECK(u->restart && u->n_inst == 2);
    settle(&st);
    CHECK(u->status == UPDATE_ROLLED_FORWARD);
    for (int i = 0; i < 2; i++) {
        CHECK(j->current[i] != before[i] && j->current[i]->state == TASK_RUNNING);
        CHECK(j->current[i]->config == before[i]->config);
    }
    bo_error_t err = NULL;
    struct sched_update *u2 = NULL;
    CHECK(update_start(&st, j, &o, &u2, NULL) == 0);
    CHECK(update_command(&st, u2, UPDATE_CMD_ROLLBACK, "me", NULL, &err) < 0);
    CHECK_CONTAINS(err->msg, "is a restart: there is nothing to roll back");
    bo_error_free(err);
    state_free(&st);
    store_close(s);
}

static int count_cmd(const struct sched_job *j, const char *cmd)
{
    int n = 0;
    for (int64_t i = 0; i < j->n_current; i++)
        n += j->current[i] && j->current[i]->state == TASK_RUNNING && strcmp(cmd_of(j->current[i]), cmd) == 0;
    return n;
}

TEST(variable_batches_with_autopause)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    add_agent(&st, "a", 1ULL << 30);
    struct sched_job *j = running_job(&st, config(6, "v1", NULL));
    struct sched_update *u = start(
        &st, j,
        config(6, "v2", "{\"watch_secs\":0,\"strategy\":\"variable\",\"batch_sizes\":[1,2],\"autopause_after_batch\":true}"),
        NULL, 0);
    /* Batches of 1, 2, then 2 again (the last size repeats), a pause after each. */
    static const int after[] = {1, 3, 5};
    for (size_t b = 0; b < BO_ARRAY_SIZE(after); b++) {
        settle(&st);
        CHECK(u->status == UPDATE_ROLL_FORWARD_PAUSED);
        CHECK(count_cmd(j, "v2") == after[b] && count_cmd(j, "v1") == 6 - after[b]);
        CHECK(update_command(&st, u, UPDATE_CMD_RESUME, "me", NULL, NULL) == 0);
    }
    settle(&st);
    CHECK(u->status == UPDATE_ROLLED_FORWARD && count_cmd(j, "v2") == 6);
    int pauses = 0;
    for (size_t k = 0; k < u->n_events; k++)
        pauses += strcmp(u->events[k].what, "ROLL_FORWARD_PAUSED") == 0 && u->events[k].message &&
                  strstr(u->events[k].message, "autopause after batch");
    CHECK(pauses == 3);
    state_free(&st);
    store_close(s);
}

TEST(batch_strategy_finishes_each_batch_first)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    add_agent(&st, "a", 1ULL << 30);
    struct sched_job *j = running_job(&st, config(3, "v1", NULL));
    struct sched_update *u =
        start(&st, j, config(3, "v2", "{\"watch_secs\":3600,\"strategy\":\"batch\",\"batch_size\":2}"), NULL, 0);
    settle(&st);
    /* Instances 0 and 1 are watched; 2 waits for the whole batch, even
     * once 0 is done. */
    CHECK(u->inst[0].phase == PHASE_WATCHING && u->inst[1].phase == PHASE_WATCHING);
    u->inst[0].phase = PHASE_SUCCEEDED; /* as its watch ending would */
    CHECK(update_step(&st, j, bo_mono_ms(), NULL) == 0);
    CHECK(u->inst[2].phase == PHASE_WAITING);
    u->inst[1].phase = PHASE_SUCCEEDED;
    CHECK(update_step(&st, j, bo_mono_ms(), NULL) == 0);
    CHECK(u->inst[2].phase != PHASE_WAITING);
    state_free(&st);
    store_close(s);
}

TEST(pulses_gate_progress)
{
    struct sched_state st;
    struct store *s;
    setup(&st, &s);
    add_agent(&st, "a", 1ULL << 30);
    struct sched_job *j = running_job(&st, config(2, "v1", NULL));
    struct sched_update *u =
        start(&st, j, config(2, "v2", "{\"watch_secs\":0,\"pulse_interval_secs\":3600}"), NULL, 0);
    /* Without a pulse, nothing moves. */
    settle(&st);
    CHECK(u->status == UPDATE_ROLL_FORWARD_AWAITING_PULSE && count_cmd(j, "v1") == 2);
    CHECK(update_command(&st, u, UPDATE_CMD_PULSE, "checker", NULL, NULL) == 0);
    CHECK(u->status == UPDATE_ROLLING_FORWARD);
    /* A pulse that has run out stops it again at its next step. */
    u->pulse_until_ms = 1;
    CHECK(update_step(&st, j, bo_mono_ms(), NULL) == 0);
    CHECK(u->status == UPDATE_ROLL_FORWARD_AWAITING_PULSE && count_cmd(j, "v1") == 2);
    CHECK(update_command(&st, u, UPDATE_CMD_PULSE, "checker", NULL, NULL) == 0);
    settle(&st);
    CHECK(u->status == UPDATE_ROLLED_FORWARD && count_cmd(j, "v2") == 2);
    /* An update without pulse_interval_secs takes none. */
    u = start(&st, j, config(2, "v3", NULL), NULL, 0);
    bo_error_t err = NULL;
    CHECK(update_command(&st, u, UPDATE_CMD_PULSE, "checker", NULL, &err) < 0);
    CHECK_CONTAINS(err->msg, "takes no pulses");
    bo_error_free(err);
    state_free(&st);
    store_close(s);
}

/* ---- update_request.c ------------------------------------------------------ */

static char *parse_error(const char *body, enum update_request_kind kind)
{
    json_t *b = json_loads(body, 0, NULL);
    CHECK(b);
    struct update_request r = {0};
    bo_error_t err = NULL;
    char *msg = NULL;
    if (update_request_parse(b, "local/r/devel/web", kind, &r, &err) < 0)
        msg = bo_xstrdup(err->msg);
    else
        update_request_clear(&r);
    bo_error_free(err);
    json_decref(b);
    return msg;
}

TEST(request_bodies_are_checked)
{
    static const struct {
        const char *body;
        enum update_request_kind kind;
        const char *want; /* NULL: accepted */
    } cases[] = {
        {"{\"message\":\"ok\"}", UPDATE_REQ_COMMAND, NULL},
        {"{}", UPDATE_REQ_COMMAND, NULL},
        {"{\"message\":5}", UPDATE_REQ_COMMAND, "`message` must be a string"},
        {"{\"message\":\"a\\u0007b\"}", UPDATE_REQ_COMMAND, "`message` has a control byte at offset 1"},
        {"{\"config\":{}}", UPDATE_REQ_COMMAND, "unknown field `config` in update request (message)"},
        {"{\"message\":\"x\"}", UPDATE_REQ_START, "`config` (the new job config) is missing"},
        {"{\"config\":{\"cluster\":\"local\"}}", UPDATE_REQ_START, "update request: config: "},
        {"{\"request_id\":\"a b\"}", UPDATE_REQ_START, "`request_id` has a byte outside [A-Za-z0-9_.-]"},
        {"{\"dry_run\":1}", UPDATE_REQ_START, "`dry_run` must be true or false"},
        {"{\"instances\":[2,1]}", UPDATE_REQ_RESTART, "instances[1] (1) is not above the one before"},
        {"{\"instances\":[4000]}", UPDATE_REQ_RESTART, "instances[0] is not an instance number (0-3999)"},
        {"{\"instances\":[]}", UPDATE_REQ_RESTART, "`instances` must be a list of 1 to 4000"},
        {"{\"batch_size\":0}", UPDATE_REQ_RESTART, "`batch_size` must be an integer within 1-4000"},
        {"{\"watch_secs\":\"10\"}", UPDATE_REQ_RESTART, "`watch_secs` must be an integer within 0-86400"},
        {"{\"rollback_on_failure\":true}", UPDATE_REQ_RESTART, "unknown field `rollback_on_failure` in restart"},
        {"{\"instances\":[0,3],\"batch_size\":2,\"watch_secs\":0,\"max_total_failures\":1}", UPDATE_REQ_RESTART,
         NULL},
        {"[]", UPDATE_REQ_RESTART, "must be a JSON object"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *msg = parse_error(cases[i].body, cases[i].kind);
        if (!cases[i].want) {
            if (msg)
                fprintf(stderr, "  case %zu: %s\n", i, msg);
            CHECK(!msg);
        } else {
            if (!msg)
                fprintf(stderr, "  case %zu accepted\n", i);
            CHECK(msg);
            CHECK_CONTAINS(msg, cases[i].want);
        }
    }
    /* A config for another job is refused, naming both. */
    struct job_config *c = config(1, "x", NULL);
    json_t *cj = job_config_to_json(c);
    job_config_unref(c);
    json_object_set_new(cj, "name", json_string("other"));
    json_t *b = json_pack("{s:o}", "config", cj);
    struct update_request r = {0};
    bo_error_t err = NULL;
    CHECK(update_request_parse(b, "local/r/devel/web", UPDATE_REQ_START, &r, &err) < 0);
    CHECK_CONTAINS(err->msg, "the config is for job local/r/devel/other, not local/r/devel/web");
    bo_error_free(err);
    json_decref(b);
}

TEST_MAIN()
