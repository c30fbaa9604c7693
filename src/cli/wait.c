/* wait.c - waiting for a job to reach PENDING, RUNNING or FINISHED. */
#include "cli/wait.h"

#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/timefmt.h"
#include "cli/api.h"
#include "cli/exitcode.h"
#include "model/task_state.h"

#define WAIT_FIRST_POLL_MS 100
#define WAIT_MAX_POLL_MS 1000
#define WAIT_LIST_MAX 5 /* instances named in a message before "and N more" */

static const char *const target_names[] = {"PENDING", "RUNNING", "FINISHED"};

int wait_target_parse(const char *s, enum wait_target *ret, bo_error_t *err)
{
    for (size_t i = 0; i < BO_ARRAY_SIZE(target_names); i++)
        if (strcmp(s, target_names[i]) == 0) {
            *ret = (enum wait_target)i;
            return 0;
        }
    return bo_error_set(err, BO_E_INVALID,
                        "--wait-until `%s`: must be PENDING, RUNNING or FINISHED", s);
}

const char *wait_target_name(enum wait_target t) { return target_names[t]; }

static int64_t last_event_ts(json_t *task)
{
    json_t *ev = json_object_get(task, "events");
    size_t n = json_array_size(ev);
    return n ? json_integer_value(json_object_get(json_array_get(ev, n - 1), "ts")) : 0;
}

static bool state_terminal(const char *name)
{
    enum task_state s;
    return name && task_state_from_name(name, &s) == 0 && task_state_is_terminal(s);
}

/* The live task of `instance`, else its latest terminal one, else NULL. */
static json_t *current_task(json_t *tasks, int64_t instance)
{
    json_t *best = NULL, *t;
    size_t i;
    json_array_foreach(tasks, i, t)
    {
        if (json_integer_value(json_object_get(t, "instance")) != instance)
            continue;
        const char *st = json_string_value(json_object_get(t, "state"));
        if (!state_terminal(st))
            return t;
        if (!best || last_event_ts(t) >= last_event_ts(best))
            best = t;
    }
    return best;
}

/* Appends "instance N STATE (detail)" items, at most WAIT_LIST_MAX. */
struct item_list {
    FILE *f;
    char *buf;
    size_t len, n;
};

static void list_add(struct item_list *l, int64_t instance, json_t *task)
{
    if (l->n++ >= WAIT_LIST_MAX)
        return;
    if (!l->f && !(l->f = open_memstream(&l->buf, &l->len)))
        abort(); /* only for lack of memory */
    fprintf(l->f, "%sinstance %lld ", l->n > 1 ? ", " : "", (long long)instance);
    if (!task) {
        fputs("has no task yet", l->f);
        return;
    }
    const char *st = json_string_value(json_object_get(task, "state"));
    const char *reason = json_string_value(json_object_get(task, "pending_reason"));
    const char *msg = json_string_value(json_object_get(task, "message"));
    fprintf(l->f, "is %s", st ? st : "?");
    if (reason && *reason)
        fprintf(l->f, " (%s)", reason);
    else if (msg && *msg)
        fprintf(l->f, " (%s)", msg);
}

static char *list_finish(struct item_list *l)
{
    if (!l->n)
        return NULL;
    if (l->n > WAIT_LIST_MAX)
        fprintf(l->f, " and %zu more", l->n - WAIT_LIST_MAX);
    fclose(l->f);
    return l->buf;
}

void wait_evaluate(json_t *job_answer, enum wait_target t, struct wait_verdict *ret)
{
    json_t *summary = json_object_get(job_answer, "job");
    json_t *tasks = json_object_get(job_answer, "tasks");
    int64_t n = json_integer_value(json_object_get(summary, "instances"));
    if (n <= 0)
        n = json_integer_value(json_object_get(json_object_get(job_answer, "config"), "instances"));
    const char *jstate = json_string_value(json_object_get(summary, "state"));
    struct item_list missing = {0}, failed = {0};
    struct wait_verdict v = {.instances = n, .job_active = !jstate || !strcmp(jstate, "active")};

    for (int64_t i = 0; i < n; i++) {
        json_t *task = current_task(tasks, i);
        const char *st = task ? json_string_value(json_object_get(task, "state")) : NULL;
        bool ok;
        if (t == WAIT_PENDING)
            ok = task != NULL;
        else if (t == WAIT_RUNNING)
            ok = st && (!strcmp(st, "RUNNING") || !strcmp(st, "FINISHED"));
        else
            ok = st && !strcmp(st, "FINISHED");
        if (ok) {
            v.done++;
        } else if (t != WAIT_PENDING && state_terminal(st)) {
            list_add(&failed, i, task);
        } else {
            list_add(&missing, i, task);
        }
    }
    v.failed = failed.n > 0;
    v.reached = !v.failed && missing.n == 0 && n > 0;
    v.missing = list_finish(&missing);
    if (n <= 0)
        v.missing = bo_xstrdup("the scheduler reported no instances");
    v.failures = list_finish(&failed);
    *ret = v;
}

