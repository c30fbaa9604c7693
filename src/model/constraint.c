/* constraint.c - the grammar and matching of placement constraints. */
#include "model/constraint.h"

#include <string.h>

#include "base/parse.h"

#define LIMIT_PREFIX "limit:"

/* A value in a list: what an agent attribute may hold (--attribute
 * KEY:VALUE), without the list's comma. */
static bool value_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '/' || c == '*' || c == ':';
}

int64_t constraint_limit(const char *value)
{
    if (strncmp(value, LIMIT_PREFIX, strlen(LIMIT_PREFIX)) != 0)
        return 0;
    int64_t n = 0;
    if (bo_parse_i64(value + strlen(LIMIT_PREFIX), 1, CONSTRAINT_LIMIT_MAX, "limit", &n, NULL) < 0)
        return 0;
    return n;
}

int constraint_value_check(const char *attribute, const char *value, const char *path, bo_error_t *err)
{
    if (strncmp(value, LIMIT_PREFIX, strlen(LIMIT_PREFIX)) == 0) {
        if (strcmp(attribute, CONSTRAINT_DEDICATED) == 0)
            return bo_error_set(err, BO_E_INVALID, "%s: `dedicated` takes ROLE/NAME, not a limit", path);
        if (constraint_limit(value) == 0)
            return bo_error_set(err, BO_E_INVALID, "%s: `%.64s` is not limit:N with N from 1 to %d", path, value,
                                CONSTRAINT_LIMIT_MAX);
        return 0;
    }
    const char *p = value;
    if (*p == '!') {
        if (strcmp(attribute, CONSTRAINT_DEDICATED) == 0)
            return bo_error_set(err, BO_E_INVALID, "%s: `dedicated` cannot be negated", path);
        p++;
    }
    /* Comma-separated, none empty. */
    for (const char *item = p;; item++) {
        const char *end = item;
        while (*end && *end != ',') {
            if (!value_char(*end))
                return bo_error_set(err, BO_E_INVALID,
                                    "%s: `%.64s` holds `%c`: values are letters, digits and - _ . / * : separated "
                                    "by commas, optionally after a `!`",
                                    path, value, *end);
            end++;
        }
        if (end == item)
            return bo_error_set(err, BO_E_INVALID, "%s: `%.64s` has an empty value", path, value);
        if (!*end)
            break;
        item = end;
    }
    if (strcmp(attribute, CONSTRAINT_DEDICATED) == 0 && (strchr(value, ',') || !strchr(value, '/')))
        return bo_error_set(err, BO_E_INVALID, "%s: `dedicated` takes one ROLE/NAME (e.g. www-data/db), not `%.64s`",
                            path, value);
    return 0;
}

bool constraint_value_matches(const char *value, const char *attr)
{
    bool negate = value[0] == '!';
    const char *p = value + negate;
    bool found = false;
    size_t n = attr ? strlen(attr) : 0;
    while (attr && !found) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        found = len == n && memcmp(p, attr, n) == 0;
        if (!end)
            break;
        p = end + 1;
    }
    return negate ? !found : found;
}
