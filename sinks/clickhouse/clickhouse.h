/* sinks/clickhouse/clickhouse.h: the parts of the `clickhouse` sink, shared by its files only.
 * clickhouse_rowbinary.c maps an event's JSON body to a table row (a column list parsed from
 * the `columns` option) and encodes it as RowBinary or JSONEachRow; clickhouse_block.c frames
 * encoded rows as ClickHouse compressed blocks (CityHash128 v1.0.2 checksum, zstd, method
 * 0x90); clickhouse_http.c sends requests with libcurl's multi interface from one thread and
 * classifies the server's answers (ch_classify). Encoding is kept apart from sending so both can
 * be tested byte for byte. Nothing here is thread-safe unless said so. */
#ifndef UF_SINK_CLICKHOUSE_H
#define UF_SINK_CLICKHOUSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framework/err.h"
#include "framework/strbuf.h"

/* ---- row mapping and encoding (clickhouse_rowbinary.c) ---- */

enum ch_type {
    CH_STRING,
    CH_UUID,
    CH_DATETIME,
    CH_DATE,
    CH_UINT8,
    CH_UINT16,
    CH_UINT32,
    CH_UINT64,
    CH_INT8,
    CH_INT16,
    CH_INT32,
    CH_INT64,
    CH_FLOAT32,
    CH_FLOAT64,
};

enum ch_format { CH_FMT_ROWBINARY, CH_FMT_JSONEACHROW };

struct ch_column {
    char *name;     /* column name, as written */
    char *type_sql; /* the type as written ("Nullable(DateTime('UTC'))"), for CREATE TABLE */
    enum ch_type type;
    bool nullable;
    char **path; /* the body field it comes from, split on '.' */
    size_t npath;
};

#define CH_MAX_KEYS 64   /* distinct top-level fields the raw encoder handles; beyond, jansson */
#define CH_KEY_SLOTS 128 /* a power of two, at least twice CH_MAX_KEYS */

struct ch_schema {
    struct ch_column *cols;
    size_t n;
    /* For encoding straight from a payload's text (clickhouse_raw.c): the distinct top-level
     * fields the columns come from, and each column's index into them. */
    const char **keys; /* borrowed from the columns' paths */
    size_t *key_len, nkeys;
    size_t *key_of; /* per column */
    bool nested;    /* some column comes from a nested field (a.b) */
    /* Open-addressing table of the keys (index + 1, 0 for an empty slot) by a hash of their
     * length and first and last bytes, filled when nkeys <= CH_MAX_KEYS. */
    unsigned char key_slot[CH_KEY_SLOTS];
};

/* Parses a list of column specs "name Type [from field.path]" (a JSON array of strings; the
 * field defaults to the column name). Fills err with the entry's index and what was expected. */
int ch_schema_parse(struct ch_schema *s, const json_t *specs, struct uf_err *err);
void ch_schema_free(struct ch_schema *s);

/* "INSERT INTO `db`.`table` (`a`, `b`) FORMAT RowBinary" (new string). */
char *ch_insert_sql(const struct ch_schema *s, const char *db, const char *table, enum ch_format f);
/* "CREATE TABLE IF NOT EXISTS `db`.`table` (`a` T, ...) ENGINE = <engine>" (new string). */
char *ch_create_sql(const struct ch_schema *s, const char *db, const char *table,
                    const char *engine);

/* Appends one row for body. On a value that does not fit its column, returns UF_EINVAL with
 * "column 'x': why" in err and leaves sb as it was. */
int ch_encode_row(const struct ch_schema *s, enum ch_format f, const json_t *body,
                  struct uf_strbuf *sb, struct uf_err *err);

/* Appends one row for an event's raw payload (event.h: the text of one JSON object), without
 * building a JSON tree when the format is RowBinary and every column comes from a top-level
 * field; otherwise the text is parsed with jansson and handed to ch_encode_row. Either way the
 * bytes and the errors are those ch_encode_row gives for the parsed body, except that text
 * jansson would refuse is reported as "not JSON: why at byte N" (and duplicate keys only when
 * they name a column). On error, sb is left as it was. */
int ch_encode_raw(const struct ch_schema *s, enum ch_format f, const char *raw, size_t len,
                  struct uf_strbuf *sb, struct uf_err *err);
