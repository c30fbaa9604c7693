/* Unit tests for the base layer: parsing, sizes, errors, files. */
#include <stdint.h>
#include <sys/wait.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/ident.h"
#include "base/jscan.h"
#include "base/parse.h"
#include "base/utf8.h"
#include "harness.h"

TEST(parse_size_units)
{
    uint64_t v;
    CHECK(bo_parse_size("512MiB", "ram", &v, NULL) == 0 && v == 512ULL << 20);
    CHECK(bo_parse_size("2GiB", "ram", &v, NULL) == 0 && v == 2ULL << 30);
    CHECK(bo_parse_size("1.5GiB", "ram", &v, NULL) == 0 && v == 3ULL << 29);
    CHECK(bo_parse_size("4096", "ram", &v, NULL) == 0 && v == 4096);
    CHECK(bo_parse_size("32mb", "ram", &v, NULL) == 0 && v == 32ULL << 20);
}

TEST(parse_size_errors_name_input)
{
    uint64_t v;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(bo_parse_size("12XB", "ram", &v, &err) < 0);
    CHECK(err->kind == BO_E_INVALID);
    CHECK_CONTAINS(err->msg, "ram");
    CHECK_CONTAINS(err->msg, "12XB");
    bo_error_freep(&err);
    CHECK(bo_parse_size("-1", "disk", &v, &err) < 0);
    CHECK_CONTAINS(err->msg, "disk");
}

TEST(parse_i64_range)
{
    int64_t v;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(bo_parse_i64("42", 0, 100, "instances", &v, NULL) == 0 && v == 42);
    CHECK(bo_parse_i64("4a", 0, 100, "instances", &v, &err) < 0);
    CHECK_CONTAINS(err->msg, "instances");
    bo_error_freep(&err);
    CHECK(bo_parse_i64("101", 0, 100, "instances", &v, &err) < 0);
    CHECK_CONTAINS(err->msg, "out of range");
}

TEST(format_size)
{
    char b[32];
    bo_format_size(32ULL << 20, b, sizeof(b));
    CHECK_STR(b, "32MiB");
    bo_format_size(3ULL << 29, b, sizeof(b));
    CHECK_STR(b, "1.5GiB");
}

TEST(error_wrap_prefixes)
{
    _cleanup_error_ bo_error_t err = NULL;
    bo_error_set(&err, BO_E_NOTFOUND, "job `%s` not found", "a/b/c/d");
    bo_error_wrap(&err, "status");
    CHECK_STR(err->msg, "status: job `a/b/c/d` not found");
}

TEST(atomic_write_and_rm_rf)
{
    char dir[] = "/tmp/bo-test-XXXXXX";
    CHECK(mkdtemp(dir));
    _cleanup_free_ char *sub = bo_xasprintf("%s/a/b/c", dir);
    CHECK(bo_mkdir_p(sub, 0755, NULL) == 0);
    _cleanup_free_ char *f = bo_xasprintf("%s/file", sub);
    CHECK(bo_write_file_atomic(f, "hello", 5, true, NULL) == 0);
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    CHECK(bo_read_file(f, 100, &buf, &len, NULL) == 0 && len == 5);
    CHECK_STR(buf, "hello");
    _cleanup_error_ bo_error_t err = NULL;
    char *small = NULL;
    CHECK(bo_read_file(f, 3, &small, NULL, &err) < 0);
    CHECK_CONTAINS(err->msg, "larger than 3 bytes");
    CHECK(bo_rm_rf(dir, NULL) == 0);
    CHECK(access(dir, F_OK) != 0);
}

TEST(uuid_shape)
{
    char a[37], b[37];
    bo_uuid4(a);
    bo_uuid4(b);
    CHECK(strlen(a) == 36 && a[14] == '4' && strcmp(a, b) != 0);
}

/* UUIDs come from a pool of random bytes: a forked child must not hand
 * out the parent's next ones (the pool is wiped in the child). */
