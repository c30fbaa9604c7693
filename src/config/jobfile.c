/* jobfile.c - YAML job files -> validated job_config. Walks libyaml's
 * document tree (every node keeps its line and column) guided by the field
 * table of model/job.c, builds the job JSON of docs/protocol.md section 1,
 * and lets job_config_from_json validate it; errors come back as
 * FILE:LINE:COL by mapping the failing field path to its node. */
#include "config/jobfile.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "base/fs.h"
#include "base/parse.h"
#include "base/suggest.h"
#include "model/template.h"

struct mark {
    char *path;
    yaml_mark_t mark;
};

struct loader {
    const char *name; /* file name in messages */
    const char *buf;
    size_t len;
    yaml_document_t *doc;
    json_t *vars; /* template variables: name -> string */
    struct mark *marks;
    size_t n_marks, cap_marks;
    /* Every error found so far, each "FILE:LINE:COL: message", up to
     * JOBFILE_MAX_ERRORS; the others are only counted. */
    char *errors[JOBFILE_MAX_ERRORS];
    size_t n_errors, n_more;
};

/* Move the error in *err (already naming its position) to the loader's
 * list: the loader goes on and reports every error of the file at once. */
static int collect(struct loader *l, bo_error_t *err)
{
    if (!*err)
        return -1;
    if (l->n_errors < JOBFILE_MAX_ERRORS)
        l->errors[l->n_errors++] = BO_STEAL((*err)->msg);
    else
        l->n_more++;
    bo_error_freep(err);
    return -1;
}

static int errat(struct loader *l, yaml_mark_t m, bo_error_t *err, const char *fmt, ...) BO_PRINTF(4, 5);
static int errat(struct loader *l, yaml_mark_t m, bo_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = bo_xvasprintf(fmt, ap);
    va_end(ap);
    bo_error_set(err, BO_E_INVALID, "%s:%zu:%zu: %s", l->name, m.line + 1, m.column + 1, msg);
    return collect(l, err);
}

/* Prefix an error made elsewhere (parse helpers, templates) with a position. */
static int wrapat(struct loader *l, yaml_mark_t m, bo_error_t *err)
{
    bo_error_wrap(err, "%s:%zu:%zu", l->name, m.line + 1, m.column + 1);
    return collect(l, err);
}

/* The one error of the load: every collected error, one per line, with
 * "and N more" past the limit. `err` may hold a last error without a
 * position (a --bind, a missing job), which comes last. */
static int finish(struct loader *l, bo_error_t *err)
{
    if (*err && l->n_errors == 0)
        return -1;
    collect(l, err);
    char *msg = bo_xstrdup("");
    for (size_t i = 0; i < l->n_errors; i++) {
        char *m = bo_xasprintf("%s%s%s", msg, i ? "\n" : "", l->errors[i]);
        free(msg);
        msg = m;
    }
    if (l->n_more) {
        char *m = bo_xasprintf("%s\n... and %zu more error%s", msg, l->n_more, l->n_more == 1 ? "" : "s");
        free(msg);
        msg = m;
    }
    bo_error_set(err, BO_E_INVALID, "%s", msg);
    free(msg);
    return -1;
}

static void record(struct loader *l, const char *path, yaml_mark_t m)
{
    if (l->n_marks == l->cap_marks) {
        l->cap_marks = l->cap_marks ? l->cap_marks * 2 : 32;
        l->marks = bo_xrealloc(l->marks, l->cap_marks * sizeof(*l->marks));
    }
    l->marks[l->n_marks++] = (struct mark){bo_xstrdup(path), m};
}

/* The position of `path`, or of its closest recorded parent. */
static yaml_mark_t find_mark(struct loader *l, const char *path)
{
    _cleanup_free_ char *p = bo_xstrdup(path);
    for (;;) {
        for (size_t i = 0; i < l->n_marks; i++)
            if (strcmp(l->marks[i].path, p) == 0)
                return l->marks[i].mark;
        char *dot = strrchr(p, '.'), *br = strrchr(p, '[');
        char *cut = dot > br ? dot : br;
        if (!cut) {
            if (!*p)
                return (yaml_mark_t){0};
            *p = '\0';
        } else {
            *cut = '\0';
        }
    }
}

static yaml_node_t *node_at(struct loader *l, int i) { return yaml_document_get_node(l->doc, i); }

