/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "config.h"
#include "ipv4.h"
#include "json.h"

static const char *const top_keys[] = {
        "orchestrator", "tls", "libvirt_uri", "storage_pool", "capacity", "poll_seconds", "journal", "network",
        "tunnels", "wipe", "metrics", NULL,
};
static const char *const tunnels_keys[] = { "state", "ports", NULL };
static const char *const wipe_keys[] = { "signing_key", "state_dir", "progress_seconds", "sample_blocks", NULL };
static const char *const metrics_keys[] = { "enabled", "interval_seconds", "batch_seconds", "batch_max", NULL };
static const char *const network_keys[] = {
        "prefix", "underlay", "netns_dir", "vxlan_port", "egress", "protected", "state", NULL,
};
static const char *const egress_keys[] = { "egov", "internet", NULL };
static const char *const tls_keys[] = { "cert", "key", "ca", NULL };
static const char *const capacity_keys[] = { "vcpus", "memory_mib", "storage_gib", "arch", NULL };

static char *config_field(const char *parent, const char *key) {
        return parent ? xasprintf("%s.%s", parent, key) : xstrdup(key);
}

/* A value for an error message: a string as it is (gc_error_format quotes it). */
static char *config_brief(const cJSON *v) {
        return cJSON_IsString(v) ? xstrdup(v->valuestring) : json_value_brief(v);
}

static char *config_keys_list(const char *const *keys) {
        size_t n = 0;
        for (size_t i = 0; keys[i]; i++)
                n += strlen(keys[i]) + 2;
        char *s = xmalloc(n + 1), *p = s;
        for (size_t i = 0; keys[i]; i++)
                p += sprintf(p, "%s%s", i ? ", " : "", keys[i]);
        *p = 0;
        return s;
}

/* An object whose every key is one of keys. */
static int config_check_object(const cJSON *obj, const char *field, const char *const *keys, struct gc_error *err) {
        const cJSON *m;

        if (!cJSON_IsObject(obj)) {
                _cleanup_free_ char *brief = config_brief(obj);
                gc_error_set(err, "invalid_config", NULL, field ? field : "", brief, "is not a JSON object");
                return -EINVAL;
        }
        cJSON_ArrayForEach(m, obj) {
                size_t i;
                for (i = 0; keys[i]; i++)
                        if (strcmp(m->string, keys[i]) == 0)
                                break;
                if (!keys[i]) {
                        _cleanup_free_ char *f = config_field(field, m->string);
                        _cleanup_free_ char *list = config_keys_list(keys);
                        gc_error_set(err, "unknown_key", NULL, f, NULL, "is not a setting here (known: %s)", list);
                        return -EINVAL;
                }
        }
        return 0;
}

/* A non-empty string; *ret stays NULL when the key is missing and not required. */
static int config_string(const cJSON *obj, const char *parent, const char *key, bool required,
                         const char **ret, struct gc_error *err) {
        const cJSON *v = json_get(obj, key);
        _cleanup_free_ char *f = config_field(parent, key);

        if (!v) {
                if (required) {
                        gc_error_set(err, "invalid_config", NULL, f, NULL, "is required");
                        return -EINVAL;
                }
                return 0;
        }
        if (!cJSON_IsString(v) || !v->valuestring[0]) {
                _cleanup_free_ char *brief = config_brief(v);
                gc_error_set(err, "invalid_config", NULL, f, brief, "is not a non-empty string");
                return -EINVAL;
        }
        *ret = v->valuestring;
        return 0;
}

/* An integer in [min, max]; *ret is untouched when the key is missing. */
static int config_integer(const cJSON *obj, const char *parent, const char *key, int64_t min, int64_t max,
                          uint64_t *ret, struct gc_error *err) {
        const cJSON *v = json_get(obj, key);
        _cleanup_free_ char *f = config_field(parent, key);
        int64_t i;
        int r;

        if (!v)
                return 0;
        r = json_get_int(obj, key, &i, err);
        if (r < 0 || i < min || i > max) {
                _cleanup_free_ char *brief = config_brief(v);
                gc_error_set(err, "invalid_config", NULL, f, brief, "is not an integer from %lld to %lld",
                             (long long) min, (long long) max);
                return -EINVAL;
        }
        *ret = (uint64_t) i;
        return 0;
}

