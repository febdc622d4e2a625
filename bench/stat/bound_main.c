/* bound_main.c: `bound`, the upper bound for the stat benchmark: a libmicrohttpd server that
 * reads each request body and answers 202 {"accepted":1}, doing nothing else. It uses the
 * fastest setup libmicrohttpd offers here (epoll, an internal thread pool, turbo mode), so the
 * stat pipeline's requests/s can be compared with what HTTP handling alone costs.
 *   bound PORT [THREADS]      (runs until SIGINT/SIGTERM; PORT 0 picks one and prints it) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **req)
{
    static int started;
    struct MHD_Response *resp = cls;
    if (*req == NULL) { /* first call: headers only */
        *req = &started;
        return MHD_YES;
    }
    if (*size) { /* body bytes: read and dropped */
        *size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(conn, 202, resp);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bound PORT [THREADS]\n");
        return 2;
    }
    /* Blocked before any thread starts, so SIGINT/TERM wait for sigwait below. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    static const char body[] = "{\"accepted\":1}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO, (uint16_t)atoi(argv[1]),
                         NULL, NULL, answer, resp, MHD_OPTION_THREAD_POOL_SIZE, threads,
                         MHD_OPTION_CONNECTION_LIMIT, 10000, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bound: cannot listen on port %s\n", argv[1]);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("%u\n", info ? info->port : 0);
    fflush(stdout);
    int sig;
    sigwait(&sigs, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(resp);
    return 0;
}
