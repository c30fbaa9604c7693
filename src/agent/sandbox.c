/* sandbox.c - sandbox directories and the agent <-> executor files. */
#include "agent/sandbox.h"

#include <errno.h>
#include <string.h>

#include "agent/command.h"
#include "model/cmdline.h"
#include "model/json_check.h"
#include "base/fs.h"
#include "model/task_id.h"
#include "model/task_state.h"
#include "model/template.h"

#define STATUS_MAX_LEN (1u << 20)
/* What the executor writes stays far below these; a task that rewrites its
 * status.json must not make the agent's updates (journaled, resent until
 * acked, in sync requests the scheduler caps at 1 MiB) grow without bound. */
#define STATUS_MAX_PROCESSES 64 /* the executor's limit (spec.h) */
#define STATUS_MAX_NAME 64
#define STATUS_MAX_MESSAGE 1024

static const char *const process_states[] = {"WAITING", "RUNNING", "SUCCESS", "FAILED", "KILLED"};

int sandbox_validate_task_id(const char *task_id, bo_error_t *err)
{
    /* The scheduler's limit (a job whose ids would not fit is refused at
     * create), so a launch it sends is never refused here for its id. */
    return task_id_validate(task_id, err);
}

/* The executor's form of a health check (docs/protocol.md section 4): the
 * port as its number, the command with its runtime variables rendered. */
static int health_check_json(const struct health_check_config *h, const struct template_runtime *rt, json_t **ret,
                             bo_error_t *err)
{
    static const char *const types[] = {[HEALTH_CHECK_HTTP] = "http", [HEALTH_CHECK_TCP] = "tcp",
                                        [HEALTH_CHECK_SHELL] = "shell"};
    json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "type", types[h->type], "initial_interval_ms",
                          (json_int_t)h->initial_interval_ms, "interval_ms", (json_int_t)h->interval_ms, "timeout_ms",
                          (json_int_t)h->timeout_ms, "max_consecutive_failures",
                          (json_int_t)h->max_consecutive_failures, "min_consecutive_successes",
                          (json_int_t)h->min_consecutive_successes, "snooze_file", h->snooze_file);
    if (h->type == HEALTH_CHECK_SHELL) {
        char *cmd = NULL;
        if (template_expand_runtime(h->command, rt, &cmd, err) < 0) {
            json_decref(j);
            return bo_error_wrap(err, "health_check.command");
        }
        json_object_set_new(j, "command", json_string(cmd));
        free(cmd);
    } else {
        json_t *port = json_object_get(rt->ports, h->port);
        if (!json_is_integer(port)) {
            json_decref(j);
            return bo_error_set(err, BO_E_INVALID, "health_check.port: the task was given no port `%s`", h->port);
        }
        json_object_set_new(j, "port", json_integer(json_integer_value(port)));
    }
    if (h->type == HEALTH_CHECK_HTTP) {
        json_object_set_new(j, "path", json_string(h->path));
        json_object_set_new(j, "expected_status", json_integer(h->expected_status));
        json_object_set_new(j, "expected_body", json_string(h->expected_body));
    }
    *ret = j;
    return 0;
}

