/* store.c - the content-addressed image store, pulls, imports, garbage
 * collection and task root filesystems (see store.h). */
#include "image/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>

#include "base/clock.h"
#include "base/fs.h"
#include "image/digest.h"
#include "image/extract.h"
#include "model/image_ref.h"

struct image_store {
    char *root; /* <data>/images, without symlinks */
    struct image_store_opts o;
};

static atomic_uint tmp_seq;

const char *image_store_root(const struct image_store *s) { return s->root; }

int image_store_open(const char *data_dir, const struct image_store_opts *o, struct image_store **ret,
                     bo_error_t *err)
{
    if (bo_mkdir_p(data_dir, 0755, err) < 0)
        return -1;
    char real[PATH_MAX];
    if (!realpath(data_dir, real))
        return bo_error_sys(err, errno, "resolve `%s`", data_dir);
    struct image_store *s = bo_xcalloc(1, sizeof(*s));
    s->root = bo_xasprintf("%s/images", real);
    s->o = o ? *o : (struct image_store_opts){0};
    if (!s->o.max_layer_bytes)
        s->o.max_layer_bytes = 16ull << 30;
    if (!s->o.max_layer_entries)
        s->o.max_layer_entries = 1000000;
    static const char *const dirs[] = {"blobs/sha256", "layers", "locks", "refs", "used", "holds", "tmp"};
    for (size_t i = 0; i < BO_ARRAY_SIZE(dirs); i++) {
        _cleanup_free_ char *p = bo_xasprintf("%s/%s", s->root, dirs[i]);
        if (bo_mkdir_p(p, 0700, err) < 0) {
            image_store_close(s);
            return -1;
        }
    }
    *ret = s;
    return 0;
}

void image_store_close(struct image_store *s)
{
    if (!s)
        return;
    free(s->root);
    free(s);
}

static const char *hex_of(const char *digest) { return digest + 7; }

static char *blob_path(struct image_store *s, const char *digest)
{
    return bo_xasprintf("%s/blobs/sha256/%s", s->root, hex_of(digest));
}

static char *layer_path(struct image_store *s, const char *digest)
{
    return bo_xasprintf("%s/layers/%s", s->root, hex_of(digest));
}

static char *tmp_path(struct image_store *s, const char *what)
{
    return bo_xasprintf("%s/tmp/%s-%d-%u", s->root, what, (int)getpid(), atomic_fetch_add(&tmp_seq, 1));
}

static void emit(image_progress_fn fn, void *arg, const char *fmt, ...) BO_PRINTF(3, 4);
static void emit(image_progress_fn fn, void *arg, const char *fmt, ...)
{
    if (!fn)
        return;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *line = bo_xvasprintf(fmt, ap);
    va_end(ap);
    fn(arg, line);
}

/* ---- blobs --------------------------------------------------------------- */

static int read_blob(struct image_store *s, const char *digest, char **ret, size_t *ret_len, bo_error_t *err)
{
    _cleanup_free_ char *p = blob_path(s, digest);
    if (access(p, F_OK) < 0)
        return bo_error_set(err, BO_E_NOTFOUND, "blob %s is not in the image store", digest);
    return bo_read_file(p, IMAGE_DOC_MAX, ret, ret_len, err);
}

/* Store bytes already verified to have `digest`. */
static int put_blob(struct image_store *s, const char *digest, const char *buf, size_t len, bo_error_t *err)
{
    _cleanup_free_ char *p = blob_path(s, digest);
    if (access(p, F_OK) == 0)
        return 0;
    return bo_write_file_atomic(p, buf, len, false, err);
}

/* Fetch a document blob (config) from the registry, verified. */
static int fetch_doc(struct image_store *s, struct registry *reg, const struct image_descriptor *d, char **ret,
                     size_t *ret_len, bo_error_t *err)
{
    if (read_blob(s, d->digest, ret, ret_len, NULL) == 0)
        return 0;
    if (d->size > (int64_t)IMAGE_DOC_MAX)
        return bo_error_set(err, BO_E_INVALID, "blob %s is %lld bytes, more than %u allowed", d->digest,
                            (long long)d->size, IMAGE_DOC_MAX);
    _cleanup_free_ char *tmp = tmp_path(s, "doc");
    _cleanup_close_ int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return bo_error_sys(err, errno, "create `%s`", tmp);
    int r = registry_get_blob(reg, d->digest, d->size, fd, err);
    if (r == 0)
        r = bo_read_file(tmp, IMAGE_DOC_MAX, ret, ret_len, err);
    if (r == 0)
        r = put_blob(s, d->digest, *ret, *ret_len, err);
    unlink(tmp);
    return r;
}

/* ---- layers ---------------------------------------------------------------- */

static int lock_layer(struct image_store *s, const char *digest, bo_error_t *err)
{
    _cleanup_free_ char *p = bo_xasprintf("%s/locks/%s.lock", s->root, hex_of(digest));
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return bo_error_sys(err, errno, "open `%s`", p);
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return bo_error_sys(err, e, "lock `%s`", p);
        }
    }
    return fd;
}

