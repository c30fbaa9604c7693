/* ident.c - the identifier rule (see ident.h). */
#include "base/ident.h"

#include <string.h>

bool bo_ident_char(char c, unsigned flags)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || (c == '.' && !(flags & BO_IDENT_NO_DOT));
}

int bo_ident_check(const char *s, size_t max, unsigned flags, const char *what, bo_error_t *err)
{
    if (!s || !*s)
        return bo_error_set(err, BO_E_INVALID, "%s must not be empty", what);
    size_t n = strlen(s);
    if (n > max)
        return bo_error_set(err, BO_E_INVALID, "%s `%.64s...` is longer than %zu characters", what, s, max);
    for (size_t i = 0; i < n; i++)
        if (!bo_ident_char(s[i], flags))
            return bo_error_set(err, BO_E_INVALID, "%s `%s` must match %s", what, s,
                                flags & BO_IDENT_NO_DOT ? "[A-Za-z0-9_-]+" : "[A-Za-z0-9_.-]+");
    /* Path segments, where these two mean something else. */
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return bo_error_set(err, BO_E_INVALID, "%s must not be `%s`", what, s);
    return 0;
}

bool bo_ident_ok(const char *s, size_t max, unsigned flags)
{
    return bo_ident_check(s, max, flags, "", NULL) == 0;
}
