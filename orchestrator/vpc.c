/* SPDX-License-Identifier: Apache-2.0 */
/* VPCs and their addresses (R-NW1, R-NW2, R-NW3, R-SC2, R-SC3): see vpc.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cleanup.h"
#include "config.h"
#include "ipv4.h"
#include "json.h"
#include "log.h"
#include "orch.h"
#include "store.h"
#include "vpc.h"

#define VPC_COLUMNS "id, system_id, pool, vni, cidr, gateway, gateway_mac, egress, isolated"

struct vpc_row {
        bool found;
        int64_t id, system_id, vni;
        char pool[128], cidr[IPV4_CIDR_TEXT_MAX], gateway[IPV4_TEXT_MAX], gateway_mac[18], egress[16];
        bool isolated;
};

static int vpc_row_cb(const struct store_row *row, void *userdata) {
        struct vpc_row *v = userdata;
        v->found = true;
        v->id = row->v[0].i;
        v->system_id = row->v[1].i;
        snprintf(v->pool, sizeof v->pool, "%s", row->v[2].s);
        v->vni = row->v[3].i;
        snprintf(v->cidr, sizeof v->cidr, "%s", row->v[4].s);
        snprintf(v->gateway, sizeof v->gateway, "%s", row->v[5].s);
        snprintf(v->gateway_mac, sizeof v->gateway_mac, "%s", row->v[6].s);
        snprintf(v->egress, sizeof v->egress, "%s", row->v[7].s);
        v->isolated = row->v[8].i != 0;
        return 0;
}

static int vpc_load(struct orch *o, int64_t system_id, struct vpc_row *ret) {
        *ret = (struct vpc_row) {};
        int r = store_query(o->store, "SELECT " VPC_COLUMNS " FROM vpcs WHERE system_id = ?",
                            STORE_ARGS(STORE_INT(system_id)), vpc_row_cb, ret);
        if (r < 0)
                return r;
        return ret->found ? 0 : -ENOENT;
}

static int egress_index(const char *egress) {
        if (strcmp(egress, "egov") == 0)
                return CONFIG_EGRESS_EGOV;
        if (strcmp(egress, "internet") == 0)
                return CONFIG_EGRESS_INTERNET;
        return -1;
}

/* ---- addresses ---- */

struct u32_list {
        uint32_t *v;
        size_t n;
};

