/* trust.c - the CA the CLI verifies the scheduler with, and where `up`
 * leaves it so that the CLI finds it with no step by the user. */
#include "cli/trust.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/ident.h"
#include "net/http_client.h"

char *cli_trust_path(const char *url)
{
    if (strncmp(url, "https://", 8) != 0)
        return NULL;
    const char *host = url + 8;
    size_t len = strcspn(host, "/");
    if (len == 0 || len > 255)
        return NULL;
    _cleanup_free_ char *name = bo_xstrndup(host, len);
    for (char *p = name; *p; p++)
        if (!bo_ident_char(*p, 0))
            *p = '_'; /* "127.0.0.1:8081" -> "127.0.0.1_8081" */
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg == '/')
        return bo_xasprintf("%s/borealis/ca/%s.pem", xdg, name);
    if (home && *home == '/')
        return bo_xasprintf("%s/.config/borealis/ca/%s.pem", home, name);
    return NULL;
}

void cli_trust_setup(const char *url)
{
    static char *ca; /* lives as long as the process: http_request keeps the pointer */
    const char *env = getenv(CLI_CA_ENV);
    free(ca);
    ca = NULL;
    if (env && *env) {
        ca = bo_xstrdup(env);
    } else {
        char *p = cli_trust_path(url);
        if (p && access(p, R_OK) == 0)
            ca = p;
        else
            free(p);
    }
    struct http_tls tls = {.ca_file = ca};
    http_client_set_tls(&tls);
}

int cli_trust_save(const char *url, const char *pem, bo_error_t *err)
{
    _cleanup_free_ char *path = cli_trust_path(url);
    if (!path)
        return bo_error_set(err, BO_E_INVALID, "no config directory for the scheduler's CA ($HOME is not set)");
    _cleanup_free_ char *dir = bo_xstrdup(path);
    *strrchr(dir, '/') = '\0';
    if (bo_mkdir_p(dir, 0700, err) < 0)
        return -1;
    return bo_write_file_atomic(path, pem, strlen(pem), true, err);
}
