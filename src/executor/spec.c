/* spec.c - strict reader of task.json: every field in one table, unknown
 * fields, wrong types and out-of-range values are errors naming the field. */
#include "executor/spec.h"

#include <jansson.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "base/fs.h"
#include "base/ident.h"
#include "model/process_graph.h"

/* Identifiers end up in file names (.logs/NAME) and the notify datagram:
 * the project's identifier rule (base/ident.h). */
static bool ident_ok(const char *s, size_t max) { return bo_ident_ok(s, max, 0); }

static int parse_task_id(json_t *v, struct exec_spec *s, bo_error_t *err)
{
    if (!json_is_string(v) || !ident_ok(json_string_value(v), SPEC_MAX_TASK_ID))
        return bo_error_set(err, BO_E_INVALID,
                            "task_id: must be a string of 1..%d characters from [A-Za-z0-9_.-]",
                            SPEC_MAX_TASK_ID);
    s->task_id = bo_xstrdup(json_string_value(v));
    return 0;
}

/* argv: what the agent wrote (agent/command.h); cmdline: the older form,
 * run as /bin/sh -c CMDLINE. Exactly one of them. */
static int parse_argv(json_t *a, size_t i, struct proc *p, bo_error_t *err)
{
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > SPEC_MAX_ARGS)
        return bo_error_set(err, BO_E_INVALID, "processes[%zu].argv: must be an array of 1..%d strings", i,
                            SPEC_MAX_ARGS);
    size_t total = 0;
    for (size_t k = 0; k < json_array_size(a); k++) {
        json_t *s = json_array_get(a, k);
        if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s) ||
            (k == 0 && json_string_length(s) == 0))
            return bo_error_set(err, BO_E_INVALID,
                                "processes[%zu].argv[%zu]: must be a string without NUL (the first non-empty)", i, k);
        total += json_string_length(s) + 1;
    }
    if (total > SPEC_MAX_ARGV_BYTES)
        return bo_error_set(err, BO_E_INVALID, "processes[%zu].argv: more than %d bytes", i, SPEC_MAX_ARGV_BYTES);
    p->argv = bo_xcalloc(json_array_size(a) + 1, sizeof(char *));
    for (size_t k = 0; k < json_array_size(a); k++)
        p->argv[k] = bo_xstrdup(json_string_value(json_array_get(a, k)));
    return 0;
}

/* Thermos's process fields, defaults as the job model's. */
static const struct {
    const char *name;
    int64_t max;
    size_t off; /* of the int64_t in struct proc */
} proc_ints[] = {
    {"max_failures", SPEC_MAX_PROCESS_FAILURES, offsetof(struct proc, max_failures)},
    {"min_duration_ms", SPEC_MAX_MIN_DURATION_MS, offsetof(struct proc, min_duration_ms)},
};
static const struct {
    const char *name;
    size_t off; /* of the bool in struct proc */
} proc_bools[] = {
    {"daemon", offsetof(struct proc, daemon)},
    {"ephemeral", offsetof(struct proc, ephemeral)},
    {"final", offsetof(struct proc, final)},
};

/* Names only here; whether they exist and form no cycle is checked once
 * all processes are read (check_graph). */
static int parse_after(json_t *a, size_t i, struct proc *p, bo_error_t *err)
{
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > SPEC_MAX_PROCESSES)
        return bo_error_set(err, BO_E_INVALID, "processes[%zu].after: must be an array of at most %d names", i,
                            SPEC_MAX_PROCESSES);
    p->after = bo_xcalloc(json_array_size(a) + 1, sizeof(char *));
    for (size_t k = 0; k < json_array_size(a); k++) {
        json_t *s = json_array_get(a, k);
        if (!json_is_string(s) || !ident_ok(json_string_value(s), SPEC_MAX_NAME))
            return bo_error_set(err, BO_E_INVALID, "processes[%zu].after[%zu]: must be a process name", i, k);
        p->after[p->n_after++] = bo_xstrdup(json_string_value(s));
    }
    return 0;
}

/* "logging": {"destination", "mode", "log_size", "backups"}, as the job's
 * process field (docs/protocol.md section 4); absent: files, not rotated. */
