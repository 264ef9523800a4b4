/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cleanup.h"
#include "config.h"
#include "gc-config.h"
#include "json.h"
#include "log.h"
#include "schemas.h"

static char *resolve(const char *dir, const char *path) {
        if (path[0] == '/')
                return xstrdup(path);
        return xasprintf("%s/%s", dir, path);
}

static const char *str(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t integer(const cJSON *o, const char *key, int64_t def) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsNumber(v) ? (int64_t) v->valuedouble : def;
}

static void range(const cJSON *flavours, const char *key, struct config_range *r, long min, long max) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(flavours, key);
        r->min = integer(o, "min", min);
        r->max = integer(o, "max", max);
}

/* A pack by name: a file (absolute, relative to the config, or in
 * policy_dir as NAME.json), else a built-in pack. */
static int load_pack(const struct config *c, const char *dir, const char *name, const char *field,
                     char **ret_path, struct pack **ret, struct gc_error *err) {
        _cleanup_free_ char *path = NULL;
        struct schema_issues issues = {};
        int r;

        if (strchr(name, '/') || strstr(name, ".json")) {
                path = resolve(dir, name);
                r = pack_load_file(path, ret, &issues);
        } else {
                _cleanup_free_ char *candidate = xasprintf("%s/%s.json", c->policy_dir, name);
                const char *text;
                size_t len;
                if (access(candidate, R_OK) == 0) {
                        path = TAKE_PTR(candidate);
                        r = pack_load_file(path, ret, &issues);
                } else if (orch_builtin_pack(name, &text, &len) >= 0) {
                        path = xasprintf("builtin:%s", name);
                        r = pack_load(text, len, ret, &issues);
                } else {
                        gc_error_set(err, "invalid_config", "", field, name,
                                     "names no pack file (%s) and no built-in pack (baotou, luan, zhumadian, sichuan)",
                                     candidate);
                        return -ENOENT;
                }
        }
        if (r < 0) {
                gc_error_set(err, "invalid_config", "", field, name, "pack %s does not load: %s%s%s",
                             path, issues.n ? issues.v[0].path : strerror(-r), issues.n ? " " : "",
                             issues.n ? issues.v[0].message : "");
                schema_issues_free(&issues);
                return r;
        }
        schema_issues_free(&issues);
        *ret_path = TAKE_PTR(path);
        return 0;
}

static int parse_listen(const char *s, char **ret_host, unsigned *ret_port) {
        const char *colon = strrchr(s, ':');
        if (!colon)
                return -EINVAL;
        unsigned long port = strtoul(colon + 1, NULL, 10);
        if (port > 65535)
                return -ERANGE;
        if (s[0] == '[')
                *ret_host = xstrndup(s + 1, colon - s - 2);
        else
                *ret_host = xstrndup(s, colon - s);
        *ret_port = port;
        return 0;
}

