/* help.c - help texts and the command reference (docs/cli.md), all
 * generated from the tables so they cannot drift from the code. */
#include "cli/help.h"

#include <string.h>

#include "base/help.h"
#include "base/parse.h"
#include "base/timefmt.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/exitcode.h"
#include "model/job.h"

static const char intro[] =
    "borealis is the command-line client of a Borealis cluster (jobs, tasks) and also "
    "runs its daemons (scheduler, agent) and a whole one-machine cluster (up). Job "
    "commands talk to the scheduler's HTTP API (docs/api.md); a job is named by its key "
    "CLUSTER/ROLE/ENVIRONMENT/NAME, e.g. local/www-data/devel/hello.";

static const char first_session[] =
    "make up                                   # builds, then runs `borealis up`\n"
    "# in another shell:\n"
    "export BOREALIS_SCHEDULER=https://127.0.0.1:8081\n"
    "export BOREALIS_TOKEN_FILE=.borealis-up/scheduler/admin.token   # up's admin token\n"
    "borealis whoami\n"
    "borealis job list\n"
    "borealis job status local/www-data/devel/hello\n"
    "borealis job inspect local/www-data/devel/hello examples/hello.yaml\n"
    "borealis job diff local/www-data/devel/hello examples/hello.yaml --bind greeting=hi\n"
    "borealis job kill local/www-data/devel/hello/1\n"
    "borealis job killall local/www-data/devel/hello\n"
    "borealis job create local/www-data/devel/hello examples/hello.yaml --wait-until RUNNING\n"
    "echo $?                                   # 0; see Exit codes\n";

struct env_var {
    const char *name;
    const char *help;
};

static const struct env_var env_table[] = {
    {CLI_SCHEDULER_ENV,
     "scheduler API address used when --scheduler is not given (default " CLI_DEFAULT_SCHEDULER
     ")"},
    {CLI_TOKEN_FILE_ENV, "a file holding the API token (mode 0600, no group or other permissions); "
                         "without it and $" CLI_TOKEN_ENV ", the CLI reads ~/.config/borealis/credentials "
                         "($XDG_CONFIG_HOME) if present"},
    {CLI_TOKEN_ENV, "the API token itself (for programs; a file is safer)"},
    {"BOREALIS_CA",
     "CA file (PEM) the scheduler's TLS certificate must chain to (default: the CA `borealis up` saved for "
     "that address in $XDG_CONFIG_HOME/borealis/ca/, else the system's); a certificate that does not verify "
     "exits 30"},
    {"BOREALIS_LOG", "`debug` turns on debug lines in the daemons' logs"},
};

static void wrap(FILE *f, const char *text, int indent) { bo_help_wrap(f, text, indent); }

static void item(FILE *f, const char *head, int col, const char *text) { bo_help_item(f, head, col, text); }

static void full_name(const struct cli_command *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", c->group ? c->group : "", c->group ? " " : "", c->name);
}

void help_usage(const struct cli_command *c, FILE *f)
{
    char name[64];
    full_name(c, name, sizeof(name));
    fprintf(f, "Usage: " CLI_PROGRAM " %s%s%s%s\n", name, c->args && *c->args ? " " : "",
            c->args ? c->args : "", c->run_raw || !(c->options || !c->offline) ? "" : " [OPTIONS]");
}

void help_command(const struct cli_command *c, FILE *f)
{
    char name[64], usage[256];
    full_name(c, name, sizeof(name));
    snprintf(usage, sizeof(usage), CLI_PROGRAM " %s%s%s%s", name, c->args && *c->args ? " " : "",
             c->args ? c->args : "", c->run_raw || !(c->options || !c->offline) ? "" : " [OPTIONS]");
    /* A daemon's page is the one it prints for its own --help. */
    const struct bo_option *const tables[] = {c->options, c->offline || c->run_raw ? NULL : cli_global_options,
                                              NULL};
    const struct bo_option *const with_global[] = {cli_global_options, NULL};
    struct bo_help_page p = {
        .usage = usage,
        .text = c->help ? c->help : c->summary,
        .options = c->options ? tables : c->offline || c->run_raw ? NULL : with_global,
        .examples = c->examples,
    };
    bo_help_page(f, &p);
}