/* Make layers/<hex> from a verified archive file. */
static int unpack_layer(struct image_store *s, const struct image_descriptor *d, const char *file, bo_error_t *err)
{
    _cleanup_free_ char *tmpdir = tmp_path(s, "layer");
    _cleanup_free_ char *final = layer_path(s, d->digest);
    if (mkdir(tmpdir, 0755) < 0)
        return bo_error_sys(err, errno, "create `%s`", tmpdir);
    struct extract_limits lim = {s->o.max_layer_bytes, s->o.max_layer_entries};
    int r = extract_archive(file, tmpdir, true, &lim, err);
    if (r < 0)
        bo_error_wrap(err, "layer %s", d->digest);
    if (r == 0 && chmod(tmpdir, 0755) < 0)
        r = bo_error_sys(err, errno, "chmod `%s`", tmpdir);
    if (r == 0 && rename(tmpdir, final) < 0)
        r = bo_error_sys(err, errno, "rename `%s` to `%s`", tmpdir, final);
    if (r < 0)
        bo_rm_rf(tmpdir, NULL);
    return r;
}

/* Ensure layer d is unpacked, from the registry (reg) or from a local file
 * (src, verified here). Under the layer's lock: a second puller waits and
 * then finds it done. */
static int ensure_layer(struct image_store *s, struct registry *reg, const char *src, const struct image_descriptor *d,
                        image_progress_fn progress, void *arg, bo_error_t *err)
{
    _cleanup_close_ int lock = lock_layer(s, d->digest, err);
    if (lock < 0)
        return -1;
    _cleanup_free_ char *final = layer_path(s, d->digest);
    if (access(final, F_OK) == 0) {
        emit(progress, arg, "layer %s already present", d->digest);
        return 0;
    }
    if (src) {
        _cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return bo_error_sys(err, errno, "open `%s`", src);
        char dg[IMAGE_DIGEST_LEN + 1];
        long long size;
        if (image_digest_fd(fd, src, dg, &size, err) < 0)
            return -1;
        if (strcmp(dg, d->digest) != 0)
            return bo_error_set(err, BO_E_INVALID, "digest mismatch: layer %s has digest %s (rejected)", d->digest,
                                dg);
        if (unpack_layer(s, d, src, err) < 0)
            return -1;
        emit(progress, arg, "layer %s imported (%lld bytes)", d->digest, size);
        return 0;
    }
    _cleanup_free_ char *tmp = tmp_path(s, "blob");
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return bo_error_sys(err, errno, "create `%s`", tmp);
    int r = registry_get_blob(reg, d->digest, d->size, fd, err);
    close(fd);
    if (r == 0)
        r = unpack_layer(s, d, tmp, err);
    unlink(tmp); /* verified or not, the packed layer is not kept */
    if (r == 0)
        emit(progress, arg, "layer %s downloaded (%lld bytes)", d->digest, (long long)d->size);
    return r;
}

/* ---- images ------------------------------------------------------------------ */

/* From the top digest (index or manifest) to the platform's manifest. */
static int load_manifest(struct image_store *s, const char *top, struct image_manifest *ret_m, char **ret_mdigest,
                         bo_error_t *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (read_blob(s, top, &buf, &len, err) < 0)
        return -1;
    enum image_doc_kind kind;
    if (image_doc_kind(buf, len, &kind, err) < 0)
        return -1;
    _cleanup_free_ char *mdigest = bo_xstrdup(top);
    if (kind == IMAGE_DOC_INDEX) {
        struct image_descriptor d;
        if (image_index_pick(buf, len, "linux", image_machine_arch(), &d, err) < 0)
            return -1;
        free(mdigest);
        mdigest = bo_xstrdup(d.digest);
        image_descriptor_clear(&d);
        free(buf);
        buf = NULL;
        if (read_blob(s, mdigest, &buf, &len, err) < 0)
            return -1;
    }
    if (image_manifest_parse(buf, len, ret_m, err) < 0)
        return -1;
    if (ret_mdigest)
        *ret_mdigest = BO_STEAL(mdigest);
    return 0;
}

static int load_config(struct image_store *s, const struct image_manifest *m, struct image_config *ret, bo_error_t *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (read_blob(s, m->config.digest, &buf, &len, err) < 0)
        return -1;
    if (image_config_parse(buf, len, ret, err) < 0)
        return -1;
    if (ret->n_diff_ids && ret->n_diff_ids != m->n_layers) {
        bo_error_set(err, BO_E_INVALID, "image config lists %zu layers (rootfs.diff_ids), its manifest %zu",
                     ret->n_diff_ids, m->n_layers);
        image_config_clear(ret);
        return -1;
    }
    return 0;
}

static void touch_used(struct image_store *s, const char *top)
{
    _cleanup_free_ char *p = bo_xasprintf("%s/used/%s", s->root, hex_of(top));
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        futimens(fd, NULL);
        close(fd);
    }
}

