/* table.h - aligned text tables for the human output of the commands:
 * column widths are computed from the content (in characters, UTF-8
 * aware), columns are separated by two spaces, and no line ends in
 * spaces. Cells are copied; a NULL cell prints as empty. */
#ifndef BO_CLI_TABLE_H
#define BO_CLI_TABLE_H

#include <stdio.h>

enum table_align { TABLE_LEFT, TABLE_RIGHT };

struct table;

/* Column headers; the table has as many columns as headers. */
struct table *table_new(size_t n_cols, const char *const *headers);
void table_free(struct table *t);
void table_set_align(struct table *t, size_t col, enum table_align a);
/* Append a row of n_cols cells. */
void table_add_row(struct table *t, const char *const *cells);
size_t table_rows(const struct table *t);
/* The rendered table, header line first, each line ending in '\n'.
 * Caller frees. */
char *table_render(const struct table *t);
void table_print(const struct table *t, FILE *out);

static inline void table_freep(struct table **t)
{
    if (*t)
        table_free(*t);
}
#define _cleanup_table_ __attribute__((cleanup(table_freep)))

#endif
