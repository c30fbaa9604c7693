/* utf8.c - UTF-8 validation and sanitizing (see utf8.h). */
#include "base/utf8.h"

#include <stdio.h>
#include <string.h>

#include "base/util.h"

/* Length of the valid sequence at s[0..len), or 0 if it is not one. */
static size_t seq_len(const unsigned char *s, size_t len)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0; /* continuation byte, 0xc0/0xc1 (overlong), 0xf5.. */
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool bo_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = seq_len(p + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

char *bo_utf8_sanitize(const char *s)
{
    size_t len = strlen(s);
    const unsigned char *p = (const unsigned char *)s;
    char *out = bo_xmalloc(4 * len + 1), *w = out;
    for (size_t i = 0; i < len;) {
        size_t n = seq_len(p + i, len - i);
        if (n) {
            memcpy(w, p + i, n);
            w += n;
            i += n;
        } else {
            w += sprintf(w, "\\x%02x", p[i]);
            i++;
        }
    }
    *w = '\0';
    return out;
}
