/* test_spool.c: the disk spool (framework/spool.h): append and replay in order across segments,
 * the size limit, restart, damaged records, torn tails and failed replays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "framework/spool.h"

struct fx {
    char dir[64];
    struct uf_spool_cfg cfg;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/uf-spool-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->cfg = (struct uf_spool_cfg){ .dir = f->dir,
                                    .max_bytes = 1 << 20,
                                    .segment_bytes = 200,
                                    .fsync = UF_SPOOL_FSYNC_ALWAYS,
                                    .fsync_interval_ms = 1000 };
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct uf_spool_rec rec(const char *value)
{
    return (struct uf_spool_rec){ .data = value, .len = strlen(value) };
}

static void append_n(struct uf_spool *sp, int from, int to)
{
    for (int i = from; i < to; i++) {
        char v[64];
        snprintf(v, sizeof v, "{\"n\":%d,\"pad\":\"xxxxxxxxxxxxxxxxxxxx\"}", i);
        struct uf_spool_rec r = rec(v);
        struct uf_err err = { 0 };
        assert_int_equal(uf_spool_append(sp, &r, 1, &err), 0);
    }
}

/* Replays everything, checking values come back as {"n":expect...} in order; returns count. */
static int replay_all(struct uf_spool *sp, int expect)
{
    struct uf_spool_segment *seg;
    struct uf_err err = { 0 };
    int got = 0;
    while ((seg = uf_spool_next_segment(sp, &err))) {
        struct uf_spool_rec r;
        while (uf_spool_segment_read(seg, &r) == 1) {
            char want[64];
            int len = snprintf(want, sizeof want, "{\"n\":%d,\"pad\":\"xxxxxxxxxxxxxxxxxxxx\"}",
                               expect++);
            assert_int_equal(r.len, (size_t)len);
            assert_memory_equal(r.data, want, (size_t)len);
            got++;
        }
        uf_spool_segment_done(sp, seg, true);
    }
    return got;
}

