/* sync.c - agent <-> scheduler sync over libcurl multi (protocol §3). */
#include "agent/sync.h"

#include <string.h>
#include <sys/random.h>

#include "agent/sandbox.h"
#include "model/json_check.h"
#include "base/clock.h"
#include "base/log.h"

#define SYNC_MAX_BODY (64u << 20)
#define SYNC_MAX_ITEMS 100000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define REPLY_MAX_INFLIGHT 16
#define REPLY_TIMEOUT_MS 30000

struct request {
    struct sync *s;
    CURL *easy;
    struct curl_slist *headers;
    char *body; /* response */
    size_t len;
    bool overflow;
    int64_t wait_ms;
    bool boot;
    bool registration; /* it carried the registration */
    bool inventory;
    size_t n_updates; /* updates carried */
    int64_t last_seq; /* the newest of them (0: none) */
    bool leaving;
    bool reply; /* a task read's reply (POST /api/v1/agents/reads), not a sync */
    char errbuf[CURL_ERROR_SIZE];
};

struct sync {
    CURLM *multi;
    char *url;
    char *reply_url;
    json_t *registration;
    struct journal *journal;
    struct sync_hooks hooks;
    struct request *inflight[2];
    int n_inflight;
    int64_t sent_seq;    /* highest seq put in a request since the last failure */
    bool boot_pending;   /* until a boot sync succeeded */
    bool send_registration; /* the next request carries the registration (protocol.md §3) */
    int64_t inventory_at; /* mono ms of the last successful inventory */
    int64_t usage_at;     /* mono ms of the last request with usage */
    int64_t retry_at;    /* mono ms; no request before (backoff) */
    int failures;        /* consecutive */
    int stalls;          /* consecutive answers that acked none of the updates sent */
    int64_t poll_ms;     /* long-poll wait: the scheduler's heartbeat_ms */
    bo_error_t fatal;    /* the journal failed: the agent must stop */
    bool leaving;        /* requests say the agent is shutting down */
    bool left;           /* ... and the scheduler has answered one */
    bool halted;         /* no new requests (the agent stops on a failure) */
    struct http_tls tls;
    json_t *replies;     /* task read replies waiting for a transfer */
    struct request *reply_inflight[REPLY_MAX_INFLIGHT];
    int n_reply_inflight;
    int reply_failures;  /* consecutive, to log once */
};

void sync_set_tls(struct sync *s, const struct http_tls *tls) { s->tls = *tls; }

/* ---- answer parsing ---- */


/* What every command item starts with: an object with a task id and only
 * known keys. The id is kept even when it or a later check fails, so the
 * refusal can be reported against that task (the scheduler would resend
 * the command for ever otherwise); only an id too long to send back is
 * not. */
static int parse_item_head(json_t *j, const char *where, const char *const *keys, size_t n, char **ret_id,
                           bo_error_t *err)
{
    if (!json_is_object(j))
        return bo_error_set(err, BO_E_INVALID, "%s: not an object", where);
    const char *id = json_string_value(json_object_get(j, "task_id"));
    if (!id)
        return bo_error_set(err, BO_E_INVALID, "%s.task_id: required string", where);
    if (strlen(id) <= SYNC_MAX_REPORTED_ID)
        *ret_id = bo_xstrdup(id);
    if (sandbox_validate_task_id(id, err) < 0)
        return bo_error_wrap(err, "%s", where);
    return json_check_keys(j, keys, n, where, err);
}

