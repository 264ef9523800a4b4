/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intake throughput: approved apply requests (3 VMs each) POSTed one after
 * another over one keep-alive TLS 1.3 connection, each answered 201 once
 * accepted and committed, against the reference of a bare SQLite loop that
 * writes the same rows accept() writes (the request, the system's new
 * state, the VMs, the audit record, the transition) in one transaction per
 * request, through the orchestrator's own store (same pragmas: WAL,
 * synchronous=FULL, foreign keys) into a file in the same directory, in the
 * same process. Afterwards both databases must hold the same rows.
 *
 * Run by bench/intake.sh, which starts gc-orchestrator and registers the
 * unit and the approval system; this program registers the systems and
 * their agreements (not timed), signs the requests (not timed), then times
 * both loops. Prints both rates, the ratio and the mean latencies; asserts
 * nothing about speed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "alloc.h"
#include "approval.h"
#include "audit.h"
#include "buf.h"
#include "cleanup.h"
#include "config.h"
#include "crypto.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "naming.h"
#include "store.h"
#include "trial.h"

#include "bench-http.h"

#define UNIT "\xe5\xb8\x82xx\xe5\xb1\x80"                                       /* 市xx局 */
#define SYSTEM_PREFIX "\xe5\x8d\x8f\xe5\x90\x8c\xe5\x8a\x9e\xe5\x85\xac" "OA"    /* 协同办公OA */
#define APPROVAL_SYSTEM "approval-oa"
#define REPLY_MAX (1024 * 1024)

struct options {
        const char *url, *pki, *config, *sample, *api_db, *reference_db;
        int n;
};

static double now_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- what the orchestrator and the reference are given ---- */

struct vm_row {
        char *name, *role, *spec;
        unsigned number;
};

struct prepared {
        char *system_name;
        char *agreement;                /* the agreement's JSON text, as stored */
        char *approval_id;
        char *body;                     /* the signed request: also the stored document */
        size_t len;
        char digest[80];
        struct vm_row *vms;
        size_t n_vms;
};

static void prepared_free(struct prepared *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(p[i].system_name);
                free(p[i].agreement);
                free(p[i].approval_id);
                free(p[i].body);
                for (size_t k = 0; k < p[i].n_vms; k++) {
                        free(p[i].vms[k].name);
                        free(p[i].vms[k].role);
                        free(p[i].vms[k].spec);
                }
                free(p[i].vms);
        }
        free(p);
}

static cJSON *vm_spec(const cJSON *row) {
        static const char *const keys[] = { "type", "arch", "vcpus", "memory_gib", "system_disk", "data_disk", "os", "network", "ports" };
        cJSON *spec = cJSON_CreateObject();
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, keys[i]);
                cJSON_AddItemToObject(spec, keys[i], v ? cJSON_Duplicate(v, true) : cJSON_CreateArray());
        }
        return spec;
}


/* The VMs accept() stores for a system that has none yet: names built by
 * the naming rule, numbers counted per role (R-NM2). */
static int plan_vms(struct prepared *p, const char *unit, const cJSON *rows) {
        const cJSON *row;
        cJSON_ArrayForEach(row, rows) {
                const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "role"));
                const cJSON *count = cJSON_GetObjectItemCaseSensitive(row, "count");
                long c = cJSON_IsNumber(count) ? (long) count->valuedouble : 1;
                if (!role || c < 1 || cJSON_GetObjectItemCaseSensitive(row, "names"))
                        return log_error_errno(-EINVAL, "sample: each of vms[] needs a role and a count, and no names");
                unsigned base = 0;
                for (size_t k = 0; k < p->n_vms; k++)
                        if (strcmp(p->vms[k].role, role) == 0 && p->vms[k].number > base)
                                base = p->vms[k].number;
                _cleanup_(cJSON_Deletep) cJSON *spec = vm_spec(row);
                p->vms = xrealloc(p->vms, (p->n_vms + c) * sizeof *p->vms);
                for (long k = 0; k < c; k++) {
                        struct vm_row *vm = &p->vms[p->n_vms];
                        struct naming_parts parts = { unit, p->system_name, role, base + k + 1 };
                        struct gc_error err = {};
                        *vm = (struct vm_row) { .number = base + k + 1 };
                        if (naming_build(&parts, &vm->name, &err) < 0)
                                return log_error_errno(-EINVAL, "sample: %s: %s", err.field, err.message);
                        vm->role = xstrdup(role);
                        vm->spec = cJSON_PrintUnformatted(spec);
                        p->n_vms++;
                }
        }
        return 0;
}

