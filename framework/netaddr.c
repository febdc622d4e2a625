/* netaddr.c: the text form of an IP address (see netaddr.h): IPv4 by hand, IPv6 by inet_ntop. */
#include "framework/netaddr.h"

#include <arpa/inet.h>
#include <sys/socket.h>

bool uf_addr_format(int family, const void *addr, char *out, size_t n)
{
    if (family == AF_INET6)
        return inet_ntop(AF_INET6, addr, out, (socklen_t)n) != NULL;
    if (family != AF_INET || n < INET_ADDRSTRLEN)
        return false;
    const unsigned char *a = addr;
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (v >= 100)
            *out++ = (char)('0' + v / 100);
        if (v >= 10)
            *out++ = (char)('0' + v / 10 % 10);
        *out++ = (char)('0' + v % 10);
        *out++ = i < 3 ? '.' : '\0';
    }
    return true;
}