int config_load(const char *path, struct config **ret, struct gc_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_(config_freep) struct config *c = NULL;
        int r;

        r = json_parse_file(path, CONFIG_FILE_MAX, &doc, err);
        if (r < 0) {
                if (err && !err->value[0])
                        snprintf(err->value, sizeof err->value, "%s", path);
                return r;
        }
        r = orch_validate(ORCH_SCHEMA_CONFIG, NULL, doc, "invalid_config", err);
        if (r < 0)
                return r;

        _cleanup_free_ char *copy = xstrdup(path);
        const char *dir = dirname(copy);

        c = xnew(struct config, 1);
        c->path = xstrdup(path);
        r = parse_listen(str(doc, "listen"), &c->listen_host, &c->listen_port);
        if (r < 0) {
                gc_error_set(err, "invalid_config", "", "listen", str(doc, "listen"), "is not host:port with a port 0..65535 (0: any free port)");
                return r;
        }
        const cJSON *tls = cJSON_GetObjectItemCaseSensitive(doc, "tls");
        c->tls_cert = resolve(dir, str(tls, "cert"));
        c->tls_key = resolve(dir, str(tls, "key"));
        c->tls_ca = resolve(dir, str(tls, "ca"));
        const char *db = str(doc, "database");
        c->database = resolve(dir, strncmp(db, "sqlite:", 7) == 0 ? db + 7 : db);
        if (str(doc, "service_key"))
                c->service_key = resolve(dir, str(doc, "service_key"));
        c->plugin_dir = str(doc, "plugin_dir") ? resolve(dir, str(doc, "plugin_dir")) : xstrdup(GC_PLUGINDIR);
        c->policy_dir = str(doc, "policy_dir") ? resolve(dir, str(doc, "policy_dir")) : xstrdup(GC_DATADIR "/policies");

        const char *default_pack = str(doc, "pack");
        const cJSON *pools = cJSON_GetObjectItemCaseSensitive(doc, "pools");
        c->n_pools = cJSON_GetArraySize(pools);
        c->pools = xnew(struct config_pool, c->n_pools);
        for (size_t i = 0; i < c->n_pools; i++) {
                const cJSON *p = cJSON_GetArrayItem(pools, i);
                struct config_pool *pool = &c->pools[i];
                _cleanup_free_ char *field = xasprintf("pools[%zu].pack", i);

                pool->name = xstrdup(str(p, "name"));
                for (size_t j = 0; j < i; j++)
                        if (strcmp(c->pools[j].name, pool->name) == 0) {
                                _cleanup_free_ char *f = xasprintf("pools[%zu].name", i);
                                gc_error_set(err, "invalid_config", "", f, pool->name, "names a pool twice");
                                return -EEXIST;
                        }
                const char *pack = str(p, "pack") ?: default_pack;
                if (!pack) {
                        gc_error_set(err, "invalid_config", "", field, NULL,
                                     "is missing, and there is no top-level \"pack\" to fall back on");
                        return -EINVAL;
                }
                r = load_pack(c, dir, pack, field, &pool->pack_path, &pool->pack, err);
                if (r < 0)
                        return r;

                const cJSON *arch = cJSON_GetObjectItemCaseSensitive(p, "arch");
                if (!arch)
                        pool->arch[0] = true;   /* x86 */
                const cJSON *a;
                cJSON_ArrayForEach(a, arch) {
                        if (strcmp(a->valuestring, "x86") == 0)
                                pool->arch[0] = true;
                        else if (strcmp(a->valuestring, "arm") == 0)
                                pool->arch[1] = true;
                        else
                                pool->arch[2] = true;
                }
                const cJSON *fl = cJSON_GetObjectItemCaseSensitive(p, "flavours");
                range(fl, "vcpus", &pool->vcpus, 1, 64);
                range(fl, "memory_gib", &pool->memory_gib, 1, 512);
                range(fl, "system_disk_gib", &pool->system_disk_gib, 20, 2048);
                range(fl, "data_disk_gib", &pool->data_disk_gib, 0, 32768);
                const struct config_range *rs[] = { &pool->vcpus, &pool->memory_gib, &pool->system_disk_gib, &pool->data_disk_gib };
                const char *names[] = { "vcpus", "memory_gib", "system_disk_gib", "data_disk_gib" };
                for (size_t k = 0; k < ELEMENTSOF(rs); k++)
                        if (rs[k]->min > rs[k]->max) {
                                _cleanup_free_ char *f = xasprintf("pools[%zu].flavours.%s", i, names[k]);
                                char v[64];
                                snprintf(v, sizeof v, "[%ld, %ld]", rs[k]->min, rs[k]->max);
                                gc_error_set(err, "invalid_config", "", f, v, "has min above max");
                                return -EINVAL;
                        }

                /* R-NW2: the provider's address ranges for VPCs. */
                const cJSON *ranges = cJSON_GetObjectItemCaseSensitive(p, "address_ranges");
                pool->n_address_ranges = ranges ? (size_t) cJSON_GetArraySize(ranges) : 1;
                pool->address_ranges = xnew(char *, pool->n_address_ranges + 1);
                pool->ranges = xnew(struct ipv4_net, pool->n_address_ranges);
                for (size_t k = 0; k < pool->n_address_ranges; k++) {
                        const char *text = ranges ? cJSON_GetArrayItem(ranges, k)->valuestring : CONFIG_DEFAULT_ADDRESS_RANGE;
                        pool->address_ranges[k] = xstrdup(text);
                        _cleanup_free_ char *f = xasprintf("pools[%zu].address_ranges[%zu]", i, k);
                        if (ipv4_parse_net(text, &pool->ranges[k]) < 0 || pool->ranges[k].prefix > 28) {
                                gc_error_set(err, "invalid_config", "R-NW2", f, text,
                                             "is not an IPv4 network address with a prefix of at most /28 (no host bits set)");
                                return -EINVAL;
                        }
                        for (size_t m = 0; m < k; m++)
                                if (ipv4_net_overlap(&pool->ranges[m], &pool->ranges[k])) {
                                        gc_error_set(err, "invalid_config", "R-NW2", f, text, "overlaps address_ranges[%zu]", m);
                                        return -EINVAL;
                                }
                }
                /* R-NW3: the egress networks and their uplink ranges. */
                static const char *const egress_names[] = { "egov", "internet" };
                for (size_t k = 0; k < ELEMENTSOF(egress_names); k++) {
                        const cJSON *eg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "egress"), egress_names[k]);
                        if (!eg)
                                continue;
                        struct config_egress *ce = &pool->egress[k];
                        const char *rt = cJSON_GetObjectItemCaseSensitive(eg, "range")->valuestring;
                        const char *gw = cJSON_GetObjectItemCaseSensitive(eg, "gateway")->valuestring;
                        _cleanup_free_ char *f = xasprintf("pools[%zu].egress.%s.range", i, egress_names[k]);
                        _cleanup_free_ char *fg = xasprintf("pools[%zu].egress.%s.gateway", i, egress_names[k]);
                        if (ipv4_parse_net(rt, &ce->range) < 0 || ce->range.prefix > 30) {
                                gc_error_set(err, "invalid_config", "R-NW3", f, rt,
                                             "is not an IPv4 network address with a prefix of at most /30");
                                return -EINVAL;
                        }
                        if (ipv4_parse(gw, &ce->gateway) < 0 || !ipv4_net_contains(&ce->range, ce->gateway)) {
                                gc_error_set(err, "invalid_config", "R-NW3", fg, gw, "is not an address inside %s", rt);
                                return -EINVAL;
                        }
                        ce->offered = true;
                }
        }
        c->pack = c->pools[0].pack;

        /* R-NW1: VXLAN ids. */
        const cJSON *nw = cJSON_GetObjectItemCaseSensitive(doc, "network");
        c->vni_first = integer(nw, "vni_first", CONFIG_DEFAULT_VNI_FIRST);
        c->vni_last = integer(nw, "vni_last", CONFIG_DEFAULT_VNI_LAST);
        if (c->vni_first > c->vni_last) {
                char v[32];
                snprintf(v, sizeof v, "%u", c->vni_first);
                gc_error_set(err, "invalid_config", "R-NW1", "network.vni_first", v, "is above network.vni_last (%u)", c->vni_last);
                return -EINVAL;
        }

        const cJSON *lg = cJSON_GetObjectItemCaseSensitive(doc, "linear_growth");
        c->linear_growth = RIGHTSIZE_LINEAR_DEFAULTS;
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(lg, "min_r2")))
                c->linear_growth.min_r2 = cJSON_GetObjectItemCaseSensitive(lg, "min_r2")->valuedouble;
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(lg, "min_slope")))
                c->linear_growth.min_slope = cJSON_GetObjectItemCaseSensitive(lg, "min_slope")->valuedouble;
        c->linear_growth.min_days = integer(lg, "min_days", c->linear_growth.min_days);

        const cJSON *win = cJSON_GetObjectItemCaseSensitive(doc, "approval_window");
        c->approval_max_age = integer(win, "max_age_seconds", 7 * 86400);
        c->approval_max_skew = integer(win, "max_skew_seconds", 300);

        const cJSON *ap = cJSON_GetObjectItemCaseSensitive(doc, "approval_plugins");
        if (ap) {
                c->n_approval_plugins = cJSON_GetArraySize(ap);
                c->approval_plugins = xnew(char *, c->n_approval_plugins);
                for (size_t i = 0; i < c->n_approval_plugins; i++)
                        c->approval_plugins[i] = xstrdup(cJSON_GetArrayItem(ap, i)->valuestring);
        } else {
                c->n_approval_plugins = 2;
                c->approval_plugins = xnew(char *, 2);
                c->approval_plugins[0] = xstrdup("approval-sm2");
                c->approval_plugins[1] = xstrdup("approval-ed25519");
        }

        const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(doc, "plugins");
        c->n_plugins = cJSON_GetArraySize(plugins);
        c->plugins = xnew(struct config_plugin, c->n_plugins);
        for (size_t i = 0; i < c->n_plugins; i++) {
                const cJSON *p = cJSON_GetArrayItem(plugins, i);
                const char *pp = str(p, "path");
                c->plugins[i].path = strchr(pp, '/') ? resolve(dir, pp) : xstrdup(pp);
                const cJSON *pc = cJSON_GetObjectItemCaseSensitive(p, "config");
                c->plugins[i].config_json = pc ? cJSON_PrintUnformatted(pc) : xstrdup("{}");
        }

        const cJSON *parties = cJSON_GetObjectItemCaseSensitive(doc, "parties");
        c->provider_name = xstrdup(str(parties, "provider") ?: "云服务商");
        c->authority_name = xstrdup(str(parties, "authority") ?: "政务云管理单位");
        const cJSON *tunnels = cJSON_GetObjectItemCaseSensitive(doc, "tunnels");
        c->tunnel_max_minutes = integer(tunnels, "max_minutes", 240);
        c->tunnel_long_lived_max_minutes = integer(tunnels, "long_lived_max_minutes", 10080);
        const cJSON *reclaim = cJSON_GetObjectItemCaseSensitive(doc, "reclaim");
        c->wipe_method = xstrdup(str(reclaim, "wipe_method") ?: "zero");
        c->wipe_sample_blocks = integer(reclaim, "sample_blocks", 4096);
        const cJSON *audit = cJSON_GetObjectItemCaseSensitive(doc, "audit");
        c->checkpoint_interval = integer(audit, "checkpoint_interval_seconds", 3600);
        c->prune_interval = integer(audit, "prune_interval_seconds", 86400);
        c->archive_dir = str(audit, "archive_dir") ? resolve(dir, str(audit, "archive_dir")) : NULL;
        /* R-RS7: the monthly reports' files; beside the database unless configured. */
        const cJSON *reports = cJSON_GetObjectItemCaseSensitive(doc, "reports");
        if (str(reports, "dir"))
                c->reports_dir = resolve(dir, str(reports, "dir"));
        else {
                _cleanup_free_ char *dbdir = xstrdup(c->database);
                char *slash = strrchr(dbdir, '/');
                if (slash)
                        *slash = '\0';
                c->reports_dir = slash ? xasprintf("%s/reports", *dbdir ? dbdir : "") : xstrdup("reports");
        }

        const cJSON *notify = cJSON_GetObjectItemCaseSensitive(doc, "notify");
        c->notify_retry_initial_ms = integer(notify, "retry_initial_ms", 1000);
        c->notify_retry_max_ms = integer(notify, "retry_max_ms", 300000);
        if (c->notify_retry_max_ms < c->notify_retry_initial_ms)
                c->notify_retry_max_ms = c->notify_retry_initial_ms;

        const cJSON *limits = cJSON_GetObjectItemCaseSensitive(doc, "limits");
        c->max_body = integer(limits, "max_body_bytes", 4 * 1024 * 1024);
        c->timeout_seconds = integer(limits, "timeout_seconds", 30);

        *ret = TAKE_PTR(c);
        return 0;
}

