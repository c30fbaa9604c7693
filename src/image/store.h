/* store.h - the agent's content-addressed image store, shared by every
 * task of the machine, under <data>/images/:
 *
 *   blobs/sha256/<hex>    manifests, indexes and configs (verified)
 *   layers/<hex>/         a layer unpacked (whiteouts in overlay form),
 *                         named by the layer's digest in its manifest;
 *                         made in tmp/ and renamed, so present = complete
 *   locks/<hex>.lock      flock(2) per layer: concurrent pulls of one
 *                         layer (threads or processes) download it once
 *   refs/<hex>.json       a name pulled or imported -> its digest
 *   used/<hex>            mtime: last pull or task start of an image
 *   holds/<hex>           one per prepared task root filesystem (GC keeps
 *                         what they use)
 *   tmp/                  downloads and unpacking in progress
 *
 * Everything here blocks (network, disk): run it beside a loop, never in
 * it. Functions are safe to call from several threads and processes. */
#ifndef BO_IMAGE_STORE_H
#define BO_IMAGE_STORE_H

#include <stdint.h>

#include "base/error.h"
#include "image/manifest.h"
#include "image/registry.h"

struct image_store_opts {
    uint64_t max_layer_bytes;   /* unpacked size of one layer (and of an imported archive); 0: 16 GiB */
    uint64_t max_layer_entries; /* 0: 1,000,000 */
};

struct image_store;

/* Lines of progress ("layer sha256:... downloaded (1234 bytes)"). */
typedef void (*image_progress_fn)(void *arg, const char *line);

int image_store_open(const char *data_dir, const struct image_store_opts *o, struct image_store **ret,
                     bo_error_t *err);
void image_store_close(struct image_store *s);
const char *image_store_root(const struct image_store *s);

/* Pull REF (tag or digest) and everything it needs. ret_digest_ref:
 * "registry/repository@sha256:..." (the digest of what the tag named, an
 * index or a manifest). */
int image_store_pull(struct image_store *s, const char *ref, const struct registry_opts *ro,
                     image_progress_fn progress, void *arg, char **ret_digest_ref, bo_error_t *err);
/* Only resolve REF to "registry/repository@sha256:..." (one manifest GET). */
int image_resolve(const char *ref, const struct registry_opts *ro, char **ret_digest_ref, bo_error_t *err);
/* True when the image with this digest and all its layers are here. */
bool image_store_has(struct image_store *s, const char *digest);
/* Load a `docker save` archive or an OCI image layout (a tar). Each image
 * found is reported through progress as "NAME DIGEST". */
int image_store_import(struct image_store *s, const char *file, image_progress_fn progress, void *arg,
                       bo_error_t *err);

struct image_entry {
    char *name;   /* as pulled or imported */
    char *digest;
    int64_t used_ms; /* wall clock of the last pull or task start */
    int holds;       /* task root filesystems using it now */
};
int image_store_list(struct image_store *s, struct image_entry **ret, size_t *ret_n, bo_error_t *err);
void image_entries_free(struct image_entry *e, size_t n);
/* Forget the names matching `what` (a name or a digest) and delete what
 * nothing else needs. An image in use by a task is refused (BO_E_REFUSED). */
int image_store_remove(struct image_store *s, const char *what, bo_error_t *err);
/* Forget images unused for max_age_ms (all unused ones when the file system
 * has less than min_free_pct percent free), then delete unreferenced blobs
 * and layers. ret_removed: layers deleted. */
int image_store_gc(struct image_store *s, int64_t max_age_ms, int min_free_pct, int *ret_removed, bo_error_t *err);

/* The config of an image in the store (entrypoint, cmd, env, user,
 * working dir): local reads, no network. */
int image_store_config(struct image_store *s, const char *digest_ref, struct image_config *ret, bo_error_t *err);

/* The root filesystem of a task: an overlayfs of the image's layers
 * (read-only, shared) with <dir>/upper and <dir>/work (the task's own
 * writable layer) mounted on <dir>/rootfs. `dir` is a directory dedicated
 * to this (created if missing). ret_cfg: the image's entrypoint, cmd, env,
 * user and working dir. The image must be in the store (BO_E_NOTFOUND
 * otherwise). */
int image_rootfs_prepare(struct image_store *s, const char *digest_ref, const char *dir, char **ret_rootfs,
                         struct image_config *ret_cfg, bo_error_t *err);
/* All of prepare but the mount: the directories, the hold on the image's
 * layers (for GC), and the overlay's mount options in *ret_options, for a
 * caller that mounts it itself (the agent mounts it in the runtime's
 * private mount namespace, so the host's mount table never grows with
 * its tasks): mount("overlay", *ret_rootfs, "overlay", 0, *ret_options).
 * Release undoes it as it undoes prepare. */
int image_rootfs_plan(struct image_store *s, const char *digest_ref, const char *dir, char **ret_rootfs,
                      char **ret_options, struct image_config *ret_cfg, bo_error_t *err);
/* Unmount and remove what prepare or plan made; nothing there is success. */
int image_rootfs_release(struct image_store *s, const char *dir, bo_error_t *err);

#endif
