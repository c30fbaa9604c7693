/* Unit tests for API authentication: the route table's permission column,
 * token hashing, storage and checks, the Authorization header parser, the
 * gate's browser checks, the audit log's rotation and the CLI's
 * credentials parser. */
#include <sys/stat.h>

#include "base/fs.h"
#include "cli/credentials.h"
#include "harness.h"
#include "scheduler/audit.h"
#include "scheduler/auth.h"
#include "scheduler/gate.h"
#include "scheduler/scheduler.h"
#include "store/store_faulty.h"

static char dir[64];

__attribute__((destructor)) static void remove_dir(void)
{
    if (dir[0])
        bo_rm_rf(dir, NULL);
}

static struct store *open_store(void)
{
    if (!dir[0]) {
        strcpy(dir, "/tmp/bo-auth-XXXXXX");
        CHECK(mkdtemp(dir));
    }
    _cleanup_free_ char *db = bo_xasprintf("%s/s.db", dir);
    struct store *s = NULL;
    CHECK(store_open_sqlite(db, false, &s, NULL) == 0);
    return s;
}

TEST(every_route_but_health_and_agent_sync_needs_a_token_and_writes_need_more)
{
    bool public_seen = false;
    for (size_t i = 0; i < api_routes_count; i++) {
        const struct http_route *r = &api_routes[i];
        if (r->perm == PERM_PUBLIC) {
            /* Besides /health only the CA certificate (public by nature: a
             * joining agent checks it against its token's fingerprint). */
            CHECK(!strcmp(r->pattern, "/health") || !strcmp(r->pattern, "/api/v1/ca"));
            CHECK_STR(r->method, "GET");
            public_seen = true;
            continue;
        }
        if (r->perm == PERM_AGENT) {
            CHECK(!strncmp(r->pattern, "/api/v1/agents/", 15) && strcmp(r->pattern, "/api/v1/agents") != 0);
            continue;
        }
        CHECK(r->perm >= PERM_USER && r->perm <= PERM_ADMIN);
        /* A write never needs only a login. */
        if (strcmp(r->method, "GET") != 0)
            CHECK(r->perm == PERM_ROLE_WRITE || r->perm == PERM_ADMIN);
        /* A job route names the role in its path, where the gate reads it. */
        if (!strncmp(r->pattern, "/api/v1/jobs/", 13))
            CHECK(r->perm == PERM_ROLE_READ || r->perm == PERM_ROLE_WRITE);
        if (!strncmp(r->pattern, "/api/v1/tokens", 14) || !strcmp(r->pattern, "/api/v1/audit"))
            CHECK(r->perm == PERM_ADMIN);
    }
    CHECK(public_seen);
}

TEST(hash_is_sha256_hex)
{
    char h[AUTH_TOKEN_HEX + 1];
    auth_hash("abc", 3, h);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(generated_tokens_are_random_and_well_formed)
{
    char a[AUTH_TOKEN_LEN + 1], b[AUTH_TOKEN_LEN + 1];
    CHECK(auth_token_generate(a, NULL) == 0 && auth_token_generate(b, NULL) == 0);
    CHECK(strlen(a) == AUTH_TOKEN_LEN && !strncmp(a, "bo_", 3) && strcmp(a, b) != 0);
    const char *tok;
    size_t len;
    _cleanup_free_ char *hdr = bo_xasprintf("Bearer %s", a);
    CHECK(auth_parse_header(hdr, &tok, &len, NULL) == 0 && len == AUTH_TOKEN_LEN && !strncmp(tok, a, len));
}

TEST(authorization_header_parser)
{
    const char *tok;
    size_t len;
    CHECK(auth_parse_header("bearer   abc-_9  ", &tok, &len, NULL) == 0 && len == 6 && !strncmp(tok, "abc-_9", 6));
    const char *bad[] = {"", "Bearer", "Bearer ", "Bearer a b", "Basic YWRtaW46YWRtaW4=", "Bearerx abc",
                         "Bearer a\"b", "Bearer \xff", "Bearer\tabc"};
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ bo_error_t err = NULL;
        CHECK(auth_parse_header(bad[i], &tok, &len, &err) < 0);
        CHECK(err && err->kind == BO_E_INVALID);
    }
    _cleanup_free_ char *huge = bo_xmalloc(2000);
    memcpy(huge, "Bearer ", 7);
    memset(huge + 7, 'a', 1990);
    huge[1997] = '\0';
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(auth_parse_header(huge, &tok, &len, &err) < 0);
    CHECK_CONTAINS(err->msg, "longer");
}