static int write_ref(struct image_store *s, const char *name, const char *top, bo_error_t *err)
{
    char key[IMAGE_DIGEST_LEN + 1];
    image_digest_buf(name, strlen(name), key);
    _cleanup_free_ char *p = bo_xasprintf("%s/refs/%s.json", s->root, hex_of(key));
    json_t *j = json_pack("{s:s, s:s}", "name", name, "digest", top);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    int r = bo_write_file_atomic(p, text, strlen(text), false, err);
    free(text);
    touch_used(s, top);
    return r;
}

bool image_store_has(struct image_store *s, const char *digest)
{
    if (!image_digest_valid(digest))
        return false;
    struct image_manifest m = {0};
    if (load_manifest(s, digest, &m, NULL, NULL) < 0)
        return false;
    _cleanup_free_ char *cfg = blob_path(s, m.config.digest);
    bool ok = access(cfg, F_OK) == 0;
    for (size_t i = 0; ok && i < m.n_layers; i++) {
        _cleanup_free_ char *l = layer_path(s, m.layers[i].digest);
        ok = access(l, F_OK) == 0;
    }
    image_manifest_clear(&m);
    return ok;
}

int image_resolve(const char *text, const struct registry_opts *ro, char **ret_digest_ref, bo_error_t *err)
{
    struct image_ref ref = {0};
    if (image_ref_parse(text, &ref, err) < 0)
        return -1;
    struct registry *reg = NULL;
    int r = registry_open(ro, &ref, &reg, err);
    _cleanup_free_ char *body = NULL;
    size_t len;
    char dg[IMAGE_DIGEST_LEN + 1];
    if (r == 0)
        r = registry_get_manifest(reg, ref.digest ? ref.digest : ref.tag, &body, &len, dg, err);
    if (r == 0) {
        enum image_doc_kind kind;
        r = image_doc_kind(body, len, &kind, err);
        if (r < 0)
            bo_error_wrap(err, "image %s", text);
    }
    if (r == 0)
        *ret_digest_ref = image_ref_format_digest(&ref, dg);
    registry_close(reg);
    image_ref_clear(&ref);
    return r;
}

int image_store_pull(struct image_store *s, const char *text, const struct registry_opts *ro,
                     image_progress_fn progress, void *arg, char **ret_digest_ref, bo_error_t *err)
{
    struct image_ref ref = {0};
    if (image_ref_parse(text, &ref, err) < 0)
        return -1;
    struct registry *reg = NULL;
    struct image_manifest m = {0};
    struct image_config cfg = {0};
    _cleanup_free_ char *body = NULL, *mbody = NULL, *cbody = NULL;
    size_t len = 0, mlen = 0, clen = 0;
    char top[IMAGE_DIGEST_LEN + 1], mdg[IMAGE_DIGEST_LEN + 1];
    int r = registry_open(ro, &ref, &reg, err);
    if (r == 0)
        r = registry_get_manifest(reg, ref.digest ? ref.digest : ref.tag, &body, &len, top, err);
    enum image_doc_kind kind = IMAGE_DOC_MANIFEST;
    if (r == 0)
        r = image_doc_kind(body, len, &kind, err);
    if (r == 0 && kind == IMAGE_DOC_INDEX) {
        struct image_descriptor d = {0};
        r = image_index_pick(body, len, "linux", image_machine_arch(), &d, err);
        if (r == 0)
            r = registry_get_manifest(reg, d.digest, &mbody, &mlen, mdg, err);
        if (r == 0)
            r = image_doc_kind(mbody, mlen, &kind, err);
        if (r == 0 && kind != IMAGE_DOC_MANIFEST)
            r = bo_error_set(err, BO_E_INVALID, "index entry %s is not an image manifest", d.digest);
        image_descriptor_clear(&d);
    } else if (r == 0) {
        memcpy(mdg, top, sizeof(top));
        mbody = bo_xstrdup(body);
        mlen = len;
    }
    if (r == 0)
        r = image_manifest_parse(mbody, mlen, &m, err);
    if (r == 0)
        r = fetch_doc(s, reg, &m.config, &cbody, &clen, err);
    if (r == 0)
        r = image_config_parse(cbody, clen, &cfg, err);
    if (r == 0 && cfg.n_diff_ids != m.n_layers)
        r = bo_error_set(err, BO_E_INVALID, "image config lists %zu layers (rootfs.diff_ids), its manifest %zu",
                         cfg.n_diff_ids, m.n_layers);
    for (size_t i = 0; r == 0 && i < m.n_layers; i++)
        r = ensure_layer(s, reg, NULL, &m.layers[i], progress, arg, err);
    /* Manifests last: a manifest in the store means its parts are too. */
    if (r == 0)
        r = put_blob(s, mdg, mbody, mlen, err);
    if (r == 0)
        r = put_blob(s, top, body, len, err);
    _cleanup_free_ char *name = NULL;
    if (r == 0) {
        name = image_ref_format(&ref);
        r = write_ref(s, name, top, err);
    }
    if (r == 0) {
        *ret_digest_ref = image_ref_format_digest(&ref, top);
        emit(progress, arg, "pulled %s as %s", name, top);
    } else {
        bo_error_wrap(err, "pull %s", text);
    }
    image_config_clear(&cfg);
    image_manifest_clear(&m);
    registry_close(reg);
    image_ref_clear(&ref);
    return r;
}

