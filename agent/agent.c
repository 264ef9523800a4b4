/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "alloc.h"
#include "cleanup.h"
#include "client.h"
#include "crypto.h"
#include "gc-config.h"
#include "jobs.h"
#include "journal.h"
#include "json.h"
#include "log.h"
#include "net.h"
#include "tunnel.h"
#include "usage.h"
#include "wipejob.h"

#define AGENT_TIMEOUT_S 30L             /* hello, results, inventory */
#define AGENT_POLL_SLACK_S 10L          /* transfer timeout above the long-poll's wait */
#define AGENT_RESULTS_BATCH 100
#define AGENT_RESULTS_FLUSH_S 5.0       /* post what is done after this long */
#define AGENT_HEARTBEAT_DEFAULT_S 10u
#define AGENT_TUNNEL_WAIT_S 2u          /* long-poll bound while tunnel events wait or a tunnel is live */
#define AGENT_PROGRESS_BATCH 64         /* entries per POST /v1/agent/wipe-progress (its schema's bound) */
#define AGENT_STOP_WAIT_S 1u            /* long-poll bound while a vm.stop waits for its domain */
#define AGENT_METRICS_PER_TURN 4        /* batches posted per turn of the loop: a backlog does not hold jobs back */

static volatile sig_atomic_t agent_stop = 0;
static volatile sig_atomic_t agent_stop_signal = 0;

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

struct agent {
        struct config *config;
        const struct hv_ops *ops;
        struct hv *hv;
        struct journal *journal;
        struct client *client;
        struct net *net;                /* NULL without a network section */
        struct tunnels *tunnels;        /* the operations tunnels (agent/tunnel.h) */
        struct wipejobs *wipes;         /* vm.wipe's threads (agent/wipejob.h) */
        struct jobs_stops *stops;       /* vm.stop jobs waiting for their domains */
        struct usage *usage;            /* the utilization sampler; NULL: metrics.enabled false */
        EVP_PKEY *wipe_key;             /* wipe.signing_key; NULL: none */
        char *wipe_key_pem;             /* its public half, for hello */
        uint64_t wipe_throttle_bps;     /* --unsafe-test-wipe-throttle */
        bool wipe_corrupt;              /* --unsafe-test-wipe-corrupt */
        double next_progress;
        bool progress_unsupported;      /* the orchestrator answered 404: said once */

        char *host;                     /* from hello */
        int64_t clock_offset;           /* the orchestrator's clock minus this host's, seconds */
        bool clock_known;               /* a hello has answered since the start */
        unsigned heartbeat_seconds;
        unsigned poll_seconds;
        char *problem;                  /* the last refusal logged, to log each once */
        char *relabel_dir;              /* --unsafe-test-relabel */
};

static void agent_on_signal(int sig) {
        agent_stop = 1;
        agent_stop_signal = sig;
}

static double agent_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

int agent_new(const struct agent_options *opts, struct agent **ret) {
        _cleanup_(agent_freep) struct agent *a = NULL;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        int r;

        a = xnew(struct agent, 1);
        a->ops = opts->ops ?: &hv_libvirt_ops;
        if (opts->unsafe_test_relabel_dir) {
                a->relabel_dir = xstrdup(opts->unsafe_test_relabel_dir);
                log_warning("UNSAFE: labels in %s/*.json are applied behind the orchestrator's back (tests and demos only)",
                            a->relabel_dir);
        }
        r = config_load(opts->config_path, &a->config, &err);
        if (r < 0) {
                /* The message says why already. */
                log_error("configuration %s: %s", opts->config_path, gc_error_format(&err, buf, sizeof buf));
                return r;
        }
        if (opts->unsafe_test_net_step_delay_ms > 0)
                a->config->network.net.step_delay_ms = opts->unsafe_test_net_step_delay_ms;
        if (a->config->wipe.signing_key) {
                r = crypto_key_load_private(a->config->wipe.signing_key, &a->wipe_key);
                if (r < 0)
                        return log_error_errno(r, "configuration %s: wipe.signing_key: %s cannot be loaded (a PEM private key, "
                                               "SM2 or Ed25519, not encrypted)", a->config->path, a->config->wipe.signing_key);
                r = crypto_key_public_pem(a->wipe_key, &a->wipe_key_pem);
                if (r < 0)
                        return log_error_errno(r, "wipe.signing_key %s: no public key from it", a->config->wipe.signing_key);
        }
        if (opts->unsafe_test_wipe_throttle_bps > 0) {
                a->wipe_throttle_bps = opts->unsafe_test_wipe_throttle_bps;
                log_warning("UNSAFE: wipes write at most %llu bytes/s, with a checkpoint after every chunk (tests only)",
                            (unsigned long long) a->wipe_throttle_bps);
        }
        if (opts->unsafe_test_wipe_corrupt) {
                a->wipe_corrupt = true;
                log_warning("UNSAFE: a byte of every wiped volume is changed before its verification, which fails (tests only)");
        }
        if (opts->unsafe_test_metrics_interval_s > 0) {
                struct config_metrics *m = &a->config->metrics;
                m->interval_seconds = opts->unsafe_test_metrics_interval_s;
                if (m->batch_seconds < m->interval_seconds)
                        m->batch_seconds = m->interval_seconds;
                log_warning("UNSAFE: the VMs are sampled every %u s, below the configuration's floor of %u s (tests only)",
                            m->interval_seconds, CONFIG_METRICS_INTERVAL_SECONDS_MIN);
        }
        r = a->ops->open(a->config->libvirt_uri, a->config->storage_pool, &a->hv);
        if (r < 0)
                return log_error_errno(r, "cannot open the hypervisor %s (storage pool %s)", a->config->libvirt_uri,
                                       a->config->storage_pool);
        *ret = TAKE_PTR(a);
        return 0;
}

