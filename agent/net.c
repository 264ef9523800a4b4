/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network module of net.h: libnl-route for links, addresses, routes
 * and FDB entries, libnftables for rules, unshare/setns and a bind mount
 * for the router namespaces. Nothing is shelled out.
 *
 * Work inside a router namespace runs on a short-lived thread that
 * setns()es into it and opens its own netlink socket or nftables context
 * there; the calling thread never leaves the agent's namespace. A namespace
 * is made the same way: a thread unshares, and its /proc/thread-self/ns/net
 * is bind-mounted onto an empty file in netns_dir.
 *
 * Order of an ensure, so that a kill at any point leaves a state the next
 * ensure completes: the router namespace first (it marks the VPC as being
 * built), then the bridge (created down), its nftables table, the VXLAN
 * and its FDB entries, the veth pair, the uplink, the router's addresses,
 * routes and rules, and last the bridge's admin state. The kernel cannot
 * take a link's alias in the request that creates it, so a kill between
 * the two leaves one of our names without the alias: such a link is taken
 * as ours only while the VPC's router namespace exists (it is made before
 * any link and removed after every one); otherwise it is someone else's
 * and is never touched.
 *
 * net_config.step_delay_ms (tests only) pauses that long after each
 * change, so that a test can interrupt a build between two steps.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/magic.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include <nftables/libnftables.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "json.h"
#include "log.h"
#include "net.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_sock *, nl_socket_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_cache *, nl_cache_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_addr *, nl_addr_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_cb *, nl_cb_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_link *, rtnl_link_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_addr *, rtnl_addr_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_route *, rtnl_route_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_msg *, nlmsg_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nft_ctx *, nft_ctx_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

#define NET_ALIAS_FMT "govcloud vpc %06x"
#define NET_ALIAS_MAX 64
#define NET_GW_IF "gw"
#define NET_UP_IF "up"
#define NET_LO_IF "lo"
#define NET_ROUTER_TABLE "govcloud"
#define NET_RULES_MAX (256 * 1024)
#define NET_PEERS_MAX 4096

struct net {
        struct net_config cfg;          /* a copy: netns_dir and protected owned */
        uint16_t vxlan_port;
        unsigned step_delay_ms;
        struct nl_sock *sk;             /* the agent's namespace */
};

/* --------------------------------------------------------------- names --- */

static const char *const net_egress_names[_NET_EGRESS_MAX] = {
        [NET_EGRESS_NONE] = "none",
        [NET_EGRESS_EGOV] = "egov",
        [NET_EGRESS_INTERNET] = "internet",
};

const char *net_egress_name(enum net_egress e) {
        return e >= 0 && e < _NET_EGRESS_MAX ? net_egress_names[e] : "unknown";
}

int net_egress_from_name(const char *s) {
        for (int i = 0; s && i < _NET_EGRESS_MAX; i++)
                if (strcmp(s, net_egress_names[i]) == 0)
                        return i;
        return -EINVAL;
}

static void net_link_name(const struct net *n, char kind, uint32_t vni, char ret[NET_IFNAME_MAX]) {
        snprintf(ret, NET_IFNAME_MAX, "%s%c%06x", n->cfg.prefix, kind, vni);
}

void net_bridge_name(const struct net *n, uint32_t vni, char ret[NET_IFNAME_MAX]) {
        net_link_name(n, 'b', vni, ret);
}

static void net_ns_name(const struct net *n, uint32_t vni, char *ret, size_t size) {
        snprintf(ret, size, "%s-vpc-%06x", n->cfg.prefix, vni);
}

int net_router_ns_path(const struct net *n, uint32_t vni, char *ret, size_t size) {
        char name[NET_IFNAME_MAX + 16];
        int k;

        if (vni < NET_VNI_MIN || vni > NET_VNI_MAX)
                return -EINVAL;
        net_ns_name(n, vni, name, sizeof name);
        k = snprintf(ret, size, "%s/%s", n->cfg.netns_dir, name);
        if (k < 0 || (size_t) k >= size)
                return -ENAMETOOLONG;
        return 0;
}

static void net_bridge_table_name(const struct net *n, uint32_t vni, char *ret, size_t size) {
        snprintf(ret, size, "govcloud_%s_%06x", n->cfg.prefix, vni);
}

/* Six lower-case hex digits, a VNI in range. */
static bool net_vni_parse(const char *s, uint32_t *ret) {
        uint32_t v = 0;

        for (int i = 0; i < 6; i++) {
                char c = s[i];
                if (c >= '0' && c <= '9')
                        v = v * 16 + (uint32_t) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v = v * 16 + (uint32_t) (c - 'a' + 10);
                else
                        return false;
        }
        if (v < NET_VNI_MIN)
                return false;
        *ret = v;
        return true;
}

/* name is prefix + middle + six hex digits and nothing else. */
static bool net_name_match(const struct net *n, const char *name, const char *middle, uint32_t *ret_vni) {
        size_t lp = strlen(n->cfg.prefix), lm = strlen(middle);

        if (strlen(name) != lp + lm + 6 || strncmp(name, n->cfg.prefix, lp) != 0 ||
            strncmp(name + lp, middle, lm) != 0)
                return false;
        return net_vni_parse(name + lp + lm, ret_vni);
}

/* ------------------------------------------------------------- errors --- */

static int net_errno_of_nl(int e) {
        switch (e < 0 ? -e : e) {
        case NLE_EXIST:
                return -EEXIST;
        case NLE_OBJ_NOTFOUND:
        case NLE_NODEV:
                return -ENOENT;
        case NLE_PERM:
                return -EPERM;
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_INVAL:
                return -EINVAL;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_OPNOTSUPP:
                return -EOPNOTSUPP;
        case NLE_RANGE:
                return -ERANGE;
        case NLE_AGAIN:
                return -EAGAIN;
        case NLE_NOADDR:
                return -EADDRNOTAVAIL;
        case NLE_AF_NOSUPPORT:
                return -EAFNOSUPPORT;
        default:
                return -EIO;
        }
}

static bool net_nl_missing(int e) {
        return e == -NLE_OBJ_NOTFOUND || e == -NLE_NODEV;
}