static int u32_cmp(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

static int address_cb(const struct store_row *row, void *userdata) {
        struct u32_list *l = userdata;
        uint32_t a;
        if (row->v[0].type == STORE_TEXT && ipv4_parse(row->v[0].s, &a) >= 0) {
                l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
                l->v[l->n++] = a;
        }
        return 0;
}

/* The lowest address in first..last not in used (sorted). */
static int lowest_free(uint32_t first, uint32_t last, const struct u32_list *used, uint32_t *ret) {
        uint32_t a = first;
        for (size_t i = 0; i < used->n && a <= last; i++) {
                if (used->v[i] < a)
                        continue;
                if (used->v[i] > a)
                        break;
                a++;
        }
        if (a > last || a < first)
                return -ENOSPC;
        *ret = a;
        return 0;
}

struct net_list {
        struct ipv4_net *v;
        size_t n;
};

static int net_cb(const struct store_row *row, void *userdata) {
        struct net_list *l = userdata;
        struct ipv4_net n;
        if (ipv4_parse_net(row->v[0].s, &n) >= 0) {
                l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
                l->v[l->n++] = n;
        }
        return 0;
}

static int net_cmp(const void *a, const void *b) {
        const struct ipv4_net *x = a, *y = b;
        return x->base < y->base ? -1 : x->base > y->base;
}

/* First block of 2^(32-prefix) addresses in range that overlaps nothing in
 * taken (sorted by base). */
static bool first_free_block(const struct ipv4_net *range, unsigned prefix, const struct net_list *taken,
                             struct ipv4_net *ret) {
        uint64_t size = (uint64_t) 1 << (32 - prefix);
        uint64_t cand = range->base, end = (uint64_t) ipv4_net_last(range) + 1;
        size_t i = 0;

        while (cand + size <= end) {
                struct ipv4_net c = { .base = (uint32_t) cand, .prefix = prefix };
                bool clash = false;
                for (; i < taken->n; i++) {
                        if ((uint64_t) ipv4_net_last(&taken->v[i]) < cand)
                                continue;
                        if (ipv4_net_overlap(&taken->v[i], &c)) {
                                clash = true;
                                uint64_t next = (uint64_t) ipv4_net_last(&taken->v[i]) + 1;
                                cand = (next + size - 1) / size * size;
                        }
                        break;
                }
                if (!clash) {
                        *ret = c;
                        return true;
                }
        }
        return false;
}

static unsigned block_prefix(size_t n_vms) {
        /* Twice the VMs asked for, plus network, gateway and broadcast. */
        uint64_t need = 2 * (uint64_t) n_vms + 3;
        unsigned p = VPC_MIN_BLOCK_PREFIX;
        while (p > 0 && ((uint64_t) 1 << (32 - p)) < need)
                p--;
        return p;
}

int vpc_plan(struct orch *o, int64_t system_id, const struct config_pool *pool, size_t n_vms, struct gc_error *err) {
        struct vpc_row existing;
        int64_t vni;
        int r = vpc_load(o, system_id, &existing);
        if (r >= 0)
                return 0;
        if (r != -ENOENT)
                return r;

        /* R-NW1: a VXLAN id of its own. */
        r = store_query_int(o->store,
                            "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM vpcs WHERE vni = ?) THEN ? ELSE "
                            "(SELECT MIN(v.vni + 1) FROM vpcs v WHERE v.vni >= ? AND v.vni + 1 <= ? "
                            "AND NOT EXISTS (SELECT 1 FROM vpcs w WHERE w.vni = v.vni + 1)) END",
                            STORE_ARGS(STORE_INT(o->cfg->vni_first), STORE_INT(o->cfg->vni_first),
                                       STORE_INT(o->cfg->vni_first), STORE_INT(o->cfg->vni_last)),
                            &vni);
        if (r == -ENOENT) {
                char v[64];
                snprintf(v, sizeof v, "%u-%u", o->cfg->vni_first, o->cfg->vni_last);
                gc_error_set(err, "vni_exhausted", "R-NW1", "network.vni", v,
                             "every VXLAN id of the configured range is in use; no VPC can be made for the system");
                return -ENOSPC;
        }
        if (r < 0)
                return r;

        /* R-NW2: a CIDR from the pool's ranges. */
        unsigned prefix = block_prefix(n_vms);
        struct net_list taken = {};
        r = store_query(o->store, "SELECT cidr FROM vpcs WHERE pool = ?", STORE_ARGS(STORE_TEXT(pool->name)), net_cb, &taken);
        if (r < 0) {
                free(taken.v);
                return r;
        }
        if (taken.n > 1)
                qsort(taken.v, taken.n, sizeof *taken.v, net_cmp);
        struct ipv4_net block = {};
        bool found = false, repeated = false;
        for (size_t k = 0; !found && k < pool->n_address_ranges; k++)
                if (pool->ranges[k].prefix <= prefix)
                        found = first_free_block(&pool->ranges[k], prefix, &taken, &block);
        if (!found) {
                /* Every block is in use somewhere: repeat one (isolation never relies on distinct ranges). */
                struct net_list none = {};
                for (size_t k = 0; !found && k < pool->n_address_ranges; k++)
                        if (pool->ranges[k].prefix <= prefix)
                                found = repeated = first_free_block(&pool->ranges[k], prefix, &none, &block);
        }
        free(taken.v);
        if (!found) {
                char v[32];
                snprintf(v, sizeof v, "%zu", n_vms);
                gc_error_set(err, "address_exhausted", "R-NW2", "vms", v,
                             "need a /%u for their VPC (twice the VMs, at least a /%d), larger than any of pool %s's address ranges",
                             prefix, VPC_MIN_BLOCK_PREFIX, pool->name);
                return -ENOSPC;
        }

        char cidr[IPV4_CIDR_TEXT_MAX], gw[IPV4_TEXT_MAX], mac[18];
        ipv4_format_net(&block, cidr);
        ipv4_format(block.base + 1, gw);
        snprintf(mac, sizeof mac, "02:67:63:%02x:%02x:%02x", (unsigned) (vni >> 16) & 0xff, (unsigned) (vni >> 8) & 0xff,
                 (unsigned) vni & 0xff);
        int64_t now = orch_now(o);
        r = store_exec(o->store,
                       "INSERT INTO vpcs (system_id, pool, vni, cidr, gateway, gateway_mac, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       STORE_ARGS(STORE_INT(system_id), STORE_TEXT(pool->name), STORE_INT(vni), STORE_TEXT(cidr), STORE_TEXT(gw),
                                  STORE_TEXT(mac), STORE_INT(now), STORE_INT(now)),
                       NULL);
        if (r < 0)
                return r;
        log_info("system %lld: VPC vni %lld, %s (gateway %s)%s", (long long) system_id, (long long) vni, cidr, gw,
                 repeated ? ", a CIDR another VPC also uses" : "");
        return 0;
}

