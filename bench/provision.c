/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Provisioning end to end: approved apply requests POSTed back to back over
 * one keep-alive TLS 1.3 connection, and the clock stopped when GET /v1/vms
 * shows every VM of them running, placed by the orchestrator on the hosts
 * of one pool and created by their gc-agent processes (each with its own
 * in-process libvirt test driver). The reference: this process defining and
 * starting domains of the same specs directly through the agent's own
 * libvirt backend (hv_libvirt_ops, the same domain XML) on test:///default.
 *
 * Run by bench/provision.sh, which starts gc-orchestrator and the agents
 * and registers the unit, the approval system and the hosts. Per phase
 * (--phase POOL:HOST=PID,HOST=PID...) this program registers the systems
 * with their agreements and signs the requests (not timed), then times:
 *
 *   end to end      from the first POST to the GET /v1/vms that shows all
 *                   the phase's VMs running;
 *   per request     from its 201 to the moment its last VM was seen running
 *                   (job.done records, read from GET /v1/audit every
 *                   --poll-ms, interleaved with the submissions);
 *
 * and prints each agent's VmRSS before and after, with the VMs its host
 * holds. Afterwards the reference defines and starts as many domains as the
 * largest phase. Prints the rates and their ratio; asserts nothing about
 * speed.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "alloc.h"
#include "approval.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "hv.h"
#include "json.h"
#include "log.h"
#include "naming.h"

#include "bench-http.h"

#define UNIT "\xe5\xb8\x82xx\xe5\xb1\x80"                                       /* 市xx局 */
#define SIGNATORY "\xe5\x8c\x85\xe5\xa4\xb4\xe5\xb8\x82\xe5\xa4\xa7\xe6\x95\xb0\xe6\x8d\xae\xe4\xb8\xad\xe5\xbf\x83" /* 包头市大数据中心 */
#define APPROVAL_SYSTEM "approval-oa"
#define REPLY_MAX (256 * 1024 * 1024)
#define PHASES_MAX 4
#define AGENTS_MAX 16

struct options {
        const char *url, *pki, *sample;
        int requests, vms_per_request;
        int poll_ms, timeout_s;
};

static double now_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* Nearest rank. */
static double percentile(const double *sorted, int n, double p) {
        int k = (int) ceil(p * n) - 1;
        return sorted[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* ---- one phase: its pool, its hosts and their agents ---- */

struct agent_proc {
        char host[64];
        long pid;
        long rss_before_kib, rss_after_kib;
        long vms;
};

struct vm_plan {
        char *name, *role;
        unsigned number;
        int request;                    /* index in the phase */
        double seen;                    /* first seen running; 0: not yet */
};

struct request_plan {
        char *system_name, *approval_id, *agreement, *body;
        size_t len;
        double t_accepted, t_running;
        int n_running;
};

struct phase {
        char pool[128];
        struct agent_proc agents[AGENTS_MAX];
        size_t n_agents;
        struct request_plan *req;
        struct vm_plan *vms;            /* sorted by name */
        size_t n_vms;
        int vcpus_max, memory_gib_max;
        /* results */
        double seconds, submit_seconds;
        double *latency;                /* per request, sorted */
        long connects;
        int systems_in_trial;
};

static void phase_done(struct phase *ph, int n) {
        for (int i = 0; ph->req && i < n; i++) {
                free(ph->req[i].system_name);
                free(ph->req[i].approval_id);
                free(ph->req[i].agreement);
                free(ph->req[i].body);
        }
        for (size_t k = 0; k < ph->n_vms; k++) {
                free(ph->vms[k].name);
                free(ph->vms[k].role);
        }
        free(ph->req);
        free(ph->vms);
        free(ph->latency);
}

/* "POOL:HOST=PID,HOST=PID" */
static int phase_parse(const char *arg, struct phase *ph) {
        const char *colon = strchr(arg, ':');
        if (!colon || colon == arg || (size_t) (colon - arg) >= sizeof ph->pool)
                return log_error_errno(-EINVAL, "--phase %s: not POOL:HOST=PID,...", arg);
        memcpy(ph->pool, arg, colon - arg);
        _cleanup_free_ char *list = xstrdup(colon + 1);
        char *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(tok, '=');
                if (!eq || ph->n_agents == AGENTS_MAX || (size_t) (eq - tok) >= sizeof ph->agents[0].host)
                        return log_error_errno(-EINVAL, "--phase %s: \"%s\" is not HOST=PID", arg, tok);
                struct agent_proc *a = &ph->agents[ph->n_agents++];
                memcpy(a->host, tok, eq - tok);
                a->pid = strtol(eq + 1, NULL, 10);
        }
        if (ph->n_agents == 0)
                return log_error_errno(-EINVAL, "--phase %s: no agents", arg);
        return 0;
}

static long rss_kib(long pid) {
        char path[64], line[256];
        long v = -1;
        snprintf(path, sizeof path, "/proc/%ld/status", pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
                        break;
        fclose(f);
        return v;
}

static int cmp_vm_name(const void *a, const void *b) {
        return strcmp(((const struct vm_plan *) a)->name, ((const struct vm_plan *) b)->name);
}

static struct vm_plan *vm_find(struct phase *ph, const char *name) {
        struct vm_plan key = { .name = (char *) name };
        return bsearch(&key, ph->vms, ph->n_vms, sizeof *ph->vms, cmp_vm_name);
}

static void set_string(cJSON *obj, const char *key, const char *value) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        cJSON_AddStringToObject(obj, key, value);
}

static void set_number(cJSON *obj, const char *key, double value) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        cJSON_AddNumberToObject(obj, key, value);
}

