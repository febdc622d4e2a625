/* spool.h: an append-only disk spool of records, for what a sink's service could not take yet
 * (the kafka sink's messages, http_forward's events). A spool is a directory of segment files,
 * replayed oldest first, one whole sealed segment at a time; a segment is deleted only once
 * every record in it was delivered (uf_spool_segment_done), so replay keeps order, also across
 * restarts, and is at least once. Thread-safe: one internal mutex. File format and recovery:
 * docs/architecture.md, "Module notes". */
#ifndef UF_SPOOL_H
#define UF_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framework/err.h"

enum uf_spool_fsync {
    UF_SPOOL_FSYNC_ALWAYS,   /* fsync before each append call returns */
    UF_SPOOL_FSYNC_INTERVAL, /* fsync from uf_spool_tick at most every interval */
    UF_SPOOL_FSYNC_NEVER,    /* leave it to the kernel */
};

struct uf_spool_cfg {
    const char *dir;       /* created with its parents when missing */
    int64_t max_bytes;     /* appends that would exceed it fail with UF_EFULL */
    int64_t segment_bytes; /* a segment is sealed once it reaches this size */
    enum uf_spool_fsync fsync;
    int64_t fsync_interval_ms;
};

/* One record's payload. Borrowed (from the caller on append, from the reader on replay). */
struct uf_spool_rec {
    const void *data;
    size_t len;
};

struct uf_spool;
struct uf_spool_segment;

/* Opens (or creates) the spool in cfg->dir and scans the segments already there, counting their
 * records and bytes. Blocks on disk I/O. NULL with err filled when the directory cannot be used. */
struct uf_spool *uf_spool_open(const struct uf_spool_cfg *cfg, struct uf_err *err);

/* Appends n records, all or none: UF_EFULL when they would not fit under max_bytes (nothing is
 * written), UF_EIO when the disk failed (a partial write is cut off again). Returns 0 once the
 * records are written and, with fsync=always, synced. Blocks on disk I/O. */
int uf_spool_append(struct uf_spool *sp, const struct uf_spool_rec *recs, size_t n,
                    struct uf_err *err);

/* The oldest segment holding records, read into memory, or NULL when the spool is empty (or on
 * a read error, with err filled). Only one segment may be out at a time. */
struct uf_spool_segment *uf_spool_next_segment(struct uf_spool *sp, struct uf_err *err);
/* The segment's next record: 1 with *rec filled (pointers valid until segment_done), 0 at the
 * end. Damaged records are skipped and counted (see uf_spool_corrupt). */
int uf_spool_segment_read(struct uf_spool_segment *seg, struct uf_spool_rec *rec);
/* Ends the replay of seg (and frees it): delivered=true deletes the segment file, false keeps
 * it for the next attempt. */
void uf_spool_segment_done(struct uf_spool *sp, struct uf_spool_segment *seg, bool delivered);

/* Records and bytes currently on disk (including a segment out for replay). */
uint64_t uf_spool_records(struct uf_spool *sp);
uint64_t uf_spool_bytes(struct uf_spool *sp);
/* Damaged records skipped so far. */
uint64_t uf_spool_corrupt(struct uf_spool *sp);
bool uf_spool_is_empty(struct uf_spool *sp);

/* Periodic work: the interval fsync. Cheap when there is nothing to do. */
void uf_spool_tick(struct uf_spool *sp);

/* Syncs and closes; files stay for the next open. Accepts NULL. */
void uf_spool_close(struct uf_spool *sp);

/* CRC-32 (IEEE 802.3, as zlib's crc32) of buf, continuing from crc (start with 0). */
uint32_t uf_crc32(uint32_t crc, const void *buf, size_t n);

#endif