/* One message into err and the log; returns r (a negative errno). */
static int net_fail(struct gc_error *err, int r, const char *field, const char *value, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static int net_fail(struct gc_error *err, int r, const char *field, const char *value, const char *fmt, ...) {
        char msg[GC_ERROR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        gc_error_set(err, "network", NULL, field, value, "%s", msg);
        return log_error_errno(r, "%s", msg);
}

/* ------------------------------------------------------------ addresses --- */

/* An IPv4 or IPv6 address, with /len when ret_len is given (then required).
 * ret (16 bytes) gets the address; *ret_family AF_INET or AF_INET6. */
static bool net_inet_parse(const char *s, int *ret_family, unsigned char ret[16], unsigned *ret_len) {
        char buf[NET_ADDR_MAX + 8];
        const char *slash = strchr(s, '/');
        unsigned char a[16] = {};
        unsigned len = 0;
        int family;

        if (!ret_len != !slash)
                return false;
        if (strlen(s) >= sizeof buf)
                return false;
        snprintf(buf, sizeof buf, "%s", s);
        if (slash) {
                const char *l = buf + (slash - s) + 1;
                char *end;
                buf[slash - s] = 0;
                if (!*l || *l == '+' || *l == '-' || (l[0] == '0' && l[1]))
                        return false;
                errno = 0;
                unsigned long v = strtoul(l, &end, 10);
                if (errno || *end || v > 128)
                        return false;
                len = (unsigned) v;
        }
        if (inet_pton(AF_INET, buf, a) == 1)
                family = AF_INET;
        else if (inet_pton(AF_INET6, buf, a) == 1)
                family = AF_INET6;
        else
                return false;
        if (family == AF_INET && len > 32)
                return false;
        if (ret_family)
                *ret_family = family;
        if (ret)
                memcpy(ret, a, 16);
        if (ret_len)
                *ret_len = len;
        return true;
}

static bool net_ipv4_parse(const char *s, uint32_t *ret) {
        struct in_addr a;

        if (inet_pton(AF_INET, s, &a) != 1)
                return false;
        *ret = ntohl(a.s_addr);
        return true;
}

static void net_ipv4_format(uint32_t a, char ret[NET_ADDR_MAX]) {
        struct in_addr in = { .s_addr = htonl(a) };
        inet_ntop(AF_INET, &in, ret, NET_ADDR_MAX);
}

static uint32_t net_ipv4_mask(unsigned len) {
        return len == 0 ? 0 : UINT32_MAX << (32 - len);
}

/* The canonical text of an address, or false. */
static bool net_addr_canonical(const char *s, char ret[NET_ADDR_MAX], int *ret_family) {
        unsigned char a[16];
        int family;

        if (!net_inet_parse(s, &family, a, NULL))
                return false;
        inet_ntop(family, a, ret, NET_ADDR_MAX);
        if (ret_family)
                *ret_family = family;
        return true;
}

/* "10.0.0.0/24" with the host bits cleared, as nftables wants it. */
static bool net_prefix_canonical(const char *s, char *ret, size_t size, int *ret_family) {
        char text[NET_ADDR_MAX];
        unsigned char a[16];
        unsigned len;
        int family;

        if (!net_inet_parse(s, &family, a, &len))
                return false;
        for (unsigned i = 0; i < 16; i++) {
                unsigned bit = i * 8;
                if (bit >= len)
                        a[i] = 0;
                else if (bit + 8 > len)
                        a[i] &= (unsigned char) (0xff << (8 - (len - bit)));
        }
        inet_ntop(family, a, text, sizeof text);
        snprintf(ret, size, "%s/%u", text, len);
        *ret_family = family;
        return true;
}

static int net_nl_addr(const char *s, int family, struct nl_addr **ret, struct gc_error *err) {
        int r = nl_addr_parse(s, family, ret);
        if (r < 0)
                return net_fail(err, -EINVAL, NULL, s, "%s is not an address: %s", s, nl_geterror(r));
        return 0;
}

static void net_mac_format(const uint8_t mac[6], char ret[18]) {
        snprintf(ret, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static bool net_mac_parse(const char *s, uint8_t ret[6]) {
        uint8_t m[6];

        if (strlen(s) != 17)
                return false;
        for (int i = 0; i < 6; i++) {
                int v = 0;
                for (int k = 0; k < 2; k++) {
                        char c = s[i * 3 + k];
                        v *= 16;
                        if (c >= '0' && c <= '9')
                                v += c - '0';
                        else if (c >= 'a' && c <= 'f')
                                v += c - 'a' + 10;
                        else if (c >= 'A' && c <= 'F')
                                v += c - 'A' + 10;
                        else
                                return false;
                }
                if (i < 5 && s[i * 3 + 2] != ':')
                        return false;
                m[i] = (uint8_t) v;
        }
        memcpy(ret, m, 6);
        return true;
}

/* ------------------------------------------------------------ VPCSPEC --- */


static int net_only_keys(const cJSON *o, const char *parent, const char *const *keys, struct gc_error *err) {
        const cJSON *item;

        cJSON_ArrayForEach(item, o) {
                bool known = false;
                for (size_t i = 0; keys[i]; i++)
                        if (item->string && strcmp(item->string, keys[i]) == 0)
                                known = true;
                if (!known) {
                        _cleanup_free_ char *field = xasprintf("%s.%s", parent, item->string ? item->string : "");
                        return json_field_error(err, "invalid_vpc", field, item, "is not a field of %s", parent);
                }
        }
        return 0;
}

/* A required string; *ret points into the JSON. */
static int net_get_string(const cJSON *o, const char *parent, const char *key, const char **ret, const cJSON **ret_v,
                          struct gc_error *err) {
        const cJSON *v = json_get(o, key);
        _cleanup_free_ char *field = xasprintf("%s.%s", parent, key);

        if (!v)
                return json_field_error(err, "invalid_vpc", field, NULL, "is required");
        if (!cJSON_IsString(v))
                return json_field_error(err, "invalid_vpc", field, v, "is not a string");
        *ret = v->valuestring;
        *ret_v = v;
        return 0;
}

static int net_uplink_parse(const cJSON *u, struct net_uplink *ret, struct gc_error *err) {
        static const char *const keys[] = { "address", "prefix", "gateway", NULL };
        const char *address, *gateway;
        const cJSON *v;
        uint32_t a, g;
        int64_t prefix;
        int r;

        if (!cJSON_IsObject(u))
                return json_field_error(err, "invalid_vpc", "vpc.uplink", u, "is not an object");
        r = net_only_keys(u, "vpc.uplink", keys, err);
        if (r < 0)
                return r;
        r = net_get_string(u, "vpc.uplink", "address", &address, &v, err);
        if (r < 0)
                return r;
        if (!net_ipv4_parse(address, &a))
                return json_field_error(err, "invalid_vpc", "vpc.uplink.address", v, "is not an IPv4 address");
        v = json_get(u, "prefix");
        if (!v)
                return json_field_error(err, "invalid_vpc", "vpc.uplink.prefix", NULL, "is required");
        if (json_get_int(u, "prefix", &prefix, NULL) < 0 || prefix < 1 || prefix > 32)
                return json_field_error(err, "invalid_vpc", "vpc.uplink.prefix", v, "is not an integer from 1 to 32");
        r = net_get_string(u, "vpc.uplink", "gateway", &gateway, &v, err);
        if (r < 0)
                return r;
        if (!net_ipv4_parse(gateway, &g))
                return json_field_error(err, "invalid_vpc", "vpc.uplink.gateway", v, "is not an IPv4 address");
        if (g == a)
                return json_field_error(err, "invalid_vpc", "vpc.uplink.gateway", v, "is the uplink address itself");
        if ((g & net_ipv4_mask(prefix)) != (a & net_ipv4_mask(prefix)))
                return json_field_error(err, "invalid_vpc", "vpc.uplink.gateway", v, "is not inside %s/%lld", address, (long long) prefix);
        net_ipv4_format(a, ret->address);
        ret->prefix = (unsigned) prefix;
        net_ipv4_format(g, ret->gateway);
        return 0;
}

void net_vpc_done(struct net_vpc *vpc) {
        if (!vpc)
                return;
        free(vpc->peers);
        vpc->peers = NULL;
        vpc->n_peers = 0;
}

static void net_vpc_donep(struct net_vpc *vpc) {
        net_vpc_done(vpc);
}

int net_vpc_parse(const cJSON *j, struct net_vpc *ret, struct gc_error *err) {
        static const char *const keys[] = { "vni", "cidr", "gateway", "gateway_mac", "peers", "egress", "uplink",
                                             "isolated", NULL };
        _cleanup_(net_vpc_donep) struct net_vpc vpc = {};
        const char *s;
        const cJSON *v;
        int64_t vni;
        uint32_t net, gw;
        unsigned len;
        int family, r;

        if (!cJSON_IsObject(j))
                return json_field_error(err, "invalid_vpc", "vpc", j, "is not an object");
        r = net_only_keys(j, "vpc", keys, err);
        if (r < 0)
                return r;

        v = json_get(j, "vni");
        if (!v)
                return json_field_error(err, "invalid_vpc", "vpc.vni", NULL, "is required");
        if (json_get_int(j, "vni", &vni, NULL) < 0 || vni < NET_VNI_MIN || vni > NET_VNI_MAX)
                return json_field_error(err, "invalid_vpc", "vpc.vni", v, "is not an integer from %d to %d (a 24-bit VXLAN id)",
                                       NET_VNI_MIN, NET_VNI_MAX);
        vpc.vni = (uint32_t) vni;

        r = net_get_string(j, "vpc", "cidr", &s, &v, err);
        if (r < 0)
                return r;
        {
                unsigned char a[16];
                if (!net_inet_parse(s, &family, a, &len) || family != AF_INET)
                        return json_field_error(err, "invalid_vpc", "vpc.cidr", v, "is not an IPv4 prefix (address/length)");
                if (len < 1 || len > 30)
                        return json_field_error(err, "invalid_vpc", "vpc.cidr", v, "has a prefix length outside 1 to 30");
                net = ((uint32_t) a[0] << 24) | ((uint32_t) a[1] << 16) | ((uint32_t) a[2] << 8) | a[3];
                if ((net & ~net_ipv4_mask(len)) != 0) {
                        char want[NET_ADDR_MAX];
                        net_ipv4_format(net & net_ipv4_mask(len), want);
                        return json_field_error(err, "invalid_vpc", "vpc.cidr", v, "has host bits set (the network is %s/%u)", want, len);
                }
                net_ipv4_format(net, vpc.network);
                vpc.prefix = len;
        }

        r = net_get_string(j, "vpc", "gateway", &s, &v, err);
        if (r < 0)
                return r;
        if (!net_ipv4_parse(s, &gw))
                return json_field_error(err, "invalid_vpc", "vpc.gateway", v, "is not an IPv4 address");
        if ((gw & net_ipv4_mask(len)) != net)
                return json_field_error(err, "invalid_vpc", "vpc.gateway", v, "is not inside %s/%u", vpc.network, len);
        if (gw == net || gw == (net | ~net_ipv4_mask(len)))
                return json_field_error(err, "invalid_vpc", "vpc.gateway", v, "is the network or broadcast address of %s/%u",
                                       vpc.network, len);
        net_ipv4_format(gw, vpc.gateway);

        r = net_get_string(j, "vpc", "gateway_mac", &s, &v, err);
        if (r < 0)
                return r;
        if (!net_mac_parse(s, vpc.gateway_mac))
                return json_field_error(err, "invalid_vpc", "vpc.gateway_mac", v, "is not a MAC address (six hex pairs with colons)");
        if (vpc.gateway_mac[0] & 1)
                return json_field_error(err, "invalid_vpc", "vpc.gateway_mac", v, "is a multicast address");
        if (!memcmp(vpc.gateway_mac, (const uint8_t[6]) {}, 6))
                return json_field_error(err, "invalid_vpc", "vpc.gateway_mac", v, "is all zero");

        v = json_get(j, "peers");
        if (v && !cJSON_IsNull(v)) {
                const cJSON *p;
                size_t i = 0, n = (size_t) cJSON_GetArraySize(v);

                if (!cJSON_IsArray(v))
                        return json_field_error(err, "invalid_vpc", "vpc.peers", v, "is not an array");
                if (n > NET_PEERS_MAX)
                        return json_field_error(err, "invalid_vpc", "vpc.peers", NULL, "has more than %d entries", NET_PEERS_MAX);
                vpc.peers = xcalloc(n ? n : 1, sizeof *vpc.peers);
                cJSON_ArrayForEach(p, v) {
                        _cleanup_free_ char *field = xasprintf("vpc.peers[%zu]", i);
                        if (!cJSON_IsString(p) || !net_addr_canonical(p->valuestring, vpc.peers[i], NULL))
                                return json_field_error(err, "invalid_vpc", field, p, "is not an IP address");
                        for (size_t k = 0; k < i; k++)
                                if (strcmp(vpc.peers[k], vpc.peers[i]) == 0)
                                        return json_field_error(err, "invalid_vpc", field, p, "is listed twice");
                        i++;
                }
                vpc.n_peers = i;
        }

        v = json_get(j, "egress");
        if (v && !cJSON_IsNull(v)) {
                int e = cJSON_IsString(v) ? net_egress_from_name(v->valuestring) : -EINVAL;
                if (e < 0)
                        return json_field_error(err, "invalid_vpc", "vpc.egress", v, "is not one of none, egov, internet");
                vpc.egress = (enum net_egress) e;
        }

        v = json_get(j, "uplink");
        if (vpc.egress != NET_EGRESS_NONE) {
                if (!v || cJSON_IsNull(v))
                        return json_field_error(err, "invalid_vpc", "vpc.uplink", NULL, "is required when egress is %s",
                                               net_egress_name(vpc.egress));
                r = net_uplink_parse(v, &vpc.uplink, err);
                if (r < 0)
                        return r;
        } else if (v && !cJSON_IsNull(v))
                return json_field_error(err, "invalid_vpc", "vpc.uplink", v, "is only for an open egress (egress is none)");

        v = json_get(j, "isolated");
        if (v && !cJSON_IsNull(v)) {
                if (!cJSON_IsBool(v))
                        return json_field_error(err, "invalid_vpc", "vpc.isolated", v, "is not true or false");
                vpc.isolated = cJSON_IsTrue(v);
        }

        *ret = vpc;
        vpc.peers = NULL;
        return 0;
}

cJSON *net_vpc_to_json(const struct net_vpc *vpc) {
        cJSON *o = cJSON_CreateObject(), *peers;
        char text[NET_ADDR_MAX + 8], mac[18];

        cJSON_AddNumberToObject(o, "vni", vpc->vni);
        snprintf(text, sizeof text, "%s/%u", vpc->network, vpc->prefix);
        cJSON_AddStringToObject(o, "cidr", text);
        cJSON_AddStringToObject(o, "gateway", vpc->gateway);
        net_mac_format(vpc->gateway_mac, mac);
        cJSON_AddStringToObject(o, "gateway_mac", mac);
        peers = cJSON_AddArrayToObject(o, "peers");
        for (size_t i = 0; i < vpc->n_peers; i++)
                cJSON_AddItemToArray(peers, cJSON_CreateString(vpc->peers[i]));
        cJSON_AddStringToObject(o, "egress", net_egress_name(vpc->egress));
        if (vpc->egress != NET_EGRESS_NONE) {
                cJSON *u = cJSON_AddObjectToObject(o, "uplink");
                cJSON_AddStringToObject(u, "address", vpc->uplink.address);
                cJSON_AddNumberToObject(u, "prefix", vpc->uplink.prefix);
                cJSON_AddStringToObject(u, "gateway", vpc->uplink.gateway);
        }
        cJSON_AddBoolToObject(o, "isolated", vpc->isolated);
        return o;
}

/* --------------------------------------------------------- namespaces --- */

enum net_ns_state {
        NET_NS_MISSING,
        NET_NS_MOUNTED,
        NET_NS_STALE,           /* a file that is no namespace mount */
};

static int net_ns_state(const char *path) {
        struct statfs s;

        if (statfs(path, &s) < 0)
                return errno == ENOENT ? NET_NS_MISSING : -errno;
        return (unsigned long) s.f_type == (unsigned long) NSFS_MAGIC ? NET_NS_MOUNTED : NET_NS_STALE;
}

static int net_mkdir_p(const char *dir) {
        char path[PATH_MAX];

        if (snprintf(path, sizeof path, "%s", dir) >= (int) sizeof path)
                return -ENAMETOOLONG;
        for (char *p = path + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* As iproute2 does: netns_dir a shared mount point, so that namespaces
 * mounted there are seen by every mount namespace that shares it. */
static int net_netns_dir_shared(const char *dir, struct gc_error *err) {
        bool bound = false;
        int r = net_mkdir_p(dir);

        if (r < 0)
                return net_fail(err, r, NULL, dir, "create %s: %s", dir, strerror(-r));
        while (mount("", dir, "none", MS_SHARED | MS_REC, NULL) < 0) {
                if (errno != EINVAL || bound)
                        return net_fail(err, -errno, NULL, dir, "make %s a shared mount: %m", dir);
                if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0)
                        return net_fail(err, -errno, NULL, dir, "bind-mount %s onto itself: %m", dir);
                bound = true;
        }
        return 0;
}

struct net_ns_create {
        const char *path;
        int error;
        const char *what;
};

static void *net_ns_create_thread(void *p) {
        struct net_ns_create *c = p;

        if (unshare(CLONE_NEWNET) < 0) {
                c->error = -errno;
                c->what = "unshare";
                return NULL;
        }
        if (mount("/proc/thread-self/ns/net", c->path, "none", MS_BIND, NULL) < 0) {
                c->error = -errno;
                c->what = "bind-mount";
        }
        return NULL;
}

static int net_ns_create(const char *path, struct gc_error *err) {
        struct net_ns_create c = { .path = path };
        pthread_t t;
        int fd, r;

        fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
        if (fd < 0)
                return net_fail(err, -errno, NULL, path, "create %s: %m", path);
        close(fd);
        r = pthread_create(&t, NULL, net_ns_create_thread, &c);
        if (r != 0) {
                unlink(path);
                return net_fail(err, -r, NULL, path, "start a thread for namespace %s: %s", path, strerror(r));
        }
        pthread_join(t, NULL);
        if (c.error < 0) {
                unlink(path);
                return net_fail(err, c.error, NULL, path, "namespace %s: %s: %s", path, c.what, strerror(-c.error));
        }
        return 0;
}

static int net_ns_remove(const char *path, struct gc_error *err) {
        if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                return net_fail(err, -errno, NULL, path, "unmount %s: %m", path);
        if (unlink(path) < 0 && errno != ENOENT)
                return net_fail(err, -errno, NULL, path, "remove %s: %m", path);
        return 0;
}

/* Run fn on a thread inside the namespace of ns_fd, with a netlink socket
 * opened there. */
typedef int (*net_ns_fn)(struct nl_sock *sk, void *userdata);

struct net_ns_call {
        int ns_fd;
        net_ns_fn fn;
        void *userdata;
        int r;
        int setup_error;
        const char *setup_what;
};

static void *net_ns_thread(void *p) {
        struct net_ns_call *c = p;
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        int r;

        if (setns(c->ns_fd, CLONE_NEWNET) < 0) {
                c->setup_error = -errno;
                c->setup_what = "setns";
                return NULL;
        }
        sk = nl_socket_alloc();
        if (!sk) {
                c->setup_error = -ENOMEM;
                c->setup_what = "netlink socket";
                return NULL;
        }
        r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0) {
                c->setup_error = net_errno_of_nl(r);
                c->setup_what = nl_geterror(r);
                return NULL;
        }
        c->r = c->fn(sk, c->userdata);
        return NULL;
}

static int net_in_ns(int ns_fd, const char *ns_name, net_ns_fn fn, void *userdata, struct gc_error *err) {
        struct net_ns_call c = { .ns_fd = ns_fd, .fn = fn, .userdata = userdata };
        pthread_t t;
        int r;

        r = pthread_create(&t, NULL, net_ns_thread, &c);
        if (r != 0)
                return net_fail(err, -r, NULL, ns_name, "start a thread for namespace %s: %s", ns_name, strerror(r));
        pthread_join(t, NULL);
        if (c.setup_error < 0)
                return net_fail(err, c.setup_error, NULL, ns_name, "enter namespace %s: %s", ns_name, c.setup_what);
        return c.r;
}

/* -------------------------------------------------------------- nftables --- */

/* Run commands in the calling thread's namespace; *ret_out (may be NULL)
 * gets the output. Errors carry nftables' own text. */
static int net_nft_run(const char *cmds, char **ret_out, bool missing_ok, bool *ret_missing, char *errbuf,
                       size_t errsize) {
        _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

        if (!ctx) {
                snprintf(errbuf, errsize, "cannot make an nftables context");
                return -ENOMEM;
        }
        if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0) {
                snprintf(errbuf, errsize, "cannot buffer nftables output");
                return -ENOMEM;
        }
        if (nft_run_cmd_from_buffer(ctx, cmds) != 0) {
                const char *e = nft_ctx_get_error_buffer(ctx);
                char first[GC_ERROR_MESSAGE_MAX];
                size_t l;

                snprintf(first, sizeof first, "%s", e && *e ? e : "failed");
                l = strcspn(first, "\n");
                first[l] = 0;
                if (missing_ok && e && strstr(e, "No such file or directory")) {
                        if (ret_missing)
                                *ret_missing = true;
                        if (ret_out)
                                *ret_out = xstrdup("");
                        return 0;
                }
                snprintf(errbuf, errsize, "%s", first);
                return -EIO;
        }
        if (ret_out) {
                const char *o = nft_ctx_get_output_buffer(ctx);
                *ret_out = xstrdup(o ? o : "");
        }
        if (ret_missing)
                *ret_missing = false;
        return 0;
}

/* ------------------------------------------------------------- links --- */

/* *ret NULL when there is no link of that name. */
static int net_link_get(struct nl_sock *sk, const char *name, struct rtnl_link **ret, struct gc_error *err) {
        int r = rtnl_link_get_kernel(sk, 0, name, ret);

        if (net_nl_missing(r)) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return net_fail(err, net_errno_of_nl(r), NULL, name, "read link %s: %s", name, nl_geterror(r));
        return 0;
}

static bool net_link_is(struct rtnl_link *l, const char *kind) {
        const char *t = rtnl_link_get_type(l);
        return t && strcmp(t, kind) == 0;
}

static bool net_alias_is(struct rtnl_link *l, const char *alias) {
        const char *a = rtnl_link_get_ifalias(l);
        return a && strcmp(a, alias) == 0;
}

static bool net_alias_empty(struct rtnl_link *l) {
        const char *a = rtnl_link_get_ifalias(l);
        return !a || !*a;
}

/* A link of that name is ours: it carries the VPC's alias, or it is of the
 * kind we make there, has no alias, and the router namespace exists (a
 * build interrupted between creating it and setting the alias). */
static bool net_link_ours(struct rtnl_link *l, const char *alias, const char *kind, bool ns_exists) {
        if (net_alias_is(l, alias))
                return true;
        return ns_exists && net_alias_empty(l) && net_link_is(l, kind);
}

static int net_link_delete(struct nl_sock *sk, struct rtnl_link *l, struct gc_error *err) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *d = rtnl_link_alloc();
        const char *name = rtnl_link_get_name(l);
        int r;

        if (!d)
                return net_fail(err, -ENOMEM, NULL, NULL, "out of memory");
        rtnl_link_set_ifindex(d, rtnl_link_get_ifindex(l));
        r = rtnl_link_delete(sk, d);
        if (r < 0 && !net_nl_missing(r))
                return net_fail(err, net_errno_of_nl(r), NULL, name, "delete link %s: %s", name ? name : "?",
                                nl_geterror(r));
        return 0;
}

/* ------------------------------------------------------------- a build --- */

struct net_build {
        struct net *n;
        const struct net_vpc *vpc;
        struct gc_error *err;
        char bridge[NET_IFNAME_MAX], vxlan[NET_IFNAME_MAX], veth[NET_IFNAME_MAX];
        char ns_name[NET_IFNAME_MAX + 16];
        char ns_path[PATH_MAX];
        char alias[NET_ALIAS_MAX];
        char up_alias[NET_ALIAS_MAX];
        char table[64];
        int ns_fd;
        int parent_ifindex;             /* of the egress in the agent's namespace */
        bool rules_found;               /* the router's table was there */
        bool rules_isolated;            /* ... and was the isolated one */
        struct gc_buf actions;

        /* What the router namespace holds (net_router_query). */
        int gw_ifindex, gw_peer;
        bool gw_is_veth;
        int up_ifindex, up_parent;
        bool up_ok;                     /* a macvlan with the alias of the wanted egress */
};

static void net_build_done(struct net_build *b) {
        if (b->ns_fd >= 0)
                close(b->ns_fd);
        gc_buf_free(&b->actions);
}

static void net_build_init(struct net_build *b, struct net *n, uint32_t vni, const struct net_vpc *vpc,
                           struct gc_error *err) {
        *b = (struct net_build) { .n = n, .vpc = vpc, .err = err, .ns_fd = -1, .actions = GC_BUF_INIT(4096) };
        net_link_name(n, 'b', vni, b->bridge);
        net_link_name(n, 'v', vni, b->vxlan);
        net_link_name(n, 'r', vni, b->veth);
        net_ns_name(n, vni, b->ns_name, sizeof b->ns_name);
        snprintf(b->ns_path, sizeof b->ns_path, "%s/%s", n->cfg.netns_dir, b->ns_name);
        snprintf(b->alias, sizeof b->alias, NET_ALIAS_FMT, vni);
        if (vpc)
                snprintf(b->up_alias, sizeof b->up_alias, NET_ALIAS_FMT " egress %s", vni, net_egress_name(vpc->egress));
        net_bridge_table_name(n, vni, b->table, sizeof b->table);
}

/* One change made: logged, noted in the summary, then the test pause. */
static void net_did(struct net_build *b, const char *action, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void net_did(struct net_build *b, const char *action, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        log_info("vpc 0x%06x: %s", b->vpc ? b->vpc->vni : 0, msg);
        if (action) {
                /* Each action once, in order. */
                const char *d = b->actions.data ? b->actions.data : "";
                size_t l = strlen(action);
                bool seen = false;
                for (const char *p = strstr(d, action); p; p = strstr(p + 1, action))
                        if ((p == d || p[-1] == ' ') && (p[l] == ',' || p[l] == 0))
                                seen = true;
                if (!seen) {
                        if (b->actions.len > 0)
                                (void) gc_buf_append_str(&b->actions, ", ");
                        (void) gc_buf_append_str(&b->actions, action);
                }
        }
        if (b->n->step_delay_ms > 0) {
                struct timespec ts = { .tv_sec = b->n->step_delay_ms / 1000,
                                       .tv_nsec = (long) (b->n->step_delay_ms % 1000) * 1000000L };
                nanosleep(&ts, NULL);
        }
}

enum net_admin {
        NET_ADMIN_LEAVE,
        NET_ADMIN_UP,
        NET_ADMIN_DOWN,
};

static enum net_admin net_admin(bool up) {
        return up ? NET_ADMIN_UP : NET_ADMIN_DOWN;
}

/* What a link should be; fields left at their "leave" value are not looked at. */
struct net_link_want {
        const char *alias;              /* NULL: leave */
        unsigned mtu;                   /* 0: leave */
        int master;                     /* 0: leave */
        enum net_admin up;
        const uint8_t *mac;             /* NULL: leave */
        bool forwarding;                /* IPv4 forwarding on */
};

#define NET_LINK_WANT(...) ((struct net_link_want) { __VA_ARGS__ })

/* Correct what differs from w in one request. */
static int net_link_fix(struct net_build *b, struct nl_sock *sk, struct rtnl_link *cur, const struct net_link_want *w) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *c = rtnl_link_alloc();
        _cleanup_(nl_addr_putp) struct nl_addr *mac = NULL;
        const char *name = rtnl_link_get_name(cur);
        char what[256] = "";
        bool change = false;
        int r;

        if (!c)
                return net_fail(b->err, -ENOMEM, NULL, NULL, "out of memory");
#define NET_WHAT(...) snprintf(what + strlen(what), sizeof what - strlen(what), __VA_ARGS__)
        if (w->alias && !net_alias_is(cur, w->alias)) {
                rtnl_link_set_ifalias(c, w->alias);
                NET_WHAT(" alias");
                change = true;
        }
        if (w->mtu && rtnl_link_get_mtu(cur) != w->mtu) {
                rtnl_link_set_mtu(c, w->mtu);
                NET_WHAT(" mtu %u", w->mtu);
                change = true;
        }
        if (w->master && rtnl_link_get_master(cur) != w->master) {
                rtnl_link_set_master(c, w->master);
                NET_WHAT(" bridge port");
                change = true;
        }
        if (w->mac) {
                struct nl_addr *have = rtnl_link_get_addr(cur);
                if (!have || nl_addr_get_len(have) != 6 || memcmp(nl_addr_get_binary_addr(have), w->mac, 6) != 0) {
                        mac = nl_addr_build(AF_LLC, w->mac, 6);
                        if (!mac)
                                return net_fail(b->err, -ENOMEM, NULL, NULL, "out of memory");
                        rtnl_link_set_addr(c, mac);
                        NET_WHAT(" mac");
                        change = true;
                }
        }
        if (w->forwarding) {
                uint32_t v = 0;
                if (rtnl_link_inet_get_conf(cur, IPV4_DEVCONF_FORWARDING, &v) < 0 || v != 1) {
                        r = rtnl_link_inet_set_conf(c, IPV4_DEVCONF_FORWARDING, 1);
                        if (r < 0)
                                return net_fail(b->err, net_errno_of_nl(r), NULL, name, "forwarding on %s: %s", name,
                                                nl_geterror(r));
                        NET_WHAT(" forwarding");
                        change = true;
                }
        }
        if (w->up != NET_ADMIN_LEAVE && !!(rtnl_link_get_flags(cur) & IFF_UP) != (w->up == NET_ADMIN_UP)) {
                if (w->up == NET_ADMIN_UP)
                        rtnl_link_set_flags(c, IFF_UP);
                else
                        rtnl_link_unset_flags(c, IFF_UP);
                NET_WHAT(" %s", w->up == NET_ADMIN_UP ? "up" : "down");
                change = true;
        }
#undef NET_WHAT
        if (!change)
                return 0;
        r = rtnl_link_change(sk, cur, c, 0);
        if (r < 0)
                return net_fail(b->err, net_errno_of_nl(r), NULL, name, "set%s on link %s: %s", what, name,
                                nl_geterror(r));
        net_did(b, NULL, "set%s on %s", what, name);
        return 1;
}

static int net_link_add(struct net_build *b, struct nl_sock *sk, struct rtnl_link *l, const char *what) {
        const char *name = rtnl_link_get_name(l);
        int r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);

        if (r < 0)
                return net_fail(b->err, net_errno_of_nl(r), NULL, name, "create %s %s: %s", what, name, nl_geterror(r));
        return 0;
}

/* Fetch a link we just made or changed; it must be there. */
static int net_link_need(struct net_build *b, struct nl_sock *sk, const char *name, struct rtnl_link **ret) {
        int r = net_link_get(sk, name, ret, b->err);
        if (r < 0)
                return r;
        if (!*ret)
                return net_fail(b->err, -ENOENT, NULL, name, "link %s vanished while being set up", name);
        return 0;
}

/* ----------------------------------------------------------- the pieces --- */

/* Before anything is made: no link of our names belongs to someone else. */
static int net_check_names(struct net_build *b, bool ns_exists) {
        static const char *const kinds[] = { "bridge", "vxlan", "veth" };
        const char *names[] = { b->bridge, b->vxlan, b->veth };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
                char vni[16];
                int r = net_link_get(b->n->sk, names[i], &l, b->err);
                if (r < 0)
                        return r;
                if (!l || net_link_ours(l, b->alias, kinds[i], ns_exists))
                        continue;
                snprintf(vni, sizeof vni, "%u", b->vpc->vni);
                return net_fail(b->err, -EEXIST, "vpc.vni", vni,
                                "link %s exists and is not this VPC's (alias \"%s\"); it is left alone", names[i],
                                rtnl_link_get_ifalias(l) ? rtnl_link_get_ifalias(l) : "");
        }
        return 0;
}

