/* Unit tests for config/jobfile: the example file, every error message with
 * its FILE:LINE:COL, key selection, vars and binds, Aurora spellings, sizes
 * and durations, file limits. */
#include <string.h>

#include "base/fs.h"
#include "config/jobfile.h"
#include "harness.h"

/* Line numbers below refer to this text. */
static const char base_yaml[] =
    "vars:\n"                                                  /* 1 */
    "  greeting: hello\n"                                      /* 2 */
    "jobs:\n"                                                  /* 3 */
    "  - cluster: local\n"                                     /* 4 */
    "    role: www-data\n"                                     /* 5 */
    "    environment: devel\n"                                 /* 6 */
    "    name: hello\n"                                        /* 7 */
    "    instances: 2\n"                                       /* 8 */
    "    service: true\n"                                      /* 9 */
    "    task:\n"                                              /* 10 */
    "      resources: {cpu: 0.1, ram: 32MiB, disk: 64MiB}\n"   /* 11 */
    "      ports: [http]\n"                                    /* 12 */
    "      processes:\n"                                       /* 13 */
    "        - name: hello\n"                                  /* 14 */
    "          cmdline: \"echo {{greeting}} {{instance}} on {{ports.http}}\"\n"; /* 15 */

#define KEY "local/www-data/devel/hello"

/* base_yaml with the first `from` replaced by `to` (from NULL: unchanged). */
static char *edit(const char *from, const char *to)
{
    if (!from)
        return bo_xstrdup(base_yaml);
    const char *at = strstr(base_yaml, from);
    CHECK(at);
    return bo_xasprintf("%.*s%s%s", (int)(at - base_yaml), base_yaml, to, at + strlen(from));
}

static int load(const char *text, const char *key, const struct jobfile_options *o, struct job_config **ret,
                bo_error_t *err)
{
    return jobfile_load_buffer("hello.yaml", text, strlen(text), key, o, ret, err);
}

TEST(example_file)
{
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (jobfile_load("examples/hello.yaml", KEY, NULL, &c, &err) < 0)
        fprintf(stderr, "  %s\n", err->msg);
    CHECK(c);
    CHECK_STR(c->key.cluster, "local");
    CHECK_STR(c->key.role, "www-data");
    CHECK(c->instances == 2 && c->service);
    CHECK(c->task.cpu == 0.1 && c->task.ram == 32u << 20 && c->task.disk == 64u << 20);
    CHECK(c->task.n_ports == 1);
    CHECK_STR(c->task.ports[0], "http");
    CHECK(c->task.n_processes == 1);
    CHECK_STR(c->task.processes[0].cmdline,
              "while true; do echo hello {{instance}} on {{ports.http}}; sleep 5; done");
    job_config_unref(c);
}

TEST(base_text_and_json_round_trip)
{
    struct job_config *c = NULL;
    CHECK(load(base_yaml, KEY, NULL, &c, NULL) == 0);
    CHECK_STR(c->task.processes[0].cmdline, "echo hello {{instance}} on {{ports.http}}");
    json_t *j = job_config_to_json(c);
    CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(j, "task"), "resources"), "ram")) ==
          33554432);
    struct job_config *c2 = NULL;
    CHECK(job_config_from_json(j, &c2, NULL) == 0);
    json_t *j2 = job_config_to_json(c2);
    CHECK(json_equal(j, j2));
    json_decref(j2);
    json_decref(j);
    job_config_unref(c2);
    job_config_unref(c);
}

