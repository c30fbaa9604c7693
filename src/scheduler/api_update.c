/* api_update.c - handlers of the update routes: start (with a dry run that
 * shows the plan), list, get, and the commands on the active update. Each
 * write is one store batch, committed before the answer. */
#include "scheduler/api_update.h"

#include <string.h>
#include <utlist.h>

#include "base/log.h"
#include "scheduler/api.h"
#include "scheduler/gate.h"
#include "scheduler/scheduler.h"
#include "scheduler/update.h"
#include "scheduler/update_request.h"

static struct sched_state *S(void *ctx) { return &((struct scheduler *)ctx)->state; }

static bool in_list(const struct update_scope *scope, int64_t i)
{
    for (size_t k = 0; scope->instances && k < scope->n; k++)
        if (scope->instances[k] == i)
            return true;
    return !scope->instances;
}

/* {"add": [...], "kill": [...], "replace": [...], "unchanged": [...]}. */
static json_t *plan_json(const struct sched_job *j, const struct job_config *to, const struct update_scope *scope)
{
    struct update_instance *plan;
    size_t n;
    int64_t unchanged;
    update_plan(j, to, scope, false, &plan, &n, &unchanged);
    json_t *o = json_pack("{s:[], s:[], s:[], s:[]}", "add", "kill", "replace", "unchanged");
    size_t k = 0;
    for (int64_t i = 0; i < to->instances || k < n; i++) {
        if (k < n && plan[k].instance == i) {
            json_array_append_new(json_object_get(o, update_action_name(plan[k].action)), json_integer(i));
            k++;
        } else if (i < to->instances && i < j->n_current && j->current[i] && in_list(scope, i)) {
            json_array_append_new(json_object_get(o, "unchanged"), json_integer(i));
        }
    }
    free(plan);
    return o;
}

static json_t *update_with_plan(struct sched_update *u, json_t *plan)
{
    json_t *o = json_pack("{s:o}", "update", update_to_json(u, false));
    if (plan)
        json_object_set_new(o, "plan", plan);
    return o;
}

/* A retry of a request already done: the same request id, or the active
 * update heading to the same config over the same instances (a full
 * update while a canary of the same config runs is another request: it
 * is refused as any second update is). */
static struct sched_update *same_request(struct sched_job *j, const struct update_request *r,
                                         const struct update_scope *scope)
{
    struct sched_update *u;
    if (r->request_id)
        DL_FOREACH2(j->updates, u, u_next)
    if (u->request_id && strcmp(u->request_id, r->request_id) == 0)
        return u;
    if (j->update && j->update->to && !j->update->restart && update_same_scope(j->update, scope)) {
        json_t *a = job_config_to_json(j->update->to), *b = job_config_to_json(r->config);
        bool same = json_equal(a, b);
        json_decref(a);
        json_decref(b);
        if (same)
            return j->update;
    }
    return NULL;
}

void api_update_start(struct http_request *req, void *ctx)
{
    struct sched_state *st = S(ctx);
    struct sched_job *j = api_job_from_path(req, st);
    if (!j)
        return;
    json_t *body = http_body_json(req);
    if (!body)
        return;
    _cleanup_error_ bo_error_t err = NULL;
    struct update_request r = {0};
    int pr = update_request_parse(body, j->key, UPDATE_REQ_START, &r, &err);
    if (pr == 0 && job_config_check_image_resolved(r.config, &err) < 0) {
        update_request_clear(&r);
        pr = -1;
    }
    if (pr < 0) {
        http_reply_bo_error(req, err);
        json_decref(body);
        return;
    }
    struct update_scope scope = {r.instances, r.n_instances};
    if (r.dry_run) {
        json_t *plan = plan_json(j, r.config, &scope);
        json_t *o = json_pack("{s:o}", "plan", plan);
        json_object_set_new(o, "active_update", j->update ? update_to_json(j->update, false) : json_null());
        update_request_clear(&r);
        json_decref(body);
        http_reply_json(req, 200, o);
        return;
    }
    struct sched_update *u = same_request(j, &r, &scope);
    if (u) {
        json_t *o = update_with_plan(u, NULL);
        json_object_set_new(o, "existing", json_true());
        update_request_clear(&r);
        json_decref(body);
        http_reply_json(req, 200, o);
        return;
    }
    json_t *plan = plan_json(j, r.config, &scope);
    bool unchanged = !json_array_size(json_object_get(plan, "add")) && !json_array_size(json_object_get(plan, "kill")) &&
                     !json_array_size(json_object_get(plan, "replace"));
    if (unchanged && !j->update) {
        update_request_clear(&r);
        json_decref(body);
        http_reply_json(req, 200, json_pack("{s:b, s:o}", "unchanged", true, "plan", plan));
        return;
    }
    int rc = store_begin(st->store, &err);
    if (rc == 0)
    {
        struct update_start_opts o = {.to = r.config, .scope = scope, .user = req->principal, .message = r.message,
                                      .request_id = r.request_id};
        rc = update_start(st, j, &o, &u, &err);
    }
    update_request_clear(&r);
    json_decref(body);
    if (api_finish_batch(req, ctx, rc, j->key, rc == 0 ? u->id : NULL, 201, &err) < 0) {
        json_decref(plan);
        return;
    }
    http_reply_json(req, 201, update_with_plan(u, plan));
}