/* ---- import ------------------------------------------------------------------- */

/* Open a file of an unpacked archive, its symlinks resolved inside it. */
static int open_in(int rootfd, const char *rel, bo_error_t *err)
{
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
    int fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
    if (fd < 0)
        return bo_error_sys(err, errno, "open `%s` in the archive", rel);
    return fd;
}

static int read_in(int rootfd, const char *rel, size_t max, char **ret, size_t *ret_len, bo_error_t *err)
{
    _cleanup_close_ int fd = open_in(rootfd, rel, err);
    if (fd < 0)
        return -1;
    _cleanup_free_ char *p = bo_xasprintf("/proc/self/fd/%d", fd);
    return bo_read_file(p, max, ret, ret_len, err);
}

/* A file of the unpacked archive as a path usable by open(2), kept open. */
static int import_blob_file(int rootfd, const char *rel, char **ret_path, bo_error_t *err)
{
    int fd = open_in(rootfd, rel, err);
    if (fd < 0)
        return -1;
    *ret_path = bo_xasprintf("/proc/self/fd/%d", fd);
    return fd;
}

/* Store a document from the archive, checking its digest. */
static int import_doc(struct image_store *s, int rootfd, const char *rel, const char *want, char **ret,
                      size_t *ret_len, char ret_digest[IMAGE_DIGEST_LEN + 1], bo_error_t *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (read_in(rootfd, rel, IMAGE_DOC_MAX, &buf, &len, err) < 0)
        return -1;
    char dg[IMAGE_DIGEST_LEN + 1];
    image_digest_buf(buf, len, dg);
    if (want && strcmp(dg, want) != 0)
        return bo_error_set(err, BO_E_INVALID, "digest mismatch: `%s` should be %s, it is %s", rel, want, dg);
    if (put_blob(s, dg, buf, len, err) < 0)
        return -1;
    if (ret_digest)
        memcpy(ret_digest, dg, sizeof(dg));
    if (ret) {
        *ret = BO_STEAL(buf);
        *ret_len = len;
    }
    return 0;
}

static int import_layers(struct image_store *s, int rootfd, const struct image_manifest *m, image_progress_fn progress,
                         void *arg, bo_error_t *err)
{
    for (size_t i = 0; i < m->n_layers; i++) {
        _cleanup_free_ char *rel = bo_xasprintf("blobs/sha256/%s", hex_of(m->layers[i].digest));
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = import_blob_file(rootfd, rel, &path, err);
        if (fd < 0 || ensure_layer(s, NULL, path, &m->layers[i], progress, arg, err) < 0)
            return -1;
    }
    return 0;
}

/* OCI image layout: index.json and blobs/sha256/. */
static int import_oci(struct image_store *s, int rootfd, image_progress_fn progress, void *arg, bo_error_t *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (read_in(rootfd, "index.json", IMAGE_DOC_MAX, &buf, &len, err) < 0)
        return -1;
    json_t *idx = json_loadb(buf, len, 0, NULL);
    json_t *ms = json_object_get(idx, "manifests");
    int r = 0;
    if (!json_is_array(ms) || json_array_size(ms) > IMAGE_INDEX_MAX)
        r = bo_error_set(err, BO_E_INVALID, "OCI layout: index.json has no manifests array");
    size_t done = 0;
    for (size_t i = 0; r == 0 && i < json_array_size(ms); i++) {
        json_t *e = json_array_get(ms, i);
        const char *dg = json_string_value(json_object_get(e, "digest"));
        json_t *ann = json_object_get(e, "annotations");
        const char *name = json_string_value(json_object_get(ann, "io.containerd.image.name"));
        if (!name)
            name = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
        if (!image_digest_valid(dg)) {
            r = bo_error_set(err, BO_E_INVALID, "OCI layout: index.json manifest %zu has no sha256 digest", i);
            break;
        }
        _cleanup_free_ char *rel = bo_xasprintf("blobs/sha256/%s", hex_of(dg));
        _cleanup_free_ char *top = NULL, *mbuf = NULL;
        size_t tlen, mlen;
        if (import_doc(s, rootfd, rel, dg, &top, &tlen, NULL, err) < 0) {
            r = -1;
            break;
        }
        enum image_doc_kind kind;
        if (image_doc_kind(top, tlen, &kind, err) < 0) {
            r = -1;
            break;
        }
        if (kind == IMAGE_DOC_INDEX) {
            struct image_descriptor d;
            if (image_index_pick(top, tlen, "linux", image_machine_arch(), &d, err) < 0) {
                r = -1;
                break;
            }
            _cleanup_free_ char *mrel = bo_xasprintf("blobs/sha256/%s", hex_of(d.digest));
            r = import_doc(s, rootfd, mrel, d.digest, &mbuf, &mlen, NULL, err);
            image_descriptor_clear(&d);
            if (r < 0)
                break;
        } else {
            mbuf = bo_xstrdup(top);
            mlen = tlen;
        }
        struct image_manifest m = {0};
        struct image_config cfg = {0};
        _cleanup_free_ char *crel = NULL;
        r = image_manifest_parse(mbuf, mlen, &m, err);
        if (r == 0) {
            crel = bo_xasprintf("blobs/sha256/%s", hex_of(m.config.digest));
            r = import_doc(s, rootfd, crel, m.config.digest, NULL, NULL, NULL, err);
        }
        if (r == 0)
            r = load_config(s, &m, &cfg, err);
        if (r == 0)
            r = import_layers(s, rootfd, &m, progress, arg, err);
        image_config_clear(&cfg);
        image_manifest_clear(&m);
        if (r == 0)
            r = write_ref(s, name ? name : dg, dg, err);
        if (r == 0) {
            emit(progress, arg, "imported %s %s", name ? name : "(unnamed)", dg);
            done++;
        }
    }
    json_decref(idx);
    if (r == 0 && done == 0)
        r = bo_error_set(err, BO_E_INVALID, "OCI layout holds no image");
    return r;
}

