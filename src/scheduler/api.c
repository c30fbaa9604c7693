/* api.c - the public HTTP API: one route table (docs/api.md lists the same
 * routes) and a handler per route. Each write handler applies its change in
 * one store batch and commits before it answers. */
#include <string.h>
#include <utlist.h>

#include "base/log.h"
#include "base/parse.h"
#include "base/timefmt.h"
#include "scheduler/agent_sync.h"
#include "scheduler/kill_request.h"
#include "scheduler/lifecycle.h"
#include "scheduler/scheduler.h"

#define API_VERSION "0.1.0"

static struct sched_state *S(void *ctx) { return &((struct scheduler *)ctx)->state; }

/* Commit the batch opened by a handler, or roll it back and answer the
 * error. Returns 0 when the caller may answer with success. */
static int finish_batch(struct http_request *req, struct sched_state *st, int r, bo_error_t *err)
{
    if (r == 0 && store_commit(st->store, err) == 0)
        return 0;
    store_rollback(st->store);
    if (!state_error_is_clean(*err)) {
        _cleanup_free_ char *what = bo_xasprintf("%s %s", req->method, req->path);
        state_fatal(st, what, (*err)->msg);
    }
    http_reply_bo_error(req, *err);
    return -1;
}

static void h_health(struct http_request *req, void *ctx)
{
    http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_metrics(struct http_request *req, void *ctx)
{
    struct scheduler *s = ctx;
    http_reply_text(req, 200, "text/plain; version=0.0.4", metrics_render(&s->metrics, &s->state));
}

static void h_cluster(struct http_request *req, void *ctx)
{
    http_reply_json(req, 200, json_pack("{s:s, s:s}", "cluster", S(ctx)->opt.cluster, "version", API_VERSION));
}

static void h_job_create(struct http_request *req, void *ctx)
{
    struct sched_state *st = S(ctx);
    json_t *body = http_body_json(req);
    if (!body)
        return;
    _cleanup_error_ bo_error_t err = NULL;
    struct job_config *c = NULL;
    int r = job_config_from_json(body, &c, &err);
    json_decref(body);
    if (r < 0) {
        http_reply_bo_error(req, err);
        return;
    }
    if (strcmp(c->key.cluster, st->opt.cluster) != 0) {
        http_reply_error(req, 400, "INVALID", "job cluster `%s` does not match this scheduler's cluster `%s`",
                         c->key.cluster, st->opt.cluster);
        job_config_unref(c);
        return;
    }
    struct sched_job *j = NULL;
    r = store_begin(st->store, &err);
    if (r == 0)
        r = lifecycle_create_job(st, c, &j, &err);
    job_config_unref(c);
    if (finish_batch(req, st, r, &err) < 0)
        return;
    json_t *ids = json_array();
    for (int64_t i = 0; i < j->n_current; i++)
        json_array_append_new(ids, json_string(j->current[i]->id));
    char count[48];
    bo_format_count(j->n_current, "instance", count, sizeof(count));
    log_info("job %s created with %s", j->key, count);
    http_reply_json(req, 201, json_pack("{s:s, s:o}", "job", j->key, "tasks", ids));
}

static bool match_filter(const char *want, const char *have) { return !want || strcmp(want, have) == 0; }

static void h_job_list(struct http_request *req, void *ctx)
{
    struct sched_state *st = S(ctx);
    const char *role = http_query(req, "role"), *env = http_query(req, "environment"),
               *name = http_query(req, "name");
    json_t *jobs = json_array();
    struct sched_job *j, *tmp;
    HASH_ITER(hh, st->jobs, j, tmp)
    {
        const struct job_key *k = &j->config->key;
        if (match_filter(role, k->role) && match_filter(env, k->environment) && match_filter(name, k->name))
            json_array_append_new(jobs, state_job_summary_json(st, j));
    }
    http_reply_json(req, 200, json_pack("{s:o}", "jobs", jobs));
}

/* The job named by the first four path parameters, or answers 404. */
static struct sched_job *job_from_path(struct http_request *req, struct sched_state *st)
{
    _cleanup_free_ char *key =
        bo_xasprintf("%s/%s/%s/%s", req->params[0], req->params[1], req->params[2], req->params[3]);
    struct sched_job *j = state_job_find(st, key);
    if (!j)
        http_reply_error(req, 404, "NOT_FOUND", "job `%s` not found", key);
    return j;
}

#define JOB_HISTORY_MAX 50

static void h_job_get(struct http_request *req, void *ctx)
{
    struct sched_state *st = S(ctx);
    struct sched_job *j = job_from_path(req, st);
    if (!j)
        return;
    json_t *tasks = json_array(), *history = json_array();
    for (int64_t i = 0; i < j->n_current; i++)
        if (j->current[i])
            json_array_append_new(tasks, state_task_to_json(j->current[i]));
    int n = 0;
    struct sched_task *t;
    for (t = j->tasks ? j->tasks->j_prev : NULL; t && n < JOB_HISTORY_MAX;
         t = (t == j->tasks) ? NULL : t->j_prev) {
        if (t->instance < j->n_current && j->current[t->instance] == t)
            continue;
        json_array_append_new(history, state_task_to_json(t));
        n++;
    }
    http_reply_json(req, 200, json_pack("{s:o, s:o, s:o, s:o}", "job", state_job_summary_json(st, j), "config",
                                        job_config_to_json(j->config), "tasks", tasks, "history", history));
}

static void h_job_kill(struct http_request *req, void *ctx)
{
    struct sched_state *st = S(ctx);
    struct sched_job *j = job_from_path(req, st);
    if (!j)
        return;
    json_t *body = req->body_len ? http_body_json(req) : json_object();
    if (!body)
        return;
    _cleanup_error_ bo_error_t err = NULL;
    _cleanup_free_ int64_t *inst = NULL;
    size_t n_inst = 0;
    int r = kill_request_parse(body, j->key, j->n_current, &inst, &n_inst, &err);
    json_decref(body);
    if (r < 0) {
        http_reply_bo_error(req, err);
        return;
    }
    json_t *killed = json_array();
    r = store_begin(st->store, &err);
    for (size_t k = 0; r == 0 && k < n_inst; k++) {
        struct sched_task *t = j->current[inst[k]];
        if (!t)
            continue;
        int kr = lifecycle_kill(st, t, &err);
        if (kr < 0)
            r = -1;
        else if (kr > 0)
            json_array_append_new(killed, json_string(t->id));
    }
    if (r == 0)
        r = state_job_refresh(st, j, &err);
    if (finish_batch(req, st, r, &err) < 0) {
        json_decref(killed);
        return;
    }
    if (json_array_size(killed))
        log_info("job %s: killing %zu task%s", j->key, json_array_size(killed), json_array_size(killed) == 1 ? "" : "s");
    http_reply_json(req, 200, json_pack("{s:o}", "killed", killed));
}

static bool state_in_list(const char *list, enum task_state s)
{
    const char *name = task_state_name(s);
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static void h_task_list(struct http_request *req, void *ctx)
{
    struct sched_state *st = S(ctx);
    const char *job = http_query(req, "job"), *states = http_query(req, "state"),
               *agent = http_query(req, "agent"), *inst = http_query(req, "instance");
    if (states) {
        for (const char *p = states; *p;) {
            const char *end = strchr(p, ',');
            _cleanup_free_ char *one = end ? bo_xstrndup(p, (size_t)(end - p)) : bo_xstrdup(p);
            enum task_state s;
            if (task_state_from_name(one, &s) < 0) {
                http_reply_error(req, 400, "INVALID", "unknown task state `%s` in state filter", one);
                return;
            }
            p = end ? end + 1 : p + strlen(p);
        }
    }
    int64_t want_inst = -1;
    if (inst) {
        _cleanup_error_ bo_error_t err = NULL;
        if (bo_parse_i64(inst, 0, JOB_MAX_INSTANCES, "instance", &want_inst, &err) < 0) {
            http_reply_bo_error(req, err);
            return;
        }
    }
    json_t *out = json_array();
    struct sched_task *t, *tmp;
    HASH_ITER(hh, st->tasks, t, tmp)
    {
        if (job && strcmp(job, t->job->key) != 0)
            continue;
        if (states && !state_in_list(states, t->state))
            continue;
        if (agent && (!t->agent_id || strcmp(agent, t->agent_id) != 0))
            continue;
        if (want_inst >= 0 && t->instance != want_inst)
            continue;
        json_array_append_new(out, state_task_to_json(t));
    }
    http_reply_json(req, 200, json_pack("{s:o}", "tasks", out));
}

static void h_task_get(struct http_request *req, void *ctx)
{
    struct sched_task *t = state_task_find(S(ctx), req->params[0]);
    if (!t) {
        http_reply_error(req, 404, "NOT_FOUND", "task `%s` not found", req->params[0]);
        return;
    }
    http_reply_json(req, 200, state_task_to_json(t));
}

static void h_agent_list(struct http_request *req, void *ctx)
{
    json_t *out = json_array();
    struct sched_agent *a, *tmp;
    HASH_ITER(hh, S(ctx)->agents, a, tmp)
    json_array_append_new(out, state_agent_to_json(a));
    http_reply_json(req, 200, json_pack("{s:o}", "agents", out));
}

const struct http_route api_routes[] = {
    {"GET", "/health", h_health, "health"},
    {"GET", "/metrics", h_metrics, "metrics"},
    {"GET", "/api/v1/cluster", h_cluster, "cluster"},
    {"POST", "/api/v1/jobs", h_job_create, "job_create"},
    {"GET", "/api/v1/jobs", h_job_list, "job_list"},
    {"GET", "/api/v1/jobs/*/*/*/*", h_job_get, "job_get"},
    {"POST", "/api/v1/jobs/*/*/*/*/kill", h_job_kill, "job_kill"},
    {"GET", "/api/v1/tasks", h_task_list, "task_list"},
    {"GET", "/api/v1/tasks/*", h_task_get, "task_get"},
    {"GET", "/api/v1/agents", h_agent_list, "agent_list"},
    {"POST", "/api/v1/agents/sync", agent_sync_handle, "agent_sync"},
};
const size_t api_routes_count = BO_ARRAY_SIZE(api_routes);
