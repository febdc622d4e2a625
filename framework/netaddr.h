/* netaddr.h: the text form of an IP address, as inet_ntop writes it, for paths that format one
 * per request or per event (the http source's client address, enrich's truncated address):
 * glibc's inet_ntop formats IPv4 through sprintf, which showed in their profiles. */
#ifndef UF_NETADDR_H
#define UF_NETADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Writes addr (AF_INET: 4 bytes, AF_INET6: 16, network order) into out as inet_ntop does;
 * false when the family is neither or out is too small (INET6_ADDRSTRLEN always fits). */
bool uf_addr_format(int family, const void *addr, char *out, size_t n);

#endif
