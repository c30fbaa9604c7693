/* fuzz_json_scan.c - libFuzzer target for the in-place JSON reader
 * (src/base/jscan.c) that reads stored task rows at a restart. Any input
 * is walked with the reader into a jansson tree; whatever the reader
 * accepts, jansson must accept too, as the same value (the scheduler
 * relies on it: a row the reader takes is never re-read by jansson). The
 * reader must never read or write past its buffer. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/jscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *value(struct jscan *s)
{
    const char *str, *key;
    int64_t i;
    bool b;
    int k;
    json_t *v;
    switch (jscan_peek(s)) {
    case JSCAN_STRING:
        return jscan_string(s, &str) ? json_string(str) : NULL;
    case JSCAN_NUMBER:
        return jscan_int(s, &i) ? json_integer(i) : NULL;
    case JSCAN_TRUE:
    case JSCAN_FALSE:
        return jscan_bool(s, &b) ? json_boolean(b) : NULL;
    case JSCAN_NULL:
        return jscan_null(s) ? json_null() : NULL;
    case JSCAN_OBJECT:
        if (!jscan_object(s))
            return NULL;
        v = json_object();
        while ((k = jscan_key(s, &key)) == 1) {
            json_t *m = value(s); /* read after the key: the key's text stays */
            if (!m) {
                json_decref(v);
                return NULL;
            }
            json_object_set_new(v, key, m); /* as jansson: the last of a key twice */
        }
        if (k < 0) {
            json_decref(v);
            return NULL;
        }
        return v;
    case JSCAN_ARRAY:
        if (!jscan_array(s))
            return NULL;
        v = json_array();
        while ((k = jscan_element(s)) == 1) {
            json_t *e = value(s);
            if (!e) {
                json_decref(v);
                return NULL;
            }
            json_array_append_new(v, e);
        }
        if (k < 0) {
            json_decref(v);
            return NULL;
        }
        return v;
    default:
        return NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The scheduler reads NUL-terminated rows (strlen of SQLite's text). */
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text);
    struct jscan s;
    jscan_init(&s, text, len);
    json_t *got = value(&s);
    if (got && jscan_done(&s)) {
        json_t *want = json_loadb((const char *)data, len, JSON_DECODE_ANY, NULL);
        if (!want || !json_equal(got, want))
            __builtin_trap();
        json_decref(want);
    }
    json_decref(got);
    free(text);
    return 0;
}