static int parse_logging(json_t *v, size_t i, struct log_policy *ret, bo_error_t *err)
{
    static const char *const dests[] = {[LOG_TO_FILE] = "file", [LOG_TO_CONSOLE] = "console",
                                        [LOG_TO_BOTH] = "both", [LOG_TO_NONE] = "none"};
    *ret = (struct log_policy){.dest = LOG_TO_FILE};
    if (!v)
        return 0;
    if (!json_is_object(v))
        return bo_error_set(err, BO_E_INVALID, "processes[%zu].logging: must be an object", i);
    const char *key;
    json_t *f;
    json_object_foreach(v, key, f)
    {
        if (strcmp(key, "destination") && strcmp(key, "mode") && strcmp(key, "log_size") && strcmp(key, "backups"))
            return bo_error_set(err, BO_E_INVALID, "processes[%zu].logging.%s: unknown field", i, key);
    }
    const char *d = json_string_value(json_object_get(v, "destination"));
    size_t k = 0;
    while (d && k < BO_ARRAY_SIZE(dests) && strcmp(d, dests[k]))
        k++;
    if (!d || k == BO_ARRAY_SIZE(dests))
        return bo_error_set(err, BO_E_INVALID,
                            "processes[%zu].logging.destination: must be \"file\", \"console\", \"both\" or \"none\"",
                            i);
    ret->dest = (enum log_dest)k;
    const char *mode = json_string_value(json_object_get(v, "mode"));
    if (!mode || (strcmp(mode, "standard") && strcmp(mode, "rotate")))
        return bo_error_set(err, BO_E_INVALID, "processes[%zu].logging.mode: must be \"standard\" or \"rotate\"", i);
    ret->rotate = strcmp(mode, "rotate") == 0;
    json_t *size = json_object_get(v, "log_size"), *backups = json_object_get(v, "backups");
    if (!ret->rotate) {
        if (size || backups)
            return bo_error_set(err, BO_E_INVALID, "processes[%zu].logging: log_size and backups only with mode rotate",
                                i);
        return 0;
    }
    if (ret->dest != LOG_TO_FILE && ret->dest != LOG_TO_BOTH)
        return bo_error_set(err, BO_E_INVALID, "processes[%zu].logging.mode: rotate needs destination file or both", i);
    if (!json_is_integer(size) || json_integer_value(size) < LOG_ROTATE_SIZE_MIN ||
        json_integer_value(size) > LOG_ROTATE_SIZE_MAX)
        return bo_error_set(err, BO_E_INVALID, "processes[%zu].logging.log_size: must be an integer in %d..%lld", i,
                            LOG_ROTATE_SIZE_MIN, (long long)LOG_ROTATE_SIZE_MAX);
    if (!json_is_integer(backups) || json_integer_value(backups) < 1 ||
        json_integer_value(backups) > LOG_ROTATE_BACKUPS_MAX)
        return bo_error_set(err, BO_E_INVALID, "processes[%zu].logging.backups: must be an integer in 1..%d", i,
                            LOG_ROTATE_BACKUPS_MAX);
    ret->log_size = json_integer_value(size);
    ret->backups = json_integer_value(backups);
    return 0;
}

