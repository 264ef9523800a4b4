/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "alloc.h"
#include "api.h"
#include "audit.h"
#include "auditchain.h"
#include "buf.h"
#include "chain.h"
#include "cleanup.h"
#include "jcs.h"
#include "log.h"
#include "orch.h"
#include "sheets.h"

/* ---- checkpoints ---- */

struct head_row {
        int64_t seq, time;
        char hash[8 + 64 + 1];
};

static int head_row_cb(const struct store_row *row, void *userdata) {
        struct head_row *h = userdata;
        h->seq = row->v[0].i;
        snprintf(h->hash, sizeof h->hash, "%s", row->v[1].s);
        return 0;
}

int chain_checkpoint(struct orch *o, int64_t *ret_id, bool *ret_new) {
        struct head_row h = {};
        int64_t last_seq = 0, id = 0;
        _cleanup_free_ char *bytes = NULL, *pem = NULL, *b64 = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        size_t len, siglen;
        int r;

        if (!o->service_key)
                return -ENOKEY;
        r = store_begin(o->store);
        if (r < 0)
                return r;
        r = store_query(o->store, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", STORE_NO_ARGS, head_row_cb, &h);
        if (r == 0)
                r = -ENODATA;
        if (r < 0)
                goto fail;
        r = store_query_int(o->store, "SELECT id FROM checkpoints ORDER BY id DESC LIMIT 1", STORE_NO_ARGS, &id);
        if (r >= 0)
                r = store_query_int(o->store, "SELECT seq FROM checkpoints WHERE id = ?", STORE_ARGS(STORE_INT(id)), &last_seq);
        if (r == -ENOENT)
                r = 0;
        if (r < 0)
                goto fail;
        if (id > 0 && last_seq == h.seq) {
                store_rollback(o->store);
                *ret_id = id;
                if (ret_new)
                        *ret_new = false;
                return 0;
        }

        int64_t now = orch_now(o);
        r = auditchain_checkpoint_bytes(h.seq, h.hash, now, &bytes, &len);
        if (r >= 0)
                r = crypto_sign(o->service_key, bytes, len, &sig, &siglen);
        if (r >= 0)
                r = crypto_key_public_pem(o->service_key, &pem);
        if (r < 0)
                goto fail;
        b64 = crypto_base64(sig, siglen);
        r = store_query_int(o->store,
                            "INSERT INTO checkpoints (seq, head, time, key_type, fingerprint, public_key, signature) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                            STORE_ARGS(STORE_INT(h.seq), STORE_TEXT(h.hash), STORE_INT(now), STORE_TEXT(o->service_alg),
                                       STORE_TEXT(o->service_fingerprint), STORE_TEXT(pem), STORE_TEXT(b64)),
                            &id);
        if (r >= 0)
                r = store_commit(o->store);
        if (r < 0)
                goto fail;
        log_info("audit checkpoint %" PRId64 " signed at record %" PRId64 " (%s)", id, h.seq, h.hash);
        *ret_id = id;
        if (ret_new)
                *ret_new = true;
        return 0;
fail:
        store_rollback(o->store);
        return r;
}

#define CHECKPOINT_COLUMNS \
        "c.id, c.seq, c.head, c.time, c.key_type, c.fingerprint, c.public_key, c.signature"

