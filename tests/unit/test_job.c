/* Unit tests for model/job: keys, every field rule of protocol section 1,
 * defaults, template checks, ports, and the JSON round trip. */
#include <string.h>

#include "harness.h"
#include "model/constraint.h"
#include "model/host_mount.h"
#include "model/job.h"
#include "model/task_id.h"

static const char base_json[] =
    "{\"cluster\": \"local\", \"role\": \"www-data\", \"environment\": \"devel\", \"name\": \"hello\","
    " \"instances\": 2, \"service\": true, \"max_task_failures\": 1, \"priority\": 0,"
    " \"task\": {\"resources\": {\"cpu\": 0.1, \"ram\": 33554432, \"disk\": 67108864},"
    "  \"ports\": [\"http\"], \"ordering\": \"parallel\", \"kill_grace_ms\": 5000,"
    "  \"processes\": [{\"name\": \"hello\", \"cmdline\": \"echo hello {{instance}} on {{ports.http}}\"}]}}";

static json_t *base(void)
{
    json_t *j = json_loads(base_json, 0, NULL);
    CHECK(j);
    return j;
}

/* Set (value JSON text) or delete (value NULL) the field at a dotted path;
 * "task.processes.0.name" indexes arrays. */
static void patch(json_t *j, const char *path, const char *value)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = j;
    char *save = NULL, *tok = strtok_r(buf, ".", &save);
    while (tok) {
        char *next = strtok_r(NULL, ".", &save);
        if (!next) {
            if (json_is_array(cur))
                CHECK(0);
            if (value) {
                json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
                CHECK(v);
                json_object_set_new(cur, tok, v);
            } else {
                json_object_del(cur, tok);
            }
            return;
        }
        cur = json_is_array(cur) ? json_array_get(cur, (size_t)atoi(tok)) : json_object_get(cur, tok);
        CHECK(cur);
        tok = next;
    }
}

TEST(valid_example)
{
    json_t *j = base();
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (job_config_from_json(j, &c, &err) < 0)
        fprintf(stderr, "  %s\n", err->msg);
    CHECK(c);
    CHECK(c->refs == 1);
    CHECK_STR(c->key.cluster, "local");
    CHECK_STR(c->key.environment, "devel");
    CHECK(c->instances == 2 && c->service && c->max_task_failures == 1 && c->priority == 0);
    CHECK(c->task.cpu == 0.1 && c->task.ram == 32u << 20 && c->task.disk == 64u << 20);
    CHECK(c->task.n_ports == 1);
    CHECK_STR(c->task.ports[0], "http");
    CHECK(c->task.ordering == ORDERING_PARALLEL && c->task.kill_grace_ms == 5000);
    CHECK(c->task.n_processes == 1);
    CHECK_STR(c->task.processes[0].name, "hello");
    CHECK(job_config_ref(c) == c && c->refs == 2);
    job_config_unref(c);
    job_config_unref(c);
    json_decref(j);
}

TEST(defaults)
{
    json_t *j = json_loads("{\"cluster\":\"c\",\"role\":\"r\",\"environment\":\"prod\",\"name\":\"n\","
                           "\"task\":{\"resources\":{\"cpu\":1,\"ram\":1048576,\"disk\":0},"
                           "\"processes\":[{\"name\":\"p\",\"cmdline\":\"true\"}]}}",
                           0, NULL);
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, NULL) == 0);
    CHECK(c->instances == 1 && !c->service && c->max_task_failures == 1 && c->priority == 0);
    CHECK(c->task.n_ports == 0 && c->task.ordering == ORDERING_PARALLEL && c->task.kill_grace_ms == 5000);
    CHECK(c->task.cpu == 1.0);
    job_config_unref(c);
    json_decref(j);
}

