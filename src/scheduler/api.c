/* api.c - the public HTTP API: one route table (docs/api.md lists the same
 * routes) and a handler per route. Each write handler applies its change in
 * one store batch and commits before it answers. */
#include <string.h>
#include <utlist.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/strbuf.h"
#include "base/timefmt.h"
#include "scheduler/agent_sync.h"
#include "scheduler/api.h"
#include "scheduler/api_update.h"
#include "scheduler/durable.h"
#include "scheduler/gate.h"
#include "scheduler/kill_request.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/scheduler.h"
#include "scheduler/exec_session.h"
#include "scheduler/task_read.h"
#include "scheduler/update.h"

#define API_VERSION "0.1.0"

static struct sched_state *S(void *ctx) { return &((struct scheduler *)ctx)->state; }

/* Record the write (audit.h) in the batch opened by a handler, commit it,
 * or roll it back and answer the error. Returns 0 when the caller may
 * answer with success (`status`, as recorded): the answer leaves once the
 * batch is durable.
 *
 * Tasks the write made pending are placed in the same batch, so each is
 * written to the store once, PENDING and ASSIGNED together, instead of
 * once at this commit and again at the loop's placement pass: a third of
 * the task writes of a large create (issue 11). A store error there fails
 * the write like any other. */
int api_finish_batch(struct http_request *req, void *ctx, int r, const char *job, const char *detail,
                     unsigned status, bo_error_t *err)
{
    struct scheduler *s = ctx;
    struct sched_state *st = &s->state;
    struct audit_entry e = {.principal = req->principal, .action = req->route->name, .method = req->method,
                            .path = req->path, .job = job, .detail = detail, .status = status};
    if (r == 0 && placement_is_due(st) && placement_run(st, PLACEMENT_PASS_MAX, err) < 0)
        r = -1;
    if (r == 0)
        r = audit_append(&s->audit, st->store, &e, bo_wall_ms(), err);
    /* Into the group commit: the answer waits for it (durable.h), while
     * the loop goes on. */
    if (r == 0 && store_commit_deferred(st->store, err) == 0) {
        durable_answer(st, req);
        return 0;
    }
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
    if (r == 0 && (job_config_check_image_resolved(c, &err) < 0 ||
                   job_config_check_mounts_allowed(c, st->opt.host_mount_allow, st->opt.n_host_mount_allow,
                                                   &err) < 0)) {
        job_config_unref(c);
        r = -1;
    }
    if (r < 0) {
        http_reply_bo_error(req, err);
        return;
    }
    if (!gate_role(req, ctx, c->key.role, true)) {
        job_config_unref(c);
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
    _cleanup_free_ char *key = job_key_str(&c->key);
    job_config_unref(c);
    if (api_finish_batch(req, ctx, r, key, NULL, 201, &err) < 0)
        return;
    char count[48];
    bo_format_count(j->n_current, "instance", count, sizeof(count));
    log_info("job %s created with %s", j->key, count);
    /* Written as text: a tree of a large job's task ids, dumped, cost
     * more than the rest of the answer's work. */
    struct bo_buf out = {0};
    bo_buf_adds(&out, "{\"job\":");
    bo_buf_json_str(&out, j->key);
    bo_buf_adds(&out, ",\"tasks\":[");
    for (int64_t i = 0; i < j->n_current; i++) {
        if (i)
            bo_buf_add(&out, ",", 1);
        bo_buf_json_str(&out, j->current[i]->id);
    }
    bo_buf_adds(&out, "]}\n");
    http_reply_text(req, 201, "application/json", bo_buf_steal(&out));
}

static bool match_filter(const char *want, const char *have) { return !want || strcmp(want, have) == 0; }

/* Paging of the list routes: `?limit=N&after=KEY` (keys in byte order);
 * an answer that stopped short says where to go on in "next". Every answer
 * is bounded by LIST_LIMIT_MAX entries. */
#define LIST_LIMIT_MAX 5000

struct page {
    int64_t limit;
    const char *after;
    const char **keys; /* the candidates' keys, then sorted */
    void **items;
    size_t n, cap;
};

static bool page_init(struct http_request *req, struct page *p)
{
    memset(p, 0, sizeof(*p));
    p->limit = LIST_LIMIT_MAX;
    p->after = http_query(req, "after");
    const char *l = http_query(req, "limit");
    _cleanup_error_ bo_error_t err = NULL;
    if (l && bo_parse_i64(l, 1, LIST_LIMIT_MAX, "limit", &p->limit, &err) < 0) {
        http_reply_bo_error(req, err);
        return false;
    }
    return true;
}

static void page_add(struct page *p, const char *key, void *item)
{
    if (p->after && strcmp(key, p->after) <= 0)
        return;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->keys = bo_xrealloc(p->keys, p->cap * sizeof(*p->keys));
        p->items = bo_xrealloc(p->items, p->cap * sizeof(*p->items));
    }
    p->keys[p->n] = key;
    p->items[p->n++] = item;
}