static int parse_launch(json_t *j, size_t idx, struct sync_launch *l, bo_error_t *err)
{
    static const char *const keys[] = {"task_id", "job", "instance", "ports", "task"};
    char where[48];
    snprintf(where, sizeof(where), "launch[%zu]", idx);
    if (parse_item_head(j, where, keys, BO_ARRAY_SIZE(keys), &l->task_id, err) < 0)
        return -1;
    const char *job = json_string_value(json_object_get(j, "job"));
    if (!job || strlen(job) > 300)
        return bo_error_set(err, BO_E_INVALID, "%s.job: required string (at most 300 characters)", where);
    l->job = bo_xstrdup(job);
    json_t *inst = json_object_get(j, "instance");
    if (!json_is_integer(inst) || json_integer_value(inst) < 0 || json_integer_value(inst) >= JOB_MAX_INSTANCES)
        return bo_error_set(err, BO_E_INVALID, "%s.instance: integer in [0, %d) required", where, JOB_MAX_INSTANCES);
    l->instance = json_integer_value(inst);
    json_t *ports = json_object_get(j, "ports");
    if (ports && !json_is_object(ports))
        return bo_error_set(err, BO_E_INVALID, "%s.ports: must be an object", where);
    if (json_object_size(ports) > 1000)
        return bo_error_set(err, BO_E_INVALID, "%s.ports: too many ports", where);
    const char *pname;
    json_t *pv;
    json_object_foreach(ports, pname, pv)
    {
        if (!json_is_integer(pv) || json_integer_value(pv) < 1 || json_integer_value(pv) > 65535)
            return bo_error_set(err, BO_E_INVALID, "%s.ports.%.64s: port in [1, 65535] required", where, pname);
    }
    l->ports = ports ? json_deep_copy(ports) : json_object();
    json_t *task = json_object_get(j, "task");
    if (!json_is_object(task))
        return bo_error_set(err, BO_E_INVALID, "%s.task: required object", where);
    if (task_config_from_json(task, &l->task, err) < 0)
        return bo_error_wrap(err, "%s.task", where);
    return 0;
}

static int parse_kill(json_t *j, size_t idx, struct sync_kill *k, bo_error_t *err)
{
    static const char *const keys[] = {"task_id", "grace_ms"};
    char where[48];
    snprintf(where, sizeof(where), "kill[%zu]", idx);
    if (parse_item_head(j, where, keys, BO_ARRAY_SIZE(keys), &k->task_id, err) < 0)
        return -1;
    json_t *g = json_object_get(j, "grace_ms");
    k->grace_ms = 5000;
    if (g) {
        if (!json_is_integer(g) || json_integer_value(g) < 0 || json_integer_value(g) > 600000)
            return bo_error_set(err, BO_E_INVALID, "%s.grace_ms: integer in [0, 600000] required", where);
        k->grace_ms = json_integer_value(g);
    }
    return 0;
}