void wait_verdict_clear(struct wait_verdict *v)
{
    free(v->missing);
    free(v->failures);
    memset(v, 0, sizeof(*v));
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

int wait_for_job(const struct cli_ctx *ctx, const char *key, enum wait_target t,
                 int64_t timeout_ms)
{
    const char *name = wait_target_name(t);
    int64_t deadline = bo_mono_ms() + timeout_ms, delay = WAIT_FIRST_POLL_MS;
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/jobs/%s", key);
    _cleanup_free_ char *last_missing = NULL;
    int failed_polls = 0;

    printf("Waiting up to %llds for %s to be %s...\n", (long long)(timeout_ms / 1000), key, name);
    fflush(stdout);
    for (;;) {
        _cleanup_error_ bo_error_t err = NULL;
        json_t *answer = NULL;
        /* A scheduler that does not answer must not stretch the wait past
         * its deadline (each request would otherwise take up to 30 s). */
        int64_t left = deadline - bo_mono_ms();
        if (api_call_timeout(ctx, "GET", path, NULL, left > 100 ? (long)left : 100L, &answer, &err) <
            0) {
            if (err->kind == BO_E_NOTFOUND)
                return cli_fail(CLI_EXIT_API, "job %s not found", key);
            /* The last poll ran out of time: what the one before said
             * (e.g. the pending reason) tells the user more. */
            if (err->kind == BO_E_TIMEOUT)
                return cli_fail(CLI_EXIT_TIMEOUT, "timed out after %llds waiting for %s to be %s: %s",
                                (long long)(timeout_ms / 1000), key, name, last_missing ? last_missing : err->msg);
            return cli_fail_error(err, CLI_EXIT_API);
        }
        if (api_expect(answer, "GET", path, "job", JSON_OBJECT, &err) < 0 ||
            api_expect(answer, "GET", path, "tasks", JSON_ARRAY, &err) < 0) {
            json_decref(answer);
            return cli_fail_error(err, CLI_EXIT_API);
        }
        struct wait_verdict v;
        wait_evaluate(answer, t, &v);
        json_decref(answer);
        if (v.reached) {
            char count[48];
            bo_format_count(v.instances, "instance", count, sizeof(count));
            printf("Job %s is %s (%lld of %s)\n", key, name, (long long)v.done, count);
            wait_verdict_clear(&v);
            return CLI_EXIT_OK;
        }
        /* A failed task and its replacement are written together by the
         * scheduler, but confirm on a second answer before giving up, unless
         * the job is over anyway. */
        failed_polls = v.failed ? failed_polls + 1 : 0;
        if (v.failed && (failed_polls >= 2 || !v.job_active)) {
            int r = cli_fail(CLI_EXIT_COMMAND_FAILURE, "job %s will not be %s: %s", key, name,
                             v.failures);
            wait_verdict_clear(&v);
            return r;
        }
        free(last_missing);
        last_missing = v.missing ? BO_STEAL(v.missing)
                                 : bo_xstrdup(v.failures ? v.failures : "no answer yet");
        wait_verdict_clear(&v);
        int64_t now = bo_mono_ms();
        if (now >= deadline)
            return cli_fail(CLI_EXIT_TIMEOUT, "timed out after %llds waiting for %s to be %s: %s",
                            (long long)(timeout_ms / 1000), key, name, last_missing);
        sleep_ms(delay < deadline - now ? delay : deadline - now);
        delay = delay * 3 / 2 > WAIT_MAX_POLL_MS ? WAIT_MAX_POLL_MS : delay * 3 / 2;
    }
}