static int net_ensure_ns(struct net_build *b) {
        int s = net_ns_state(b->ns_path), r;

        if (s < 0)
                return net_fail(b->err, s, NULL, b->ns_path, "look at %s: %s", b->ns_path, strerror(-s));
        if (s == NET_NS_STALE) {
                if (unlink(b->ns_path) < 0)
                        return net_fail(b->err, -errno, NULL, b->ns_path, "remove %s (not a namespace): %m", b->ns_path);
                net_did(b, NULL, "removed %s, a file left without a namespace", b->ns_path);
        }
        if (s != NET_NS_MOUNTED) {
                r = net_ns_create(b->ns_path, b->err);
                if (r < 0)
                        return r;
                net_did(b, "created router namespace", "created router namespace %s", b->ns_name);
        }
        b->ns_fd = open(b->ns_path, O_RDONLY | O_CLOEXEC);
        if (b->ns_fd < 0)
                return net_fail(b->err, -errno, NULL, b->ns_path, "open %s: %m", b->ns_path);
        return 0;
}

static int net_ensure_bridge(struct net_build *b, int *ret_ifindex) {
        struct nl_sock *sk = b->n->sk;
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int r = net_link_get(sk, b->bridge, &l, b->err);

        if (r < 0)
                return r;
        if (l && !net_link_is(l, "bridge")) {
                r = net_link_delete(sk, l, b->err);
                if (r < 0)
                        return r;
                net_did(b, NULL, "deleted %s: not a bridge", b->bridge);
                rtnl_link_put(TAKE_PTR(l));
        }
        if (!l) {
                _cleanup_(rtnl_link_putp) struct rtnl_link *n = rtnl_link_alloc();
                if (!n)
                        return net_fail(b->err, -ENOMEM, NULL, NULL, "out of memory");
                r = rtnl_link_set_type(n, "bridge");
                if (r < 0)
                        return net_fail(b->err, net_errno_of_nl(r), NULL, b->bridge, "bridge %s: %s", b->bridge,
                                        nl_geterror(r));
                rtnl_link_set_name(n, b->bridge);
                rtnl_link_set_mtu(n, NET_MTU);
                r = net_link_add(b, sk, n, "bridge");
                if (r < 0)
                        return r;
                net_did(b, "created bridge", "created bridge %s", b->bridge);
                r = net_link_need(b, sk, b->bridge, &l);
                if (r < 0)
                        return r;
        }
        /* Isolation takes effect before anything else is touched (R-SC3). */
        r = net_link_fix(b, sk, l, &NET_LINK_WANT(.alias = b->alias, .mtu = NET_MTU, .up = b->vpc->isolated ? NET_ADMIN_DOWN : NET_ADMIN_LEAVE));
        if (r < 0)
                return r;
        *ret_ifindex = rtnl_link_get_ifindex(l);
        return 0;
}

