/* tests/test_registry.c: every kind's option table is well formed (unique names, descriptions,
 * defaults that parse and sit in range), kind names are unique, docs/stages.md is what the
 * tables generate, and the repository's pipeline.yaml and docs/http.md's example validate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "framework/config.h"
#include "framework/graph.h"
#include "framework/registry.h"
#include "framework/stagedoc.h"

static void check_table(const char *kind, const struct uf_option *table)
{
    for (const struct uf_option *o = table; o && o->name; o++) {
        if (!o->desc || !*o->desc)
            fail_msg("%s.%s has no description", kind, o->name);
        for (const struct uf_option *p = table; p != o; p++)
            if (strcmp(p->name, o->name) == 0)
                fail_msg("%s.%s is declared twice", kind, o->name);
        if (o->type == UF_OPT_ENUM && (!o->values || !o->values[0]))
            fail_msg("%s.%s is an enum without values", kind, o->name);
        if ((o->flags & UF_OPT_REQUIRED) && o->def)
            fail_msg("%s.%s is required but has a default", kind, o->name);
        if (!o->def)
            continue;
        if (o->type == UF_OPT_STR)
            continue;
        if (o->type == UF_OPT_LIST || o->type == UF_OPT_MAP) {
            json_t *j = json_loads(o->def, 0, NULL);
            if (!j || (o->type == UF_OPT_LIST ? !json_is_array(j) : !json_is_object(j)))
                fail_msg("%s.%s: default is not a JSON %s", kind, o->name,
                         o->type == UF_OPT_LIST ? "array" : "object");
            json_decref(j);
            continue;
        }
        char buf[16];
        struct uf_err err = { 0 };
        if (uf_option_parse_scalar(o, o->def, buf, &err) != 0)
            fail_msg("%s.%s: bad default: %s", kind, o->name, err.msg);
    }
}

static void test_tables(void **state)
{
    check_table("(common)", uf_common_options);
    for (size_t i = 0; uf_kinds[i]; i++) {
        const struct uf_kind *k = uf_kinds[i];
        assert_non_null(k->summary);
        for (size_t j = 0; j < i; j++)
            if (strcmp(uf_kinds[j]->name, k->name) == 0)
                fail_msg("kind %s is registered twice", k->name);
        check_table(k->name, k->options);
        if (k->role == UF_TRANSFORM && !k->process)
            fail_msg("transform %s has no process()", k->name);
        if (k->role == UF_SINK && !k->write)
            fail_msg("sink %s has no write()", k->name);
        for (const struct uf_option *o = k->options; o && o->name; o++)
            if (uf_option_find(uf_common_options, o->name))
                fail_msg("%s.%s shadows a common option", k->name, o->name);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    return s;
}

static void test_stages_doc_current(void **state)
{
    const char *src = getenv("UGCFLOW_SOURCE_DIR");
    assert_non_null(src);
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/stages.md", src);
    char *doc = slurp(path);
    char *want = uf_stagedoc_markdown();
    if (!doc || strcmp(doc, want) != 0)
        fail_msg("docs/stages.md is out of date: run `build/ugcflow stages --markdown > "
                 "docs/stages.md`");
    free(doc);
    free(want);
}

static void test_repo_pipeline_valid(void **state)
{
    const char *src = getenv("UGCFLOW_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/pipeline.yaml", src);
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load(path, &d);
    struct uf_graph *g = cfg && d.n == 0 ? uf_graph_build(cfg, NULL, 0, &d) : NULL;
    if (!g)
        uf_config_free(d.n ? NULL : cfg);
    if (d.n) {
        uf_diags_print(&d, stderr);
        fail_msg("pipeline.yaml has %zu errors", d.n);
    }
    uf_graph_free(g);
    uf_diags_free(&d);
}

/* docs/http.md's first example, as the components of a pipeline, validates against the
 * statements in sql/ugc (its sql_file paths are read from the source tree's root). */
static void test_http_doc_example_valid(void **state)
{
    const char *src = getenv("UGCFLOW_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/http.md", src);
    char *doc = slurp(path);
    assert_non_null(doc);
    char *start = strstr(doc, "## Example");
    start = start ? strstr(start, "```yaml\n") : NULL;
    char *end = start ? strstr(start + 8, "```") : NULL;
    assert_non_null(end);
    *end = '\0';
    char *yaml = NULL;
    assert_true(asprintf(&yaml, "pipelines:\n  ugc:\n    components:\n%s", start + 8) > 0);
    snprintf(path, sizeof path, "%s/http-example.yaml", src);
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string(path, yaml, &d);
    struct uf_graph *g = cfg ? uf_graph_build(cfg, NULL, 0, &d) : NULL;
    if (d.n) {
        uf_diags_print(&d, stderr);
        fail_msg("docs/http.md's example has %zu errors", d.n);
    }
    uf_graph_free(g);
    uf_diags_free(&d);
    free(yaml);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_stages_doc_current),
        cmocka_unit_test(test_repo_pipeline_valid),
        cmocka_unit_test(test_http_doc_example_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
