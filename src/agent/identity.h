/* identity.h - the agent id: a UUID kept in DATA/agent-id, created on the
 * first start and reused, so the scheduler recognises a restarted agent. */
#ifndef BO_AGENT_IDENTITY_H
#define BO_AGENT_IDENTITY_H

#include "base/error.h"

int identity_load_or_create(const char *data_dir, char ret[37], bo_error_t *err);

#endif
