/* job_ops.c - shared steps of the job commands (see job_ops.h). */
#include "cli/job_ops.h"

#include <stdio.h>
#include <string.h>

#include "cli/api.h"
#include "cli/exitcode.h"
#include "cli/instances.h"
#include "config/jobfile.h"
#include "image/store.h"
#include "model/template.h"

int job_ops_check_key(const char *s, char **ret_key)
{
    _cleanup_error_ bo_error_t err = NULL;
    struct job_key k = {0};
    if (job_key_parse(s, &k, &err) < 0)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
    *ret_key = job_key_str(&k);
    job_key_clear(&k);
    return CLI_EXIT_OK;
}

int job_ops_key_instances(const char *arg, char **ret_key, char **ret_instances)
{
    _cleanup_free_ char *key_text = NULL, *inst_text = NULL;
    instances_split_key(arg, &key_text, &inst_text);
    int r = job_ops_check_key(key_text, ret_key);
    if (r == CLI_EXIT_OK) {
        *ret_instances = inst_text;
        inst_text = NULL;
    }
    return r;
}

int job_ops_key_instance_list(const char *arg, char **ret_key, int64_t **ret_inst, size_t *ret_n)
{
    _cleanup_free_ char *key = NULL, *inst_text = NULL;
    int r = job_ops_key_instances(arg, &key, &inst_text);
    if (r != CLI_EXIT_OK)
        return r;
    *ret_inst = NULL;
    *ret_n = 0;
    _cleanup_error_ bo_error_t err = NULL;
    if (inst_text && instances_parse(inst_text, ret_inst, ret_n, &err) < 0)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", err->msg);
    *ret_key = key;
    key = NULL;
    return CLI_EXIT_OK;
}

int job_ops_check_binds(const char *const *binds, size_t n)
{
    if (n > CLI_MAX_BINDS)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "too many --bind options (at most %d)",
                        CLI_MAX_BINDS);
    for (size_t i = 0; i < n; i++) {
        const char *b = binds[i], *eq = strchr(b, '=');
        if (strlen(b) > CLI_MAX_BIND_LEN)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--bind `%.40s...` is longer than %d bytes",
                            b, CLI_MAX_BIND_LEN);
        if (!eq || eq == b)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--bind `%s`: expected NAME=VALUE", b);
        /* The rest of what the job file loader would refuse in a --bind,
         * checked here so that it is a bad parameter (exit 6), not a bad
         * job file (exit 3). */
        _cleanup_error_ bo_error_t err = NULL;
        _cleanup_free_ char *name = bo_xstrndup(b, (size_t)(eq - b));
        if (job_ident_validate(name, "the name", &err) < 0)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--bind `%.100s`: %s", b, err->msg);
        if (template_name_is_reserved(name))
            return cli_fail(CLI_EXIT_INVALID_PARAMETER,
                            "--bind `%.100s`: `%s` is a built-in variable", b, name);
        json_t *value = json_string(eq + 1);
        if (!value)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--bind `%.100s`: the value is not valid UTF-8",
                            b);
        json_decref(value);
    }
    return CLI_EXIT_OK;
}

int job_ops_load(const char *key_arg, const char *file, const char *const *binds, size_t n_binds,
                 char **ret_key, struct job_config **ret)
{
    _cleanup_free_ char *key = NULL;
    int r = job_ops_check_key(key_arg, &key);
    if (r == CLI_EXIT_OK)
        r = job_ops_check_binds(binds, n_binds);
    if (r != CLI_EXIT_OK)
        return r;
    _cleanup_error_ bo_error_t err = NULL;
    struct jobfile_options o = {.binds = binds, .n_binds = n_binds};
    if (jobfile_load(file, key, &o, ret, &err) < 0)
        return cli_fail(CLI_EXIT_INVALID_CONFIG, "%s", err->msg);
    *ret_key = BO_STEAL(key);
    return CLI_EXIT_OK;
}

