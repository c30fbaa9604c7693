/* job.h - the job model: job keys and job/task configuration, with strict
 * JSON (de)serialisation and validation. This is the one place that knows
 * the fields and rules of docs/protocol.md section 1; the YAML loader, the
 * scheduler's API and the agent all go through it.
 *
 * A job_config is immutable once built and reference counted: the
 * scheduler's tasks share their job's config (1 pointer per task). */
#ifndef BO_MODEL_JOB_H
#define BO_MODEL_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

#define JOB_MAX_INSTANCES 4000
#define JOB_MAX_PROCESSES 64
#define JOB_NAME_MAX 64

struct job_key {
    char *cluster;
    char *role;
    char *environment;
    char *name;
};

/* Parse "cluster/role/env/name" and validate each part. */
int job_key_parse(const char *s, struct job_key *ret, bo_error_t *err);
/* Validate the parts of an already-split key (names the bad part). */
int job_key_validate(const struct job_key *k, bo_error_t *err);
/* "cluster/role/env/name", heap-allocated. */
char *job_key_str(const struct job_key *k);
void job_key_copy(struct job_key *dst, const struct job_key *src);
void job_key_clear(struct job_key *k);
/* Check one identifier part (`what` names it in the error). */
int job_ident_validate(const char *s, const char *what, bo_error_t *err);

/* Where a process's stdout and stderr go (Thermos's Logger; docs/jobs.md
 * "Process logs"). FILE: .logs/NAME/{stdout,stderr} in the sandbox;
 * CONSOLE: the executor's own stdout/stderr (the sandbox's
 * .borealis/executor.log); BOTH: the two; NONE: nowhere. ROTATE keeps each
 * file under log_size bytes and the last `backups` files before it
 * (stdout.1 the newest); only with FILE or BOTH. */
enum log_destination { LOG_DEST_FILE, LOG_DEST_CONSOLE, LOG_DEST_BOTH, LOG_DEST_NONE };
enum log_mode { LOG_MODE_STANDARD, LOG_MODE_ROTATE };

#define LOG_SIZE_MIN 1024
#define LOG_SIZE_MAX (UINT64_C(1) << 40)
#define LOG_SIZE_DEFAULT (UINT64_C(100) << 20)
#define LOG_BACKUPS_MAX 100
#define LOG_BACKUPS_DEFAULT 5

struct logging_config {
    int destination; /* enum log_destination */
    int mode;        /* enum log_mode */
    uint64_t log_size;
    int64_t backups;
};

struct process_config {
    char *name;
    char *cmdline; /* "": the image's Entrypoint and Cmd (only with an image) */
    /* Thermos's process fields (docs/jobs.md "Processes"). */
    int64_t max_failures; /* failed runs before the process fails; 0: rerun forever */
    bool daemon;          /* rerun after success too */
    bool ephemeral;       /* not awaited: the task completes without it */
    int64_t min_duration_ms; /* at least this long from one start to the next */
    bool final;           /* runs only at finalization, after the others */
    char **after;         /* names of processes that must succeed first (model/process_graph.h) */
    size_t n_after;
    struct logging_config logging;
};

enum task_ordering { ORDERING_PARALLEL, ORDERING_SEQUENTIAL };

/* A host path mounted into the task's container (Aurora's Volume, Docker's
 * --mount type=bind): allowed only under the scheduler's and the agent's
 * --host-mount-allow (model/host_mount.h). */
enum mount_mode { MOUNT_RO, MOUNT_RW };
struct mount_config {
    char *host_path;
    char *container_path;
    enum mount_mode mode;
};

/* How the executor decides that a task is healthy (Aurora's
 * health_check_config): a task is STARTING until min_consecutive_successes
 * checks in a row pass, then RUNNING; more than max_consecutive_failures
 * failures in a row (failures before initial_interval ends are forgiven
 * while it is STARTING) kill it, FAILED. docs/jobs.md "Health checks". */
enum health_check_type { HEALTH_CHECK_NONE, HEALTH_CHECK_HTTP, HEALTH_CHECK_TCP, HEALTH_CHECK_SHELL };

#define HEALTH_CHECK_PATH_MAX 1024
#define HEALTH_CHECK_BODY_MAX 1024
#define HEALTH_CHECK_SNOOZE_MAX 255

struct health_check_config {
    int type;      /* enum health_check_type */
    char *port;    /* HTTP, TCP: a port name of the task */
    char *path;    /* HTTP: "/health" */
    int64_t expected_status;
    char *expected_body; /* "" = any body */
    char *command;       /* SHELL: /bin/sh -c COMMAND (runtime variables allowed) */
    int64_t initial_interval_ms;
    int64_t interval_ms;
    int64_t timeout_ms;
    int64_t max_consecutive_failures;
    int64_t min_consecutive_successes;
    char *snooze_file; /* relative to the sandbox */
};