int vpc_assign_vm(struct orch *o, int64_t system_id, int64_t vm_id, const char *field, struct gc_error *err) {
        struct vpc_row vpc;
        struct ipv4_net net;
        struct u32_list used = {};
        int64_t has = 0;
        uint32_t a;
        int r;

        r = store_query_int(o->store, "SELECT COUNT(*) FROM vms WHERE id = ? AND address IS NOT NULL", STORE_ARGS(STORE_INT(vm_id)), &has);
        if (r < 0 || has)
                return r < 0 ? r : 0;
        r = vpc_load(o, system_id, &vpc);
        if (r == -ENOENT)
                return 0;               /* a system from before VPCs: no NIC */
        if (r < 0)
                return r;
        if (ipv4_parse_net(vpc.cidr, &net) < 0)
                return -EINVAL;
        r = store_query(o->store, "SELECT address FROM vms WHERE system_id = ? AND address IS NOT NULL AND state <> 'deleted'",
                        STORE_ARGS(STORE_INT(system_id)), address_cb, &used);
        if (r >= 0) {
                if (used.n > 1)
                        qsort(used.v, used.n, sizeof *used.v, u32_cmp);
                /* R-NW2: after the network address and the gateway, before broadcast. */
                r = lowest_free(net.base + 2, ipv4_net_last(&net) - 1, &used, &a);
        }
        free(used.v);
        if (r == -ENOSPC) {
                gc_error_set(err, "address_exhausted", "R-NW2", field, vpc.cidr,
                             "has no free address left for this VM in the system's VPC");
                return r;
        }
        if (r < 0)
                return r;
        char addr[IPV4_TEXT_MAX], mac[18];
        ipv4_format(a, addr);
        snprintf(mac, sizeof mac, "52:54:00:%02x:%02x:%02x", (unsigned) (vm_id >> 16) & 0xff, (unsigned) (vm_id >> 8) & 0xff,
                 (unsigned) vm_id & 0xff);
        return store_exec(o->store, "UPDATE vms SET address = ?, mac = ? WHERE id = ?",
                          STORE_ARGS(STORE_TEXT(addr), STORE_TEXT(mac), STORE_INT(vm_id)), NULL);
}

/* ---- hosts and jobs ---- */

struct host_list {
        char (*name)[256];
        char (*underlay)[64];
        size_t n;
};

static int host_cb(const struct store_row *row, void *userdata) {
        struct host_list *l = userdata;
        l->name = xrealloc(l->name, (l->n + 1) * sizeof *l->name);
        l->underlay = xrealloc(l->underlay, (l->n + 1) * sizeof *l->underlay);
        snprintf(l->name[l->n], sizeof l->name[l->n], "%s", row->v[0].s);
        snprintf(l->underlay[l->n], sizeof l->underlay[l->n], "%s", row->v[1].s);
        l->n++;
        return 0;
}

static void host_list_done(struct host_list *l) {
        free(l->name);
        free(l->underlay);
}

struct vpc_host {
        char host[256];
        char state[16];
        char *spec;
        char uplink_kind[16];
        char uplink[IPV4_TEXT_MAX];
};

struct vpc_host_list {
        struct vpc_host *v;
        size_t n;
};

static int vpc_host_cb(const struct store_row *row, void *userdata) {
        struct vpc_host_list *l = userdata;
        l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
        struct vpc_host *h = &l->v[l->n++];
        *h = (struct vpc_host) {};
        snprintf(h->host, sizeof h->host, "%s", row->v[0].s);
        snprintf(h->state, sizeof h->state, "%s", row->v[1].s);
        h->spec = row->v[2].type == STORE_TEXT ? xstrdup(row->v[2].s) : NULL;
        if (row->v[3].type == STORE_TEXT)
                snprintf(h->uplink_kind, sizeof h->uplink_kind, "%s", row->v[3].s);
        if (row->v[4].type == STORE_TEXT)
                snprintf(h->uplink, sizeof h->uplink, "%s", row->v[4].s);
        return 0;
}