/* The text of a scalar node, or NULL (not a scalar, or holds a NUL). */
static const char *scalar(yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return NULL;
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length)
        return NULL;
    return s;
}

static const char *desc(const char *path) { return *path ? path : "job"; }

/* "; did you mean `task`?" for an unknown field of `object`, or "". */
static char *field_hint(const char *object, const char *name)
{
    size_t n, k = 0;
    const struct job_field *t = job_field_table(&n);
    const char **names = bo_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].object, object) == 0)
            names[k++] = t[i].name;
    char *hint = bo_did_you_mean(name, names, k, "");
    free(names);
    return hint;
}

static char *path_join(const char *path, const char *name)
{
    return *path ? bo_xasprintf("%s.%s", path, name) : bo_xstrdup(name);
}

static int parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < BO_ARRAY_SIZE(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -1;
}

static int conv_object(struct loader *l, yaml_node_t *n, const char *object, const char *path, json_t **ret,
                       bo_error_t *err);
static yaml_mark_t offset_mark(const char *buf, size_t len, size_t off);

/* Where in the file the text at byte `off` of scalar `n`'s value was
 * written: a multi-line command line's bad variable is on its own line, not
 * on the scalar's first one. The variable's text ("{{...}}") is looked for
 * in the scalar's source, as the same occurrence as in the value; when the
 * source spells it differently (escapes, folding) the scalar's start is
 * the best we know. */
static yaml_mark_t scalar_text_mark(struct loader *l, yaml_node_t *n, const char *value, size_t off)
{
    const char *var = value + off, *close = strstr(var, "}}");
    size_t vlen = close ? (size_t)(close + 2 - var) : strlen(var);
    if (vlen == 0 || !l->buf)
        return n->start_mark;
    size_t nth = 0;
    for (const char *p = value; (p = memmem(p, (size_t)(var - p), var, vlen)) != NULL && p < var; p++)
        nth++;
    /* The scalar's first byte: its line, then its column in code points. */
    size_t from = 0, line = 0;
    while (from < l->len && line < n->start_mark.line)
        if (l->buf[from++] == '\n')
            line++;
    for (size_t col = 0; from < l->len && col < n->start_mark.column; col++) {
        from++;
        while (from < l->len && ((unsigned char)l->buf[from] & 0xC0) == 0x80)
            from++;
    }
    size_t to = from;
    for (line = n->start_mark.line; to < l->len && line <= n->end_mark.line; to++)
        if (l->buf[to] == '\n')
            line++;
    const char *p = l->buf + from, *end = l->buf + to;
    for (;;) {
        if (p >= end || (size_t)(end - p) < vlen)
            return n->start_mark;
        const char *hit = memmem(p, (size_t)(end - p), var, vlen);
        if (!hit)
            return n->start_mark;
        if (nth-- == 0)
            return offset_mark(l->buf, l->len, (size_t)(hit - l->buf));
        p = hit + 1;
    }
}

static int conv_string(struct loader *l, yaml_node_t *n, const char *path, bool templated, json_t **ret,
                       bo_error_t *err)
{
    const char *s = scalar(n);
    if (!s)
        return errat(l, n->start_mark, err, "%s: must be a string", path);
    _cleanup_free_ char *expanded = NULL;
    if (templated) {
        size_t off = 0;
        if (template_expand_user_at(s, l->vars, &expanded, &off, err) < 0)
            return wrapat(l, scalar_text_mark(l, n, s, off), err);
        s = expanded;
    }
    json_t *j = json_string(s);
    if (!j)
        return errat(l, n->start_mark, err, "%s: is not valid UTF-8", path);
    *ret = j;
    return 0;
}

