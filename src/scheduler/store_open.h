/* store_open.h - the scheduler's store in its data directory, and the one
 * rule for when a new, empty cluster may be made there. */
#ifndef BO_SCHEDULER_STORE_OPEN_H
#define BO_SCHEDULER_STORE_OPEN_H

#include <stdbool.h>

#include "store/store.h"

/* The store's file name inside the data directory. */
#define SCHED_STORE_FILE "scheduler.db"

/* Open `data_dir`/scheduler.db (creating `data_dir` if missing). A new,
 * empty store is made only when the directory is empty, or when
 * `new_cluster` (the operator's --new-cluster) allows it and the store is
 * missing or 0 bytes. A store that existed and is now missing, empty or
 * unreadable is an error naming the file: a cluster's jobs never vanish
 * silently. A store that holds data is never replaced. */
int sched_store_open(const char *data_dir, bool sync_full, bool new_cluster, struct store **ret, bo_error_t *err);

#endif
