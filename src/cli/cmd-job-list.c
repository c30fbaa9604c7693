/* cmd-job-list.c - `borealis job list [PATTERN]`: jobs whose key matches a
 * glob, with task counts. */
#include <fnmatch.h>
#include <string.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/table.h"

#define PATTERN_MAX 1024

static const struct bo_option options[] = {
    {.name = "json", .kind = BO_OPT_FLAG,
     .help = "print the matching job summaries as JSON"},
    {.name = NULL},
};

static json_int_t count(json_t *counts, const char *state)
{
    return json_integer_value(json_object_get(counts, state));
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *pattern = a->n_pos ? a->pos[0] : "*";
    if (strlen(pattern) > PATTERN_MAX)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "PATTERN is longer than %d characters",
                        PATTERN_MAX);
    _cleanup_error_ bo_error_t err = NULL;
    json_t *answer = NULL;
    if (api_get_all(ctx, "/api/v1/jobs", "jobs", &answer, &err) < 0)
        return cli_fail_error(err, CLI_EXIT_API);
    if (api_expect(answer, "GET", "/api/v1/jobs", "jobs", JSON_ARRAY, &err) < 0) {
        json_decref(answer);
        return cli_fail_error(err, CLI_EXIT_API);
    }

    json_t *matched = json_array(), *job;
    size_t i;
    json_array_foreach(json_object_get(answer, "jobs"), i, job)
    {
        const char *key = json_string_value(json_object_get(job, "key"));
        if (key && fnmatch(pattern, key, 0) == 0)
            json_array_append(matched, job);
    }
    if (cli_flag(a, "json")) {
        json_t *out = json_pack("{s:O}", "jobs", matched);
        job_ops_print_json(out);
        json_decref(out);
    } else if (json_array_size(matched) == 0) {
        if (a->n_pos)
            printf("No jobs match %s\n", pattern);
        else
            printf("No jobs\n");
    } else {
        static const char *const headers[] = {"JOB",     "STATE",   "INSTANCES", "RUNNING",
                                              "PENDING", "FAILED", "OTHER"};
        _cleanup_table_ struct table *t = table_new(BO_ARRAY_SIZE(headers), headers);
        for (size_t c = 2; c < BO_ARRAY_SIZE(headers); c++)
            table_set_align(t, c, TABLE_RIGHT);
        json_array_foreach(matched, i, job)
        {
            json_t *counts = json_object_get(job, "task_counts");
            json_int_t running = count(counts, "RUNNING"), pending = count(counts, "PENDING");
            json_int_t failed = json_integer_value(json_object_get(job, "failed_instances"));
            json_int_t other = 0;
            const char *state;
            json_t *v;
            json_object_foreach(counts, state, v) other += json_integer_value(v);
            other -= running + pending + failed;
            char n[24], r[24], p[24], f[24], o[24];
            snprintf(n, sizeof(n), "%lld",
                     (long long)json_integer_value(json_object_get(job, "instances")));
            snprintf(r, sizeof(r), "%lld", (long long)running);
            snprintf(p, sizeof(p), "%lld", (long long)pending);
            snprintf(f, sizeof(f), "%lld", (long long)failed);
            snprintf(o, sizeof(o), "%lld", (long long)other);
            const char *row[] = {json_string_value(json_object_get(job, "key")),
                                 json_string_value(json_object_get(job, "state")), n, r, p, f, o};
            table_add_row(t, row);
        }
        table_print(t, stdout);
    }
    json_decref(matched);
    json_decref(answer);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_job_list_entry = {
    .group = "job",
    .name = "list",
    .args = "[PATTERN]",
    .summary = "list jobs whose key matches a glob",
    .help = "Lists the jobs the scheduler knows (active ones and recently ended ones), with "
            "their state (active, finished, failed or killed), instance count and how many "
            "instances are running, pending, failed or in another state. PATTERN is a shell glob on "
            "the job key (default `*`); quote it so the shell does not expand it.",
    .examples = "borealis job list\n"
                "borealis job list 'local/www-data/*'",
    .options = options,
    .min_args = 0,
    .max_args = 1,
    .run = run,
};
