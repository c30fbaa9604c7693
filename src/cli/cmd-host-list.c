/* cmd-host-list.c - `borealis host list`: every agent the scheduler knows,
 * with its state, last contact, resources used and free, attributes and
 * task count. */
#include <string.h>

#include "base/clock.h"
#include "base/parse.h"
#include "base/timefmt.h"
#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/table.h"

static const struct bo_option options[] = {
    {.name = "json", .kind = BO_OPT_FLAG, .help = "print the agents as JSON"},
    {.name = NULL},
};

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* "1.5/4 cpu, 256MiB/4GiB": used/total. */
static void resources(json_t *agent, char *buf, size_t len)
{
    json_t *res = json_object_get(agent, "resources"), *used = json_object_get(agent, "used");
    char ur[32], tr[32];
    bo_format_size((uint64_t)num(used, "ram"), ur, sizeof(ur));
    bo_format_size((uint64_t)num(res, "ram"), tr, sizeof(tr));
    snprintf(buf, len, "%g/%g cpu, %s/%s ram", num(used, "cpu"), num(res, "cpu"), ur, tr);
}

static void free_text(json_t *agent, char *buf, size_t len)
{
    json_t *f = json_object_get(agent, "free");
    char r[32], d[32];
    bo_format_size((uint64_t)num(f, "ram"), r, sizeof(r));
    bo_format_size((uint64_t)num(f, "disk"), d, sizeof(d));
    snprintf(buf, len, "%g cpu, %s ram, %s disk, %lld ports", num(f, "cpu"), r, d,
             (long long)json_integer_value(json_object_get(f, "ports")));
}

static char *attributes(json_t *agent)
{
    char *out = bo_xstrdup("");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(agent, "attributes"), k, v)
    {
        char *m = bo_xasprintf("%s%s%s:%s", out, *out ? "," : "", k, json_is_string(v) ? json_string_value(v) : "?");
        free(out);
        out = m;
    }
    return out;
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    if (api_call(ctx, "GET", "/api/v1/agents", NULL, &answer, &err) < 0)
        return cli_fail_error(err, CLI_EXIT_API);
    if (api_expect(answer, "GET", "/api/v1/agents", "agents", JSON_ARRAY, &err) < 0) {
        json_decref(answer);
        return cli_fail_error(err, CLI_EXIT_API);
    }
    json_t *agents = json_object_get(answer, "agents");
    if (cli_flag(a, "json")) {
        job_ops_print_json(answer);
    } else if (json_array_size(agents) == 0) {
        printf("No agents\n");
    } else {
        static const char *const headers[] = {"HOST", "STATE", "LAST CONTACT", "TASKS", "USED", "FREE",
                                              "ATTRIBUTES", "ID"};
        _cleanup_table_ struct table *t = table_new(BO_ARRAY_SIZE(headers), headers);
        table_set_align(t, 3, TABLE_RIGHT);
        int64_t now = bo_wall_ms();
        json_t *ag;
        size_t i;
        json_array_foreach(agents, i, ag)
        {
            char ago[48], n[24], used[160], fr[192];
            int64_t seen = json_integer_value(json_object_get(ag, "last_seen_ms"));
            char d[32];
            bo_format_duration(now > seen ? now - seen : 0, d, sizeof(d));
            snprintf(ago, sizeof(ago), "%s ago", d);
            snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(json_object_get(ag, "tasks")));
            resources(ag, used, sizeof(used));
            free_text(ag, fr, sizeof(fr));
            _cleanup_free_ char *attrs = attributes(ag);
            const char *row[] = {json_string_value(json_object_get(ag, "hostname")),
                                 json_string_value(json_object_get(ag, "state")),
                                 seen ? ago : "never",
                                 n,
                                 used,
                                 fr,
                                 attrs,
                                 json_string_value(json_object_get(ag, "id"))};
            table_add_row(t, row);
        }
        table_print(t, stdout);
    }
    json_decref(answer);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_host_list_entry = {
    .group = "host",
    .name = "list",
    .args = "",
    .summary = "list the agents (machines) and their state",
    .help = "Lists every agent the scheduler knows: its state (up; unknown: not heard from since the "
            "scheduler started; lost: silent for --agent-timeout, its tasks rescheduled or PARTITIONED; "
            "down: shut down), how long ago it last synced, its task count, resources used (of its "
            "total) and free, and its attributes.",
    .examples = "borealis host list\n"
                "borealis host list --json",
    .options = options,
    .min_args = 0,
    .max_args = 0,
    .run = run,
};
