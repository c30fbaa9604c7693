/* Unit tests for model/template: user and runtime expansion, Aurora
 * spellings, port scanning, errors and limits. */
#include <string.h>

#include "harness.h"
#include "model/template.h"

static json_t *user_vars(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "role", "www-data", "environment", "devel", "name", "hello",
                     "cluster", "local", "greeting", "hi");
}

TEST(user_expansion_table)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain text", "plain text"},
        {"", ""},
        {"{{greeting}} {{role}}/{{environment}}/{{name}}@{{cluster}}", "hi www-data/devel/hello@local"},
        {"{{ greeting }}", "hi"},
        {"{{\tgreeting  }}!", "hi!"},
        {"{{thermos.user}}", "www-data"},
        /* runtime variables are kept, in canonical spelling */
        {"{{instance}} {{hostname}} {{task_id}} {{ports.http}}", "{{instance}} {{hostname}} {{task_id}} {{ports.http}}"},
        {"{{mesos.instance}}", "{{instance}}"},
        {"{{ mesos.hostname }}", "{{hostname}}"},
        {"{{thermos.task_id}}", "{{task_id}}"},
        {"{{thermos.ports[http]}}", "{{ports.http}}"},
        {"a } b { c }}", "a } b { c }}"},
    };
    json_t *vars = user_vars();
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        char *out = NULL;
        bo_error_t err = NULL;
        if (template_expand_user(cases[i].in, vars, &out, &err) < 0)
            fprintf(stderr, "  case %zu: %s\n", i, err->msg);
        CHECK_STR(out, cases[i].out);
        free(out);
    }
    json_decref(vars);
}

TEST(user_expansion_errors)
{
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"echo {{foo}}", "unknown variable `{{foo}}`"},
        {"echo {{ foo }}", "unknown variable `{{ foo }}`"},
        {"echo {{greeting", "unterminated variable `{{greeting`"},
        {"{{}}", "empty variable"},
        {"{{a b}}", "invalid variable `{{a b}}`"},
        {"{{ports.a.b}}", "invalid port name in `{{ports.a.b}}`"},
        {"{{thermos.ports[]}}", "invalid port name"},
    };
    json_t *vars = user_vars();
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        char *out = NULL;
        _cleanup_error_ bo_error_t err = NULL;
        CHECK(template_expand_user(cases[i].in, vars, &out, &err) < 0);
        CHECK(out == NULL);
        CHECK(err->kind == BO_E_INVALID);
        CHECK_CONTAINS(err->msg, cases[i].msg);
    }
    json_decref(vars);
}

TEST(no_recursion_into_values)
{
    json_t *vars = json_pack("{s:s}", "x", "{{y}}");
    char *out = NULL;
    CHECK(template_expand_user("<{{x}}>", vars, &out, NULL) == 0);
    CHECK_STR(out, "<{{y}}>");
    free(out);
    json_decref(vars);
}

TEST(length_limits)
{
    char *big = malloc(TEMPLATE_MAX_LEN + 2);
    memset(big, 'a', TEMPLATE_MAX_LEN + 1);
    big[TEMPLATE_MAX_LEN + 1] = '\0';
    char *out = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(template_expand_user(big, NULL, &out, &err) < 0);
    CHECK_CONTAINS(err->msg, "longer than");
    bo_error_freep(&err);
    /* a value substituted many times cannot blow past the limit */
    char *val = malloc(10001);
    memset(val, 'v', 10000);
    val[10000] = '\0';
    json_t *vars = json_pack("{s:s}", "v", val);
    CHECK(template_expand_user("{{v}}{{v}}{{v}}{{v}}{{v}}{{v}}{{v}}", vars, &out, &err) < 0);
    CHECK_CONTAINS(err->msg, "expands to more than");
    json_decref(vars);
    free(val);
    free(big);
}

TEST(runtime_expansion_with_ports)
{
    json_t *ports = json_pack("{s:i, s:i}", "http", 31000, "admin", 31001);
    struct template_runtime rt = {.instance = 3, .hostname = "node1", .task_id = "www-data-devel-hello-3-abc",
                                  .ports = ports};
    char *out = NULL;
    CHECK(template_expand_runtime("echo {{instance}} {{ hostname }} {{task_id}} {{ports.http}} "
                                  "{{thermos.ports[admin]}} {{mesos.instance}}",
                                  &rt, &out, NULL) == 0);
    CHECK_STR(out, "echo 3 node1 www-data-devel-hello-3-abc 31000 31001 3");
    free(out);

    _cleanup_error_ bo_error_t err = NULL;
    CHECK(template_expand_runtime("{{ports.db}}", &rt, &out, &err) < 0);
    CHECK_CONTAINS(err->msg, "port `db` was not allocated");
    bo_error_freep(&err);
    CHECK(template_expand_runtime("{{greeting}}", &rt, &out, &err) < 0);
    CHECK_CONTAINS(err->msg, "unknown variable `{{greeting}}`");
    bo_error_freep(&err);
    rt.hostname = NULL;
    CHECK(template_expand_runtime("{{hostname}}", &rt, &out, &err) < 0);
    json_decref(ports);
}

TEST(scan_runtime)
{
    char **names = NULL;
    size_t n = 0;
    CHECK(template_scan_runtime("{{ports.web}} {{thermos.ports[admin]}} {{ports.web}} {{instance}}", &names, &n,
                                NULL) == 0);
    CHECK(n == 2);
    CHECK_STR(names[0], "admin");
    CHECK_STR(names[1], "web");
    CHECK(names[2] == NULL);
    template_strv_free(names);

    CHECK(template_scan_runtime("no vars", &names, &n, NULL) == 0);
    CHECK(n == 0 && names && !names[0]);
    template_strv_free(names);

    _cleanup_error_ bo_error_t err = NULL;
    CHECK(template_scan_runtime("{{ports.web}} {{role}}", &names, &n, &err) < 0);
    CHECK_CONTAINS(err->msg, "unknown variable `{{role}}`");
}

TEST(reserved_names)
{
    CHECK(template_name_is_reserved("instance"));
    CHECK(template_name_is_reserved("role"));
    CHECK(template_name_is_reserved("ports.http"));
    CHECK(template_name_is_reserved("thermos.user"));
    CHECK(!template_name_is_reserved("greeting"));
}

TEST_MAIN()