void agent_free(struct agent *a) {
        if (!a)
                return;
        free(a->relabel_dir);
        client_free(a->client);
        tunnels_close(a->tunnels);      /* before the network: its threads dial from router namespaces */
        net_close(a->net);
        wipejobs_free(a->wipes);        /* before the hypervisor: its threads undefine secrets */
        jobs_stops_free(a->stops);
        usage_free(a->usage);
        EVP_PKEY_free(a->wipe_key);
        free(a->wipe_key_pem);
        journal_close(a->journal);
        if (a->hv)
                a->ops->close(a->hv);
        config_free(a->config);
        free(a->host);
        free(a->problem);
        free(a);
}

int agent_capacity(const struct hv_ops *ops, struct hv *hv, const struct config_capacity *override,
                   struct hv_capacity *ret) {
        struct hv_capacity cap = {};
        int r;

        r = ops->capacity(hv, &cap);
        if (r < 0)
                return r;
        if (override->vcpus)
                cap.vcpus = override->vcpus;
        if (override->memory_mib)
                cap.memory_mib = override->memory_mib;
        if (override->storage_gib)
                cap.storage_gib = override->storage_gib;
        if (override->arch)
                snprintf(cap.arch, sizeof cap.arch, "%s", override->arch);
        /* The orchestrator knows x86_64 and aarch64; anything else is "other". */
        if (strcmp(cap.arch, "x86_64") != 0 && strcmp(cap.arch, "aarch64") != 0)
                snprintf(cap.arch, sizeof cap.arch, "other");
        *ret = cap;
        return 0;
}

static void agent_add(cJSON *o, const char *key, cJSON *v) {
        if (!v || !cJSON_AddItemToObject(o, key, v))
                abort();
}

int agent_inventory_build(const struct hv_ops *ops, struct hv *hv, cJSON **ret) {
        struct hv_domain *domains = NULL;
        size_t n = 0;
        cJSON *doc, *list;
        int r;

        r = ops->list(hv, &domains, &n);
        if (r < 0)
                return r;
        doc = cJSON_CreateObject();
        list = cJSON_CreateArray();
        if (!doc || !list)
                abort();
        for (size_t i = 0; i < n; i++)
                if (!cJSON_AddItemToArray(list, jobs_vmstate(&domains[i], false)))
                        abort();
        agent_add(doc, "domains", list);
        hv_domains_free(domains, n);
        *ret = doc;
        return 0;
}

int agent_check(struct agent *a, FILE *out) {
        const struct config *c = a->config;
        const char *files[] = { c->tls_cert, c->tls_key, c->tls_ca };
        struct hv_capacity cap, own = {};
        int r, ret = 0;

        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (access(files[i], R_OK) < 0)
                        ret = log_error_errno(errno, "configuration %s: %s cannot be read", c->path, files[i]);
        _cleanup_free_ char *dir = NULL;
        const char *slash = strrchr(c->journal, '/');
        dir = slash ? xstrndup(c->journal, slash == c->journal ? 1 : (size_t) (slash - c->journal)) : xstrdup(".");
        if (access(dir, W_OK) < 0)
                ret = log_error_errno(errno, "configuration %s: the journal's directory %s is not writable", c->path, dir);
        _cleanup_free_ char *tdir = NULL;
        slash = strrchr(c->tunnels.state, '/');
        tdir = slash ? xstrndup(c->tunnels.state, slash == c->tunnels.state ? 1 : (size_t) (slash - c->tunnels.state))
                     : xstrdup(".");
        if (access(tdir, W_OK) < 0)
                ret = log_error_errno(errno, "configuration %s: the tunnel state's directory %s is not writable", c->path,
                                      tdir);
        /* The wipe state directory is made at start where it is missing. */
        _cleanup_free_ char *wdir = NULL;
        slash = strrchr(c->wipe.state_dir, '/');
        wdir = slash ? xstrndup(c->wipe.state_dir, slash == c->wipe.state_dir ? 1 : (size_t) (slash - c->wipe.state_dir))
                     : xstrdup(".");
        if (access(c->wipe.state_dir, W_OK) < 0 && access(wdir, W_OK) < 0)
                ret = log_error_errno(errno, "configuration %s: neither the wipe state directory %s nor its parent is "
                                      "writable", c->path, c->wipe.state_dir);
        /* So is the metrics' spool, beside the journal. */
        if (c->metrics.enabled && access(c->metrics.spool, W_OK) < 0 && access(dir, W_OK) < 0)
                ret = log_error_errno(errno, "configuration %s: neither the metrics spool %s nor its parent is writable",
                                      c->path, c->metrics.spool);

        r = agent_capacity(a->ops, a->hv, &c->capacity, &cap);
        if (r >= 0)
                r = a->ops->capacity(a->hv, &own);
        if (r < 0)
                return log_error_errno(r, "hypervisor %s: cannot read its capacity", c->libvirt_uri);
        fprintf(out, "configuration %s: %s\n", c->path, ret < 0 ? "FAILED" : "OK");
        fprintf(out, "orchestrator: %s\n", c->orchestrator);
        fprintf(out, "hypervisor: %s (%s), storage pool %s\n", c->libvirt_uri, a->ops->name, c->storage_pool);
        bool mapped = !c->capacity.arch && strcmp(cap.arch, own.arch) != 0;
        fprintf(out, "capacity: %u vCPUs%s, %llu MiB memory%s, %llu GiB storage%s, %s%s%s%s%s\n",
                cap.vcpus, c->capacity.vcpus ? " (configured)" : "",
                (unsigned long long) cap.memory_mib, c->capacity.memory_mib ? " (configured)" : "",
                (unsigned long long) cap.storage_gib, c->capacity.storage_gib ? " (configured)" : "",
                cap.arch, c->capacity.arch ? " (configured)" : "", mapped ? " (the hypervisor says " : "",
                mapped ? own.arch : "", mapped ? ")" : "");
        if (mapped)
                fprintf(out, "  %s is not an architecture the orchestrator places VMs on; set capacity.arch if it should\n",
                        own.arch);
        fprintf(out, "journal: %s\n", c->journal);
        if (c->network.enabled) {
                fprintf(out, "network: prefix %s, underlay %s, VXLAN port %u, namespaces in %s, state %s\n", c->network.net.prefix,
                        c->network.net.underlay, c->network.net.vxlan_port, c->network.net.netns_dir, c->network.state);
                for (int k = NET_EGRESS_EGOV; k < _NET_EGRESS_MAX; k++)
                        if (c->network.net.egress_parent[k][0])
                                fprintf(out, "  egress %s on %s\n", net_egress_name(k), c->network.net.egress_parent[k]);
        } else
                fprintf(out, "network: not configured; VPCs are not built on this host\n");
        if (c->tunnels.port_min)
                fprintf(out, "tunnels: state %s, listeners on ports %u-%u, served with %s\n", c->tunnels.state,
                        c->tunnels.port_min, c->tunnels.port_max, c->tls_cert);
        else
                fprintf(out, "tunnels: state %s, listeners on any port, served with %s\n", c->tunnels.state, c->tls_cert);
        if (a->wipe_key) {
                _cleanup_free_ char *fp = NULL;
                enum gc_key_type type = GC_KEY_SM2;
                (void) crypto_key_type(a->wipe_key, &type);
                (void) crypto_key_fingerprint(a->wipe_key, &fp);
                fprintf(out, "wipe: certificates signed with %s (%s, %s), state in %s, progress every %u s, "
                        "a sampled verification reads %llu blocks\n", c->wipe.signing_key, crypto_key_type_to_string(type),
                        fp ?: "?", c->wipe.state_dir, c->wipe.progress_seconds, (unsigned long long) c->wipe.sample_blocks);
        } else
                fprintf(out, "wipe: no signing key (wipe.signing_key): vm.wipe fails on this host, nothing is wiped\n");
        if (c->metrics.enabled)
                fprintf(out, "metrics: every VM sampled every %u s; a batch posted every %u s or at %u samples; spool %s\n",
                        c->metrics.interval_seconds, c->metrics.batch_seconds, c->metrics.batch_max, c->metrics.spool);
        else
                fprintf(out, "metrics: off (metrics.enabled false): no utilization figures from this host\n");
        fprintf(out, "long-poll: up to %u s\n", c->poll_seconds);
        return ret;
}

