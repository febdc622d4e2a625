/* sinks/clickhouse/clickhouse.h: the parts of the `clickhouse` sink, shared by its files only.
 * clickhouse_rowbinary.c maps an event's JSON body to a table row (a column list parsed from
 * the `columns` option) and encodes it as RowBinary or JSONEachRow; clickhouse_block.c frames
 * encoded rows as ClickHouse compressed blocks (CityHash128 v1.0.2 checksum, zstd, method
 * 0x90); clickhouse_http.c sends requests with libcurl's multi interface from one thread and
 * classifies the server's answers (uf_clickhouse_classify). Encoding is kept apart from sending so
 * both can be tested byte for byte. Nothing here is thread-safe unless said so. */
#ifndef UF_SINK_CLICKHOUSE_H
#define UF_SINK_CLICKHOUSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framework/err.h"
#include "framework/strbuf.h"

/* ---- row mapping and encoding (clickhouse_rowbinary.c) ---- */

enum uf_clickhouse_type {
    UF_CLICKHOUSE_STRING,
    UF_CLICKHOUSE_UUID,
    UF_CLICKHOUSE_DATETIME,
    UF_CLICKHOUSE_DATE,
    UF_CLICKHOUSE_UINT8,
    UF_CLICKHOUSE_UINT16,
    UF_CLICKHOUSE_UINT32,
    UF_CLICKHOUSE_UINT64,
    UF_CLICKHOUSE_INT8,
    UF_CLICKHOUSE_INT16,
    UF_CLICKHOUSE_INT32,
    UF_CLICKHOUSE_INT64,
    UF_CLICKHOUSE_FLOAT32,
    UF_CLICKHOUSE_FLOAT64,
};

enum uf_clickhouse_format { UF_CLICKHOUSE_FMT_ROWBINARY, UF_CLICKHOUSE_FMT_JSONEACHROW };

struct uf_clickhouse_column {
    char *name;     /* column name, as written */
    char *type_sql; /* the type as written ("Nullable(DateTime('UTC'))"), for CREATE TABLE */
    enum uf_clickhouse_type type;
    bool nullable;
    char **path; /* the body field it comes from, split on '.' */
    size_t npath;
};

#define UF_CLICKHOUSE_MAX_KEYS                                                                     \
    64 /* distinct top-level fields the raw encoder handles; beyond, jansson */
#define UF_CLICKHOUSE_KEY_SLOTS 128 /* a power of two, at least twice UF_CLICKHOUSE_MAX_KEYS */

struct uf_clickhouse_schema {
    struct uf_clickhouse_column *cols;
    size_t n;
    /* For encoding straight from a payload's text (clickhouse_raw.c): the distinct top-level
     * fields the columns come from, and each column's index into them. */
    const char **keys; /* borrowed from the columns' paths */
    size_t *key_len, nkeys;
    size_t *key_of; /* per column */
    bool nested;    /* some column comes from a nested field (a.b) */
    /* Open-addressing table of the keys (index + 1, 0 for an empty slot) by a hash of their
     * length and first and last bytes, filled when nkeys <= UF_CLICKHOUSE_MAX_KEYS. */
    unsigned char key_slot[UF_CLICKHOUSE_KEY_SLOTS];
};

/* Parses a list of column specs "name Type [from field.path]" (a JSON array of strings; the
 * field defaults to the column name). Fills err with the entry's index and what was expected. */
int uf_clickhouse_schema_parse(struct uf_clickhouse_schema *s, const json_t *specs,
                               struct uf_err *err);
void uf_clickhouse_schema_free(struct uf_clickhouse_schema *s);

/* "INSERT INTO `db`.`table` (`a`, `b`) FORMAT RowBinary" (new string). */
char *uf_clickhouse_insert_sql(const struct uf_clickhouse_schema *s, const char *db,
                               const char *table, enum uf_clickhouse_format f);
/* "CREATE TABLE IF NOT EXISTS `db`.`table` (`a` T, ...) ENGINE = <engine>" (new string). */
char *uf_clickhouse_create_sql(const struct uf_clickhouse_schema *s, const char *db,
                               const char *table, const char *engine);

/* Appends one row for body. On a value that does not fit its column, returns UF_EINVAL with
 * "column 'x': why" in err and leaves sb as it was. */
int uf_clickhouse_encode_row(const struct uf_clickhouse_schema *s, enum uf_clickhouse_format f,
                             const json_t *body, struct uf_strbuf *sb, struct uf_err *err);

/* Appends one row for an event's raw payload (event.h: the text of one JSON object), without
 * building a JSON tree when the format is RowBinary and every column comes from a top-level
 * field; otherwise the text is parsed with jansson and handed to uf_clickhouse_encode_row. Either
 * way the bytes and the errors are those uf_clickhouse_encode_row gives for the parsed body, except
 * that text jansson would refuse is reported as "not JSON: why at byte N" (and duplicate keys only
 * when they name a column). On error, sb is left as it was. */
int uf_clickhouse_encode_raw(const struct uf_clickhouse_schema *s, enum uf_clickhouse_format f,
                             const char *raw, size_t len, struct uf_strbuf *sb, struct uf_err *err);