/* The sample made small: every row 1 vCPU, 1 GiB, 1 GiB system and data
 * disks; the first row's count set so that a request holds per VMs. */
static int sample_small(cJSON *sample, int per) {
        cJSON *rows = cJSON_GetObjectItemCaseSensitive(sample, "vms"), *row;
        int n_rows = cJSON_GetArraySize(rows), total = 0, i = 0;
        if (n_rows < 1)
                return log_error_errno(-EINVAL, "sample: no vms");
        cJSON_ArrayForEach(row, rows) {
                set_number(row, "vcpus", 1);
                set_number(row, "memory_gib", 1);
                cJSON *d = cJSON_GetObjectItemCaseSensitive(row, "system_disk");
                if (d)
                        set_number(d, "gib", 1);
                d = cJSON_GetObjectItemCaseSensitive(row, "data_disk");
                if (d)
                        set_number(d, "gib", 1);
                cJSON_DeleteItemFromObjectCaseSensitive(row, "names");
                if (i++ > 0) {
                        const cJSON *c = cJSON_GetObjectItemCaseSensitive(row, "count");
                        total += cJSON_IsNumber(c) ? (int) c->valuedouble : 1;
                }
        }
        if (per - total < 1)
                return log_error_errno(-EINVAL, "sample: the rows after the first hold %d VMs, not fewer than %d", total, per);
        set_number(cJSON_GetArrayItem(rows, 0), "count", per - total);
        return 0;
}

/* Request i of a phase: the sample with its own approval id and system,
 * approved now (+08:00), signed; its VMs named by the rule (R-NM2). */
