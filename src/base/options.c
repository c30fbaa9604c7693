/* options.c - the table-driven option parser shared by every program (see
 * options.h for the syntax). */
#include "base/options.h"

#include <string.h>

#include "base/parse.h"
#include "base/timefmt.h"
#include "base/suggest.h"

size_t bo_opts_count(const struct bo_option *table)
{
    size_t n = 0;
    while (table && table[n].name)
        n++;
    return n;
}

const char *bo_opt_metavar(const struct bo_option *o)
{
    if (o->arg || o->kind == BO_OPT_FLAG)
        return o->arg;
    switch (o->kind) {
    case BO_OPT_INT:
    case BO_OPT_NUMBER:
        return "N";
    case BO_OPT_SIZE:
        return "SIZE";
    case BO_OPT_DURATION:
        return "DURATION";
    case BO_OPT_CHOICE:
        return "CHOICE";
    default:
        return "VALUE";
    }
}

static bool bounded(const struct bo_option *o) { return o->min != 0 || o->max != 0; }

/* Check `text` against o's kind and bounds; the typed value in *ret. */
static int convert(const struct bo_option *o, const char *text, union bo_opt_value *ret, bo_error_t *err)
{
    _cleanup_free_ char *what = bo_xasprintf("--%s", o->name);
    union bo_opt_value v = {0};
    switch (o->kind) {
    case BO_OPT_FLAG:
        v.flag = true;
        break;
    case BO_OPT_STRING:
        if (!*text)
            return bo_error_set(err, BO_E_INVALID, "%s %s must not be empty", what, bo_opt_metavar(o));
        break;
    case BO_OPT_INT:
        if (bo_parse_i64(text, bounded(o) ? (int64_t)o->min : INT64_MIN, bounded(o) ? (int64_t)o->max : INT64_MAX,
                         what, &v.i, err) < 0)
            return -1;
        break;
    case BO_OPT_NUMBER:
        if (bo_parse_double(text, bounded(o) ? o->min : -1e300, bounded(o) ? o->max : 1e300, what, &v.d, err) < 0)
            return -1;
        break;
    case BO_OPT_SIZE: {
        if (bo_parse_size(text, what, &v.u, err) < 0)
            return -1;
        char b[32];
        if (bounded(o) && (double)v.u < o->min) {
            bo_format_size((uint64_t)o->min, b, sizeof(b));
            return bo_error_set(err, BO_E_INVALID, "%s: `%s` is less than the minimum, %s", what, text, b);
        }
        if (bounded(o) && (double)v.u > o->max) {
            bo_format_size((uint64_t)o->max, b, sizeof(b));
            return bo_error_set(err, BO_E_INVALID, "%s: `%s` is more than the maximum, %s", what, text, b);
        }
        break;
    }
    case BO_OPT_DURATION: {
        /* The one duration syntax of the project (base/parse.h). */
        if (bo_parse_duration_ms(text, what, &v.i, err) < 0)
            return -1;
        char b[32];
        if (bounded(o) && (double)v.i < o->min) {
            bo_format_duration((int64_t)o->min, b, sizeof(b));
            return bo_error_set(err, BO_E_INVALID, "%s: `%s` is less than the minimum, %s", what, text, b);
        }
        if (bounded(o) && (double)v.i > o->max) {
            bo_format_duration((int64_t)o->max, b, sizeof(b));
            return bo_error_set(err, BO_E_INVALID, "%s: `%s` is more than the maximum, %s", what, text, b);
        }
        break;
    }
    case BO_OPT_CHOICE: {
        _cleanup_free_ char *list = bo_xstrdup("");
        for (int i = 0; o->choices[i]; i++) {
            if (strcmp(o->choices[i], text) == 0) {
                v.choice = i;
                *ret = v;
                return 0;
            }
            char *m = bo_xasprintf("%s%s%s", list, i == 0 ? "" : o->choices[i + 1] ? ", " : " or ", o->choices[i]);
            free(list);
            list = m;
        }
        return bo_error_set(err, BO_E_INVALID, "%s: `%.64s` must be %s", what, text, list);
    }
    }
    *ret = v;
    return 0;
}

/* Store one value into the caller's target, through set or at. */
static int store(const struct bo_option *o, const char *text, const union bo_opt_value *v, void *target,
                 bo_error_t *err)
{
    if (o->set)
        return o->set(target, o, text, err);
    if (!o->at || !target)
        return 0;
    void *field = (char *)target + o->at - 1;
    switch (o->kind) {
    case BO_OPT_FLAG:
        *(bool *)field = v->flag;
        break;
    case BO_OPT_STRING:
        *(const char **)field = text;
        break;
    case BO_OPT_INT:
    case BO_OPT_DURATION:
        *(int64_t *)field = v->i;
        break;
    case BO_OPT_NUMBER:
        *(double *)field = v->d;
        break;
    case BO_OPT_SIZE:
        *(uint64_t *)field = v->u;
        break;
    case BO_OPT_CHOICE:
        *(int *)field = v->choice;
        break;
    }
    return 0;
}