static const char **sort_keys;
static int cmp_index(const void *a, const void *b)
{
    return strcmp(sort_keys[*(const size_t *)a], sort_keys[*(const size_t *)b]);
}

/* Answer {field: [to_json(item)...], "next": KEY?} for the first `limit`
 * items in key order. */
static void page_reply(struct http_request *req, struct page *p, const char *field, json_t *(*to_json)(void *))
{
    size_t *order = bo_xcalloc(p->n ? p->n : 1, sizeof(*order));
    for (size_t i = 0; i < p->n; i++)
        order[i] = i;
    sort_keys = p->keys;
    qsort(order, p->n, sizeof(*order), cmp_index);
    json_t *out = json_array(), *answer = json_object();
    size_t k;
    for (k = 0; k < p->n && (int64_t)k < p->limit; k++)
        json_array_append_new(out, to_json(p->items[order[k]]));
    json_object_set_new(answer, field, out);
    if (k < p->n)
        json_object_set_new(answer, "next", json_string(p->keys[order[k - 1]]));
    free(order);
    free(p->keys);
    free(p->items);
    http_reply_json(req, 200, answer);
}

static struct sched_state *page_state;
static json_t *job_json(void *j) { return state_job_summary_json(page_state, j); }
static json_t *task_json(void *t) { return state_task_to_json(t); }
static json_t *agent_json(void *a) { return state_agent_to_json(a); }

static void h_job_list(struct http_request *req, void *ctx)
{
    struct sched_state *st = S(ctx);
    struct auth_token *me = gate_principal(req, ctx);
    const char *role = http_query(req, "role"), *env = http_query(req, "environment"),
               *name = http_query(req, "name");
    struct page p;
    if (!page_init(req, &p))
        return;
    struct sched_job *j, *tmp;
    HASH_ITER(hh, st->jobs, j, tmp)
    {
        const struct job_key *k = &j->config->key;
        /* A principal sees the jobs of the roles it may read, no others. */
        if (match_filter(role, k->role) && match_filter(env, k->environment) && match_filter(name, k->name) &&
            me && auth_may_role(me, k->role, false))
            page_add(&p, j->key, j);
    }
    page_state = st;
    page_reply(req, &p, "jobs", job_json);
}

struct sched_job *api_job_from_path(struct http_request *req, struct sched_state *st)
{
    _cleanup_free_ char *key =
        bo_xasprintf("%s/%s/%s/%s", req->params[0], req->params[1], req->params[2], req->params[3]);
    struct sched_job *j = state_job_find(st, key);
    if (!j)
        http_reply_error(req, 404, "NOT_FOUND", "job `%s` not found", key);
    return j;
}

#define JOB_HISTORY_MAX 50

/* Written as text straight into one buffer: a job of thousands of
 * instances made a jansson tree of every task first (docs/benchmarks.md). */