/* -------------------------------------------------------- exchanges --- */

/* A refusal or an unexpected answer: logged when it differs from the last one. */
static void agent_problem(struct agent *a, bool carry_on, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void agent_problem(struct agent *a, bool carry_on, const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (a->problem && strcmp(a->problem, msg) == 0) {
                log_debug("%s (again)", msg);
                return;
        }
        if (carry_on)
                log_warning("%s; carrying on without it", msg);
        else
                log_warning("%s; retrying from hello in %u s (backoff up to %u s)", msg, client_backoff_next(a->client),
                            CLIENT_BACKOFF_MAX_S);
        free(a->problem);
        a->problem = xstrdup(msg);
}

static void agent_problem_clear(struct agent *a) {
        if (a->problem)
                log_notice("the orchestrator answers again");
        free(a->problem);
        a->problem = NULL;
}

/* "HTTP 403 (forbidden: host-z is not a registered host)" */
static char *agent_answer_brief(long status, const cJSON *doc) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
        const cJSON *field = cJSON_GetObjectItemCaseSensitive(e, "field");

        if (cJSON_IsString(msg))
                return xasprintf("HTTP %ld (%s%s%s%s%s)", status, cJSON_IsString(code) ? code->valuestring : "",
                                 cJSON_IsString(code) ? ": " : "",
                                 cJSON_IsString(field) && field->valuestring[0] ? field->valuestring : "",
                                 cJSON_IsString(field) && field->valuestring[0] ? " " : "", msg->valuestring);
        return xasprintf("HTTP %ld", status);
}

/* An answer that says the request itself is wrong: sending it again will not help. */
static bool agent_status_permanent(long status) {
        return status == 400 || status == 409 || status == 413 || status == 422;
}

/* One call; an answer other than 200 is a failure, logged once: -EREMOTEIO
 * when carry_on and the orchestrator refuses the request itself, -EPROTO for
 * other answers (the caller goes back to hello). */
static int agent_call(struct agent *a, const char *method, const char *path, const cJSON *body, long timeout_s,
                      bool interruptible, bool carry_on, cJSON **ret_answer) {
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        long status = 0;
        int r;

        r = client_request(a->client, method, path, body, timeout_s, interruptible, &status, &answer);
        if (r < 0)
                return r;       /* the client logs the link's state */
        if (status != 200) {
                _cleanup_free_ char *brief = agent_answer_brief(status, answer);
                bool permanent = carry_on && agent_status_permanent(status);
                agent_problem(a, permanent, "%s %s: %s", method, path, brief);
                return permanent ? -EREMOTEIO : -EPROTO;
        }
        if (!cJSON_IsObject(answer)) {
                agent_problem(a, false, "%s %s: HTTP 200 without a JSON object", method, path);
                return -EBADMSG;
        }
        *ret_answer = TAKE_PTR(answer);
        return 0;
}