static void command_list(FILE *f, const char *group)
{
    size_t n;
    const struct cli_command *const *cmds = cli_commands(&n);
    for (size_t i = 0; i < n; i++) {
        const struct cli_command *c = cmds[i];
        if (group ? !c->group || strcmp(c->group, group) : c->group != NULL)
            continue;
        char name[128];
        snprintf(name, sizeof(name), "%s%s%s%s%s", c->group ? c->group : "", c->group ? " " : "",
                 c->name, c->args && *c->args ? " " : "", c->args ? c->args : "");
        item(f, name, 30, c->summary);
    }
}

static void exit_code_list(FILE *f)
{
    size_t n;
    const struct cli_exit_info *e = cli_exit_table(&n);
    for (size_t i = 0; i < n; i++) {
        char head[8];
        snprintf(head, sizeof(head), "%2d", e[i].code);
        item(f, head, 7, e[i].meaning);
    }
}

void help_main(FILE *f)
{
    fprintf(f, "Usage: " CLI_PROGRAM " [--scheduler URL] COMMAND [ARGS...]\n\n");
    wrap(f, intro, 0);
    fprintf(f, "\nCommands:\n");
    command_list(f, NULL);
    size_t ng;
    const struct cli_group *g = cli_groups(&ng);
    for (size_t i = 0; i < ng; i++)
        command_list(f, g[i].name);
    fprintf(f, "\nGlobal options:\n");
    bo_help_options(f, cli_main_options, BO_HELP_OPTION_COL);
    item(f, "-h, --help", BO_HELP_OPTION_COL, "show this help");
    fprintf(f, "\nEnvironment:\n");
    for (size_t i = 0; i < BO_ARRAY_SIZE(env_table); i++)
        item(f, env_table[i].name, 23, env_table[i].help);
    fprintf(f, "\nExit codes:\n");
    exit_code_list(f);
    fprintf(f, "\nRun `" CLI_PROGRAM " COMMAND --help` for a command's options.\n");
}

void help_group(const char *group, FILE *f)
{
    const struct cli_group *g = cli_group_find(group);
    fprintf(f, "Usage: " CLI_PROGRAM " %s COMMAND [ARGS...]\n\n", group);
    if (g)
        fprintf(f, "%c%s.\n", g->summary[0] - ('a' - 'A'), g->summary + 1);
    fprintf(f, "\nCommands:\n");
    command_list(f, group);
    fprintf(f, "\nRun `" CLI_PROGRAM " %s COMMAND --help` for a command's options.\n", group);
}

/* ---- docs/cli.md ------------------------------------------------------- */

static void md_command(FILE *f, const struct cli_command *c)
{
    char name[64];
    full_name(c, name, sizeof(name));
    fprintf(f, "### `%s`\n\n", name);
    fprintf(f, "```\n");
    help_usage(c, f);
    fprintf(f, "```\n\n%s\n\n", c->help ? c->help : c->summary);
    if (c->options || !c->offline) {
        fprintf(f, "| option | meaning |\n|---|---|\n");
        bo_help_markdown_options(f, c->options);
        if (!c->offline && !c->run_raw)
            fprintf(f, "| `--scheduler URL` | scheduler API address (see Environment) |\n");
        fputc('\n', f);
    }
    if (c->examples)
        fprintf(f, "```sh\n%s\n```\n\n", c->examples);
}

