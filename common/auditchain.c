/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "auditchain.h"
#include "cleanup.h"
#include "jcs.h"

char *auditchain_zero_hash(enum gc_hash_alg alg) {
        char zeros[65];
        memset(zeros, '0', 64);
        zeros[64] = 0;
        return xasprintf("%s:%s", crypto_hash_to_string(alg), zeros);
}

/* JCS of the record without "hash", without copying it: the members are
 * serialized in sorted order by jcs_serialize from a shallow view. */
static int record_bytes(const cJSON *record, struct gc_buf *b) {
        cJSON *hash = cJSON_GetObjectItemCaseSensitive(record, "hash");
        if (!hash)
                return jcs_serialize(record, b);
        /* Unlink "hash" for the duration of the serialization. */
        cJSON *r = (cJSON *) record;
        cJSON *detached = cJSON_DetachItemViaPointer(r, hash);
        int ret = jcs_serialize(r, b);
        cJSON_AddItemToObject(r, "hash", detached);
        return ret;
}

int auditchain_record_hash_buf(enum gc_hash_alg alg, const cJSON *record, struct gc_buf *scratch,
                               char out[8 + 64 + 1]) {
        static const char hexd[] = "0123456789abcdef";
        uint8_t md[GC_HASH_MAX];

        gc_buf_reset(scratch);
        int r = record_bytes(record, scratch);
        if (r < 0)
                return r;
        r = crypto_digest(alg, scratch->data, scratch->len, md);
        if (r < 0)
                return r;
        const char *name = crypto_hash_to_string(alg);
        size_t n = strlen(name);
        memcpy(out, name, n);
        out[n++] = ':';
        for (size_t i = 0; i < 32; i++) {
                out[n++] = hexd[md[i] >> 4];
                out[n++] = hexd[md[i] & 15];
        }
        out[n] = 0;
        return 0;
}

int auditchain_record_hash(enum gc_hash_alg alg, const cJSON *record, char **ret) {
        struct gc_buf b = GC_BUF_INIT(AUDIT_RECORD_MAX);
        char out[8 + 64 + 1];
        int r = auditchain_record_hash_buf(alg, record, &b, out);
        gc_buf_free(&b);
        if (r < 0)
                return r;
        *ret = xstrdup(out);
        return 0;
}

int auditchain_checkpoint_bytes(int64_t seq, const char *head, int64_t time, char **ret, size_t *ret_len) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "format", AUDIT_CHECKPOINT_FORMAT);
        cJSON_AddNumberToObject(o, "seq", (double) seq);
        cJSON_AddStringToObject(o, "head", head);
        cJSON_AddNumberToObject(o, "time", (double) time);
        struct gc_buf b = GC_BUF_INIT(4096);
        int r = jcs_serialize(o, &b);
        if (r < 0) {
                gc_buf_free(&b);
                return r;
        }
        *ret = gc_buf_steal(&b, ret_len);
        return 0;
}

const char *auditchain_fault_name(enum auditchain_fault f) {
        switch (f) {
        case AUDIT_FAULT_NONE: return "none";
        case AUDIT_FAULT_MALFORMED: return "malformed";
        case AUDIT_FAULT_EDITED: return "edited";
        case AUDIT_FAULT_DELETED: return "deleted";
        case AUDIT_FAULT_INSERTED: return "inserted";
        case AUDIT_FAULT_REORDERED: return "reordered";
        case AUDIT_FAULT_ANCHOR: return "anchor";
        }
        return "?";
}