/* Graceful shutdown (Aurora's HttpLifecycleConfig): when the task is
 * killed and has the port, POST graceful_shutdown_endpoint to it and wait,
 * POST shutdown_endpoint and wait, then SIGTERM, kill_grace_ms, SIGKILL.
 * The whole sequence is bounded (TASK_KILL_BUDGET_MAX_MS). */
struct lifecycle_config {
    char *port;
    char *graceful_shutdown_endpoint;
    int64_t graceful_shutdown_wait_ms;
    char *shutdown_endpoint;
    int64_t shutdown_wait_ms;
};

#define TASK_KILL_BUDGET_MAX_MS 600000

struct task_config {
    double cpu;
    uint64_t ram;  /* bytes */
    uint64_t disk; /* bytes */
    char **ports;  /* sorted, unique; includes ports named in {{ports.X}} */
    size_t n_ports;
    struct process_config *processes;
    size_t n_processes;
    enum task_ordering ordering;
    int64_t kill_grace_ms;
    int64_t finalization_wait_ms; /* bound on the final processes, then SIGKILL */
    int64_t max_failures;    /* processes failed for good that fail the task; 0: none does */
    int64_t max_concurrency; /* processes running at once; 0: no limit */
    char *image; /* "" or "HOST/REPO:TAG" / "HOST/REPO@sha256:..." (the scheduler takes only digests) */
    struct mount_config *mounts; /* container paths unique */
    size_t n_mounts;
    char **env;  /* "NAME=VALUE", over the image's Env (runtime variables rendered by the agent) */
    size_t n_env;
    struct health_check_config health_check;
    struct lifecycle_config lifecycle;
};

/* One placement constraint (model/constraint.h): an agent attribute and
 * what its value must be. */
struct job_constraint {
    char *attribute;
    char *value;
};

#define JOB_MAX_CONSTRAINTS 16
#define JOB_MAX_BATCH_SIZES 100

/* Aurora's update strategies: queue keeps batch_size instances in flight;
 * batch finishes each batch of batch_size first; variable is batch with
 * the sizes of update.batch_sizes. */
enum update_strategy { UPDATE_STRATEGY_QUEUE, UPDATE_STRATEGY_BATCH, UPDATE_STRATEGY_VARIABLE };

struct job_config {
    int refs;
    struct job_key key;
    int64_t instances;
    bool service;
    int64_t max_task_failures; /* -1: forever */
    int64_t priority;
    struct task_config task;
    /* When the task's agent is lost (Aurora's PartitionPolicy): with
     * reschedule and no delay (the default) its tasks become LOST and are
     * rescheduled at once; otherwise PARTITIONED, and LOST after
     * delay_secs if reschedule, or never until the agent comes back. */
    struct {
        bool reschedule;
        int64_t delay_secs;
    } partition_policy;
    /* How many instances must stay RUNNING while a host drains (Aurora's
     * count and percentage SLA policies; 0: no requirement). */
    struct {
        int64_t count;
        int64_t percentage;
    } sla_policy;
    struct job_constraint *constraints; /* attributes unique */
    size_t n_constraints;
    /* How `borealis update start` rolls this config out (Aurora's
     * JobUpdateSettings, with its defaults). Not part of what an instance
     * runs: configs that differ only here (or in `instances`) leave the
     * instances unchanged (job_config_same_task). */
    struct {
        int64_t batch_size;
        int64_t watch_secs; /* RUNNING this long counts as updated */
        int64_t max_per_instance_failures;
        int64_t max_total_failures;
        bool rollback_on_failure;
        int strategy;                /* enum update_strategy */
        int64_t *batch_sizes;        /* variable: sizes of batch 1, 2, ...; the last repeats */
        size_t n_batch_sizes;
        bool autopause_after_batch;  /* batch, variable: pause once each batch is done */
        int64_t pulse_interval_secs; /* 0: none; else no progress without a pulse this recent */
    } update;
    /* task_config_to_json(&task) as compact text, made on the first
     * job_config_launch_text (every launch of the job's instances carries
     * it); a config is never changed once built, so it stays true. */
    char *launch_text;
};

/* Build from JSON, strictly (unknown fields, wrong types, out-of-range
 * values, leftover non-runtime template variables are errors naming the
 * field path, e.g. "task.resources.ram: must be at least 1MiB").
 * Returned config has refs == 1. */
int job_config_from_json(json_t *j, struct job_config **ret, bo_error_t *err);
json_t *job_config_to_json(const struct job_config *c);
/* Only the "task" object (what a launch carries to the agent). */
json_t *task_config_to_json(const struct task_config *t);
/* The same as JSON text (compact), kept on the config and freed with it:
 * the scheduler sends it in every launch of the config's instances. */
