/* template.h - {{variable}} templates in command lines.
 *
 * Two stages. The CLI resolves user variables when it loads a job file
 * (template_expand_user): {{role}}, {{environment}}, {{name}}, {{cluster}},
 * `vars:` entries and --bind values. Runtime variables are kept, rewritten
 * in canonical spelling, and resolved by the agent at launch
 * (template_expand_runtime): {{instance}}, {{hostname}}, {{task_id}},
 * {{ports.NAME}}. Aurora spellings are accepted everywhere:
 * {{mesos.instance}}, {{mesos.hostname}}, {{thermos.task_id}},
 * {{thermos.ports[NAME]}}, and {{thermos.user}} (the role). Whitespace
 * inside the braces is ignored ("{{ instance }}").
 *
 * An unknown variable is an error naming it. Substituted values are never
 * expanded again. There is no escape for a literal "{{". */
#ifndef BO_MODEL_TEMPLATE_H
#define BO_MODEL_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Longest template accepted, and longest result of a user expansion. */
#define TEMPLATE_MAX_LEN 65536
/* Longest result of a runtime expansion: what Linux takes as one argv
 * string (MAX_ARG_STRLEN), as the executor runs `/bin/sh -c CMDLINE`. */
#define TEMPLATE_MAX_RUNTIME_LEN 131071

struct template_runtime {
    int64_t instance;
    const char *hostname;
    const char *task_id;
    json_t *ports; /* object name -> integer */
};

/* Resolve user variables from `vars` (object name -> string; the caller
 * puts role/environment/name/cluster, vars: and binds in it). Runtime
 * variables are kept in canonical spelling. *ret is heap-allocated. */
int template_expand_user(const char *in, json_t *vars, char **ret, bo_error_t *err);
/* The same; on failure *ret_offset (if not NULL) is the byte offset in
 * `in` of the variable at fault (0 when the whole template is), so a
 * caller can point at its line. */
int template_expand_user_at(const char *in, json_t *vars, char **ret, size_t *ret_offset, bo_error_t *err);

/* Resolve the runtime variables at launch; any other variable is an error. */
int template_expand_runtime(const char *in, const struct template_runtime *rt, char **ret, bo_error_t *err);

/* Collect runtime port names referenced by `in` (sorted, unique; a
 * NULL-terminated array, free with template_strv_free) and fail on any
 * non-runtime variable (used by job_config_from_json so API users get the
 * same check). */
int template_scan_runtime(const char *in, char ***ret_names, size_t *ret_n, bo_error_t *err);
void template_strv_free(char **v);

/* True for the names a user may not define with vars:/--bind: the runtime
 * and built-in variables and anything under ports., mesos., thermos. */
int template_name_is_reserved(const char *name);

#endif
