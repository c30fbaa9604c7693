/* help.c - the help format shared by all programs: wrapping, option lines,
 * whole --help pages and the Markdown rows of docs/cli.md. */
#include "base/help.h"

#include <stdbool.h>
#include <string.h>

/* Print `text` wrapped, lines after the first indented by `indent`; the
 * first line starts at column `start` (the caller printed what is before). */
static void wrap_from(FILE *f, const char *text, int indent, int start)
{
    const char *p = text;
    bool first_line = true;
    while (*p) {
        int col = first_line ? start : indent;
        fprintf(f, "%*s", first_line ? 0 : indent, "");
        first_line = false;
        bool first = true;
        while (*p) {
            while (*p == ' ')
                p++;
            size_t w = strcspn(p, " ");
            if (!first && col + 1 + (int)w > BO_HELP_WIDTH)
                break;
            fprintf(f, "%s%.*s", first ? "" : " ", (int)w, p);
            col += (first ? 0 : 1) + (int)w;
            first = false;
            p += w;
        }
        fputc('\n', f);
        while (*p == ' ')
            p++;
    }
}

void bo_help_wrap(FILE *f, const char *text, int indent)
{
    fprintf(f, "%*s", indent, "");
    wrap_from(f, text, indent, indent);
}

void bo_help_item(FILE *f, const char *head, int col, const char *text)
{
    int n = fprintf(f, "  %s", head);
    if (n + 2 > col) {
        fputc('\n', f);
        n = 0;
    }
    fprintf(f, "%*s", col - n, "");
    wrap_from(f, text, col, col);
}

static char *option_head(const struct bo_option *o)
{
    const char *arg = bo_opt_metavar(o);
    char sh[8] = "";
    if (o->short_name)
        snprintf(sh, sizeof(sh), "-%c, ", o->short_name);
    return bo_xasprintf("%s--%s%s%s", sh, o->name, arg ? " " : "", arg ? arg : "");
}

/* "help (one of: a, b) (default: X) (repeatable)" */
static char *option_text(const struct bo_option *o)
{
    _cleanup_free_ char *choices = bo_xstrdup("");
    for (int i = 0; o->kind == BO_OPT_CHOICE && o->choices[i]; i++) {
        char *m = bo_xasprintf("%s%s%s", choices, i ? ", " : "", o->choices[i]);
        free(choices);
        choices = m;
    }
    const char *def = o->def_doc ? o->def_doc : o->def;
    return bo_xasprintf("%s%s%s%s%s%s%s", o->help, *choices ? " (one of: " : "", choices, *choices ? ")" : "",
                        def ? " (default: " : "", def ? def : "", def ? ")" : "");
}

void bo_help_options(FILE *f, const struct bo_option *table, int col)
{
    for (const struct bo_option *o = table; o && o->name; o++) {
        _cleanup_free_ char *head = option_head(o), *text = option_text(o);
        if (o->repeat) {
            char *m = bo_xasprintf("%s (repeatable)", text);
            free(text);
            text = m;
        }
        bo_help_item(f, head, col, text);
    }
}

void bo_help_page(FILE *f, const struct bo_help_page *p)
{
    fprintf(f, "Usage: %s\n\n", p->usage);
    bo_help_wrap(f, p->text, 0);
    fprintf(f, "\nOptions:\n");
    for (const struct bo_option *const *t = p->options; t && *t; t++)
        bo_help_options(f, *t, BO_HELP_OPTION_COL);
    bo_help_item(f, "-h, --help", BO_HELP_OPTION_COL, "show this help");
    if (p->examples) {
        fprintf(f, "\nExamples:\n");
        for (const char *e = p->examples; *e;) {
            size_t n = strcspn(e, "\n");
            fprintf(f, "  %.*s\n", (int)n, e);
            e += n + (e[n] == '\n');
        }
    }
}

void bo_help_markdown_options(FILE *f, const struct bo_option *table)
{
    for (const struct bo_option *o = table; o && o->name; o++) {
        _cleanup_free_ char *head = option_head(o), *text = option_text(o);
        fprintf(f, "| `%s` | %s%s |\n", head, text, o->repeat ? " (repeatable)" : "");
    }
}
