/* json_check.h - small helpers for strict parsing of JSON documents from
 * other programs (agent answers, status files): every key known. */
#ifndef BO_MODEL_JSON_CHECK_H
#define BO_MODEL_JSON_CHECK_H

#include <jansson.h>

#include "base/error.h"

/* Fail with "WHERE: unknown field `k`" if `o` has a key not in `allowed`. */
int json_check_keys(json_t *o, const char *const *allowed, size_t n, const char *where, bo_error_t *err);

#endif
