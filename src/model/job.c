/* job.c - the job model: owns the field table of docs/protocol.md section 1
 * and the strict JSON decoding, validation and encoding driven by it. */
#include "model/job.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "base/ident.h"
#include "base/parse.h"
#include "base/timefmt.h"
#include "model/constraint.h"
#include "model/host_mount.h"
#include "model/image_ref.h"
#include "model/process_graph.h"
#include "model/task_id.h"
#include "model/template.h"

/* ---- identifiers ---------------------------------------------------- */

int job_ident_validate(const char *s, const char *what, bo_error_t *err)
{
    return bo_ident_check(s, JOB_NAME_MAX, 0, what, err);
}

int job_environment_validate(const char *s, const char *what, bo_error_t *err)
{
    static const char pattern[] = "^(prod|devel|test|staging[0-9]*)$";
    if (!*s)
        return bo_error_set(err, BO_E_INVALID, "%s must not be empty", what);
    bool ok = strcmp(s, "prod") == 0 || strcmp(s, "devel") == 0 || strcmp(s, "test") == 0;
    if (!ok && strncmp(s, "staging", 7) == 0 && strlen(s) <= JOB_NAME_MAX) {
        ok = true;
        for (const char *p = s + 7; *p; p++)
            if (*p < '0' || *p > '9')
                ok = false;
    }
    if (!ok)
        return bo_error_set(err, BO_E_INVALID, "%s `%.64s` must match %s", what, s, pattern);
    return 0;
}

static int check_ident(const char *s, const char *path, bo_error_t *err) { return job_ident_validate(s, path, err); }
static int check_env(const char *s, const char *path, bo_error_t *err)
{
    return job_environment_validate(s, path, err);
}
static int check_attribute(const char *s, const char *path, bo_error_t *err)
{
    return bo_ident_check(s, JOB_NAME_MAX, BO_IDENT_NO_DOT, path, err);
}
static int check_port(const char *s, const char *path, bo_error_t *err)
{
    return bo_ident_check(s, JOB_NAME_MAX, BO_IDENT_NO_DOT, path, err);
}

/* An HTTP request target: a path, printable ASCII without spaces (the
 * executor writes it into its request line as it is). */
static int check_http_path(const char *s, const char *path, bo_error_t *err)
{
    if (s[0] != '/')
        return bo_error_set(err, BO_E_INVALID, "%s: `%.64s` must start with `/`", path, s);
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return bo_error_set(err, BO_E_INVALID,
                                "%s: must be printable ASCII without spaces (percent-encode the rest)", path);
    return 0;
}

/* A file in the sandbox: relative, no `..`, nothing that is not a plain
 * printable name (it is shown in logs). */
static int check_sandbox_relative(const char *s, const char *path, bo_error_t *err)
{
    if (s[0] == '/')
        return bo_error_set(err, BO_E_INVALID, "%s: `%.64s` must be relative to the sandbox, not absolute", path, s);
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
            return bo_error_set(err, BO_E_INVALID, "%s: must not hold control characters", path);
    for (const char *seg = s; seg;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if ((n == 2 && strncmp(seg, "..", 2) == 0) || n == 0)
            return bo_error_set(err, BO_E_INVALID, "%s: `%.64s` must stay in the sandbox (no `..` or empty part)",
                                path, s);
        seg = slash ? slash + 1 : NULL;
    }
    return 0;
}

/* NAME=VALUE with a portable variable name (POSIX: letters, digits and
 * underscores, not starting with a digit). */
