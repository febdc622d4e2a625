/* export.c: DOT and Mermaid renderings of the graph JSON (see export.h). Identifiers are
 * "pipeline/component", which neither format accepts bare, so DOT quotes them and Mermaid gets
 * sanitised ids with the real name as the label. */
#include "export.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "strbuf.h"

static const char *dot_shape(const char *role)
{
    return strcmp(role, "source") == 0 ? "cds" : strcmp(role, "sink") == 0 ? "cylinder" : "box";
}

static const char *dot_color(const char *role)
{
    return strcmp(role, "source") == 0 ? "#d8ecff" : strcmp(role, "sink") == 0 ? "#e3f5e1" : "#fff4d6";
}

char *uf_export_dot(const json_t *graph)
{
    struct uf_strbuf sb = {0};
    uf_strbuf_puts(&sb, "digraph ugcflow {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", "
                        "fontsize=11, style=filled];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
    size_t i, k;
    json_t *p, *n, *e;
    json_array_foreach(json_object_get(graph, "pipelines"), i, p)
    {
        uf_strbuf_printf(&sb, "  subgraph \"cluster_%s\" {\n    label=\"pipeline %s\";\n",
                         json_string_value(json_object_get(p, "name")),
                         json_string_value(json_object_get(p, "name")));
        json_array_foreach(json_object_get(p, "nodes"), k, n)
        {
            const char *role = json_string_value(json_object_get(n, "role"));
            uf_strbuf_printf(&sb, "    \"%s\" [label=\"%s\\n(%s)\", shape=%s, fillcolor=\"%s\"];\n",
                             json_string_value(json_object_get(n, "id")),
                             json_string_value(json_object_get(n, "name")),
                             json_string_value(json_object_get(n, "kind")), dot_shape(role),
                             dot_color(role));
        }
        uf_strbuf_puts(&sb, "  }\n");
        json_array_foreach(json_object_get(p, "edges"), k, e)
        {
            const char *port = json_string_value(json_object_get(e, "port"));
            uf_strbuf_printf(&sb, "  \"%s\" -> \"%s\"", json_string_value(json_object_get(e, "from")),
                             json_string_value(json_object_get(e, "to")));
            if (port && *port)
                uf_strbuf_printf(&sb, " [label=\"%s\"]", port);
            uf_strbuf_puts(&sb, ";\n");
        }
    }
    uf_strbuf_puts(&sb, "}\n");
    return uf_strbuf_take(&sb);
}

static void mermaid_id(struct uf_strbuf *sb, const char *id)
{
    for (const char *c = id; *c; c++)
        uf_strbuf_append(sb, isalnum((unsigned char)*c) ? c : "_", 1);
}

char *uf_export_mermaid(const json_t *graph)
{
    struct uf_strbuf sb = {0};
    uf_strbuf_puts(&sb, "flowchart LR\n");
    size_t i, k;
    json_t *p, *n, *e;
    json_array_foreach(json_object_get(graph, "pipelines"), i, p)
    {
        uf_strbuf_printf(&sb, "  subgraph %s[\"pipeline %s\"]\n",
                         json_string_value(json_object_get(p, "name")),
                         json_string_value(json_object_get(p, "name")));
        json_array_foreach(json_object_get(p, "nodes"), k, n)
        {
            const char *role = json_string_value(json_object_get(n, "role"));
            bool src = strcmp(role, "source") == 0, sink = strcmp(role, "sink") == 0;
            uf_strbuf_puts(&sb, "    ");
            mermaid_id(&sb, json_string_value(json_object_get(n, "id")));
            uf_strbuf_printf(&sb, "%s\"%s<br/>(%s)\"%s\n", src ? "([" : sink ? "[(" : "[",
                             json_string_value(json_object_get(n, "name")),
                             json_string_value(json_object_get(n, "kind")),
                             src ? "])" : sink ? ")]" : "]");
        }
        uf_strbuf_puts(&sb, "  end\n");
        json_array_foreach(json_object_get(p, "edges"), k, e)
        {
            const char *port = json_string_value(json_object_get(e, "port"));
            uf_strbuf_puts(&sb, "  ");
            mermaid_id(&sb, json_string_value(json_object_get(e, "from")));
            if (port && *port)
                uf_strbuf_printf(&sb, " -->|%s| ", port);
            else
                uf_strbuf_puts(&sb, " --> ");
            mermaid_id(&sb, json_string_value(json_object_get(e, "to")));
            uf_strbuf_puts(&sb, "\n");
        }
    }
    return uf_strbuf_take(&sb);
}
