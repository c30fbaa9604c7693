/* command.h - what a task's processes run, from the job and its image's
 * config, by Docker's rules: a process's argv is the image's Entrypoint
 * followed by the job's cmdline (as words, or sh -c: model/cmdline.h) or,
 * when the cmdline is empty, the image's Cmd; the environment is the
 * image's Env, then the role's HOME/USER/LOGNAME (and a PATH if the image
 * sets none), then the job's `env`, then what Borealis owns
 * (BOREALIS_TASK_ID, PORT_<NAME>), each later one replacing an earlier
 * one of the same name; the working directory is the image's WorkingDir,
 * else the sandbox. The image's User is never used: a task runs as its
 * role's user (container.h). */
#ifndef BO_AGENT_COMMAND_H
#define BO_AGENT_COMMAND_H

#include <jansson.h>

#include "base/error.h"
#include "image/manifest.h"
#include "model/template.h"

/* argv (NULL-terminated, heap; cmdline_argv_free) of the process `name`
 * whose rendered cmdline is `cmdline` ("" for none). `image` NULL: a task
 * without an image. Nothing to run is an error naming the process. */
int command_argv(const char *name, const char *cmdline, const struct image_config *image, char ***ret,
                 bo_error_t *err);

struct command_env_in {
    const struct image_config *image; /* NULL: no image */
    char *const *job_env;             /* the job's entries, runtime variables not yet rendered */
    size_t n_job_env;
    const struct template_runtime *rt; /* renders them; also task_id and ports */
    const char *role;
    const char *home;
};

/* The environment ("NAME=VALUE", NULL-terminated, heap; free with
 * cmdline_argv_free). */
int command_env(const struct command_env_in *in, char ***ret, bo_error_t *err);

/* The working directory of the processes: the image's WorkingDir, or NULL
 * (the sandbox). */
const char *command_cwd(const struct image_config *image);

#endif
