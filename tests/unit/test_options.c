/* Unit tests for the shared option parser (base/options.c), its help
 * format (base/help.c), "did you mean" (base/suggest.c) and the human
 * rendering of times and counts (base/timefmt.c). */
#include <stdio.h>

#include "agent/options.h"
#include "base/help.h"
#include "base/options.h"
#include "base/suggest.h"
#include "base/timefmt.h"
#include "harness.h"
#include "scheduler/scheduler.h"

struct target {
    const char *dir;
    int64_t port;
    int64_t timeout_ms;
    uint64_t ram;
    double cpu;
    int mode;
    bool verbose;
    int set_calls;
};

static const char *const modes[] = {"full", "normal", NULL};

static int count_set(void *target, const struct bo_option *o, const char *v, bo_error_t *err)
{
    ((struct target *)target)->set_calls++;
    return 0;
}

#define AT(m) BO_OPT_AT(struct target, m)
static const struct bo_option table[] = {
    {.name = "data-dir", .kind = BO_OPT_STRING, .arg = "DIR", .def = "/var/x", .at = AT(dir), .help = "dir"},
    {.name = "port", .short_name = 'p', .kind = BO_OPT_INT, .def = "8081", .min = 0, .max = 65535, .at = AT(port),
     .help = "port"},
    {.name = "timeout", .kind = BO_OPT_DURATION, .def = "30s", .min = 1000, .max = 3600000, .at = AT(timeout_ms),
     .help = "timeout"},
    {.name = "ram", .kind = BO_OPT_SIZE, .min = 1 << 20, .max = 1e12, .at = AT(ram), .help = "memory"},
    {.name = "cpu", .kind = BO_OPT_NUMBER, .min = 0.5, .max = 8, .at = AT(cpu), .help = "cores"},
    {.name = "sync", .kind = BO_OPT_CHOICE, .arg = "MODE", .def = "full", .choices = modes, .at = AT(mode),
     .help = "durability"},
    {.name = "verbose", .kind = BO_OPT_FLAG, .at = AT(verbose), .help = "say more"},
    {.name = "tag", .kind = BO_OPT_STRING, .repeat = true, .set = count_set, .help = "a tag"},
    {.name = NULL},
};

#define ARGV(...) (int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)), (char *[]){__VA_ARGS__}

TEST(defaults_and_types)
{
    struct target t = {0};
    struct bo_opts o;
    CHECK(bo_opts_parse(table, 0, NULL, &t, &o, NULL) == 0);
    CHECK_STR(t.dir, "/var/x");
    CHECK(t.port == 8081 && t.timeout_ms == 30000 && t.mode == 0 && !t.verbose && t.ram == 0);
    CHECK(!bo_opts_given(&o, "port") && bo_opts_value(&o, "port").i == 8081);
    CHECK_STR(bo_opts_text(&o, "port"), "8081");
    bo_opts_clear(&o);

    CHECK(bo_opts_parse(table,
                        ARGV("pos1", "--data-dir=/d", "-p", "0", "--timeout", "5m", "--ram", "1.5GiB", "--cpu=2.5",
                             "--sync", "normal", "--verbose", "--tag", "a", "--tag=b", "--", "--verbose"),
                        &t, &o, NULL) == 0);
    CHECK_STR(t.dir, "/d");
    CHECK(t.port == 0 && t.timeout_ms == 300000 && t.ram == 3ull << 29 && t.cpu == 2.5 && t.mode == 1);
    CHECK(t.verbose && t.set_calls == 2 && !o.help);
    CHECK(o.n_pos == 2);
    CHECK_STR(o.pos[0], "pos1");
    CHECK_STR(o.pos[1], "--verbose");
    size_t n;
    const char *const *tags = bo_opts_texts(&o, "tag", &n);
    CHECK(n == 2);
    CHECK_STR(tags[1], "b");
    bo_opts_clear(&o);

    /* given again: the last value wins */
    CHECK(bo_opts_parse(table, ARGV("--port", "1", "-p", "2", "--sync", "normal", "--sync=full"), &t, &o, NULL) == 0);
    CHECK(t.port == 2 && t.mode == 0 && bo_opts_value(&o, "port").i == 2);
    CHECK_STR(bo_opts_text(&o, "port"), "2");
    bo_opts_clear(&o);
    CHECK(bo_opts_parse(table, ARGV("--port", "x", "-h"), &t, &o, NULL) == BO_OPTS_BAD_VALUE);
    CHECK(bo_opts_parse(table, ARGV("x", "-h"), &t, &o, NULL) == 0 && o.help);
    bo_opts_clear(&o);
}