int sync_answer_parse(json_t *j, struct sync_answer *ret, bo_error_t *err)
{
    static const char *const keys[] = {"acks",      "rejected", "launch", "kill",    "heartbeat_ms",
                                       "reconcile", "register", "reads",  "execs"};
    if (!json_is_object(j))
        return bo_error_set(err, BO_E_INVALID, "sync answer: not a JSON object");
    if (json_check_keys(j, keys, BO_ARRAY_SIZE(keys), "sync answer", err) < 0)
        return -1;
    json_t *acks = json_object_get(j, "acks"), *launch = json_object_get(j, "launch"),
           *kill = json_object_get(j, "kill"), *hb = json_object_get(j, "heartbeat_ms"),
           *rejected = json_object_get(j, "rejected");
    if ((acks && !json_is_array(acks)) || (launch && !json_is_array(launch)) || (kill && !json_is_array(kill)) ||
        (rejected && !json_is_array(rejected)))
        return bo_error_set(err, BO_E_INVALID, "sync answer: acks, rejected, launch and kill must be arrays");
    if (json_array_size(acks) > SYNC_MAX_ITEMS || json_array_size(launch) > SYNC_MAX_ITEMS ||
        json_array_size(kill) > SYNC_MAX_ITEMS || json_array_size(rejected) > SYNC_MAX_ITEMS)
        return bo_error_set(err, BO_E_INVALID, "sync answer: more than %d items", SYNC_MAX_ITEMS);
    if (hb && (!json_is_integer(hb) || json_integer_value(hb) < 0))
        return bo_error_set(err, BO_E_INVALID, "sync answer: heartbeat_ms must be a non-negative integer");
    json_t *rec = json_object_get(j, "reconcile");
    if (rec && !json_is_boolean(rec))
        return bo_error_set(err, BO_E_INVALID, "sync answer: reconcile must be a boolean");
    json_t *regv = json_object_get(j, "register");
    if (regv && !json_is_boolean(regv))
        return bo_error_set(err, BO_E_INVALID, "sync answer: register must be a boolean");
    /* Each item is checked when it is done (task_io.h): a bad one is
     * answered with its error, never fails the answer. */
    json_t *reads = json_object_get(j, "reads");
    if (reads && (!json_is_array(reads) || json_array_size(reads) > SYNC_MAX_READS))
        return bo_error_set(err, BO_E_INVALID, "sync answer: reads must be an array of at most %d items",
                            SYNC_MAX_READS);
    json_t *execs = json_object_get(j, "execs");
    if (execs && (!json_is_array(execs) || json_array_size(execs) > SYNC_MAX_READS))
        return bo_error_set(err, BO_E_INVALID, "sync answer: execs must be an array of at most %d items",
                            SYNC_MAX_READS);
    struct sync_answer a = {.heartbeat_ms = hb ? json_integer_value(hb) : 0, .reconcile = json_is_true(rec),
                            .register_asked = json_is_true(regv),
                            .reads = reads ? json_incref(reads) : json_array(),
                            .execs = execs ? json_incref(execs) : json_array()};
    size_t i;
    json_t *v;
    a.acks = bo_xcalloc(json_array_size(acks) + 1, sizeof(*a.acks));
    json_array_foreach(acks, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            sync_answer_clear(&a);
            return bo_error_set(err, BO_E_INVALID, "sync answer: acks[%zu] is not a positive integer", i);
        }
        a.acks[a.n_acks++] = json_integer_value(v);
    }
    a.rejected = bo_xcalloc(json_array_size(rejected) + 1, sizeof(*a.rejected));
    json_array_foreach(rejected, i, v)
    {
        static const char *const rkeys[] = {"seq", "reason"};
        json_t *seq = json_object_get(v, "seq");
        const char *reason = json_string_value(json_object_get(v, "reason"));
        char where[48];
        snprintf(where, sizeof(where), "sync answer: rejected[%zu]", i);
        if (!json_is_object(v) || !json_is_integer(seq) || json_integer_value(seq) < 1 || !reason) {
            sync_answer_clear(&a);
            return bo_error_set(err, BO_E_INVALID, "%s: {\"seq\": positive integer, \"reason\": string} required",
                                where);
        }
        if (json_check_keys(v, rkeys, BO_ARRAY_SIZE(rkeys), where, err) < 0) {
            sync_answer_clear(&a);
            return -1;
        }
        a.rejected[a.n_rejected++] = (struct sync_rejected){json_integer_value(seq), bo_xstrdup(reason)};
    }
    a.launch = bo_xcalloc(json_array_size(launch) + 1, sizeof(*a.launch));
    json_array_foreach(launch, i, v)
    {
        struct sync_launch *l = &a.launch[a.n_launch++];
        parse_launch(v, i, l, &l->error);
    }
    a.kill = bo_xcalloc(json_array_size(kill) + 1, sizeof(*a.kill));
    json_array_foreach(kill, i, v)
    {
        struct sync_kill *k = &a.kill[a.n_kill++];
        parse_kill(v, i, k, &k->error);
    }
    *ret = a;
    return 0;
}

void sync_answer_clear(struct sync_answer *a)
{
    for (size_t i = 0; i < a->n_launch; i++) {
        struct sync_launch *l = &a->launch[i];
        free(l->task_id);
        free(l->job);
        json_decref(l->ports);
        task_config_clear(&l->task);
        bo_error_freep(&l->error);
    }
    for (size_t i = 0; i < a->n_kill; i++) {
        free(a->kill[i].task_id);
        bo_error_freep(&a->kill[i].error);
    }
    for (size_t i = 0; i < a->n_rejected; i++)
        free(a->rejected[i].reason);
    json_decref(a->reads);
    json_decref(a->execs);
    free(a->acks);
    free(a->rejected);
    free(a->launch);
    free(a->kill);
    *a = (struct sync_answer){0};
}

/* ---- requests ---- */

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct request *r = userdata;
    size_t n = size * nmemb;
    if (r->len + n > SYNC_MAX_BODY) {
        r->overflow = true;
        return 0;
    }
    r->body = bo_xrealloc(r->body, r->len + n + 1);
    memcpy(r->body + r->len, ptr, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

int sync_new(const char *scheduler_url, json_t *registration, struct journal *j, const struct sync_hooks *hooks,
             struct sync **ret, bo_error_t *err)
{
    static bool curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return bo_error_set(err, BO_E_INTERNAL, "cannot initialise libcurl");
        curl_ready = true;
    }
    struct sync *s = bo_xcalloc(1, sizeof(*s));
    s->multi = curl_multi_init();
    if (!s->multi) {
        free(s);
        return bo_error_set(err, BO_E_INTERNAL, "cannot initialise libcurl multi");
    }
    s->url = bo_xasprintf("%s/api/v1/agents/sync", scheduler_url);
    s->reply_url = bo_xasprintf("%s/api/v1/agents/reads", scheduler_url);
    s->replies = json_array();
    s->registration = json_deep_copy(registration);
    s->journal = j;
    s->hooks = *hooks;
    s->boot_pending = true;
    s->send_registration = true;
    s->poll_ms = SYNC_LONG_POLL_MS;
    *ret = s;
    return 0;
}

