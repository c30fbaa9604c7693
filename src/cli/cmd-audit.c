/* cmd-audit.c - `borealis audit`: the newest records of the audit log. */
#include <inttypes.h>
#include <string.h>

#include "base/timefmt.h"
#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/table.h"

static const struct bo_option options[] = {
    {.name = "job", .kind = BO_OPT_STRING, .arg = "KEY", .help = "only the records of this job"},
    {.name = "limit", .kind = BO_OPT_INT, .arg = "N", .def = "100", .min = 1, .max = 1000,
     .help = "the newest N records"},
    {.name = "json", .kind = BO_OPT_FLAG, .help = "print the records as JSON"},
    {.name = NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *job = cli_value(a, "job");
    _cleanup_free_ char *ejob = job ? api_escape(job) : NULL;
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/audit?limit=%" PRId64 "%s%s", cli_typed(a, "limit").i,
                                             ejob ? "&job=" : "", ejob ? ejob : "");
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    if (api_call(ctx, "GET", path, NULL, &answer, &err) < 0)
        return cli_fail_error(err, CLI_EXIT_API);
    if (api_expect(answer, "GET", "/api/v1/audit", "entries", JSON_ARRAY, &err) < 0) {
        json_decref(answer);
        return cli_fail_error(err, CLI_EXIT_API);
    }
    if (cli_flag(a, "json")) {
        job_ops_print_json(answer);
    } else {
        static const char *const headers[] = {"TIME", "PRINCIPAL", "ACTION", "STATUS", "JOB / DETAIL"};
        _cleanup_table_ struct table *t = table_new(BO_ARRAY_SIZE(headers), headers);
        json_t *e;
        size_t i;
        json_array_foreach(json_object_get(answer, "entries"), i, e)
        {
            char when[64], status[16];
            bo_format_time(json_integer_value(json_object_get(e, "time_ms")), when, sizeof(when));
            snprintf(status, sizeof(status), "%lld", (long long)json_integer_value(json_object_get(e, "status")));
            const char *principal = json_string_value(json_object_get(e, "principal"));
            const char *what = json_string_value(json_object_get(e, "job"));
            if (!what)
                what = json_string_value(json_object_get(e, "detail"));
            const char *row[] = {when, principal ? principal : "-",
                                 json_string_value(json_object_get(e, "action")), status, what ? what : "-"};
            table_add_row(t, row);
        }
        table_print(t, stdout);
    }
    json_decref(answer);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_audit_entry = {
    .name = "audit",
    .args = "",
    .summary = "show the audit log: who changed what, when (admin only)",
    .help = "Prints the newest records of the scheduler's audit log, oldest first: every write through "
            "the API (job create and kill, token create and revoke) with the token that made it, the time, "
            "the action and the job, and every write refused for a missing permission (403).",
    .examples = "borealis audit\n"
                "borealis audit --job local/www-data/devel/hello",
    .options = options,
    .min_args = 0,
    .max_args = 0,
    .run = run,
};