static char *config_resolve(const char *dir, const char *path) {
        if (path[0] == '/' || !dir)
                return xstrdup(path);
        return xasprintf("%s/%s", dir, path);
}

/* The network module's section (agent/net.h); its absence leaves VPCs unbuilt on this host. */
static int config_network(const cJSON *nw, const char *dir, struct config *c, struct gc_error *err) {
        struct config_network *n = &c->network;
        const char *s = NULL;
        uint64_t u;
        uint32_t a;
        int r;

        r = config_check_object(nw, "network", network_keys, err);
        if (r < 0)
                return r;
        s = NULL;
        r = config_string(nw, "network", "prefix", false, &s, err);
        if (r < 0)
                return r;
        s = s ?: CONFIG_DEFAULT_NET_PREFIX;
        if (strlen(s) > NET_PREFIX_MAX || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(s)) {
                gc_error_set(err, "invalid_config", NULL, "network.prefix", s, "is not 1 to %d of a-z, 0-9", NET_PREFIX_MAX);
                return -EINVAL;
        }
        snprintf(n->net.prefix, sizeof n->net.prefix, "%s", s);
        s = NULL;
        r = config_string(nw, "network", "underlay", true, &s, err);
        if (r < 0)
                return r;
        if (ipv4_parse(s, &a) < 0) {
                gc_error_set(err, "invalid_config", NULL, "network.underlay", s, "is not an IPv4 address");
                return -EINVAL;
        }
        snprintf(n->net.underlay, sizeof n->net.underlay, "%s", s);
        s = NULL;
        r = config_string(nw, "network", "netns_dir", false, &s, err);
        if (r < 0)
                return r;
        n->net.netns_dir = xstrdup(s ?: NET_DEFAULT_NETNS_DIR);
        u = NET_DEFAULT_VXLAN_PORT;
        r = config_integer(nw, "network", "vxlan_port", 1, 65535, &u, err);
        if (r < 0)
                return r;
        n->net.vxlan_port = (uint16_t) u;
        const cJSON *eg = json_get(nw, "egress");
        if (eg) {
                r = config_check_object(eg, "network.egress", egress_keys, err);
                if (r < 0)
                        return r;
                for (size_t k = 0; egress_keys[k]; k++) {
                        s = NULL;
                        r = config_string(eg, "network.egress", egress_keys[k], false, &s, err);
                        if (r < 0)
                                return r;
                        if (s && strlen(s) >= NET_IFNAME_MAX) {
                                _cleanup_free_ char *f = config_field("network.egress", egress_keys[k]);
                                gc_error_set(err, "invalid_config", NULL, f, s, "is longer than an interface name can be");
                                return -EINVAL;
                        }
                        if (s)
                                snprintf(n->net.egress_parent[k == 0 ? NET_EGRESS_EGOV : NET_EGRESS_INTERNET], NET_IFNAME_MAX, "%s", s);
                }
        }
        const cJSON *pr = json_get(nw, "protected");
        if (pr) {
                if (!cJSON_IsArray(pr)) {
                        gc_error_set(err, "invalid_config", NULL, "network.protected", NULL, "is not an array of CIDRs");
                        return -EINVAL;
                }
                n->net.protected = xnew(char *, cJSON_GetArraySize(pr) + 1);
                const cJSON *p;
                size_t i = 0;
                cJSON_ArrayForEach(p, pr) {
                        struct ipv4_net net;
                        if (!cJSON_IsString(p) || ipv4_parse_net(p->valuestring, &net) < 0) {
                                _cleanup_free_ char *f = xasprintf("network.protected[%zu]", i);
                                _cleanup_free_ char *v = config_brief(p);
                                gc_error_set(err, "invalid_config", NULL, f, v, "is not an IPv4 network (\"192.0.2.0/24\")");
                                return -EINVAL;
                        }
                        n->net.protected[n->net.n_protected++] = xstrdup(p->valuestring);
                        i++;
                }
        }
        s = NULL;
        r = config_string(nw, "network", "state", false, &s, err);
        if (r < 0)
                return r;
        n->state = s ? config_resolve(dir, s) : xstrdup(CONFIG_DEFAULT_NET_STATE);
        n->enabled = true;
        return 0;
}

