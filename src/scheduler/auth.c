/* auth.c - API tokens: generation, SHA-256 (GnuTLS), the store records,
 * the Authorization header parser and the role checks. */
#include "scheduler/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/ident.h"

#define KIND "token"

const char *auth_perm_name(enum auth_perm p)
{
    static const char *const names[] = {"public", "agent", "user", "role-read", "role-write", "admin"};
    return (unsigned)p < BO_ARRAY_SIZE(names) ? names[p] : "?";
}

void auth_hash(const char *token, size_t len, char ret[AUTH_TOKEN_HEX + 1])
{
    unsigned char d[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, d) < 0)
        abort(); /* SHA-256 is always there; a failure is a broken library */
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(d); i++) {
        ret[2 * i] = hex[d[i] >> 4];
        ret[2 * i + 1] = hex[d[i] & 15];
    }
    ret[AUTH_TOKEN_HEX] = '\0';
}

int auth_token_generate(char ret[AUTH_TOKEN_LEN + 1], bo_error_t *err)
{
    unsigned char r[AUTH_TOKEN_HEX / 2];
    size_t got = 0;
    while (got < sizeof(r)) {
        ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bo_error_sys(err, errno, "getrandom");
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    char *o = ret;
    o = stpcpy(o, AUTH_TOKEN_PREFIX);
    for (size_t i = 0; i < sizeof(r); i++) {
        *o++ = hex[r[i] >> 4];
        *o++ = hex[r[i] & 15];
    }
    *o = '\0';
    return 0;
}

int auth_parse_header(const char *value, const char **ret_token, size_t *ret_len, bo_error_t *err)
{
    if (!value || !*value)
        return bo_error_set(err, BO_E_INVALID, "the Authorization header is empty");
    if (strncasecmp(value, "Bearer", 6) != 0 || value[6] != ' ')
        return bo_error_set(err, BO_E_INVALID, "the Authorization header must be `Bearer TOKEN`");
    const char *p = value + 6;
    while (*p == ' ')
        p++;
    size_t n = 0;
    while (p[n] && ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
                    (p[n] >= '0' && p[n] <= '9') || p[n] == '_' || p[n] == '-'))
        n++;
    const char *q = p + n;
    while (*q == ' ')
        q++;
    if (n == 0 || *q)
        return bo_error_set(err, BO_E_INVALID, "the bearer token is empty or holds characters outside "
                                               "[A-Za-z0-9_-]");
    if (n > 4 * AUTH_TOKEN_LEN)
        return bo_error_set(err, BO_E_INVALID, "the bearer token is longer than %zu characters",
                            4 * AUTH_TOKEN_LEN);
    *ret_token = p;
    *ret_len = n;
    return 0;
}

struct auth_token *auth_find(struct auth *a, const char *token, size_t len)
{
    char h[AUTH_TOKEN_HEX + 1];
    auth_hash(token, len, h);
    struct auth_token *t = NULL;
    HASH_FIND(hh, a->by_hash, h, AUTH_TOKEN_HEX, t);
    return t;
}

struct auth_token *auth_find_name(struct auth *a, const char *name)
{
    struct auth_token *t = NULL;
    HASH_FIND(hh_name, a->by_name, name, strlen(name), t);
    return t;
}

bool auth_may_role(const struct auth_token *t, const char *role, bool write)
{
    if (t->admin || (!write && t->read_all))
        return true;
    for (size_t i = 0; i < t->n_roles; i++)
        if (!strcmp(t->roles[i], "*") || !strcmp(t->roles[i], role))
            return true;
    return false;
}

bool auth_may_read_all(const struct auth_token *t) { return t->admin || t->read_all; }

static void token_free(struct auth_token *t)
{
    for (size_t i = 0; i < t->n_roles; i++)
        free(t->roles[i]);
    free(t->roles);
    free(t->name);
    free(t);
}

static void token_add(struct auth *a, struct auth_token *t)
{
    HASH_ADD(hh, a->by_hash, hash, AUTH_TOKEN_HEX, t);
    HASH_ADD_KEYPTR(hh_name, a->by_name, t->name, strlen(t->name), t);
}

static void token_remove(struct auth *a, struct auth_token *t)
{
    HASH_DELETE(hh, a->by_hash, t);
    HASH_DELETE(hh_name, a->by_name, t);
    token_free(t);
}