static int conv_value(struct loader *l, const struct job_field *f, yaml_node_t *n, const char *path, json_t **ret,
                      bo_error_t *err)
{
    record(l, path, n->start_mark);
    if (f->type == JOB_FIELD_OBJECT)
        return conv_object(l, n, f->child, path, ret, err);
    if (f->type == JOB_FIELD_STRING_LIST || f->type == JOB_FIELD_OBJECT_LIST) {
        if (n->type != YAML_SEQUENCE_NODE)
            return errat(l, n->start_mark, err, "%s: must be a list", path);
        json_t *a = json_array();
        size_t i = 0;
        int failed = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
            /* One past the limit is enough for job.c to refuse the list;
             * converting a million aliased entries first is not. */
            if ((double)i > f->max)
                break;
            yaml_node_t *e = node_at(l, *it);
            _cleanup_free_ char *ip = bo_xasprintf("%s[%zu]", path, i);
            json_t *v = NULL;
            int r;
            if (f->type == JOB_FIELD_STRING_LIST) {
                record(l, ip, e->start_mark);
                r = conv_string(l, e, ip, f->templated, &v, err);
            } else {
                record(l, ip, e->start_mark);
                r = conv_object(l, e, f->child, ip, &v, err);
            }
            if (r < 0) {
                failed = -1;
                continue;
            }
            json_array_append_new(a, v);
        }
        if (failed < 0) {
            json_decref(a);
            return -1;
        }
        *ret = a;
        return 0;
    }
    if (f->type == JOB_FIELD_INT_LIST) {
        if (n->type != YAML_SEQUENCE_NODE)
            return errat(l, n->start_mark, err, "%s: must be a list", path);
        json_t *a = json_array();
        size_t i = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
            if ((double)i > f->max) /* one past the limit: job.c refuses the list */
                break;
            yaml_node_t *e = node_at(l, *it);
            _cleanup_free_ char *ip = bo_xasprintf("%s[%zu]", path, i);
            record(l, ip, e->start_mark);
            const char *es = scalar(e);
            int64_t v;
            if (!es) {
                json_decref(a);
                return errat(l, e->start_mark, err, "%s: must be a single value", ip);
            }
            if (bo_parse_i64(es, INT64_MIN, INT64_MAX, ip, &v, err) < 0) {
                json_decref(a);
                return wrapat(l, e->start_mark, err);
            }
            json_array_append_new(a, json_integer(v));
        }
        *ret = a;
        return 0;
    }
    if (f->type == JOB_FIELD_STRING || f->type == JOB_FIELD_ENUM)
        return conv_string(l, n, path, f->templated, ret, err);

    const char *s = scalar(n);
    if (!s)
        return errat(l, n->start_mark, err, "%s: must be a single value", path);
    switch (f->type) {
    case JOB_FIELD_INT: {
        int64_t v;
        if (bo_parse_i64(s, INT64_MIN, INT64_MAX, path, &v, err) < 0)
            return wrapat(l, n->start_mark, err);
        *ret = json_integer(v);
        return 0;
    }
    case JOB_FIELD_DURATION: {
        int64_t v;
        if (bo_parse_duration_ms(s, path, &v, err) < 0)
            return wrapat(l, n->start_mark, err);
        *ret = json_integer(v);
        return 0;
    }
    case JOB_FIELD_BOOL: {
        bool b;
        if (parse_bool(s, &b) < 0)
            return errat(l, n->start_mark, err, "%s: `%.64s` is not a boolean (use true or false)", path, s);
        *ret = json_boolean(b);
        return 0;
    }
    case JOB_FIELD_NUMBER: {
        double v;
        if (bo_parse_double(s, -1e300, 1e300, path, &v, err) < 0)
            return wrapat(l, n->start_mark, err);
        *ret = json_real(v);
        return 0;
    }
    case JOB_FIELD_SIZE: {
        uint64_t v;
        if (bo_parse_size(s, path, &v, err) < 0)
            return wrapat(l, n->start_mark, err);
        *ret = json_integer((json_int_t)v);
        return 0;
    }
    default:
        return errat(l, n->start_mark, err, "%s: unsupported field type", path);
    }
}

static int conv_object(struct loader *l, yaml_node_t *n, const char *object, const char *path, json_t **ret,
                       bo_error_t *err)
{
    if (n->type != YAML_MAPPING_NODE)
        return errat(l, n->start_mark, err, "%s: must be a mapping", desc(path));
    json_t *o = json_object();
    int failed = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(l, p->key), *v = node_at(l, p->value);
        const char *name = scalar(k);
        const struct job_field *f = name ? job_field_find(object, name) : NULL;
        if (!f) {
            if (name) {
                _cleanup_free_ char *hint = field_hint(object, name);
                failed = errat(l, k->start_mark, err, "unknown field `%.100s` in %s%s", name, desc(path), hint);
            } else {
                failed = errat(l, k->start_mark, err, "field names in %s must be plain words", desc(path));
            }
            continue;
        }
        if (json_object_get(o, name)) {
            failed = errat(l, k->start_mark, err, "duplicate field `%s` in %s", name, desc(path));
            continue;
        }
        _cleanup_free_ char *fp = path_join(path, name);
        json_t *jv = NULL;
        if (conv_value(l, f, v, fp, &jv, err) < 0) {
            failed = -1;
            continue;
        }
        json_object_set_new(o, name, jv);
    }
    if (failed < 0) {
        json_decref(o);
        return -1;
    }
    *ret = o;
    return 0;
}