/* `docker save`: manifest.json naming a config and layer tars per image. A
 * Docker v2 manifest is made for each (uncompressed layers, so the layer
 * digests are the diff_ids). */
static int import_docker(struct image_store *s, int rootfd, image_progress_fn progress, void *arg, bo_error_t *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (read_in(rootfd, "manifest.json", IMAGE_DOC_MAX, &buf, &len, err) < 0)
        return -1;
    json_t *list = json_loadb(buf, len, 0, NULL);
    int r = 0;
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > IMAGE_INDEX_MAX)
        r = bo_error_set(err, BO_E_INVALID, "docker archive: manifest.json is not a list of images");
    for (size_t i = 0; r == 0 && i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i);
        const char *cfgfile = json_string_value(json_object_get(e, "Config"));
        json_t *layers = json_object_get(e, "Layers");
        if (!cfgfile || !json_is_array(layers) || json_array_size(layers) > IMAGE_LAYERS_MAX) {
            r = bo_error_set(err, BO_E_INVALID, "docker archive: manifest.json entry %zu needs Config and Layers", i);
            break;
        }
        char cdg[IMAGE_DIGEST_LEN + 1];
        _cleanup_free_ char *cbuf = NULL;
        size_t clen;
        if (import_doc(s, rootfd, cfgfile, NULL, &cbuf, &clen, cdg, err) < 0) {
            r = -1;
            break;
        }
        struct image_config cfg = {0};
        if (image_config_parse(cbuf, clen, &cfg, err) < 0) {
            r = -1;
            break;
        }
        bool count_ok = cfg.n_diff_ids == json_array_size(layers);
        image_config_clear(&cfg);
        if (!count_ok) {
            r = bo_error_set(err, BO_E_INVALID, "docker archive: image %zu has %zu layer files and a different "
                             "number of rootfs.diff_ids", i, json_array_size(layers));
            break;
        }
        json_t *mlayers = json_array();
        for (size_t k = 0; r == 0 && k < json_array_size(layers); k++) {
            const char *lf = json_string_value(json_array_get(layers, k));
            _cleanup_free_ char *path = NULL;
            _cleanup_close_ int fd = lf ? import_blob_file(rootfd, lf, &path, err) : -1;
            if (!lf) {
                r = bo_error_set(err, BO_E_INVALID, "docker archive: a layer of image %zu is not a file name", i);
                break;
            }
            char ldg[IMAGE_DIGEST_LEN + 1];
            long long lsize;
            if (fd < 0 || image_digest_fd(fd, lf, ldg, &lsize, err) < 0) {
                r = -1;
                break;
            }
            struct image_descriptor d = {(char *)MT_DOCKER_LAYER_TAR, ldg, lsize};
            if (ensure_layer(s, NULL, path, &d, progress, arg, err) < 0) {
                r = -1;
                break;
            }
            json_array_append_new(mlayers, json_pack("{s:s, s:s, s:I}", "mediaType", MT_DOCKER_LAYER_TAR, "digest",
                                                     ldg, "size", (json_int_t)lsize));
        }
        if (r < 0) {
            json_decref(mlayers);
            break;
        }
        json_t *man = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                                MT_DOCKER_MANIFEST, "config", "mediaType", MT_DOCKER_CONFIG, "digest", cdg, "size",
                                (json_int_t)clen, "layers", mlayers);
        char *text = json_dumps(man, JSON_COMPACT);
        json_decref(man);
        char mdg[IMAGE_DIGEST_LEN + 1];
        image_digest_buf(text, strlen(text), mdg);
        r = put_blob(s, mdg, text, strlen(text), err);
        free(text);
        json_t *tags = json_object_get(e, "RepoTags");
        size_t nt = json_is_array(tags) ? json_array_size(tags) : 0;
        for (size_t k = 0; r == 0 && k < nt && k < 64; k++) {
            const char *t = json_string_value(json_array_get(tags, k));
            if (t && strlen(t) <= IMAGE_REF_MAX)
                r = write_ref(s, t, mdg, err);
            if (r == 0 && t)
                emit(progress, arg, "imported %s %s", t, mdg);
        }
        if (r == 0 && nt == 0) {
            r = write_ref(s, mdg, mdg, err);
            emit(progress, arg, "imported (unnamed) %s", mdg);
        }
    }
    json_decref(list);
    return r;
}