static int check_env_entry(const char *s, const char *path, bo_error_t *err)
{
    const char *eq = strchr(s, '=');
    bool ok = eq && eq != s && !(*s >= '0' && *s <= '9');
    for (const char *p = s; ok && p < eq; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_';
    if (!ok)
        return bo_error_set(err, BO_E_INVALID, "%s: `%.64s` is not NAME=VALUE (NAME: letters, digits, _)", path, s);
    if (strlen(s) > JOB_ENV_ENTRY_MAX)
        return bo_error_set(err, BO_E_INVALID, "%s: longer than %d bytes", path, JOB_ENV_ENTRY_MAX);
    return 0;
}

static int check_image(const char *s, const char *path, bo_error_t *err)
{
    struct image_ref r = {0};
    if (!*s)
        return 0;
    if (image_ref_parse(s, &r, err) < 0)
        return bo_error_wrap(err, "%s", path);
    image_ref_clear(&r);
    return 0;
}

static int check_host_path(const char *s, const char *path, bo_error_t *err)
{
    return host_mount_source_check(s, path, err);
}

static int check_container_path(const char *s, const char *path, bo_error_t *err)
{
    return host_mount_destination_check(s, path, err);
}

int job_config_check_mounts_allowed(const struct job_config *c, char *const *allow, size_t n_allow,
                                    bo_error_t *err)
{
    for (size_t i = 0; i < c->task.n_mounts; i++) {
        const char *h = c->task.mounts[i].host_path;
        if (host_mount_allowed(h, allow, n_allow))
            continue;
        _cleanup_free_ char *list = host_mount_allow_text(allow, n_allow);
        return bo_error_set(err, BO_E_INVALID,
                            "task.mounts[%zu].host_path: `%s` is not under a host path this cluster allows to mount "
                            "(the scheduler's --host-mount-allow: %s)",
                            i, h, list);
    }
    return 0;
}

int job_config_check_image_resolved(const struct job_config *c, bo_error_t *err)
{
    const char *img = c->task.image;
    if (img && *img && !strchr(img, '@'))
        return bo_error_set(err, BO_E_INVALID,
                            "task.image: `%s` names a tag; the scheduler takes only images resolved to a digest "
                            "(HOST/REPOSITORY@sha256:...), which `borealis job create` does",
                            img);
    return 0;
}

/* ---- job keys ------------------------------------------------------- */

int job_key_validate(const struct job_key *k, bo_error_t *err)
{
    if (!k->cluster || !k->role || !k->environment || !k->name)
        return bo_error_set(err, BO_E_INVALID, "job key is incomplete");
    if (job_ident_validate(k->cluster, "cluster", err) < 0 || job_ident_validate(k->role, "role", err) < 0 ||
        job_environment_validate(k->environment, "environment", err) < 0 ||
        job_ident_validate(k->name, "name", err) < 0)
        return -1;
    return 0;
}

int job_key_parse(const char *s, struct job_key *ret, bo_error_t *err)
{
    char *parts[4] = {0};
    size_t n = 0;
    const char *p = s;
    if (strlen(s) > 4 * (JOB_NAME_MAX + 1))
        return bo_error_set(err, BO_E_INVALID, "invalid job key `%.40s...`: too long", s);
    for (;;) {
        const char *slash = strchr(p, '/');
        if (n == 4)
            goto bad;
        parts[n++] = slash ? bo_xstrndup(p, (size_t)(slash - p)) : bo_xstrdup(p);
        if (!slash)
            break;
        p = slash + 1;
    }
    if (n != 4)
        goto bad;
    struct job_key k = {parts[0], parts[1], parts[2], parts[3]};
    if (job_key_validate(&k, err) < 0) {
        bo_error_wrap(err, "invalid job key `%s`", s);
        job_key_clear(&k);
        return -1;
    }
    *ret = k;
    return 0;
bad:
    for (size_t i = 0; i < n; i++)
        free(parts[i]);
    return bo_error_set(err, BO_E_INVALID, "invalid job key `%s`: expected cluster/role/environment/name", s);
}

char *job_key_str(const struct job_key *k)
{
    return bo_xasprintf("%s/%s/%s/%s", k->cluster, k->role, k->environment, k->name);
}

void job_key_copy(struct job_key *dst, const struct job_key *src)
{
    dst->cluster = bo_xstrdup(src->cluster);
    dst->role = bo_xstrdup(src->role);
    dst->environment = bo_xstrdup(src->environment);
    dst->name = bo_xstrdup(src->name);
}

void job_key_clear(struct job_key *k)
{
    free(k->cluster);
    free(k->role);
    free(k->environment);
    free(k->name);
    *k = (struct job_key){0};
}

/* ---- the field table ------------------------------------------------ */

static const char *const ordering_names[] = {"parallel", "sequential", NULL};
static const char *const mount_mode_names[] = {"ro", "rw", NULL};
/* In enum health_check_type order. */
static const char *const health_check_types[] = {"none", "http", "tcp", "shell", NULL};
/* In enum log_destination and enum log_mode order. */
static const char *const log_destination_names[] = {"file", "console", "both", "none", NULL};
static const char *const log_mode_names[] = {"standard", "rotate", NULL};
/* In enum update_strategy's order. */
static const char *const strategy_names[] = {"queue", "batch", "variable", NULL};

#define J(m) offsetof(struct job_config, m)
#define T(m) offsetof(struct task_config, m)
#define P(m) offsetof(struct process_config, m)
#define M(m) offsetof(struct mount_config, m)
#define H(m) offsetof(struct health_check_config, m)
#define L(m) offsetof(struct lifecycle_config, m)
#define G(m) offsetof(struct logging_config, m)

static const struct job_field fields[] = {
    {"job", "cluster", JOB_FIELD_STRING, true, NULL, 1, JOB_NAME_MAX, .check = check_ident,
     .offset = J(key.cluster), .help = "cluster the job runs in"},
    {"job", "role", JOB_FIELD_STRING, true, NULL, 1, JOB_NAME_MAX, .check = check_ident, .offset = J(key.role),
     .help = "owner: the Unix user tasks run as, unit of quota"},
    {"job", "environment", JOB_FIELD_STRING, true, NULL, 1, JOB_NAME_MAX, .check = check_env,
     .offset = J(key.environment), .help = "prod, devel, test or stagingN"},
    {"job", "name", JOB_FIELD_STRING, true, NULL, 1, JOB_NAME_MAX, .check = check_ident, .offset = J(key.name),
     .help = "job name"},
    {"job", "instances", JOB_FIELD_INT, false, "1", 1, JOB_MAX_INSTANCES, .offset = J(instances),
     .help = "number of instances (tasks)"},
    {"job", "service", JOB_FIELD_BOOL, false, "false", .offset = J(service),
     .help = "restart tasks whether they succeed or fail"},
    {"job", "max_task_failures", JOB_FIELD_INT, false, "1", 1, 1000, .minus_one = true,
     .offset = J(max_task_failures), .help = "failures before giving up (-1: forever); ignored by services"},
    {"job", "priority", JOB_FIELD_INT, false, "0", 0, 1000, .offset = J(priority), .help = "preemption priority"},
    {"job", "task", JOB_FIELD_OBJECT, true, NULL, .child = "task", .offset = J(task), .help = "what each instance runs"},
    {"job", "partition_policy", JOB_FIELD_OBJECT, false, "{}", .child = "partition_policy",
     .offset = J(partition_policy),
     .help = "what happens to tasks of an agent that is lost (unreachable)"},
    {"job", "constraints", JOB_FIELD_OBJECT_LIST, false, "[]", 0, JOB_MAX_CONSTRAINTS, .child = "constraints",
     .offset = J(constraints), .count_offset = J(n_constraints), .elem_size = sizeof(struct job_constraint),
     .help = "where instances may run, by agent attribute (docs/jobs.md \"Constraints\")"},
    {"constraints", "attribute", JOB_FIELD_STRING, true, NULL, 1, JOB_NAME_MAX, .check = check_attribute,
     .offset = offsetof(struct job_constraint, attribute), .help = "agent attribute (--attribute KEY:VALUE), or dedicated"},
    {"constraints", "value", JOB_FIELD_STRING, true, NULL, 1, 1024, .offset = offsetof(struct job_constraint, value),
     .help = "VALUE,VALUE... (one of), !VALUE,... (none of), limit:N (at most N per value), or ROLE/NAME (dedicated)"},
    {"job", "sla_policy", JOB_FIELD_OBJECT, false, "{}", .child = "sla_policy", .offset = J(sla_policy),
     .help = "instances that must stay RUNNING while a host drains (the larger of count and percentage)"},
    {"sla_policy", "count", JOB_FIELD_INT, false, "0", 0, JOB_MAX_INSTANCES, .offset = 0,
     .help = "at least this many instances RUNNING"},
    {"sla_policy", "percentage", JOB_FIELD_INT, false, "0", 0, 100,
     .offset = offsetof(struct job_config, sla_policy.percentage) - J(sla_policy),
     .help = "at least this percentage of the instances RUNNING (rounded up)"},
    {"job", "update", JOB_FIELD_OBJECT, false, "{}", .child = "update", .offset = J(update), .omit_empty = true,
     .help = "how `borealis update start` rolls a new config out (docs/jobs.md \"Updates\")"},
    {"update", "batch_size", JOB_FIELD_INT, false, "1", 1, JOB_MAX_INSTANCES, .offset = 0,
     .help = "instances updated at a time"},
    {"update", "watch_secs", JOB_FIELD_INT, false, "45", 0, 86400,
     .offset = offsetof(struct job_config, update.watch_secs) - J(update),
     .help = "seconds an instance must stay RUNNING to count as updated"},
    {"update", "max_per_instance_failures", JOB_FIELD_INT, false, "0", 0, 1000,
     .offset = offsetof(struct job_config, update.max_per_instance_failures) - J(update),
     .help = "failures of one instance tolerated before the instance counts as failed"},
    {"update", "max_total_failures", JOB_FIELD_INT, false, "0", 0, JOB_MAX_INSTANCES,
     .offset = offsetof(struct job_config, update.max_total_failures) - J(update),
     .help = "failed instances tolerated before the update fails"},
    {"update", "rollback_on_failure", JOB_FIELD_BOOL, false, "true",
     .offset = offsetof(struct job_config, update.rollback_on_failure) - J(update),
     .help = "a failed update rolls back to the previous config (false: it stops FAILED)"},
    {"update", "strategy", JOB_FIELD_ENUM, false, "\"queue\"", .choices = strategy_names,
     .offset = offsetof(struct job_config, update.strategy) - J(update),
     .help = "queue: batch_size instances in flight; batch: each batch done before the next; variable: batches "
             "of batch_sizes"},
    {"update", "batch_sizes", JOB_FIELD_INT_LIST, false, "[]", 0, JOB_MAX_BATCH_SIZES, .elem_min = 1,
     .elem_max = JOB_MAX_INSTANCES, .offset = offsetof(struct job_config, update.batch_sizes) - J(update),
     .count_offset = offsetof(struct job_config, update.n_batch_sizes) - J(update),
     .help = "variable: the size of each batch in turn, the last one repeating"},
    {"update", "autopause_after_batch", JOB_FIELD_BOOL, false, "false",
     .offset = offsetof(struct job_config, update.autopause_after_batch) - J(update),
     .help = "batch, variable: pause after each batch (`update resume` goes on)"},
    {"update", "pulse_interval_secs", JOB_FIELD_INT, false, "0", 0, 86400,
     .offset = offsetof(struct job_config, update.pulse_interval_secs) - J(update),
     .help = "if set, the update waits (AWAITING_PULSE) unless `update pulse` came this recently"},
    {"partition_policy", "reschedule", JOB_FIELD_BOOL, false, "true", .offset = 0,
     .help = "false: tasks stay PARTITIONED until their agent is back"},
    {"partition_policy", "delay_secs", JOB_FIELD_INT, false, "0", 0, 86400,
     .offset = offsetof(struct job_config, partition_policy.delay_secs) - J(partition_policy),
     .help = "seconds PARTITIONED before LOST and rescheduled (0 with reschedule: LOST at once)"},
    {"task", "resources", JOB_FIELD_OBJECT, true, NULL, .child = "task.resources", .offset = 0,
     .help = "resources reserved per instance"},
    {"task.resources", "cpu", JOB_FIELD_NUMBER, true, NULL, 0, 1024, .min_exclusive = true, .offset = T(cpu),
     .help = "CPU cores (fractional)"},
    {"task.resources", "ram", JOB_FIELD_SIZE, true, NULL, 1 << 20, 9.0e18, .offset = T(ram),
     .help = "memory limit in bytes"},
    {"task.resources", "disk", JOB_FIELD_SIZE, true, NULL, 0, 9.0e18, .offset = T(disk),
     .help = "disk in bytes: the sandbox (logs too) and an image's writable layer; more ends the task FAILED "
             "(0: reserved and limited by nothing)"},
    {"task", "ports", JOB_FIELD_STRING_LIST, false, "[]", 0, JOB_MAX_PORTS, .check = check_port, .offset = T(ports),
     .count_offset = T(n_ports), .help = "named ports to allocate ({{ports.NAME}} adds NAME)"},
    {"task", "ordering", JOB_FIELD_ENUM, false, "\"parallel\"", .choices = ordering_names, .offset = T(ordering),
     .help = "parallel: side by side; sequential: in order, each must succeed"},
    {"task", "kill_grace_ms", JOB_FIELD_DURATION, false, "5000", 0, 600000, .offset = T(kill_grace_ms),
     .help = "SIGTERM to SIGKILL delay"},
    {"task", "finalization_wait", JOB_FIELD_DURATION, false, "30000", 0, 600000, .offset = T(finalization_wait_ms),
     .omit_empty = true, .help = "how long the final processes may run; then everything gets SIGKILL"},
    {"task", "max_failures", JOB_FIELD_INT, false, "1", 0, JOB_MAX_PROCESSES, .offset = T(max_failures),
     .omit_empty = true,
     .help = "processes failed for good (past their own max_failures) that fail the task; 0: none does"},
    {"task", "max_concurrency", JOB_FIELD_INT, false, "0", 0, JOB_MAX_PROCESSES, .offset = T(max_concurrency),
     .omit_empty = true, .help = "at most this many processes run at once; 0: no limit"},
    {"task", "image", JOB_FIELD_STRING, false, "\"\"", 0, IMAGE_REF_MAX, .check = check_image,
     .offset = T(image), .omit_empty = true,
     .help = "container image, HOST[:PORT]/REPOSITORY:TAG or ...@sha256:DIGEST (the CLI resolves a tag to its "
             "digest at create); empty: no image"},
    {"task", "env", JOB_FIELD_STRING_LIST, false, "[]", 0, JOB_MAX_ENV, .check = check_env_entry, .templated = true,
     .offset = T(env), .count_offset = T(n_env), .omit_empty = true,
     .help = "NAME=VALUE entries for every process, over the image's Env"},
    {"task", "mounts", JOB_FIELD_OBJECT_LIST, false, "[]", 0, HOST_MOUNT_MAX, .child = "task.mounts",
     .offset = T(mounts), .count_offset = T(n_mounts), .elem_size = sizeof(struct mount_config), .omit_empty = true,
     .help = "host paths mounted into the container, each under the scheduler's and the agent's --host-mount-allow"},
    {"task.mounts", "host_path", JOB_FIELD_STRING, true, NULL, 1, HOST_MOUNT_PATH_MAX, .check = check_host_path,
     .offset = M(host_path), .help = "absolute path on the machine (symlinks resolved by the agent)"},
    {"task.mounts", "container_path", JOB_FIELD_STRING, true, NULL, 1, HOST_MOUNT_PATH_MAX,
     .check = check_container_path, .offset = M(container_path),
     .help = "absolute path in the container; not /, /proc, /sys, /dev, /sandbox or under them"},
    {"task.mounts", "mode", JOB_FIELD_ENUM, false, "\"ro\"", .choices = mount_mode_names, .offset = M(mode),
     .help = "ro: read-only; rw: the task may write"},
    {"task", "health_check", JOB_FIELD_OBJECT, false, "{}", .child = "task.health_check", .offset = T(health_check),
     .omit_empty = true, .help = "when the task is healthy: RUNNING only then, killed when it stops being so"},
    {"task.health_check", "type", JOB_FIELD_ENUM, false, "\"none\"", .choices = health_check_types,
     .offset = H(type), .help = "none (RUNNING once started), http, tcp or shell"},
    {"task.health_check", "port", JOB_FIELD_STRING, false, "\"health\"", 1, JOB_NAME_MAX, .check = check_port,
     .offset = H(port), .help = "http, tcp: the task's port to check, on 127.0.0.1"},
    {"task.health_check", "path", JOB_FIELD_STRING, false, "\"/health\"", 1, HEALTH_CHECK_PATH_MAX,
     .check = check_http_path, .offset = H(path), .help = "http: the path of the GET"},
    {"task.health_check", "expected_status", JOB_FIELD_INT, false, "200", 100, 599, .offset = H(expected_status),
     .help = "http: the status a healthy task answers"},
    {"task.health_check", "expected_body", JOB_FIELD_STRING, false, "\"ok\"", 0, HEALTH_CHECK_BODY_MAX,
     .offset = H(expected_body),
     .help = "http: the body a healthy task answers (surrounding white space ignored); empty: any"},
    {"task.health_check", "command", JOB_FIELD_STRING, false, "\"\"", 0, JOB_CMDLINE_MAX, .templated = true,
     .offset = H(command), .help = "shell: run as /bin/sh -c COMMAND in the task's container, as its user; 0 exit is healthy"},
    {"task.health_check", "initial_interval", JOB_FIELD_DURATION, false, "15000", 0, 3600000,
     .offset = H(initial_interval_ms), .help = "failures in this time after launch are forgiven while STARTING"},
    {"task.health_check", "interval", JOB_FIELD_DURATION, false, "10000", 100, 3600000, .offset = H(interval_ms),
     .help = "from the start of one check to the start of the next"},
    {"task.health_check", "timeout", JOB_FIELD_DURATION, false, "1000", 10, 60000, .offset = H(timeout_ms),
     .help = "a check not answered within this fails"},
    {"task.health_check", "max_consecutive_failures", JOB_FIELD_INT, false, "0", 0, 1000,
     .offset = H(max_consecutive_failures), .help = "one failure more than this in a row kills the task"},
    {"task.health_check", "min_consecutive_successes", JOB_FIELD_INT, false, "1", 1, 1000,
     .offset = H(min_consecutive_successes), .help = "passes in a row that make a STARTING task RUNNING"},
    {"task.health_check", "snooze_file", JOB_FIELD_STRING, false, "\".healthchecksnooze\"", 1,
     HEALTH_CHECK_SNOOZE_MAX, .check = check_sandbox_relative, .offset = H(snooze_file),
     .help = "while this file exists in the sandbox, no check runs"},
    {"task", "lifecycle", JOB_FIELD_OBJECT, false, "{}", .child = "task.lifecycle", .offset = T(lifecycle),
     .omit_empty = true,
     .help = "graceful shutdown: when killed, POSTs to the task's port before SIGTERM (all steps at most 10m)"},
    {"task.lifecycle", "port", JOB_FIELD_STRING, false, "\"health\"", 1, JOB_NAME_MAX, .check = check_port,
     .offset = L(port), .help = "the port POSTed to; a task without it goes straight to SIGTERM"},
    {"task.lifecycle", "graceful_shutdown_endpoint", JOB_FIELD_STRING, false, "\"/quitquitquit\"", 1,
     HEALTH_CHECK_PATH_MAX, .check = check_http_path, .offset = L(graceful_shutdown_endpoint),
     .help = "POSTed first"},
    {"task.lifecycle", "graceful_shutdown_wait", JOB_FIELD_DURATION, false, "5000", 0, 60000,
     .offset = L(graceful_shutdown_wait_ms), .help = "then at most this long for the task to end"},
    {"task.lifecycle", "shutdown_endpoint", JOB_FIELD_STRING, false, "\"/abortabortabort\"", 1,
     HEALTH_CHECK_PATH_MAX, .check = check_http_path, .offset = L(shutdown_endpoint),
     .help = "POSTed second"},
    {"task.lifecycle", "shutdown_wait", JOB_FIELD_DURATION, false, "5000", 0, 60000, .offset = L(shutdown_wait_ms),
     .help = "then at most this long before SIGTERM (and kill_grace_ms before SIGKILL)"},
    {"task", "processes", JOB_FIELD_OBJECT_LIST, true, NULL, 1, JOB_MAX_PROCESSES, .child = "task.processes",
     .offset = T(processes), .count_offset = T(n_processes), .elem_size = sizeof(struct process_config),
     .help = "processes of the task"},
    {"task.processes", "name", JOB_FIELD_STRING, true, NULL, 1, JOB_NAME_MAX, .check = check_ident,
     .offset = P(name), .help = "unique process name"},
    {"task.processes", "cmdline", JOB_FIELD_STRING, false, "\"\"", 0, JOB_CMDLINE_MAX, .templated = true,
     .offset = P(cmdline), .omit_empty = true,
     .help = "command line: run directly when it uses no shell syntax, else as /bin/sh -c CMDLINE; replaces the "
             "image's Cmd; empty: the image's Entrypoint and Cmd"},
    {"task.processes", "max_failures", JOB_FIELD_INT, false, "1", 0, 1000, .offset = P(max_failures),
     .omit_empty = true, .help = "failed runs before the process (and so the task) fails; 0: rerun it forever"},
    {"task.processes", "daemon", JOB_FIELD_BOOL, false, "false", .offset = P(daemon), .omit_empty = true,
     .help = "rerun it after it succeeds too"},
    {"task.processes", "ephemeral", JOB_FIELD_BOOL, false, "false", .offset = P(ephemeral), .omit_empty = true,
     .help = "the task completes without waiting for it (it is then stopped)"},
    {"task.processes", "min_duration", JOB_FIELD_DURATION, false, "5000", 0, 86400000, .offset = P(min_duration_ms),
     .omit_empty = true, .help = "at least this long from one start of the process to its rerun"},
    {"task.processes", "final", JOB_FIELD_BOOL, false, "false", .offset = P(final), .omit_empty = true,
     .help = "runs only at finalization (after the task's end or kill), in listed order"},
    {"task.processes", "after", JOB_FIELD_STRING_LIST, false, "[]", 0, JOB_MAX_PROCESSES, .check = check_ident,
     .offset = P(after), .count_offset = P(n_after), .omit_empty = true,
     .help = "processes that must have succeeded before this one starts (no cycles)"},
    {"task.processes", "logging", JOB_FIELD_OBJECT, false, "{}", .child = "task.processes.logging",
     .offset = P(logging), .omit_empty = true,
     .help = "where the process's stdout and stderr go, and their rotation (Thermos's logger)"},
    {"task.processes.logging", "destination", JOB_FIELD_ENUM, false, "\"file\"", .choices = log_destination_names,
     .offset = G(destination),
     .help = "file: .logs/NAME/ in the sandbox (`task logs`); console: the executor's output, "
             ".borealis/executor.log; both; none: discarded"},
    {"task.processes.logging", "mode", JOB_FIELD_ENUM, false, "\"standard\"", .choices = log_mode_names,
     .offset = G(mode), .help = "standard: one file per stream, growing; rotate: by size (file or both only)"},
    {"task.processes.logging", "log_size", JOB_FIELD_SIZE, false, "104857600", LOG_SIZE_MIN, (double)LOG_SIZE_MAX,
     .offset = G(log_size), .help = "rotate: each file stays at most this big"},
    {"task.processes.logging", "backups", JOB_FIELD_INT, false, "5", 1, LOG_BACKUPS_MAX, .offset = G(backups),
     .help = "rotate: rotated files kept (stdout.1 the newest); older ones are deleted"},
};

const struct job_field *job_field_table(size_t *ret_n)
{
    *ret_n = BO_ARRAY_SIZE(fields);
    return fields;
}

const struct job_field *job_field_find(const char *object, const char *name)
{
    for (size_t i = 0; i < BO_ARRAY_SIZE(fields); i++)
        if (strcmp(fields[i].object, object) == 0 && strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

/* ---- decoding ------------------------------------------------------- */

struct dec {
    char *bad_path; /* path of the value that failed */
};

/* "task" + "ram" -> "task.ram"; "" + "name" -> "name". */
static char *path_join(const char *path, const char *name)
{
    return *path ? bo_xasprintf("%s.%s", path, name) : bo_xstrdup(name);
}

static int fail(struct dec *d, const char *path, bo_error_t *err, const char *fmt, ...) BO_PRINTF(4, 5);
static int fail(struct dec *d, const char *path, bo_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *m = bo_xvasprintf(fmt, ap);
    va_end(ap);
    if (!d->bad_path)
        d->bad_path = bo_xstrdup(path);
    return bo_error_set(err, BO_E_INVALID, "%s: %s", *path ? path : "job", m);
}

/* A check function already names the field. */
static int fail_checked(struct dec *d, const char *path, int r)
{
    if (r < 0 && !d->bad_path)
        d->bad_path = bo_xstrdup(path);
    return r;
}

static const char *type_text(enum job_field_type t)
{
    switch (t) {
    case JOB_FIELD_STRING:
    case JOB_FIELD_ENUM:
        return "a string";
    case JOB_FIELD_INT:
        return "an integer";
    case JOB_FIELD_BOOL:
        return "true or false";
    case JOB_FIELD_NUMBER:
        return "a number";
    case JOB_FIELD_SIZE:
        return "an integer number of bytes";
    case JOB_FIELD_DURATION:
        return "an integer number of milliseconds";
    case JOB_FIELD_OBJECT:
        return "an object";
    case JOB_FIELD_STRING_LIST:
        return "a list of strings";
    case JOB_FIELD_OBJECT_LIST:
        return "a list of objects";
    case JOB_FIELD_INT_LIST:
        return "a list of integers";
    }
    return "?";
}

/* `bounded`: the field's min/max are the string's length (for a list they
 * count entries instead). */
static int decode_string(struct dec *d, const struct job_field *f, const char *path, json_t *v, bool bounded,
                         char **ret, bo_error_t *err)
{
    if (!json_is_string(v))
        return fail(d, path, err, "must be a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (strlen(s) != n)
        return fail(d, path, err, "must not contain NUL characters");
    if (f->check && fail_checked(d, path, f->check(s, path, err)) < 0)
        return -1;
    if (bounded && n < f->min)
        return fail(d, path, err, "must not be empty");
    if (bounded && n > f->max)
        return fail(d, path, err, "must be at most %.0f bytes long", f->max);
    *ret = bo_xstrdup(s);
    return 0;
}

static int decode_object(struct dec *d, const char *object, const char *path, json_t *obj, void *base,
                         bo_error_t *err);

static int decode_field(struct dec *d, const struct job_field *f, const char *path, json_t *v, void *base,
                        bo_error_t *err)
{
    char *at = (char *)base + f->offset;
    switch (f->type) {
    case JOB_FIELD_STRING:
        return decode_string(d, f, path, v, true, (char **)at, err);
    case JOB_FIELD_INT:
    case JOB_FIELD_DURATION: {
        if (!json_is_integer(v))
            return fail(d, path, err, "must be %s", type_text(f->type));
        json_int_t i = json_integer_value(v);
        if (f->minus_one && i == -1) {
            *(int64_t *)at = -1;
            return 0;
        }
        if ((double)i < f->min || (double)i > f->max) {
            if (f->minus_one)
                return fail(d, path, err, "must be -1 (forever) or between %.0f and %.0f", f->min, f->max);
            return fail(d, path, err, "must be between %.0f and %.0f", f->min, f->max);
        }
        *(int64_t *)at = i;
        return 0;
    }
    case JOB_FIELD_BOOL:
        if (!json_is_boolean(v))
            return fail(d, path, err, "must be true or false");
        *(bool *)at = json_is_true(v);
        return 0;
    case JOB_FIELD_NUMBER: {
        if (!json_is_number(v))
            return fail(d, path, err, "must be a number");
        double x = json_number_value(v);
        if (!isfinite(x) || (f->min_exclusive ? x <= f->min : x < f->min) || x > f->max)
            return fail(d, path, err, "must be %s %g and at most %g",
                        f->min_exclusive ? "greater than" : "at least", f->min, f->max);
        *(double *)at = x;
        return 0;
    }
    case JOB_FIELD_SIZE: {
        if (!json_is_integer(v))
            return fail(d, path, err, "must be an integer number of bytes");
        json_int_t i = json_integer_value(v);
        if (i < 0)
            return fail(d, path, err, "must not be negative");
        if ((double)i < f->min) {
            char buf[32];
            bo_format_size((uint64_t)f->min, buf, sizeof(buf));
            return fail(d, path, err, "must be at least %s", buf);
        }
        if ((double)i > f->max)
            return fail(d, path, err, "is too large");
        *(uint64_t *)at = (uint64_t)i;
        return 0;
    }
    case JOB_FIELD_ENUM: {
        if (!json_is_string(v))
            return fail(d, path, err, "must be a string");
        for (int i = 0; f->choices[i]; i++)
            if (strcmp(json_string_value(v), f->choices[i]) == 0) {
                *(int *)at = i;
                return 0;
            }
        char list[256] = "";
        for (int i = 0; f->choices[i]; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"", i ? " or " : "",
                     f->choices[i]);
        return fail(d, path, err, "must be %s, not \"%.64s\"", list, json_string_value(v));
    }
    case JOB_FIELD_OBJECT:
        return decode_object(d, f->child, path, v, at, err);
    case JOB_FIELD_INT_LIST: {
        if (!json_is_array(v))
            return fail(d, path, err, "must be %s", type_text(f->type));
        size_t n = json_array_size(v);
        if ((double)n < f->min || (double)n > f->max)
            return fail(d, path, err, "must have at most %.0f entries", f->max);
        int64_t *arr = bo_xcalloc(n + 1, sizeof(*arr));
        *(int64_t **)at = arr;
        *(size_t *)((char *)base + f->count_offset) = n;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(v, i);
            if (!json_is_integer(e) || (double)json_integer_value(e) < f->elem_min ||
                (double)json_integer_value(e) > f->elem_max) {
                _cleanup_free_ char *ipath = bo_xasprintf("%s[%zu]", path, i);
                return fail(d, ipath, err, "must be an integer between %.0f and %.0f", f->elem_min, f->elem_max);
            }
            arr[i] = json_integer_value(e);
        }
        return 0;
    }
    case JOB_FIELD_STRING_LIST:
    case JOB_FIELD_OBJECT_LIST: {
        if (!json_is_array(v))
            return fail(d, path, err, "must be %s", type_text(f->type));
        size_t n = json_array_size(v);
        if ((double)n < f->min || (double)n > f->max) {
            if (f->min > 0)
                return fail(d, path, err, "must have between %.0f and %.0f entries", f->min, f->max);
            return fail(d, path, err, "must have at most %.0f entries", f->max);
        }
        size_t esz = f->type == JOB_FIELD_STRING_LIST ? sizeof(char *) : f->elem_size;
        /* Stored (with its count) before decoding the entries, so the
         * owner's clear function frees what was decoded on failure. */
        char *arr = bo_xcalloc(n + 1, esz);
        *(char **)at = arr;
        *(size_t *)((char *)base + f->count_offset) = n;
        for (size_t i = 0; i < n; i++) {
            _cleanup_free_ char *ipath = bo_xasprintf("%s[%zu]", path, i);
            json_t *e = json_array_get(v, i);
            int r;
            if (f->type == JOB_FIELD_STRING_LIST)
                r = decode_string(d, f, ipath, e, false, (char **)(arr + i * esz), err);
            else
                r = decode_object(d, f->child, ipath, e, arr + i * esz, err);
            if (r < 0)
                return r;
        }
        return 0;
    }
    }
    return fail(d, path, err, "unsupported field type");
}

static int decode_object(struct dec *d, const char *object, const char *path, json_t *obj, void *base,
                         bo_error_t *err)
{
    if (!json_is_object(obj))
        return fail(d, path, err, "must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (!job_field_find(object, key)) {
            _cleanup_free_ char *fp = path_join(path, key);
            if (!d->bad_path)
                d->bad_path = bo_xstrdup(path);
            return bo_error_set(err, BO_E_INVALID, "unknown field `%.200s`", fp);
        }
    }
    for (size_t i = 0; i < BO_ARRAY_SIZE(fields); i++) {
        const struct job_field *f = &fields[i];
        if (strcmp(f->object, object) != 0)
            continue;
        _cleanup_free_ char *fp = path_join(path, f->name);
        v = json_object_get(obj, f->name);
        json_t *def = NULL;
        if (!v) {
            if (f->required)
                return fail(d, fp, err, "is required");
            v = def = json_loads(f->def, JSON_DECODE_ANY, NULL);
            if (!def)
                return fail(d, fp, err, "bad default (bug)");
        }
        int r = decode_field(d, f, fp, v, base, err);
        json_decref(def);
        if (r < 0)
            return r;
    }
    return 0;
}

static int cmp_strp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every {{ports.X}} of `s` (the field at `spath`) requests port X, and `s`
 * holds only runtime variables. */
static int add_runtime_ports(struct dec *d, const char *spath, const char *path, const char *s, struct task_config *t,
                             bo_error_t *err)
{
    char **names = NULL;
    size_t n = 0;
    if (template_scan_runtime(s, &names, &n, err) < 0) {
        if (!d->bad_path)
            d->bad_path = bo_xstrdup(spath);
        return bo_error_wrap(err, "%s", spath);
    }
    for (size_t k = 0; k < n; k++) {
        bool known = false;
        for (size_t p = 0; p < t->n_ports && !known; p++)
            known = strcmp(t->ports[p], names[k]) == 0;
        if (known)
            continue;
        if (t->n_ports >= JOB_MAX_PORTS) {
            /* Not template_strv_free: the names taken are NULL. */
            for (size_t q = 0; q < n; q++)
                free(names[q]);
            free(names);
            _cleanup_free_ char *p = bo_xasprintf("%s.ports", path);
            return fail(d, p, err, "more than %d ports", JOB_MAX_PORTS);
        }
        t->ports = bo_xrealloc(t->ports, (t->n_ports + 2) * sizeof(char *));
        t->ports[t->n_ports++] = BO_STEAL(names[k]);
        t->ports[t->n_ports] = NULL;
    }
    for (size_t k = 0; k < n; k++)
        free(names[k]); /* the known ones; the others were taken */
    free(names);
    return 0;
}

static bool object_is_default(const char *object, const void *base);

static bool has_port(const struct task_config *t, const char *name)
{
    for (size_t i = 0; i < t->n_ports; i++)
        if (strcmp(t->ports[i], name) == 0)
            return true;
    return false;
}

bool task_config_has_lifecycle_port(const struct task_config *t)
{
    return t->lifecycle.port && has_port(t, t->lifecycle.port);
}

int64_t task_config_kill_budget_ms(const struct task_config *t)
{
    int64_t ms = t->kill_grace_ms;
    if (task_config_has_lifecycle_port(t))
        ms += t->lifecycle.graceful_shutdown_wait_ms + t->lifecycle.shutdown_wait_ms;
    /* Final processes run after the kill, within finalization_wait. */
    for (size_t i = 0; i < t->n_processes; i++)
        if (t->processes[i].final)
            return ms + t->finalization_wait_ms;
    return ms;
}

/* The default port (`health`) may be absent: such a task goes straight to
 * SIGTERM, as in Aurora. A port named on purpose must exist. The whole
 * kill sequence is bounded. */
static int lifecycle_finish(struct dec *d, const char *path, const struct task_config *t, bo_error_t *err)
{
    const struct lifecycle_config *l = &t->lifecycle;
    if (strcmp(l->port, "health") != 0 && !has_port(t, l->port)) {
        _cleanup_free_ char *p = bo_xasprintf("%s.lifecycle.port", path);
        return fail(d, p, err, "`%s` is not a port of the task: list it in %s.ports (or use {{ports.%s}} in a cmdline)",
                    l->port, path, l->port);
    }
    int64_t total = l->graceful_shutdown_wait_ms + l->shutdown_wait_ms + t->kill_grace_ms;
    if (total > TASK_KILL_BUDGET_MAX_MS) {
        char a[32], b[32], c[32], all[32];
        bo_format_duration(l->graceful_shutdown_wait_ms, a, sizeof(a));
        bo_format_duration(l->shutdown_wait_ms, b, sizeof(b));
        bo_format_duration(t->kill_grace_ms, c, sizeof(c));
        bo_format_duration(TASK_KILL_BUDGET_MAX_MS, all, sizeof(all));
        _cleanup_free_ char *p = bo_xasprintf("%s.lifecycle", path);
        return fail(d, p, err,
                    "graceful_shutdown_wait (%s) + shutdown_wait (%s) + kill_grace_ms (%s) must be at most %s in all", a,
                    b, c, all);
    }
    return 0;
}

/* The health check's fields fit its type, and its port is one of the
 * task's (after the ports the cmdlines name were added). */
static int health_check_finish(struct dec *d, const char *path, const struct task_config *t, bo_error_t *err)
{
    const struct health_check_config *h = &t->health_check;
    _cleanup_free_ char *hp = bo_xasprintf("%s.health_check", path);
    if (h->type == HEALTH_CHECK_NONE) {
        if (!object_is_default("task.health_check", h)) {
            _cleanup_free_ char *p = bo_xasprintf("%s.type", hp);
            return fail(d, p, err, "is none, yet other health_check fields are set: say http, tcp or shell");
        }
        return 0;
    }
    if (h->type == HEALTH_CHECK_SHELL && !*h->command) {
        _cleanup_free_ char *p = bo_xasprintf("%s.command", hp);
        return fail(d, p, err, "is required when type is shell");
    }
    if (h->type != HEALTH_CHECK_SHELL && *h->command) {
        _cleanup_free_ char *p = bo_xasprintf("%s.command", hp);
        return fail(d, p, err, "is only for type shell");
    }
    if (h->type == HEALTH_CHECK_HTTP || h->type == HEALTH_CHECK_TCP) {
        bool known = false;
        for (size_t i = 0; i < t->n_ports && !known; i++)
            known = strcmp(t->ports[i], h->port) == 0;
        if (!known) {
            _cleanup_free_ char *p = bo_xasprintf("%s.port", hp);
            return fail(d, p, err,
                        "`%s` is not a port of the task: list it in %s.ports (or use {{ports.%s}} in a cmdline)",
                        h->port, path, h->port);
        }
    }
    return 0;
}

/* The processes' `after` lists and ordering form a graph without cycles
 * (model/process_graph.h). */
static int process_order_check(struct dec *d, const char *path, struct task_config *t, bo_error_t *err)
{
    struct process_graph_node nodes[JOB_MAX_PROCESSES];
    for (size_t i = 0; i < t->n_processes; i++)
        nodes[i] = (struct process_graph_node){.name = t->processes[i].name, .after = t->processes[i].after,
                                               .n_after = t->processes[i].n_after, .final = t->processes[i].final};
    _cleanup_free_ char *what = bo_xasprintf("%s.processes", path);
    if (process_graph_check(what, nodes, t->n_processes, t->ordering == ORDERING_SEQUENTIAL, NULL, err) < 0) {
        if (!d->bad_path)
            d->bad_path = bo_xstrdup(what);
        return -1;
    }
    return 0;
}

/* Rules across fields of a task: unique process and port names, cmdlines
 * hold only runtime variables, and every {{ports.X}} requests port X. */
static int task_finish(struct dec *d, const char *path, struct task_config *t, bo_error_t *err)
{
    /* Two entries would be one port: a typo the user should see, not a
     * silent merge. */
    for (size_t i = 0; i < t->n_ports; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->ports[i], t->ports[j]) == 0) {
                _cleanup_free_ char *p = bo_xasprintf("%s.ports[%zu]", path, i);
                return fail(d, p, err, "duplicate port name `%s` (also ports[%zu])", t->ports[i], j);
            }
    for (size_t i = 0; i < t->n_mounts; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->mounts[i].container_path, t->mounts[j].container_path) == 0) {
                _cleanup_free_ char *p = bo_xasprintf("%s.mounts[%zu].container_path", path, i);
                return fail(d, p, err, "`%s` is mounted twice (also mounts[%zu])", t->mounts[i].container_path, j);
            }
    for (size_t i = 0; i < t->n_processes; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->processes[i].name, t->processes[j].name) == 0) {
                _cleanup_free_ char *p = bo_xasprintf("%s.processes[%zu].name", path, i);
                return fail(d, p, err, "duplicate process name `%s`", t->processes[i].name);
            }
    }
    if (process_order_check(d, path, t, err) < 0)
        return -1;
    for (size_t i = 0; i < t->n_processes; i++) {
        const struct logging_config *g = &t->processes[i].logging;
        _cleanup_free_ char *p = bo_xasprintf("%s.processes[%zu].logging", path, i);
        if (g->mode == LOG_MODE_ROTATE && g->destination != LOG_DEST_FILE && g->destination != LOG_DEST_BOTH)
            return fail(d, p, err, "mode rotate needs destination file or both, not %s (nothing is written to files)",
                        log_destination_names[g->destination]);
        if (g->mode != LOG_MODE_ROTATE && (g->log_size != LOG_SIZE_DEFAULT || g->backups != LOG_BACKUPS_DEFAULT))
            return fail(d, p, err, "log_size and backups apply to mode rotate only: say mode: rotate");
    }
    /* Without an image nothing says what an empty cmdline would run. */
    for (size_t i = 0; i < t->n_processes; i++)
        if (!*t->processes[i].cmdline && (!t->image || !*t->image)) {
            _cleanup_free_ char *p = bo_xasprintf("%s.processes[%zu].cmdline", path, i);
            return fail(d, p, err, "is required when the task has no image (with one, an empty cmdline runs the "
                        "image's Entrypoint and Cmd)");
        }
    for (size_t i = 0; i < t->n_processes; i++) {
        _cleanup_free_ char *p = bo_xasprintf("%s.processes[%zu].cmdline", path, i);
        if (add_runtime_ports(d, p, path, t->processes[i].cmdline, t, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < t->n_env; i++) {
        _cleanup_free_ char *p = bo_xasprintf("%s.env[%zu]", path, i);
        if (add_runtime_ports(d, p, path, t->env[i], t, err) < 0)
            return -1;
    }
    if (t->health_check.type == HEALTH_CHECK_SHELL) {
        _cleanup_free_ char *p = bo_xasprintf("%s.health_check.command", path);
        if (add_runtime_ports(d, p, path, t->health_check.command, t, err) < 0)
            return -1;
    }
    /* Unique by now (checked above, and a {{ports.X}} is added only when X
     * is not listed yet); sorted so that equal tasks encode equally. */
    if (t->n_ports > 1)
        qsort(t->ports, t->n_ports, sizeof(char *), cmp_strp);
    if (health_check_finish(d, path, t, err) < 0)
        return -1;
    return lifecycle_finish(d, path, t, err);
}

void task_config_clear(struct task_config *t)
{
    for (size_t i = 0; i < t->n_ports; i++)
        free(t->ports[i]);
    free(t->ports);
    for (size_t i = 0; i < t->n_processes; i++) {
        free(t->processes[i].name);
        free(t->processes[i].cmdline);
        for (size_t k = 0; k < t->processes[i].n_after; k++)
            free(t->processes[i].after[k]);
        free(t->processes[i].after);
    }
    free(t->processes);
    for (size_t i = 0; i < t->n_mounts; i++) {
        free(t->mounts[i].host_path);
        free(t->mounts[i].container_path);
    }
    free(t->mounts);
    free(t->image);
    for (size_t i = 0; i < t->n_env; i++)
        free(t->env[i]);
    free(t->env);
    free(t->health_check.port);
    free(t->health_check.path);
    free(t->health_check.expected_body);
    free(t->health_check.command);
    free(t->health_check.snooze_file);
    free(t->lifecycle.port);
    free(t->lifecycle.graceful_shutdown_endpoint);
    free(t->lifecycle.shutdown_endpoint);
    *t = (struct task_config){0};
}

static int task_decode(struct dec *d, json_t *j, struct task_config *t, bo_error_t *err)
{
    if (decode_object(d, "task", "task", j, t, err) < 0 || task_finish(d, "task", t, err) < 0)
        return -1;
    return 0;
}

int task_config_from_json(json_t *j, struct task_config *ret, bo_error_t *err)
{
    struct dec d = {0};
    struct task_config t = {0};
    int r = task_decode(&d, j, &t, err);
    free(d.bad_path);
    if (r < 0) {
        task_config_clear(&t);
        return r;
    }
    *ret = t;
    return 0;
}

/* Each constraint's value in its grammar, each attribute once, and a
 * dedicated role the job's own (or `*`). */
static int constraints_finish(struct dec *d, const struct job_config *c, bo_error_t *err)
{
    for (size_t i = 0; i < c->n_constraints; i++) {
        const struct job_constraint *k = &c->constraints[i];
        _cleanup_free_ char *p = bo_xasprintf("constraints[%zu].value", i);
        if (fail_checked(d, p, constraint_value_check(k->attribute, k->value, p, err)) < 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->constraints[j].attribute, k->attribute) == 0) {
                _cleanup_free_ char *pa = bo_xasprintf("constraints[%zu].attribute", i);
                return fail(d, pa, err, "`%.64s` is constrained twice (constraints[%zu] too)", k->attribute, j);
            }
        if (strcmp(k->attribute, CONSTRAINT_DEDICATED) == 0) {
            size_t rl = strlen(c->key.role);
            if (!(strncmp(k->value, "*/", 2) == 0 ||
                  (strncmp(k->value, c->key.role, rl) == 0 && k->value[rl] == '/')))
                return fail(d, p, err, "`%.64s` is another role's: a dedicated value is ROLE/NAME with the job's role "
                            "(%s) or *", k->value, c->key.role);
        }
    }
    return 0;
}

