/* options.c - the agent's option table (parsed by base/options.c, shown
 * by base/help.c) and the setters of values that need more than a check. */
#include "agent/options.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/resources.h"
#include "base/help.h"
#include "base/ident.h"
#include "base/parse.h"
#include "model/host_mount.h"

#define OPT_ATTRIBUTES_MAX 64

static int set_string(char **dst, const char *v)
{
    free(*dst);
    *dst = bo_xstrdup(v);
    return 0;
}

static int set_scheduler(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    const char *name = op->name;
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return bo_error_set(err, BO_E_INVALID, "--%s: `%s` is not an http:// or https:// URL", name, v);
    set_string(&o->scheduler_url, v);
    /* The sync path is appended: drop trailing slashes once here. */
    size_t n = strlen(o->scheduler_url);
    while (n > 0 && o->scheduler_url[n - 1] == '/')
        o->scheduler_url[--n] = '\0';
    return 0;
}

/* A system call refused an option's value (no such executor, a relative
 * path that cannot be resolved): still input the user must fix, so the
 * kind is BO_E_INVALID (exit 2), with the errno kept. Takes the -1 of
 * bo_error_sys. */
static int usage_error(bo_error_t *err, int r)
{
    if (err && *err)
        (*err)->kind = BO_E_INVALID;
    return r;
}

static int set_data_dir(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    const char *name = op->name;
    if (!*v)
        return bo_error_set(err, BO_E_INVALID, "--%s: must not be empty", name);
    /* Executors get paths inside it long after start (and from another
     * working directory), so keep it absolute. */
    _cleanup_free_ char *abs = NULL;
    if (v[0] != '/') {
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        if (!cwd)
            return usage_error(err, bo_error_sys(err, errno, "--%s: resolving `%s`", name, v));
        abs = bo_xasprintf("%s/%s", cwd, strncmp(v, "./", 2) == 0 ? v + 2 : v);
        v = abs;
    }
    /* The notify socket path (DATA/agent.sock) must fit in sun_path. */
    if (strlen(v) > 90)
        return bo_error_set(err, BO_E_INVALID, "--%s: `%s` is longer than 90 characters", name, v);
    return set_string(&o->data_dir, v);
}

static int set_hostname(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    const char *name = op->name;
    _cleanup_free_ char *what = bo_xasprintf("--%s", name);
    if (bo_ident_check(v, 253, 0, what, err) < 0)
        return -1;
    return set_string(&o->hostname, v);
}

static int set_disk(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    const char *name = op->name;
    _cleanup_free_ char *what = bo_xasprintf("--%s", name);
    if (bo_parse_size(v, what, &o->disk, err) < 0) /* checked already: cannot fail */
        return -1;
    o->disk_set = true;
    return 0;
}

static int set_port_range(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    const char *name = op->name;
    const char *dash = strchr(v, '-');
    if (!dash)
        return bo_error_set(err, BO_E_INVALID, "--%s: `%s` is not LOW-HIGH", name, v);
    _cleanup_free_ char *lo_s = bo_xstrndup(v, (size_t)(dash - v));
    _cleanup_free_ char *what = bo_xasprintf("--%s", name);
    int64_t lo, hi;
    if (bo_parse_i64(lo_s, 1, 65535, what, &lo, err) < 0 || bo_parse_i64(dash + 1, 1, 65535, what, &hi, err) < 0)
        return -1;
    if (lo > hi)
        return bo_error_set(err, BO_E_INVALID, "--%s: `%s` is empty (LOW > HIGH)", name, v);
    o->port_lo = lo;
    o->port_hi = hi;
    return 0;
}

static int set_attribute(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    const char *name = op->name;
    const char *colon = strchr(v, ':');
    if (!colon || colon == v || strlen(v) > 256)
        return bo_error_set(err, BO_E_INVALID, "--%s: `%s` is not KEY:VALUE (at most 256 characters)", name, v);
    _cleanup_free_ char *key = bo_xstrndup(v, (size_t)(colon - v));
    _cleanup_free_ char *what = bo_xasprintf("--%s: key", name);
    if (bo_ident_check(key, 256, 0, what, err) < 0)
        return -1;
    if (json_object_size(o->attributes) >= OPT_ATTRIBUTES_MAX)
        return bo_error_set(err, BO_E_INVALID, "--%s: at most %d attributes", name, OPT_ATTRIBUTES_MAX);
    json_object_set_new(o->attributes, key, json_string(colon + 1));
    return 0;
}