TEST(errors_with_positions)
{
    static const struct {
        const char *from, *to, *msg; /* msg NULL: accepted */
    } cases[] = {
        {"instances: 2", "instances: 0", "hello.yaml:8:16: instances: must be between 1 and 4000"},
        {"instances: 2", "instances: 4001", "hello.yaml:8:16: instances: must be between 1 and 4000"},
        {"instances: 2", "instances: two", "hello.yaml:8:16: instances: `two` is not an integer"},
        {"instances: 2", "instances: [2]", "hello.yaml:8:16: instances: must be a single value"},
        {"instances: 2", "instances: 2\n    instances: 3", "hello.yaml:9:5: duplicate field `instances` in job"},
        {"    task:", "    tsk:", "hello.yaml:10:5: unknown field `tsk` in job; did you mean `task`?"},
        {"ram: 32MiB", "ram: 32XB", "hello.yaml:11:34: task.resources.ram: unknown size unit `XB` in `32XB`"},
        {"ram: 32MiB", "ram: lots", "hello.yaml:11:34: task.resources.ram: `lots` is not a size"},
        {"ram: 32MiB", "ram: 1KiB", "hello.yaml:11:34: task.resources.ram: must be at least 1MiB"},
        {"ram: 32MiB", "ram: 1048576", NULL},
        {"ram: 32MiB, ", "", "hello.yaml:11:18: task.resources.ram: is required"},
        {"disk: 64MiB", "disk: 64MiB, gpu: 1", "hello.yaml:11:54: unknown field `gpu` in task.resources"},
        {"cpu: 0.1", "cpu: 0", "hello.yaml:11:24: task.resources.cpu: must be greater than 0 and at most 1024"},
        {"cpu: 0.1", "cpu: x", "hello.yaml:11:24: task.resources.cpu: `x` is not a number"},
        {"service: true", "service: maybe", "hello.yaml:9:14: service: `maybe` is not a boolean"},
        {"service: true", "service: no", NULL},
        {"role: www-data", "role: www data", "hello.yaml:5:11: role `www data` must match [A-Za-z0-9_.-]+"},
        {"environment: devel", "environment: dev",
         "hello.yaml:6:18: environment `dev` must match ^(prod|devel|test|staging[0-9]*)$"},
        /* Template errors point at the variable, not at the string. */
        {"{{greeting}}", "{{foo}}", "hello.yaml:15:26: unknown variable `{{foo}}`"},
        {"{{ports.http}}\"", "{{ports.http\"", "hello.yaml:15:55: unterminated variable `{{ports.http`"},
        {"\"echo {{greeting}}", "\"\u00e9\u00e9 {{nope}} {{greeting}}", "hello.yaml:15:24: unknown variable `{{nope}}`"},
        {"\"echo {{greeting}} {{instance}} on {{ports.http}}\"",
         "|\n            echo {{greeting}}\n            echo {{x}} {{greeting}}\n            echo {{x}}",
         "hello.yaml:17:18: unknown variable `{{x}}`"},
        {"\"echo {{greeting}} {{instance}} on {{ports.http}}\"",
         "echo {{greeting}}\n            {{instance}} {{ports.}}",
         "hello.yaml:16:26: invalid port name in `{{ports.}}`"},
        /* Spelled differently in the source (an escape): the string's start. */
        {"{{greeting}}", "\\x7b{foo}}", "hello.yaml:15:20: unknown variable `{{foo}}`"},
        {"ports: [http]", "ports: http", "hello.yaml:12:14: task.ports: must be a list"},
        {"ports: [http]", "ports: [\"a b\"]", "hello.yaml:12:15: task.ports[0] `a b` must match [A-Za-z0-9_-]+"},
        {"ports: [http]", "ports: [http]\n      kill_grace_ms: 5s", NULL},
        {"ports: [http]", "ports: [http]\n      kill_grace_ms: 11m",
         "hello.yaml:13:22: task.kill_grace_ms: must be between 0 and 600000"},
        {"ports: [http]", "ports: [http]\n      kill_grace_ms: soon", "hello.yaml:13:22: task.kill_grace_ms: `soon` is not a duration"},
        {"ports: [http]", "ports: [http]\n      kill_grace_ms: -5s", "hello.yaml:13:22: task.kill_grace_ms: `-5s` is not a duration"},
        {"ports: [http]", "ports: [http]\n      kill_grace_ms: -5", "hello.yaml:13:22: task.kill_grace_ms: `-5` is not a duration"},
        /* A bare number is refused (it meant milliseconds here and seconds
         * on command lines), except 0. */
        {"ports: [http]", "ports: [http]\n      kill_grace_ms: 5000",
         "hello.yaml:13:22: task.kill_grace_ms: `5000` has no unit: write e.g. `5000s` for seconds or `5000ms`"},
        {"ports: [http]", "ports: [http]\n      kill_grace_ms: 0", NULL},
        {"ports: [http]", "ports: [http, admin, http]",
         "hello.yaml:12:28: task.ports[2]: duplicate port name `http` (also ports[0])"},
        {"ports: [http]", "ports: [http]\n      kill_grace_ms: 0x10s", "hello.yaml:13:22: task.kill_grace_ms: `0x10s` is not a duration"},
        {"ports: [http]", "ports: [http]\n      kill_grace_ms: 1e3ms", "hello.yaml:13:22: task.kill_grace_ms: `1e3ms` is not a duration"},
        {"ports: [http]", "ports: [http]\n      kill_grace_ms: 1.5s", NULL},
        {"ports: [http]", "ports: [http]\n      ordering: random",
         "hello.yaml:13:17: task.ordering: must be \"parallel\" or \"sequential\""},
        {"        - name: hello", "        - name: hello\n          env: {}", "hello.yaml:15:11: unknown field `env` in task.processes[0]"},
        {"processes:", "processes: {}\n      x:", "hello.yaml:13:18: task.processes: must be a list"},
        {"        - name: hello\n", "        - nme: hello\n", "hello.yaml:14:11: unknown field `nme` in task.processes[0]"},
        {"    role: www-data", "    role: [www-data",
         "hello.yaml:5:11: YAML syntax error in the flow sequence that starts here: did not find expected ',' or ']' "
         "(noticed at line 6, column 16)"},
        {"vars:\n  greeting: hello\n", "vars:\n  role: x\n", "hello.yaml:2:3: vars: variable `role` is a built-in variable"},
        {"vars:\n  greeting: hello\n", "vars:\n  greeting: [a]\n", "hello.yaml:2:13: vars.greeting: must be a string"},
        {"vars:\n  greeting: hello\n", "vars:\n  greeting: hi\n  greeting: x\n", "hello.yaml:3:3: vars: duplicate variable `greeting`"},
        {"vars:", "var:", "hello.yaml:1:1: unknown field `var` at top level (expected jobs, vars); did you mean `vars`?"},
        {"    instances: 2\n", "    instances: 2\n    max_task_failures: -1\n", NULL},
        {"    instances: 2\n", "    instances: 2\n    max_task_failures: 0\n",
         "hello.yaml:9:24: max_task_failures: must be -1 (forever) or between 1 and 1000"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *text = edit(cases[i].from, cases[i].to);
        struct job_config *c = NULL;
        bo_error_t err = NULL;
        int r = load(text, NULL, NULL, &c, &err);
        if (cases[i].msg) {
            if (r == 0)
                fprintf(stderr, "  case %zu accepted\n", i);
            CHECK(r < 0 && !c);
            CHECK(err->kind == BO_E_INVALID);
            CHECK_CONTAINS(err->msg, cases[i].msg);
            /* the position leads the message */
            if (strncmp(cases[i].msg, "hello.yaml:", 11) == 0 && strncmp(err->msg, cases[i].msg, strlen("hello.yaml:1")) != 0)
                CHECK(!"message does not start with its position");
        } else {
            if (r < 0)
                fprintf(stderr, "  case %zu: %s\n", i, err->msg);
            CHECK(r == 0);
        }
        bo_error_free(err);
        job_config_unref(c);
    }
}

/* An unclosed `{` is reported on its own line, not where libyaml noticed. */
TEST(syntax_error_points_at_the_opening)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"jobs:\n  - cluster: local\n    role: {a: 1\n    name: x\n",
         "hello.yaml:3:11: YAML syntax error in the flow mapping that starts here: did not find expected ',' or '}' "
         "(noticed at line 4, column 9)"},
        {"jobs:\n  - cluster: \"local\n    role: x\n",
         "hello.yaml:2:14: YAML syntax error in the quoted scalar that starts here: found unexpected end of stream"},
        /* a block's start may be far above: the problem's own line */
        {"jobs:\n  - cluster: local\n   role: x\n", "hello.yaml:3:4: YAML syntax error: did not find expected '-'"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        _cleanup_error_ bo_error_t err = NULL;
        struct job_config *c = NULL;
        CHECK(load(cases[i].text, NULL, NULL, &c, &err) < 0);
        CHECK_CONTAINS(err->msg, cases[i].msg);
        CHECK(strncmp(err->msg, cases[i].msg, 12) == 0);
    }
}