static void job_config_free(struct job_config *c)
{
    for (size_t i = 0; i < c->n_constraints; i++) {
        free(c->constraints[i].attribute);
        free(c->constraints[i].value);
    }
    free(c->constraints);
    free(c->update.batch_sizes);
    job_key_clear(&c->key);
    task_config_clear(&c->task);
    free(c->launch_text);
    free(c);
}

int job_config_from_json_at(json_t *j, struct job_config **ret, char **ret_path, bo_error_t *err)
{
    struct dec d = {0};
    struct job_config *c = bo_xcalloc(1, sizeof(*c));
    c->refs = 1;
    int r = -1;
    if (!json_is_object(j)) {
        fail(&d, "", err, "must be an object");
        goto out;
    }
    if (decode_object(&d, "job", "", j, c, err) < 0)
        goto out;
    if (task_id_check_key(&c->key, err) < 0) {
        d.bad_path = bo_xstrdup("name");
        goto out;
    }
    r = task_finish(&d, "task", &c->task, err);
    if (r == 0)
        r = constraints_finish(&d, c, err);
out:
    if (r < 0) {
        if (ret_path)
            *ret_path = d.bad_path ? BO_STEAL(d.bad_path) : bo_xstrdup("");
        free(d.bad_path);
        job_config_free(c);
        return r;
    }
    free(d.bad_path);
    *ret = c;
    return 0;
}

