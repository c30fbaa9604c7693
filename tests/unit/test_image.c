/* test_image.c - image references, the manifest/index/config parsers,
 * WWW-Authenticate challenges, guarded layer extraction, and task root
 * filesystems (overlayfs over store layers; needs root). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "base/fs.h"
#include "harness.h"
#include "image/digest.h"
#include "image/extract.h"
#include "image/manifest.h"
#include "image/registry.h"
#include "image/store.h"
#include "model/image_ref.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char tmpdir[256];
static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/borealis-test-image-XXXXXX");
    CHECK(mkdtemp(tmpdir));
}
__attribute__((destructor)) static void tmp_cleanup(void)
{
    if (tmpdir[0])
        bo_rm_rf(tmpdir, NULL);
}

TEST(image_ref_forms)
{
    struct image_ref r = {0};
    bo_error_t err = NULL;
    CHECK(image_ref_parse("registry.example:5000/team/app:1.4", &r, &err) == 0);
    CHECK_STR(r.registry, "registry.example:5000");
    CHECK_STR(r.repository, "team/app");
    CHECK_STR(r.tag, "1.4");
    CHECK(!r.digest);
    image_ref_clear(&r);
    CHECK(image_ref_parse("localhost/a@sha256:" D64, &r, &err) == 0);
    CHECK(!r.tag);
    CHECK_STR(r.digest, "sha256:" D64);
    char *s = image_ref_format(&r);
    CHECK_STR(s, "localhost/a@sha256:" D64);
    free(s);
    image_ref_clear(&r);
    static const char *const bad[] = {"busybox:1", "team/app:1", "h.x/App:1", "h.x/a", "h.x/a:", "h.x/a@sha256:12",
                                      "h.x/a..b:1", "h.x/a/:1", "h.x:99999999/a:1", "", "h.x/a:-x"};
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        err = NULL;
        CHECK(image_ref_parse(bad[i], &r, &err) < 0);
        CHECK(err && err->kind == BO_E_INVALID);
        bo_error_free(err);
    }
}

static const char manifest_json[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":\"x\",\"digest\":"
    "\"sha256:" D64 "\",\"size\":10},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
    "\"digest\":\"sha256:" D64 "\",\"size\":5}]}";

TEST(manifest_index_config)
{
    bo_error_t err = NULL;
    enum image_doc_kind k;
    CHECK(image_doc_kind(manifest_json, strlen(manifest_json), &k, &err) == 0 && k == IMAGE_DOC_MANIFEST);
    struct image_manifest m;
    CHECK(image_manifest_parse(manifest_json, strlen(manifest_json), &m, &err) == 0);
    CHECK(m.n_layers == 1 && m.layers[0].size == 5);
    image_manifest_clear(&m);

    const char *idx = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":"
                      "\"sha256:" D64 "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}}]}";
    CHECK(image_doc_kind(idx, strlen(idx), &k, &err) == 0 && k == IMAGE_DOC_INDEX);
    struct image_descriptor d;
    CHECK(image_index_pick(idx, strlen(idx), "linux", "arm64", &d, &err) == 0);
    image_descriptor_clear(&d);
    CHECK(image_index_pick(idx, strlen(idx), "linux", "amd64", &d, &err) < 0);
    CHECK_CONTAINS(err->msg, "no manifest for platform linux/amd64");
    bo_error_free(err);
    err = NULL;

    const char *v1 = "{\"schemaVersion\":1,\"fsLayers\":[]}";
    CHECK(image_doc_kind(v1, strlen(v1), &k, &err) < 0);
    CHECK_CONTAINS(err->msg, "only version 2");
    bo_error_free(err);
    err = NULL;

    const char *cfg = "{\"config\":{\"Entrypoint\":[\"/bin/sh\"],\"Cmd\":[\"-c\",\"x\"],\"Env\":[\"A=1\"],"
                      "\"User\":\"1000:1000\",\"WorkingDir\":\"/srv\"},\"rootfs\":{\"diff_ids\":[\"sha256:" D64 "\"]}}";
    struct image_config c;
    CHECK(image_config_parse(cfg, strlen(cfg), &c, &err) == 0);
    CHECK(c.n_entrypoint == 1 && c.n_cmd == 2 && c.n_env == 1 && c.n_diff_ids == 1);
    CHECK_STR(c.user, "1000:1000");
    CHECK_STR(c.working_dir, "/srv");
    image_config_clear(&c);
    const char *badenv = "{\"config\":{\"Env\":[\"NOEQUALS\"]},\"rootfs\":{}}";
    CHECK(image_config_parse(badenv, strlen(badenv), &c, &err) < 0);
    CHECK_CONTAINS(err->msg, "config.Env[0]");
    bo_error_free(err);
}

TEST(challenge)
{
    struct registry_challenge c;
    bo_error_t err = NULL;
    CHECK(registry_parse_challenge("Bearer realm=\"https://auth.example/token\",service=\"reg\",scope=\"repository:a:pull\"",
                                   &c, &err) == 0);
    CHECK_STR(c.scheme, "bearer");
    CHECK_STR(c.realm, "https://auth.example/token");
    CHECK_STR(c.service, "reg");
    CHECK_STR(c.scope, "repository:a:pull");
    registry_challenge_clear(&c);
    CHECK(registry_parse_challenge("Basic realm=\"x\\\"y\"", &c, &err) == 0);
    CHECK_STR(c.realm, "x\"y");
    registry_challenge_clear(&c);
    CHECK(registry_parse_challenge("Bearer realm=\"open", &c, &err) < 0);
    bo_error_free(err);
}

TEST(digest)
{
    char out[IMAGE_DIGEST_LEN + 1];
    image_digest_buf("abc", 3, out);
    CHECK_STR(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* A tar in memory: entries of (name, type, data or link target). */
