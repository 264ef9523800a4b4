/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api.h"
#include "audit.h"
#include "buf.h"
#include "cleanup.h"
#include "dispatch.h"
#include "jcs.h"
#include "log.h"
#include "orch.h"
#include "sheet.h"
#include "reclaim.h"
#include "sheets.h"
#include "usage.h"
#include "trial.h"

/* ---- keys ---- */

static int party_key_cb(const struct store_row *row, void *userdata) {
        struct party_key *k = userdata;
        k->id = row->v[0].i;
        snprintf(k->party, sizeof k->party, "%s", row->v[1].s);
        snprintf(k->key_type, sizeof k->key_type, "%s", row->v[2].s);
        k->public_key = xstrdup(row->v[3].s);
        k->revoked = row->v[4].type != STORE_NULL;
        k->unit_id = row->v[5].type == STORE_INT ? row->v[5].i : 0;
        k->holder = xstrdup(row->v[6].s);
        return 0;
}

int party_key_find(struct orch *o, const char *fingerprint, struct party_key *ret) {
        *ret = (struct party_key) {};
        int r = store_query(o->store, "SELECT id, party, key_type, public_key, revoked, unit_id, holder FROM party_keys WHERE fingerprint = ?",
                            STORE_ARGS(STORE_TEXT(fingerprint ?: "")), party_key_cb, ret);
        if (r < 0)
                return r;
        return r == 0 ? -ENOENT : 0;
}

void party_key_done(struct party_key *k) {
        free(k->public_key);
        free(k->holder);
        k->public_key = k->holder = NULL;
}

/* ---- documents ---- */

static const char *str_of(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_of(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void add_time(cJSON *o, const char *key, int64_t t) {
        if (t <= 0) {
                cJSON_AddNullToObject(o, key);
                return;
        }
        char buf[32];
        store_format_time(t, buf);
        cJSON_AddStringToObject(o, key, buf);
}

/* One VM's allocation from its spec. */
static cJSON *allocation(const cJSON *spec) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "vcpus", num_of(spec, "vcpus"));
        cJSON_AddNumberToObject(a, "memory_gib", num_of(spec, "memory_gib"));
        cJSON_AddNumberToObject(a, "system_disk_gib", num_of(cJSON_GetObjectItemCaseSensitive(spec, "system_disk"), "gib"));
        cJSON_AddNumberToObject(a, "data_disk_gib", num_of(cJSON_GetObjectItemCaseSensitive(spec, "data_disk"), "gib"));
        return a;
}

static void totals_add(cJSON *totals, const cJSON *alloc) {
        static const char *const dims[] = { "vcpus", "memory_gib", "system_disk_gib", "data_disk_gib" };
        cJSON *n = cJSON_GetObjectItemCaseSensitive(totals, "vms");
        cJSON_SetNumberValue(n, n->valuedouble + 1);
        for (size_t i = 0; i < ELEMENTSOF(dims); i++) {
                cJSON *t = cJSON_GetObjectItemCaseSensitive(totals, dims[i]);
                cJSON_SetNumberValue(t, t->valuedouble + num_of(alloc, dims[i]));
        }
}

static cJSON *totals_new(void) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "vms", 0);
        cJSON_AddNumberToObject(t, "vcpus", 0);
        cJSON_AddNumberToObject(t, "memory_gib", 0);
        cJSON_AddNumberToObject(t, "system_disk_gib", 0);
        cJSON_AddNumberToObject(t, "data_disk_gib", 0);
        return t;
}

#define LIVE_VMS "FROM vms WHERE system_id = ? AND state NOT IN ('deleted', 'releasing')"

int sheets_snapshot(struct orch *o, int64_t system_id, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *rows = NULL;
        int r = store_query_json(o->store, "SELECT name, address, spec AS \"spec@json\" " LIVE_VMS " ORDER BY id",
                                 STORE_ARGS(STORE_INT(system_id)), &rows);
        if (r < 0)
                return r;
        cJSON *out = cJSON_CreateObject();
        const cJSON *row;
        cJSON_ArrayForEach(row, rows) {
                cJSON *vm = allocation(cJSON_GetObjectItemCaseSensitive(row, "spec"));
                cJSON_AddStringToObject(vm, "name", str_of(row, "name"));
                const char *addr = str_of(row, "address");
                if (addr)
                        cJSON_AddStringToObject(vm, "address", addr);
                else
                        cJSON_AddNullToObject(vm, "address");
                cJSON_AddItemToObject(out, str_of(row, "name"), vm);
        }
        *ret = out;
        return 0;
}

