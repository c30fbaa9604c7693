/* store_faulty.c - the fault-injecting store backend (see store_faulty.h).
 * It is a backend like any other: the front end checks arguments and the
 * batch state, then calls these ops, which count, maybe fail, and
 * otherwise pass the call to the wrapped backend's ops. */
#include "store/store_faulty.h"

#include <stdlib.h>

struct faulty_store {
    struct store base; /* first: struct store * <-> struct faulty_store * */
    struct store *inner;
    uint64_t ops;       /* write operations seen */
    uint64_t fail_from; /* ops number that fails first; 0 = none */
    bool sticky;
    uint64_t failures;
};

static struct faulty_store *fs(struct store *s)
{
    return (struct faulty_store *)s;
}

/* Count an operation; fail it when armed for it. */
static int fault(struct faulty_store *f, const char *what, int kind, const char *id, bo_error_t *err)
{
    f->ops++;
    if (!f->fail_from || f->ops < f->fail_from || (!f->sticky && f->ops != f->fail_from))
        return 0;
    f->failures++;
    if (kind >= 0)
        return bo_error_set(err, BO_E_IO, "store `%s`: %s %s/%.64s: injected failure (operation %llu)",
                            store_path(&f->base), what, store_kind_name(kind), id, (unsigned long long)f->ops);
    return bo_error_set(err, BO_E_IO, "store `%s`: %s: injected failure (operation %llu)", store_path(&f->base),
                        what, (unsigned long long)f->ops);
}

static int fy_begin(struct store *s, bo_error_t *err)
{
    struct faulty_store *f = fs(s);
    if (fault(f, "begin", -1, NULL, err) < 0)
        return -1;
    return f->inner->ops->begin(f->inner, err);
}

static int fy_put(struct store *s, int kind, const char *id, const char *value, bool autocommit, bo_error_t *err)
{
    struct faulty_store *f = fs(s);
    if (fault(f, "put", kind, id, err) < 0)
        return -1;
    return f->inner->ops->put(f->inner, kind, id, value, autocommit, err);
}

static int fy_del(struct store *s, int kind, const char *id, bool autocommit, bo_error_t *err)
{
    struct faulty_store *f = fs(s);
    if (fault(f, "delete", kind, id, err) < 0)
        return -1;
    return f->inner->ops->del(f->inner, kind, id, autocommit, err);
}

/* The front end rolls back after a failed commit; the inner batch is
 * still open then, so that rollback reaches it. */
static int fy_commit(struct store *s, bo_error_t *err)
{
    struct faulty_store *f = fs(s);
    if (fault(f, "commit", -1, NULL, err) < 0)
        return -1;
    return f->inner->ops->commit(f->inner, err);
}

static void fy_rollback(struct store *s)
{
    struct faulty_store *f = fs(s);
    f->inner->ops->rollback(f->inner);
}

static int fy_savepoint(struct store *s, bo_error_t *err)
{
    struct faulty_store *f = fs(s);
    if (fault(f, "savepoint", -1, NULL, err) < 0)
        return -1;
    return f->inner->ops->savepoint(f->inner, err);
}

static int fy_release(struct store *s, bo_error_t *err)
{
    struct faulty_store *f = fs(s);
    if (fault(f, "release savepoint", -1, NULL, err) < 0)
        return -1;
    return f->inner->ops->release(f->inner, err);
}

static int fy_rollback_to(struct store *s)
{
    struct faulty_store *f = fs(s);
    return f->inner->ops->rollback_to(f->inner);
}

/* Loads are reads: never failed here (recovery has its own tests). */
static int fy_load(struct store *s, int kind, store_load_fn fn, void *ctx, bo_error_t *err)
{
    struct faulty_store *f = fs(s);
    return f->inner->ops->load(f->inner, kind, fn, ctx, err);
}

static void fy_close(struct store *s)
{
    struct faulty_store *f = fs(s);
    store_close(f->inner);
    free(f);
}

static const struct store_ops faulty_ops = {
    .begin = fy_begin,
    .put = fy_put,
    .del = fy_del,
    .commit = fy_commit,
    .rollback = fy_rollback,
    .savepoint = fy_savepoint,
    .release = fy_release,
    .rollback_to = fy_rollback_to,
    .load = fy_load,
    .close = fy_close,
};

struct store *store_faulty_wrap(struct store *inner)
{
    struct faulty_store *f = bo_xcalloc(1, sizeof(*f));
    f->base.ops = &faulty_ops;
    f->base.path = inner->path;
    f->inner = inner;
    return &f->base;
}

void store_faulty_fail_at(struct store *s, uint64_t n, bool sticky)
{
    struct faulty_store *f = fs(s);
    f->fail_from = n ? f->ops + n : 0;
    f->sticky = sticky;
}

uint64_t store_faulty_ops(const struct store *s)
{
    return ((const struct faulty_store *)s)->ops;
}

uint64_t store_faulty_failures(const struct store *s)
{
    return ((const struct faulty_store *)s)->failures;
}
