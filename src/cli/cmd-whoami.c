/* cmd-whoami.c - `borealis whoami`: the token the CLI uses and what it
 * may do. */
#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    if (api_call(ctx, "GET", "/api/v1/whoami", NULL, &answer, &err) < 0)
        return cli_fail_error(err, CLI_EXIT_API);
    job_ops_print_json(answer);
    json_decref(answer);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_whoami_entry = {
    .name = "whoami",
    .args = "",
    .summary = "show the API token in use and its permissions",
    .help = "Prints, as JSON, the name of the token the CLI sends (from $" CLI_TOKEN_ENV ", $" CLI_TOKEN_FILE_ENV
            " or ~/.config/borealis/credentials) and its roles and permissions.",
    .examples = "borealis whoami",
    .min_args = 0,
    .max_args = 0,
    .run = run,
};