/* The value of key `name` in mapping `n` (first one), or NULL. */
static yaml_node_t *map_get(struct loader *l, yaml_node_t *n, const char *name)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = scalar(node_at(l, p->key));
        if (k && strcmp(k, name) == 0)
            return node_at(l, p->value);
    }
    return NULL;
}

static const char *const key_fields[] = {"cluster", "role", "environment", "name"};

/* "c/r/e/n" of a job node, or NULL if one part is missing or not a string. */
static char *job_node_key(struct loader *l, yaml_node_t *job)
{
    const char *v[4];
    for (size_t i = 0; i < 4; i++)
        if (!(v[i] = scalar(map_get(l, job, key_fields[i]))))
            return NULL;
    return bo_xasprintf("%s/%s/%s/%s", v[0], v[1], v[2], v[3]);
}

static int check_var_name(const char *name, const char *what, bo_error_t *err)
{
    if (job_ident_validate(name, what, err) < 0)
        return -1;
    if (template_name_is_reserved(name))
        return bo_error_set(err, BO_E_INVALID, "%s `%s` is a built-in variable", what, name);
    return 0;
}

static int build_vars(struct loader *l, yaml_node_t *job, yaml_node_t *vars, const struct jobfile_options *o,
                      bo_error_t *err)
{
    for (size_t i = 0; i < 4; i++) {
        const char *s = scalar(map_get(l, job, key_fields[i]));
        json_t *js = s ? json_string(s) : NULL;
        if (js)
            json_object_set_new(l->vars, key_fields[i], js);
    }
    int failed = 0;
    if (vars) {
        if (vars->type != YAML_MAPPING_NODE)
            return errat(l, vars->start_mark, err, "vars: must be a mapping");
        json_t *seen = json_object();
        for (yaml_node_pair_t *p = vars->data.mapping.pairs.start; p < vars->data.mapping.pairs.top; p++) {
            yaml_node_t *k = node_at(l, p->key), *v = node_at(l, p->value);
            const char *name = scalar(k), *val = scalar(v);
            json_t *js = val ? json_string(val) : NULL;
            int r = 0;
            if (!name)
                r = errat(l, k->start_mark, err, "vars: variable names must be plain words");
            else if (check_var_name(name, "vars: variable", err) < 0)
                r = wrapat(l, k->start_mark, err);
            else if (json_object_get(seen, name))
                r = errat(l, k->start_mark, err, "vars: duplicate variable `%s`", name);
            else if (!val)
                r = errat(l, v->start_mark, err, "vars.%s: must be a string", name);
            else if (!js)
                r = errat(l, v->start_mark, err, "vars.%s: is not valid UTF-8", name);
            if (r < 0) {
                json_decref(js);
                failed = -1;
                continue;
            }
            json_object_set_new(seen, name, json_true());
            json_object_set_new(l->vars, name, js);
        }
        json_decref(seen);
    }
    if (failed < 0)
        return -1;
    for (size_t i = 0; o && i < o->n_binds; i++) {
        const char *b = o->binds[i], *eq = strchr(b, '=');
        if (!eq || eq == b)
            return bo_error_set(err, BO_E_INVALID, "invalid --bind `%s`: expected NAME=VALUE", b);
        _cleanup_free_ char *name = bo_xstrndup(b, (size_t)(eq - b));
        if (check_var_name(name, "variable", err) < 0)
            return bo_error_wrap(err, "invalid --bind `%s`", b);
        json_t *js = json_string(eq + 1);
        if (!js)
            return bo_error_set(err, BO_E_INVALID, "invalid --bind `%s`: value is not valid UTF-8", b);
        json_object_set_new(l->vars, name, js);
    }
    return 0;
}