static void request_free(struct request *r)
{
    if (!r)
        return;
    if (r->easy) {
        curl_multi_remove_handle(r->s->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r);
}

void sync_free(struct sync *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_inflight; i++)
        request_free(s->inflight[i]);
    for (int i = 0; i < s->n_reply_inflight; i++)
        request_free(s->reply_inflight[i]);
    curl_multi_cleanup(s->multi);
    json_decref(s->registration);
    json_decref(s->replies);
    bo_error_freep(&s->fatal);
    free(s->url);
    free(s->reply_url);
    free(s);
}

void sync_set_leaving(struct sync *s)
{
    s->leaving = true;
}

bool sync_connected(const struct sync *s)
{
    return !s->boot_pending && s->failures == 0;
}

bool sync_left(const struct sync *s)
{
    return s->left;
}

void sync_halt(struct sync *s)
{
    s->halted = true;
}

int sync_in_flight(const struct sync *s)
{
    return s->n_inflight;
}

static int start_transfer(struct sync *s, struct request *r, const char *url, const char *text, int64_t timeout_ms,
                          bo_error_t *err);

/* A request carrying the updates after after_seq (those up to it are in
 * flight in a held request) that the scheduler may hold for wait_ms. */
static int start_request(struct sync *s, int64_t wait_ms, int64_t after_seq, bo_error_t *err)
{
    /* The registration only when the scheduler may not hold it (boot, after
     * a failure, when asked): it is most of an idle agent's request, and
     * the scheduler would parse and compare it each time. */
    bool with_registration = s->send_registration || s->boot_pending;
    json_t *body = with_registration ? json_deep_copy(s->registration)
                                     : json_pack("{s:O}", "agent_id", json_object_get(s->registration, "agent_id"));
    json_t *updates = NULL;
    if (journal_list(s->journal, after_seq, SYNC_MAX_UPDATES, &updates, err) < 0) {
        json_decref(body);
        return -1;
    }
    /* Keep the body well under the scheduler's 1 MiB request limit: an
     * oversized body would be refused on every retry and wedge the sync.
     * One update is at most ~12 KiB (64 processes, 1 KiB message), so at
     * least one always goes. */
    size_t bytes = 0, keep = 0;
    int64_t last = 0;
    for (; keep < json_array_size(updates); keep++) {
        bytes += json_dumpb(json_array_get(updates, keep), NULL, 0, JSON_COMPACT);
        if (keep > 0 && bytes > SYNC_MAX_UPDATE_BYTES)
            break;
        int64_t seq = json_integer_value(json_object_get(json_array_get(updates, keep), "seq"));
        if (seq > s->sent_seq)
            s->sent_seq = seq;
        last = seq; /* the journal lists them in order */
    }
    while (json_array_size(updates) > keep)
        json_array_remove(updates, json_array_size(updates) - 1);
    struct request *r = bo_xcalloc(1, sizeof(*r));
    r->s = s;
    r->n_updates = keep;
    r->last_seq = last;
    r->leaving = s->leaving;
    r->wait_ms = wait_ms;
    r->boot = s->boot_pending;
    r->registration = with_registration;
    r->inventory = r->boot || bo_mono_ms() - s->inventory_at >= SYNC_INVENTORY_EVERY_MS;
    json_object_set_new(body, "updates", updates);
    json_object_set_new(body, "wait_ms", json_integer(wait_ms));
    if (r->boot)
        json_object_set_new(body, "boot", json_true());
    if (s->leaving)
        json_object_set_new(body, "leaving", json_true());
    if (r->inventory)
        json_object_set_new(body, "inventory", s->hooks.inventory(s->hooks.ctx));
    if (s->hooks.usage && bo_mono_ms() - s->usage_at >= SYNC_USAGE_EVERY_MS) {
        json_t *usage = s->hooks.usage(s->hooks.ctx);
        s->usage_at = bo_mono_ms();
        if (json_array_size(usage) > 0)
            json_object_set_new(body, "usage", usage);
        else
            json_decref(usage);
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    /* The scheduler may hold the request for wait_ms: allow for that. */
    int rc = start_transfer(s, r, s->url, text, wait_ms + 10000, err);
    free(text);
    if (rc < 0)
        return -1;
    s->inflight[s->n_inflight++] = r;
    return 0;
}

/* Hand r (its body `text`) to libcurl; frees r on failure. */
static int start_transfer(struct sync *s, struct request *r, const char *url, const char *text, int64_t timeout_ms,
                          bo_error_t *err)
{
    r->easy = curl_easy_init();
    if (!r->easy) {
        free(r);
        return bo_error_set(err, BO_E_INTERNAL, "cannot create a libcurl handle");
    }
    r->headers = curl_slist_append(NULL, "Content-Type: application/json");
    r->headers = curl_slist_append(r->headers, "Accept: application/json");
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, text);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    http_tls_apply(r->easy, &s->tls);
    if (curl_multi_add_handle(s->multi, r->easy) != CURLM_OK) {
        request_free(r);
        return bo_error_set(err, BO_E_INTERNAL, "cannot add a libcurl transfer");
    }
    return 0;
}

