/* cmd-update-info.c - `borealis update info|list|wait KEY`: a job's
 * updates, one in detail with its instance events, or waiting for the
 * active one to end. */
#include <string.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/update_ops.h"

static const struct bo_option info_options[] = {
    {.name = "id", .kind = BO_OPT_STRING, .arg = "ID", .help = "this update (default: the active one, else the newest)"},
    {.name = "json", .kind = BO_OPT_FLAG, .help = "print the answer as JSON"},
    {.name = NULL},
};

static const struct bo_option list_options[] = {
    {.name = "json", .kind = BO_OPT_FLAG, .help = "print the answer as JSON"},
    {.name = NULL},
};

static const struct bo_option wait_options[] = {
    {.name = "wait-timeout", .kind = BO_OPT_DURATION, .def = "1h", .min = 1000, .max = 7 * 24 * 3600 * 1000.0,
     .help = "give up after this long"},
    {.name = NULL},
};

/* GET the update `id` ("latest": active, else newest) of job `key`. */
static int get_update(const struct cli_ctx *ctx, const char *key, const char *id, json_t **ret)
{
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/jobs/%s/updates/%s", key, id);
    _cleanup_error_ bo_error_t err = NULL;
    if (api_call(ctx, "GET", path, NULL, ret, &err) < 0)
        return update_ops_fail(err, key);
    if (api_expect(*ret, "GET", path, "update", JSON_OBJECT, &err) < 0) {
        json_decref(*ret);
        return cli_fail_error(err, CLI_EXIT_API);
    }
    return CLI_EXIT_OK;
}

static int check_id(const char *id)
{
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--id `%.80s` is not an update id (`borealis update list` "
                            "shows them)", id);
    if (!*id || strlen(id) > 64)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--id `%.80s` is not an update id", id);
    return CLI_EXIT_OK;
}

static int run_info(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    int r = job_ops_check_key(a->pos[0], &key);
    const char *id = cli_value(a, "id");
    if (r == CLI_EXIT_OK && id)
        r = check_id(id);
    if (r != CLI_EXIT_OK)
        return r;
    json_t *answer = NULL;
    r = get_update(ctx, key, id ? id : "latest", &answer);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_flag(a, "json"))
        job_ops_print_json(answer);
    else
        update_ops_print(json_object_get(answer, "update"), true);
    json_decref(answer);
    return CLI_EXIT_OK;
}

static int run_list(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    int r = job_ops_check_key(a->pos[0], &key);
    if (r != CLI_EXIT_OK)
        return r;
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/jobs/%s/updates", key);
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    if (api_call(ctx, "GET", path, NULL, &answer, &err) < 0)
        return update_ops_fail(err, key);
    if (api_expect(answer, "GET", path, "updates", JSON_ARRAY, &err) < 0) {
        json_decref(answer);
        return cli_fail_error(err, CLI_EXIT_API);
    }
    if (cli_flag(a, "json")) {
        job_ops_print_json(answer);
    } else {
        json_t *u;
        size_t i;
        if (!json_array_size(json_object_get(answer, "updates")))
            printf("Job %s has had no update\n", key);
        json_array_foreach(json_object_get(answer, "updates"), i, u) update_ops_print(u, false);
    }
    json_decref(answer);
    return CLI_EXIT_OK;
}

static int run_wait(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    int r = job_ops_check_key(a->pos[0], &key);
    if (r != CLI_EXIT_OK)
        return r;
    json_t *answer = NULL;
    r = get_update(ctx, key, "latest", &answer);
    if (r != CLI_EXIT_OK)
        return r;
    _cleanup_free_ char *id =
        bo_xstrdup(json_string_value(json_object_get(json_object_get(answer, "update"), "id")) ?: "");
    json_decref(answer);
    return update_ops_wait(ctx, key, id, cli_typed(a, "wait-timeout").i);
}

const struct cli_command cmd_update_info_entry = {
    .group = "update",
    .name = "info",
    .args = "KEY",
    .summary = "show an update of a job with its history",
    .help = "Shows the active update of job KEY (else its newest one, or the one --id names): its status, who "
            "started it and why, its settings, what it changes per instance, and every event: status changes "
            "with who made them, and each instance's steps (INSTANCE_UPDATING, INSTANCE_UPDATED, "
            "INSTANCE_FAILURE, INSTANCE_UPDATE_FAILED, INSTANCE_ROLLING_BACK, INSTANCE_ROLLED_BACK).",
    .examples = "borealis update info local/www-data/prod/web",
    .options = info_options,
    .min_args = 1,
    .max_args = 1,
    .run = run_info,
};

const struct cli_command cmd_update_list_entry = {
    .group = "update",
    .name = "list",
    .args = "KEY",
    .summary = "list the updates of a job, newest first",
    .help = "Lists the updates of job KEY the scheduler keeps (the last 10 and the active one), newest first.",
    .examples = "borealis update list local/www-data/prod/web",
    .options = list_options,
    .min_args = 1,
    .max_args = 1,
    .run = run_list,
};

const struct cli_command cmd_update_wait_entry = {
    .group = "update",
    .name = "wait",
    .args = "KEY",
    .summary = "wait for the update of a job to end",
    .help = "Waits until the active (else newest) update of job KEY ends: exits 0 when it ROLLED_FORWARD, 4 when "
            "it ended otherwise (ROLLED_BACK, ABORTED, FAILED, ERROR), 9 on --wait-timeout.",
    .examples = "borealis update wait local/www-data/prod/web --wait-timeout 10m",
    .options = wait_options,
    .min_args = 1,
    .max_args = 1,
    .run = run_wait,
};
