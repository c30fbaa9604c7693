/* strbuf.c - growable buffer and direct JSON text (see strbuf.h). */
#include "base/strbuf.h"

#include <string.h>

static void reserve(struct bo_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return;
    /* 1 KiB first: what is written here (a task record, a sync answer) is
     * most often a little under it; from 256 bytes, 2-3 reallocs each. */
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
        cap *= 2;
    b->p = bo_xrealloc(b->p, cap);
    b->cap = cap;
}

void bo_buf_add(struct bo_buf *b, const char *s, size_t n)
{
    reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void bo_buf_adds(struct bo_buf *b, const char *s)
{
    bo_buf_add(b, s, strlen(s));
}

void bo_buf_i64(struct bo_buf *b, int64_t v)
{
    char tmp[24], *e = tmp + sizeof(tmp), *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    bo_buf_add(b, p, (size_t)(e - p));
}

void bo_buf_json_str(struct bo_buf *b, const char *s)
{
    if (!s) {
        bo_buf_add(b, "null", 4);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    reserve(b, strlen(s) + 2);
    bo_buf_add(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        bo_buf_add(b, run, (size_t)(s - run));
        run = s + 1;
        char esc[6] = {'\\', (char)c, 0};
        size_t n = 2;
        switch (c) {
        case '"': case '\\': break;
        case '\n': esc[1] = 'n'; break;
        case '\t': esc[1] = 't'; break;
        case '\r': esc[1] = 'r'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        bo_buf_add(b, esc, n);
    }
    bo_buf_add(b, run, (size_t)(s - run));
    bo_buf_add(b, "\"", 1);
}

void bo_buf_json_key(struct bo_buf *b, const char *key)
{
    bo_buf_json_str(b, key);
    bo_buf_add(b, ":", 1);
}

char *bo_buf_steal(struct bo_buf *b)
{
    /* Trimmed to its length: what is taken may be kept a while (an answer
     * queued to send, thousands of them at once when agents register). */
    char *p = b->p ? bo_xrealloc(b->p, b->len + 1) : bo_xstrdup("");
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void bo_buf_free(struct bo_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
