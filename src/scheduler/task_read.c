/* task_read.c - users' reads of task logs and files, relayed to agents. */
#include "scheduler/task_read.h"

#include <string.h>
#include <uthash.h>

#include "base/clock.h"
#include "base/ident.h"
#include "base/parse.h"
#include "model/json_check.h"
#include "scheduler/agent_sync.h"
#include "scheduler/scheduler.h"

#define PATH_MAX_LEN 4096
#define MESSAGE_MAX 2000
/* A write's data: 256 KiB as base64. */
#define WRITE_MAX_B64 (4 * (((256u << 10) + 2) / 3))

/* The agent's refusal codes (task_files.h) and what the user gets. */
static const struct {
    const char *code;
    unsigned status;
} agent_codes[] = {
    {"INVALID", 400}, {"OUTSIDE_SANDBOX", 400}, {"NOT_FOUND", 404}, {"REFUSED", 409}, {"IO", 502},
};

/* What the user's suspended request gets when it resumes. */
struct read_ctx {
    unsigned status;
    json_t *answer;
};

static void read_ctx_free(void *p)
{
    struct read_ctx *c = p;
    json_decref(c->answer);
    free(c);
}

struct pending {
    int64_t id;
    char *agent_id;
    json_t *item; /* what the agent is sent */
    bool sent;
    struct http_request *req;
    int64_t deadline_mono;
    json_t *about; /* {"task_id", "host"}: added to the answer */
    UT_hash_handle hh;
};

/* One scheduler per process, so one table (as agent_sync.c's polls). */
static struct pending *pendings;
static int64_t last_id;
/* A handler queued a read or got a reply: the loop must turn once more at
 * once (agent_sync_wake, then http_server_run), since what a handler
 * resumes or wakes is only served by the next run. */
static bool kick;

/* Answer the user and forget the read. Takes `answer`. */
static void finish(struct pending *p, unsigned status, json_t *answer)
{
    struct read_ctx *c = p->req->user;
    if (status == 200)
        json_object_update_missing(answer, p->about);
    c->status = status;
    c->answer = answer;
    HASH_DEL(pendings, p);
    http_resume(p->req);
    free(p->agent_id);
    json_decref(p->item);
    json_decref(p->about);
    free(p);
}

static json_t *error_json(const char *code, const char *fmt, ...) BO_PRINTF(2, 3);
static json_t *error_json(const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = bo_xvasprintf(fmt, ap);
    va_end(ap);
    return json_pack("{s:s, s:s}", "error", msg, "code", code);
}

/* Query parameters of a read, each checked; added to `item`. */
struct param {
    const char *name;
    enum { P_INT, P_STREAM, P_PROCESS, P_PATH } kind;
    int64_t lo, hi;
};

static const struct param log_params[] = {
    {"process", P_PROCESS, 0, 0},
    {"stream", P_STREAM, 0, 0},
    {"tail", P_INT, 0, 100000},
    {"offset", P_INT, 0, INT64_MAX},
    {"inode", P_INT, 0, INT64_MAX},
    {"wait_ms", P_INT, 0, TASK_READ_WAIT_MAX_MS},
    {"max", P_INT, 1, 256 << 10},
};
static const struct param file_params[] = {
    {"path", P_PATH, 0, 0},
    {"offset", P_INT, 0, INT64_MAX},
    {"max", P_INT, 1, 256 << 10},
};

static bool add_params(struct http_request *req, const struct param *ps, size_t n, json_t *item)
{
    for (size_t i = 0; i < n; i++) {
        const struct param *p = &ps[i];
        const char *v = http_query(req, p->name);
        _cleanup_error_ bo_error_t err = NULL;
        int64_t x;
        if (!v)
            continue;
        switch (p->kind) {
        case P_INT:
            if (bo_parse_i64(v, p->lo, p->hi, p->name, &x, &err) < 0) {
                http_reply_bo_error(req, err);
                return false;
            }
            json_object_set_new(item, p->name, json_integer(x));
            break;
        case P_STREAM:
            if (strcmp(v, "stdout") && strcmp(v, "stderr")) {
                http_reply_error(req, 400, "INVALID", "stream must be stdout or stderr");
                return false;
            }
            json_object_set_new(item, p->name, json_string(v));
            break;
        case P_PROCESS:
            if (bo_ident_check(v, 64, 0, "process", &err) < 0) {
                http_reply_bo_error(req, err);
                return false;
            }
            json_object_set_new(item, p->name, json_string(v));
            break;
        case P_PATH: {
            /* Not judged here: the agent confines it, whatever we pass. */
            json_t *s = strlen(v) <= PATH_MAX_LEN ? json_string(v) : NULL;
            if (!s) {
                http_reply_error(req, 400, "INVALID", "path: at most %d bytes of UTF-8 required", PATH_MAX_LEN);
                return false;
            }
            json_object_set_new(item, p->name, s);
            break;
        }
        }
    }
    return true;
}