void help_markdown(FILE *f)
{
    fprintf(f, "# The `borealis` command\n\n");
    fprintf(f, "<!-- Generated by `borealis help --markdown` from the tables in src/cli/ "
               "(commands.c, cmd-*.c, exitcode.c, help.c) and the daemons' option tables "
               "(src/scheduler/scheduler.c, src/agent/options.c): edit those, then regenerate. "
               "tests/integration/test_cli_messages.py checks that this file is up to date. -->\n\n");
    fprintf(f, "%s\n\n", intro);
    fprintf(f, "```\n" CLI_PROGRAM " [--scheduler URL] COMMAND [ARGS...]\n```\n\n");
    fprintf(f, "Options may come before, between or after arguments; `--name=value` and "
               "`--name value` are the same; `--` ends the options; an option given twice "
               "keeps its last value (but `--bind` keeps each). Every command, the "
               "daemons included, takes `-h` or `--help`, and all parse their options with one "
               "parser (src/base/options.c) and print help in one format. An unknown command or "
               "option gets a \"did you mean\" suggestion when one is close. Errors are printed "
               "on stderr as `borealis: MESSAGE`. Human output is aligned tables; `--json` prints the scheduler's JSON for scripts.\n\n");
    fprintf(f, "## Commands\n\n| command | what it does |\n|---|---|\n");
    size_t n;
    const struct cli_command *const *cmds = cli_commands(&n);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        full_name(cmds[i], name, sizeof(name));
        const char *args = cmds[i]->args ? cmds[i]->args : "";
        fprintf(f, "| `%s%s%s` | %s |\n", name, *args ? " " : "", args, cmds[i]->summary);
    }
    fprintf(f, "\n## Global options\n\n| option | meaning |\n|---|---|\n");
    bo_help_markdown_options(f, cli_main_options);
    fprintf(f, "| `-h, --help` | show this help |\n");
    fprintf(f, "\n## Environment\n\n| variable | meaning |\n|---|---|\n");
    for (size_t i = 0; i < BO_ARRAY_SIZE(env_table); i++)
        fprintf(f, "| `%s` | %s |\n", env_table[i].name, env_table[i].help);
    fprintf(f, "\n## Exit codes\n\nAs Apache Aurora's client.\n\n| code | name | meaning |\n"
               "|---|---|---|\n");
    size_t ne;
    const struct cli_exit_info *e = cli_exit_table(&ne);
    for (size_t i = 0; i < ne; i++)
        fprintf(f, "| %d | %s | %s |\n", e[i].code, e[i].name, e[i].meaning);
    fprintf(f, "\n`borealis up` exits 1 when a daemon dies or does not start; the daemons "
               "have their own exit codes.\n");
    fprintf(f, "\n## A first session\n\n```sh\n%s```\n", first_session);
    fprintf(f, "\n## Command reference\n\n");
    for (size_t i = 0; i < n; i++)
        md_command(f, cmds[i]);
}

/* ---- docs/jobs.md: the field table of src/model/job.c ------------------ */

static const char *field_type_text(const struct job_field *f)
{
    switch (f->type) {
    case JOB_FIELD_STRING:
        return "string";
    case JOB_FIELD_INT:
        return "integer";
    case JOB_FIELD_BOOL:
        return "true or false";
    case JOB_FIELD_NUMBER:
        return "number";
    case JOB_FIELD_SIZE:
        return "size: bytes, or with a unit (`512MiB`, `2GiB`)";
    case JOB_FIELD_DURATION:
        return "duration, with a unit (`5s`, `250ms`, `1m`)";
    case JOB_FIELD_ENUM:
        return "one word of the list";
    case JOB_FIELD_OBJECT:
        return "mapping";
    case JOB_FIELD_STRING_LIST:
        return "list of strings";
    case JOB_FIELD_OBJECT_LIST:
        return "list of mappings";
    case JOB_FIELD_INT_LIST:
        return "list of integers";
    }
    return "?";
}

/* The path of object `object` as a user writes it: "task.processes" ->
 * "task.processes[]", "task.processes.logging" -> "task.processes[].logging". */