/* Every error of a file comes back at once, one per line, in file order
 * for the loader's own checks, then job.c's value checks. */
TEST(every_error_is_reported)
{
    _cleanup_free_ char *t1 = edit("    instances: 2\n", "    instances: 0\n    priorty: 3\n");
    _cleanup_free_ char *t2 = NULL, *text = NULL;
    {
        const char *at = strstr(t1, "{{greeting}}");
        t2 = bo_xasprintf("%.*s{{greting}}%s", (int)(at - t1), t1, at + strlen("{{greeting}}"));
    }
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(load(t2, NULL, NULL, &c, &err) < 0 && !c);
    CHECK_STR(err->msg, "hello.yaml:9:5: unknown field `priorty` in job; did you mean `priority`?\n"
                        "hello.yaml:16:26: unknown variable `{{greting}}`");
    bo_error_freep(&err);

    /* value errors (job.c) are all found too */
    text = edit("    instances: 2\n", "    instances: 0\n    max_task_failures: 0\n");
    char *t3 = text;
    text = bo_xasprintf("%s      kill_grace_ms: 11m\n", t3);
    free(t3);
    t3 = text;
    text = NULL;
    const char *cpu = strstr(t3, "cpu: 0.1, ram: 32MiB");
    text = bo_xasprintf("%.*scpu: 0, ram: 1KiB%s", (int)(cpu - t3), t3, cpu + strlen("cpu: 0.1, ram: 32MiB"));
    free(t3);
    CHECK(load(text, NULL, NULL, &c, &err) < 0 && !c);
    CHECK_STR(err->msg, "hello.yaml:8:16: instances: must be between 1 and 4000\n"
                        "hello.yaml:9:24: max_task_failures: must be -1 (forever) or between 1 and 1000\n"
                        "hello.yaml:12:24: task.resources.cpu: must be greater than 0 and at most 1024\n"
                        "hello.yaml:12:32: task.resources.ram: must be at least 1MiB\n"
                        "hello.yaml:17:22: task.kill_grace_ms: must be between 0 and 600000");
}

