/* Unit tests for the timer heap: order, ties, re-arming, removal from the
 * middle, and a randomised run against a plain scan. */
#include <stdint.h>

#include "base/timer_heap.h"
#include "harness.h"

TEST(timers_fire_in_deadline_order_and_ties_in_arming_order)
{
    struct bo_timer_heap h = {0};
    struct bo_timer t[5] = {{0}};
    int64_t deadlines[5] = {50, 10, 30, 10, 20};
    for (int i = 0; i < 5; i++)
        bo_timer_arm(&h, &t[i], deadlines[i]);
    CHECK(bo_timer_heap_timeout_ms(&h, 0) == 10);
    CHECK(bo_timer_heap_timeout_ms(&h, 15) == 0);
    CHECK(bo_timer_heap_pop_due(&h, 9) == NULL);
    struct bo_timer *order[] = {&t[1], &t[3], &t[4], &t[2], &t[0]};
    for (int i = 0; i < 5; i++) {
        struct bo_timer *x = bo_timer_heap_pop_due(&h, 100);
        CHECK(x == order[i]);
        CHECK(!bo_timer_armed(x));
    }
    CHECK(bo_timer_heap_pop_due(&h, 100) == NULL);
    CHECK(bo_timer_heap_timeout_ms(&h, 0) == -1);
    bo_timer_heap_free(&h);
}

TEST(rearming_moves_and_disarming_removes)
{
    struct bo_timer_heap h = {0};
    struct bo_timer a = {0}, b = {0}, c = {0};
    bo_timer_arm(&h, &a, 10);
    bo_timer_arm(&h, &b, 20);
    bo_timer_arm(&h, &c, 30);
    bo_timer_arm(&h, &a, 40); /* later */
    CHECK(bo_timer_heap_peek(&h) == &b);
    bo_timer_arm(&h, &c, 5); /* earlier */
    CHECK(bo_timer_heap_peek(&h) == &c);
    bo_timer_disarm(&h, &c);
    bo_timer_disarm(&h, &c); /* twice: no effect */
    CHECK(!bo_timer_armed(&c));
    CHECK(bo_timer_heap_pop_due(&h, 100) == &b);
    CHECK(bo_timer_heap_pop_due(&h, 100) == &a);
    CHECK(h.n == 0);
    bo_timer_heap_free(&h);
}

TEST(random_operations_match_a_scan)
{
    enum { N = 500 };
    static struct bo_timer t[N];
    struct bo_timer_heap h = {0};
    uint32_t rnd = 12345;
    for (int step = 0; step < 20000; step++) {
        rnd = rnd * 1103515245u + 12345u;
        struct bo_timer *x = &t[(rnd >> 8) % N];
        if ((rnd >> 4) % 3 == 0)
            bo_timer_disarm(&h, x);
        else
            bo_timer_arm(&h, x, (int64_t)((rnd >> 12) % 1000));
        /* The heap's minimum is the minimum over every armed timer. */
        const struct bo_timer *min = NULL;
        size_t armed = 0;
        for (int i = 0; i < N; i++) {
            if (!bo_timer_armed(&t[i]))
                continue;
            armed++;
            if (!min || t[i].deadline_ms < min->deadline_ms ||
                (t[i].deadline_ms == min->deadline_ms && t[i].seq < min->seq))
                min = &t[i];
        }
        CHECK(armed == h.n);
        CHECK(bo_timer_heap_peek(&h) == min);
    }
    int64_t last = -1;
    struct bo_timer *x;
    while ((x = bo_timer_heap_pop_due(&h, 1000))) {
        CHECK(x->deadline_ms >= last);
        last = x->deadline_ms;
    }
    CHECK(h.n == 0);
    bo_timer_heap_free(&h);
}

TEST_MAIN()