static void vpc_host_list_done(struct vpc_host_list *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i].spec);
        free(l->v);
}

static struct vpc_host *vpc_host_find(struct vpc_host_list *l, const char *host) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i].host, host) == 0)
                        return &l->v[i];
        return NULL;
}

/* An uplink address for (vpc, host) on the pool's egress network. */
static int uplink_allocate(struct orch *o, const struct vpc_row *vpc, int kind_index, const char *kind, char ret[IPV4_TEXT_MAX],
                           struct gc_error *err) {
        const struct config_pool *pool = config_pool(o->cfg, vpc->pool);
        const struct config_egress *eg = pool ? &pool->egress[kind_index] : NULL;
        struct u32_list used = {};
        uint32_t a;
        if (!eg || !eg->offered) {
                gc_error_set(err, "egress_not_offered", "R-NW3", "egress", kind, "is not offered by pool %s (no egress.%s in the configuration)",
                             vpc->pool, kind);
                return -EPERM;
        }
        int r = store_query(o->store, "SELECT uplink_address FROM vpc_hosts WHERE uplink_kind = ?", STORE_ARGS(STORE_TEXT(kind)),
                            address_cb, &used);
        if (r >= 0) {
                used.v = xrealloc(used.v, (used.n + 1) * sizeof *used.v);
                used.v[used.n++] = eg->gateway;
                if (used.n > 1)
                        qsort(used.v, used.n, sizeof *used.v, u32_cmp);
                r = lowest_free(eg->range.base + 1, ipv4_net_last(&eg->range) - 1, &used, &a);
        }
        free(used.v);
        if (r == -ENOSPC) {
                char v[IPV4_CIDR_TEXT_MAX];
                ipv4_format_net(&eg->range, v);
                gc_error_set(err, "address_exhausted", "R-NW2", "egress", kind,
                             "needs an uplink address and pool %s's %s range %s has none left", vpc->pool, kind, v);
                return r;
        }
        if (r < 0)
                return r;
        ipv4_format(a, ret);
        return 0;
}

static cJSON *vpc_spec(struct orch *o, const struct vpc_row *vpc, const struct host_list *hosts, size_t self,
                       const struct vpc_host *vh) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "vni", (double) vpc->vni);
        cJSON_AddStringToObject(j, "cidr", vpc->cidr);
        cJSON_AddStringToObject(j, "gateway", vpc->gateway);
        cJSON_AddStringToObject(j, "gateway_mac", vpc->gateway_mac);
        cJSON *peers = cJSON_AddArrayToObject(j, "peers");
        for (size_t i = 0; i < hosts->n; i++)
                if (i != self)
                        cJSON_AddItemToArray(peers, cJSON_CreateString(hosts->underlay[i]));
        cJSON_AddStringToObject(j, "egress", vpc->egress);
        int k = egress_index(vpc->egress);
        if (k >= 0 && vh->uplink[0]) {
                const struct config_pool *pool = config_pool(o->cfg, vpc->pool);
                char gw[IPV4_TEXT_MAX];
                ipv4_format(pool->egress[k].gateway, gw);
                cJSON *u = cJSON_AddObjectToObject(j, "uplink");
                cJSON_AddStringToObject(u, "address", vh->uplink);
                cJSON_AddNumberToObject(u, "prefix", pool->egress[k].range.prefix);
                cJSON_AddStringToObject(u, "gateway", gw);
        }
        cJSON_AddBoolToObject(j, "isolated", vpc->isolated);
        return j;
}

static int enqueue(struct orch *o, const char *host, int64_t vpc_id, int64_t request_id, const char *kind, const char *payload) {
        return store_exec(o->store,
                          "INSERT INTO jobs (host, vpc_id, request_id, kind, payload, state, created) VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                          STORE_ARGS(STORE_TEXT(host), STORE_INT(vpc_id), request_id ? STORE_INT(request_id) : STORE_NULL_VALUE,
                                     STORE_TEXT(kind), STORE_TEXT(payload), STORE_INT((int64_t) time(NULL))),
                          NULL);
}

