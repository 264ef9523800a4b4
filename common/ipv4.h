/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IPv4 addresses and prefixes as host-order integers, for the address
 * management of VPCs (R-NW2). Text goes through inet_pton / inet_ntop.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define IPV4_TEXT_MAX 16                /* "255.255.255.255" */
#define IPV4_CIDR_TEXT_MAX 19           /* "255.255.255.255/32" */

struct ipv4_net {
        uint32_t base;                  /* the network address */
        unsigned prefix;                /* 0..32 */
};

/* "10.0.0.7" -> host order; -EINVAL. */
int ipv4_parse(const char *s, uint32_t *ret);
/* "10.0.0.0/24"; the address must be the network's own (no host bits):
 * -EINVAL otherwise. */
int ipv4_parse_net(const char *s, struct ipv4_net *ret);
void ipv4_format(uint32_t a, char ret[IPV4_TEXT_MAX]);
void ipv4_format_net(const struct ipv4_net *n, char ret[IPV4_CIDR_TEXT_MAX]);

static inline uint64_t ipv4_net_size(const struct ipv4_net *n) {
        return (uint64_t) 1 << (32 - n->prefix);
}
static inline uint32_t ipv4_net_last(const struct ipv4_net *n) {
        return (uint32_t) (n->base + ipv4_net_size(n) - 1);
}
static inline bool ipv4_net_contains(const struct ipv4_net *n, uint32_t a) {
        return a >= n->base && a <= ipv4_net_last(n);
}
static inline bool ipv4_net_overlap(const struct ipv4_net *a, const struct ipv4_net *b) {
        return a->base <= ipv4_net_last(b) && b->base <= ipv4_net_last(a);
}
