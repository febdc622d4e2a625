/* spool.c: the append-only disk spool (format and rules in spool.h). Only this file touches
 * spool files. It knows nothing of the records or events: the sink decides what to spool and
 * when to replay. One mutex guards the segment list and counters; the file reads of
 * a replay happen outside it, on a sealed segment that no one writes any more. */
#include "framework/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "framework/mem.h"

#define REC_HDR 8u /* u32 length + u32 crc */
#define SEG_NAME_MAX 32

struct seg_info {
    uint64_t seq;
    uint64_t bytes;
    uint64_t records;
};

struct uf_spool {
    pthread_mutex_t lock;
    struct uf_spool_cfg cfg;
    char *dir;             /* ours: cfg.dir points here */
    struct seg_info *segs; /* oldest first; the last one is the active one when fd >= 0 */
    size_t nsegs, cap;
    int fd; /* the active segment, -1 when sealed or none yet */
    uint64_t bytes, records, corrupt;
    bool dirty; /* written since the last fsync */
    int64_t synced_ms;
    bool out; /* a segment is out for replay */
};

struct uf_spool_segment {
    uint64_t seq;
    unsigned char *buf;
    size_t len, off;
    uint64_t corrupt;
};

/* ---- CRC-32: nibble table, small and fast enough for spool-sized records ---- */

static const uint32_t crc_nibble[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

uint32_t uf_crc32(uint32_t crc, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
    }
    return ~crc;
}

/* ---- encoding ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Encodes one record at p; returns the bytes written. */
static size_t encode_rec(unsigned char *p, const struct uf_spool_rec *r)
{
    if (r->len)
        memcpy(p + REC_HDR, r->data, r->len);
    put_u32(p, (uint32_t)r->len);
    put_u32(p + 4, uf_crc32(0, p + REC_HDR, r->len));
    return REC_HDR + r->len;
}

enum scan_rc { SCAN_REC, SCAN_END, SCAN_TORN, SCAN_BAD };

/* Reads the record at *off: SCAN_REC (advanced, *r filled), SCAN_BAD (damaged but its length
 * is plausible: skipped), SCAN_TORN (the rest of the buffer is not a whole record) or SCAN_END. */
static enum scan_rc scan_rec(const unsigned char *buf, size_t len, size_t *off,
                             struct uf_spool_rec *r)
{
    if (*off == len)
        return SCAN_END;
    if (len - *off < REC_HDR)
        return SCAN_TORN;
    uint32_t n = get_u32(buf + *off);
    if (n > len - *off - REC_HDR)
        return SCAN_TORN;
    const unsigned char *pl = buf + *off + REC_HDR;
    bool ok = uf_crc32(0, pl, n) == get_u32(buf + *off + 4);
    *r = (struct uf_spool_rec){ pl, n };
    *off += REC_HDR + n;
    return ok ? SCAN_REC : SCAN_BAD;
}

/* ---- files ---- */

static char *seg_path(const struct uf_spool *sp, uint64_t seq)
{
    return uf_xasprintf("%s/%016" PRIx64 ".seg", sp->dir, seq);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads a whole file into a fresh buffer. */
static int read_file(const char *path, unsigned char **out, size_t *len, struct uf_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return uf_err_set(err, UF_EIO, "open '%s': %s", path, strerror(errno));
    struct stat sb;
    int rc = 0;
    unsigned char *buf = NULL;
    if (fstat(fd, &sb) < 0) {
        rc = uf_err_set(err, UF_EIO, "stat '%s': %s", path, strerror(errno));
        goto out;
    }
    buf = uf_xmalloc((size_t)sb.st_size + 1);
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            rc = uf_err_set(err, UF_EIO, "read '%s': %s", path, r ? strerror(errno) : "short");
            goto out;
        }
        got += (size_t)r;
    }
    *out = buf;
    *len = got;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

static void push_seg(struct uf_spool *sp, struct seg_info si)
{
    if (sp->nsegs == sp->cap) {
        sp->cap = sp->cap ? sp->cap * 2 : 16;
        sp->segs = uf_xrealloc(sp->segs, sp->cap * sizeof(*sp->segs));
    }
    sp->segs[sp->nsegs++] = si;
}

