/* task_id.c - task ids and their shared length limit (see task_id.h). */
#include "model/task_id.h"

#include <string.h>

#include "base/clock.h"
#include "base/ident.h"
#include "base/util.h"

_Static_assert(JOB_MAX_INSTANCES <= 10000, "TASK_ID_KEY_MAX counts 4 digits per instance");

char *task_id_new(const struct job_key *k, int32_t instance)
{
    char uuid[37];
    bo_uuid4(uuid);
    return bo_xasprintf("%s-%s-%s-%d-%s", k->role, k->environment, k->name, instance, uuid);
}

int task_id_check_key(const struct job_key *k, bo_error_t *err)
{
    size_t n = strlen(k->role) + strlen(k->environment) + strlen(k->name);
    if (n <= TASK_ID_KEY_MAX)
        return 0;
    return bo_error_set(err, BO_E_INVALID,
                        "job key `%s/%s/%s/%s`: role, environment and name are %zu characters together, "
                        "at most %d fit in a task id (ROLE-ENVIRONMENT-NAME-INSTANCE-UUID, at most %d "
                        "characters)",
                        k->cluster, k->role, k->environment, k->name, n, TASK_ID_KEY_MAX, TASK_ID_MAX);
}

int task_id_validate(const char *id, bo_error_t *err)
{
    return bo_ident_check(id, TASK_ID_MAX, 0, "task id", err);
}
