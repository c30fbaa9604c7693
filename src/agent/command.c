/* command.c - argv, environment and working directory of a task's
 * processes (see command.h). */
#include "agent/command.h"

#include <ctype.h>
#include <string.h>

#include "base/util.h"
#include "model/cmdline.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void strv_append(char ***v, size_t *n, size_t *cap, char *s)
{
    if (*n + 2 > *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = bo_xrealloc(*v, *cap * sizeof(char *));
    }
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

int command_argv(const char *name, const char *cmdline, const struct image_config *image, char ***ret,
                 bo_error_t *err)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; image && i < image->n_entrypoint; i++)
        strv_append(&v, &n, &cap, bo_xstrdup(image->entrypoint[i]));
    if (*cmdline) {
        char **words = cmdline_argv(cmdline);
        for (size_t i = 0; words[i]; i++)
            strv_append(&v, &n, &cap, BO_STEAL(words[i]));
        free(words);
    } else {
        for (size_t i = 0; image && i < image->n_cmd; i++)
            strv_append(&v, &n, &cap, bo_xstrdup(image->cmd[i]));
    }
    if (n == 0 || !*v[0]) {
        cmdline_argv_free(v);
        return bo_error_set(err, BO_E_INVALID,
                            "process `%s` has nothing to run: no cmdline, and %s", name,
                            image ? "its image has neither Entrypoint nor Cmd" : "no image");
    }
    *ret = v;
    return 0;
}

/* Set NAME=VALUE in v, replacing an entry of the same name. `entry` is
 * taken. */
static void env_set(char ***v, size_t *n, size_t *cap, char *entry)
{
    size_t name_len = strcspn(entry, "=");
    for (size_t i = 0; i < *n; i++)
        if (strncmp((*v)[i], entry, name_len + 1) == 0) {
            free((*v)[i]);
            (*v)[i] = entry;
            return;
        }
    strv_append(v, n, cap, entry);
}

/* PORT_HTTP=31000 for a port named `http` (upper case, '-' and '.' as
 * '_'), beside {{ports.http}} in the cmdline. */
static char *port_env(const char *name, json_int_t port)
{
    char *s = bo_xasprintf("PORT_%s=%lld", name, (long long)port);
    for (char *p = s + 5; *p && *p != '='; p++)
        *p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
    return s;
}

int command_env(const struct command_env_in *in, char ***ret, bo_error_t *err)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    bool has_path = false;
    for (size_t i = 0; in->image && i < in->image->n_env; i++) {
        has_path |= strncmp(in->image->env[i], "PATH=", 5) == 0;
        env_set(&v, &n, &cap, bo_xstrdup(in->image->env[i]));
    }
    if (!has_path)
        env_set(&v, &n, &cap, bo_xstrdup(DEFAULT_PATH));
    env_set(&v, &n, &cap, bo_xasprintf("HOME=%s", in->home));
    env_set(&v, &n, &cap, bo_xasprintf("USER=%s", in->role));
    env_set(&v, &n, &cap, bo_xasprintf("LOGNAME=%s", in->role));
    for (size_t i = 0; i < in->n_job_env; i++) {
        char *e = NULL;
        if (template_expand_runtime(in->job_env[i], in->rt, &e, err) < 0) {
            cmdline_argv_free(v);
            return bo_error_wrap(err, "env[%zu]", i);
        }
        env_set(&v, &n, &cap, e);
    }
    env_set(&v, &n, &cap, bo_xasprintf("BOREALIS_TASK_ID=%s", in->rt->task_id));
    const char *pname;
    json_t *pv;
    if (in->rt->ports)
        json_object_foreach(in->rt->ports, pname, pv) env_set(&v, &n, &cap, port_env(pname, json_integer_value(pv)));
    *ret = v;
    return 0;
}

const char *command_cwd(const struct image_config *image)
{
    return image && image->working_dir && *image->working_dir ? image->working_dir : NULL;
}
