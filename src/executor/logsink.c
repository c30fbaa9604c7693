/* logsink.c - the targets of a process's stdout and stderr, and the copy
 * and size rotation of the ones the executor writes itself (logsink.h). */
#include "executor/logsink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

/* One buffer for every stream: the executor is single-threaded, and its
 * memory must not grow with the number of processes or their output. */
#define COPY_BUF 16384
/* Buffers copied from one pipe before the loop looks at other work. */
#define COPY_ROUNDS 8

static char copy_buf[COPY_BUF];

static const char *stream_name(int which) { return which == 1 ? "stdout" : "stderr"; }

/* write(2) until done; false on an error (the rest is dropped). */
static bool write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

static void warn_once(struct log_stream *s, const char *proc, int which, const char *what, int e)
{
    if (s->warned)
        return;
    s->warned = true;
    log_warn("log of process `%s` (%s): %s: %s; output may be lost (logged once)", proc, stream_name(which), what,
             strerror(e));
}

static int open_file(int dirfd, const char *proc, int which, bool fresh, bo_error_t *err)
{
    int fd = openat(dirfd, stream_name(which), O_WRONLY | O_CREAT | (fresh ? O_TRUNC : O_APPEND) | O_NOFOLLOW | O_CLOEXEC,
                    0644);
    if (fd < 0)
        return bo_error_sys(err, errno, "open `.logs/%s/%s`", proc, stream_name(which));
    return fd;
}

int log_stream_open(struct log_stream *s, const struct log_policy *pol, int logs_dir, const char *proc, int which,
                    bool fresh, bo_error_t *err)
{
    bool copy = pol->dest == LOG_TO_BOTH || (pol->dest == LOG_TO_FILE && pol->rotate);
    if (!copy) {
        /* The file exists whatever the destination, so `task logs` finds
         * an empty log rather than "not started". */
        int fd = open_file(logs_dir, proc, which, fresh, err);
        if (fd < 0 || pol->dest == LOG_TO_FILE)
            return fd;
        close(fd);
        if (pol->dest == LOG_TO_NONE) {
            fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
            if (fd < 0)
                return bo_error_sys(err, errno, "open `/dev/null`");
            return fd;
        }
        fd = fcntl(which, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
            return bo_error_sys(err, errno, "the executor's %s (the console destination)", stream_name(which));
        return fd;
    }
    if (!s->piped) {
        int file = open_file(logs_dir, proc, which, fresh, err);
        if (file < 0)
            return -1;
        struct stat st;
        int p[2];
        if (fstat(file, &st) < 0 || pipe2(p, O_CLOEXEC) < 0) {
            int e = errno;
            close(file);
            return bo_error_sys(err, e, "a log pipe for process `%s`", proc);
        }
        (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
        *s = (struct log_stream){.piped = true, .rfd = p[0], .wfd = p[1], .file = file, .size = st.st_size};
    }
    int fd = fcntl(s->wfd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
        return bo_error_sys(err, errno, "a log pipe for process `%s`", proc);
    return fd;
}

/* Open .logs/PROC without following a symlink (the task may write there). */
static int open_logs_dir(const char *proc)
{
    int logs = open(".logs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (logs < 0)
        return -1;
    int dir = openat(logs, proc, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(logs);
    errno = e;
    return dir;
}

/* STREAM -> STREAM.1 -> ... -> STREAM.backups (the oldest replaced), and a
 * new empty STREAM. The renames go from the oldest down, so at every
 * moment each kept file has a name and a newer one never takes the name
 * of an older one before that has moved on (what a follower relies on:
 * agent/task_files.c). On failure the current file goes on growing. */
static void rotate(struct log_stream *s, const struct log_policy *pol, const char *proc, int which)
{
    const char *name = stream_name(which);
    int dir = open_logs_dir(proc);
    if (dir < 0) {
        warn_once(s, proc, which, "rotation: open the log folder", errno);
        s->size = 0; /* try again after another log_size */
        return;
    }
    char from[32], to[32];
    for (int64_t k = pol->backups - 1; k >= 1; k--) {
        snprintf(from, sizeof(from), "%s.%lld", name, (long long)k);
        snprintf(to, sizeof(to), "%s.%lld", name, (long long)k + 1);
        if (renameat(dir, from, dir, to) < 0 && errno != ENOENT)
            warn_once(s, proc, which, "rotation: rename", errno);
    }
    snprintf(to, sizeof(to), "%s.1", name);
    if (renameat(dir, name, dir, to) < 0 && errno != ENOENT)
        warn_once(s, proc, which, "rotation: rename", errno);
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        warn_once(s, proc, which, "rotation: create the new file", errno);
    } else {
        close(s->file);
        s->file = fd;
    }
    close(dir);
    s->size = 0;
}

static void write_file(struct log_stream *s, const char *proc, int which, const char *buf, size_t n)
{
    if (!write_all(s->file, buf, n))
        warn_once(s, proc, which, "write", errno ? errno : EIO);
    s->size += (int64_t)n;
}

/* Append to the file, starting a new one whenever the next bytes would
 * take it past log_size: at the last newline that still fits, so a line
 * shorter than log_size stays in one file unless the process wrote it in
 * pieces across the boundary; a longer line is cut at log_size. */
static void write_rotating(struct log_stream *s, const struct log_policy *pol, const char *proc, int which,
                           const char *buf, size_t n)
{
    while (n > 0) {
        int64_t room = pol->log_size - s->size;
        if ((int64_t)n <= room) {
            write_file(s, proc, which, buf, n);
            return;
        }
        size_t cut = 0;
        if (room > 0) {
            const char *nl = memrchr(buf, '\n', (size_t)room);
            cut = nl ? (size_t)(nl - buf) + 1 : 0;
            if (cut == 0 && s->size == 0)
                cut = (size_t)room; /* one line longer than a whole file */
        }
        if (cut > 0) {
            write_file(s, proc, which, buf, cut);
            buf += cut;
            n -= cut;
        }
        rotate(s, pol, proc, which);
    }
}

bool log_stream_drain(struct log_stream *s, const struct log_policy *pol, const char *proc, int which)
{
    if (!s->piped)
        return false;
    for (int round = 0; round < COPY_ROUNDS; round++) {
        ssize_t n = read(s->rfd, copy_buf, sizeof(copy_buf));
        if (n < 0 && errno == EINTR) {
            round--;
            continue;
        }
        if (n <= 0)
            return false; /* EAGAIN: empty (we hold the write end, so never EOF) */
        if (pol->dest == LOG_TO_BOTH && !write_all(which, copy_buf, (size_t)n))
            warn_once(s, proc, which, "write to the console", errno ? errno : EIO);
        if (pol->rotate)
            write_rotating(s, pol, proc, which, copy_buf, (size_t)n);
        else
            write_file(s, proc, which, copy_buf, (size_t)n);
        if ((size_t)n < sizeof(copy_buf))
            return false;
    }
    return true;
}

void log_stream_close(struct log_stream *s, const struct log_policy *pol, const char *proc, int which)
{
    if (!s->piped)
        return;
    while (log_stream_drain(s, pol, proc, which))
        ;
    close(s->rfd);
    close(s->wfd);
    close(s->file);
    *s = (struct log_stream){0};
}