void sync_send_reply(struct sync *s, json_t *reply)
{
    json_array_append_new(s->replies, reply);
}

/* Replies go each in its own request, beside the sync (a parked long poll
 * must not delay them), at most REPLY_MAX_INFLIGHT at a time. A reply that
 * fails is dropped: the user's request times out at the scheduler, and
 * the user asks again. */
static int start_replies(struct sync *s)
{
    int started = 0;
    while (!s->halted && s->n_reply_inflight < REPLY_MAX_INFLIGHT && json_array_size(s->replies) > 0) {
        json_t *reply = json_incref(json_array_get(s->replies, 0));
        json_array_remove(s->replies, 0);
        json_object_set(reply, "agent_id", json_object_get(s->registration, "agent_id"));
        char *text = json_dumps(reply, JSON_COMPACT);
        json_decref(reply);
        struct request *r = bo_xcalloc(1, sizeof(*r));
        r->s = s;
        r->reply = true;
        bo_error_t err = NULL;
        int rc = start_transfer(s, r, s->reply_url, text, REPLY_TIMEOUT_MS, &err);
        free(text);
        if (rc < 0) {
            log_warn("task read reply: %s", err->msg);
            bo_error_free(err);
            break;
        }
        s->reply_inflight[s->n_reply_inflight++] = r;
        started++;
    }
    return started;
}

static void reply_done(struct sync *s, struct request *r, CURLcode rc)
{
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    for (int i = 0; i < s->n_reply_inflight; i++)
        if (s->reply_inflight[i] == r)
            s->reply_inflight[i] = s->reply_inflight[--s->n_reply_inflight];
    if (rc == CURLE_OK && status == 200) {
        s->reply_failures = 0;
        return;
    }
    if (s->reply_failures++ == 0)
        log_warn("a task read reply was not taken by the scheduler: %s",
                 rc != CURLE_OK ? (r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc)) : "HTTP error");
}

static void start_due_requests(struct sync *s)
{
    int64_t now = bo_mono_ms();
    if (s->halted || now < s->retry_at || s->n_inflight >= 2)
        return;
    int64_t last_seq = 0;
    bo_error_t err = NULL;
    if (journal_last_seq(s->journal, &last_seq, &err) < 0) {
        s->fatal = err;
        return;
    }
    bool fresh = last_seq > s->sent_seq;
    int r = 0;
    if (s->n_inflight == 0) {
        bool inventory_due = s->boot_pending || now - s->inventory_at >= SYNC_INVENTORY_EVERY_MS;
        bool say_leaving = s->leaving && !s->left;
        /* New updates may wait too: the scheduler holds a request whose
         * answer would only ack them, and acks them with its next answer
         * (docs/protocol.md "Held acks"), which saves a request per task
         * state change. What comes meanwhile goes at once, below. Not
         * while leaving: the agent exits once its last updates are acked. */
        bool now_please = inventory_due || say_leaving || (fresh && s->leaving);
        r = start_request(s, now_please ? 0 : s->poll_ms, 0, &err);
    } else if ((fresh || (s->leaving && !s->inflight[0]->leaving)) && !s->inflight[0]->boot &&
               s->inflight[0]->wait_ms > 0) {
        /* A long poll is parked at the scheduler: send new updates now,
         * not those it carries (if it fails, they go again after it). */
        r = start_request(s, 0, s->inflight[0]->last_seq, &err);
    }
    if (r < 0 && err->kind == BO_E_IO) {
        s->fatal = err; /* the journal cannot be read */
    } else if (r < 0) {
        log_error("sync: %s", err->msg);
        bo_error_free(err);
        s->retry_at = now + BACKOFF_MAX_MS;
    }
}