static int parse_process(json_t *v, size_t i, struct proc *p, bo_error_t *err)
{
    if (!json_is_object(v))
        return bo_error_set(err, BO_E_INVALID, "processes[%zu]: must be an object", i);
    const char *key;
    json_t *f;
    json_object_foreach(v, key, f)
    {
        bool known = strcmp(key, "name") == 0 || strcmp(key, "cmdline") == 0 || strcmp(key, "argv") == 0 ||
                     strcmp(key, "after") == 0 || strcmp(key, "logging") == 0;
        for (size_t k = 0; k < BO_ARRAY_SIZE(proc_ints); k++)
            known = known || strcmp(key, proc_ints[k].name) == 0;
        for (size_t k = 0; k < BO_ARRAY_SIZE(proc_bools); k++)
            known = known || strcmp(key, proc_bools[k].name) == 0;
        if (!known)
            return bo_error_set(err, BO_E_INVALID, "processes[%zu].%s: unknown field", i, key);
    }
    p->max_failures = 1; /* the job model's defaults (docs/jobs.md) */
    p->min_duration_ms = 5000;
    for (size_t k = 0; k < BO_ARRAY_SIZE(proc_ints); k++) {
        json_t *iv = json_object_get(v, proc_ints[k].name);
        if (!iv)
            continue;
        if (!json_is_integer(iv) || json_integer_value(iv) < 0 || json_integer_value(iv) > proc_ints[k].max)
            return bo_error_set(err, BO_E_INVALID, "processes[%zu].%s: must be an integer in 0..%lld", i,
                                proc_ints[k].name, (long long)proc_ints[k].max);
        *(int64_t *)((char *)p + proc_ints[k].off) = json_integer_value(iv);
    }
    for (size_t k = 0; k < BO_ARRAY_SIZE(proc_bools); k++) {
        json_t *bv = json_object_get(v, proc_bools[k].name);
        if (!bv)
            continue;
        if (!json_is_boolean(bv))
            return bo_error_set(err, BO_E_INVALID, "processes[%zu].%s: must be true or false", i, proc_bools[k].name);
        *(bool *)((char *)p + proc_bools[k].off) = json_is_true(bv);
    }
    if (parse_after(json_object_get(v, "after"), i, p, err) < 0 ||
        parse_logging(json_object_get(v, "logging"), i, &p->log, err) < 0)
        return -1;
    json_t *name = json_object_get(v, "name");
    if (!name)
        return bo_error_set(err, BO_E_INVALID, "processes[%zu].name: required", i);
    if (!json_is_string(name) || !ident_ok(json_string_value(name), SPEC_MAX_NAME))
        return bo_error_set(err, BO_E_INVALID,
                            "processes[%zu].name: must be a string of 1..%d characters from "
                            "[A-Za-z0-9_.-], not `.` or `..`",
                            i, SPEC_MAX_NAME);
    json_t *cmd = json_object_get(v, "cmdline");
    json_t *argv = json_object_get(v, "argv");
    if (!cmd && !argv)
        return bo_error_set(err, BO_E_INVALID, "processes[%zu]: argv (or cmdline) required", i);
    if (cmd && argv)
        return bo_error_set(err, BO_E_INVALID, "processes[%zu]: argv and cmdline are exclusive", i);
    if (argv) {
        if (parse_argv(argv, i, p, err) < 0)
            return -1;
    } else {
        if (!json_is_string(cmd) || json_string_length(cmd) == 0 || json_string_length(cmd) > SPEC_MAX_CMDLINE ||
            strlen(json_string_value(cmd)) != json_string_length(cmd))
            return bo_error_set(err, BO_E_INVALID,
                                "processes[%zu].cmdline: must be a non-empty string of at most %d bytes", i,
                                SPEC_MAX_CMDLINE);
        p->argv = bo_xcalloc(4, sizeof(char *));
        p->argv[0] = bo_xstrdup("/bin/sh");
        p->argv[1] = bo_xstrdup("-c");
        p->argv[2] = bo_xstrdup(json_string_value(cmd));
    }
    p->name = bo_xstrdup(json_string_value(name));
    p->state = PROC_WAITING;
    p->exit_code = -1;
    return 0;
}

static int parse_processes(json_t *v, struct exec_spec *s, bo_error_t *err)
{
    if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > SPEC_MAX_PROCESSES)
        return bo_error_set(err, BO_E_INVALID, "processes: must be an array of 1..%d processes",
                            SPEC_MAX_PROCESSES);
    s->n_procs = json_array_size(v);
    s->procs = bo_xcalloc(s->n_procs, sizeof(*s->procs));
    for (size_t i = 0; i < s->n_procs; i++) {
        if (parse_process(json_array_get(v, i), i, &s->procs[i], err) < 0)
            return -1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->procs[k].name, s->procs[i].name) == 0)
                return bo_error_set(err, BO_E_INVALID, "processes[%zu].name: duplicate name `%s`", i,
                                    s->procs[i].name);
    }
    return 0;
}

static int parse_ordering(json_t *v, struct exec_spec *s, bo_error_t *err)
{
    const char *o = json_string_value(v);
    if (o && strcmp(o, "parallel") == 0)
        s->sequential = false;
    else if (o && strcmp(o, "sequential") == 0)
        s->sequential = true;
    else
        return bo_error_set(err, BO_E_INVALID, "ordering: must be \"parallel\" or \"sequential\"");
    return 0;
}

static int parse_kill_grace_ms(json_t *v, struct exec_spec *s, bo_error_t *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > SPEC_MAX_GRACE_MS)
        return bo_error_set(err, BO_E_INVALID, "kill_grace_ms: must be an integer in 0..%d",
                            SPEC_MAX_GRACE_MS);
    s->kill_grace_ms = json_integer_value(v);
    return 0;
}

static int parse_finalization_wait_ms(json_t *v, struct exec_spec *s, bo_error_t *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > SPEC_MAX_FINALIZATION_WAIT_MS)
        return bo_error_set(err, BO_E_INVALID, "finalization_wait_ms: must be an integer in 0..%d",
                            SPEC_MAX_FINALIZATION_WAIT_MS);
    s->finalization_wait_ms = json_integer_value(v);
    return 0;
}

