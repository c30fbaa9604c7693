/* test_logsink.c - the executor's process log targets (src/executor/
 * logsink.c), in-process: rotation keeps every byte in order within the
 * size bound and exactly `backups` old files, lines are cut only where
 * they must be, the destinations get what they should; and task.json's
 * "logging" read strictly (spec.c). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "executor/logsink.h"
#include "executor/spec.h"
#include "harness.h"

static char dir[64];

/* A sandbox with .logs/p, made the current directory (as the executor's). */
static int enter_sandbox(void)
{
    strcpy(dir, "/tmp/test-logsink-XXXXXX");
    CHECK(mkdtemp(dir));
    CHECK(chdir(dir) == 0);
    CHECK(mkdir(".logs", 0755) == 0 && mkdir(".logs/p", 0755) == 0);
    int fd = open(".logs/p", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(fd >= 0);
    return fd;
}

static void leave_sandbox(int fd)
{
    close(fd);
    CHECK(chdir("/") == 0);
    bo_error_t err = NULL;
    bo_rm_rf(dir, &err);
    bo_error_free(err);
}

static char *slurp(const char *path, size_t *ret_len)
{
    char *buf = NULL;
    size_t len = 0;
    bo_error_t err = NULL;
    if (bo_read_file(path, 1 << 20, &buf, &len, &err) < 0) {
        bo_error_free(err);
        return NULL;
    }
    if (ret_len)
        *ret_len = len;
    return buf;
}

static off_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

TEST(rotation_keeps_backups_within_the_bound_and_every_byte_in_order)
{
    int logs = enter_sandbox();
    struct log_policy pol = {.dest = LOG_TO_FILE, .rotate = true, .log_size = 1024, .backups = 2};
    struct log_stream s = {0};
    bo_error_t err = NULL;
    int w = log_stream_open(&s, &pol, logs, "p", 1, false, &err);
    CHECK(w >= 0 && s.piped);
    /* Lines of 10 bytes written in pieces of 7: lines cut across writes. */
    char all[8192];
    size_t n = 0;
    for (int i = 0; i < 700; i++)
        n += (size_t)snprintf(all + n, sizeof(all) - n, "ln-%06d\n", i);
    CHECK(n == 7000);
    for (size_t off = 0; off < n; off += 7) {
        size_t k = n - off < 7 ? n - off : 7;
        CHECK(write(w, all + off, k) == (ssize_t)k);
        if (off % 700 == 0)
            (void)log_stream_drain(&s, &pol, "p", 1);
    }
    /* A line longer than a whole file is cut at log_size. */
    char big[2500];
    memset(big, 'x', sizeof(big));
    big[sizeof(big) - 1] = '\n';
    CHECK(write(w, big, sizeof(big)) == (ssize_t)sizeof(big));
    close(w);
    log_stream_close(&s, &pol, "p", 1);
    CHECK(!s.piped);

    CHECK(size_of(".logs/p/stdout.3") == -1); /* exactly 2 backups */
    size_t l0 = 0, l1 = 0, l2 = 0;
    _cleanup_free_ char *b2 = slurp(".logs/p/stdout.2", &l2);
    _cleanup_free_ char *b1 = slurp(".logs/p/stdout.1", &l1);
    _cleanup_free_ char *b0 = slurp(".logs/p/stdout", &l0);
    CHECK(b2 && b1 && b0);
    CHECK(l2 <= 1024 && l1 <= 1024 && l0 <= 1024);
    /* The kept files are the end of what was written, in order. */
    char tail[8192 + 2500];
    memcpy(tail, all, n);
    memcpy(tail + n, big, sizeof(big));
    size_t kept = l2 + l1 + l0, total = n + sizeof(big);
    CHECK(memcmp(tail + total - kept, b2, l2) == 0);
    CHECK(memcmp(tail + total - kept + l2, b1, l1) == 0);
    CHECK(memcmp(tail + total - kept + l2 + l1, b0, l0) == 0);
    CHECK(l1 == 1024 && l0 == 2500 - 2048); /* the long line: 1024 + 1024 + the rest */
    leave_sandbox(logs);
}

TEST(whole_lines_stay_in_one_file_when_written_whole)
{
    int logs = enter_sandbox();
    struct log_policy pol = {.dest = LOG_TO_FILE, .rotate = true, .log_size = 1024, .backups = 50};
    struct log_stream s = {0};
    bo_error_t err = NULL;
    int w = log_stream_open(&s, &pol, logs, "p", 2, false, &err);
    CHECK(w >= 0);
    for (int i = 0; i < 300; i++) {
        char line[32];
        int k = snprintf(line, sizeof(line), "line %d of 300\n", i);
        CHECK(write(w, line, (size_t)k) == k);
        if (i % 37 == 0)
            (void)log_stream_drain(&s, &pol, "p", 2);
    }
    close(w);
    log_stream_close(&s, &pol, "p", 2);
    for (int k = 1; k <= 50; k++) {
        char path[64];
        snprintf(path, sizeof(path), ".logs/p/stderr.%d", k);
        size_t len = 0;
        _cleanup_free_ char *b = slurp(path, &len);
        if (!b)
            break;
        CHECK(len <= 1024 && len > 1024 - 16);
        CHECK(strncmp(b, "line ", 5) == 0 && b[len - 1] == '\n');
    }
    CHECK(size_of(".logs/p/stderr.1") > 0 && size_of(".logs/p/stdout") == -1);
    leave_sandbox(logs);
}

TEST(none_and_console_write_no_file)
{
    int logs = enter_sandbox();
    bo_error_t err = NULL;
    struct log_stream s = {0};
    struct log_policy none = {.dest = LOG_TO_NONE};
    int fd = log_stream_open(&s, &none, logs, "p", 1, false, &err);
    CHECK(fd >= 0 && !s.piped);
    CHECK(write(fd, "gone\n", 5) == 5);
    close(fd);
    CHECK(size_of(".logs/p/stdout") == 0); /* there, empty */
    struct log_policy console = {.dest = LOG_TO_CONSOLE};
    fd = log_stream_open(&s, &console, logs, "p", 2, false, &err);
    struct stat a, b;
    CHECK(fd >= 0 && fstat(fd, &a) == 0 && fstat(2, &b) == 0);
    CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev); /* the executor's own stderr */
    close(fd);
    CHECK(size_of(".logs/p/stderr") == 0);
    leave_sandbox(logs);
}