void auth_free(struct auth *a)
{
    struct auth_token *t, *tmp;
    HASH_ITER(hh, a->by_hash, t, tmp)
    token_remove(a, t);
}

static int check_roles(json_t *roles, bo_error_t *err)
{
    if (!json_is_array(roles) || json_array_size(roles) > AUTH_ROLES_MAX)
        return bo_error_set(err, BO_E_INVALID, "`roles` must be a list of at most %d role names",
                            AUTH_ROLES_MAX);
    size_t i;
    json_t *r;
    json_array_foreach(roles, i, r)
    {
        const char *s = json_string_value(r);
        if (!s)
            return bo_error_set(err, BO_E_INVALID, "`roles` must hold strings");
        if (strcmp(s, "*") != 0 && bo_ident_check(s, AUTH_NAME_MAX, 0, "role", err) < 0)
            return -1;
    }
    return 0;
}

/* A token from its record (the store's or a new one); validated. */
static int token_from_json(json_t *j, struct auth_token **ret, bo_error_t *err)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *hash = json_string_value(json_object_get(j, "hash"));
    json_t *roles = json_object_get(j, "roles");
    if (!name || bo_ident_check(name, AUTH_NAME_MAX, 0, "token name", err) < 0)
        return name ? -1 : bo_error_set(err, BO_E_INVALID, "token record has no `name`");
    if (!hash || strlen(hash) != AUTH_TOKEN_HEX || strspn(hash, "0123456789abcdef") != AUTH_TOKEN_HEX)
        return bo_error_set(err, BO_E_INVALID, "token `%s`: `hash` is not a hex SHA-256", name);
    if (check_roles(roles, err) < 0)
        return -1;
    struct auth_token *t = bo_xcalloc(1, sizeof(*t));
    t->name = bo_xstrdup(name);
    memcpy(t->hash, hash, AUTH_TOKEN_HEX + 1);
    t->n_roles = json_array_size(roles);
    t->roles = bo_xcalloc(t->n_roles ? t->n_roles : 1, sizeof(char *));
    for (size_t i = 0; i < t->n_roles; i++)
        t->roles[i] = bo_xstrdup(json_string_value(json_array_get(roles, i)));
    t->admin = json_is_true(json_object_get(j, "admin"));
    t->read_all = json_is_true(json_object_get(j, "read_all"));
    t->created_ms = json_integer_value(json_object_get(j, "created_ms"));
    *ret = t;
    return 0;
}

json_t *auth_token_to_json(const struct auth_token *t)
{
    json_t *roles = json_array();
    for (size_t i = 0; i < t->n_roles; i++)
        json_array_append_new(roles, json_string(t->roles[i]));
    return json_pack("{s:s, s:o, s:b, s:b, s:I}", "name", t->name, "roles", roles, "admin", t->admin, "read_all",
                     t->read_all, "created_ms", (json_int_t)t->created_ms);
}

static int load_one(void *ctx, const char *id, const char *value, bo_error_t *err)
{
    struct auth *a = ctx;
    json_error_t jerr;
    json_t *j = json_loads(value, JSON_REJECT_DUPLICATES, &jerr);
    struct auth_token *t = NULL;
    int r = j ? token_from_json(j, &t, err) : bo_error_set(err, BO_E_IO, "not JSON: %s", jerr.text);
    json_decref(j);
    if (r == 0 && (strcmp(t->name, id) != 0 || auth_find_name(a, t->name))) {
        token_free(t);
        r = bo_error_set(err, BO_E_IO, "the record's name does not match its id");
    }
    if (r < 0)
        return bo_error_wrap(err, "store `token` row `%.100s`", id);
    struct auth_token *dup = NULL;
    HASH_FIND(hh, a->by_hash, t->hash, AUTH_TOKEN_HEX, dup);
    if (dup) {
        token_free(t);
        return bo_error_set(err, BO_E_IO, "store `token` row `%.100s`: same hash as token `%s`", id, dup->name);
    }
    token_add(a, t);
    return 0;
}

int auth_load(struct auth *a, struct store *s, bo_error_t *err)
{
    memset(a, 0, sizeof(*a));
    if (store_load(s, KIND, load_one, a, err) < 0) {
        auth_free(a);
        return -1;
    }
    return 0;
}