static int prepare_one(struct phase *ph, int phase_no, const cJSON *sample, EVP_PKEY *key, int i) {
        struct request_plan *p = &ph->req[i];
        struct gc_error err = {};
        char t[64];
        time_t now = time(NULL) + 8 * 3600;
        struct tm tm;
        uint8_t md[GC_HASH_MAX];
        int r;

        gmtime_r(&now, &tm);
        strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
        p->system_name = xasprintf("\xe5\x8d\x8f\xe5\x90\x8c\xe5\x8a\x9e\xe5\x85\xac" "OA-P%d-%04d", phase_no, i + 1); /* 协同办公OA */
        p->approval_id = xasprintf("OA-PROV-%d-%06d", phase_no, i + 1);

        r = crypto_digest(GC_HASH_SHA256, p->system_name, strlen(p->system_name), md);
        if (r < 0)
                return log_error_errno(r, "sha256");
        _cleanup_free_ char *hex = crypto_hex(md, 32);
        _cleanup_free_ char *reference = xasprintf("SA-2026-P%d-%04d", phase_no, i + 1);
        _cleanup_(cJSON_Deletep) cJSON *agreement = cJSON_CreateObject();
        cJSON_AddStringToObject(agreement, "reference", reference);
        cJSON_AddStringToObject(agreement, "signed_on", "2026-11-01");
        cJSON *signatories = cJSON_AddArrayToObject(agreement, "signatories");
        cJSON_AddItemToArray(signatories, cJSON_CreateString(UNIT));
        cJSON_AddItemToArray(signatories, cJSON_CreateString(SIGNATORY));
        cJSON_AddStringToObject(agreement, "document_sha256", hex);
        p->agreement = cJSON_PrintUnformatted(agreement);

        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Duplicate(sample, true);
        cJSON *approval = cJSON_GetObjectItemCaseSensitive(doc, "approval");
        cJSON *system = cJSON_GetObjectItemCaseSensitive(doc, "system");
        if (!cJSON_IsObject(approval) || !cJSON_IsObject(system))
                return log_error_errno(-EINVAL, "sample: needs approval and system objects");
        set_string(doc, "unit", UNIT);
        set_string(doc, "pool", ph->pool);
        set_string(approval, "system", APPROVAL_SYSTEM);
        set_string(approval, "id", p->approval_id);
        set_string(approval, "time", t);
        set_string(system, "name", p->system_name);
        r = approval_sign(doc, key, &err);
        if (r < 0)
                return log_error_errno(r, "approval_sign: %s", err.message);
        p->body = cJSON_PrintUnformatted(doc);
        p->len = strlen(p->body);

        /* Numbers count per role from 1 in a new system. */
        const cJSON *row;
        cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(doc, "vms")) {
                const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "role"));
                const cJSON *count = cJSON_GetObjectItemCaseSensitive(row, "count");
                int c = cJSON_IsNumber(count) ? (int) count->valuedouble : 1;
                unsigned base = 0;
                if (!role)
                        return log_error_errno(-EINVAL, "sample: a VM without a role");
                for (size_t k = 0; k < ph->n_vms; k++)
                        if (ph->vms[k].request == i && strcmp(ph->vms[k].role, role) == 0 && ph->vms[k].number > base)
                                base = ph->vms[k].number;
                for (int k = 0; k < c; k++) {
                        struct vm_plan *vm = &ph->vms[ph->n_vms];
                        struct naming_parts parts = { UNIT, p->system_name, role, base + k + 1 };
                        *vm = (struct vm_plan) { .number = base + k + 1, .request = i, .role = xstrdup(role) };
                        ph->n_vms++;
                        if (naming_build(&parts, &vm->name, &err) < 0)
                                return log_error_errno(-EINVAL, "sample: %s: %s", err.field, err.message);
                }
        }
        return 0;
}

