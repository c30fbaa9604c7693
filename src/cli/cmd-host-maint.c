/* cmd-host-maint.c - `borealis host deactivate|drain|activate|status
 * HOST...`: maintenance of machines (Aurora's host_* commands). */
#include <string.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/table.h"

#define HOSTS_MAX 1000

static const struct bo_option options[] = {
    {.name = "json", .kind = BO_OPT_FLAG, .help = "print the answer as JSON"},
    {.name = NULL},
};

static void print_hosts(json_t *hosts)
{
    static const char *const headers[] = {"HOST", "MAINTENANCE", "STATE", "TASKS", "ID"};
    _cleanup_table_ struct table *t = table_new(BO_ARRAY_SIZE(headers), headers);
    json_t *h;
    size_t i;
    json_array_foreach(hosts, i, h)
    {
        char n[24] = "";
        if (json_object_get(h, "tasks"))
            snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(json_object_get(h, "tasks")));
        const char *row[] = {json_string_value(json_object_get(h, "hostname")),
                             json_string_value(json_object_get(h, "maintenance")),
                             json_string_value(json_object_get(h, "state")), n,
                             json_string_value(json_object_get(h, "id"))};
        table_add_row(t, row);
    }
    table_print(t, stdout);
}

static int change(struct cli_ctx *ctx, const struct cli_args *a, const char *action)
{
    if (a->n_pos > HOSTS_MAX)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "at most %d hosts at once", HOSTS_MAX);
    json_t *hosts = json_array();
    for (size_t i = 0; i < a->n_pos; i++)
        json_array_append_new(hosts, json_string(a->pos[i]));
    json_t *body = json_pack("{s:s, s:o}", "action", action, "hosts", hosts);
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    int r = api_call(ctx, "POST", "/api/v1/hosts/maintenance", body, &answer, &err);
    json_decref(body);
    if (r < 0)
        return cli_fail_error(err, err->kind == BO_E_NOTFOUND ? CLI_EXIT_INVALID_PARAMETER : CLI_EXIT_API);
    if (api_expect(answer, "POST", "/api/v1/hosts/maintenance", "hosts", JSON_ARRAY, &err) < 0) {
        json_decref(answer);
        return cli_fail_error(err, CLI_EXIT_API);
    }
    if (cli_flag(a, "json"))
        job_ops_print_json(answer);
    else
        print_hosts(json_object_get(answer, "hosts"));
    json_decref(answer);
    return CLI_EXIT_OK;
}

static int run_deactivate(struct cli_ctx *ctx, const struct cli_args *a) { return change(ctx, a, "deactivate"); }
static int run_drain(struct cli_ctx *ctx, const struct cli_args *a) { return change(ctx, a, "drain"); }
static int run_activate(struct cli_ctx *ctx, const struct cli_args *a) { return change(ctx, a, "activate"); }

static int run_status(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    if (api_call(ctx, "GET", "/api/v1/agents", NULL, &answer, &err) < 0)
        return cli_fail_error(err, CLI_EXIT_API);
    if (api_expect(answer, "GET", "/api/v1/agents", "agents", JSON_ARRAY, &err) < 0) {
        json_decref(answer);
        return cli_fail_error(err, CLI_EXIT_API);
    }
    json_t *picked = json_array(), *ag;
    size_t i;
    for (size_t k = 0; k < a->n_pos; k++) {
        bool found = false;
        json_array_foreach(json_object_get(answer, "agents"), i, ag)
        {
            const char *h = json_string_value(json_object_get(ag, "hostname")),
                       *id = json_string_value(json_object_get(ag, "id"));
            if ((h && strcmp(h, a->pos[k]) == 0) || (id && strcmp(id, a->pos[k]) == 0)) {
                json_array_append(picked, ag);
                found = true;
            }
        }
        if (!found) {
            json_decref(picked);
            json_decref(answer);
            return cli_fail(CLI_EXIT_INVALID_PARAMETER, "host `%s` is not an agent the scheduler knows", a->pos[k]);
        }
    }
    if (cli_flag(a, "json")) {
        json_t *out = json_pack("{s:O}", "hosts", picked);
        job_ops_print_json(out);
        json_decref(out);
    } else {
        print_hosts(picked);
    }
    json_decref(picked);
    json_decref(answer);
    return CLI_EXIT_OK;
}

#define MAINT_HELP                                                                                              \
    " HOST is a host name or an agent id. Maintenance states: NONE; SCHEDULED (deactivated: no new tasks); "  \
    "DRAINING (its tasks are killed and rescheduled on other hosts, without a flapping penalty); DRAINED (no " \
    "task left). A pending task that only a host in maintenance could run says MAINTENANCE."

const struct cli_command cmd_host_deactivate_entry = {
    .group = "host", .name = "deactivate", .args = "HOST...",
    .summary = "give hosts no new tasks (maintenance SCHEDULED)",
    .help = "Puts each host in maintenance state SCHEDULED: no new task is placed on it; its tasks keep "
            "running. A host already draining or drained stays so." MAINT_HELP,
    .examples = "borealis host deactivate h1 h2", .options = options, .min_args = 1, .max_args = HOSTS_MAX,
    .run = run_deactivate,
};

const struct cli_command cmd_host_drain_entry = {
    .group = "host", .name = "drain", .args = "HOST...",
    .summary = "move every task off hosts (maintenance DRAINING, then DRAINED)",
    .help = "Puts each host in maintenance state DRAINING: its tasks are killed and run again on other "
            "hosts; once none is left the host is DRAINED." MAINT_HELP,
    .examples = "borealis host drain h1", .options = options, .min_args = 1, .max_args = HOSTS_MAX,
    .run = run_drain,
};

const struct cli_command cmd_host_activate_entry = {
    .group = "host", .name = "activate", .args = "HOST...",
    .summary = "end maintenance of hosts (NONE)",
    .help = "Returns each host to maintenance state NONE: it takes new tasks again." MAINT_HELP,
    .examples = "borealis host activate h1", .options = options, .min_args = 1, .max_args = HOSTS_MAX,
    .run = run_activate,
};

const struct cli_command cmd_host_status_entry = {
    .group = "host", .name = "status", .args = "HOST...",
    .summary = "show the maintenance state of hosts",
    .help = "Shows each host's maintenance state, agent state and task count." MAINT_HELP,
    .examples = "borealis host status h1 h2", .options = options, .min_args = 1, .max_args = HOSTS_MAX,
    .run = run_status,
};
