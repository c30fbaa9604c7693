/* sync_request.c - the two readers of an agent's sync body (see the header
 * for why there are two). The jansson reader takes any object and marks
 * what is wrong; the fast one takes only what it is sure of and leaves the
 * rest to jansson, so it has no error paths of its own. */
#include "scheduler/sync_request.h"

#include <stdlib.h>
#include <string.h>

#include "base/jscan.h"
#include "base/util.h"
#include "model/json_check.h"

/* The fields of an agent's registration: a sync carries all of them
 * (attributes may be absent) or none (protocol.md section 3). */
static const char *const registration_keys[] = {"hostname", "resources", "port_range", "attributes"};

/* Causes an agent may give for a terminal update it caused itself. */
static const char *const agent_causes[] = {"agent_shutdown", "agent_restart"};

/* The fields of a usage sample: the task's, then its counters. */
static const char *const usage_keys[] = {"task_id", "cpu_ms", "memory_bytes", "memory_peak_bytes"};

/* ---- what both readers check once the types are right ---------------------- */

/* The reason an update naming state `name` is rejected, or NULL. */
static const char *state_reason(struct sync_update *u, const char *name)
{
    if (task_state_from_name(name, &u->state) == 0 && task_state_agent_reports(u->state))
        return NULL;
    u->owned_reason = bo_xasprintf("state `%.40s` is not one an agent may report (STARTING, RUNNING, FINISHED, "
                                   "FAILED, KILLED, LOST)",
                                   name);
    return u->owned_reason;
}

/* The reason an update with `cause` (not null; NULL when not a string) is
 * rejected, or NULL. */
static const char *cause_reason(struct sync_update *u, const char *cause)
{
    for (size_t i = 0; cause && i < BO_ARRAY_SIZE(agent_causes); i++)
        u->agent_cause |= strcmp(cause, agent_causes[i]) == 0;
    if (!u->agent_cause)
        return "cause: must be agent_shutdown, agent_restart or null";
    if (!task_state_is_terminal(u->state))
        return "cause: only a terminal state has a cause";
    return NULL;
}

static bool pid_ok(int64_t v)
{
    return v >= 0 && v <= INT32_MAX;
}

/* ---- the jansson reader ----------------------------------------------------- */

/* The reason entry j is rejected, or NULL; checked field by field, in
 * this order, so the first thing wrong is the one named. */
static const char *update_reason(json_t *j, struct sync_update *u)
{
    json_t *v;
    if (!(v = json_object_get(j, "task_id")) || !json_is_string(v))
        return "task_id: required string";
    u->task_id = json_string_value(v);
    v = json_object_get(j, "state");
    if (!json_is_string(v))
        return "state: required string";
    const char *reason = state_reason(u, json_string_value(v));
    if (reason)
        return reason;
    v = json_object_get(j, "message");
    if (v && !json_is_null(v) && !json_is_string(v))
        return "message: must be a string";
    u->message = json_is_string(v) ? json_string_value(v) : "";
    v = json_object_get(j, "executor_pid");
    if (v && !json_is_null(v) && (!json_is_integer(v) || !pid_ok(json_integer_value(v))))
        return "executor_pid: must be a pid or null";
    u->executor_pid = json_integer_value(v);
    v = json_object_get(j, "processes");
    if (v && !json_is_null(v) && !json_is_array(v))
        return "processes: must be an array or null";
    u->processes = json_is_array(v) ? json_incref(v) : NULL;
    v = json_object_get(j, "cause");
    if (v && !json_is_null(v))
        return cause_reason(u, json_string_value(v));
    return NULL;
}

static void update_from_json(json_t *j, struct sync_update *u)
{
    json_t *seq = json_object_get(j, "seq");
    if (!json_is_integer(seq) || json_integer_value(seq) < 1)
        return; /* seq 0: ignored */
    u->seq = json_integer_value(seq);
    u->reason = update_reason(j, u);
}

void sync_request_from_json(json_t *body, struct sync_request *r)
{
    *r = (struct sync_request){.body = body};
    r->agent_id = json_string_value(json_object_get(body, "agent_id"));
    for (size_t i = 0; i < BO_ARRAY_SIZE(registration_keys); i++)
        r->registration |= json_object_get(body, registration_keys[i]) != NULL;
    r->boot = json_is_true(json_object_get(body, "boot"));
    json_t *lv = json_object_get(body, "leaving");
    r->leaving = json_is_true(lv);
    r->leaving_bad = lv && !json_is_boolean(lv);
    r->wait_ms = json_integer_value(json_object_get(body, "wait_ms"));
    json_t *updates = json_object_get(body, "updates"), *inventory = json_object_get(body, "inventory");
    r->arrays_bad = (updates && !json_is_array(updates)) || (inventory && !json_is_array(inventory));
    json_t *item;
    size_t i;
    if (json_is_array(updates)) {
        r->updates = bo_xcalloc(json_array_size(updates) + 1, sizeof(*r->updates));
        json_array_foreach(updates, i, item)
            update_from_json(item, &r->updates[r->n_updates++]);
    }
    if (json_is_array(inventory)) {
        r->has_inventory = true;
        r->inventory = bo_xcalloc(json_array_size(inventory) + 1, sizeof(*r->inventory));
        json_array_foreach(inventory, i, item)
            r->inventory[r->n_inventory++] = (struct sync_item){
                json_string_value(json_object_get(item, "task_id")),
                json_string_value(json_object_get(item, "state")),
            };
    }
    r->usage = json_incref(json_object_get(body, "usage"));
}

