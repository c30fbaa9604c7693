/* Unit tests for the CLI's table-driven option parsing. */
#include "cli/args.h"

#include "harness.h"

static const struct bo_option opts[] = {
    {.name = "bind", .kind = BO_OPT_STRING, .arg = "NAME=VALUE", .repeat = true, .help = "b"},
    {.name = "json", .kind = BO_OPT_FLAG, .help = "j"},
    {.name = "wait-until", .kind = BO_OPT_STRING, .arg = "STATE", .help = "w"},
    {.name = "wait-timeout", .kind = BO_OPT_INT, .arg = "SECS", .def = "300", .min = 1, .max = 600, .help = "t"},
    {.name = NULL},
};
static const struct cli_command cmd = {
    .group = "job", .name = "create", .args = "KEY FILE", .options = opts,
    .min_args = 2, .max_args = 2,
};

static int parse(struct cli_ctx *ctx, struct cli_args *a, bool *help, bo_error_t *err, int argc,
                 char **argv)
{
    return cli_args_parse(&cmd, argc, argv, ctx, a, help, err);
}

#define ARGV(...) (sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)), (char *[]){__VA_ARGS__}

TEST(options_anywhere)
{
    struct cli_ctx ctx = {0};
    struct cli_args a;
    bool help;
    CHECK(parse(&ctx, &a, &help, NULL,
                ARGV("--bind", "a=1", "KEY", "--json", "FILE", "--bind=b=2",
                     "--scheduler=http://h:1")) == 0);
    CHECK(!help && a.n_pos == 2);
    CHECK_STR(a.pos[0], "KEY");
    CHECK_STR(a.pos[1], "FILE");
    CHECK(cli_flag(&a, "json"));
    size_t n;
    const char *const *b = cli_values(&a, "bind", &n);
    CHECK(n == 2);
    CHECK_STR(b[0], "a=1");
    CHECK_STR(b[1], "b=2");
    CHECK(cli_value(&a, "wait-until") == NULL);
    CHECK_STR(ctx.scheduler, "http://h:1");
    cli_args_clear(&a);
}

TEST(double_dash_ends_options)
{
    struct cli_ctx ctx = {0};
    struct cli_args a;
    bool help;
    CHECK(parse(&ctx, &a, &help, NULL, ARGV("--", "--json", "-x")) == 0);
    CHECK(a.n_pos == 2 && !cli_flag(&a, "json"));
    CHECK_STR(a.pos[1], "-x");
    cli_args_clear(&a);
}

TEST(help_skips_checks)
{
    struct cli_ctx ctx = {0};
    struct cli_args a;
    bool help;
    CHECK(parse(&ctx, &a, &help, NULL, ARGV("-h")) == 0 && help);
    cli_args_clear(&a);
}

static void check_error(const char *part, int argc, char **argv)
{
    struct cli_ctx ctx = {0};
    struct cli_args a;
    bool help;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(parse(&ctx, &a, &help, &err, argc, argv) < 0);
    CHECK(err->kind == BO_E_INVALID);
    CHECK_CONTAINS(err->msg, part);
}

TEST(errors)
{
    check_error("unknown option `--frob`", ARGV("K", "F", "--frob"));
    check_error("unknown option `-x`", ARGV("K", "F", "-x"));
    check_error("needs a value", ARGV("K", "F", "--wait-until"));
    check_error("takes no value", ARGV("K", "F", "--json=1"));
    check_error("missing arguments: expected KEY FILE", ARGV("--json"));
    check_error("missing argument: expected KEY FILE", ARGV("K"));
    check_error("unexpected argument `X`", ARGV("K", "F", "X"));
}

TEST(scheduler_url)
{
    _cleanup_error_ bo_error_t err = NULL;
    char *u = cli_scheduler_url("http://127.0.0.1:8081/", NULL);
    CHECK_STR(u, "http://127.0.0.1:8081");
    free(u);
    CHECK(cli_scheduler_url("127.0.0.1:8081", &err) == NULL);
    CHECK_CONTAINS(err->msg, "must start with http://");
    bo_error_freep(&err);
    CHECK(cli_scheduler_url("http://", &err) == NULL);
    CHECK_CONTAINS(err->msg, "no host");
}

TEST_MAIN()
