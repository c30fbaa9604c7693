/* update_ops.c - shared steps of the update commands (see update_ops.h). */
#include "cli/update_ops.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/timefmt.h"
#include "cli/api.h"
#include "cli/exitcode.h"
#include "cli/instances.h"

#define UPDATE_FIRST_POLL_MS 100
#define UPDATE_MAX_POLL_MS 1000

int update_ops_fail(const struct bo_error_s *e, const char *key)
{
    if (e->kind == BO_E_NOTFOUND)
        return cli_fail(CLI_EXIT_API, "%s", e->msg);
    if (e->kind == BO_E_EXISTS || e->kind == BO_E_REFUSED)
        return cli_fail(CLI_EXIT_COMMAND_FAILURE, "%s", e->msg);
    if (e->kind == BO_E_INVALID)
        return cli_fail(CLI_EXIT_COMMAND_FAILURE, "%s", e->msg);
    return cli_fail_error(e, CLI_EXIT_API);
}

/* "0-2,5" from a JSON array of sorted instance numbers. */
static char *ranges(json_t *a)
{
    char *out = bo_xstrdup("");
    size_t n = json_array_size(a);
    for (size_t i = 0; i < n;) {
        json_int_t lo = json_integer_value(json_array_get(a, i)), hi = lo;
        size_t k = i + 1;
        while (k < n && json_integer_value(json_array_get(a, k)) == hi + 1)
            hi = json_integer_value(json_array_get(a, k++));
        char *next = lo == hi ? bo_xasprintf("%s%s%lld", out, *out ? "," : "", (long long)lo)
                              : bo_xasprintf("%s%s%lld-%lld", out, *out ? "," : "", (long long)lo, (long long)hi);
        free(out);
        out = next;
        i = k;
    }
    return out;
}

void update_ops_print_plan(json_t *plan)
{
    static const struct {
        const char *field, *label;
    } rows[] = {{"add", "add"}, {"kill", "kill"}, {"replace", "replace"}, {"unchanged", "unchanged"}};
    for (size_t i = 0; i < BO_ARRAY_SIZE(rows); i++) {
        json_t *a = json_object_get(plan, rows[i].field);
        if (!json_array_size(a))
            continue;
        _cleanup_free_ char *r = ranges(a);
        printf("  %-9s %zu instance%s: %s\n", rows[i].label, json_array_size(a), json_array_size(a) == 1 ? "" : "s",
               r);
    }
}

static const char *str(json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s ? s : "";
}