static void h_job_get(struct http_request *req, void *ctx)
{
    struct sched_state *st = S(ctx);
    struct sched_job *j = api_job_from_path(req, st);
    if (!j)
        return;
    struct bo_buf b = {0};
    json_t *head = json_pack("{s:o, s:o}", "job", state_job_summary_json(st, j), "config",
                             job_config_to_json(j->config));
    _cleanup_free_ char *head_text = json_dumps(head, JSON_COMPACT);
    json_decref(head);
    if (!head_text) {
        http_reply_error(req, 500, "INTERNAL", "job `%s` could not be encoded as JSON", j->key);
        return;
    }
    bo_buf_add(&b, head_text, strlen(head_text) - 1); /* without its closing brace */
    bo_buf_adds(&b, ",\"tasks\":[");
    bool first = true;
    for (int64_t i = 0; i < j->n_current; i++)
        if (j->current[i]) {
            if (!first)
                bo_buf_add(&b, ",", 1);
            state_task_view_text(&b, j->current[i]);
            first = false;
        }
    bo_buf_adds(&b, "],\"history\":[");
    int n = 0;
    struct sched_task *t;
    for (t = j->tasks ? j->tasks->j_prev : NULL; t && n < JOB_HISTORY_MAX;
         t = (t == j->tasks) ? NULL : t->j_prev) {
        if (t->instance < j->n_current && j->current[t->instance] == t)
            continue;
        if (n)
            bo_buf_add(&b, ",", 1);
        state_task_view_text(&b, t);
        n++;
    }
    bo_buf_adds(&b, "]}\n");
    http_reply_text(req, 200, "application/json", bo_buf_steal(&b));
}

static void h_job_kill(struct http_request *req, void *ctx)
{
    struct sched_state *st = S(ctx);
    struct sched_job *j = api_job_from_path(req, st);
    if (!j)
        return;
    if (j->update) {
        http_reply_error(req, 409, "REFUSED",
                         "job %s has an active update %s (%s): abort it (`borealis update abort %s`) or wait for it "
                         "before killing instances",
                         j->key, j->update->id, update_status_name(j->update->status), j->key);
        return;
    }
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
    if (api_finish_batch(req, ctx, r, j->key, NULL, 200, &err) < 0) {
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
    struct auth_token *me = gate_principal(req, ctx);
    struct page p;
    if (!page_init(req, &p))
        return;
    struct sched_task *t, *tmp;
    HASH_ITER(hh, st->tasks, t, tmp)
    {
        if (!me || !auth_may_role(me, t->job->config->key.role, false))
            continue;
        if (job && strcmp(job, t->job->key) != 0)
            continue;
        if (states && !state_in_list(states, t->state))
            continue;
        if (agent && (!t->agent_id || strcmp(agent, t->agent_id) != 0))
            continue;
        if (want_inst >= 0 && t->instance != want_inst)
            continue;
        page_add(&p, t->id, t);
    }
    page_reply(req, &p, "tasks", task_json);
}

static void h_task_get(struct http_request *req, void *ctx)
{
    struct sched_task *t = state_task_find(S(ctx), req->params[0]);
    if (!t) {
        http_reply_error(req, 404, "NOT_FOUND", "task `%s` not found", req->params[0]);
        return;
    }
    if (!gate_role(req, ctx, t->job->config->key.role, false))
        return;
    http_reply_json(req, 200, state_task_to_json(t));
}

static void h_agent_list(struct http_request *req, void *ctx)
{
    struct page p;
    if (!page_init(req, &p))
        return;
    struct sched_agent *a, *tmp;
    HASH_ITER(hh, S(ctx)->agents, a, tmp)
    page_add(&p, a->id, a);
    page_reply(req, &p, "agents", agent_json);
}

/* POST /api/v1/hosts/maintenance {"action": "deactivate" | "drain" |
 * "activate", "hosts": [HOSTNAME or agent id, ...]}: every host named is
 * checked before any changes. */
static void h_maintenance(struct http_request *req, void *ctx)
{
    static const struct {
        const char *action;
        enum host_maintenance to;
    } actions[] = {{"deactivate", MAINT_SCHEDULED}, {"drain", MAINT_DRAINING}, {"activate", MAINT_NONE}};
    struct sched_state *st = S(ctx);
    json_t *body = http_body_json(req);
    if (!body)
        return;
    const char *action = json_string_value(json_object_get(body, "action"));
    json_t *hosts = json_object_get(body, "hosts");
    int which = -1;
    for (size_t i = 0; action && i < BO_ARRAY_SIZE(actions); i++)
        if (strcmp(action, actions[i].action) == 0)
            which = (int)i;
    if (which < 0 || !json_is_array(hosts) || json_array_size(hosts) == 0 || json_array_size(hosts) > 1000) {
        json_decref(body);
        http_reply_error(req, 400, "INVALID",
                         "body: {\"action\": \"deactivate\", \"drain\" or \"activate\", \"hosts\": [1 to 1000 host "
                         "names or agent ids]} required");
        return;
    }
    json_t *h;
    size_t i, n = 0, cap = 0;
    _cleanup_free_ struct sched_agent **targets = NULL;
    json_array_foreach(hosts, i, h)
    {
        const char *name = json_string_value(h);
        size_t before = n;
        struct sched_agent *a, *tmp;
        HASH_ITER(hh, st->agents, a, tmp)
        {
            if (!name || (strcmp(a->hostname, name) != 0 && strcmp(a->id, name) != 0))
                continue;
            if (n == cap)
                targets = bo_xrealloc(targets, (cap = cap ? 2 * cap : 8) * sizeof(*targets));
            targets[n++] = a;
        }
        if (n == before) {
            http_reply_error(req, 404, "NOT_FOUND", "host `%.200s` is not an agent the scheduler knows (hosts[%zu])",
                             name ? name : "(not a string)", i);
            json_decref(body);
            return;
        }
    }
    json_decref(body);
    _cleanup_error_ bo_error_t err = NULL;
    int r = store_begin(st->store, &err);
    for (size_t k = 0; r == 0 && k < n; k++)
        r = lifecycle_maintenance(st, targets[k], actions[which].to, &err);
    if (api_finish_batch(req, ctx, r, NULL, actions[which].action, 200, &err) < 0)
        return;
    /* The states after the commit (a drain of an empty host is DRAINED). */
    json_t *out = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "hostname", targets[k]->hostname, "id", targets[k]->id,
                                             "maintenance",
                                             host_maintenance_name((enum host_maintenance)targets[k]->maintenance)));
    http_reply_json(req, 200, json_pack("{s:o}", "hosts", out));
}

