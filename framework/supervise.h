/* supervise.h: runs a set of programs as child processes and keeps them running: a child that
 * exits is started again after an exponential backoff (reset once it has run for a while), its
 * restarts counted; SIGHUP is passed on to every child (one that then exits is started again at
 * once, counted as a reload, not a restart); SIGTERM/SIGINT stop the children rank by rank.
 * Knows nothing of pipelines: the caller gives names, argv, log files and stop ranks.
 * uf_supervisor_run() takes SIGCHLD, SIGHUP, SIGTERM and SIGINT with sigtimedwait(), so the
 * caller must block those four in every thread before starting any. Status reads are
 * thread-safe (one mutex); everything else belongs to the thread that calls run(). */
#ifndef UF_SUPERVISE_H
#define UF_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "framework/err.h"

struct uf_sv_child_spec {
    const char *name;
    char *const *argv;    /* argv[0] is run through PATH; borrowed until uf_supervisor_free */
    const char *log_path; /* stdout and stderr are appended here; NULL keeps the parent's */
    int stop_rank;        /* rank 0 stops first; a rank stops only after the one before exited */
};

struct uf_sv_opts {
    int64_t backoff_min_ms;  /* first restart delay (doubling per quick death) */
    int64_t backoff_max_ms;  /* the delay's ceiling */
    int64_t stable_ms;       /* a child that ran this long restarts after backoff_min_ms again */
    int64_t stop_timeout_ms; /* per rank: then SIGKILL */
};

/* Defaults: 200 ms, 30 s, 10 s, 15 s. */
extern const struct uf_sv_opts uf_sv_default_opts;

enum uf_sv_state { UF_SV_STARTING, UF_SV_RUNNING, UF_SV_BACKOFF, UF_SV_STOPPED };

struct uf_sv_status {
    enum uf_sv_state state;
    pid_t pid;          /* 0 when not running */
    uint64_t restarts;  /* restarts after the child exited on its own */
    uint64_t reloads;   /* restarts after a SIGHUP */
    int64_t started_ms; /* wall-clock ms of the current (or last) start */
    int64_t exited_ms;  /* wall-clock ms of the last exit, 0 when none */
    char last_exit[64]; /* "exit 1", "killed by SIGKILL", "cannot start: …"; "" when none */
};

struct uf_supervisor;

/* opts NULL takes uf_sv_default_opts. */
struct uf_supervisor *uf_supervisor_new(const struct uf_sv_opts *opts);
/* Adds a child before run(); returns its index. */
size_t uf_supervisor_add(struct uf_supervisor *sv, const struct uf_sv_child_spec *spec);
size_t uf_supervisor_count(const struct uf_supervisor *sv);
/* Starts every child (highest stop rank first) and supervises until SIGTERM/SIGINT or
 * uf_supervisor_request_stop(); then stops the children by rank and returns 0 once all exited
 * (after SIGKILL where the deadline passed). Blocks. */
int uf_supervisor_run(struct uf_supervisor *sv);
/* Asks run() to stop, from any thread (seen within 100 ms). */
void uf_supervisor_request_stop(struct uf_supervisor *sv);
/* Child i's state; thread-safe. The name is borrowed from the spec. */
void uf_supervisor_status(struct uf_supervisor *sv, size_t i, struct uf_sv_status *out);
const char *uf_supervisor_name(const struct uf_supervisor *sv, size_t i);
/* Accepts NULL. Only after run() returned (or was never called). */
void uf_supervisor_free(struct uf_supervisor *sv);

/* The delay before restart number `quick_deaths` (1-based) of a child: min * 2^(n-1), at most
 * max. Exposed for tests. */
int64_t uf_sv_backoff_ms(const struct uf_sv_opts *o, unsigned quick_deaths);

#endif
