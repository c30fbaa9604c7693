/* image_common.c - shared parts of the `borealis image` commands. */
#include "cli/image_common.h"

#include <stdio.h>

#include "cli/exitcode.h"

void image_cli_registry_opts(const struct cli_args *a, struct registry_opts *ret)
{
    *ret = (struct registry_opts){0};
    ret->ca_file = cli_value(a, "registry-ca");
    ret->auth_file = cli_value(a, "registry-auth");
    ret->plain_http = cli_values(a, "plain-http", &ret->n_plain_http);
    long t = (long)cli_typed(a, "registry-timeout").i;
    ret->connect_timeout_ms = t;
    ret->stall_timeout_ms = t;
    ret->doc_timeout_ms = 2 * t;
}

struct image_store *image_cli_open_store(const struct cli_args *a)
{
    _cleanup_error_ bo_error_t err = NULL;
    struct image_store *s = NULL;
    if (image_store_open(cli_value(a, "data-dir"), NULL, &s, &err) < 0) {
        cli_fail(CLI_EXIT_COMMAND_FAILURE, "%s", err->msg);
        return NULL;
    }
    return s;
}

int image_cli_fail(const struct bo_error_s *e)
{
    int code = CLI_EXIT_COMMAND_FAILURE;
    if (e && e->kind == BO_E_REFUSED)
        code = CLI_EXIT_AUTH;
    return cli_fail_error(e, code);
}

void image_cli_progress(void *arg, const char *line)
{
    fprintf(stderr, "%s\n", line);
}