/* The task a read is about: the current one of KEY/INSTANCE, or `?task=`
 * (an earlier task of that instance). Answers and returns NULL if none. */
struct sched_task *task_read_find_task(struct http_request *req, struct sched_state *st)
{
    _cleanup_free_ char *key =
        bo_xasprintf("%s/%s/%s/%s", req->params[0], req->params[1], req->params[2], req->params[3]);
    struct sched_job *j = state_job_find(st, key);
    if (!j) {
        http_reply_error(req, 404, "NOT_FOUND", "job `%s` not found", key);
        return NULL;
    }
    int64_t inst;
    _cleanup_error_ bo_error_t err = NULL;
    if (bo_parse_i64(req->params[4], 0, JOB_MAX_INSTANCES - 1, "instance", &inst, &err) < 0) {
        http_reply_bo_error(req, err);
        return NULL;
    }
    const char *want = http_query(req, "task");
    struct sched_task *t = want ? state_task_find(st, want) : inst < j->n_current ? j->current[inst] : NULL;
    if (!t || t->job != j || t->instance != inst) {
        if (want)
            http_reply_error(req, 404, "NOT_FOUND", "task `%.200s` is not a task of %s/%lld", want, key,
                             (long long)inst);
        else
            http_reply_error(req, 404, "NOT_FOUND", "job %s has no instance %lld", key, (long long)inst);
        return NULL;
    }
    return t;
}

/* The body of a write: {"path", "offset", "data": base64}, into item. */
static bool add_write(struct http_request *req, json_t *item)
{
    json_t *body = http_body_json(req);
    if (!body)
        return false;
    static const char *const keys[] = {"path", "offset", "data"};
    _cleanup_error_ bo_error_t err = NULL;
    json_t *path = json_object_get(body, "path"), *off = json_object_get(body, "offset"),
           *data = json_object_get(body, "data");
    if (json_check_keys(body, keys, BO_ARRAY_SIZE(keys), "body", &err) < 0) {
        json_decref(body);
        http_reply_bo_error(req, err);
        return false;
    }
    if (!json_is_string(path) || json_string_length(path) > PATH_MAX_LEN || !json_is_string(data) ||
        json_string_length(data) > WRITE_MAX_B64 || (off && (!json_is_integer(off) || json_integer_value(off) < 0))) {
        json_decref(body);
        http_reply_error(req, 400, "INVALID",
                         "body: {\"path\": string, \"offset\": integer >= 0, \"data\": base64 of at most 256 KiB} "
                         "required");
        return false;
    }
    json_object_set(item, "path", path);
    json_object_set(item, "data", data);
    json_object_set_new(item, "offset", json_integer(off ? json_integer_value(off) : 0));
    json_decref(body);
    return true;
}

/* The body of a run: {"cmd", "timeout_s"}, into item (as cmd and
 * timeout_ms). */
static bool add_run(struct http_request *req, json_t *item)
{
    json_t *body = http_body_json(req);
    if (!body)
        return false;
    static const char *const keys[] = {"cmd", "timeout_s"};
    _cleanup_error_ bo_error_t err = NULL;
    json_t *cmd = json_object_get(body, "cmd"), *to = json_object_get(body, "timeout_s");
    if (json_check_keys(body, keys, BO_ARRAY_SIZE(keys), "body", &err) < 0) {
        json_decref(body);
        http_reply_bo_error(req, err);
        return false;
    }
    if (!json_is_string(cmd) || json_string_length(cmd) == 0 || json_string_length(cmd) > TASK_READ_RUN_CMD_MAX ||
        strlen(json_string_value(cmd)) != json_string_length(cmd) ||
        (to && (!json_is_integer(to) || json_integer_value(to) < 1 ||
                json_integer_value(to) > TASK_READ_RUN_TIMEOUT_MAX_S))) {
        json_decref(body);
        http_reply_error(req, 400, "INVALID",
                         "body: {\"cmd\": a string of 1-%d bytes without NUL, \"timeout_s\": 1-%d} required",
                         TASK_READ_RUN_CMD_MAX, TASK_READ_RUN_TIMEOUT_MAX_S);
        return false;
    }
    json_object_set(item, "cmd", cmd);
    json_object_set_new(item, "timeout_ms",
                        json_integer((to ? json_integer_value(to) : TASK_READ_RUN_TIMEOUT_DEFAULT_S) * 1000));
    json_decref(body);
    return true;
}

