/* clock.c: absolute deadlines for timed waits (see clock.h). */
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