TEST(task_json_logging_is_read_strictly)
{
    static const char ok[] =
        "{\"task_id\": \"t\", \"processes\": ["
        "{\"name\": \"a\", \"argv\": [\"true\"], \"logging\": {\"destination\": \"both\", \"mode\": \"rotate\", "
        "\"log_size\": 4096, \"backups\": 3}},"
        "{\"name\": \"b\", \"argv\": [\"true\"], \"logging\": {\"destination\": \"none\", \"mode\": \"standard\"}},"
        "{\"name\": \"c\", \"argv\": [\"true\"]}]}";
    struct exec_spec s;
    bo_error_t err = NULL;
    CHECK(spec_parse("task.json", ok, strlen(ok), &s, &err) == 0);
    CHECK(s.procs[0].log.dest == LOG_TO_BOTH && s.procs[0].log.rotate && s.procs[0].log.log_size == 4096 &&
          s.procs[0].log.backups == 3);
    CHECK(s.procs[1].log.dest == LOG_TO_NONE && !s.procs[1].log.rotate);
    CHECK(s.procs[2].log.dest == LOG_TO_FILE && !s.procs[2].log.rotate);
    spec_clear(&s);

#define P(L) "{\"task_id\": \"t\", \"processes\": [{\"name\": \"a\", \"argv\": [\"x\"], \"logging\": " L "}]}"
    static const struct {
        const char *text, *error;
    } bad[] = {
        {P("\"file\""), "processes[0].logging: must be an object"},
        {P("{\"destination\": \"tty\", \"mode\": \"standard\"}"), "processes[0].logging.destination: must be"},
        {P("{\"destination\": \"file\"}"), "processes[0].logging.mode: must be"},
        {P("{\"destination\": \"file\", \"mode\": \"standard\", \"x\": 1}"), "processes[0].logging.x: unknown field"},
        {P("{\"destination\": \"file\", \"mode\": \"standard\", \"backups\": 2}"), "only with mode rotate"},
        {P("{\"destination\": \"console\", \"mode\": \"rotate\", \"log_size\": 4096, \"backups\": 1}"),
         "rotate needs destination file or both"},
        {P("{\"destination\": \"file\", \"mode\": \"rotate\", \"log_size\": 1023, \"backups\": 1}"),
         "processes[0].logging.log_size: must be an integer in 1024.."},
        {P("{\"destination\": \"file\", \"mode\": \"rotate\", \"log_size\": 4096, \"backups\": 101}"),
         "processes[0].logging.backups: must be an integer in 1..100"},
    };
#undef P
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        CHECK(spec_parse("task.json", bad[i].text, strlen(bad[i].text), &s, &err) < 0);
        CHECK_CONTAINS(err->msg, bad[i].error);
        bo_error_freep(&err);
    }
}

TEST_MAIN()