TEST(field_rules)
{
    static const struct {
        const char *path, *value, *msg; /* msg NULL: must be accepted */
    } cases[] = {
        {"cluster", NULL, "cluster: is required"},
        {"cluster", "\"\"", "cluster must not be empty"},
        {"cluster", "3", "cluster: must be a string"},
        {"role", "\"www data\"", "role `www data` must match [A-Za-z0-9_.-]+"},
        {"role", "\"a.b_c-D9\"", NULL},
        {"name", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "longer than 64"},
        {"environment", "\"production\"", "environment `production` must match ^(prod|devel|test|staging[0-9]*)$"},
        {"environment", "\"staging\"", NULL},
        {"environment", "\"staging12\"", NULL},
        {"environment", "\"staging1a\"", "must match"},
        {"instances", "0", "instances: must be between 1 and 4000"},
        {"instances", "4001", "instances: must be between 1 and 4000"},
        {"instances", "4000", NULL},
        {"instances", "2.0", "instances: must be an integer"},
        {"instances", "\"2\"", "instances: must be an integer"},
        {"instances", "null", "instances: must be an integer"},
        {"service", "1", "service: must be true or false"},
        {"max_task_failures", "-1", NULL},
        {"max_task_failures", "0", "max_task_failures: must be -1 (forever) or between 1 and 1000"},
        {"max_task_failures", "1001", "max_task_failures: must be -1 (forever) or between 1 and 1000"},
        {"priority", "-1", "priority: must be between 0 and 1000"},
        {"priority", "1000", NULL},
        {"task", NULL, "task: is required"},
        {"task", "[]", "task: must be an object"},
        {"task.resources", NULL, "task.resources: is required"},
        {"task.resources.cpu", "0", "task.resources.cpu: must be greater than 0 and at most 1024"},
        {"task.resources.cpu", "1025", "task.resources.cpu: must be greater than 0 and at most 1024"},
        {"task.resources.cpu", "2", NULL},
        {"task.resources.cpu", "\"1\"", "task.resources.cpu: must be a number"},
        {"task.resources.ram", "1048575", "task.resources.ram: must be at least 1MiB"},
        {"task.resources.ram", "\"32MiB\"", "task.resources.ram: must be an integer number of bytes"},
        {"task.resources.ram", NULL, "task.resources.ram: is required"},
        {"task.resources.disk", "-1", "task.resources.disk: must not be negative"},
        {"task.resources.disk", "0", NULL},
        {"task.resources.gpu", "1", "unknown field `task.resources.gpu`"},
        {"task.foo", "1", "unknown field `task.foo`"},
        {"tsk", "{}", "unknown field `tsk`"},
        {"task.ports", "[\"a b\"]", "task.ports[0] `a b` must match [A-Za-z0-9_-]+"},
        {"task.ports", "[\"a.b\"]", "must match [A-Za-z0-9_-]+"},
        {"task.ports", "[1]", "task.ports[0]: must be a string"},
        {"task.ports", "[\"http\", \"web\", \"http\"]", "task.ports[2]: duplicate port name `http` (also ports[0])"},
        {"task.ports", "\"http\"", "task.ports: must be a list of strings"},
        {"task.ordering", "\"sequential\"", NULL},
        {"task.ordering", "\"random\"", "task.ordering: must be \"parallel\" or \"sequential\""},
        {"task.kill_grace_ms", "600001", "task.kill_grace_ms: must be between 0 and 600000"},
        {"task.kill_grace_ms", "0", NULL},
        {"task.processes", "[]", "task.processes: must have between 1 and 64 entries"},
        {"task.processes", NULL, "task.processes: is required"},
        {"task.processes.0.cmdline", "\"\"", "task.processes[0].cmdline: is required when the task has no image"},
        {"task.processes.0.cmdline", NULL, "task.processes[0].cmdline: is required"},
        {"task.processes.0.cmdline", "\"echo {{foo}}\"", "task.processes[0].cmdline: unknown variable `{{foo}}`"},
        {"task.processes.0.cmdline", "\"echo {{greeting\"", "task.processes[0].cmdline: unterminated variable"},
        {"task.processes.0.name", "\"a/b\"", "task.processes[0].name `a/b` must match"},
        {"task.processes.0.env", "{}", "unknown field `task.processes[0].env`"},
        {"task.health_check", "{\"type\": \"http\", \"port\": \"http\"}", NULL},
        {"task.health_check", "{\"type\": \"tcp\", \"port\": \"http\"}", NULL},
        {"task.health_check", "{\"type\": \"shell\", \"command\": \"curl -f localhost:{{ports.admin}}\"}", NULL},
        {"task.health_check", "{\"type\": \"http\"}",
         "task.health_check.port: `health` is not a port of the task: list it in task.ports"},
        {"task.health_check", "{\"type\": \"tcp\", \"port\": \"nope\"}",
         "task.health_check.port: `nope` is not a port of the task"},
        {"task.health_check", "{\"type\": \"shell\"}", "task.health_check.command: is required when type is shell"},
        {"task.health_check", "{\"type\": \"http\", \"port\": \"http\", \"command\": \"x\"}",
         "task.health_check.command: is only for type shell"},
        {"task.health_check", "{\"port\": \"http\"}", "task.health_check.type: is none, yet other health_check fields"},
        {"task.health_check", "{\"type\": \"grpc\"}", "task.health_check.type: must be \"none\" or \"http\""},
        {"task.health_check", "{\"type\": \"http\", \"port\": \"http\", \"path\": \"health\"}",
         "task.health_check.path: `health` must start with `/`"},
        {"task.health_check", "{\"type\": \"http\", \"port\": \"http\", \"path\": \"/a b\"}",
         "task.health_check.path: must be printable ASCII"},
        {"task.health_check", "{\"type\": \"http\", \"port\": \"http\", \"expected_status\": 600}",
         "task.health_check.expected_status: must be between 100 and 599"},
        {"task.health_check", "{\"type\": \"tcp\", \"port\": \"http\", \"interval\": -1}",
         "task.health_check.interval: must be between 100 and 3600000"},
        {"task.health_check", "{\"type\": \"tcp\", \"port\": \"http\", \"timeout\": 0}",
         "task.health_check.timeout: must be between 10 and 60000"},
        {"task.health_check", "{\"type\": \"tcp\", \"port\": \"http\", \"initial_interval\": -5}",
         "task.health_check.initial_interval: must be between 0"},
        {"task.health_check", "{\"type\": \"tcp\", \"port\": \"http\", \"min_consecutive_successes\": 0}",
         "task.health_check.min_consecutive_successes: must be between 1 and 1000"},
        {"task.health_check", "{\"type\": \"tcp\", \"port\": \"http\", \"max_consecutive_failures\": -1}",
         "task.health_check.max_consecutive_failures: must be between 0 and 1000"},
        {"task.health_check", "{\"type\": \"tcp\", \"port\": \"http\", \"snooze_file\": \"../x\"}",
         "task.health_check.snooze_file: `../x` must stay in the sandbox"},
        {"task.health_check", "{\"type\": \"tcp\", \"port\": \"http\", \"snooze_file\": \"/x\"}",
         "task.health_check.snooze_file: `/x` must be relative"},
        {"task.health_check", "{\"type\": \"tcp\", \"port\": \"http\", \"bogus\": 1}",
         "unknown field `task.health_check.bogus`"},
        {"task.health_check", "{\"type\": \"shell\", \"command\": \"{{nope}}\"}",
         "task.health_check.command: unknown variable `{{nope}}`"},
        {"task.lifecycle", "{\"graceful_shutdown_wait\": 1000, \"shutdown_wait\": 0}", NULL},
        {"task.lifecycle", "{\"port\": \"http\"}", NULL},
        {"task.lifecycle", "{\"port\": \"admin\"}", "task.lifecycle.port: `admin` is not a port of the task"},
        {"task.lifecycle", "{\"graceful_shutdown_wait\": 60001}",
         "task.lifecycle.graceful_shutdown_wait: must be between 0 and 60000"},
        {"task.lifecycle", "{\"shutdown_wait\": -1}", "task.lifecycle.shutdown_wait: must be between 0 and 60000"},
        {"task.lifecycle", "{\"graceful_shutdown_endpoint\": \"quit\"}",
         "task.lifecycle.graceful_shutdown_endpoint: `quit` must start with `/`"},
        {"task.lifecycle", "{\"shutdown_endpoint\": \"/a\\nb\"}", "task.lifecycle.shutdown_endpoint: must be printable"},
        {"task.lifecycle", "{\"bogus\": 1}", "unknown field `task.lifecycle.bogus`"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        json_t *j = base();
        patch(j, cases[i].path, cases[i].value);
        struct job_config *c = NULL;
        bo_error_t err = NULL;
        int r = job_config_from_json(j, &c, &err);
        if (cases[i].msg) {
            if (r == 0)
                fprintf(stderr, "  case %zu (%s) accepted\n", i, cases[i].path);
            CHECK(r < 0 && c == NULL);
            CHECK(err->kind == BO_E_INVALID);
            CHECK_CONTAINS(err->msg, cases[i].msg);
        } else {
            if (r < 0)
                fprintf(stderr, "  case %zu (%s): %s\n", i, cases[i].path, err->msg);
            CHECK(r == 0);
        }
        bo_error_free(err);
        job_config_unref(c);
        json_decref(j);
    }
}

TEST(error_path)
{
    json_t *j = base();
    patch(j, "task.processes.0.cmdline", "\"{{nope}}\"");
    struct job_config *c = NULL;
    char *path = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(job_config_from_json_at(j, &c, &path, &err) < 0);
    CHECK_STR(path, "task.processes[0].cmdline");
    free(path);
    json_decref(j);
}

TEST(processes_unique_and_limit)
{
    json_t *j = base();
    json_t *procs = json_object_get(json_object_get(j, "task"), "processes");
    json_array_append_new(procs, json_pack("{s:s, s:s}", "name", "hello", "cmdline", "true"));
    _cleanup_error_ bo_error_t err = NULL;
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "task.processes[1].name: duplicate process name `hello`");
    bo_error_freep(&err);
    json_array_clear(procs);
    for (int i = 0; i < 65; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        json_array_append_new(procs, json_pack("{s:s, s:s}", "name", name, "cmdline", "true"));
    }
    CHECK(job_config_from_json(j, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "task.processes: must have between 1 and 64 entries");
    json_decref(j);
}

TEST(cmdline_length_limit)
{
    json_t *j = base();
    char *big = malloc(JOB_CMDLINE_MAX + 2);
    memset(big, 'x', JOB_CMDLINE_MAX + 1);
    big[JOB_CMDLINE_MAX + 1] = '\0';
    json_t *p0 = json_array_get(json_object_get(json_object_get(j, "task"), "processes"), 0);
    json_object_set_new(p0, "cmdline", json_string(big));
    _cleanup_error_ bo_error_t err = NULL;
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "task.processes[0].cmdline: must be at most 65536 bytes");
    free(big);
    json_decref(j);
}