int image_store_import(struct image_store *s, const char *file, image_progress_fn progress, void *arg,
                       bo_error_t *err)
{
    _cleanup_free_ char *dir = tmp_path(s, "import");
    if (mkdir(dir, 0700) < 0)
        return bo_error_sys(err, errno, "create `%s`", dir);
    struct extract_limits lim = {s->o.max_layer_bytes, 100000};
    int r = extract_archive(file, dir, false, &lim, err);
    if (r < 0)
        bo_error_wrap(err, "import `%s`", file);
    _cleanup_close_ int rootfd = r == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (r == 0 && rootfd < 0)
        r = bo_error_sys(err, errno, "open `%s`", dir);
    if (r == 0) {
        if (faccessat(rootfd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            r = import_oci(s, rootfd, progress, arg, err);
        else if (faccessat(rootfd, "manifest.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            r = import_docker(s, rootfd, progress, arg, err);
        else
            r = bo_error_set(err, BO_E_INVALID, "`%s` is neither an OCI image layout (index.json) nor a docker save "
                             "archive (manifest.json)", file);
        if (r < 0)
            bo_error_wrap(err, "import `%s`", file);
    }
    bo_rm_rf(dir, NULL);
    return r;
}

/* ---- listing, removal, GC -------------------------------------------------------- */

void image_entries_free(struct image_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].name);
        free(e[i].digest);
    }
    free(e);
}

/* The top digests held by prepared task root filesystems. */
static int read_holds(struct image_store *s, char ***ret, size_t *ret_n)
{
    _cleanup_free_ char *dir = bo_xasprintf("%s/holds", s->root);
    DIR *d = opendir(dir);
    char **l = NULL;
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        _cleanup_free_ char *p = bo_xasprintf("%s/%s", dir, de->d_name);
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (bo_read_file(p, 4096, &buf, &len, NULL) < 0)
            continue;
        char *nl = strchr(buf, '\n');
        if (nl)
            *nl = 0;
        if (!image_digest_valid(buf))
            continue;
        l = bo_xrealloc(l, (n + 1) * sizeof(*l));
        l[n++] = BO_STEAL(buf);
    }
    if (d)
        closedir(d);
    *ret = l;
    *ret_n = n;
    return 0;
}

static void strv_free(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

int image_store_list(struct image_store *s, struct image_entry **ret, size_t *ret_n, bo_error_t *err)
{
    _cleanup_free_ char *dir = bo_xasprintf("%s/refs", s->root);
    DIR *d = opendir(dir);
    if (!d)
        return bo_error_sys(err, errno, "open `%s`", dir);
    char **holds;
    size_t nh;
    read_holds(s, &holds, &nh);
    struct image_entry *l = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        _cleanup_free_ char *p = bo_xasprintf("%s/%s", dir, de->d_name);
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (bo_read_file(p, 65536, &buf, &len, NULL) < 0)
            continue;
        json_t *j = json_loadb(buf, len, 0, NULL);
        const char *name = json_string_value(json_object_get(j, "name"));
        const char *dg = json_string_value(json_object_get(j, "digest"));
        if (name && image_digest_valid(dg)) {
            l = bo_xrealloc(l, (n + 1) * sizeof(*l));
            struct image_entry *e = &l[n++];
            *e = (struct image_entry){bo_xstrdup(name), bo_xstrdup(dg), 0, 0};
            _cleanup_free_ char *u = bo_xasprintf("%s/used/%s", s->root, hex_of(dg));
            struct stat st;
            if (stat(u, &st) == 0)
                e->used_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
            for (size_t k = 0; k < nh; k++)
                if (strcmp(holds[k], dg) == 0)
                    e->holds++;
        }
        json_decref(j);
    }
    closedir(d);
    strv_free(holds, nh);
    *ret = l;
    *ret_n = n;
    return 0;
}

static void ref_file_remove(struct image_store *s, const char *name)
{
    char key[IMAGE_DIGEST_LEN + 1];
    image_digest_buf(name, strlen(name), key);
    _cleanup_free_ char *p = bo_xasprintf("%s/refs/%s.json", s->root, hex_of(key));
    unlink(p);
}

static bool in_list(char **l, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i], s) == 0)
            return true;
    return false;
}

static void add_unique(char ***l, size_t *n, const char *s)
{
    if (in_list(*l, *n, s))
        return;
    *l = bo_xrealloc(*l, (*n + 1) * sizeof(**l));
    (*l)[(*n)++] = bo_xstrdup(s);
}

