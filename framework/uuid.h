/* uuid.h: UUID helpers: time-ordered UUIDv7 generation (RFC 9562), parsing and formatting.
 * Generation uses a per-thread generator seeded from getrandom(2), so it is lock-free and cheap
 * enough for every event; ids from one thread are strictly increasing. */
#ifndef UF_UUID_H
#define UF_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UF_UUID_STR 37 /* 36 characters and the NUL */

void uf_uuid_v7(uint8_t out[16]);
/* The same with the time given (milliseconds since the epoch, UTC), for a caller that has just
 * read the clock; still strictly increasing per thread. */
void uf_uuid_v7_at(uint8_t out[16], int64_t ms);
/* Name-based UUIDv5 (RFC 9562 5.5, SHA-1): the same namespace and name give the same id, for
 * events that must keep one id however often they are made (a view counted again after a
 * restart). */
void uf_uuid_v5(const uint8_t ns[16], const void *name, size_t n, uint8_t out[16]);
void uf_uuid_format(const uint8_t id[16], char out[UF_UUID_STR]);
/* Parses the canonical 8-4-4-4-12 hex form (either case); false when malformed. */
bool uf_uuid_parse(const char *s, uint8_t out[16]);
/* The same for the n bytes at s, which need no NUL (a span of a JSON text). */
bool uf_uuid_parse_n(const char *s, size_t n, uint8_t out[16]);
/* true when s is a canonical UUID string. */
bool uf_uuid_is_valid(const char *s);

#endif
