/* lg_cli.h: the arguments of `ugcflow loadgen`, read from one table of options (name, type,
 * range) so that every value is checked the same way and nothing is clamped; and the rate
 * profile they describe. No I/O beyond the message of a bad argument. */
#ifndef UF_LG_CLI_H
#define UF_LG_CLI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/loadgen/lg_http.h"
#include "bench/loadgen/lg_sched.h"
#include "bench/loadgen/lg_workload.h"

struct uf_lg_cli {
    const char *url, *workload, *report, *tag, *acked_log, *plot, *ramp, *jwt_key;
    double rate, step_rate, max_rate;
    int64_t duration_ms, timeout_ms, slo_ms;
    int64_t connections, seed, slack_us;
    int api; /* enum uf_lg_api */
    bool find_max, quiet, has_rate, has_duration;
    struct uf_lg_target target;
    double ramp_from, ramp_to;
    int64_t ramp_ms;
};

/* Parses argv (argv[0] is "loadgen") into cli with its defaults. Returns 0, 1 after --help, or
 * -1 with the reason in err. */
int uf_lg_cli_parse(int argc, char **argv, struct uf_lg_cli *cli, char *err, size_t errlen);
/* The schedule of a run: a constant rate, or a ramp (--find-max makes its own steps). */
void uf_lg_cli_sched(const struct uf_lg_cli *cli, struct uf_lg_sched *s);
/* The usage text, one line per option of the table. */
void uf_lg_cli_usage(FILE *f);
#endif