int party_signature_check(struct orch *o, const char *party, const char *fp, int64_t unit_id, const char *signature_type,
                          const char *bytes, const char *sig_b64, const char *rule, const char *what, struct party_key *k,
                          struct gc_error *err) {
        int r = party_key_find(o, fp, k);
        if (r == -ENOENT) {
                gc_error_set(err, "unknown_key", rule, "fingerprint", fp, "is not a registered party key");
                return 422;
        }
        if (r < 0)
                return r;
        if (k->revoked) {
                gc_error_set(err, "key_revoked", rule, "fingerprint", fp, "was revoked; a revoked key signs nothing");
                return 422;
        }
        if (strcmp(k->party, party) != 0) {
                gc_error_set(err, "wrong_party", rule, "fingerprint", fp, "is the %s's key (%s), not the %s's", k->party, k->holder, party);
                return 422;
        }
        if (strcmp(party, "tenant") == 0 && k->unit_id != unit_id) {
                gc_error_set(err, "wrong_unit", rule, "fingerprint", fp, "is another unit's key (%s), not the key of the system's unit", k->holder);
                return 422;
        }
        if (strcmp(k->key_type, signature_type) != 0) {
                gc_error_set(err, "key_type", "R-SC4", "fingerprint", fp, "is an %s key; the pack signs with %s", k->key_type, signature_type);
                return 422;
        }
        _cleanup_free_ uint8_t *sig = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        size_t siglen;
        if (crypto_unbase64(sig_b64, &sig, &siglen) < 0) {
                gc_error_set(err, "invalid_signature", rule, "signature", sig_b64, "is not base64");
                return 422;
        }
        r = crypto_key_public_from_pem(k->public_key, strlen(k->public_key), &key);
        if (r >= 0)
                r = crypto_verify(key, bytes, strlen(bytes), sig, siglen);
        if (r < 0) {
                gc_error_set(err, "bad_signature", rule, "signature", sig_b64, "does not verify with key %s over the canonical bytes of %s",
                             fp, what);
                return 422;
        }
        return 0;
}

static const char *sheet_rule(const char *kind) {
        return strcmp(kind, "golive") == 0 ? "R-LC3" : strcmp(kind, "change") == 0 ? "R-LC4" : "R-LC5";
}

/* The members every sheet has. */
static int sheet_head(struct orch *o, int64_t system_id, int64_t request_id, const char *kind, cJSON **ret,
                      const struct config_pool **ret_pool) {
        _cleanup_(cJSON_Deletep) cJSON *sys = NULL, *req = NULL, *net = NULL;
        int r = store_query_json_one(o->store,
                                     "SELECT s.id, s.name, u.name AS unit, s.pool, s.mlps_level, s.availability "
                                     "FROM systems s JOIN units u ON u.id = s.unit_id WHERE s.id = ?",
                                     STORE_ARGS(STORE_INT(system_id)), &sys);
        if (r < 0)
                return r;
        r = store_query_json_one(o->store,
                                 "SELECT id, kind, approval_system || '/' || approval_id AS approval FROM requests WHERE id = ?",
                                 STORE_ARGS(STORE_INT(request_id)), &req);
        if (r < 0)
                return r;
        const struct config_pool *pool = config_pool(o->cfg, str_of(sys, "pool"));
        if (!pool)
                return -ENOENT;
        r = store_query_json_one(o->store, "SELECT vni, cidr, gateway FROM vpcs WHERE system_id = ?",
                                 STORE_ARGS(STORE_INT(system_id)), &net);
        if (r < 0 && r != -ENOENT)
                return r;

        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "format", SHEET_FORMAT);
        cJSON_AddStringToObject(d, "kind", kind);
        cJSON_AddNumberToObject(d, "revision", 1);
        cJSON_AddStringToObject(d, "title", sheet_kind_title(kind));
        add_time(d, "produced", orch_now(o));
        cJSON_AddItemToObject(d, "system", TAKE_PTR(sys));
        cJSON_AddItemToObject(d, "request", TAKE_PTR(req));
        cJSON *crypto = cJSON_AddObjectToObject(d, "crypto");
        cJSON_AddStringToObject(crypto, "hash", crypto_hash_to_string(pool->pack->hash));
        cJSON_AddStringToObject(crypto, "signature", crypto_key_type_to_string(pool->pack->signature));
        cJSON_AddStringToObject(crypto, "rule", "R-SC4");
        cJSON_AddItemToObject(d, "network", net ? TAKE_PTR(net) : cJSON_CreateNull());
        cJSON *parties = cJSON_AddObjectToObject(d, "parties");
        cJSON_AddStringToObject(parties, "tenant", str_of(cJSON_GetObjectItemCaseSensitive(d, "system"), "unit"));
        cJSON_AddStringToObject(parties, "provider", o->cfg->provider_name);
        cJSON_AddStringToObject(parties, "authority", o->cfg->authority_name);
        *ret = d;
        *ret_pool = pool;
        return 0;
}

