/* store.h - durable key/value storage the scheduler writes every change
 * through before acting on it. Backend-independent interface (a vtable):
 * SQLite now (store_sqlite.c), a replicated etcd backend later.
 *
 * Data model: a fixed set of kinds (short table names, store_kinds below),
 * each a map from id (text) to value (JSON text, opaque to the store).
 *
 * Batches: store_begin() .. store_put()/store_delete() .. store_commit() is
 * atomic; when store_commit() returns 0 the batch is durable (within the
 * backend's sync setting). A put/delete outside a batch commits at once.
 * If a put/delete inside a batch fails, the batch is spoiled: store_commit()
 * then rolls it back and fails, so a half-written batch is never committed.
 *
 * Group commit: store_commit_deferred() ends a batch without making it
 * durable: it joins a group (one open backend transaction) that the next
 * store_flush(), or the next durable store_commit() of any batch, commits
 * whole. A caller answering for a deferred batch answers after the flush.
 * Inside a group each batch is a savepoint, so rolling one back leaves the
 * others. If the group itself is lost (its commit fails, or the backend
 * dropped the transaction) every later write is refused, as with
 * store_refuse_writes(): deferred changes never vanish silently.
 *
 * Background commits: store_flush_start() starts the group's commit and
 * returns; with a backend that writes on a thread of its own
 * (store_threaded.h) the caller goes on meanwhile, and others commit at
 * once. Each group gets a ticket when its commit starts; store_barrier()
 * is the ticket of everything written so far (the open group's, once it
 * starts), and store_durable() the highest ticket known durable, as of the
 * last store_collect() (or flush). A caller answers for a deferred batch
 * once store_durable() reaches the barrier it noted after the batch; a
 * backend with a thread signals store_event_fd() when a commit finishes.
 * A durable store_commit() waits for every earlier commit. A background
 * commit that fails loses its group like a failed flush (writes refused).
 *
 * Write-behind: a caller that changes the same record several times in a
 * batch (the scheduler's tasks: an agent reports STARTING and RUNNING in
 * one sync) may hold its puts back and register hooks (store_set_hooks):
 * before_commit runs when a batch ends, before store_commit() or
 * store_commit_deferred() commit it, and puts what was held back (into
 * the batch, so it is as durable and atomic as the rest); if it fails, the
 * batch is rolled back and the commit fails with BO_E_IO. on_rollback runs
 * whenever a batch is rolled back (store_rollback, a refused or failed
 * commit, store_refuse_writes, store_close): what was held back for it
 * must be dropped, never written by a later batch.
 *
 * Single-threaded: one store is used by one thread (the scheduler loop);
 * a backend may run its writes on a thread of its own behind that. */
#ifndef BO_STORE_STORE_H
#define BO_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* Limits on what callers may store (ids come from user-chosen job names). */
#define STORE_ID_MAX 1024
#define STORE_VALUE_MAX (64u << 20)

struct store; /* opaque to users; backends see the definition below */

/* How an open treats a missing or empty file. A store that held data and
 * was truncated or lost must never come back as an empty one: a daemon
 * opens with STORE_OPEN_EXISTING, and creates only where it knows there
 * was nothing (an empty data directory, or an operator's explicit flag). */
enum store_open_mode {
    STORE_OPEN_OR_CREATE, /* tests and tools: create the file if missing */
    STORE_OPEN_EXISTING,  /* the file must exist and hold a store (schema written) */
    STORE_CREATE,         /* a new store: the file must be missing or empty (0 bytes) */
};

/* Open the SQLite database at `path` (creating it if missing).
 * sync_full: fsync the log on every commit, so committed data survives
 * power loss; otherwise it survives a crash of the process but maybe not
 * of the machine. */
