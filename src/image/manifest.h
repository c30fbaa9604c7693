/* manifest.h - parsers of the registry's documents (untrusted input, each
 * with a fuzz target): image manifests (Docker v2 schema 2 and OCI), image
 * indexes / manifest lists (picking a platform), and image configs. */
#ifndef BO_IMAGE_MANIFEST_H
#define BO_IMAGE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define IMAGE_DOC_MAX (4u << 20) /* manifests, indexes and configs */
#define IMAGE_LAYERS_MAX 128
#define IMAGE_INDEX_MAX 1024

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER_TAR "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
/* What we ask a registry for, most preferred first. */
#define IMAGE_MANIFEST_ACCEPT MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST

struct image_descriptor {
    char *media_type;
    char *digest; /* validated "sha256:..." */
    int64_t size;
};

struct image_manifest {
    struct image_descriptor config;
    struct image_descriptor *layers; /* bottom first */
    size_t n_layers;
};

enum image_doc_kind { IMAGE_DOC_MANIFEST, IMAGE_DOC_INDEX };

struct image_config {
    char **entrypoint;
    size_t n_entrypoint;
    char **cmd;
    size_t n_cmd;
    char **env; /* "NAME=VALUE" */
    size_t n_env;
    char *user;        /* NULL or "" when unset */
    char *working_dir; /* NULL when unset */
    char *os, *architecture;
    char **diff_ids;
    size_t n_diff_ids;
};

/* Whether a document is a manifest or an index: by its mediaType, else (OCI
 * allows leaving it out) by its shape. Schema 1 manifests are refused. */
int image_doc_kind(const char *buf, size_t len, enum image_doc_kind *ret, bo_error_t *err);
int image_manifest_parse(const char *buf, size_t len, struct image_manifest *ret, bo_error_t *err);
void image_manifest_clear(struct image_manifest *m);
/* The manifest of an index for os/architecture (variant ignored). */
int image_index_pick(const char *buf, size_t len, const char *os, const char *arch, struct image_descriptor *ret,
                     bo_error_t *err);
void image_descriptor_clear(struct image_descriptor *d);
int image_config_parse(const char *buf, size_t len, struct image_config *ret, bo_error_t *err);
void image_config_clear(struct image_config *c);
/* The architecture of this machine in OCI's words ("amd64", "arm64", ...). */
const char *image_machine_arch(void);

#endif
