/* extract.c - guarded layer extraction over libarchive (see extract.h). */
#include "image/extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define NAME_MAX_LEN 4096

/* A relative path without "..", empty or absolute components, normalised
 * ("./a//b/" -> "a/b"); NULL when unsafe. "" for the root itself. */
static char *clean_name(const char *name)
{
    if (!name || name[0] == '/' || strlen(name) > NAME_MAX_LEN)
        return NULL;
    char *out = bo_xmalloc(strlen(name) + 1);
    size_t n = 0;
    const char *p = name;
    while (*p) {
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t cn = (size_t)(p - s);
        while (*p == '/')
            p++;
        if (cn == 0 || (cn == 1 && s[0] == '.'))
            continue;
        if (cn == 2 && s[0] == '.' && s[1] == '.') {
            free(out);
            return NULL;
        }
        if (n)
            out[n++] = '/';
        memcpy(out + n, s, cn);
        n += cn;
    }
    out[n] = 0;
    return out;
}

/* Open directory `rel` under dirfd `root`, component by component, never
 * following a symlink; missing components are created (mode 0755). */
static int open_dir_in(int root, const char *rel, bo_error_t *err)
{
    int fd = fcntl(root, F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
        return bo_error_sys(err, errno, "dup");
    _cleanup_free_ char *copy = bo_xstrdup(rel);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        int nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0 && errno == ENOENT) {
            if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
                int e = errno;
                close(fd);
                return bo_error_sys(err, e, "create directory `%s` in the layer", rel);
            }
            nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (nfd < 0) {
            int e = errno;
            close(fd);
            if (e == ELOOP || e == ENOTDIR)
                return bo_error_set(err, BO_E_INVALID, "layer entry under `%s` goes through a symlink or a file",
                                    rel);
            return bo_error_sys(err, e, "open `%s` in the layer", rel);
        }
        close(fd);
        fd = nfd;
    }
    return fd;
}

