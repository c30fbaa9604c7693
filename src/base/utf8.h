/* utf8.h - UTF-8 validity as jansson sees it, and a printable stand-in for
 * text that is not: user input echoed in a JSON error answer must never
 * make the answer unencodable (jansson refuses invalid UTF-8 strings). */
#ifndef BO_UTF8_H
#define BO_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF
 * (the rules jansson applies). */
bool bo_utf8_valid(const char *s, size_t len);
/* A heap copy of the NUL-terminated `s` where every byte that is not part
 * of a valid UTF-8 sequence is written as the four characters `\xNN`, so
 * the reader still sees which byte was wrong. Valid text is copied as is. */
char *bo_utf8_sanitize(const char *s);

#endif