struct ent {
    const char *name;
    int type;
    const char *data;
};
static void *make_tar(const struct ent *e, size_t n, size_t *ret_len)
{
    size_t cap = 1 << 20;
    void *buf = malloc(cap);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open_memory(a, buf, cap, ret_len);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_filetype(ae, (unsigned)e[i].type);
        archive_entry_set_perm(ae, 0755);
        if (e[i].type == AE_IFLNK)
            archive_entry_set_symlink(ae, e[i].data);
        if (e[i].type == AE_IFREG)
            archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data));
        archive_write_header(a, ae);
        if (e[i].type == AE_IFREG)
            archive_write_data(a, e[i].data, strlen(e[i].data));
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    return buf;
}

static const struct extract_limits lim = {1 << 20, 1000};

TEST(extract_refuses_escapes)
{
    tmp_setup();
    char outside[300], dest[300];
    snprintf(outside, sizeof(outside), "%s/outside", tmpdir);
    snprintf(dest, sizeof(dest), "%s/dest", tmpdir);
    CHECK(mkdir(outside, 0755) == 0 && mkdir(dest, 0755) == 0);
    struct ent through_link[] = {{"a", AE_IFLNK, outside}, {"a/evil", AE_IFREG, "x"}};
    struct ent whiteout_link[] = {{"b", AE_IFLNK, outside}, {"b/.wh.victim", AE_IFREG, ""}};
    struct ent dotdot[] = {{"../evil", AE_IFREG, "x"}};
    struct ent absolute[] = {{"/evil", AE_IFREG, "x"}};
    char victim[400];
    snprintf(victim, sizeof(victim), "%s/victim", outside);
    CHECK(bo_write_file_atomic(victim, "v", 1, false, NULL) == 0);
    const struct ent *cases[] = {through_link, whiteout_link, dotdot, absolute};
    size_t ns[] = {2, 2, 1, 1};
    for (size_t i = 0; i < 4; i++) {
        size_t len;
        void *tar = make_tar(cases[i], ns[i], &len);
        bo_error_t err = NULL;
        CHECK(extract_archive_mem(tar, len, dest, true, &lim, &err) < 0);
        free(tar);
        bo_error_free(err);
    }
    char evil[400];
    snprintf(evil, sizeof(evil), "%s/evil", outside);
    CHECK(access(evil, F_OK) < 0);
    CHECK(access(victim, F_OK) == 0);

    struct ent big[] = {{"big", AE_IFREG, "0123456789"}};
    struct extract_limits small = {5, 10};
    size_t len;
    void *tar = make_tar(big, 1, &len);
    bo_error_t err = NULL;
    CHECK(extract_archive_mem(tar, len, dest, true, &small, &err) < 0);
    CHECK_CONTAINS(err->msg, "more than 5 bytes");
    bo_error_free(err);
    free(tar);
}

/* A store made by hand in its documented layout: two layers, a config and
 * a manifest; then a task root filesystem over them. */
static void put(const char *dir, const char *rel, const char *data)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    CHECK(bo_write_file_atomic(p, data, strlen(data), false, NULL) == 0);
}