static char *object_path(const char *object)
{
    size_t n;
    const struct job_field *t = job_field_table(&n);
    for (size_t i = 0; i < n; i++)
        if (t[i].child && strcmp(t[i].child, object) == 0) {
            const char *list = t[i].type == JOB_FIELD_OBJECT_LIST ? "[]" : "";
            if (strcmp(t[i].object, "job") == 0)
                return bo_xasprintf("%s%s", t[i].name, list);
            _cleanup_free_ char *parent = object_path(t[i].object);
            return bo_xasprintf("%s.%s%s", parent, t[i].name, list);
        }
    return bo_xstrdup(object);
}

/* "task.processes" + "name" -> "task.processes[].name" */
static char *field_path(const struct job_field *f)
{
    if (strcmp(f->object, "job") == 0)
        return bo_xstrdup(f->name);
    _cleanup_free_ char *parent = object_path(f->object);
    return bo_xasprintf("%s.%s", parent, f->name);
}

static char *field_limits(const struct job_field *f)
{
    char lo[32], hi[32];
    switch (f->type) {
    case JOB_FIELD_STRING:
        /* Names are ASCII; a command line may hold any UTF-8. */
        return bo_xasprintf("%.0f to %.0f %s", f->min, f->max, f->templated ? "bytes" : "characters");
    case JOB_FIELD_INT:
        return bo_xasprintf("%s%.0f to %.0f", f->minus_one ? "-1 (forever), or " : "", f->min, f->max);
    case JOB_FIELD_NUMBER:
        return bo_xasprintf("%s %g, at most %g", f->min_exclusive ? "more than" : "at least", f->min, f->max);
    case JOB_FIELD_SIZE:
        bo_format_size((uint64_t)f->min, lo, sizeof(lo));
        return f->min > 0 ? bo_xasprintf("at least %s", lo) : bo_xstrdup("0 or more");
    case JOB_FIELD_DURATION:
        bo_format_duration((int64_t)f->min, lo, sizeof(lo));
        bo_format_duration((int64_t)f->max, hi, sizeof(hi));
        return bo_xasprintf("%s to %s", lo, hi);
    case JOB_FIELD_ENUM: {
        char *out = bo_xstrdup("");
        for (int i = 0; f->choices[i]; i++) {
            char *m = bo_xasprintf("%s%s`%s`", out, i ? ", " : "", f->choices[i]);
            free(out);
            out = m;
        }
        return out;
    }
    case JOB_FIELD_STRING_LIST:
    case JOB_FIELD_OBJECT_LIST:
        return f->min > 0 ? bo_xasprintf("%.0f to %.0f entries", f->min, f->max)
                          : bo_xasprintf("at most %.0f entries", f->max);
    case JOB_FIELD_INT_LIST:
        return bo_xasprintf("at most %.0f entries, each %.0f to %.0f", f->max, f->elem_min, f->elem_max);
    default:
        return bo_xstrdup("");
    }
}

static char *field_default(const struct job_field *f)
{
    if (!f->def)
        return bo_xstrdup(f->type == JOB_FIELD_OBJECT && !f->required ? "" : "required");
    if (f->type == JOB_FIELD_DURATION) { /* the default is JSON milliseconds */
        char b[32];
        bo_format_duration(strtoll(f->def, NULL, 10), b, sizeof(b));
        return bo_xasprintf("`%s`", b);
    }
    if (f->type == JOB_FIELD_SIZE && strcmp(f->def, "0") != 0) { /* JSON bytes */
        char b[32];
        bo_format_size(strtoull(f->def, NULL, 10), b, sizeof(b));
        return bo_xasprintf("`%s`", b);
    }
    return bo_xasprintf("`%s`", f->def);
}

void help_job_fields_markdown(FILE *f)
{
    size_t n;
    const struct job_field *t = job_field_table(&n);
    fprintf(f, "| field | type | default | limits | meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *path = field_path(&t[i]), *lim = field_limits(&t[i]), *def = field_default(&t[i]);
        fprintf(f, "| `%s` | %s | %s | %s | %s |\n", path, field_type_text(&t[i]), def, lim,
                t[i].help ? t[i].help : "");
    }
}
