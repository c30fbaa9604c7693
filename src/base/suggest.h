/* suggest.h - "did you mean" for unknown words (commands, options, job
 * file fields), as git does: the candidates closest to the word by edit
 * distance (a swap of two neighbours counts one edit), also comparing the
 * word with each candidate's beginning, so `--wiat` finds `--wait-until`. */
#ifndef BO_SUGGEST_H
#define BO_SUGGEST_H

#include <stddef.h>

/* Edit distance between a and b (insert, delete, substitute and swap of
 * adjacent characters each cost 1; case is ignored). */
size_t bo_edit_distance(const char *a, const char *b);

/* "; did you mean `PFXbest`?" (or "`PFXa` or `PFXb`?" when several are
 * equally close, at most 3), or "" when no candidate is close enough.
 * Always a heap string the caller frees. `prefix` ("--") is put before
 * each name; candidates may repeat and be NULL (skipped). */
char *bo_did_you_mean(const char *word, const char *const *cands, size_t n, const char *prefix);

#endif
