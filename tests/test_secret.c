/* tests/test_secret.c: the secret rules (framework/secret.c): names of secrets and of where they
 * are kept, URL userinfo passwords and secret key=value pairs hidden in text (cut or not), and
 * every option of every kind in the registry, planted with secrets of its type (a secret-flagged
 * string, URLs and DSNs with passwords, librdkafka properties), rendered for display without
 * one of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "framework/graph.h"
#include "framework/options.h"
#include "framework/registry.h"
#include "framework/secret.h"

static void test_names(void **state)
{
    static const char *const secret[] = { "sasl.password",
                                          "ssl.key.password",
                                          "ssl.keystore.password",
                                          "sasl.oauthbearer.client.secret",
                                          "ssl.key.pem",
                                          "Authorization",
                                          "X-Api-Key",
                                          "api_key",
                                          "password",
                                          "PWD",
                                          "token",
                                          "db.Password",
                                          NULL };
    static const char *const plain[] = {
        "secret_env", "secret_file", "ssl.key.location",  "roles_claim", "token_cache",
        "brokers",    "url",         "bootstrap.servers", "user",        "key_fields",
        NULL
    };
    for (const char *const *p = secret; *p; p++)
        if (!uf_secret_is_secret_name(*p))
            fail_msg("'%s' is a secret", *p);
    for (const char *const *p = plain; *p; p++)
        if (uf_secret_is_secret_name(*p))
            fail_msg("'%s' is not a secret", *p);
}

static void redacts(const char *in, const char *want)
{
    char out[256];
    assert_string_equal(uf_secret_redact(in, out, sizeof out), want);
    assert_int_equal(uf_secret_has_inline(in), strcmp(in, want) != 0);
}

static void test_inline(void **state)
{
    redacts("postgresql://ugc:hunter2@db:5432/ugc", "postgresql://ugc:***@db:5432/ugc");
    redacts("host=db user=ugc password=hunter2 dbname=ugc",
            "host=db user=ugc password=*** dbname=ugc");
    redacts("host=db password='a b\\' c' port=1", "host=db password=*** port=1");
    redacts("http://h/x?a=1&token=abc&b=2", "http://h/x?a=1&token=***&b=2");
    redacts("https://default:pw@ch:8123/?user=x", "https://default:***@ch:8123/?user=x");
    redacts("connect to http://u@h:80/ failed: refused",
            "connect to http://u@h:80/ failed: refused");
    redacts("SASL_SSL://broker:9093,b2:9093", "SASL_SSL://broker:9093,b2:9093");
    redacts("a=b password= c", "a=b password= c");
    redacts("x://a:b@", "x://a:***@");
    char out[20]; /* cut inside the mask: the password is still never shown */
    uf_secret_redact("postgresql://ugc:hunter2@db/ugc", out, sizeof out);
    assert_null(strstr(out, "hunter2"));
    assert_int_equal(strlen(out), sizeof out - 1);
}

static void test_json(void **state)
{
    json_t *j = json_pack("{s:s,s:s,s:{s:s,s:n},s:[s]}", "sasl.password", "P1", "bootstrap.servers",
                          "b:9092", "nested", "client.secret", "P2", "ssl.key.password", "list",
                          "http://u:P3@h/");
    json_t *r = uf_secret_redact_json(j);
    char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"bootstrap.servers\":\"b:9092\",\"list\":[\"http://u:***@h/\"],"
                           "\"nested\":{\"client.secret\":\"***\",\"ssl.key.password\":null},"
                           "\"sasl.password\":\"***\"}");
    free(s);
    json_decref(r);
    json_decref(j);
}

#define PLANTED "PLANTED-SECRET"
static const char planted_text[] =
    "postgresql://u:" PLANTED "@h/db password=" PLANTED " https://x:" PLANTED "@h/?token=" PLANTED;

/* Writes a planted secret of o's type at o->offset in ctx; false for types that hold none. */
static bool plant(const struct uf_option *o, void *ctx)
{
    void *dst = (char *)ctx + o->offset;
    if (o->type == UF_OPT_STR) {
        *(const char **)dst = (o->flags & UF_OPT_SECRET) ? PLANTED : planted_text;
    } else if (o->type == UF_OPT_LIST) {
        *(json_t **)dst = json_pack("[s]", planted_text);
    } else if (o->type == UF_OPT_MAP) {
        *(json_t **)dst = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s},s:s}", "sasl.password", PLANTED,
                                    "ssl.key.password", PLANTED, "ssl.keystore.password", PLANTED,
                                    "sasl.oauthbearer.client.secret", PLANTED, "ssl.key.pem",
                                    PLANTED, "nested", "db.password", PLANTED, "url", planted_text);
    } else {
        return false;
    }
    return true;
}

static void unplant(const struct uf_option *o, void *ctx)
{
    if (o->type == UF_OPT_LIST || o->type == UF_OPT_MAP)
        json_decref(*(json_t **)((char *)ctx + o->offset));
}

static void test_every_kind(void **state)
{
    size_t planted = 0;
    for (const struct uf_kind *const *k = uf_kinds; *k; k++) {
        void *ctx = calloc(1, (*k)->ctx_size + 1);
        for (const struct uf_option *o = (*k)->options; o && o->name; o++) {
            if (o->type == UF_OPT_ENUM || !plant(o, ctx))
                continue;
            planted++;
            json_t *j = uf_secret_option_json(o, ctx);
            char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
            if (strstr(s, PLANTED))
                fail_msg("%s.%s shows a secret: %s", (*k)->name, o->name, s);
            if (!strstr(s, UF_SECRET_MASK))
                fail_msg("%s.%s: nothing masked: %s", (*k)->name, o->name, s);
            free(s);
            json_decref(j);
            unplant(o, ctx);
        }
        free(ctx);
    }
    assert_true(planted > 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_every_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