static int agent_hello(struct agent *a) {
        _cleanup_(cJSON_Deletep) cJSON *body = cJSON_CreateObject(), *answer = NULL;
        struct hv_capacity cap;
        const char *host = NULL;
        int64_t hb = AGENT_HEARTBEAT_DEFAULT_S, poll = a->config->poll_seconds;
        int r;

        r = agent_capacity(a->ops, a->hv, &a->config->capacity, &cap);
        if (r < 0)
                return log_error_errno(r, "hypervisor %s: cannot read its capacity", a->config->libvirt_uri);
        cJSON *c = cJSON_CreateObject();
        if (!body || !c)
                abort();
        agent_add(c, "vcpus", cJSON_CreateNumber(cap.vcpus));
        agent_add(c, "memory_mib", cJSON_CreateNumber((double) cap.memory_mib));
        agent_add(c, "storage_gib", cJSON_CreateNumber((double) cap.storage_gib));
        agent_add(c, "arch", cJSON_CreateString(cap.arch));
        agent_add(body, "version", cJSON_CreateString(GC_VERSION));
        agent_add(body, "hypervisor", cJSON_CreateString(a->config->libvirt_uri));
        /* R-EX3: what the orchestrator verifies this host's certificates of sanitization with. */
        agent_add(body, "wipe_key", a->wipe_key_pem ? cJSON_CreateString(a->wipe_key_pem) : cJSON_CreateNull());
        agent_add(body, "capacity", c);

        r = agent_call(a, "POST", "/v1/agent/hello", body, AGENT_TIMEOUT_S, true, false, &answer);
        if (r < 0)
                return r;
        if (json_get_string(answer, "host", &host, NULL) < 0)
                host = "?";
        (void) json_get_int(answer, "heartbeat_seconds", &hb, NULL);
        (void) json_get_int(answer, "poll_seconds", &poll, NULL);
        if (hb < 1 || hb > 3600)
                hb = AGENT_HEARTBEAT_DEFAULT_S;
        /* R-OP1: tunnel deadlines and event times are on the orchestrator's clock. */
        const cJSON *now = cJSON_GetObjectItemCaseSensitive(answer, "time");
        if (cJSON_IsNumber(now) && now->valuedouble > 0)
                a->clock_offset = (int64_t) llround(now->valuedouble) - (int64_t) time(NULL);
        if (a->tunnels && cJSON_IsNumber(now) && now->valuedouble > 0) {
                int64_t offset = a->clock_offset;
                tunnels_set_clock_offset(a->tunnels, offset);
                if (offset <= -2 || offset >= 2)
                        log_notice("clock: the orchestrator's is %+lld s from this host's; tunnel times are converted",
                                   (long long) offset);
        } else if (a->tunnels)
                log_debug("hello: no \"time\"; tunnel times are taken as this host's");
        a->clock_known = true;          /* the samples' times from now on */
        if (poll < 1 || poll > a->config->poll_seconds)
                poll = a->config->poll_seconds;
        free(a->host);
        a->host = xstrdup(host);
        if (a->wipes)
                wipejobs_set_host(a->wipes, a->host);   /* the certificates name the host as the orchestrator does */
        a->heartbeat_seconds = hb;
        a->poll_seconds = poll;
        agent_problem_clear(a);
        log_info("hello: this is host %s; %u vCPUs, %llu MiB, %llu GiB, %s; heartbeat every %u s, long-poll up to %u s",
                 a->host, cap.vcpus, (unsigned long long) cap.memory_mib, (unsigned long long) cap.storage_gib,
                 cap.arch, a->heartbeat_seconds, a->poll_seconds);
        return 0;
}

/* POST results; on success (or a refusal that no retry can change) they are
 * marked posted in the journal. */
static int agent_post_results(struct agent *a, cJSON *results, const int64_t *jobs, size_t n) {
        _cleanup_(cJSON_Deletep) cJSON *body = cJSON_CreateObject(), *answer = NULL;
        _cleanup_free_ char *brief = NULL;
        long status = 0;
        int64_t accepted = -1;
        int r;

        if (!body)
                abort();
        agent_add(body, "results", cJSON_Duplicate(results, true));
        r = client_request(a->client, "POST", "/v1/agent/results", body, AGENT_TIMEOUT_S, false, &status, &answer);
        if (r < 0)
                return r;
        if (status == 200) {
                (void) json_get_int(answer, "accepted", &accepted, NULL);
                log_debug("results: %zu posted, %lld accepted", n, (long long) accepted);
        } else if (agent_status_permanent(status)) {
                brief = agent_answer_brief(status, answer);
                log_error("the orchestrator refused %zu result%s: %s; they are not posted again", n,
                          n == 1 ? "" : "s", brief);
        } else {
                brief = agent_answer_brief(status, answer);
                agent_problem(a, false, "POST /v1/agent/results: %s", brief);
                return -EPROTO;
        }
        for (size_t i = 0; i < n; i++)
                if (jobs[i] > 0)
                        (void) journal_posted(a->journal, jobs[i]);
        return 0;
}

/* Results done here that the orchestrator may not have. */
static int agent_post_unposted(struct agent *a) {
        for (;;) {
                _cleanup_(cJSON_Deletep) cJSON *results = NULL;
                _cleanup_free_ int64_t *jobs = NULL;
                size_t n;
                int r;

                r = journal_unposted(a->journal, AGENT_RESULTS_BATCH, &results, &jobs, &n);
                if (r < 0)
                        return r;
                if (n == 0)
                        return 0;
                log_info("posting %zu result%s from the journal again", n, n == 1 ? "" : "s");
                r = agent_post_results(a, results, jobs, n);
                if (r < 0)
                        return r;
        }
}

