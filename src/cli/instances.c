/* instances.c - parsing and printing of instance lists ("0,3,5-7"). */
#include "cli/instances.h"

#include <stdbool.h>
#include <string.h>

#include "base/parse.h"
#include "model/job.h"

static bool all_digits(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* One number of an item; `list` is the whole list for messages. */
static int parse_number(const char *s, size_t len, const char *list, int64_t *ret, bo_error_t *err)
{
    if (len == 0)
        return bo_error_set(err, BO_E_INVALID,
                            "instance list `%s`: a range needs a number on both sides of `-`",
                            list);
    if (!all_digits(s, len))
        return bo_error_set(err, BO_E_INVALID,
                            "instance list `%s`: `%.*s` is not an instance number", list, (int)len,
                            s);
    if (len > 9)
        goto range;
    char buf[16];
    memcpy(buf, s, len);
    buf[len] = '\0';
    int64_t v;
    if (bo_parse_i64(buf, 0, JOB_MAX_INSTANCES - 1, "instance", &v, NULL) < 0)
        goto range;
    *ret = v;
    return 0;
range:
    return bo_error_set(err, BO_E_INVALID,
                        "instance list `%s`: instance %.*s is out of range (0..%d)", list,
                        (int)len, s, JOB_MAX_INSTANCES - 1);
}

int instances_parse(const char *s, int64_t **ret, size_t *ret_n, bo_error_t *err)
{
    size_t total = strlen(s);
    if (total == 0)
        return bo_error_set(err, BO_E_INVALID, "instance list is empty");
    if (total > INSTANCES_MAX_TEXT)
        return bo_error_set(err, BO_E_INVALID, "instance list is longer than %d characters",
                            INSTANCES_MAX_TEXT);
    _cleanup_free_ bool *seen = bo_xcalloc(JOB_MAX_INSTANCES, sizeof(bool));
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            return bo_error_set(err, BO_E_INVALID, "instance list `%s` has an empty item", s);
        const char *dash = memchr(p, '-', len);
        int64_t lo, hi;
        if (!dash) {
            if (parse_number(p, len, s, &lo, err) < 0)
                return -1;
            hi = lo;
        } else {
            if (parse_number(p, (size_t)(dash - p), s, &lo, err) < 0 ||
                parse_number(dash + 1, len - (size_t)(dash - p) - 1, s, &hi, err) < 0)
                return -1;
            if (lo > hi)
                return bo_error_set(err, BO_E_INVALID,
                                    "instance list `%s`: range `%.*s` runs backwards", s, (int)len,
                                    p);
        }
        for (int64_t i = lo; i <= hi; i++)
            seen[i] = true;
        if (!end)
            break;
        p = end + 1;
    }
    size_t n = 0;
    for (int64_t i = 0; i < JOB_MAX_INSTANCES; i++)
        n += seen[i];
    int64_t *v = bo_xmalloc(n * sizeof(int64_t));
    n = 0;
    for (int64_t i = 0; i < JOB_MAX_INSTANCES; i++)
        if (seen[i])
            v[n++] = i;
    *ret = v;
    *ret_n = n;
    return 0;
}

void instances_split_key(const char *s, char **ret_key, char **ret_instances)
{
    int slashes = 0;
    const char *fourth = NULL;
    for (const char *p = s; *p; p++)
        if (*p == '/' && ++slashes == 4)
            fourth = p;
    if (!fourth) {
        *ret_key = bo_xstrdup(s);
        *ret_instances = NULL;
        return;
    }
    *ret_key = bo_xstrndup(s, (size_t)(fourth - s));
    *ret_instances = bo_xstrdup(fourth + 1);
}

char *instances_format(const int64_t *v, size_t n)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        abort(); /* only for lack of memory */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && v[j + 1] == v[j] + 1)
            j++;
        fprintf(f, "%s%lld", i ? "," : "", (long long)v[i]);
        if (j > i)
            fprintf(f, "-%lld", (long long)v[j]);
        i = j + 1;
    }
    fclose(f);
    return out;
}

int instances_parse_json(const char *s, json_t **ret, bo_error_t *err)
{
    _cleanup_free_ int64_t *inst = NULL;
    size_t n = 0;
    if (instances_parse(s, &inst, &n, err) < 0)
        return -1;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_integer(inst[i]));
    *ret = list;
    return 0;
}
