/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipv4.h"

int ipv4_parse(const char *s, uint32_t *ret) {
        struct in_addr a;

        if (!s || inet_pton(AF_INET, s, &a) != 1)
                return -EINVAL;
        *ret = ntohl(a.s_addr);
        return 0;
}

int ipv4_parse_net(const char *s, struct ipv4_net *ret) {
        char addr[IPV4_TEXT_MAX];
        const char *slash = s ? strchr(s, '/') : NULL;
        char *end;
        uint32_t a;

        if (!slash || (size_t) (slash - s) >= sizeof addr || !slash[1])
                return -EINVAL;
        memcpy(addr, s, slash - s);
        addr[slash - s] = 0;
        errno = 0;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (errno || *end || p > 32 || slash[1] == '+' || slash[1] == '-' || slash[1] == ' ')
                return -EINVAL;
        if (ipv4_parse(addr, &a) < 0)
                return -EINVAL;
        uint32_t mask = p == 0 ? 0 : ~(uint32_t) 0 << (32 - p);
        if (a & ~mask)
                return -EINVAL;
        *ret = (struct ipv4_net) { .base = a, .prefix = (unsigned) p };
        return 0;
}

void ipv4_format(uint32_t a, char ret[IPV4_TEXT_MAX]) {
        struct in_addr in = { .s_addr = htonl(a) };
        if (!inet_ntop(AF_INET, &in, ret, IPV4_TEXT_MAX))
                snprintf(ret, IPV4_TEXT_MAX, "0.0.0.0");
}

void ipv4_format_net(const struct ipv4_net *n, char ret[IPV4_CIDR_TEXT_MAX]) {
        char a[IPV4_TEXT_MAX];
        ipv4_format(n->base, a);
        snprintf(ret, IPV4_CIDR_TEXT_MAX, "%s/%u", a, n->prefix);
}
