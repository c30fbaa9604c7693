/* status.c - renders and publishes the task status (see status.h). */
#include "executor/status.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/fs.h"

void status_notifier_init(struct status_notifier *n, const char *socket_path)
{
    memset(n, 0, sizeof(*n));
    n->fd = -1;
    /* The task.json parser already bounds the length; stay safe anyway. */
    if (!socket_path || strlen(socket_path) >= sizeof(n->addr.sun_path))
        return;
    n->addr.sun_family = AF_UNIX;
    strcpy(n->addr.sun_path, socket_path);
    n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(socket_path) + 1);
    /* Blocking with a short timeout, not MSG_DONTWAIT: the kernel queues only
     * net.unix.max_dgram_qlen (10) datagrams for the agent, and a burst of
     * launches fills that while the agent is busy; dropping the rest would
     * leave those tasks unreported until the agent's next full rescan. A
     * dead agent refuses at once (ECONNREFUSED), so this never hangs. */
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (n->fd >= 0) {
        struct timeval tv = {.tv_sec = 1};
        (void)setsockopt(n->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
}

void status_notifier_init_fd(struct status_notifier *n, int fd)
{
    memset(n, 0, sizeof(*n));
    n->fd = fd;
    struct timeval tv = {.tv_sec = 1};
    (void)setsockopt(n->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void status_notifier_close(struct status_notifier *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
}

void status_notify(const struct status_notifier *n, const char *task_id)
{
    if (n->fd < 0)
        return;
    /* addr_len 0: a socket the agent connected for us. */
    const struct sockaddr *to = n->addr_len ? (const struct sockaddr *)&n->addr : NULL;
    while (sendto(n->fd, task_id, strlen(task_id), MSG_NOSIGNAL, to, n->addr_len) < 0 && errno == EINTR)
        ;
}

static int status_dirfd = -1;

void status_set_dir(int dirfd)
{
    status_dirfd = dirfd;
}

/* status.json in the directory the agent handed us: a temp file beside it
 * (never through a symlink), then rename. */
static int write_at_dir(const char *text, size_t len, bool do_fsync, bo_error_t *err)
{
    static const char tmp[] = "status.json.tmp";
    (void)unlinkat(status_dirfd, tmp, 0);
    int fd = openat(status_dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return bo_error_sys(err, errno, "create `%s`", tmp);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return bo_error_sys(err, e, "write `%s`", tmp);
        }
        off += (size_t)n;
    }
    if (do_fsync && fsync(fd) < 0) {
        int e = errno;
        close(fd);
        return bo_error_sys(err, e, "fsync `%s`", tmp);
    }
    close(fd);
    if (renameat(status_dirfd, tmp, status_dirfd, "status.json") < 0)
        return bo_error_sys(err, errno, "rename `%s`", tmp);
    if (do_fsync)
        (void)fsync(status_dirfd);
    return 0;
}

static json_t *int_or_null(int64_t v, bool present)
{
    return present ? json_integer(v) : json_null();
}

static json_t *proc_json(const struct proc *p)
{
    return json_pack("{s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:o}", "name", p->name, "state",
                     proc_state_name(p->state), "runs", (json_int_t)p->runs, "pid", int_or_null(p->pid, p->pid > 0), "exit_code",
                     int_or_null(p->exit_code, p->exit_code >= 0), "signal",
                     int_or_null(p->signal, p->signal > 0), "started_ms",
                     int_or_null(p->started_ms, p->started_ms > 0), "ended_ms",
                     int_or_null(p->ended_ms, p->ended_ms > 0));
}

int status_write(const char *task_id, enum task_state state, const char *message,
                 const struct proc *procs, size_t n_procs, bo_error_t *err)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n_procs; i++)
        json_array_append_new(arr, proc_json(&procs[i]));
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "task_id", task_id, "state",
                          task_state_name(state), "message", message ? message : "",
                          "executor_pid", (json_int_t)getpid(), "updated_ms",
                          (json_int_t)bo_wall_ms(), "processes", arr);
    /* json_pack only fails on allocation failure or invalid UTF-8, and
     * every string here came from (validated) JSON or from us. */
    if (!j)
        return bo_error_set(err, BO_E_INTERNAL, "cannot render `%s`", STATUS_PATH);
    _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return bo_error_set(err, BO_E_INTERNAL, "cannot render `%s`", STATUS_PATH);
    _cleanup_free_ char *line = bo_xasprintf("%s\n", text);
    if (status_dirfd >= 0)
        return write_at_dir(line, strlen(line), task_state_is_terminal(state), err);
    return bo_write_file_atomic(STATUS_PATH, line, strlen(line), task_state_is_terminal(state), err);
}