/* Frames to or from the gateway MAC never cross the VXLAN: every host of
 * the VPC answers for the gateway itself, and no host's gateway is seen,
 * or learnt, beyond its own bridge (R-NW1). */
static int net_ensure_bridge_table(struct net_build *b) {
        _cleanup_free_ char *before = NULL, *after = NULL, *list = NULL, *cmds = NULL;
        char mac[18], errbuf[GC_ERROR_MESSAGE_MAX];
        bool missing;
        int r;

        net_mac_format(b->vpc->gateway_mac, mac);
        list = xasprintf("list table bridge %s\n", b->table);
        cmds = xasprintf("table bridge %s\n"
                         "delete table bridge %s\n"
                         "table bridge %s {\n"
                         "\tchain forward {\n"
                         "\t\ttype filter hook forward priority 0; policy accept;\n"
                         "\t\toifname \"%s\" ether saddr %s drop\n"
                         "\t\toifname \"%s\" ether daddr %s drop\n"
                         "\t\tiifname \"%s\" ether saddr %s drop\n"
                         "\t\tiifname \"%s\" ether daddr %s drop\n"
                         "\t}\n"
                         "}\n",
                         b->table, b->table, b->table, b->vxlan, mac, b->vxlan, mac, b->vxlan, mac, b->vxlan, mac);
        r = net_nft_run(list, &before, true, &missing, errbuf, sizeof errbuf);
        if (r >= 0)
                r = net_nft_run(cmds, NULL, false, NULL, errbuf, sizeof errbuf);
        if (r >= 0)
                r = net_nft_run(list, &after, false, NULL, errbuf, sizeof errbuf);
        if (r < 0)
                return net_fail(b->err, r, NULL, b->table, "nftables table bridge %s: %s", b->table, errbuf);
        if (missing)
                net_did(b, "created gateway filter", "created nftables table bridge %s", b->table);
        else if (strcmp(before, after) != 0)
                net_did(b, "replaced gateway filter", "replaced nftables table bridge %s", b->table);
        return 0;
}

static int net_vxlan_matches(struct net_build *b, struct rtnl_link *l) {
        _cleanup_(nl_addr_putp) struct nl_addr *local = NULL, *want = NULL;
        uint32_t id = 0, port = 0;
        int r;

        if (!net_link_is(l, "vxlan"))
                return false;
        if (rtnl_link_vxlan_get_id(l, &id) < 0 || id != b->vpc->vni)
                return false;
        if (rtnl_link_vxlan_get_port(l, &port) < 0 || port != b->n->vxlan_port)
                return false;
        if (rtnl_link_vxlan_get_learning(l) != 0)
                return false;
        if (rtnl_link_vxlan_get_local(l, &local) < 0 || !local)
                return false;
        r = net_nl_addr(b->n->cfg.underlay, AF_UNSPEC, &want, b->err);
        if (r < 0)
                return r;
        return nl_addr_cmp(local, want) == 0;
}