/* A checkpoint row as the segment format has it (auditchain.h). */
static int checkpoint_json(struct orch *o, const cJSON *row, cJSON **ret) {
        cJSON *cp = cJSON_CreateObject();
        static const char *const copy[] = { "id", "seq", "head", "time", "signature" };
        for (size_t i = 0; i < ELEMENTSOF(copy); i++)
                cJSON_AddItemToObject(cp, copy[i], cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(row, copy[i]), true));
        cJSON *signer = cJSON_AddObjectToObject(cp, "signer");
        static const char *const s[] = { "fingerprint", "key_type", "public_key" };
        for (size_t i = 0; i < ELEMENTSOF(s); i++)
                cJSON_AddItemToObject(signer, s[i], cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(row, s[i]), true));
        cJSON *counter = NULL;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(row, "id");
        int r = store_query_json(o->store,
                                 "SELECT k.holder, k.fingerprint, k.key_type, k.public_key, s.signature, s.time AS \"time@time\" "
                                 "FROM countersignatures s JOIN party_keys k ON k.id = s.key_id WHERE s.checkpoint_id = ? ORDER BY s.time, k.id",
                                 STORE_ARGS(STORE_INT((int64_t) id->valuedouble)), &counter);
        if (r < 0) {
                cJSON_Delete(cp);
                return r;
        }
        cJSON_AddItemToObject(cp, "countersignatures", counter);
        *ret = cp;
        return 0;
}

static int checkpoints_json(struct orch *o, const char *sql, const struct store_value *args, size_t n, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *rows = NULL;
        int r = store_query_json(o->store, sql, args, n, &rows);
        if (r < 0)
                return r;
        cJSON *out = cJSON_CreateArray();
        const cJSON *row;
        cJSON_ArrayForEach(row, rows) {
                cJSON *cp;
                r = checkpoint_json(o, row, &cp);
                if (r < 0) {
                        cJSON_Delete(out);
                        return r;
                }
                cJSON_AddItemToArray(out, cp);
        }
        *ret = out;
        return 0;
}

void get_checkpoints(struct api_call *c) {
        int64_t after, limit;
        if (api_query_int(c, "after", 0, INT64_MAX, 0, &after) < 0 || api_query_int(c, "limit", 1, 1000, 100, &limit) < 0)
                return;
        cJSON *list = NULL;
        int r = checkpoints_json(c->o, "SELECT " CHECKPOINT_COLUMNS " FROM checkpoints c WHERE c.id > ? ORDER BY c.id LIMIT ?",
                                 STORE_ARGS(STORE_INT(after), STORE_INT(limit)), &list);
        if (r < 0)
                return api_fail_store(c, r);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "checkpoints", list);
        api_reply(c, 200, doc);
}

static void reply_checkpoint(struct api_call *c, int status, int64_t id) {
        cJSON *list = NULL;
        int r = checkpoints_json(c->o, "SELECT " CHECKPOINT_COLUMNS " FROM checkpoints c WHERE c.id = ?",
                                 STORE_ARGS(STORE_INT(id)), &list);
        if (r < 0)
                return api_fail_store(c, r);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "checkpoint", cJSON_DetachItemFromArray(list, 0));
        cJSON_Delete(list);
        api_reply(c, status, doc);
}

void post_checkpoint(struct api_call *c) {
        int64_t id;
        bool fresh;
        int r = chain_checkpoint(c->o, &id, &fresh);
        if (r == -ENOKEY)
                return api_error(c, 409, "no_service_key", "the orchestrator has no service key (service_key in its configuration)");
        if (r < 0)
                return api_fail_store(c, r);
        reply_checkpoint(c, fresh ? 201 : 200, id);
}

struct cp_row {
        int64_t seq, time;
        char head[8 + 64 + 1];
};

static int cp_row_cb(const struct store_row *row, void *userdata) {
        struct cp_row *cp = userdata;
        cp->seq = row->v[0].i;
        snprintf(cp->head, sizeof cp->head, "%s", row->v[1].s);
        cp->time = row->v[2].i;
        return 0;
}