void api_update_list(struct http_request *req, void *ctx)
{
    struct sched_job *j = api_job_from_path(req, S(ctx));
    if (!j)
        return;
    json_t *a = json_array();
    struct sched_update *u;
    /* Newest first, as people look for the latest. */
    for (u = j->updates ? j->updates->u_prev : NULL; u; u = u == j->updates ? NULL : u->u_prev)
        json_array_append_new(a, update_to_json(u, false));
    http_reply_json(req, 200, json_pack("{s:o}", "updates", a));
}

/* `latest`: the active update, else the newest. */
void api_update_get(struct http_request *req, void *ctx)
{
    struct sched_job *j = api_job_from_path(req, S(ctx));
    if (!j)
        return;
    const char *id = req->params[4];
    struct sched_update *u = NULL, *it;
    if (strcmp(id, "latest") == 0)
        u = j->update ? j->update : j->updates ? j->updates->u_prev : NULL;
    else
        DL_FOREACH2(j->updates, it, u_next)
    if (strcmp(it->id, id) == 0)
        u = it;
    if (!u) {
        http_reply_error(req, 404, "NOT_FOUND", "job %s has no update `%.64s`%s", j->key, id,
                         strcmp(id, "latest") == 0 ? "" : " (`borealis update list` shows its updates)");
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "update", update_to_json(u, true)));
}

static void command(struct http_request *req, void *ctx, enum update_command cmd)
{
    struct sched_state *st = S(ctx);
    struct sched_job *j = api_job_from_path(req, st);
    if (!j)
        return;
    json_t *body = req->body_len ? http_body_json(req) : json_object();
    if (!body)
        return;
    _cleanup_error_ bo_error_t err = NULL;
    struct update_request r = {0};
    if (update_request_parse(body, j->key, UPDATE_REQ_COMMAND, &r, &err) < 0) {
        http_reply_bo_error(req, err);
        json_decref(body);
        return;
    }
    if (!j->update) {
        json_decref(body);
        http_reply_error(req, 409, "REFUSED", "job %s has no active update", j->key);
        return;
    }
    struct sched_update *u = j->update;
    int rc = store_begin(st->store, &err);
    if (rc == 0)
        rc = update_command(st, u, cmd, req->principal, r.message, &err);
    json_decref(body);
    if (api_finish_batch(req, ctx, rc, j->key, u->id, 200, &err) < 0)
        return;
    http_reply_json(req, 200, update_with_plan(u, NULL));
}

void api_update_pause(struct http_request *req, void *ctx) { command(req, ctx, UPDATE_CMD_PAUSE); }
void api_update_resume(struct http_request *req, void *ctx) { command(req, ctx, UPDATE_CMD_RESUME); }
void api_update_abort(struct http_request *req, void *ctx) { command(req, ctx, UPDATE_CMD_ABORT); }
void api_update_rollback(struct http_request *req, void *ctx) { command(req, ctx, UPDATE_CMD_ROLLBACK); }
void api_update_pulse(struct http_request *req, void *ctx) { command(req, ctx, UPDATE_CMD_PULSE); }

