/* test_cgroup.c - task cgroups: the v1 path for real on this machine (needs
 * root and a v1 memory hierarchy, skipped with a reason otherwise), the v2
 * file-writing logic against a fake directory tree. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "base/fs.h"
#include "harness.h"

static const char *v1_controllers[] = {"freezer", "memory", "cpu", "cpuacct", "pids"};

/* Sets up a manager with a per-test root name; false (and prints why) when
 * the real v1 test cannot run here. */
static bool v1_setup(struct cgroup_mgr *m, char *root, size_t len)
{
    if (geteuid() != 0) {
        printf("  SKIP: cgroup v1 tests need root\n");
        return false;
    }
    bo_error_t err = NULL;
    snprintf(root, len, "borealis-test-%d", (int)getpid());
    if (cgroup_mgr_init(m, "/sys/fs/cgroup", root, CGROUP_DETECT, &err) < 0) {
        printf("  SKIP: %s\n", err->msg);
        bo_error_free(err);
        return false;
    }
    if (m->flavour != CGROUP_V1) {
        printf("  SKIP: this host has pure cgroup v2, not v1\n");
        cgroup_mgr_clear(m);
        return false;
    }
    return true;
}

static void v1_teardown(struct cgroup_mgr *m, const char *root)
{
    for (size_t i = 0; i < BO_ARRAY_SIZE(v1_controllers); i++) {
        char path[256];
        snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/%s", v1_controllers[i], root);
        rmdir(path);
    }
    cgroup_mgr_clear(m);
}

/* Valid until the next call (the previous buffer is freed then, so the
 * sanitizer run sees no leak). */