TEST(tokens_roles_and_permissions_survive_the_store)
{
    struct store *s = open_store();
    struct auth a;
    CHECK(auth_load(&a, s, NULL) == 0);
    json_t *roles = json_pack("[s, s]", "alice", "web");
    _cleanup_free_ char *secret = NULL;
    CHECK(auth_token_create(&a, s, "alice", roles, false, false, 1, &secret, NULL) == 0);
    _cleanup_error_ bo_error_t err = NULL;
    char *again = NULL;
    CHECK(auth_token_create(&a, s, "alice", roles, false, false, 1, &again, &err) < 0 && err->kind == BO_E_EXISTS);
    json_decref(roles);
    roles = json_pack("[s]", "bad role");
    bo_error_freep(&err);
    CHECK(auth_token_create(&a, s, "x", roles, false, false, 1, &again, &err) < 0 && err->kind == BO_E_INVALID);
    json_decref(roles);
    auth_free(&a);

    CHECK(auth_load(&a, s, NULL) == 0);
    struct auth_token *t = auth_find(&a, secret, strlen(secret));
    CHECK(t && !strcmp(t->name, "alice"));
    CHECK(auth_may_role(t, "alice", true) && auth_may_role(t, "web", false));
    CHECK(!auth_may_role(t, "bob", false) && !auth_may_role(t, "bob", true) && !t->admin);
    CHECK(!auth_find(&a, secret, strlen(secret) - 1));
    CHECK(auth_token_revoke(&a, s, "alice", NULL) == 0);
    auth_free(&a);
    CHECK(auth_load(&a, s, NULL) == 0);
    CHECK(!auth_find(&a, secret, strlen(secret)));
    auth_free(&a);
    store_close(s);
}

TEST(read_all_reads_everything_and_writes_nothing)
{
    struct auth_token t = {.name = (char *)"r", .read_all = true};
    CHECK(auth_may_role(&t, "any", false) && !auth_may_role(&t, "any", true));
    char *star = (char *)"*";
    struct auth_token u = {.name = (char *)"u", .roles = &star, .n_roles = 1};
    CHECK(auth_may_role(&u, "any", true));
}

TEST(bootstrap_writes_a_0600_file_once)
{
    struct store *s = open_store();
    struct auth a;
    CHECK(auth_load(&a, s, NULL) == 0);
    CHECK(auth_bootstrap(&a, s, dir, false, 1, NULL) == 1);
    _cleanup_free_ char *path = bo_xasprintf("%s/admin.token", dir);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    char *tok = NULL;
    CHECK(credentials_read_file(path, &tok, NULL) == 0);
    struct auth_token *t = auth_find(&a, tok, strlen(tok));
    CHECK(t && t->admin);
    CHECK(auth_bootstrap(&a, s, dir, false, 1, NULL) == 0); /* tokens exist: nothing made */
    CHECK(auth_bootstrap(&a, s, dir, true, 1, NULL) == 1);  /* forced: the old one is gone */
    CHECK(!auth_find(&a, tok, strlen(tok)));
    free(tok);
    auth_free(&a);
    store_close(s);
}