static int set_executor(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    const char *name = op->name;
    if (access(v, X_OK) < 0)
        return usage_error(err, bo_error_sys(err, errno, "--%s: `%s` is not executable", name, v));
    return set_string(&o->executor, v);
}

static int set_cgroup_root(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    const char *name = op->name;
    _cleanup_free_ char *what = bo_xasprintf("--%s", name);
    if (bo_ident_check(v, 64, 0, what, err) < 0)
        return -1;
    return set_string(&o->cgroup_root, v);
}

static int set_registry_ca(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    return set_string(&((struct agent_options *)target)->registry_ca, v);
}

static int set_registry_auth(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    return set_string(&((struct agent_options *)target)->registry_auth, v);
}

static int set_plain_http(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    if (o->n_plain_http >= 64)
        return bo_error_set(err, BO_E_INVALID, "--plain-http: at most 64 registries");
    o->plain_http = bo_xrealloc(o->plain_http, (o->n_plain_http + 1) * sizeof(char *));
    o->plain_http[o->n_plain_http++] = bo_xstrdup(v);
    return 0;
}

static int set_runtime(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    if (access(v, X_OK) < 0)
        return usage_error(err, bo_error_sys(err, errno, "--%s: `%s` is not executable", op->name, v));
    return set_string(&o->runtime, v);
}

static int set_allow_root_role(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    _cleanup_free_ char *what = bo_xasprintf("--%s", op->name);
    if (bo_ident_check(v, 64, 0, what, err) < 0)
        return -1;
    if (!o->allow_root_roles)
        o->allow_root_roles = json_array();
    json_array_append_new(o->allow_root_roles, json_string(v));
    return 0;
}

/* Kept resolved (symlinks, as the agent resolves a job's host path at
 * launch), so the two compare like with like; it must exist now. */
static int set_host_mount_allow(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    _cleanup_free_ char *what = bo_xasprintf("--%s", op->name);
    if (o->n_host_mount_allow >= HOST_MOUNT_ALLOW_MAX)
        return bo_error_set(err, BO_E_INVALID, "%s: at most %d paths", what, HOST_MOUNT_ALLOW_MAX);
    if (host_mount_path_check(v, what, err) < 0)
        return -1;
    char *real = realpath(v, NULL);
    if (!real)
        return usage_error(err, bo_error_sys(err, errno, "%s: `%s`", what, v));
    o->host_mount_allow = bo_xrealloc(o->host_mount_allow, (o->n_host_mount_allow + 1) * sizeof(char *));
    o->host_mount_allow[o->n_host_mount_allow++] = real;
    return 0;
}

static int set_join_token_file(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    return set_string(&o->join_token_file, v);
}

static int set_ca(void *target, const struct bo_option *op, const char *v, bo_error_t *err)
{
    struct agent_options *o = target;
    return set_string(&o->ca_file, v);
}

#define AT(m) BO_OPT_AT(struct agent_options, m)