/* max_failures, max_concurrency: 0..SPEC_MAX_PROCESSES. */
static int task_count(json_t *v, const char *name, int64_t *ret, bo_error_t *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > SPEC_MAX_PROCESSES)
        return bo_error_set(err, BO_E_INVALID, "%s: must be an integer in 0..%d", name, SPEC_MAX_PROCESSES);
    *ret = json_integer_value(v);
    return 0;
}

static int parse_max_failures(json_t *v, struct exec_spec *s, bo_error_t *err)
{
    return task_count(v, "max_failures", &s->max_failures, err);
}

static int parse_max_concurrency(json_t *v, struct exec_spec *s, bo_error_t *err)
{
    return task_count(v, "max_concurrency", &s->max_concurrency, err);
}

static int parse_notify_socket(json_t *v, struct exec_spec *s, bo_error_t *err)
{
    if (json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return bo_error_set(err, BO_E_INVALID,
                            "notify_socket: must be null or a socket path of 1..%zu bytes",
                            sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    s->notify_socket = bo_xstrdup(json_string_value(v));
    return 0;
}

/* A path the executor writes into a request line as it is. */
static int check_request_path(const char *field, const char *path, bo_error_t *err)
{
    if (path[0] != '/')
        return bo_error_set(err, BO_E_INVALID, "%s: must start with `/`", field);
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return bo_error_set(err, BO_E_INVALID, "%s: must be printable ASCII without spaces", field);
    return 0;
}

/* ---- health_check: the agent's rendering of the job's (docs/protocol.md
 * section 4); checked again here because the file is only as trustworthy
 * as the sandbox it sits in. */

struct health_field {
    const char *name;
    int64_t min, max; /* integers */
    size_t off;       /* of the int64_t in struct health_spec */
};

#define HS(m) offsetof(struct health_spec, m)
static const struct health_field health_ints[] = {
    {"initial_interval_ms", 0, 3600000, HS(initial_interval_ms)},
    {"interval_ms", 100, 3600000, HS(interval_ms)},
    {"timeout_ms", 10, 60000, HS(timeout_ms)},
    {"max_consecutive_failures", 0, 1000, HS(max_failures)},
    {"min_consecutive_successes", 1, 1000, HS(min_successes)},
};
static const char *const health_strings[] = {"type", "port", "path", "expected_status", "expected_body", "command",
                                             "snooze_file"};

static int health_string(json_t *o, const char *key, size_t min, size_t max, char **ret, bo_error_t *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return bo_error_set(err, BO_E_INVALID, "health_check.%s: required", key);
    if (!json_is_string(v) || json_string_length(v) < min || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v))
        return bo_error_set(err, BO_E_INVALID, "health_check.%s: must be a string of %zu..%zu bytes without NUL", key,
                            min, max);
    *ret = bo_xstrdup(json_string_value(v));
    return 0;
}

static int parse_health_check(json_t *v, struct exec_spec *s, bo_error_t *err)
{
    struct health_spec *h = &s->health;
    if (!json_is_object(v))
        return bo_error_set(err, BO_E_INVALID, "health_check: must be an object");
    const char *key;
    json_t *f;
    json_object_foreach(v, key, f)
    {
        bool known = false;
        for (size_t i = 0; i < BO_ARRAY_SIZE(health_ints); i++)
            known = known || strcmp(key, health_ints[i].name) == 0;
        for (size_t i = 0; i < BO_ARRAY_SIZE(health_strings); i++)
            known = known || strcmp(key, health_strings[i]) == 0;
        if (!known)
            return bo_error_set(err, BO_E_INVALID, "health_check.%s: unknown field", key);
    }
    const char *type = json_string_value(json_object_get(v, "type"));
    if (type && strcmp(type, "http") == 0)
        h->kind = HEALTH_HTTP;
    else if (type && strcmp(type, "tcp") == 0)
        h->kind = HEALTH_TCP;
    else if (type && strcmp(type, "shell") == 0)
        h->kind = HEALTH_SHELL;
    else
        return bo_error_set(err, BO_E_INVALID, "health_check.type: must be \"http\", \"tcp\" or \"shell\"");
    for (size_t i = 0; i < BO_ARRAY_SIZE(health_ints); i++) {
        const struct health_field *hf = &health_ints[i];
        json_t *iv = json_object_get(v, hf->name);
        if (!iv)
            return bo_error_set(err, BO_E_INVALID, "health_check.%s: required", hf->name);
        if (!json_is_integer(iv) || json_integer_value(iv) < hf->min || json_integer_value(iv) > hf->max)
            return bo_error_set(err, BO_E_INVALID, "health_check.%s: must be an integer in %lld..%lld", hf->name,
                                (long long)hf->min, (long long)hf->max);
        *(int64_t *)((char *)h + hf->off) = json_integer_value(iv);
    }
    if (health_string(v, "snooze_file", 1, 255, &h->snooze_file, err) < 0)
        return -1;
    if (h->snooze_file[0] == '/' || strstr(h->snooze_file, ".."))
        return bo_error_set(err, BO_E_INVALID, "health_check.snooze_file: must be relative, without `..`");
    if (h->kind == HEALTH_SHELL)
        return health_string(v, "command", 1, SPEC_MAX_CMDLINE, &h->command, err);
    json_t *port = json_object_get(v, "port");
    if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 65535)
        return bo_error_set(err, BO_E_INVALID, "health_check.port: must be an integer in 1..65535");
    h->port = (int)json_integer_value(port);
    if (h->kind == HEALTH_TCP)
        return 0;
    if (health_string(v, "path", 1, 1024, &h->path, err) < 0 ||
        health_string(v, "expected_body", 0, 1024, &h->expected_body, err) < 0)
        return -1;
    if (check_request_path("health_check.path", h->path, err) < 0)
        return -1;
    json_t *st = json_object_get(v, "expected_status");
    if (!json_is_integer(st) || json_integer_value(st) < 100 || json_integer_value(st) > 599)
        return bo_error_set(err, BO_E_INVALID, "health_check.expected_status: must be an integer in 100..599");
    h->expected_status = (int)json_integer_value(st);
    return 0;
}

