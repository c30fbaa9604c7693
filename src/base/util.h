/* util.h - memory policy, cleanup helpers and small macros shared by every
 * module. Dependency-free (libc only) so the static executor can use it.
 *
 * Out-of-memory policy (project-wide): allocation failure is not a
 * recoverable error here. The x*() helpers abort with a message; callers
 * never check their result. */
#ifndef BO_UTIL_H
#define BO_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define BO_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BO_UNUSED __attribute__((unused))
#define BO_PRINTF(f, a) __attribute__((format(printf, f, a)))

void *bo_xmalloc(size_t n);
void *bo_xcalloc(size_t n, size_t size);
void *bo_xrealloc(void *p, size_t n);
char *bo_xstrdup(const char *s);
char *bo_xstrndup(const char *s, size_t n);
char *bo_xasprintf(const char *fmt, ...) BO_PRINTF(1, 2);
char *bo_xvasprintf(const char *fmt, va_list ap) BO_PRINTF(1, 0);

/* Cleanup helpers, in the systemd style: a variable declared with one of
 * these is released when it goes out of scope. Steal it with BO_STEAL(). */
static inline void bo_freep(void *p) { free(*(void **)p); }
static inline void bo_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
static inline void bo_fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}
#define _cleanup_free_ __attribute__((cleanup(bo_freep)))
#define _cleanup_close_ __attribute__((cleanup(bo_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(bo_fclosep)))

#define BO_STEAL(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) _tmp = (p);                                                                  \
        (p) = NULL;                                                                                \
        _tmp;                                                                                      \
    })
#define BO_STEAL_FD(fd)                                                                            \
    ({                                                                                             \
        int _tmp = (fd);                                                                           \
        (fd) = -1;                                                                                 \
        _tmp;                                                                                      \
    })

#endif