static int net_ensure_vxlan(struct net_build *b, int bridge_ifindex, int *ret_ifindex) {
        struct nl_sock *sk = b->n->sk;
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int r = net_link_get(sk, b->vxlan, &l, b->err);

        if (r < 0)
                return r;
        if (l) {
                r = net_vxlan_matches(b, l);
                if (r < 0)
                        return r;
                if (!r) {
                        r = net_link_delete(sk, l, b->err);
                        if (r < 0)
                                return r;
                        net_did(b, "recreated vxlan", "deleted %s: not a VXLAN of VNI %u, local %s, port %u", b->vxlan,
                                b->vpc->vni, b->n->cfg.underlay, b->n->vxlan_port);
                        rtnl_link_put(TAKE_PTR(l));
                }
        }
        if (!l) {
                _cleanup_(rtnl_link_putp) struct rtnl_link *n = rtnl_link_vxlan_alloc();
                _cleanup_(nl_addr_putp) struct nl_addr *local = NULL;
                if (!n)
                        return net_fail(b->err, -ENOMEM, NULL, NULL, "out of memory");
                r = net_nl_addr(b->n->cfg.underlay, AF_UNSPEC, &local, b->err);
                if (r < 0)
                        return r;
                rtnl_link_set_name(n, b->vxlan);
                rtnl_link_set_mtu(n, NET_MTU);
                if ((r = rtnl_link_vxlan_set_id(n, b->vpc->vni)) < 0 || (r = rtnl_link_vxlan_set_local(n, local)) < 0 ||
                    (r = rtnl_link_vxlan_set_port(n, b->n->vxlan_port)) < 0 ||
                    (r = rtnl_link_vxlan_set_learning(n, 0)) < 0)
                        return net_fail(b->err, net_errno_of_nl(r), NULL, b->vxlan, "vxlan %s: %s", b->vxlan,
                                        nl_geterror(r));
                r = net_link_add(b, sk, n, "vxlan");
                if (r < 0)
                        return r;
                net_did(b, "created vxlan", "created vxlan %s (VNI %u, local %s, port %u)", b->vxlan, b->vpc->vni,
                        b->n->cfg.underlay, b->n->vxlan_port);
                r = net_link_need(b, sk, b->vxlan, &l);
                if (r < 0)
                        return r;
        }
        r = net_link_fix(b, sk, l,
                         &NET_LINK_WANT(.alias = b->alias, .mtu = NET_MTU, .master = bridge_ifindex, .up = NET_ADMIN_UP));
        if (r < 0)
                return r;
        *ret_ifindex = rtnl_link_get_ifindex(l);
        return 0;
}

/* The all-zero FDB entries of the VXLAN device: one per peer. */
struct net_fdb_dump {
        int ifindex;
        char (*dst)[NET_ADDR_MAX];
        size_t n, cap;
};

static int net_fdb_dump_cb(struct nl_msg *msg, void *arg) {
        struct net_fdb_dump *d = arg;
        struct nlmsghdr *h = nlmsg_hdr(msg);
        struct nlattr *tb[NDA_MAX + 1];
        struct ndmsg *ndm;
        static const uint8_t zero[6];

        if (h->nlmsg_type != RTM_NEWNEIGH || nlmsg_parse(h, sizeof *ndm, tb, NDA_MAX, NULL) < 0)
                return NL_OK;
        ndm = nlmsg_data(h);
        if (ndm->ndm_family != AF_BRIDGE || ndm->ndm_ifindex != d->ifindex)
                return NL_OK;
        if (!tb[NDA_LLADDR] || nla_len(tb[NDA_LLADDR]) != 6 || memcmp(nla_data(tb[NDA_LLADDR]), zero, 6) != 0 ||
            !tb[NDA_DST])
                return NL_OK;
        if (d->n == d->cap) {
                d->cap = d->cap ? d->cap * 2 : 8;
                d->dst = xrealloc(d->dst, d->cap * sizeof *d->dst);
        }
        if (nla_len(tb[NDA_DST]) == 4)
                inet_ntop(AF_INET, nla_data(tb[NDA_DST]), d->dst[d->n], NET_ADDR_MAX);
        else if (nla_len(tb[NDA_DST]) == 16)
                inet_ntop(AF_INET6, nla_data(tb[NDA_DST]), d->dst[d->n], NET_ADDR_MAX);
        else
                return NL_OK;
        d->n++;
        return NL_OK;
}

static int net_fdb_list(struct nl_sock *sk, int ifindex, struct net_fdb_dump *ret, const char *name,
                        struct gc_error *err) {
        struct ndmsg ndm = { .ndm_family = AF_BRIDGE };
        _cleanup_(nl_cb_putp) struct nl_cb *sock_cb = nl_socket_get_cb(sk);    /* a reference */
        _cleanup_(nl_cb_putp) struct nl_cb *cb = sock_cb ? nl_cb_clone(sock_cb) : NULL;
        struct net_fdb_dump d = { .ifindex = ifindex };
        int r;

        if (!cb)
                return net_fail(err, -ENOMEM, NULL, NULL, "out of memory");
        nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, net_fdb_dump_cb, &d);
        r = nl_send_simple(sk, RTM_GETNEIGH, NLM_F_DUMP, &ndm, sizeof ndm);
        if (r >= 0)
                r = nl_recvmsgs(sk, cb);
        if (r < 0) {
                free(d.dst);
                return net_fail(err, net_errno_of_nl(r), NULL, name, "read the FDB of %s: %s", name, nl_geterror(r));
        }
        *ret = d;
        return 0;
}

/* RTM_NEWNEIGH / RTM_DELNEIGH for one all-zero entry, built by hand:
 * libnl's rtnl_neigh_add takes the family from the destination address and
 * so cannot address the bridge FDB here. */
static int net_fdb_change(struct net_build *b, int ifindex, const char *peer, bool add) {
        _cleanup_(nlmsg_freep) struct nl_msg *msg = NULL;
        struct ndmsg ndm = {
                .ndm_family = AF_BRIDGE,
                .ndm_ifindex = ifindex,
                .ndm_state = NUD_PERMANENT,
                .ndm_flags = NTF_SELF,
        };
        static const uint8_t zero[6];
        unsigned char dst[16];
        int family, r;

        if (!net_inet_parse(peer, &family, dst, NULL))
                return net_fail(b->err, -EINVAL, NULL, peer, "%s is not an address", peer);
        msg = nlmsg_alloc_simple(add ? RTM_NEWNEIGH : RTM_DELNEIGH, add ? NLM_F_CREATE | NLM_F_APPEND : 0);
        if (!msg || nlmsg_append(msg, &ndm, sizeof ndm, NLMSG_ALIGNTO) < 0 ||
            nla_put(msg, NDA_LLADDR, sizeof zero, zero) < 0 ||
            nla_put(msg, NDA_DST, family == AF_INET ? 4 : 16, dst) < 0)
                return net_fail(b->err, -ENOMEM, NULL, NULL, "out of memory");
        r = nl_send_sync(b->n->sk, TAKE_PTR(msg));
        if (r < 0 && !(add ? r == -NLE_EXIST : net_nl_missing(r)))
                return net_fail(b->err, net_errno_of_nl(r), NULL, peer, "%s FDB entry 00:00:00:00:00:00 dst %s on %s: %s",
                                add ? "add" : "delete", peer, b->vxlan, nl_geterror(r));
        return 0;
}

static int net_ensure_peers(struct net_build *b, int vxlan_ifindex) {
        struct net_fdb_dump have = {};
        int r = net_fdb_list(b->n->sk, vxlan_ifindex, &have, b->vxlan, b->err);

        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < have.n; i++) {
                bool want = false;
                for (size_t k = 0; k < b->vpc->n_peers; k++)
                        if (strcmp(have.dst[i], b->vpc->peers[k]) == 0)
                                want = true;
                /* A second entry for the same peer (dumps list each) is left. */
                if (want)
                        continue;
                r = net_fdb_change(b, vxlan_ifindex, have.dst[i], false);
                if (r >= 0)
                        net_did(b, "removed peers", "removed peer %s (FDB entry on %s)", have.dst[i], b->vxlan);
        }
        for (size_t k = 0; r >= 0 && k < b->vpc->n_peers; k++) {
                bool present = false;
                for (size_t i = 0; i < have.n; i++)
                        if (strcmp(have.dst[i], b->vpc->peers[k]) == 0)
                                present = true;
                if (present)
                        continue;
                r = net_fdb_change(b, vxlan_ifindex, b->vpc->peers[k], true);
                if (r >= 0)
                        net_did(b, "added peers", "added peer %s (FDB entry on %s)", b->vpc->peers[k], b->vxlan);
        }
        free(have.dst);
        return r;
}

/* --- inside the router namespace --- */

static int net_router_query(struct nl_sock *sk, void *userdata) {
        struct net_build *b = userdata;
        _cleanup_(rtnl_link_putp) struct rtnl_link *gw = NULL, *up = NULL;
        int r;

        b->gw_ifindex = b->gw_peer = b->up_ifindex = b->up_parent = 0;
        b->gw_is_veth = b->up_ok = false;
        r = net_link_get(sk, NET_GW_IF, &gw, b->err);
        if (r < 0)
                return r;
        if (gw) {
                b->gw_ifindex = rtnl_link_get_ifindex(gw);
                b->gw_peer = rtnl_link_get_link(gw);
                b->gw_is_veth = net_link_is(gw, "veth");
        }
        r = net_link_get(sk, NET_UP_IF, &up, b->err);
        if (r < 0)
                return r;
        if (up) {
                b->up_ifindex = rtnl_link_get_ifindex(up);
                b->up_parent = rtnl_link_get_link(up);
                b->up_ok = net_link_is(up, "macvlan") && net_alias_is(up, b->up_alias) &&
                           rtnl_link_macvlan_get_mode(up) == MACVLAN_MODE_PRIVATE;
        }
        return 0;
}

static int net_router_delete_link(struct nl_sock *sk, void *userdata) {
        struct net_build *b = userdata;
        int ifindex = b->gw_ifindex;    /* set by the caller: what to delete */
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = rtnl_link_alloc();
        int r;

        if (!l)
                return net_fail(b->err, -ENOMEM, NULL, NULL, "out of memory");
        rtnl_link_set_ifindex(l, ifindex);
        r = rtnl_link_delete(sk, l);
        if (r < 0 && !net_nl_missing(r))
                return net_fail(b->err, net_errno_of_nl(r), NULL, b->ns_name, "delete link %d in %s: %s", ifindex,
                                b->ns_name, nl_geterror(r));
        return 0;
}

static int net_router_delete(struct net_build *b, int ifindex) {
        int keep = b->gw_ifindex, r;

        b->gw_ifindex = ifindex;
        r = net_in_ns(b->ns_fd, b->ns_name, net_router_delete_link, b, b->err);
        b->gw_ifindex = keep;
        return r;
}