/* Delete blobs and layers that no named or held image needs. */
static int sweep(struct image_store *s, int *ret_removed, bo_error_t *err)
{
    struct image_entry *e;
    size_t n;
    if (image_store_list(s, &e, &n, err) < 0)
        return -1;
    char **tops, **keep = NULL;
    size_t nt, nk = 0;
    read_holds(s, &tops, &nt);
    for (size_t i = 0; i < n; i++)
        add_unique(&tops, &nt, e[i].digest);
    image_entries_free(e, n);
    for (size_t i = 0; i < nt; i++) {
        add_unique(&keep, &nk, tops[i]);
        struct image_manifest m = {0};
        _cleanup_free_ char *md = NULL;
        if (load_manifest(s, tops[i], &m, &md, NULL) < 0)
            continue;
        add_unique(&keep, &nk, md);
        add_unique(&keep, &nk, m.config.digest);
        for (size_t k = 0; k < m.n_layers; k++)
            add_unique(&keep, &nk, m.layers[k].digest);
        image_manifest_clear(&m);
    }
    strv_free(tops, nt);
    int removed = 0;
    static const char *const kinds[] = {"blobs/sha256", "layers", "used"};
    for (size_t k = 0; k < BO_ARRAY_SIZE(kinds); k++) {
        _cleanup_free_ char *dir = bo_xasprintf("%s/%s", s->root, kinds[k]);
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.' || strlen(de->d_name) != 64)
                continue;
            _cleanup_free_ char *dg = bo_xasprintf("sha256:%s", de->d_name);
            if (in_list(keep, nk, dg))
                continue;
            _cleanup_free_ char *p = bo_xasprintf("%s/%s", dir, de->d_name);
            if (k == 1) {
                /* A layer being pulled right now is locked: leave it. */
                _cleanup_free_ char *lp = bo_xasprintf("%s/locks/%s.lock", s->root, de->d_name);
                _cleanup_close_ int lfd = open(lp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
                if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0)
                    continue;
                if (bo_rm_rf(p, NULL) == 0)
                    removed++;
            } else {
                unlink(p);
            }
        }
        if (d)
            closedir(d);
    }
    strv_free(keep, nk);
    if (ret_removed)
        *ret_removed = removed;
    return 0;
}

int image_store_remove(struct image_store *s, const char *what, bo_error_t *err)
{
    struct image_entry *e;
    size_t n;
    if (image_store_list(s, &e, &n, err) < 0)
        return -1;
    const char *at = strrchr(what, '@');
    const char *dg = at ? at + 1 : what;
    size_t matched = 0;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        if (strcmp(e[i].name, what) != 0 && strcmp(e[i].digest, dg) != 0)
            continue;
        if (e[i].holds)
            r = bo_error_set(err, BO_E_REFUSED, "image %s is in use by %d task%s", e[i].name, e[i].holds,
                             e[i].holds == 1 ? "" : "s");
        matched++;
    }
    for (size_t i = 0; i < n && r == 0; i++)
        if (strcmp(e[i].name, what) == 0 || strcmp(e[i].digest, dg) == 0)
            ref_file_remove(s, e[i].name);
    image_entries_free(e, n);
    if (r == 0 && matched == 0)
        return bo_error_set(err, BO_E_NOTFOUND, "no image `%s` in the store", what);
    if (r < 0)
        return -1;
    return sweep(s, NULL, err);
}

int image_store_gc(struct image_store *s, int64_t max_age_ms, int min_free_pct, int *ret_removed, bo_error_t *err)
{
    struct statvfs sv;
    if (min_free_pct > 0 && statvfs(s->root, &sv) == 0 && sv.f_blocks &&
        (double)sv.f_bavail * 100.0 / (double)sv.f_blocks < min_free_pct)
        max_age_ms = 0;
    struct image_entry *e;
    size_t n;
    if (image_store_list(s, &e, &n, err) < 0)
        return -1;
    int64_t now = bo_wall_ms();
    for (size_t i = 0; i < n; i++)
        if (!e[i].holds && now - e[i].used_ms >= max_age_ms)
            ref_file_remove(s, e[i].name);
    image_entries_free(e, n);
    return sweep(s, ret_removed, err);
}

/* ---- task root filesystems ------------------------------------------------------- */

static char *hold_path(struct image_store *s, const char *dir)
{
    char key[IMAGE_DIGEST_LEN + 1];
    image_digest_buf(dir, strlen(dir), key);
    return bo_xasprintf("%s/holds/%s", s->root, hex_of(key));
}

int image_store_config(struct image_store *s, const char *digest_ref, struct image_config *ret, bo_error_t *err)
{
    struct image_ref ref = {0};
    if (image_ref_parse(digest_ref, &ref, err) < 0)
        return -1;
    _cleanup_free_ char *top = ref.digest ? bo_xstrdup(ref.digest) : NULL;
    image_ref_clear(&ref);
    if (!top)
        return bo_error_set(err, BO_E_INVALID, "image `%s` has no digest (a task runs a resolved image)", digest_ref);
    struct image_manifest m = {0};
    int r = load_manifest(s, top, &m, NULL, err) < 0 || load_config(s, &m, ret, err) < 0 ? -1 : 0;
    image_manifest_clear(&m);
    return r < 0 ? bo_error_wrap(err, "image %s", digest_ref) : 0;
}

