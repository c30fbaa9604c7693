/* clock.c - time sources and UUIDs (getrandom-backed). */
#include "base/clock.h"

#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

int64_t bo_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bo_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Random bytes for UUIDs, taken from the kernel a page at a time: the
 * scheduler makes one per task, and one getrandom() each was a system call
 * per task created (2.5% of its CPU while 10,000 agents started 100,000
 * tasks). The page is wiped in a forked child (MADV_WIPEONFORK, so `left`
 * reads 0 there) and two processes never hand out the same bytes. */
struct random_pool {
    size_t left;
    unsigned char bytes[4096 - sizeof(size_t)];
};

static void random_fill(unsigned char *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(b + got, n - got, 0);
        if (r > 0)
            got += (size_t)r;
    }
}

static void random_bytes(unsigned char *b, size_t n)
{
    static _Thread_local struct random_pool *pool; /* a page a thread: no lock */
    static _Thread_local bool no_pool;
    if (!pool && !no_pool) {
        void *p = mmap(NULL, sizeof(*pool), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED && madvise(p, sizeof(*pool), MADV_WIPEONFORK) == 0) {
            pool = p;
        } else {
            if (p != MAP_FAILED)
                munmap(p, sizeof(*pool));
            no_pool = true; /* a kernel before 4.14: straight from getrandom */
        }
    }
    if (!pool || n > sizeof(pool->bytes)) {
        random_fill(b, n);
        return;
    }
    if (pool->left < n) {
        random_fill(pool->bytes, sizeof(pool->bytes));
        pool->left = sizeof(pool->bytes);
    }
    pool->left -= n; /* each byte handed out once */
    memcpy(b, pool->bytes + pool->left, n);
}

void bo_uuid4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    random_bytes(b, sizeof(b));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = 0;
}
