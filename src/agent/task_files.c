/* task_files.c - confined reads of a task's logs and files. */
#include "agent/task_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/sandbox.h"
#include "base/ident.h"
#include "base/utf8.h"

#define PROCESS_NAME_MAX 64
/* Entries of a log folder looked at for a rotated file. */
#define ROTATED_SCAN_MAX 1000
/* Files one `--tail` answer reads: the current one and the backups. */
#define LOG_SPANS_MAX 101
#define SYMLINK_TARGET_MAX 4096

static const char *const code_names[] = {
    [TASK_FILES_INVALID] = "INVALID",         [TASK_FILES_NOT_FOUND] = "NOT_FOUND",
    [TASK_FILES_OUTSIDE] = "OUTSIDE_SANDBOX", [TASK_FILES_REFUSED] = "REFUSED",
    [TASK_FILES_IO] = "IO",
};

const char *task_files_code_name(enum task_files_code c) { return code_names[c]; }

void task_files_error_clear(struct task_files_error *e)
{
    free(e->message);
    e->message = NULL;
}

BO_PRINTF(3, 4) static int fail(struct task_files_error *e, enum task_files_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    e->code = code;
    e->message = bo_xvasprintf(fmt, ap);
    va_end(ap);
    return -1;
}

/* Open `path` below dirfd; the kernel refuses any way out. `extra` adds
 * resolve flags (logs take no symlinks at all). */
static int confined_open(int dirfd, const char *path, int flags, uint64_t extra, struct task_files_error *e)
{
    /* O_NONBLOCK: a fifo the task made must not block the agent; openat2
     * refuses any flag but these with O_PATH. */
    int more = flags & O_PATH ? O_CLOEXEC : O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    struct open_how how = {.flags = (uint64_t)(flags | more),
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV | extra};
    for (int tries = 0;; tries++) {
        int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd >= 0)
            return fd;
        /* EAGAIN: a rename raced the lookup (RESOLVE_BENEATH is strict). */
        if (errno == EINTR || (errno == EAGAIN && tries < 8))
            continue;
        switch (errno) {
        case EXDEV:
            return fail(e, TASK_FILES_OUTSIDE,
                        "`%.300s` leads outside the task's sandbox (through `..`, an absolute symlink or a symlink "
                        "out of it): refused",
                        path);
        case ENOENT:
            return fail(e, TASK_FILES_NOT_FOUND, "no `%.300s` in the task's sandbox", path);
        case ENOTDIR:
            return fail(e, TASK_FILES_NOT_FOUND, "`%.300s`: a part of the path is not a directory", path);
        case ELOOP:
            return fail(e, TASK_FILES_REFUSED,
                        "`%.300s`: a symbolic link where none is followed, or too many of them", path);
        default:
            return fail(e, TASK_FILES_IO, "open `%.300s` in the task's sandbox: %s", path, strerror(errno));
        }
    }
}

static int open_sandbox(const char *sandbox, struct task_files_error *e)
{
    int fd = open(sandbox, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fail(e, errno == ENOENT ? TASK_FILES_NOT_FOUND : TASK_FILES_IO,
                    "the task's sandbox is gone from its agent (removed after --sandbox-retention)");
    return fd;
}

static json_t *base64_json(const char *buf, size_t n)
{
    _cleanup_free_ unsigned char *out = bo_xmalloc(4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock(out, (const unsigned char *)buf, (int)n);
    return json_stringn((const char *)out, (size_t)len);
}

/* pread until n bytes or end of file; returns the count read. */
static int read_at(int fd, char *buf, size_t n, int64_t off, size_t *ret, struct task_files_error *e,
                   const char *shown)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fail(e, TASK_FILES_IO, "read `%.300s`: %s", shown, strerror(errno));
        if (r == 0)
            break;
        got += (size_t)r;
    }
    *ret = got;
    return 0;
}

/* The offset where the last `lines` lines of the first `size` bytes begin,
 * looking back at most `max` bytes (a final newline ends the last line, it
 * does not start an empty one). */