TEST(uuid_differs_after_fork)
{
    char mine[37];
    bo_uuid4(mine); /* the pool is filled */
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char u[37];
        bo_uuid4(u);
        _exit(write(p[1], u, 36) == 36 ? 0 : 1);
    }
    close(p[1]);
    char child[37] = {0};
    CHECK(read(p[0], child, 36) == 36);
    close(p[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char next[37];
    bo_uuid4(next);
    CHECK(strcmp(child, next) != 0 && strcmp(child, mine) != 0);
    CHECK(strlen(child) == 36 && child[8] == '-' && child[14] == '4');
}

/* One duration parser for job files and command lines: a unit is always
 * written (a bare number meant ms in one place and s in the other). */
TEST(parse_duration_units)
{
    static const struct {
        const char *in;
        int64_t ms;
    } ok[] = {
        {"0", 0},          {"250ms", 250},       {"30s", 30000},          {"5m", 300000},
        {"1h", 3600000},   {"2d", 172800000},    {"1.5s", 1500},          {"1.1s", 1100},
        {"0.25m", 15000},  {"0ms", 0},           {"0.001s", 1},           {"007s", 7000},
        {"106751991167d", 106751991167LL * 86400000},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(ok); i++) {
        int64_t v = -1;
        _cleanup_error_ bo_error_t err = NULL;
        if (bo_parse_duration_ms(ok[i].in, "d", &v, &err) < 0)
            fprintf(stderr, "  %s: %s\n", ok[i].in, err->msg);
        CHECK(v == ok[i].ms);
    }
}

TEST(parse_duration_refuses_bare_numbers_and_junk)
{
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"30", "--agent-timeout: `30` has no unit: write e.g. `30s` for seconds or `30ms` for milliseconds"},
        {"1.5", "has no unit"},
        {"", "is not a duration"},
        {"s", "is not a duration"},
        {"-5s", "is not a duration"},
        {" 5s", "is not a duration"},
        {"5 s", "is not a duration"},
        {"5S", "is not a duration"},
        {"5sec", "is not a duration"},
        {"0x10s", "is not a duration"},
        {"1e3ms", "is not a duration"},
        {"5.s", "is not a duration"},
        {".5s", "is not a duration"},
        {"1.0000000001s", "is not a duration"},
        {"1.5ms", "not a whole number of milliseconds"},
        {"0.0001s", "not a whole number of milliseconds"},
        {"106751991168d", "too long"},
        {"99999999999999999999999ms", "too long"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        int64_t v = 42;
        _cleanup_error_ bo_error_t err = NULL;
        CHECK(bo_parse_duration_ms(bad[i].in, "--agent-timeout", &v, &err) < 0);
        CHECK(v == 42 && err->kind == BO_E_INVALID);
        CHECK_CONTAINS(err->msg, "--agent-timeout");
        CHECK_CONTAINS(err->msg, bad[i].msg);
    }
}

TEST(ident_rule)
{
    CHECK(bo_ident_ok("www-data_1.x", 64, 0));
    CHECK(!bo_ident_ok("a.b", 64, BO_IDENT_NO_DOT));
    CHECK(bo_ident_ok("a-b_c", 64, BO_IDENT_NO_DOT));
    CHECK(!bo_ident_ok("", 64, 0));
    CHECK(!bo_ident_ok(".", 64, 0));
    CHECK(!bo_ident_ok("..", 64, 0));
    CHECK(!bo_ident_ok("a/b", 64, 0));
    CHECK(!bo_ident_ok("a b", 64, 0));
    CHECK(!bo_ident_ok("\xc3\xa9", 64, 0));
    CHECK(bo_ident_ok("abcd", 4, 0));
    CHECK(!bo_ident_ok("abcde", 4, 0));
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(bo_ident_check("www data", 64, 0, "role", &err) < 0);
    CHECK_STR(err->msg, "role `www data` must match [A-Za-z0-9_.-]+");
    bo_error_freep(&err);
    CHECK(bo_ident_check("abcde", 4, 0, "--cgroup-root", &err) < 0);
    CHECK_STR(err->msg, "--cgroup-root `abcde...` is longer than 4 characters");
}

