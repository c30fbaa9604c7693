/* cmd-token-list.c - `borealis token list`: the API tokens and what each
 * may do (never the tokens themselves). */
#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/table.h"

static const struct bo_option options[] = {
    {.name = "json", .kind = BO_OPT_FLAG, .help = "print the tokens as JSON"},
    {.name = NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    if (api_call(ctx, "GET", "/api/v1/tokens", NULL, &answer, &err) < 0)
        return cli_fail_error(err, CLI_EXIT_API);
    if (api_expect(answer, "GET", "/api/v1/tokens", "tokens", JSON_ARRAY, &err) < 0) {
        json_decref(answer);
        return cli_fail_error(err, CLI_EXIT_API);
    }
    if (cli_flag(a, "json")) {
        job_ops_print_json(answer);
    } else {
        static const char *const headers[] = {"NAME", "ROLES", "READ-ALL", "ADMIN"};
        _cleanup_table_ struct table *t = table_new(BO_ARRAY_SIZE(headers), headers);
        json_t *tok, *role;
        size_t i, k;
        json_array_foreach(json_object_get(answer, "tokens"), i, tok)
        {
            _cleanup_free_ char *roles = bo_xstrdup("");
            json_array_foreach(json_object_get(tok, "roles"), k, role)
            {
                char *more = bo_xasprintf("%s%s%s", roles, k ? "," : "", json_string_value(role));
                free(roles);
                roles = more;
            }
            const char *row[] = {json_string_value(json_object_get(tok, "name")), *roles ? roles : "-",
                                 json_is_true(json_object_get(tok, "read_all")) ? "yes" : "no",
                                 json_is_true(json_object_get(tok, "admin")) ? "yes" : "no"};
            table_add_row(t, row);
        }
        table_print(t, stdout);
    }
    json_decref(answer);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_token_list_entry = {
    .group = "token",
    .name = "list",
    .args = "",
    .summary = "list the API tokens (admin only)",
    .help = "Lists every API token by name with its roles and permissions. The tokens themselves are "
            "not shown: the scheduler keeps only their hashes.",
    .examples = "borealis token list",
    .options = options,
    .min_args = 0,
    .max_args = 0,
    .run = run,
};