/* Store the document as its canonical bytes with their hash, and audit it. */
static int sheet_store(struct orch *o, int64_t system_id, int64_t request_id, const char *kind, cJSON *doc,
                       const struct config_pool *pool) {
        int64_t id;
        int r = store_query_int(o->store,
                                "INSERT INTO sheets (system_id, kind, request_id, document, hash, signature_type, state, created) "
                                "VALUES (?, ?, ?, '', '', ?, 'open', ?) RETURNING id",
                                STORE_ARGS(STORE_INT(system_id), STORE_TEXT(kind), STORE_INT(request_id),
                                           STORE_TEXT(crypto_key_type_to_string(pool->pack->signature)), STORE_INT(orch_now(o))),
                                &id);
        if (r < 0)
                return r;
        cJSON_AddNumberToObject(doc, "id", (double) id);
        struct gc_buf b = GC_BUF_INIT(SHEET_DOCUMENT_MAX);
        r = jcs_serialize(doc, &b);
        uint8_t md[GC_HASH_MAX];
        if (r >= 0)
                r = crypto_digest(pool->pack->hash, b.data, b.len, md);
        if (r < 0) {
                gc_buf_free(&b);
                return r;
        }
        _cleanup_free_ char *hex = crypto_hex(md, 32);
        _cleanup_free_ char *hash = xasprintf("%s:%s", crypto_hash_to_string(pool->pack->hash), hex);
        r = store_exec(o->store, "UPDATE sheets SET document = ?, hash = ? WHERE id = ?",
                       STORE_ARGS(STORE_TEXT(b.data), STORE_TEXT(hash), STORE_INT(id)), NULL);
        gc_buf_free(&b);
        if (r < 0)
                return r;
        char object[64];
        snprintf(object, sizeof object, "sheet:%" PRId64, id);
        cJSON *detail = cJSON_CreateObject();
        cJSON_AddStringToObject(detail, "kind", kind);
        cJSON_AddNumberToObject(detail, "system", (double) system_id);
        cJSON_AddNumberToObject(detail, "request", (double) request_id);
        cJSON_AddStringToObject(detail, "hash", hash);
        r = orch_audit(o, "sheet.produced", object, sheet_rule(kind), detail);
        if (r >= 0)
                log_info("system %" PRId64 ": %s sheet %" PRId64 " produced (%s), awaiting three signatures", system_id, kind, id, hash);
        return r;
}

static int latest_request(struct orch *o, int64_t system_id, const char *kind, int64_t *ret) {
        return store_query_int(o->store, "SELECT id FROM requests WHERE system_id = ? AND kind = ? AND outcome = 'accepted' "
                                         "ORDER BY id DESC LIMIT 1",
                               STORE_ARGS(STORE_INT(system_id), STORE_TEXT(kind)), ret);
}

int sheets_golive(struct orch *o, int64_t system_id) {
        int64_t n = 0, request_id;
        int r = store_query_int(o->store, "SELECT COUNT(*) FROM sheets WHERE system_id = ? AND kind = 'golive'",
                                STORE_ARGS(STORE_INT(system_id)), &n);
        if (r < 0 || n > 0)
                return r < 0 ? r : 0;
        r = latest_request(o, system_id, "apply", &request_id);
        if (r < 0)
                return r;
        const struct config_pool *pool;
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL, *sys = NULL, *rows = NULL;
        r = sheet_head(o, system_id, request_id, "golive", &doc, &pool);
        if (r < 0)
                return r;
        r = store_query_json_one(o->store, "SELECT trial_start, trial_end, trial_length, trial_extended FROM systems WHERE id = ?",
                                 STORE_ARGS(STORE_INT(system_id)), &sys);
        if (r < 0)
                return r;
        int64_t start = (int64_t) num_of(sys, "trial_start"), end = (int64_t) num_of(sys, "trial_end");
        add_time(doc, "opening_time", start);
        cJSON *trial = cJSON_AddObjectToObject(doc, "trial");
        add_time(trial, "start", start);
        add_time(trial, "end", end);
        cJSON_AddNumberToObject(trial, "length", num_of(sys, "trial_length"));
        cJSON_AddStringToObject(trial, "unit", pool->pack->trial.unit == TRIAL_MONTHS ? "months" : "days");
        cJSON_AddNumberToObject(trial, "extended", num_of(sys, "trial_extended"));
        cJSON_AddStringToObject(trial, "rule", "R-LC2");
        cJSON *billing = cJSON_AddObjectToObject(doc, "billing");
        cJSON_AddStringToObject(billing, "starts", "on_confirmation");
        cJSON_AddStringToObject(billing, "rule", "R-LC3");

        r = store_query_json(o->store, "SELECT name, role, host, address, spec AS \"spec@json\" " LIVE_VMS " ORDER BY id",
                             STORE_ARGS(STORE_INT(system_id)), &rows);
        if (r < 0)
                return r;
        /* R-LC2: the trial's usage against the pack's bands, per VM. */
        _cleanup_(cJSON_Deletep) cJSON *recommended = NULL;
        r = usage_trial(o, system_id, &recommended);
        if (r < 0)
                return r;
        cJSON *vms = cJSON_AddArrayToObject(doc, "vms");
        cJSON *totals = totals_new();
        const cJSON *row;
        cJSON_ArrayForEach(row, rows) {
                const cJSON *spec = cJSON_GetObjectItemCaseSensitive(row, "spec");
                cJSON *vm = allocation(spec);
                cJSON_AddStringToObject(vm, "name", str_of(row, "name"));
                cJSON_AddStringToObject(vm, "role", str_of(row, "role"));
                cJSON_AddStringToObject(vm, "host", str_of(row, "host") ?: "");
                cJSON *addrs = cJSON_AddArrayToObject(vm, "addresses");
                if (str_of(row, "address"))
                        cJSON_AddItemToArray(addrs, cJSON_CreateString(str_of(row, "address")));
                const cJSON *ports = cJSON_GetObjectItemCaseSensitive(spec, "ports");
                cJSON_AddItemToObject(vm, "special_ports", ports ? cJSON_Duplicate(ports, true) : cJSON_CreateArray());
                cJSON_AddStringToObject(vm, "arch", str_of(spec, "arch") ?: "x86");
                cJSON_AddStringToObject(vm, "os", str_of(spec, "os") ?: "");
                /* R-LC2: the allocation the trial's usage recommends (the
                 * bands of R-RS1..R-RS6); the allocation to go live is the
                 * one in use until a change request adopts it. */
                const cJSON *rec = cJSON_GetObjectItemCaseSensitive(recommended, str_of(row, "name"));
                cJSON_AddItemToObject(vm, "recommended", rec ? cJSON_Duplicate(rec, true) : cJSON_CreateNull());
                cJSON_AddItemToObject(vm, "golive", allocation(spec));
                totals_add(totals, vm);
                cJSON_AddItemToArray(vms, vm);
        }
        cJSON_AddItemToObject(doc, "totals", totals);
        return sheet_store(o, system_id, request_id, "golive", doc, pool);
}