TEST(ports_from_templates_sorted_unique)
{
    json_t *j = base();
    patch(j, "task.ports", "[\"web\", \"http\"]");
    patch(j, "task.processes.0.cmdline", "\"{{ports.admin}} {{thermos.ports[http]}} {{ports.zed}}\"");
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, NULL) == 0);
    CHECK(c->task.n_ports == 4);
    CHECK_STR(c->task.ports[0], "admin");
    CHECK_STR(c->task.ports[1], "http");
    CHECK_STR(c->task.ports[2], "web");
    CHECK_STR(c->task.ports[3], "zed");
    job_config_unref(c);
    json_decref(j);
}

TEST(not_an_object)
{
    json_t *j = json_array();
    _cleanup_error_ bo_error_t err = NULL;
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "must be an object");
    json_decref(j);
}

TEST(json_round_trip)
{
    json_t *j = base();
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, NULL) == 0);
    json_t *out = job_config_to_json(c);
    /* exactly the protocol shape: the input document, plus the defaults of
     * what it left out */
    json_t *pp = json_pack("{s:b, s:i}", "reschedule", 1, "delay_secs", 0);
    CHECK(json_equal(json_object_get(out, "partition_policy"), pp));
    json_decref(pp);
    json_object_set(j, "partition_policy", json_object_get(out, "partition_policy"));
    json_object_set_new(j, "constraints", json_array());
    json_object_set_new(j, "sla_policy", json_pack("{s:i, s:i}", "count", 0, "percentage", 0));
    /* `update` holds Aurora's defaults, so it is left out. */
    CHECK(json_equal(out, j));
    /* jansson prints 17 digits by default (0.10000000000000001); 15 reads well */
    char *s = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(15));
    CHECK_CONTAINS(s, "{\"cluster\":\"local\",\"role\":\"www-data\",\"environment\":\"devel\",\"name\":\"hello\","
                      "\"instances\":2,\"service\":true,\"max_task_failures\":1,\"priority\":0,\"task\":{"
                      "\"resources\":{\"cpu\":0.1,\"ram\":33554432,\"disk\":67108864}");
    free(s);
    struct job_config *c2 = NULL;
    CHECK(job_config_from_json(out, &c2, NULL) == 0);
    json_t *out2 = job_config_to_json(c2);
    CHECK(json_equal(out, out2));

    json_t *t = task_config_to_json(&c->task);
    CHECK(json_equal(t, json_object_get(j, "task")));
    struct task_config tc;
    CHECK(task_config_from_json(t, &tc, NULL) == 0);
    CHECK(tc.n_processes == 1 && tc.n_ports == 1 && tc.ram == c->task.ram);
    task_config_clear(&tc);
    json_decref(t);
    json_decref(out2);
    json_decref(out);
    job_config_unref(c2);
    job_config_unref(c);
    json_decref(j);
}

