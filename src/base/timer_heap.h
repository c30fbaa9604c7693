/* timer_heap.h - a min-heap of deadlines (as libuv's timer heap): the
 * earliest deadline drives the owner's poll timeout, so an idle daemon
 * sleeps until its next deadline and each deadline fires on time.
 *
 * Timers are intrusive: the owner embeds a struct bo_timer in its own
 * record and finds the record back from the timer (container_of) when it
 * fires; `kind` is the owner's tag for that. The heap holds pointers only,
 * so a timer must be disarmed before its record is freed. Arm, disarm and
 * pop are O(log n); equal deadlines fire in arming order. */
#ifndef BO_TIMER_HEAP_H
#define BO_TIMER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bo_timer {
    int64_t deadline_ms; /* on the owner's clock (monotonic ms as a rule) */
    uint64_t seq;        /* arming order, breaks ties */
    size_t slot;         /* index + 1 in the heap, 0 when not armed */
    int kind;            /* owner-defined */
};

struct bo_timer_heap {
    struct bo_timer **v;
    size_t n, cap;
    uint64_t next_seq;
};

/* A zeroed heap is empty and ready; free releases its array only. */
void bo_timer_heap_free(struct bo_timer_heap *h);

static inline bool bo_timer_armed(const struct bo_timer *t) { return t->slot != 0; }

/* Arm t at `deadline_ms`, or move it there if it is already armed. */
void bo_timer_arm(struct bo_timer_heap *h, struct bo_timer *t, int64_t deadline_ms);
/* Disarm t; nothing happens if it is not armed. */
void bo_timer_disarm(struct bo_timer_heap *h, struct bo_timer *t);

/* The earliest timer, or NULL if none is armed. */
struct bo_timer *bo_timer_heap_peek(const struct bo_timer_heap *h);
/* Disarm and return the earliest timer if it is due at `now_ms`, else NULL. */
struct bo_timer *bo_timer_heap_pop_due(struct bo_timer_heap *h, int64_t now_ms);
/* Milliseconds from `now_ms` to the earliest deadline (0 if already due),
 * or -1 if none is armed: a poll(2) timeout. */
int64_t bo_timer_heap_timeout_ms(const struct bo_timer_heap *h, int64_t now_ms);

#endif