int sheets_change(struct orch *o, int64_t system_id, int64_t request_id) {
        int64_t n = 0;
        int r = store_query_int(o->store, "SELECT COUNT(*) FROM sheets WHERE request_id = ? AND kind = 'change'",
                                STORE_ARGS(STORE_INT(request_id)), &n);
        if (r < 0 || n > 0)
                return r < 0 ? r : 0;
        _cleanup_free_ char *before_text = NULL;
        r = store_query_text(o->store, "SELECT before FROM requests WHERE id = ?", STORE_ARGS(STORE_INT(request_id)), &before_text);
        if (r == -ENOENT)
                before_text = xstrdup("{}");
        else if (r < 0)
                return r;
        _cleanup_(cJSON_Deletep) cJSON *before = cJSON_Parse(before_text), *after = NULL, *doc = NULL;
        if (!before)
                return -EINVAL;
        r = sheets_snapshot(o, system_id, &after);
        if (r < 0)
                return r;
        const struct config_pool *pool;
        r = sheet_head(o, system_id, request_id, "change", &doc, &pool);
        if (r < 0)
                return r;
        cJSON *changes = cJSON_AddArrayToObject(doc, "changes");
        cJSON *tb = totals_new(), *ta = totals_new();
        const cJSON *vm;
        cJSON_ArrayForEach(vm, before) {
                const cJSON *a = cJSON_GetObjectItemCaseSensitive(after, vm->string);
                totals_add(tb, vm);
                const char *action = sheet_change_action(vm, a);
                if (!action)
                        continue;
                cJSON *row = cJSON_CreateObject();
                cJSON_AddStringToObject(row, "name", vm->string);
                cJSON_AddStringToObject(row, "action", action);
                cJSON_AddItemToObject(row, "before", cJSON_Duplicate(vm, true));
                cJSON_AddItemToObject(row, "after", a ? cJSON_Duplicate(a, true) : cJSON_CreateNull());
                cJSON_AddItemToArray(changes, row);
        }
        cJSON_ArrayForEach(vm, after) {
                totals_add(ta, vm);
                if (cJSON_GetObjectItemCaseSensitive(before, vm->string))
                        continue;
                cJSON *row = cJSON_CreateObject();
                cJSON_AddStringToObject(row, "name", vm->string);
                cJSON_AddStringToObject(row, "action", "create");
                cJSON_AddNullToObject(row, "before");
                cJSON_AddItemToObject(row, "after", cJSON_Duplicate(vm, true));
                cJSON_AddItemToArray(changes, row);
        }
        cJSON_AddItemToObject(doc, "totals_before", tb);
        cJSON_AddItemToObject(doc, "totals_after", ta);
        return sheet_store(o, system_id, request_id, "change", doc, pool);
}

/* R-LC5: what the exit released, as the reclaim gathered it (reclaim.c):
 * exit is the exit's record (initiator, ground, statement or order),
 * released {"vms": [...], "network": {...} | null}. */
int sheets_exit(struct orch *o, int64_t system_id, int64_t request_id, cJSON *exit, cJSON *released, int64_t *ret_id) {
        _cleanup_(cJSON_Deletep) cJSON *e = exit, *rel = released, *doc = NULL;
        int64_t n = 0;
        int r = store_query_int(o->store, "SELECT COUNT(*) FROM sheets WHERE system_id = ? AND kind = 'exit'",
                                STORE_ARGS(STORE_INT(system_id)), &n);
        if (r < 0 || n > 0)
                return r < 0 ? r : 0;
        const struct config_pool *pool;
        r = sheet_head(o, system_id, request_id, "exit", &doc, &pool);
        if (r < 0)
                return r;
        cJSON_AddItemToObject(doc, "exit", TAKE_PTR(e));
        cJSON *totals = totals_new();
        const cJSON *vm;
        cJSON_ArrayForEach(vm, cJSON_GetObjectItemCaseSensitive(rel, "vms"))
                totals_add(totals, cJSON_GetObjectItemCaseSensitive(vm, "allocation"));
        cJSON_AddItemToObject(doc, "released", TAKE_PTR(rel));
        cJSON_AddItemToObject(doc, "totals", totals);
        r = sheet_store(o, system_id, request_id, "exit", doc, pool);
        if (r >= 0)
                r = store_query_int(o->store, "SELECT id FROM sheets WHERE system_id = ? AND kind = 'exit'",
                                    STORE_ARGS(STORE_INT(system_id)), ret_id);
        return r;
}

/* ---- reading ---- */

#define SHEET_COLUMNS \
        "h.id, h.system_id AS system, s.name AS system_name, u.name AS unit, h.kind, h.state, h.hash, " \
        "h.request_id AS request, h.created AS \"created@time\", h.completed AS \"completed@time\""