static const char *read_trim(const char *path)
{
    static char *last;
    free(last);
    last = NULL;
    if (bo_read_file(path, 1 << 16, &last, NULL, NULL) < 0)
        return NULL;
    last[strcspn(last, "\n")] = '\0';
    return last;
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Forks a child that joins the cgroup and then runs `sh -c script`. */
static pid_t spawn_in(struct cgroup_mgr *m, const char *name, const char *script)
{
    char **files = cgroup_procs_files(m, name);
    pid_t pid = fork();
    if (pid == 0) {
        if (cgroup_join_self(files) < 0)
            _exit(126);
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    cgroup_strv_free(files);
    return pid;
}

TEST(v1_create_limits_remove)
{
    struct cgroup_mgr m;
    char root[64];
    if (!v1_setup(&m, root, sizeof(root)))
        return;
    struct cgroup_limits l = {.cpu = 0.5, .ram = 32u << 20, .pids_max = 100};
    bo_error_t err = NULL;
    CHECK(cgroup_create(&m, "t1", &l, &err) == 0);
    char path[256];
    snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/%s/t1/memory.limit_in_bytes", root);
    CHECK_STR(read_trim(path), "33554432");
    snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/%s/t1/memory.memsw.limit_in_bytes", root);
    if (exists(path))
        CHECK_STR(read_trim(path), "33554432");
    snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/%s/t1/memory.swappiness", root);
    CHECK_STR(read_trim(path), "0");
    snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu/%s/t1/cpu.cfs_quota_us", root);
    CHECK_STR(read_trim(path), "50000");
    snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu/%s/t1/cpu.cfs_period_us", root);
    CHECK_STR(read_trim(path), "100000");
    snprintf(path, sizeof(path), "/sys/fs/cgroup/pids/%s/t1/pids.max", root);
    CHECK_STR(read_trim(path), "100");
    snprintf(path, sizeof(path), "/sys/fs/cgroup/freezer/%s/t1", root);
    CHECK(exists(path));
    /* A tiny CPU share is clamped to the kernel's 1 ms minimum. */
    struct cgroup_limits tiny = {.cpu = 0.001, .ram = 8u << 20};
    CHECK(cgroup_create(&m, "t2", &tiny, &err) == 0);
    snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu/%s/t2/cpu.cfs_quota_us", root);
    CHECK_STR(read_trim(path), "1000");
    CHECK(cgroup_count_procs(&m, "t1", &err) == 0);
    CHECK(cgroup_remove(&m, "t1", &err) == 0);
    CHECK(cgroup_remove(&m, "t2", &err) == 0);
    CHECK(cgroup_remove(&m, "t2", &err) == 0); /* already gone: fine */
    for (size_t i = 0; i < BO_ARRAY_SIZE(v1_controllers); i++) {
        snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/%s/t1", v1_controllers[i], root);
        CHECK(!exists(path));
    }
    v1_teardown(&m, root);
}

TEST(v1_oom_kill_is_counted)
{
    struct cgroup_mgr m;
    char root[64];
    if (!v1_setup(&m, root, sizeof(root)))
        return;
    struct cgroup_limits l = {.cpu = 1, .ram = 32u << 20, .pids_max = 64};
    bo_error_t err = NULL;
    CHECK(cgroup_create(&m, "oom", &l, &err) == 0);
    int64_t count = -1;
    bool exact = false;
    CHECK(cgroup_oom_count(&m, "oom", &count, &exact, &err) == 0);
    CHECK(count == 0);
    /* `tail /dev/zero` buffers an endless line: a real memory hog. */
    pid_t pid = spawn_in(&m, "oom", "exec tail /dev/zero");
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CHECK(cgroup_oom_count(&m, "oom", &count, &exact, &err) == 0);
    CHECK(count > 0);
    CHECK(cgroup_remove(&m, "oom", &err) == 0);
    v1_teardown(&m, root);
}

TEST(v1_kill_all_empties_a_process_tree)
{
    struct cgroup_mgr m;
    char root[64];
    if (!v1_setup(&m, root, sizeof(root)))
        return;
    struct cgroup_limits l = {.cpu = 1, .ram = 64u << 20, .pids_max = 256};
    bo_error_t err = NULL;
    CHECK(cgroup_create(&m, "tree", &l, &err) == 0);
    /* A shell that keeps spawning sleepers, some in the background of
     * subshells, so the tree forks while it is being killed. */
    pid_t pid = spawn_in(&m, "tree",
                         "for i in 1 2 3 4 5; do (sleep 300 & sleep 300) & sleep 300 & done; "
                         "while :; do sleep 300 & sleep 0.01; done");
    for (int i = 0; i < 200 && cgroup_count_procs(&m, "tree", &err) < 12; i++)
        usleep(10000);
    CHECK(cgroup_count_procs(&m, "tree", &err) >= 12);
    CHECK(cgroup_kill_all(&m, "tree", &err) == 0);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CHECK(cgroup_count_procs(&m, "tree", &err) == 0);
    CHECK(cgroup_remove(&m, "tree", &err) == 0);
    char path[256];
    for (size_t i = 0; i < BO_ARRAY_SIZE(v1_controllers); i++) {
        snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/%s/tree", v1_controllers[i], root);
        CHECK(!exists(path));
    }
    /* Killing a cgroup that no longer exists is a no-op. */
    CHECK(cgroup_kill_all(&m, "tree", &err) == 0);
    v1_teardown(&m, root);
}

TEST(v2_writes_expected_files_in_a_fake_tree)
{
    char tmpl[] = "/tmp/borealis-cg2-XXXXXX";
    CHECK(mkdtemp(tmpl));
    struct cgroup_mgr m;
    bo_error_t err = NULL;
    CHECK(cgroup_mgr_init(&m, tmpl, "borealis", CGROUP_V2, &err) == 0);
    m.fake = true;
    struct cgroup_limits l = {.cpu = 0.25, .ram = 64u << 20, .pids_max = 500};
    CHECK(cgroup_create(&m, "t1", &l, &err) == 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/cgroup.subtree_control", tmpl);
    CHECK_STR(read_trim(path), "+memory +cpu +pids");
    snprintf(path, sizeof(path), "%s/borealis/cgroup.subtree_control", tmpl);
    CHECK_STR(read_trim(path), "+memory +cpu +pids");
    snprintf(path, sizeof(path), "%s/borealis/t1/memory.max", tmpl);
    CHECK_STR(read_trim(path), "67108864");
    snprintf(path, sizeof(path), "%s/borealis/t1/memory.swap.max", tmpl);
    CHECK_STR(read_trim(path), "0");
    snprintf(path, sizeof(path), "%s/borealis/t1/cpu.max", tmpl);
    CHECK_STR(read_trim(path), "25000 100000");
    snprintf(path, sizeof(path), "%s/borealis/t1/pids.max", tmpl);
    CHECK_STR(read_trim(path), "500");
    char **files = cgroup_procs_files(&m, "t1");
    snprintf(path, sizeof(path), "%s/borealis/t1/cgroup.procs", tmpl);
    CHECK_STR(files[0], path);
    CHECK(files[1] == NULL);
    cgroup_strv_free(files);

    snprintf(path, sizeof(path), "%s/borealis/t1/memory.events", tmpl);
    FILE *f = fopen(path, "w");
    fputs("low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n", f);
    fclose(f);
    int64_t count = -1;
    bool exact = false;
    CHECK(cgroup_oom_count(&m, "t1", &count, &exact, &err) == 0);
    CHECK(count == 1 && exact);

    /* An empty cgroup: kill-all writes cgroup.kill and finds nothing left. */
    snprintf(path, sizeof(path), "%s/borealis/t1/cgroup.procs", tmpl);
    fclose(fopen(path, "w"));
    CHECK(cgroup_kill_all(&m, "t1", &err) == 0);
    snprintf(path, sizeof(path), "%s/borealis/t1/cgroup.kill", tmpl);
    CHECK_STR(read_trim(path), "1");

    CHECK(bo_rm_rf(tmpl, &err) == 0);
    cgroup_mgr_clear(&m);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

TEST(v2_usage_reads_cpu_and_memory_and_marks_a_missing_peak)
{
    char tmpl[] = "/tmp/borealis-cg2u-XXXXXX";
    CHECK(mkdtemp(tmpl));
    struct cgroup_mgr m;
    bo_error_t err = NULL;
    CHECK(cgroup_mgr_init(&m, tmpl, "borealis", CGROUP_V2, &err) == 0);
    m.fake = true;
    struct cgroup_limits l = {.cpu = 1, .ram = 64u << 20, .pids_max = 64};
    CHECK(cgroup_create(&m, "t1", &l, &err) == 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/borealis/t1/cpu.stat", tmpl);
    write_file(path, "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n");
    snprintf(path, sizeof(path), "%s/borealis/t1/memory.current", tmpl);
    write_file(path, "3145728\n");
    struct cgroup_usage u;
    CHECK(cgroup_usage(&m, "t1", &u, &err) == 0);
    CHECK(u.cpu_ns == 2500000000LL);
    CHECK(u.memory == 3145728);
    CHECK(u.memory_peak == -1); /* no memory.peak before Linux 5.19 */
    snprintf(path, sizeof(path), "%s/borealis/t1/memory.peak", tmpl);
    write_file(path, "4194304\n");
    CHECK(cgroup_usage(&m, "t1", &u, &err) == 0);
    CHECK(u.memory_peak == 4194304);
    /* A garbled counter is an error naming the file, not a wrong figure. */
    snprintf(path, sizeof(path), "%s/borealis/t1/memory.current", tmpl);
    write_file(path, "lots\n");
    CHECK(cgroup_usage(&m, "t1", &u, &err) < 0);
    CHECK_CONTAINS(err->msg, "memory.current");
    bo_error_free(err);
    err = NULL;
    CHECK(bo_rm_rf(tmpl, &err) == 0);
    cgroup_mgr_clear(&m);
}

TEST(v2_rejects_a_missing_hierarchy)
{
    struct cgroup_mgr m;
    bo_error_t err = NULL;
    CHECK(cgroup_mgr_init(&m, "/nonexistent-borealis", "borealis", CGROUP_DETECT, &err) < 0);
    CHECK_CONTAINS(err->msg, "/nonexistent-borealis");
    bo_error_free(err);
}

TEST_MAIN()
