/* parse.c - strict parsing of numbers and sizes from user input. */
#include "base/parse.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <strings.h>

int bo_parse_i64(const char *s, int64_t min, int64_t max, const char *what, int64_t *ret, bo_error_t *err)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return bo_error_set(err, BO_E_INVALID, "%s: `%s` is not an integer", what, s ? s : "");
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return bo_error_set(err, BO_E_INVALID, "%s: `%s` is not an integer", what, s);
    if (v < min || v > max)
        return bo_error_set(err, BO_E_INVALID, "%s: %lld is out of range [%lld, %lld]", what, v,
                            (long long)min, (long long)max);
    *ret = v;
    return 0;
}

int bo_parse_double(const char *s, double min, double max, const char *what, double *ret, bo_error_t *err)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return bo_error_set(err, BO_E_INVALID, "%s: `%s` is not a number", what, s ? s : "");
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return bo_error_set(err, BO_E_INVALID, "%s: `%s` is not a number", what, s);
    if (v < min || v > max)
        return bo_error_set(err, BO_E_INVALID, "%s: %g is out of range [%g, %g]", what, v, min, max);
    *ret = v;
    return 0;
}

static const struct {
    const char *name;
    uint64_t mult;
} size_units[] = {
    {"", 1},           {"b", 1},          {"k", 1ULL << 10},  {"kb", 1ULL << 10}, {"kib", 1ULL << 10},
    {"m", 1ULL << 20}, {"mb", 1ULL << 20}, {"mib", 1ULL << 20}, {"g", 1ULL << 30}, {"gb", 1ULL << 30},
    {"gib", 1ULL << 30}, {"t", 1ULL << 40}, {"tb", 1ULL << 40}, {"tib", 1ULL << 40},
};

int bo_parse_size(const char *s, const char *what, uint64_t *ret, bo_error_t *err)
{
    if (!s || !*s || !(isdigit((unsigned char)*s) || *s == '.'))
        return bo_error_set(err, BO_E_INVALID, "%s: `%s` is not a size (use e.g. 512MiB, 2GiB)", what,
                            s ? s : "");
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !isfinite(v) || v < 0)
        return bo_error_set(err, BO_E_INVALID, "%s: `%s` is not a size (use e.g. 512MiB, 2GiB)", what, s);
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < BO_ARRAY_SIZE(size_units); i++) {
        if (strcasecmp(end, size_units[i].name) != 0)
            continue;
        double bytes = v * (double)size_units[i].mult;
        if (bytes > 9.0e18)
            return bo_error_set(err, BO_E_INVALID, "%s: `%s` is too large", what, s);
        if (bytes != floor(bytes))
            return bo_error_set(err, BO_E_INVALID, "%s: `%s` is not a whole number of bytes", what, s);
        *ret = (uint64_t)bytes;
        return 0;
    }
    return bo_error_set(err, BO_E_INVALID, "%s: unknown size unit `%s` in `%s` (use B, KiB, MiB, GiB, TiB)",
                        what, end, s);
}

void bo_format_size(uint64_t bytes, char *buf, size_t len)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    double v = (double)bytes;
    while (u + 1 < BO_ARRAY_SIZE(units) && v >= 1024.0) {
        v /= 1024.0;
        u++;
    }
    if (v == floor(v))
        snprintf(buf, len, "%.0f%s", v, units[u]);
    else
        snprintf(buf, len, "%.1f%s", v, units[u]);
}

static const struct {
    const char *suffix;
    int64_t ms;
} duration_units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};

#define DURATION_HINT "(e.g. 250ms, 30s, 1.5m, 1h, 2d)"
#define DURATION_MAX_FRACTION 9 /* digits: keeps fraction * unit inside int64 */

/* Integer arithmetic, not strtod: "1.1s" must be exactly 1100 ms. */
int bo_parse_duration_ms(const char *s, const char *what, int64_t *ret, bo_error_t *err)
{
    if (!s)
        s = "";
    if (strcmp(s, "0") == 0) { /* the same in every unit */
        *ret = 0;
        return 0;
    }
    size_t n_int = strspn(s, "0123456789"), n_frac = 0;
    const char *end = s + n_int;
    if (*end == '.') {
        n_frac = strspn(end + 1, "0123456789");
        end += 1 + n_frac;
    }
    if (n_int == 0 || (end > s + n_int && n_frac == 0) || n_frac > DURATION_MAX_FRACTION)
        return bo_error_set(err, BO_E_INVALID, "%s: `%.64s` is not a duration " DURATION_HINT, what, s);
    if (!*end)
        return bo_error_set(err, BO_E_INVALID,
                            "%s: `%.32s` has no unit: write e.g. `%.32ss` for seconds or `%.32sms` for milliseconds",
                            what, s, s, s);
    for (size_t i = 0; i < BO_ARRAY_SIZE(duration_units); i++) {
        if (strcmp(end, duration_units[i].suffix) != 0)
            continue;
        int64_t mult = duration_units[i].ms, whole = 0, frac = 0, scale = 1, ms;
        for (size_t k = 0; k < n_frac; k++) {
            frac = frac * 10 + (s[n_int + 1 + k] - '0');
            scale *= 10;
        }
        if (frac * mult % scale != 0)
            return bo_error_set(err, BO_E_INVALID, "%s: `%.64s` is not a whole number of milliseconds", what, s);
        bool overflow = false;
        for (size_t k = 0; k < n_int; k++)
            overflow |= __builtin_mul_overflow(whole, 10, &whole) ||
                        __builtin_add_overflow(whole, s[k] - '0', &whole);
        overflow |= __builtin_mul_overflow(whole, mult, &ms) || __builtin_add_overflow(ms, frac * mult / scale, &ms);
        if (overflow)
            return bo_error_set(err, BO_E_INVALID, "%s: `%.64s` is too long a duration", what, s);
        *ret = ms;
        return 0;
    }
    return bo_error_set(err, BO_E_INVALID, "%s: `%.64s` is not a duration " DURATION_HINT, what, s);
}
