/* supervise.c: the child-process supervisor of `ugcflow up` (see supervise.h).
 * One thread (the caller of uf_supervisor_run) owns every child: it spawns them with
 * posix_spawn (no fork of a threaded process, so no malloc lock can be inherited held), reaps
 * them on SIGCHLD, schedules restarts, and on SIGTERM stops them rank by rank. Signals are taken
 * with sigtimedwait(), never by a handler, and the wait is at most 100 ms so a stop requested
 * from another thread and restart deadlines are seen without a wake-up pipe. Each child gets its
 * own process group, so a Ctrl-C in the terminal reaches the supervisor only and the children
 * stop in order rather than all at once. */
#include "framework/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "framework/log.h"
#include "framework/mem.h"

extern char **environ;

const struct uf_sv_opts uf_sv_default_opts = {
    .backoff_min_ms = 200, .backoff_max_ms = 30000, .stable_ms = 10000, .stop_timeout_ms = 15000
};

struct child {
    struct uf_sv_child_spec spec;
    struct uf_sv_status st; /* guarded by sv->mu for readers on other threads */
    unsigned quick_deaths;  /* deaths since the child last ran stable_ms */
    int64_t started_mono;   /* monotonic ms of the last start */
    int64_t due_mono;       /* BACKOFF: when to start again */
    bool reloading;         /* sent SIGHUP: its exit is a reload, not a crash */
};

