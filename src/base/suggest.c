/* suggest.c - "did you mean": edit distance and the choice of the closest
 * candidates. */
#include "base/suggest.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"

/* Words longer than this are not compared (their distance to any name is
 * large anyway, and the table below stays small). */
#define SUGGEST_MAX_LEN 64
#define SUGGEST_MAX_SHOWN 3

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Optimal string alignment distance of the first la bytes of a and the
 * first lb bytes of b (both at most SUGGEST_MAX_LEN). */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ca != cb));
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    return d[la][lb];
}

size_t bo_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
        return la > lb ? la : lb;
    return distance(a, la, b, lb);
}

/* How far `word` is from `cand`: its whole distance, or its distance to
 * the beginning of cand when the word looks like an abbreviation. */
static size_t score(const char *word, const char *cand)
{
    size_t lw = strlen(word), lc = strlen(cand);
    if (lw > SUGGEST_MAX_LEN || lc > SUGGEST_MAX_LEN)
        return SIZE_MAX;
    size_t whole = distance(word, lw, cand, lc);
    if (lw >= 3 && lc > lw) {
        size_t head = distance(word, lw, cand, lw);
        if (head < whole)
            return head;
    }
    return whole;
}

char *bo_did_you_mean(const char *word, const char *const *cands, size_t n, const char *prefix)
{
    size_t lw = strlen(word);
    /* About one edit in three characters, as git's threshold allows. */
    size_t limit = (lw + 1) / 3, best = SIZE_MAX;
    if (limit == 0)
        return bo_xstrdup("");
    for (size_t i = 0; i < n; i++) {
        size_t s = cands[i] ? score(word, cands[i]) : SIZE_MAX;
        if (s < best)
            best = s;
    }
    if (best > limit)
        return bo_xstrdup("");
    /* A candidate the whole word is that close to beats abbreviations
     * ("kill" for `kill`, not also `killall`). */
    bool whole = false;
    for (size_t i = 0; i < n; i++)
        whole = whole || (cands[i] && bo_edit_distance(word, cands[i]) == best);
    char *out = bo_xstrdup("; did you mean ");
    size_t shown = 0;
    for (size_t i = 0; i < n && shown < SUGGEST_MAX_SHOWN; i++) {
        if (!cands[i] || score(word, cands[i]) != best || (whole && bo_edit_distance(word, cands[i]) != best))
            continue;
        bool dup = false;
        for (size_t k = 0; k < i; k++)
            dup = dup || (cands[k] && strcmp(cands[k], cands[i]) == 0);
        if (dup)
            continue;
        char *m = bo_xasprintf("%s%s`%s%s`", out, shown ? " or " : "", prefix ? prefix : "", cands[i]);
        free(out);
        out = m;
        shown++;
    }
    char *m = bo_xasprintf("%s?", out);
    free(out);
    return m;
}
