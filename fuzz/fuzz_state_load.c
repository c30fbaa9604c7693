/* fuzz_state_load.c - libFuzzer target for recovery (state_load in
 * src/scheduler/state_load.c): stored rows are untrusted input, since a
 * disk, a hand edit or another build may have written them.
 *
 * Each input is a JSON object {"job": {ID: ROW, ...}, "agent": {...},
 * "task": {...}, "update": {...}}; a ROW that is a string is stored verbatim (so rows that
 * are not JSON are reached too), any other ROW as its compact JSON. The
 * rows replace the store's content, then a fresh state loads them. A load
 * either fails with a message naming the store and the table, or gives a
 * state every view and index walk can use (as GET /jobs/KEY does, where a
 * stored instance of -3 once overflowed the job's instance array). Each
 * input is loaded twice, with and without the flat reader of task rows,
 * which must agree. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <utlist.h>

#include "scheduler/scheduler.h"
#include "scheduler/update.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *store;
static char dir[128];
static struct sched_options opts;

static void remove_dir(void)
{
    static const char *const files[] = {"s.db", "s.db-wal", "s.db-shm", "s.db-journal"};
    for (size_t i = 0; i < BO_ARRAY_SIZE(files); i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    scheduler_default_options(&opts);
    const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/bo-fuzz-load-XXXXXX", tmp);
    if (!mkdtemp(dir))
        abort();
    char db[200];
    snprintf(db, sizeof(db), "%s/s.db", dir);
    if (store_open_sqlite(db, false, &store, NULL) < 0)
        abort();
    atexit(remove_dir);
    return 0;
}

static int collect(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    json_array_append_new(ctx, json_string(id));
    return 0;
}

/* Replace the store's rows of the three kinds by the input's. */
static void write_rows(json_t *in)
{
    static const char *const kinds[] = {"job", "agent", "task", "update"};
    if (store_begin(store, NULL) < 0)
        abort();
    for (size_t k = 0; k < BO_ARRAY_SIZE(kinds); k++) {
        json_t *ids = json_array(), *v;
        size_t i;
        if (store_load(store, kinds[k], collect, ids, NULL) < 0)
            abort();
        json_array_foreach(ids, i, v)
        {
            if (store_delete(store, kinds[k], json_string_value(v), NULL) < 0)
                abort();
        }
        json_decref(ids);
        const char *id;
        json_t *rows = json_object_get(in, kinds[k]);
        json_object_foreach(rows, id, v)
        {
            char *text = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT);
            /* Ids the store itself refuses (empty, too long) never reach a load. */
            if (text && *id && strlen(id) <= STORE_ID_MAX && store_put(store, kinds[k], id, text, NULL) < 0)
                abort();
            free(text);
        }
    }
    if (store_commit(store, NULL) < 0)
        abort();
}

/* Use the loaded state as the API and the loop would. */
static void walk(struct sched_state *st)
{
    struct sched_job *j, *jt;
    HASH_ITER(hh, st->jobs, j, jt)
    {
        json_decref(state_job_summary_json(st, j));
        for (int64_t i = 0; i < j->n_current; i++)
            if (j->current[i])
                json_decref(state_task_to_json(j->current[i]));
        struct sched_task *t;
        DL_FOREACH2(j->tasks, t, j_next)
        {
            if (t->instance < 0 || t->instance >= j->n_current || t->job != j)
                __builtin_trap(); /* the load let an out-of-range instance through */
            if (j->current[t->instance] == t)
                continue;
            json_decref(state_task_to_json(t));
        }
        struct sched_update *u;
        DL_FOREACH2(j->updates, u, u_next)
        {
            json_decref(update_to_json(u, true));
            if (u->job != j || (j->update == u && (!u->from || !u->to)))
                __builtin_trap();
        }
        /* An update in flight is driven on at once after a restart: one
         * step on whatever was stored (rolled back, as a failed batch). */
        if (j->update) {
            if (store_begin(st->store, NULL) < 0)
                abort();
            update_step(st, j, 0, NULL);
            store_rollback(st->store);
        }
    }
    struct sched_agent *a, *at;
    HASH_ITER(hh, st->agents, a, at)
    {
        if (a->port_lo < 1 || a->port_hi > 65535 || a->port_lo > a->port_hi)
            __builtin_trap();
        json_decref(state_agent_to_json(a));
    }
}

/* The tasks as loaded, as text (record and binding), to compare loads. */
static char *tasks_text(struct sched_state *st)
{
    size_t len = 0;
    char *out = NULL;
    FILE *f = open_memstream(&out, &len);
    struct sched_task *t, *tt;
    HASH_ITER(hh, st->tasks, t, tt)
    {
        char *text = state_task_record_text(t);
        fprintf(f, "%s %d %s\n", text, t->job->current[t->instance] == t, t->agent ? t->agent->id : "-");
        free(text);
    }
    fclose(f);
    return out;
}

/* 0 and the tasks' text, or -1 and the refusal. */
static int load(bool flat, char **ret)
{
    struct sched_state st;
    state_init(&st, &opts, store);
    bo_error_t err = NULL;
    state_load_flat = flat;
    int r = state_load(&st, &err);
    state_load_flat = true;
    if (r < 0) {
        if (!err || !strstr(err->msg, "store `") || !strstr(err->msg, "table kv_"))
            __builtin_trap(); /* every refusal names the store and the table */
        *ret = strdup(err->msg);
        bo_error_free(err);
    } else {
        *ret = tasks_text(&st); /* before walk: an update step adds tasks */
        walk(&st);
    }
    state_free(&st);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = json_loadb((const char *)data, size, 0, NULL);
    if (!in || !json_is_object(in)) {
        json_decref(in);
        return 0;
    }
    write_rows(in);
    json_decref(in);
    /* The flat reader of task rows gives what the jansson reader gives:
     * the same tasks, or the same refusal. */
    char *flat = NULL, *tree = NULL;
    int rf = load(true, &flat), rt = load(false, &tree);
    if (rf != rt || strcmp(flat, tree) != 0) {
        fprintf(stderr, "flat reader: %s\njansson reader: %s\n", flat, tree);
        __builtin_trap();
    }
    free(flat);
    free(tree);
    return 0;
}
