/* lg_cli.c: reads the arguments of `ugcflow loadgen` (see lg_cli.h) from one option table, with
 * the framework's option parser (the same units and range checks as a pipeline file: 250ms,
 * 10s, 5m). The usage text is made from the same table. Rules between options (a ramp or a
 * rate, a tag's characters, a URL on this machine) are checked after the table. */
#include "bench/loadgen/lg_cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "framework/err.h"
#include "framework/options.h"

#define OFF(f) offsetof(struct uf_lg_cli, f)
static const char *const api_values[] = { "stat", "ugc", NULL };

static const struct uf_option cli_options[] = {
    { .name = "rate",
      .type = UF_OPT_FLOAT,
      .min = 1,
      .max = 1000000,
      .offset = OFF(rate),
      .desc = "Requests per second (the first step's with --find-max)" },
    { .name = "duration",
      .type = UF_OPT_DURATION,
      .min = 100,
      .max = 86400000,
      .offset = OFF(duration_ms),
      .desc = "How long to send (each step with --find-max)" },
    { .name = "api",
      .type = UF_OPT_ENUM,
      .def = "stat",
      .values = api_values,
      .offset = OFF(api),
      .desc = "Which API URL is: stat (events, views, player) or ugc (reactions, comments...)" },
    { .name = "workload",
      .type = UF_OPT_STR,
      .offset = OFF(workload),
      .desc = "Workload YAML (default: the built-in one, bench/loadgen/workload.yaml)" },
    { .name = "jwt-key",
      .type = UF_OPT_STR,
      .offset = OFF(jwt_key),
      .desc = "RS256 private key (PEM) to mint users' tokens with, instead of UGCFLOW_JWT_SECRET" },
    { .name = "report",
      .type = UF_OPT_STR,
      .offset = OFF(report),
      .desc = "Write the JSON report to this file" },
    { .name = "tag",
      .type = UF_OPT_STR,
      .offset = OFF(tag),
      .desc = "Run tag ([A-Za-z0-9._-], 1-40): \"tag\" of every stat event, X-Request-Id prefix" },
    { .name = "acked-log",
      .type = UF_OPT_STR,
      .offset = OFF(acked_log),
      .desc = "Write the event_id of every accepted event to this file, one a line" },
    { .name = "connections",
      .type = UF_OPT_INT,
      .def = "64",
      .min = 1,
      .max = 10000,
      .offset = OFF(connections),
      .desc = "Most keep-alive connections open at once" },
    { .name = "seed",
      .type = UF_OPT_INT,
      .def = "1",
      .min = 0,
      .max = INT64_MAX,
      .offset = OFF(seed),
      .desc = "Seed of the workload's draws (same seed, same requests)" },
    { .name = "slack-us",
      .type = UF_OPT_INT,
      .def = "500",
      .min = 0,
      .max = 100000,
      .offset = OFF(slack_us),
      .desc = "A wake-up also sends what is due this many us later "
              "(fewer wake-ups; 0: each at its time)" },
    { .name = "timeout",
      .type = UF_OPT_DURATION,
      .def = "10s",
      .min = 1,
      .max = 3600000,
      .offset = OFF(timeout_ms),
      .desc = "Give up on a request without a reply after this long" },
    { .name = "ramp",
      .type = UF_OPT_STR,
      .offset = OFF(ramp),
      .desc = "FROM:TO:DURATION: the rate goes linearly from FROM to TO (then --duration at TO)" },
    { .name = "find-max",
      .type = UF_OPT_BOOL,
      .offset = OFF(find_max),
      .desc = "Step the rate up from --rate until p99 > --slo or errors > 0.1 %" },
    { .name = "step-rate",
      .type = UF_OPT_FLOAT,
      .min = 0,
      .max = 1000000,
      .offset = OFF(step_rate),
      .desc = "--find-max: requests/s added per step (default: --rate)" },
    { .name = "max-rate",
      .type = UF_OPT_FLOAT,
      .def = "1000000",
      .min = 1,
      .max = 1000000,
      .offset = OFF(max_rate),
      .desc = "--find-max: no step above this rate" },
    { .name = "slo",
      .type = UF_OPT_DURATION,
      .def = "200ms",
      .min = 1,
      .max = 3600000,
      .offset = OFF(slo_ms),
      .desc = "--find-max: the p99 a step must keep" },
    { .name = "plot",
      .type = UF_OPT_STR,
      .offset = OFF(plot),
      .desc = "Draw achieved rate and p50/p99/p99.9 against offered rate (SVG file)" },
    { .name = "quiet",
      .type = UF_OPT_BOOL,
      .offset = OFF(quiet),
      .desc = "No live line, even on a terminal" },
    { 0 }
};

void uf_lg_cli_usage(FILE *f)
{
    fputs("usage: ugcflow loadgen URL --rate R --duration D [OPTIONS]\n"
          "  URL: the API's base, http://127.0.0.1:PORT/api/v1 (stat) or .../api/v1 (ugc)\n",
          f);
    for (const struct uf_option *o = cli_options; o->name; o++) {
        char arg[40];
        snprintf(arg, sizeof arg, "--%s%s", o->name, o->type == UF_OPT_BOOL ? "" : " V");
        fprintf(f, "  %-18s %s%s%s%s\n", arg, o->desc, o->def ? " [" : "", o->def ? o->def : "",
                o->def ? "]" : "");
    }
}

