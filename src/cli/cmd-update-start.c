/* cmd-update-start.c - `borealis update start KEY FILE`: show what a new
 * config changes per instance, then start a scheduler-driven rolling
 * update to it (Aurora's `update start`). */
#include <string.h>

#include "base/clock.h"
#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/image_common.h"
#include "cli/instances.h"
#include "cli/job_ops.h"
#include "cli/update_ops.h"

static const struct bo_option options[] = {
    {.name = "bind", .kind = BO_OPT_STRING, .arg = "NAME=VALUE", .repeat = true,
     .help = "set template variable {{NAME}} (overrides the file's vars:)"},
    {.name = "message", .kind = BO_OPT_STRING, .arg = "TEXT", .help = "why: kept in the update's history"},
    {.name = "wait", .kind = BO_OPT_FLAG, .help = "wait until the update ends (exit 0 only if it rolled forward)"},
    {.name = "wait-timeout", .kind = BO_OPT_DURATION, .def = "1h", .min = 1000, .max = 7 * 24 * 3600 * 1000.0,
     .help = "with --wait, give up after this long"},
    IMAGE_OPTS_REGISTRY,
    {.name = NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    size_t n_binds;
    const char *const *binds = cli_values(a, "bind", &n_binds);
    const char *message = cli_value(a, "message");
    if (cli_given(a, "wait-timeout") && !cli_flag(a, "wait"))
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--wait-timeout needs --wait");
    /* KEY/0-1: only these instances (canaries). */
    _cleanup_free_ char *key_text = NULL, *inst_text = NULL;
    instances_split_key(a->pos[0], &key_text, &inst_text);
    _cleanup_free_ int64_t *inst = NULL;
    size_t n_inst = 0;
    if (inst_text) {
        _cleanup_error_ bo_error_t perr = NULL;
        if (instances_parse(inst_text, &inst, &n_inst, &perr) < 0)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "%s", perr->msg);
    }
    struct job_config *cfg = NULL;
    int r = job_ops_load(key_text, a->pos[1], binds, n_binds, &key, &cfg);
    if (r != CLI_EXIT_OK)
        return r;
    json_t *config = job_config_to_json(cfg);
    job_config_unref(cfg);
    struct registry_opts ro;
    image_cli_registry_opts(a, &ro);
    r = job_ops_resolve_image(config, key, &ro);
    if (r != CLI_EXIT_OK) {
        json_decref(config);
        return r;
    }
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/jobs/%s/updates", key);
    _cleanup_error_ bo_error_t err = NULL;
    /* First what it would do, shown before anything changes. */
    json_t *scope = NULL;
    if (inst) {
        scope = json_array();
        for (size_t i = 0; i < n_inst; i++)
            json_array_append_new(scope, json_integer(inst[i]));
    }
    json_t *dry = json_pack("{s:O, s:b}", "config", config, "dry_run", true), *answer = NULL;
    if (scope)
        json_object_set(dry, "instances", scope);
    r = api_call(ctx, "POST", path, dry, &answer, &err);
    json_decref(dry);
    if (r < 0) {
        json_decref(config);
        json_decref(scope);
        if (err->kind == BO_E_INVALID)
            return cli_fail(CLI_EXIT_INVALID_CONFIG, "scheduler refused the config of job %s: %s", key, err->msg);
        return update_ops_fail(err, key);
    }
    json_t *plan = json_object_get(answer, "plan");
    bool changes = json_array_size(json_object_get(plan, "add")) || json_array_size(json_object_get(plan, "kill")) ||
                   json_array_size(json_object_get(plan, "replace"));
    if (!changes) {
        printf("Job %s is unchanged%s\n", key, inst ? " in these instances" : "");
        json_decref(answer);
        json_decref(config);
        json_decref(scope);
        return CLI_EXIT_OK;
    }
    printf("Update of job %s:\n", key);
    update_ops_print_plan(plan);
    json_decref(answer);
    /* The request id makes a retry of this very request harmless; the
     * scheduler also answers a second request for the config an active
     * update is already rolling out with that update. */
    char rid[37];
    bo_uuid4(rid);
    json_t *body = json_pack("{s:o, s:s}", "config", config, "request_id", rid);
    if (scope)
        json_object_set_new(body, "instances", scope);
    if (message)
        json_object_set_new(body, "message", json_string(message));
    answer = NULL;
    r = api_call(ctx, "POST", path, body, &answer, &err);
    json_decref(body);
    if (r < 0)
        return update_ops_fail(err, key);
    json_t *u = json_object_get(answer, "update");
    if (json_is_true(json_object_get(answer, "unchanged")) || !json_is_object(u)) {
        printf("Job %s is unchanged\n", key);
        json_decref(answer);
        return CLI_EXIT_OK;
    }
    _cleanup_free_ char *id = bo_xstrdup(json_string_value(json_object_get(u, "id")) ?: "");
    if (json_is_true(json_object_get(answer, "existing")))
        printf("Update %s is already rolling this config out (%s)\n", id,
               json_string_value(json_object_get(u, "status")) ?: "?");
    else
        printf("Started update %s of job %s\n", id, key);
    json_decref(answer);
    fflush(stdout);
    if (!cli_flag(a, "wait"))
        return CLI_EXIT_OK;
    return update_ops_wait(ctx, key, id, cli_typed(a, "wait-timeout").i);
}

const struct cli_command cmd_update_start_entry = {
    .group = "update",
    .name = "start",
    .args = "KEY[/INSTANCES] FILE",
    .summary = "roll a new config of a job out, instance by instance",
    .help = "Loads job KEY from FILE and prints what changes per instance (add, kill, replace, unchanged), then "
            "starts a rolling update run by the scheduler; with /INSTANCES (`0-1`, `0,3,5-7`) only those "
            "instances change (canaries: update the rest with a second `update start` once they are good). It runs "
            "batch_size instances at a time, each watched until it "
            "has stayed RUNNING for watch_secs; too many failures roll every touched instance back to the old "
            "config, in reverse order (the job file's `update:` settings; docs/jobs.md \"Updates\"). Prints `Job "
            "KEY is unchanged` and exits 0 when nothing would change. Running the same command again while the "
            "update runs answers with that update instead of starting another. With --wait, exits 0 once the "
            "update ROLLED_FORWARD and 4 when it ended otherwise (rolled back, aborted, failed). Exits 4 when "
            "the job already has an active update.",
    .examples = "borealis update start local/www-data/prod/web/0-1 web.yaml --message 'v2 canaries' --wait\n"
                "borealis update start local/www-data/prod/web web.yaml --message 'v2' --wait",
    .options = options,
    .min_args = 2,
    .max_args = 2,
    .run = run,
};
