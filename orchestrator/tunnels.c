/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "alloc.h"
#include "api.h"
#include "audit.h"
#include "cleanup.h"
#include "config.h"
#include "crypto.h"
#include "dispatch.h"
#include "json.h"
#include "log.h"
#include "orch.h"
#include "request.h"
#include "store.h"
#include "tunnels.h"

#define TOKEN_BYTES 32

/* ---- the view ---- */

#define TUNNEL_COLUMNS \
        "t.id, t.state, t.approval_system || '/' || t.approval_id AS approval, u.name AS unit, s.id AS system_id, " \
        "s.name AS system_name, t.vm_id, v.name AS vm_name, t.target_address, t.port, t.minutes, t.purpose, " \
        "t.received AS \"received@time\", t.deadline AS \"deadline@time\", t.deadline AS deadline_unix, t.host, " \
        "t.listen_address, t.listen_port, t.operator_name, t.operator_id_number, t.operator_organization, " \
        "t.operator_cert_sha256, t.opened_ms, t.first_byte_ms, t.closed_ms, t.close_reason, t.bytes_in, t.bytes_out, " \
        "t.refusals "
#define TUNNEL_FROM \
        "FROM tunnels t JOIN systems s ON s.id = t.system_id JOIN units u ON u.id = s.unit_id JOIN vms v ON v.id = t.vm_id "

static void move(cJSON *to, const char *key, cJSON *from, const char *from_key) {
        cJSON *item = cJSON_DetachItemFromObjectCaseSensitive(from, from_key);
        cJSON_AddItemToObject(to, key, item ?: cJSON_CreateNull());
}

/* A flat row of TUNNEL_COLUMNS as the API shows a tunnel (takes row). */
static cJSON *tunnel_shape(cJSON *row) {
        cJSON *t = cJSON_CreateObject();
        move(t, "id", row, "id");
        move(t, "state", row, "state");
        move(t, "approval", row, "approval");
        move(t, "unit", row, "unit");
        cJSON *sys = cJSON_AddObjectToObject(t, "system");
        move(sys, "id", row, "system_id");
        move(sys, "name", row, "system_name");
        cJSON *vm = cJSON_AddObjectToObject(t, "vm");
        move(vm, "id", row, "vm_id");
        move(vm, "name", row, "vm_name");
        move(vm, "address", row, "target_address");
        move(t, "port", row, "port");
        move(t, "minutes", row, "minutes");
        move(t, "purpose", row, "purpose");
        move(t, "received", row, "received");
        move(t, "deadline", row, "deadline");
        move(t, "deadline_unix", row, "deadline_unix");
        move(t, "host", row, "host");
        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(row, "listen_address"))) {
                cJSON *e = cJSON_AddObjectToObject(t, "endpoint");
                move(e, "address", row, "listen_address");
                move(e, "port", row, "listen_port");
        } else
                cJSON_AddNullToObject(t, "endpoint");
        cJSON *op = cJSON_AddObjectToObject(t, "operator");
        move(op, "name", row, "operator_name");
        move(op, "id_number", row, "operator_id_number");
        move(op, "organization", row, "operator_organization");
        move(op, "certificate_sha256", row, "operator_cert_sha256");
        cJSON *ses = cJSON_AddObjectToObject(t, "session");
        move(ses, "opened_ms", row, "opened_ms");
        move(ses, "first_byte_ms", row, "first_byte_ms");
        move(ses, "closed_ms", row, "closed_ms");
        move(ses, "close_reason", row, "close_reason");
        move(ses, "bytes_in", row, "bytes_in");
        move(ses, "bytes_out", row, "bytes_out");
        move(t, "refusals", row, "refusals");
        cJSON_Delete(row);
        return t;
}

/* A tunnel not closed whose deadline passed: its host has cut it, or will
 * when it runs again, and has not reported yet. */
static void mark_past_deadline(struct orch *o, cJSON *t) {
        const char *state = str_at(t, "state");
        bool live = state && (strcmp(state, "opening") == 0 || strcmp(state, "open") == 0 || strcmp(state, "in_session") == 0);
        cJSON_AddBoolToObject(t, "past_deadline", live && int_at(t, "deadline_unix", 0) <= orch_now(o));
}

/* Who may see a tunnel: the provider and the authority all; the approval
 * system its own; a tenant its unit's; an operator the ones naming its
 * certificate. As SQL over TUNNEL_FROM, with its two arguments. */
#define TUNNEL_VISIBLE \
        "(? = 'all' OR (? = 'approval' AND t.approval_system = ?) OR (? = 'tenant' AND u.name = ?) " \
        "OR (? = 'operator' AND t.operator_cert_sha256 = ?)) "

static const char *visibility(const struct api_call *c, const char **arg) {
        switch (c->who->role) {
        case ROLE_APPROVAL:
                *arg = c->who->name;
                return "approval";
        case ROLE_TENANT:
                *arg = c->who->name;
                return "tenant";
        case ROLE_OPERATOR:
                *arg = c->who->cert_sha256;
                return "operator";
        default:
                *arg = "";
                return "all";
        }
}

