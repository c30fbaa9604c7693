/* instances.h - instance lists on the command line, as Aurora writes them
 * ("local/www-data/devel/hello/0,3,5-7"). */
#ifndef BO_CLI_INSTANCES_H
#define BO_CLI_INSTANCES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/error.h"

#define INSTANCES_MAX_TEXT 4096

/* Parse a comma-separated list of instance numbers and inclusive ranges
 * ("0", "0-2", "0,3,5-7") into a sorted list without duplicates. Every
 * number is decimal and below JOB_MAX_INSTANCES; a range must not run
 * backwards. Errors are BO_E_INVALID and quote the list and the bad item.
 * *ret is heap-allocated (caller frees). */
int instances_parse(const char *s, int64_t **ret, size_t *ret_n, bo_error_t *err);

/* instances_parse into a JSON array of numbers (*ret: a new reference). */
int instances_parse_json(const char *s, json_t **ret, bo_error_t *err);

/* Split "C/R/E/N/INSTANCES" into the key and the instance list. A word with
 * fewer than four '/' is all key (*ret_instances = NULL: all instances).
 * The key is not validated here. Both results are heap strings. */
void instances_split_key(const char *s, char **ret_key, char **ret_instances);

/* "0-2,5" for a sorted list, heap-allocated. */
char *instances_format(const int64_t *v, size_t n);

#endif