/* Counts the records of an existing segment, cuts a torn tail off and drops empty files. */
static int load_seg(struct uf_spool *sp, uint64_t seq, struct uf_err *err)
{
    char *path = seg_path(sp, seq);
    unsigned char *buf = NULL;
    size_t len = 0, off = 0;
    int rc = read_file(path, &buf, &len, err);
    if (rc < 0)
        goto out;
    struct seg_info si = { .seq = seq };
    struct uf_spool_rec r;
    enum scan_rc s;
    while ((s = scan_rec(buf, len, &off, &r)) == SCAN_REC || s == SCAN_BAD) {
        if (s == SCAN_REC)
            si.records++;
        else
            sp->corrupt++;
    }
    if (s == SCAN_TORN && truncate(path, (off_t)off) < 0) {
        rc = uf_err_set(err, UF_EIO, "truncate torn tail of '%s': %s", path, strerror(errno));
        goto out;
    }
    si.bytes = off;
    if (si.records == 0) {
        unlink(path);
        goto out;
    }
    push_seg(sp, si);
    sp->bytes += si.bytes;
    sp->records += si.records;
out:
    free(buf);
    free(path);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the segment sequence numbers in the directory, sorted. */
static int list_segs(const char *dir, uint64_t **out, size_t *n, struct uf_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return uf_err_set(err, UF_EIO, "open spool directory '%s': %s", dir, strerror(errno));
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end = NULL;
        uint64_t seq = strtoull(de->d_name, &end, 16);
        if (strlen(de->d_name) != 20 || end != de->d_name + 16 || strcmp(end, ".seg") != 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = uf_xrealloc(*out, cap * sizeof(**out));
        }
        (*out)[(*n)++] = seq;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof(**out), cmp_u64);
    return 0;
}

static void sync_dir(const struct uf_spool *sp)
{
    int fd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* mkdir -p: creates dir and its missing parents. */
static int make_dirs(const char *dir)
{
    char *path = uf_xstrdup(dir);
    int rc = 0;
    for (char *p = path + 1; rc == 0 && *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) < 0 && errno != EEXIST)
            rc = -1;
        *p = '/';
    }
    if (rc == 0 && mkdir(path, 0750) < 0 && errno != EEXIST)
        rc = -1;
    free(path);
    return rc;
}

struct uf_spool *uf_spool_open(const struct uf_spool_cfg *cfg, struct uf_err *err)
{
    if (make_dirs(cfg->dir) < 0) {
        uf_err_set(err, UF_EIO, "create spool directory '%s': %s", cfg->dir, strerror(errno));
        return NULL;
    }
    struct uf_spool *sp = uf_xcalloc(1, sizeof(*sp));
    pthread_mutex_init(&sp->lock, NULL);
    sp->dir = uf_xstrdup(cfg->dir);
    sp->cfg = *cfg;
    sp->cfg.dir = sp->dir;
    sp->fd = -1;
    sp->synced_ms = now_ms();
    uint64_t *seqs = NULL;
    size_t n = 0;
    if (list_segs(sp->dir, &seqs, &n, err) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (load_seg(sp, seqs[i], err) < 0)
            goto fail;
    free(seqs);
    return sp;
fail:
    free(seqs);
    uf_spool_close(sp);
    return NULL;
}

/* ---- appending ---- */

/* Makes sure an active segment with room exists (lock held). */
static int ensure_active(struct uf_spool *sp, struct uf_err *err)
{
    if (sp->fd >= 0 && sp->segs[sp->nsegs - 1].bytes < (uint64_t)sp->cfg.segment_bytes)
        return 0;
    if (sp->fd >= 0) {
        if (sp->dirty)
            fdatasync(sp->fd);
        close(sp->fd);
        sp->fd = -1;
    }
    struct seg_info si = { .seq = sp->nsegs ? sp->segs[sp->nsegs - 1].seq + 1 : 1 };
    char *path = seg_path(sp, si.seq);
    sp->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
    int rc = 0;
    if (sp->fd < 0)
        rc = uf_err_set(err, UF_EIO, "create spool segment '%s': %s", path, strerror(errno));
    else
        push_seg(sp, si);
    free(path);
    if (rc == 0 && sp->cfg.fsync == UF_SPOOL_FSYNC_ALWAYS)
        sync_dir(sp);
    return rc;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int append_locked(struct uf_spool *sp, const unsigned char *buf, size_t total, size_t n,
                         struct uf_err *err)
{
    if (sp->bytes + total > (uint64_t)sp->cfg.max_bytes)
        return uf_err_set(err, UF_EFULL, "spool '%s' is full (%" PRIu64 " of %" PRId64 " bytes)",
                          sp->dir, sp->bytes, sp->cfg.max_bytes);
    if (ensure_active(sp, err) < 0)
        return err ? err->code : UF_EIO;
    struct seg_info *si = &sp->segs[sp->nsegs - 1];
    if (write_all(sp->fd, buf, total) < 0) {
        int e = errno;
        if (ftruncate(sp->fd, (off_t)si->bytes) < 0)
            e = errno;
        return uf_err_set(err, UF_EIO, "write spool segment %016" PRIx64 " in '%s': %s", si->seq,
                          sp->dir, strerror(e));
    }
    if (sp->cfg.fsync == UF_SPOOL_FSYNC_ALWAYS && fdatasync(sp->fd) < 0)
        return uf_err_set(err, UF_EIO, "fsync spool segment in '%s': %s", sp->dir, strerror(errno));
    sp->dirty = sp->cfg.fsync != UF_SPOOL_FSYNC_ALWAYS;
    si->bytes += total;
    si->records += n;
    sp->bytes += total;
    sp->records += n;
    return 0;
}

int uf_spool_append(struct uf_spool *sp, const struct uf_spool_rec *recs, size_t n,
                    struct uf_err *err)
{
    if (n == 0)
        return 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].len > UINT32_MAX - REC_HDR)
            return uf_err_set(err, UF_EINVAL, "spool record %zu is too large", i);
        total += REC_HDR + recs[i].len;
    }
    unsigned char *buf = uf_xmalloc(total);
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += encode_rec(buf + off, &recs[i]);
    pthread_mutex_lock(&sp->lock);
    int rc = append_locked(sp, buf, total, n, err);
    pthread_mutex_unlock(&sp->lock);
    free(buf);
    return rc;
}

