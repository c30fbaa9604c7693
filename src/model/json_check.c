/* json_check.c - strict-object checks shared by the JSON parsers. */
#include "model/json_check.h"

#include <string.h>

#include "base/jscan.h"

int json_check_keys(json_t *o, const char *const *allowed, size_t n, const char *where, bo_error_t *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        size_t i = 0;
        while (i < n && strcmp(k, allowed[i]) != 0)
            i++;
        if (i == n)
            return bo_error_set(err, BO_E_INVALID, "%s: unknown field `%s`", where, k);
    }
    return 0;
}

bool json_scan_array(struct jscan *s, size_t flags, json_t **ret)
{
    if (jscan_peek(s) != JSCAN_ARRAY)
        return false;
    const char *p = s->p + 1;
    while (p < s->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    if (p < s->end && *p == ']') {
        if (!jscan_array(s) || jscan_element(s) != 0)
            return false;
        *ret = json_array();
        return true;
    }
    json_error_t jerr;
    /* An array ends at its `]`: jansson reads no further, and says how far
     * it read. */
    json_t *v = json_loadb(s->p, (size_t)(s->end - s->p), flags | JSON_DISABLE_EOF_CHECK, &jerr);
    if (!v)
        return false;
    s->p += jerr.position;
    *ret = v;
    return true;
}
