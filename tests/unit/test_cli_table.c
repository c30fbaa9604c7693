/* Unit tests for the CLI's aligned tables. */
#include "cli/table.h"

#include "harness.h"

TEST(aligns_columns)
{
    static const char *const h[] = {"JOB", "STATE", "N"};
    struct table *t = table_new(3, h);
    table_add_row(t, (const char *[]){"local/a/devel/x", "active", "2"});
    table_add_row(t, (const char *[]){"b", "finished", "10"});
    table_set_align(t, 2, TABLE_RIGHT);
    char *s = table_render(t);
    CHECK_STR(s, "JOB              STATE      N\n"
                 "local/a/devel/x  active     2\n"
                 "b                finished  10\n");
    free(s);
    table_free(t);
}

TEST(no_trailing_spaces)
{
    static const char *const h[] = {"A", "B", "DETAILS"};
    struct table *t = table_new(3, h);
    table_add_row(t, (const char *[]){"1", "", NULL});
    table_add_row(t, (const char *[]){"22", "x", "long text"});
    char *s = table_render(t);
    CHECK_STR(s, "A   B  DETAILS\n"
                 "1\n"
                 "22  x  long text\n");
    free(s);
    table_free(t);
}

TEST(utf8_width)
{
    static const char *const h[] = {"NAME", "X"};
    struct table *t = table_new(2, h);
    table_add_row(t, (const char *[]){"h\xc3\xa9llo", "1"}); /* héllo: 5 columns */
    char *s = table_render(t);
    CHECK_STR(s, "NAME   X\n"
                 "h\xc3\xa9llo  1\n");
    free(s);
    table_free(t);
}

TEST(control_chars_become_spaces)
{
    static const char *const h[] = {"A", "B"};
    struct table *t = table_new(2, h);
    table_add_row(t, (const char *[]){"x\ny", "z"});
    char *s = table_render(t);
    CHECK_STR(s, "A    B\nx y  z\n");
    free(s);
    table_free(t);
}

TEST(header_only)
{
    static const char *const h[] = {"A", "B"};
    struct table *t = table_new(2, h);
    CHECK(table_rows(t) == 0);
    char *s = table_render(t);
    CHECK_STR(s, "A  B\n");
    free(s);
    table_free(t);
}

TEST_MAIN()