void api_job_restart(struct http_request *req, void *ctx)
{
    struct sched_state *st = S(ctx);
    struct sched_job *j = api_job_from_path(req, st);
    if (!j)
        return;
    json_t *body = req->body_len ? http_body_json(req) : json_object();
    if (!body)
        return;
    _cleanup_error_ bo_error_t err = NULL;
    struct update_request r = {0};
    if (update_request_parse(body, j->key, UPDATE_REQ_RESTART, &r, &err) < 0) {
        http_reply_bo_error(req, err);
        json_decref(body);
        return;
    }
    /* The job's own settings, but what the request says; a restart never
     * rolls back (each instance comes back with the config it had). */
    const struct job_config *c = j->config;
    struct update_settings set = {
        .batch_size = r.settings.batch_size >= 0 ? r.settings.batch_size : c->update.batch_size,
        .watch_secs = r.settings.watch_secs >= 0 ? r.settings.watch_secs : c->update.watch_secs,
        .max_per_instance_failures = r.settings.max_per_instance_failures >= 0 ? r.settings.max_per_instance_failures
                                                                              : c->update.max_per_instance_failures,
        .max_total_failures =
            r.settings.max_total_failures >= 0 ? r.settings.max_total_failures : c->update.max_total_failures,
        .strategy = UPDATE_STRATEGY_QUEUE,
    };
    struct update_start_opts o = {.settings = &set, .scope = {r.instances, r.n_instances}, .user = req->principal,
                                  .message = r.message};
    struct sched_update *u = NULL;
    int rc = store_begin(st->store, &err);
    if (rc == 0)
        rc = update_start(st, j, &o, &u, &err);
    update_request_clear(&r);
    json_decref(body);
    if (api_finish_batch(req, ctx, rc, j->key, rc == 0 ? u->id : NULL, 201, &err) < 0)
        return;
    http_reply_json(req, 201, update_with_plan(u, NULL));
}

/* ---- job start, job add: updates the scheduler builds itself ------------- */

static struct sched_update *by_request_id(struct sched_job *j, const char *request_id)
{
    struct sched_update *u;
    if (request_id)
        DL_FOREACH2(j->updates, u, u_next)
    if (u->request_id && strcmp(u->request_id, request_id) == 0)
        return u;
    return NULL;
}

/* The tail both routes share once they know the config and the instances:
 * a dry run answers the plan; a retry (same request id) the update it
 * started; nothing to add answers "unchanged"; else the update starts.
 * `extra` (taken) is merged into every answer. Unlike `update start`, an
 * active update heading to the same config is not taken for a retry: the
 * job's config is that update's while it runs. */
static void start_scoped(struct http_request *req, void *ctx, struct sched_job *j, struct job_config *to,
                         const struct update_scope *scope, const struct update_request *r, json_t *extra)
{
    struct sched_state *st = S(ctx);
    json_t *plan = scope->n ? plan_json(j, to, scope) : json_pack("{s:[], s:[], s:[], s:[]}", "add", "kill",
                                                                    "replace", "unchanged");
    json_t *o;
    struct sched_update *u = r->dry_run ? NULL : by_request_id(j, r->request_id);
    if (r->dry_run) {
        o = json_pack("{s:o, s:o}", "plan", plan, "active_update",
                      j->update ? update_to_json(j->update, false) : json_null());
    } else if (u) {
        json_decref(plan);
        o = update_with_plan(u, NULL);
        json_object_set_new(o, "existing", json_true());
    } else if (!json_array_size(json_object_get(plan, "add"))) {
        o = json_pack("{s:b, s:o}", "unchanged", true, "plan", plan);
    } else {
        _cleanup_error_ bo_error_t err = NULL;
        int rc = store_begin(st->store, &err);
        if (rc == 0) {
            struct update_start_opts so = {.to = to, .scope = *scope, .user = req->principal, .message = r->message,
                                           .request_id = r->request_id};
            rc = update_start(st, j, &so, &u, &err);
        }
        if (api_finish_batch(req, ctx, rc, j->key, rc == 0 ? u->id : NULL, 201, &err) < 0) {
            json_decref(plan);
            json_decref(extra);
            return;
        }
        o = update_with_plan(u, plan);
        json_object_update(o, extra);
        json_decref(extra);
        http_reply_json(req, 201, o);
        return;
    }
    json_object_update(o, extra);
    json_decref(extra);
    http_reply_json(req, 200, o);
}