/* Find the one job named `key` (or the only job when key is NULL). */
static int select_job(struct loader *l, yaml_node_t *jobs, const char *key, yaml_node_t **ret, bo_error_t *err)
{
    struct job_key want = {0};
    _cleanup_free_ char *want_s = NULL;
    if (key) {
        if (job_key_parse(key, &want, err) < 0)
            return -1;
        want_s = job_key_str(&want);
        job_key_clear(&want);
    }
    yaml_node_t *found = NULL;
    size_t n_jobs = 0;
    for (yaml_node_item_t *it = jobs->data.sequence.items.start; it < jobs->data.sequence.items.top; it++) {
        yaml_node_t *j = node_at(l, *it);
        n_jobs++;
        if (!key) {
            found = j;
            continue;
        }
        _cleanup_free_ char *k = job_node_key(l, j);
        if (!k || strcmp(k, want_s) != 0)
            continue;
        if (found)
            return errat(l, j->start_mark, err, "duplicate job %s (first at line %zu)", want_s,
                         found->start_mark.line + 1);
        found = j;
    }
    if (found && (key || n_jobs == 1)) {
        *ret = found;
        return 0;
    }
    /* Not found: list what the file has (a bounded number). */
    char *list = bo_xstrdup("");
    size_t shown = 0;
    for (yaml_node_item_t *it = jobs->data.sequence.items.start; it < jobs->data.sequence.items.top; it++) {
        _cleanup_free_ char *k = job_node_key(l, node_at(l, *it));
        if (!k)
            continue;
        if (shown == 20) {
            char *m = bo_xasprintf("%s, ...", list);
            free(list);
            list = m;
            break;
        }
        char *m = bo_xasprintf("%s%s%.300s", list, shown ? ", " : "", k);
        free(list);
        list = m;
        shown++;
    }
    int r;
    if (key)
        r = bo_error_set(err, BO_E_INVALID, "%s has no job %s (it has: %s)", l->name, want_s,
                         shown ? list : "none");
    else
        r = bo_error_set(err, BO_E_INVALID, "%s holds %zu jobs, name one as cluster/role/environment/name (it has: %s)",
                         l->name, n_jobs, shown ? list : "none");
    free(list);
    return r;
}

/* job.c refused the value at `path` (e.g. "task.processes[0].cmdline") of
 * `job`: change it so the next check can find the next error. A field
 * with a default loses its value, a bad entry of a list of strings is
 * dropped, a required number gets its maximum and a required string
 * "prod" (a valid value of every string field). Returns false when the
 * error is not about one value (a whole object, a rule across fields). */
static bool repair(json_t *job, const char *path)
{
    _cleanup_free_ char *copy = bo_xstrdup(path);
    const char *object = "job";
    json_t *cur = job;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        char *br = strchr(tok, '[');
        long index = -1;
        if (br) {
            *br = '\0';
            index = strtol(br + 1, NULL, 10);
        }
        const struct job_field *f = job_field_find(object, tok);
        if (!f || !json_is_object(cur))
            return false;
        bool last = save == NULL || *save == '\0';
        if (last && index < 0) {
            if (f->def)
                return json_object_del(cur, tok) == 0;
            switch (f->type) {
            case JOB_FIELD_NUMBER:
                return json_object_set_new(cur, tok, json_real(f->max)) == 0;
            case JOB_FIELD_INT:
            case JOB_FIELD_SIZE:
            case JOB_FIELD_DURATION:
                return json_object_set_new(cur, tok, json_integer((json_int_t)f->max)) == 0;
            case JOB_FIELD_STRING:
                return json_object_set_new(cur, tok, json_string("prod")) == 0;
            default:
                return false;
            }
        }
        if (last)
            return f->type == JOB_FIELD_STRING_LIST && json_array_remove(json_object_get(cur, tok), (size_t)index) == 0;
        cur = json_object_get(cur, tok);
        if (index >= 0)
            cur = json_array_get(cur, (size_t)index);
        if (!cur || !f->child)
            return false;
        object = f->child;
    }
    return false;
}

/* Validate the converted job with job.c; after an error, repair the value
 * and check again, so every invalid value of the file is reported. */
