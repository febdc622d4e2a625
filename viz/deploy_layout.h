/* viz/deploy_layout.h: where each node of the deployment goes, computed once from the model by
 * Graphviz's `dot` (layered, edges routed as splines around the nodes, one cluster per
 * process). The page draws its own boxes at these places, so nodes keep their size and place
 * whatever their numbers say: a refresh never moves anything. */
#ifndef UF_VIZ_DEPLOY_LAYOUT_H
#define UF_VIZ_DEPLOY_LAYOUT_H

#include <jansson.h>

#include "framework/err.h"

/* Box sizes in px the page draws (and dot reserves). */
#define UF_LAYOUT_NODE_W 150
#define UF_LAYOUT_NODE_H 66
#define UF_LAYOUT_HUB_W 150 /* topics and stores */
#define UF_LAYOUT_HUB_H 66

/* The DOT text for one direction ("LR" or "TB"). New string. */
char *uf_deploy_dot(const json_t *model, const char *rankdir);

/* {"LR":L,"TB":L} where L is {"width","height","nodes":{ID:{"x","y","w","h"}},
 * "groups":{PROCESS:{"x","y","w","h"}},"edges":[{"from","to","points":[[x,y]...]}]} in px,
 * y downwards, x/y the top-left corner; edge points are cubic Bezier control points (1+3k).
 * The page picks the direction that fits its window best. NULL with err when dot is missing or
 * fails. Blocks while dot runs (tens of ms). New reference. */
json_t *uf_deploy_layout(const json_t *model, struct uf_err *err);

#endif