void post_countersignature(struct api_call *c) {
        struct orch *o = c->o;
        struct gc_error err = {};
        struct cp_row cp = {};
        char object[64];
        const char *fp = api_body_str(c, "fingerprint"), *sig_b64 = api_body_str(c, "signature");

        snprintf(object, sizeof object, "checkpoint:%" PRId64, c->id);
        int r = store_query(o->store, "SELECT seq, head, time FROM checkpoints WHERE id = ?", STORE_ARGS(STORE_INT(c->id)), cp_row_cb, &cp);
        if (r < 0)
                return api_fail_store(c, r);
        if (r == 0)
                return api_error(c, 404, "not_found", "no such checkpoint");

        _cleanup_(party_key_done) struct party_key k = {};
        r = party_key_find(o, fp, &k);
        if (r == -ENOENT) {
                gc_error_set(&err, "unknown_key", "R-AU3", "fingerprint", fp, "is not a registered party key");
                return api_refuse(c, 422, &err, "checkpoint.refused", object, "", NULL);
        }
        if (r < 0)
                return api_fail_store(c, r);
        if (k.revoked) {
                gc_error_set(&err, "key_revoked", "R-AU3", "fingerprint", fp, "was revoked");
                return api_refuse(c, 422, &err, "checkpoint.refused", object, "", NULL);
        }
        if (strcmp(k.party, "authority") != 0) {
                gc_error_set(&err, "wrong_party", "R-AU3", "fingerprint", fp,
                             "is the %s's key; checkpoints are countersigned by the authority", k.party);
                return api_refuse(c, 422, &err, "checkpoint.refused", object, "", NULL);
        }
        _cleanup_free_ char *bytes = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        size_t len, siglen;
        r = auditchain_checkpoint_bytes(cp.seq, cp.head, cp.time, &bytes, &len);
        if (r < 0)
                return api_fail_store(c, r);
        if (crypto_unbase64(sig_b64, &sig, &siglen) < 0) {
                gc_error_set(&err, "invalid_signature", "R-AU3", "signature", sig_b64, "is not base64");
                return api_refuse(c, 422, &err, "checkpoint.refused", object, "", NULL);
        }
        r = crypto_key_public_from_pem(k.public_key, strlen(k.public_key), &key);
        if (r >= 0)
                r = crypto_verify(key, bytes, len, sig, siglen);
        if (r < 0) {
                gc_error_set(&err, "bad_signature", "R-AU3", "signature", sig_b64,
                             "does not verify with key %s over checkpoint %" PRId64 " (record %" PRId64 ", head %s)",
                             fp, c->id, cp.seq, cp.head);
                return api_refuse(c, 422, &err, "checkpoint.refused", object, "", NULL);
        }

        r = store_begin(o->store);
        if (r >= 0)
                r = store_exec(o->store, "INSERT INTO countersignatures (checkpoint_id, key_id, signature, time) VALUES (?, ?, ?, ?)",
                               STORE_ARGS(STORE_INT(c->id), STORE_INT(k.id), STORE_TEXT(sig_b64), STORE_INT(orch_now(o))), NULL);
        if (r == -EEXIST) {
                store_rollback(o->store);
                gc_error_set(&err, "already_countersigned", "R-AU3", "fingerprint", fp, "has countersigned checkpoint %" PRId64 " already", c->id);
                return api_refuse(c, 409, &err, "checkpoint.refused", object, "", NULL);
        }
        if (r < 0)
                return api_fail_store(c, r);
        struct api_mutation m = { .action = "checkpoint.countersigned", .rule = "R-AU3", .detail = cJSON_CreateObject() };
        snprintf(m.object, sizeof m.object, "%s", object);
        cJSON_AddNumberToObject(m.detail, "seq", (double) cp.seq);
        cJSON_AddStringToObject(m.detail, "head", cp.head);
        cJSON_AddStringToObject(m.detail, "fingerprint", fp);
        cJSON_AddStringToObject(m.detail, "holder", k.holder);
        r = api_commit(c, &m);
        if (r < 0)
                return api_fail_store(c, r);
        log_info("checkpoint %" PRId64 " (record %" PRId64 ") countersigned by %s (%s)", c->id, cp.seq, k.holder, fp);
        reply_checkpoint(c, 201, c->id);
}

/* ---- export ---- */

struct export_state {
        cJSON *records;
        int64_t last;
};

