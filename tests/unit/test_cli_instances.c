/* Unit tests for the CLI's instance lists ("0,3,5-7") and KEY/INSTANCES. */
#include "cli/instances.h"

#include "harness.h"

static void check_list(const char *text, const int64_t *want, size_t n_want)
{
    int64_t *v = NULL;
    size_t n = 0;
    _cleanup_error_ bo_error_t err = NULL;
    if (instances_parse(text, &v, &n, &err) < 0) {
        fprintf(stderr, "  `%s`: %s\n", text, err->msg);
        exit(1);
    }
    CHECK(n == n_want);
    for (size_t i = 0; i < n; i++)
        CHECK(v[i] == want[i]);
    free(v);
}

static void check_bad(const char *text, const char *msg_part)
{
    int64_t *v = NULL;
    size_t n = 0;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(instances_parse(text, &v, &n, &err) < 0);
    CHECK(err->kind == BO_E_INVALID);
    CHECK_CONTAINS(err->msg, msg_part);
    CHECK(v == NULL);
}

TEST(single)
{
    check_list("0", (int64_t[]){0}, 1);
    check_list("7", (int64_t[]){7}, 1);
}

TEST(range)
{
    check_list("0-2", (int64_t[]){0, 1, 2}, 3);
    check_list("4-4", (int64_t[]){4}, 1);
}

TEST(mixed_sorted_and_unique)
{
    check_list("0,3,5-7", (int64_t[]){0, 3, 5, 6, 7}, 5);
    check_list("5-7,0,6,3,0", (int64_t[]){0, 3, 5, 6, 7}, 5);
}

TEST(largest_instance)
{
    check_list("3999", (int64_t[]){3999}, 1);
}

TEST(empty)
{
    check_bad("", "empty");
}

TEST(empty_items)
{
    check_bad(",", "empty item");
    check_bad("1,", "empty item");
    check_bad(",1", "empty item");
    check_bad("1,,2", "empty item");
}

TEST(not_numbers)
{
    check_bad("a", "`a` is not an instance number");
    check_bad("1 2", "is not an instance number");
    check_bad("+1", "is not an instance number");
    check_bad("0x1", "is not an instance number");
    check_bad("1-2-3", "is not an instance number");
}

TEST(incomplete_ranges)
{
    check_bad("-1", "both sides");
    check_bad("1-", "both sides");
    check_bad("-", "both sides");
}

TEST(backwards_range)
{
    check_bad("3-1", "runs backwards");
}

TEST(out_of_range)
{
    check_bad("4000", "out of range");
    check_bad("0-99999999999999999999", "out of range");
}

TEST(too_long)
{
    char buf[INSTANCES_MAX_TEXT + 2];
    memset(buf, '1', sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    check_bad(buf, "longer than");
}

TEST(split_key)
{
    char *k, *i;
    instances_split_key("local/www-data/devel/hello/0-2", &k, &i);
    CHECK_STR(k, "local/www-data/devel/hello");
    CHECK_STR(i, "0-2");
    free(k);
    free(i);
    instances_split_key("local/www-data/devel/hello", &k, &i);
    CHECK_STR(k, "local/www-data/devel/hello");
    CHECK(i == NULL);
    free(k);
    instances_split_key("local/www-data/devel/hello/", &k, &i);
    CHECK_STR(i, "");
    free(k);
    free(i);
}

TEST(format)
{
    char *s = instances_format((int64_t[]){0, 1, 2, 5, 7, 8}, 6);
    CHECK_STR(s, "0-2,5,7-8");
    free(s);
}

TEST_MAIN()
