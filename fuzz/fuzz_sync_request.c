/* fuzz_sync_request.c - libFuzzer target for the two readers of an agent's
 * sync body (src/scheduler/sync_request.c). Whatever the fast in-place
 * reader takes, jansson must take too (the HTTP handler would otherwise
 * have answered 400), and the jansson reader must give the same request
 * field by field: the scheduler applies whichever reader took the body,
 * so they must never differ. Neither may read or write past its input. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sync_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_update(const struct sync_update *a, const struct sync_update *b)
{
    if (a->seq != b->seq)
        return false;
    if (a->seq < 1) /* ignored: nothing else of it is read */
        return true;
    if (!same_str(a->reason, b->reason))
        return false;
    if (a->reason) /* rejected: only the reason is sent back */
        return true;
    return same_str(a->task_id, b->task_id) && a->state == b->state && same_str(a->message, b->message) &&
           a->executor_pid == b->executor_pid && a->agent_cause == b->agent_cause &&
           ((!a->processes && !b->processes) || json_equal(a->processes, b->processes));
}

static bool same(const struct sync_request *a, const struct sync_request *b)
{
    if (!same_str(a->agent_id, b->agent_id) || a->registration != b->registration || a->boot != b->boot ||
        a->leaving != b->leaving || a->leaving_bad != b->leaving_bad || a->arrays_bad != b->arrays_bad ||
        a->wait_ms != b->wait_ms || a->n_updates != b->n_updates || a->has_inventory != b->has_inventory ||
        a->n_inventory != b->n_inventory || (a->usage != NULL) != (b->usage != NULL) ||
        (a->usage && !json_equal(a->usage, b->usage)))
        return false;
    for (size_t i = 0; i < a->n_updates; i++)
        if (!same_update(&a->updates[i], &b->updates[i]))
            return false;
    for (size_t i = 0; i < a->n_inventory; i++)
        if (!same_str(a->inventory[i].task_id, b->inventory[i].task_id) ||
            !same_str(a->inventory[i].state, b->inventory[i].state))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sync_request fast;
    if (!sync_request_scan((const char *)data, size, &fast))
        return 0;
    /* As the HTTP handler reads a body the fast reader leaves. */
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(body))
        __builtin_trap();
    struct sync_request slow;
    sync_request_from_json(body, &slow);
    if (!same(&fast, &slow))
        __builtin_trap();
    sync_request_clear(&fast);
    sync_request_clear(&slow);
    return 0;
}