static int fault(struct auditchain_report *rep, enum auditchain_fault f, int64_t seq, size_t index,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fault(struct auditchain_report *rep, enum auditchain_fault f, int64_t seq, size_t index,
                 const char *fmt, ...) {
        va_list ap;
        rep->fault = f;
        rep->bad_seq = seq;
        rep->bad_index = index;
        va_start(ap, fmt);
        vsnprintf(rep->message, sizeof rep->message, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

static int malformed(struct auditchain_report *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int malformed(struct auditchain_report *rep, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rep->message, sizeof rep->message, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static const char *str_member(const cJSON *o, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool int_member(const cJSON *o, const char *name, int64_t *ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        /* In range before the cast: converting a double outside int64_t is undefined. */
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= -0x1p63 && v->valuedouble < 0x1p63) ||
            v->valuedouble != (double) (int64_t) v->valuedouble)
                return false;
        *ret = (int64_t) v->valuedouble;
        return true;
}

static bool record_well_formed(const cJSON *rec) {
        static const char *const strings[] = { "actor", "role", "action", "object", "approval", "outcome",
                                               "rule", "prev", "hash" };
        int64_t n;
        if (!cJSON_IsObject(rec) || !int_member(rec, "seq", &n) || !int_member(rec, "time", &n))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                if (!str_member(rec, strings[i]))
                        return false;
        return cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(rec, "detail"));
}

static int verify_sig_b64(const char *pem, const char *sig_b64, const void *msg, size_t len, char *fp, size_t fpsize) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        size_t siglen;
        if (!pem || !sig_b64)
                return -EINVAL;
        int r = crypto_key_public_from_pem(pem, strlen(pem), &key);
        if (r < 0)
                return r;
        if (fp) {
                _cleanup_free_ char *f = NULL;
                if (crypto_key_fingerprint(key, &f) >= 0)
                        snprintf(fp, fpsize, "%s", f);
        }
        r = crypto_unbase64(sig_b64, &sig, &siglen);
        if (r < 0)
                return r;
        return crypto_verify(key, msg, len, sig, siglen);
}

static void check_checkpoint(const cJSON *cp, const cJSON *const *records, int64_t from, int64_t to, int64_t verified_to,
                             struct auditchain_checkpoint_report *out) {
        int64_t seq = 0, t = 0, id = 0;
        const char *head = str_member(cp, "head");
        int_member(cp, "id", &id);
        out->id = id;
        if (!int_member(cp, "seq", &seq) || !int_member(cp, "time", &t) || !head)
                return;
        out->seq = seq;
        _cleanup_free_ char *bytes = NULL;
        size_t len;
        if (auditchain_checkpoint_bytes(seq, head, t, &bytes, &len) < 0)
                return;
        const cJSON *signer = cJSON_GetObjectItemCaseSensitive(cp, "signer");
        out->signature_valid = verify_sig_b64(str_member(signer, "public_key"), str_member(cp, "signature"), bytes, len,
                                              out->fingerprint, sizeof out->fingerprint) == 0;
        if (seq >= from && seq <= to && seq <= verified_to) {
                const cJSON *rec = records[seq - from];
                const char *h = str_member(rec, "hash");
                out->head_matches = h && strcmp(h, head) == 0;
        }
        const cJSON *cs;
        cJSON_ArrayForEach(cs, cJSON_GetObjectItemCaseSensitive(cp, "countersignatures")) {
                if (verify_sig_b64(str_member(cs, "public_key"), str_member(cs, "signature"), bytes, len, NULL, 0) == 0)
                        out->countersignatures++;
                else
                        out->countersignatures_bad++;
        }
}

/* Whether a record after rec carries seq. */
static bool seq_later(const cJSON *rec, int64_t seq) {
        for (const cJSON *c = rec->next; c; c = c->next) {
                int64_t s;
                if (int_member(c, "seq", &s) && s == seq)
                        return true;
        }
        return false;
}

int auditchain_verify_segment(const cJSON *segment, struct auditchain_report *rep) {
        *rep = (struct auditchain_report) {};
        const char *format = str_member(segment, "format");
        if (!format || strcmp(format, AUDIT_SEGMENT_FORMAT) != 0)
                return malformed(rep, "format: not \"%s\"", AUDIT_SEGMENT_FORMAT);
        const char *algname = str_member(segment, "hash");
        if (!algname || crypto_hash_from_string(algname, &rep->alg) < 0)
                return malformed(rep, "hash: \"%s\" is not sm3 or sha256", algname ?: "");
        if (!int_member(segment, "from", &rep->from) || !int_member(segment, "to", &rep->to) || rep->from < 1 ||
            rep->to < rep->from - 1)
                return malformed(rep, "from, to: not sequence numbers, or to before from");
        const char *anchor = str_member(segment, "anchor");
        if (!anchor)
                return malformed(rep, "anchor: missing");
        const cJSON *records = cJSON_GetObjectItemCaseSensitive(segment, "records");
        if (!cJSON_IsArray(records))
                return malformed(rep, "records: not an array");
        _cleanup_free_ char *zero = auditchain_zero_hash(rep->alg);
        /* prev below holds "<alg>:<64 hex>": a longer anchor would be cut
         * short and could then match a record's prev it does not equal. */
        if (strlen(anchor) > 8 + 64)
                return malformed(rep, "anchor: not \"<alg>:<64 hex>\"");
        if (rep->from == 1 && strcmp(anchor, zero) != 0)
                return malformed(rep, "anchor: a segment from the first record must start at the zero hash");

        struct gc_buf scratch = GC_BUF_INIT(AUDIT_RECORD_MAX);
        char prev[8 + 64 + 1], got[8 + 64 + 1];
        snprintf(prev, sizeof prev, "%s", anchor);
        int64_t expect = rep->from, last_seq = rep->from - 1;
        size_t index = 0;
        int r = 0;
        const cJSON *rec;
        cJSON_ArrayForEach(rec, records) {
                int64_t seq = 0;
                if (!record_well_formed(rec)) {
                        int64_t s = 0;
                        if (int_member(rec, "seq", &s))
                                r = fault(rep, AUDIT_FAULT_MALFORMED, s, index,
                                          "record %" PRId64 " (index %zu) is missing a member or has one of the wrong type", s, index);
                        else
                                r = fault(rep, AUDIT_FAULT_MALFORMED, 0, index,
                                          "the record at index %zu is not an object with a whole-number seq", index);
                        break;
                }
                int_member(rec, "seq", &seq);
                const char *rprev = str_member(rec, "prev"), *rhash = str_member(rec, "hash");
                if (seq <= last_seq) {
                        r = fault(rep, AUDIT_FAULT_REORDERED, seq, index,
                                  "record %" PRId64 " comes after record %" PRId64 ": reordered or repeated", seq, last_seq);
                        break;
                }
                if (auditchain_record_hash_buf(rep->alg, rec, &scratch, got) < 0) {
                        r = fault(rep, AUDIT_FAULT_MALFORMED, seq, index,
                                  "record %" PRId64 " cannot be serialized canonically (invalid UTF-8 or too long)", seq);
                        break;
                }
                if (strcmp(got, rhash) != 0) {
                        r = fault(rep, AUDIT_FAULT_EDITED, seq, index,
                                  "record %" PRId64 " was edited: its content hashes to %s, not to its recorded hash %s", seq, got, rhash);
                        break;
                }
                if (seq > expect) {
                        /* The missing seq further on: moved, not deleted. */
                        if (seq_later(rec, expect)) {
                                r = fault(rep, AUDIT_FAULT_REORDERED, seq, index,
                                          "record %" PRId64 " comes before record %" PRId64 ": reordered", seq, expect);
                                break;
                        }
                        r = fault(rep, AUDIT_FAULT_DELETED, expect, index,
                                  "record %" PRId64 " is missing: record %" PRId64 " follows record %" PRId64 "%s",
                                  expect, seq, last_seq, strcmp(rprev, prev) == 0 ? " and links to it: renumbered" : "");
                        break;
                }
                if (strcmp(rprev, prev) != 0) {
                        if (index == 0)
                                r = fault(rep, AUDIT_FAULT_ANCHOR, seq, index,
                                          "record %" PRId64 " does not start from the segment's anchor %s", seq, prev);
                        else
                                r = fault(rep, AUDIT_FAULT_INSERTED, seq, index,
                                          "record %" PRId64 " does not link to record %" PRId64 ": inserted, or the records before it were rewritten",
                                          seq, last_seq);
                        break;
                }
                memcpy(prev, got, sizeof prev);
                last_seq = seq;
                expect = seq + 1;
                rep->records++;
                index++;
        }
        gc_buf_free(&scratch);
        if (r == 0 && last_seq < rep->to)
                r = fault(rep, AUDIT_FAULT_DELETED, last_seq + 1, index,
                          "record %" PRId64 " is missing: the segment says it ends at record %" PRId64 " but its last record is %" PRId64,
                          last_seq + 1, rep->to, last_seq);
        else if (r == 0 && last_seq > rep->to) {
                rep->records = rep->to + 1 - rep->from;
                r = fault(rep, AUDIT_FAULT_INSERTED, rep->to + 1, (size_t) (rep->to + 1 - rep->from),
                          "the segment says it ends at record %" PRId64 " but holds records up to %" PRId64 ": record %" PRId64
                          " and after were added", rep->to, last_seq, rep->to + 1);
        }

        const cJSON *cps = cJSON_GetObjectItemCaseSensitive(segment, "checkpoints");
        int n = cJSON_GetArraySize(cps);
        if (n > 0) {
                rep->checkpoints = xnew(struct auditchain_checkpoint_report, n);
                /* The verified records by position, for each checkpoint's head. */
                _cleanup_free_ const cJSON **by_pos = xnew(const cJSON *, rep->records + 1);
                size_t k = 0;
                cJSON_ArrayForEach(rec, records) {
                        if ((int64_t) k >= rep->records)
                                break;
                        by_pos[k++] = rec;
                }
                const cJSON *cp;
                cJSON_ArrayForEach(cp, cps) {
                        struct auditchain_checkpoint_report *c = &rep->checkpoints[rep->n_checkpoints++];
                        check_checkpoint(cp, by_pos, rep->from, rep->to, rep->from + rep->records - 1, c);
                        /* A signed checkpoint past the last record: the end
                         * of the chain was cut off. */
                        if (r == 0 && c->signature_valid && c->seq > rep->to)
                                r = fault(rep, AUDIT_FAULT_DELETED, rep->to + 1, (size_t) rep->records,
                                          "record %" PRId64 " is missing: checkpoint %" PRId64 " commits to record %" PRId64
                                          ", past the last record %" PRId64 "; records were removed from the end",
                                          rep->to + 1, c->id, c->seq, rep->to);
                        if (r == 0 && (!c->signature_valid || !c->head_matches || c->countersignatures_bad))
                                r = -EBADMSG;
                }
        }
        const char *asig = str_member(segment, "archive_signature");
        if (asig) {
                rep->archive_signed = true;
                _cleanup_(cJSON_Deletep) cJSON *copy = cJSON_Duplicate(segment, true);
                cJSON_DeleteItemFromObjectCaseSensitive(copy, "archive_signature");
                struct gc_buf b = GC_BUF_INIT(SIZE_MAX / 2);
                const cJSON *cp0 = cJSON_GetArrayItem(cps, 0);
                const char *pem = str_member(cJSON_GetObjectItemCaseSensitive(segment, "archive_signer"), "public_key");
                (void) cp0;
                if (jcs_serialize(copy, &b) >= 0 && pem)
                        rep->archive_signature_valid = verify_sig_b64(pem, asig, b.data, b.len, NULL, 0) == 0;
                gc_buf_free(&b);
                if (r == 0 && !rep->archive_signature_valid)
                        r = -EBADMSG;
        }
        return r;
}

void auditchain_report_done(struct auditchain_report *rep) {
        free(rep->checkpoints);
        rep->checkpoints = NULL;
        rep->n_checkpoints = 0;
}

int auditchain_sign_archive(cJSON *segment, EVP_PKEY *key) {
        _cleanup_free_ char *pem = NULL, *fp = NULL;
        int r = crypto_key_public_pem(key, &pem);
        if (r >= 0)
                r = crypto_key_fingerprint(key, &fp);
        if (r < 0)
                return r;
        enum gc_key_type type;
        r = crypto_key_type(key, &type);
        if (r < 0)
                return r;
        cJSON_DeleteItemFromObjectCaseSensitive(segment, "archive_signature");
        cJSON_DeleteItemFromObjectCaseSensitive(segment, "archive_signer");
        cJSON *signer = cJSON_AddObjectToObject(segment, "archive_signer");
        cJSON_AddStringToObject(signer, "fingerprint", fp);
        cJSON_AddStringToObject(signer, "key_type", crypto_key_type_to_string(type));
        cJSON_AddStringToObject(signer, "public_key", pem);
        struct gc_buf b = GC_BUF_INIT(SIZE_MAX / 2);
        r = jcs_serialize(segment, &b);
        _cleanup_free_ uint8_t *sig = NULL;
        size_t siglen = 0;
        if (r >= 0)
                r = crypto_sign(key, b.data, b.len, &sig, &siglen);
        gc_buf_free(&b);
        if (r < 0)
                return r;
        _cleanup_free_ char *b64 = crypto_base64(sig, siglen);
        cJSON_AddStringToObject(segment, "archive_signature", b64);
        return 0;
}
