/* strbuf.h - a growable byte buffer, and JSON text written straight into
 * it: for records and answers written often enough that building a jansson
 * tree first and dumping it costs more than the rest of the work (the
 * scheduler saves a task on every status change). Libc only. */
#ifndef BO_BASE_STRBUF_H
#define BO_BASE_STRBUF_H

#include <stdint.h>

#include "base/util.h"

struct bo_buf {
    char *p; /* NUL-terminated once anything was added */
    size_t len, cap;
};

void bo_buf_add(struct bo_buf *b, const char *s, size_t n);
void bo_buf_adds(struct bo_buf *b, const char *s);
void bo_buf_i64(struct bo_buf *b, int64_t v);
/* s as a JSON string (quoted; `"`, `\` and control characters escaped;
 * other bytes as they are: callers pass valid UTF-8), or null for NULL. */
void bo_buf_json_str(struct bo_buf *b, const char *s);
/* `"key":` */
void bo_buf_json_key(struct bo_buf *b, const char *key);
/* Take the text (heap, NUL-terminated, no spare capacity, "" if empty); the
 * buffer is empty after. */
char *bo_buf_steal(struct bo_buf *b);
void bo_buf_free(struct bo_buf *b);

#endif