int auth_token_create(struct auth *a, struct store *s, const char *name, json_t *roles, bool admin,
                      bool read_all, int64_t now_ms, char **ret_secret, bo_error_t *err)
{
    if (bo_ident_check(name, AUTH_NAME_MAX, 0, "token name", err) < 0 || check_roles(roles, err) < 0)
        return -1;
    if (auth_find_name(a, name))
        return bo_error_set(err, BO_E_EXISTS, "token `%s` already exists (revoke it first)", name);
    if (HASH_CNT(hh_name, a->by_name) >= AUTH_TOKENS_MAX)
        return bo_error_set(err, BO_E_REFUSED, "there are already %d tokens", AUTH_TOKENS_MAX);
    char secret[AUTH_TOKEN_LEN + 1], hash[AUTH_TOKEN_HEX + 1];
    if (auth_token_generate(secret, err) < 0)
        return -1;
    auth_hash(secret, strlen(secret), hash);
    json_t *rec = json_pack("{s:s, s:s, s:O, s:b, s:b, s:I}", "name", name, "hash", hash, "roles", roles, "admin",
                            admin, "read_all", read_all, "created_ms", (json_int_t)now_ms);
    struct auth_token *t = NULL;
    int r = token_from_json(rec, &t, err);
    if (r == 0) {
        _cleanup_free_ char *text = json_dumps(rec, JSON_COMPACT);
        r = store_put(s, KIND, name, text, err);
        if (r < 0)
            token_free(t);
    }
    json_decref(rec);
    if (r < 0)
        return -1;
    token_add(a, t);
    *ret_secret = bo_xstrdup(secret);
    explicit_bzero(secret, sizeof(secret));
    return 0;
}

int auth_token_revoke(struct auth *a, struct store *s, const char *name, bo_error_t *err)
{
    struct auth_token *t = auth_find_name(a, name);
    if (!t)
        return bo_error_set(err, BO_E_NOTFOUND, "token `%.100s` not found", name);
    if (store_delete(s, KIND, name, err) < 0)
        return -1;
    token_remove(a, t);
    return 0;
}

/* Write `secret` to `path` with mode 0600 (temp file + rename, so a reader
 * never sees half a token and a planted symlink is never followed). */
static int write_secret(const char *path, const char *secret, bo_error_t *err)
{
    _cleanup_free_ char *tmp = bo_xasprintf("%s.tmp", path);
    if (unlink(tmp) < 0 && errno != ENOENT)
        return bo_error_sys(err, errno, "remove `%s`", tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return bo_error_sys(err, errno, "create `%s`", tmp);
    _cleanup_free_ char *text = bo_xasprintf("%s\n", secret);
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    explicit_bzero(text, len);
    if (n != (ssize_t)len || fchmod(fd, 0600) < 0 || fsync(fd) < 0) {
        int e = n < 0 ? errno : EIO;
        close(fd);
        unlink(tmp);
        return bo_error_sys(err, e, "write `%s`", tmp);
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return bo_error_sys(err, e, "rename `%s` to `%s`", tmp, path);
    }
    return 0;
}

int auth_bootstrap(struct auth *a, struct store *s, const char *dir, bool force, int64_t now_ms,
                   bo_error_t *err)
{
    if (a->by_name && !force)
        return 0;
    _cleanup_free_ char *path = bo_xasprintf("%s/" AUTH_ADMIN_TOKEN_FILE, dir);
    _cleanup_free_ char *secret = NULL;
    json_t *roles = json_pack("[s]", "*");
    int r = store_begin(s, err);
    if (r == 0 && auth_find_name(a, AUTH_ADMIN_NAME))
        r = auth_token_revoke(a, s, AUTH_ADMIN_NAME, err);
    if (r == 0)
        r = auth_token_create(a, s, AUTH_ADMIN_NAME, roles, true, false, now_ms, &secret, err);
    json_decref(roles);
    /* The file first: a committed token nobody can read would lock the
     * operator out until --new-admin-token. */
    if (r == 0)
        r = write_secret(path, secret, err);
    if (r == 0)
        r = store_commit(s, err);
    if (secret)
        explicit_bzero(secret, strlen(secret));
    if (r < 0) {
        store_rollback(s);
        /* Memory must match the store: reload what it holds. */
        auth_free(a);
        bo_error_t e2 = NULL;
        if (auth_load(a, s, &e2) < 0)
            bo_error_free(e2);
        return -1;
    }
    return 1;
}
