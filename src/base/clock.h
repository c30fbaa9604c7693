/* clock.h - time sources and random identifiers. */
#ifndef BO_CLOCK_H
#define BO_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC: for deadlines and durations. */
int64_t bo_mono_ms(void);
/* Milliseconds since the Unix epoch: for timestamps users see and that are
 * persisted across restarts. */
int64_t bo_wall_ms(void);
/* A random RFC 4122 version-4 UUID, lower-case, 36 chars + NUL. */
void bo_uuid4(char out[37]);

#endif