/* --unsafe-test-relabel: change labels as an outsider would (see agent.h). */
static void agent_test_relabel(struct agent *a) {
        _cleanup_(closedirp) DIR *d = opendir(a->relabel_dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
                        continue;
                _cleanup_free_ char *path = xasprintf("%s/%s", a->relabel_dir, de->d_name);
                _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
                struct gc_error err = {};
                if (json_parse_file(path, 65536, &doc, &err) < 0) {
                        log_warning("test relabel %s: %s", path, err.message);
                        unlink(path);
                        continue;
                }
                const cJSON *l = cJSON_GetObjectItemCaseSensitive(doc, "labels");
                const char *uuid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "uuid"));
                const char *title = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "title"));
                const cJSON *num = cJSON_GetObjectItemCaseSensitive(l, "number");
                const cJSON *req = cJSON_GetObjectItemCaseSensitive(l, "request");
                struct hv_labels labels = {
                        .unit = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "unit")),
                        .system = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "system")),
                        .role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "role")),
                        .number = cJSON_IsNumber(num) ? (unsigned) num->valuedouble : 0,
                        .request = cJSON_IsNumber(req) ? (int64_t) req->valuedouble : 0,
                        .pool = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "pool")),
                };
                int r = uuid && labels.unit && labels.system && labels.role && labels.pool
                                ? a->ops->set_labels(a->hv, uuid, title, &labels) : -EINVAL;
                if (r < 0)
                        log_warning_errno(r, "UNSAFE test relabel %s: not applied", path);
                else
                        log_warning("UNSAFE test relabel: domain %s now titled \"%s\", behind the orchestrator's back",
                                    uuid, title ?: "");
                unlink(path);
        }
}

static int agent_inventory(struct agent *a) {
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *answer = NULL;
        int64_t drift = 0, missing = 0;
        int r;

        if (a->relabel_dir)
                agent_test_relabel(a);

        r = agent_inventory_build(a->ops, a->hv, &body);
        if (r < 0) {
                /* An empty list would read as "every VM is missing": send none. */
                log_warning_errno(r, "hypervisor %s: cannot list the domains; no inventory this time",
                                  a->config->libvirt_uri);
                return 0;
        }
        r = agent_call(a, "POST", "/v1/agent/inventory", body, AGENT_TIMEOUT_S, true, true, &answer);
        if (r == -EREMOTEIO)
                return 0;       /* refused as it is: jobs still run; the next heartbeat tries again */
        if (r < 0)
                return r;
        (void) json_get_int(answer, "drift", &drift, NULL);
        (void) json_get_int(answer, "missing", &missing, NULL);
        if (drift > 0 || missing > 0)
                log_info("inventory of %d domains: the orchestrator found %lld drifted and %lld missing, and queued jobs",
                         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "domains")), (long long) drift,
                         (long long) missing);
        else
                log_debug("inventory of %d domains posted",
                          cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "domains")));
        return 0;
}

/* Post the results gathered so far; on failure they stay in the journal. */
static int agent_flush(struct agent *a, cJSON **results, int64_t *ids, size_t *n) {
        int r = 0;

        if (*n == 0)
                return 0;
        r = agent_post_results(a, *results, ids, *n);
        if (r < 0)
                log_warning("%zu result%s kept in the journal, to be posted after the next hello", *n, *n == 1 ? "" : "s");
        cJSON_Delete(*results);
        *results = cJSON_CreateArray();
        if (!*results)
                abort();
        *n = 0;
        return r;
}

static struct jobs_env agent_jobs_env(struct agent *a) {
        return (struct jobs_env) {
                .ops = a->ops, .hv = a->hv, .journal = a->journal, .net = a->net,
                .net_state = a->config->network.enabled ? a->config->network.state : NULL,
                .tunnels = a->tunnels,
                .wipes = a->wipes,
                .storage_pool = a->config->storage_pool,
                .wipe_sample_blocks = a->config->wipe.sample_blocks,
                .stops = a->stops,
        };
}

/* The sampler's turn (agent/usage.h): a stats call when one is due, the
 * queue sealed into the spool when a batch is. No network. Not before the
 * first hello: the samples' times are on the orchestrator's clock (R-RS1..
 * R-RS7 are computed on its calendar days). */
static void agent_metrics_tick(struct agent *a) {
        if (!a->usage || !a->clock_known)
                return;
        (void) usage_tick(a->usage, a->ops, a->hv, agent_now(), (int64_t) time(NULL) + a->clock_offset);
}

/* Long-poll, run what came, post the results: in batches, so that a long
 * list of jobs does not keep every result back until the last one is done. */
