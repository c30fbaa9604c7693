/* Unit tests for the base layer: parsing, sizes, errors, files. */
#include <stdint.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/parse.h"
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

TEST_MAIN()
