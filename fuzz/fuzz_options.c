/* fuzz_options.c - libFuzzer target for the shared option parser
 * (src/base/options.c) as every program uses it: the input is split at NUL
 * bytes into argv and parsed with the scheduler's table, the agent's
 * table, `borealis`'s own options before a command and each command's
 * table; every refusal must carry a message, and "did you mean" runs on
 * each word. */
#include <stdint.h>
#include <string.h>

#include "agent/options.h"
#include "base/suggest.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "scheduler/scheduler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ARGS 64

static void expect_message(int r, bo_error_t err)
{
    if (r < 0 && (!err || !err->msg || !*err->msg))
        __builtin_trap();
    if (r == 0 && err)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *buf = bo_xmalloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[FUZZ_MAX_ARGS + 2] = {"prog"};
    int argc = 1;
    for (size_t i = 0; i <= size && argc <= FUZZ_MAX_ARGS;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;

    /* Without a target: the table's checks and the parser alone. */
    struct bo_opts o;
    bo_error_t err = NULL;
    int r = bo_opts_parse(scheduler_options, argc - 1, argv + 1, NULL, &o, &err);
    expect_message(r, err);
    if (r == 0)
        bo_opts_clear(&o);
    bo_error_freep(&err);

    r = bo_opts_parse_head(cli_main_options, argc - 1, argv + 1, NULL, &o, &err);
    expect_message(r, err);
    if (r == 0) {
        if (o.n_used < 0 || o.n_used > argc - 1)
            __builtin_trap();
        bo_opts_clear(&o);
    }
    bo_error_freep(&err);

    struct agent_options ao;
    r = agent_options_parse(argc, argv, &ao, &err);
    expect_message(r, err);
    if (r == 0)
        agent_options_clear(&ao);
    bo_error_freep(&err);

    size_t n;
    const struct cli_command *const *cmds = cli_commands(&n);
    for (size_t i = 0; i < n; i++) {
        if (cmds[i]->run_raw)
            continue;
        struct cli_ctx ctx = {0};
        struct cli_args a;
        bool help = false;
        r = cli_args_parse(cmds[i], argc - 1, argv + 1, &ctx, &a, &help, &err);
        expect_message(r, err);
        if (r == 0)
            cli_args_clear(&a);
        bo_error_freep(&err);
    }
    const char *names[] = {"create", "status", "list", "wait-until", NULL};
    for (int i = 1; i < argc; i++) {
        char *hint = bo_did_you_mean(argv[i], names, 5, "--");
        free(hint);
    }
    free(buf);
    return 0;
}
