/* cmd-agent-revoke.c - `borealis agent revoke ID`: the agent's certificate
 * is refused from now on and its tasks are rescheduled elsewhere. */
#include <string.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *id = a->pos[0];
    if (strlen(id) > 256)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "agent id is longer than 256 characters");
    _cleanup_free_ char *esc = api_escape(id);
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/agents/%s/revoke", esc);
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL, *body = json_object();
    int r = api_call(ctx, "POST", path, body, &answer, &err);
    json_decref(body);
    if (r < 0)
        return cli_fail_error(err, CLI_EXIT_API);
    json_decref(answer);
    printf("agent %s revoked: its certificate is refused and its tasks are rescheduled\n", id);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_agent_revoke_entry = {
    .group = "agent",
    .name = "revoke",
    .args = "ID",
    .summary = "revoke an agent: its certificate is refused from now on",
    .help = "Revokes the agent with id ID (see GET /api/v1/agents): the scheduler refuses its certificate "
            "from now on (also after a restart: DATA/tls/revoked-agents), marks it down and reschedules its "
            "tasks. The machine must join again under a new id to come back.",
    .examples = "borealis agent revoke 0f8e3c52-6a51-4d5e-9a57-3c1b0f7e4a21",
    .min_args = 1,
    .max_args = 1,
    .run = run,
};
