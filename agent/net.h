/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network module: each business system's own VPC (R-NW1) on this host,
 * built with libnl-route (links, addresses, routes, FDB) and libnftables
 * (rules), namespaces with unshare/setns and a bind mount. Nothing is
 * shelled out.
 *
 * Names (P is the configured host prefix, [a-z0-9]{1,4}; X the VNI as six
 * lower-case hex digits), so several simulated hosts can share one kernel:
 *
 *   PbX          bridge, in the agent's namespace, no address, MTU 1450;
 *                the guests' NICs join it (libvirt interface type bridge)
 *   PvX          VXLAN device: id = VNI, local = the underlay address, UDP
 *                port from the configuration (4789), learning off, no
 *                "remote"; a port of PbX. Per other host of the VPC one FDB
 *                entry 00:00:00:00:00:00 dst PEER (self, permanent):
 *                head-end replication, nothing learnt
 *   PrX          veth, a port of PbX; its peer is "gw" in the router namespace
 *   P-vpc-X      the router namespace, a bind mount in netns_dir:
 *                  lo up
 *                  gw   the gateway MAC, gateway/prefix: the distributed
 *                       gateway (the same IP and MAC on every host of the
 *                       VPC, answered locally)
 *                  up   only while egress is open: a macvlan (mode private)
 *                       on the configured parent of that egress kind, with
 *                       the uplink address, and the default route via the
 *                       uplink gateway
 *                  nftables table inet govcloud (the whole table replaced
 *                  in one transaction on every ensure):
 *                    input    policy drop: lo, established/related, ICMP
 *                             echo to the gateway from gw (not when isolated)
 *                    forward  policy drop: to a protected prefix dropped
 *                             first; established/related accepted; gw -> up
 *                             accepted while egress is open (R-NW3)
 *                    postrouting  snat to the uplink address on up
 *                  isolated: input and forward accept nothing but lo
 *   govcloud_P_X nftables table bridge in the agent's namespace: frames
 *                to or from the gateway MAC never leave or enter through PvX
 *
 * Limit: each govcloud_P_X table holds a base chain on the bridge family's
 * forward hook, and the kernel takes about 1,024 base chains per hook, so
 * one host holds at most 1,023 VPCs; net_ensure of one more fails with
 * -E2BIG (nftables: "Argument list too long"). bench/vpc measures 1,000.
 *
 * Isolation (R-SC3): the bridge is set down, which disables every port, so
 * no frame passes between the VPC's guests, the gateway or the VXLAN; the
 * router namespace drops all but loopback. Guests keep running. Lifting it
 * sets the bridge up and restores the rules.
 *
 * Every link the module creates carries the alias "govcloud vpc X"; a link,
 * namespace or table is the module's own only when its name has the form
 * above (with this host's prefix) and, for links, that alias. Nothing else
 * is ever changed or removed. One case in between: the kernel takes no
 * alias in the request that creates a link, so a build killed between the
 * two leaves a link of our name and kind without any alias; it is taken as
 * ours only while the VPC's router namespace exists (made before the first
 * link, removed after the last).
 *
 * Errors: negative errno, with a one-line message in err (what failed, on
 * which object, the library's text) and logged.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "gc/error.h"

#define NET_VNI_MIN 1
#define NET_VNI_MAX 0xffffff
#define NET_PREFIX_MAX 4
#define NET_ADDR_MAX 46                 /* INET6_ADDRSTRLEN */
#define NET_IFNAME_MAX 16               /* IFNAMSIZ */
#define NET_MTU 1450                    /* 1500 underlay - 50 VXLAN */
#define NET_DEFAULT_NETNS_DIR "/run/netns"
#define NET_DEFAULT_VXLAN_PORT 4789

enum net_egress {
        NET_EGRESS_NONE,
        NET_EGRESS_EGOV,                /* the e-government extranet */
        NET_EGRESS_INTERNET,
        _NET_EGRESS_MAX,
};

struct net_config {
        char prefix[NET_PREFIX_MAX + 1];        /* "gc" */
        char underlay[NET_ADDR_MAX];            /* this host's VXLAN local address */
        char *netns_dir;                        /* NULL: NET_DEFAULT_NETNS_DIR */
        uint16_t vxlan_port;                    /* 0: NET_DEFAULT_VXLAN_PORT */
        /* Per egress kind, the host interface the uplink macvlan sits on;
         * "" where this host offers no such egress. */
        char egress_parent[_NET_EGRESS_MAX][NET_IFNAME_MAX];
        /* Prefixes no guest may reach ("192.0.2.0/24", "10.9.0.7/32"),
         * besides the underlay address itself, which is always protected. */
        char **protected;
        size_t n_protected;
        /* Tests only (gc-agent --unsafe-test-net-step-delay): pause this
         * long after each change, so that a build can be interrupted
         * between two steps. 0 in production. */
        unsigned step_delay_ms;
};

struct net_uplink {
        char address[NET_ADDR_MAX];     /* "203.0.113.7" */
        unsigned prefix;                /* 24 */
        char gateway[NET_ADDR_MAX];     /* "203.0.113.1" */
};

/* The desired state of one VPC on this host (VPCSPEC, include/gc/wire.h). */
struct net_vpc {
        uint32_t vni;
        char network[NET_ADDR_MAX];     /* "10.0.0.0" */
        unsigned prefix;                /* 24 */
        char gateway[NET_ADDR_MAX];     /* "10.0.0.1" */
        uint8_t gateway_mac[6];
        char (*peers)[NET_ADDR_MAX];    /* the other hosts' underlay addresses */
        size_t n_peers;
        enum net_egress egress;
        struct net_uplink uplink;       /* when egress != NONE */
        bool isolated;
};

struct net;

/* Checks the configuration (prefix, addresses, parents exist) and opens
 * the host namespace's netlink socket; makes netns_dir a shared mount
 * point when it is not one (as iproute2 does). */
int net_open(const struct net_config *cfg, struct net **ret, struct gc_error *err);
void net_close(struct net *n);

/* Create, extend, shrink or change one VPC until it is exactly vpc: a
 * missing piece is made, a wrong one corrected (peers added and removed,
 * egress and isolation switched, the rules replaced), a right one left
 * alone. Idempotent; safe to run again after being killed at any point.
 * actions (may be NULL) gets a short summary: "created bridge, vxlan,
 * router; 2 peers", "unchanged", "egress internet opened". */
int net_ensure(struct net *n, const struct net_vpc *vpc, char *actions, size_t actions_size,
               struct gc_error *err);

/* Remove everything of that VNI: links, namespace, tables. Gone already: 0. */
int net_delete(struct net *n, uint32_t vni, struct gc_error *err);

/* The VNIs of which any piece (link, namespace, table) exists now. */
int net_list(struct net *n, uint32_t **ret, size_t *ret_n, struct gc_error *err);

/* At start: remove every VPC of this host's prefix whose VNI is not among
 * known, then net_ensure each of known. *ret_removed counts the VPCs
 * removed. */
int net_reconcile(struct net *n, const struct net_vpc *known, size_t n_known, size_t *ret_removed,
                  struct gc_error *err);

/* The bridge a guest NIC of that VNI attaches to. */
void net_bridge_name(const struct net *n, uint32_t vni, char ret[NET_IFNAME_MAX]);
/* The file of that VNI's router namespace (netns_dir/P-vpc-X), for setns:
 * the operations tunnels (agent/tunnel.h) dial VMs from there. -EINVAL for
 * a VNI out of range, -ENAMETOOLONG when size is too small. */
int net_router_ns_path(const struct net *n, uint32_t vni, char *ret, size_t size);

/* Parse a VPCSPEC (include/gc/wire.h); errors name the field under "vpc". */
int net_vpc_parse(const cJSON *vpc_json, struct net_vpc *ret, struct gc_error *err);
/* The VPCSPEC of vpc (for the agent's state file). */
cJSON *net_vpc_to_json(const struct net_vpc *vpc);
void net_vpc_done(struct net_vpc *vpc);

const char *net_egress_name(enum net_egress e);
int net_egress_from_name(const char *s);        /* -EINVAL */