static int register_systems(const struct options *o, struct phase *ph) {
        struct http h;
        int r = http_open(&h, "bench-provision", o->url, o->pki, "authority-authority", REPLY_MAX, 120L);
        for (int i = 0; r >= 0 && i < o->requests; i++) {
                _cleanup_(cJSON_Deletep) cJSON *body = cJSON_CreateObject(), *reply = NULL;
                cJSON_AddStringToObject(body, "unit", UNIT);
                cJSON_AddStringToObject(body, "name", ph->req[i].system_name);
                cJSON_AddNumberToObject(body, "mlps_level", 2);
                cJSON_AddStringToObject(body, "availability", "99.9%");
                cJSON_AddBoolToObject(body, "classified", false);
                _cleanup_free_ char *text = cJSON_PrintUnformatted(body);
                r = http_expect(&h, "POST", "/v1/systems", text, 201, &reply);
                if (r < 0)
                        break;
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(reply, "system"), "id");
                if (!cJSON_IsNumber(id)) {
                        r = log_error_errno(-EBADMSG, "POST /v1/systems: no system.id in the reply");
                        break;
                }
                _cleanup_free_ char *path = xasprintf("/v1/systems/%lld/agreement", (long long) id->valuedouble);
                r = http_expect(&h, "PUT", path, ph->req[i].agreement, 200, NULL);
        }
        http_close(&h);
        return r;
}

/* The pool's largest flavour: the maximums the orchestrator gives each VM. */
static int pool_bounds(struct http *h, struct phase *ph) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        const cJSON *p;
        int r = http_expect(h, "GET", "/v1/pools", NULL, 200, &doc);
        if (r < 0)
                return r;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "pools")) {
                if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "name")) ?: "", ph->pool) != 0)
                        continue;
                const cJSON *fl = cJSON_GetObjectItemCaseSensitive(p, "flavours");
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(fl, "vcpus"), "max");
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(fl, "memory_gib"), "max");
                if (!cJSON_IsNumber(v) || !cJSON_IsNumber(m))
                        break;
                ph->vcpus_max = (int) v->valuedouble;
                ph->memory_gib_max = (int) m->valuedouble;
                return 0;
        }
        return log_error_errno(-ENOENT, "GET /v1/pools: no pool %s with flavour bounds", ph->pool);
}

/* Every host of the phase up, with a capacity from its agent's hello. */
static int hosts_wait(struct http *h, struct phase *ph, int timeout_s, bool counts) {
        double deadline = now_seconds() + timeout_s;
        for (;;) {
                _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
                size_t up = 0;
                int r = http_expect(h, "GET", "/v1/hosts", NULL, 200, &doc);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < ph->n_agents; i++) {
                        const cJSON *x;
                        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(doc, "hosts")) {
                                if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "name")) ?: "", ph->agents[i].host) != 0)
                                        continue;
                                const cJSON *vcpus = cJSON_GetObjectItemCaseSensitive(x, "vcpus");
                                const cJSON *n = cJSON_GetObjectItemCaseSensitive(x, "vm_count");
                                if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "state")) ?: "", "up") == 0 &&
                                    cJSON_IsNumber(vcpus) && vcpus->valuedouble > 0)
                                        up++;
                                if (counts)
                                        ph->agents[i].vms = cJSON_IsNumber(n) ? (long) n->valuedouble : -1;
                        }
                }
                if (up == ph->n_agents)
                        return 0;
                if (now_seconds() > deadline)
                        return log_error_errno(-ETIMEDOUT, "pool %s: %zu of %zu hosts up after %d s", ph->pool, up,
                                               ph->n_agents, timeout_s);
                usleep(100 * 1000);
        }
}

/* Read the audit records after *seq: each job.done of a VM of the phase
 * that reports it running marks the VM seen (at t). */
static int audit_poll(struct http *h, struct phase *ph, int64_t *seq, size_t *n_seen, double t) {
        for (;;) {
                _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
                _cleanup_free_ char *path = xasprintf("/v1/audit?after=%lld&limit=1000", (long long) *seq);
                const cJSON *rec;
                int n = 0;
                int r = http_expect(h, "GET", path, NULL, 200, &doc);
                if (r < 0)
                        return r;
                cJSON_ArrayForEach(rec, cJSON_GetObjectItemCaseSensitive(doc, "records")) {
                        const cJSON *s = cJSON_GetObjectItemCaseSensitive(rec, "seq");
                        if (cJSON_IsNumber(s))
                                *seq = (int64_t) s->valuedouble;
                        n++;
                        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "action")) ?: "", "job.done") != 0)
                                continue;
                        const cJSON *d = cJSON_GetObjectItemCaseSensitive(rec, "detail");
                        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "vm"));
                        const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "state"));
                        struct vm_plan *vm = name ? vm_find(ph, name) : NULL;
                        if (!vm || vm->seen > 0 || !state || strcmp(state, "running") != 0)
                                continue;
                        vm->seen = t;
                        (*n_seen)++;
                        struct request_plan *p = &ph->req[vm->request];
                        p->n_running++;
                        if (t > p->t_running)
                                p->t_running = t;
                }
                if (n < 1000)
                        return 0;
        }
}