int vpc_sync(struct orch *o, int64_t system_id, int64_t request_id, struct gc_error *err) {
        struct vpc_row vpc;
        struct host_list hosts = {};
        struct vpc_host_list have = {};
        int r = vpc_load(o, system_id, &vpc);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;

        r = store_query(o->store,
                        "SELECT DISTINCT h.name, h.underlay_address FROM vms v JOIN hosts h ON h.name = v.host "
                        "WHERE v.system_id = ? AND v.state NOT IN ('releasing', 'deleted') ORDER BY h.name",
                        STORE_ARGS(STORE_INT(system_id)), host_cb, &hosts);
        if (r >= 0)
                r = store_query(o->store, "SELECT host, state, spec, uplink_kind, uplink_address FROM vpc_hosts WHERE vpc_id = ?",
                                STORE_ARGS(STORE_INT(vpc.id)), vpc_host_cb, &have);
        if (r < 0)
                goto done;

        /* Hosts the VPC leaves: after their VMs' vm.delete, the VPC goes. */
        for (size_t i = 0; i < have.n; i++) {
                bool wanted = false;
                for (size_t k = 0; k < hosts.n; k++)
                        wanted |= strcmp(hosts.name[k], have.v[i].host) == 0;
                if (wanted || strcmp(have.v[i].state, "removing") == 0)
                        continue;
                _cleanup_free_ char *payload = xasprintf("{\"vni\":%lld}", (long long) vpc.vni);
                r = enqueue(o, have.v[i].host, vpc.id, request_id, "vpc.delete", payload);
                if (r >= 0)
                        r = store_exec(o->store,
                                       "UPDATE vpc_hosts SET state = 'removing', spec = NULL, uplink_kind = NULL, uplink_address = NULL "
                                       "WHERE vpc_id = ? AND host = ?",
                                       STORE_ARGS(STORE_INT(vpc.id), STORE_TEXT(have.v[i].host)), NULL);
                if (r < 0)
                        goto done;
                log_info("VPC vni %lld leaves host %s", (long long) vpc.vni, have.v[i].host);
        }

        int k_egress = egress_index(vpc.egress);
        for (size_t i = 0; i < hosts.n; i++) {
                struct vpc_host *h = vpc_host_find(&have, hosts.name[i]);
                struct vpc_host fresh = {};
                if (!h) {
                        snprintf(fresh.host, sizeof fresh.host, "%s", hosts.name[i]);
                        h = &fresh;
                        r = store_exec(o->store, "INSERT INTO vpc_hosts (vpc_id, host, state) VALUES (?, ?, 'pending')",
                                       STORE_ARGS(STORE_INT(vpc.id), STORE_TEXT(hosts.name[i])), NULL);
                        if (r < 0)
                                goto done;
                }
                /* The uplink follows the egress: allocated while open, released when closed. */
                if (k_egress >= 0 && strcmp(h->uplink_kind, vpc.egress) != 0) {
                        r = uplink_allocate(o, &vpc, k_egress, vpc.egress, h->uplink, err);
                        if (r < 0)
                                goto done;
                        snprintf(h->uplink_kind, sizeof h->uplink_kind, "%s", vpc.egress);
                } else if (k_egress < 0) {
                        h->uplink[0] = h->uplink_kind[0] = 0;
                }
                _cleanup_(cJSON_Deletep) cJSON *spec = vpc_spec(o, &vpc, &hosts, i, h);
                _cleanup_free_ char *text = cJSON_PrintUnformatted(spec);
                if (h->spec && strcmp(h->spec, text) == 0 && strcmp(h->state, "removing") != 0)
                        continue;
                r = enqueue(o, hosts.name[i], vpc.id, request_id, "vpc.ensure", text);
                if (r >= 0)
                        r = store_exec(o->store,
                                       "UPDATE vpc_hosts SET state = 'pending', spec = ?, uplink_kind = ?, uplink_address = ? "
                                       "WHERE vpc_id = ? AND host = ?",
                                       STORE_ARGS(STORE_TEXT(text), STORE_TEXT(h->uplink_kind[0] ? h->uplink_kind : NULL),
                                                  STORE_TEXT(h->uplink[0] ? h->uplink : NULL), STORE_INT(vpc.id),
                                                  STORE_TEXT(hosts.name[i])),
                                       NULL);
                if (r < 0)
                        goto done;
        }
        r = 0;
done:
        host_list_done(&hosts);
        vpc_host_list_done(&have);
        return r;
}