int image_rootfs_plan(struct image_store *s, const char *digest_ref, const char *dir, char **ret_rootfs,
                      char **ret_options, struct image_config *ret_cfg, bo_error_t *err)
{
    struct image_ref ref = {0};
    if (image_ref_parse(digest_ref, &ref, err) < 0)
        return -1;
    _cleanup_free_ char *top = ref.digest ? bo_xstrdup(ref.digest) : NULL;
    image_ref_clear(&ref);
    if (!top)
        return bo_error_set(err, BO_E_INVALID, "image `%s` has no digest (a task runs a resolved image)", digest_ref);
    struct image_manifest m = {0};
    struct image_config cfg = {0};
    if (load_manifest(s, top, &m, NULL, err) < 0 || load_config(s, &m, &cfg, err) < 0) {
        image_manifest_clear(&m);
        return bo_error_wrap(err, "image %s", digest_ref);
    }
    int r = 0;
    /* overlayfs: the first lowerdir is the top layer. */
    size_t cap = 64;
    char *lower = bo_xmalloc(cap);
    lower[0] = 0;
    for (size_t i = m.n_layers; r == 0 && i-- > 0;) {
        _cleanup_free_ char *lp = layer_path(s, m.layers[i].digest);
        if (access(lp, F_OK) < 0) {
            r = bo_error_set(err, BO_E_NOTFOUND, "image %s: layer %s is not in the store", digest_ref,
                             m.layers[i].digest);
            break;
        }
        size_t need = strlen(lower) + strlen(lp) + 2;
        if (need > cap)
            lower = bo_xrealloc(lower, cap = need * 2);
        if (lower[0])
            strcat(lower, ":");
        strcat(lower, lp);
    }
    if (r == 0 && m.n_layers == 0)
        r = bo_error_set(err, BO_E_INVALID, "image %s has no layers", digest_ref);
    image_manifest_clear(&m);
    _cleanup_free_ char *rootfs = bo_xasprintf("%s/rootfs", dir);
    _cleanup_free_ char *upper = bo_xasprintf("%s/upper", dir);
    _cleanup_free_ char *work = bo_xasprintf("%s/work", dir);
    _cleanup_free_ char *hold = hold_path(s, dir);
    _cleanup_free_ char *opts = NULL;
    if (r == 0) {
        opts = bo_xasprintf("lowerdir=%s,upperdir=%s,workdir=%s,redirect_dir=off,index=off,metacopy=off", lower,
                            upper, work);
        if (strlen(opts) >= (size_t)sysconf(_SC_PAGESIZE))
            r = bo_error_set(err, BO_E_INVALID, "image %s: its layer paths are too long for one overlay mount",
                             digest_ref);
    }
    free(lower);
    if (r == 0 && (bo_mkdir_p(dir, 0711, err) < 0 || bo_mkdir_p(upper, 0755, err) < 0 ||
                   bo_mkdir_p(work, 0700, err) < 0 || bo_mkdir_p(rootfs, 0755, err) < 0))
        r = -1;
    if (r == 0) {
        _cleanup_free_ char *text = bo_xasprintf("%s\n%s\n", top, dir);
        r = bo_write_file_atomic(hold, text, strlen(text), false, err);
    }
    if (r < 0) {
        image_config_clear(&cfg);
        return -1;
    }
    touch_used(s, top);
    *ret_rootfs = BO_STEAL(rootfs);
    *ret_options = BO_STEAL(opts);
    if (ret_cfg)
        *ret_cfg = cfg;
    else
        image_config_clear(&cfg);
    return 0;
}

int image_rootfs_prepare(struct image_store *s, const char *digest_ref, const char *dir, char **ret_rootfs,
                         struct image_config *ret_cfg, bo_error_t *err)
{
    char *rootfs = NULL, *opts = NULL;
    struct image_config cfg = {0};
    if (image_rootfs_plan(s, digest_ref, dir, &rootfs, &opts, &cfg, err) < 0)
        return -1;
    int r = 0;
    if (mount("overlay", rootfs, "overlay", 0, opts) < 0) {
        r = bo_error_sys(err, errno, "mount the overlay of image %s on `%s`", digest_ref, rootfs);
        image_rootfs_release(s, dir, NULL);
        free(rootfs);
        image_config_clear(&cfg);
    }
    free(opts);
    if (r < 0)
        return -1;
    *ret_rootfs = rootfs;
    if (ret_cfg)
        *ret_cfg = cfg;
    else
        image_config_clear(&cfg);
    return 0;
}

int image_rootfs_release(struct image_store *s, const char *dir, bo_error_t *err)
{
    _cleanup_free_ char *rootfs = bo_xasprintf("%s/rootfs", dir);
    if (umount2(rootfs, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT) {
        if (errno != EBUSY || umount2(rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
            return bo_error_sys(err, errno, "unmount `%s`", rootfs);
    }
    static const char *const parts[] = {"rootfs", "upper", "work"};
    for (size_t i = 0; i < BO_ARRAY_SIZE(parts); i++) {
        _cleanup_free_ char *p = bo_xasprintf("%s/%s", dir, parts[i]);
        if (bo_rm_rf(p, err) < 0)
            return -1;
    }
    _cleanup_free_ char *hold = hold_path(s, dir);
    unlink(hold);
    return 0;
}
