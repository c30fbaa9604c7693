/* json_check.c - strict-object checks shared by the JSON parsers. */
#include "model/json_check.h"

#include <string.h>

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