#define SHEET_FROM " FROM sheets h JOIN systems s ON s.id = h.system_id JOIN units u ON u.id = s.unit_id "

static void add_parties(struct orch *o, cJSON *sheet) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(sheet, "id");
        cJSON *signed_ = cJSON_AddArrayToObject(sheet, "signed");
        cJSON *missing = cJSON_AddArrayToObject(sheet, "missing");
        for (int p = 0; p < _SHEET_PARTY_MAX; p++) {
                int64_t n = 0;
                store_query_int(o->store, "SELECT COUNT(*) FROM sheet_signatures WHERE sheet_id = ? AND party = ?",
                                STORE_ARGS(STORE_INT((int64_t) id->valuedouble), STORE_TEXT(sheet_party_to_string(p))), &n);
                cJSON_AddItemToArray(n ? signed_ : missing, cJSON_CreateString(sheet_party_to_string(p)));
        }
}

void get_sheets(struct api_call *c) {
        int64_t system;
        if (api_query_int(c, "system", 1, INT64_MAX, 0, &system) < 0)
                return;
        const char *unit = c->who->role == ROLE_TENANT ? c->who->name : NULL;
        _cleanup_(cJSON_Deletep) cJSON *rows = NULL;
        int r = store_query_json(c->o->store,
                                 "SELECT " SHEET_COLUMNS SHEET_FROM "WHERE (? = 0 OR h.system_id = ?) AND (? IS NULL OR u.name = ?) ORDER BY h.id",
                                 STORE_ARGS(STORE_INT(system), STORE_INT(system), STORE_TEXT(unit), STORE_TEXT(unit)), &rows);
        if (r < 0)
                return api_fail_store(c, r);
        cJSON *row;
        cJSON_ArrayForEach(row, rows)
                add_parties(c->o, row);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "sheets", TAKE_PTR(rows));
        api_reply(c, 200, doc);
}

/* The sheet as GET /v1/sheets/{id} shows it; -ENOENT when the caller may
 * not see it. */
static int sheet_view(struct api_call *c, int64_t id, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *sheet = NULL, *sigs = NULL;
        int r = store_query_json_one(c->o->store, "SELECT " SHEET_COLUMNS ", h.document AS canonical" SHEET_FROM "WHERE h.id = ?",
                                     STORE_ARGS(STORE_INT(id)), &sheet);
        if (r < 0)
                return r;
        if (c->who->role == ROLE_TENANT && strcmp(str_of(sheet, "unit") ?: "", c->who->name) != 0)
                return -ENOENT;
        cJSON_AddItemToObject(sheet, "document", cJSON_Parse(str_of(sheet, "canonical")) ?: cJSON_CreateNull());
        r = store_query_json(c->o->store,
                             "SELECT g.party, k.holder, k.fingerprint, k.key_type, k.public_key, g.signature, g.time AS \"time@time\" "
                             "FROM sheet_signatures g JOIN party_keys k ON k.id = g.key_id WHERE g.sheet_id = ? "
                             "ORDER BY CASE g.party WHEN 'tenant' THEN 0 WHEN 'provider' THEN 1 ELSE 2 END",
                             STORE_ARGS(STORE_INT(id)), &sigs);
        if (r < 0)
                return r;
        cJSON_AddItemToObject(sheet, "signatures", TAKE_PTR(sigs));
        add_parties(c->o, sheet);
        *ret = TAKE_PTR(sheet);
        return 0;
}

void get_sheet(struct api_call *c) {
        cJSON *sheet = NULL;
        int r = sheet_view(c, c->id, &sheet);
        if (r == -ENOENT)
                return api_error(c, 404, "not_found", "no such sheet");
        if (r < 0)
                return api_fail_store(c, r);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "sheet", sheet);
        api_reply(c, 200, doc);
}

void get_sheet_export(struct api_call *c) {
        _cleanup_(cJSON_Deletep) cJSON *sheet = NULL;
        int r = sheet_view(c, c->id, &sheet);
        if (r == -ENOENT)
                return api_error(c, 404, "not_found", "no such sheet");
        if (r < 0)
                return api_fail_store(c, r);
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "format", SHEET_EXPORT_FORMAT);
        cJSON *s = cJSON_AddObjectToObject(b, "sheet");
        static const char *const copy[] = { "id", "kind", "system", "state", "completed" };
        for (size_t i = 0; i < ELEMENTSOF(copy); i++)
                cJSON_AddItemToObject(s, copy[i], cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(sheet, copy[i]), true));
        cJSON_AddStringToObject(b, "document", str_of(sheet, "canonical"));
        cJSON_AddStringToObject(b, "hash", str_of(sheet, "hash"));
        cJSON_AddItemToObject(b, "signatures", cJSON_DetachItemFromObjectCaseSensitive(sheet, "signatures"));
        api_reply(c, 200, b);
}

/* ---- signing ---- */

struct sheet_row {
        int64_t system_id, request_id, unit_id;
        char kind[16], state[16], signature_type[16], system_state[32];
        char hash[80];
        char *document;
};