TEST(host_origin_and_content_type_checks)
{
    const char *names[] = {"sched.example"};
    CHECK(gate_host_ok("127.0.0.1:8081", names, 1) && gate_host_ok("10.1.2.3", names, 1));
    CHECK(gate_host_ok("[::1]:8081", names, 1) && gate_host_ok("localhost", names, 1));
    CHECK(gate_host_ok("SCHED.example:80", names, 1));
    CHECK(!gate_host_ok("evil.example:8081", names, 1) && !gate_host_ok("127.0.0.1.evil.example", names, 1));
    CHECK(!gate_host_ok("", names, 1) && !gate_host_ok(":80", names, 1) && !gate_host_ok("[::1", names, 1));
    CHECK(!gate_host_ok("localhost:80x", names, 1) && !gate_host_ok("[evil]:80", names, 1));
    CHECK(gate_origin_ok("http://127.0.0.1:8081", "127.0.0.1:8081"));
    CHECK(!gate_origin_ok("http://evil.example", "127.0.0.1:8081"));
    CHECK(!gate_origin_ok("null", "127.0.0.1:8081") && !gate_origin_ok("file://127.0.0.1:8081", "127.0.0.1:8081"));
    CHECK(!gate_origin_ok("http://127.0.0.1:8081", NULL));
    CHECK(gate_json_type("application/json") && gate_json_type("Application/JSON; charset=utf-8"));
    CHECK(!gate_json_type("text/plain") && !gate_json_type("application/jsonx") && !gate_json_type(NULL));
    CHECK(!gate_json_type("application/x-www-form-urlencoded") && !gate_json_type("multipart/form-data"));
}

TEST(audit_log_rotates_and_queries_by_job)
{
    struct store *s = open_store();
    struct audit a;
    CHECK(audit_load(&a, s, 5, NULL) == 0);
    for (int i = 0; i < 8; i++) {
        struct audit_entry e = {.principal = "p", .action = "job_kill", .method = "POST", .path = "/x",
                                .job = i % 2 ? "local/r/e/odd" : "local/r/e/even", .status = 200};
        CHECK(audit_append(&a, s, &e, 1000 + i, NULL) == 0);
    }
    json_t *all = NULL;
    CHECK(audit_query(s, NULL, -1, 100, &all, NULL) == 0);
    CHECK(json_array_size(all) == 5);
    CHECK(json_integer_value(json_object_get(json_array_get(all, 0), "seq")) == 4);
    json_decref(all);
    CHECK(audit_query(s, "local/r/e/odd", -1, 100, &all, NULL) == 0);
    CHECK(json_array_size(all) == 3); /* seq 4, 6, 8 */
    json_decref(all);
    CHECK(audit_query(s, NULL, 6, 1, &all, NULL) == 0);
    CHECK(json_array_size(all) == 1 && json_integer_value(json_object_get(json_array_get(all, 0), "seq")) == 7);
    json_decref(all);
    /* A smaller bound at the next start trims the oldest. */
    CHECK(audit_load(&a, s, 3, NULL) == 0 && a.next_seq == 9);
    CHECK(audit_query(s, NULL, -1, 100, &all, NULL) == 0 && json_array_size(all) == 3);
    json_decref(all);
    store_close(s);
}

TEST(credentials_parser)
{
    char *t = NULL;
    CHECK(credentials_parse("abc\n", 4, "f", &t, NULL) == 0 && !strcmp(t, "abc"));
    free(t);
    const char *eq = "# c\n\n  token =  bo_x-1 \r\n# after\n";
    CHECK(credentials_parse(eq, strlen(eq), "f", &t, NULL) == 0 && !strcmp(t, "bo_x-1"));
    free(t);
    CHECK(credentials_parse("tokenabc", 8, "f", &t, NULL) == 0 && !strcmp(t, "tokenabc"));
    free(t);
    const char *bad[] = {"", "# only\n", "a\nb\n", "tok en", "token abc", "token =", "a\"b"};
    for (size_t i = 0; i < BO_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ bo_error_t err = NULL;
        CHECK(credentials_parse(bad[i], strlen(bad[i]), "`f`", &t, &err) < 0);
        CHECK_CONTAINS(err->msg, "`f`");
    }
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(credentials_parse("a\0b", 3, "f", &t, &err) < 0);
}

TEST(credentials_file_readable_by_others_is_refused)
{
    if (!dir[0]) {
        strcpy(dir, "/tmp/bo-auth-XXXXXX");
        CHECK(mkdtemp(dir));
    }
    _cleanup_free_ char *path = bo_xasprintf("%s/cred", dir);
    CHECK(bo_write_file_atomic(path, "tok\n", 4, false, NULL) == 0);
    char *t = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(chmod(path, 0644) == 0);
    CHECK(credentials_read_file(path, &t, &err) < 0 && err->kind == BO_E_AUTH);
    CHECK_CONTAINS(err->msg, "0644");
    CHECK(chmod(path, 0600) == 0);
    CHECK(credentials_read_file(path, &t, NULL) == 0 && !strcmp(t, "tok"));
    free(t);
}

