/* token_cli.c: `ugcflow token --sub UUID [--roles a,b] [--ttl 1h] [--secret-env VAR | --key FILE]`.
 * Mints through jwt_mint.c, the code the load generator uses, so a token printed here and one
 * the load generator sends are alike. HS256 takes its secret from an environment variable
 * (never from the command line, where `ps` and shell history would show it) and refuses one
 * shorter than the verifier accepts; RS256 takes a private key file. The ttl is read with the
 * pipeline file's duration parser (30s, 15m, 1h). */
#include "framework/token_cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framework/err.h"
#include "framework/jwt.h"
#include "framework/jwt_mint.h"
#include "framework/options.h"
#include "framework/uuid.h"

#define MAX_ROLES 32
#define MAX_ROLE_LEN 64

static const char usage_text[] =
    "usage: ugcflow token --sub UUID [--roles ROLE,...] [--ttl DURATION]\n"
    "                     [--secret-env VAR | --key FILE]\n"
    "  --sub UUID        the user the token names (its sub claim)\n"
    "  --roles LIST      comma-separated roles claim (e.g. admin)\n"
    "  --ttl DURATION    how long the token is valid [1h]\n"
    "  --secret-env VAR  HS256 with the secret in this environment variable [UGCFLOW_JWT_SECRET]\n"
    "  --key FILE        RS256 with this RSA private key (PEM, unencrypted, >= 2048 bits)\n";

struct token_args {
    const char *sub, *roles, *ttl, *secret_env, *key;
};

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "ugcflow token: %s\n", msg);
    fputs(usage_text, stderr);
    return 2;
}

static int parse_args(int argc, char **argv, struct token_args *a)
{
    static const struct option longopts[] = { { "sub", required_argument, NULL, 's' },
                                              { "roles", required_argument, NULL, 'r' },
                                              { "ttl", required_argument, NULL, 't' },
                                              { "secret-env", required_argument, NULL, 'e' },
                                              { "key", required_argument, NULL, 'k' },
                                              { "help", no_argument, NULL, 'h' },
                                              { NULL, 0, NULL, 0 } };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            a->sub = optarg;
            break;
        case 'r':
            a->roles = optarg;
            break;
        case 't':
            a->ttl = optarg;
            break;
        case 'e':
            a->secret_env = optarg;
            break;
        case 'k':
            a->key = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 1;
        default:
            return usage(NULL);
        }
    }
    if (optind < argc)
        return usage("too many arguments");
    if (!a->sub)
        return usage("--sub is required");
    if (!uf_uuid_is_valid(a->sub))
        return usage("--sub must be a UUID (8-4-4-4-12 hex digits)");
    if (a->secret_env && a->key)
        return usage("--secret-env and --key exclude each other");
    return 0;
}

/* The roles claim from "a,b,c"; NULL (usage printed) when a role is empty or too long. */
static json_t *parse_roles(const char *text)
{
    json_t *roles = json_array();
    for (const char *p = text;;) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n > MAX_ROLE_LEN || json_array_size(roles) == MAX_ROLES) {
            json_decref(roles);
            usage("--roles: each role is 1-64 characters, at most 32 roles");
            return NULL;
        }
        json_array_append_new(roles, json_stringn(p, n));
        if (!p[n])
            return roles;
        p += n + 1;
    }
}

/* The ttl in seconds; -1 (usage printed) when it is not a duration of 1 s to 366 days. */
static int64_t parse_ttl(const char *text)
{
    const struct uf_option opt = {
        .name = "ttl", .type = UF_OPT_DURATION, .min = 1000, .max = 366LL * 86400 * 1000
    };
    int64_t ms = 0;
    struct uf_err err = { 0 };
    if (uf_option_parse_scalar(&opt, text ? text : "1h", &ms, &err) != 0) {
        usage(err.msg);
        return -1;
    }
    return ms / 1000;
}

/* Fills m from --key or the secret variable; 1 with a message when neither is usable. */
static int load_minter(const struct token_args *a, struct uf_jwt_minter *m,
                       struct uf_jwt_signer **signer)
{
    struct uf_err err = { 0 };
    if (a->key) {
        if (!(*signer = uf_jwt_signer_load(a->key, &err)))
            return fprintf(stderr, "ugcflow token: --key %s\n", err.msg), 1;
        m->signer = *signer;
        return 0;
    }
    const char *var = a->secret_env ? a->secret_env : "UGCFLOW_JWT_SECRET";
    const char *secret = getenv(var);
    if (!secret || !*secret)
        return fprintf(stderr, "ugcflow token: %s is not set (the HS256 secret), and no --key\n",
                       var),
               1;
    if (uf_jwt_minter_check_secret(secret, strlen(secret), &err) != 0)
        return fprintf(stderr, "ugcflow token: %s: %s\n", var, err.msg), 1;
    m->secret = secret;
    m->secret_n = strlen(secret);
    return 0;
}

int uf_token_main(int argc, char **argv)
{
    struct token_args a = { 0 };
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    int64_t ttl = parse_ttl(a.ttl);
    json_t *roles = NULL;
    if (ttl < 0 || (a.roles && !(roles = parse_roles(a.roles))))
        return 2;
    struct uf_jwt_minter m = { 0 };
    struct uf_jwt_signer *signer = NULL;
    rc = load_minter(&a, &m, &signer);
    char *token = rc == 0 ? uf_jwt_mint(&m, a.sub, roles, (int64_t)time(NULL), ttl) : NULL;
    if (token)
        printf("%s\n", token);
    else if (rc == 0) {
        fprintf(stderr, "ugcflow token: signing failed\n");
        rc = 1;
    }
    free(token);
    uf_jwt_signer_free(signer);
    json_decref(roles);
    return rc;
}

const struct uf_command uf_token_command = {
    .name = "token",
    .usage = "  token --sub UUID [--roles R,...] [--ttl 1h] [--secret-env VAR | --key FILE]\n"
             "                        print a token the APIs accept (HS256 or RS256)\n",
    .main = uf_token_main,
};