static int export_cb(const struct store_row *row, void *userdata) {
        struct export_state *st = userdata;
        const struct store_value *v = row->v;
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddNumberToObject(rec, "seq", (double) v[0].i);
        cJSON_AddNumberToObject(rec, "time", (double) v[1].i);
        static const char *const names[] = { "actor", "role", "action", "object", "approval", "outcome", "rule" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                cJSON_AddStringToObject(rec, names[i], v[2 + i].s);
        cJSON *detail = cJSON_Parse(v[9].s);
        cJSON_AddItemToObject(rec, "detail", detail ?: cJSON_CreateString(v[9].s));
        cJSON_AddStringToObject(rec, "prev", v[10].s);
        cJSON_AddStringToObject(rec, "hash", v[11].s);
        cJSON_AddItemToArray(st->records, rec);
        st->last = v[0].i;
        return 0;
}

/* Where the live chain starts: after the last archived record. */
static int live_start(struct orch *o, int64_t *ret_from, char **ret_anchor) {
        int64_t to = 0;
        int r = store_query_int(o->store, "SELECT MAX(to_seq) FROM audit_archives", STORE_NO_ARGS, &to);
        if (r == -ENOENT) {
                *ret_from = 1;
                *ret_anchor = auditchain_zero_hash(o->audit_hash);
                return 0;
        }
        if (r < 0)
                return r;
        *ret_from = to + 1;
        return store_query_text(o->store, "SELECT head FROM audit_archives WHERE to_seq = ?", STORE_ARGS(STORE_INT(to)), ret_anchor);
}

int chain_export(struct orch *o, int64_t from, int64_t to, cJSON **ret) {
        int64_t start;
        _cleanup_free_ char *anchor = NULL;
        int r = live_start(o, &start, &anchor);
        if (r < 0)
                return r;
        if (from <= 0)
                from = start;
        if (from < start)
                return -ERANGE;
        /* The checkpoints that exist before the head is read: none of them
         * can be past it, unless records were removed from the end. */
        int64_t last_cp = 0;
        bool to_head = to <= 0;
        if (store_query_int(o->store, "SELECT COALESCE(MAX(id), 0) FROM checkpoints", STORE_NO_ARGS, &last_cp) < 0)
                last_cp = 0;
        if (to_head && store_query_int(o->store, "SELECT MAX(seq) FROM audit", STORE_NO_ARGS, &to) < 0)
                to = from - 1;
        if (from > start) {
                free(anchor);
                anchor = NULL;
                r = store_query_text(o->store, "SELECT hash FROM audit WHERE seq = ?", STORE_ARGS(STORE_INT(from - 1)), &anchor);
                if (r == -ENOENT)
                        return -ERANGE;
                if (r < 0)
                        return r;
        }
        _cleanup_(cJSON_Deletep) cJSON *seg = cJSON_CreateObject();
        cJSON_AddStringToObject(seg, "format", AUDIT_SEGMENT_FORMAT);
        cJSON_AddStringToObject(seg, "hash", crypto_hash_to_string(o->audit_hash));
        cJSON_AddNumberToObject(seg, "from", (double) from);
        cJSON_AddNumberToObject(seg, "to", (double) to);
        cJSON_AddStringToObject(seg, "anchor", anchor);
        char t[32];
        store_format_time(orch_now(o), t);
        cJSON_AddStringToObject(seg, "exported", t);
        struct export_state st = { .records = cJSON_AddArrayToObject(seg, "records") };
        r = store_query(o->store, "SELECT seq, time, actor, role, action, object, approval, outcome, rule, detail, prev, hash "
                                  "FROM audit WHERE seq >= ? AND seq <= ? ORDER BY seq",
                        STORE_ARGS(STORE_INT(from), STORE_INT(to)), export_cb, &st);
        if (r < 0)
                return r;
        cJSON *cps = NULL;
        /* Up to the head: every checkpoint from the first record on, so that
         * one past the last record shows the end was cut off. */
        r = checkpoints_json(o, "SELECT " CHECKPOINT_COLUMNS " FROM checkpoints c WHERE c.seq >= ? AND c.id <= ? AND (? OR c.seq <= ?) ORDER BY c.id",
                             STORE_ARGS(STORE_INT(from), STORE_INT(last_cp), STORE_INT(to_head), STORE_INT(to)), &cps);
        if (r < 0)
                return r;
        cJSON_AddItemToObject(seg, "checkpoints", cps);
        *ret = TAKE_PTR(seg);
        return 0;
}

void get_audit_export(struct api_call *c) {
        int64_t from, to;
        if (api_query_int(c, "from", 1, INT64_MAX, 0, &from) < 0 || api_query_int(c, "to", 1, INT64_MAX, 0, &to) < 0)
                return;
        _cleanup_(cJSON_Deletep) cJSON *seg = NULL;
        int r = chain_export(c->o, from, to, &seg);
        if (r == -ERANGE)
                return api_error(c, 404, "not_found", "that range starts before the retained chain (see the archives) or past its head");
        if (r < 0)
                return api_fail_store(c, r);
        _cleanup_free_ char *text = cJSON_PrintUnformatted(seg);
        if (!text)
                return api_error(c, 500, "internal", "the segment is too large to print");
        api_reply_text(c, 200, "application/json", text, strlen(text));
}

/* ---- retention (R-AU1) ---- */

static int write_archive(const char *dir, const char *name, const char *text, size_t len) {
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
        return gc_write_file(path, text, len, 0640);
}

struct prune_scan {
        const struct calendar *cal;
        long months;
        int64_t now;
        int64_t last;                   /* the last prunable seq */
};

static int prune_cb(const struct store_row *row, void *userdata) {
        struct prune_scan *p = userdata;
        if (calendar_add_months(p->cal, row->v[1].i, (unsigned) p->months) > p->now)
                return -ECANCELED;      /* inside the retention: stop */
        p->last = row->v[0].i;
        return 0;
}

int chain_prune(struct orch *o) {
        const struct pack *pack = o->cfg->pack;
        if (!pack || pack->audit_retention_months < 0)
                return 0;               /* R-AU1: kept indefinitely */
        if (!o->cfg->archive_dir || !o->service_key)
                return 0;

        int64_t from;
        _cleanup_free_ char *anchor = NULL;
        int r = live_start(o, &from, &anchor);
        if (r < 0)
                return r;
        struct prune_scan scan = { .cal = &pack->calendar, .months = pack->audit_retention_months, .now = orch_now(o) };
        r = store_query(o->store, "SELECT seq, time FROM audit WHERE seq >= ? ORDER BY seq LIMIT 100000",
                        STORE_ARGS(STORE_INT(from)), prune_cb, &scan);
        if (r < 0 && r != -ECANCELED)
                return r;
        if (scan.last < from)
                return 0;

        _cleanup_(cJSON_Deletep) cJSON *seg = NULL;
        r = chain_export(o, from, scan.last, &seg);
        if (r < 0)
                return r;
        struct auditchain_report rep = {};
        r = auditchain_verify_segment(seg, &rep);
        auditchain_report_done(&rep);
        if (r < 0 && rep.fault != AUDIT_FAULT_NONE) {
                log_error("audit retention: records %" PRId64 "..%" PRId64 " do not verify (%s); nothing is pruned",
                          from, scan.last, rep.message);
                return -EBADMSG;
        }
        r = auditchain_sign_archive(seg, o->service_key);
        if (r < 0)
                return r;
        _cleanup_free_ char *text = cJSON_PrintUnformatted(seg);
        _cleanup_free_ char *name = xasprintf("audit-%012" PRId64 "-%012" PRId64 ".json", from, scan.last);
        const cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(seg, "records"),
                                               cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(seg, "records")) - 1);
        const char *head = cJSON_GetObjectItemCaseSensitive(last, "hash")->valuestring;
        (void) mkdir(o->cfg->archive_dir, 0750);
        r = write_archive(o->cfg->archive_dir, name, text, strlen(text));
        if (r < 0)
                return log_error_errno(r, "audit retention: cannot write %s/%s; nothing is pruned", o->cfg->archive_dir, name);
        uint8_t md[GC_HASH_MAX];
        crypto_digest(o->audit_hash, text, strlen(text), md);
        _cleanup_free_ char *hex = crypto_hex(md, 32);
        _cleanup_free_ char *file_hash = xasprintf("%s:%s", crypto_hash_to_string(o->audit_hash), hex);
        _cleanup_free_ char *path = xasprintf("%s/%s", o->cfg->archive_dir, name);

        int64_t pruned = 0;
        r = store_begin(o->store);
        if (r >= 0)
                r = store_exec(o->store, "INSERT INTO audit_archives (from_seq, to_seq, anchor, head, path, file_hash, created) "
                                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                               STORE_ARGS(STORE_INT(from), STORE_INT(scan.last), STORE_TEXT(anchor), STORE_TEXT(head),
                                          STORE_TEXT(path), STORE_TEXT(file_hash), STORE_INT(orch_now(o))), NULL);
        if (r >= 0)
                r = store_exec(o->store, "DELETE FROM audit WHERE seq >= ? AND seq <= ?", STORE_ARGS(STORE_INT(from), STORE_INT(scan.last)), &pruned);
        if (r >= 0) {
                cJSON *d = cJSON_CreateObject();
                cJSON_AddNumberToObject(d, "from", (double) from);
                cJSON_AddNumberToObject(d, "to", (double) scan.last);
                cJSON_AddStringToObject(d, "head", head);
                cJSON_AddStringToObject(d, "archive", path);
                cJSON_AddStringToObject(d, "archive_hash", file_hash);
                cJSON_AddNumberToObject(d, "retention_months", (double) pack->audit_retention_months);
                r = orch_audit(o, "audit.archived", "", "R-AU1", d);
        }
        if (r >= 0)
                r = store_commit(o->store);
        if (r < 0) {
                store_rollback(o->store);
                return log_error_errno(r, "audit retention: archive %s written but the records could not be pruned", path);
        }
        log_notice("audit retention (R-AU1, %ld months): records %" PRId64 "..%" PRId64 " archived to %s and pruned",
                   pack->audit_retention_months, from, scan.last, path);
        return (int) pruned;
}