/* ---- replay ---- */

struct uf_spool_segment *uf_spool_next_segment(struct uf_spool *sp, struct uf_err *err)
{
    pthread_mutex_lock(&sp->lock);
    if (sp->out || sp->nsegs == 0 || sp->segs[0].records == 0) {
        pthread_mutex_unlock(&sp->lock);
        return NULL;
    }
    if (sp->fd >= 0 && sp->nsegs == 1) { /* seal the active segment: it is the oldest */
        if (sp->dirty)
            fdatasync(sp->fd);
        sp->dirty = false;
        close(sp->fd);
        sp->fd = -1;
    }
    uint64_t seq = sp->segs[0].seq;
    sp->out = true;
    pthread_mutex_unlock(&sp->lock);

    struct uf_spool_segment *seg = uf_xcalloc(1, sizeof(*seg));
    seg->seq = seq;
    char *path = seg_path(sp, seq);
    int rc = read_file(path, &seg->buf, &seg->len, err);
    free(path);
    if (rc < 0) {
        uf_spool_segment_done(sp, seg, false);
        return NULL;
    }
    return seg;
}

int uf_spool_segment_read(struct uf_spool_segment *seg, struct uf_spool_rec *rec)
{
    for (;;) {
        enum scan_rc s = scan_rec(seg->buf, seg->len, &seg->off, rec);
        if (s == SCAN_REC)
            return 1;
        if (s != SCAN_BAD)
            return 0;
        seg->corrupt++;
    }
}

void uf_spool_segment_done(struct uf_spool *sp, struct uf_spool_segment *seg, bool delivered)
{
    if (!seg)
        return;
    pthread_mutex_lock(&sp->lock);
    sp->out = false;
    if (delivered && sp->nsegs && sp->segs[0].seq == seg->seq) {
        char *path = seg_path(sp, seg->seq);
        unlink(path);
        free(path);
        sp->bytes -= sp->segs[0].bytes;
        sp->records -= sp->segs[0].records;
        sp->corrupt += seg->corrupt;
        memmove(sp->segs, sp->segs + 1, (sp->nsegs - 1) * sizeof(*sp->segs));
        sp->nsegs--;
    }
    pthread_mutex_unlock(&sp->lock);
    free(seg->buf);
    free(seg);
}

/* ---- state ---- */

uint64_t uf_spool_records(struct uf_spool *sp)
{
    pthread_mutex_lock(&sp->lock);
    uint64_t v = sp->records;
    pthread_mutex_unlock(&sp->lock);
    return v;
}

uint64_t uf_spool_bytes(struct uf_spool *sp)
{
    pthread_mutex_lock(&sp->lock);
    uint64_t v = sp->bytes;
    pthread_mutex_unlock(&sp->lock);
    return v;
}

uint64_t uf_spool_corrupt(struct uf_spool *sp)
{
    pthread_mutex_lock(&sp->lock);
    uint64_t v = sp->corrupt;
    pthread_mutex_unlock(&sp->lock);
    return v;
}

bool uf_spool_is_empty(struct uf_spool *sp)
{
    return uf_spool_records(sp) == 0;
}

void uf_spool_tick(struct uf_spool *sp)
{
    pthread_mutex_lock(&sp->lock);
    int64_t now = now_ms();
    if (sp->dirty && sp->fd >= 0 && sp->cfg.fsync == UF_SPOOL_FSYNC_INTERVAL &&
        now - sp->synced_ms >= sp->cfg.fsync_interval_ms) {
        fdatasync(sp->fd);
        sp->dirty = false;
        sp->synced_ms = now;
    }
    pthread_mutex_unlock(&sp->lock);
}

void uf_spool_close(struct uf_spool *sp)
{
    if (!sp)
        return;
    if (sp->fd >= 0) {
        if (sp->dirty && sp->cfg.fsync != UF_SPOOL_FSYNC_NEVER)
            fdatasync(sp->fd);
        close(sp->fd);
    }
    pthread_mutex_destroy(&sp->lock);
    free(sp->segs);
    free(sp->dir);
    free(sp);
}