/* The IPv4 addresses of one link are exactly want/len (want NULL: none). */
static int net_router_addresses(struct net_build *b, struct nl_sock *sk, int ifindex, const char *ifname,
                                const char *want, unsigned len) {
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *w = NULL;
        bool present = false;
        int r;

        if (want) {
                char text[NET_ADDR_MAX + 8];
                snprintf(text, sizeof text, "%s/%u", want, len);
                r = net_nl_addr(text, AF_INET, &w, b->err);
                if (r < 0)
                        return r;
        }
        r = rtnl_addr_alloc_cache(sk, &cache);
        if (r < 0)
                return net_fail(b->err, net_errno_of_nl(r), NULL, b->ns_name, "read addresses in %s: %s", b->ns_name,
                                nl_geterror(r));
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *) o;
                struct nl_addr *local = rtnl_addr_get_local(a);
                char text[NET_ADDR_MAX + 8];

                if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET || !local)
                        continue;
                if (w && nl_addr_cmp(local, w) == 0 && rtnl_addr_get_prefixlen(a) == (int) len) {
                        present = true;
                        continue;
                }
                nl_addr2str(local, text, sizeof text);
                r = rtnl_addr_delete(sk, a, 0);
                if (r < 0 && !net_nl_missing(r) && r != -NLE_NOADDR)
                        return net_fail(b->err, net_errno_of_nl(r), NULL, text, "delete address %s from %s in %s: %s",
                                        text, ifname, b->ns_name, nl_geterror(r));
                net_did(b, NULL, "deleted address %s from %s in %s", text, ifname, b->ns_name);
        }
        if (w && !present) {
                _cleanup_(rtnl_addr_putp) struct rtnl_addr *a = rtnl_addr_alloc();
                if (!a)
                        return net_fail(b->err, -ENOMEM, NULL, NULL, "out of memory");
                rtnl_addr_set_ifindex(a, ifindex);
                rtnl_addr_set_family(a, AF_INET);
                r = rtnl_addr_set_local(a, w);
                if (r >= 0) {
                        rtnl_addr_set_prefixlen(a, (int) len);
                        r = rtnl_addr_add(sk, a, 0);
                }
                if (r < 0 && r != -NLE_EXIST)
                        return net_fail(b->err, net_errno_of_nl(r), NULL, want, "add address %s/%u to %s in %s: %s", want,
                                        len, ifname, b->ns_name, nl_geterror(r));
                net_did(b, NULL, "added address %s/%u to %s in %s", want, len, ifname, b->ns_name);
        }
        return 0;
}

/* The main table's IPv4 default route: via gateway on ifindex, or none. */
static int net_router_default_route(struct net_build *b, struct nl_sock *sk, int ifindex, const char *gateway) {
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *gw = NULL, *dst = NULL;
        bool present = false;
        int r;

        if (gateway) {
                r = net_nl_addr(gateway, AF_INET, &gw, b->err);
                if (r < 0)
                        return r;
        }
        r = rtnl_route_alloc_cache(sk, AF_INET, 0, &cache);
        if (r < 0)
                return net_fail(b->err, net_errno_of_nl(r), NULL, b->ns_name, "read routes in %s: %s", b->ns_name,
                                nl_geterror(r));
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_route *rt = (struct rtnl_route *) o;
                struct nl_addr *d = rtnl_route_get_dst(rt);
                struct rtnl_nexthop *nh;

                if (rtnl_route_get_table(rt) != RT_TABLE_MAIN || (d && nl_addr_get_prefixlen(d) != 0))
                        continue;
                nh = rtnl_route_get_nnexthops(rt) == 1 ? rtnl_route_nexthop_n(rt, 0) : NULL;
                if (gw && nh && rtnl_route_nh_get_ifindex(nh) == ifindex && rtnl_route_nh_get_gateway(nh) &&
                    !nl_addr_cmp(rtnl_route_nh_get_gateway(nh), gw)) {
                        present = true;
                        continue;
                }
                r = rtnl_route_delete(sk, rt, 0);
                if (r < 0 && !net_nl_missing(r) && r != -NLE_NOADDR)
                        return net_fail(b->err, net_errno_of_nl(r), NULL, b->ns_name, "delete the default route in %s: %s",
                                        b->ns_name, nl_geterror(r));
                net_did(b, NULL, "deleted a default route in %s", b->ns_name);
        }
        if (gw && !present) {
                _cleanup_(rtnl_route_putp) struct rtnl_route *rt = rtnl_route_alloc();
                struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
                if (!rt || !nh) {
                        rtnl_route_nh_free(nh);
                        return net_fail(b->err, -ENOMEM, NULL, NULL, "out of memory");
                }
                r = net_nl_addr("0.0.0.0/0", AF_INET, &dst, b->err);
                if (r < 0) {
                        rtnl_route_nh_free(nh);
                        return r;
                }
                rtnl_route_set_family(rt, AF_INET);
                rtnl_route_set_table(rt, RT_TABLE_MAIN);
                rtnl_route_set_dst(rt, dst);
                rtnl_route_set_protocol(rt, RTPROT_STATIC);
                rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
                rtnl_route_set_type(rt, RTN_UNICAST);
                rtnl_route_nh_set_ifindex(nh, ifindex);
                rtnl_route_nh_set_gateway(nh, gw);
                rtnl_route_add_nexthop(rt, nh);
                r = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_REPLACE);
                if (r < 0)
                        return net_fail(b->err, net_errno_of_nl(r), NULL, gateway, "add the default route via %s in %s: %s",
                                        gateway, b->ns_name, nl_geterror(r));
                net_did(b, NULL, "added the default route via %s in %s", gateway, b->ns_name);
        }
        return 0;
}

