/* Unit tests for model/cmdline (when a command line needs a shell) and
 * agent/command (argv, environment and working directory from the job and
 * the image config, by Docker's rules). */
#include <string.h>

#include "agent/command.h"
#include "harness.h"
#include "model/cmdline.h"

static size_t strv_len(char **v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

TEST(plain_cmdlines_run_without_a_shell)
{
    char **v = cmdline_argv("  /bin/echo   hello\tworld ");
    CHECK(strv_len(v) == 3);
    CHECK_STR(v[0], "/bin/echo");
    CHECK_STR(v[1], "hello");
    CHECK_STR(v[2], "world");
    cmdline_argv_free(v);
    const char *plain[] = {"sleep 10", "python3 -m http.server 8080", "app --port=31000 --name=a,b:c@d%e+f",
                           "./run.sh", "true"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        CHECK(!cmdline_needs_shell(plain[i]));
}

TEST(shell_syntax_keeps_the_shell)
{
    const char *shell[] = {"echo hi; sleep 1", "echo $HOME", "a | b", "a && b", "echo 'quoted'", "echo \"q\"",
                           "ls *.c", "cat < in", "echo > out", "sleep 1 &", "echo ~", "a\nb", "echo `id`",
                           "echo # comment", "(sub)", "{ a; }", "A=1 env", "exit 3", "exec sleep 100",
                           "cd /tmp", "export A", "if", "while", "   ", "", "echo \\x"};
    for (size_t i = 0; i < sizeof(shell) / sizeof(shell[0]); i++) {
        if (!cmdline_needs_shell(shell[i]))
            fprintf(stderr, "  no shell for `%s`\n", shell[i]);
        CHECK(cmdline_needs_shell(shell[i]));
    }
    char **v = cmdline_argv("echo hi; exit 3");
    CHECK(strv_len(v) == 3);
    CHECK_STR(v[0], "/bin/sh");
    CHECK_STR(v[1], "-c");
    CHECK_STR(v[2], "echo hi; exit 3");
    cmdline_argv_free(v);
}

static char *ep[] = {"/entry", "--flag"};
static char *cmd[] = {"serve", "--port", "80"};
static char *ienv[] = {"PATH=/opt/bin", "IMAGE_ONLY=1", "SHARED=image", "HOME=/root"};

static struct image_config image(void)
{
    return (struct image_config){.entrypoint = ep, .n_entrypoint = 2, .cmd = cmd, .n_cmd = 3, .env = ienv,
                                 .n_env = 4, .working_dir = "/app"};
}

TEST(argv_is_entrypoint_then_cmdline_or_cmd)
{
    struct image_config img = image();
    char **v = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    /* No cmdline: Entrypoint + Cmd. */
    CHECK(command_argv("main", "", &img, &v, &err) == 0);
    CHECK(strv_len(v) == 5);
    CHECK_STR(v[0], "/entry");
    CHECK_STR(v[2], "serve");
    CHECK_STR(v[4], "80");
    cmdline_argv_free(v);
    /* A cmdline replaces Cmd, never the Entrypoint. */
    CHECK(command_argv("main", "other arg", &img, &v, &err) == 0);
    CHECK(strv_len(v) == 4);
    CHECK_STR(v[0], "/entry");
    CHECK_STR(v[2], "other");
    CHECK_STR(v[3], "arg");
    cmdline_argv_free(v);
    /* Without an Entrypoint a cmdline is the whole command. */
    img.n_entrypoint = 0;
    CHECK(command_argv("main", "echo a > b", &img, &v, &err) == 0);
    CHECK(strv_len(v) == 3);
    CHECK_STR(v[0], "/bin/sh");
    cmdline_argv_free(v);
    /* Nothing to run is an error naming the process. */
    img.n_cmd = 0;
    CHECK(command_argv("web", "", &img, &v, &err) < 0);
    CHECK_CONTAINS(err->msg, "process `web`");
    CHECK_CONTAINS(err->msg, "neither Entrypoint nor Cmd");
    bo_error_freep(&err);
    CHECK(command_argv("web", "", NULL, &v, &err) < 0);
    CHECK_CONTAINS(err->msg, "no cmdline");
}

static const char *env_get(char **v, const char *name)
{
    size_t n = strlen(name);
    const char *found = NULL;
    for (size_t i = 0; v[i]; i++)
        if (strncmp(v[i], name, n) == 0 && v[i][n] == '=') {
            CHECK(!found); /* each name once */
            found = v[i] + n + 1;
        }
    return found;
}

TEST(env_is_image_then_role_then_job_then_borealis)
{
    struct image_config img = image();
    json_t *ports = json_pack("{s:i}", "http", 31000);
    struct template_runtime rt = {.instance = 3, .hostname = "h", .task_id = "t-1", .ports = ports};
    char *job_env[] = {"SHARED=job", "INSTANCE={{instance}}", "PORT_HTTP=1", "BOREALIS_TASK_ID=forged",
                       "HOME=/home/x"};
    struct command_env_in in = {.image = &img, .job_env = job_env, .n_job_env = 5, .rt = &rt, .role = "www-data",
                                .home = "/sandbox"};
    char **v = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(command_env(&in, &v, &err) == 0);
    CHECK_STR(env_get(v, "PATH"), "/opt/bin");       /* the image's PATH stays */
    CHECK_STR(env_get(v, "IMAGE_ONLY"), "1");
    CHECK_STR(env_get(v, "SHARED"), "job");          /* the job's env wins over the image's */
    CHECK_STR(env_get(v, "INSTANCE"), "3");          /* rendered at launch */
    CHECK_STR(env_get(v, "HOME"), "/home/x");        /* the job may move HOME */
    CHECK_STR(env_get(v, "USER"), "www-data");
    CHECK_STR(env_get(v, "PORT_HTTP"), "31000");     /* what Borealis owns wins */
    CHECK_STR(env_get(v, "BOREALIS_TASK_ID"), "t-1");
    cmdline_argv_free(v);
    /* No image: a default PATH, the sandbox as HOME. */
    in.image = NULL;
    in.n_job_env = 0;
    CHECK(command_env(&in, &v, &err) == 0);
    CHECK_CONTAINS(env_get(v, "PATH"), "/usr/bin");
    CHECK_STR(env_get(v, "HOME"), "/sandbox");
    cmdline_argv_free(v);
    json_decref(ports);
}

TEST(cwd_is_the_image_working_dir_or_the_sandbox)
{
    struct image_config img = image();
    CHECK_STR(command_cwd(&img), "/app");
    img.working_dir = "";
    CHECK(command_cwd(&img) == NULL);
    CHECK(command_cwd(NULL) == NULL);
}

TEST_MAIN()
