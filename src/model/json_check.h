/* json_check.h - small helpers for strict parsing of JSON documents from
 * other programs (agent answers, status files): every key known. */
#ifndef BO_MODEL_JSON_CHECK_H
#define BO_MODEL_JSON_CHECK_H

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"

struct jscan;

/* Fail with "WHERE: unknown field `k`" if `o` has a key not in `allowed`. */
int json_check_keys(json_t *o, const char *const *allowed, size_t n, const char *where, bo_error_t *err);

/* A JSON array read where the in-place reader `s` (base/jscan.h) stands,
 * for a value kept as a tree (what agents report of a task's processes):
 * `[]` by the reader, anything else by jansson with `flags`, the reader
 * then moved past it. False if it is not an array or not JSON. */
bool json_scan_array(struct jscan *s, size_t flags, json_t **ret);

#endif
