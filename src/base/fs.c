/* fs.c - file helpers used by the agent, executor and store. */
#include "base/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bo_read_file(const char *path, size_t max_len, char **ret_buf, size_t *ret_len, bo_error_t *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bo_error_sys(err, errno, "open `%s`", path);
    size_t cap = 4096, len = 0;
    _cleanup_free_ char *buf = bo_xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > max_len + 1)
                return bo_error_set(err, BO_E_INVALID, "`%s` is larger than %zu bytes", path, max_len);
            cap *= 2;
            buf = bo_xrealloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return bo_error_sys(err, errno, "read `%s`", path);
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > max_len)
        return bo_error_set(err, BO_E_INVALID, "`%s` is larger than %zu bytes", path, max_len);
    buf[len] = '\0';
    if (ret_len)
        *ret_len = len;
    *ret_buf = BO_STEAL(buf);
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int bo_write_file_atomic(const char *path, const void *data, size_t len, bool do_fsync, bo_error_t *err)
{
    return bo_write_file_atomic_mode(path, data, len, do_fsync, 0644, err);
}

int bo_write_file_atomic_mode(const char *path, const void *data, size_t len, bool do_fsync, unsigned mode,
                              bo_error_t *err)
{
    _cleanup_free_ char *tmp = bo_xasprintf("%s.tmp.%d", path, (int)getpid());
    /* The directory may be writable by a task (its sandbox): never follow or
     * reuse whatever sits at the temp name, replace it. */
    if (unlink(tmp) < 0 && errno != ENOENT)
        return bo_error_sys(err, errno, "remove stale `%s`", tmp);
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return bo_error_sys(err, errno, "create `%s`", tmp);
    /* The umask may have kept bits the caller wants; never more than mode. */
    if (fchmod(fd, mode) < 0) {
        int e = errno;
        unlink(tmp);
        return bo_error_sys(err, e, "chmod `%s`", tmp);
    }
    int r = write_all(fd, data, len);
    if (r == 0 && do_fsync && fsync(fd) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return bo_error_sys(err, -r, "write `%s`", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return bo_error_sys(err, e, "rename `%s` to `%s`", tmp, path);
    }
    if (do_fsync) {
        _cleanup_free_ char *dcopy = bo_xstrdup(path);
        _cleanup_close_ int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
            (void)fsync(dfd);
    }
    return 0;
}

int bo_mkdir_p(const char *path, unsigned mode, bo_error_t *err)
{
    _cleanup_free_ char *p = bo_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return bo_error_sys(err, errno, "mkdir `%s`", p);
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return bo_error_sys(err, errno, "mkdir `%s`", p);
    return 0;
}

static int rm_rf_at(int parent_fd, const char *name, dev_t dev, bo_error_t *err, const char *top)
{
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : bo_error_sys(err, errno, "stat in `%s`", top);
    if (S_ISDIR(st.st_mode)) {
        if (st.st_dev != dev)
            return bo_error_set(err, BO_E_REFUSED, "refusing to remove mount point under `%s`", top);
        int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return bo_error_sys(err, errno, "open directory in `%s`", top);
        DIR *d = fdopendir(fd);
        if (!d) {
            close(fd);
            return bo_error_sys(err, errno, "opendir in `%s`", top);
        }
        struct dirent *de;
        int r = 0;
        while (r == 0 && (de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            r = rm_rf_at(dirfd(d), de->d_name, dev, err, top);
        }
        closedir(d);
        if (r < 0)
            return r;
        if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
            return bo_error_sys(err, errno, "rmdir in `%s`", top);
        return 0;
    }
    if (unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT)
        return bo_error_sys(err, errno, "unlink in `%s`", top);
    return 0;
}

int bo_rm_rf(const char *path, bo_error_t *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : bo_error_sys(err, errno, "stat `%s`", path);
    return rm_rf_at(AT_FDCWD, path, st.st_dev, err, path);
}

int bo_fork_with_pipe(int p[2], bo_error_t *err)
{
    if (pipe2(p, O_CLOEXEC) < 0)
        return bo_error_sys(err, errno, "pipe");
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return bo_error_sys(err, e, "fork");
    }
    return (int)pid;
}