struct uf_supervisor {
    struct uf_sv_opts o;
    struct child *c;
    size_t n, cap;
    pthread_mutex_t mu;
    atomic_bool stop;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t uf_sv_backoff_ms(const struct uf_sv_opts *o, unsigned quick_deaths)
{
    int64_t d = o->backoff_min_ms;
    for (unsigned i = 1; i < quick_deaths && d < o->backoff_max_ms; i++)
        d *= 2;
    return d < o->backoff_max_ms ? d : o->backoff_max_ms;
}

struct uf_supervisor *uf_supervisor_new(const struct uf_sv_opts *opts)
{
    struct uf_supervisor *sv = uf_xcalloc(1, sizeof *sv);
    sv->o = opts ? *opts : uf_sv_default_opts;
    pthread_mutex_init(&sv->mu, NULL);
    return sv;
}

size_t uf_supervisor_add(struct uf_supervisor *sv, const struct uf_sv_child_spec *spec)
{
    if (sv->n == sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 8;
        sv->c = uf_xrealloc(sv->c, sv->cap * sizeof *sv->c);
    }
    sv->c[sv->n] = (struct child){ .spec = *spec, .st = { .state = UF_SV_STOPPED } };
    return sv->n++;
}

size_t uf_supervisor_count(const struct uf_supervisor *sv)
{
    return sv->n;
}

const char *uf_supervisor_name(const struct uf_supervisor *sv, size_t i)
{
    return sv->c[i].spec.name;
}

void uf_supervisor_request_stop(struct uf_supervisor *sv)
{
    atomic_store(&sv->stop, true);
}

void uf_supervisor_status(struct uf_supervisor *sv, size_t i, struct uf_sv_status *out)
{
    pthread_mutex_lock(&sv->mu);
    *out = sv->c[i].st;
    pthread_mutex_unlock(&sv->mu);
}

void uf_supervisor_free(struct uf_supervisor *sv)
{
    if (!sv)
        return;
    pthread_mutex_destroy(&sv->mu);
    free(sv->c);
    free(sv);
}

/* ---- starting ---- */

/* The child starts with no signal blocked and default dispositions, in its own process group,
 * its output appended to its log file. Returns 0 or the errno of posix_spawn. */
static int spawn_child(const struct uf_sv_child_spec *spec, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dflt;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    if (spec->log_path) {
        posix_spawn_file_actions_addopen(&fa, 1, spec->log_path,
                                         O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    sigemptyset(&none);
    sigemptyset(&dflt);
    int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGPIPE };
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaddset(&dflt, sigs[i]);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    int rc = posix_spawnp(pid, spec->argv[0], &fa, &attr, spec->argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

static void schedule_restart(struct uf_supervisor *sv, struct child *c, int64_t now)
{
    int64_t delay = c->reloading ? 0 : uf_sv_backoff_ms(&sv->o, ++c->quick_deaths);
    c->due_mono = now + delay;
    c->st.state = UF_SV_BACKOFF;
}

static void start_child(struct uf_supervisor *sv, struct child *c, bool restart)
{
    pid_t pid = 0;
    int rc = spawn_child(&c->spec, &pid);
    int64_t now = mono_ms();
    pthread_mutex_lock(&sv->mu);
    if (restart)
        c->reloading ? c->st.reloads++ : c->st.restarts++;
    c->st.started_ms = wall_ms();
    c->started_mono = now;
    if (rc == 0) {
        c->st.pid = pid;
        c->st.state = UF_SV_RUNNING;
        c->reloading = false;
    } else {
        c->reloading = false;
        snprintf(c->st.last_exit, sizeof c->st.last_exit, "cannot start: %s", strerror(rc));
        c->st.exited_ms = c->st.started_ms;
        schedule_restart(sv, c, now);
    }
    pthread_mutex_unlock(&sv->mu);
    if (rc == 0) {
        char p[16];
        snprintf(p, sizeof p, "%d", (int)pid);
        uf_log(UF_LOG_INFO, NULL, restart ? "Child restarted." : "Child started.", "child",
               c->spec.name, "pid", p);
    } else {
        uf_log(UF_LOG_ERROR, NULL, "Child cannot start.", "child", c->spec.name, "err",
               strerror(rc));
    }
}

/* ---- exits ---- */

static void describe_exit(int status, char *out, size_t n)
{
    if (WIFEXITED(status))
        snprintf(out, n, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "killed by SIG%s",
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
        snprintf(out, n, "status %d", status);
}

static struct child *find_pid(struct uf_supervisor *sv, pid_t pid)
{
    for (size_t i = 0; i < sv->n; i++)
        if (sv->c[i].st.pid == pid)
            return &sv->c[i];
    return NULL;
}

/* Reaps every exited child; while supervising, schedules its restart. */
static void reap(struct uf_supervisor *sv, bool stopping)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct child *c = find_pid(sv, pid);
        if (!c)
            continue;
        int64_t now = mono_ms();
        pthread_mutex_lock(&sv->mu);
        describe_exit(status, c->st.last_exit, sizeof c->st.last_exit);
        c->st.pid = 0;
        c->st.exited_ms = wall_ms();
        if (now - c->started_mono >= sv->o.stable_ms)
            c->quick_deaths = 0;
        if (stopping)
            c->st.state = UF_SV_STOPPED;
        else
            schedule_restart(sv, c, now);
        pthread_mutex_unlock(&sv->mu);
        if (!stopping && !c->reloading)
            uf_log(UF_LOG_WARN, NULL, "Child exited; restarting after backoff.", "child",
                   c->spec.name, "exit", c->st.last_exit);
    }
}

static void forward_hup(struct uf_supervisor *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        if (sv->c[i].st.pid > 0) {
            sv->c[i].reloading = true;
            kill(sv->c[i].st.pid, SIGHUP);
        }
    uf_log(UF_LOG_INFO, NULL, "SIGHUP passed on to every child.");
}

/* ---- stopping ---- */

static int max_rank(const struct uf_supervisor *sv)
{
    int r = 0;
    for (size_t i = 0; i < sv->n; i++)
        r = sv->c[i].spec.stop_rank > r ? sv->c[i].spec.stop_rank : r;
    return r;
}

static bool rank_running(const struct uf_supervisor *sv, int rank)
{
    for (size_t i = 0; i < sv->n; i++)
        if (sv->c[i].spec.stop_rank == rank && sv->c[i].st.pid > 0)
            return true;
    return false;
}

static void signal_rank(struct uf_supervisor *sv, int rank, int sig)
{
    for (size_t i = 0; i < sv->n; i++)
        if (sv->c[i].spec.stop_rank == rank && sv->c[i].st.pid > 0)
            kill(sv->c[i].st.pid, sig);
}

/* Stops rank 0 first and waits for it before the next, so a consumer outlives its producers
 * and drains what they flushed on their way out. */
static void stop_all(struct uf_supervisor *sv, const sigset_t *set)
{
    pthread_mutex_lock(&sv->mu);
    for (size_t i = 0; i < sv->n; i++)
        if (sv->c[i].st.pid == 0)
            sv->c[i].st.state = UF_SV_STOPPED; /* cancel restarts waiting for their backoff */
    pthread_mutex_unlock(&sv->mu);
    for (int rank = 0, top = max_rank(sv); rank <= top; rank++) {
        signal_rank(sv, rank, SIGTERM);
        int64_t deadline = mono_ms() + sv->o.stop_timeout_ms;
        bool killed = false;
        while (rank_running(sv, rank)) {
            if (!killed && mono_ms() >= deadline) {
                uf_log(UF_LOG_WARN, NULL, "Children past the stop deadline; killing them.");
                signal_rank(sv, rank, SIGKILL);
                killed = true;
            }
            struct timespec ts = { 0, 100 * 1000000L };
            sigtimedwait(set, NULL, &ts);
            reap(sv, true);
        }
    }
}

/* ---- the loop ---- */

static void start_due(struct uf_supervisor *sv)
{
    int64_t now = mono_ms();
    for (size_t i = 0; i < sv->n; i++)
        if (sv->c[i].st.state == UF_SV_BACKOFF && sv->c[i].due_mono <= now)
            start_child(sv, &sv->c[i], true);
}

/* How long the loop may wait: 100 ms, or less when a restart is due sooner. */
static struct timespec wait_time(const struct uf_supervisor *sv)
{
    int64_t now = mono_ms(), ms = 100;
    for (size_t i = 0; i < sv->n; i++)
        if (sv->c[i].st.state == UF_SV_BACKOFF && sv->c[i].due_mono - now < ms)
            ms = sv->c[i].due_mono > now ? sv->c[i].due_mono - now : 0;
    return (struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L };
}

int uf_supervisor_run(struct uf_supervisor *sv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    for (int rank = max_rank(sv); rank >= 0; rank--)
        for (size_t i = 0; i < sv->n; i++)
            if (sv->c[i].spec.stop_rank == rank)
                start_child(sv, &sv->c[i], false);
    while (!atomic_load(&sv->stop)) {
        struct timespec ts = wait_time(sv);
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            uf_log(UF_LOG_INFO, NULL, "Signal received, stopping children in order.", "signal",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
        if (sig == SIGHUP)
            forward_hup(sv);
        reap(sv, false);
        start_due(sv);
    }
    stop_all(sv, &set);
    return 0;
}
