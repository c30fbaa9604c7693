/* cmd-task-list.c - `borealis task list`: tasks across jobs, filtered by
 * job and state. */
#include <string.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/table.h"
#include "model/task_state.h"

#define STATES_MAX_TEXT 512

static const struct bo_option options[] = {
    {.name = "job", .kind = BO_OPT_STRING, .arg = "KEY",
     .help = "only tasks of this job"},
    {.name = "state", .kind = BO_OPT_STRING, .arg = "S,...",
     .help = "only tasks in these states (e.g. RUNNING,PENDING)"},
    {.name = "json", .kind = BO_OPT_FLAG,
     .help = "print the scheduler's JSON answer"},
    {.name = NULL},
};

/* Every item of the comma list must be a task state name. */
static int check_states(const char *s)
{
    if (strlen(s) > STATES_MAX_TEXT)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--state is longer than %d characters",
                        STATES_MAX_TEXT);
    _cleanup_free_ char *copy = bo_xstrdup(s);
    char *save = NULL;
    int n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++) {
        enum task_state st;
        if (task_state_from_name(tok, &st) < 0)
            return cli_fail(CLI_EXIT_INVALID_PARAMETER,
                            "--state: `%s` is not a task state (PENDING, RUNNING, FAILED, ...)",
                            tok);
    }
    if (n == 0)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--state needs at least one state");
    return CLI_EXIT_OK;
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *job = cli_value(a, "job"), *states = cli_value(a, "state");
    _cleanup_free_ char *key = NULL, *q_job = NULL, *q_state = NULL;
    int r;
    if (job && (r = job_ops_check_key(job, &key)) != CLI_EXIT_OK)
        return r;
    if (states && (r = check_states(states)) != CLI_EXIT_OK)
        return r;
    _cleanup_free_ char *query = key ? bo_xasprintf("job=%s", (q_job = api_escape(key))) : NULL;
    if (states) {
        q_state = api_escape(states);
        char *q = bo_xasprintf("%s%sstate=%s", query ? query : "", query ? "&" : "", q_state);
        free(query);
        query = q;
    }
    _cleanup_free_ char *path =
        bo_xasprintf("/api/v1/tasks%s%s", query ? "?" : "", query ? query : "");
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    if (api_get_all(ctx, path, "tasks", &answer, &err) < 0) {
        if (err->kind == BO_E_NOTFOUND && key)
            return cli_fail(CLI_EXIT_API, "job %s not found", key);
        return cli_fail_error(err, CLI_EXIT_API);
    }
    if (api_expect(answer, "GET", "/api/v1/tasks", "tasks", JSON_ARRAY, &err) < 0) {
        json_decref(answer);
        return cli_fail_error(err, CLI_EXIT_API);
    }
    json_t *tasks = json_object_get(answer, "tasks");
    if (cli_flag(a, "json")) {
        job_ops_print_json(answer);
    } else if (json_array_size(tasks) == 0) {
        printf("No tasks\n");
    } else {
        static const char *const headers[] = {"TASK", "JOB", "INSTANCE", "STATE", "HOST",
                                              "PORTS"};
        _cleanup_table_ struct table *t = table_new(BO_ARRAY_SIZE(headers), headers);
        table_set_align(t, 2, TABLE_RIGHT);
        size_t i;
        json_t *task;
        json_array_foreach(tasks, i, task)
        {
            char inst[24];
            snprintf(inst, sizeof(inst), "%lld",
                     (long long)json_integer_value(json_object_get(task, "instance")));
            _cleanup_free_ char *ports = job_ops_ports_text(json_object_get(task, "ports"));
            const char *row[] = {json_string_value(json_object_get(task, "id")),
                                 json_string_value(json_object_get(task, "job")),
                                 inst,
                                 json_string_value(json_object_get(task, "state")),
                                 json_string_value(json_object_get(task, "host")),
                                 ports};
            table_add_row(t, row);
        }
        table_print(t, stdout);
    }
    json_decref(answer);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_task_list_entry = {
    .group = "task",
    .name = "list",
    .args = "",
    .summary = "list tasks, by job and state",
    .help = "Lists the tasks the scheduler holds (live ones and recently ended ones), "
            "optionally only those of one job and/or in some states.",
    .examples = "borealis task list --job local/www-data/devel/hello\n"
                "borealis task list --state PENDING,THROTTLED",
    .options = options,
    .min_args = 0,
    .max_args = 0,
    .run = run,
};