static void check_error(int want, const char *part, int argc, char **argv)
{
    struct target t = {0};
    struct bo_opts o;
    _cleanup_error_ bo_error_t err = NULL;
    int r = bo_opts_parse(table, argc, argv, &t, &o, &err);
    if (r != want)
        fprintf(stderr, "  got %d for `%s`: %s\n", r, part, err ? err->msg : "no error");
    CHECK(r == want);
    CHECK(err->kind == BO_E_INVALID);
    CHECK_CONTAINS(err->msg, part);
}

TEST(errors_name_the_option)
{
    check_error(BO_OPTS_BAD_USAGE, "unknown option `--prot`; did you mean `--port`?", ARGV("--prot", "1"));
    check_error(BO_OPTS_BAD_USAGE, "unknown option `--verbsoe`; did you mean `--verbose`?", ARGV("--verbsoe"));
    check_error(BO_OPTS_BAD_USAGE, "unknown option `--zzz`", ARGV("--zzz"));
    check_error(BO_OPTS_BAD_USAGE, "unknown option `-x`", ARGV("-x"));
    check_error(BO_OPTS_BAD_USAGE, "option `--port` needs a value (N)", ARGV("--port"));
    check_error(BO_OPTS_BAD_USAGE, "option `--verbose` takes no value", ARGV("--verbose=1"));
    check_error(BO_OPTS_BAD_VALUE, "--port: 70000 is out of range [0, 65535]", ARGV("--port", "70000"));
    check_error(BO_OPTS_BAD_VALUE, "--port: `8o` is not an integer", ARGV("--port=8o"));
    check_error(BO_OPTS_BAD_VALUE, "--timeout: `500ms` is less than the minimum, 1s", ARGV("--timeout", "500ms"));
    check_error(BO_OPTS_BAD_VALUE, "--timeout: `2h` is more than the maximum, 1h", ARGV("--timeout", "2h"));
    check_error(BO_OPTS_BAD_VALUE, "--timeout: `soon` is not a duration", ARGV("--timeout", "soon"));
    check_error(BO_OPTS_BAD_VALUE, "--ram: `1KiB` is less than the minimum, 1MiB", ARGV("--ram", "1KiB"));
    check_error(BO_OPTS_BAD_VALUE, "--cpu: 9 is out of range", ARGV("--cpu", "9"));
    check_error(BO_OPTS_BAD_VALUE, "--sync: `fast` must be full or normal", ARGV("--sync", "fast"));
    check_error(BO_OPTS_BAD_VALUE, "--data-dir DIR must not be empty", ARGV("--data-dir="));
    char big[BO_OPT_VALUE_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    check_error(BO_OPTS_BAD_VALUE, "longer than 4096 characters", ARGV("--tag", big));
}

/* Every program prints help the same way: usage, text, options with
 * their defaults at one column, -h/--help last, examples. */
TEST(help_format)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const struct bo_option *const tables[] = {table, NULL};
    struct bo_help_page p = {.usage = "prog [OPTIONS]", .text = "Does things.", .options = tables,
                             .examples = "prog --port 1"};
    bo_help_page(f, &p);
    fclose(f);
    CHECK_CONTAINS(buf, "Usage: prog [OPTIONS]\n\nDoes things.\n\nOptions:\n");
    CHECK_CONTAINS(buf, "\n  --data-dir DIR          dir (default: /var/x)\n");
    CHECK_CONTAINS(buf, "\n  -p, --port N            port (default: 8081)\n");
    CHECK_CONTAINS(buf, "\n  --sync MODE             durability (one of: full, normal) (default: full)\n");
    CHECK_CONTAINS(buf, "\n  --tag VALUE             a tag (repeatable)\n");
    CHECK_CONTAINS(buf, "\n  -h, --help              show this help\n\nExamples:\n  prog --port 1\n");
    free(buf);
}

