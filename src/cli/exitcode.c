/* exitcode.c - the exit code table and error printing of the CLI. */
#include "cli/exitcode.h"

#include <stdarg.h>
#include <stdio.h>

#include "cli/cli.h"

static const struct cli_exit_info exit_table[] = {
    {CLI_EXIT_OK, "OK", "success"},
    {CLI_EXIT_INVALID_CONFIG, "INVALID_CONFIG",
     "invalid job configuration: YAML error, unknown field, failed validation, unknown "
     "variable, KEY not in the file, or the scheduler refused the job (HTTP 400)"},
    {CLI_EXIT_COMMAND_FAILURE, "COMMAND_FAILURE",
     "the command ran but failed: a waited-for job failed, a kill matched no live task, or a task's logs or "
     "files cannot be read now (not started yet, its agent down, not a regular file)"},
    {CLI_EXIT_INVALID_COMMAND, "INVALID_COMMAND",
     "unknown command or option, missing or extra arguments (the usage is printed)"},
    {CLI_EXIT_INVALID_PARAMETER, "INVALID_PARAMETER",
     "bad parameter value: job key, --bind, instance list, --wait-until, URL, a path outside a task's "
     "sandbox (`..`, absolute, a symlink out of it)"},
    {CLI_EXIT_NETWORK, "NETWORK", "the scheduler could not be reached"},
    {CLI_EXIT_TIMEOUT, "TIMEOUT",
     "timed out (--wait-until, or the scheduler, or the agent holding a task's files, did not answer)"},
    {CLI_EXIT_API, "API_ERROR",
     "the scheduler answered with an error (unknown job, instance, process or file, job already exists, ...)"},
    {CLI_EXIT_AUTH, "AUTH_ERROR", "authentication or authorization failed: no or unknown token (HTTP 401), not permitted (403), or a "
     "credentials file that cannot be read or is readable by others; also when the scheduler's TLS certificate "
     "does not verify against the trusted CA ($BOREALIS_CA, or the one `borealis up` saved)"},
};

const struct cli_exit_info *cli_exit_table(size_t *ret_n)
{
    *ret_n = BO_ARRAY_SIZE(exit_table);
    return exit_table;
}

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout); /* keep the order of what was printed so far */
    fputs(CLI_PROGRAM ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int cli_fail_error(const struct bo_error_s *e, int code)
{
    if (e && e->kind == BO_E_NETWORK)
        code = CLI_EXIT_NETWORK;
    else if (e && e->kind == BO_E_TIMEOUT)
        code = CLI_EXIT_TIMEOUT;
    else if (e && (e->kind == BO_E_AUTH || e->kind == BO_E_TLS))
        code = CLI_EXIT_AUTH;
    return cli_fail(code, "%s", e && e->msg ? e->msg : "unknown error");
}