static int sheet_row_cb(const struct store_row *row, void *userdata) {
        struct sheet_row *s = userdata;
        s->system_id = row->v[0].i;
        s->request_id = row->v[1].type == STORE_INT ? row->v[1].i : 0;
        snprintf(s->kind, sizeof s->kind, "%s", row->v[2].s);
        snprintf(s->state, sizeof s->state, "%s", row->v[3].s);
        snprintf(s->signature_type, sizeof s->signature_type, "%s", row->v[4].s);
        snprintf(s->hash, sizeof s->hash, "%s", row->v[5].s);
        s->document = xstrdup(row->v[6].s);
        s->unit_id = row->v[7].i;
        snprintf(s->system_state, sizeof s->system_state, "%s", row->v[8].s);
        return 0;
}

/* R-LC3: the signed allocation goes live; a VM whose go-live allocation
 * differs from the one it runs with is resized by an ordinary job. */
static int apply_golive_allocation(struct orch *o, int64_t system_id, int64_t request_id, const char *document) {
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(document);
        const cJSON *vm;
        int r = 0;
        cJSON_ArrayForEach(vm, cJSON_GetObjectItemCaseSensitive(doc, "vms")) {
                const cJSON *g = cJSON_GetObjectItemCaseSensitive(vm, "golive");
                int64_t vm_id;
                _cleanup_free_ char *spec_text = NULL;
                r = store_query_int(o->store, "SELECT id FROM vms WHERE system_id = ? AND name = ? AND state NOT IN ('deleted', 'releasing')",
                                    STORE_ARGS(STORE_INT(system_id), STORE_TEXT(str_of(vm, "name"))), &vm_id);
                if (r == -ENOENT)
                        continue;
                if (r >= 0)
                        r = store_query_text(o->store, "SELECT spec FROM vms WHERE id = ?", STORE_ARGS(STORE_INT(vm_id)), &spec_text);
                if (r < 0)
                        return r;
                _cleanup_(cJSON_Deletep) cJSON *spec = cJSON_Parse(spec_text), *now = allocation(spec);
                if (cJSON_Compare(now, g, true))
                        continue;
                r = dispatch_resize(o, vm_id, request_id, (long) num_of(g, "vcpus"), (long) num_of(g, "memory_gib"),
                                    (long) num_of(g, "system_disk_gib"), (long) num_of(g, "data_disk_gib"));
                if (r < 0)
                        return r;
                log_info("system %" PRId64 ": %s goes live with the signed allocation", system_id, str_of(vm, "name"));
        }
        return r;
}

/* The third signature: the sheet completes and moves what it confirms. */
static int complete(struct orch *o, int64_t sheet_id, const struct sheet_row *s) {
        int64_t now = orch_now(o);
        int r = store_exec(o->store, "UPDATE sheets SET state = 'complete', completed = ? WHERE id = ?",
                           STORE_ARGS(STORE_INT(now), STORE_INT(sheet_id)), NULL);
        if (r < 0)
                return r;
        char object[64];
        snprintf(object, sizeof object, "sheet:%" PRId64, sheet_id);
        cJSON *detail = cJSON_CreateObject();
        cJSON_AddStringToObject(detail, "kind", s->kind);
        cJSON_AddNumberToObject(detail, "system", (double) s->system_id);
        cJSON_AddStringToObject(detail, "hash", s->hash);
        bool golive = strcmp(s->kind, "golive") == 0;
        r = orch_audit(o, "sheet.completed", object, sheet_rule(s->kind), detail);
        if (r < 0)
                return r;
        if (strcmp(s->kind, "exit") == 0)
                return reclaim_sheet_completed(o, s->system_id, sheet_id);    /* R-LC5 */
        if (golive) {
                /* R-LC3: go-live; billing starts now, not before. */
                cJSON *extra = cJSON_CreateObject();
                cJSON_AddNumberToObject(extra, "sheet", (double) sheet_id);
                add_time(extra, "billing_start", now);
                r = dispatch_stage(o, s->system_id, "awaiting_golive", "active", "R-LC3", extra);
                if (r >= 0)
                        r = store_exec(o->store, "UPDATE systems SET billing_start = ? WHERE id = ?",
                                       STORE_ARGS(STORE_INT(now), STORE_INT(s->system_id)), NULL);
                if (r >= 0)
                        r = apply_golive_allocation(o, s->system_id, s->request_id, s->document);
                return r;
        }
        /* R-LC4: the change is confirmed and closed. */
        return store_exec(o->store, "UPDATE requests SET closed = ? WHERE id = ?", STORE_ARGS(STORE_INT(now), STORE_INT(s->request_id)), NULL);
}

static void sheet_row_done(struct sheet_row *s) {
        free(s->document);
}

