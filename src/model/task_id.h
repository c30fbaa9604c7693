/* task_id.h - task ids: ROLE-ENVIRONMENT-NAME-INSTANCE-UUID (Aurora's
 * shape), and the one length limit the scheduler (which makes them) and
 * the agent (which makes a sandbox folder and a cgroup of each) share. A
 * job whose key cannot fit in that limit is refused when it is created:
 * otherwise the agent would refuse every launch and the task would never
 * run. */
#ifndef BO_MODEL_TASK_ID_H
#define BO_MODEL_TASK_ID_H

#include <stdint.h>

#include "base/error.h"
#include "model/job.h"

/* Longest task id, in characters: well inside a file name (255) and a
 * cgroup name, with room for the agent's own suffixes. */
#define TASK_ID_MAX 200
/* What the key's role, environment and name may take together: the rest
 * is four `-`, the instance (at most 4 digits, JOB_MAX_INSTANCES) and the
 * 36-character UUID. */
#define TASK_ID_KEY_MAX (TASK_ID_MAX - 4 - 4 - 36)

/* A new, unique id for instance `instance` of the job `k`. */
char *task_id_new(const struct job_key *k, int32_t instance);
/* Refuses a key whose task ids would be longer than TASK_ID_MAX, with an
 * error naming the key and the limit. */
int task_id_check_key(const struct job_key *k, bo_error_t *err);
/* A task id received from elsewhere (the agent's launch commands): the
 * identifier rule with TASK_ID_MAX. */
int task_id_validate(const char *id, bo_error_t *err);

#endif