static void set_string(cJSON *obj, const char *key, const char *value) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        cJSON_AddStringToObject(obj, key, value);
}

/* Request i of the run: the sample with its own approval id, the i-th
 * system, approved now (+08:00), signed by the approval system. */
static int prepare_one(struct prepared *p, const cJSON *sample, EVP_PKEY *key, int i) {
        struct gc_error err = {};
        char t[64];
        time_t now = time(NULL) + 8 * 3600;
        struct tm tm;
        int r;

        gmtime_r(&now, &tm);
        strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S+08:00", &tm);

        p->system_name = xasprintf(SYSTEM_PREFIX "-%04d", i + 1);
        p->approval_id = xasprintf("OA-BENCH-%06d", i + 1);

        /* R-SC1: the agreement on record before provisioning. */
        uint8_t md[GC_HASH_MAX];
        r = crypto_digest(GC_HASH_SHA256, p->system_name, strlen(p->system_name), md);
        if (r < 0)
                return log_error_errno(r, "sha256");
        _cleanup_free_ char *hex = crypto_hex(md, 32);
        _cleanup_(cJSON_Deletep) cJSON *agreement = cJSON_CreateObject();
        _cleanup_free_ char *reference = xasprintf("SA-2026-%04d", i + 1);
        cJSON_AddStringToObject(agreement, "reference", reference);
        cJSON_AddStringToObject(agreement, "signed_on", "2026-11-01");
        cJSON *signatories = cJSON_AddArrayToObject(agreement, "signatories");
        cJSON_AddItemToArray(signatories, cJSON_CreateString(UNIT));
        cJSON_AddItemToArray(signatories, cJSON_CreateString("\xe5\x8c\x85\xe5\xa4\xb4\xe5\xb8\x82\xe5\xa4\xa7\xe6\x95\xb0\xe6\x8d\xae\xe4\xb8\xad\xe5\xbf\x83"));  /* 包头市大数据中心 */
        cJSON_AddStringToObject(agreement, "document_sha256", hex);
        p->agreement = cJSON_PrintUnformatted(agreement);

        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Duplicate(sample, true);
        cJSON *approval = cJSON_GetObjectItemCaseSensitive(doc, "approval");
        cJSON *system = cJSON_GetObjectItemCaseSensitive(doc, "system");
        const char *unit = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "unit"));
        if (!cJSON_IsObject(approval) || !cJSON_IsObject(system) || !unit || strcmp(unit, UNIT) != 0)
                return log_error_errno(-EINVAL, "sample: needs approval and system objects and unit " UNIT);
        set_string(approval, "system", APPROVAL_SYSTEM);
        set_string(approval, "id", p->approval_id);
        set_string(approval, "time", t);
        set_string(system, "name", p->system_name);

        r = approval_sign(doc, key, &err);
        if (r < 0)
                return log_error_errno(r, "approval_sign: %s", err.message);
        p->body = cJSON_PrintUnformatted(doc);
        p->len = strlen(p->body);

        _cleanup_free_ char *signed_bytes = NULL;
        size_t signed_len;
        r = approval_signed_bytes(doc, &signed_bytes, &signed_len, &err);
        if (r >= 0)
                r = crypto_digest(GC_HASH_SM3, signed_bytes, signed_len, md);
        if (r < 0)
                return log_error_errno(r, "digest of the signed bytes");
        _cleanup_free_ char *dhex = crypto_hex(md, 32);
        snprintf(p->digest, sizeof p->digest, "sm3:%s", dhex);

        return plan_vms(p, unit, cJSON_GetObjectItemCaseSensitive(doc, "vms"));
}

/* ---- setup through the API (not timed) ---- */