int64_t sync_backoff_ms(int attempts, uint32_t rnd)
{
    int64_t backoff = BACKOFF_MIN_MS;
    for (int i = 1; i < attempts && backoff < BACKOFF_MAX_MS; i++)
        backoff *= 2;
    if (backoff > BACKOFF_MAX_MS)
        backoff = BACKOFF_MAX_MS;
    /* "Equal jitter": at least half the backoff, the rest random. */
    return backoff / 2 + (int64_t)(rnd % (uint32_t)(backoff / 2 + 1));
}

int64_t sync_inventory_jitter_ms(uint32_t rnd)
{
    return (int64_t)(rnd % (SYNC_INVENTORY_EVERY_MS / 4 + 1));
}

static uint32_t random_u32(void)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
        r = (uint32_t)bo_mono_ms() * 2654435761u; /* entropy not ready yet: still spread by timing */
    return r;
}

static int64_t backoff_ms(int attempts)
{
    return sync_backoff_ms(attempts, random_u32());
}

static void request_failed(struct sync *s, const char *why)
{
    s->failures++;
    s->retry_at = bo_mono_ms() + backoff_ms(s->failures);
    /* Whatever that request carried must go again, and the first request
     * that gets through carries the inventory: the scheduler may have
     * given up on us meanwhile and replaced our tasks elsewhere. */
    s->sent_seq = 0;
    s->inventory_at = INT64_MIN / 2;
    /* ... and the registration: it may be a new scheduler, or one that
     * lost its store. */
    s->send_registration = true;
    if (s->failures == 1)
        log_warn("sync with scheduler failed: %s (retrying every %d ms at most)", why, BACKOFF_MAX_MS);
}

