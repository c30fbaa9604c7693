/* cmd-job-inspect.c - `borealis job inspect KEY FILE`: the job as it would
 * be submitted (parsed, validated, templated); nothing is created. */
#include "base/parse.h"
#include "base/timefmt.h"
#include "cli/cli.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"

static const struct bo_option options[] = {
    {.name = "bind", .kind = BO_OPT_STRING, .arg = "NAME=VALUE", .repeat = true,
     .help = "set template variable {{NAME}} (overrides the file's vars:)"},
    {.name = "json", .kind = BO_OPT_FLAG,
     .help = "print the job JSON the scheduler would receive (protocol section 1)"},
    {.name = NULL},
};

/* What sets a process apart from a plain one (docs/jobs.md "Processes and
 * finalization"), on one line; nothing for a plain one. */
static void print_process_roles(const struct process_config *p)
{
    char dur[32];
    bo_format_duration(p->min_duration_ms, dur, sizeof(dur));
    const char *sep = "      ";
    if (p->final) {
        printf("%sfinal", sep);
        sep = ", ";
    }
    if (p->daemon) {
        printf("%sdaemon", sep);
        sep = ", ";
    }
    if (p->ephemeral) {
        printf("%sephemeral", sep);
        sep = ", ";
    }
    if (p->max_failures != 1) {
        printf("%smax_failures %lld", sep, (long long)p->max_failures);
        sep = ", ";
    }
    if (p->daemon || p->max_failures != 1) {
        printf("%smin_duration %s", sep, dur);
        sep = ", ";
    }
    for (size_t k = 0; k < p->n_after; k++) {
        printf("%s%s%s", k ? ", " : sep, k ? "" : "after ", p->after[k]);
        sep = ", ";
    }
    if (*sep == ',')
        printf("\n");
}

static void print_human(const struct job_config *c)
{
    _cleanup_free_ char *key = job_key_str(&c->key);
    const struct task_config *t = &c->task;
    char ram[32], disk[32];
    bo_format_size(t->ram, ram, sizeof(ram));
    bo_format_size(t->disk, disk, sizeof(disk));
    printf("Job %s\n", key);
    printf("  instances:          %lld\n", (long long)c->instances);
    printf("  service:            %s\n", c->service ? "yes" : "no");
    if (c->max_task_failures < 0)
        printf("  max task failures:  unlimited\n");
    else
        printf("  max task failures:  %lld\n", (long long)c->max_task_failures);
    printf("  priority:           %lld\n", (long long)c->priority);
    printf("Task (per instance)\n");
    printf("  resources:          cpu %g, ram %s, disk %s\n", t->cpu, ram, disk);
    printf("  ports:              ");
    for (size_t i = 0; i < t->n_ports; i++)
        printf("%s%s", i ? ", " : "", t->ports[i]);
    printf("%s\n", t->n_ports ? "" : "none");
    printf("  ordering:           %s\n",
           t->ordering == ORDERING_SEQUENTIAL ? "sequential" : "parallel");
    char grace[32];
    bo_format_duration(t->kill_grace_ms, grace, sizeof(grace));
    printf("  kill grace:         %s\n", grace);
    for (size_t i = 0; i < t->n_env; i++)
        printf("%s%s", i ? " " : "  env:                ", t->env[i]);
    if (t->n_env)
        printf("\n");
    printf("  processes:\n");
    for (size_t i = 0; i < t->n_processes; i++) {
        printf("    %s: %s\n", t->processes[i].name,
               *t->processes[i].cmdline ? t->processes[i].cmdline : "(the image's Entrypoint and Cmd)");
        print_process_roles(&t->processes[i]);
    }
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    _cleanup_free_ char *key = NULL;
    size_t n_binds;
    const char *const *binds = cli_values(a, "bind", &n_binds);
    struct job_config *cfg = NULL;
    int r = job_ops_load(a->pos[0], a->pos[1], binds, n_binds, &key, &cfg);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli_flag(a, "json")) {
        json_t *j = job_config_to_json(cfg);
        job_ops_print_json(j);
        json_decref(j);
    } else {
        print_human(cfg);
    }
    job_config_unref(cfg);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_job_inspect_entry = {
    .group = "job",
    .name = "inspect",
    .args = "KEY FILE",
    .summary = "show a job file's job as it would be created",
    .help = "Loads job KEY from FILE exactly as `job create` would (validation, defaults, "
            "template variables) and prints the result; nothing is sent to the scheduler. "
            "Runtime variables ({{instance}}, {{ports.NAME}}, ...) stay as written: the agent "
            "fills them in at launch.",
    .examples = "borealis job inspect local/www-data/devel/hello examples/hello.yaml\n"
                "borealis job inspect local/www-data/devel/hello examples/hello.yaml --json",
    .options = options,
    .min_args = 2,
    .max_args = 2,
    .offline = true,
    .run = run,
};
