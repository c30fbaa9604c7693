/* fuzz_task_read.c - libFuzzer target for the agent's handling of a task
 * read (task_io_handle in src/agent/task_io.c: the request parser, then the
 * confined log and file reads of src/agent/task_files.c) against a real
 * sandbox on disk that holds every way out a task could make: symlinks to
 * a file and a folder outside, to `..`, absolute ones, a fifo, a hard link.
 * Whatever the request, no reply may carry the content or the names of
 * what lies outside the sandbox, and every reply is a result or an error
 * with a code and a message; no write reaches outside it. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/task_io.h"
#include "base/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TASK_ID "www-data-devel-x-0-00000000-0000-0000-0000-000000000000"
/* What lies outside: a name and a content made at random when the target
 * starts, so no input (nor a file an input writes) can hold them. They are
 * compared by hash only: libFuzzer learns the operands of strcmp, memcmp
 * and strstr, and would write files inside the sandbox that hold them. */
static char secret[40], secret_name[48];
static uint64_t secret_hash, name_hash;

/* FNV-1a of s (n bytes, or up to its NUL with SIZE_MAX). */
static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; s && i < n && (n != SIZE_MAX || s[i]); i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static char sandbox[256];
static char root[] = "/tmp/fuzz-task-read-XXXXXX";

static void remove_root(void)
{
    bo_error_t err = NULL;
    bo_rm_rf(root, &err);
    bo_error_free(err);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    if (!mkdtemp(root))
        abort();
    unsigned char rnd[16];
    FILE *u = fopen("/dev/urandom", "rb");
    if (!u || fread(rnd, 1, sizeof(rnd), u) != sizeof(rnd))
        abort();
    fclose(u);
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(secret + 2 * i, 3, "%02x", rnd[i]);
    snprintf(secret_name, sizeof(secret_name), "n%s", secret);
    secret_hash = hash(secret, strlen(secret));
    name_hash = hash(secret_name, strlen(secret_name));
    atexit(remove_root);
    char p[512];
    snprintf(p, sizeof(p), "%s/outside", root);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/outside/%s", root, secret_name);
    put(p, secret);
    snprintf(sandbox, sizeof(sandbox), "%s/sandboxes/" TASK_ID, root);
    snprintf(p, sizeof(p), "%s/sandboxes", root);
    mkdir(p, 0755);
    mkdir(sandbox, 0755);
    const char *dirs[] = {".borealis", ".logs", ".logs/main", "d", "d/e"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
        snprintf(p, sizeof(p), "%s/%s", sandbox, dirs[i]);
        mkdir(p, 0755);
    }
    snprintf(p, sizeof(p), "%s/.borealis/status.json", sandbox);
    put(p, "{\"task_id\": \"" TASK_ID "\", \"state\": \"RUNNING\", \"message\": \"\", \"executor_pid\": 1, "
           "\"updated_ms\": 1, \"processes\": [{\"name\": \"main\", \"state\": \"RUNNING\", \"pid\": 2, "
           "\"exit_code\": null, \"signal\": null, \"started_ms\": 1, \"ended_ms\": null}]}");
    snprintf(p, sizeof(p), "%s/.logs/main/stdout", sandbox);
    put(p, "one\ntwo\nthree\n");
    snprintf(p, sizeof(p), "%s/d/e/f.txt", sandbox);
    put(p, "inside\n");
    char up_file[128];
    snprintf(up_file, sizeof(up_file), "../../outside/%s", secret_name);
    struct {
        const char *target, *name;
    } links[] = {
        {up_file, "up-file"}, {"../../outside", "up-dir"}, {"/etc/shadow", "shadow"},
        {"/", "root"}, {"..", "parent"}, {"d/e/f.txt", "ok-link"}, {"../../outside", "d/e/deep"},
        {"/proc/self/root", "magic"},
    };
    for (size_t i = 0; i < sizeof(links) / sizeof(*links); i++) {
        snprintf(p, sizeof(p), "%s/%s", sandbox, links[i].name);
        if (symlink(links[i].target, p) < 0)
            abort();
    }
    /* A log folder that is a symlink out, and a log that is one. */
    snprintf(p, sizeof(p), "%s/.logs/evil", sandbox);
    if (symlink("../../../outside", p) < 0)
        abort();
    snprintf(p, sizeof(p), "%s/fifo", sandbox);
    mkfifo(p, 0644);
    char q[512];
    snprintf(p, sizeof(p), "%s/outside/%s", root, secret_name);
    snprintf(q, sizeof(q), "%s/hardlink", sandbox);
    if (link(p, q) < 0)
        abort();
}

static const char *sandbox_hook(void *ctx, const char *task_id, bool *ret_ended)
{
    *ret_ended = false;
    return strcmp(task_id, TASK_ID) == 0 ? sandbox : NULL;
}

static void reply_hook(void *ctx, json_t *reply)
{
    json_t *result = json_object_get(reply, "result"), *error = json_object_get(reply, "error");
    if (!json_is_integer(json_object_get(reply, "id")) || !result == !error)
        __builtin_trap();
    if (error && (!json_string_value(json_object_get(error, "code")) ||
                  !json_string_value(json_object_get(error, "message"))))
        __builtin_trap();
    /* A listing names what is in the sandbox: never what is outside (a
     * symlink's target is the task's own text, and shown as such). */
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(result, "entries"), i, e)
    if (hash(json_string_value(json_object_get(e, "name")), SIZE_MAX) == name_hash)
        __builtin_trap();
    const char *b64 = json_string_value(json_object_get(result, "data"));
    if (b64) {
        size_t n = strlen(b64);
        unsigned char *out = malloc(n / 4 * 3 + 1);
        int dn = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
        if (dn < 0 || hash((const char *)out, (size_t)dn) == secret_hash)
            __builtin_trap();
        free(out);
    }
    json_decref(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sandbox[0])
        setup();
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return 0;
    struct task_io_hooks h = {.sandbox = sandbox_hook, .reply = reply_hook};
    struct task_io *io = NULL;
    bo_error_t err = NULL;
    if (task_io_new(&h, &io, &err) < 0)
        abort();
    task_io_handle(io, j);
    task_io_tick(io);
    task_io_free(io);
    /* Writes stay inside too: what is outside is as it was. */
    char p[512], buf[64] = "";
    snprintf(p, sizeof(p), "%s/outside/%s", root, secret_name);
    FILE *f = fopen(p, "r");
    if (!f || !fgets(buf, sizeof(buf), f) || hash(buf, strlen(buf)) != secret_hash)
        __builtin_trap();
    fclose(f);
    json_decref(j);
    return 0;
}
