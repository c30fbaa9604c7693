/* timefmt.c - human rendering of times, durations and counts. */
#include "base/timefmt.h"

#include <stdio.h>
#include <time.h>

void bo_format_time(int64_t wall_ms, char *buf, size_t len)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(buf, len, "%lld ms after the epoch", (long long)wall_ms);
}

void bo_format_duration(int64_t ms, char *buf, size_t len)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    const char *sign = ms < 0 ? "-" : "";
    uint64_t left = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    if (left == 0) {
        snprintf(buf, len, "0s");
        return;
    }
    size_t first = 0;
    while (left < (uint64_t)units[first].ms)
        first++;
    uint64_t a = left / (uint64_t)units[first].ms;
    uint64_t rest = left % (uint64_t)units[first].ms;
    /* A second unit only below days->hours->minutes->seconds, and not for
     * milliseconds under a minute's worth ("1m 30s", not "1s 500ms"). */
    if (first + 1 < sizeof(units) / sizeof(units[0]) && units[first].ms >= 60000) {
        uint64_t b = rest / (uint64_t)units[first + 1].ms;
        if (b) {
            snprintf(buf, len, "%s%llu%s %llu%s", sign, (unsigned long long)a, units[first].unit,
                     (unsigned long long)b, units[first + 1].unit);
            return;
        }
    } else if (units[first].ms == 1000 && rest) {
        snprintf(buf, len, "%s%.1fs", sign, (double)left / 1000.0);
        return;
    }
    snprintf(buf, len, "%s%llu%s", sign, (unsigned long long)a, units[first].unit);
}

void bo_format_count(int64_t n, const char *noun, char *buf, size_t len)
{
    snprintf(buf, len, "%lld %s%s", (long long)n, noun, n == 1 ? "" : "s");
}
