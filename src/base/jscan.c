/* jscan.c - a pull reader for a subset of JSON, in place (see jscan.h). */
#include "base/jscan.h"

#include "base/utf8.h"

void jscan_init(struct jscan *s, char *text, size_t len)
{
    *s = (struct jscan){.p = text, .end = text + len};
}

static bool fail(struct jscan *s)
{
    s->failed = true;
    s->p = s->end;
    return false;
}

static void ws(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

enum jscan_type jscan_peek(struct jscan *s)
{
    ws(s);
    if (s->failed || s->p == s->end)
        return JSCAN_BAD;
    switch (*s->p) {
    case '"':
        return JSCAN_STRING;
    case '{':
        return JSCAN_OBJECT;
    case '[':
        return JSCAN_ARRAY;
    case 't':
        return JSCAN_TRUE;
    case 'f':
        return JSCAN_FALSE;
    case 'n':
        return JSCAN_NULL;
    default:
        return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) ? JSCAN_NUMBER : JSCAN_BAD;
    }
}

static bool open_level(struct jscan *s, char c)
{
    if (jscan_peek(s) == JSCAN_BAD || *s->p != c || s->depth >= JSCAN_MAX_DEPTH)
        return fail(s);
    s->p++;
    s->depth++;
    s->first |= UINT64_C(1) << (s->depth - 1);
    return true;
}

/* 1: a member or element follows (after its comma), 0: the level closed. */
static int next_in_level(struct jscan *s, char close)
{
    ws(s);
    if (s->failed || s->p == s->end || s->depth == 0)
        return fail(s), -1;
    uint64_t bit = UINT64_C(1) << (s->depth - 1);
    if (*s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }
    if (s->first & bit) {
        s->first &= ~bit;
        return 1;
    }
    if (*s->p != ',')
        return fail(s), -1;
    s->p++;
    return 1;
}

bool jscan_object(struct jscan *s) { return open_level(s, '{'); }
bool jscan_array(struct jscan *s) { return open_level(s, '['); }

int jscan_element(struct jscan *s)
{
    int r = next_in_level(s, ']');
    if (r == 1 && jscan_peek(s) == JSCAN_BAD) /* `[1,]` */
        return fail(s), -1;
    return r;
}

bool jscan_string(struct jscan *s, const char **ret)
{
    if (jscan_peek(s) != JSCAN_STRING)
        return fail(s);
    char *start = ++s->p, *src = start;
    bool ascii = true;
    /* Most strings have no escape: find the end without copying. */
    while (src < s->end && *src != '"' && *src != '\\' && (unsigned char)*src >= 0x20) {
        ascii &= (unsigned char)*src < 0x80;
        src++;
    }
    char *dst = src;
    for (;;) {
        if (src == s->end)
            return fail(s);
        unsigned char c = (unsigned char)*src;
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(s); /* control characters must be escaped */
        if (c == '\\') {
            if (src + 1 == s->end)
                return fail(s);
            switch (src[1]) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            default: return fail(s); /* \u: outside the subset */
            }
            src += 2;
            *dst++ = (char)c;
            continue;
        }
        ascii &= c < 0x80;
        *dst++ = *src++;
    }
    s->p = src + 1;
    *dst = '\0'; /* dst <= src: the closing quote at the latest */
    if (!ascii && !bo_utf8_valid(start, (size_t)(dst - start)))
        return fail(s);
    *ret = start;
    return true;
}

int jscan_key(struct jscan *s, const char **ret_key)
{
    int r = next_in_level(s, '}');
    if (r != 1)
        return r;
    ws(s);
    if (!jscan_string(s, ret_key))
        return -1;
    ws(s);
    if (s->p == s->end || *s->p != ':')
        return fail(s), -1;
    s->p++;
    if (jscan_peek(s) == JSCAN_BAD)
        return fail(s), -1;
    return 1;
}

bool jscan_int(struct jscan *s, int64_t *ret)
{
    if (jscan_peek(s) != JSCAN_NUMBER)
        return fail(s);
    bool neg = *s->p == '-';
    if (neg)
        s->p++;
    if (s->p == s->end || *s->p < '0' || *s->p > '9')
        return fail(s);
    /* No leading zeros (JSON), and at most INT64_MAX (+1 when negative). */
    if (*s->p == '0' && s->p + 1 < s->end && s->p[1] >= '0' && s->p[1] <= '9')
        return fail(s);
    uint64_t v = 0, max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        unsigned d = (unsigned)(*s->p++ - '0');
        if (v > (max - d) / 10)
            return fail(s);
        v = v * 10 + d;
    }
    if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
        return fail(s); /* a real: outside the subset */
    *ret = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool word(struct jscan *s, const char *w, size_t n)
{
    if ((size_t)(s->end - s->p) < n)
        return fail(s);
    for (size_t i = 0; i < n; i++)
        if (s->p[i] != w[i])
            return fail(s);
    s->p += n;
    /* `truex` is not a value followed by garbage the caller might accept. */
    if (s->p < s->end && ((*s->p >= 'a' && *s->p <= 'z') || (*s->p >= '0' && *s->p <= '9')))
        return fail(s);
    return true;
}

bool jscan_bool(struct jscan *s, bool *ret)
{
    enum jscan_type t = jscan_peek(s);
    if (t != JSCAN_TRUE && t != JSCAN_FALSE)
        return fail(s);
    if (!(t == JSCAN_TRUE ? word(s, "true", 4) : word(s, "false", 5)))
        return false;
    *ret = t == JSCAN_TRUE;
    return true;
}

bool jscan_null(struct jscan *s)
{
    if (jscan_peek(s) != JSCAN_NULL)
        return fail(s);
    return word(s, "null", 4);
}

bool jscan_done(struct jscan *s)
{
    ws(s);
    return !s->failed && s->depth == 0 && s->p == s->end;
}