static int tunnel_view(struct api_call *c, int64_t id, bool check_visible, cJSON **ret) {
        const char *arg, *kind = check_visible ? visibility(c, &arg) : (arg = "", "all");
        cJSON *row = NULL;
        int r = store_query_json_one(c->o->store, "SELECT " TUNNEL_COLUMNS TUNNEL_FROM "WHERE t.id = ? AND " TUNNEL_VISIBLE,
                                     STORE_ARGS(STORE_INT(id), STORE_TEXT(kind), STORE_TEXT(kind), STORE_TEXT(arg),
                                                STORE_TEXT(kind), STORE_TEXT(arg), STORE_TEXT(kind), STORE_TEXT(arg)),
                                     &row);
        if (r < 0)
                return r;
        *ret = tunnel_shape(row);
        mark_past_deadline(c->o, *ret);
        return 0;
}

void get_tunnels(struct api_call *c) {
        int64_t system;
        if (api_query_int(c, "system", 1, INT64_MAX, 0, &system) < 0)
                return;
        const char *state = api_query(c, "state");
        const char *arg, *kind = visibility(c, &arg);
        _cleanup_(cJSON_Deletep) cJSON *rows = NULL;
        int r = store_query_json(c->o->store,
                                 "SELECT " TUNNEL_COLUMNS TUNNEL_FROM "WHERE (? = 0 OR t.system_id = ?) AND (? IS NULL OR t.state = ?) AND "
                                 TUNNEL_VISIBLE "ORDER BY t.id",
                                 STORE_ARGS(STORE_INT(system), STORE_INT(system), STORE_TEXT(state), STORE_TEXT(state),
                                            STORE_TEXT(kind), STORE_TEXT(kind), STORE_TEXT(arg), STORE_TEXT(kind), STORE_TEXT(arg),
                                            STORE_TEXT(kind), STORE_TEXT(arg)),
                                 &rows);
        if (r < 0)
                return api_fail_store(c, r);
        cJSON *list = cJSON_CreateArray();
        cJSON *row;
        while ((row = cJSON_DetachItemFromArray(rows, 0))) {
                cJSON *t = tunnel_shape(row);
                mark_past_deadline(c->o, t);
                cJSON_AddItemToArray(list, t);
        }
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "tunnels", list);
        api_reply(c, 200, doc);
}

void get_tunnel(struct api_call *c) {
        cJSON *t = NULL;
        int r = tunnel_view(c, c->id, true, &t);
        if (r == -ENOENT)
                return api_error(c, 404, "not_found", "no such tunnel");
        if (r < 0)
                return api_fail_store(c, r);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "tunnel", t);
        api_reply(c, 200, doc);
}

/* ---- POST /v1/tunnels ---- */

struct tunnel_intake {
        struct api_call *c;
        struct orch *o;
        struct request *req;
        struct gc_error err;
        char approval[256];
        const struct pack *pack;
        int64_t system_id, vm_id, vni;
        char *host, *listen, *address;
        char cert_sha256[65];
};

static void ti_done(struct tunnel_intake *t) {
        request_free(t->req);
        free(t->host);
        free(t->listen);
        free(t->address);
}

static int ti_refuse(struct tunnel_intake *t, int status) {
        api_refuse(t->c, status, &t->err, "request.refused", "", t->approval, "tunnel");
        return -EPERM;
}