/* Past JOBFILE_MAX_ERRORS, the rest are counted. */
TEST(error_limit)
{
    char *text = bo_xstrdup(base_yaml);
    for (int i = 0; i < JOBFILE_MAX_ERRORS + 5; i++) {
        char *at = strstr(text, "    task:");
        char *m = bo_xasprintf("%.*s    bad%d: 1\n%s", (int)(at - text), text, i, at);
        free(text);
        text = m;
    }
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(load(text, NULL, NULL, &c, &err) < 0);
    free(text);
    size_t lines = 1;
    for (const char *p = err->msg; *p; p++)
        lines += *p == '\n';
    CHECK(lines == JOBFILE_MAX_ERRORS + 1);
    CHECK_CONTAINS(err->msg, "hello.yaml:10:5: unknown field `bad0` in job\n");
    CHECK_CONTAINS(err->msg, "\n... and 5 more errors");
}

TEST(kill_grace_duration)
{
    _cleanup_free_ char *text = edit("ports: [http]", "ports: [http]\n      kill_grace_ms: 2.5s");
    struct job_config *c = NULL;
    CHECK(load(text, KEY, NULL, &c, NULL) == 0);
    CHECK(c->task.kill_grace_ms == 2500);
    job_config_unref(c);
}

TEST(key_selection)
{
    _cleanup_free_ char *two = bo_xasprintf("%s"
                                            "  - cluster: local\n"
                                            "    role: www-data\n"
                                            "    environment: prod\n"
                                            "    name: hello\n"
                                            "    task:\n"
                                            "      resources: {cpu: 1, ram: 1GiB, disk: 0}\n"
                                            "      processes: [{name: p, cmdline: \"echo {{environment}}\"}]\n",
                                            base_yaml);
    struct job_config *c = NULL;
    CHECK(load(two, "local/www-data/prod/hello", NULL, &c, NULL) == 0);
    CHECK_STR(c->key.environment, "prod");
    CHECK_STR(c->task.processes[0].cmdline, "echo prod");
    CHECK(c->instances == 1 && c->task.ram == 1u << 30);
    job_config_unref(c);

    _cleanup_error_ bo_error_t err = NULL;
    CHECK(load(base_yaml, "local/www-data/devel/nope", NULL, &c, &err) < 0);
    CHECK_STR(err->msg, "hello.yaml has no job local/www-data/devel/nope (it has: local/www-data/devel/hello)");
    bo_error_freep(&err);

    CHECK(load(two, NULL, NULL, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "hello.yaml holds 2 jobs");
    CHECK_CONTAINS(err->msg, "local/www-data/devel/hello, local/www-data/prod/hello");
    bo_error_freep(&err);

    CHECK(load(base_yaml, "a/b", NULL, &c, &err) < 0);
    CHECK_STR(err->msg, "invalid job key `a/b`: expected cluster/role/environment/name");
    CHECK(err->kind == BO_E_INVALID);
    bo_error_freep(&err);

    CHECK(load(base_yaml, "local/www data/devel/x", NULL, &c, &err) < 0);
    CHECK_STR(err->msg, "invalid job key `local/www data/devel/x`: role `www data` must match [A-Za-z0-9_.-]+");
    bo_error_freep(&err);

    CHECK(load(base_yaml, "local/www/qa/x", NULL, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "environment `qa` must match ^(prod|devel|test|staging[0-9]*)$");
    bo_error_freep(&err);

    /* the same key twice */
    _cleanup_free_ char *dup = bo_xasprintf("%s  - cluster: local\n    role: www-data\n    environment: devel\n"
                                            "    name: hello\n", base_yaml);
    CHECK(load(dup, KEY, NULL, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "hello.yaml:16:5: duplicate job local/www-data/devel/hello (first at line 4)");
}

TEST(binds_override_vars)
{
    const char *binds[] = {"greeting=bye", "extra=1=2"};
    struct jobfile_options o = {binds, 2};
    _cleanup_free_ char *text = edit("{{greeting}}", "{{greeting}} {{ extra }}");
    struct job_config *c = NULL;
    CHECK(load(text, KEY, &o, &c, NULL) == 0);
    CHECK_STR(c->task.processes[0].cmdline, "echo bye 1=2 {{instance}} on {{ports.http}}");
    job_config_unref(c);

    static const struct {
        const char *bind, *msg;
    } bad[] = {
        {"greeting", "invalid --bind `greeting`: expected NAME=VALUE"},
        {"=x", "invalid --bind `=x`: expected NAME=VALUE"},
        {"role=x", "invalid --bind `role=x`: variable `role` is a built-in variable"},
        {"a b=x", "invalid --bind `a b=x`"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ bo_error_t err = NULL;
        struct jobfile_options o1 = {&bad[i].bind, 1};
        CHECK(load(base_yaml, KEY, &o1, &c, &err) < 0);
        CHECK(err->kind == BO_E_INVALID);
        CHECK_CONTAINS(err->msg, bad[i].msg);
    }
}

TEST(aurora_spellings_and_builtins)
{
    _cleanup_free_ char *text =
        edit("\"echo {{greeting}} {{instance}} on {{ports.http}}\"",
             "\"{{mesos.instance}} {{ mesos.hostname }} {{thermos.task_id}} {{thermos.ports[admin]}} "
             "{{thermos.user}} {{role}} {{environment}} {{name}} {{cluster}}\"");
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (load(text, KEY, NULL, &c, &err) < 0)
        fprintf(stderr, "  %s\n", err->msg);
    CHECK(c);
    CHECK_STR(c->task.processes[0].cmdline,
              "{{instance}} {{hostname}} {{task_id}} {{ports.admin}} www-data www-data devel hello local");
    CHECK(c->task.n_ports == 2);
    CHECK_STR(c->task.ports[0], "admin");
    CHECK_STR(c->task.ports[1], "http");
    job_config_unref(c);
}

TEST(file_shape_errors)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"", "hello.yaml: the file is empty"},
        {"# nothing\n", "hello.yaml: the file is empty"},
        {"- a\n", "hello.yaml:1:1: the file must be a mapping"},
        {"vars: {}\n", "hello.yaml:1:1: missing `jobs:`"},
        {"jobs: {}\n", "hello.yaml:1:7: jobs: must be a list"},
        {"jobs: []\n", "hello.yaml:1:7: jobs: must not be empty"},
        {"jobs: [1]\n", "hello.yaml:1:8: job: must be a mapping"},
        {"jobs: [{}]\n---\njobs: []\n", "hello.yaml:2:1: a job file holds one YAML document"},
        {"jobs:\n  - name: \"a\xff\"\n", "hello.yaml:2:13: YAML syntax error: invalid leading UTF-8 octet"},
        {"jobs: [{cluster: c}]\nvars: 3\n", "hello.yaml:2:7: vars: must be a mapping"},
        {"jobs: [{cluster: c, role: r, environment: prod, name: n}]\n", "hello.yaml:1:8: task: is required"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        _cleanup_error_ bo_error_t err = NULL;
        struct job_config *c = NULL;
        CHECK(load(cases[i].text, NULL, NULL, &c, &err) < 0);
        CHECK(err->kind == BO_E_INVALID);
        CHECK_CONTAINS(err->msg, cases[i].msg);
    }
}

TEST(file_errors)
{
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(jobfile_load("/nonexistent/hello.yaml", KEY, NULL, &c, &err) < 0);
    CHECK(err->kind == BO_E_IO);
    CHECK_CONTAINS(err->msg, "/nonexistent/hello.yaml");
    bo_error_freep(&err);

    char path[] = "/tmp/test_jobfile_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    size_t n = JOBFILE_MAX_SIZE + 1;
    char *big = malloc(n);
    memset(big, '#', n);
    CHECK(write(fd, big, n) == (ssize_t)n);
    close(fd);
    CHECK(jobfile_load(path, KEY, NULL, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, path);
    CHECK_CONTAINS(err->msg, "larger than");
    unlink(path);
    free(big);
    bo_error_freep(&err);
    CHECK(jobfile_load_buffer("mem.yaml", base_yaml, JOBFILE_MAX_SIZE + 1, KEY, NULL, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "mem.yaml is larger than");
}

/* libyaml is quadratic in flow nesting: a deep file must be refused fast. */
TEST(hostile_shapes_are_cheap)
{
    size_t n = 1u << 20;
    char *deep = malloc(n + 1);
    memset(deep, '[', n);
    deep[n] = '\0';
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(load(deep, NULL, NULL, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "hello.yaml:1:65: nesting deeper than 64 levels");
    bo_error_freep(&err);
    free(deep);

    /* a million aliases of one process: refused without converting them all */
    char *s = malloc(n + 200);
    size_t len = (size_t)sprintf(s, "jobs:\n  - cluster: c\n    role: r\n    environment: prod\n    name: n\n"
                                    "    task:\n      resources: {cpu: 1, ram: 1GiB, disk: 0}\n"
                                    "      processes: [&p {name: a, cmdline: x}");
    while (len < n)
        len += (size_t)sprintf(s + len, ",*p");
    sprintf(s + len, "]\n");
    CHECK(load(s, NULL, NULL, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "hello.yaml:8:18: task.processes: must have between 1 and 64 entries");
    free(s);
}

TEST_MAIN()
