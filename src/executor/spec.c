/* spec.c - strict reader of task.json: every field in one table, unknown
 * fields, wrong types and out-of-range values are errors naming the field. */
#include "executor/spec.h"

#include <jansson.h>
#include <string.h>
#include <sys/un.h>

#include "base/fs.h"
#include "base/ident.h"

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

static int parse_process(json_t *v, size_t i, struct proc *p, bo_error_t *err)
{
    if (!json_is_object(v))
        return bo_error_set(err, BO_E_INVALID, "processes[%zu]: must be an object", i);
    const char *key;
    json_t *f;
    json_object_foreach(v, key, f)
    {
        if (strcmp(key, "name") != 0 && strcmp(key, "cmdline") != 0)
            return bo_error_set(err, BO_E_INVALID, "processes[%zu].%s: unknown field", i, key);
    }
    json_t *name = json_object_get(v, "name");
    if (!name)
        return bo_error_set(err, BO_E_INVALID, "processes[%zu].name: required", i);
    if (!json_is_string(name) || !ident_ok(json_string_value(name), SPEC_MAX_NAME))
        return bo_error_set(err, BO_E_INVALID,
                            "processes[%zu].name: must be a string of 1..%d characters from "
                            "[A-Za-z0-9_.-], not `.` or `..`",
                            i, SPEC_MAX_NAME);
    json_t *cmd = json_object_get(v, "cmdline");
    if (!cmd)
        return bo_error_set(err, BO_E_INVALID, "processes[%zu].cmdline: required", i);
    if (!json_is_string(cmd) || json_string_length(cmd) == 0 ||
        json_string_length(cmd) > SPEC_MAX_CMDLINE)
        return bo_error_set(err, BO_E_INVALID,
                            "processes[%zu].cmdline: must be a non-empty string of at most %d bytes",
                            i, SPEC_MAX_CMDLINE);
    p->name = bo_xstrdup(json_string_value(name));
    p->cmdline = bo_xstrdup(json_string_value(cmd));
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
    {"notify_socket", false, parse_notify_socket},
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

int spec_parse(const char *name, const char *buf, size_t len, struct exec_spec *ret, bo_error_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return bo_error_set(err, BO_E_INVALID, "`%s`: line %d column %d: %s", name, jerr.line,
                            jerr.column, jerr.text);
    struct exec_spec s = {.kill_grace_ms = SPEC_DEFAULT_GRACE_MS};
    int r = parse_root(root, &s, err);
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
        free(s->procs[i].cmdline);
    }
    free(s->procs);
    free(s->task_id);
    free(s->notify_socket);
    *s = (struct exec_spec){0};
}
