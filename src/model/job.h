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

struct process_config {
    char *name;
    char *cmdline;
};

enum task_ordering { ORDERING_PARALLEL, ORDERING_SEQUENTIAL };

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
};

struct job_config {
    int refs;
    struct job_key key;
    int64_t instances;
    bool service;
    int64_t max_task_failures; /* -1: forever */
    int64_t priority;
    struct task_config task;
};

/* Build from JSON, strictly (unknown fields, wrong types, out-of-range
 * values, leftover non-runtime template variables are errors naming the
 * field path, e.g. "task.resources.ram: must be at least 1MiB").
 * Returned config has refs == 1. */
int job_config_from_json(json_t *j, struct job_config **ret, bo_error_t *err);
json_t *job_config_to_json(const struct job_config *c);
/* Only the "task" object (what a launch carries to the agent). */
json_t *task_config_to_json(const struct task_config *t);
int task_config_from_json(json_t *j, struct task_config *ret, bo_error_t *err);
void task_config_clear(struct task_config *t);

struct job_config *job_config_ref(struct job_config *c);
void job_config_unref(struct job_config *c);

#endif