int job_config_from_json(json_t *j, struct job_config **ret, bo_error_t *err)
{
    return job_config_from_json_at(j, ret, NULL, err);
}

struct job_config *job_config_ref(struct job_config *c)
{
    if (c)
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

bool job_config_same_task(const struct job_config *a, const struct job_config *b)
{
    if (a == b)
        return true;
    json_t *ja = job_config_to_json(a), *jb = job_config_to_json(b);
    json_object_del(ja, "instances");
    json_object_del(jb, "instances");
    json_object_del(ja, "update");
    json_object_del(jb, "update");
    bool same = json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return same;
}

void job_config_unref(struct job_config *c)
{
    if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
        job_config_free(c);
}

/* ---- encoding ------------------------------------------------------- */

static json_t *encode_object(const char *object, const void *base);

static json_t *encode_field(const struct job_field *f, const void *base)
{
    const char *at = (const char *)base + f->offset;
    switch (f->type) {
    case JOB_FIELD_STRING: {
        const char *s = *(char *const *)at;
        return json_string(s ? s : "");
    }
    case JOB_FIELD_INT:
    case JOB_FIELD_DURATION:
        return json_integer(*(const int64_t *)at);
    case JOB_FIELD_BOOL:
        return json_boolean(*(const bool *)at);
    case JOB_FIELD_NUMBER:
        return json_real(*(const double *)at);
    case JOB_FIELD_SIZE:
        return json_integer((json_int_t) * (const uint64_t *)at);
    case JOB_FIELD_ENUM: {
        int i = *(const int *)at, n = 0;
        while (f->choices[n])
            n++;
        return json_string(i >= 0 && i < n ? f->choices[i] : "");
    }
    case JOB_FIELD_OBJECT:
        return encode_object(f->child, at);
    case JOB_FIELD_INT_LIST: {
        json_t *a = json_array();
        const int64_t *arr = *(int64_t *const *)at;
        size_t n = *(const size_t *)((const char *)base + f->count_offset);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_integer(arr[i]));
        return a;
    }
    case JOB_FIELD_STRING_LIST:
    case JOB_FIELD_OBJECT_LIST: {
        json_t *a = json_array();
        const char *arr = *(char *const *)at;
        size_t n = *(const size_t *)((const char *)base + f->count_offset);
        for (size_t i = 0; i < n; i++) {
            if (f->type == JOB_FIELD_STRING_LIST)
                json_array_append_new(a, json_string(((char *const *)arr)[i]));
            else
                json_array_append_new(a, encode_object(f->child, arr + i * f->elem_size));
        }
        return a;
    }
    }
    return json_null();
}