static int tail_start(int fd, int64_t size, int64_t lines, int64_t max, int64_t *ret, struct task_files_error *e)
{
    int64_t floor = size > max ? size - max : 0, pos = size, found = 0;
    if (lines == 0) {
        *ret = size;
        return 0;
    }
    char buf[16384];
    bool last = true;
    while (pos > floor) {
        size_t n = (size_t)(pos - floor < (int64_t)sizeof(buf) ? pos - floor : (int64_t)sizeof(buf)), got = 0;
        if (read_at(fd, buf, n, pos - (int64_t)n, &got, e, "log") < 0)
            return -1;
        if (got < n) /* truncated meanwhile */
            break;
        for (size_t i = n; i-- > 0;) {
            int64_t at = pos - (int64_t)n + (int64_t)i;
            if (buf[i] != '\n')
                continue;
            if (last && at == size - 1)
                continue;
            if (++found == lines) {
                *ret = at + 1;
                return 0;
            }
        }
        last = false;
        pos -= (int64_t)n;
    }
    *ret = floor;
    return 0;
}

/* The task's only process, or a refusal naming its processes. */
static int resolve_process(const char *sandbox, const char *task_id, const char *want, char **ret,
                           struct task_files_error *e)
{
    struct sandbox_status st = {0};
    _cleanup_error_ bo_error_t err = NULL;
    if (sandbox_read_status(sandbox, task_id, &st, &err) < 0) {
        if (want) {
            *ret = bo_xstrdup(want);
            return 0;
        }
        return fail(e, TASK_FILES_INVALID, "name the process: the task's processes are not known yet (%s)",
                    err->msg);
    }
    char names[600] = "";
    size_t used = 0;
    bool found = false;
    for (size_t i = 0; i < st.n_processes; i++) {
        found |= want && strcmp(want, st.processes[i].name) == 0;
        int n = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "", st.processes[i].name);
        if (n > 0 && (size_t)n < sizeof(names) - used)
            used += (size_t)n;
    }
    int r = 0;
    if (want && !found)
        r = fail(e, TASK_FILES_NOT_FOUND, "the task has no process `%s` (its processes: %s)", want, names);
    else if (!want && st.n_processes != 1)
        r = fail(e, TASK_FILES_INVALID, "the task has %zu processes (%s): name the one whose log you want",
                 st.n_processes, names);
    else
        *ret = bo_xstrdup(want ? want : st.processes[0].name);
    sandbox_status_clear(&st);
    return r;
}

/* Rotated logs (the executor's, executor/logsink.h): STREAM is the current
 * file, STREAM.1 the newest backup, STREAM.K the oldest. */
#define ROTATED_INDEX_MAX 1000

/* "stdout" -> 0, "stdout.K" -> K (1..ROTATED_INDEX_MAX), anything else -1. */
static int rotated_index(const char *name, const char *stream)
{
    size_t n = strlen(stream);
    if (strncmp(name, stream, n) != 0)
        return -1;
    if (name[n] == '\0')
        return 0;
    if (name[n] != '.' || name[n + 1] < '1' || name[n + 1] > '9')
        return -1;
    int k = 0;
    for (const char *c = name + n + 1; *c; c++) {
        if (*c < '0' || *c > '9' || k > ROTATED_INDEX_MAX)
            return -1;
        k = k * 10 + (*c - '0');
    }
    return k <= ROTATED_INDEX_MAX ? k : -1;
}

static void indexed_name(char *buf, size_t n, const char *stream, int k)
{
    if (k == 0)
        snprintf(buf, n, "%s", stream);
    else
        snprintf(buf, n, "%s.%d", stream, k);
}

/* STREAM.K of `dirfd` (a confined folder: only the last component is
 * looked up here, without following it) as a regular file, or -1. */