TEST(key_parse)
{
    struct job_key k;
    CHECK(job_key_parse("local/www-data/devel/hello", &k, NULL) == 0);
    CHECK_STR(k.cluster, "local");
    CHECK_STR(k.name, "hello");
    char *s = job_key_str(&k);
    CHECK_STR(s, "local/www-data/devel/hello");
    free(s);
    struct job_key k2;
    job_key_copy(&k2, &k);
    CHECK_STR(k2.role, "www-data");
    job_key_clear(&k2);
    job_key_clear(&k);

    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"a/b", "invalid job key `a/b`: expected cluster/role/environment/name"},
        {"a/b/c/d/e", "invalid job key `a/b/c/d/e`: expected cluster/role/environment/name"},
        {"", "invalid job key ``: expected cluster/role/environment/name"},
        {"local/www data/devel/x", "invalid job key `local/www data/devel/x`: role `www data` must match [A-Za-z0-9_.-]+"},
        {"local/www/nope/x", "invalid job key `local/www/nope/x`: environment `nope` must match ^(prod|devel|test|staging[0-9]*)$"},
        {"local//devel/x", "role must not be empty"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ bo_error_t err = NULL;
        CHECK(job_key_parse(bad[i].in, &k, &err) < 0);
        CHECK(err->kind == BO_E_INVALID);
        CHECK_CONTAINS(err->msg, bad[i].msg);
    }
}

TEST(field_table)
{
    size_t n;
    const struct job_field *t = job_field_table(&n);
    CHECK(n > 10 && t);
    const struct job_field *f = job_field_find("task.resources", "ram");
    CHECK(f && f->type == JOB_FIELD_SIZE && f->required);
    CHECK(job_field_find("job", "instances")->def != NULL);
    CHECK(job_field_find("job", "tsk") == NULL);
    CHECK(job_field_find("task.processes", "cmdline")->templated);
}

/* A port both listed and named in {{ports.X}} (or named by several
 * processes) counts once against the limit of 64. */
TEST(ports_limit_counts_unique_names)
{
    json_t *j = base();
    json_t *ports = json_array(), *procs = json_array();
    for (int i = 0; i < JOB_MAX_PORTS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        json_array_append_new(ports, json_string(name));
    }
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "proc%d", i);
        json_array_append_new(procs, json_pack("{s:s,s:s}", "name", name, "cmdline",
                                               "echo {{ports.p0}} {{ports.p63}}"));
    }
    json_object_set_new(json_object_get(j, "task"), "ports", ports);
    json_object_set_new(json_object_get(j, "task"), "processes", procs);
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (job_config_from_json(j, &c, &err) < 0)
        fprintf(stderr, "  %s\n", err->msg);
    CHECK(c && c->task.n_ports == JOB_MAX_PORTS);
    job_config_unref(c);
    /* One more distinct name is over the limit. */
    json_array_append_new(procs, json_pack("{s:s,s:s}", "name", "extra", "cmdline", "{{ports.q}}"));
    bo_error_freep(&err);
    CHECK(job_config_from_json(j, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "more than 64 ports");
    json_decref(j);
}