static void request_done(struct sync *s, struct request *r, CURLcode rc)
{
    if (rc != CURLE_OK) {
        char why[CURL_ERROR_SIZE + 200];
        snprintf(why, sizeof(why), "%s: %s", s->url,
                 r->overflow ? "answer too large" : r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        request_failed(s, why);
        return;
    }
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    json_error_t jerr;
    json_t *j = r->body ? json_loads(r->body, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (status != 200) {
        const char *msg = json_string_value(json_object_get(j, "error"));
        char why[600];
        snprintf(why, sizeof(why), "%s: HTTP %ld%s%.500s", s->url, status, msg ? ": " : "", msg ? msg : "");
        json_decref(j);
        request_failed(s, why);
        return;
    }
    struct sync_answer a;
    bo_error_t err = NULL;
    if (!j) {
        request_failed(s, "answer is not JSON");
        return;
    }
    if (sync_answer_parse(j, &a, &err) < 0) {
        json_decref(j);
        request_failed(s, err->msg);
        bo_error_free(err);
        return;
    }
    json_decref(j);
    if (a.register_asked) {
        sync_answer_clear(&a);
        /* Asked for what this request carried: a scheduler that can never
         * be satisfied; back off as after a failure instead of spinning. */
        if (r->registration) {
            request_failed(s, "the scheduler asked for the registration this request carried");
            return;
        }
        /* It applied nothing: send everything again with the registration
         * and the inventory, at once. */
        log_info("the scheduler asked for this agent's registration: sending it");
        s->send_registration = true;
        s->sent_seq = 0;
        s->inventory_at = INT64_MIN / 2;
        s->retry_at = 0;
        return;
    }
    if (r->registration)
        s->send_registration = false;
    if (s->failures > 0)
        log_info("sync with scheduler works again after %d failed attempts", s->failures);
    s->failures = 0;
    s->retry_at = 0;
    if (r->boot) {
        s->boot_pending = false;
        log_info("registered with scheduler at %s", s->url);
    }
    if (r->inventory)
        s->inventory_at = bo_mono_ms() - sync_inventory_jitter_ms(random_u32());
    if (a.reconcile && !r->inventory)
        s->inventory_at = INT64_MIN / 2; /* the next request carries it */
    /* Follow the scheduler's heartbeat: it times us out after a few. */
    if (a.heartbeat_ms > 0)
        s->poll_ms = a.heartbeat_ms < SYNC_MIN_POLL_MS   ? SYNC_MIN_POLL_MS
                     : a.heartbeat_ms > SYNC_MAX_POLL_MS ? SYNC_MAX_POLL_MS
                                                         : a.heartbeat_ms;
    if (r->leaving)
        s->left = true;
    for (size_t i = 0; i < a.n_rejected; i++)
        log_warn("scheduler rejected update %lld: %.500s", (long long)a.rejected[i].seq, a.rejected[i].reason);
    /* An answer that acks none of the updates it was sent makes no progress:
     * resending at once would spin (and with more than one request's worth
     * queued, every request is "fresh"), so wait as after a failure. */
    if (r->n_updates > 0 && a.n_acks == 0) {
        if (s->stalls++ == 0)
            log_warn("scheduler acknowledged none of %zu updates; resending with backoff", r->n_updates);
        s->retry_at = bo_mono_ms() + backoff_ms(s->stalls);
    } else if (r->n_updates > 0) {
        s->stalls = 0;
    }
    /* One commit (one fsync) for the whole batch, not one per ack: a
     * 500-update answer must not stall the loop for 500 fsyncs. A journal
     * that cannot be written is fatal (fail-stop): the agent exits and a
     * restart resends what is still journaled. */
    if (a.n_acks > 0 && journal_begin(s->journal, &err) < 0) {
        s->fatal = err;
        sync_answer_clear(&a);
        return;
    }
    for (size_t i = 0; i < a.n_acks && !s->fatal; i++)
        if (journal_ack(s->journal, a.acks[i], &err) < 0)
            s->fatal = err;
    if (a.n_acks > 0 && !s->fatal && journal_commit(s->journal, &err) < 0)
        s->fatal = err;
    if (s->fatal) {
        sync_answer_clear(&a);
        return;
    }
    s->hooks.answer(s->hooks.ctx, &a);
    sync_answer_clear(&a);
}

/* Hand the journal failure to the caller (once). */
static int take_fatal(struct sync *s, bo_error_t *err)
{
    bo_error_t f = s->fatal;
    s->fatal = NULL;
    if (err)
        *err = f;
    else
        bo_error_free(f);
    return -1;
}

int sync_poll(struct sync *s, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms, bo_error_t *err)
{
    start_due_requests(s);
    if (s->fatal)
        return take_fatal(s, err);
    /* A reply is a user waiting: its transfer starts now, not after the
     * wait (libcurl starts a new transfer only in curl_multi_perform). */
    if (start_replies(s) > 0)
        timeout_ms = 0;
    if (s->n_inflight == 0 && s->retry_at > 0) {
        int64_t left = s->retry_at - bo_mono_ms();
        if (left < timeout_ms)
            timeout_ms = left < 0 ? 0 : (int)left;
    }
    int numfds = 0;
    CURLMcode mc = curl_multi_poll(s->multi, extra, n_extra, timeout_ms, &numfds);
    if (mc != CURLM_OK)
        return bo_error_set(err, BO_E_INTERNAL, "curl_multi_poll: %s", curl_multi_strerror(mc));
    int running = 0;
    mc = curl_multi_perform(s->multi, &running);
    if (mc != CURLM_OK)
        return bo_error_set(err, BO_E_INTERNAL, "curl_multi_perform: %s", curl_multi_strerror(mc));
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(s->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct request *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode rc = msg->data.result;
        if (r->reply) {
            reply_done(s, r, rc);
            request_free(r);
            continue;
        }
        /* Drop it from the in-flight list first: the answer hook may make
         * the agent journal updates, which can start a request. */
        for (int i = 0; i < s->n_inflight; i++) {
            if (s->inflight[i] == r) {
                s->inflight[i] = s->inflight[--s->n_inflight];
                s->inflight[s->n_inflight] = NULL;
                break;
            }
        }
        request_done(s, r, rc);
        request_free(r);
        if (s->fatal)
            return take_fatal(s, err);
    }
    start_replies(s); /* those the answers just made */
    return 0;
}
