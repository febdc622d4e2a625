/* viz/deploy.h: the deployment model: how the pipelines of one file are joined into one system.
 * Read from the config alone (no graph is built, nothing connects anywhere): every pipeline is a
 * process with its components and edges; each Kafka topic a node between the sinks that produce
 * it and the sources that consume it (with their groups); each PostgreSQL database and ClickHouse
 * server a store node between its writers and readers; each http_forward an edge to the process
 * whose http source listens where it posts. Components of other kinds stay inside their
 * pipeline. The model is JSON so that /api/deployment, the layout and the poller share it. */
#ifndef UF_VIZ_DEPLOY_H
#define UF_VIZ_DEPLOY_H

#include <jansson.h>
#include <stddef.h>

struct uf_config;

/* {"file", "processes":[{"name","admin","components":[{"id","name","kind","role"}],
 * "edges":[{"from","to","port"}]}], "topics":[{"id":"topic:NAME","name","producers":[ID],
 * "consumers":[{"component","group"}],"dead_letter":bool}], "stores":[{"id","kind","label",
 * "writers":[ID],"readers":[ID]}], "edges":[{"from","to","kind"}]} with edge kinds produce,
 * consume, write, read, state and forward; component ids are "pipeline/name". Arrays keep the
 * file's order (topics and stores in order first seen), so the model of one file is always the
 * same. Borrows nothing from cfg. New reference. */
json_t *uf_deploy_model(const struct uf_config *cfg);

/* The stop rank of each process of the model (in its order) for `ugcflow up`: 0 for a process
 * nothing flows into, else one more than the highest rank feeding it (through a topic, a store
 * or a forward), so producers stop before their consumers drain. Cycles are cut. ranks has one
 * slot per process. */
void uf_deploy_stop_ranks(const json_t *model, int *ranks);

/* The process (pipeline name) a component id belongs to, into out; out is "" when malformed. */
void uf_deploy_process_of(const char *id, char *out, size_t size);

#endif