static void h_whoami(struct http_request *req, void *ctx)
{
    struct auth_token *t = gate_principal(req, ctx);
    http_reply_json(req, 200, t ? auth_token_to_json(t) : json_object());
}

static void h_token_list(struct http_request *req, void *ctx)
{
    struct scheduler *s = ctx;
    json_t *out = json_array();
    struct auth_token *t, *tmp;
    HASH_ITER(hh_name, s->auth.by_name, t, tmp)
    json_array_append_new(out, auth_token_to_json(t));
    http_reply_json(req, 200, json_pack("{s:o}", "tokens", out));
}

static void h_token_create(struct http_request *req, void *ctx)
{
    struct scheduler *s = ctx;
    json_t *body = http_body_json(req);
    if (!body)
        return;
    _cleanup_error_ bo_error_t err = NULL;
    const char *n = json_string_value(json_object_get(body, "name"));
    _cleanup_free_ char *name = n ? bo_xstrdup(n) : NULL;
    json_t *roles = json_object_get(body, "roles");
    json_t *admin = json_object_get(body, "admin"), *read_all = json_object_get(body, "read_all");
    _cleanup_free_ char *secret = NULL;
    int r;
    if (!name)
        r = bo_error_set(&err, BO_E_INVALID, "`name` (a string) is required");
    else if ((admin && !json_is_boolean(admin)) || (read_all && !json_is_boolean(read_all)))
        r = bo_error_set(&err, BO_E_INVALID, "`admin` and `read_all` must be true or false");
    else
        r = 0;
    if (r < 0) {
        json_decref(body);
        http_reply_bo_error(req, err);
        return;
    }
    json_t *no_roles = json_array();
    r = store_begin(s->state.store, &err);
    if (r == 0)
        r = auth_token_create(&s->auth, s->state.store, name, roles ? roles : no_roles, json_is_true(admin),
                              json_is_true(read_all), bo_wall_ms(), &secret, &err);
    json_decref(no_roles);
    _cleanup_free_ char *detail = bo_xasprintf("token %s", name);
    json_decref(body);
    /* A refused token leaves memory as it was; a failed commit after the
     * token was added sets the fatal flag (finish_batch). */
    if (api_finish_batch(req, ctx, r, NULL, detail, 201, &err) < 0)
        return;
    struct auth_token *t = auth_find_name(&s->auth, name);
    json_t *answer = auth_token_to_json(t);
    json_object_set_new(answer, "token", json_string(secret));
    explicit_bzero(secret, strlen(secret));
    log_info("token %s created by %s", name, req->principal);
    http_reply_json(req, 201, answer);
}