/* ---- switches ---- */

static int touch(struct orch *o, int64_t vpc_id, const char *column, struct store_value v) {
        _cleanup_free_ char *sql = xasprintf("UPDATE vpcs SET %s = ?, updated = ? WHERE id = ?", column);
        return store_exec(o->store, sql, STORE_ARGS(v, STORE_INT(orch_now(o)), STORE_INT(vpc_id)), NULL);
}

int vpc_set_egress(struct orch *o, int64_t system_id, const char *egress, bool *ret_changed, struct gc_error *err) {
        struct vpc_row vpc;
        char sid[32];
        snprintf(sid, sizeof sid, "%lld", (long long) system_id);
        *ret_changed = false;
        int r = vpc_load(o, system_id, &vpc);
        if (r == -ENOENT) {
                gc_error_set(err, "no_vpc", "R-NW1", "id", sid, "has no VPC yet: nothing of the system is provisioned");
                return -EPERM;
        }
        if (r < 0)
                return r;
        if (strcmp(egress, "none") != 0) {
                /* R-SC2, R-NW3: never for a system that has not passed admission. */
                _cleanup_free_ char *result = NULL;
                r = store_query_text(o->store, "SELECT json_extract(admission, '$.result') FROM systems WHERE id = ?",
                                     STORE_ARGS(STORE_INT(system_id)), &result);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (!result || strcmp(result, "passed") != 0) {
                        gc_error_set(err, "admission_required", "R-SC2", "egress", egress,
                                     "is refused: the authority has %s for system %s (R-NW3: egress opens only after admission)",
                                     result ? "recorded that it FAILED its admission check" : "not recorded an admission check", sid);
                        return -EPERM;
                }
                /* R-NW3: only a network the approved application asked for. */
                _cleanup_free_ char *nets = NULL;
                r = store_query_text(o->store,
                                     "SELECT json_extract(document, '$.system.networks') FROM requests "
                                     "WHERE system_id = ? AND kind = 'apply' AND outcome = 'accepted' ORDER BY id DESC LIMIT 1",
                                     STORE_ARGS(STORE_INT(system_id)), &nets);
                if (r < 0 && r != -ENOENT)
                        return r;
                _cleanup_(cJSON_Deletep) cJSON *list = nets ? cJSON_Parse(nets) : NULL;
                bool asked = false;
                const cJSON *n;
                cJSON_ArrayForEach(n, list)
                        asked |= cJSON_IsString(n) && strcmp(n->valuestring, egress) == 0;
                if (!asked) {
                        gc_error_set(err, "not_applied_for", "R-NW3", "egress", egress,
                                     "was not asked for: the approved application lists networks %s", nets ?: "[]");
                        return -EPERM;
                }
                const struct config_pool *pool = config_pool(o->cfg, vpc.pool);
                if (!pool || !pool->egress[egress_index(egress)].offered) {
                        gc_error_set(err, "egress_not_offered", "R-NW3", "egress", egress,
                                     "is not offered by pool %s (no egress.%s in the configuration)", vpc.pool, egress);
                        return -EPERM;
                }
        }
        if (strcmp(vpc.egress, egress) == 0)
                return 0;
        r = touch(o, vpc.id, "egress", STORE_TEXT(egress));
        if (r >= 0)
                r = vpc_sync(o, system_id, 0, err);
        if (r < 0)
                return r;
        *ret_changed = true;
        return 0;
}

int vpc_set_isolated(struct orch *o, int64_t system_id, bool isolated, bool *ret_changed, struct gc_error *err) {
        struct vpc_row vpc;
        *ret_changed = false;
        int r = vpc_load(o, system_id, &vpc);
        if (r == -ENOENT) {
                char sid[32];
                snprintf(sid, sizeof sid, "%lld", (long long) system_id);
                gc_error_set(err, "no_vpc", "R-SC3", "id", sid, "has no VPC: nothing of the system is provisioned");
                return -EPERM;
        }
        if (r < 0)
                return r;
        if (vpc.isolated == isolated)
                return 0;
        r = touch(o, vpc.id, "isolated", STORE_INT(isolated));
        if (r >= 0)
                r = vpc_sync(o, system_id, 0, err);
        if (r < 0)
                return r;
        *ret_changed = true;
        return 0;
}

