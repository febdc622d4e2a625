/* token_cli.h: `ugcflow token`, a token the APIs accept, for development and scripts. */
#ifndef UF_TOKEN_CLI_H
#define UF_TOKEN_CLI_H

#include "framework/cli.h"

/* argv[0] is "token". Prints the token and a newline on stdout. Exit code: 0, 1 when the key
 * or secret is unusable, 2 usage. */
int uf_token_main(int argc, char **argv);

/* The command for struct uf_cli_app (framework/cli.h). */
extern const struct uf_command uf_token_command;

#endif