int sandbox_prepare(const char *sandbox, const struct sandbox_launch *l, bo_error_t *err)
{
    _cleanup_free_ char *meta = bo_xasprintf("%s/.borealis", sandbox);
    _cleanup_free_ char *logs = bo_xasprintf("%s/.logs", sandbox);
    if (bo_mkdir_p(sandbox, 0755, err) < 0 || bo_mkdir_p(meta, 0755, err) < 0 || bo_mkdir_p(logs, 0755, err) < 0)
        return bo_error_wrap(err, "sandbox");
    struct template_runtime rt = {
        .instance = l->instance, .hostname = l->hostname, .task_id = l->task_id, .ports = l->ports};
    json_t *procs = json_array();
    for (size_t i = 0; i < l->task->n_processes; i++) {
        const struct process_config *p = &l->task->processes[i];
        char *cmd = NULL;
        if (template_expand_runtime(p->cmdline, &rt, &cmd, err) < 0) {
            json_decref(procs);
            return bo_error_wrap(err, "cmdline of process `%s`", p->name);
        }
        char **argv = NULL;
        int r = command_argv(p->name, cmd, l->image, &argv, err);
        free(cmd);
        if (r < 0) {
            json_decref(procs);
            return -1;
        }
        json_t *a = json_array();
        for (size_t k = 0; argv[k]; k++)
            json_array_append_new(a, json_string(argv[k]));
        cmdline_argv_free(argv);
        json_t *after = json_array();
        for (size_t k = 0; k < p->n_after; k++)
            json_array_append_new(after, json_string(p->after[k]));
        json_array_append_new(procs, json_pack("{s:s, s:o, s:I, s:b, s:b, s:I, s:b, s:o}", "name", p->name, "argv", a,
                                               "max_failures", (json_int_t)p->max_failures, "daemon", p->daemon,
                                               "ephemeral", p->ephemeral, "min_duration_ms",
                                               (json_int_t)p->min_duration_ms, "final", p->final, "after", after));
        const struct logging_config *g = &p->logging;
        if (g->destination != LOG_DEST_FILE || g->mode != LOG_MODE_STANDARD) {
            static const char *const dests[] = {[LOG_DEST_FILE] = "file", [LOG_DEST_CONSOLE] = "console",
                                                [LOG_DEST_BOTH] = "both", [LOG_DEST_NONE] = "none"};
            json_t *lg = json_pack("{s:s, s:s}", "destination", dests[g->destination], "mode",
                                   g->mode == LOG_MODE_ROTATE ? "rotate" : "standard");
            if (g->mode == LOG_MODE_ROTATE) {
                json_object_set_new(lg, "log_size", json_integer((json_int_t)g->log_size));
                json_object_set_new(lg, "backups", json_integer(g->backups));
            }
            json_object_set_new(json_array_get(procs, json_array_size(procs) - 1), "logging", lg);
        }
    }
    json_t *doc = json_pack("{s:s, s:o, s:s, s:I, s:s, s:I}", "task_id", l->task_id, "processes", procs, "ordering",
                            l->task->ordering == ORDERING_SEQUENTIAL ? "sequential" : "parallel", "kill_grace_ms",
                            (json_int_t)l->task->kill_grace_ms, "notify_socket", l->notify_socket,
                            "finalization_wait_ms", (json_int_t)l->task->finalization_wait_ms);
    json_object_set_new(doc, "max_failures", json_integer(l->task->max_failures));
    json_object_set_new(doc, "max_concurrency", json_integer(l->task->max_concurrency));
    if (command_cwd(l->image))
        json_object_set_new(doc, "cwd", json_string(command_cwd(l->image)));
    if (l->task->health_check.type != HEALTH_CHECK_NONE) {
        json_t *hc = NULL;
        if (health_check_json(&l->task->health_check, &rt, &hc, err) < 0) {
            json_decref(doc);
            return -1;
        }
        json_object_set_new(doc, "health_check", hc);
    }
    if (task_config_has_lifecycle_port(l->task)) {
        const struct lifecycle_config *lc = &l->task->lifecycle;
        json_t *port = json_object_get(l->ports, lc->port);
        if (!json_is_integer(port)) {
            json_decref(doc);
            return bo_error_set(err, BO_E_INVALID, "lifecycle.port: the task was given no port `%s`", lc->port);
        }
        json_object_set_new(doc, "shutdown",
                            json_pack("{s:I, s:s, s:I, s:s, s:I}", "port", (json_int_t)json_integer_value(port),
                                      "graceful_path", lc->graceful_shutdown_endpoint, "graceful_wait_ms",
                                      (json_int_t)lc->graceful_shutdown_wait_ms, "abort_path", lc->shutdown_endpoint,
                                      "abort_wait_ms", (json_int_t)lc->shutdown_wait_ms));
    }
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    _cleanup_free_ char *path = bo_xasprintf("%s/task.json", meta);
    /* No fsync: the executor reads it at once, and after a crash or power
     * loss the task's journal record (ASSIGNED or later) decides, not this
     * file. */
    int r = bo_write_file_atomic(path, text, strlen(text), false, err);
    free(text);
    return r;
}


/* The states an executor writes (src/executor/status.h), by the one name
 * table. */
static bool executor_state(const char *name)
{
    enum task_state s;
    if (task_state_from_name(name, &s) < 0)
        return false;
    return task_state_executor_reports(s);
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static int opt_int(json_t *o, const char *key, bool *ret_has, int64_t *ret, const char *where, bo_error_t *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (ret_has)
            *ret_has = false;
        *ret = 0;
        return 0;
    }
    if (!json_is_integer(v))
        return bo_error_set(err, BO_E_INVALID, "%s.%s: must be an integer or null", where, key);
    if (ret_has)
        *ret_has = true;
    *ret = json_integer_value(v);
    return 0;
}

