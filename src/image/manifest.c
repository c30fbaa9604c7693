/* manifest.c - strict parsers of manifests, indexes and image configs (see
 * manifest.h). Everything read is checked: types, digests, sizes, counts. */
#include "image/manifest.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "model/image_ref.h"

#define STR_MAX 65536
#define LIST_MAX 4096

static json_t *load(const char *buf, size_t len, const char *what, bo_error_t *err)
{
    if (len > IMAGE_DOC_MAX) {
        bo_error_set(err, BO_E_INVALID, "%s is larger than %u bytes", what, IMAGE_DOC_MAX);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        bo_error_set(err, BO_E_INVALID, "%s is not valid JSON (line %d: %s)", what, je.line, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        bo_error_set(err, BO_E_INVALID, "%s is not a JSON object", what);
        return NULL;
    }
    return j;
}

static const char *opt_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int check_schema(json_t *j, const char *what, bo_error_t *err)
{
    json_t *v = json_object_get(j, "schemaVersion");
    if (!json_is_integer(v))
        return bo_error_set(err, BO_E_INVALID, "%s has no integer schemaVersion", what);
    if (json_integer_value(v) != 2)
        return bo_error_set(err, BO_E_INVALID, "%s has schemaVersion %lld; only version 2 is supported", what,
                            (long long)json_integer_value(v));
    return 0;
}

static int descriptor(json_t *o, const char *what, struct image_descriptor *ret, bo_error_t *err)
{
    if (!json_is_object(o))
        return bo_error_set(err, BO_E_INVALID, "%s is not an object", what);
    const char *mt = opt_str(o, "mediaType");
    const char *dg = opt_str(o, "digest");
    json_t *sz = json_object_get(o, "size");
    if (!mt || strlen(mt) > 255)
        return bo_error_set(err, BO_E_INVALID, "%s has no mediaType", what);
    if (!dg)
        return bo_error_set(err, BO_E_INVALID, "%s has no digest", what);
    if (!image_digest_valid(dg))
        return bo_error_set(err, BO_E_INVALID, "%s: digest `%.80s` is not a sha256 digest", what, dg);
    if (!json_is_integer(sz) || json_integer_value(sz) < 0)
        return bo_error_set(err, BO_E_INVALID, "%s has no non-negative integer size", what);
    ret->media_type = bo_xstrdup(mt);
    ret->digest = bo_xstrdup(dg);
    ret->size = json_integer_value(sz);
    return 0;
}

void image_descriptor_clear(struct image_descriptor *d)
{
    free(d->media_type);
    free(d->digest);
    *d = (struct image_descriptor){0};
}

int image_doc_kind(const char *buf, size_t len, enum image_doc_kind *ret, bo_error_t *err)
{
    json_t *j = load(buf, len, "manifest", err);
    if (!j)
        return -1;
    int r = check_schema(j, "manifest", err);
    if (r == 0) {
        const char *mt = opt_str(j, "mediaType");
        if (mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0))
            *ret = IMAGE_DOC_INDEX;
        else if (mt && (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0))
            *ret = IMAGE_DOC_MANIFEST;
        else if (mt)
            r = bo_error_set(err, BO_E_INVALID, "manifest has unsupported mediaType `%.100s`", mt);
        else if (json_is_array(json_object_get(j, "manifests")))
            *ret = IMAGE_DOC_INDEX;
        else if (json_is_array(json_object_get(j, "layers")))
            *ret = IMAGE_DOC_MANIFEST;
        else
            r = bo_error_set(err, BO_E_INVALID, "document is neither an image manifest nor an index");
    }
    json_decref(j);
    return r;
}

static bool layer_type_ok(const char *mt)
{
    static const char *const ok[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        MT_DOCKER_LAYER_TAR,
        MT_DOCKER_LAYER_GZIP,
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(ok); i++)
        if (strcmp(mt, ok[i]) == 0)
            return true;
    return false;
}

void image_manifest_clear(struct image_manifest *m)
{
    image_descriptor_clear(&m->config);
    for (size_t i = 0; i < m->n_layers; i++)
        image_descriptor_clear(&m->layers[i]);
    free(m->layers);
    *m = (struct image_manifest){0};
}