/* The router's table inet govcloud, the whole of it (R-NW3, R-SC3). */
static char *net_router_rules(struct net_build *b) {
        const struct net_vpc *vpc = b->vpc;
        const struct net_config *cfg = &b->n->cfg;
        struct gc_buf t = GC_BUF_INIT(NET_RULES_MAX);
        bool egress = vpc->egress != NET_EGRESS_NONE;
        int family;

        (void) gc_buf_printf(&t, "table inet " NET_ROUTER_TABLE "\n"
                                 "delete table inet " NET_ROUTER_TABLE "\n"
                                 "table inet " NET_ROUTER_TABLE " {\n");
        /* Protected prefixes: the configured ones and the underlay address. */
        for (int f = 0; f < 2; f++) {
                int want = f == 0 ? AF_INET : AF_INET6;
                char text[NET_ADDR_MAX + 8];
                bool any = false;

                (void) gc_buf_printf(&t, "\tset protected%d {\n\t\ttype %s\n\t\tflags interval\n\t\tauto-merge\n",
                                     f == 0 ? 4 : 6, f == 0 ? "ipv4_addr" : "ipv6_addr");
                for (size_t i = 0; i <= cfg->n_protected; i++) {
                        const char *p;
                        char one[NET_ADDR_MAX + 8];
                        if (i < cfg->n_protected)
                                p = cfg->protected[i];
                        else {
                                snprintf(one, sizeof one, "%s/%d", cfg->underlay, strchr(cfg->underlay, ':') ? 128 : 32);
                                p = one;
                        }
                        if (!net_prefix_canonical(p, text, sizeof text, &family) || family != want)
                                continue;
                        (void) gc_buf_printf(&t, "%s%s", any ? ", " : "\t\telements = { ", text);
                        any = true;
                }
                (void) gc_buf_printf(&t, "%s\t}\n", any ? " }\n" : "");
        }
        (void) gc_buf_printf(&t, "\tchain input {\n"
                                 "\t\ttype filter hook input priority filter; policy drop;\n"
                                 "\t\tiifname \"" NET_LO_IF "\" accept\n");
        if (!vpc->isolated)
                (void) gc_buf_printf(&t, "\t\tct state established,related accept\n"
                                         "\t\tiifname \"" NET_GW_IF "\" ip daddr %s icmp type echo-request accept\n",
                                     vpc->gateway);
        (void) gc_buf_printf(&t, "\t}\n"
                                 "\tchain forward {\n"
                                 "\t\ttype filter hook forward priority filter; policy drop;\n");
        if (vpc->isolated)
                (void) gc_buf_printf(&t, "\t\tiifname \"" NET_LO_IF "\" accept\n");
        else {
                (void) gc_buf_printf(&t, "\t\tip daddr @protected4 drop\n"
                                         "\t\tip6 daddr @protected6 drop\n"
                                         "\t\tct state established,related accept\n");
                if (egress)
                        (void) gc_buf_printf(&t, "\t\tiifname \"" NET_GW_IF "\" oifname \"" NET_UP_IF "\" accept\n");
        }
        (void) gc_buf_printf(&t, "\t}\n"
                                 "\tchain postrouting {\n"
                                 "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
        if (egress && !vpc->isolated)
                (void) gc_buf_printf(&t, "\t\toifname \"" NET_UP_IF "\" snat ip to %s\n", vpc->uplink.address);
        (void) gc_buf_printf(&t, "\t}\n}\n");
        return gc_buf_steal(&t, NULL);
}

static int net_router_configure(struct nl_sock *sk, void *userdata) {
        struct net_build *b = userdata;
        const struct net_vpc *vpc = b->vpc;
        bool egress = vpc->egress != NET_EGRESS_NONE;
        _cleanup_(rtnl_link_putp) struct rtnl_link *lo = NULL, *gw = NULL, *up = NULL;
        _cleanup_free_ char *rules = NULL, *before = NULL, *after = NULL;
        char errbuf[GC_ERROR_MESSAGE_MAX];
        bool missing;
        int r;

        r = net_link_need(b, sk, NET_LO_IF, &lo);
        if (r >= 0)
                r = net_link_fix(b, sk, lo, &NET_LINK_WANT(.up = NET_ADMIN_UP));
        if (r >= 0)
                r = net_link_need(b, sk, NET_GW_IF, &gw);
        if (r >= 0)
                r = net_link_fix(b, sk, gw,
                                 &NET_LINK_WANT(.mtu = NET_MTU, .mac = vpc->gateway_mac, .up = NET_ADMIN_UP, .forwarding = true));
        if (r >= 0)
                r = net_router_addresses(b, sk, rtnl_link_get_ifindex(gw), NET_GW_IF, vpc->gateway, vpc->prefix);
        if (r < 0)
                return r;
        if (egress) {
                r = net_link_need(b, sk, NET_UP_IF, &up);
                if (r >= 0)
                        r = net_link_fix(b, sk, up, &NET_LINK_WANT(.up = NET_ADMIN_UP, .forwarding = true));
                if (r >= 0)
                        r = net_router_addresses(b, sk, rtnl_link_get_ifindex(up), NET_UP_IF, vpc->uplink.address,
                                                 vpc->uplink.prefix);
                if (r >= 0)
                        r = net_router_default_route(b, sk, rtnl_link_get_ifindex(up), vpc->uplink.gateway);
        } else
                r = net_router_default_route(b, sk, 0, NULL);
        if (r < 0)
                return r;

        rules = net_router_rules(b);
        r = net_nft_run("list table inet " NET_ROUTER_TABLE "\n", &before, true, &missing, errbuf, sizeof errbuf);
        if (r >= 0)
                r = net_nft_run(rules, NULL, false, NULL, errbuf, sizeof errbuf);
        if (r >= 0)
                r = net_nft_run("list table inet " NET_ROUTER_TABLE "\n", &after, false, NULL, errbuf, sizeof errbuf);
        if (r < 0)
                return net_fail(b->err, r, NULL, b->ns_name, "nftables table inet " NET_ROUTER_TABLE " in %s: %s",
                                b->ns_name, errbuf);
        b->rules_found = !missing;
        b->rules_isolated = !missing && !strstr(before, "established,related");
        if (missing)
                net_did(b, "created router rules", "created nftables table inet " NET_ROUTER_TABLE " in %s", b->ns_name);
        else if (strcmp(before, after) != 0)
                net_did(b, "replaced router rules", "replaced nftables table inet " NET_ROUTER_TABLE " in %s", b->ns_name);
        return 0;
}

/* The veth pair PrX / gw: both ends there and each other's peer. */
static int net_ensure_veth(struct net_build *b, int bridge_ifindex) {
        struct nl_sock *sk = b->n->sk;
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int r;

        r = net_in_ns(b->ns_fd, b->ns_name, net_router_query, b, b->err);
        if (r < 0)
                return r;
        r = net_link_get(sk, b->veth, &l, b->err);
        if (r < 0)
                return r;
        if (l && !(net_link_is(l, "veth") && b->gw_is_veth && b->gw_peer == rtnl_link_get_ifindex(l) &&
                   rtnl_link_get_link(l) == b->gw_ifindex)) {
                r = net_link_delete(sk, l, b->err);
                if (r < 0)
                        return r;
                net_did(b, "recreated router link", "deleted %s: its peer is not %s in %s", b->veth, NET_GW_IF,
                        b->ns_name);
                rtnl_link_put(TAKE_PTR(l));
                r = net_in_ns(b->ns_fd, b->ns_name, net_router_query, b, b->err);
                if (r < 0)
                        return r;
        }
        if (!l && b->gw_ifindex > 0) {
                r = net_router_delete(b, b->gw_ifindex);
                if (r < 0)
                        return r;
                net_did(b, NULL, "deleted %s in %s: no peer in the agent's namespace", NET_GW_IF, b->ns_name);
        }
        if (!l) {
                _cleanup_(rtnl_link_putp) struct rtnl_link *n = rtnl_link_veth_alloc();
                _cleanup_(rtnl_link_putp) struct rtnl_link *peer = NULL;
                _cleanup_(nl_addr_putp) struct nl_addr *mac = nl_addr_build(AF_LLC, b->vpc->gateway_mac, 6);
                if (!n || !mac)
                        return net_fail(b->err, -ENOMEM, NULL, NULL, "out of memory");
                peer = rtnl_link_veth_get_peer(n);
                rtnl_link_set_name(n, b->veth);
                rtnl_link_set_mtu(n, NET_MTU);
                rtnl_link_set_name(peer, NET_GW_IF);
                rtnl_link_set_mtu(peer, NET_MTU);
                rtnl_link_set_addr(peer, mac);
                rtnl_link_set_ns_fd(peer, b->ns_fd);
                r = net_link_add(b, sk, n, "veth");
                if (r < 0)
                        return r;
                net_did(b, "created router link", "created veth %s with peer %s in %s", b->veth, NET_GW_IF, b->ns_name);
                r = net_link_need(b, sk, b->veth, &l);
                if (r < 0)
                        return r;
        }
        return net_link_fix(b, sk, l, &NET_LINK_WANT(.alias = b->alias, .mtu = NET_MTU, .master = bridge_ifindex, .up = NET_ADMIN_UP));
}

/* The macvlan "up" on the egress parent, present only while egress is open. */
static int net_ensure_uplink(struct net_build *b) {
        const struct net_vpc *vpc = b->vpc;
        bool want = vpc->egress != NET_EGRESS_NONE;
        int r;

        r = net_in_ns(b->ns_fd, b->ns_name, net_router_query, b, b->err);
        if (r < 0)
                return r;
        if (b->up_ifindex > 0 && !(want && b->up_ok && b->up_parent == b->parent_ifindex)) {
                r = net_router_delete(b, b->up_ifindex);
                if (r < 0)
                        return r;
                if (want)
                        net_did(b, "uplink replaced", "deleted %s in %s: not a macvlan of %s egress on %s", NET_UP_IF,
                                b->ns_name, net_egress_name(vpc->egress), b->n->cfg.egress_parent[vpc->egress]);
                else
                        net_did(b, "egress closed", "egress closed: deleted %s in %s", NET_UP_IF, b->ns_name);
                b->up_ifindex = 0;
        }
        if (want && b->up_ifindex <= 0) {
                _cleanup_(rtnl_link_putp) struct rtnl_link *n = rtnl_link_macvlan_alloc();
                char action[64];
                if (!n)
                        return net_fail(b->err, -ENOMEM, NULL, NULL, "out of memory");
                rtnl_link_set_name(n, NET_UP_IF);
                rtnl_link_set_link(n, b->parent_ifindex);
                rtnl_link_set_ns_fd(n, b->ns_fd);
                r = rtnl_link_macvlan_set_mode(n, MACVLAN_MODE_PRIVATE);
                if (r < 0)
                        return net_fail(b->err, net_errno_of_nl(r), NULL, NET_UP_IF, "macvlan: %s", nl_geterror(r));
                r = rtnl_link_add(b->n->sk, n, NLM_F_CREATE | NLM_F_EXCL);
                if (r < 0)
                        return net_fail(b->err, net_errno_of_nl(r), NULL, b->n->cfg.egress_parent[vpc->egress],
                                        "create macvlan %s on %s in %s: %s", NET_UP_IF,
                                        b->n->cfg.egress_parent[vpc->egress], b->ns_name, nl_geterror(r));
                snprintf(action, sizeof action, "egress %s opened", net_egress_name(vpc->egress));
                net_did(b, action, "created macvlan %s on %s in %s (egress %s)", NET_UP_IF,
                        b->n->cfg.egress_parent[vpc->egress], b->ns_name, net_egress_name(vpc->egress));
        }
        return 0;
}

/* The alias of "up" names the egress it was made for; set it in the router. */
static int net_router_up_alias(struct nl_sock *sk, void *userdata) {
        struct net_build *b = userdata;
        _cleanup_(rtnl_link_putp) struct rtnl_link *up = NULL;
        int r = net_link_need(b, sk, NET_UP_IF, &up);

        if (r < 0)
                return r;
        return net_link_fix(b, sk, up, &NET_LINK_WANT(.alias = b->up_alias));
}

static int net_check_vpc(struct net *n, const struct net_vpc *vpc, struct gc_error *err) {
        int family = 0, uf = 0;
        char value[16];

        snprintf(value, sizeof value, "%u", vpc->vni);
        if (vpc->vni < NET_VNI_MIN || vpc->vni > NET_VNI_MAX)
                return net_fail(err, -EINVAL, "vpc.vni", value, "is not a VNI from %d to %d", NET_VNI_MIN, NET_VNI_MAX);
        net_addr_canonical(n->cfg.underlay, (char[NET_ADDR_MAX]) {}, &uf);
        for (size_t i = 0; i < vpc->n_peers; i++) {
                char field[32], canon[NET_ADDR_MAX];
                snprintf(field, sizeof field, "vpc.peers[%zu]", i);
                if (!net_addr_canonical(vpc->peers[i], canon, &family))
                        return net_fail(err, -EINVAL, field, vpc->peers[i], "is not an IP address");
                if (family != uf)
                        return net_fail(err, -EINVAL, field, vpc->peers[i], "is not of the underlay's address family (%s)",
                                        n->cfg.underlay);
                if (strcmp(canon, vpc->peers[i]) != 0)
                        return net_fail(err, -EINVAL, field, vpc->peers[i], "is not in canonical form (%s)", canon);
                if (strcmp(canon, n->cfg.underlay) == 0)
                        return net_fail(err, -EINVAL, field, vpc->peers[i], "is this host's own underlay address");
        }
        if (vpc->egress < 0 || vpc->egress >= _NET_EGRESS_MAX)
                return net_fail(err, -EINVAL, "vpc.egress", NULL, "is not a known egress");
        if (vpc->egress != NET_EGRESS_NONE && !n->cfg.egress_parent[vpc->egress][0])
                return net_fail(err, -EOPNOTSUPP, "vpc.egress", net_egress_name(vpc->egress),
                                "is not offered by this host (no parent interface configured)");
        return 0;
}

int net_ensure(struct net *n, const struct net_vpc *vpc, char *actions, size_t actions_size, struct gc_error *err) {
        _cleanup_(net_build_done) struct net_build b;
        int bridge_ifindex = 0, vxlan_ifindex = 0, s, r;

        net_build_init(&b, n, vpc->vni, vpc, err);
        r = net_check_vpc(n, vpc, err);
        if (r < 0)
                return r;
        if (vpc->egress != NET_EGRESS_NONE) {
                const char *parent = n->cfg.egress_parent[vpc->egress];
                b.parent_ifindex = (int) if_nametoindex(parent);
                if (b.parent_ifindex <= 0)
                        return net_fail(err, -ENODEV, "vpc.egress", net_egress_name(vpc->egress),
                                        "the %s egress's parent interface %s does not exist", net_egress_name(vpc->egress),
                                        parent);
        }

        s = net_ns_state(b.ns_path);
        if (s < 0)
                return net_fail(err, s, NULL, b.ns_path, "look at %s: %s", b.ns_path, strerror(-s));
        r = net_check_names(&b, s == NET_NS_MOUNTED);
        if (r < 0)
                return r;

        r = net_ensure_ns(&b);
        if (r >= 0)
                r = net_ensure_bridge(&b, &bridge_ifindex);
        if (r >= 0)
                r = net_ensure_bridge_table(&b);
        if (r >= 0)
                r = net_ensure_vxlan(&b, bridge_ifindex, &vxlan_ifindex);
        if (r >= 0)
                r = net_ensure_peers(&b, vxlan_ifindex);
        if (r >= 0)
                r = net_ensure_veth(&b, bridge_ifindex);
        if (r >= 0)
                r = net_ensure_uplink(&b);
        if (r >= 0 && vpc->egress != NET_EGRESS_NONE)
                r = net_in_ns(b.ns_fd, b.ns_name, net_router_up_alias, &b, err);
        if (r >= 0)
                r = net_in_ns(b.ns_fd, b.ns_name, net_router_configure, &b, err);
        if (r < 0)
                return r;

        /* Last: the bridge's admin state (R-SC3). */
        {
                _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
                r = net_link_need(&b, n->sk, b.bridge, &l);
                if (r >= 0)
                        r = net_link_fix(&b, n->sk, l, &NET_LINK_WANT(.up = net_admin(!vpc->isolated)));
                if (r < 0)
                        return r;
        }
        if (vpc->isolated && b.rules_found && !b.rules_isolated)
                net_did(&b, "isolated", "isolated: bridge %s down, the router accepts nothing but loopback", b.bridge);
        else if (!vpc->isolated && b.rules_isolated)
                net_did(&b, "isolation lifted", "isolation lifted: bridge %s up, the router's rules restored", b.bridge);

        if (actions && actions_size > 0)
                snprintf(actions, actions_size, "%s", b.actions.len > 0 ? b.actions.data : "unchanged");
        return 0;
}

/* ------------------------------------------------------------- delete --- */

static int net_delete_one(struct net *n, uint32_t vni, struct gc_error *err) {
        _cleanup_(net_build_done) struct net_build b;
        struct net_vpc none = { .vni = vni };
        static const char *const kinds[] = { "veth", "vxlan", "bridge" };
        const char *names[3];
        _cleanup_free_ char *list = NULL, *del = NULL;
        char errbuf[GC_ERROR_MESSAGE_MAX];
        bool missing;
        int s, r;

        net_build_init(&b, n, vni, &none, err);
        names[0] = b.veth;
        names[1] = b.vxlan;
        names[2] = b.bridge;
        s = net_ns_state(b.ns_path);
        if (s < 0)
                return net_fail(err, s, NULL, b.ns_path, "look at %s: %s", b.ns_path, strerror(-s));

        /* Links first, the namespace last: it marks unaliased links as ours. */
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
                r = net_link_get(n->sk, names[i], &l, err);
                if (r < 0)
                        return r;
                if (!l)
                        continue;
                if (!net_link_ours(l, b.alias, kinds[i], s == NET_NS_MOUNTED)) {
                        log_notice("vpc 0x%06x: link %s is not this VPC's (alias \"%s\"); left alone", vni, names[i],
                                   rtnl_link_get_ifalias(l) ? rtnl_link_get_ifalias(l) : "");
                        continue;
                }
                r = net_link_delete(n->sk, l, err);
                if (r < 0)
                        return r;
                net_did(&b, "deleted", "deleted link %s", names[i]);
        }

        list = xasprintf("list table bridge %s\n", b.table);
        del = xasprintf("table bridge %s\ndelete table bridge %s\n", b.table, b.table);
        r = net_nft_run(list, NULL, true, &missing, errbuf, sizeof errbuf);
        if (r >= 0 && !missing)
                r = net_nft_run(del, NULL, false, NULL, errbuf, sizeof errbuf);
        if (r < 0)
                return net_fail(err, r, NULL, b.table, "delete nftables table bridge %s: %s", b.table, errbuf);
        if (!missing)
                net_did(&b, "deleted", "deleted nftables table bridge %s", b.table);

        if (s != NET_NS_MISSING) {
                r = net_ns_remove(b.ns_path, err);
                if (r < 0)
                        return r;
                net_did(&b, "deleted", "deleted router namespace %s", b.ns_name);
        }
        return 0;
}

