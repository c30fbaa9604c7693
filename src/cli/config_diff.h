/* config_diff.h - field-by-field difference of two job configurations,
 * for `borealis job diff`. Paths use the names of protocol.md section 1
 * ("task.resources.ram"); processes are matched by name
 * ("task.processes[web].cmdline"), other lists are compared whole. */
#ifndef BO_CLI_CONFIG_DIFF_H
#define BO_CLI_CONFIG_DIFF_H

#include <jansson.h>
#include <stdio.h>

#include "model/job.h"

struct diff_change {
    char *path;
    char *old_value; /* compact JSON text; NULL when the field was added */
    char *new_value; /* NULL when the field was removed */
};

struct config_diff {
    struct diff_change *changes;
    size_t n;
};

/* Compare two JSON documents. Neither is modified. */
void config_diff_json(json_t *old_doc, json_t *new_doc, struct config_diff *ret);
/* Compare two configs through their canonical JSON (defaults filled in). */
void config_diff_jobs(const struct job_config *old_cfg, const struct job_config *new_cfg,
                      struct config_diff *ret);
/* "- path: old" and "+ path: new" lines, one pair per change. */
void config_diff_print(const struct config_diff *d, FILE *out);
void config_diff_clear(struct config_diff *d);

#endif