int image_manifest_parse(const char *buf, size_t len, struct image_manifest *ret, bo_error_t *err)
{
    json_t *j = load(buf, len, "image manifest", err);
    if (!j)
        return -1;
    struct image_manifest m = {0};
    int r = check_schema(j, "image manifest", err);
    json_t *layers = json_object_get(j, "layers");
    if (r == 0 && descriptor(json_object_get(j, "config"), "image manifest: config", &m.config, err) < 0)
        r = -1;
    if (r == 0 && !json_is_array(layers))
        r = bo_error_set(err, BO_E_INVALID, "image manifest has no layers array");
    if (r == 0 && json_array_size(layers) > IMAGE_LAYERS_MAX)
        r = bo_error_set(err, BO_E_INVALID, "image manifest has %zu layers; at most %d are supported",
                         json_array_size(layers), IMAGE_LAYERS_MAX);
    if (r == 0) {
        m.layers = bo_xcalloc(json_array_size(layers) + 1, sizeof(*m.layers));
        for (size_t i = 0; i < json_array_size(layers); i++) {
            char what[64];
            snprintf(what, sizeof(what), "image manifest: layer %zu", i);
            if (descriptor(json_array_get(layers, i), what, &m.layers[i], err) < 0) {
                r = -1;
                break;
            }
            m.n_layers++;
            if (!layer_type_ok(m.layers[i].media_type)) {
                r = bo_error_set(err, BO_E_INVALID, "%s has unsupported media type `%s`", what,
                                 m.layers[i].media_type);
                break;
            }
        }
    }
    json_decref(j);
    if (r < 0) {
        image_manifest_clear(&m);
        return -1;
    }
    *ret = m;
    return 0;
}

int image_index_pick(const char *buf, size_t len, const char *os, const char *arch, struct image_descriptor *ret,
                     bo_error_t *err)
{
    json_t *j = load(buf, len, "image index", err);
    if (!j)
        return -1;
    int r = check_schema(j, "image index", err);
    json_t *ms = json_object_get(j, "manifests");
    if (r == 0 && !json_is_array(ms))
        r = bo_error_set(err, BO_E_INVALID, "image index has no manifests array");
    if (r == 0 && json_array_size(ms) > IMAGE_INDEX_MAX)
        r = bo_error_set(err, BO_E_INVALID, "image index has more than %d manifests", IMAGE_INDEX_MAX);
    bool found = false;
    for (size_t i = 0; r == 0 && i < json_array_size(ms); i++) {
        json_t *m = json_array_get(ms, i);
        struct image_descriptor d = {0};
        char what[64];
        snprintf(what, sizeof(what), "image index: manifest %zu", i);
        if (descriptor(m, what, &d, err) < 0) {
            r = -1;
            break;
        }
        json_t *p = json_object_get(m, "platform");
        const char *pos = json_is_object(p) ? opt_str(p, "os") : NULL;
        const char *parch = json_is_object(p) ? opt_str(p, "architecture") : NULL;
        bool is_manifest = strcmp(d.media_type, MT_OCI_MANIFEST) == 0 || strcmp(d.media_type, MT_DOCKER_MANIFEST) == 0;
        if (is_manifest && pos && parch && strcmp(pos, os) == 0 && strcmp(parch, arch) == 0) {
            *ret = d;
            found = true;
            break;
        }
        image_descriptor_clear(&d);
    }
    if (r == 0 && !found)
        r = bo_error_set(err, BO_E_NOTFOUND, "image index has no manifest for platform %s/%s", os, arch);
    json_decref(j);
    return r;
}

static int str_list(json_t *v, const char *what, char ***ret, size_t *ret_n, bo_error_t *err)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return bo_error_set(err, BO_E_INVALID, "image config: %s is not an array of strings", what);
    if (json_array_size(v) > LIST_MAX)
        return bo_error_set(err, BO_E_INVALID, "image config: %s has more than %d entries", what, LIST_MAX);
    char **l = bo_xcalloc(json_array_size(v) + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s) || json_string_length(s) > STR_MAX ||
            strlen(json_string_value(s)) != json_string_length(s)) {
            for (size_t k = 0; k < n; k++)
                free(l[k]);
            free(l);
            return bo_error_set(err, BO_E_INVALID, "image config: %s[%zu] is not a string (without NUL, at most %d "
                                "bytes)", what, i, STR_MAX);
        }
        l[n++] = bo_xstrdup(json_string_value(s));
    }
    *ret = l;
    *ret_n = n;
    return 0;
}