int net_delete(struct net *n, uint32_t vni, struct gc_error *err) {
        if (vni < NET_VNI_MIN || vni > NET_VNI_MAX) {
                char value[16];
                snprintf(value, sizeof value, "%u", vni);
                return net_fail(err, -EINVAL, "vpc.vni", value, "is not a VNI from %d to %d", NET_VNI_MIN, NET_VNI_MAX);
        }
        return net_delete_one(n, vni, err);
}

/* --------------------------------------------------------------- list --- */

struct net_vni_set {
        uint32_t *v;
        size_t n, cap;
};

static void net_vni_add(struct net_vni_set *s, uint32_t vni) {
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i] == vni)
                        return;
        if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 16;
                s->v = xrealloc(s->v, s->cap * sizeof *s->v);
        }
        s->v[s->n++] = vni;
}

static int net_vni_cmp(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

int net_list(struct net *n, uint32_t **ret, size_t *ret_n, struct gc_error *err) {
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_free_ char *tables = NULL;
        struct net_vni_set set = {};
        char errbuf[GC_ERROR_MESSAGE_MAX];
        uint32_t vni;
        int r;

        /* Links of our names carrying the alias of the same VNI. */
        r = rtnl_link_alloc_cache(n->sk, AF_UNSPEC, &cache);
        if (r < 0)
                return net_fail(err, net_errno_of_nl(r), NULL, NULL, "read links: %s", nl_geterror(r));
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_link *l = (struct rtnl_link *) o;
                const char *name = rtnl_link_get_name(l);
                char alias[NET_ALIAS_MAX];
                if (!name)
                        continue;
                if (!net_name_match(n, name, "b", &vni) && !net_name_match(n, name, "v", &vni) &&
                    !net_name_match(n, name, "r", &vni))
                        continue;
                snprintf(alias, sizeof alias, NET_ALIAS_FMT, vni);
                if (net_alias_is(l, alias))
                        net_vni_add(&set, vni);
        }

        /* Router namespaces. */
        d = opendir(n->cfg.netns_dir);
        if (!d && errno != ENOENT) {
                free(set.v);
                return net_fail(err, -errno, NULL, n->cfg.netns_dir, "read %s: %m", n->cfg.netns_dir);
        }
        for (struct dirent *e; d && (e = readdir(d));)
                if (net_name_match(n, e->d_name, "-vpc-", &vni))
                        net_vni_add(&set, vni);

        /* Bridge tables. */
        r = net_nft_run("list tables bridge\n", &tables, false, NULL, errbuf, sizeof errbuf);
        if (r < 0) {
                free(set.v);
                return net_fail(err, r, NULL, NULL, "list nftables tables: %s", errbuf);
        }
        for (char *line = strtok(tables, "\n"); line; line = strtok(NULL, "\n")) {
                char want[32];
                const char *name;
                if (strncmp(line, "table bridge ", 13) != 0)
                        continue;
                name = line + 13;
                snprintf(want, sizeof want, "govcloud_%s_", n->cfg.prefix);
                if (strlen(name) == strlen(want) + 6 && strncmp(name, want, strlen(want)) == 0 &&
                    net_vni_parse(name + strlen(want), &vni))
                        net_vni_add(&set, vni);
        }

        if (set.n > 0)
                qsort(set.v, set.n, sizeof *set.v, net_vni_cmp);
        *ret = set.v;
        *ret_n = set.n;
        return 0;
}

int net_reconcile(struct net *n, const struct net_vpc *known, size_t n_known, size_t *ret_removed,
                  struct gc_error *err) {
        _cleanup_free_ uint32_t *vnis = NULL;
        size_t n_vnis = 0, removed = 0;
        int r, first = 0;

        r = net_list(n, &vnis, &n_vnis, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_vnis; i++) {
                bool keep = false;
                for (size_t k = 0; k < n_known; k++)
                        if (known[k].vni == vnis[i])
                                keep = true;
                if (keep)
                        continue;
                log_info("vpc 0x%06x: not among the known VPCs: removing it", vnis[i]);
                r = net_delete_one(n, vnis[i], err);
                if (r < 0)
                        return r;
                removed++;
        }
        for (size_t k = 0; k < n_known; k++) {
                char actions[512];
                struct gc_error e = {};
                r = net_ensure(n, &known[k], actions, sizeof actions, &e);
                if (r < 0) {
                        if (first == 0) {
                                first = r;
                                if (err)
                                        *err = e;
                        }
                        continue;
                }
                log_info("vpc 0x%06x: %s", known[k].vni, actions);
        }
        if (first < 0)
                return first;
        if (ret_removed)
                *ret_removed = removed;
        return 0;
}

/* --------------------------------------------------------- open/close --- */

static bool net_prefix_valid(const char *p) {
        size_t l = strlen(p);

        if (l < 1 || l > NET_PREFIX_MAX)
                return false;
        for (size_t i = 0; i < l; i++)
                if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9')))
                        return false;
        return true;
}

void net_close(struct net *n) {
        if (!n)
                return;
        if (n->sk)
                nl_socket_free(n->sk);
        for (size_t i = 0; i < n->cfg.n_protected; i++)
                free(n->cfg.protected[i]);
        free(n->cfg.protected);
        free(n->cfg.netns_dir);
        free(n);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct net *, net_close)

int net_open(const struct net_config *cfg, struct net **ret, struct gc_error *err) {
        _cleanup_(net_closep) struct net *n = xnew(struct net, 1);
        char canon[NET_ADDR_MAX];
        int family, r;

        if (!net_prefix_valid(cfg->prefix))
                return net_fail(err, -EINVAL, "network.prefix", cfg->prefix, "is not 1 to %d of a-z, 0-9", NET_PREFIX_MAX);
        if (!net_addr_canonical(cfg->underlay, canon, &family))
                return net_fail(err, -EINVAL, "network.underlay", cfg->underlay, "is not an IP address");
        n->cfg = *cfg;
        n->cfg.protected = NULL;
        n->cfg.n_protected = 0;
        n->cfg.netns_dir = xstrdup(cfg->netns_dir && *cfg->netns_dir ? cfg->netns_dir : NET_DEFAULT_NETNS_DIR);
        snprintf(n->cfg.underlay, sizeof n->cfg.underlay, "%s", canon);
        n->vxlan_port = cfg->vxlan_port ? cfg->vxlan_port : NET_DEFAULT_VXLAN_PORT;
        if (strlen(n->cfg.netns_dir) + 1 + NET_PREFIX_MAX + 11 >= PATH_MAX)
                return net_fail(err, -ENAMETOOLONG, "network.netns_dir", n->cfg.netns_dir, "is too long");

        n->cfg.protected = xcalloc(cfg->n_protected ? cfg->n_protected : 1, sizeof *n->cfg.protected);
        for (size_t i = 0; i < cfg->n_protected; i++) {
                char text[NET_ADDR_MAX + 8], field[48];
                snprintf(field, sizeof field, "network.protected[%zu]", i);
                if (!cfg->protected[i] || !net_prefix_canonical(cfg->protected[i], text, sizeof text, &family))
                        return net_fail(err, -EINVAL, field, cfg->protected[i], "is not an address prefix (address/length)");
                n->cfg.protected[n->cfg.n_protected++] = xstrdup(text);
        }
        n->cfg.egress_parent[NET_EGRESS_NONE][0] = 0;
        for (int e = NET_EGRESS_NONE + 1; e < _NET_EGRESS_MAX; e++) {
                const char *p = n->cfg.egress_parent[e];
                char field[48];
                if (!p[0])
                        continue;
                snprintf(field, sizeof field, "network.egress.%s", net_egress_name(e));
                if (if_nametoindex(p) == 0)
                        return net_fail(err, -ENODEV, field, p, "names no interface of this host");
        }
        n->step_delay_ms = cfg->step_delay_ms;
        if (n->step_delay_ms > 0)
                log_warning("network: pausing %u ms after each change (a test option, never in production)",
                            n->step_delay_ms);

        n->sk = nl_socket_alloc();
        if (!n->sk)
                return net_fail(err, -ENOMEM, NULL, NULL, "out of memory");
        r = nl_connect(n->sk, NETLINK_ROUTE);
        if (r < 0)
                return net_fail(err, net_errno_of_nl(r), NULL, NULL, "open a netlink socket: %s", nl_geterror(r));
        r = net_netns_dir_shared(n->cfg.netns_dir, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(n);
        return 0;
}