static int register_systems(const struct options *o, const struct prepared *p) {
        struct http h;
        int r = http_open(&h, "bench-intake", o->url, o->pki, "authority-authority", REPLY_MAX, 60L);
        for (int i = 0; r >= 0 && i < o->n; i++) {
                _cleanup_(cJSON_Deletep) cJSON *body = cJSON_CreateObject(), *reply = NULL;
                cJSON_AddStringToObject(body, "unit", UNIT);
                cJSON_AddStringToObject(body, "name", p[i].system_name);
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
                r = http_expect(&h, "PUT", path, p[i].agreement, 200, NULL);
        }
        http_close(&h);
        return r;
}

/* ---- the two timed loops ---- */

struct timing {
        double total;                   /* seconds */
        double *each;                   /* seconds per request, sorted after the run */
};

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static int run_api(const struct options *o, const struct prepared *p, struct timing *t, long *ret_connects) {
        struct http h;
        long status, connects = 0, c;
        int r = http_open(&h, "bench-intake", o->url, o->pki, "approval-approval-oa", REPLY_MAX, 60L);
        if (r >= 0)
                r = http_expect(&h, "GET", "/healthz", NULL, 200, NULL);     /* the connection, before the clock */
        if (r < 0)
                goto out;
        double t0 = now_seconds();
        for (int i = 0; i < o->n; i++) {
                double t1 = now_seconds();
                r = http_call(&h, "POST", "/v1/requests", p[i].body, p[i].len, &status, &c);
                if (r < 0)
                        goto out;
                if (status != 201) {
                        fprintf(stderr, "bench-intake: POST /v1/requests (%s): HTTP %ld, expected 201: %s\n",
                                p[i].approval_id, status, h.reply.data ?: "");
                        r = -EPROTO;
                        goto out;
                }
                t->each[i] = now_seconds() - t1;
                connects += c;
        }
        t->total = now_seconds() - t0;
        *ret_connects = connects;
out:
        http_close(&h);
        return r;
}

struct reference {
        struct store *store;
        enum gc_hash_alg hash;
        const char *pool;
        long trial_length;
        int64_t *system_ids;
};

/* The rows of a fresh store: the unit, the pool, the approval system and
 * the systems with their agreements, as registration leaves them. */
static int reference_fill(const struct options *o, struct reference *ref, const struct config *cfg,
                          const struct prepared *p) {
        struct store *s = ref->store;
        int64_t now = time(NULL), unit_id;
        _cleanup_free_ char *pub_path = xasprintf("%s/sign/approval-approval-oa.pub", o->pki);
        _cleanup_free_ char *pem = NULL, *fp = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        enum gc_key_type type;
        size_t len;

        int r = gc_read_file(pub_path, 64 * 1024, &pem, &len);
        if (r >= 0)
                r = crypto_key_public_from_pem(pem, len, &key);
        if (r >= 0)
                r = crypto_key_type(key, &type);
        if (r >= 0)
                r = crypto_key_fingerprint(key, &fp);
        if (r < 0)
                return log_error_errno(r, "%s", pub_path);

        r = store_begin(s);
        if (r < 0)
                return r;
        r = store_query_int(s, "INSERT INTO units (name, created) VALUES (?, ?) RETURNING id",
                            STORE_ARGS(STORE_TEXT(UNIT), STORE_INT(now)), &unit_id);
        for (size_t i = 0; r >= 0 && i < cfg->n_pools; i++)
                r = store_exec(s, "INSERT INTO pools (name, pack, updated) VALUES (?, ?, ?)",
                               STORE_ARGS(STORE_TEXT(cfg->pools[i].name), STORE_TEXT(cfg->pools[i].pack->id), STORE_INT(now)),
                               NULL);
        if (r >= 0)
                r = store_exec(s, "INSERT INTO hosts (name, pool, underlay_address, operations_address, state, created, "
                                  "vcpus, memory_mib, storage_gib, arch) VALUES ('host-a', ?, '10.0.0.1', '10.1.0.1', 'registered', ?, "
                                  "1000000, 1000000000, 1000000000, 'x86_64')",
                               STORE_ARGS(STORE_TEXT(cfg->pools[0].name), STORE_INT(now)), NULL);
        if (r >= 0)
                r = store_exec(s, "INSERT INTO approval_systems (id, name, key_type, public_key, fingerprint, created) "
                                  "VALUES (?, ?, ?, ?, ?, ?)",
                               STORE_ARGS(STORE_TEXT(APPROVAL_SYSTEM), STORE_TEXT(APPROVAL_SYSTEM),
                                          STORE_TEXT(crypto_key_type_to_string(type)), STORE_TEXT(pem), STORE_TEXT(fp),
                                          STORE_INT(now)),
                               NULL);
        for (int i = 0; r >= 0 && i < o->n; i++)
                r = store_query_int(s,
                                    "INSERT INTO systems (unit_id, name, mlps_level, availability, classified, state, agreement, created, updated) "
                                    "VALUES (?, ?, 2, '99.9%', 0, 'registered', ?, ?, ?) RETURNING id",
                                    STORE_ARGS(STORE_INT(unit_id), STORE_TEXT(p[i].system_name), STORE_TEXT(p[i].agreement),
                                               STORE_INT(now), STORE_INT(now)),
                                    &ref->system_ids[i]);
        if (r >= 0)
                r = store_commit(s);
        if (r < 0)
                store_rollback(s);
        return r;
}

