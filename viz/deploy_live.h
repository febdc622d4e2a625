/* viz/deploy_live.h: the deployment model (viz/deploy.h) joined with what each process's
 * /api/graph says right now: the body of /api/deployment. It remembers what it needs between
 * polls: when each process became reachable or not, a window of lag and error samples (so
 * "lag growing for 10 s" can be judged), and each consumer's last lag, so that while a
 * consumer's process is unreachable its lag is estimated as that lag plus what the topic's
 * producers had acknowledged since (marked "estimated": the broker is not asked). Not
 * thread-safe: the poller calls it from its one thread. */
#ifndef UF_VIZ_DEPLOY_LIVE_H
#define UF_VIZ_DEPLOY_LIVE_H

#include <jansson.h>
#include <stdint.h>

#define UF_DEPLOY_WINDOW 10 /* samples (seconds) a trend is judged over */

struct uf_deploy_live;

/* Borrows model until uf_deploy_live_free. */
struct uf_deploy_live *uf_deploy_live_new(const json_t *model);
void uf_deploy_live_free(struct uf_deploy_live *l); /* accepts NULL */

/* One poll: graphs[i] is process i's /api/graph (borrowed), or NULL with why[i] saying why it
 * did not answer. now_ms is wall-clock. Returns {"file","time_ms","processes":[{...model,
 * "status":"up"|"unreachable","since_ms","error","components":[{...,"rates","trouble","body",
 * "more"}]}],"topics":[{...,"rate_in","lag","lag_estimated","partitions":{P:LAG},"trouble"}],
 * "stores":[{...,"rows_per_s","errors_per_s","outbox_depth","trouble"}],"edges":[{...,"rate"}],
 * "trouble":[{"id","reason"}]}. New reference. */
json_t *uf_deploy_live_update(struct uf_deploy_live *l, const json_t *const *graphs,
                              const char *const *why, int64_t now_ms);

#endif
