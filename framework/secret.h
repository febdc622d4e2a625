/* secret.h: the one place that decides what counts as a secret in configuration and logs.
 * Three rules: an option whose table entry has UF_OPT_SECRET is hidden whole; a key of a
 * free-form map (librdkafka `properties`, headers) or a log field whose name says password,
 * secret, token, credential, private key or authorization is hidden whole; inside any other
 * text, a URL's userinfo password (scheme://user:PASSWORD@host) and the value of a
 * secret-named key=value pair (a libpq DSN's password=..., a query's ?token=...) are hidden.
 * Hidden parts read "***". Pure functions of their input; thread-safe. */
#ifndef UF_SECRET_H
#define UF_SECRET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct uf_option;

#define UF_SECRET_MASK "***"

/* true when a map key or field name names a secret (case-insensitive): sasl.password,
 * ssl.key.password, *.password, ssl.key.pem, sasl.oauthbearer.client.secret, api_key,
 * Authorization... Names of where a secret is (secret_env, *_file, *_location) are not. */
bool uf_secret_is_secret_name(const char *name);

/* true when text holds an inline credential the rules above hide. */
bool uf_secret_has_inline(const char *text);

/* text with every inline credential replaced by UF_SECRET_MASK, into out (n bytes, always
 * NUL-terminated; a credential cut by the end of out is hidden, never partly shown). Returns
 * out. */
char *uf_secret_redact(const char *text, char *out, size_t n);

/* A deep copy of j for display: strings redacted, a secret-named key's value (when not null)
 * replaced by UF_SECRET_MASK at any depth. New reference; NULL when j is NULL. */
json_t *uf_secret_redact_json(const json_t *j);

/* An option's value (at base + opt->offset) for display: UF_OPT_SECRET options as
 * UF_SECRET_MASK (null when unset), the others by type with the rules above. New reference. */
json_t *uf_secret_option_json(const struct uf_option *opt, const void *base);

#endif