/* ---- timers ---- */

static void on_chain_tick(evutil_socket_t fd, short events, void *userdata) {
        struct orch *o = userdata;
        (void) fd;
        (void) events;
        int64_t now = orch_now(o), id;
        if (o->service_key && now - o->last_checkpoint >= o->cfg->checkpoint_interval) {
                int r = chain_checkpoint(o, &id, NULL);
                if (r < 0 && r != -ENODATA)
                        log_warning_errno(r, "audit checkpoint failed; trying again later");
                o->last_checkpoint = now;
        }
        if (now - o->last_prune >= o->cfg->prune_interval) {
                int r = chain_prune(o);
                if (r < 0)
                        log_warning_errno(r, "audit retention pass failed; trying again later");
                o->last_prune = now;
        }
}

void chain_start(struct orch *o) {
        if (!o->service_key)
                log_warning("no service_key: audit checkpoints are not signed and nothing is archived or pruned");
        else if (!o->cfg->archive_dir && o->cfg->pack && o->cfg->pack->audit_retention_months >= 0)
                log_notice("no audit.archive_dir: records past the retention (%ld months, R-AU1) are kept",
                           o->cfg->pack->audit_retention_months);
        o->last_checkpoint = o->last_prune = orch_now(o);
        o->chain_tick = event_new(o->base, -1, EV_PERSIST, on_chain_tick, o);
        struct timeval tv = { .tv_sec = 1 };
        event_add(o->chain_tick, &tv);
}

void chain_stop(struct orch *o) {
        if (o->chain_tick) {
                event_free(o->chain_tick);
                o->chain_tick = NULL;
        }
        int64_t id;
        if (o->service_key) {
                int r = chain_checkpoint(o, &id, NULL);
                if (r < 0 && r != -ENODATA)
                        log_warning_errno(r, "the last audit checkpoint could not be signed");
        }
}
