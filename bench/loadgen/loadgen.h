/* loadgen.h: `ugcflow loadgen URL --rate R --duration D [...]`, the open-model request
 * generator for the stat and UGC APIs (README "Load generator"), registered by the binary as
 * a command (framework/cli.h).
 * Exit codes: 0 when the run was made (whatever the server answered), 1 when it could not be
 * (a bad workload file, a report that cannot be written), 2 on bad arguments. */
#ifndef UF_LOADGEN_H
#define UF_LOADGEN_H

#include "framework/cli.h"

/* argv[0] is "loadgen". Blocks for the run. */
extern const struct uf_command uf_loadgen_command;
#endif