/* Fills the schema's key index (called by uf_clickhouse_schema_parse). */
void uf_clickhouse_schema_index(struct uf_clickhouse_schema *s);

/* RowBinary primitives shared by both encoders. */
struct uf_clickhouse_int_range {
    int64_t min;
    uint64_t max;
    size_t width;
};
struct uf_clickhouse_int_range uf_clickhouse_int_range(enum uf_clickhouse_type t);
void uf_clickhouse_put_uleb(struct uf_strbuf *sb, uint64_t v);

/* Parses the n bytes at s, RFC 3339 ("2024-05-01T12:00:00.123456Z", offsets allowed) or
 * "YYYY-MM-DD hh:mm:ss" (UTC), into UTC microseconds. */
int uf_clickhouse_parse_time(const char *s, size_t n, int64_t *us);

/* ---- compressed blocks (clickhouse_block.c) ---- */

#define UF_CLICKHOUSE_METHOD_ZSTD 0x90
#define UF_CLICKHOUSE_BLOCK_HEADER 9 /* method byte, compressed size, uncompressed size */
#define UF_CLICKHOUSE_CHECKSUM 16

/* CityHash128 as of CityHash v1.0.2 (the variant ClickHouse checksums blocks with); out[0] is
 * the low half, written first on the wire. */
void uf_clickhouse_cityhash128(const void *p, size_t len, uint64_t out[2]);

/* Appends one framed block: checksum of what follows, method, 4-byte little-endian size of
 * header + payload, 4-byte little-endian raw size, payload. */
void uf_clickhouse_block_append(struct uf_strbuf *out, uint8_t method, const void *payload,
                                size_t plen, size_t raw_len);

struct uf_clickhouse_zstd;
struct uf_clickhouse_zstd *uf_clickhouse_zstd_new(int level);
void uf_clickhouse_zstd_free(struct uf_clickhouse_zstd *z);
/* Compresses raw into zstd blocks of at most block_size raw bytes each, appended to out.
 * Not thread-safe per uf_clickhouse_zstd. */
int uf_clickhouse_compress(struct uf_clickhouse_zstd *z, const void *raw, size_t len,
                           size_t block_size, struct uf_strbuf *out, struct uf_err *err);
/* Decompresses framed blocks (checking each checksum) into out; for tests and tools. */
int uf_clickhouse_decompress(const void *wire, size_t len, struct uf_strbuf *out,
                             struct uf_err *err);

/* ---- HTTP (clickhouse_http.c) ---- */

enum uf_clickhouse_class { UF_CLICKHOUSE_SENT, UF_CLICKHOUSE_RETRYABLE, UF_CLICKHOUSE_PERMANENT };

/* The one place that decides what a ClickHouse answer means. curl_failed: the transfer itself
 * failed (connection refused, reset, timeout); status: HTTP status; body: the response text,
 * which carries "Code: N" on errors (18.16 sends no exception-code header, and its statuses
 * are not reliable). Returns the class and, in *code, the server's code (0 when none). */
enum uf_clickhouse_class uf_clickhouse_classify(bool curl_failed, long status, const char *body,
                                                int *code);

struct uf_clickhouse_http;

/* Result of one request, delivered on the sender thread. body is borrowed for the call. */
struct uf_clickhouse_reply {
    bool curl_failed;
    long status;
    const char *body; /* response body or curl's error text; never NULL */
};
typedef void (*uf_clickhouse_reply_fn)(void *arg, const struct uf_clickhouse_reply *r);

struct uf_clickhouse_http_cfg {
    const char *url;      /* http://host:port */
    const char *user;     /* may be NULL */
    const char *password; /* may be NULL */
    int inflight;         /* most requests at once */
    int64_t timeout_ms;   /* per request */
};

/* Starts the sender thread. Does not keep cfg's strings after return. */
struct uf_clickhouse_http *uf_clickhouse_http_new(const struct uf_clickhouse_http_cfg *cfg,
                                                  struct uf_err *err);
/* Queues a POST of body (borrowed: must stay valid until fn runs) to url?query=<params>,
 * started no earlier than not_before_us (monotonic; 0 = now). params is copied; it is the
 * already-encoded query string ("query=...&decompress=1"). fn runs once on the sender thread,
 * also when the sender shuts down (then curl_failed with "shutting down"). Thread-safe. */
void uf_clickhouse_http_post(struct uf_clickhouse_http *h, const char *params, const void *body,
                             size_t len, int64_t not_before_us, uf_clickhouse_reply_fn fn,
                             void *arg);
/* Stops the thread; requests still queued or running get their callback with "shutting down". */
void uf_clickhouse_http_free(struct uf_clickhouse_http *h);

/* Runs one statement synchronously (schema at start); the SQL goes in the POST body. Fills err
 * with the server's message on failure. */
int uf_clickhouse_http_exec(const struct uf_clickhouse_http_cfg *cfg, const char *sql,
                            struct uf_strbuf *out, struct uf_err *err);
/* URL-encodes s for a query string (new string). */
char *uf_clickhouse_url_encode(const char *s);

#endif