static void h_token_revoke(struct http_request *req, void *ctx)
{
    struct scheduler *s = ctx;
    _cleanup_error_ bo_error_t err = NULL;
    const char *name = req->params[0];
    if (!auth_find_name(&s->auth, name)) {
        http_reply_error(req, 404, "NOT_FOUND", "token `%s` not found", name);
        return;
    }
    _cleanup_free_ char *detail = bo_xasprintf("token %s", name);
    _cleanup_free_ char *principal = bo_xstrdup(req->principal);
    int r = store_begin(s->state.store, &err);
    if (r == 0)
        r = auth_token_revoke(&s->auth, s->state.store, name, &err);
    if (api_finish_batch(req, ctx, r, NULL, detail, 200, &err) < 0)
        return;
    log_info("token %s revoked by %s", name, principal);
    http_reply_json(req, 200, json_pack("{s:s}", "revoked", name));
}

static void h_audit(struct http_request *req, void *ctx)
{
    struct scheduler *s = ctx;
    const char *job = http_query(req, "job"), *after = http_query(req, "after"), *limit = http_query(req, "limit");
    int64_t a = -1, l = 100;
    _cleanup_error_ bo_error_t err = NULL;
    json_t *out = NULL;
    if ((after && bo_parse_i64(after, 0, INT64_MAX, "after", &a, &err) < 0) ||
        (limit && bo_parse_i64(limit, 1, AUDIT_QUERY_MAX, "limit", &l, &err) < 0) ||
        audit_query(s->state.store, job, a, l, &out, &err) < 0) {
        http_reply_bo_error(req, err);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "entries", out));
}

/* The permission column says what each route needs (auth.h, gate.c checks
 * it before the handler; docs/api.md lists the same table). ROLE routes
 * take the role from the job key in the path; job create and the lists
 * check it in the handler (the body's key; only readable roles listed). */