static int open_indexed(int dirfd, const char *stream, int k, struct stat *ret_st)
{
    char name[64];
    indexed_name(name, sizeof(name), stream, k);
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0 && (fstat(fd, ret_st) < 0 || !S_ISREG(ret_st->st_mode))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Walk the names of `dirfd`: the index of the file STREAM.K whose inode is
 * `ino` (ino > 0; -1: none), and the highest index present (0: none). */
static void scan_rotated(int dirfd, const char *stream, int64_t ino, int *ret_index, int *ret_oldest)
{
    *ret_index = -1;
    *ret_oldest = 0;
    int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *de;
    for (int n = 0; n < ROTATED_SCAN_MAX && (de = readdir(d)); n++) {
        int k = rotated_index(de->d_name, stream);
        if (k <= 0)
            continue;
        if (k > *ret_oldest)
            *ret_oldest = k;
        if (ino > 0 && (int64_t)de->d_ino == ino)
            *ret_index = k;
    }
    closedir(d);
}

/* Whether STREAM.K of `dirfd` is still the file `ino`. */
static bool still_at(int dirfd, const char *stream, int k, int64_t ino)
{
    char name[64];
    struct stat st;
    indexed_name(name, sizeof(name), stream, k);
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (int64_t)st.st_ino == ino;
}

static int open_log_dir(int sb, const char *process, int flags, struct task_files_error *e)
{
    if (!bo_ident_ok(process, PROCESS_NAME_MAX, 0))
        return fail(e, TASK_FILES_INVALID, "process name `%.100s` must match [A-Za-z0-9_.-]+ (at most %d characters)",
                    process, PROCESS_NAME_MAX);
    _cleanup_free_ char *rel = bo_xasprintf(".logs/%s", process);
    int fd = confined_open(sb, rel, flags | O_DIRECTORY, RESOLVE_NO_SYMLINKS, e);
    if (fd < 0 && e->code == TASK_FILES_NOT_FOUND) {
        task_files_error_clear(e);
        return fail(e, TASK_FILES_NOT_FOUND, "process `%s` has no log yet (it has not started)", process);
    }
    return fd;
}

int task_files_log_dir_fd(const char *sandbox, const char *process)
{
    struct task_files_error e = {0};
    _cleanup_close_ int sb = open_sandbox(sandbox, &e);
    int fd = sb < 0 ? -1 : open_log_dir(sb, process, O_PATH, &e);
    task_files_error_clear(&e);
    return fd;
}

/* A piece of a file to answer with. */
struct span {
    int fd;
    int64_t start, end;
};

/* The last `lines` lines of the current file and, when it holds fewer,
 * of the backups before it (newest first), at most `max` bytes in all:
 * spans[0] the current file's, then older ones. Returns how many spans
 * (fds the caller closes, but for spans[0].fd which is `cur`). */
static int tail_spans(int dirfd, const char *stream, int cur, int64_t size, int64_t lines, int64_t max,
                      struct span *spans, int n_max, struct task_files_error *e);

static void close_spans(struct span *spans, int n)
{
    for (int i = 1; i < n; i++) /* spans[0].fd is the caller's */
        close(spans[i].fd);
}

static int tail_spans(int dirfd, const char *stream, int cur, int64_t size, int64_t lines, int64_t max,
                      struct span *spans, int n_max, struct task_files_error *e)
{
    int n = 0, fd = cur;
    int64_t used = 0;
    for (int k = 0;; k++) {
        int64_t budget = max - used, floor = size > budget ? size - budget : 0, start;
        spans[n++] = (struct span){.fd = fd, .start = size, .end = size};
        if (tail_start(fd, size, lines, budget, &start, e) < 0) {
            close_spans(spans, n);
            return -1;
        }
        spans[n - 1].start = start;
        used += size - start;
        if (start > 0 || floor > 0 || used >= max || n == n_max)
            return n; /* enough lines here, or no more room */
        /* The whole file: as many lines as newlines that begin one, plus
         * its first. */
        int64_t found = 0;
        char buf[16384];
        for (int64_t pos = 0; pos < size;) {
            size_t got = 0;
            size_t want = (size_t)(size - pos < (int64_t)sizeof(buf) ? size - pos : (int64_t)sizeof(buf));
            if (read_at(fd, buf, want, pos, &got, e, "log") < 0) {
                close_spans(spans, n);
                return -1;
            }
            if (got == 0)
                break;
            for (size_t i = 0; i < got; i++)
                found += buf[i] == '\n' && pos + (int64_t)i != size - 1;
            pos += (int64_t)got;
        }
        lines -= size > 0 ? found + 1 : 0;
        if (lines <= 0)
            return n;
        struct stat st;
        fd = open_indexed(dirfd, stream, k + 1, &st);
        if (fd < 0)
            return n;
        size = st.st_size;
    }
}

int task_files_log(const char *sandbox, const char *task_id, const struct task_log_query *q, json_t **ret,
                   bool *ret_empty, struct task_files_error *e)
{
    _cleanup_close_ int sb = open_sandbox(sandbox, e);
    if (sb < 0)
        return -1;
    _cleanup_free_ char *process = NULL;
    if (resolve_process(sandbox, task_id, q->process, &process, e) < 0)
        return -1;
    _cleanup_close_ int dirfd = open_log_dir(sb, process, O_RDONLY, e);
    if (dirfd < 0)
        return -1;
    const char *stream = q->stderr_stream ? "stderr" : "stdout";
    _cleanup_free_ char *shown = bo_xasprintf(".logs/%s/%s", process, stream);
    _cleanup_close_ int cur = confined_open(dirfd, stream, O_RDONLY, RESOLVE_NO_SYMLINKS, e);
    /* Between a rotation's rename and the new file's creation a follower
     * finds no file: it finishes the renamed one, or waits for the new. */
    bool between = cur < 0 && e->code == TASK_FILES_NOT_FOUND && q->tail < 0 && q->inode > 0;
    if (cur < 0 && !between)
        return -1;
    if (between)
        task_files_error_clear(e);
    struct stat st = {0};
    if (cur >= 0 && fstat(cur, &st) < 0)
        return fail(e, TASK_FILES_IO, "stat `%s`: %s", shown, strerror(errno));
    if (cur >= 0 && !S_ISREG(st.st_mode))
        return fail(e, TASK_FILES_REFUSED, "`%s` is not a regular file", shown);

    if (q->tail >= 0) {
        struct span spans[LOG_SPANS_MAX];
        int n = tail_spans(dirfd, stream, cur, st.st_size, q->tail, q->max, spans, LOG_SPANS_MAX, e);
        if (n < 0)
            return -1;
        size_t total = 0, got = 0;
        for (int i = 0; i < n; i++)
            total += (size_t)(spans[i].end - spans[i].start);
        _cleanup_free_ char *buf = bo_xmalloc(total + 1);
        int r = 0;
        for (int i = n; i-- > 0;) { /* oldest first */
            size_t g = 0;
            if (r == 0)
                r = read_at(spans[i].fd, buf + got, (size_t)(spans[i].end - spans[i].start), spans[i].start, &g, e,
                            shown);
            got += g;
            if (i > 0)
                close(spans[i].fd);
        }
        if (r < 0)
            return -1;
        *ret = json_pack("{s:o, s:I, s:I, s:I, s:s, s:b}", "data", base64_json(buf, got), "offset",
                         (json_int_t)st.st_size, "inode", (json_int_t)st.st_ino, "size", (json_int_t)st.st_size,
                         "process", process, "rotated", false);
        *ret_empty = got == 0;
        return 0;
    }

    int64_t off = q->offset, ino = (int64_t)st.st_ino, size = st.st_size;
    /* `rotated`: the answer's file is not the current one, or the reader
     * was moved to the start of a newer one: read again at once. */
    bool rotated = false;
    int fd = cur;
    _cleanup_close_ int old = -1;
    if (q->inode == 0 && q->offset == 0) {
        /* The whole log: from the oldest backup on. */
        int index, oldest;
        scan_rotated(dirfd, stream, 0, &index, &oldest);
        struct stat ost;
        if (oldest > 0 && (old = open_indexed(dirfd, stream, oldest, &ost)) >= 0) {
            fd = old;
            ino = (int64_t)ost.st_ino;
            size = ost.st_size;
            rotated = true;
        }
    } else if (q->inode > 0 && q->inode != ino) {
        /* The file we were reading was rotated away: finish it, then the
         * next newer one. A rotation may move the files meanwhile: the
         * newer one is taken only if ours did not move while it was
         * opened (the executor renames the older ones first). */
        for (int tries = 0; fd == cur && tries < 8; tries++) {
            int index, oldest;
            struct stat ost;
            scan_rotated(dirfd, stream, q->inode, &index, &oldest);
            if (index < 0) {
                /* Deleted (the reader fell more than `backups` files
                 * behind), or gone: go on from the oldest kept file. */
                if (oldest > 0 && (old = open_indexed(dirfd, stream, oldest, &ost)) >= 0) {
                    fd = old;
                    ino = (int64_t)ost.st_ino;
                    size = ost.st_size;
                } else if (cur < 0) {
                    break;
                }
                off = 0;
                rotated = true;
                break;
            }
            int ofd = open_indexed(dirfd, stream, index, &ost);
            if (ofd < 0 || (int64_t)ost.st_ino != q->inode) {
                if (ofd >= 0)
                    close(ofd);
                continue;
            }
            if (off < ost.st_size) {
                old = ofd;
                fd = old;
                ino = q->inode;
                size = ost.st_size;
                rotated = true;
                break;
            }
            close(ofd);
            if (index == 1) {
                if (cur < 0)
                    break; /* the new file is not there yet */
                off = 0;
                rotated = true;
                break;
            }
            int nfd = open_indexed(dirfd, stream, index - 1, &ost);
            if (nfd >= 0 && still_at(dirfd, stream, index, q->inode)) {
                old = nfd;
                fd = old;
                ino = (int64_t)ost.st_ino;
                size = ost.st_size;
                off = 0;
                rotated = true;
            } else if (nfd >= 0) {
                close(nfd);
            }
        }
        if (fd == cur && (cur < 0 || !rotated)) {
            /* Nothing newer to go to yet: stay where we are. */
            *ret = json_pack("{s:s, s:I, s:I, s:I, s:s, s:b}", "data", "", "offset", (json_int_t)off, "inode",
                             (json_int_t)q->inode, "size", (json_int_t)off, "process", process, "rotated", false);
            *ret_empty = true;
            return 0;
        }
    } else if (off > size) {
        rotated = true; /* truncated in place (copytruncate) */
        off = 0;
    }
    size_t want = (size_t)(size - off < q->max ? size - off : q->max), got = 0;
    _cleanup_free_ char *buf = bo_xmalloc(want + 1);
    if (read_at(fd, buf, want, off, &got, e, shown) < 0)
        return -1;
    *ret = json_pack("{s:o, s:I, s:I, s:I, s:s, s:b}", "data", base64_json(buf, got), "offset",
                     (json_int_t)(off + (int64_t)got), "inode", (json_int_t)ino, "size", (json_int_t)size, "process",
                     process, "rotated", rotated);
    /* More to read in a newer file is not "empty": the follower comes back
     * at once. */
    *ret_empty = got == 0 && !rotated && fd == cur;
    return 0;
}

static const char *type_name(mode_t m)
{
    return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink" : S_ISFIFO(m) ? "fifo"
         : S_ISSOCK(m) ? "socket" : S_ISCHR(m) || S_ISBLK(m) ? "device" : "other";
}

static json_t *text_json(const char *s)
{
    if (bo_utf8_valid(s, strlen(s)))
        return json_string(s);
    _cleanup_free_ char *clean = bo_utf8_sanitize(s);
    return json_string(clean);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
                  json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

static int list_dir(int fd, const char *shown, json_t **ret, struct task_files_error *e)
{
    int dfd = dup(fd);
    DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return fail(e, TASK_FILES_IO, "list `%.300s`: %s", shown, strerror(errno));
    }
    json_t **items = NULL;
    size_t n = 0;
    bool truncated = false;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n >= TASK_FILES_LIST_MAX) {
            truncated = true;
            break;
        }
        struct stat st;
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* gone meanwhile */
        json_t *it = json_pack("{s:o, s:s, s:I, s:I, s:I}", "name", text_json(de->d_name), "type",
                               type_name(st.st_mode), "size", (json_int_t)st.st_size, "mode",
                               (json_int_t)(st.st_mode & 07777), "mtime_ms",
                               (json_int_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000);
        if (S_ISLNK(st.st_mode)) {
            char target[SYMLINK_TARGET_MAX + 1];
            ssize_t tn = readlinkat(fd, de->d_name, target, SYMLINK_TARGET_MAX);
            if (tn >= 0) {
                target[tn] = '\0';
                json_object_set_new(it, "target", text_json(target));
            }
        }
        items = bo_xrealloc(items, (n + 1) * sizeof(*items));
        items[n++] = it;
    }
    closedir(d);
    qsort(items, n, sizeof(*items), cmp_entry);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, items[i]);
    free(items);
    *ret = json_pack("{s:s, s:o, s:b}", "type", "dir", "entries", arr, "truncated", truncated);
    return 0;
}

