/* fs.h - file helpers: whole-file read, atomic replace, mkdir -p, rm -rf. */
#ifndef BO_FS_H
#define BO_FS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Read at most max_len bytes of `path` into a NUL-terminated heap buffer.
 * A longer file is an error (BO_E_INVALID) naming the file and the limit. */
int bo_read_file(const char *path, size_t max_len, char **ret_buf, size_t *ret_len, bo_error_t *err);
/* Replace `path` atomically: write a temp file beside it (created with
 * O_EXCL|O_NOFOLLOW, so a symlink planted in the directory is never
 * written through), optionally fsync, rename over the target (and fsync
 * the directory when do_fsync). */
int bo_write_file_atomic(const char *path, const void *data, size_t len, bool do_fsync, bo_error_t *err);
/* The same, the file made with `mode` (0600 for secrets). */
int bo_write_file_atomic_mode(const char *path, const void *data, size_t len, bool do_fsync, unsigned mode,
                              bo_error_t *err);
int bo_mkdir_p(const char *path, unsigned mode, bo_error_t *err);
/* Remove a tree; a missing path is success. Does not cross mount points. */
int bo_rm_rf(const char *path, bo_error_t *err);
/* fork() with a close-on-exec pipe made first (p[0] to read, p[1] to
 * write). Returns the child's pid in the parent, 0 in the child, and -1
 * with both ends closed when the pipe or the fork failed. */
int bo_fork_with_pipe(int p[2], bo_error_t *err);

#endif