static int validate(struct loader *l, json_t *j, struct job_config **ret, bo_error_t *err)
{
    _cleanup_free_ char *prev = NULL;
    for (size_t round = 0; round <= JOBFILE_MAX_ERRORS; round++) {
        char *bad = NULL;
        struct job_config *c = NULL;
        if (job_config_from_json_at(j, &c, &bad, err) == 0) {
            if (l->n_errors == 0) {
                *ret = c;
                return 0;
            }
            job_config_unref(c);
            return -1;
        }
        if (!bad)
            bad = bo_xstrdup("");
        /* The same value again: the repair did not help; stop. */
        if (prev && strcmp(prev, bad) == 0 && l->n_errors > 0) {
            bo_error_freep(err);
            free(bad);
            return -1;
        }
        wrapat(l, find_mark(l, bad), err);
        free(prev);
        prev = bad;
        if (!repair(j, bad))
            return -1;
    }
    return -1;
}

static int load_document(struct loader *l, const char *key, const struct jobfile_options *o,
                         struct job_config **ret, bo_error_t *err)
{
    yaml_node_t *root = yaml_document_get_root_node(l->doc);
    if (!root)
        return bo_error_set(err, BO_E_INVALID, "%s: the file is empty (expected `jobs:`)", l->name);
    if (root->type != YAML_MAPPING_NODE)
        return errat(l, root->start_mark, err, "the file must be a mapping with `jobs:` (and optional `vars:`)");
    yaml_node_t *vars = NULL, *jobs = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(l, p->key);
        const char *name = scalar(k);
        yaml_node_t **slot = !name ? NULL : strcmp(name, "jobs") == 0 ? &jobs : strcmp(name, "vars") == 0 ? &vars : NULL;
        if (!slot) {
            static const char *const top[] = {"jobs", "vars"};
            _cleanup_free_ char *hint = bo_did_you_mean(name ? name : "", top, 2, "");
            errat(l, k->start_mark, err, "unknown field `%.100s` at top level (expected jobs, vars)%s",
                  name ? name : "?", hint);
        } else if (*slot) {
            errat(l, k->start_mark, err, "duplicate field `%s` at top level", name);
        } else {
            *slot = node_at(l, p->value);
        }
    }
    if (!jobs)
        return errat(l, root->start_mark, err, "missing `jobs:`");
    if (jobs->type != YAML_SEQUENCE_NODE)
        return errat(l, jobs->start_mark, err, "jobs: must be a list");
    if (jobs->data.sequence.items.start == jobs->data.sequence.items.top)
        return errat(l, jobs->start_mark, err, "jobs: must not be empty");

    yaml_node_t *job = NULL;
    if (select_job(l, jobs, key, &job, err) < 0)
        return -1;
    /* Bad vars are reported, and the job is still read for its own
     * errors (a --bind error is reported alone). */
    if (build_vars(l, job, vars, o, err) < 0 && *err)
        return -1;
    record(l, "", job->start_mark);
    json_t *j = NULL;
    if (conv_object(l, job, "job", "", &j, err) < 0 || l->n_errors > 0) {
        json_decref(j);
        return -1;
    }
    int r = validate(l, j, ret, err);
    json_decref(j);
    return r;
}

/* Line and column of a byte offset (reader errors carry only the offset). */
static yaml_mark_t offset_mark(const char *buf, size_t len, size_t off)
{
    yaml_mark_t m = {0};
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            m.line++;
            m.column = 0;
        } else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
            m.column++; /* columns count characters, as libyaml's do */
        }
    }
    return m;
}

/* A syntax error is reported where its construct starts: libyaml notices
 * an unclosed `{`, `[` or quote only where the next token fails (often
 * the next line) and gives the opening in context_mark. A block mapping
 * or sequence may start far above the mistake, so for those the problem's
 * own position is the better one. */