TEST(dot_names_are_refused)
{
    _cleanup_error_ bo_error_t err = NULL;
    struct job_key k;
    CHECK(job_key_parse("local/../devel/x", &k, &err) < 0);
    CHECK_CONTAINS(err->msg, "must not be `..`");
    bo_error_freep(&err);
    CHECK(job_ident_validate(".", "process name", &err) < 0);
    CHECK_CONTAINS(err->msg, "process name must not be `.`");
    bo_error_freep(&err);
    CHECK(job_ident_validate("a.b", "process name", NULL) == 0);
}

/* Task ids are ROLE-ENV-NAME-INSTANCE-UUID, at most TASK_ID_MAX: a key
 * whose ids would not fit is refused at create, naming key and limit
 * (the agent would refuse every launch of it). */
TEST(key_too_long_for_task_ids)
{
    char role[65], name[65], env[65];
    memset(role, 'r', 64);
    memset(name, 'n', 64);
    role[64] = name[64] = '\0';
    /* 64 + 64 + 28 = 156 = TASK_ID_KEY_MAX: fits. */
    snprintf(env, sizeof(env), "staging%021d", 0);
    json_t *j = base();
    json_object_set_new(j, "role", json_string(role));
    json_object_set_new(j, "name", json_string(name));
    json_object_set_new(j, "environment", json_string(env));
    json_object_set_new(j, "instances", json_integer(JOB_MAX_INSTANCES));
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(job_config_from_json(j, &c, &err) == 0);
    for (int32_t i = 0; i < JOB_MAX_INSTANCES; i += JOB_MAX_INSTANCES - 1) {
        _cleanup_free_ char *id = task_id_new(&c->key, i);
        CHECK(strlen(id) <= TASK_ID_MAX);
        CHECK(task_id_validate(id, NULL) == 0);
    }
    job_config_unref(c);
    /* One more character does not. */
    snprintf(env, sizeof(env), "staging%022d", 0);
    json_object_set_new(j, "environment", json_string(env));
    char *path = NULL;
    CHECK(job_config_from_json_at(j, &c, &path, &err) < 0);
    CHECK(err->kind == BO_E_INVALID);
    CHECK_CONTAINS(err->msg, role);
    CHECK_CONTAINS(err->msg, "157 characters together, at most 156 fit in a task id");
    CHECK_CONTAINS(err->msg, "at most 200 characters");
    CHECK_STR(path, "name");
    free(path);
    json_decref(j);
}

TEST(task_id_validate_shares_the_limit)
{
    char id[TASK_ID_MAX + 2];
    memset(id, 'a', TASK_ID_MAX + 1);
    id[TASK_ID_MAX + 1] = '\0';
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(task_id_validate(id, &err) < 0);
    CHECK_CONTAINS(err->msg, "longer than 200 characters");
    id[TASK_ID_MAX] = '\0';
    CHECK(task_id_validate(id, NULL) == 0);
    CHECK(task_id_validate("a/b", NULL) < 0);
    CHECK(task_id_validate("..", NULL) < 0);
}

TEST(constraints_are_checked_field_by_field)
{
    static const struct {
        const char *constraints, *error;
    } bad[] = {
        {"[{\"attribute\":\"rack\",\"value\":\"\"}]", "constraints[0].value: must not be empty"},
        {"[{\"attribute\":\"rack\",\"value\":\"r1,,r2\"}]", "empty value"},
        {"[{\"attribute\":\"rack\",\"value\":\"r 1\"}]", "holds ` `"},
        {"[{\"attribute\":\"host\",\"value\":\"limit:0\"}]", "not limit:N with N from 1 to 1000"},
        {"[{\"attribute\":\"host\",\"value\":\"limit:x\"}]", "not limit:N"},
        {"[{\"attribute\":\"rack\",\"value\":\"r1\"},{\"attribute\":\"rack\",\"value\":\"r2\"}]",
         "constrained twice"},
        {"[{\"attribute\":\"dedicated\",\"value\":\"other/db\"}]", "another role's"},
        {"[{\"attribute\":\"dedicated\",\"value\":\"!www-data/db\"}]", "cannot be negated"},
        {"[{\"attribute\":\"dedicated\",\"value\":\"db\"}]", "one ROLE/NAME"},
        {"[{\"attribute\":\"ra/ck\",\"value\":\"r1\"}]", "constraints[0].attribute"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        json_t *j = base();
        json_object_set_new(j, "constraints", json_loads(bad[i].constraints, 0, NULL));
        struct job_config *c = NULL;
        _cleanup_error_ bo_error_t err = NULL;
        CHECK(job_config_from_json(j, &c, &err) < 0);
        CHECK_CONTAINS(err->msg, bad[i].error);
        json_decref(j);
    }
    json_t *j = base();
    json_object_set_new(j, "constraints",
                        json_loads("[{\"attribute\":\"rack\",\"value\":\"!r1,r2\"},{\"attribute\":\"host\","
                                   "\"value\":\"limit:2\"},{\"attribute\":\"dedicated\",\"value\":\"www-data/db\"}]",
                                   0, NULL));
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, NULL) == 0);
    CHECK(c->n_constraints == 3 && constraint_limit(c->constraints[1].value) == 2);
    CHECK(!constraint_value_matches(c->constraints[0].value, "r2"));
    CHECK(constraint_value_matches(c->constraints[0].value, "r3"));
    CHECK(constraint_value_matches(c->constraints[0].value, NULL)); /* has no rack: not r1 or r2 */
    CHECK(constraint_value_matches("r1,r22", "r22") && !constraint_value_matches("r1,r22", "r2"));
    CHECK(!constraint_value_matches("r1", NULL));
    job_config_unref(c);
    json_decref(j);
}

