/* bench/engine/engine_bench_main.c: events/s through the engine on this machine.
 * Runs `generate → set → route → null` twice in-process: fused (every stage synchronous in the
 * generator's thread) and with a queue boundary in front of the sink (one worker). Reports
 * events/s and CPU seconds per million events; see docs/benchmarks.md.
 * usage: engine_bench [EVENTS]   (default 2,000,000) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "framework/config.h"
#include "framework/graph.h"
#include "framework/runtime.h"

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static int run(const char *label, long events, int buffer)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "shutdown_timeout: 60s\n"
             "pipelines:\n  bench:\n    components:\n"
             "      gen: {kind: generate, count: %ld, template: {type: player, movie_id: "
             "\"0190a0b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b\", event: progress, position_s: 120}}\n"
             "      tag: {kind: set, inputs: [gen], fields: {env: bench}}\n"
             "      by_type: {kind: route, inputs: [tag], field: type, routes: {views: [player, "
             "page_view]}, default: other}\n"
             "      views: {kind: null, inputs: [by_type.views], buffer: %d, batch_max: 1024}\n"
             "      other: {kind: null, inputs: [by_type.other], buffer: %d}\n",
             events, buffer, buffer);
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("bench.yaml", yaml, &d);
    struct uf_graph *g = cfg ? uf_graph_build(cfg, NULL, 0, &d) : NULL;
    if (!g) {
        uf_diags_print(&d, stderr);
        return 1;
    }
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = { 0 };
    double c0 = cpu_seconds();
    int64_t t0 = uf_now_us();
    if (uf_runtime_start(rt, &err) != 0 || uf_runtime_run(rt) != 0) {
        fprintf(stderr, "bench failed: %s\n", err.msg);
        return 1;
    }
    double secs = (double)(uf_now_us() - t0) / 1e6, cpu = cpu_seconds() - c0;
    uint64_t written = atomic_load(&g->pipelines[0].stages[3]->metrics.out) +
                       atomic_load(&g->pipelines[0].stages[4]->metrics.out);
    printf("%-28s %10ld events  %8.3f s  %12.0f events/s  %6.2f CPU-s per 1M events\n", label,
           (long)written, secs, (double)written / secs, cpu / ((double)written / 1e6));
    uf_runtime_free(rt);
    uf_graph_free(g);
    uf_diags_free(&d);
    return written == (uint64_t)events ? 0 : 1;
}

int main(int argc, char **argv)
{
    long events = argc > 1 ? atol(argv[1]) : 2000000;
    int rc = run("fused (3 stages, 1 thread)", events, 0);
    rc |= run("queue boundary before sink", events, 4096);
    return rc;
}
