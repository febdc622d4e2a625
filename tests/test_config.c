/* tests/test_config.c: config loading and every class of configuration error, with the message
 * and the file:line:column asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "framework/config.h"
#include "framework/graph.h"

/* Builds yaml; returns the diagnostics as "line:col: msg" lines joined by \n (caller frees). */
static char *check(const char *yaml)
{
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, &d);
    if (cfg && d.n == 0)
        uf_graph_free(uf_graph_build(cfg, NULL, 0, &d));
    else
        uf_config_free(cfg);
    size_t cap = 64 + d.n * 1100, len = 0;
    char *out = calloc(1, cap);
    for (size_t i = 0; i < d.n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s:%d:%d: %s\n",
                                d.v[i].pos.file ? d.v[i].pos.file : "-", d.v[i].pos.line,
                                d.v[i].pos.col, d.v[i].msg);
    uf_diags_free(&d);
    return out;
}

#define EXPECT(yaml, needle)                                                                       \
    do {                                                                                           \
        char *got = check(yaml);                                                                   \
        if (!strstr(got, needle))                                                                  \
            fail_msg("expected '%s' in:\n%s", needle, got);                                        \
        free(got);                                                                                 \
    } while (0)

static const char *const head = "pipelines:\n  p:\n    components:\n";

static char *with_head(const char *body)
{
    char *s = malloc(strlen(head) + strlen(body) + 1);
    strcpy(s, head);
    strcat(s, body);
    return s;
}

#define EXPECT_BODY(body, needle)                                                                  \
    do {                                                                                           \
        char *y = with_head(body);                                                                 \
        EXPECT(y, needle);                                                                         \
        free(y);                                                                                   \
    } while (0)

static void test_valid(void **state)
{
    char *got = check("pipelines:\n  p:\n    components:\n      g: {kind: generate}\n"
                      "      n: {kind: null, inputs: [g]}\n");
    assert_string_equal(got, "");
    free(got);
}

static void test_unknown_kind(void **state)
{
    EXPECT_BODY("      g: {kind: generat}\n",
                "t.yaml:4:17: unknown kind 'generat' (did you mean 'generate'?)");
}

static void test_unknown_option(void **state)
{
    EXPECT_BODY(
        "      g:\n        kind: generate\n        rat: 5\n      n: {kind: null, inputs: [g]}\n",
        "t.yaml:6:9: unknown option 'rat' for kind 'generate' (did you mean 'rate'?)");
}

static void test_wrong_type_and_range(void **state)
{
    EXPECT_BODY("      g: {kind: generate, count: lots}\n      n: {kind: null, inputs: [g]}\n",
                "t.yaml:4:34: option 'count': 'lots' is not an integer");
    EXPECT_BODY("      g: {kind: generate, threads: 0}\n      n: {kind: null, inputs: [g]}\n",
                "t.yaml:4:36: option 'threads': 0 is out of range (expected 1..64)");
    EXPECT_BODY("      g: {kind: generate, template: [1]}\n      n: {kind: null, inputs: [g]}\n",
                "option 'template' must be a mapping, found a list");
    EXPECT_BODY("      g: {kind: generate, when_full: drop}\n      n: {kind: null, inputs: [g]}\n",
                "option 'when_full': 'drop' is not allowed (expected one of: block, reject)");
}

static void test_missing_required(void **state)
{
    EXPECT_BODY("      g: {kind: generate}\n      r: {kind: route, inputs: [g], field: type}\n"
                "      n: {kind: null, inputs: [r]}\n",
                "t.yaml:5:7: component 'r' (kind route): missing required option 'routes'");
}

static void test_dangling_and_self_input(void **state)
{
    EXPECT_BODY("      gen: {kind: generate}\n      n: {kind: null, inputs: [gen, gem]}\n",
                "t.yaml:5:37: component 'n': input 'gem' does not exist in this pipeline (did you "
                "mean 'gen'?)");
    EXPECT_BODY("      g: {kind: generate}\n      s: {kind: set, inputs: [g, s], fields: {a: 1}}\n"
                "      n: {kind: null, inputs: [s]}\n",
                "t.yaml:5:34: component 's' lists itself as an input");
}