static int count_segments(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '\\.seg$'", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

static void test_crc32_known_value(void **state)
{
    (void)state;
    assert_int_equal(uf_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(uf_crc32(uf_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

static void test_append_replay_in_order(void **state)
{
    struct fx *f = *state;
    struct uf_err err = { 0 };
    struct uf_spool *sp = uf_spool_open(&f->cfg, &err);
    assert_non_null(sp);
    assert_true(uf_spool_is_empty(sp));
    append_n(sp, 0, 20);
    assert_int_equal(uf_spool_records(sp), 20);
    assert_true(count_segments(f->dir) > 3); /* 200-byte segments */
    assert_int_equal(replay_all(sp, 0), 20);
    assert_true(uf_spool_is_empty(sp));
    assert_int_equal(uf_spool_bytes(sp), 0);
    assert_int_equal(count_segments(f->dir), 0);
    uf_spool_close(sp);
}

static void test_append_during_replay_goes_after(void **state)
{
    struct fx *f = *state;
    f->cfg.segment_bytes = 1 << 20;
    struct uf_err err = { 0 };
    struct uf_spool *sp = uf_spool_open(&f->cfg, &err);
    append_n(sp, 0, 3);
    struct uf_spool_segment *seg = uf_spool_next_segment(sp, &err);
    assert_non_null(seg);
    assert_null(uf_spool_next_segment(sp, &err)); /* one segment out at a time */
    append_n(sp, 3, 5); /* the active segment was sealed: these go to a new one */
    struct uf_spool_rec r;
    int n = 0;
    while (uf_spool_segment_read(seg, &r) == 1)
        n++;
    assert_int_equal(n, 3);
    uf_spool_segment_done(sp, seg, true);
    assert_int_equal(uf_spool_records(sp), 2);
    assert_int_equal(replay_all(sp, 3), 2);
    uf_spool_close(sp);
}

static void test_full_spool_rejects_whole_batch(void **state)
{
    struct fx *f = *state;
    f->cfg.max_bytes = 130; /* two records of 8 + 40 bytes fit, three do not */
    struct uf_err err = { 0 };
    struct uf_spool *sp = uf_spool_open(&f->cfg, &err);
    struct uf_spool_rec rs[3] = { rec("0123456789012345678901234567890123456789"),
                                  rec("0123456789012345678901234567890123456789"),
                                  rec("0123456789012345678901234567890123456789") };
    assert_int_equal(uf_spool_append(sp, rs, 3, &err), UF_EFULL);
    assert_non_null(strstr(err.msg, "is full (0 of 130 bytes)"));
    assert_int_equal(uf_spool_records(sp), 0);
    assert_int_equal(uf_spool_append(sp, rs, 2, &err), 0);
    assert_int_equal(uf_spool_append(sp, rs, 1, &err), UF_EFULL);
    assert_int_equal(uf_spool_records(sp), 2);
    uf_spool_close(sp);
}

static void test_restart_replays_leftovers(void **state)
{
    struct fx *f = *state;
    struct uf_err err = { 0 };
    struct uf_spool *sp = uf_spool_open(&f->cfg, &err);
    append_n(sp, 0, 12);
    uint64_t bytes = uf_spool_bytes(sp);
    uf_spool_close(sp);

    sp = uf_spool_open(&f->cfg, &err);
    assert_non_null(sp);
    assert_int_equal(uf_spool_records(sp), 12);
    assert_int_equal(uf_spool_bytes(sp), bytes);
    append_n(sp, 12, 15); /* new appends go after the old segments */
    assert_int_equal(replay_all(sp, 0), 15);
    uf_spool_close(sp);
}

static char *first_segment(const char *dir)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/0000000000000001.seg", dir);
    return path;
}

static void test_damaged_record_is_skipped_and_counted(void **state)
{
    struct fx *f = *state;
    f->cfg.segment_bytes = 1 << 20;
    struct uf_err err = { 0 };
    struct uf_spool *sp = uf_spool_open(&f->cfg, &err);
    append_n(sp, 0, 3);
    uf_spool_close(sp);
    /* Flip one byte inside the second record's value. */
    FILE *fp = fopen(first_segment(f->dir), "r+b");
    assert_non_null(fp);
    struct stat sb;
    assert_int_equal(stat(first_segment(f->dir), &sb), 0);
    long rec_size = (long)sb.st_size / 3;
    fseek(fp, rec_size + rec_size - 5, SEEK_SET);
    fputc('#', fp);
    fclose(fp);

    sp = uf_spool_open(&f->cfg, &err);
    assert_int_equal(uf_spool_records(sp), 2);
    assert_int_equal(uf_spool_corrupt(sp), 1);
    struct uf_spool_segment *seg = uf_spool_next_segment(sp, &err);
    struct uf_spool_rec r;
    assert_int_equal(uf_spool_segment_read(seg, &r), 1);
    assert_memory_equal(r.data, "{\"n\":0,", 7);
    assert_int_equal(uf_spool_segment_read(seg, &r), 1);
    assert_memory_equal(r.data, "{\"n\":2,", 7);
    assert_int_equal(uf_spool_segment_read(seg, &r), 0);
    uf_spool_segment_done(sp, seg, true);
    assert_true(uf_spool_is_empty(sp));
    uf_spool_close(sp);
}

static void test_torn_tail_is_cut_on_open(void **state)
{
    struct fx *f = *state;
    f->cfg.segment_bytes = 1 << 20;
    struct uf_err err = { 0 };
    struct uf_spool *sp = uf_spool_open(&f->cfg, &err);
    append_n(sp, 0, 3);
    uf_spool_close(sp);
    struct stat sb;
    assert_int_equal(stat(first_segment(f->dir), &sb), 0);
    assert_int_equal(truncate(first_segment(f->dir), sb.st_size - 7), 0);

    sp = uf_spool_open(&f->cfg, &err);
    assert_int_equal(uf_spool_records(sp), 2);
    assert_int_equal(uf_spool_corrupt(sp), 0);
    assert_int_equal(stat(first_segment(f->dir), &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, uf_spool_bytes(sp));
    append_n(sp, 2, 4);
    assert_int_equal(replay_all(sp, 0), 4);
    uf_spool_close(sp);
}

static void test_failed_replay_keeps_segment(void **state)
{
    struct fx *f = *state;
    struct uf_err err = { 0 };
    struct uf_spool *sp = uf_spool_open(&f->cfg, &err);
    append_n(sp, 0, 6);
    struct uf_spool_segment *seg = uf_spool_next_segment(sp, &err);
    struct uf_spool_rec r;
    assert_int_equal(uf_spool_segment_read(seg, &r), 1);
    uf_spool_segment_done(sp, seg, false);
    assert_int_equal(uf_spool_records(sp), 6);
    assert_int_equal(replay_all(sp, 0), 6);
    uf_spool_close(sp);
}

static void test_unusable_directory_is_an_error(void **state)
{
    struct fx *f = *state;
    f->cfg.dir = "/proc/uf-no-such/spool";
    struct uf_err err = { 0 };
    assert_null(uf_spool_open(&f->cfg, &err));
    assert_int_equal(err.code, UF_EIO);
    assert_non_null(strstr(err.msg, "create spool directory '/proc/uf-no-such/spool'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_known_value),
        cmocka_unit_test_setup_teardown(test_append_replay_in_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_append_during_replay_goes_after, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_full_spool_rejects_whole_batch, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_restart_replays_leftovers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_record_is_skipped_and_counted, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_is_cut_on_open, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_failed_replay_keeps_segment, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unusable_directory_is_an_error, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
