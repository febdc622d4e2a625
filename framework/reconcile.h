/* reconcile.h: `ugcflow reconcile FILE [--since DURATION]`: compares the state PostgreSQL holds
 * with the state the events in ClickHouse lead to, check by check, as the file's `reconcile`
 * section declares them (each check: one query per side listing the keys of one kind of
 * state), and prints per check the counts on both sides, the missing keys (in PostgreSQL, not
 * in ClickHouse) and the extra ones. Exit 0 when every check agrees, 1 on any difference, 2 on
 * a usage, configuration or connection error. */
#ifndef UF_RECONCILE_H
#define UF_RECONCILE_H

int uf_reconcile_main(int argc, char **argv);

#endif
