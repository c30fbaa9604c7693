/* host_mount.c - path rules and allowlist matching of host mounts (see
 * host_mount.h). */
#include "model/host_mount.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* What the container is made of: a host directory over one of them would
 * replace the task's /proc or /dev, or its sandbox and the executor's
 * files (the executor itself is under /dev). */
static const char *const reserved[] = {"/proc", "/sys", "/dev", "/sandbox"};

int host_mount_path_check(const char *s, const char *what, bo_error_t *err)
{
    size_t n = strlen(s);
    if (n == 0)
        return bo_error_set(err, BO_E_INVALID, "%s must not be empty", what);
    if (n > HOST_MOUNT_PATH_MAX)
        return bo_error_set(err, BO_E_INVALID, "%s is longer than %d bytes", what, HOST_MOUNT_PATH_MAX);
    if (s[0] != '/')
        return bo_error_set(err, BO_E_INVALID, "%s `%.200s` is relative: write an absolute path", what, s);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return bo_error_set(err, BO_E_INVALID, "%s holds a control character", what);
    if (n > 1 && s[n - 1] == '/')
        return bo_error_set(err, BO_E_INVALID, "%s `%.200s` ends with `/`: write it without", what, s);
    /* Component by component: each lies between two slashes (or the end). */
    for (const char *c = s + 1; n > 1;) {
        const char *end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == 0)
            return bo_error_set(err, BO_E_INVALID, "%s `%.200s` has an empty component (`//`)", what, s);
        if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return bo_error_set(err, BO_E_INVALID, "%s `%.200s` has a `%.*s` component: write the path it means",
                                what, s, (int)len, c);
        if (!end)
            break;
        c = end + 1;
    }
    return 0;
}

int host_mount_source_check(const char *s, const char *what, bo_error_t *err)
{
    if (host_mount_path_check(s, what, err) < 0)
        return -1;
    if (strcmp(s, "/") == 0)
        return bo_error_set(err, BO_E_INVALID, "%s must not be `/` (the whole machine)", what);
    return 0;
}

int host_mount_destination_check(const char *s, const char *what, bo_error_t *err)
{
    if (host_mount_path_check(s, what, err) < 0)
        return -1;
    if (strcmp(s, "/") == 0)
        return bo_error_set(err, BO_E_INVALID, "%s must not be `/` (the container's root)", what);
    for (size_t i = 0; i < BO_ARRAY_SIZE(reserved); i++)
        if (host_mount_under(s, reserved[i]))
            return bo_error_set(err, BO_E_INVALID, "%s `%.200s` would cover the container's %s", what, s,
                                reserved[i]);
    return 0;
}

bool host_mount_under(const char *path, const char *dir)
{
    if (strcmp(dir, "/") == 0)
        return path[0] == '/';
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

const char *host_mount_allowed(const char *path, char *const *allow, size_t n_allow)
{
    for (size_t i = 0; i < n_allow; i++)
        if (host_mount_under(path, allow[i]))
            return allow[i];
    return NULL;
}

char *host_mount_allow_text(char *const *allow, size_t n_allow)
{
    if (n_allow == 0)
        return bo_xstrdup("none");
    char *s = bo_xstrdup(allow[0]);
    for (size_t i = 1; i < n_allow; i++) {
        char *t = bo_xasprintf("%s, %s", s, allow[i]);
        free(s);
        s = t;
    }
    return s;
}
