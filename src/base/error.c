/* error.c - construction of bo_error_t values. */
#include "base/error.h"

#include <errno.h>
#include <string.h>

static int set_va(bo_error_t *err, enum bo_errkind kind, int sys_errno, const char *fmt, va_list ap)
{
    if (!err)
        return -1;
    if (*err) /* never leak or overwrite the first error */
        return -1;
    bo_error_t e = bo_xcalloc(1, sizeof(*e));
    e->kind = kind;
    e->sys_errno = sys_errno;
    _cleanup_free_ char *m = bo_xvasprintf(fmt, ap);
    if (sys_errno)
        e->msg = bo_xasprintf("%s: %s", m, strerror(sys_errno));
    else
        e->msg = BO_STEAL(m);
    *err = e;
    return -1;
}

int bo_error_set(bo_error_t *err, enum bo_errkind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_va(err, kind, 0, fmt, ap);
    va_end(ap);
    return -1;
}

int bo_error_sys(bo_error_t *err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_va(err, BO_E_IO, errnum ? errnum : EIO, fmt, ap);
    va_end(ap);
    return -1;
}

int bo_error_wrap(bo_error_t *err, const char *fmt, ...)
{
    if (!err || !*err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *prefix = bo_xvasprintf(fmt, ap);
    va_end(ap);
    char *m = bo_xasprintf("%s: %s", prefix, (*err)->msg);
    free((*err)->msg);
    (*err)->msg = m;
    return -1;
}

void bo_error_free(bo_error_t e)
{
    if (!e)
        return;
    free(e->msg);
    free(e);
}