int job_ops_get(const struct cli_ctx *ctx, const char *key, json_t **ret)
{
    _cleanup_error_ bo_error_t err = NULL;
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/jobs/%s", key);
    if (api_call(ctx, "GET", path, NULL, ret, &err) < 0) {
        if (err->kind == BO_E_NOTFOUND)
            return cli_fail(CLI_EXIT_API, "job %s not found", key);
        return cli_fail_error(err, CLI_EXIT_API);
    }
    if (api_expect(*ret, "GET", path, "job", JSON_OBJECT, &err) < 0 ||
        api_expect(*ret, "GET", path, "tasks", JSON_ARRAY, &err) < 0) {
        json_decref(*ret);
        *ret = NULL;
        return cli_fail_error(err, CLI_EXIT_API);
    }
    return CLI_EXIT_OK;
}

int job_ops_resolve_image(json_t *body, const char *key, const struct registry_opts *registry)
{
    json_t *task = json_object_get(body, "task");
    const char *image = json_string_value(json_object_get(task, "image"));
    if (!image || !*image || strchr(image, '@'))
        return CLI_EXIT_OK;
    /* Every instance runs the same bytes: the tag is resolved here, once
     * (the scheduler's loop never waits on a registry). */
    static const struct registry_opts defaults = {0};
    _cleanup_error_ bo_error_t err = NULL;
    char *resolved = NULL;
    if (image_resolve(image, registry ? registry : &defaults, &resolved, &err) < 0) {
        int code = err->kind == BO_E_NETWORK   ? CLI_EXIT_NETWORK
                   : err->kind == BO_E_TIMEOUT ? CLI_EXIT_TIMEOUT
                   : err->kind == BO_E_REFUSED ? CLI_EXIT_AUTH
                                               : CLI_EXIT_INVALID_CONFIG;
        return cli_fail(code, "job %s: task.image: %s", key, err->msg);
    }
    printf("Resolved %s to %s\n", image, resolved);
    json_object_set_new(task, "image", json_string(resolved));
    free(resolved);
    return CLI_EXIT_OK;
}

int job_ops_create(const struct cli_ctx *ctx, const struct job_create_opts *o)
{
    _cleanup_free_ char *key = NULL;
    struct job_config *cfg = NULL;
    int r = job_ops_load(o->key, o->file, o->binds, o->n_binds, &key, &cfg);
    if (r != CLI_EXIT_OK)
        return r;
    json_t *body = job_config_to_json(cfg), *answer = NULL;
    int64_t instances = cfg->instances;
    job_config_unref(cfg);
    r = job_ops_resolve_image(body, key, o->registry);
    if (r != CLI_EXIT_OK) {
        json_decref(body);
        return r;
    }
    _cleanup_error_ bo_error_t err = NULL;
    r = api_call(ctx, "POST", "/api/v1/jobs", body, &answer, &err);
    json_decref(body);
    if (r < 0) {
        if (err->kind == BO_E_EXISTS && o->exists_ok) {
            printf("%s; keeping it\n", err->msg);
        } else if (err->kind == BO_E_INVALID) {
            /* The scheduler validates what we validated, plus what only it
             * knows (its cluster name): either way the config is wrong. */
            return cli_fail(CLI_EXIT_INVALID_CONFIG, "scheduler refused job %s: %s", key,
                            err->msg);
        } else {
            return cli_fail_error(err, CLI_EXIT_API);
        }
    } else {
        printf("Created job %s (%lld instance%s)\n", key, (long long)instances,
               instances == 1 ? "" : "s");
        json_decref(answer);
    }
    fflush(stdout);
    if (o->wait)
        return wait_for_job(ctx, key, o->wait_until, o->wait_timeout_ms);
    return CLI_EXIT_OK;
}

void job_ops_print_json(json_t *j)
{
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    fputc('\n', stdout);
}

char *job_ops_ports_text(json_t *ports)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        abort(); /* only for lack of memory */
    const char *name;
    json_t *v;
    bool first = true;
    json_object_foreach(ports, name, v)
    {
        fprintf(f, "%s%s=%lld", first ? "" : ",", name, (long long)json_integer_value(v));
        first = false;
    }
    fclose(f);
    return out;
}