static void test_cycle(void **state)
{
    EXPECT_BODY("      g: {kind: generate}\n"
                "      a: {kind: set, inputs: [g, c], fields: {x: 1}}\n"
                "      b: {kind: set, inputs: [a], fields: {x: 1}}\n"
                "      c: {kind: set, inputs: [b], fields: {x: 1}}\n"
                "      n: {kind: null, inputs: [c]}\n",
                "cycle in pipeline 'p': a -> b -> c -> a");
}

static void test_source_with_inputs(void **state)
{
    EXPECT_BODY("      g: {kind: generate}\n      h: {kind: generate, inputs: [g]}\n"
                "      n: {kind: null, inputs: [h]}\n",
                "t.yaml:5:35: component 'h' is a source (kind generate) and cannot have inputs");
}

static void test_output_nowhere(void **state)
{
    EXPECT_BODY("      g: {kind: generate}\n      s: {kind: set, inputs: [g], fields: {a: 1}}\n",
                "t.yaml:5:7: component 's' (kind set): its output goes nowhere");
}

static void test_sink_as_input(void **state)
{
    EXPECT_BODY("      g: {kind: generate}\n      n: {kind: null, inputs: [g]}\n"
                "      m: {kind: null, inputs: [n]}\n",
                "t.yaml:6:32: component 'm': input 'n' is a sink (kind null), which has no output");
}

static void test_duplicate_names(void **state)
{
    EXPECT_BODY("      g: {kind: generate}\n      g: {kind: generate}\n      n: {kind: null, "
                "inputs: [g]}\n",
                "t.yaml:5:7: duplicate key 'g' (first defined at line 4)");
}

static void test_missing_port(void **state)
{
    EXPECT_BODY("      g: {kind: generate}\n"
                "      r: {kind: route, inputs: [g], field: t, routes: {a: x}}\n"
                "      n: {kind: null, inputs: [r.b, r.a]}\n",
                "t.yaml:6:32: component 'n': 'r' has no output named 'b'");
}

static void test_all_errors_reported(void **state)
{
    char *y = with_head("      g: {kind: generat}\n      h: {kind: generate, rat: 1}\n"
                        "      n: {kind: null, inputs: [nope]}\n");
    char *got = check(y);
    int lines = 0;
    for (char *p = got; *p; p++)
        lines += *p == '\n';
    assert_true(lines >= 3);
    assert_non_null(strstr(got, "generat"));
    assert_non_null(strstr(got, "'rat'"));
    assert_non_null(strstr(got, "'nope'"));
    free(got);
    free(y);
}

static void test_env_interpolation(void **state)
{
    char *bad;
    setenv("UF_T_SET", "abc", 1);
    unsetenv("UF_T_UNSET");
    char *s = uf_config_interpolate("x${UF_T_SET}y${UF_T_UNSET:-dflt}$$z", &bad);
    assert_string_equal(s, "xabcydflt$z");
    free(s);
    assert_null(uf_config_interpolate("${UF_T_UNSET}", &bad));
    assert_string_equal(bad, "UF_T_UNSET");
    free(bad);
    EXPECT_BODY(
        "      g: {kind: generate, rate: \"${UF_T_UNSET}\"}\n      n: {kind: null, inputs: [g]}\n",
        "t.yaml:4:33: environment variable 'UF_T_UNSET' is not set");
}

static void test_yaml_syntax(void **state)
{
    EXPECT("pipelines:\n  p: [\n", "t.yaml:3:1: YAML syntax");
}

static void test_unknown_top_level(void **state)
{
    EXPECT("pipelinez: {}\n", "t.yaml:1:1: unknown top-level key 'pipelinez'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_unknown_kind),
        cmocka_unit_test(test_unknown_option),
        cmocka_unit_test(test_wrong_type_and_range),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_dangling_and_self_input),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_source_with_inputs),
        cmocka_unit_test(test_output_nowhere),
        cmocka_unit_test(test_sink_as_input),
        cmocka_unit_test(test_duplicate_names),
        cmocka_unit_test(test_missing_port),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_env_interpolation),
        cmocka_unit_test(test_yaml_syntax),
        cmocka_unit_test(test_unknown_top_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