/* Names of the tokens the store holds, as loaded from it. */
static char *stored_names(struct store *s)
{
    struct auth a;
    CHECK(auth_load(&a, s, NULL) == 0);
    char *out = bo_xstrdup("");
    struct auth_token *t, *tmp;
    HASH_ITER(hh_name, a.by_name, t, tmp)
    {
        char *more = bo_xasprintf("%s%s,", out, t->name);
        free(out);
        out = more;
    }
    auth_free(&a);
    return out;
}

static char *memory_names(struct auth *a)
{
    char *out = bo_xstrdup("");
    struct auth_token *t, *tmp;
    HASH_ITER(hh_name, a->by_name, t, tmp)
    {
        char *more = bo_xasprintf("%s%s,", out, t->name);
        free(out);
        out = more;
    }
    return out;
}

/* The bootstrap and an audit append with each of their store operations
 * failing in turn (store_faulty.c): an error every time, the store as
 * before, and memory that matches the store. */
TEST(store_failures_in_bootstrap_and_audit_leave_memory_matching_the_store)
{
    for (uint64_t n = 1;; n++) {
        if (!dir[0]) {
            strcpy(dir, "/tmp/bo-auth-XXXXXX");
            CHECK(mkdtemp(dir));
        }
        _cleanup_free_ char *db = bo_xasprintf("%s/f%llu.db", dir, (unsigned long long)n);
        struct store *inner = NULL;
        CHECK(store_open_sqlite(db, false, &inner, NULL) == 0);
        struct store *s = store_faulty_wrap(inner);
        struct auth a;
        CHECK(auth_load(&a, s, NULL) == 0);
        uint64_t before = store_faulty_ops(s);
        store_faulty_fail_at(s, n, false);
        _cleanup_error_ bo_error_t err = NULL;
        int r = auth_bootstrap(&a, s, dir, false, 1, &err);
        bool failed = store_faulty_failures(s) > 0;
        store_faulty_fail_at(s, 0, false);
        _cleanup_free_ char *mem = memory_names(&a), *disk = stored_names(s);
        CHECK_STR(mem, disk);
        if (!failed) {
            CHECK(r == 1 && !strcmp(disk, "admin,"));
            CHECK(n == store_faulty_ops(s) - before + 1); /* each of its operations failed once */
            auth_free(&a);
            store_close(s);
            break;
        }
        CHECK(r < 0 && err && err->kind == BO_E_IO);
        CHECK_STR(disk, "");
        auth_free(&a);
        store_close(s);
    }
    /* Audit: a failed append leaves no record. */
    for (uint64_t n = 1; n <= 4; n++) {
        _cleanup_free_ char *db = bo_xasprintf("%s/a%llu.db", dir, (unsigned long long)n);
        struct store *inner = NULL;
        CHECK(store_open_sqlite(db, false, &inner, NULL) == 0);
        struct store *s = store_faulty_wrap(inner);
        struct audit au;
        CHECK(audit_load(&au, s, 10, NULL) == 0);
        struct audit_entry e = {.principal = "p", .action = "job_create", .method = "POST", .path = "/x",
                                .status = 201};
        store_faulty_fail_at(s, n, false);
        int r = store_begin(s, NULL);
        if (r == 0)
            r = audit_append(&au, s, &e, 1, NULL);
        if (r == 0)
            r = store_commit(s, NULL);
        if (r < 0)
            store_rollback(s);
        bool failed = store_faulty_failures(s) > 0;
        store_faulty_fail_at(s, 0, false);
        json_t *all = NULL;
        CHECK(audit_query(s, NULL, -1, 100, &all, NULL) == 0);
        CHECK(json_array_size(all) == (failed ? 0u : 1u) && (r < 0) == failed);
        json_decref(all);
        store_close(s);
    }
}

TEST_MAIN()
