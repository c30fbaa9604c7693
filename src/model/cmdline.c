/* cmdline.c - a command line to an argv, with or without a shell (see
 * cmdline.h). Kept conservative: anything a shell would read differently
 * from plain words goes to the shell, so a cmdline means what it always
 * meant; only the plain ones lose the shell in between. */
#include "model/cmdline.h"

#include <string.h>

#include "base/util.h"

/* Words the shell itself runs: keywords, and builtins that exist as no
 * program (or would do something else as one: `cd` in a child is a no-op). */
static const char *const shell_words[] = {
    "!", ".", ":", "[[", "alias", "bg", "break", "case", "cd", "command", "continue", "do", "done", "elif",
    "else", "esac", "eval", "exec", "exit", "export", "fg", "fi", "for", "function", "getopts", "hash", "if",
    "in", "jobs", "local", "read", "readonly", "return", "select", "set", "shift", "source", "then", "time",
    "times", "trap", "type", "typeset", "ulimit", "umask", "unalias", "unset", "until", "wait", "while",
};

static bool plain_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_@%+=:,./-", c);
}

static bool blank(char c) { return c == ' ' || c == '\t'; }

bool cmdline_needs_shell(const char *cmdline)
{
    for (const char *p = cmdline; *p; p++)
        if (!blank(*p) && !plain_char(*p))
            return true;
    const char *w = cmdline;
    while (blank(*w))
        w++;
    size_t n = 0;
    while (w[n] && !blank(w[n]))
        n++;
    if (n == 0 || memchr(w, '=', n))
        return true; /* nothing to run, or an assignment */
    for (size_t i = 0; i < BO_ARRAY_SIZE(shell_words); i++)
        if (strlen(shell_words[i]) == n && memcmp(shell_words[i], w, n) == 0)
            return true;
    return false;
}

char **cmdline_argv(const char *cmdline)
{
    if (cmdline_needs_shell(cmdline)) {
        char **v = bo_xcalloc(4, sizeof(char *));
        v[0] = bo_xstrdup("/bin/sh");
        v[1] = bo_xstrdup("-c");
        v[2] = bo_xstrdup(cmdline);
        return v;
    }
    size_t n = 0, cap = 4;
    char **v = bo_xcalloc(cap, sizeof(char *));
    for (const char *p = cmdline; *p;) {
        while (blank(*p))
            p++;
        size_t len = 0;
        while (p[len] && !blank(p[len]))
            len++;
        if (!len)
            break;
        if (n + 2 > cap)
            v = bo_xrealloc(v, (cap *= 2) * sizeof(char *));
        v[n++] = bo_xstrndup(p, len);
        p += len;
    }
    v[n] = NULL;
    return v;
}

void cmdline_argv_free(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}
