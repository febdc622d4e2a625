/* clock.c: the process's clocks and absolute deadlines for timed waits (see clock.h). */
#include "clock.h"

#include <errno.h>

struct timespec uf_clock_after(clockid_t clock, int64_t us)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (us > 0 ? us : 0) * 1000;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

bool uf_cond_sleep_until(pthread_cond_t *cond, pthread_mutex_t *mu, const bool *stop,
                         const struct timespec *until)
{
    while (!*stop && pthread_cond_timedwait(cond, mu, until) != ETIMEDOUT) {
    }
    return !*stop;
}

int64_t uf_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t uf_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
