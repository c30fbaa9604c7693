/* test_sync_backoff.c - the agent's retry backoff and inventory period are
 * jittered, so agents that failed together (a scheduler restart) do not
 * retry, nor send their inventories, in lockstep. */
#include <stdint.h>
#include <sys/random.h>

#include "agent/sync.h"
#include "harness.h"

static uint32_t rnd(void)
{
    uint32_t r = 0;
    CHECK(getrandom(&r, sizeof(r), 0) == sizeof(r));
    return r;
}

TEST(backoff_doubles_to_its_cap_with_half_of_it_random)
{
    static const int64_t base[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
    for (int attempt = 1; attempt <= 9; attempt++) {
        int64_t b = base[attempt - 1];
        CHECK(sync_backoff_ms(attempt, 0) == b / 2);
        CHECK(sync_backoff_ms(attempt, UINT32_MAX) >= b / 2 && sync_backoff_ms(attempt, UINT32_MAX) <= b);
        for (int i = 0; i < 1000; i++) {
            int64_t d = sync_backoff_ms(attempt, rnd());
            CHECK(d >= b / 2 && d <= b);
        }
    }
    CHECK(sync_backoff_ms(1000, rnd()) <= 5000);
}

/* 1,000 agents failing at once: their retries spread over the window
 * instead of landing on one instant. */
TEST(agents_failing_together_retry_apart)
{
    int buckets[10] = {0};
    int64_t lo = INT64_MAX, hi = 0;
    for (int agent = 0; agent < 1000; agent++) {
        int64_t d = sync_backoff_ms(7, rnd());
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        buckets[(d - 2500) * 10 / 2501]++;
    }
    CHECK(hi - lo > 2000);
    for (int i = 0; i < 10; i++)
        CHECK(buckets[i] > 20 && buckets[i] < 250); /* about 100 each */
}

TEST(inventory_period_is_spread)
{
    int64_t lo = INT64_MAX, hi = 0;
    for (int agent = 0; agent < 1000; agent++) {
        int64_t j = sync_inventory_jitter_ms(rnd());
        CHECK(j >= 0 && j <= SYNC_INVENTORY_EVERY_MS / 4);
        lo = j < lo ? j : lo;
        hi = j > hi ? j : hi;
    }
    CHECK(hi - lo > SYNC_INVENTORY_EVERY_MS / 8);
}

TEST_MAIN()