static json_t *parse_body(struct http_request *req, struct sched_job *j, enum update_request_kind kind,
                          struct update_request *r)
{
    json_t *body = req->body_len ? http_body_json(req) : json_object();
    if (!body)
        return NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (update_request_parse(body, j->key, kind, r, &err) < 0) {
        http_reply_bo_error(req, err);
        json_decref(body);
        return NULL;
    }
    return body;
}

void api_job_start(struct http_request *req, void *ctx)
{
    struct sched_job *j = api_job_from_path(req, S(ctx));
    if (!j)
        return;
    struct update_request r = {0};
    _cleanup_free_ int64_t *scope = NULL;
    json_t *body = parse_body(req, j, UPDATE_REQ_JOB_START, &r);
    if (!body)
        return;
    int64_t n = j->config->instances;
    /* Instances past the config's count were removed by an update, not
     * killed: an update brings those back. */
    for (size_t k = 0; k < r.n_instances; k++)
        if (r.instances[k] >= n) {
            http_reply_error(req, 400, "INVALID", "job %s has no instance %lld (its instances are 0-%lld)", j->key,
                             (long long)r.instances[k], (long long)n - 1);
            goto out;
        }
    /* Killed instances count as absent: an update to the job's own config
     * scoped to them adds them back. Live ones are left alone. */
    scope = bo_xcalloc((size_t)n, sizeof(*scope));
    size_t n_scope = 0;
    json_t *running = json_array(), *ended = json_array();
    for (int64_t i = 0, k = 0; i < n; i++) {
        if (r.instances && (k >= (int64_t)r.n_instances || r.instances[k] != i))
            continue;
        k++;
        struct sched_task *t = update_present_task(j, i);
        /* A batch job's instance that ended on its own is done, as in
         * Aurora (only a kill is undone here); a service's is being
         * rescheduled. */
        if (t && !j->config->service && task_state_is_terminal(t->state))
            json_array_append_new(ended, json_pack("{s:I, s:s}", "instance", (json_int_t)i, "state",
                                                   task_state_name(t->state)));
        else if (t)
            json_array_append_new(running, json_integer(i));
        else
            scope[n_scope++] = i;
    }
    struct update_scope sc = {scope, n_scope};
    start_scoped(req, ctx, j, j->config, &sc, &r, json_pack("{s:o, s:o}", "running", running, "ended", ended));
out:
    update_request_clear(&r);
    json_decref(body);
}

void api_job_add(struct http_request *req, void *ctx)
{
    struct sched_job *j = api_job_from_path(req, S(ctx));
    if (!j)
        return;
    struct update_request r = {0};
    _cleanup_free_ int64_t *scope = NULL;
    json_t *body = parse_body(req, j, UPDATE_REQ_JOB_ADD, &r);
    if (!body)
        return;
    int64_t n = j->config->instances;
    struct sched_task *src = r.instance < n && r.instance < j->n_current ? j->current[r.instance] : NULL;
    struct job_config *to = NULL;
    if (!src) {
        http_reply_error(req, 400, "INVALID", "job %s has no instance %lld to clone (its instances are 0-%lld)",
                         j->key, (long long)r.instance, (long long)n - 1);
        goto out;
    }
    if (n + r.count > JOB_MAX_INSTANCES) {
        http_reply_error(req, 400, "INVALID",
                         "adding %lld instance%s to job %s would make %lld: a job has at most %d instances",
                         (long long)r.count, r.count == 1 ? "" : "s", j->key, (long long)(n + r.count),
                         JOB_MAX_INSTANCES);
        goto out;
    }
    /* The clone's config is the one instance `instance` runs (it may differ
     * from the job's after a canary update), with the new count; it becomes
     * the job's, as any update's. */
    json_t *cj = job_config_to_json(src->config);
    json_object_set_new(cj, "instances", json_integer(n + r.count));
    bo_error_t err = NULL;
    int rc = job_config_from_json(cj, &to, &err);
    json_decref(cj);
    if (rc < 0) {
        http_reply_bo_error(req, err);
        bo_error_free(err);
        goto out;
    }
    scope = bo_xcalloc((size_t)r.count, sizeof(*scope));
    for (int64_t k = 0; k < r.count; k++)
        scope[k] = n + k;
    struct update_scope sc = {scope, (size_t)r.count};
    start_scoped(req, ctx, j, to, &sc, &r, json_pack("{s:I}", "cloned", (json_int_t)r.instance));
out:
    job_config_unref(to);
    update_request_clear(&r);
    json_decref(body);
}
