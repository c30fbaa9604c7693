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
/* Durations, the one parser for job files and every command line: a
 * number with a unit, ms, s, m, h or d ("250ms", "30s", "1.5m", "2d"); a
 * decimal part is allowed when the result is a whole number of
 * milliseconds. A bare number is refused (except 0): it used to mean
 * milliseconds in job files and seconds on command lines, and "30" alone
 * cannot say which; the error suggests "30s". Returns milliseconds (>= 0). */
int bo_parse_duration_ms(const char *s, const char *what, int64_t *ret, bo_error_t *err);
/* Render bytes with the largest exact-ish binary unit: "32MiB", "1.5GiB". */
void bo_format_size(uint64_t bytes, char *buf, size_t len);

#endif
