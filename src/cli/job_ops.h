/* job_ops.h - steps several job commands share: checking a KEY argument
 * and --bind values, loading a job file, fetching a job, creating one
 * (used by `job create` and by `borealis up`), printing JSON. Each returns
 * a CLI exit code, having printed any error once. */
#ifndef BO_CLI_JOB_OPS_H
#define BO_CLI_JOB_OPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"
#include "cli/wait.h"
#include "image/registry.h"
#include "model/job.h"

#define CLI_MAX_BINDS 256
#define CLI_MAX_BIND_LEN 65536

/* Validate "cluster/role/env/name" (CLI_EXIT_INVALID_PARAMETER with the
 * parser's message). *ret_key is the canonical key (heap). */
int job_ops_check_key(const char *s, char **ret_key);
/* The KEY[/INSTANCES] argument of a job command: *ret_key the checked
 * canonical key, *ret_instances the instance text as given (NULL when the
 * argument names none), both heap. CLI_EXIT_INVALID_PARAMETER for a bad
 * key. */
int job_ops_key_instances(const char *arg, char **ret_key, char **ret_instances);
/* The same with the instances parsed: *ret_inst sorted and unique (NULL
 * and *ret_n 0 when none is named); CLI_EXIT_INVALID_PARAMETER for a bad
 * list too. */
int job_ops_key_instance_list(const char *arg, char **ret_key, int64_t **ret_inst, size_t *ret_n);
/* Every --bind must be NAME=VALUE with NAME of [A-Za-z0-9_.-]. */
int job_ops_check_binds(const char *const *binds, size_t n);
/* Check the KEY argument and the binds, then load that job from `file`:
 * CLI_EXIT_INVALID_PARAMETER for a bad key or bind, CLI_EXIT_INVALID_CONFIG
 * for any error of the file. *ret_key is the canonical key (heap). */
int job_ops_load(const char *key_arg, const char *file, const char *const *binds, size_t n_binds,
                 char **ret_key, struct job_config **ret);
/* GET /api/v1/jobs/KEY; a 404 prints "job KEY not found" (CLI_EXIT_API). */
int job_ops_get(const struct cli_ctx *ctx, const char *key, json_t **ret);

struct job_create_opts {
    const char *key, *file;
    const char *const *binds;
    size_t n_binds;
    bool wait;
    enum wait_target wait_until;
    int64_t wait_timeout_ms;
    /* `borealis up` re-run on the same data dir: an existing active job is
     * reported and is not an error. */
    bool exists_ok;
    /* Registries for resolving a task image's tag; NULL: HTTPS, no auth. */
    const struct registry_opts *registry;
};
int job_ops_create(const struct cli_ctx *ctx, const struct job_create_opts *o);

/* Resolve the tag of the task image in job JSON `body` to its digest, in
 * place (registry NULL: HTTPS, no auth); nothing to do without an image
 * or with a digest. CLI_EXIT_INVALID_CONFIG, _NETWORK, _TIMEOUT, _AUTH. */
int job_ops_resolve_image(json_t *body, const char *key, const struct registry_opts *registry);

/* Pretty JSON on stdout, for --json. */
void job_ops_print_json(json_t *j);
/* "http=31000,admin=31001" from a task's "ports" object (heap). */
char *job_ops_ports_text(json_t *ports);

#endif
