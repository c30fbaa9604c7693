/* table.c - aligned text tables (see table.h). */
#include "cli/table.h"

#include <string.h>

#include "base/util.h"

struct table {
    size_t n_cols, n_rows;
    char **cells; /* (n_rows + 1) * n_cols, row 0 is the header */
    enum table_align *align;
};

/* Width in terminal columns, counting UTF-8 code points (continuation
 * bytes 10xxxxxx do not count). Good enough for the ASCII-mostly text we
 * print; wide CJK glyphs would be off by one each. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

/* Control characters (a newline in a task message) would break the
 * alignment: they are shown as spaces. */
static char *clean_cell(const char *s)
{
    char *c = bo_xstrdup(s ? s : "");
    for (char *p = c; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return c;
}

struct table *table_new(size_t n_cols, const char *const *headers)
{
    struct table *t = bo_xcalloc(1, sizeof(*t));
    t->n_cols = n_cols;
    t->cells = bo_xcalloc(n_cols, sizeof(char *));
    t->align = bo_xcalloc(n_cols, sizeof(*t->align));
    for (size_t i = 0; i < n_cols; i++)
        t->cells[i] = clean_cell(headers[i]);
    return t;
}

void table_free(struct table *t)
{
    for (size_t i = 0; i < (t->n_rows + 1) * t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->align);
    free(t);
}

void table_set_align(struct table *t, size_t col, enum table_align a)
{
    if (col < t->n_cols)
        t->align[col] = a;
}

void table_add_row(struct table *t, const char *const *cells)
{
    t->n_rows++;
    t->cells = bo_xrealloc(t->cells, (t->n_rows + 1) * t->n_cols * sizeof(char *));
    for (size_t i = 0; i < t->n_cols; i++)
        t->cells[t->n_rows * t->n_cols + i] = clean_cell(cells[i]);
}

size_t table_rows(const struct table *t) { return t->n_rows; }

char *table_render(const struct table *t)
{
    size_t *width = bo_xcalloc(t->n_cols ? t->n_cols : 1, sizeof(size_t));
    for (size_t r = 0; r <= t->n_rows; r++)
        for (size_t c = 0; c < t->n_cols; c++) {
            size_t w = text_width(t->cells[r * t->n_cols + c]);
            if (w > width[c])
                width[c] = w;
        }
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        abort(); /* only fails for lack of memory: our OOM policy */
    for (size_t r = 0; r <= t->n_rows; r++) {
        /* Trailing empty cells would only add spaces: find the last one
         * with content, so no line ends in blanks. */
        size_t last = 0;
        for (size_t c = 0; c < t->n_cols; c++)
            if (t->cells[r * t->n_cols + c][0])
                last = c;
        for (size_t c = 0; c <= last && c < t->n_cols; c++) {
            const char *cell = t->cells[r * t->n_cols + c];
            size_t pad = width[c] - text_width(cell);
            if (c > 0)
                fputs("  ", f);
            if (t->align[c] == TABLE_RIGHT)
                fprintf(f, "%*s", (int)pad, "");
            fputs(cell, f);
            if (c < last && t->align[c] == TABLE_LEFT)
                fprintf(f, "%*s", (int)pad, "");
        }
        fputc('\n', f);
    }
    fclose(f);
    free(width);
    return out;
}

void table_print(const struct table *t, FILE *out)
{
    char *s = table_render(t);
    fputs(s, out);
    free(s);
}