const struct bo_option agent_option_table[] = {
    {.name = "scheduler", .kind = BO_OPT_STRING, .arg = "URL", .def = "https://127.0.0.1:8081",
     .set = set_scheduler, .help = "scheduler to sync with"},
    {.name = "data-dir", .kind = BO_OPT_STRING, .arg = "DIR", .def = "/var/lib/borealis/agent", .set = set_data_dir,
     .help = "state, journal, notify socket and sandboxes"},
    {.name = "hostname", .kind = BO_OPT_STRING, .arg = "NAME", .def_doc = "gethostname()", .set = set_hostname,
     .help = "host name reported to the scheduler"},
    {.name = "cpu", .kind = BO_OPT_NUMBER, .min = 0.01, .max = 4096, .def_doc = "online CPUs", .at = AT(cpu),
     .help = "CPUs offered to tasks"},
    {.name = "ram", .kind = BO_OPT_SIZE, .min = 1 << 20, .max = 9.0e18, .def_doc = "MemTotal", .at = AT(ram),
     .help = "memory offered to tasks (e.g. 4GiB)"},
    {.name = "disk", .kind = BO_OPT_SIZE, .def_doc = "free space of data dir", .set = set_disk,
     .help = "disk offered to tasks (e.g. 100GiB)"},
    {.name = "port-range", .kind = BO_OPT_STRING, .arg = "LOW-HIGH", .def = "31000-31999", .set = set_port_range,
     .help = "ports the scheduler may assign to tasks"},
    {.name = "attribute", .kind = BO_OPT_STRING, .arg = "KEY:VALUE", .def_doc = "host:HOSTNAME", .repeat = true,
     .set = set_attribute, .help = "machine attribute for constraints"},
    {.name = "executor", .kind = BO_OPT_STRING, .arg = "PATH", .def_doc = "borealis-executor beside this program",
     .set = set_executor, .help = "executor program"},
    {.name = "runtime", .kind = BO_OPT_STRING, .arg = "PATH", .def_doc = "crun, else runc, from PATH",
     .set = set_runtime, .help = "OCI runtime that runs every task in a container (crun or runc)"},
    {.name = "allow-root-role", .kind = BO_OPT_STRING, .arg = "ROLE", .repeat = true, .set = set_allow_root_role,
     .help = "role whose tasks may run as root (uid 0); no role may otherwise"},
    {.name = "host-mount-allow", .kind = BO_OPT_STRING, .arg = "DIR", .repeat = true, .set = set_host_mount_allow,
     .help = "tasks may mount host paths under DIR (default: none). Checked at every launch on the "
             "path with its symlinks resolved; the scheduler's own --host-mount-allow is checked at job create"},
    {.name = "cgroup-root", .kind = BO_OPT_STRING, .arg = "NAME", .def = "borealis", .set = set_cgroup_root,
     .help = "parent cgroup of the tasks' cgroups"},
    {.name = "pids-max", .kind = BO_OPT_INT, .def = "4096", .min = 16, .max = 4194304, .at = AT(pids_max),
     .help = "process limit of each task (pids controller)"},
    {.name = "sandbox-retention", .kind = BO_OPT_DURATION, .def = "1h", .at = AT(sandbox_retention_ms),
     .help = "how long a finished task's sandbox is kept (0: remove once the scheduler acked the end)"},
    {.name = "disk-check-interval", .kind = BO_OPT_DURATION, .def = "5s", .min = 100, .max = 3600000,
     .at = AT(disk_check_ms),
     .help = "how often each task's disk (sandbox and writable layer) is measured, beside the loop; a task over "
             "its job's disk ends FAILED"},
    {.name = "join-token-file", .kind = BO_OPT_STRING, .arg = "FILE", .set = set_join_token_file,
     .help = "join the cluster with the token in FILE (mode 0600; `borealis scheduler join-token`) when the "
             "agent has no certificate yet; the certificate is then kept in the data dir"},
    {.name = "ca", .kind = BO_OPT_STRING, .arg = "FILE", .set = set_ca,
     .help = "trust this CA for the scheduler (default: the CA whose fingerprint the join token holds, fetched "
             "at join and kept as DATA/ca.pem)"},
    {.name = "cleanup-on-exit", .kind = BO_OPT_FLAG, .at = AT(cleanup_on_exit),
     .help = "on SIGTERM/SIGINT kill every task and remove its cgroup and sandbox; the scheduler reschedules "
             "them without penalty (default: leave tasks running)"},
    {.name = "registry-ca", .kind = BO_OPT_STRING, .arg = "FILE", .set = set_registry_ca,
     .help = "PEM file of the CAs trusted for HTTPS registries (default: the system's)"},
    {.name = "plain-http", .kind = BO_OPT_STRING, .arg = "HOST:PORT", .repeat = true, .set = set_plain_http,
     .help = "pull from this registry over plain HTTP (repeatable; default: HTTPS)"},
    {.name = "registry-auth", .kind = BO_OPT_STRING, .arg = "FILE", .set = set_registry_auth,
     .help = "registry credentials, as Docker's config.json ({\"auths\": {\"HOST\": {\"auth\": ...}}})"},
    {.name = "registry-timeout", .kind = BO_OPT_DURATION, .def = "30s", .min = 100, .max = 3600000,
     .at = AT(registry_timeout_ms),
     .help = "a pull fails when its registry accepts no connection or sends nothing for this long"},
    {.name = "image-gc-age", .kind = BO_OPT_DURATION, .def = "24h", .min = 0, .max = 365.0 * 24 * 3600 * 1000,
     .at = AT(image_gc_age_ms),
     .help = "images no task has started from for this long are deleted (all unused ones when the disk is "
             "over 90% full)"},
    {.name = NULL},
};