/* ---- the fast reader -------------------------------------------------------- */

/* The index of `key` in `keys`, or -1. */
static int key_index(const char *const *keys, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0)
            return (int)i;
    return -1;
}

/* A string, or null read as `null_is`. */
static bool scan_string_or_null(struct jscan *s, const char **ret, const char *null_is)
{
    if (jscan_peek(s) == JSCAN_NULL) {
        *ret = null_is;
        return jscan_null(s);
    }
    return jscan_string(s, ret);
}

static bool scan_int_or_null(struct jscan *s, int64_t *ret)
{
    *ret = 0;
    return jscan_peek(s) == JSCAN_NULL ? jscan_null(s) : jscan_int(s, ret);
}

/* What agents put in an update: the scheduler reads all but ts and
 * exit_code, which it checks for type only. */
enum { U_SEQ, U_TASK_ID, U_STATE, U_MESSAGE, U_EXECUTOR_PID, U_PROCESSES, U_CAUSE, U_TS, U_EXIT_CODE };
static const char *const update_keys[] = {"seq",       "task_id", "state", "message",  "executor_pid",
                                          "processes", "cause",   "ts",    "exit_code"};
#define U_REQUIRED ((1u << U_SEQ) | (1u << U_TASK_ID) | (1u << U_STATE))

static bool scan_update(struct jscan *s, struct sync_update *u)
{
    if (!jscan_object(s))
        return false;
    unsigned seen = 0;
    const char *key, *state = NULL, *cause = NULL;
    int64_t ignored;
    int k;
    u->message = "";
    while ((k = jscan_key(s, &key)) == 1) {
        int f = key_index(update_keys, BO_ARRAY_SIZE(update_keys), key);
        if (f < 0 || (seen & (1u << f)))
            return false; /* unknown, or twice (jansson refuses that with its own words) */
        seen |= 1u << f;
        bool ok = false;
        switch (f) {
        case U_SEQ: ok = jscan_int(s, &u->seq) && u->seq >= 1; break;
        case U_TASK_ID: ok = jscan_string(s, &u->task_id); break;
        case U_STATE: ok = jscan_string(s, &state); break;
        case U_MESSAGE: ok = scan_string_or_null(s, &u->message, ""); break;
        case U_EXECUTOR_PID: ok = scan_int_or_null(s, &u->executor_pid) && pid_ok(u->executor_pid); break;
        case U_PROCESSES:
            ok = jscan_peek(s) == JSCAN_NULL ? jscan_null(s) : json_scan_array(s, JSON_REJECT_DUPLICATES, &u->processes);
            break;
        case U_CAUSE: ok = scan_string_or_null(s, &cause, NULL); break;
        case U_TS: ok = jscan_int(s, &ignored); break;
        case U_EXIT_CODE: ok = scan_int_or_null(s, &ignored); break;
        }
        if (!ok)
            return false;
    }
    if (k < 0 || (seen & U_REQUIRED) != U_REQUIRED)
        return false;
    u->reason = state_reason(u, state);
    if (!u->reason && cause)
        u->reason = cause_reason(u, cause);
    return true;
}

/* An inventory entry: exactly {"task_id": string, "state": string}. */
static bool scan_item(struct jscan *s, struct sync_item *it)
{
    if (!jscan_object(s))
        return false;
    const char *key;
    int k;
    while ((k = jscan_key(s, &key)) == 1) {
        const char **field = strcmp(key, "task_id") == 0 ? &it->task_id
                             : strcmp(key, "state") == 0 ? &it->state
                                                          : NULL;
        if (!field || *field || !jscan_string(s, field))
            return false;
    }
    return k == 0 && it->task_id && it->state;
}

/* Room for one more element in *arr (n used of *cap). */
static void *grow(void *arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return arr;
    *cap = *cap ? 2 * *cap : 8;
    arr = bo_xrealloc(arr, *cap * size);
    memset((char *)arr + n * size, 0, (*cap - n) * size);
    return arr;
}

static bool scan_updates(struct jscan *s, struct sync_request *r)
{
    size_t cap = 0;
    int k;
    if (!jscan_array(s))
        return false;
    while ((k = jscan_element(s)) == 1) {
        r->updates = grow(r->updates, r->n_updates, &cap, sizeof(*r->updates));
        if (!scan_update(s, &r->updates[r->n_updates++]))
            return false;
    }
    return k == 0;
}

static bool scan_inventory(struct jscan *s, struct sync_request *r)
{
    size_t cap = 0;
    int k;
    if (!jscan_array(s))
        return false;
    r->has_inventory = true;
    while ((k = jscan_element(s)) == 1) {
        r->inventory = grow(r->inventory, r->n_inventory, &cap, sizeof(*r->inventory));
        if (!scan_item(s, &r->inventory[r->n_inventory++]))
            return false;
    }
    return k == 0;
}