int store_open_sqlite(const char *path, bool sync_full, struct store **ret, bo_error_t *err);
/* The same with an explicit mode. STORE_OPEN_EXISTING fails with
 * BO_E_NOTFOUND for a missing file and BO_E_IO, naming the file, for an
 * empty (0-byte) one, one that is not a database, or a database without
 * the store's schema (e.g. its creation was interrupted). STORE_CREATE
 * fails with BO_E_EXISTS when the file holds anything. */
int store_open_sqlite_mode(const char *path, bool sync_full, enum store_open_mode mode, struct store **ret,
                           bo_error_t *err);
/* The same for a daemon that owns the store: no other process may read
 * or write the file while it is open (SQLite's locking_mode=EXCLUSIVE, so
 * its file locks are taken once, not on every transaction). Opening a
 * store another process holds fails with BO_E_REFUSED naming the file,
 * after the busy timeout (5 s: a predecessor may still be exiting). */
int store_open_sqlite_owned(const char *path, bool sync_full, enum store_open_mode mode, struct store **ret,
                            bo_error_t *err);
/* Where the store lives (the database file), for messages. */
const char *store_path(const struct store *s);
/* Close; an open batch is rolled back. NULL is a no-op. */
void store_close(struct store *s);

/* Kinds are short table names: "job", "task", "agent", "meta", "token",
 * "audit", "update". Values are
 * JSON text (NUL-terminated, at most STORE_VALUE_MAX bytes); ids are 1 to
 * STORE_ID_MAX bytes. A kind outside the list is BO_E_INVALID. */
int store_begin(struct store *s, bo_error_t *err); /* start a batch (transaction) */
int store_put(struct store *s, const char *kind, const char *id, const char *value,
              bo_error_t *err);
/* Deleting a missing id is not an error. */
int store_delete(struct store *s, const char *kind, const char *id, bo_error_t *err);
int store_commit(struct store *s, bo_error_t *err); /* durable when it returns 0 (with any group) */
/* End the batch into the group (see above): atomic, durable at the next
 * store_flush(). A spoiled batch is rolled back and fails as store_commit.
 * A batch that wrote nothing while no group is open opens none. */
int store_commit_deferred(struct store *s, bo_error_t *err);
/* Commit the group, if any, and wait for every commit started before
 * (store_flush_start). Not inside a batch. */
int store_flush(struct store *s, bo_error_t *err);
/* Whether deferred batches wait for store_flush(). */
bool store_has_deferred(const struct store *s);
/* Start committing the group, if any, without waiting (see "Background
 * commits"), then collect what finished. Not inside a batch. Fails as
 * store_flush() when the group, or an earlier one, is lost. */
int store_flush_start(struct store *s, bo_error_t *err);
/* Learn which background commits finished (store_durable()); fails when
 * one of them failed (writes are then refused). */
int store_collect(struct store *s, bo_error_t *err);
/* The ticket that covers everything written so far, and the highest
 * ticket known durable. An answer that needs the first waits until the
 * second reaches it. */
uint64_t store_barrier(const struct store *s);
uint64_t store_durable(const struct store *s);
/* Readable when a background commit finished (then call store_collect);
 * -1 for a backend without one. */
int store_event_fd(const struct store *s);
void store_rollback(struct store *s);               /* no-op outside a batch */
bool store_in_batch(const struct store *s);
/* Fail-stop: refuse every later write (begin, put, delete and commit fail
 * with BO_E_IO quoting `why`; an open batch is rolled back). For a caller
 * whose memory may now be ahead of the store: nothing it does before it
 * stops can commit changes derived from that memory. Loads still work. */
void store_refuse_writes(struct store *s, const char *why);

struct store_hooks {
    int (*before_commit)(void *ctx, bo_error_t *err); /* puts held back; runs inside the batch */
    void (*on_rollback)(void *ctx);                    /* drop what was held back */
    void *ctx;
};
/* Register the write-behind hooks (see above); NULL removes them. Not
 * inside a batch. */
void store_set_hooks(struct store *s, const struct store_hooks *hooks);