/* GB 11643: the 18th character is the check digit of the first 17. */
static bool id_number_valid(const char *s) {
        static const int w[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
        if (!s || strlen(s) != 18)
                return false;
        int sum = 0;
        for (int i = 0; i < 17; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                sum += (s[i] - '0') * w[i];
        }
        return s[17] == "10X98765432"[sum % 11];
}

static char *subject_entry(X509 *x, int nid) {
        X509_NAME *n = X509_get_subject_name(x);
        int i = X509_NAME_get_index_by_NID(n, nid, -1);
        if (i < 0)
                return NULL;
        unsigned char *utf8 = NULL;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
        if (len < 0)
                return NULL;
        char *s = xstrndup((const char *) utf8, (size_t) len);
        OPENSSL_free(utf8);
        return s;
}

/* R-OP1: the operator is a named person holding a client certificate the
 * platform's CA issued for the operator role, in that person's name. */
static int check_operator(struct tunnel_intake *t, const cJSON *op) {
        const char *name = str_at(op, "name"), *idn = str_at(op, "id_number"), *pem = str_at(op, "certificate");

        if (!id_number_valid(idn)) {
                gc_error_set(&t->err, "invalid_id_number", "R-OP1", "operator.id_number", idn,
                             "is not a resident identity card number (GB 11643: its check digit does not match)");
                return ti_refuse(t, 422);
        }
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new_mem_buf(pem, -1);
        X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        if (!x) {
                gc_error_set(&t->err, "invalid_certificate", "R-OP1", "operator.certificate", NULL, "is not a PEM certificate");
                return ti_refuse(t, 422);
        }
        _cleanup_free_ char *ou = NULL, *cn = NULL, *hex = NULL;
        int r = 0;
        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        if (!store || !ctx || X509_STORE_load_file(store, t->o->cfg->tls_ca) != 1 ||
            X509_STORE_CTX_init(ctx, store, x, NULL) != 1) {
                r = log_error_errno(-EIO, "cannot load the CA %s to check an operator's certificate", t->o->cfg->tls_ca);
                goto out;
        }
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
        if (X509_verify_cert(ctx) != 1) {
                gc_error_set(&t->err, "untrusted_certificate", "R-OP1", "operator.certificate", NULL,
                             "was not issued for TLS clients by the platform's CA: %s",
                             X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
                r = ti_refuse(t, 422);
                goto out;
        }
        ou = subject_entry(x, NID_organizationalUnitName);
        cn = subject_entry(x, NID_commonName);
        if (!ou || strcmp(ou, "operator") != 0) {
                gc_error_set(&t->err, "not_operator", "R-OP1", "operator.certificate", ou ?: "",
                             "is the certificate of role \"%s\"; a tunnel is connected with an operator's certificate (OU=operator)",
                             ou ?: "");
                r = ti_refuse(t, 422);
                goto out;
        }
        if (!cn || strcmp(cn, name) != 0) {
                gc_error_set(&t->err, "operator_name_mismatch", "R-OP1", "operator.name", name,
                             "is not the name in the certificate (CN \"%s\"): an operator connects under the real name registered",
                             cn ?: "");
                r = ti_refuse(t, 422);
                goto out;
        }
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32) {
                r = -EIO;
                goto out;
        }
        hex = crypto_hex(md, mdlen);
        snprintf(t->cert_sha256, sizeof t->cert_sha256, "%s", hex);
out:
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        X509_free(x);
        return r;
}

struct target_row {
        bool found;
        int64_t system_id, vm_id, vni;
        char *system_state, *pool, *vm_state, *address, *host, *listen;
};

static int target_cb(const struct store_row *row, void *userdata) {
        struct target_row *tr = userdata;
        tr->found = true;
        tr->system_id = row->v[0].i;
        tr->system_state = xstrdup(row->v[1].s);
        tr->pool = row->v[2].type == STORE_TEXT ? xstrdup(row->v[2].s) : NULL;
        tr->vm_id = row->v[3].type == STORE_INT ? row->v[3].i : 0;
        tr->vm_state = row->v[4].type == STORE_TEXT ? xstrdup(row->v[4].s) : NULL;
        tr->address = row->v[5].type == STORE_TEXT ? xstrdup(row->v[5].s) : NULL;
        tr->host = row->v[6].type == STORE_TEXT ? xstrdup(row->v[6].s) : NULL;
        tr->listen = row->v[7].type == STORE_TEXT ? xstrdup(row->v[7].s) : NULL;
        tr->vni = row->v[8].type == STORE_INT ? row->v[8].i : 0;
        return 0;
}

static bool system_running(const char *state) {
        static const char *const ok[] = { "trial", "awaiting_golive", "active", "changing" };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if (strcmp(state, ok[i]) == 0)
                        return true;
        return false;
}

static int check_target(struct tunnel_intake *t) {
        const cJSON *doc = t->req->doc;
        const char *unit = str_at(doc, "unit"), *system = str_at(cJSON_GetObjectItemCaseSensitive(doc, "system"), "name");
        const char *vm = str_at(doc, "vm");
        struct target_row tr = {};
        int r = store_query(t->o->store,
                            "SELECT s.id, s.state, s.pool, v.id, v.state, v.address, v.host, h.operations_address, p.vni "
                            "FROM systems s JOIN units u ON u.id = s.unit_id "
                            "LEFT JOIN vms v ON v.system_id = s.id AND v.name = ? AND v.state <> 'deleted' "
                            "LEFT JOIN hosts h ON h.name = v.host LEFT JOIN vpcs p ON p.system_id = s.id "
                            "WHERE u.name = ? AND s.name = ?",
                            STORE_ARGS(STORE_TEXT(vm), STORE_TEXT(unit), STORE_TEXT(system)), target_cb, &tr);
        _cleanup_free_ char *system_state = tr.system_state, *pool = tr.pool, *vm_state = tr.vm_state;
        t->address = tr.address;
        t->host = tr.host;
        t->listen = tr.listen;
        if (r < 0)
                return r;
        if (!tr.found) {
                gc_error_set(&t->err, "unknown_system", "R-NM1", "system.name", system, "is not a registered system of %s", unit);
                return ti_refuse(t, 422);
        }
        t->system_id = tr.system_id;
        const struct config_pool *p = pool ? config_pool(t->o->cfg, pool) : NULL;
        t->pack = p ? p->pack : t->o->cfg->pack;
        if (!system_running(system_state)) {
                gc_error_set(&t->err, "invalid_state", "R-OP1", "system.name", system,
                             "is %s; a tunnel reaches a VM of a system that is in trial, awaiting go-live, active or changing",
                             system_state);
                return ti_refuse(t, 409);
        }
        if (!tr.vm_id) {
                gc_error_set(&t->err, "unknown_vm", "R-NM2", "vm", vm, "is not a VM of %s %s", unit, system);
                return ti_refuse(t, 422);
        }
        if (!vm_state || strcmp(vm_state, "running") != 0 || !t->address || !t->host || !tr.vni) {
                gc_error_set(&t->err, "vm_not_running", "R-OP1", "vm", vm,
                             "is %s%s; a tunnel reaches a running VM at its address in the system's VPC", vm_state ?: "not placed",
                             t->address ? "" : " without an address");
                return ti_refuse(t, 409);
        }
        if (!t->listen) {
                gc_error_set(&t->err, "no_operations_address", "R-OP1", "vm", vm,
                             "runs on host %s, which has no operations address registered", t->host);
                return ti_refuse(t, 422);
        }
        t->vm_id = tr.vm_id;
        t->vni = tr.vni;
        return 0;
}

/* R-OP1, R-OP2: the pack's limit, and beyond it only what the security
 * authority approved where the pack allows that at all. */
static int check_length(struct tunnel_intake *t) {
        const cJSON *doc = t->req->doc;
        long minutes = int_at(doc, "minutes", 0);
        long limit = t->pack && t->pack->remote_ops.max_minutes > 0 ? t->pack->remote_ops.max_minutes : t->o->cfg->tunnel_max_minutes;
        const char *limit_from = t->pack && t->pack->remote_ops.max_minutes > 0 ? "pack" : "platform";
        const char *authority = str_at(cJSON_GetObjectItemCaseSensitive(doc, "approval"), "security_authority");
        char value[32];
        snprintf(value, sizeof value, "%ld", minutes);

        if (minutes <= limit)
                return 0;
        if (!t->pack || !t->pack->remote_ops.long_lived_needs_security_authority) {
                gc_error_set(&t->err, "tunnel_too_long", "R-OP1", "minutes", value,
                             "exceeds the %s limit of %ld minutes; pack %s allows no longer channel", limit_from, limit,
                             t->pack ? t->pack->id : "-");
                return ti_refuse(t, 422);
        }
        if (!authority) {
                gc_error_set(&t->err, "tunnel_too_long", "R-OP2", "minutes", value,
                             "exceeds the %s limit of %ld minutes; pack %s allows a longer channel only with the security "
                             "authority's approval (approval.security_authority)",
                             limit_from, limit, t->pack->id);
                return ti_refuse(t, 422);
        }
        if (minutes > t->o->cfg->tunnel_long_lived_max_minutes) {
                gc_error_set(&t->err, "tunnel_too_long", "R-OP2", "minutes", value,
                             "exceeds the platform's limit of %lld minutes for channels the security authority approved",
                             (long long) t->o->cfg->tunnel_long_lived_max_minutes);
                return ti_refuse(t, 422);
        }
        return 0;
}

static void token_new(char out[64]) {
        uint8_t raw[TOKEN_BYTES];
        unsigned char b64[64];
        if (crypto_random(raw, sizeof raw) < 0)
                abort();
        int n = EVP_EncodeBlock(b64, raw, sizeof raw);
        size_t j = 0;
        for (int i = 0; i < n; i++) {
                char ch = (char) b64[i];
                if (ch == '=')
                        break;
                out[j++] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
        }
        out[j] = 0;
        OPENSSL_cleanse(raw, sizeof raw);
}

static void token_hash(enum gc_hash_alg alg, const char *token, char out[80]) {
        uint8_t md[GC_HASH_MAX];
        if (crypto_digest(alg, token, strlen(token), md) < 0)
                abort();
        _cleanup_free_ char *hex = crypto_hex(md, 32);
        snprintf(out, 80, "%s:%s", crypto_hash_to_string(alg), hex);
}

/* One audit record of a tunnel, inside the caller's transaction; takes detail. */
static int audit_tunnel(struct orch *o, const char *actor, const char *role, const char *action, int64_t id,
                        const char *approval, const char *outcome, const char *rule, cJSON *detail) {
        char object[64];
        snprintf(object, sizeof object, "tunnel:%lld", (long long) id);
        struct audit_entry e = { .time = orch_now(o), .actor = actor, .role = role, .action = action, .object = object,
                                 .approval = approval ?: "", .outcome = outcome, .rule = rule, .detail = detail };
        int r = audit_append(o->store, o->audit_hash, &e, NULL);
        cJSON_Delete(detail);
        if (r >= 0)
                o->metrics.audit_records++;
        return r;
}

static int accept_tunnel(struct tunnel_intake *t, const char *token, int64_t *ret_id) {
        struct orch *o = t->o;
        const cJSON *doc = t->req->doc, *op = cJSON_GetObjectItemCaseSensitive(doc, "operator");
        int64_t now = orch_now(o), minutes = int_at(doc, "minutes", 0), deadline = now + minutes * 60, id, job;
        char hash[80];
        token_hash(o->audit_hash, token, hash);
        _cleanup_free_ char *document = cJSON_PrintUnformatted(doc), *payload = NULL;

        int r = store_begin(o->store);
        if (r < 0)
                return r;
        r = store_query_int(o->store,
                            "INSERT INTO tunnels (approval_system, approval_id, digest, document, received, system_id, vm_id, host, "
                            "target_address, port, minutes, deadline, purpose, operator_name, operator_id_number, "
                            "operator_organization, operator_cert_sha256, token_hash, state) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'opening') RETURNING id",
                            STORE_ARGS(STORE_TEXT(t->req->approval_system), STORE_TEXT(t->req->approval_id),
                                       STORE_TEXT(t->req->digest), STORE_TEXT(document), STORE_INT(now), STORE_INT(t->system_id),
                                       STORE_INT(t->vm_id), STORE_TEXT(t->host), STORE_TEXT(t->address),
                                       STORE_INT(int_at(doc, "port", 0)), STORE_INT(minutes), STORE_INT(deadline),
                                       STORE_TEXT(str_at(doc, "purpose")), STORE_TEXT(str_at(op, "name")),
                                       STORE_TEXT(str_at(op, "id_number")), STORE_TEXT(str_at(op, "organization")),
                                       STORE_TEXT(t->cert_sha256), STORE_TEXT(hash)),
                            &id);
        if (r < 0)
                goto fail;

        /* The host's job: a listener for this tunnel only (R-OP4). */
        cJSON *spec = cJSON_CreateObject();
        cJSON_AddNumberToObject(spec, "id", (double) id);
        cJSON_AddStringToObject(spec, "listen", t->listen);
        cJSON_AddNumberToObject(spec, "vni", (double) t->vni);
        cJSON_AddStringToObject(spec, "target", t->address);
        cJSON_AddNumberToObject(spec, "target_port", (double) int_at(doc, "port", 0));
        cJSON_AddNumberToObject(spec, "deadline", (double) deadline);
        cJSON_AddNumberToObject(spec, "seconds", (double) (minutes * 60));
        cJSON_AddStringToObject(spec, "token_hash", hash);
        cJSON *sop = cJSON_AddObjectToObject(spec, "operator");
        cJSON_AddStringToObject(sop, "name", str_at(op, "name"));
        cJSON_AddStringToObject(sop, "certificate_sha256", t->cert_sha256);
        cJSON_AddStringToObject(spec, "approval", t->approval);
        payload = cJSON_PrintUnformatted(spec);
        cJSON_Delete(spec);
        r = store_query_int(o->store,
                            "INSERT INTO jobs (host, tunnel_id, kind, payload, state, created) VALUES (?, ?, 'tunnel.open', ?, 'queued', "
                            "CAST(strftime('%s', 'now') AS INTEGER)) RETURNING id",
                            STORE_ARGS(STORE_TEXT(t->host), STORE_INT(id), STORE_TEXT(payload)), &job);
        if (r < 0)
                goto fail;

        cJSON *detail = cJSON_CreateObject();
        cJSON_AddNumberToObject(detail, "tunnel", (double) id);
        cJSON_AddStringToObject(detail, "unit", str_at(doc, "unit"));
        cJSON_AddStringToObject(detail, "system_name", str_at(cJSON_GetObjectItemCaseSensitive(doc, "system"), "name"));
        cJSON_AddNumberToObject(detail, "system", (double) t->system_id);
        cJSON_AddStringToObject(detail, "vm", str_at(doc, "vm"));
        cJSON_AddStringToObject(detail, "address", t->address);
        cJSON_AddNumberToObject(detail, "port", (double) int_at(doc, "port", 0));
        cJSON_AddNumberToObject(detail, "minutes", (double) minutes);
        char when[32];
        store_format_time(deadline, when);
        cJSON_AddStringToObject(detail, "deadline", when);
        cJSON_AddStringToObject(detail, "host", t->host);
        cJSON_AddStringToObject(detail, "purpose", str_at(doc, "purpose"));
        cJSON *dop = cJSON_AddObjectToObject(detail, "operator");
        cJSON_AddStringToObject(dop, "name", str_at(op, "name"));
        cJSON_AddStringToObject(dop, "id_number", str_at(op, "id_number"));
        if (str_at(op, "organization"))
                cJSON_AddStringToObject(dop, "organization", str_at(op, "organization"));
        cJSON_AddStringToObject(dop, "certificate_sha256", t->cert_sha256);
        if (str_at(doc, "unit_approval"))
                cJSON_AddStringToObject(detail, "unit_approval", str_at(doc, "unit_approval"));       /* R-OP1 */
        const char *authority = str_at(cJSON_GetObjectItemCaseSensitive(doc, "approval"), "security_authority");
        if (authority)
                cJSON_AddStringToObject(detail, "security_authority", authority);                    /* R-OP2 */
        cJSON_AddStringToObject(detail, "digest", t->req->digest);
        cJSON_AddNumberToObject(detail, "job", (double) job);
        r = audit_tunnel(o, t->c->who->name, "approval", "tunnel.accepted", id, t->approval, "accepted", "R-OP1", detail);
        if (r < 0)
                goto fail;
        r = store_commit(o->store);
        if (r < 0)
                goto fail;
        *ret_id = id;
        return 0;
fail:
        store_rollback(o->store);
        return r;
}

static void reply_tunnel(struct api_call *c, int status, int64_t id, bool existing, const char *token) {
        cJSON *t = NULL;
        int r = tunnel_view(c, id, false, &t);
        if (r < 0)
                return api_error(c, 500, "store_failure", "the tunnel was stored but cannot be read back");
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddBoolToObject(doc, "existing", existing);
        cJSON_AddItemToObject(doc, "tunnel", t);
        if (token)
                cJSON_AddStringToObject(doc, "token", token);
        else
                cJSON_AddNullToObject(doc, "token");
        api_reply(c, status, doc);
}

void post_tunnels(struct api_call *c) {
        struct tunnel_intake t = { .c = c, .o = c->o };
        int64_t prior_request = 0, prior_tunnel = 0;
        int r;

        r = request_parse(c->raw, c->raw_len, &t.req, &t.err);
        if (r < 0) {
                api_refuse(c, 400, &t.err, "request.refused", "", "", "tunnel");
                goto done;
        }
        snprintf(t.approval, sizeof t.approval, "%s/%s", t.req->approval_system, t.req->approval_id);
        r = intake_envelope(c, t.req, t.approval, &t.err, &prior_request, &prior_tunnel);
        if (r < 0)
                goto done_r;
        if (r > 0) {
                if (prior_tunnel) {
                        /* A retry: the token was given once and is not kept. */
                        reply_tunnel(c, 200, prior_tunnel, true, NULL);
                        goto done;
                }
                gc_error_set(&t.err, "replay", "", "approval.id", t.req->approval_id,
                             "is request %lld's approval; one approval opens at most one tunnel", (long long) prior_request);
                ti_refuse(&t, 409);
                goto done;
        }
        if (strcmp(t.req->kind, "tunnel") != 0) {
                gc_error_set(&t.err, "wrong_endpoint", "", "kind", t.req->kind,
                             "is submitted to POST /v1/requests; this endpoint takes tunnel requests");
                ti_refuse(&t, 422);
                goto done;
        }
        r = request_check_schema(t.req, &t.err);
        if (r < 0) {
                ti_refuse(&t, 400);
                goto done;
        }

        r = check_target(&t);
        if (r < 0)
                goto done_r;
        /* R-OP1: the owning unit's own approval of the operation. */
        if (t.pack && t.pack->remote_ops.needs_unit_approval == PACK_YES && !str_at(t.req->doc, "unit_approval")) {
                gc_error_set(&t.err, "missing_unit_approval", "R-OP1", "unit_approval", NULL,
                             "is required: pack %s requires the owning unit's internal approval of remote operations",
                             t.pack->id);
                ti_refuse(&t, 422);
                goto done;
        }
        r = check_operator(&t, cJSON_GetObjectItemCaseSensitive(t.req->doc, "operator"));
        if (r >= 0)
                r = check_length(&t);
        if (r < 0)
                goto done_r;

        char token[64];
        int64_t id = 0;
        token_new(token);
        r = accept_tunnel(&t, token, &id);
        if (r < 0)
                goto done_r;
        log_info("accepted tunnel %lld (%s): %s to %s:%ld on host %s for %ld minutes", (long long) id, t.approval,
                 str_at(cJSON_GetObjectItemCaseSensitive(t.req->doc, "operator"), "name"), t.address,
                 int_at(t.req->doc, "port", 0), t.host, int_at(t.req->doc, "minutes", 0));
        reply_tunnel(c, 201, id, false, token);
        OPENSSL_cleanse(token, sizeof token);
        dispatch_wake(c->o);
        goto done;

done_r:
        if (r < 0 && r != -EPERM && !c->replied) {
                log_error_errno(r, "tunnel %s: store failure", t.approval);
                api_error(c, r == -EBUSY ? 503 : 500, "store_failure", "the store could not complete the request");
        }
done:
        ti_done(&t);
}

/* ---- POST /v1/tunnels/{id}/close: the provider or the authority cuts a tunnel ---- */

void post_tunnel_close(struct api_call *c) {
        struct orch *o = c->o;
        _cleanup_(cJSON_Deletep) cJSON *row = NULL;
        int r = store_begin(o->store);
        if (r >= 0)
                r = store_query_json_one(o->store,
                                         "SELECT state, host, approval_system || '/' || approval_id AS approval FROM tunnels WHERE id = ?",
                                         STORE_ARGS(STORE_INT(c->id)), &row);
        if (r == -ENOENT) {
                store_rollback(o->store);
                return api_error(c, 404, "not_found", "no such tunnel");
        }
        if (r < 0)
                return api_fail_store(c, r);
        const char *state = str_at(row, "state"), *host = str_at(row, "host"), *approval = str_at(row, "approval");
        if (strcmp(state, "closed") == 0 || strcmp(state, "failed") == 0) {
                store_rollback(o->store);
                struct gc_error err = {};
                char object[64];
                snprintf(object, sizeof object, "tunnel:%lld", (long long) c->id);
                gc_error_set(&err, "invalid_state", "R-OP2", "id", NULL, "tunnel %lld is %s already", (long long) c->id, state);
                return api_refuse(c, 409, &err, "tunnel.refused", object, approval, NULL);
        }
        cJSON *spec = cJSON_CreateObject();
        cJSON_AddNumberToObject(spec, "id", (double) c->id);
        _cleanup_free_ char *payload = cJSON_PrintUnformatted(spec);
        cJSON_Delete(spec);
        r = store_exec(o->store,
                       "INSERT INTO jobs (host, tunnel_id, kind, payload, state, created) VALUES (?, ?, 'tunnel.close', ?, 'queued', "
                       "CAST(strftime('%s', 'now') AS INTEGER))",
                       STORE_ARGS(STORE_TEXT(host), STORE_INT(c->id), STORE_TEXT(payload)), NULL);
        if (r < 0)
                return api_fail_store(c, r);
        cJSON *detail = cJSON_CreateObject();
        cJSON_AddStringToObject(detail, "state", state);
        cJSON_AddStringToObject(detail, "host", host);
        r = audit_tunnel(o, c->who->name, role_name(c->who->role), "tunnel.close_ordered", c->id, approval, "recorded", "R-OP2",
                         detail);
        if (r >= 0)
                r = store_commit(o->store);
        if (r < 0)
                return api_fail_store(c, r);
        log_notice("tunnel %lld: %s %s orders it closed", (long long) c->id, role_name(c->who->role), c->who->name);
        dispatch_wake(o);
        get_tunnel(c);
}

/* ---- what the agents report ---- */

int tunnels_job_result(struct api_call *c, int64_t job, const char *kind, int64_t tunnel_id, bool ok, const cJSON *res) {
        struct orch *o = c->o;
        _cleanup_free_ char *approval = NULL;
        int r = store_query_text(o->store, "SELECT approval_system || '/' || approval_id FROM tunnels WHERE id = ?",
                                 STORE_ARGS(STORE_INT(tunnel_id)), &approval);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        cJSON *detail = cJSON_CreateObject();
        cJSON_AddNumberToObject(detail, "job", (double) job);
        cJSON_AddStringToObject(detail, "host", c->who->name);
        if (strcmp(kind, "tunnel.close") == 0) {
                if (!ok)
                        cJSON_AddStringToObject(detail, "error", str_at(res, "error") ?: "");
                return audit_tunnel(o, c->who->name, "host", ok ? "tunnel.close_done" : "tunnel.close_failed", tunnel_id,
                                    approval, ok ? "done" : "failed", "R-OP2", detail);
        }
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(res, "tunnel");
        if (!ok || !str_at(t, "address") || int_at(t, "port", 0) <= 0) {
                const char *error = str_at(res, "error") ?: "the result names no listener";
                cJSON_AddStringToObject(detail, "error", error);
                r = store_exec(o->store,
                               "UPDATE tunnels SET state = 'failed', close_reason = COALESCE(close_reason, 'not_opened') "
                               "WHERE id = ? AND state = 'opening'",
                               STORE_ARGS(STORE_INT(tunnel_id)), NULL);
                log_warning("host %s: tunnel %lld not opened: %s", c->who->name, (long long) tunnel_id, error);
                if (r < 0) {
                        cJSON_Delete(detail);
                        return r;
                }
                return audit_tunnel(o, c->who->name, "host", "tunnel.failed", tunnel_id, approval, "failed", "R-OP1", detail);
        }
        r = store_exec(o->store,
                       "UPDATE tunnels SET listen_address = ?, listen_port = ?, state = CASE WHEN state = 'opening' THEN 'open' ELSE state END "
                       "WHERE id = ?",
                       STORE_ARGS(STORE_TEXT(str_at(t, "address")), STORE_INT(int_at(t, "port", 0)), STORE_INT(tunnel_id)), NULL);
        if (r < 0) {
                cJSON_Delete(detail);
                return r;
        }
        cJSON_AddStringToObject(detail, "address", str_at(t, "address"));
        cJSON_AddNumberToObject(detail, "port", (double) int_at(t, "port", 0));
        log_info("host %s: tunnel %lld listening on %s:%ld", c->who->name, (long long) tunnel_id, str_at(t, "address"),
                 int_at(t, "port", 0));
        return audit_tunnel(o, c->who->name, "host", "tunnel.listening", tunnel_id, approval, "done", "R-OP1", detail);
}

struct event_tunnel {
        bool found;
        int64_t seq;
        char host[256];
        char *approval, *state, *vm, *address, *operator_name, *operator_id, *operator_cert;
        int64_t port;
};

static int event_tunnel_cb(const struct store_row *row, void *userdata) {
        struct event_tunnel *e = userdata;
        e->found = true;
        e->seq = row->v[0].i;
        snprintf(e->host, sizeof e->host, "%s", row->v[1].s);
        e->approval = xstrdup(row->v[2].s);
        e->state = xstrdup(row->v[3].s);
        e->vm = xstrdup(row->v[4].s);
        e->address = xstrdup(row->v[5].s);
        e->port = row->v[6].i;
        e->operator_name = xstrdup(row->v[7].s);
        e->operator_id = xstrdup(row->v[8].s);
        e->operator_cert = xstrdup(row->v[9].s);
        return 0;
}

static void event_tunnel_done(struct event_tunnel *e) {
        free(e->approval);
        free(e->state);
        free(e->vm);
        free(e->address);
        free(e->operator_name);
        free(e->operator_id);
        free(e->operator_cert);
}

static void add_ms(cJSON *o, const char *key, const cJSON *ev, const char *from) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, from);
        if (cJSON_IsNumber(v))
                cJSON_AddNumberToObject(o, key, v->valuedouble);
        else
                cJSON_AddNullToObject(o, key);
}

