/* tests/support/graph_find.h: finds a component of a built graph's first pipeline by name, for
 * tests that reach into stages directly; fails the test when there is none. */
#ifndef UF_TEST_GRAPH_FIND_H
#define UF_TEST_GRAPH_FIND_H

#include "framework/graph.h"

struct uf_stage *test_stage(struct uf_graph *g, const char *name);

#endif