static bool is_scalar(enum job_field_type t)
{
    return t == JOB_FIELD_INT || t == JOB_FIELD_BOOL || t == JOB_FIELD_DURATION || t == JOB_FIELD_NUMBER ||
           t == JOB_FIELD_SIZE || t == JOB_FIELD_ENUM;
}

static bool field_is_default(const struct job_field *f, const void *base)
{
    json_t *def = json_loads(f->def, JSON_DECODE_ANY, NULL);
    json_t *v = encode_field(f, base);
    bool same = def && json_equal(def, v);
    json_decref(def);
    json_decref(v);
    return same;
}

static json_t *encode_object(const char *object, const void *base)
{
    json_t *o = json_object();
    for (size_t i = 0; i < BO_ARRAY_SIZE(fields); i++)
        if (strcmp(fields[i].object, object) == 0) {
            const struct job_field *f = &fields[i];
            if (f->omit_empty && f->type == JOB_FIELD_STRING) {
                const char *v = *(char *const *)((const char *)base + f->offset);
                if (!v || !*v)
                    continue;
            }
            if (f->omit_empty && (f->type == JOB_FIELD_OBJECT_LIST || f->type == JOB_FIELD_STRING_LIST) &&
                *(const size_t *)((const char *)base + f->count_offset) == 0)
                continue;
            if (f->omit_empty && f->type == JOB_FIELD_OBJECT && object_is_default(f->child, (const char *)base + f->offset))
                continue;
            if (f->omit_empty && f->def && is_scalar(f->type) && field_is_default(f, base))
                continue;
            json_object_set_new(o, f->name, encode_field(f, base));
        }
    return o;
}