TEST(rootfs_overlay)
{
    if (geteuid() != 0) {
        fprintf(stderr, "  skipped: needs root\n");
        return;
    }
    tmp_setup();
    struct image_store *s;
    bo_error_t err = NULL;
    CHECK(image_store_open(tmpdir, NULL, &s, &err) == 0);
    const char *root = image_store_root(s);
    char l1[600], l2[600];
    const char *d1 = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *d2 = "2222222222222222222222222222222222222222222222222222222222222222";
    snprintf(l1, sizeof(l1), "%s/layers/%s", root, d1);
    snprintf(l2, sizeof(l2), "%s/layers/%s", root, d2);
    CHECK(bo_mkdir_p(l1, 0755, NULL) == 0 && bo_mkdir_p(l2, 0755, NULL) == 0);
    put(l1, "keep", "from layer 1\n");
    put(l1, "gone", "whited out\n");
    CHECK(bo_mkdir_p(strcat(strcpy((char[700]){0}, l1), "/opaque"), 0755, NULL) == 0);
    put(l1, "opaque/old", "hidden\n");
    put(l2, "top", "from layer 2\n");
    char wh[700], op[700];
    snprintf(wh, sizeof(wh), "%s/gone", l2);
    CHECK(mknod(wh, S_IFCHR, makedev(0, 0)) == 0);
    snprintf(op, sizeof(op), "%s/opaque", l2);
    CHECK(mkdir(op, 0755) == 0);
    CHECK(setxattr(op, "trusted.overlay.opaque", "y", 1, 0) == 0);
    put(l2, "opaque/new", "visible\n");

    char cfg[600];
    snprintf(cfg, sizeof(cfg), "{\"config\":{\"Cmd\":[\"/bin/sh\"],\"WorkingDir\":\"/srv\"},\"rootfs\":{\"diff_ids\":"
             "[\"sha256:%s\",\"sha256:%s\"]}}", d1, d2);
    char cdg[IMAGE_DIGEST_LEN + 1];
    image_digest_buf(cfg, strlen(cfg), cdg);
    char rel[200];
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", cdg + 7);
    put(root, rel, cfg);
    char man[1200];
    snprintf(man, sizeof(man), "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":"
             "\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"sha256:%s\",\"size\":1},"
             "{\"mediaType\":\"%s\",\"digest\":\"sha256:%s\",\"size\":1}]}", MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG, cdg,
             strlen(cfg), MT_DOCKER_LAYER_TAR, d1, MT_DOCKER_LAYER_TAR, d2);
    char mdg[IMAGE_DIGEST_LEN + 1];
    image_digest_buf(man, strlen(man), mdg);
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", mdg + 7);
    put(root, rel, man);
    CHECK(image_store_has(s, mdg));

    char ref[200], task[600];
    snprintf(ref, sizeof(ref), "localhost/test@%s", mdg);
    snprintf(task, sizeof(task), "%s/task1", tmpdir);
    char *rootfs = NULL;
    struct image_config c;
    CHECK(image_rootfs_prepare(s, ref, task, &rootfs, &c, &err) == 0);
    CHECK_STR(c.working_dir, "/srv");
    CHECK(c.n_cmd == 1);
    image_config_clear(&c);
    char p[800];
    snprintf(p, sizeof(p), "%s/keep", rootfs);
    CHECK(access(p, F_OK) == 0);
    snprintf(p, sizeof(p), "%s/top", rootfs);
    CHECK(access(p, F_OK) == 0);
    snprintf(p, sizeof(p), "%s/gone", rootfs);
    CHECK(access(p, F_OK) < 0 && errno == ENOENT);
    snprintf(p, sizeof(p), "%s/opaque/old", rootfs);
    CHECK(access(p, F_OK) < 0);
    snprintf(p, sizeof(p), "%s/opaque/new", rootfs);
    CHECK(access(p, F_OK) == 0);
    /* Writes go to the task's upper dir only. */
    snprintf(p, sizeof(p), "%s/keep", rootfs);
    CHECK(bo_write_file_atomic(p, "changed", 7, false, NULL) == 0);
    snprintf(p, sizeof(p), "%s/written", rootfs);
    CHECK(bo_write_file_atomic(p, "w", 1, false, NULL) == 0);
    snprintf(p, sizeof(p), "%s/upper/written", task);
    CHECK(access(p, F_OK) == 0);
    snprintf(p, sizeof(p), "%s/keep", l1);
    char *buf;
    size_t len;
    CHECK(bo_read_file(p, 100, &buf, &len, NULL) == 0);
    CHECK_STR(buf, "from layer 1\n");
    free(buf);
    snprintf(p, sizeof(p), "%s/written", l2);
    CHECK(access(p, F_OK) < 0);

    /* In use: rm is refused; listed with one task. */
    struct image_entry *e;
    size_t n;
    CHECK(image_store_list(s, &e, &n, &err) == 0 && n == 0);
    image_entries_free(e, n);

    CHECK(image_rootfs_release(s, task, &err) == 0);
    CHECK(access(rootfs, F_OK) < 0);
    snprintf(p, sizeof(p), "%s/upper", task);
    CHECK(access(p, F_OK) < 0);
    CHECK(image_rootfs_release(s, task, &err) == 0); /* again: nothing there is success */
    free(rootfs);

    /* An image not in the store is a clear error. */
    snprintf(ref, sizeof(ref), "localhost/test@sha256:%s", d1);
    CHECK(image_rootfs_prepare(s, ref, task, &rootfs, NULL, &err) < 0);
    CHECK(err->kind == BO_E_NOTFOUND);
    bo_error_free(err);
    image_store_close(s);
}

TEST_MAIN()