TEST(utf8_sanitize)
{
    static const char mixed[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    CHECK(bo_utf8_valid(mixed, strlen(mixed)));
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"caf\xc3\xa9", "caf\xc3\xa9"},
        {"r\xffole", "r\\xffole"},
        {"\xc3", "\\xc3"},                       /* truncated sequence */
        {"\xc0\xaf", "\\xc0\\xaf"},              /* overlong '/' */
        {"\xed\xa0\x80", "\\xed\\xa0\\x80"},     /* surrogate */
        {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"}, /* above U+10FFFF */
        {"\xe0\x80\x80", "\\xe0\\x80\\x80"},     /* overlong 3-byte */
        {"\xf0\x80\x80\x80", "\\xf0\\x80\\x80\\x80"}, /* overlong 4-byte */
        {"\x80" "a", "\\x80a"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *out = bo_utf8_sanitize(cases[i].in);
        CHECK_STR(out, cases[i].out);
        CHECK(bo_utf8_valid(out, strlen(out)));
        CHECK(bo_utf8_valid(cases[i].in, strlen(cases[i].in)) == (strcmp(cases[i].in, cases[i].out) == 0));
    }
}

/* Read `text` as {KEY: VALUE, ...} of strings, integers, booleans and
 * nulls into "k=v;" pairs; NULL if the reader refused it. */
static char *scan_flat(const char *text)
{
    static char out[512];
    char *buf = bo_xstrdup(text);
    struct jscan s;
    jscan_init(&s, buf, strlen(buf));
    size_t n = 0;
    const char *key, *str;
    int64_t i;
    bool b, ok = jscan_object(&s);
    int k = -1;
    out[0] = 0;
    while (ok && (k = jscan_key(&s, &key)) == 1) {
        char v[256] = "";
        switch (jscan_peek(&s)) {
        case JSCAN_STRING:
            if ((ok = jscan_string(&s, &str)))
                snprintf(v, sizeof(v), "[%s]", str);
            break;
        case JSCAN_NUMBER:
            if ((ok = jscan_int(&s, &i)))
                snprintf(v, sizeof(v), "%lld", (long long)i);
            break;
        case JSCAN_TRUE:
        case JSCAN_FALSE:
            if ((ok = jscan_bool(&s, &b)))
                snprintf(v, sizeof(v), "%d", b);
            break;
        case JSCAN_NULL:
            if ((ok = jscan_null(&s)))
                snprintf(v, sizeof(v), "null");
            break;
        default:
            ok = false;
        }
        if (ok)
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%s=%s;", key, v);
    }
    ok = ok && k == 0 && jscan_done(&s);
    free(buf);
    return ok ? out : NULL;
}

/* The flat reader of stored task rows (base/jscan.c): the subset it reads,
 * and everything else refused (the caller then reads the text with
 * jansson), never misread. */
TEST(jscan_reads_its_subset_and_refuses_the_rest)
{
    CHECK_STR(scan_flat("{}"), "");
    CHECK_STR(scan_flat(" { \"a\" : \"x\\\"\\\\\\/\\n\\tz\" , \"b\":-12,\"c\":true,\"d\":null,\"e\":false } \n"),
              "a=[x\"\\/\n\tz];b=-12;c=1;d=null;e=0;");
    CHECK_STR(scan_flat("{\"n\":9223372036854775807,\"m\":-9223372036854775808,\"z\":0,\"u\":\"\xc3\xa9\"}"),
              "n=9223372036854775807;m=-9223372036854775808;z=0;u=[\xc3\xa9];");
    static const char *const refused[] = {
        "", "{", "{\"a\":1,}", "{,\"a\":1}", "{\"a\":1 \"b\":2}", "{\"a\" 1}", "{\"a\":01}", "{\"a\":-}",
        "{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":9223372036854775808}", "{\"a\":-9223372036854775809}",
        "{\"a\":\"\\u0041\"}", "{\"a\":\"x\ty\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":tru}",
        "{\"a\":truex}", "{\"a\":nul}", "{\"a\":1} x", "{\"a\":1}}", "{\"a\":\"x}", "{\"a\\q\":1}", "[1]",
        "{\"a\":[1]}", "{\"a\":1]",
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(refused); i++)
        if (scan_flat(refused[i])) {
            fprintf(stderr, "  accepted `%s`\n", refused[i]);
            CHECK(false);
        }
    /* Arrays, nested, and depth bounded. */
    char buf[] = "[[],[1,[2]],\"s\"]";
    struct jscan s;
    jscan_init(&s, buf, strlen(buf));
    int64_t v;
    const char *str;
    CHECK(jscan_array(&s) && jscan_element(&s) == 1 && jscan_array(&s) && jscan_element(&s) == 0);
    CHECK(jscan_element(&s) == 1 && jscan_array(&s) && jscan_element(&s) == 1 && jscan_int(&s, &v) && v == 1);
    CHECK(jscan_element(&s) == 1 && jscan_array(&s) && jscan_element(&s) == 1 && jscan_int(&s, &v) && v == 2);
    CHECK(jscan_element(&s) == 0 && jscan_element(&s) == 0);
    CHECK(jscan_element(&s) == 1 && jscan_string(&s, &str) && strcmp(str, "s") == 0);
    CHECK(jscan_element(&s) == 0 && jscan_done(&s));
    char deep[2 * JSCAN_MAX_DEPTH + 3];
    memset(deep, '[', JSCAN_MAX_DEPTH + 1);
    memset(deep + JSCAN_MAX_DEPTH + 1, ']', JSCAN_MAX_DEPTH + 1);
    deep[2 * JSCAN_MAX_DEPTH + 2] = 0;
    jscan_init(&s, deep, strlen(deep));
    bool opened = true;
    for (int i = 0; i <= JSCAN_MAX_DEPTH && opened; i++)
        opened = jscan_array(&s) && (i == JSCAN_MAX_DEPTH || jscan_element(&s) == 1);
    CHECK(!opened && s.failed);
}

TEST_MAIN()