/* GET /v1/vms: how many VMs of the phase are running. */
static int vms_running(struct http *h, struct phase *ph, size_t *ret) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        const cJSON *v;
        size_t n = 0;
        int r = http_expect(h, "GET", "/v1/vms", NULL, 200, &doc);
        if (r < 0)
                return r;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "vms")) {
                const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "name"));
                const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "state"));
                if (name && state && strcmp(state, "running") == 0 && vm_find(ph, name))
                        n++;
        }
        *ret = n;
        return 0;
}

static int systems_in_trial(struct http *h, struct phase *ph, int *ret) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        const cJSON *s;
        int n = 0;
        int r = http_expect(h, "GET", "/v1/systems", NULL, 200, &doc);
        if (r < 0)
                return r;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "systems")) {
                const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "name"));
                const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "state"));
                if (!name || !state || strcmp(state, "trial") != 0)
                        continue;
                for (int i = 0; ph->req[i].system_name; i++)
                        if (strcmp(ph->req[i].system_name, name) == 0) {
                                n++;
                                break;
                        }
        }
        *ret = n;
        return 0;
}

static int run_phase(const struct options *o, struct phase *ph) {
        struct http sub = {}, view = {};
        int64_t seq = 0;
        size_t seen = 0, running = 0;
        long status, c;
        int r;

        r = http_open(&sub, "bench-provision", o->url, o->pki, "approval-approval-oa", REPLY_MAX, 120L);
        if (r >= 0)
                r = http_open(&view, "bench-provision", o->url, o->pki, "authority-authority", REPLY_MAX, 120L);
        if (r >= 0)
                r = hosts_wait(&view, ph, 30, false);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < ph->n_agents; i++)
                ph->agents[i].rss_before_kib = rss_kib(ph->agents[i].pid);
        /* The audit's end, and both connections open, before the clock. */
        r = audit_poll(&view, ph, &seq, &seen, 0);
        if (r >= 0)
                r = http_expect(&sub, "GET", "/healthz", NULL, 200, NULL);
        if (r < 0)
                goto out;

        double t0 = now_seconds(), last_poll = t0, deadline = t0 + o->timeout_s;
        int next = 0;
        while (next < o->requests || seen < ph->n_vms) {
                if (next < o->requests) {
                        struct request_plan *p = &ph->req[next];
                        r = http_call(&sub, "POST", "/v1/requests", p->body, p->len, &status, &c);
                        if (r < 0)
                                goto out;
                        p->t_accepted = now_seconds();
                        if (status != 201) {
                                fprintf(stderr, "bench-provision: POST /v1/requests (%s): HTTP %ld, expected 201: %.600s\n",
                                        p->approval_id, status, sub.reply.data ?: "");
                                r = -EPROTO;
                                goto out;
                        }
                        ph->connects += c;
                        if (++next == o->requests)
                                ph->submit_seconds = now_seconds() - t0;
                }
                double t = now_seconds();
                if (next < o->requests && t - last_poll < o->poll_ms / 1e3)
                        continue;
                if (next == o->requests && t - last_poll < o->poll_ms / 1e3)
                        usleep((useconds_t) ((o->poll_ms / 1e3 - (t - last_poll)) * 1e6));
                last_poll = now_seconds();
                r = audit_poll(&view, ph, &seq, &seen, last_poll);
                if (r < 0)
                        goto out;
                if (last_poll > deadline) {
                        r = log_error_errno(-ETIMEDOUT, "pool %s: %zu of %zu VMs seen running after %d s", ph->pool, seen,
                                            ph->n_vms, o->timeout_s);
                        goto out;
                }
        }
        /* Every job.done is in; the clock stops when GET /v1/vms agrees. */
        for (;;) {
                r = vms_running(&view, ph, &running);
                if (r < 0)
                        goto out;
                if (running == ph->n_vms)
                        break;
                if (now_seconds() > deadline) {
                        r = log_error_errno(-ETIMEDOUT, "pool %s: GET /v1/vms shows %zu of %zu VMs running after %d s",
                                            ph->pool, running, ph->n_vms, o->timeout_s);
                        goto out;
                }
                usleep((useconds_t) o->poll_ms * 1000);
        }
        ph->seconds = now_seconds() - t0;

        ph->latency = xnew(double, o->requests);
        for (int i = 0; i < o->requests; i++)
                ph->latency[i] = ph->req[i].t_running - ph->req[i].t_accepted;
        qsort(ph->latency, o->requests, sizeof(double), cmp_double);
        for (size_t i = 0; i < ph->n_agents; i++)
                ph->agents[i].rss_after_kib = rss_kib(ph->agents[i].pid);
        r = hosts_wait(&view, ph, 30, true);
        if (r >= 0) {
                /* The systems reach trial with the results that complete them. */
                double until = now_seconds() + 10;
                do {
                        r = systems_in_trial(&view, ph, &ph->systems_in_trial);
                        if (r < 0 || ph->systems_in_trial == o->requests)
                                break;
                        usleep(100 * 1000);
                } while (now_seconds() < until);
        }