/* The operations tunnels (agent/tunnel.h): where their state is kept, which
 * ports they listen on. Called after the journal is known. */
static int config_tunnels(const cJSON *tn, const char *dir, struct config *c, struct gc_error *err) {
        const char *s = NULL;
        int r;

        if (tn) {
                r = config_check_object(tn, "tunnels", tunnels_keys, err);
                if (r < 0)
                        return r;
                r = config_string(tn, "tunnels", "state", false, &s, err);
                if (r < 0)
                        return r;
                const cJSON *ports = json_get(tn, "ports");
                if (ports) {
                        const cJSON *lo = cJSON_GetArrayItem(ports, 0), *hi = cJSON_GetArrayItem(ports, 1);
                        _cleanup_free_ char *brief = config_brief(ports);
                        if (!cJSON_IsArray(ports) || cJSON_GetArraySize(ports) != 2 || !cJSON_IsNumber(lo) ||
                            !cJSON_IsNumber(hi) || !(lo->valuedouble >= 0 && hi->valuedouble <= 65535) ||
                            lo->valuedouble != (double) (int) lo->valuedouble ||
                            hi->valuedouble != (double) (int) hi->valuedouble || lo->valuedouble > hi->valuedouble ||
                            (lo->valuedouble == 0) != (hi->valuedouble == 0)) {
                                gc_error_set(err, "invalid_config", NULL, "tunnels.ports", brief,
                                             "is not [MIN, MAX] with 1 <= MIN <= MAX <= 65535 (or [0, 0]: any port)");
                                return -EINVAL;
                        }
                        c->tunnels.port_min = (uint16_t) lo->valuedouble;
                        c->tunnels.port_max = (uint16_t) hi->valuedouble;
                }
        }
        /* By default next to the journal: agents sharing a directory in tests
         * never share a tunnel state. */
        c->tunnels.state = s ? config_resolve(dir, s) : xasprintf("%s%s", c->journal, CONFIG_TUNNELS_STATE_SUFFIX);
        return 0;
}

/* vm.wipe (agent/wipejob.h): the key that signs its certificates, where
 * its checkpoints go, how often it reports. Called after the journal is known. */
static int config_wipe(const cJSON *w, const char *dir, struct config *c, struct gc_error *err) {
        const char *key = NULL, *state = NULL;
        uint64_t progress = CONFIG_DEFAULT_WIPE_PROGRESS_SECONDS, sample = CONFIG_DEFAULT_WIPE_SAMPLE_BLOCKS;
        int r;

        if (w) {
                r = config_check_object(w, "wipe", wipe_keys, err);
                if (r < 0)
                        return r;
                r = config_string(w, "wipe", "signing_key", false, &key, err);
                if (r < 0)
                        return r;
                r = config_string(w, "wipe", "state_dir", false, &state, err);
                if (r < 0)
                        return r;
                r = config_integer(w, "wipe", "progress_seconds", 1, CONFIG_WIPE_PROGRESS_SECONDS_MAX, &progress, err);
                if (r < 0)
                        return r;
                r = config_integer(w, "wipe", "sample_blocks", 1, CONFIG_WIPE_SAMPLE_BLOCKS_MAX, &sample, err);
                if (r < 0)
                        return r;
        }
        c->wipe.signing_key = key ? config_resolve(dir, key) : NULL;
        /* Next to the journal by default, as the tunnels' state is. */
        c->wipe.state_dir = state ? config_resolve(dir, state) : xasprintf("%s%s", c->journal, CONFIG_WIPE_STATE_SUFFIX);
        c->wipe.progress_seconds = (unsigned) progress;
        c->wipe.sample_blocks = sample;
        return 0;
}

/* The utilization sampler (agent/usage.h): how often, how much per batch.
 * Called after the journal is known: the spool is beside it. */
