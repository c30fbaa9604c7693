/* Unit tests for `borealis job diff`: changed field paths between two job
 * configurations. */
#include "cli/config_diff.h"

#include "harness.h"

static const char base_json[] =
    "{\"cluster\": \"local\", \"role\": \"www-data\", \"environment\": \"devel\","
    " \"name\": \"hello\", \"instances\": 2, \"service\": true,"
    " \"task\": {\"resources\": {\"cpu\": 0.5, \"ram\": 33554432, \"disk\": 0},"
    "  \"ports\": [\"http\"],"
    "  \"processes\": [{\"name\": \"a\", \"cmdline\": \"echo a\"},"
    "                  {\"name\": \"b\", \"cmdline\": \"echo b\"}]}}";

static json_t *doc(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    CHECK(j != NULL);
    return j;
}

static struct job_config *config(json_t *j)
{
    struct job_config *c = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (job_config_from_json(j, &c, &err) < 0) {
        fprintf(stderr, "  %s\n", err->msg);
        exit(1);
    }
    return c;
}

static char *render(const struct config_diff *d)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    config_diff_print(d, f);
    fclose(f);
    return out;
}

TEST(identical_is_empty)
{
    json_t *a = doc(base_json), *b = doc(base_json);
    struct config_diff d;
    config_diff_json(a, b, &d);
    CHECK(d.n == 0);
    config_diff_clear(&d);
    json_decref(a);
    json_decref(b);
}

TEST(scalar_and_nested_paths)
{
    json_t *a = doc(base_json), *b = doc(base_json);
    json_object_set_new(b, "instances", json_integer(3));
    json_object_set_new(json_object_get(json_object_get(b, "task"), "resources"), "ram",
                        json_integer(67108864));
    struct config_diff d;
    config_diff_json(a, b, &d);
    CHECK(d.n == 2);
    CHECK_STR(d.changes[0].path, "instances");
    CHECK_STR(d.changes[0].old_value, "2");
    CHECK_STR(d.changes[0].new_value, "3");
    CHECK_STR(d.changes[1].path, "task.resources.ram");
    char *s = render(&d);
    CHECK_STR(s, "- instances: 2\n+ instances: 3\n"
                 "- task.resources.ram: 33554432\n+ task.resources.ram: 67108864\n");
    free(s);
    config_diff_clear(&d);
    json_decref(a);
    json_decref(b);
}

TEST(processes_matched_by_name)
{
    json_t *a = doc(base_json);
    json_t *b = doc("{\"cluster\": \"local\", \"role\": \"www-data\", \"environment\": \"devel\","
                    " \"name\": \"hello\", \"instances\": 2, \"service\": true,"
                    " \"task\": {\"resources\": {\"cpu\": 0.5, \"ram\": 33554432, \"disk\": 0},"
                    "  \"ports\": [\"http\"],"
                    "  \"processes\": [{\"name\": \"b\", \"cmdline\": \"echo B\"},"
                    "                  {\"name\": \"c\", \"cmdline\": \"echo c\"}]}}");
    struct config_diff d;
    config_diff_json(a, b, &d);
    char *s = render(&d);
    CHECK_STR(s, "- task.processes[a]: {\"name\":\"a\",\"cmdline\":\"echo a\"}\n"
                 "- task.processes[b].cmdline: \"echo b\"\n"
                 "+ task.processes[b].cmdline: \"echo B\"\n"
                 "+ task.processes[c]: {\"name\":\"c\",\"cmdline\":\"echo c\"}\n");
    free(s);
    config_diff_clear(&d);
    json_decref(a);
    json_decref(b);
}

TEST(plain_lists_compared_whole)
{
    json_t *a = doc("{\"ports\": [\"http\"]}"), *b = doc("{\"ports\": [\"admin\", \"http\"]}");
    struct config_diff d;
    config_diff_json(a, b, &d);
    CHECK(d.n == 1);
    CHECK_STR(d.changes[0].path, "ports");
    CHECK_STR(d.changes[0].old_value, "[\"http\"]");
    CHECK_STR(d.changes[0].new_value, "[\"admin\",\"http\"]");
    config_diff_clear(&d);
    json_decref(a);
    json_decref(b);
}

TEST(added_and_removed_fields)
{
    json_t *a = doc("{\"x\": 1, \"o\": {\"k\": true}}"), *b = doc("{\"o\": {}, \"y\": \"s\"}");
    struct config_diff d;
    config_diff_json(a, b, &d);
    char *s = render(&d);
    CHECK_STR(s, "- x: 1\n- o.k: true\n+ y: \"s\"\n");
    free(s);
    config_diff_clear(&d);
    json_decref(a);
    json_decref(b);
}

/* Through the model: defaults written out on one side and left implicit
 * on the other are no change. */
TEST(job_configs_defaults_are_no_change)
{
    json_t *a = doc(base_json), *b = doc(base_json);
    json_object_set_new(b, "priority", json_integer(0));
    json_object_set_new(json_object_get(b, "task"), "ordering", json_string("parallel"));
    struct job_config *ca = config(a), *cb = config(b);
    struct config_diff d;
    config_diff_jobs(ca, cb, &d);
    CHECK(d.n == 0);
    config_diff_clear(&d);
    json_object_set_new(b, "priority", json_integer(5));
    json_object_set_new(json_object_get(json_object_get(b, "task"), "resources"), "cpu",
                        json_real(1.5));
    struct job_config *cc = config(b);
    config_diff_jobs(ca, cc, &d);
    CHECK(d.n == 2);
    CHECK_STR(d.changes[0].path, "priority");
    CHECK_STR(d.changes[1].path, "task.resources.cpu");
    CHECK_STR(d.changes[1].new_value, "1.5");
    config_diff_clear(&d);
    job_config_unref(ca);
    job_config_unref(cb);
    job_config_unref(cc);
    json_decref(a);
    json_decref(b);
}

TEST_MAIN()