const struct http_route api_routes[] = {
    {"GET", "/health", h_health, "health", PERM_PUBLIC},
    {"GET", "/metrics", h_metrics, "metrics", PERM_USER},
    {"GET", "/api/v1/cluster", h_cluster, "cluster", PERM_USER},
    {"GET", "/api/v1/whoami", h_whoami, "whoami", PERM_USER},
    {"POST", "/api/v1/jobs", h_job_create, "job_create", PERM_ROLE_WRITE},
    {"GET", "/api/v1/jobs", h_job_list, "job_list", PERM_ROLE_READ},
    {"GET", "/api/v1/jobs/*/*/*/*", h_job_get, "job_get", PERM_ROLE_READ},
    {"POST", "/api/v1/jobs/*/*/*/*/kill", h_job_kill, "job_kill", PERM_ROLE_WRITE},
    {"POST", "/api/v1/jobs/*/*/*/*/updates", api_update_start, "update_start", PERM_ROLE_WRITE},
    {"POST", "/api/v1/jobs/*/*/*/*/restart", api_job_restart, "job_restart", PERM_ROLE_WRITE},
    {"POST", "/api/v1/jobs/*/*/*/*/start", api_job_start, "job_start", PERM_ROLE_WRITE},
    {"POST", "/api/v1/jobs/*/*/*/*/add", api_job_add, "job_add", PERM_ROLE_WRITE},
    {"GET", "/api/v1/jobs/*/*/*/*/updates", api_update_list, "update_list", PERM_ROLE_READ},
    {"GET", "/api/v1/jobs/*/*/*/*/updates/*", api_update_get, "update_get", PERM_ROLE_READ},
    {"POST", "/api/v1/jobs/*/*/*/*/update/pause", api_update_pause, "update_pause", PERM_ROLE_WRITE},
    {"POST", "/api/v1/jobs/*/*/*/*/update/resume", api_update_resume, "update_resume", PERM_ROLE_WRITE},
    {"POST", "/api/v1/jobs/*/*/*/*/update/abort", api_update_abort, "update_abort", PERM_ROLE_WRITE},
    {"POST", "/api/v1/jobs/*/*/*/*/update/rollback", api_update_rollback, "update_rollback", PERM_ROLE_WRITE},
    {"POST", "/api/v1/jobs/*/*/*/*/update/pulse", api_update_pulse, "update_pulse", PERM_ROLE_WRITE},
    {"GET", "/api/v1/tasks", h_task_list, "task_list", PERM_ROLE_READ},
    {"GET", "/api/v1/tasks/*", h_task_get, "task_get", PERM_ROLE_READ},
    /* A task's logs and sandbox, read on its agent (task_read.h). */
    {"GET", "/api/v1/jobs/*/*/*/*/instances/*/logs", task_read_handle_logs, "task_logs", PERM_ROLE_READ},
    {"GET", "/api/v1/jobs/*/*/*/*/instances/*/files", task_read_handle_files, "task_files", PERM_ROLE_READ},
    {"POST", "/api/v1/jobs/*/*/*/*/instances/*/files", task_read_handle_write, "task_write", PERM_ROLE_WRITE},
    {"POST", "/api/v1/jobs/*/*/*/*/instances/*/run", task_read_handle_run, "task_run", PERM_ROLE_WRITE},
    /* `task exec`: upgraded to a stream, spliced with the agent's (exec_session.h). */
    {"POST", "/api/v1/jobs/*/*/*/*/instances/*/exec", exec_session_handle_open, "task_exec", PERM_ROLE_WRITE},
    {"POST", "/api/v1/agents/exec/*", exec_session_handle_attach, "agent_exec_attach", PERM_AGENT},
    {"GET", "/api/v1/agents", h_agent_list, "agent_list", PERM_USER},
    {"POST", "/api/v1/agents/sync", agent_sync_handle, "agent_sync", PERM_AGENT},
    {"POST", "/api/v1/agents/reads", task_read_handle_reply, "agent_read_reply", PERM_AGENT},
    {"POST", "/api/v1/hosts/maintenance", h_maintenance, "host_maintenance", PERM_ADMIN},
    /* Agents before they have a certificate: the CA (public: a joining
     * agent checks it against its token), and joining with the join token
     * (checked by the handler). Revoking one is an admin's. */
    {"GET", "/api/v1/ca", agent_auth_handle_ca, "ca", PERM_PUBLIC},
    {"POST", "/api/v1/agents/join", agent_auth_handle_join, "agent_join", PERM_AGENT},
    {"POST", "/api/v1/agents/*/revoke", agent_auth_handle_revoke, "agent_revoke", PERM_ADMIN},
    {"GET", "/api/v1/tokens", h_token_list, "token_list", PERM_ADMIN},
    {"POST", "/api/v1/tokens", h_token_create, "token_create", PERM_ADMIN},
    {"DELETE", "/api/v1/tokens/*", h_token_revoke, "token_revoke", PERM_ADMIN},
    {"GET", "/api/v1/audit", h_audit, "audit", PERM_ADMIN},
};
const size_t api_routes_count = BO_ARRAY_SIZE(api_routes);
