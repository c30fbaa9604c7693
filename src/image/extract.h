/* extract.h - unpacking an image layer (a tar, plain, gzip or zstd) into a
 * directory with libarchive, guarded: no entry may land outside the
 * directory (absolute names, "..", writing through a symlink), and the
 * total size and entry count are bounded. Whiteouts become overlayfs's
 * form: ".wh.NAME" a 0/0 character device NAME, ".wh..wh..opq" the
 * trusted.overlay.opaque xattr on its directory, so the layer directory is
 * usable as an overlay lower layer as is. */
#ifndef BO_IMAGE_EXTRACT_H
#define BO_IMAGE_EXTRACT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

struct extract_limits {
    uint64_t max_bytes;   /* total size of regular files */
    uint64_t max_entries;
};

/* Unpack the archive in file `src` into the existing empty directory
 * `dest` (an absolute path without symlinks). `layer` (whiteouts and
 * ownership honoured) or a plain archive (an image archive being imported:
 * regular files, directories and symlinks only, owned by the caller). */
int extract_archive(const char *src, const char *dest, bool layer, const struct extract_limits *lim,
                    bo_error_t *err);
/* The same from memory (fuzzing, tests). */
int extract_archive_mem(const void *buf, size_t len, const char *dest, bool layer, const struct extract_limits *lim,
                        bo_error_t *err);

#endif