const char agent_help_text[] =
    "Runs an agent: it offers this machine's resources to the scheduler, and launches and supervises tasks in "
    "cgroups and sandboxes. Sizes take a unit (4GiB), durations too (30s, 1h).";
const char agent_examples[] = "borealis agent --data-dir /var/lib/borealis/agent --scheduler http://127.0.0.1:8081";

void agent_options_help(FILE *f)
{
    const struct bo_option *const tables[] = {agent_option_table, NULL};
    struct bo_help_page p = {.usage = "borealis agent [OPTIONS]",
                             .text = agent_help_text,
                             .options = tables,
                             .examples = agent_examples};
    bo_help_page(f, &p);
}

int agent_options_parse(int argc, char **argv, struct agent_options *ret, bo_error_t *err)
{
    struct agent_options o = {.attributes = json_object()};
    struct bo_opts parsed;
    int r = bo_opts_parse(agent_option_table, argc > 0 ? argc - 1 : 0, argv + (argc > 0), &o, &parsed, err);
    if (r == 0) {
        o.help = parsed.help;
        if (!o.help && parsed.n_pos > 0)
            r = bo_error_set(err, BO_E_INVALID, "unexpected argument `%.100s` (the agent takes only options)",
                             parsed.pos[0]);
        bo_opts_clear(&parsed);
    }
    if (r < 0) {
        agent_options_clear(&o);
        return -1;
    }
    *ret = o;
    return 0;
}

int agent_options_resolve(struct agent_options *o, bo_error_t *err)
{
    if (!o->hostname) {
        char buf[HOST_NAME_MAX + 1] = "";
        if (gethostname(buf, sizeof(buf)) < 0)
            return bo_error_sys(err, errno, "gethostname");
        buf[HOST_NAME_MAX] = '\0';
        o->hostname = bo_xstrdup(buf);
    }
    /* `host` is always the hostname, so constraints on it are reliable. */
    json_object_set_new(o->attributes, "host", json_string(o->hostname));
    if (!o->executor) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0)
            return bo_error_sys(err, errno, "readlink `/proc/self/exe`");
        self[n] = '\0';
        o->executor = bo_xasprintf("%s/borealis-executor", dirname(self));
    }
    if (access(o->executor, X_OK) < 0)
        return usage_error(err, bo_error_sys(err, errno, "executor `%s` (set --executor)", o->executor));
    if (o->cpu <= 0 && resources_detect_cpu(&o->cpu, err) < 0)
        return -1;
    if (o->ram == 0 && resources_detect_ram(&o->ram, err) < 0)
        return -1;
    if (!o->disk_set && resources_detect_disk(o->data_dir, &o->disk, err) < 0)
        return -1;
    return 0;
}

void agent_options_clear(struct agent_options *o)
{
    free(o->scheduler_url);
    free(o->data_dir);
    free(o->hostname);
    free(o->executor);
    free(o->cgroup_root);
    free(o->registry_ca);
    free(o->registry_auth);
    for (size_t i = 0; i < o->n_plain_http; i++)
        free(o->plain_http[i]);
    free(o->plain_http);
    for (size_t i = 0; i < o->n_host_mount_allow; i++)
        free(o->host_mount_allow[i]);
    free(o->host_mount_allow);
    free(o->runtime);
    json_decref(o->allow_root_roles);
    free(o->join_token_file);
    free(o->ca_file);
    json_decref(o->attributes);
    *o = (struct agent_options){0};
}
