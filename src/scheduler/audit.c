/* audit.c - audit records in the store: append with rotation, queries. */
#include "scheduler/audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/parse.h"

#define KIND "audit"
#define ID_FMT "%020" PRId64

struct scan {
    int64_t first, last, count;
    bool bad;
};

static int scan_one(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    struct scan *sc = ctx;
    int64_t seq;
    if (bo_parse_i64(id, 0, INT64_MAX, "audit id", &seq, NULL) < 0)
        return bo_error_set(err, BO_E_IO, "store `audit` row `%.100s`: the id is not a sequence number", id);
    if (sc->count == 0)
        sc->first = seq;
    sc->last = seq;
    sc->count++;
    return 0;
}

int audit_load(struct audit *a, struct store *s, int64_t keep, bo_error_t *err)
{
    struct scan sc = {0};
    if (store_load(s, KIND, scan_one, &sc, err) < 0)
        return -1;
    a->keep = keep;
    a->next_seq = sc.count ? sc.last + 1 : 1;
    /* Ids are zero-padded, so id order is sequence order. A rolled-back
     * rotation may have left a few records beyond `keep`: trim them. */
    if (sc.count > keep) {
        if (store_begin(s, err) < 0)
            return -1;
        char id[32];
        for (int64_t q = sc.first; q <= sc.last - keep; q++) {
            snprintf(id, sizeof(id), ID_FMT, q);
            if (store_delete(s, KIND, id, err) < 0) {
                store_rollback(s);
                return -1;
            }
        }
        if (store_commit(s, err) < 0) {
            store_rollback(s);
            return -1;
        }
    }
    return 0;
}

int audit_append(struct audit *a, struct store *s, const struct audit_entry *e, int64_t now_ms, bo_error_t *err)
{
    int64_t seq = a->next_seq++;
    json_t *rec = json_pack("{s:I, s:I, s:s?, s:s, s:s, s:s, s:s?, s:s?, s:i}", "seq", (json_int_t)seq, "time_ms",
                            (json_int_t)now_ms, "principal", e->principal, "action", e->action, "method",
                            e->method, "path", e->path, "job", e->job, "detail", e->detail, "status",
                            (int)e->status);
    if (!rec) /* a path that is not UTF-8: keep the record, without it */
        rec = json_pack("{s:I, s:I, s:s?, s:s, s:s, s:s, s:i}", "seq", (json_int_t)seq, "time_ms",
                        (json_int_t)now_ms, "principal", e->principal, "action", e->action, "method", e->method,
                        "path", "(not UTF-8)", "status", (int)e->status);
    _cleanup_free_ char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    char id[32];
    snprintf(id, sizeof(id), ID_FMT, seq);
    if (store_put(s, KIND, id, text, err) < 0)
        return -1;
    if (seq > a->keep) {
        snprintf(id, sizeof(id), ID_FMT, seq - a->keep);
        if (store_delete(s, KIND, id, err) < 0)
            return -1;
    }
    return 0;
}

struct query {
    const char *job;
    int64_t after, limit;
    json_t *out;
};

static int query_one(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    struct query *q = ctx;
    json_t *j = json_loads(value, 0, NULL);
    if (!j)
        return 0; /* a record we cannot read is not worth failing the query */
    json_int_t seq = json_integer_value(json_object_get(j, "seq"));
    const char *job = json_string_value(json_object_get(j, "job"));
    if ((q->after >= 0 && seq <= q->after) || (q->job && (!job || strcmp(job, q->job) != 0))) {
        json_decref(j);
        return 0;
    }
    if (q->after >= 0 && (int64_t)json_array_size(q->out) >= q->limit) {
        json_decref(j);
        return 0;
    }
    json_array_append_new(q->out, j);
    /* Newest `limit`: drop the oldest as we go. */
    if (q->after < 0 && (int64_t)json_array_size(q->out) > q->limit)
        json_array_remove(q->out, 0);
    return 0;
}

int audit_query(struct store *s, const char *job, int64_t after, int64_t limit, json_t **ret, bo_error_t *err)
{
    struct query q = {job, after, limit, json_array()};
    if (store_load(s, KIND, query_one, &q, err) < 0) {
        json_decref(q.out);
        return -1;
    }
    *ret = q.out;
    return 0;
}
