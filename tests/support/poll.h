/* tests/support/poll.h: waiting in tests against a deadline on the monotonic clock, never for a
 * fixed time. WAIT_FOR polls a condition until it holds and fails the test, naming it, when the
 * deadline passes first. HOLDS_FOR is for the few tests that prove something did not happen:
 * it checks the condition throughout a window of the same clock and fails, with the reason
 * given, the moment it stops holding. POLL_UNTIL is the bare loop, for a caller that asserts
 * itself. Polls every 5 ms (conditions may query a database); header only. */
#ifndef UF_TEST_POLL_H
#define UF_TEST_POLL_H

#include <stdint.h>
#include <time.h>

static inline int64_t test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void test_nap(void)
{
    nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
}

/* A statement: polls until cond holds or ms passed; the caller then asserts on cond itself. */
#define POLL_UNTIL(cond, ms)                                                                       \
    for (int64_t poll_end_ = test_now_ms() + (ms); !(cond) && test_now_ms() < poll_end_;)          \
    test_nap()

#define WAIT_FOR(cond, ms)                                                                         \
    do {                                                                                           \
        POLL_UNTIL(cond, ms);                                                                      \
        if (!(cond))                                                                               \
            fail_msg("not within %d ms: %s", (int)(ms), #cond);                                    \
    } while (0)

/* Fails unless cond holds at every poll for ms; why says what its breaking would mean. */
#define HOLDS_FOR(cond, ms, why)                                                                   \
    do {                                                                                           \
        int64_t hold_end_ = test_now_ms() + (ms);                                                  \
        do {                                                                                       \
            if (!(cond))                                                                           \
                fail_msg("%s: %s stopped holding within %d ms", why, #cond, (int)(ms));            \
            test_nap();                                                                            \
        } while (test_now_ms() < hold_end_);                                                       \
    } while (0)

#endif
