/* jobfile.h - YAML job files: load one job of a file into a validated
 * struct job_config, with errors pointing at FILE:LINE:COL.
 *
 * A file is a mapping with `jobs:` (a list of jobs, each in the shape of
 * docs/protocol.md section 1) and optional `vars:` (user template
 * variables). Sizes take units ("32MiB"); kill_grace_ms also takes a
 * duration ("5s"). User variables in cmdlines are resolved here; runtime
 * ones are kept for the agent (see model/template.h). */
#ifndef BO_CONFIG_JOBFILE_H
#define BO_CONFIG_JOBFILE_H

#include <stddef.h>

#include "base/error.h"
#include "model/job.h"

/* Job files larger than this are refused. */
#define JOBFILE_MAX_SIZE (4u << 20)
/* Errors reported for one file; past this, "... and N more errors". */
#define JOBFILE_MAX_ERRORS 20

struct jobfile_options {
    const char *const *binds; /* "name=value" from --bind; override vars: */
    size_t n_binds;
};

/* Load the job `key` ("cluster/role/environment/name") from `path`. With
 * key NULL the file must hold exactly one job. `o` may be NULL. Errors are
 * BO_E_INVALID (bad key, bad file content) or BO_E_IO (unreadable file).
 * A file's content errors are all reported in one error, one per line,
 * each as FILE:LINE:COL: MESSAGE (at most JOBFILE_MAX_ERRORS). */
int jobfile_load(const char *path, const char *key, const struct jobfile_options *o, struct job_config **ret,
                 bo_error_t *err);
/* The same from memory (for fuzzing and tests); `name` is used in messages. */
int jobfile_load_buffer(const char *name, const char *buf, size_t len, const char *key,
                        const struct jobfile_options *o, struct job_config **ret, bo_error_t *err);

#endif