/* Every field of `object` at `base` encodes as its default does. */
static bool object_is_default(const char *object, const void *base)
{
    for (size_t i = 0; i < BO_ARRAY_SIZE(fields); i++) {
        const struct job_field *f = &fields[i];
        if (strcmp(f->object, object) != 0)
            continue;
        if (f->type == JOB_FIELD_OBJECT) {
            if (!object_is_default(f->child, (const char *)base + f->offset))
                return false;
            continue;
        }
        if (!f->def)
            return false;
        json_t *def = json_loads(f->def, JSON_DECODE_ANY, NULL);
        json_t *v = encode_field(f, base);
        bool same = def && json_equal(def, v);
        json_decref(def);
        json_decref(v);
        if (!same)
            return false;
    }
    return true;
}

json_t *job_config_to_json(const struct job_config *c) { return encode_object("job", c); }

json_t *task_config_to_json(const struct task_config *t) { return encode_object("task", t); }

const char *job_config_launch_text(struct job_config *c)
{
    if (!c->launch_text) {
        json_t *j = task_config_to_json(&c->task);
        c->launch_text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        /* Strings of a config come from parsed JSON, so valid UTF-8; were
         * one not, the agent would refuse this launch, not the answer. */
        if (!c->launch_text)
            c->launch_text = bo_xstrdup("null");
    }
    return c->launch_text;
}