void post_sheet_signature(struct api_call *c) {
        struct orch *o = c->o;
        struct gc_error err = {};
        char object[64];
        const char *party = api_body_str(c, "party"), *fp = api_body_str(c, "fingerprint"), *sig_b64 = api_body_str(c, "signature");
        _cleanup_(sheet_row_done) struct sheet_row s = {};
        _cleanup_(party_key_done) struct party_key k = {};

        snprintf(object, sizeof object, "sheet:%" PRId64, c->id);
        int r = store_query(o->store, "SELECT h.system_id, h.request_id, h.kind, h.state, h.signature_type, h.hash, h.document, "
                                      "s.unit_id, s.state FROM sheets h JOIN systems s ON s.id = h.system_id WHERE h.id = ?",
                            STORE_ARGS(STORE_INT(c->id)), sheet_row_cb, &s);
        if (r < 0)
                return api_fail_store(c, r);
        if (r == 0 || (c->who->role == ROLE_TENANT && api_system_visible(c, s.system_id) < 0))
                return api_error(c, 404, "not_found", "no such sheet");
        const char *rule = sheet_rule(s.kind);

        if (strcmp(role_name(c->who->role), party) != 0) {
                gc_error_set(&err, "party_mismatch", rule, "party", party,
                             "cannot be signed for with a %s certificate: each party signs for itself", role_name(c->who->role));
                return api_refuse(c, 403, &err, "sheet.refused", object, "", NULL);
        }
        if (strcmp(s.state, "complete") == 0) {
                gc_error_set(&err, "sheet_complete", rule, "sheet", object, "has its three signatures already");
                return api_refuse(c, 409, &err, "sheet.refused", object, "", NULL);
        }
        int64_t n = 0;
        r = store_query_int(o->store, "SELECT COUNT(*) FROM sheet_signatures WHERE sheet_id = ? AND party = ?",
                            STORE_ARGS(STORE_INT(c->id), STORE_TEXT(party)), &n);
        if (r < 0)
                return api_fail_store(c, r);
        if (n > 0) {
                gc_error_set(&err, "already_signed", rule, "party", party, "has signed sheet %" PRId64 " already; a party signs once", c->id);
                return api_refuse(c, 409, &err, "sheet.refused", object, "", NULL);
        }
        char what[160];
        snprintf(what, sizeof what, "sheet %" PRId64 " (%s)", c->id, s.hash);
        int status = party_signature_check(o, party, fp, s.unit_id, s.signature_type, s.document, sig_b64, rule, what, &k, &err);
        if (status < 0)
                return api_fail_store(c, status);
        if (status > 0)
                return api_refuse(c, status, &err, "sheet.refused", object, "", NULL);
        if (strcmp(s.kind, "golive") == 0 && strcmp(s.system_state, "awaiting_golive") != 0) {
                gc_error_set(&err, "invalid_state", "R-LC3", "system.state", s.system_state,
                             "is not awaiting_golive: the go-live sheet is signed while the system awaits go-live");
                return api_refuse(c, 409, &err, "sheet.refused", object, "", NULL);
        }

        r = store_begin(o->store);
        if (r >= 0)
                r = store_exec(o->store, "INSERT INTO sheet_signatures (sheet_id, party, key_id, signature, time) VALUES (?, ?, ?, ?, ?)",
                               STORE_ARGS(STORE_INT(c->id), STORE_TEXT(party), STORE_INT(k.id), STORE_TEXT(sig_b64), STORE_INT(orch_now(o))),
                               NULL);
        if (r == -EEXIST) {
                store_rollback(o->store);
                gc_error_set(&err, "already_signed", rule, "party", party, "has signed sheet %" PRId64 " already; a party signs once", c->id);
                return api_refuse(c, 409, &err, "sheet.refused", object, "", NULL);
        }
        /* The signature's record first; the third one's completion follows
         * in the same transaction. */
        int64_t count = 0;
        cJSON *detail = cJSON_CreateObject();
        cJSON_AddStringToObject(detail, "party", party);
        cJSON_AddStringToObject(detail, "holder", k.holder);
        cJSON_AddStringToObject(detail, "fingerprint", fp);
        cJSON_AddStringToObject(detail, "hash", s.hash);
        cJSON_AddStringToObject(detail, "signature", sig_b64);
        struct audit_entry e = { .time = orch_now(o), .actor = c->who->name, .role = role_name(c->who->role),
                                 .action = "sheet.signed", .object = object, .outcome = "recorded", .rule = rule,
                                 .detail = detail };
        if (r >= 0)
                r = audit_append(o->store, o->audit_hash, &e, NULL);
        cJSON_Delete(detail);
        if (r >= 0)
                r = store_query_int(o->store, "SELECT COUNT(*) FROM sheet_signatures WHERE sheet_id = ?", STORE_ARGS(STORE_INT(c->id)), &count);
        if (r >= 0 && count == _SHEET_PARTY_MAX)
                r = complete(o, c->id, &s);
        if (r >= 0)
                r = store_commit(o->store);
        if (r < 0)
                return api_fail_store(c, r);
        o->metrics.audit_records++;
        log_info("sheet %" PRId64 " (%s, system %" PRId64 ") signed by the %s: %s (%s)%s", c->id, s.kind, s.system_id, party,
                 k.holder, fp, count == _SHEET_PARTY_MAX ? "; complete" : "");
        if (count == _SHEET_PARTY_MAX) {
                dispatch_wake(o);
                orch_notify_kick(o);
        }
        cJSON *view = NULL;
        r = sheet_view(c, c->id, &view);
        if (r < 0)
                return api_error(c, 500, "internal", "the sheet cannot be read back");
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "sheet", view);
        api_reply(c, 201, doc);
}

/* ---- trial extension (R-LC2) ---- */

struct trial_row {
        char state[32], pool[128];
        int64_t end, extended;
};

static int trial_row_cb(const struct store_row *row, void *userdata) {
        struct trial_row *t = userdata;
        snprintf(t->state, sizeof t->state, "%s", row->v[0].s);
        snprintf(t->pool, sizeof t->pool, "%s", row->v[1].type == STORE_TEXT ? row->v[1].s : "");
        t->end = row->v[2].type == STORE_INT ? row->v[2].i : 0;
        t->extended = row->v[3].i;
        return 0;
}