/* What intake's accept() writes for an apply request, in one transaction. */
static int reference_accept(struct reference *ref, const struct prepared *p, int64_t system_id) {
        struct store *s = ref->store;
        int64_t now = time(NULL), id, seq, changes = 0;
        const char *from = "registered", *to = lifecycle_target("apply");
        char approval[256], object[64];
        _cleanup_(cJSON_Deletep) cJSON *detail = NULL;
        int r;

        snprintf(approval, sizeof approval, "%s/%s", APPROVAL_SYSTEM, p->approval_id);
        r = store_begin(s);
        if (r < 0)
                return r;
        r = store_query_int(s,
                            "INSERT INTO requests (kind, system_id, approval_system, approval_id, digest, document, received, outcome, exception) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, 'accepted', ?) RETURNING id",
                            STORE_ARGS(STORE_TEXT("apply"), STORE_INT(system_id), STORE_TEXT(APPROVAL_SYSTEM),
                                       STORE_TEXT(p->approval_id), STORE_TEXT(p->digest), STORE_TEXT(p->body),
                                       STORE_INT(now), STORE_INT(0)),
                            &id);
        if (r < 0)
                goto fail;
        r = store_exec(s,
                       "UPDATE systems SET state = ?, pool = COALESCE(?, pool), trial_length = CASE WHEN ? THEN ? ELSE trial_length END, "
                       "updated = ? WHERE id = ? AND state = ?",
                       STORE_ARGS(STORE_TEXT(to), STORE_TEXT(ref->pool), STORE_INT(1), STORE_INT(ref->trial_length),
                                  STORE_INT(now), STORE_INT(system_id), STORE_TEXT(from)),
                       &changes);
        if (r >= 0 && changes != 1)
                r = -ESTALE;
        if (r < 0)
                goto fail;

        detail = cJSON_CreateObject();
        cJSON *names = cJSON_CreateArray();
        cJSON_AddStringToObject(detail, "kind", "apply");
        cJSON_AddNumberToObject(detail, "request", (double) id);
        cJSON_AddNumberToObject(detail, "system", (double) system_id);
        cJSON_AddStringToObject(detail, "unit", UNIT);
        cJSON_AddStringToObject(detail, "system_name", p->system_name);
        cJSON_AddStringToObject(detail, "digest", p->digest);
        cJSON_AddStringToObject(detail, "from", from);
        cJSON_AddStringToObject(detail, "to", to);
        cJSON_AddStringToObject(detail, "pool", ref->pool);
        cJSON_AddNumberToObject(detail, "trial_length", ref->trial_length);
        cJSON_AddItemToObject(detail, "vms", names);
        for (size_t k = 0; k < p->n_vms; k++) {
                int64_t vm_id = 0;
                char uuid[40];
                snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012llx", (unsigned long long) (id * 1000 + k));
                _cleanup_(cJSON_Deletep) cJSON *spec = cJSON_Parse(p->vms[k].spec);
                int64_t vcpus = (int64_t) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(spec, "vcpus"));
                int64_t mem = (int64_t) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(spec, "memory_gib"));
                int64_t disk = (int64_t) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "system_disk"), "gib")) +
                               (int64_t) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "data_disk"), "gib"));
                r = store_query_int(s,
                                    "INSERT INTO vms (system_id, pool, name, role, number, spec, state, request_id, vcpus, memory_gib, disk_gib) "
                                    "VALUES (?, ?, ?, ?, ?, ?, 'planned', ?, ?, ?, ?) RETURNING id",
                                    STORE_ARGS(STORE_INT(system_id), STORE_TEXT(ref->pool), STORE_TEXT(p->vms[k].name),
                                               STORE_TEXT(p->vms[k].role), STORE_INT(p->vms[k].number), STORE_TEXT(p->vms[k].spec),
                                               STORE_INT(id), STORE_INT(vcpus), STORE_INT(mem), STORE_INT(disk)),
                                    &vm_id);
                /* Its placement and its job, as dispatch_assign and dispatch_enqueue write them. */
                if (r >= 0)
                        r = store_exec(s, "UPDATE vms SET uuid = ?, host = 'host-a' WHERE id = ?",
                                       STORE_ARGS(STORE_TEXT(uuid), STORE_INT(vm_id)), NULL);
                if (r >= 0) {
                        _cleanup_free_ char *payload = xasprintf(
                                "{\"uuid\":\"%s\",\"name\":\"gc-%s\",\"title\":\"%s\",\"labels\":{\"unit\":\"%s\",\"system\":\"%s\","
                                "\"role\":\"%s\",\"number\":%u,\"request\":%lld,\"pool\":\"%s\"},\"arch\":\"x86_64\",\"vcpus\":4,"
                                "\"max_vcpus\":64,\"memory_mib\":8192,\"max_memory_mib\":524288,\"disks\":[{\"name\":\"system\",\"gib\":40,"
                                "\"type\":\"SSD\"},{\"name\":\"data\",\"gib\":200,\"type\":\"SAS\"}],\"image\":\"麒麟V10\",\"running\":true}",
                                uuid, uuid, p->vms[k].name, UNIT, p->system_name, p->vms[k].role, p->vms[k].number,
                                (long long) id, ref->pool);
                        r = store_exec(s, "INSERT INTO jobs (host, vm_id, request_id, kind, payload, state, created) "
                                          "VALUES ('host-a', ?, ?, 'vm.ensure', ?, 'queued', ?)",
                                       STORE_ARGS(STORE_INT(vm_id), STORE_INT(id), STORE_TEXT(payload), STORE_INT(now)), NULL);
                }
                if (r < 0)
                        goto fail;
                cJSON_AddItemToArray(names, cJSON_CreateString(p->vms[k].name));
        }

        snprintf(object, sizeof object, "request:%lld", (long long) id);
        struct audit_entry e = {
                .time = now,
                .actor = APPROVAL_SYSTEM,
                .role = "approval",
                .action = "request.accepted",
                .object = object,
                .approval = approval,
                .outcome = "accepted",
                .rule = "R-LC1",
                .detail = detail,
        };
        r = audit_append(s, ref->hash, &e, &seq);
        if (r < 0)
                goto fail;
        r = store_exec(s,
                       "INSERT INTO transitions (system_id, from_state, to_state, time, actor, request_id, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       STORE_ARGS(STORE_INT(system_id), STORE_TEXT(from), STORE_TEXT(to), STORE_INT(now),
                                  STORE_TEXT(approval), STORE_INT(id), STORE_INT(seq)),
                       NULL);
        if (r < 0)
                goto fail;
        r = store_commit(s);
        if (r < 0)
                goto fail;
        return 0;
