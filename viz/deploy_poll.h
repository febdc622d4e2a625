/* viz/deploy_poll.h: the thread behind /api/deployment: once a second it GETs every process's
 * /api/graph (each bounded to 500 ms), joins the answers with the model (viz/deploy_live.h),
 * adds the layout and, under `ugcflow up`, each process's supervisor state, and keeps the
 * result as text for the HTTP thread to copy. Thread-safe: one mutex guards the text. */
#ifndef UF_VIZ_DEPLOY_POLL_H
#define UF_VIZ_DEPLOY_POLL_H

#include <jansson.h>
#include <stdint.h>

#include "framework/err.h"

struct uf_deploy_poll;

/* Adds supervisor fields to a process's JSON; called on the poll thread. */
typedef void (*uf_deploy_status_fn)(void *ctx, const char *process, json_t *proc);

/* Takes ownership of model (uf_deploy_model) and layout (uf_deploy_layout, or NULL). status may
 * be NULL. Starts nothing. */
struct uf_deploy_poll *uf_deploy_poll_new(json_t *model, json_t *layout, uf_deploy_status_fn status,
                                          void *status_ctx);
/* Starts the thread polling every interval_ms. 0 or UF_EIO. */
int uf_deploy_poll_start(struct uf_deploy_poll *p, int64_t interval_ms, struct uf_err *err);
/* The latest /api/deployment as JSON text, waiting up to wait_ms for the first poll when none
 * has finished yet. New string; NULL when there is still none. */
char *uf_deploy_poll_text(struct uf_deploy_poll *p, int64_t wait_ms);
/* Stops the thread and frees. Accepts NULL. */
void uf_deploy_poll_free(struct uf_deploy_poll *p);

#endif