static int agent_poll(struct agent *a, unsigned wait) {
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL, *results = cJSON_CreateArray();
        _cleanup_free_ char *path = xasprintf("/v1/agent/jobs?wait=%u", wait);
        int64_t ids[AGENT_RESULTS_BATCH];
        const struct jobs_env env = agent_jobs_env(a);
        const cJSON *jobs, *job;
        size_t n = 0;
        int i = 0, total, r;
        double batch_start = 0;

        if (!results)
                abort();
        r = agent_call(a, "GET", path, NULL, (long) wait + AGENT_POLL_SLACK_S, true, false, &answer);
        if (r < 0)
                return r;
        jobs = cJSON_GetObjectItemCaseSensitive(answer, "jobs");
        if (!cJSON_IsArray(jobs)) {
                agent_problem(a, false, "GET %s: the answer has no \"jobs\" array", path);
                return -EBADMSG;
        }
        total = cJSON_GetArraySize(jobs);
        cJSON_ArrayForEach(job, jobs) {
                _cleanup_(cJSON_Deletep) cJSON *result = NULL;
                struct jobs_outcome out;
                struct gc_error err = {};
                char buf[GC_ERROR_FORMAT_MAX];

                if (agent_stop) {
                        log_notice("stopping: %d job%s left for the orchestrator to send again", total - i,
                                   total - i == 1 ? "" : "s");
                        break;
                }
                i++;
                agent_metrics_tick(a);  /* a long list of jobs leaves no gap in the samples */
                r = jobs_run(&env, job, &result, &out, &err);
                if (r < 0) {
                        log_error("a job was not run: %s", gc_error_format(&err, buf, sizeof buf));
                        continue;
                }
                if (!result)
                        continue;       /* a wipe in its thread: the result comes when it ends */
                if (n == 0)
                        batch_start = agent_now();
                ids[n++] = out.job;
                if (!cJSON_AddItemToArray(results, TAKE_PTR(result)))
                        abort();
                if (n == AGENT_RESULTS_BATCH || agent_now() - batch_start >= AGENT_RESULTS_FLUSH_S) {
                        r = agent_flush(a, &results, ids, &n);
                        if (r < 0)
                                return r;
                }
        }
        return agent_flush(a, &results, ids, &n);
}

/* R-EX3: how far the wipes are. Entries not taken by the orchestrator are
 * not sent again: the next change of each volume is. An orchestrator
 * without the endpoint (404) is told about once; the results still come.
 * Fails only when the orchestrator gives no answer. */
static int agent_post_wipe_progress(struct agent *a) {
        _cleanup_(cJSON_Deletep) cJSON *list = NULL;
        int r;

        if (!a->wipes || !(list = wipejobs_progress(a->wipes, a->clock_offset)))
                return 0;
        while (cJSON_GetArraySize(list) > 0) {
                _cleanup_(cJSON_Deletep) cJSON *body = cJSON_CreateObject(), *answer = NULL;
                cJSON *batch = cJSON_CreateArray(), *e;
                long status = 0;

                if (!body || !batch)
                        abort();
                for (int k = 0; k < AGENT_PROGRESS_BATCH && (e = cJSON_DetachItemFromArray(list, 0)); k++)
                        cJSON_AddItemToArray(batch, e);
                agent_add(body, "progress", batch);
                r = client_request(a->client, "POST", "/v1/agent/wipe-progress", body, AGENT_TIMEOUT_S, true, &status, &answer);
                if (r < 0)
                        return r;
                if (status == 404) {
                        if (!a->progress_unsupported)
                                log_notice("POST /v1/agent/wipe-progress: HTTP 404: this orchestrator takes no wipe progress; "
                                           "the wipes' results still come");
                        a->progress_unsupported = true;
                        return 0;
                }
                if (status != 200) {
                        _cleanup_free_ char *brief = agent_answer_brief(status, answer);
                        agent_problem(a, true, "POST /v1/agent/wipe-progress: %s", brief);
                        return 0;
                }
        }
        return 0;
}

/* The pending jobs that ended (jobs_collect: wipes, stops): the wipes'
 * progress first (their last entries count while the orchestrator has the
 * job as running), then the results, journalled as done before they are
 * posted. Between those, the progress of running wipes every
 * wipe.progress_seconds. */
static int agent_pending_report(struct agent *a) {
        _cleanup_(cJSON_Deletep) cJSON *results = NULL;
        _cleanup_free_ int64_t *ids = NULL;
        const struct jobs_env env = agent_jobs_env(a);
        double now = agent_now();
        size_t n = 0;
        int r;

        r = jobs_collect(&env, &results, &ids, &n);
        if (r < 0)
                return r;
        if (n > 0 || now >= a->next_progress) {
                r = agent_post_wipe_progress(a);
                if (r < 0)
                        return r;
                a->next_progress = now + a->config->wipe.progress_seconds;
        }
        if (n == 0)
                return 0;
        r = agent_post_results(a, results, ids, n);
        if (r < 0)
                log_warning("%zu result%s kept in the journal, to be posted after the next hello", n, n == 1 ? "" : "s");
        return r;
}

/* The utilization batches (agent/usage.h), oldest first, a few per turn:
 * each as the very bytes in its spool file (a cJSON raw item: the client
 * prints it as it is), since the orchestrator counts a batch once by the
 * digest of its bytes. The module keeps what is not taken and backs off by
 * itself; only no answer at all fails here (the loop then goes back to
 * hello, as for every call). */
static int agent_post_metrics(struct agent *a) {
        int r;

        if (!a->usage)
                return 0;
        for (unsigned k = 0; k < AGENT_METRICS_PER_TURN; k++) {
                const struct usage_batch *b = usage_next(a->usage, agent_now());
                _cleanup_(cJSON_Deletep) cJSON *raw = NULL, *answer = NULL;
                long status = 0;

                if (!b)
                        return 0;
                raw = cJSON_CreateRaw(b->body);
                if (!raw)
                        abort();
                r = client_request(a->client, "POST", "/v1/metrics", raw, AGENT_TIMEOUT_S, true, &status, &answer);
                if (r < 0) {
                        usage_unanswered(a->usage, agent_now());
                        return r;
                }
                (void) usage_answered(a->usage, status, answer, agent_now());
        }
        return 0;
}

/* R-OP3: the tunnels' refusals, sessions and closes, to the orchestrator.
 * Events stay in the tunnel state until a 200; an answer refusing them is
 * logged and they are tried again later (the orchestrator ignores an event
 * it has seen). Fails only when the orchestrator gives no answer. */