/* The daemons' tables hold valid defaults and print through the same
 * page: their --help layouts are the same. */
TEST(daemon_tables)
{
    struct sched_options so;
    scheduler_default_options(&so);
    CHECK(so.agent_timeout_ms == 6000 && so.agent_heartbeat_ms == 2000 && so.flap_penalty_ms == 30000);
    struct agent_options ao;
    CHECK(agent_options_parse(1, (char *[]){"agent", NULL}, &ao, NULL) == 0);
    CHECK(ao.pids_max == 4096 && ao.sandbox_retention_ms == 3600000 && ao.port_lo == 31000);
    agent_options_clear(&ao);
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(agent_options_parse(3, (char *[]){"agent", "--pids-max", "1", NULL}, &ao, &err) < 0);
    CHECK_CONTAINS(err->msg, "--pids-max: 1 is out of range [16, 4194304]");
}

TEST(did_you_mean)
{
    static const char *const cmds[] = {"create", "status", "list", "inspect", "diff", "kill", "killall"};
    size_t n = BO_ARRAY_SIZE(cmds);
    struct {
        const char *word, *want;
    } cases[] = {
        {"craete", "; did you mean `create`?"},
        {"stauts", "; did you mean `status`?"},
        {"lst", "; did you mean `list`?"},
        {"kil", "; did you mean `kill` or `killall`?"},
        {"KILL", "; did you mean `kill`?"},
        {"inspcet", "; did you mean `inspect`?"},
        {"x", ""},
        {"frobnicate", ""},
        {"", ""},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *s = bo_did_you_mean(cases[i].word, cmds, n, "");
        CHECK_STR(s, cases[i].want);
    }
    static const char *const opts[] = {"wait-until", "wait-timeout", "bind", "scheduler", NULL};
    _cleanup_free_ char *s = bo_did_you_mean("wiat", opts, 5, "--");
    CHECK_STR(s, "; did you mean `--wait-until` or `--wait-timeout`?");
    CHECK(bo_edit_distance("abc", "abc") == 0);
    CHECK(bo_edit_distance("ab", "ba") == 1);
    CHECK(bo_edit_distance("kitten", "sitting") == 3);
    CHECK(bo_edit_distance("", "abc") == 3);
}

TEST(human_times)
{
    char b[64];
    bo_format_time(0, b, sizeof(b));
    CHECK_STR(b, "1970-01-01 00:00:00 UTC");
    bo_format_time(1764491462000, b, sizeof(b));
    CHECK_STR(b, "2025-11-30 08:31:02 UTC");
    static const struct {
        int64_t ms;
        const char *want;
    } d[] = {{0, "0s"}, {250, "250ms"}, {1500, "1.5s"}, {30000, "30s"}, {90000, "1m 30s"}, {300000, "5m"},
             {5400000, "1h 30m"}, {86400000 + 3600000, "1d 1h"}, {-2000, "-2s"}};
    for (size_t i = 0; i < BO_ARRAY_SIZE(d); i++) {
        bo_format_duration(d[i].ms, b, sizeof(b));
        CHECK_STR(b, d[i].want);
    }
    bo_format_count(1, "instance", b, sizeof(b));
    CHECK_STR(b, "1 instance");
    bo_format_count(0, "instance", b, sizeof(b));
    CHECK_STR(b, "0 instances");
}

/* Options before a command: parsing stops at the command. */
TEST(head_stops_at_the_first_word)
{
    struct target t = {0};
    struct bo_opts o;
    CHECK(bo_opts_parse_head(table, ARGV("--port", "1", "--verbose", "job", "--port", "2"), &t, &o, NULL) == 0);
    CHECK(o.n_used == 3 && t.port == 1 && t.verbose && o.n_pos == 0);
    bo_opts_clear(&o);
    CHECK(bo_opts_parse_head(table, ARGV("--", "--port"), &t, &o, NULL) == 0);
    CHECK(o.n_used == 1);
    bo_opts_clear(&o);
    CHECK(bo_opts_parse_head(table, ARGV("cmd"), &t, &o, NULL) == 0 && o.n_used == 0);
    bo_opts_clear(&o);
}

TEST_MAIN()