fail:
        store_rollback(s);
        return log_error_errno(r, "reference: request %s", p->approval_id);
}

static int run_reference(const struct options *o, const struct prepared *p, const cJSON *sample, struct timing *t) {
        _cleanup_(config_freep) struct config *cfg = NULL;
        _cleanup_(store_closep) struct store *s = NULL;
        _cleanup_free_ int64_t *system_ids = xnew(int64_t, o->n);
        struct gc_error err = {};
        int r;

        r = config_load(o->config, &cfg, &err);
        if (r < 0)
                return log_error_errno(r, "%s: %s: %s", o->config, err.field, err.message);
        const char *pool_name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sample, "pool"));
        const struct config_pool *pool = pool_name ? config_pool(cfg, pool_name) : NULL;
        if (!pool)
                return log_error_errno(-EINVAL, "sample: pool \"%s\" is not in %s", pool_name ?: "", o->config);
        const cJSON *tl = cJSON_GetObjectItemCaseSensitive(sample, "trial_length");
        struct reference ref = {
                .hash = cfg->pack->hash,        /* the audit chain's hash, as the orchestrator picks it (R-SC4) */
                .pool = pool->name,
                .system_ids = system_ids,
        };
        r = trial_resolve(&pool->pack->trial, cJSON_IsNumber(tl) ? (long) tl->valuedouble : -1, &ref.trial_length, &err);
        if (r < 0)
                return log_error_errno(r, "trial_length: %s", err.message);

        const char *suffixes[] = { "", "-wal", "-shm" };
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                _cleanup_free_ char *f = xasprintf("%s%s", o->reference_db, suffixes[i]);
                if (unlink(f) < 0 && errno != ENOENT)
                        return log_error_errno(-errno, "unlink %s", f);
        }
        r = store_open(o->reference_db, &s);
        if (r < 0)
                return r;
        ref.store = s;
        r = reference_fill(o, &ref, cfg, p);
        if (r < 0)
                return r;

        double t0 = now_seconds();
        for (int i = 0; i < o->n; i++) {
                double t1 = now_seconds();
                r = reference_accept(&ref, &p[i], system_ids[i]);
                if (r < 0)
                        return r;
                t->each[i] = now_seconds() - t1;
        }
        t->total = now_seconds() - t0;
        return 0;
}

