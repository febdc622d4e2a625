/* tests/test_layers.c: the layering of docs/architecture.md, checked on every include line of
 * the tree: framework/ includes only framework/; a kind (sources/, stages/, sinks/) only
 * framework/ and its own folder; viz/ only framework/ and viz/; the load generator only
 * framework/ and bench/loadgen/. Inside framework/ a sibling header may also be named bare. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *root;
static size_t checked, broken;

/* The two prefixes a file at rel (a path from the root) may include: its own layer's in own,
 * and the framework's in *other. */
static void allowed(const char *rel, char own[], size_t n, const char **other)
{
    *other = "framework/";
    own[0] = '\0';
    const char *slash = strchr(rel, '/');
    if (strncmp(rel, "framework/", 10) == 0 || strncmp(rel, "viz/", 4) == 0)
        snprintf(own, n, "%.*s/", (int)(slash - rel), rel);
    else if (strncmp(rel, "bench/loadgen/", 14) == 0)
        snprintf(own, n, "bench/loadgen/");
    else if (slash && strchr(slash + 1, '/')) /* a kind that is a folder: sinks/kafka/... */
        snprintf(own, n, "%.*s/", (int)(strchr(slash + 1, '/') - rel), rel);
    else /* a kind in one file: only the framework */
        snprintf(own, n, "framework/");
}

static void check_line(const char *rel, const char *line)
{
    const char *q = strchr(line, '"'), *end = q ? strchr(q + 1, '"') : NULL;
    if (!end)
        return;
    char inc[256], own[128];
    const char *other;
    snprintf(inc, sizeof inc, "%.*s", (int)(end - q - 1), q + 1);
    allowed(rel, own, sizeof own, &other);
    checked++;
    if (!strchr(inc, '/') && strncmp(rel, "framework/", 10) == 0)
        return; /* a sibling header, found next to the including file */
    if (strncmp(inc, own, strlen(own)) == 0 || strncmp(inc, other, strlen(other)) == 0)
        return;
    fprintf(stderr, "%s includes \"%s\": outside its layer\n", rel, inc);
    broken++;
}

static int visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    size_t len = strlen(path);
    if (type != FTW_F || len < 2 || (strcmp(path + len - 2, ".c") && strcmp(path + len - 2, ".h")))
        return 0;
    const char *rel = path + strlen(root) + 1;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "#include \"", 10) == 0)
            check_line(rel, line);
    fclose(f);
    return 0;
}

static void test_includes_follow_the_layers(void **state)
{
    root = getenv("UGCFLOW_SOURCE_DIR");
    assert_non_null(root);
    static const char *const dirs[] = { "framework", "sources", "stages",
                                        "sinks",     "viz",     "bench/loadgen" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
        assert_int_equal(nftw(path, visit, 16, FTW_PHYS), 0);
    }
    assert_true(checked > 100);
    if (broken)
        fail_msg("%zu include lines reach outside their layer (see above)", broken);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_includes_follow_the_layers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
