/* clock.h: absolute deadlines for the timed waits of pthreads (pthread_cond_timedwait,
 * pthread_timedjoin_np), which take a struct timespec on a given clock. One function, so the
 * nanosecond carry is written once. */
#ifndef UF_CLOCK_H
#define UF_CLOCK_H

#include <stdint.h>
#include <time.h>

/* The time `us` microseconds from now on `clock` (CLOCK_MONOTONIC or CLOCK_REALTIME: the
 * clock the waited-on condition variable was created with). Negative us counts as 0. */
struct timespec uf_clock_after(clockid_t clock, int64_t us);

#endif
