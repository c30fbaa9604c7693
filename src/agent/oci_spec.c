/* oci_spec.c - renders a task's OCI config.json (see oci_spec.h). */
#include "agent/oci_spec.h"

#include <string.h>

#include "base/fs.h"
#include "base/util.h"

/* As runc and crun mask by default: kernel state a task has no business
 * reading, and writable knobs that reach the whole machine. */
static const char *const masked_paths[] = {
    "/proc/acpi",          "/proc/asound",       "/proc/kcore",         "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list",   "/proc/timer_stats",   "/proc/sched_debug",
    "/proc/scsi",          "/sys/firmware",      "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* The default seccomp filter: the system calls the common container
 * default (Docker's, crun's) refuses to a task without capabilities,
 * expressed as a deny list (EPERM) so that a syscall a newer libc needs
 * is not refused by omission. The runtime compiles it (libseccomp is the
 * runtime's dependency, not ours). */
static const char *const denied_syscalls[] = {
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "delete_module", "finit_module",
    "fsconfig", "fsmount", "fsopen", "fspick", "init_module", "ioperm", "iopl", "kcmp",
    "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mount", "mount_setattr",
    "move_mount", "name_to_handle_at", "open_by_handle_at", "open_tree", "perf_event_open",
    "pivot_root", "process_vm_readv", "process_vm_writev", "ptrace", "quotactl", "reboot",
    "request_key", "setns", "settimeofday", "swapoff", "swapon", "syslog", "umount2", "unshare",
    "uselib", "userfaultfd", "vhangup",
};

/* clone() with any new-namespace flag (CLONE_NEWNS, NEWCGROUP, NEWUTS,
 * NEWIPC, NEWUSER, NEWPID, NEWNET). clone3 passes its flags in memory a
 * filter cannot read: it gets ENOSYS, and libc falls back to clone. */
static const unsigned long clone_ns_flags[] = {0x00020000UL, 0x02000000UL, 0x04000000UL, 0x08000000UL,
                                               0x10000000UL, 0x20000000UL, 0x40000000UL};

static json_t *strv_json(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *nullv_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *seccomp_json(void)
{
    json_t *rules = json_array();
    json_array_append_new(rules, json_pack("{s:o, s:s, s:I}", "names",
                                           strv_json(denied_syscalls, BO_ARRAY_SIZE(denied_syscalls)), "action",
                                           "SCMP_ACT_ERRNO", "errnoRet", (json_int_t)1 /* EPERM */));
    json_array_append_new(rules, json_pack("{s:[s], s:s, s:I}", "names", "clone3", "action", "SCMP_ACT_ERRNO",
                                           "errnoRet", (json_int_t)38 /* ENOSYS */));
    for (size_t i = 0; i < BO_ARRAY_SIZE(clone_ns_flags); i++)
        json_array_append_new(
            rules, json_pack("{s:[s], s:s, s:I, s:[{s:i, s:I, s:I, s:s}]}", "names", "clone", "action",
                             "SCMP_ACT_ERRNO", "errnoRet", (json_int_t)1, "args", "index", 0, "value",
                             (json_int_t)clone_ns_flags[i], "valueTwo", (json_int_t)clone_ns_flags[i], "op",
                             "SCMP_CMP_MASKED_EQ"));
    return json_pack("{s:s, s:[s,s,s,s,s], s:o}", "defaultAction", "SCMP_ACT_ALLOW", "architectures",
                     "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",
                     "syscalls", rules);
}

static json_t *mount_json(const char *dest, const char *type, const char *source, const char *const *opts,
                          size_t n_opts)
{
    return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", source, "options",
                     strv_json(opts, n_opts));
}

#define MOUNT(a, dest, type, source, ...)                                                                 \
    do {                                                                                                  \
        static const char *const o_[] = {__VA_ARGS__};                                                    \
        json_array_append_new(a, mount_json(dest, type, source, o_, BO_ARRAY_SIZE(o_)));                  \
    } while (0)

static json_t *mounts_json(const struct oci_task *t)
{
    json_t *a = json_array();
    MOUNT(a, "/proc", "proc", "proc", "nosuid", "noexec", "nodev");
    MOUNT(a, "/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k");
    MOUNT(a, "/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620");
    MOUNT(a, "/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k");
    MOUNT(a, "/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev");
    /* A fresh sysfs needs a network namespace of its own; with the host's
     * network, the host's /sys is bound recursively read-only, as runc
     * and Docker do for --net=host. */
    MOUNT(a, "/sys", "bind", "/sys", "rbind", "nosuid", "noexec", "nodev", "rro");
    MOUNT(a, "/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro");
    MOUNT(a, "/tmp", "tmpfs", "tmpfs", "nosuid", "nodev", "mode=1777");
    for (size_t i = 0; i < t->n_hidden; i++)
        MOUNT(a, t->hidden[i], "tmpfs", "tmpfs", "ro", "nosuid", "nodev", "noexec", "mode=000", "size=4k");
    MOUNT(a, OCI_SANDBOX_PATH, "bind", t->sandbox, "rbind", "rw", "nosuid", "nodev");
    /* The executor's files (task.json, status.json) are the agent's to
     * trust: the task never sees them. The executor writes them through a
     * directory fd it got before the task existed. */
    MOUNT(a, OCI_SANDBOX_PATH "/.borealis", "tmpfs", "tmpfs", "ro", "nosuid", "nodev", "noexec", "mode=000",
          "size=4k");
    MOUNT(a, OCI_EXECUTOR_PATH, "bind", t->executor, "bind", "ro", "nosuid", "nodev");
    for (size_t i = 0; i < t->n_binds; i++) {
        /* "ro", not "rro": the runtime cannot apply a recursive attribute
         * to a single file (crun 1.8: "open mount target: Not a
         * directory"), and the mounts below the top one are read-only
         * already: the agent made its clone of the tree so (runtime.c). */
        static const char *const ro[] = {"rbind", "nosuid", "nodev", "ro"};
        static const char *const rw[] = {"rbind", "nosuid", "nodev", "rw"};
        json_array_append_new(a, mount_json(t->binds[i].destination, "bind", t->binds[i].source,
                                            t->binds[i].read_only ? ro : rw, 4));
    }
    return a;
}

json_t *oci_spec_render(const struct oci_task *t)
{
    json_t *gids = json_array();
    for (size_t i = 0; i < t->n_extra_gids; i++)
        json_array_append_new(gids, json_integer(t->extra_gids[i]));
    json_t *caps = json_pack("{s:[], s:[], s:[], s:[], s:[]}", "bounding", "effective", "inheritable", "permitted",
                             "ambient");
    json_t *process = json_pack(
        "{s:b, s:{s:I, s:I, s:o}, s:o, s:o, s:s, s:o, s:b}", "terminal", 0, "user", "uid", (json_int_t)t->uid,
        "gid", (json_int_t)t->gid, "additionalGids", gids, "args", nullv_json(t->args), "env", nullv_json(t->env),
        "cwd", t->cwd, "capabilities", caps, "noNewPrivileges", 1);
    /* Lowering it needs CAP_SYS_RESOURCE, which an agent in a container
     * may lack: 0 means leave it alone. */
    if (t->oom_score_adj)
        json_object_set_new(process, "oomScoreAdj", json_integer(t->oom_score_adj));
    json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "mount", "type", "ipc",
                           "type", "uts", "type", "cgroup");
    /* Devices: none but the ones every runtime creates (null, zero, full,
     * tty, random, urandom, and the pty pair), which it allows itself. */
    json_t *resources = json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm");
    json_t *linux_ = json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:s}", "namespaces", ns, "cgroupsPath",
                               t->cgroups_path, "resources", resources, "maskedPaths",
                               strv_json(masked_paths, BO_ARRAY_SIZE(masked_paths)), "readonlyPaths",
                               strv_json(readonly_paths, BO_ARRAY_SIZE(readonly_paths)), "seccomp", seccomp_json(),
                               "rootfsPropagation", "private");
    return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.0.2", "process", process, "root",
                     "path", t->rootfs, "readonly", t->read_only_rootfs, "hostname", t->hostname, "mounts",
                     mounts_json(t), "linux", linux_);
}

int oci_spec_write(const struct oci_task *t, const char *bundle, bo_error_t *err)
{
    json_t *doc = oci_spec_render(t);
    if (!doc)
        return bo_error_set(err, BO_E_INTERNAL, "cannot render the OCI config of `%s`", bundle);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text)
        return bo_error_set(err, BO_E_INTERNAL, "cannot render the OCI config of `%s`", bundle);
    _cleanup_free_ char *path = bo_xasprintf("%s/config.json", bundle);
    int r = bo_write_file_atomic(path, text, strlen(text), false, err);
    free(text);
    return r;
}
