/* error.h - the one error convention of the project.
 *
 * A fallible function returns 0 (or a non-negative value) on success and a
 * negative number on failure. At module boundaries it also takes a
 * `bo_error_t *err`; on failure it stores there a heap-allocated error whose
 * message says what failed and with which input ("open `/x/y`: No such file
 * or directory"). The caller that *handles* the error logs or prints it once
 * and releases it; callers in between only pass it up (optionally prefixing
 * context with bo_error_wrap()). Library code never logs or exits. */
#ifndef BO_ERROR_H
#define BO_ERROR_H

#include "base/util.h"

/* Error kinds let callers map an error to an HTTP status or CLI exit code
 * without parsing messages. */
enum bo_errkind {
    BO_E_INTERNAL = 1, /* bug or unexpected system failure */
    BO_E_INVALID,      /* bad input: config, request body, parameter */
    BO_E_NOTFOUND,     /* named thing does not exist */
    BO_E_EXISTS,       /* named thing already exists */
    BO_E_IO,           /* system call / file failure (errno in sys_errno) */
    BO_E_NETWORK,      /* peer unreachable */
    BO_E_TIMEOUT,
    BO_E_API,          /* the remote API answered with an error */
    BO_E_REFUSED,      /* the request is valid but refused in this state */
    BO_E_AUTH,         /* not authenticated, or not permitted (HTTP 401/403) */
    BO_E_TLS,          /* the peer's certificate did not verify (or ours was refused) */
};

typedef struct bo_error_s {
    enum bo_errkind kind;
    int sys_errno; /* 0 unless kind == BO_E_IO (or a system call failed) */
    char *msg;
} *bo_error_t;

/* Store a new error in *err (if err is non-NULL) and return -1. */
int bo_error_set(bo_error_t *err, enum bo_errkind kind, const char *fmt, ...) BO_PRINTF(3, 4);
/* As bo_error_set, appending ": strerror(errnum)"; kind is BO_E_IO. */
int bo_error_sys(bo_error_t *err, int errnum, const char *fmt, ...) BO_PRINTF(3, 4);
/* Prefix an existing error message with context ("loading `x`: ..."). */
int bo_error_wrap(bo_error_t *err, const char *fmt, ...) BO_PRINTF(2, 3);
void bo_error_free(bo_error_t e);
static inline void bo_error_freep(bo_error_t *e)
{
    if (*e)
        bo_error_free(*e);
    *e = NULL;
}
#define _cleanup_error_ __attribute__((cleanup(bo_error_freep)))

#endif
