/* host_mounts.c - resolving and checking a task's host mounts at launch
 * (see host_mounts.h). */
#include "agent/host_mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "model/host_mount.h"

void host_mounts_clear(struct host_mounts *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].source);
        free(h->v[i].destination);
        if (h->v[i].fd >= 0)
            close(h->v[i].fd);
    }
    free(h->v);
    *h = (struct host_mounts){0};
}

/* Whether the fd is still the file at `path`: /proc names what it holds. */
static bool fd_is_at(int fd, const char *path)
{
    char link[64], buf[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, sizeof(buf) - 1);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return strcmp(buf, path) == 0;
}

static int resolve_one(const struct mount_config *mc, size_t i, char *const *allow, size_t n_allow,
                       const char *data_dir, struct host_mount *ret, bo_error_t *err)
{
    _cleanup_free_ char *what = bo_xasprintf("task.mounts[%zu].host_path", i);
    /* Decoded by the job model already; checked again, as nothing from
     * the scheduler is taken on trust. */
    if (host_mount_source_check(mc->host_path, what, err) < 0 ||
        host_mount_destination_check(mc->container_path, "container_path", err) < 0)
        return -1;
    char *real = realpath(mc->host_path, NULL);
    if (!real)
        return bo_error_sys(err, errno, "%s `%s`", what, mc->host_path);
    _cleanup_free_ char *source = real;
    _cleanup_free_ char *list = host_mount_allow_text(allow, n_allow);
    _cleanup_free_ char *via =
        strcmp(source, mc->host_path) != 0 ? bo_xasprintf(" (it resolves to `%s`)", source) : bo_xstrdup("");
    if (!host_mount_allowed(source, allow, n_allow))
        return bo_error_set(err, BO_E_REFUSED,
                            "%s `%s`%s is not under a path this agent allows to mount (--host-mount-allow: %s)",
                            what, mc->host_path, via, list);
    /* The agent's own files (journal, other sandboxes, bundles) are never
     * shown, whatever the allowlist says. */
    if (host_mount_under(source, data_dir) || host_mount_under(data_dir, source))
        return bo_error_set(err, BO_E_REFUSED, "%s `%s`%s would show the agent's data dir `%s`", what,
                            mc->host_path, via, data_dir);
    int fd = open(source, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bo_error_sys(err, errno, "%s `%s`: open `%s`", what, mc->host_path, source);
    struct stat st;
    if (fstat(fd, &st) < 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) || !fd_is_at(fd, source)) {
        close(fd);
        return bo_error_set(err, BO_E_REFUSED,
                            "%s `%s`%s is not a directory or a regular file, or changed while it was checked",
                            what, mc->host_path, via);
    }
    *ret = (struct host_mount){.source = BO_STEAL(source),
                               .destination = bo_xstrdup(mc->container_path),
                               .read_only = mc->mode == MOUNT_RO,
                               .is_dir = S_ISDIR(st.st_mode),
                               .fd = fd};
    return 0;
}

int host_mounts_resolve(const struct mount_config *m, size_t n, char *const *allow, size_t n_allow,
                        const char *data_dir, struct host_mounts *ret, bo_error_t *err)
{
    struct host_mounts h = {0};
    if (n == 0) {
        *ret = h;
        return 0;
    }
    char *real_data = realpath(data_dir, NULL);
    if (!real_data)
        return bo_error_sys(err, errno, "realpath `%s`", data_dir);
    _cleanup_free_ char *data = real_data;
    h.v = bo_xcalloc(n, sizeof(*h.v));
    for (size_t i = 0; i < n; i++) {
        if (resolve_one(&m[i], i, allow, n_allow, data, &h.v[i], err) < 0) {
            host_mounts_clear(&h);
            return -1;
        }
        h.n++;
    }
    *ret = h;
    return 0;
}