static int opt_string(json_t *o, const char *key, const char *what, char **ret, bo_error_t *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) > STR_MAX || strlen(json_string_value(v)) != json_string_length(v))
        return bo_error_set(err, BO_E_INVALID, "image config: %s is not a string", what);
    *ret = bo_xstrdup(json_string_value(v));
    return 0;
}

void image_config_clear(struct image_config *c)
{
    char **lists[] = {c->entrypoint, c->cmd, c->env, c->diff_ids};
    size_t ns[] = {c->n_entrypoint, c->n_cmd, c->n_env, c->n_diff_ids};
    for (size_t l = 0; l < 4; l++) {
        for (size_t i = 0; i < ns[l]; i++)
            free(lists[l][i]);
        free(lists[l]);
    }
    free(c->user);
    free(c->working_dir);
    free(c->os);
    free(c->architecture);
    *c = (struct image_config){0};
}

int image_config_parse(const char *buf, size_t len, struct image_config *ret, bo_error_t *err)
{
    json_t *j = load(buf, len, "image config", err);
    if (!j)
        return -1;
    struct image_config c = {0};
    json_t *cfg = json_object_get(j, "config");
    json_t *rootfs = json_object_get(j, "rootfs");
    int r = 0;
    if (cfg && !json_is_null(cfg) && !json_is_object(cfg))
        r = bo_error_set(err, BO_E_INVALID, "image config: config is not an object");
    if (r == 0 && opt_string(j, "os", "os", &c.os, err) < 0)
        r = -1;
    if (r == 0 && opt_string(j, "architecture", "architecture", &c.architecture, err) < 0)
        r = -1;
    if (r == 0 && json_is_object(cfg)) {
        if (str_list(json_object_get(cfg, "Entrypoint"), "config.Entrypoint", &c.entrypoint, &c.n_entrypoint, err) < 0 ||
            str_list(json_object_get(cfg, "Cmd"), "config.Cmd", &c.cmd, &c.n_cmd, err) < 0 ||
            str_list(json_object_get(cfg, "Env"), "config.Env", &c.env, &c.n_env, err) < 0 ||
            opt_string(cfg, "User", "config.User", &c.user, err) < 0 ||
            opt_string(cfg, "WorkingDir", "config.WorkingDir", &c.working_dir, err) < 0)
            r = -1;
    }
    for (size_t i = 0; r == 0 && i < c.n_env; i++)
        if (!strchr(c.env[i], '=') || c.env[i][0] == '=')
            r = bo_error_set(err, BO_E_INVALID, "image config: config.Env[%zu] `%.80s` is not NAME=VALUE", i,
                             c.env[i]);
    if (r == 0 && c.working_dir && c.working_dir[0] && c.working_dir[0] != '/')
        r = bo_error_set(err, BO_E_INVALID, "image config: config.WorkingDir `%.80s` is not absolute", c.working_dir);
    if (r == 0 && !json_is_object(rootfs))
        r = bo_error_set(err, BO_E_INVALID, "image config has no rootfs object");
    if (r == 0 && str_list(json_object_get(rootfs, "diff_ids"), "rootfs.diff_ids", &c.diff_ids, &c.n_diff_ids, err) < 0)
        r = -1;
    for (size_t i = 0; r == 0 && i < c.n_diff_ids; i++)
        if (!image_digest_valid(c.diff_ids[i]))
            r = bo_error_set(err, BO_E_INVALID, "image config: rootfs.diff_ids[%zu] is not a sha256 digest", i);
    json_decref(j);
    if (r < 0) {
        image_config_clear(&c);
        return -1;
    }
    *ret = c;
    return 0;
}

const char *image_machine_arch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__i386__)
    return "386";
#else
    return "unknown";
#endif
}