static int find(const struct bo_option *table, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(table[i].name) == len && strncmp(table[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static int find_short(const struct bo_option *table, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].short_name == c)
            return (int)i;
    return -1;
}

static int unknown(const struct bo_option *table, size_t n, const char *word, size_t len, bo_error_t *err)
{
    _cleanup_free_ char *name = bo_xstrndup(word, len);
    const char **names = bo_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        names[i] = table[i].name;
    names[n] = "help";
    _cleanup_free_ char *hint = bo_did_you_mean(name, names, n + 1, "--");
    free(names);
    return bo_error_set(err, BO_E_INVALID, "unknown option `--%.100s`%s", name, hint);
}

static int parse(const struct bo_option *table, int argc, char **argv, void *target, bool head, struct bo_opts *ret,
                 bo_error_t *err)
{
    size_t n = bo_opts_count(table);
    struct bo_opts o = {.table = table, .n = n};
    int rc = BO_OPTS_BAD_VALUE;
    o.count = bo_xcalloc(n + 1, sizeof(*o.count));
    o.texts = bo_xcalloc(n + 1, sizeof(*o.texts));
    o.value = bo_xcalloc(n + 1, sizeof(*o.value));
    o.pos = bo_xcalloc((size_t)(argc > 0 ? argc : 0) + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        if (!table[i].def)
            continue;
        if (convert(&table[i], table[i].def, &o.value[i], err) < 0 ||
            store(&table[i], table[i].def, &o.value[i], target, err) < 0) {
            bo_error_wrap(err, "default of --%s (a bug)", table[i].name);
            goto fail;
        }
    }
    rc = BO_OPTS_BAD_USAGE;
    bool options_done = false;
    for (int a = 0; a < argc; a++) {
        char *w = argv[a];
        if (options_done || w[0] != '-' || strcmp(w, "-") == 0) {
            if (head)
                break;
            o.pos[o.n_pos++] = w;
            continue;
        }
        o.n_used = a + 1;
        if (strcmp(w, "--") == 0) {
            if (head)
                break;
            options_done = true;
            continue;
        }
        if (strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0) {
            o.help = true;
            continue;
        }
        const char *eq = NULL;
        int idx;
        if (w[1] != '-') {
            idx = w[2] ? -1 : find_short(table, n, w[1]);
            if (idx < 0) {
                bo_error_set(err, BO_E_INVALID, "unknown option `%.100s`", w);
                goto fail;
            }
        } else {
            const char *name = w + 2;
            eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            idx = find(table, n, name, len);
            if (idx < 0) {
                unknown(table, n, name, len, err);
                goto fail;
            }
        }
        const struct bo_option *opt = &table[idx];
        const char *text = NULL;
        if (opt->kind != BO_OPT_FLAG) {
            if (eq)
                text = eq + 1;
            else if (a + 1 < argc)
                text = argv[++a];
            else {
                bo_error_set(err, BO_E_INVALID, "option `--%s` needs a value (%s)", opt->name, bo_opt_metavar(opt));
                goto fail;
            }
            if (strlen(text) > BO_OPT_VALUE_MAX) {
                rc = BO_OPTS_BAD_VALUE;
                bo_error_set(err, BO_E_INVALID, "--%s: the value is longer than %d characters", opt->name,
                             BO_OPT_VALUE_MAX);
                goto fail;
            }
        } else if (eq) {
            bo_error_set(err, BO_E_INVALID, "option `--%s` takes no value", opt->name);
            goto fail;
        }
        if (convert(opt, text, &o.value[idx], err) < 0 || store(opt, text, &o.value[idx], target, err) < 0) {
            rc = BO_OPTS_BAD_VALUE;
            goto fail;
        }
        if (text) {
            o.texts[idx] = bo_xrealloc(o.texts[idx], (o.count[idx] + 1) * sizeof(char *));
            o.texts[idx][o.count[idx]] = text;
        }
        o.count[idx]++;
        o.n_used = a + 1;
    }
    *ret = o;
    return 0;
fail:
    bo_opts_clear(&o);
    return rc;
}

int bo_opts_parse(const struct bo_option *table, int argc, char **argv, void *target, struct bo_opts *ret,
                  bo_error_t *err)
{
    return parse(table, argc, argv, target, false, ret, err);
}

int bo_opts_parse_head(const struct bo_option *table, int argc, char **argv, void *target, struct bo_opts *ret,
                       bo_error_t *err)
{
    return parse(table, argc, argv, target, true, ret, err);
}

void bo_opts_clear(struct bo_opts *o)
{
    for (size_t i = 0; o->texts && i < o->n; i++)
        free(o->texts[i]);
    free(o->texts);
    free(o->count);
    free(o->value);
    free(o->pos);
    memset(o, 0, sizeof(*o));
}

static size_t index_of(const struct bo_opts *o, const char *name)
{
    int i = find(o->table, o->n, name, strlen(name));
    if (i < 0)
        abort(); /* a program asked for an option its table does not declare: a bug */
    return (size_t)i;
}

bool bo_opts_given(const struct bo_opts *o, const char *name) { return o->count[index_of(o, name)] > 0; }

const char *bo_opts_text(const struct bo_opts *o, const char *name)
{
    size_t i = index_of(o, name);
    return o->texts[i] && o->count[i] ? o->texts[i][o->count[i] - 1] : o->table[i].def;
}

const char *const *bo_opts_texts(const struct bo_opts *o, const char *name, size_t *ret_n)
{
    size_t i = index_of(o, name);
    *ret_n = o->texts[i] ? o->count[i] : 0;
    return (const char *const *)o->texts[i];
}

union bo_opt_value bo_opts_value(const struct bo_opts *o, const char *name) { return o->value[index_of(o, name)]; }