static int parse_cwd(json_t *v, struct exec_spec *s, bo_error_t *err)
{
    if (!json_is_string(v) || json_string_value(v)[0] != '/' || json_string_length(v) > SPEC_MAX_CWD ||
        strlen(json_string_value(v)) != json_string_length(v))
        return bo_error_set(err, BO_E_INVALID, "cwd: must be an absolute path of at most %d bytes", SPEC_MAX_CWD);
    s->cwd = bo_xstrdup(json_string_value(v));
    return 0;
}

static int shutdown_path(json_t *o, const char *key, char **ret, bo_error_t *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > 1024 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return bo_error_set(err, BO_E_INVALID, "shutdown.%s: must be a string of 1..1024 bytes", key);
    *ret = bo_xstrdup(json_string_value(v));
    _cleanup_free_ char *field = bo_xasprintf("shutdown.%s", key);
    return check_request_path(field, *ret, err);
}

static int shutdown_wait(json_t *o, const char *key, int64_t *ret, bo_error_t *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > SPEC_MAX_SHUTDOWN_WAIT_MS)
        return bo_error_set(err, BO_E_INVALID, "shutdown.%s: must be an integer in 0..%d", key,
                            SPEC_MAX_SHUTDOWN_WAIT_MS);
    *ret = json_integer_value(v);
    return 0;
}

static int parse_shutdown(json_t *v, struct exec_spec *s, bo_error_t *err)
{
    static const char *const keys[] = {"port", "graceful_path", "graceful_wait_ms", "abort_path", "abort_wait_ms"};
    struct shutdown_spec *sd = &s->shutdown;
    if (!json_is_object(v))
        return bo_error_set(err, BO_E_INVALID, "shutdown: must be an object");
    const char *key;
    json_t *f;
    json_object_foreach(v, key, f)
    {
        bool known = false;
        for (size_t i = 0; i < BO_ARRAY_SIZE(keys); i++)
            known = known || strcmp(key, keys[i]) == 0;
        if (!known)
            return bo_error_set(err, BO_E_INVALID, "shutdown.%s: unknown field", key);
    }
    json_t *port = json_object_get(v, "port");
    if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 65535)
        return bo_error_set(err, BO_E_INVALID, "shutdown.port: must be an integer in 1..65535");
    sd->port = (int)json_integer_value(port);
    if (shutdown_path(v, "graceful_path", &sd->graceful_path, err) < 0 ||
        shutdown_wait(v, "graceful_wait_ms", &sd->graceful_wait_ms, err) < 0 ||
        shutdown_path(v, "abort_path", &sd->abort_path, err) < 0 ||
        shutdown_wait(v, "abort_wait_ms", &sd->abort_wait_ms, err) < 0)
        return -1;
    return 0;
}

