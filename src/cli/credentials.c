/* credentials.c - finding, checking and parsing the CLI's API token. */
#include "cli/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

static bool token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int check_token(const char *s, size_t n, const char *what, bo_error_t *err)
{
    if (n == 0)
        return bo_error_set(err, BO_E_INVALID, "%s: the token is empty", what);
    if (n > CREDENTIALS_TOKEN_MAX)
        return bo_error_set(err, BO_E_INVALID, "%s: the token is longer than %d characters", what,
                            CREDENTIALS_TOKEN_MAX);
    for (size_t i = 0; i < n; i++)
        if (!token_char(s[i]))
            return bo_error_set(err, BO_E_INVALID, "%s: the token holds a character outside [A-Za-z0-9_-]", what);
    return 0;
}

int credentials_parse(const char *text, size_t len, const char *what, char **ret, bo_error_t *err)
{
    const char *tok = NULL;
    size_t tok_len = 0;
    int lineno = 0, tok_line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
            n--;
        while (n && (*line == ' ' || *line == '\t')) {
            line++;
            n--;
        }
        if (n == 0 || *line == '#')
            continue;
        if (memchr(line, '\0', n))
            return bo_error_set(err, BO_E_INVALID, "%s:%d: a NUL byte", what, lineno);
        if (tok)
            return bo_error_set(err, BO_E_INVALID, "%s:%d: a second token (the first is on line %d)", what,
                                lineno, tok_line);
        if (n > 5 && !strncmp(line, "token", 5) && !token_char(line[5])) {
            const char *p = line + 5, *end = line + n;
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            if (p == end || *p != '=')
                return bo_error_set(err, BO_E_INVALID, "%s:%d: expected `token = VALUE`", what, lineno);
            p++;
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            n = (size_t)(end - p);
            line = p;
        }
        _cleanup_free_ char *where = bo_xasprintf("%s:%d", what, lineno);
        if (check_token(line, n, where, err) < 0)
            return -1;
        tok = line;
        tok_len = n;
        tok_line = lineno;
    }
    if (!tok)
        return bo_error_set(err, BO_E_INVALID, "%s holds no token", what);
    *ret = bo_xstrndup(tok, tok_len);
    return 0;
}

int credentials_read_file(const char *path, char **ret, bo_error_t *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return bo_error_sys(err, errno, "credentials `%s`", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bo_error_sys(err, errno, "credentials `%s`: stat", path);
    if (!S_ISREG(st.st_mode))
        return bo_error_set(err, BO_E_INVALID, "credentials `%s` is not a regular file", path);
    if (st.st_mode & 077)
        return bo_error_set(err, BO_E_AUTH,
                            "credentials `%s` has mode %04o: other users may read it; refusing to use it "
                            "(run `chmod 600 %s`)",
                            path, (unsigned)(st.st_mode & 07777), path);
    if (st.st_uid != geteuid() && st.st_uid != 0)
        return bo_error_set(err, BO_E_AUTH, "credentials `%s` belongs to another user (uid %u); refusing to use it",
                            path, (unsigned)st.st_uid);
    if (st.st_size > CREDENTIALS_FILE_MAX)
        return bo_error_set(err, BO_E_INVALID, "credentials `%s` is larger than %d bytes", path,
                            CREDENTIALS_FILE_MAX);
    char buf[CREDENTIALS_FILE_MAX + 1];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bo_error_sys(err, errno, "credentials `%s`: read", path);
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > CREDENTIALS_FILE_MAX)
            return bo_error_set(err, BO_E_INVALID, "credentials `%s` is larger than %d bytes", path,
                                CREDENTIALS_FILE_MAX);
    }
    _cleanup_free_ char *what = bo_xasprintf("credentials `%s`", path);
    int r = credentials_parse(buf, len, what, ret, err);
    explicit_bzero(buf, sizeof(buf));
    return r;
}

int credentials_find(char **ret, bo_error_t *err)
{
    const char *env = getenv(CLI_TOKEN_ENV);
    if (env && *env) {
        if (check_token(env, strlen(env), "$" CLI_TOKEN_ENV, err) < 0)
            return -1;
        *ret = bo_xstrdup(env);
        return 0;
    }
    const char *file = getenv(CLI_TOKEN_FILE_ENV);
    if (file && *file)
        return credentials_read_file(file, ret, err);
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    _cleanup_free_ char *path = NULL;
    if (xdg && *xdg == '/')
        path = bo_xasprintf("%s/borealis/credentials", xdg);
    else if (home && *home == '/')
        path = bo_xasprintf("%s/.config/borealis/credentials", home);
    if (path && access(path, F_OK) == 0)
        return credentials_read_file(path, ret, err);
    *ret = NULL;
    return 0;
}