void post_trial_extension(struct api_call *c) {
        struct orch *o = c->o;
        struct gc_error err = {};
        struct trial_row t = {};
        char object[64];
        int64_t length = api_body_int(c, "length", 0);
        const char *approval = api_body_str(c, "approval");

        snprintf(object, sizeof object, "system:%" PRId64, c->id);
        int r = store_query(o->store, "SELECT state, pool, trial_end, trial_extended FROM systems WHERE id = ?",
                            STORE_ARGS(STORE_INT(c->id)), trial_row_cb, &t);
        if (r < 0)
                return api_fail_store(c, r);
        if (r == 0)
                return api_error(c, 404, "not_found", "no such system");
        if (strcmp(t.state, "trial") != 0) {
                gc_error_set(&err, "invalid_state", "R-LC2", "system.state", t.state, "is not trial: only a running trial is extended");
                return api_refuse(c, 409, &err, "trial.refused", object, approval, NULL);
        }
        const struct config_pool *pool = config_pool(o->cfg, t.pool);
        if (!pool)
                return api_error(c, 500, "internal", "the system's pool is not configured");
        r = trial_check_extension(&pool->pack->trial, (long) t.extended, (long) length, &err);
        if (r < 0) {
                snprintf(err.field, sizeof err.field, "length");
                return api_refuse(c, 422, &err, "trial.refused", object, approval, NULL);
        }
        int64_t due = trial_end(&pool->pack->trial, &pool->pack->calendar, t.end, (long) length);
        r = store_begin(o->store);
        if (r >= 0)
                r = store_exec(o->store, "UPDATE systems SET trial_end = ?, trial_extended = trial_extended + ?, updated = ? WHERE id = ?",
                               STORE_ARGS(STORE_INT(due), STORE_INT(length), STORE_INT(orch_now(o)), STORE_INT(c->id)), NULL);
        if (r >= 0)
                r = timers_set(o, "trial_end", c->id, due);
        if (r < 0)
                return api_fail_store(c, r);
        char was[32], now_end[32];
        store_format_time(t.end, was);
        store_format_time(due, now_end);
        struct api_mutation m = { .action = "trial.extended", .rule = "R-LC2", .detail = cJSON_CreateObject() };
        snprintf(m.object, sizeof m.object, "%s", object);
        cJSON_AddNumberToObject(m.detail, "length", (double) length);
        cJSON_AddStringToObject(m.detail, "unit", pool->pack->trial.unit == TRIAL_MONTHS ? "months" : "days");
        cJSON_AddStringToObject(m.detail, "approval", approval);
        cJSON_AddStringToObject(m.detail, "trial_end_was", was);
        cJSON_AddStringToObject(m.detail, "trial_end", now_end);
        cJSON_AddNumberToObject(m.detail, "extended", (double) (t.extended + length));
        r = api_commit(c, &m);
        if (r < 0)
                return api_fail_store(c, r);
        log_info("system %" PRId64 ": trial extended by %" PRId64 " on approval %s, now ends %s", c->id, length, approval, now_end);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "system", api_system_detail(o, c->id));
        cJSON_AddStringToObject(doc, "trial_end", now_end);
        cJSON_AddNumberToObject(doc, "extended", (double) (t.extended + length));
        api_reply(c, 200, doc);
}

/* ---- key revocation ---- */

void post_key_revoke(struct api_call *c) {
        struct orch *o = c->o;
        struct gc_error err = {};
        int64_t revoked = 0;
        char object[64];
        snprintf(object, sizeof object, "key:%" PRId64, c->id);
        int r = store_query_int(o->store, "SELECT COALESCE(revoked, 0) FROM party_keys WHERE id = ?", STORE_ARGS(STORE_INT(c->id)), &revoked);
        if (r == -ENOENT)
                return api_error(c, 404, "not_found", "no such key");
        if (r < 0)
                return api_fail_store(c, r);
        if (revoked) {
                gc_error_set(&err, "already_revoked", "", "key", object, "was revoked already");
                return api_refuse(c, 409, &err, "key.refused", object, "", NULL);
        }
        r = store_begin(o->store);
        if (r >= 0)
                r = store_exec(o->store, "UPDATE party_keys SET revoked = ?, revoked_reason = ? WHERE id = ?",
                               STORE_ARGS(STORE_INT(orch_now(o)), STORE_TEXT(api_body_str(c, "reason")), STORE_INT(c->id)), NULL);
        if (r < 0)
                return api_fail_store(c, r);
        struct api_mutation m = { .action = "key.revoked", .detail = cJSON_CreateObject() };
        snprintf(m.object, sizeof m.object, "%s", object);
        cJSON_AddStringToObject(m.detail, "reason", api_body_str(c, "reason"));
        r = api_commit(c, &m);
        if (r < 0)
                return api_fail_store(c, r);
        log_notice("key %" PRId64 " revoked: %s", c->id, api_body_str(c, "reason"));
        api_reply_one(c, 200, "key",
                      "SELECT k.id, k.party, u.name AS unit, k.holder, k.key_type, k.fingerprint, k.created AS \"created@time\", "
                      "k.revoked AS \"revoked@time\", k.revoked_reason FROM party_keys k LEFT JOIN units u ON u.id = k.unit_id WHERE k.id = ?",
                      STORE_ARGS(STORE_INT(c->id)));
}
