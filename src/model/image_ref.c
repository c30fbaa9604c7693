/* image_ref.c - parsing and printing image references (see image_ref.h). */
#include "model/image_ref.h"

#include <string.h>

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool image_digest_valid(const char *d)
{
    if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != IMAGE_DIGEST_LEN)
        return false;
    for (const char *p = d + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static bool host_ok(const char *h, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    const char *colon = memchr(h, ':', n);
    size_t hn = colon ? (size_t)(colon - h) : n;
    if (hn == 0)
        return false;
    for (size_t i = 0; i < hn; i++) {
        char c = h[i];
        if (!(is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-'))
            return false;
    }
    if (colon) {
        size_t pn = n - hn - 1;
        if (pn == 0 || pn > 5)
            return false;
        for (size_t i = hn + 1; i < n; i++)
            if (h[i] < '0' || h[i] > '9')
                return false;
    }
    return true;
}

/* Components of lowercase letters and digits, separated inside by one of
 * '.', '_', "__" or runs of '-', joined by '/' (the distribution rules). */
static bool repo_ok(const char *r, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    size_t i = 0;
    while (i < n) {
        if (!is_lower_alnum(r[i]))
            return false;
        while (i < n && r[i] != '/') {
            if (is_lower_alnum(r[i])) {
                i++;
                continue;
            }
            size_t sep = i;
            if (r[i] == '.')
                i++;
            else if (r[i] == '_')
                i += (i + 1 < n && r[i + 1] == '_') ? 2 : 1;
            else if (r[i] == '-')
                while (i < n && r[i] == '-')
                    i++;
            else
                return false;
            if (i >= n || !is_lower_alnum(r[i]) || i == sep)
                return false;
        }
        if (i < n) { /* at '/' */
            i++;
            if (i >= n)
                return false;
        }
    }
    return true;
}

static bool tag_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        bool w = is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_';
        if (!w && !(i > 0 && (c == '.' || c == '-')))
            return false;
    }
    return true;
}

int image_ref_parse(const char *text, struct image_ref *ret, bo_error_t *err)
{
    size_t len = strlen(text);
    if (len == 0)
        return bo_error_set(err, BO_E_INVALID, "image reference is empty");
    if (len > IMAGE_REF_MAX)
        return bo_error_set(err, BO_E_INVALID, "image reference `%.40s...` is longer than %d characters", text,
                            IMAGE_REF_MAX);
    const char *slash = strchr(text, '/');
    if (!slash)
        return bo_error_set(err, BO_E_INVALID,
                            "image `%s` names no registry: write it as HOST[:PORT]/REPOSITORY:TAG or "
                            "HOST[:PORT]/REPOSITORY@sha256:DIGEST",
                            text);
    size_t hn = (size_t)(slash - text);
    bool named = memchr(text, '.', hn) || memchr(text, ':', hn) || (hn == 9 && strncmp(text, "localhost", 9) == 0);
    if (!named)
        return bo_error_set(err, BO_E_INVALID,
                            "image `%s` names no registry (`%.*s` is not a host: a registry host has a '.' or "
                            "a ':PORT', or is localhost)",
                            text, (int)hn, text);
    if (!host_ok(text, hn))
        return bo_error_set(err, BO_E_INVALID, "image `%s`: invalid registry host `%.*s`", text, (int)hn, text);
    const char *rest = slash + 1;
    const char *at = strchr(rest, '@');
    const char *digest = NULL;
    size_t rn = at ? (size_t)(at - rest) : strlen(rest);
    if (at) {
        digest = at + 1;
        if (!image_digest_valid(digest))
            return bo_error_set(err, BO_E_INVALID,
                                "image `%s`: digest `%s` is not sha256: followed by 64 lowercase hex digits", text,
                                digest);
    }
    /* A tag is after the last ':' of the name part that follows its last '/'. */
    const char *last_slash = NULL;
    for (const char *p = rest; p < rest + rn; p++)
        if (*p == '/')
            last_slash = p;
    const char *colon = memchr(last_slash ? last_slash : rest, ':', (size_t)(rest + rn - (last_slash ? last_slash : rest)));
    size_t repo_n = colon ? (size_t)(colon - rest) : rn;
    if (!repo_ok(rest, repo_n))
        return bo_error_set(err, BO_E_INVALID,
                            "image `%s`: invalid repository `%.*s` (lowercase letters, digits, separators . _ - "
                            "between them, components joined by /)",
                            text, (int)repo_n, rest);
    char *tag = colon ? bo_xstrndup(colon + 1, (size_t)(rest + rn - colon - 1)) : NULL;
    if (tag && !tag_ok(tag)) {
        bo_error_set(err, BO_E_INVALID, "image `%s`: invalid tag `%s` (letters, digits, _ . -, at most 128)", text,
                     tag);
        free(tag);
        return -1;
    }
    if (!tag && !digest)
        return bo_error_set(err, BO_E_INVALID, "image `%s` has neither a tag nor a digest (add :TAG or @sha256:...)",
                            text);
    ret->registry = bo_xstrndup(text, hn);
    ret->repository = bo_xstrndup(rest, repo_n);
    ret->tag = tag;
    ret->digest = digest ? bo_xstrdup(digest) : NULL;
    return 0;
}

void image_ref_clear(struct image_ref *r)
{
    free(r->registry);
    free(r->repository);
    free(r->tag);
    free(r->digest);
    *r = (struct image_ref){0};
}

char *image_ref_format(const struct image_ref *r)
{
    return bo_xasprintf("%s/%s%s%s%s%s", r->registry, r->repository, r->tag ? ":" : "", r->tag ? r->tag : "",
                        r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *image_ref_format_digest(const struct image_ref *r, const char *digest)
{
    return bo_xasprintf("%s/%s@%s", r->registry, r->repository, digest);
}
