/* clock.h: the monotonic and wall clocks in microseconds, and absolute deadlines for the timed
 * waits of pthreads (pthread_cond_timedwait, pthread_timedjoin_np), which take a struct timespec
 * on a given clock, so the nanosecond carry is written once; and the backoff sleep on a
 * condition variable that also signals work. */
#ifndef UF_CLOCK_H
#define UF_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The time `us` microseconds from now on `clock` (CLOCK_MONOTONIC or CLOCK_REALTIME: the
 * clock the waited-on condition variable was created with). Negative us counts as 0. */
/* Current monotonic time in microseconds and the wall clock in UTC microseconds. */
int64_t uf_now_us(void);
int64_t uf_wall_us(void);

struct timespec uf_clock_after(clockid_t clock, int64_t us);

/* Sleeps on cond, with mu held by the caller, until `until` (on cond's clock) or until *stop is
 * set (the stopper sets it under mu and broadcasts). Other wake-ups do not end the sleep: a
 * thread backing off on the condition variable that also announces new work would otherwise
 * retry at the pace of that work. Returns !*stop. */
bool uf_cond_sleep_until(pthread_cond_t *cond, pthread_mutex_t *mu, const bool *stop,
                         const struct timespec *until);

#endif
