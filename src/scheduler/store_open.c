/* store_open.c - which store the scheduler opens and when it may start a
 * new cluster. SQLite would happily turn a missing or truncated file into
 * an empty database, and the scheduler would then run an empty cluster as
 * if every job had been killed. So the store is only created where there
 * was evidently nothing before: an empty (or new) data directory, or on
 * the operator's explicit --new-cluster. */
#include "scheduler/store_open.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "store/store_threaded.h"

#define NEW_CLUSTER_HINT "start with --new-cluster to begin a new, empty cluster"

/* The first entry of `dir` other than . and .. into ret_name (heap), or
 * NULL when the directory is empty. `tls` (the CA and join token, which
 * `borealis scheduler join-token` may make before the first start) holds
 * no cluster state and does not count. */
static int first_entry(const char *dir, char **ret_name, bo_error_t *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return bo_error_sys(err, errno, "open data directory `%s`", dir);
    struct dirent *e;
    char *name = NULL;
    errno = 0;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && strcmp(e->d_name, "tls") != 0) {
            name = bo_xstrdup(e->d_name);
            break;
        }
    }
    int rerr = errno;
    closedir(d);
    if (!name && rerr)
        return bo_error_sys(err, rerr, "read data directory `%s`", dir);
    *ret_name = name;
    return 0;
}

int sched_store_open(const char *data_dir, bool sync_full, bool new_cluster, struct store **ret, bo_error_t *err)
{
    if (bo_mkdir_p(data_dir, 0700, err) < 0)
        return -1;
    _cleanup_free_ char *db = bo_xasprintf("%s/" SCHED_STORE_FILE, data_dir);
    struct stat sb;
    enum store_open_mode mode = STORE_OPEN_EXISTING;
    if (stat(db, &sb) == 0 && sb.st_size == 0) {
        if (!new_cluster)
            return bo_error_set(err, BO_E_IO,
                                "store `%s` is empty (0 bytes): the cluster state it held is lost "
                                "(truncated or overwritten). Restore it from a backup, or " NEW_CLUSTER_HINT,
                                db);
        mode = STORE_CREATE;
    } else if (stat(db, &sb) < 0) {
        if (errno != ENOENT)
            return bo_error_sys(err, errno, "store `%s`: stat", db);
        _cleanup_free_ char *other = NULL;
        if (first_entry(data_dir, &other, err) < 0)
            return -1;
        if (other && !new_cluster)
            return bo_error_set(err, BO_E_NOTFOUND,
                                "data directory `%s` holds files (`%.64s`, ...) but no store `%s`: the store was "
                                "removed, or this is not the scheduler's data directory. Restore the store, or "
                                "" NEW_CLUSTER_HINT,
                                data_dir, other, SCHED_STORE_FILE);
        mode = STORE_CREATE;
    }
    /* Owned: a second scheduler on this data directory is refused, and
     * SQLite does not lock the file on every transaction. Threaded: the
     * group commits are written while the loop serves the next requests. */
    struct store *sq = NULL;
    if (store_open_sqlite_owned(db, sync_full, mode, &sq, err) < 0)
        return -1;
    return store_threaded_wrap(sq, ret, err);
}