void config_free(struct config *c) {
        if (!c)
                return;
        free(c->path);
        free(c->listen_host);
        free(c->tls_cert);
        free(c->tls_key);
        free(c->tls_ca);
        free(c->database);
        free(c->service_key);
        free(c->plugin_dir);
        free(c->policy_dir);
        free(c->provider_name);
        free(c->authority_name);
        free(c->wipe_method);
        free(c->archive_dir);
        free(c->reports_dir);
        for (size_t i = 0; i < c->n_pools; i++) {
                free(c->pools[i].name);
                free(c->pools[i].pack_path);
                pack_free(c->pools[i].pack);
                for (size_t k = 0; k < c->pools[i].n_address_ranges; k++)
                        free(c->pools[i].address_ranges[k]);
                free(c->pools[i].address_ranges);
                free(c->pools[i].ranges);
        }
        free(c->pools);
        for (size_t i = 0; i < c->n_plugins; i++) {
                free(c->plugins[i].path);
                free(c->plugins[i].config_json);
        }
        free(c->plugins);
        for (size_t i = 0; i < c->n_approval_plugins; i++)
                free(c->approval_plugins[i]);
        free(c->approval_plugins);
        free(c);
}

const struct config_pool *config_pool(const struct config *c, const char *name) {
        for (size_t i = 0; i < c->n_pools; i++)
                if (strcmp(c->pools[i].name, name) == 0)
                        return &c->pools[i];
        return NULL;
}
