/* stagedoc.h: help text for stage kinds, generated from their option tables: the terminal
 * form for `ugcflow stages [KIND]` and the Markdown of docs/stages.md. */
#ifndef UF_STAGEDOC_H
#define UF_STAGEDOC_H

#include "framework/stage.h"

/* One kind's help (kind NULL: a list of every kind with its summary). New string. */
char *uf_stagedoc_text(const struct uf_kind *kind);
/* The whole reference as Markdown: every kind and the common options. New string. */
char *uf_stagedoc_markdown(void);

#endif