/* ---- both stores hold the same rows ---- */

static int compare_rows(const struct options *o) {
        static const struct {
                const char *table, *sql;
        } checks[] = {
                { "requests", "SELECT id, kind, system_id, approval_system, approval_id, digest, document, outcome, exception "
                              "FROM requests ORDER BY id" },
                { "systems", "SELECT s.id, u.name AS unit, s.name, s.mlps_level, s.availability, s.classified, s.state, s.pool, "
                             "s.trial_length, s.agreement FROM systems s JOIN units u ON u.id = s.unit_id ORDER BY s.id" },
                { "vms", "SELECT id, system_id, pool, name, role, number, spec, state, request_id, vcpus, memory_gib, disk_gib FROM vms ORDER BY id" },
                { "transitions", "SELECT id, system_id, from_state, to_state, actor, request_id FROM transitions ORDER BY id" },
                { "audit", "SELECT actor, role, action, object, approval, outcome, rule, detail FROM audit "
                           "WHERE action = 'request.accepted' ORDER BY seq" },
        };
        _cleanup_(store_closep) struct store *api = NULL, *ref = NULL;
        int r = store_open(o->api_db, &api);
        if (r >= 0)
                r = store_open(o->reference_db, &ref);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                _cleanup_(cJSON_Deletep) cJSON *a = NULL, *b = NULL;
                r = store_query_json(api, checks[i].sql, STORE_NO_ARGS, &a);
                if (r >= 0)
                        r = store_query_json(ref, checks[i].sql, STORE_NO_ARGS, &b);
                if (r < 0)
                        return r;
                int na = cJSON_GetArraySize(a), nb = cJSON_GetArraySize(b);
                if (na != nb) {
                        fprintf(stderr, "bench-intake: %s: %d rows through the API, %d in the reference\n", checks[i].table, na, nb);
                        return -EBADMSG;
                }
                for (int k = 0; k < na; k++) {
                        const cJSON *ra = cJSON_GetArrayItem(a, k), *rb = cJSON_GetArrayItem(b, k);
                        if (cJSON_Compare(ra, rb, true))
                                continue;
                        _cleanup_free_ char *ta = cJSON_PrintUnformatted(ra), *tb = cJSON_PrintUnformatted(rb);
                        fprintf(stderr, "bench-intake: %s row %d differs:\n  API:       %s\n  reference: %s\n",
                                checks[i].table, k + 1, ta, tb);
                        return -EBADMSG;
                }
        }
        return 0;
}

/* ---- main ---- */

