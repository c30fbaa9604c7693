/* cmd-token-revoke.c - `borealis token revoke NAME`. */
#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *name = api_escape(a->pos[0]);
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/tokens/%s", name);
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    if (api_call(ctx, "DELETE", path, NULL, &answer, &err) < 0)
        return cli_fail_error(err, CLI_EXIT_API);
    json_decref(answer);
    printf("Token %s revoked\n", a->pos[0]);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_token_revoke_entry = {
    .group = "token",
    .name = "revoke",
    .args = "NAME",
    .summary = "revoke an API token (admin only)",
    .help = "Deletes the API token NAME: the next request that carries it is refused (401).",
    .examples = "borealis token revoke ci",
    .min_args = 1,
    .max_args = 1,
    .run = run,
};