/* One event (include/gc/wire.h) of one of the calling host's tunnels;
 * events arrive in seq order and one seen before is ignored. */
static int apply_event(struct api_call *c, const cJSON *ev) {
        struct orch *o = c->o;
        int64_t id = int_at(ev, "tunnel", 0), seq = int_at(ev, "seq", 0);
        const char *what = str_at(ev, "event"), *reason = str_at(ev, "reason");
        struct event_tunnel t = {};
        int r = store_query(o->store,
                            "SELECT t.event_seq, t.host, t.approval_system || '/' || t.approval_id, t.state, v.name, t.target_address, "
                            "t.port, t.operator_name, t.operator_id_number, t.operator_cert_sha256 "
                            "FROM tunnels t JOIN vms v ON v.id = t.vm_id WHERE t.id = ?",
                            STORE_ARGS(STORE_INT(id)), event_tunnel_cb, &t);
        if (r < 0)
                goto out;
        if (!t.found || strcmp(t.host, c->who->name) != 0) {
                log_warning("host %s: event for tunnel %lld, which is not its tunnel: ignored", c->who->name, (long long) id);
                goto out;
        }
        if (seq <= t.seq)
                goto out;       /* posted again */
        if (seq != t.seq + 1)
                log_warning("host %s: tunnel %lld event %lld follows %lld: events are missing", c->who->name, (long long) id,
                            (long long) seq, (long long) t.seq);

        cJSON *detail = cJSON_CreateObject();
        cJSON_AddNumberToObject(detail, "seq", (double) seq);
        cJSON_AddStringToObject(detail, "host", c->who->name);
        add_ms(detail, "time_ms", ev, "time");
        const char *action, *outcome, *rule;
        if (strcmp(what, "refused") == 0) {
                /* R-OP2: anything but the first connection with both the
                 * operator's certificate and the token. */
                action = "tunnel.connection_refused", outcome = "refused", rule = "R-OP2";
                cJSON_AddStringToObject(detail, "reason", reason ?: "");
                cJSON_AddItemToObject(detail, "peer", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ev, "peer"), true) ?: cJSON_CreateNull());
                cJSON_AddItemToObject(detail, "subject", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ev, "subject"), true) ?: cJSON_CreateNull());
                r = store_exec(o->store, "UPDATE tunnels SET refusals = refusals + 1, event_seq = ? WHERE id = ?",
                               STORE_ARGS(STORE_INT(seq), STORE_INT(id)), NULL);
                log_notice("tunnel %lld: connection from %s refused: %s", (long long) id, str_at(ev, "peer") ?: "?", reason ?: "?");
        } else if (strcmp(what, "session") == 0) {
                action = "tunnel.session_opened", outcome = "recorded", rule = "R-OP2";
                cJSON_AddItemToObject(detail, "peer", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ev, "peer"), true) ?: cJSON_CreateNull());
                cJSON_AddItemToObject(detail, "subject", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ev, "subject"), true) ?: cJSON_CreateNull());
                r = store_exec(o->store,
                               "UPDATE tunnels SET state = CASE WHEN state IN ('opening', 'open') THEN 'in_session' ELSE state END, "
                               "opened_ms = ?, event_seq = ? WHERE id = ?",
                               STORE_ARGS(STORE_INT(int_at(ev, "time", 0)), STORE_INT(seq), STORE_INT(id)), NULL);
                log_info("tunnel %lld: session opened from %s", (long long) id, str_at(ev, "peer") ?: "?");
        } else {
                /* R-OP3: the session's record. */
                action = "tunnel.closed", outcome = "recorded", rule = "R-OP3";
                cJSON *op = cJSON_AddObjectToObject(detail, "operator");
                cJSON_AddStringToObject(op, "name", t.operator_name);
                cJSON_AddStringToObject(op, "id_number", t.operator_id);
                cJSON_AddStringToObject(op, "certificate_sha256", t.operator_cert);
                cJSON_AddStringToObject(detail, "approval", t.approval);
                cJSON_AddStringToObject(detail, "vm", t.vm);
                cJSON_AddStringToObject(detail, "address", t.address);
                cJSON_AddNumberToObject(detail, "port", (double) t.port);
                add_ms(detail, "opened_ms", ev, "opened");
                add_ms(detail, "first_byte_ms", ev, "first_byte");
                add_ms(detail, "closed_ms", ev, "closed");
                cJSON_AddStringToObject(detail, "reason", reason ?: "");
                cJSON_AddNumberToObject(detail, "bytes_in", (double) int_at(ev, "bytes_in", 0));
                cJSON_AddNumberToObject(detail, "bytes_out", (double) int_at(ev, "bytes_out", 0));
                const cJSON *opened = cJSON_GetObjectItemCaseSensitive(ev, "opened"),
                            *first = cJSON_GetObjectItemCaseSensitive(ev, "first_byte");
                r = store_exec(o->store,
                               "UPDATE tunnels SET state = 'closed', opened_ms = COALESCE(?, opened_ms), first_byte_ms = ?, closed_ms = ?, "
                               "close_reason = ?, bytes_in = ?, bytes_out = ?, event_seq = ? WHERE id = ?",
                               STORE_ARGS(cJSON_IsNumber(opened) ? STORE_INT((int64_t) opened->valuedouble) : STORE_NULL_VALUE,
                                          cJSON_IsNumber(first) ? STORE_INT((int64_t) first->valuedouble) : STORE_NULL_VALUE,
                                          STORE_INT(int_at(ev, "closed", int_at(ev, "time", 0))), STORE_TEXT(reason ?: ""),
                                          STORE_INT(int_at(ev, "bytes_in", 0)), STORE_INT(int_at(ev, "bytes_out", 0)),
                                          STORE_INT(seq), STORE_INT(id)),
                               NULL);
                log_info("tunnel %lld closed (%s): %ld bytes in, %ld bytes out", (long long) id, reason ?: "?",
                         int_at(ev, "bytes_in", 0), int_at(ev, "bytes_out", 0));
        }
        if (r < 0) {
                cJSON_Delete(detail);
                goto out;
        }
        r = audit_tunnel(o, c->who->name, "host", action, id, t.approval, outcome, rule, detail);
out:
        event_tunnel_done(&t);
        return r;
}

void agent_tunnel_events(struct api_call *c) {
        const cJSON *ev;
        int accepted = 0;
        int r = store_begin(c->o->store);
        cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(c->body, "events")) {
                if (r < 0)
                        break;
                r = apply_event(c, ev);
                accepted++;
        }
        if (r >= 0)
                r = store_commit(c->o->store);
        if (r < 0)
                return api_fail_store(c, r);
        orch_notify_kick(c->o);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddNumberToObject(doc, "accepted", accepted);
        api_reply(c, 200, doc);
}
