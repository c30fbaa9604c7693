/* options.c - the agent's option table, its parser and its --help. */
#include "agent/options.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "agent/resources.h"
#include "base/ident.h"
#include "base/parse.h"

#define OPT_VALUE_MAX 4096
#define OPT_ATTRIBUTES_MAX 64

typedef int (*opt_set_fn)(struct agent_options *o, const char *name, const char *v, bo_error_t *err);

struct agent_option {
    const char *name;   /* without the leading "--" */
    const char *arg;    /* NULL: a flag without argument */
    const char *def;    /* default given to the setter, NULL: none */
    const char *def_doc; /* default as shown in --help when not `def` */
    const char *help;
    opt_set_fn set;
};

static int set_string(char **dst, const char *v)
{
    free(*dst);
    *dst = bo_xstrdup(v);
    return 0;
}

static int set_scheduler(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return bo_error_set(err, BO_E_INVALID, "--%s: `%s` is not an http:// or https:// URL", name, v);
    set_string(&o->scheduler_url, v);
    /* The sync path is appended: drop trailing slashes once here. */
    size_t n = strlen(o->scheduler_url);
    while (n > 0 && o->scheduler_url[n - 1] == '/')
        o->scheduler_url[--n] = '\0';
    return 0;
}

static int set_data_dir(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
    if (!*v)
        return bo_error_set(err, BO_E_INVALID, "--%s: must not be empty", name);
    /* Executors get paths inside it long after start (and from another
     * working directory), so keep it absolute. */
    _cleanup_free_ char *abs = NULL;
    if (v[0] != '/') {
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        if (!cwd)
            return bo_error_sys(err, errno, "--%s: resolving `%s`", name, v);
        abs = bo_xasprintf("%s/%s", cwd, strncmp(v, "./", 2) == 0 ? v + 2 : v);
        v = abs;
    }
    /* The notify socket path (DATA/agent.sock) must fit in sun_path. */
    if (strlen(v) > 90)
        return bo_error_set(err, BO_E_INVALID, "--%s: `%s` is longer than 90 characters", name, v);
    return set_string(&o->data_dir, v);
}

static int set_hostname(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
    _cleanup_free_ char *what = bo_xasprintf("--%s", name);
    if (bo_ident_check(v, 253, 0, what, err) < 0)
        return -1;
    return set_string(&o->hostname, v);
}

static int set_cpu(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
    _cleanup_free_ char *what = bo_xasprintf("--%s", name);
    return bo_parse_double(v, 0.01, 4096, what, &o->cpu, err);
}

static int set_ram(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
    _cleanup_free_ char *what = bo_xasprintf("--%s", name);
    if (bo_parse_size(v, what, &o->ram, err) < 0)
        return -1;
    if (o->ram < (1u << 20))
        return bo_error_set(err, BO_E_INVALID, "--%s: must be at least 1MiB", name);
    return 0;
}

static int set_disk(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
    _cleanup_free_ char *what = bo_xasprintf("--%s", name);
    if (bo_parse_size(v, what, &o->disk, err) < 0)
        return -1;
    o->disk_set = true;
    return 0;
}