const char *job_config_launch_text(struct job_config *c);
int task_config_from_json(json_t *j, struct task_config *ret, bo_error_t *err);
void task_config_clear(struct task_config *t);

/* How long a kill of the task may take, all steps together: the lifecycle
 * waits when the task has the lifecycle port, plus kill_grace_ms. What the
 * scheduler gives the agent, whose backstop comes after it. */
int64_t task_config_kill_budget_ms(const struct task_config *t);
/* The task has its lifecycle port: its kill starts with the POSTs. */
bool task_config_has_lifecycle_port(const struct task_config *t);

/* A task's image must be resolved to a digest before the scheduler takes
 * it (every instance runs the same bytes): BO_E_INVALID naming the field. */
int job_config_check_image_resolved(const struct job_config *c, bo_error_t *err);
/* Every host path of the task's mounts is under an entry of `allow` (the
 * scheduler's --host-mount-allow): BO_E_INVALID naming the mount and the
 * list otherwise. */
int job_config_check_mounts_allowed(const struct job_config *c, char *const *allow, size_t n_allow,
                                    bo_error_t *err);

/* Whether an instance running `a` would run exactly the same with `b`:
 * everything but `instances` and `update` is equal. */
bool job_config_same_task(const struct job_config *a, const struct job_config *b);

struct job_config *job_config_ref(struct job_config *c);
void job_config_unref(struct job_config *c);

/* ---- The field table --------------------------------------------------
 * Every field of the job JSON, with its type, default and bounds, lives in
 * one table in job.c. job_config_from_json/to_json walk it, and the YAML
 * loader (src/config/jobfile.c) walks it to know which names are allowed
 * in which object and how to read a scalar, so there is one list. */

#define JOB_MAX_PORTS 64
#define JOB_CMDLINE_MAX 65536
#define JOB_MAX_ENV 256
#define JOB_ENV_ENTRY_MAX 32768

enum job_field_type {
    JOB_FIELD_STRING,      /* char * */
    JOB_FIELD_INT,         /* int64_t */
    JOB_FIELD_BOOL,        /* bool */
    JOB_FIELD_NUMBER,      /* double */
    JOB_FIELD_SIZE,        /* uint64_t bytes; YAML also takes units ("32MiB") */
    JOB_FIELD_DURATION,    /* int64_t ms; YAML also takes "5s", "250ms", "1m" */
    JOB_FIELD_ENUM,        /* int, one of `choices` */
    JOB_FIELD_OBJECT,      /* nested object; its fields have object == child */
    JOB_FIELD_STRING_LIST, /* char ** + size_t count */
    JOB_FIELD_OBJECT_LIST, /* array of structs + size_t count */
    JOB_FIELD_INT_LIST,    /* int64_t * + size_t count; each within elem_min..elem_max */
};

struct job_field {
    const char *object; /* containing object: "job", "task", "task.resources",
                         * "task.processes" (fields of each process) */
    const char *name;
    enum job_field_type type;
    bool required;
    const char *def;    /* default as JSON text; NULL when required */
    /* Bounds: the value (INT, SIZE, DURATION, NUMBER), the length (STRING)
     * or the number of entries (lists). */
    double min, max;
    bool min_exclusive; /* NUMBER: value must be > min */
    bool minus_one;     /* INT: -1 is also allowed (means "forever") */
    bool templated;     /* STRING: may hold {{variables}} (the YAML loader
                         * expands user variables in it) */
    /* Extra check of a string (or of each string of a list); `path` names
     * the field in the message. */
    int (*check)(const char *s, const char *path, bo_error_t *err);
    const char *const *choices; /* ENUM: NULL-terminated */
    const char *child;          /* OBJECT, OBJECT_LIST: object name of the fields */
    size_t offset;              /* of the value in the object's struct */
    size_t count_offset;        /* lists: of the size_t count */
    size_t elem_size;           /* OBJECT_LIST: sizeof one element */
    const char *help;
    bool omit_empty; /* STRING: an empty value ("", the default), lists: no entry, is left out of the JSON;
                      * OBJECT: left out when every field holds its default */
    double elem_min, elem_max; /* INT_LIST: bounds of each entry */
};

/* The whole table, in output order. */
const struct job_field *job_field_table(size_t *ret_n);
/* The field `name` of `object` ("job", "task", ...), or NULL if unknown. */
const struct job_field *job_field_find(const char *object, const char *name);

/* As job_config_from_json; on failure also returns in *ret_path (if not
 * NULL; caller frees) the path of the offending value, e.g.
 * "task.processes[0].cmdline", or "" for the whole object, so a caller that
 * read another format can point at the source position. */
int job_config_from_json_at(json_t *j, struct job_config **ret, char **ret_path, bo_error_t *err);
/* Environment names: ^(prod|devel|test|staging[0-9]*)$ */
int job_environment_validate(const char *s, const char *what, bo_error_t *err);

#endif
