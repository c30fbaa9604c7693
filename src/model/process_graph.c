/* process_graph.c - unknown names and cycles in the ordering of a task's
 * processes (see process_graph.h). */
#include "model/process_graph.h"

#include <stdio.h>
#include <string.h>

static int find(const struct process_graph_node *nodes, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(nodes[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Depth-first over the `after` edges; `stack` holds the path from the
 * root, so meeting a node still on it closes a cycle we can print. */
struct walk {
    const uint64_t *edges;
    size_t n;
    uint8_t color[PROCESS_GRAPH_MAX]; /* 0 unseen, 1 on the path, 2 done */
    size_t stack[PROCESS_GRAPH_MAX];
    size_t depth;
};

/* Returns the index in `stack` where the cycle starts, or -1. */
static int visit(struct walk *w, size_t v)
{
    w->color[v] = 1;
    w->stack[w->depth++] = v;
    for (size_t k = 0; k < w->n; k++) {
        if (!(w->edges[v] & (UINT64_C(1) << k)))
            continue;
        if (w->color[k] == 1) {
            for (size_t s = 0; s < w->depth; s++)
                if (w->stack[s] == k)
                    return (int)s;
        }
        if (w->color[k] == 0) {
            int c = visit(w, k);
            if (c >= 0)
                return c;
        }
    }
    w->depth--;
    w->color[v] = 2;
    return -1;
}

int process_graph_check(const char *what, const struct process_graph_node *nodes, size_t n, bool sequential,
                        uint64_t *ret_after, bo_error_t *err)
{
    if (n > PROCESS_GRAPH_MAX)
        return bo_error_set(err, BO_E_INVALID, "%s: more than %d processes", what, PROCESS_GRAPH_MAX);
    uint64_t edges[PROCESS_GRAPH_MAX] = {0};
    int prev = -1;
    for (size_t i = 0; i < n; i++) {
        const struct process_graph_node *p = &nodes[i];
        if (p->final && p->n_after)
            return bo_error_set(err, BO_E_INVALID,
                                "%s[%zu].after: `%s` is final: final processes run in their listed order at "
                                "finalization, after nothing else",
                                what, i, p->name);
        for (size_t a = 0; a < p->n_after; a++) {
            int k = find(nodes, n, p->after[a]);
            if (k < 0)
                return bo_error_set(err, BO_E_INVALID, "%s[%zu].after[%zu]: unknown process `%.64s`", what, i, a,
                                    p->after[a]);
            if (nodes[k].final)
                return bo_error_set(err, BO_E_INVALID,
                                    "%s[%zu].after[%zu]: `%s` is a final process (it runs only at finalization)",
                                    what, i, a, nodes[k].name);
            edges[i] |= UINT64_C(1) << k;
        }
        if (!p->final) {
            if (sequential && prev >= 0)
                edges[i] |= UINT64_C(1) << prev;
            prev = (int)i;
        }
    }
    struct walk w = {.edges = edges, .n = n};
    for (size_t i = 0; i < n; i++) {
        if (w.color[i])
            continue;
        int c = visit(&w, i);
        if (c < 0)
            continue;
        /* Names are identifiers of at most 64 bytes (both callers check). */
        char path[PROCESS_GRAPH_MAX * 72 + 72];
        size_t len = 0;
        for (size_t s = (size_t)c; s <= w.depth; s++) {
            const char *name = nodes[w.stack[s < w.depth ? s : (size_t)c]].name;
            int m = snprintf(path + len, sizeof(path) - len, "%s%.64s", s == (size_t)c ? "" : " -> ", name);
            if (m < 0 || (size_t)m >= sizeof(path) - len)
                break;
            len += (size_t)m;
        }
        return bo_error_set(err, BO_E_INVALID, "%s: a cycle %s (each runs after the next)", what, path);
    }
    if (ret_after)
        memcpy(ret_after, edges, n * sizeof(*edges));
    return 0;
}