static int set_port_range(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
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

static int set_attribute(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
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

static int set_executor(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
    if (access(v, X_OK) < 0)
        return bo_error_sys(err, errno, "--%s: `%s` is not executable", name, v);
    return set_string(&o->executor, v);
}

static int set_cgroup_root(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
    _cleanup_free_ char *what = bo_xasprintf("--%s", name);
    if (bo_ident_check(v, 64, 0, what, err) < 0)
        return -1;
    return set_string(&o->cgroup_root, v);
}

static int set_retention(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
    _cleanup_free_ char *what = bo_xasprintf("--%s", name);
    return bo_parse_duration_ms(v, what, &o->sandbox_retention_ms, err);
}

static int set_pids_max(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
    _cleanup_free_ char *what = bo_xasprintf("--%s", name);
    return bo_parse_i64(v, 16, 4194304, what, &o->pids_max, err);
}

static int set_cleanup(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
    o->cleanup_on_exit = true;
    return 0;
}

static int set_help(struct agent_options *o, const char *name, const char *v, bo_error_t *err)
{
    o->help = true;
    return 0;
}

static const struct agent_option option_table[] = {
    {"scheduler", "URL", "http://127.0.0.1:8081", NULL, "scheduler to sync with", set_scheduler},
    {"data-dir", "DIR", "/var/lib/borealis/agent", NULL, "state, journal, notify socket and sandboxes",
     set_data_dir},
    {"hostname", "NAME", NULL, "gethostname()", "host name reported to the scheduler", set_hostname},
    {"cpu", "N", NULL, "online CPUs", "CPUs offered to tasks", set_cpu},
    {"ram", "SIZE", NULL, "MemTotal", "memory offered to tasks (e.g. 4GiB)", set_ram},
    {"disk", "SIZE", NULL, "free space of data dir", "disk offered to tasks (e.g. 100GiB)", set_disk},
    {"port-range", "LOW-HIGH", "31000-31999", NULL, "ports the scheduler may assign to tasks",
     set_port_range},
    {"attribute", "KEY:VALUE", NULL, "host:HOSTNAME", "machine attribute for constraints (repeatable)",
     set_attribute},
    {"executor", "PATH", NULL, "borealis-executor beside this program", "executor program", set_executor},
    {"cgroup-root", "NAME", "borealis", NULL, "parent cgroup of the tasks' cgroups", set_cgroup_root},
    {"pids-max", "N", "4096", NULL, "process limit of each task (pids controller)", set_pids_max},
    {"sandbox-retention", "DURATION", "1h", NULL,
     "how long a finished task's sandbox is kept (0: remove once the scheduler acked the end)", set_retention},
    {"cleanup-on-exit", NULL, NULL, NULL,
     "on SIGTERM/SIGINT kill every task and remove its cgroup and sandbox (default: leave tasks running)",
     set_cleanup},
    {"help", NULL, NULL, NULL, "show this help", set_help},
};

void agent_options_help(FILE *f)
{
    fprintf(f, "Usage: borealis agent [OPTIONS]\n\nRuns tasks on this machine for a Borealis scheduler.\n\n");
    for (size_t i = 0; i < BO_ARRAY_SIZE(option_table); i++) {
        const struct agent_option *op = &option_table[i];
        char lhs[64];
        snprintf(lhs, sizeof(lhs), "--%s%s%s", op->name, op->arg ? " " : "", op->arg ? op->arg : "");
        fprintf(f, "  %-30s %s", lhs, op->help);
        if (op->def || op->def_doc)
            fprintf(f, " (default: %s)", op->def ? op->def : op->def_doc);
        fputc('\n', f);
    }
}

static const struct agent_option *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < BO_ARRAY_SIZE(option_table); i++)
        if (strlen(option_table[i].name) == len && strncmp(option_table[i].name, name, len) == 0)
            return &option_table[i];
    return NULL;
}

int agent_options_parse(int argc, char **argv, struct agent_options *ret, bo_error_t *err)
{
    struct agent_options o = {.attributes = json_object()};
    int r = 0;
    for (size_t i = 0; r == 0 && i < BO_ARRAY_SIZE(option_table); i++)
        if (option_table[i].def)
            r = option_table[i].set(&o, option_table[i].name, option_table[i].def, err);
    for (int i = 1; r == 0 && i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            r = bo_error_set(err, BO_E_INVALID, "unexpected argument `%s` (see --help)", a);
            break;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct agent_option *op = find_option(name, len);
        if (!op) {
            r = bo_error_set(err, BO_E_INVALID, "unknown option `%.*s` (see --help)", (int)(len + 2), a);
            break;
        }
        const char *v = NULL;
        if (op->arg) {
            if (eq)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else {
                r = bo_error_set(err, BO_E_INVALID, "--%s: missing %s", op->name, op->arg);
                break;
            }
            if (strlen(v) > OPT_VALUE_MAX) {
                r = bo_error_set(err, BO_E_INVALID, "--%s: value longer than %d characters", op->name,
                                 OPT_VALUE_MAX);
                break;
            }
        } else if (eq) {
            r = bo_error_set(err, BO_E_INVALID, "--%s takes no value", op->name);
            break;
        }
        r = op->set(&o, op->name, v, err);
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
        return bo_error_sys(err, errno, "executor `%s` (set --executor)", o->executor);
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
    json_decref(o->attributes);
    *o = (struct agent_options){0};
}
