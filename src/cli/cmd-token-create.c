/* cmd-token-create.c - `borealis token create NAME`: a new API token,
 * printed once (the scheduler keeps only its hash). */
#include <string.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"

static const struct bo_option options[] = {
    {.name = "role", .kind = BO_OPT_STRING, .arg = "ROLE", .repeat = true,
     .help = "a role whose jobs the token may create, kill and read (repeatable; `*`: every role)"},
    {.name = "read-all", .kind = BO_OPT_FLAG, .help = "the token may read every job and task (and write none)"},
    {.name = "admin", .kind = BO_OPT_FLAG,
     .help = "the token may do everything: every role, agents, tokens, the audit log"},
    {.name = "json", .kind = BO_OPT_FLAG, .help = "print the answer (token included) as JSON"},
    {.name = NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    size_t n = 0;
    const char *const *roles = cli_values(a, "role", &n);
    json_t *r = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(r, json_string(roles[i]));
    json_t *body = json_pack("{s:s, s:o, s:b, s:b}", "name", a->pos[0], "roles", r, "admin", cli_flag(a, "admin"),
                             "read_all", cli_flag(a, "read-all"));
    if (!body)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "NAME and --role must be UTF-8");
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    int rc = api_call(ctx, "POST", "/api/v1/tokens", body, &answer, &err);
    json_decref(body);
    if (rc < 0)
        return cli_fail_error(err, err->kind == BO_E_INVALID ? CLI_EXIT_INVALID_PARAMETER : CLI_EXIT_API);
    if (api_expect(answer, "POST", "/api/v1/tokens", "token", JSON_STRING, &err) < 0) {
        json_decref(answer);
        return cli_fail_error(err, CLI_EXIT_API);
    }
    if (cli_flag(a, "json"))
        job_ops_print_json(answer);
    else
        printf("%s\n", json_string_value(json_object_get(answer, "token")));
    fprintf(stderr, "Token %s created; it is shown only now. Keep it in a file of mode 0600 and point "
                    "$" CLI_TOKEN_FILE_ENV " at it.\n", a->pos[0]);
    json_decref(answer);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_token_create_entry = {
    .group = "token",
    .name = "create",
    .args = "NAME",
    .summary = "create an API token (admin only)",
    .help = "Creates the API token NAME with the permissions given and prints it on stdout, once: the "
            "scheduler stores only its SHA-256. A token without --role, --read-all or --admin may only "
            "read the cluster's name, the agents and /metrics.",
    .examples = "borealis token create ci --role www-data > ci.token && chmod 600 ci.token\n"
                "borealis token create dashboard --read-all",
    .options = options,
    .min_args = 1,
    .max_args = 1,
    .run = run,
};