static int parse_status(json_t *j, const char *task_id, struct sandbox_status *s, const char *file, bo_error_t *err)
{
    static const char *const top[] = {"task_id", "state", "message", "executor_pid", "updated_ms", "processes"};
    static const char *const proc[] = {"name", "state", "pid", "runs", "exit_code", "signal", "started_ms", "ended_ms"};
    if (!json_is_object(j))
        return bo_error_set(err, BO_E_INVALID, "`%s`: not a JSON object", file);
    if (json_check_keys(j, top, BO_ARRAY_SIZE(top), file, err) < 0)
        return -1;
    const char *id = json_string_value(json_object_get(j, "task_id"));
    const char *state = json_string_value(json_object_get(j, "state"));
    const char *msg = json_string_value(json_object_get(j, "message"));
    json_t *procs = json_object_get(j, "processes");
    if (!id || strcmp(id, task_id) != 0)
        return bo_error_set(err, BO_E_INVALID, "`%s`: task_id is not `%s`", file, task_id);
    if (!state || !executor_state(state))
        return bo_error_set(err, BO_E_INVALID, "`%s`: bad state", file);
    if (json_object_get(j, "message") && !json_is_null(json_object_get(j, "message")) && !msg)
        return bo_error_set(err, BO_E_INVALID, "`%s`: message must be a string", file);
    if (procs && !json_is_array(procs))
        return bo_error_set(err, BO_E_INVALID, "`%s`: processes must be an array", file);
    if (json_array_size(procs) > STATUS_MAX_PROCESSES)
        return bo_error_set(err, BO_E_INVALID, "`%s`: more than %d processes", file, STATUS_MAX_PROCESSES);
    s->state = bo_xstrdup(state);
    s->message = bo_xstrdup(msg ? msg : "");
    if (strlen(s->message) > STATUS_MAX_MESSAGE) {
        /* Cut at a character boundary: the message goes into JSON again. */
        size_t n = STATUS_MAX_MESSAGE;
        while (n > 0 && ((unsigned char)s->message[n] & 0xC0) == 0x80)
            n--;
        s->message[n] = '\0';
    }
    int64_t dummy;
    if (opt_int(j, "executor_pid", NULL, &s->executor_pid, file, err) < 0 ||
        opt_int(j, "updated_ms", NULL, &dummy, file, err) < 0)
        return -1;
    s->processes = bo_xcalloc(json_array_size(procs) + 1, sizeof(*s->processes));
    size_t i;
    json_t *p;
    json_array_foreach(procs, i, p)
    {
        if (!json_is_object(p))
            return bo_error_set(err, BO_E_INVALID, "`%s`: processes[%zu] is not an object", file, i);
        if (json_check_keys(p, proc, BO_ARRAY_SIZE(proc), file, err) < 0)
            return -1;
        const char *name = json_string_value(json_object_get(p, "name"));
        const char *pstate = json_string_value(json_object_get(p, "state"));
        if (!name || !pstate || !in_list(pstate, process_states, BO_ARRAY_SIZE(process_states)))
            return bo_error_set(err, BO_E_INVALID, "`%s`: processes[%zu] needs a name and a valid state", file, i);
        if (strlen(name) > STATUS_MAX_NAME)
            return bo_error_set(err, BO_E_INVALID, "`%s`: processes[%zu].name is longer than %d bytes", file, i,
                                STATUS_MAX_NAME);
        struct sandbox_process *sp = &s->processes[s->n_processes++];
        sp->name = bo_xstrdup(name);
        sp->state = bo_xstrdup(pstate);
        if (opt_int(p, "pid", NULL, &sp->pid, file, err) < 0 ||
            opt_int(p, "exit_code", &sp->has_exit_code, &sp->exit_code, file, err) < 0 ||
            opt_int(p, "signal", &sp->has_signal, &sp->signal, file, err) < 0 ||
            opt_int(p, "started_ms", NULL, &dummy, file, err) < 0 || opt_int(p, "ended_ms", NULL, &dummy, file, err) < 0 ||
            opt_int(p, "runs", NULL, &sp->runs, file, err) < 0)
            return -1;
        if (sp->runs < 0)
            return bo_error_set(err, BO_E_INVALID, "`%s`: processes[%zu].runs must not be negative", file, i);
    }
    return 0;
}

int sandbox_parse_status(const char *name, const char *text, size_t len, const char *task_id,
                         struct sandbox_status *ret, bo_error_t *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return bo_error_set(err, BO_E_INVALID, "`%s`: %s", name, jerr.text);
    struct sandbox_status s = {0};
    int r = parse_status(j, task_id, &s, name, err);
    json_decref(j);
    if (r < 0) {
        sandbox_status_clear(&s);
        return -1;
    }
    *ret = s;
    return 0;
}

int sandbox_read_status(const char *sandbox, const char *task_id, struct sandbox_status *ret, bo_error_t *err)
{
    _cleanup_free_ char *path = bo_xasprintf("%s/.borealis/status.json", sandbox);
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    bo_error_t e = NULL;
    if (bo_read_file(path, STATUS_MAX_LEN, &text, &len, &e) < 0) {
        if (e->sys_errno == ENOENT) {
            bo_error_free(e);
            return bo_error_set(err, BO_E_NOTFOUND, "`%s` does not exist yet", path);
        }
        *err = e;
        return -1;
    }
    return sandbox_parse_status(path, text, len, task_id, ret, err);
}

void sandbox_status_clear(struct sandbox_status *s)
{
    for (size_t i = 0; i < s->n_processes; i++) {
        free(s->processes[i].name);
        free(s->processes[i].state);
    }
    free(s->processes);
    free(s->state);
    free(s->message);
    *s = (struct sandbox_status){0};
}

json_t *sandbox_status_processes_json(const struct sandbox_status *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n_processes; i++) {
        const struct sandbox_process *p = &s->processes[i];
        json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:I, s:o}", "name", p->name, "state", p->state, "pid",
                                           p->pid > 0 ? json_integer(p->pid) : json_null(), "runs",
                                           (json_int_t)p->runs, "exit_code",
                                           p->has_exit_code ? json_integer(p->exit_code) : json_null()));
    }
    return a;
}