/* A write is recorded in the audit log (as every write of the API). */
static bool audit_write(struct http_request *req, struct scheduler *sch, struct sched_task *t, json_t *item)
{
    struct sched_state *st = &sch->state;
    json_t *cmd = json_object_get(item, "cmd");
    _cleanup_free_ char *detail =
        cmd ? bo_xasprintf("task %s: run %.300s", t->id, json_string_value(cmd))
            : bo_xasprintf("task %s: %.300s at %lld", t->id, json_string_value(json_object_get(item, "path")),
                           (long long)json_integer_value(json_object_get(item, "offset")));
    struct audit_entry e = {.principal = req->principal, .action = req->route->name, .method = req->method,
                            .path = req->path, .job = t->job->key, .detail = detail, .status = 200};
    _cleanup_error_ bo_error_t err = NULL;
    if (store_begin(st->store, &err) == 0 && audit_append(&sch->audit, st->store, &e, bo_wall_ms(), &err) == 0 &&
        store_commit(st->store, &err) == 0)
        return true;
    store_rollback(st->store);
    http_reply_bo_error(req, err);
    return false;
}

/* How long the agent may take before it answers: a follower's wait, or a
 * run's timeout. */
static int64_t wait_of(json_t *item)
{
    return json_integer_value(json_object_get(item, "wait_ms")) + json_integer_value(json_object_get(item, "timeout_ms"));
}

static void handle(struct http_request *req, void *ctx, const char *op, const struct param *ps, size_t n)
{
    struct scheduler *sch = ctx;
    struct sched_state *st = &sch->state;
    if (req->resumed) {
        struct read_ctx *c = req->user;
        http_reply_json(req, c->status, json_incref(c->answer));
        return;
    }
    struct sched_task *t = task_read_find_task(req, st);
    if (!t)
        return;
    if (!t->agent_id || t->state == TASK_ASSIGNED) {
        http_reply_error(req, 409, "REFUSED", "task %s is %s: it has not started on an agent yet", t->id,
                         task_state_name(t->state));
        return;
    }
    struct sched_agent *a = state_agent_find(st, t->agent_id);
    if (!a || !a->up) {
        http_reply_error(req, 503, "AGENT_UNAVAILABLE",
                         "the agent of task %s (%s) is %s: its sandbox cannot be read now", t->id,
                         a ? a->hostname : t->agent_id, a ? agent_state_name((enum agent_state)a->state) : "gone");
        return;
    }
    if (HASH_COUNT(pendings) >= TASK_READ_MAX_PENDING) {
        http_reply_error(req, 503, "BUSY", "%d task reads are in flight: try again", TASK_READ_MAX_PENDING);
        return;
    }
    json_t *item = json_pack("{s:s, s:s}", "task_id", t->id, "op", op);
    bool write = !strcmp(op, "write"), run = !strcmp(op, "run");
    if (write  ? !add_write(req, item) || !audit_write(req, sch, t, item)
        : run  ? !add_run(req, item) || !audit_write(req, sch, t, item)
               : !add_params(req, ps, n, item)) {
        json_decref(item);
        return;
    }
    struct pending *p = bo_xcalloc(1, sizeof(*p));
    p->id = ++last_id;
    json_object_set_new(item, "id", json_integer(p->id));
    p->agent_id = bo_xstrdup(a->id);
    p->item = item;
    p->req = req;
    p->deadline_mono = bo_mono_ms() + wait_of(item) + TASK_READ_MARGIN_MS;
    p->about = json_pack("{s:s, s:s}", "task_id", t->id, "host", a->hostname);
    HASH_ADD(hh, pendings, id, sizeof(p->id), p);
    req->user = bo_xcalloc(1, sizeof(struct read_ctx));
    req->user_free = read_ctx_free;
    http_suspend(req);
    state_agent_has_work(st, a); /* answers its parked poll now */
    kick = true;
}

void task_read_handle_logs(struct http_request *req, void *ctx)
{
    handle(req, ctx, "log", log_params, BO_ARRAY_SIZE(log_params));
}

void task_read_handle_files(struct http_request *req, void *ctx)
{
    handle(req, ctx, "files", file_params, BO_ARRAY_SIZE(file_params));
}