static int config_metrics(const cJSON *m, struct config *c, struct gc_error *err) {
        uint64_t interval = CONFIG_DEFAULT_METRICS_INTERVAL_SECONDS, batch = 0, max = CONFIG_DEFAULT_METRICS_BATCH_MAX;
        bool enabled = true;
        int r;

        if (m) {
                r = config_check_object(m, "metrics", metrics_keys, err);
                if (r < 0)
                        return r;
                const cJSON *e = json_get(m, "enabled");
                if (e && !cJSON_IsBool(e)) {
                        _cleanup_free_ char *brief = config_brief(e);
                        gc_error_set(err, "invalid_config", NULL, "metrics.enabled", brief, "is not true or false");
                        return -EINVAL;
                }
                enabled = !e || cJSON_IsTrue(e);
                /* Not more often than every 5 s: every sample is a bulk call into libvirtd. */
                r = config_integer(m, "metrics", "interval_seconds", CONFIG_METRICS_INTERVAL_SECONDS_MIN,
                                   CONFIG_METRICS_INTERVAL_SECONDS_MAX, &interval, err);
                if (r < 0)
                        return r;
                r = config_integer(m, "metrics", "batch_seconds", 1, CONFIG_METRICS_BATCH_SECONDS_MAX, &batch, err);
                if (r < 0)
                        return r;
                if (batch > 0 && batch < interval) {
                        const cJSON *v = json_get(m, "batch_seconds");
                        _cleanup_free_ char *brief = config_brief(v);
                        gc_error_set(err, "invalid_config", NULL, "metrics.batch_seconds", brief,
                                     "is less than metrics.interval_seconds (%llu): a batch holds at least one sample",
                                     (unsigned long long) interval);
                        return -EINVAL;
                }
                r = config_integer(m, "metrics", "batch_max", 1, CONFIG_METRICS_BATCH_MAX_MAX, &max, err);
                if (r < 0)
                        return r;
        }
        if (batch == 0)
                batch = interval > CONFIG_DEFAULT_METRICS_BATCH_SECONDS ? interval : CONFIG_DEFAULT_METRICS_BATCH_SECONDS;
        c->metrics.enabled = enabled;
        c->metrics.interval_seconds = (unsigned) interval;
        c->metrics.batch_seconds = (unsigned) batch;
        c->metrics.batch_max = (unsigned) max;
        c->metrics.spool = xasprintf("%s%s", c->journal, CONFIG_METRICS_SPOOL_SUFFIX);
        return 0;
}