static int whiteout(int root, const char *clean, bo_error_t *err)
{
    const char *slash = strrchr(clean, '/');
    _cleanup_free_ char *dir = slash ? bo_xstrndup(clean, (size_t)(slash - clean)) : bo_xstrdup("");
    const char *base = slash ? slash + 1 : clean;
    _cleanup_close_ int dfd = open_dir_in(root, dir, err);
    if (dfd < 0)
        return -1;
    if (strcmp(base, ".wh..wh..opq") == 0) {
        if (fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
            return bo_error_sys(err, errno, "mark `%s` opaque (trusted.overlay.opaque)", dir[0] ? dir : "/");
        return 0;
    }
    const char *name = base + 4;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return bo_error_set(err, BO_E_INVALID, "layer has an invalid whiteout `%s`", clean);
    if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return bo_error_sys(err, errno, "remove `%s/%s` for its whiteout", dir, name);
    if (mknodat(dfd, name, S_IFCHR | 0000, makedev(0, 0)) < 0)
        return bo_error_sys(err, errno, "create the whiteout of `%s/%s`", dir, name);
    return 0;
}

static int run(struct archive *in, const char *dest, bool layer, const struct extract_limits *lim, bo_error_t *err)
{
    _cleanup_close_ int root = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0)
        return bo_error_sys(err, errno, "open `%s`", dest);
    struct archive *out = archive_write_disk_new();
    int flags = ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK;
    if (layer)
        flags |= ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME;
    archive_write_disk_set_options(out, flags);
    uint64_t bytes = 0, entries = 0;
    int ret = 0;
    struct archive_entry *e;
    for (;;) {
        int r = archive_read_next_header(in, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            ret = bo_error_set(err, BO_E_INVALID, "archive: %s", archive_error_string(in));
            break;
        }
        if (++entries > lim->max_entries) {
            ret = bo_error_set(err, BO_E_INVALID, "archive has more than %llu entries",
                               (unsigned long long)lim->max_entries);
            break;
        }
        const char *raw = archive_entry_pathname(e);
        _cleanup_free_ char *clean = clean_name(raw);
        if (!clean) {
            ret = bo_error_set(err, BO_E_INVALID, "archive entry `%.200s` escapes its directory (absolute or ..)",
                               raw ? raw : "(no name)");
            break;
        }
        if (!*clean) { /* the root directory itself */
            archive_read_data_skip(in);
            continue;
        }
        mode_t type = archive_entry_filetype(e);
        const char *base = strrchr(clean, '/');
        base = base ? base + 1 : clean;
        if (layer && strncmp(base, ".wh.", 4) == 0) {
            if (whiteout(root, clean, err) < 0) {
                ret = -1;
                break;
            }
            archive_read_data_skip(in);
            continue;
        }
        if (type == AE_IFBLK || type == AE_IFCHR || (!layer && type != AE_IFREG && type != AE_IFDIR &&
                                                     type != AE_IFLNK)) {
            /* Device nodes come from the runtime's /dev, never from an image. */
            archive_read_data_skip(in);
            continue;
        }
        if (type == AE_IFREG) {
            int64_t sz = archive_entry_size(e);
            if (sz < 0 || (uint64_t)sz > lim->max_bytes - bytes) {
                ret = bo_error_set(err, BO_E_INVALID, "archive unpacks to more than %llu bytes (at `%.200s`)",
                                   (unsigned long long)lim->max_bytes, clean);
                break;
            }
            bytes += (uint64_t)sz;
        }
        _cleanup_free_ char *full = bo_xasprintf("%s/%s", dest, clean);
        archive_entry_set_pathname(e, full);
        const char *hl = archive_entry_hardlink(e);
        if (hl) {
            _cleanup_free_ char *hclean = clean_name(hl);
            if (!hclean || !*hclean) {
                ret = bo_error_set(err, BO_E_INVALID, "archive hard link `%.200s` -> `%.200s` escapes its directory",
                                   clean, hl);
                break;
            }
            _cleanup_free_ char *hfull = bo_xasprintf("%s/%s", dest, hclean);
            archive_entry_set_hardlink(e, hfull);
        }
        if (!layer) {
            archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
        }
        /* The directory of the entry must not be reached through a symlink
         * (libarchive checks too; this also creates missing parents safely). */
        const char *slash = strrchr(clean, '/');
        if (slash) {
            _cleanup_free_ char *dir = bo_xstrndup(clean, (size_t)(slash - clean));
            int dfd = open_dir_in(root, dir, err);
            if (dfd < 0) {
                ret = -1;
                break;
            }
            close(dfd);
        }
        r = archive_write_header(out, e);
        if (r < ARCHIVE_WARN) {
            ret = bo_error_set(err, BO_E_INVALID, "unpack `%.200s`: %s", clean, archive_error_string(out));
            break;
        }
        if (type == AE_IFREG && archive_entry_size(e) > 0) {
            const void *blk;
            size_t n;
            int64_t off;
            while ((r = archive_read_data_block(in, &blk, &n, &off)) == ARCHIVE_OK) {
                if (archive_write_data_block(out, blk, n, off) < ARCHIVE_WARN) {
                    r = ARCHIVE_FATAL;
                    break;
                }
            }
            if (r != ARCHIVE_EOF) {
                ret = bo_error_set(err, BO_E_INVALID, "unpack `%.200s`: %s", clean,
                                   archive_error_string(in) ? archive_error_string(in) : archive_error_string(out));
                break;
            }
        }
        if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
            ret = bo_error_set(err, BO_E_INVALID, "unpack `%.200s`: %s", clean, archive_error_string(out));
            break;
        }
    }
    if (archive_write_close(out) != ARCHIVE_OK && ret == 0)
        ret = bo_error_set(err, BO_E_IO, "unpack into `%s`: %s", dest, archive_error_string(out));
    archive_write_free(out);
    return ret;
}

static struct archive *reader(void)
{
    struct archive *in = archive_read_new();
    archive_read_support_format_tar(in);
    archive_read_support_filter_none(in);
    archive_read_support_filter_gzip(in);
    archive_read_support_filter_zstd(in); /* ARCHIVE_WARN without libzstd: zstd layers then fail clearly */
    return in;
}

int extract_archive(const char *src, const char *dest, bool layer, const struct extract_limits *lim, bo_error_t *err)
{
    struct archive *in = reader();
    int ret;
    if (archive_read_open_filename(in, src, 1 << 16) != ARCHIVE_OK)
        ret = bo_error_set(err, BO_E_INVALID, "open archive `%s`: %s", src, archive_error_string(in));
    else
        ret = run(in, dest, layer, lim, err);
    archive_read_free(in);
    return ret;
}

int extract_archive_mem(const void *buf, size_t len, const char *dest, bool layer, const struct extract_limits *lim,
                        bo_error_t *err)
{
    struct archive *in = reader();
    int ret;
    if (archive_read_open_memory(in, buf, len) != ARCHIVE_OK)
        ret = bo_error_set(err, BO_E_INVALID, "archive: %s", archive_error_string(in));
    else
        ret = run(in, dest, layer, lim, err);
    archive_read_free(in);
    return ret;
}