/* Fills the schema's key index (called by ch_schema_parse). */
void ch_schema_index(struct ch_schema *s);

/* RowBinary primitives shared by both encoders. */
struct ch_int_range {
    int64_t min;
    uint64_t max;
    size_t width;
};
struct ch_int_range ch_int_range(enum ch_type t);
void ch_put_uleb(struct uf_strbuf *sb, uint64_t v);

/* Parses the n bytes at s, RFC 3339 ("2024-05-01T12:00:00.123456Z", offsets allowed) or
 * "YYYY-MM-DD hh:mm:ss" (UTC), into UTC microseconds. */
int ch_parse_time(const char *s, size_t n, int64_t *us);

/* ---- compressed blocks (clickhouse_block.c) ---- */

#define CH_METHOD_ZSTD 0x90
#define CH_BLOCK_HEADER 9 /* method byte, compressed size, uncompressed size */
#define CH_CHECKSUM 16

/* CityHash128 as of CityHash v1.0.2 (the variant ClickHouse checksums blocks with); out[0] is
 * the low half, written first on the wire. */
void ch_cityhash128(const void *p, size_t len, uint64_t out[2]);

/* Appends one framed block: checksum of what follows, method, 4-byte little-endian size of
 * header + payload, 4-byte little-endian raw size, payload. */
void ch_block_append(struct uf_strbuf *out, uint8_t method, const void *payload, size_t plen,
                     size_t raw_len);

struct ch_zstd;
struct ch_zstd *ch_zstd_new(int level);
void ch_zstd_free(struct ch_zstd *z);
/* Compresses raw into zstd blocks of at most block_size raw bytes each, appended to out.
 * Not thread-safe per ch_zstd. */
int ch_compress(struct ch_zstd *z, const void *raw, size_t len, size_t block_size,
                struct uf_strbuf *out, struct uf_err *err);
/* Decompresses framed blocks (checking each checksum) into out; for tests and tools. */
int ch_decompress(const void *wire, size_t len, struct uf_strbuf *out, struct uf_err *err);

/* ---- HTTP (clickhouse_http.c) ---- */

enum ch_class { CH_SENT, CH_RETRYABLE, CH_PERMANENT };

/* The one place that decides what a ClickHouse answer means. curl_failed: the transfer itself
 * failed (connection refused, reset, timeout); status: HTTP status; body: the response text,
 * which carries "Code: N" on errors (18.16 sends no exception-code header, and its statuses
 * are not reliable). Returns the class and, in *code, the server's code (0 when none). */
enum ch_class ch_classify(bool curl_failed, long status, const char *body, int *code);

struct ch_http;

/* Result of one request, delivered on the sender thread. body is borrowed for the call. */
struct ch_reply {
    bool curl_failed;
    long status;
    const char *body; /* response body or curl's error text; never NULL */
};
typedef void (*ch_reply_fn)(void *arg, const struct ch_reply *r);

struct ch_http_cfg {
    const char *url;      /* http://host:port */
    const char *user;     /* may be NULL */
    const char *password; /* may be NULL */
    int inflight;         /* most requests at once */
    int64_t timeout_ms;   /* per request */
};

/* Starts the sender thread. Does not keep cfg's strings after return. */
struct ch_http *ch_http_new(const struct ch_http_cfg *cfg, struct uf_err *err);
/* Queues a POST of body (borrowed: must stay valid until fn runs) to url?query=<params>,
 * started no earlier than not_before_us (monotonic; 0 = now). params is copied; it is the
 * already-encoded query string ("query=...&decompress=1"). fn runs once on the sender thread,
 * also when the sender shuts down (then curl_failed with "shutting down"). Thread-safe. */
void ch_http_post(struct ch_http *h, const char *params, const void *body, size_t len,
                  int64_t not_before_us, ch_reply_fn fn, void *arg);
/* Stops the thread; requests still queued or running get their callback with "shutting down". */
void ch_http_free(struct ch_http *h);

/* Runs one statement synchronously (schema at start); the SQL goes in the POST body. Fills err
 * with the server's message on failure. */
int ch_http_exec(const struct ch_http_cfg *cfg, const char *sql, struct uf_strbuf *out,
                 struct uf_err *err);
/* URL-encodes s for a query string (new string). */
char *ch_url_encode(const char *s);

#endif