out:
        http_close(&sub);
        http_close(&view);
        return r;
}

/* ---- the reference: the same domains through hv_libvirt_ops directly ---- */

static int run_reference(const struct phase *ph, double *ret_seconds, size_t *ret_listed) {
        _cleanup_free_ struct hv_spec *specs = xnew(struct hv_spec, ph->n_vms);
        struct hv *hv = NULL;
        int r;

        for (size_t i = 0; i < ph->n_vms; i++) {
                const struct vm_plan *vm = &ph->vms[i];
                struct hv_spec *s = &specs[i];
                uint8_t u[16];
                r = crypto_random(u, sizeof u);
                if (r < 0)
                        goto out;
                u[6] = (u[6] & 0x0f) | 0x40;
                u[8] = (u[8] & 0x3f) | 0x80;
                snprintf(s->uuid, sizeof s->uuid,
                         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
                s->title = xstrdup(vm->name);
                s->labels = (struct hv_labels) {
                        .unit = xstrdup(UNIT),
                        .system = xstrdup(ph->req[vm->request].system_name),
                        .role = xstrdup(vm->role),
                        .number = vm->number,
                        .request = vm->request + 1,
                        .pool = xstrdup(ph->pool),
                };
                snprintf(s->arch, sizeof s->arch, "x86_64");
                s->vcpus = 1;
                s->max_vcpus = ph->vcpus_max > 1 ? ph->vcpus_max : 1;
                s->memory_mib = 1024;
                s->max_memory_mib = ph->memory_gib_max > 1 ? (uint64_t) ph->memory_gib_max * 1024 : 1024;
                s->disks[0] = (struct hv_disk) { .name = "system", .gib = 1 };
                s->disks[1] = (struct hv_disk) { .name = "data", .gib = 1 };
                s->n_disks = 2;
        }

        r = hv_libvirt_ops.open("test:///default", "default-pool", &hv);
        if (r < 0)
                goto out;
        double t0 = now_seconds();
        for (size_t i = 0; i < ph->n_vms; i++) {
                r = hv_libvirt_ops.define(hv, &specs[i]);
                if (r >= 0)
                        r = hv_libvirt_ops.start(hv, specs[i].uuid);
                if (r < 0) {
                        log_error_errno(r, "reference: domain %zu (%s)", i, specs[i].uuid);
                        goto out;
                }
        }
        *ret_seconds = now_seconds() - t0;

        struct hv_domain *list = NULL;
        size_t n = 0, running = 0;
        r = hv_libvirt_ops.list(hv, &list, &n);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < n; i++)
                running += list[i].state == HV_STATE_RUNNING;
        hv_domains_free(list, n);
        *ret_listed = running;
out:
        if (hv)
                hv_libvirt_ops.close(hv);
        for (size_t i = 0; i < ph->n_vms; i++)
                hv_spec_done(&specs[i]);
        return r;
}