static int agent_post_tunnel_events(struct agent *a, long timeout_s, bool interruptible) {
        _cleanup_(cJSON_Deletep) cJSON *events = NULL, *body = NULL, *answer = NULL;
        long status = 0;
        int n, r;

        if (!a->tunnels || !(events = tunnels_events(a->tunnels)))
                return 0;
        n = cJSON_GetArraySize(events);
        body = cJSON_CreateObject();
        if (!body)
                abort();
        agent_add(body, "events", cJSON_Duplicate(events, true));
        r = client_request(a->client, "POST", "/v1/agent/tunnel-events", body, timeout_s, interruptible, &status, &answer);
        if (r < 0)
                return r;
        if (status != 200) {
                _cleanup_free_ char *brief = agent_answer_brief(status, answer);
                agent_problem(a, true, "POST /v1/agent/tunnel-events: %s; %d tunnel event%s kept for later", brief, n,
                              n == 1 ? "" : "s");
                return 0;
        }
        r = tunnels_events_posted(a->tunnels, events);
        if (r < 0)
                log_warning_errno(r, "tunnels: %d posted event%s not recorded as posted; they go again", n, n == 1 ? "" : "s");
        log_debug("tunnels: %d event%s posted", n, n == 1 ? "" : "s");
        return 0;
}

static bool agent_tunnels_busy(struct agent *a) {
        _cleanup_(cJSON_Deletep) cJSON *events = NULL;

        if (!a->tunnels)
                return false;
        if (tunnels_live(a->tunnels) > 0)
                return true;
        events = tunnels_events(a->tunnels);
        return events != NULL;
}

/* The tunnels module: what its state holds is acted on now (agent/tunnel.h). */
static int agent_tunnels_start(struct agent *a) {
        const struct config *c = a->config;
        const struct tunnel_config tc = {
                .cert = c->tls_cert, .key = c->tls_key, .ca = c->tls_ca,
                .state = c->tunnels.state,
                .port_min = c->tunnels.port_min, .port_max = c->tunnels.port_max,
                .net = a->net,
        };
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        int r;

        r = tunnels_open(&tc, &a->tunnels, &err);
        if (r < 0) {
                log_error("tunnels: %s", gc_error_format(&err, buf, sizeof buf));
                return r;
        }
        log_info("tunnels: state %s; %u listening%s", c->tunnels.state, tunnels_live(a->tunnels),
                 a->net ? "" : "; targets are dialled from this namespace (no network section)");
        return 0;
}

/* The network module, and the reconcile at start: VPCs of this host's
 * prefix that the state file does not list are removed, the listed ones
 * rebuilt where a piece is missing (R-NW1). */
static int agent_network_start(struct agent *a) {
        const struct config_network *cn = &a->config->network;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        struct net_vpc *known = NULL;
        size_t n_known = 0, removed = 0;
        int r;

        if (!cn->enabled) {
                log_warning("network: no network section in %s; VPC jobs build nothing on this host and VMs get no NIC",
                            a->config->path);
                return 0;
        }
        r = net_open(&cn->net, &a->net, &err);
        if (r < 0) {
                log_error("network: %s", gc_error_format(&err, buf, sizeof buf));
                return r;
        }
        r = jobs_vpc_state_load(cn->state, &known, &n_known);
        if (r < 0)
                return log_error_errno(r, "network: cannot read the VPC state %s", cn->state);
        r = net_reconcile(a->net, known, n_known, &removed, &err);
        jobs_vpc_state_free(known, n_known);
        if (r < 0) {
                log_error("network: reconcile: %s", gc_error_format(&err, buf, sizeof buf));
                return r;
        }
        log_info("network: prefix %s, underlay %s; %zu VPC%s in place, %zu stray removed", cn->net.prefix, cn->net.underlay,
                 n_known, n_known == 1 ? "" : "s", removed);
        return 0;
}

/* vm.wipe's module: its state directory, the key, the test options. */
static int agent_wipes_start(struct agent *a) {
        const struct config_wipe *cw = &a->config->wipe;
        const struct wipejob_config wc = {
                .key = a->wipe_key,
                .state_dir = cw->state_dir,
                .ops = a->ops,
                .hv = a->hv,
                .test_throttle_bps = a->wipe_throttle_bps,
                .test_corrupt = a->wipe_corrupt,
        };
        int r;

        r = wipejobs_new(&wc, &a->wipes);
        if (r < 0)
                return log_error_errno(r, "wipe: cannot start (state directory %s)", cw->state_dir);
        r = jobs_stops_new(&a->stops);
        if (r < 0)
                return r;
        if (a->wipe_key)
                log_info("wipe: certificates signed with %s, state in %s", cw->signing_key, cw->state_dir);
        else
                log_warning("wipe: no wipe.signing_key in %s: vm.wipe fails on this host (no certificate could be signed)",
                            a->config->path);
        return 0;
}

/* The utilization sampler, with the batches its spool holds from before. */
static int agent_metrics_start(struct agent *a) {
        const struct config_metrics *cm = &a->config->metrics;
        const struct usage_config uc = {
                .interval_seconds = cm->interval_seconds,
                .batch_seconds = cm->batch_seconds,
                .batch_max = cm->batch_max,
                .spool = cm->spool,
        };
        int r;

        if (!cm->enabled) {
                log_notice("metrics: off (metrics.enabled false in %s): the orchestrator gets no utilization figures "
                           "from this host", a->config->path);
                return 0;
        }
        r = usage_new(&uc, &a->usage);
        if (r < 0)
                return log_error_errno(r, "metrics: cannot start (spool %s)", cm->spool);
        log_info("metrics: every %u s, a batch every %u s or at %u samples; spool %s%s", cm->interval_seconds,
                 cm->batch_seconds, cm->batch_max, cm->spool, usage_pending(a->usage) > 0 ? "" : " (empty)");
        if (usage_pending(a->usage) > 0)
                log_info("metrics: %zu batch%s from before wait in the spool; they go first", usage_pending(a->usage),
                         usage_pending(a->usage) == 1 ? "" : "es");
        return 0;
}

