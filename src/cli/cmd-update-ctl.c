/* cmd-update-ctl.c - `borealis update pause|resume|abort|rollback|pulse KEY`:
 * commands on a job's active update; `update pulse KEY` keeps an update
 * that needs pulses going. */
#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/update_ops.h"

static const struct bo_option options[] = {
    {.name = "message", .kind = BO_OPT_STRING, .arg = "TEXT", .help = "why: kept in the update's history"},
    {.name = NULL},
};

static int command(struct cli_ctx *ctx, const struct cli_args *a, const char *verb, const char *done)
{
    _cleanup_free_ char *key = NULL;
    int r = job_ops_check_key(a->pos[0], &key);
    if (r != CLI_EXIT_OK)
        return r;
    json_t *body = json_object(), *answer = NULL;
    const char *message = cli_value(a, "message");
    if (message)
        json_object_set_new(body, "message", json_string(message));
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/jobs/%s/update/%s", key, verb);
    _cleanup_error_ bo_error_t err = NULL;
    r = api_call(ctx, "POST", path, body, &answer, &err);
    json_decref(body);
    if (r < 0)
        return update_ops_fail(err, key);
    json_t *u = json_object_get(answer, "update");
    printf("Update %s of job %s %s: now %s\n", json_string_value(json_object_get(u, "id")) ?: "?", key, done,
           json_string_value(json_object_get(u, "status")) ?: "?");
    json_decref(answer);
    return CLI_EXIT_OK;
}

static int run_pause(struct cli_ctx *ctx, const struct cli_args *a) { return command(ctx, a, "pause", "paused"); }
static int run_resume(struct cli_ctx *ctx, const struct cli_args *a) { return command(ctx, a, "resume", "resumed"); }
static int run_abort(struct cli_ctx *ctx, const struct cli_args *a) { return command(ctx, a, "abort", "aborted"); }
static int run_pulse(struct cli_ctx *ctx, const struct cli_args *a) { return command(ctx, a, "pulse", "pulsed"); }
static int run_rollback(struct cli_ctx *ctx, const struct cli_args *a)
{
    return command(ctx, a, "rollback", "rolling back");
}

#define UPDATE_CTL(verb, text, past, more)                                                                      \
    {                                                                                                           \
        .group = "update", .name = #verb, .args = "KEY", .summary = text " the active update of a job",        \
        .help = "Tells the scheduler to " text " the active update of job KEY. " more " Exits 4 when the job "  \
                "has no active update or its update cannot be " past " in its state.",                          \
        .examples = "borealis update " #verb " local/www-data/prod/web --message 'looks wrong'",               \
        .options = options, .min_args = 1, .max_args = 1, .run = run_##verb,                                    \
    }

const struct cli_command cmd_update_pause_entry = UPDATE_CTL(
    pause, "pause", "paused", "Instances in flight finish their step; no new one starts until `update resume`.");
const struct cli_command cmd_update_resume_entry =
    UPDATE_CTL(resume, "resume", "resumed", "A paused update goes on in the direction it was going.");
const struct cli_command cmd_update_abort_entry =
    UPDATE_CTL(abort, "abort", "aborted",
               "The update ends ABORTED: instances stay as they are (an instance whose old task was being killed "
               "stays without a task; a new update brings it back).");
const struct cli_command cmd_update_rollback_entry =
    UPDATE_CTL(rollback, "roll back", "rolled back",
               "Every instance the update touched goes back to the old config, in reverse order.");
const struct cli_command cmd_update_pulse_entry =
    UPDATE_CTL(pulse, "pulse", "pulsed",
               "An update whose job sets update.pulse_interval_secs makes progress only while pulses come at least "
               "that often (an external check that all is well calls this); without them it waits "
               "ROLL_FORWARD_AWAITING_PULSE. It starts that way, waiting for the first pulse.");