/* `usage`, built as the tree the scheduler keeps (a sample per task, as
 * JSON): objects of "task_id" (a string) and counters (integers or null).
 * What sync_request_check_usage refuses in it is refused the same way
 * whichever reader built it. Agents send it every 5 s. */
static bool scan_sample(struct jscan *s, json_t *o)
{
    const char *key;
    int k;
    if (!jscan_object(s))
        return false;
    while ((k = jscan_key(s, &key)) == 1) {
        int f = key_index(usage_keys, BO_ARRAY_SIZE(usage_keys), key);
        const char *str;
        int64_t i;
        json_t *v = NULL;
        if (f < 0 || json_object_get(o, key))
            return false;
        if (f == 0)
            v = jscan_string(s, &str) ? json_string(str) : NULL;
        else if (jscan_peek(s) == JSCAN_NULL)
            v = jscan_null(s) ? json_null() : NULL;
        else
            v = jscan_int(s, &i) ? json_integer(i) : NULL;
        if (!v)
            return false;
        json_object_set_new(o, key, v);
    }
    return k == 0;
}

static bool scan_usage(struct jscan *s, struct sync_request *r)
{
    int k;
    if (!jscan_array(s))
        return false;
    r->usage = json_array();
    while ((k = jscan_element(s)) == 1) {
        json_t *o = json_object();
        json_array_append_new(r->usage, o);
        if (!scan_sample(s, o))
            return false;
    }
    return k == 0;
}

/* The fields of the common shape: a bare sync. */
enum { T_AGENT_ID, T_UPDATES, T_WAIT_MS, T_BOOT, T_LEAVING, T_INVENTORY, T_USAGE };
static const char *const top_keys[] = {"agent_id", "updates", "wait_ms", "boot", "leaving", "inventory", "usage"};

static bool scan_body(struct jscan *s, struct sync_request *r)
{
    if (!jscan_object(s))
        return false;
    unsigned seen = 0;
    const char *key;
    int k;
    while ((k = jscan_key(s, &key)) == 1) {
        int f = key_index(top_keys, BO_ARRAY_SIZE(top_keys), key);
        if (f < 0 || (seen & (1u << f)))
            return false;
        seen |= 1u << f;
        bool ok = false;
        switch (f) {
        case T_AGENT_ID: ok = jscan_string(s, &r->agent_id); break;
        case T_UPDATES: ok = scan_updates(s, r); break;
        case T_WAIT_MS: ok = jscan_int(s, &r->wait_ms); break;
        case T_BOOT: ok = jscan_bool(s, &r->boot); break;
        case T_LEAVING: ok = jscan_bool(s, &r->leaving); break;
        case T_INVENTORY: ok = scan_inventory(s, r); break;
        case T_USAGE: ok = scan_usage(s, r); break;
        }
        if (!ok)
            return false;
    }
    return k == 0 && r->agent_id && jscan_done(s);
}

int sync_request_check_usage(const struct sync_request *r, bo_error_t *err)
{
    if (!r->usage)
        return 0;
    if (!json_is_array(r->usage))
        return bo_error_set(err, BO_E_INVALID, "sync request: usage must be an array");
    json_t *item;
    size_t i;
    json_array_foreach(r->usage, i, item)
    {
        if (!json_is_object(item))
            return bo_error_set(err, BO_E_INVALID, "sync request: usage[%zu] is not an object", i);
        if (json_check_keys(item, usage_keys, BO_ARRAY_SIZE(usage_keys), "sync request: usage[]", err) < 0)
            return -1;
        if (!json_is_string(json_object_get(item, "task_id")))
            return bo_error_set(err, BO_E_INVALID, "sync request: usage[%zu].task_id must be a string", i);
        for (size_t k = 1; k < BO_ARRAY_SIZE(usage_keys); k++) {
            json_t *v = json_object_get(item, usage_keys[k]);
            if (v && !json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0))
                return bo_error_set(err, BO_E_INVALID,
                                    "sync request: usage[%zu].%s must be a non-negative integer or null", i,
                                    usage_keys[k]);
        }
    }
    return 0;
}

bool sync_request_scan(const char *body, size_t len, struct sync_request *ret)
{
    *ret = (struct sync_request){.text = bo_xmalloc(len + 1)};
    memcpy(ret->text, body, len);
    ret->text[len] = '\0';
    struct jscan s;
    jscan_init(&s, ret->text, len);
    if (scan_body(&s, ret))
        return true;
    sync_request_clear(ret);
    return false;
}

void sync_request_clear(struct sync_request *r)
{
    for (size_t i = 0; i < r->n_updates; i++) {
        json_decref(r->updates[i].processes);
        free(r->updates[i].owned_reason);
    }
    free(r->updates);
    free(r->inventory);
    json_decref(r->usage);
    json_decref(r->body);
    free(r->text);
    *r = (struct sync_request){0};
}