TEST(mounts_are_checked_field_by_field)
{
    static const struct {
        const char *mounts, *error; /* error NULL: accepted */
    } cases[] = {
        {"[{\"host_path\":\"/srv/data\",\"container_path\":\"/data\"}]", NULL},
        {"[{\"host_path\":\"/srv/data\",\"container_path\":\"/data\",\"mode\":\"rw\"}]", NULL},
        {"[{\"host_path\":\"/srv/data\",\"container_path\":\"/sandbox2\"}]", NULL},
        {"[{\"host_path\":\"srv\",\"container_path\":\"/data\"}]", "task.mounts[0].host_path `srv` is relative"},
        {"[{\"host_path\":\"/srv/../etc\",\"container_path\":\"/data\"}]", "has a `..` component"},
        {"[{\"host_path\":\"/srv/./x\",\"container_path\":\"/data\"}]", "has a `.` component"},
        {"[{\"host_path\":\"/srv//x\",\"container_path\":\"/data\"}]", "empty component"},
        {"[{\"host_path\":\"/srv/\",\"container_path\":\"/data\"}]", "ends with `/`"},
        {"[{\"host_path\":\"/\",\"container_path\":\"/data\"}]", "must not be `/`"},
        {"[{\"host_path\":\"/srv\\nx\",\"container_path\":\"/data\"}]", "control character"},
        {"[{\"host_path\":\"/srv\",\"container_path\":\"/\"}]", "task.mounts[0].container_path must not be `/`"},
        {"[{\"host_path\":\"/srv\",\"container_path\":\"/proc\"}]", "would cover the container's /proc"},
        {"[{\"host_path\":\"/srv\",\"container_path\":\"/dev/.borealis-executor\"}]", "container's /dev"},
        {"[{\"host_path\":\"/srv\",\"container_path\":\"/sandbox/.borealis\"}]", "container's /sandbox"},
        {"[{\"host_path\":\"/srv\",\"container_path\":\"/sys/fs/cgroup\"}]", "container's /sys"},
        {"[{\"host_path\":\"/srv\",\"container_path\":\"data\"}]", "is relative"},
        {"[{\"host_path\":\"/srv\",\"container_path\":\"/data\",\"mode\":\"RW\"}]", "must be \"ro\" or \"rw\""},
        {"[{\"host_path\":\"/srv\",\"container_path\":\"/data\",\"propagation\":\"shared\"}]",
         "unknown field `task.mounts[0].propagation`"},
        {"[{\"host_path\":\"/a\",\"container_path\":\"/data\"},{\"host_path\":\"/b\",\"container_path\":\"/data\"}]",
         "task.mounts[1].container_path: `/data` is mounted twice (also mounts[0])"},
        {"[{\"container_path\":\"/data\"}]", "task.mounts[0].host_path: is required"},
        {"{}", "task.mounts: must be a list of objects"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        json_t *j = base();
        json_object_set_new(json_object_get(j, "task"), "mounts", json_loads(cases[i].mounts, 0, NULL));
        struct job_config *c = NULL;
        _cleanup_error_ bo_error_t err = NULL;
        int r = job_config_from_json(j, &c, &err);
        if (cases[i].error) {
            if (r == 0)
                fprintf(stderr, "  case %zu accepted\n", i);
            CHECK(r < 0);
            CHECK_CONTAINS(err->msg, cases[i].error);
        } else {
            if (r < 0)
                fprintf(stderr, "  case %zu: %s\n", i, err->msg);
            CHECK(r == 0);
        }
        job_config_unref(c);
        json_decref(j);
    }
    /* Too long, and too many. */
    json_t *j = base();
    char *longp = bo_xcalloc(HOST_MOUNT_PATH_MAX + 2, 1);
    longp[0] = '/';
    memset(longp + 1, 'a', HOST_MOUNT_PATH_MAX);
    json_object_set_new(json_object_get(j, "task"), "mounts",
                        json_pack("[{s:s, s:s}]", "host_path", longp, "container_path", "/d"));
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(job_config_from_json(j, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "longer than 1024 bytes");
    free(longp);
    json_t *many = json_array();
    for (int i = 0; i <= HOST_MOUNT_MAX; i++) {
        char dst[32];
        snprintf(dst, sizeof(dst), "/d%d", i);
        json_array_append_new(many, json_pack("{s:s, s:s}", "host_path", "/srv", "container_path", dst));
    }
    json_object_set_new(json_object_get(j, "task"), "mounts", many);
    bo_error_free(err);
    err = NULL;
    CHECK(job_config_from_json(j, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "task.mounts: must have at most 16 entries");
    json_decref(j);
}

TEST(mounts_round_trip_and_default_read_only)
{
    json_t *j = base();
    json_object_set_new(json_object_get(j, "task"), "mounts",
                        json_loads("[{\"host_path\":\"/srv/data\",\"container_path\":\"/data\"}]", 0, NULL));
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, NULL) == 0);
    CHECK(c->task.n_mounts == 1 && c->task.mounts[0].mode == MOUNT_RO);
    json_t *out = job_config_to_json(c);
    json_t *m = json_array_get(json_object_get(json_object_get(out, "task"), "mounts"), 0);
    CHECK_STR(json_string_value(json_object_get(m, "mode")), "ro");
    CHECK_STR(json_string_value(json_object_get(m, "host_path")), "/srv/data");
    json_decref(out);
    job_config_unref(c);
    /* A job without mounts encodes as before (no "mounts" key). */
    json_t *plain = base();
    CHECK(job_config_from_json(plain, &c, NULL) == 0);
    out = job_config_to_json(c);
    CHECK(!json_object_get(json_object_get(out, "task"), "mounts"));
    json_decref(out);
    job_config_unref(c);
    json_decref(plain);
    json_decref(j);
}

TEST(mount_allowlist)
{
    char *allow[] = {"/srv", "/data/shared"};
    CHECK(host_mount_allowed("/srv", allow, 2));
    CHECK(host_mount_allowed("/srv/a/b", allow, 2));
    CHECK(!host_mount_allowed("/srvx", allow, 2));
    CHECK(!host_mount_allowed("/data", allow, 2));
    CHECK(!host_mount_allowed("/data/sharedx/a", allow, 2));
    CHECK(host_mount_allowed("/data/shared/a", allow, 2));
    CHECK(!host_mount_allowed("/srv", allow, 0));
    char *root[] = {"/"};
    CHECK(host_mount_allowed("/etc", root, 1));
    json_t *j = base();
    json_object_set_new(json_object_get(j, "task"), "mounts",
                        json_loads("[{\"host_path\":\"/srv/x\",\"container_path\":\"/a\"},"
                                   "{\"host_path\":\"/etc\",\"container_path\":\"/b\"}]", 0, NULL));
    struct job_config *c = NULL;
    CHECK(job_config_from_json(j, &c, NULL) == 0);
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(job_config_check_mounts_allowed(c, allow, 2, &err) < 0);
    CHECK_STR(err->msg, "task.mounts[1].host_path: `/etc` is not under a host path this cluster allows to mount "
                        "(the scheduler's --host-mount-allow: /srv, /data/shared)");
    bo_error_free(err);
    err = NULL;
    CHECK(job_config_check_mounts_allowed(c, NULL, 0, &err) < 0);
    CHECK_CONTAINS(err->msg, "--host-mount-allow: none)");
    job_config_unref(c);
    json_decref(j);
}

/* A job without a check encodes without one; with one, it round-trips,
 * and a shell check's {{ports.X}} requests X. */
TEST(health_check_encoding)
{
    json_t *j = base();
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(job_config_from_json(j, &c, &err) == 0);
    json_t *out = job_config_to_json(c);
    CHECK(json_object_get(json_object_get(out, "task"), "health_check") == NULL);
    CHECK(c->task.health_check.type == HEALTH_CHECK_NONE);
    CHECK(c->task.health_check.interval_ms == 10000 && c->task.health_check.initial_interval_ms == 15000);
    CHECK(c->task.health_check.timeout_ms == 1000 && c->task.health_check.min_consecutive_successes == 1);
    CHECK(c->task.health_check.max_consecutive_failures == 0);
    CHECK_STR(c->task.health_check.expected_body, "ok");
    json_decref(out);
    job_config_unref(c);

    patch(j, "task.health_check", "{\"type\": \"shell\", \"command\": \"probe {{ports.admin}}\", \"interval\": 500}");
    CHECK(job_config_from_json(j, &c, &err) == 0);
    CHECK(c->task.n_ports == 2 && strcmp(c->task.ports[0], "admin") == 0);
    out = job_config_to_json(c);
    json_t *hc = json_object_get(json_object_get(out, "task"), "health_check");
    CHECK_STR(json_string_value(json_object_get(hc, "type")), "shell");
    CHECK(json_integer_value(json_object_get(hc, "interval")) == 500);
    struct job_config *again = NULL;
    CHECK(job_config_from_json(out, &again, &err) == 0);
    json_t *out2 = job_config_to_json(again);
    CHECK(json_equal(out, out2));
    json_decref(out2);
    json_decref(out);
    job_config_unref(again);
    job_config_unref(c);
    json_decref(j);
}

TEST(cmdline_optional_only_with_an_image)
{
    json_t *j = base();
    patch(j, "task.processes.0.cmdline", NULL);
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(job_config_from_json(j, &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "task.processes[0].cmdline");
    CHECK_CONTAINS(err->msg, "required when the task has no image");
    bo_error_freep(&err);
    patch(j, "task.image", "\"registry.example:5000/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"");
    CHECK(job_config_from_json(j, &c, &err) == 0);
    CHECK_STR(c->task.processes[0].cmdline, "");
    /* Left out of the JSON as it was left out of the request. */
    json_t *out = job_config_to_json(c);
    CHECK(!json_object_get(json_array_get(json_object_get(json_object_get(out, "task"), "processes"), 0), "cmdline"));
    CHECK(!json_object_get(json_object_get(out, "task"), "env"));
    json_decref(out);
    job_config_unref(c);
    json_decref(j);
}

TEST(env_entries_are_checked_and_request_their_ports)
{
    json_t *j = base();
    patch(j, "task.env", "[\"A=1\", \"URL=http://x:{{ports.admin}}/\", \"EMPTY=\"]");
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (job_config_from_json(j, &c, &err) < 0)
        fprintf(stderr, "  %s\n", err->msg);
    CHECK(c);
    CHECK(c->task.n_env == 3);
    CHECK(c->task.n_ports == 2); /* http, and admin from the env entry */
    CHECK_STR(c->task.ports[0], "admin");
    job_config_unref(c);
    const char *bad[] = {"[\"NOVALUE\"]", "[\"=x\"]", "[\"1A=x\"]", "[\"A-B=x\"]", "[\"A={{nope}}\"]", "[1]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        patch(j, "task.env", bad[i]);
        CHECK(job_config_from_json(j, &c, &err) < 0);
        CHECK_CONTAINS(err->msg, "task.env[0]");
        bo_error_freep(&err);
    }
    json_decref(j);
}

/* The kill budget: the lifecycle waits count only with the port, and the
 * whole sequence is at most 10 minutes. */
TEST(lifecycle_kill_budget)
{
    json_t *j = base();
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(job_config_from_json(j, &c, &err) == 0);
    CHECK(!task_config_has_lifecycle_port(&c->task));
    CHECK(task_config_kill_budget_ms(&c->task) == 5000);
    json_t *out = job_config_to_json(c);
    CHECK(json_object_get(json_object_get(out, "task"), "lifecycle") == NULL);
    json_decref(out);
    job_config_unref(c);

    patch(j, "task.ports", "[\"http\", \"health\"]");
    CHECK(job_config_from_json(j, &c, &err) == 0);
    CHECK(task_config_has_lifecycle_port(&c->task));
    CHECK(task_config_kill_budget_ms(&c->task) == 15000); /* 5 s + 5 s + 5 s, Aurora's */
    job_config_unref(c);

    patch(j, "task.kill_grace_ms", "600000");
    CHECK(job_config_from_json(j, &c, &err) < 0);
    CHECK_STR(err->msg, "task.lifecycle: graceful_shutdown_wait (5s) + shutdown_wait (5s) + kill_grace_ms (10m) must be "
                        "at most 10m in all");
    json_decref(j);
}

TEST(process_logging_fields)
{
    json_t *j = base();
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(job_config_from_json(j, &c, &err) == 0);
    const struct logging_config *g = &c->task.processes[0].logging;
    CHECK(g->destination == LOG_DEST_FILE && g->mode == LOG_MODE_STANDARD);
    CHECK(g->log_size == 100u << 20 && g->backups == 5); /* Thermos's defaults */
    json_t *out = job_config_to_json(c);
    CHECK(json_object_get(json_array_get(json_object_get(json_object_get(out, "task"), "processes"), 0), "logging") ==
          NULL); /* the default is left out */
    json_decref(out);
    job_config_unref(c);

    patch(j, "task.processes.0.logging", "{\"destination\": \"both\", \"mode\": \"rotate\", \"log_size\": 4096, "
                                        "\"backups\": 3}");
    CHECK(job_config_from_json(j, &c, &err) == 0);
    g = &c->task.processes[0].logging;
    CHECK(g->destination == LOG_DEST_BOTH && g->mode == LOG_MODE_ROTATE && g->log_size == 4096 && g->backups == 3);
    out = job_config_to_json(c);
    struct job_config *back = NULL;
    CHECK(job_config_from_json(out, &back, &err) == 0);
    CHECK(job_config_same_task(c, back));
    json_decref(out);
    job_config_unref(back);
    job_config_unref(c);

    static const struct {
        const char *value, *msg;
    } bad[] = {
        {"{\"destination\": \"syslog\"}",
         "task.processes[0].logging.destination: must be \"file\" or \"console\" or \"both\" or \"none\", not \"syslog\""},
        {"{\"mode\": \"daily\"}", "task.processes[0].logging.mode: must be \"standard\" or \"rotate\", not \"daily\""},
        {"{\"mode\": \"rotate\", \"log_size\": 100}", "task.processes[0].logging.log_size: must be at least 1KiB"},
        {"{\"mode\": \"rotate\", \"backups\": 0}", "task.processes[0].logging.backups: must be between 1 and 100"},
        {"{\"mode\": \"rotate\", \"backups\": 101}", "task.processes[0].logging.backups: must be between 1 and 100"},
        {"{\"destination\": \"console\", \"mode\": \"rotate\"}",
         "task.processes[0].logging: mode rotate needs destination file or both, not console"},
        {"{\"destination\": \"none\", \"mode\": \"rotate\"}",
         "task.processes[0].logging: mode rotate needs destination file or both, not none"},
        {"{\"log_size\": 4096}", "task.processes[0].logging: log_size and backups apply to mode rotate only"},
        {"{\"rotate\": true}", "task.processes[0].logging.rotate"},
        {"\"file\"", "task.processes[0].logging: must be an object"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        patch(j, "task.processes.0.logging", bad[i].value);
        bo_error_free(err);
        err = NULL;
        CHECK(job_config_from_json(j, &c, &err) < 0);
        if (!strstr(err->msg, bad[i].msg))
            fprintf(stderr, "  case %zu: %s\n", i, err->msg);
        CHECK(strstr(err->msg, bad[i].msg));
    }
    json_decref(j);
}

TEST_MAIN()
