/* template.c - parsing and expansion of {{variable}} templates (user
 * variables at load time, runtime variables at launch). */
#include "model/template.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "base/ident.h"

enum tvar_kind { TVAR_USER, TVAR_INSTANCE, TVAR_HOSTNAME, TVAR_TASK_ID, TVAR_PORT };

struct tvar {
    enum tvar_kind kind;
    const char *raw; /* "{{ ... }}" as written */
    size_t raw_len;
    const char *name; /* USER: variable name; PORT: port name */
    size_t name_len;
};

/* A growable output buffer with a hard limit. */
struct tbuf {
    char *p;
    size_t len, cap, max;
    bool over;
};

static void tbuf_put(struct tbuf *b, const char *s, size_t n)
{
    if (b->over || n > b->max - b->len) {
        b->over = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 256;
        b->p = bo_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void tbuf_puts(struct tbuf *b, const char *s) { tbuf_put(b, s, strlen(s)); }

/* Error messages quote the variable as written, cut to a readable length. */
static int var_error(bo_error_t *err, const char *what, const struct tvar *v)
{
    int n = v->raw_len > 80 ? 80 : (int)v->raw_len;
    return bo_error_set(err, BO_E_INVALID, "%s `%.*s%s`", what, n, v->raw, v->raw_len > 80 ? "..." : "");
}

static bool is_name_char(char c) { return bo_ident_char(c, 0); }

static bool is_port_char(char c) { return bo_ident_char(c, BO_IDENT_NO_DOT); }

static bool span_eq(const char *s, size_t n, const char *lit) { return strlen(lit) == n && memcmp(s, lit, n) == 0; }

static bool span_prefix(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && memcmp(s, lit, l) == 0;
}

static int classify_port(struct tvar *v, const char *name, size_t n, bo_error_t *err)
{
    if (n == 0 || n > 64)
        return var_error(err, "invalid port name in", v);
    for (size_t i = 0; i < n; i++)
        if (!is_port_char(name[i]))
            return var_error(err, "invalid port name in", v);
    v->kind = TVAR_PORT;
    v->name = name;
    v->name_len = n;
    return 0;
}

/* Classify the trimmed text between the braces. */
static int classify(struct tvar *v, const char *s, size_t n, bo_error_t *err)
{
    if (n == 0)
        return var_error(err, "empty variable", v);
    if (span_prefix(s, n, "thermos.ports[") && s[n - 1] == ']') {
        size_t pl = strlen("thermos.ports[");
        return classify_port(v, s + pl, n - pl - 1, err);
    }
    for (size_t i = 0; i < n; i++)
        if (!is_name_char(s[i]))
            return var_error(err, "invalid variable", v);
    if (span_eq(s, n, "instance") || span_eq(s, n, "mesos.instance"))
        v->kind = TVAR_INSTANCE;
    else if (span_eq(s, n, "hostname") || span_eq(s, n, "mesos.hostname"))
        v->kind = TVAR_HOSTNAME;
    else if (span_eq(s, n, "task_id") || span_eq(s, n, "thermos.task_id"))
        v->kind = TVAR_TASK_ID;
    else if (span_prefix(s, n, "ports."))
        return classify_port(v, s + 6, n - 6, err);
    else if (span_eq(s, n, "thermos.user")) {
        v->kind = TVAR_USER;
        v->name = "role";
        v->name_len = 4;
    } else {
        v->kind = TVAR_USER;
        v->name = s;
        v->name_len = n;
    }
    return 0;
}

typedef int (*tvar_fn)(const struct tvar *v, struct tbuf *out, void *userdata, bo_error_t *err);

/* Walk `in`, copying literal text to `out` (if not NULL) and calling `fn`
 * for each variable. On a bad variable, *ret_fail (if not NULL) is its
 * "{{" in `in`. */
static int walk(const char *in, tvar_fn fn, void *userdata, struct tbuf *out, const char **ret_fail,
                bo_error_t *err)
{
    if (!in)
        return bo_error_set(err, BO_E_INVALID, "template is missing");
    size_t len = strlen(in);
    if (len > TEMPLATE_MAX_LEN)
        return bo_error_set(err, BO_E_INVALID, "template is longer than %d bytes", TEMPLATE_MAX_LEN);
    const char *p = in, *end = in + len;
    while (p < end) {
        const char *open = strstr(p, "{{");
        if (!open) {
            if (out)
                tbuf_put(out, p, (size_t)(end - p));
            break;
        }
        if (out)
            tbuf_put(out, p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        struct tvar v = {.raw = open, .raw_len = close ? (size_t)(close + 2 - open) : (size_t)(end - open)};
        if (ret_fail)
            *ret_fail = open;
        if (!close)
            return var_error(err, "unterminated variable", &v);
        const char *s = open + 2, *e = close;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (classify(&v, s, (size_t)(e - s), err) < 0)
            return -1;
        if (fn(&v, out, userdata, err) < 0)
            return -1;
        p = close + 2;
    }
    return 0;
}

static void put_canonical(const struct tvar *v, struct tbuf *out)
{
    switch (v->kind) {
    case TVAR_INSTANCE:
        tbuf_puts(out, "{{instance}}");
        break;
    case TVAR_HOSTNAME:
        tbuf_puts(out, "{{hostname}}");
        break;
    case TVAR_TASK_ID:
        tbuf_puts(out, "{{task_id}}");
        break;
    case TVAR_PORT:
        tbuf_puts(out, "{{ports.");
        tbuf_put(out, v->name, v->name_len);
        tbuf_puts(out, "}}");
        break;
    case TVAR_USER:
        break;
    }
}

static int user_cb(const struct tvar *v, struct tbuf *out, void *userdata, bo_error_t *err)
{
    if (v->kind != TVAR_USER) {
        put_canonical(v, out);
        return 0;
    }
    _cleanup_free_ char *name = bo_xstrndup(v->name, v->name_len);
    json_t *val = json_object_get(userdata, name);
    if (!json_is_string(val))
        return var_error(err, "unknown variable", v);
    tbuf_put(out, json_string_value(val), json_string_length(val));
    return 0;
}

static int finish(struct tbuf *b, int r, char **ret, bo_error_t *err)
{
    if (r == 0 && b->over)
        r = bo_error_set(err, BO_E_INVALID, "template expands to more than %zu bytes", b->max);
    if (r < 0) {
        free(b->p);
        return r;
    }
    *ret = b->p ? b->p : bo_xstrdup("");
    return 0;
}

int template_expand_user_at(const char *in, json_t *vars, char **ret, size_t *ret_offset, bo_error_t *err)
{
    struct tbuf b = {.max = TEMPLATE_MAX_LEN};
    const char *bad = NULL;
    int r = walk(in, user_cb, vars, &b, &bad, err);
    if (r < 0 && ret_offset)
        *ret_offset = bad ? (size_t)(bad - in) : 0;
    return finish(&b, r, ret, err);
}

int template_expand_user(const char *in, json_t *vars, char **ret, bo_error_t *err)
{
    return template_expand_user_at(in, vars, ret, NULL, err);
}

static int runtime_cb(const struct tvar *v, struct tbuf *out, void *userdata, bo_error_t *err)
{
    const struct template_runtime *rt = userdata;
    char num[32];
    switch (v->kind) {
    case TVAR_USER:
        return var_error(err, "unknown variable", v);
    case TVAR_INSTANCE:
        snprintf(num, sizeof(num), "%" PRId64, rt->instance);
        tbuf_puts(out, num);
        return 0;
    case TVAR_HOSTNAME:
        if (!rt->hostname)
            return var_error(err, "no value for", v);
        tbuf_puts(out, rt->hostname);
        return 0;
    case TVAR_TASK_ID:
        if (!rt->task_id)
            return var_error(err, "no value for", v);
        tbuf_puts(out, rt->task_id);
        return 0;
    case TVAR_PORT: {
        _cleanup_free_ char *name = bo_xstrndup(v->name, v->name_len);
        json_t *port = json_object_get(rt->ports, name);
        if (!json_is_integer(port))
            return bo_error_set(err, BO_E_INVALID, "port `%s` was not allocated", name);
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(port));
        tbuf_puts(out, num);
        return 0;
    }
    }
    return 0;
}

int template_expand_runtime(const char *in, const struct template_runtime *rt, char **ret, bo_error_t *err)
{
    struct tbuf b = {.max = TEMPLATE_MAX_RUNTIME_LEN};
    return finish(&b, walk(in, runtime_cb, (void *)rt, &b, NULL, err), ret, err);
}

struct scan {
    char **names;
    size_t n, cap;
};

static int scan_cb(const struct tvar *v, BO_UNUSED struct tbuf *out, void *userdata, bo_error_t *err)
{
    struct scan *sc = userdata;
    if (v->kind == TVAR_USER)
        return var_error(err, "unknown variable", v);
    if (v->kind != TVAR_PORT)
        return 0;
    for (size_t i = 0; i < sc->n; i++)
        if (span_eq(v->name, v->name_len, sc->names[i]))
            return 0;
    if (sc->n + 2 > sc->cap) {
        sc->cap = sc->cap ? sc->cap * 2 : 4;
        sc->names = bo_xrealloc(sc->names, sc->cap * sizeof(char *));
    }
    sc->names[sc->n++] = bo_xstrndup(v->name, v->name_len);
    sc->names[sc->n] = NULL;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int template_scan_runtime(const char *in, char ***ret_names, size_t *ret_n, bo_error_t *err)
{
    struct scan sc = {0};
    if (walk(in, scan_cb, &sc, NULL, NULL, err) < 0) {
        template_strv_free(sc.names);
        return -1;
    }
    if (!sc.names)
        sc.names = bo_xcalloc(1, sizeof(char *));
    qsort(sc.names, sc.n, sizeof(char *), cmp_str);
    *ret_names = sc.names;
    *ret_n = sc.n;
    return 0;
}

void template_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

int template_name_is_reserved(const char *name)
{
    static const char *const fixed[] = {"instance", "hostname", "task_id", "role", "environment", "name", "cluster"};
    static const char *const prefixes[] = {"ports.", "mesos.", "thermos."};
    for (size_t i = 0; i < BO_ARRAY_SIZE(fixed); i++)
        if (strcmp(name, fixed[i]) == 0)
            return 1;
    for (size_t i = 0; i < BO_ARRAY_SIZE(prefixes); i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}