/* ---- results and reads ---- */

int vpc_job_result(struct orch *o, int64_t job_id, const char *host, int64_t vpc_id, const char *kind, bool ok,
                   const cJSON *result, int64_t *ret_system, cJSON **ret_detail) {
        struct vpc_host_list have = {};
        int64_t vni = 0;
        _cleanup_free_ char *payload = NULL;
        int r = store_query_int(o->store, "SELECT system_id FROM vpcs WHERE id = ?", STORE_ARGS(STORE_INT(vpc_id)), ret_system);
        if (r >= 0)
                r = store_query_int(o->store, "SELECT vni FROM vpcs WHERE id = ?", STORE_ARGS(STORE_INT(vpc_id)), &vni);
        if (r >= 0)
                r = store_query_text(o->store, "SELECT payload FROM jobs WHERE id = ?", STORE_ARGS(STORE_INT(job_id)), &payload);
        if (r >= 0)
                r = store_query(o->store, "SELECT host, state, spec, uplink_kind, uplink_address FROM vpc_hosts WHERE vpc_id = ? AND host = ?",
                                STORE_ARGS(STORE_INT(vpc_id), STORE_TEXT(host)), vpc_host_cb, &have);
        if (r < 0) {
                vpc_host_list_done(&have);
                return r;
        }
        struct vpc_host *h = have.n ? &have.v[0] : NULL;
        if (h && strcmp(kind, "vpc.delete") == 0 && strcmp(h->state, "removing") == 0) {
                if (ok)
                        r = store_exec(o->store, "DELETE FROM vpc_hosts WHERE vpc_id = ? AND host = ?",
                                       STORE_ARGS(STORE_INT(vpc_id), STORE_TEXT(host)), NULL);
                else
                        r = store_exec(o->store, "UPDATE vpc_hosts SET state = 'failed' WHERE vpc_id = ? AND host = ?",
                                       STORE_ARGS(STORE_INT(vpc_id), STORE_TEXT(host)), NULL);
        } else if (h && strcmp(kind, "vpc.ensure") == 0 && h->spec && strcmp(h->spec, payload) == 0) {
                /* Only the result of the newest spec sent settles the host's state. */
                r = store_exec(o->store, "UPDATE vpc_hosts SET state = ? WHERE vpc_id = ? AND host = ?",
                               STORE_ARGS(STORE_TEXT(ok ? "ready" : "failed"), STORE_INT(vpc_id), STORE_TEXT(host)), NULL);
        }
        vpc_host_list_done(&have);
        if (r < 0)
                return r;

        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "job", (double) job_id);
        cJSON_AddStringToObject(d, "kind", kind);
        cJSON_AddNumberToObject(d, "system", (double) *ret_system);
        cJSON_AddNumberToObject(d, "vni", (double) vni);
        cJSON_AddStringToObject(d, "host", host);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(result, "vpc");
        if (ok && str_at(v, "actions"))
                cJSON_AddStringToObject(d, "actions", str_at(v, "actions"));
        if (!ok)
                cJSON_AddStringToObject(d, "error", str_at(result, "error") ?: "");
        _cleanup_(cJSON_Deletep) cJSON *spec = payload ? cJSON_Parse(payload) : NULL;
        if (strcmp(kind, "vpc.ensure") == 0 && spec) {
                cJSON_AddStringToObject(d, "egress", str_at(spec, "egress") ?: "none");
                cJSON_AddBoolToObject(d, "isolated", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "isolated")));
        }
        *ret_detail = d;
        return 0;
}