int task_read_reply_parse(json_t *body, struct task_read_reply *ret, bo_error_t *err)
{
    static const char *const keys[] = {"agent_id", "id", "result", "error"};
    static const char *const ekeys[] = {"code", "message"};
    if (!json_is_object(body))
        return bo_error_set(err, BO_E_INVALID, "read reply: not an object");
    if (json_check_keys(body, keys, BO_ARRAY_SIZE(keys), "read reply", err) < 0)
        return -1;
    const char *agent = json_string_value(json_object_get(body, "agent_id"));
    json_t *id = json_object_get(body, "id"), *result = json_object_get(body, "result"),
           *error = json_object_get(body, "error");
    if (!agent || !json_is_integer(id) || json_integer_value(id) < 1)
        return bo_error_set(err, BO_E_INVALID, "read reply: agent_id (string) and id (positive integer) required");
    if (!result == !error || (result && !json_is_object(result)) || (error && !json_is_object(error)))
        return bo_error_set(err, BO_E_INVALID, "read reply: either result or error (an object) required");
    struct task_read_reply r = {.agent_id = agent, .id = json_integer_value(id), .status = 200};
    if (result) {
        /* Passed on as it is: fields the user's request is about win. */
        if (json_object_get(result, "error"))
            return bo_error_set(err, BO_E_INVALID, "read reply: a result has no `error`");
        r.answer = json_deep_copy(result);
    } else {
        if (json_check_keys(error, ekeys, BO_ARRAY_SIZE(ekeys), "read reply error", err) < 0)
            return -1;
        const char *code = json_string_value(json_object_get(error, "code"));
        json_t *msg = json_object_get(error, "message");
        for (size_t i = 0; code && i < BO_ARRAY_SIZE(agent_codes); i++)
            if (!strcmp(code, agent_codes[i].code))
                r.status = agent_codes[i].status;
        if (r.status == 200 || !json_is_string(msg) || json_string_length(msg) > MESSAGE_MAX)
            return bo_error_set(err, BO_E_INVALID,
                                "read reply error: a known code and a message of at most %d bytes required",
                                MESSAGE_MAX);
        r.answer = json_pack("{s:O, s:s}", "error", msg, "code", code);
    }
    *ret = r;
    return 0;
}

void task_read_handle_write(struct http_request *req, void *ctx)
{
    handle(req, ctx, "write", NULL, 0);
}

void task_read_handle_run(struct http_request *req, void *ctx)
{
    handle(req, ctx, "run", NULL, 0);
}

void task_read_handle_reply(struct http_request *req, void *ctx)
{
    struct scheduler *sch = ctx;
    json_t *body = http_body_json(req);
    if (!body)
        return;
    _cleanup_error_ bo_error_t err = NULL;
    struct task_read_reply r;
    if (task_read_reply_parse(body, &r, &err) < 0) {
        json_decref(body);
        http_reply_bo_error(req, err);
        return;
    }
    if (sch->tls && !agent_sync_identity_ok(sch, req, r.agent_id)) {
        json_decref(r.answer);
        json_decref(body);
        return;
    }
    struct pending *p = NULL;
    HASH_FIND(hh, pendings, &r.id, sizeof(r.id), p);
    /* Only the agent the read went to may answer it. A reply too late
     * (the user was answered already) is no error of the agent's. */
    if (p && p->sent && !strcmp(p->agent_id, r.agent_id)) {
        finish(p, r.status, r.answer);
        kick = true;
    }
    else
        json_decref(r.answer);
    json_decref(body);
    http_reply_json(req, 200, json_object());
}

json_t *task_read_take(const char *agent_id, bool *ret_more)
{
    json_t *out = NULL;
    size_t writes = 0;
    *ret_more = false;
    struct pending *p, *tmp;
    HASH_ITER(hh, pendings, p, tmp)
    {
        if (p->sent || strcmp(p->agent_id, agent_id) != 0)
            continue;
        if (!out)
            out = json_array();
        /* Writes carry up to 342 KiB each: a few per answer. */
        bool write = json_object_get(p->item, "data") != NULL;
        if (json_array_size(out) >= TASK_READ_MAX_PER_ANSWER || (write && writes >= TASK_READ_MAX_WRITES)) {
            *ret_more = true;
            break;
        }
        writes += write;
        p->sent = true;
        json_array_append(out, p->item);
    }
    return out;
}

void task_read_expire(struct sched_state *st, int64_t now_mono)
{
    kick = false;
    struct pending *p, *tmp;
    HASH_ITER(hh, pendings, p, tmp)
    {
        struct sched_agent *a = state_agent_find(st, p->agent_id);
        if (!a || !a->up)
            finish(p, 503,
                   error_json("AGENT_UNAVAILABLE", "agent %s went %s before it answered", a ? a->hostname : p->agent_id,
                              a ? agent_state_name((enum agent_state)a->state) : "away"));
        else if (now_mono >= p->deadline_mono)
            finish(p, 504, error_json("AGENT_TIMEOUT", "agent %s did not answer within %lld s", a->hostname,
                                      (long long)(wait_of(p->item) + TASK_READ_MARGIN_MS) / 1000));
    }
}

int64_t task_read_next_deadline(void)
{
    int64_t next = kick ? 0 : -1;
    struct pending *p, *tmp;
    HASH_ITER(hh, pendings, p, tmp)
    {
        if (next < 0 || p->deadline_mono < next)
            next = p->deadline_mono;
    }
    return next;
}

void task_read_release_all(void)
{
    struct pending *p, *tmp;
    HASH_ITER(hh, pendings, p, tmp)
    finish(p, 503, error_json("UNAVAILABLE", "the scheduler is stopping"));
}