int config_parse(const char *text, size_t len, const char *dir, struct config **ret, struct gc_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_(config_freep) struct config *c = NULL;
        const char *s = NULL, *cert = NULL, *key = NULL, *ca = NULL;
        uint64_t u;
        int r;

        r = json_parse(text, len, &doc, err);
        if (r < 0) {
                /* Fields in the plain form used everywhere else here: "tls.cert", not "$.tls.cert". */
                if (err && err->field[0] == '$')
                        memmove(err->field, err->field + (err->field[1] == '.' ? 2 : 1),
                                strlen(err->field) - (err->field[1] == '.' ? 1 : 0));
                return r;
        }
        r = config_check_object(doc, NULL, top_keys, err);
        if (r < 0)
                return r;

        c = xnew(struct config, 1);

        r = config_string(doc, NULL, "orchestrator", true, &s, err);
        if (r < 0)
                return r;
        if (strncasecmp(s, "https://", 8) != 0 || !s[8] || s[8] == '/') {
                gc_error_set(err, "invalid_config", NULL, "orchestrator", s, "is not an https:// URL");
                return -EINVAL;
        }
        c->orchestrator = xstrdup(s);

        const cJSON *tls = json_get(doc, "tls");
        if (!tls) {
                gc_error_set(err, "invalid_config", NULL, "tls", NULL, "is required: {\"cert\", \"key\", \"ca\"}");
                return -EINVAL;
        }
        r = config_check_object(tls, "tls", tls_keys, err);
        if (r < 0)
                return r;
        r = config_string(tls, "tls", "cert", true, &cert, err);
        if (r < 0)
                return r;
        r = config_string(tls, "tls", "key", true, &key, err);
        if (r < 0)
                return r;
        r = config_string(tls, "tls", "ca", true, &ca, err);
        if (r < 0)
                return r;
        c->tls_cert = config_resolve(dir, cert);
        c->tls_key = config_resolve(dir, key);
        c->tls_ca = config_resolve(dir, ca);

        s = NULL;
        r = config_string(doc, NULL, "libvirt_uri", false, &s, err);
        if (r < 0)
                return r;
        c->libvirt_uri = xstrdup(s ?: CONFIG_DEFAULT_LIBVIRT_URI);

        s = NULL;
        r = config_string(doc, NULL, "storage_pool", false, &s, err);
        if (r < 0)
                return r;
        c->storage_pool = xstrdup(s ?: CONFIG_DEFAULT_STORAGE_POOL);

        const cJSON *cap = json_get(doc, "capacity");
        if (cap) {
                r = config_check_object(cap, "capacity", capacity_keys, err);
                if (r < 0)
                        return r;
                u = 0;
                r = config_integer(cap, "capacity", "vcpus", 1, UINT32_MAX, &u, err);
                if (r < 0)
                        return r;
                c->capacity.vcpus = u;
                r = config_integer(cap, "capacity", "memory_mib", 1, INT64_MAX / 2, &c->capacity.memory_mib, err);
                if (r < 0)
                        return r;
                r = config_integer(cap, "capacity", "storage_gib", 1, INT64_MAX / 2, &c->capacity.storage_gib, err);
                if (r < 0)
                        return r;
                s = NULL;
                r = config_string(cap, "capacity", "arch", false, &s, err);
                if (r < 0)
                        return r;
                if (s && strcmp(s, "x86_64") != 0 && strcmp(s, "aarch64") != 0 && strcmp(s, "other") != 0) {
                        gc_error_set(err, "invalid_config", NULL, "capacity.arch", s, "is not x86_64, aarch64 or other");
                        return -EINVAL;
                }
                if (s)
                        c->capacity.arch = xstrdup(s);
        }

        u = CONFIG_DEFAULT_POLL_SECONDS;
        r = config_integer(doc, NULL, "poll_seconds", 1, CONFIG_POLL_SECONDS_MAX, &u, err);
        if (r < 0)
                return r;
        c->poll_seconds = u;

        s = NULL;
        r = config_string(doc, NULL, "journal", false, &s, err);
        if (r < 0)
                return r;
        c->journal = s ? config_resolve(dir, s) : xstrdup(CONFIG_DEFAULT_JOURNAL);

        const cJSON *nw = json_get(doc, "network");
        if (nw) {
                r = config_network(nw, dir, c, err);
                if (r < 0)
                        return r;
        }

        r = config_tunnels(json_get(doc, "tunnels"), dir, c, err);
        if (r < 0)
                return r;
        r = config_wipe(json_get(doc, "wipe"), dir, c, err);
        if (r < 0)
                return r;
        r = config_metrics(json_get(doc, "metrics"), c, err);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const char *path, struct config **ret, struct gc_error *err) {
        _cleanup_free_ char *text = NULL, *dir = NULL;
        struct config *c;
        const char *slash;
        size_t len;
        int r;

        r = gc_read_file(path, CONFIG_FILE_MAX, &text, &len);
        if (r == -EFBIG) {
                gc_error_set(err, "invalid_config", NULL, "", path, "is larger than %d bytes", CONFIG_FILE_MAX);
                return r;
        }
        if (r < 0) {
                gc_error_set(err, "invalid_config", NULL, "", path, "cannot be read: %s", strerror(-r));
                return r;
        }
        slash = strrchr(path, '/');
        dir = slash ? xstrndup(path, slash == path ? 1 : (size_t) (slash - path)) : xstrdup(".");
        r = config_parse(text, len, dir, &c, err);
        if (r < 0)
                return r;
        c->path = xstrdup(path);
        *ret = c;
        return 0;
}

void config_free(struct config *c) {
        if (!c)
                return;
        free(c->path);
        free(c->orchestrator);
        free(c->tls_cert);
        free(c->tls_key);
        free(c->tls_ca);
        free(c->libvirt_uri);
        free(c->storage_pool);
        free(c->capacity.arch);
        free(c->journal);
        free(c->network.net.netns_dir);
        for (size_t i = 0; i < c->network.net.n_protected; i++)
                free(c->network.net.protected[i]);
        free(c->network.net.protected);
        free(c->network.state);
        free(c->tunnels.state);
        free(c->wipe.signing_key);
        free(c->wipe.state_dir);
        free(c->metrics.spool);
        free(c);
}
