/* jscan.h - a pull reader for JSON text, for records read often enough
 * that building a jansson tree costs more than the rest of the work (the
 * scheduler reads every stored task at start: 100,000s of them). It reads
 * in place: strings are unescaped inside the caller's mutable copy of the
 * text and NUL-terminated there, so nothing is allocated per value.
 *
 * It reads a strict subset of JSON: everything a Borealis record holds
 * except `\u` escapes and numbers with a fraction or an exponent. Anything
 * outside the subset, and anything that is not JSON, makes the reader fail
 * (every later call fails too); callers then read the text with jansson,
 * which accepts the rest and names what is wrong. Whatever the reader
 * accepts, jansson accepts with the same values (fuzz/fuzz_json_scan.c
 * checks this). Libc only. */
#ifndef BO_BASE_JSCAN_H
#define BO_BASE_JSCAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

enum jscan_type { JSCAN_BAD, JSCAN_STRING, JSCAN_NUMBER, JSCAN_OBJECT, JSCAN_ARRAY, JSCAN_TRUE, JSCAN_FALSE, JSCAN_NULL };

#define JSCAN_MAX_DEPTH 64

struct jscan {
    char *p, *end; /* what is left to read */
    bool failed;
    int depth;
    uint64_t first; /* bit d: no member read yet at depth d */
};

/* `text` (len bytes, written to while reading) must stay alive while the
 * strings read from it are used. */
void jscan_init(struct jscan *s, char *text, size_t len);
/* The type of the next value (BAD at the end or after a failure). */
enum jscan_type jscan_peek(struct jscan *s);
/* `{`, then each member: 1 with its key (NUL-terminated, in the text) and
 * the reader at its value, 0 after the closing `}`, -1 on failure. */
bool jscan_object(struct jscan *s);
int jscan_key(struct jscan *s, const char **ret_key);
/* `[`, then 1 before each element, 0 after the closing `]`, -1 on failure. */
bool jscan_array(struct jscan *s);
int jscan_element(struct jscan *s);
/* A string (NUL-terminated, in the text; NUL-free and valid UTF-8). */
bool jscan_string(struct jscan *s, const char **ret);
/* An integer within int64 (no fraction, no exponent). */
bool jscan_int(struct jscan *s, int64_t *ret);
bool jscan_bool(struct jscan *s, bool *ret);
bool jscan_null(struct jscan *s);
/* A value the reader does not take apart (or a subset it refuses) can be
 * read by the caller from s->p, moving s->p past it. */
/* Only whitespace is left. */
bool jscan_done(struct jscan *s);

#endif