/* One option's value into cli (flags take none). */
static int set_option(const struct uf_option *o, const char *text, struct uf_lg_cli *cli, char *err,
                      size_t errlen)
{
    void *dst = (char *)cli + o->offset;
    if (o->type == UF_OPT_STR) {
        *(const char **)dst = text;
        return 0;
    }
    if (o->type == UF_OPT_BOOL) {
        *(bool *)dst = true;
        return 0;
    }
    char name[32];
    snprintf(name, sizeof name, "--%s", o->name);
    struct uf_option named = *o;
    named.name = name; /* the message names the option as it is typed */
    if (o->type == UF_OPT_DURATION)
        named.min = named.max = 0; /* checked below, in units a reader sees at once */
    struct uf_err e = { 0 };
    if (uf_option_parse_scalar(&named, text, dst, &e) != 0)
        return snprintf(err, errlen, "%s", e.msg), -1;
    int64_t v = *(int64_t *)dst;
    if (o->type == UF_OPT_DURATION && (v < o->min || v > o->max))
        return snprintf(err, errlen, "option '%s': '%s' is out of range (expected %.3gs..%.3gs)",
                        name, text, (double)o->min / 1000, (double)o->max / 1000),
               -1;
    cli->has_rate |= o->offset == OFF(rate);
    cli->has_duration |= o->offset == OFF(duration_ms);
    return 0;
}

static int set_defaults(struct uf_lg_cli *cli, char *err, size_t errlen)
{
    *cli = (struct uf_lg_cli){ 0 };
    for (const struct uf_option *o = cli_options; o->name; o++)
        if (o->def && set_option(o, o->def, cli, err, errlen) < 0)
            return -1;
    return 0;
}

/* FROM:TO:DURATION */
static int parse_ramp(struct uf_lg_cli *cli, char *err, size_t errlen)
{
    char *end, *p;
    cli->ramp_from = strtod(cli->ramp, &end);
    if (*end != ':' || !((cli->ramp_to = strtod(p = end + 1, &end)) >= 0) || end == p ||
        *end != ':')
        return snprintf(err, errlen, "--ramp: '%s': expected FROM:TO:DURATION", cli->ramp), -1;
    static const struct uf_option dur = {
        .name = "--ramp", .type = UF_OPT_DURATION, .min = 100, .max = 86400000
    };
    struct uf_err e = { 0 };
    if (uf_option_parse_scalar(&dur, end + 1, &cli->ramp_ms, &e) != 0)
        return snprintf(err, errlen, "%s", e.msg), -1;
    if (cli->ramp_from < 0 || cli->ramp_to < 0 || cli->ramp_from + cli->ramp_to < 1 ||
        cli->ramp_from > 1e6 || cli->ramp_to > 1e6)
        return snprintf(err, errlen, "--ramp: '%s': rates from 0 to 1000000, not both 0",
                        cli->ramp),
               -1;
    return 0;
}

static bool tag_ok(const char *t)
{
    size_t n = strlen(t);
    return n >= 1 && n <= 40 &&
           strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* The rules between options, once each has its value. */
static int check(struct uf_lg_cli *cli, char *err, size_t errlen)
{
    if (!uf_lg_target_parse(cli->url, &cli->target, err, errlen))
        return -1;
    if (cli->tag && !tag_ok(cli->tag))
        return snprintf(err, errlen, "--tag: '%s': expected 1 to 40 of [A-Za-z0-9._-]", cli->tag),
               -1;
    if (cli->ramp && (cli->has_rate || cli->find_max))
        return snprintf(err, errlen,
                        "--ramp replaces --rate (and --find-max makes its own "
                        "steps)"),
               -1;
    if (cli->ramp)
        return parse_ramp(cli, err, errlen);
    if (!cli->has_rate || !cli->has_duration)
        return snprintf(err, errlen, "--rate and --duration are required (or --ramp)"), -1;
    if (cli->step_rate == 0)
        cli->step_rate = cli->rate;
    return 0;
}

/* getopt_long's table, made from cli_options: option i returns 256 + i. */
static void long_options(struct option *lo)
{
    size_t i = 0;
    for (; cli_options[i].name; i++)
        lo[i] =
            (struct option){ cli_options[i].name,
                             cli_options[i].type == UF_OPT_BOOL ? no_argument : required_argument,
                             NULL, 256 + (int)i };
    lo[i++] = (struct option){ "help", no_argument, NULL, 'h' };
    lo[i] = (struct option){ 0 };
}

int uf_lg_cli_parse(int argc, char **argv, struct uf_lg_cli *cli, char *err, size_t errlen)
{
    struct option lo[sizeof cli_options / sizeof cli_options[0] + 1];
    long_options(lo);
    if (set_defaults(cli, err, errlen) < 0)
        return -1;
    optind = 1;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, ":h", lo, NULL)) != -1;) {
        if (c == 'h')
            return 1;
        if (c == '?' || c == ':')
            return snprintf(err, errlen, "%s: %s", argv[optind - 1],
                            c == '?' ? "unknown option" : "needs a value"),
                   -1;
        if (set_option(&cli_options[c - 256], optarg, cli, err, errlen) < 0)
            return -1;
    }
    if (optind != argc - 1)
        return snprintf(err, errlen,
                        optind < argc ? "one URL expected, got '%s' too" : "the URL is missing",
                        optind + 1 < argc ? argv[optind + 1] : ""),
               -1;
    cli->url = argv[optind];
    return check(cli, err, errlen);
}

void uf_lg_cli_sched(const struct uf_lg_cli *cli, struct uf_lg_sched *s)
{
    *s = (struct uf_lg_sched){ 0 };
    if (cli->ramp) {
        uf_lg_sched_add(s, cli->ramp_from, cli->ramp_to, (double)cli->ramp_ms / 1000);
        if (cli->has_duration && cli->ramp_to > 0)
            uf_lg_sched_add(s, cli->ramp_to, cli->ramp_to, (double)cli->duration_ms / 1000);
        return;
    }
    uf_lg_sched_add(s, cli->rate, cli->rate, (double)cli->duration_ms / 1000);
}