int task_files_get(const char *sandbox, const char *path, int64_t offset, int64_t max, json_t **ret,
                   struct task_files_error *e)
{
    if (path[0] == '/')
        return fail(e, TASK_FILES_OUTSIDE,
                    "`%.300s` is an absolute path: paths are relative to the task's sandbox, refused", path);
    if (strlen(path) > TASK_FILES_PATH_MAX)
        return fail(e, TASK_FILES_INVALID, "the path is longer than %d bytes", TASK_FILES_PATH_MAX);
    const char *rel = path[0] ? path : ".";
    _cleanup_close_ int sb = open_sandbox(sandbox, e);
    if (sb < 0)
        return -1;
    _cleanup_close_ int fd = confined_open(sb, rel, O_RDONLY, 0, e);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return fail(e, TASK_FILES_IO, "stat `%.300s`: %s", rel, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return list_dir(fd, rel, ret, e);
    if (!S_ISREG(st.st_mode))
        return fail(e, TASK_FILES_REFUSED, "`%.300s` is a %s: only regular files and directories are read", rel,
                    type_name(st.st_mode));
    /* A second name of a file may be one the task linked from outside its
     * sandbox (where a mount allows it): its content is not the task's. */
    if (st.st_nlink > 1)
        return fail(e, TASK_FILES_REFUSED, "`%.300s` has %ju hard links: refused, it may be a file from outside the "
                    "sandbox", rel, (uintmax_t)st.st_nlink);
    int64_t size = st.st_size, off = offset < size ? offset : size;
    size_t want = (size_t)(size - off < max ? size - off : max), got = 0;
    _cleanup_free_ char *buf = bo_xmalloc(want + 1);
    if (read_at(fd, buf, want, off, &got, e, rel) < 0)
        return -1;
    *ret = json_pack("{s:s, s:o, s:I, s:I, s:b}", "type", "file", "data", base64_json(buf, got), "offset",
                     (json_int_t)(off + (int64_t)got), "size", (json_int_t)size, "eof",
                     off + (int64_t)got >= size);
    return 0;
}

/* Whether fd is the sandbox's `.borealis` or below it. */
static bool in_meta(int sb, int fd)
{
    struct stat meta, st;
    if (fstatat(sb, ".borealis", &meta, AT_SYMLINK_NOFOLLOW) < 0)
        return false;
    _cleanup_close_ int cur = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    for (int depth = 0; cur >= 0 && depth < 256; depth++) {
        if (fstat(cur, &st) < 0)
            return true;
        if (st.st_dev == meta.st_dev && st.st_ino == meta.st_ino)
            return true;
        struct stat root;
        if (fstat(sb, &root) == 0 && st.st_dev == root.st_dev && st.st_ino == root.st_ino)
            return false;
        int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        close(cur);
        cur = up;
    }
    return true; /* cannot tell: refuse */
}

int task_files_put(const char *sandbox, const char *path, int64_t offset, const char *data, size_t len,
                   json_t **ret, struct task_files_error *e)
{
    if (path[0] == '/')
        return fail(e, TASK_FILES_OUTSIDE,
                    "`%.300s` is an absolute path: paths are relative to the task's sandbox, refused", path);
    if (strlen(path) > TASK_FILES_PATH_MAX)
        return fail(e, TASK_FILES_INVALID, "the path is longer than %d bytes", TASK_FILES_PATH_MAX);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    _cleanup_free_ char *dir = slash ? bo_xstrndup(path, (size_t)(slash - path)) : bo_xstrdup(".");
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return fail(e, TASK_FILES_INVALID, "`%.300s` does not name a file", path);
    _cleanup_close_ int sb = open_sandbox(sandbox, e);
    if (sb < 0)
        return -1;
    _cleanup_close_ int parent = confined_open(sb, *dir ? dir : ".", O_PATH | O_DIRECTORY, 0, e);
    if (parent < 0)
        return -1;
    if (in_meta(sb, parent) || (!slash && !strcmp(base, ".borealis")))
        return fail(e, TASK_FILES_REFUSED, "`%.300s`: `.borealis` holds the agent's files, refused", path);
    /* No O_TRUNC before the checks: a hard link to another file must not
     * be cut. O_NOFOLLOW: the file itself is never a symlink. */
    _cleanup_close_ int fd = openat(parent, base, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                                    0644);
    if (fd < 0 && errno == ELOOP)
        return fail(e, TASK_FILES_REFUSED, "`%.300s` is a symbolic link: refused", path);
    if (fd < 0 && (errno == ENXIO || errno == EISDIR)) /* a fifo without a reader, a folder */
        return fail(e, TASK_FILES_REFUSED, "`%.300s` is not a regular file: refused", path);
    if (fd < 0)
        return fail(e, errno == ENOENT ? TASK_FILES_NOT_FOUND : TASK_FILES_IO, "open `%.300s` in the task's "
                    "sandbox: %s", path, strerror(errno));
    struct stat st, owner;
    if (fstat(fd, &st) < 0 || fstat(sb, &owner) < 0)
        return fail(e, TASK_FILES_IO, "stat `%.300s`: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(e, TASK_FILES_REFUSED, "`%.300s` is a %s: only regular files are written", path,
                    type_name(st.st_mode));
    if (st.st_nlink > 1)
        return fail(e, TASK_FILES_REFUSED, "`%.300s` has %ju hard links: refused", path, (uintmax_t)st.st_nlink);
    /* The task's own file, as if it had made it (the agent is root). */
    if ((st.st_uid != owner.st_uid || st.st_gid != owner.st_gid) && fchown(fd, owner.st_uid, owner.st_gid) < 0)
        return fail(e, TASK_FILES_IO, "chown `%.300s`: %s", path, strerror(errno));
    if (offset == 0 && ftruncate(fd, 0) < 0)
        return fail(e, TASK_FILES_IO, "truncate `%.300s`: %s", path, strerror(errno));
    for (size_t done = 0; done < len;) {
        ssize_t w = pwrite(fd, data + done, len - done, (off_t)(offset + (int64_t)done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return fail(e, TASK_FILES_IO, "write `%.300s`: %s", path, strerror(errno));
        done += (size_t)w;
    }
    if (fstat(fd, &st) < 0)
        return fail(e, TASK_FILES_IO, "stat `%.300s`: %s", path, strerror(errno));
    *ret = json_pack("{s:s, s:I, s:I}", "type", "file", "offset", (json_int_t)(offset + (int64_t)len), "size",
                     (json_int_t)st.st_size);
    return 0;
}
