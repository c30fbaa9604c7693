/* timer_heap.c - binary min-heap of intrusive timers, ordered by deadline
 * then arming order. Each timer knows its slot, so removal is O(log n). */
#include "base/timer_heap.h"

#include "base/util.h"

static bool before(const struct bo_timer *a, const struct bo_timer *b)
{
    return a->deadline_ms < b->deadline_ms || (a->deadline_ms == b->deadline_ms && a->seq < b->seq);
}

static void place(struct bo_timer_heap *h, size_t i, struct bo_timer *t)
{
    h->v[i] = t;
    t->slot = i + 1;
}

static void sift_up(struct bo_timer_heap *h, size_t i)
{
    struct bo_timer *t = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, h->v[parent]))
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct bo_timer_heap *h, size_t i)
{
    struct bo_timer *t = h->v[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && before(h->v[child + 1], h->v[child]))
            child++;
        if (!before(h->v[child], t))
            break;
        place(h, i, h->v[child]);
        i = child;
    }
    place(h, i, t);
}

void bo_timer_heap_free(struct bo_timer_heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        h->v[i]->slot = 0;
    free(h->v);
    *h = (struct bo_timer_heap){0};
}

void bo_timer_disarm(struct bo_timer_heap *h, struct bo_timer *t)
{
    if (!t->slot)
        return;
    size_t i = t->slot - 1;
    t->slot = 0;
    struct bo_timer *last = h->v[--h->n];
    if (i == h->n)
        return; /* t was the last one */
    place(h, i, last);
    /* The moved timer may belong above or below its new slot. */
    if (i > 0 && before(last, h->v[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

void bo_timer_arm(struct bo_timer_heap *h, struct bo_timer *t, int64_t deadline_ms)
{
    bo_timer_disarm(h, t);
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 64;
        h->v = bo_xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    t->deadline_ms = deadline_ms;
    t->seq = h->next_seq++;
    place(h, h->n++, t);
    sift_up(h, h->n - 1);
}

struct bo_timer *bo_timer_heap_peek(const struct bo_timer_heap *h)
{
    return h->n ? h->v[0] : NULL;
}

struct bo_timer *bo_timer_heap_pop_due(struct bo_timer_heap *h, int64_t now_ms)
{
    struct bo_timer *t = bo_timer_heap_peek(h);
    if (!t || t->deadline_ms > now_ms)
        return NULL;
    bo_timer_disarm(h, t);
    return t;
}

int64_t bo_timer_heap_timeout_ms(const struct bo_timer_heap *h, int64_t now_ms)
{
    const struct bo_timer *t = bo_timer_heap_peek(h);
    if (!t)
        return -1;
    return t->deadline_ms > now_ms ? t->deadline_ms - now_ms : 0;
}
