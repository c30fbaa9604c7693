/* auth.h - who may use the API: bearer tokens (stored as SHA-256 hashes,
 * kind "token"), the roles and permissions each grants, the parsing of an
 * Authorization header, and the first admin token made on a new cluster.
 *
 * A token is "bo_" followed by 64 hex digits (256 random bits from
 * getrandom). Only its SHA-256 is stored: a copy of the store gives no
 * credential. Permissions (docs/api.md "Authentication"):
 *   roles     act on (create, kill) and read the jobs of these roles ("*": all)
 *   read_all  read every job and task (configs included), write nothing
 *   admin     everything: every role, agents, tokens, the audit log */
#ifndef BO_SCHEDULER_AUTH_H
#define BO_SCHEDULER_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>

#include "base/error.h"
#include "store/store.h"

#define AUTH_TOKEN_PREFIX "bo_"
#define AUTH_TOKEN_HEX 64
#define AUTH_TOKEN_LEN (sizeof(AUTH_TOKEN_PREFIX) - 1 + AUTH_TOKEN_HEX)
#define AUTH_NAME_MAX 64
#define AUTH_ROLES_MAX 64
#define AUTH_TOKENS_MAX 10000
/* Where a new cluster's first admin token is written (0600), in the data dir. */
#define AUTH_ADMIN_TOKEN_FILE "admin.token"
#define AUTH_ADMIN_NAME "admin"

struct auth_token {
    char *name;
    char hash[AUTH_TOKEN_HEX + 1]; /* hex SHA-256 of the token */
    char **roles;
    size_t n_roles;
    bool admin, read_all;
    int64_t created_ms;
    UT_hash_handle hh;      /* by hash */
    UT_hash_handle hh_name; /* by name */
};

struct auth {
    struct auth_token *by_hash, *by_name;
};

/* What a route needs (the permission column of the route table, api.c). */
enum auth_perm {
    PERM_PUBLIC,     /* nobody is asked: /health */
    PERM_AGENT,      /* agents' own routes (their identity: w2-tls's mTLS) */
    PERM_USER,       /* any authenticated principal */
    PERM_ROLE_READ,  /* read the job's role (role from the path or filter) */
    PERM_ROLE_WRITE, /* act on the job's role (role from the path or body) */
    PERM_ADMIN,
};
const char *auth_perm_name(enum auth_perm p);

/* Load every token from the store. */
int auth_load(struct auth *a, struct store *s, bo_error_t *err);
void auth_free(struct auth *a);

/* Hex SHA-256 of `token` into ret (AUTH_TOKEN_HEX + 1 bytes). */
void auth_hash(const char *token, size_t len, char ret[AUTH_TOKEN_HEX + 1]);
/* A fresh random token (AUTH_TOKEN_LEN + 1 bytes). */
int auth_token_generate(char ret[AUTH_TOKEN_LEN + 1], bo_error_t *err);

/* Parse an Authorization header value: "Bearer TOKEN" (scheme
 * case-insensitive, one or more spaces). Sets *ret_token and *ret_len to the
 * token inside `value`. BO_E_INVALID for anything else, naming what. */
int auth_parse_header(const char *value, const char **ret_token, size_t *ret_len, bo_error_t *err);

struct auth_token *auth_find(struct auth *a, const char *token, size_t len);
struct auth_token *auth_find_name(struct auth *a, const char *name);

bool auth_may_role(const struct auth_token *t, const char *role, bool write);
bool auth_may_read_all(const struct auth_token *t);

/* Create a token (in the store's open batch, or autocommitted) and return
 * the secret once in ret_secret (caller frees). roles: JSON array of
 * identifiers or "*". BO_E_EXISTS for a name in use. */
int auth_token_create(struct auth *a, struct store *s, const char *name, json_t *roles, bool admin,
                      bool read_all, int64_t now_ms, char **ret_secret, bo_error_t *err);
int auth_token_revoke(struct auth *a, struct store *s, const char *name, bo_error_t *err);
/* {"name", "roles", "admin", "read_all", "created_ms"}: never the hash. */
json_t *auth_token_to_json(const struct auth_token *t);

/* On a cluster without any token, or when `force` (the operator lost the
 * file: `borealis scheduler --new-admin-token`): make (or replace) token
 * `admin` (admin) and write its secret to DIR/admin.token (mode 0600).
 * Returns 1 when it made one, 0 when tokens existed. */
int auth_bootstrap(struct auth *a, struct store *s, const char *dir, bool force, int64_t now_ms,
                   bo_error_t *err);

#endif
