/* Unit tests for agent/runtime: invoking the OCI runtime, with a stand-in
 * runtime (a shell script) so that the timing that matters can be forced. */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "agent/runtime.h"
#include "base/fs.h"
#include "base/util.h"
#include "harness.h"

/* `run --detach` whose container's first process has already ended (and
 * is a zombie of the subreaper, the agent) by the time the runtime exits:
 * a task that ends at once on a loaded machine. The first process ends
 * only once its parent has exited and it belongs to the subreaper (else
 * its parent could reap it first); the runtime exits once it is a zombie. */
static const char FAST_EXIT_RUNTIME[] =
    "#!/bin/sh\n"
    "[ \"$1\" = --version ] && { echo 'crun version 1.8.1'; exit 0; }\n"
    "pidfile=\n"
    "while [ $# -gt 0 ]; do [ \"$1\" = --pid-file ] && pidfile=$2; shift; done\n"
    "sh -c '\"$1\" $$ & echo $! > \"$0\"' \"$pidfile\" \"$(dirname \"$pidfile\")/first\"\n"
    "pid=$(cat \"$pidfile\")\n"
    "while [ \"$(cut -d' ' -f3 /proc/$pid/stat)\" != Z ]; do :; done\n";
static const char FIRST_PROCESS[] = "#!/bin/sh\n"
                                    "while [ \"$(cut -d' ' -f4 /proc/$$/stat)\" = \"$1\" ]; do :; done\n";

static void write_script(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *path = bo_xasprintf("%s/%s", dir, name);
    bo_error_t err = NULL;
    CHECK(bo_write_file_atomic(path, text, strlen(text), false, &err) == 0);
    CHECK(chmod(path, 0755) == 0);
}

TEST(start_returns_a_pidfd_on_a_first_process_that_already_ended)
{
    char dir[] = "/tmp/bo-test-runtime-XXXXXX";
    CHECK(mkdtemp(dir));
    CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
    write_script(dir, "crun", FAST_EXIT_RUNTIME);
    write_script(dir, "first", FIRST_PROCESS);
    _cleanup_free_ char *path = bo_xasprintf("%s/crun", dir);
    bo_error_t err = NULL;
    _cleanup_free_ char *state = bo_xasprintf("%s/state", dir);
    struct runtime rt;
    CHECK(runtime_init(&rt, path, state, &err) == 0);
    _cleanup_free_ char *log = bo_xasprintf("%s/log", dir);
    struct runtime_run run = {.bundle = dir, .id = "t1", .state_dirfd = -1, .notify_fd = -1, .log = log};
    pid_t pid = 0;
    int pidfd = -1;
    if (runtime_start(&rt, &run, &pid, &pidfd, &err) < 0) {
        fprintf(stderr, "  %s\n", err->msg);
        CHECK(0);
    }
    CHECK(pid > 0 && pidfd >= 0);
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    CHECK(poll(&p, 1, 0) == 1); /* it has ended, and the pidfd says so */
    close(pidfd);
    runtime_clear(&rt);
    bo_error_t e = NULL;
    (void)bo_rm_rf(dir, &e);
    bo_error_free(e);
}

TEST_MAIN()
