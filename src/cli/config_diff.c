/* config_diff.c - structural diff of job configurations (see header). */
#include "cli/config_diff.h"

#include <stdbool.h>
#include <string.h>

#include "base/util.h"

static char *value_text(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        abort(); /* jansson fails only for lack of memory here */
    return s;
}

static void add_change(struct config_diff *d, const char *path, json_t *a, json_t *b)
{
    d->changes = bo_xrealloc(d->changes, (d->n + 1) * sizeof(*d->changes));
    d->changes[d->n++] = (struct diff_change){
        .path = bo_xstrdup(path),
        .old_value = a ? value_text(a) : NULL,
        .new_value = b ? value_text(b) : NULL,
    };
}

/* Lists whose every element is an object with a unique string "name"
 * (processes) are compared element by element, matched by name, so
 * editing one process names that process instead of the whole list. */
static bool is_named_list(json_t *l)
{
    if (!json_is_array(l))
        return false;
    size_t n = json_array_size(l);
    for (size_t i = 0; i < n; i++) {
        json_t *name = json_object_get(json_array_get(l, i), "name");
        if (!json_is_string(name))
            return false;
        for (size_t j = 0; j < i; j++)
            if (json_equal(name, json_object_get(json_array_get(l, j), "name")))
                return false;
    }
    return true;
}

static json_t *find_named(json_t *l, json_t *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(l, i, e) if (json_equal(json_object_get(e, "name"), name)) return e;
    return NULL;
}

static void diff_value(struct config_diff *d, const char *path, json_t *a, json_t *b);

static void diff_named_lists(struct config_diff *d, const char *path, json_t *a, json_t *b)
{
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        json_t *name = json_object_get(e, "name");
        _cleanup_free_ char *p = bo_xasprintf("%s[%s]", path, json_string_value(name));
        diff_value(d, p, e, find_named(b, name));
    }
    json_array_foreach(b, i, e)
    {
        json_t *name = json_object_get(e, "name");
        if (!find_named(a, name)) {
            _cleanup_free_ char *p = bo_xasprintf("%s[%s]", path, json_string_value(name));
            add_change(d, p, NULL, e);
        }
    }
}

static void diff_objects(struct config_diff *d, const char *path, json_t *a, json_t *b)
{
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v)
    {
        _cleanup_free_ char *p = path[0] ? bo_xasprintf("%s.%s", path, k) : bo_xstrdup(k);
        diff_value(d, p, v, json_object_get(b, k));
    }
    json_object_foreach(b, k, v)
    {
        if (json_object_get(a, k))
            continue;
        _cleanup_free_ char *p = path[0] ? bo_xasprintf("%s.%s", path, k) : bo_xstrdup(k);
        add_change(d, p, NULL, v);
    }
}

static void diff_value(struct config_diff *d, const char *path, json_t *a, json_t *b)
{
    if (!a || !b) {
        if (a || b)
            add_change(d, path, a, b);
        return;
    }
    if (json_is_object(a) && json_is_object(b))
        diff_objects(d, path, a, b);
    else if (is_named_list(a) && is_named_list(b))
        diff_named_lists(d, path, a, b);
    else if (!json_equal(a, b))
        add_change(d, path, a, b);
}

void config_diff_json(json_t *old_doc, json_t *new_doc, struct config_diff *ret)
{
    struct config_diff d = {NULL, 0};
    diff_value(&d, "", old_doc, new_doc);
    *ret = d;
}

void config_diff_jobs(const struct job_config *old_cfg, const struct job_config *new_cfg,
                      struct config_diff *ret)
{
    json_t *a = job_config_to_json(old_cfg), *b = job_config_to_json(new_cfg);
    config_diff_json(a, b, ret);
    json_decref(a);
    json_decref(b);
}

void config_diff_print(const struct config_diff *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct diff_change *c = &d->changes[i];
        if (c->old_value)
            fprintf(out, "- %s: %s\n", c->path, c->old_value);
        if (c->new_value)
            fprintf(out, "+ %s: %s\n", c->path, c->new_value);
    }
}

void config_diff_clear(struct config_diff *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->changes[i].path);
        free(d->changes[i].old_value);
        free(d->changes[i].new_value);
    }
    free(d->changes);
    d->changes = NULL;
    d->n = 0;
}
