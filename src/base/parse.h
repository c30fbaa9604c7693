/* parse.h - strict number and size parsing (never atoi). Each returns 0 or a
 * BO_E_INVALID error naming `what` (e.g. "instances") and the bad text. */
#ifndef BO_PARSE_H
#define BO_PARSE_H

#include <stdint.h>

#include "base/error.h"

int bo_parse_i64(const char *s, int64_t min, int64_t max, const char *what, int64_t *ret, bo_error_t *err);
int bo_parse_double(const char *s, double min, double max, const char *what, double *ret, bo_error_t *err);
/* Sizes: a plain integer is bytes; units B, KiB, MiB, GiB, TiB (binary) and
 * KB, MB, GB, TB (also binary, as Aurora's MB constant is 1024*1024), with
 * an optional fractional part ("1.5GiB"). Case-insensitive units. */
int bo_parse_size(const char *s, const char *what, uint64_t *ret, bo_error_t *err);
/* Durations: "250ms", "30s", "5m", "1h", "2d"; a plain number is seconds.
 * Returns milliseconds. */
int bo_parse_duration_ms(const char *s, const char *what, int64_t *ret, bo_error_t *err);
/* Render bytes with the largest exact-ish binary unit: "32MiB", "1.5GiB". */
void bo_format_size(uint64_t bytes, char *buf, size_t len);

#endif