void update_ops_print(json_t *u, bool events)
{
    char when[64];
    bo_format_time(json_integer_value(json_object_get(u, "created_ms")), when, sizeof(when));
    printf("Update %s of job %s: %s\n", str(u, "id"), str(u, "job"), str(u, "status"));
    printf("  started %s by %s", when, *str(u, "user") ? str(u, "user") : "?");
    if (json_is_string(json_object_get(u, "message")))
        printf(": %s", str(u, "message"));
    printf("\n");
    json_t *s = json_object_get(u, "settings");
    if (s)
        printf("  %s, batch_size %lld, watch_secs %lld, max_per_instance_failures %lld, max_total_failures %lld, "
               "rollback_on_failure %s\n",
               str(s, "strategy"), (long long)json_integer_value(json_object_get(s, "batch_size")),
               (long long)json_integer_value(json_object_get(s, "watch_secs")),
               (long long)json_integer_value(json_object_get(s, "max_per_instance_failures")),
               (long long)json_integer_value(json_object_get(s, "max_total_failures")),
               json_is_true(json_object_get(s, "rollback_on_failure")) ? "true" : "false");
    update_ops_print_plan(json_object_get(u, "summary"));
    if (!events)
        return;
    json_t *ev;
    size_t i;
    printf("  events:\n");
    json_array_foreach(json_object_get(u, "events"), i, ev)
    {
        bo_format_time(json_integer_value(json_object_get(ev, "ts")), when, sizeof(when));
        json_int_t inst = json_integer_value(json_object_get(ev, "instance"));
        char who[80] = "";
        if (inst >= 0)
            snprintf(who, sizeof(who), "instance %lld ", (long long)inst);
        printf("    %s  %s%s", when, who, str(ev, "what"));
        if (json_is_string(json_object_get(ev, "user")))
            printf(" by %s", str(ev, "user"));
        if (json_is_string(json_object_get(ev, "message")))
            printf(": %s", str(ev, "message"));
        printf("\n");
    }
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

static bool active(const char *status)
{
    return strcmp(status, "ROLLING_FORWARD") == 0 || strcmp(status, "ROLLING_BACK") == 0 ||
           strcmp(status, "ROLL_FORWARD_PAUSED") == 0 || strcmp(status, "ROLL_BACK_PAUSED") == 0 ||
           strcmp(status, "ROLL_FORWARD_AWAITING_PULSE") == 0 || strcmp(status, "ROLL_BACK_AWAITING_PULSE") == 0;
}

int update_ops_wait(const struct cli_ctx *ctx, const char *key, const char *id, int64_t timeout_ms)
{
    int64_t deadline = bo_mono_ms() + timeout_ms, delay = UPDATE_FIRST_POLL_MS;
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/jobs/%s/updates/%s", key, id);
    _cleanup_free_ char *last = NULL;
    printf("Waiting up to %llds for update %s of %s to end...\n", (long long)(timeout_ms / 1000), id, key);
    fflush(stdout);
    for (;;) {
        _cleanup_error_ bo_error_t err = NULL;
        json_t *answer = NULL;
        int64_t left = deadline - bo_mono_ms();
        if (api_call_timeout(ctx, "GET", path, NULL, left > 100 ? (long)left : 100L, &answer, &err) < 0) {
            if (err->kind == BO_E_TIMEOUT)
                return cli_fail(CLI_EXIT_TIMEOUT, "timed out after %llds waiting for update %s of %s: %s",
                                (long long)(timeout_ms / 1000), id, key, err->msg);
            return update_ops_fail(err, key);
        }
        if (api_expect(answer, "GET", path, "update", JSON_OBJECT, &err) < 0) {
            json_decref(answer);
            return cli_fail_error(err, CLI_EXIT_API);
        }
        _cleanup_free_ char *status = bo_xstrdup(str(json_object_get(answer, "update"), "status"));
        json_decref(answer);
        if (!active(status)) {
            int rc = strcmp(status, "ROLLED_FORWARD") == 0 ? CLI_EXIT_OK : CLI_EXIT_COMMAND_FAILURE;
            printf("Update %s of %s ended %s\n", id, key, status);
            if (rc != CLI_EXIT_OK)
                return cli_fail(rc, "update %s of %s did not roll forward: it ended %s (`borealis update info %s` "
                                    "shows why)",
                                id, key, status, key);
            return rc;
        }
        free(last);
        last = BO_STEAL(status);
        int64_t now = bo_mono_ms();
        if (now >= deadline)
            return cli_fail(CLI_EXIT_TIMEOUT, "timed out after %llds waiting for update %s of %s (still %s)",
                            (long long)(timeout_ms / 1000), id, key, last);
        sleep_ms(delay < deadline - now ? delay : deadline - now);
        delay = delay * 3 / 2 > UPDATE_MAX_POLL_MS ? UPDATE_MAX_POLL_MS : delay * 3 / 2;
    }
}

int update_ops_start_scoped(const struct cli_ctx *ctx, const char *key, const char *route, json_t *body,
                            const char *message, const char *nothing, bool wait, int64_t timeout_ms)
{
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/jobs/%s/%s", key, route);
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    json_object_set_new(body, "dry_run", json_true());
    int r = api_call(ctx, "POST", path, body, &answer, &err);
    if (r < 0) {
        json_decref(body);
        /* The request's instances or count (the only thing a well-formed
         * request can get wrong here) are the user's parameters. */
        if (err->kind == BO_E_INVALID)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
        return update_ops_fail(err, key);
    }
    json_t *running = json_object_get(answer, "running");
    if (json_array_size(running) == 1)
        printf("Instance %lld is already running\n", (long long)json_integer_value(json_array_get(running, 0)));
    else if (json_array_size(running) > 1) {
        _cleanup_free_ char *list = ranges(running);
        printf("Instances %s are already running\n", list);
    }
    /* `job start` of a batch job's instances that ended on their own:
     * refused, saying why (docs/jobs.md "Updates"). */
    json_t *ended = json_object_get(answer, "ended");
    for (size_t i = 0; i < json_array_size(ended); i++) {
        json_t *e = json_array_get(ended, i);
        fprintf(stderr,
                "Instance %lld of batch job %s ended %s: a batch job's instances are not started again once they "
                "have ended (only killed ones are); create the job anew to run it again\n",
                (long long)json_integer_value(json_object_get(e, "instance")), key,
                json_string_value(json_object_get(e, "state")) ?: "?");
    }
    json_t *plan = json_object_get(answer, "plan");
    if (!json_array_size(json_object_get(plan, "add"))) {
        printf("%s\n", nothing);
        bool refused = json_array_size(ended) > 0;
        json_decref(answer);
        json_decref(body);
        return refused ? CLI_EXIT_COMMAND_FAILURE : CLI_EXIT_OK;
    }
    printf("Update of job %s:\n", key);
    update_ops_print_plan(plan);
    json_decref(answer);
    char rid[37];
    bo_uuid4(rid);
    json_object_del(body, "dry_run");
    json_object_set_new(body, "request_id", json_string(rid));
    if (message)
        json_object_set_new(body, "message", json_string(message));
    answer = NULL;
    r = api_call(ctx, "POST", path, body, &answer, &err);
    json_decref(body);
    if (r < 0) {
        if (err->kind == BO_E_INVALID)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
        return update_ops_fail(err, key);
    }
    json_t *u = json_object_get(answer, "update");
    if (!json_is_object(u)) {
        /* Another client started them between the two requests. */
        printf("%s\n", nothing);
        json_decref(answer);
        return CLI_EXIT_OK;
    }
    _cleanup_free_ char *id = bo_xstrdup(json_string_value(json_object_get(u, "id")) ?: "");
    printf("Started update %s of job %s\n", id, key);
    json_decref(answer);
    fflush(stdout);
    if (!wait)
        return CLI_EXIT_OK;
    return update_ops_wait(ctx, key, id, timeout_ms);
}

int update_ops_check_wait(const struct cli_args *a)
{
    if (cli_given(a, "wait-timeout") && !cli_flag(a, "wait"))
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--wait-timeout needs --wait");
    return CLI_EXIT_OK;
}

int update_ops_scoped_body(const char *instances, json_t **ret_body)
{
    json_t *list = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (instances && instances_parse_json(instances, &list, &err) < 0)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
    *ret_body = list ? json_pack("{s:o}", "instances", list) : json_object();
    return CLI_EXIT_OK;
}