int vpc_release(struct orch *o, int64_t system_id, cJSON **ret) {
        struct vpc_row vpc;
        _cleanup_(cJSON_Deletep) cJSON *vms = NULL;
        int r = vpc_load(o, system_id, &vpc);
        if (r < 0)
                return r;
        r = store_query_json(o->store, "SELECT address, mac FROM vms WHERE system_id = ? AND (address IS NOT NULL OR mac IS NOT NULL) ORDER BY id",
                             STORE_ARGS(STORE_INT(system_id)), &vms);
        if (r >= 0)
                r = store_exec(o->store, "UPDATE vms SET address = NULL, mac = NULL WHERE system_id = ?", STORE_ARGS(STORE_INT(system_id)), NULL);
        if (r >= 0)
                r = store_exec(o->store, "UPDATE jobs SET vpc_id = NULL WHERE vpc_id = ?", STORE_ARGS(STORE_INT(vpc.id)), NULL);
        if (r >= 0)
                r = store_exec(o->store, "DELETE FROM vpc_hosts WHERE vpc_id = ?", STORE_ARGS(STORE_INT(vpc.id)), NULL);
        if (r >= 0)
                r = store_exec(o->store, "DELETE FROM vpcs WHERE id = ?", STORE_ARGS(STORE_INT(vpc.id)), NULL);
        if (r < 0)
                return r;
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "vni", (double) vpc.vni);
        cJSON_AddStringToObject(d, "cidr", vpc.cidr);
        cJSON_AddStringToObject(d, "gateway", vpc.gateway);
        cJSON_AddStringToObject(d, "gateway_mac", vpc.gateway_mac);
        cJSON *addrs = cJSON_AddArrayToObject(d, "addresses"), *macs = cJSON_AddArrayToObject(d, "macs");
        const cJSON *vm;
        cJSON_ArrayForEach(vm, vms) {
                if (str_at(vm, "address"))
                        cJSON_AddItemToArray(addrs, cJSON_CreateString(str_at(vm, "address")));
                if (str_at(vm, "mac"))
                        cJSON_AddItemToArray(macs, cJSON_CreateString(str_at(vm, "mac")));
        }
        log_info("system %lld: VPC vni %lld (%s) released with %d address%s", (long long) system_id, (long long) vpc.vni, vpc.cidr,
                 cJSON_GetArraySize(addrs), cJSON_GetArraySize(addrs) == 1 ? "" : "es");
        *ret = d;
        return 0;
}

int vpc_pending(struct orch *o, int64_t system_id, int64_t *ret) {
        int64_t jobs = 0, hosts = 0;
        int r = store_query_int(o->store,
                                "SELECT COUNT(*) FROM jobs j JOIN vpcs p ON p.id = j.vpc_id WHERE p.system_id = ? AND j.state IN ('queued', 'sent')",
                                STORE_ARGS(STORE_INT(system_id)), &jobs);
        if (r >= 0)
                r = store_query_int(o->store,
                                    "SELECT COUNT(*) FROM vpc_hosts h JOIN vpcs p ON p.id = h.vpc_id WHERE p.system_id = ? AND h.state <> 'ready'",
                                    STORE_ARGS(STORE_INT(system_id)), &hosts);
        if (r < 0)
                return r;
        *ret = jobs + hosts;
        return 0;
}

int vpc_describe(struct orch *o, int64_t system_id, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        cJSON *hosts = NULL, *vms = NULL;
        int r = store_query_json_one(o->store,
                                     "SELECT system_id AS system, pool, vni, cidr, gateway, gateway_mac, egress, isolated AS \"isolated@bool\", "
                                     "created AS \"created@time\", updated AS \"updated@time\" FROM vpcs WHERE system_id = ?",
                                     STORE_ARGS(STORE_INT(system_id)), &doc);
        if (r < 0)
                return r;
        r = store_query_json(o->store,
                             "SELECT h.host, h.state, x.underlay_address AS underlay, h.uplink_kind AS egress, h.uplink_address AS uplink "
                             "FROM vpc_hosts h JOIN vpcs p ON p.id = h.vpc_id JOIN hosts x ON x.name = h.host WHERE p.system_id = ? ORDER BY h.host",
                             STORE_ARGS(STORE_INT(system_id)), &hosts);
        if (r < 0)
                return r;
        cJSON_AddItemToObject(doc, "hosts", hosts);
        /* R-NW2, and the go-live sheet: each VM's address and the application's ports. */
        r = store_query_json(o->store,
                             "SELECT name, host, state, address, mac, json_extract(spec, '$.ports') AS \"ports@json\" "
                             "FROM vms WHERE system_id = ? AND state <> 'deleted' ORDER BY id",
                             STORE_ARGS(STORE_INT(system_id)), &vms);
        if (r < 0)
                return r;
        cJSON_AddItemToObject(doc, "vms", vms);
        *ret = TAKE_PTR(doc);
        return 0;
}