/* Running wipes stop at a checkpoint; the results of those that ended
 * before go into the journal, and out if the orchestrator answers. */
static void agent_wipes_stop(struct agent *a) {
        _cleanup_(cJSON_Deletep) cJSON *results = NULL;
        _cleanup_free_ int64_t *ids = NULL;
        const struct jobs_env env = agent_jobs_env(a);
        size_t n = 0, running;

        if (!a->wipes)
                return;
        running = wipejobs_running(a->wipes);
        if (running > 0)
                log_notice("stopping %zu wipe%s; each resumes from its checkpoint when its job comes again", running,
                           running == 1 ? "" : "s");
        wipejobs_stop(a->wipes);
        if (jobs_collect(&env, &results, &ids, &n) >= 0 && n > 0 && a->client)
                (void) agent_post_results(a, results, ids, n);
}

int agent_run(struct agent *a) {
        const struct config *c = a->config;
        struct sigaction sa = { .sa_handler = agent_on_signal };
        bool hello = false;
        double next_heartbeat = 0;
        int r;

        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
                return log_error_errno(errno, "sigaction");
        (void) signal(SIGPIPE, SIG_IGN);

        r = journal_open(c->journal, JOURNAL_KEEP_DEFAULT, &a->journal);
        if (r < 0)
                return log_error_errno(r, "cannot open the journal %s", c->journal);
        r = agent_network_start(a);
        if (r < 0)
                return r;
        r = agent_tunnels_start(a);
        if (r < 0)
                return r;
        r = agent_wipes_start(a);
        if (r < 0)
                return r;
        r = agent_metrics_start(a);
        if (r < 0)
                return r;
        r = client_new(c->orchestrator, c->tls_cert, c->tls_key, c->tls_ca, &agent_stop, &a->client);
        if (r < 0)
                return log_error_errno(r, "cannot set up HTTPS to %s", c->orchestrator);
        log_info("gc-agent %s: orchestrator %s, hypervisor %s, journal %s", GC_VERSION, c->orchestrator,
                 c->libvirt_uri, c->journal);

        while (!agent_stop) {
                /* Samples go on while the orchestrator is away. */
                agent_metrics_tick(a);
                if (!hello) {
                        r = agent_hello(a);
                        if (r >= 0)
                                r = agent_post_unposted(a);
                        if (r < 0) {
                                if (client_backoff(a->client) < 0)
                                        break;
                                continue;
                        }
                        hello = true;
                        client_backoff_reset(a->client);
                        next_heartbeat = 0;
                }

                double now = agent_now();
                if (now >= next_heartbeat) {
                        r = agent_inventory(a);
                        if (r < 0) {
                                hello = false;
                                if (r != -ECANCELED && client_backoff(a->client) < 0)
                                        break;
                                continue;
                        }
                        next_heartbeat = now + a->heartbeat_seconds;
                }

                r = agent_post_tunnel_events(a, AGENT_TIMEOUT_S, true);
                if (r == -ECANCELED)
                        break;
                if (r < 0) {
                        hello = false;
                        if (client_backoff(a->client) < 0)
                                break;
                        continue;
                }

                double until = ceil(next_heartbeat - agent_now());
                unsigned wait = until < 1 ? 1 : until > a->poll_seconds ? a->poll_seconds : (unsigned) until;
                /* Session records reach the orchestrator within seconds (R-OP3). */
                if (wait > AGENT_TUNNEL_WAIT_S && agent_tunnels_busy(a))
                        wait = AGENT_TUNNEL_WAIT_S;
                /* So do the wipes' progress and their results (R-EX3). */
                if (wait > c->wipe.progress_seconds && wipejobs_running(a->wipes) > 0)
                        wait = c->wipe.progress_seconds;
                /* A vm.stop's domain is looked at between polls. */
                if (wait > AGENT_STOP_WAIT_S && jobs_stops_pending(a->stops) > 0)
                        wait = AGENT_STOP_WAIT_S;
                /* The next sample, or batch, is not held back by the long-poll. */
                if (a->usage) {
                        double due = ceil(usage_deadline(a->usage, agent_now()) - agent_now());
                        if (due < wait)
                                wait = due < 1 ? 1 : (unsigned) due;
                }
                r = agent_poll(a, wait);
                if (r >= 0)
                        r = agent_post_tunnel_events(a, AGENT_TIMEOUT_S, true);
                if (r >= 0)
                        r = agent_pending_report(a);
                if (r >= 0) {
                        agent_metrics_tick(a);
                        r = agent_post_metrics(a);
                }
                if (r == -ECANCELED)
                        break;
                if (r < 0) {
                        hello = false;
                        if (client_backoff(a->client) < 0)
                                break;
                }
        }
        log_notice("stopping on %s", agent_stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
        agent_wipes_stop(a);
        if (a->usage && usage_queued(a->usage) > 0) {
                /* Into the spool: the next start sends them. */
                log_info("metrics: %zu queued sample%s spooled for the next start", usage_queued(a->usage),
                         usage_queued(a->usage) == 1 ? "" : "s");
                (void) usage_seal(a->usage);
        }
        if (a->tunnels) {
                /* Sessions cut ("agent_stopped"); unused tunnels are listened
                 * for again at the next start, and the events of the stop are
                 * posted after it (they are in the tunnel state). */
                tunnels_close(a->tunnels);
                a->tunnels = NULL;
        }
        return 0;
}
