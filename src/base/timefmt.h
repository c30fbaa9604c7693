/* timefmt.h - times and durations as a person reads them, for messages
 * and CLI output (never raw epoch milliseconds). */
#ifndef BO_TIMEFMT_H
#define BO_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* "2026-11-30 08:31:02 UTC" for milliseconds since the epoch. */
void bo_format_time(int64_t wall_ms, char *buf, size_t len);
/* "250ms", "30s", "5m", "1h 30m", "2d 3h": the two largest units, rounded
 * down; 0 is "0s". */
void bo_format_duration(int64_t ms, char *buf, size_t len);
/* "1 instance", "2 instances": `n` and `noun`, with an s unless n is 1. */
void bo_format_count(int64_t n, const char *noun, char *buf, size_t len);

#endif