/* Called once per entry, in id order (byte-wise). `id` and `value` are only
 * valid during the call. Returning negative stops the load, which returns
 * that value (with fn's error in *err). fn must not write to the store. */
typedef int (*store_load_fn)(void *ctx, const char *id, const char *value, bo_error_t *err);
int store_load(struct store *s, const char *kind, store_load_fn fn, void *ctx, bo_error_t *err);

/* Counts of committed work since open (puts/deletes of rolled-back batches
 * are not counted; an autocommitted put counts one commit). */
struct store_stats {
    uint64_t commits, puts, deletes;
    uint64_t deferred; /* batches committed through a group (each flush is one commit) */
};
void store_get_stats(const struct store *s, struct store_stats *ret);

/* The fixed list of kinds lives in one table in the front end; backends
 * create one table (or key prefix) per kind, indexed 0..STORE_KIND_COUNT-1.
 * Adding a kind is adding a line to that table and bumping the count. */
#define STORE_KIND_COUNT 7
/* "job", "task", ... for 0..STORE_KIND_COUNT-1; NULL otherwise. */
const char *store_kind_name(int kind);
/* Index of `kind` in the table, or -1. */
int store_kind_index(const char *kind);

/* ---- Backend interface (only store_*.c use this) --------------------------
 *
 * A backend embeds `struct store` as its first member and fills `ops`. The
 * front end (store_sqlite.c's "front end" section, shared by all backends)
 * validates arguments, tracks the batch flag and stats, and calls:
 *   begin/commit/rollback  only in the matching batch state;
 *   put/del                with a valid kind index, inside a batch or, when
 *                          `autocommit` is true, as a one-change transaction;
 *   close                  after rolling back any open batch. */
struct store_ops {
    int (*begin)(struct store *s, bo_error_t *err);
    int (*put)(struct store *s, int kind, const char *id, const char *value, bool autocommit,
               bo_error_t *err);
    int (*del)(struct store *s, int kind, const char *id, bool autocommit, bo_error_t *err);
    int (*commit)(struct store *s, bo_error_t *err);
    /* Optional (NULL: commits are synchronous): start the open
     * transaction's commit; how many such commits succeeded so far, or -1
     * if one failed; the fd that is readable when one finished. */
    int (*commit_async)(struct store *s, bo_error_t *err);
    int (*async_state)(struct store *s, uint64_t *ret_done, bo_error_t *err);
    int (*event_fd)(const struct store *s);
    void (*wait)(struct store *s); /* until every started commit finished */
    void (*rollback)(struct store *s);
    /* Batches inside an open group: savepoint (begin), release (commit
     * into the group) and rollback_to (roll back this batch only; returns
     * -1 if the backend lost the whole group meanwhile). */
    int (*savepoint)(struct store *s, bo_error_t *err);
    int (*release)(struct store *s, bo_error_t *err);
    int (*rollback_to)(struct store *s);
    int (*load)(struct store *s, int kind, store_load_fn fn, void *ctx, bo_error_t *err);
    void (*close)(struct store *s);
};

struct store {
    const struct store_ops *ops;
    const char *path;                  /* for messages; owned by the backend */
    bool in_batch;
    bool batch_spoiled;                /* a put/delete in this batch failed */
    bool group_open;                   /* deferred batches wait for a flush */
    uint64_t group_batches, group_puts, group_deletes; /* counted into stats on flush */
    char *refused;                     /* why writes are refused (store_refuse_writes) */
    uint64_t batch_puts, batch_deletes; /* counted into stats on commit */
    struct store_stats stats;
    struct store_hooks hooks;          /* write-behind (store_set_hooks); zero: none */
    uint64_t started, durable;         /* group tickets (see "Background commits") */
    struct store_inflight {            /* background commits not yet collected, oldest first */
        uint64_t ticket, batches, puts, deletes;
    } *inflight;
    size_t n_inflight, cap_inflight;
    uint64_t async_collected;          /* background commits collected, as the backend counts them */
};

#endif
