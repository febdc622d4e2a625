/* tests/test_queue.c: bounded queue: batch pops, backpressure (block and reject), close/drain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <cmocka.h>

#include "framework/err.h"
#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/queue.h"

static struct uf_event *ev_n(int n)
{
    struct uf_event *ev = uf_event_new(NULL);
    uf_event_set_int(ev, "n", n);
    return ev;
}

static void test_fifo_batches(void **state)
{
    struct uf_queue *q = uf_queue_new(8);
    for (int i = 0; i < 5; i++)
        assert_int_equal(uf_queue_push(q, ev_n(i), false), 0);
    struct uf_event *out[8];
    assert_int_equal(uf_queue_pop(q, out, 3, 0), 3);
    assert_int_equal(uf_queue_depth(q), 2);
    assert_int_equal(uf_queue_pop(q, out + 3, 8, 0), 2);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(json_integer_value(json_object_get(out[i]->body, "n")), i);
        uf_event_free(out[i]);
    }
    assert_int_equal(uf_queue_pop(q, out, 8, 10), 0); /* timeout, empty */
    uf_queue_free(q);
}

static void test_reject_when_full(void **state)
{
    struct uf_queue *q = uf_queue_new(2);
    assert_int_equal(uf_queue_push(q, ev_n(0), false), 0);
    assert_int_equal(uf_queue_push(q, ev_n(1), false), 0);
    struct uf_event *extra = ev_n(2);
    assert_int_equal(uf_queue_push(q, extra, false), UF_EFULL);
    uf_event_free(extra); /* on failure the caller keeps ownership */
    struct uf_event *out[2];
    assert_int_equal(uf_queue_pop(q, out, 2, 0), 2);
    uf_event_free(out[0]);
    uf_event_free(out[1]);
    uf_queue_free(q);
}

struct consumer_arg {
    struct uf_queue *q;
    int seen;
};

static void *consumer(void *arg)
{
    struct consumer_arg *c = arg;
    struct uf_event *out[4];
    size_t n;
    while ((n = uf_queue_pop(c->q, out, 4, -1)) > 0 || !uf_queue_is_drained(c->q))
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(json_integer_value(json_object_get(out[i]->body, "n")), c->seen++);
            uf_event_free(out[i]);
        }
    return NULL;
}

static void test_block_until_room(void **state)
{
    /* A capacity of 4 with 10,000 pushes: the producer must block many times, lose nothing and
     * keep the order. */
    struct uf_queue *q = uf_queue_new(4);
    struct consumer_arg c = { .q = q };
    pthread_t t;
    pthread_create(&t, NULL, consumer, &c);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(uf_queue_push(q, ev_n(i), true), 0);
    uf_queue_close(q);
    pthread_join(t, NULL);
    assert_int_equal(c.seen, 10000);
    uf_queue_free(q);
}

static void test_closed_rejects_and_drains(void **state)
{
    struct uf_queue *q = uf_queue_new(4);
    assert_int_equal(uf_queue_push(q, ev_n(0), true), 0);
    uf_queue_close(q);
    struct uf_event *late = ev_n(1);
    assert_int_equal(uf_queue_push(q, late, true), UF_ECLOSED);
    uf_event_free(late);
    assert_false(uf_queue_is_drained(q));
    struct uf_event *out[4];
    assert_int_equal(uf_queue_pop(q, out, 4, -1), 1);
    uf_event_free(out[0]);
    assert_true(uf_queue_is_drained(q));
    assert_int_equal(uf_queue_pop(q, out, 4, -1), 0); /* closed and empty: returns at once */
    uf_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_batches),
        cmocka_unit_test(test_reject_when_full),
        cmocka_unit_test(test_block_until_room),
        cmocka_unit_test(test_closed_rejects_and_drains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
