/* cmdline.h - how a process's command line becomes the argv the executor
 * runs: as words, without a shell, when it uses no shell syntax (so an
 * image without /bin/sh can run it), else as `/bin/sh -c CMDLINE`. */
#ifndef BO_MODEL_CMDLINE_H
#define BO_MODEL_CMDLINE_H

#include <stdbool.h>

/* True when `cmdline` needs a shell: any character outside letters,
 * digits, blanks and `_@%+=:,./-` (quotes, $, globs, redirections, ;, |,
 * &, newlines, ~, #, ...), an assignment as the first word (`A=1 cmd`),
 * or a first word that is a shell keyword or a builtin with no program of
 * its name (`exit`, `cd`, `exec`, `export`, `if`, ...). */
bool cmdline_needs_shell(const char *cmdline);

/* The argv for `cmdline` (NULL-terminated, heap; free with
 * cmdline_argv_free): its blank-separated words, or sh -c. */
char **cmdline_argv(const char *cmdline);
void cmdline_argv_free(char **argv);

#endif