/* ---- main ---- */

static void help(void) {
        printf("Usage: bench-provision --url URL --pki DIR --sample FILE --phase POOL:HOST=PID,... [--phase ...]\n"
               "                       [--requests N] [--vms-per-request M] [--poll-ms MS] [--timeout S]\n"
               "\n"
               "Per phase: registers N systems with their agreements, signs N apply requests\n"
               "of M small VMs each into POOL, POSTs them back to back over one keep-alive\n"
               "connection and times them until GET /v1/vms shows every VM running; reads\n"
               "the agents' VmRSS (/proc/PID/status) before and after. Then defines and\n"
               "starts as many domains of the same specs directly on test:///default.\n"
               "Defaults: N 100, M 10, poll every 20 ms, time out after 600 s.\n"
               "Run by bench/provision.sh.\n");
}

static void print_phase(const struct options *o, const struct phase *ph, double ref_rate) {
        double rate = ph->n_vms / ph->seconds;
        printf("\n== pool %s: %zu agent%s, %d apply requests of %d VMs (%zu VMs) ==\n", ph->pool, ph->n_agents,
               ph->n_agents == 1 ? "" : "s", o->requests, o->vms_per_request, ph->n_vms);
        printf("%-26s %8.1f VMs/s (%.3f s from the first POST until GET /v1/vms shows all %zu running)\n",
               "end to end:", rate, ph->seconds, ph->n_vms);
        printf("%-26s %8.3g x of the reference (end-to-end rate / reference rate)\n", "ratio:", rate / ref_rate);
        printf("%-26s %8.3f s for %d POSTs (201 each; %ld new connection%s while timed)\n", "submission:",
               ph->submit_seconds, o->requests, ph->connects, ph->connects == 1 ? "" : "s");
        printf("%-26s p50 %.3f s, p99 %.3f s, max %.3f s (from its 201 until its last VM's job.done, polled every %d ms)\n",
               "request -> all running:", percentile(ph->latency, o->requests, 0.50),
               percentile(ph->latency, o->requests, 0.99), ph->latency[o->requests - 1], o->poll_ms);
        printf("%-26s %d of %d\n", "systems in trial:", ph->systems_in_trial, o->requests);
        for (size_t i = 0; i < ph->n_agents; i++) {
                const struct agent_proc *a = &ph->agents[i];
                printf("agent %-20s VmRSS %7.1f MiB with %4ld VMs on its host (%.1f MiB before; %+.1f KiB per VM)\n",
                       a->host, a->rss_after_kib / 1024.0, a->vms, a->rss_before_kib / 1024.0,
                       a->vms > 0 ? (double) (a->rss_after_kib - a->rss_before_kib) / a->vms : 0.0);
        }
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "url", required_argument, NULL, 'u' },
                { "pki", required_argument, NULL, 'p' },
                { "sample", required_argument, NULL, 's' },
                { "phase", required_argument, NULL, 'P' },
                { "requests", required_argument, NULL, 'n' },
                { "vms-per-request", required_argument, NULL, 'm' },
                { "poll-ms", required_argument, NULL, 'i' },
                { "timeout", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct options o = { .requests = 100, .vms_per_request = 10, .poll_ms = 20, .timeout_s = 600 };
        struct phase phases[PHASES_MAX] = {};
        size_t n_phases = 0;
        int c, r;

        log_set_component("bench-provision");
        log_set_max_level(LOG_LEVEL_WARNING);
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0)
                switch (c) {
                case 'u':
                        o.url = optarg;
                        break;
                case 'p':
                        o.pki = optarg;
                        break;
                case 's':
                        o.sample = optarg;
                        break;
                case 'P':
                        if (n_phases == PHASES_MAX || phase_parse(optarg, &phases[n_phases]) < 0)
                                return 2;
                        n_phases++;
                        break;
                case 'n':
                        o.requests = atoi(optarg);
                        break;
                case 'm':
                        o.vms_per_request = atoi(optarg);
                        break;
                case 'i':
                        o.poll_ms = atoi(optarg);
                        break;
                case 't':
                        o.timeout_s = atoi(optarg);
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (!o.url || !o.pki || !o.sample || n_phases == 0 || o.requests < 1 || o.vms_per_request < 2 || o.poll_ms < 1 ||
            o.timeout_s < 1 || optind < argc) {
                help();
                return 2;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return 1;

        _cleanup_(cJSON_Deletep) cJSON *sample = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *key_path = xasprintf("%s/sign/approval-approval-oa.key", o.pki);
        struct gc_error err = {};
        r = json_parse_file(o.sample, 1024 * 1024, &sample, &err);
        if (r < 0) {
                log_error("%s: %s: %s", o.sample, err.field, err.message);
                goto out;
        }
        r = sample_small(sample, o.vms_per_request);
        if (r >= 0)
                r = crypto_key_load_private(key_path, &key);
        if (r < 0) {
                log_error_errno(r, "%s", key_path);
                goto out;
        }

        size_t largest = 0;
        for (size_t k = 0; k < n_phases; k++) {
                struct phase *ph = &phases[k];
                struct http view;
                ph->req = xnew(struct request_plan, o.requests + 1);     /* NULL-terminated by system_name */
                ph->vms = xnew(struct vm_plan, (size_t) o.requests * o.vms_per_request);
                for (int i = 0; i < o.requests; i++) {
                        r = prepare_one(ph, (int) k + 1, sample, key, i);
                        if (r < 0)
                                goto out;
                }
                qsort(ph->vms, ph->n_vms, sizeof *ph->vms, cmp_vm_name);
                r = register_systems(&o, ph);
                if (r >= 0)
                        r = http_open(&view, "bench-provision", o.url, o.pki, "authority-authority", REPLY_MAX, 120L);
                if (r >= 0) {
                        r = pool_bounds(&view, ph);
                        http_close(&view);
                }
                if (r < 0)
                        goto out;
                r = run_phase(&o, ph);
                if (r < 0)
                        goto out;
                if (ph->n_vms > phases[largest].n_vms)
                        largest = k;
        }

        double ref_seconds = 0;
        size_t listed = 0;
        r = run_reference(&phases[largest], &ref_seconds, &listed);
        if (r < 0)
                goto out;
        if (listed != phases[largest].n_vms) {
                r = log_error_errno(-EBADMSG, "reference: %zu domains running, expected %zu", listed, phases[largest].n_vms);
                goto out;
        }
        double ref_rate = phases[largest].n_vms / ref_seconds;
        printf("reference: %zu domains defined and started by one process through hv_libvirt_ops on test:///default\n"
               "%-26s %8.1f VMs/s (%.3f s; the same specs and domain XML as the agents', two sparse 1 GiB volumes each)\n",
               phases[largest].n_vms, "reference:", ref_rate, ref_seconds);
        for (size_t k = 0; k < n_phases; k++)
                print_phase(&o, &phases[k], ref_rate);
out:
        for (size_t k = 0; k < n_phases; k++)
                phase_done(&phases[k], o.requests);
        curl_global_cleanup();
        return r < 0 ? 1 : 0;
}