static int syntax_error(struct loader *l, yaml_parser_t *p, bo_error_t *err)
{
    if (p->error == YAML_MEMORY_ERROR)
        return bo_error_set(err, BO_E_INTERNAL, "%s: out of memory while parsing YAML", l->name);
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_READER_ERROR)
        return errat(l, offset_mark(l->buf, l->len, p->problem_offset), err, "YAML syntax error: %s", problem);
    yaml_mark_t pm = p->problem_mark, cm = p->context_mark;
    bool use_context = p->context && strstr(p->context, "block") == NULL &&
                       (cm.line < pm.line || (cm.line == pm.line && cm.column < pm.column));
    if (!use_context)
        return errat(l, pm, err, "YAML syntax error: %s%s%s", problem, p->context ? " " : "",
                     p->context ? p->context : "");
    /* "while parsing a flow mapping" -> "a flow mapping". */
    const char *what = p->context;
    if (strncmp(what, "while parsing ", 14) == 0)
        what += 14;
    else if (strncmp(what, "while scanning ", 15) == 0)
        what += 15;
    if (strncmp(what, "a ", 2) == 0)
        what += 2;
    else if (strncmp(what, "an ", 3) == 0)
        what += 3;
    return errat(l, cm, err, "YAML syntax error in the %s that starts here: %s (noticed at line %zu, column %zu)", what,
                 problem, pm.line + 1, pm.column + 1);
}

/* libyaml's scanner is quadratic in flow nesting depth and its document
 * loader recurses per level, so a small hostile file could take minutes
 * or overflow the stack. A job file needs 4 levels; a quick pass over the
 * events refuses anything deeper than JOBFILE_MAX_DEPTH before loading
 * (it stops at the first too-deep node, so its own cost stays bounded). */
#define JOBFILE_MAX_DEPTH 64

static int check_depth(struct loader *l, bo_error_t *err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return bo_error_set(err, BO_E_INTERNAL, "%s: cannot initialise the YAML parser", l->name);
    yaml_parser_set_input_string(&p, (const unsigned char *)l->buf, l->len);
    int depth = 0, r = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            r = syntax_error(l, &p, err);
            break;
        }
        yaml_event_type_t type = ev.type;
        yaml_mark_t m = ev.start_mark;
        yaml_event_delete(&ev);
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > JOBFILE_MAX_DEPTH) {
                r = errat(l, m, err, "nesting deeper than %d levels", JOBFILE_MAX_DEPTH);
                break;
            }
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        } else if (type == YAML_STREAM_END_EVENT) {
            break;
        }
    }
    yaml_parser_delete(&p);
    return r;
}

int jobfile_load_buffer(const char *name, const char *buf, size_t len, const char *key,
                        const struct jobfile_options *o, struct job_config **ret, bo_error_t *ret_err)
{
    if (len > JOBFILE_MAX_SIZE)
        return bo_error_set(ret_err, BO_E_INVALID, "%s is larger than %u bytes", name, JOBFILE_MAX_SIZE);
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    struct loader l = {.name = name, .buf = buf, .len = len, .doc = &doc};
    /* Errors are collected in the loader (see collect) and come out
     * together through finish(). */
    _cleanup_error_ bo_error_t e = NULL;
    bo_error_t *err = &e;
    int r;
    if (check_depth(&l, err) < 0)
        goto done;
    if (!yaml_parser_initialize(&parser)) {
        bo_error_set(err, BO_E_INTERNAL, "%s: cannot initialise the YAML parser", name);
        goto done;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(&l, &parser, err);
        yaml_parser_delete(&parser);
        goto done;
    }
    /* A second document would be silently ignored: refuse it. */
    if (!yaml_parser_load(&parser, &extra)) {
        r = syntax_error(&l, &parser, err);
        goto out;
    }
    bool has_extra = yaml_document_get_root_node(&extra) != NULL;
    yaml_mark_t extra_mark = extra.start_mark;
    yaml_document_delete(&extra);
    if (has_extra) {
        r = errat(&l, extra_mark, err, "a job file holds one YAML document (remove this `---`)");
        goto out;
    }
    l.vars = json_object();
    r = load_document(&l, key, o, ret, err);
out:
    json_decref(l.vars);
    for (size_t i = 0; i < l.n_marks; i++)
        free(l.marks[i].path);
    free(l.marks);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (r == 0)
        return 0;
done:
    finish(&l, err);
    for (size_t i = 0; i < l.n_errors; i++)
        free(l.errors[i]);
    if (ret_err)
        *ret_err = BO_STEAL(e);
    return -1;
}

int jobfile_load(const char *path, const char *key, const struct jobfile_options *o, struct job_config **ret,
                 bo_error_t *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (bo_read_file(path, JOBFILE_MAX_SIZE, &buf, &len, err) < 0)
        return -1;
    return jobfile_load_buffer(path, buf, len, key, o, ret, err);
}