static void print_latency(const char *what, const struct timing *t, int n) {
        printf("%-20s %8.3f ms mean per request (p50 %.3f ms, p99 %.3f ms, max %.3f ms)\n", what, t->total / n * 1e3,
               t->each[n / 2] * 1e3, t->each[(int) (n * 0.99) < n ? (int) (n * 0.99) : n - 1] * 1e3, t->each[n - 1] * 1e3);
}

static void help(void) {
        printf("Usage: bench-intake --url URL --pki DIR --config FILE --sample FILE --api-db FILE --reference-db FILE [N]\n"
               "\n"
               "Registers N systems with their agreements, signs N apply requests from the\n"
               "sample, POSTs them to the running orchestrator at URL over one keep-alive\n"
               "connection, then writes the same rows into a fresh store at --reference-db.\n"
               "Prints both rates, the ratio and the mean latencies (N default 500).\n"
               "Run by bench/intake.sh.\n");
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "url", required_argument, NULL, 'u' },
                { "pki", required_argument, NULL, 'p' },
                { "config", required_argument, NULL, 'c' },
                { "sample", required_argument, NULL, 's' },
                { "api-db", required_argument, NULL, 'a' },
                { "reference-db", required_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct options o = { .n = 500 };
        int c, r;

        log_set_component("bench-intake");
        log_set_max_level(LOG_LEVEL_WARNING);
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0)
                switch (c) {
                case 'u':
                        o.url = optarg;
                        break;
                case 'p':
                        o.pki = optarg;
                        break;
                case 'c':
                        o.config = optarg;
                        break;
                case 's':
                        o.sample = optarg;
                        break;
                case 'a':
                        o.api_db = optarg;
                        break;
                case 'r':
                        o.reference_db = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (optind < argc)
                o.n = atoi(argv[optind]);
        if (!o.url || !o.pki || !o.config || !o.sample || !o.api_db || !o.reference_db || o.n < 1) {
                help();
                return 2;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return 1;

        _cleanup_(cJSON_Deletep) cJSON *sample = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *key_path = xasprintf("%s/sign/approval-approval-oa.key", o.pki);
        struct gc_error err = {};
        r = json_parse_file(o.sample, REPLY_MAX, &sample, &err);
        if (r < 0) {
                log_error("%s: %s: %s", o.sample, err.field, err.message);
                return 1;
        }
        r = crypto_key_load_private(key_path, &key);
        if (r < 0) {
                log_error_errno(r, "%s", key_path);
                return 1;
        }

        struct prepared *p = xnew(struct prepared, o.n);
        struct timing api = { .each = xnew(double, o.n) }, ref = { .each = xnew(double, o.n) };
        long connects = 0;
        for (int i = 0; i < o.n; i++) {
                r = prepare_one(&p[i], sample, key, i);
                if (r < 0)
                        goto out;
        }
        r = register_systems(&o, p);
        if (r < 0)
                goto out;
        r = run_api(&o, p, &api, &connects);
        if (r < 0)
                goto out;
        r = run_reference(&o, p, sample, &ref);
        if (r < 0)
                goto out;
        r = compare_rows(&o);
        if (r < 0)
                goto out;

        qsort(api.each, o.n, sizeof(double), cmp_double);
        qsort(ref.each, o.n, sizeof(double), cmp_double);
        double api_rate = o.n / api.total, ref_rate = o.n / ref.total;
        printf("%d approved apply requests of %zu VMs each; %ld new connection%s during the timed run (keep-alive, TLS 1.3); "
               "both stores hold the same rows\n", o.n, p[0].n_vms, connects, connects == 1 ? "" : "s");
        printf("%-20s %8.1f requests/s (POST /v1/requests, 201 each)\n", "HTTPS API:", api_rate);
        printf("%-20s %8.1f requests/s (the same rows, one transaction each, WAL, synchronous=FULL)\n", "bare SQLite:", ref_rate);
        printf("%-20s %8.3gx of bare SQLite (API rate / bare SQLite rate)\n", "ratio:", api_rate / ref_rate);
        print_latency("HTTPS API latency:", &api, o.n);
        print_latency("bare SQLite latency:", &ref, o.n);
out:
        prepared_free(p, o.n);
        free(api.each);
        free(ref.each);
        curl_global_cleanup();
        return r < 0 ? 1 : 0;
}