/* The fields of task.json. Defaults of optional fields are set in
 * spec_load; they match the job model (docs/protocol.md section 1). */
static const struct spec_field {
    const char *name;
    bool required;
    int (*parse)(json_t *v, struct exec_spec *s, bo_error_t *err);
} spec_fields[] = {
    {"task_id", true, parse_task_id},
    {"processes", true, parse_processes},
    {"ordering", false, parse_ordering},
    {"kill_grace_ms", false, parse_kill_grace_ms},
    {"finalization_wait_ms", false, parse_finalization_wait_ms},
    {"max_failures", false, parse_max_failures},
    {"max_concurrency", false, parse_max_concurrency},
    {"notify_socket", false, parse_notify_socket},
    {"health_check", false, parse_health_check},
    {"cwd", false, parse_cwd},
    {"shutdown", false, parse_shutdown},
};

static int parse_root(json_t *root, struct exec_spec *s, bo_error_t *err)
{
    if (!json_is_object(root))
        return bo_error_set(err, BO_E_INVALID, "must hold a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < BO_ARRAY_SIZE(spec_fields); i++)
            known = known || strcmp(key, spec_fields[i].name) == 0;
        if (!known)
            return bo_error_set(err, BO_E_INVALID, "%s: unknown field", key);
    }
    for (size_t i = 0; i < BO_ARRAY_SIZE(spec_fields); i++) {
        const struct spec_field *f = &spec_fields[i];
        json_t *fv = json_object_get(root, f->name);
        if (!fv) {
            if (f->required)
                return bo_error_set(err, BO_E_INVALID, "%s: required", f->name);
            continue;
        }
        if (f->parse(fv, s, err) < 0)
            return -1;
    }
    return 0;
}

/* Unknown names and cycles: a task that could never start a process
 * would otherwise hang in STARTING. Fills each after_mask. */
static int check_graph(struct exec_spec *s, bo_error_t *err)
{
    struct process_graph_node nodes[SPEC_MAX_PROCESSES];
    uint64_t masks[SPEC_MAX_PROCESSES];
    for (size_t i = 0; i < s->n_procs; i++)
        nodes[i] = (struct process_graph_node){.name = s->procs[i].name, .after = s->procs[i].after,
                                               .n_after = s->procs[i].n_after, .final = s->procs[i].final};
    if (process_graph_check("processes", nodes, s->n_procs, s->sequential, masks, err) < 0)
        return -1;
    for (size_t i = 0; i < s->n_procs; i++)
        s->procs[i].after_mask = masks[i];
    return 0;
}

int spec_parse(const char *name, const char *buf, size_t len, struct exec_spec *ret, bo_error_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return bo_error_set(err, BO_E_INVALID, "`%s`: line %d column %d: %s", name, jerr.line,
                            jerr.column, jerr.text);
    struct exec_spec s = {.kill_grace_ms = SPEC_DEFAULT_GRACE_MS,
                          .finalization_wait_ms = SPEC_DEFAULT_FINALIZATION_WAIT_MS,
                          .max_failures = 1};
    int r = parse_root(root, &s, err);
    if (r == 0)
        r = check_graph(&s, err);
    json_decref(root);
    if (r < 0) {
        spec_clear(&s);
        return bo_error_wrap(err, "`%s`", name);
    }
    *ret = s;
    return 0;
}

int spec_load(const char *path, struct exec_spec *ret, bo_error_t *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (bo_read_file(path, SPEC_MAX_BYTES, &buf, &len, err) < 0)
        return -1;
    return spec_parse(path, buf, len, ret, err);
}

void spec_clear(struct exec_spec *s)
{
    for (size_t i = 0; i < s->n_procs; i++) {
        free(s->procs[i].name);
        for (size_t k = 0; s->procs[i].argv && s->procs[i].argv[k]; k++)
            free(s->procs[i].argv[k]);
        free(s->procs[i].argv);
        for (size_t k = 0; k < s->procs[i].n_after; k++)
            free(s->procs[i].after[k]);
        free(s->procs[i].after);
    }
    free(s->procs);
    free(s->task_id);
    free(s->notify_socket);
    free(s->cwd);
    free(s->health.path);
    free(s->health.expected_body);
    free(s->health.command);
    free(s->health.snooze_file);
    free(s->shutdown.graceful_path);
    free(s->shutdown.abort_path);
    *s = (struct exec_spec){0};
}
