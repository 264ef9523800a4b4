/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/auditchain.c (R-AU1..R-AU3): segments built in memory with SM3 and
 * SHA-256, then each kind of tampering, found at the record it touched with
 * the fault the verifier defines; checkpoints signed with SM2 and
 * countersigned with Ed25519; archive signatures; and a known-answer hash of
 * one fixed record, computed outside this code with `openssl dgst`, so the
 * chain format cannot drift unnoticed.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "auditchain.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "jcs.h"

#define N 8                     /* records in a test chain */
#define T0 1767225600           /* 2026-01-01T00:00:00Z */

static const enum gc_hash_alg algs[] = { GC_HASH_SM3, GC_HASH_SHA256 };

static EVP_PKEY *service_key;   /* SM2: signs checkpoints and archives */
static EVP_PKEY *authority_key; /* Ed25519: countersigns */

/* ------------------------------------------------------------------ */
/* Building chains */

/* Record seq, not yet sealed (no "hash"). */
static cJSON *record_new(int64_t seq, const char *prev) {
        char object[32], approval[48];
        snprintf(object, sizeof object, "request:%" PRId64, seq);
        snprintf(approval, sizeof approval, "approval-oa/OA-2026-%04" PRId64, seq);

        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seq", (double) seq);
        cJSON_AddNumberToObject(o, "time", (double) (T0 + seq));
        cJSON_AddStringToObject(o, "actor", "approval-oa");
        cJSON_AddStringToObject(o, "role", "approval");
        cJSON_AddStringToObject(o, "action", "request.accepted");
        cJSON_AddStringToObject(o, "object", object);
        cJSON_AddStringToObject(o, "approval", approval);
        cJSON_AddStringToObject(o, "outcome", "accepted");
        cJSON_AddStringToObject(o, "rule", "");
        cJSON *detail = cJSON_AddObjectToObject(o, "detail");
        cJSON_AddStringToObject(detail, "system", "\xe5\x8d\x8f\xe5\x90\x8c\xe5\x8a\x9e\xe5\x85\xac" "OA"); /* 协同办公OA */
        cJSON_AddNumberToObject(detail, "vms", 3);
        cJSON_AddStringToObject(o, "prev", prev);
        return o;
}

/* (Re)compute the record's "hash", as an honest writer or a forger would. */
static void record_seal(enum gc_hash_alg alg, cJSON *rec) {
        _cleanup_free_ char *h = NULL;
        assert_int_equal(auditchain_record_hash(alg, rec, &h), 0);
        cJSON_DeleteItemFromObjectCaseSensitive(rec, "hash");
        cJSON_AddStringToObject(rec, "hash", h);
}

static void set_string(cJSON *o, const char *name, const char *value) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, name);
        cJSON_AddStringToObject(o, name, value);
}

static void set_number(cJSON *o, const char *name, double value) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, name);
        cJSON_AddNumberToObject(o, name, value);
}

static const char *str_of(const cJSON *o, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        assert_true(cJSON_IsString(v));
        return v->valuestring;
}

/* A segment of records from..to of a chain of `to` records. */
static cJSON *segment_new(enum gc_hash_alg alg, int64_t from, int64_t to) {
        _cleanup_free_ char *prev = auditchain_zero_hash(alg);
        _cleanup_free_ char *anchor = NULL;
        cJSON *seg = cJSON_CreateObject();

        cJSON_AddStringToObject(seg, "format", AUDIT_SEGMENT_FORMAT);
        cJSON_AddStringToObject(seg, "hash", crypto_hash_to_string(alg));
        cJSON_AddNumberToObject(seg, "from", (double) from);
        cJSON_AddNumberToObject(seg, "to", (double) to);
        cJSON_AddStringToObject(seg, "exported", "2026-02-01T00:00:00Z");
        cJSON *records = cJSON_AddArrayToObject(seg, "records");
        cJSON_AddArrayToObject(seg, "checkpoints");
        for (int64_t seq = 1; seq <= to; seq++) {
                cJSON *rec = record_new(seq, prev);
                record_seal(alg, rec);
                if (seq == from)
                        anchor = xstrdup(prev);
                free(prev);
                prev = xstrdup(str_of(rec, "hash"));
                if (seq >= from)
                        cJSON_AddItemToArray(records, rec);
                else
                        cJSON_Delete(rec);
        }
        cJSON_AddStringToObject(seg, "anchor", anchor ?: prev);
        return seg;
}

static cJSON *records_of(cJSON *seg) {
        return cJSON_GetObjectItemCaseSensitive(seg, "records");
}

static cJSON *rec_at(cJSON *seg, int index) {
        cJSON *rec = cJSON_GetArrayItem(records_of(seg), index);
        assert_non_null(rec);
        return rec;
}

/* Put item at index, shifting the records from there on (cJSON_InsertItemInArray
 * of the cJSON this builds with refuses to, returning false). */
static void insert_at(cJSON *array, int index, cJSON *item) {
        _cleanup_(cJSON_Deletep) cJSON *rest = cJSON_CreateArray();
        while (cJSON_GetArraySize(array) > index)
                cJSON_AddItemToArray(rest, cJSON_DetachItemFromArray(array, index));
        cJSON_AddItemToArray(array, item);
        while (cJSON_GetArraySize(rest) > 0)
                cJSON_AddItemToArray(array, cJSON_DetachItemFromArray(rest, 0));
}

/* Give the records from index on the seq (delta further) and, when reseal,
 * recompute their hashes (their "prev" left as it was). */
static void renumber_from(enum gc_hash_alg alg, cJSON *seg, int index, int delta, bool reseal) {
        int n = cJSON_GetArraySize(records_of(seg));
        for (int i = index; i < n; i++) {
                cJSON *rec = rec_at(seg, i);
                int64_t seq = (int64_t) cJSON_GetObjectItemCaseSensitive(rec, "seq")->valuedouble;
                set_number(rec, "seq", (double) (seq + delta));
                if (reseal)
                        record_seal(alg, rec);
        }
}

/* Link the records after index to their predecessors again and reseal
 * them: the forger's rewrite of everything after a change. */
static void relink_after(enum gc_hash_alg alg, cJSON *seg, int index) {
        int n = cJSON_GetArraySize(records_of(seg));
        for (int i = index + 1; i < n; i++) {
                set_string(rec_at(seg, i), "prev", str_of(rec_at(seg, i - 1), "hash"));
                record_seal(alg, rec_at(seg, i));
        }
}

/* ------------------------------------------------------------------ */
/* Checking reports */

/* The message names "record <seq>" (not a longer number that starts so). */
static void assert_names_seq(const char *message, int64_t seq) {
        char needle[40];
        snprintf(needle, sizeof needle, "record %" PRId64, seq);
        size_t n = strlen(needle);
        for (const char *p = strstr(message, needle); p; p = strstr(p + 1, needle))
                if (p[n] < '0' || p[n] > '9')
                        return;
        fail_msg("the message does not name %s: %s", needle, message);
}

static void expect_intact(const cJSON *seg, int64_t from, int64_t to) {
        struct auditchain_report rep;
        int r = auditchain_verify_segment(seg, &rep);
        if (r != 0)
                fail_msg("verify: %d (%s at seq %" PRId64 "): %s", r, auditchain_fault_name(rep.fault), rep.bad_seq, rep.message);
        assert_int_equal(rep.fault, AUDIT_FAULT_NONE);
        assert_int_equal(rep.from, from);
        assert_int_equal(rep.to, to);
        assert_int_equal(rep.records, to - from + 1);
        auditchain_report_done(&rep);
}

/* The chain breaks at index (seq as the verifier names it) with fault f. */
static void expect_fault(const cJSON *seg, enum auditchain_fault f, int64_t seq, size_t index) {
        struct auditchain_report rep;
        int r = auditchain_verify_segment(seg, &rep);
        if (r != -EBADMSG || rep.fault != f || rep.bad_seq != seq || rep.bad_index != index)
                fail_msg("want %s at seq %" PRId64 " index %zu, got %d: %s at seq %" PRId64 " index %zu: %s",
                         auditchain_fault_name(f), seq, index, r, auditchain_fault_name(rep.fault), rep.bad_seq,
                         rep.bad_index, rep.message);
        /* Records before the fault verified; none after it counted. */
        assert_int_equal(rep.records, (int64_t) index);
        assert_names_seq(rep.message, seq);
        auditchain_report_done(&rep);
}

static void expect_einval(const cJSON *seg, const char *what) {
        struct auditchain_report rep;
        int r = auditchain_verify_segment(seg, &rep);
        if (r != -EINVAL)
                fail_msg("%s: want -EINVAL, got %d (%s): %s", what, r, auditchain_fault_name(rep.fault), rep.message);
        assert_int_equal(rep.fault, AUDIT_FAULT_NONE);
        assert_true(rep.message[0] != 0);
        auditchain_report_done(&rep);
}

/* ------------------------------------------------------------------ */
/* Hashes */

static void test_record_hash(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                _cleanup_free_ char *zero = auditchain_zero_hash(algs[a]);
                _cleanup_free_ char *want_zero = xasprintf("%s:%064d", crypto_hash_to_string(algs[a]), 0);
                assert_string_equal(zero, want_zero);

                _cleanup_(cJSON_Deletep) cJSON *rec = record_new(1, zero);
                _cleanup_free_ char *h1 = NULL, *h2 = NULL;
                assert_int_equal(auditchain_record_hash(algs[a], rec, &h1), 0);
                assert_int_equal(strlen(h1), strlen(crypto_hash_to_string(algs[a])) + 1 + 64);
                assert_int_equal(strncmp(h1, zero, strlen(crypto_hash_to_string(algs[a])) + 1), 0);

                /* "hash" is left out of what is hashed, and the record is as it was. */
                set_string(rec, "hash", "sm3:whatever");
                _cleanup_(cJSON_Deletep) cJSON *copy = cJSON_Duplicate(rec, true);
                assert_int_equal(auditchain_record_hash(algs[a], rec, &h2), 0);
                assert_string_equal(h1, h2);
                assert_true(cJSON_Compare(rec, copy, true));

                /* The buffer form gives the same. */
                struct gc_buf scratch = GC_BUF_INIT(AUDIT_RECORD_MAX);
                char out[8 + 64 + 1];
                assert_int_equal(auditchain_record_hash_buf(algs[a], rec, &scratch, out), 0);
                assert_string_equal(out, h1);
                gc_buf_free(&scratch);

                /* Every member counts, the detail's too. */
                set_string(rec, "rule", "R-NM2");
                _cleanup_free_ char *h3 = NULL;
                assert_int_equal(auditchain_record_hash(algs[a], rec, &h3), 0);
                assert_string_not_equal(h3, h1);
        }
        _cleanup_(cJSON_Deletep) cJSON *rec = record_new(1, "x");
        _cleanup_free_ char *s = NULL, *h = NULL;
        assert_int_equal(auditchain_record_hash(GC_HASH_SM3, rec, &s), 0);
        assert_int_equal(auditchain_record_hash(GC_HASH_SHA256, rec, &h), 0);
        assert_string_not_equal(s + 4, h + 7);

        /* What JCS cannot serialize (invalid UTF-8) has no hash. */
        set_string(rec, "actor", "\xff");
        _cleanup_free_ char *bad = NULL;
        assert_int_equal(auditchain_record_hash(GC_HASH_SM3, rec, &bad), -EINVAL);
        assert_null(bad);
}

/*
 * The record below; its canonical bytes (RFC 8785) are, for SM3,
 *
 * {"action":"unit.registered","actor":"gc-orchestrator","approval":"approval-oa/OA-2026-0001","detail":{"name":"市xx局","ratio":0.5,"vcpus":8},"object":"unit:1","outcome":"recorded","prev":"sm3:0000000000000000000000000000000000000000000000000000000000000000","role":"system","rule":"R-NM2","seq":1,"time":1767225600}
 *
 * (UTF-8, no newline; KAT_SM3_JCS), and for SHA-256 the same with
 * "prev":"sha256:0000000000000000000000000000000000000000000000000000000000000000".
 * The expected hashes were computed outside this code, with OpenSSL 3.0.22:
 *
 *     printf '%s' '<the bytes above>' | openssl dgst -sm3
 *     printf '%s' '<the same, prev sha256:...>' | openssl dgst -sha256
 */
#define KAT_SM3_JCS                                                                                                  \
        "{\"action\":\"unit.registered\",\"actor\":\"gc-orchestrator\",\"approval\":\"approval-oa/OA-2026-0001\","   \
        "\"detail\":{\"name\":\"\xe5\xb8\x82xx\xe5\xb1\x80\",\"ratio\":0.5,\"vcpus\":8},\"object\":\"unit:1\","          \
        "\"outcome\":\"recorded\",\"prev\":\"sm3:0000000000000000000000000000000000000000000000000000000000000000\","    \
        "\"role\":\"system\",\"rule\":\"R-NM2\",\"seq\":1,\"time\":1767225600}"
#define KAT_SM3_HASH "sm3:6079071d94de0a8de96159a1c7d59d1affd0b47888228e1f39c06ec134bf199e"
#define KAT_SHA256_HASH "sha256:c55152503bd16345222a6d1af867f781876f598ace133b8226c72390c8d71f87"

static cJSON *kat_record(enum gc_hash_alg alg) {
        _cleanup_free_ char *zero = auditchain_zero_hash(alg);
        cJSON *o = cJSON_CreateObject();
        /* Deliberately not in canonical order. */
        cJSON_AddNumberToObject(o, "time", 1767225600);
        cJSON_AddNumberToObject(o, "seq", 1);
        cJSON_AddStringToObject(o, "actor", "gc-orchestrator");
        cJSON_AddStringToObject(o, "role", "system");
        cJSON_AddStringToObject(o, "action", "unit.registered");
        cJSON_AddStringToObject(o, "object", "unit:1");
        cJSON_AddStringToObject(o, "approval", "approval-oa/OA-2026-0001");
        cJSON_AddStringToObject(o, "outcome", "recorded");
        cJSON_AddStringToObject(o, "rule", "R-NM2");
        cJSON *detail = cJSON_AddObjectToObject(o, "detail");
        cJSON_AddNumberToObject(detail, "vcpus", 8);
        cJSON_AddStringToObject(detail, "name", "\xe5\xb8\x82xx\xe5\xb1\x80"); /* 市xx局 */
        cJSON_AddNumberToObject(detail, "ratio", 0.5);
        cJSON_AddStringToObject(o, "prev", zero);
        return o;
}

static void test_known_answer(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *sm3 = kat_record(GC_HASH_SM3), *sha = kat_record(GC_HASH_SHA256);

        /* The bytes first, so a drift in JCS shows as such. */
        struct gc_buf b = GC_BUF_INIT(AUDIT_RECORD_MAX);
        assert_int_equal(jcs_serialize(sm3, &b), 0);
        assert_string_equal(b.data, KAT_SM3_JCS);
        gc_buf_free(&b);

        _cleanup_free_ char *h_sm3 = NULL, *h_sha = NULL;
        assert_int_equal(auditchain_record_hash(GC_HASH_SM3, sm3, &h_sm3), 0);
        assert_string_equal(h_sm3, KAT_SM3_HASH);
        assert_int_equal(auditchain_record_hash(GC_HASH_SHA256, sha, &h_sha), 0);
        assert_string_equal(h_sha, KAT_SHA256_HASH);

        /* A one-record segment of it verifies. */
        _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(GC_HASH_SM3, 1, 1);
        cJSON_ReplaceItemInArray(records_of(seg), 0, cJSON_Duplicate(sm3, true));
        set_string(rec_at(seg, 0), "hash", KAT_SM3_HASH);
        expect_intact(seg, 1, 1);
}

static void test_checkpoint_bytes(void **state) {
        _cleanup_free_ char *bytes = NULL;
        size_t len;
        assert_int_equal(auditchain_checkpoint_bytes(42, "sm3:ab", 1767225600, &bytes, &len), 0);
        assert_string_equal(bytes, "{\"format\":\"gc-audit-checkpoint/1\",\"head\":\"sm3:ab\",\"seq\":42,\"time\":1767225600}");
        assert_int_equal(len, strlen(bytes));
}

/* ------------------------------------------------------------------ */
/* Intact segments */

static void test_intact(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                _cleanup_(cJSON_Deletep) cJSON *whole = segment_new(algs[a], 1, N);
                expect_intact(whole, 1, N);

                /* From the middle: the anchor is record 4's prev, record 3's hash. */
                _cleanup_(cJSON_Deletep) cJSON *tail = segment_new(algs[a], 4, N);
                assert_int_equal(cJSON_GetArraySize(records_of(tail)), N - 3);
                assert_string_equal(str_of(tail, "anchor"), str_of(rec_at(whole, 2), "hash"));
                expect_intact(tail, 4, N);

                /* The hash name is read without regard to case. */
                set_string(tail, "hash", algs[a] == GC_HASH_SM3 ? "SM3" : "SHA256");
                expect_intact(tail, 4, N);

                /* An empty segment (to = from - 1) has nothing to break. */
                _cleanup_(cJSON_Deletep) cJSON *empty = segment_new(algs[a], 1, 0);
                expect_intact(empty, 1, 0);
        }
}

/* ------------------------------------------------------------------ */
/* Tampering */

static void test_edited_field(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(algs[a], 1, N);
                set_string(rec_at(seg, 3), "actor", "someone-else");
                expect_fault(seg, AUDIT_FAULT_EDITED, 4, 3);

                _cleanup_(cJSON_Deletep) cJSON *t = segment_new(algs[a], 1, N);
                set_number(rec_at(t, 6), "time", T0 - 86400);
                expect_fault(t, AUDIT_FAULT_EDITED, 7, 6);

                /* In a segment from the middle, the index counts from its start. */
                _cleanup_(cJSON_Deletep) cJSON *tail = segment_new(algs[a], 3, N);
                set_string(rec_at(tail, 2), "outcome", "refused");
                expect_fault(tail, AUDIT_FAULT_EDITED, 5, 2);
        }
}

static void test_edited_detail(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(algs[a], 1, N);
                set_number(cJSON_GetObjectItemCaseSensitive(rec_at(seg, 3), "detail"), "vms", 30);
                expect_fault(seg, AUDIT_FAULT_EDITED, 4, 3);

                /* A member added to the detail. */
                _cleanup_(cJSON_Deletep) cJSON *add = segment_new(algs[a], 1, N);
                cJSON_AddBoolToObject(cJSON_GetObjectItemCaseSensitive(rec_at(add, 0), "detail"), "classified", 1);
                expect_fault(add, AUDIT_FAULT_EDITED, 1, 0);
        }
}

static void test_deleted_middle(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(algs[a], 1, N);
                cJSON_DeleteItemFromArray(records_of(seg), 3);
                expect_fault(seg, AUDIT_FAULT_DELETED, 4, 3);

                /* Two in a row: the first missing one is named. */
                _cleanup_(cJSON_Deletep) cJSON *two = segment_new(algs[a], 1, N);
                cJSON_DeleteItemFromArray(records_of(two), 4);
                cJSON_DeleteItemFromArray(records_of(two), 4);
                expect_fault(two, AUDIT_FAULT_DELETED, 5, 4);

                /* The first record of a segment from 1. */
                _cleanup_(cJSON_Deletep) cJSON *first = segment_new(algs[a], 1, N);
                cJSON_DeleteItemFromArray(records_of(first), 0);
                expect_fault(first, AUDIT_FAULT_DELETED, 1, 0);

                /* Deleted, the followers renumbered and resealed: the one
                 * now in the gap does not link to its predecessor. */
                _cleanup_(cJSON_Deletep) cJSON *ren = segment_new(algs[a], 1, N);
                cJSON_DeleteItemFromArray(records_of(ren), 3);
                renumber_from(algs[a], ren, 3, -1, true);
                set_number(ren, "to", N - 1);
                expect_fault(ren, AUDIT_FAULT_INSERTED, 4, 3);
        }
}

static void test_deleted_last(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(algs[a], 1, N);
                cJSON_DeleteItemFromArray(records_of(seg), N - 1);
                expect_fault(seg, AUDIT_FAULT_DELETED, N, N - 1);

                /* Only checkpoints catch a tail cut off with "to" lowered too. */
                set_number(seg, "to", N - 1);
                expect_intact(seg, 1, N - 1);

                /* All records gone. */
                _cleanup_(cJSON_Deletep) cJSON *none = segment_new(algs[a], 3, N);
                cJSON_DeleteItemFromObjectCaseSensitive(none, "records");
                cJSON_AddArrayToObject(none, "records");
                expect_fault(none, AUDIT_FAULT_DELETED, 3, 0);
        }
}

static void test_inserted(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                enum gc_hash_alg alg = algs[a];

                /* A forged record 4 linked to record 3 with a valid hash of
                 * its own; the followers renumbered 5..9 and resealed. The
                 * forgery itself verifies; the old record 4, now 5, still
                 * links to record 3, not to the forgery. */
                _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(alg, 1, N);
                cJSON *x = record_new(4, str_of(rec_at(seg, 2), "hash"));
                set_string(x, "actor", "forger");
                record_seal(alg, x);
                renumber_from(alg, seg, 3, +1, true);
                insert_at(records_of(seg), 3, x);
                set_number(seg, "to", N + 1);
                expect_fault(seg, AUDIT_FAULT_INSERTED, 5, 4);

                /* The same with the followers renumbered but not resealed. */
                _cleanup_(cJSON_Deletep) cJSON *nr = segment_new(alg, 1, N);
                x = record_new(4, str_of(rec_at(nr, 2), "hash"));
                record_seal(alg, x);
                renumber_from(alg, nr, 3, +1, false);
                insert_at(records_of(nr), 3, x);
                set_number(nr, "to", N + 1);
                expect_fault(nr, AUDIT_FAULT_EDITED, 5, 4);

                /* A forgery that does not link to its predecessor is itself named. */
                _cleanup_(cJSON_Deletep) cJSON *nl = segment_new(alg, 1, N);
                x = record_new(4, str_of(rec_at(nl, 0), "hash"));
                record_seal(alg, x);
                renumber_from(alg, nl, 3, +1, true);
                insert_at(records_of(nl), 3, x);
                set_number(nl, "to", N + 1);
                expect_fault(nl, AUDIT_FAULT_INSERTED, 4, 3);

                /* Followers not renumbered: seq 4 comes twice. */
                _cleanup_(cJSON_Deletep) cJSON *dup = segment_new(alg, 1, N);
                x = record_new(4, str_of(rec_at(dup, 2), "hash"));
                set_string(x, "actor", "forger");
                record_seal(alg, x);
                insert_at(records_of(dup), 3, x);
                expect_fault(dup, AUDIT_FAULT_REORDERED, 4, 4);

                /* Appended past the segment's "to". */
                _cleanup_(cJSON_Deletep) cJSON *end = segment_new(alg, 1, N);
                x = record_new(N + 1, str_of(rec_at(end, N - 1), "hash"));
                record_seal(alg, x);
                cJSON_AddItemToArray(records_of(end), x);
                expect_fault(end, AUDIT_FAULT_INSERTED, N + 1, N);
        }
}

static void test_reordered(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                /* Records 4 and 5 swapped: record 5 stands where 4 belongs. */
                _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(algs[a], 1, N);
                cJSON *r5 = cJSON_DetachItemFromArray(records_of(seg), 4);
                insert_at(records_of(seg), 3, r5);
                assert_int_equal(cJSON_GetObjectItemCaseSensitive(rec_at(seg, 3), "seq")->valuedouble, 5);
                expect_fault(seg, AUDIT_FAULT_REORDERED, 5, 3);

                /* Records 3 and 6 swapped. */
                _cleanup_(cJSON_Deletep) cJSON *far = segment_new(algs[a], 1, N);
                cJSON *r6 = cJSON_Duplicate(rec_at(far, 5), true), *r3 = cJSON_Duplicate(rec_at(far, 2), true);
                cJSON_ReplaceItemInArray(records_of(far), 2, r6);
                cJSON_ReplaceItemInArray(records_of(far), 5, r3);
                expect_fault(far, AUDIT_FAULT_REORDERED, 6, 2);

                /* Record 2 moved to the end. */
                _cleanup_(cJSON_Deletep) cJSON *moved = segment_new(algs[a], 1, N);
                cJSON_AddItemToArray(records_of(moved), cJSON_DetachItemFromArray(records_of(moved), 1));
                expect_fault(moved, AUDIT_FAULT_REORDERED, 3, 1);

                /* A record repeated. */
                _cleanup_(cJSON_Deletep) cJSON *rep = segment_new(algs[a], 1, N);
                insert_at(records_of(rep), 4, cJSON_Duplicate(rec_at(rep, 3), true));
                expect_fault(rep, AUDIT_FAULT_REORDERED, 4, 4);
        }
}

static void test_edited_rehashed(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                /* Record 4 edited and its hash recomputed: it verifies on its
                 * own, record 5 no longer links to it. */
                _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(algs[a], 1, N);
                set_string(rec_at(seg, 3), "outcome", "refused");
                record_seal(algs[a], rec_at(seg, 3));
                expect_fault(seg, AUDIT_FAULT_INSERTED, 5, 4);

                /* The last record so rewritten goes unseen without a checkpoint. */
                _cleanup_(cJSON_Deletep) cJSON *last = segment_new(algs[a], 1, N);
                set_string(rec_at(last, N - 1), "outcome", "refused");
                record_seal(algs[a], rec_at(last, N - 1));
                expect_intact(last, 1, N);
        }
}

static void test_anchor(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                enum gc_hash_alg alg = algs[a];

                /* A segment from 3 whose anchor is not record 2's hash. */
                _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(alg, 3, N);
                _cleanup_(cJSON_Deletep) cJSON *whole = segment_new(alg, 1, N);
                assert_string_equal(str_of(seg, "anchor"), str_of(rec_at(whole, 1), "hash"));
                set_string(seg, "anchor", str_of(rec_at(whole, 0), "hash"));
                expect_fault(seg, AUDIT_FAULT_ANCHOR, 3, 0);

                /* Its first record relinked (and resealed) to another anchor. */
                _cleanup_(cJSON_Deletep) cJSON *rel = segment_new(alg, 3, N);
                set_string(rec_at(rel, 0), "prev", str_of(rec_at(whole, 0), "hash"));
                record_seal(alg, rec_at(rel, 0));
                expect_fault(rel, AUDIT_FAULT_ANCHOR, 3, 0);

                /* Record 1 not starting from the zero hash. */
                _cleanup_(cJSON_Deletep) cJSON *one = segment_new(alg, 1, N);
                set_string(rec_at(one, 0), "prev", str_of(rec_at(whole, 5), "hash"));
                record_seal(alg, rec_at(one, 0));
                expect_fault(one, AUDIT_FAULT_ANCHOR, 1, 0);

                /* A segment from 1 must say so in its anchor. */
                _cleanup_(cJSON_Deletep) cJSON *nz = segment_new(alg, 1, N);
                set_string(nz, "anchor", str_of(rec_at(whole, 5), "hash"));
                expect_einval(nz, "anchor of a segment from 1");

                /* An anchor longer than any hash, whose first 72 characters
                 * are the first record's prev: not the same anchor. */
                _cleanup_(cJSON_Deletep) cJSON *lng = segment_new(alg, 3, N);
                _cleanup_free_ char *longer = xasprintf("%s%s", str_of(lng, "anchor"), "0123456789abcdef");
                _cleanup_free_ char *cut = xstrndup(longer, 8 + 64);
                set_string(lng, "anchor", longer);
                set_string(rec_at(lng, 0), "prev", cut);
                record_seal(alg, rec_at(lng, 0));
                relink_after(alg, lng, 0);
                expect_einval(lng, "over-long anchor");
                /* One a little longer than its hash is just another anchor. */
                _cleanup_(cJSON_Deletep) cJSON *ff = segment_new(alg, 3, N);
                _cleanup_free_ char *ffff = xasprintf("%s%s", str_of(ff, "anchor"), "f");
                set_string(ff, "anchor", ffff);
                expect_fault(ff, AUDIT_FAULT_ANCHOR, 3, 0);
        }
}

static void test_malformed(void **state) {
        static const char *const members[] = { "seq", "time", "actor", "role", "action", "object", "approval",
                                               "outcome", "rule", "detail", "prev", "hash" };
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                for (size_t m = 0; m < ELEMENTSOF(members); m++) {
                        _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(algs[a], 1, N);
                        cJSON_DeleteItemFromObjectCaseSensitive(rec_at(seg, 3), members[m]);
                        struct auditchain_report rep;
                        assert_int_equal(auditchain_verify_segment(seg, &rep), -EBADMSG);
                        if (rep.fault != AUDIT_FAULT_MALFORMED || rep.bad_index != 3)
                                fail_msg("without %s: %s at index %zu", members[m], auditchain_fault_name(rep.fault),
                                         rep.bad_index);
                        assert_int_equal(rep.bad_seq, strcmp(members[m], "seq") == 0 ? 0 : 4);
                        auditchain_report_done(&rep);
                }

                /* Members of the wrong type. */
                _cleanup_(cJSON_Deletep) cJSON *t = segment_new(algs[a], 1, N);
                set_string(rec_at(t, 3), "time", "2026-01-01T00:00:04Z");
                expect_fault(t, AUDIT_FAULT_MALFORMED, 4, 3);

                _cleanup_(cJSON_Deletep) cJSON *d = segment_new(algs[a], 1, N);
                set_string(rec_at(d, 3), "detail", "{}");
                expect_fault(d, AUDIT_FAULT_MALFORMED, 4, 3);

                _cleanup_(cJSON_Deletep) cJSON *o = segment_new(algs[a], 1, N);
                set_number(rec_at(o, 3), "outcome", 1);
                expect_fault(o, AUDIT_FAULT_MALFORMED, 4, 3);

                /* Not a whole number, or out of any int64_t's range. */
                _cleanup_(cJSON_Deletep) cJSON *f = segment_new(algs[a], 1, N);
                set_number(rec_at(f, 3), "time", T0 + 0.5);
                expect_fault(f, AUDIT_FAULT_MALFORMED, 4, 3);
                _cleanup_(cJSON_Deletep) cJSON *big = segment_new(algs[a], 1, N);
                set_number(rec_at(big, 3), "time", 1e300);
                expect_fault(big, AUDIT_FAULT_MALFORMED, 4, 3);

                /* Not an object at all. */
                _cleanup_(cJSON_Deletep) cJSON *n = segment_new(algs[a], 1, N);
                cJSON_ReplaceItemInArray(records_of(n), 3, cJSON_CreateNumber(4));
                struct auditchain_report rep;
                assert_int_equal(auditchain_verify_segment(n, &rep), -EBADMSG);
                assert_int_equal(rep.fault, AUDIT_FAULT_MALFORMED);
                assert_int_equal(rep.bad_index, 3);
                assert_int_equal(rep.records, 3);
                auditchain_report_done(&rep);

                /* A string JCS cannot carry (invalid UTF-8) is malformed, not "edited". */
                _cleanup_(cJSON_Deletep) cJSON *u = segment_new(algs[a], 1, N);
                set_string(rec_at(u, 3), "actor", "\xc3(");
                expect_fault(u, AUDIT_FAULT_MALFORMED, 4, 3);
        }
}

static void test_not_segment(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *arr = cJSON_CreateArray();
        expect_einval(arr, "an array");
        expect_einval(NULL, "NULL");

        static const struct {
                const char *member;
                const char *value;      /* NULL: removed */
                double number;          /* used when value is "" */
        } cases[] = {
                { "format", NULL, 0 },
                { "format", "gc-audit-segment/2", 0 },
                { "hash", NULL, 0 },
                { "hash", "md5", 0 },
                { "from", NULL, 0 },
                { "from", "", 0 },
                { "from", "", 1.5 },
                { "from", "3", 0 },
                { "to", NULL, 0 },
                { "to", "", 1 },        /* to before from - 1 */
                { "anchor", NULL, 0 },
                { "records", NULL, 0 },
                { "records", "[]", 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(GC_HASH_SM3, 3, N);
                char what[64];
                snprintf(what, sizeof what, "case %zu (%s)", i, cases[i].member);
                if (!cases[i].value)
                        cJSON_DeleteItemFromObjectCaseSensitive(seg, cases[i].member);
                else if (!cases[i].value[0])
                        set_number(seg, cases[i].member, cases[i].number);
                else
                        set_string(seg, cases[i].member, cases[i].value);
                expect_einval(seg, what);
        }
        /* The control: the same segment untouched verifies. */
        _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(GC_HASH_SM3, 3, N);
        expect_intact(seg, 3, N);
}

/* ------------------------------------------------------------------ */
/* Checkpoints */

static char *sign_b64(EVP_PKEY *key, const void *msg, size_t len) {
        _cleanup_free_ uint8_t *sig = NULL;
        size_t siglen;
        assert_int_equal(crypto_sign(key, msg, len, &sig, &siglen), 0);
        return crypto_base64(sig, siglen);
}

static void add_key_members(cJSON *o, EVP_PKEY *key) {
        _cleanup_free_ char *pem = NULL, *fp = NULL;
        enum gc_key_type type;
        assert_int_equal(crypto_key_public_pem(key, &pem), 0);
        assert_int_equal(crypto_key_fingerprint(key, &fp), 0);
        assert_int_equal(crypto_key_type(key, &type), 0);
        cJSON_AddStringToObject(o, "fingerprint", fp);
        cJSON_AddStringToObject(o, "key_type", crypto_key_type_to_string(type));
        cJSON_AddStringToObject(o, "public_key", pem);
}

/* A checkpoint of head at seq, signed by the service key; countersigned by
 * the authority over the checkpoint's bytes, or over other_bytes if given. */
static cJSON *checkpoint_new(int64_t id, int64_t seq, const char *head, const char *other_bytes) {
        int64_t t = T0 + 3600;
        _cleanup_free_ char *bytes = NULL;
        size_t len;
        assert_int_equal(auditchain_checkpoint_bytes(seq, head, t, &bytes, &len), 0);

        cJSON *cp = cJSON_CreateObject();
        cJSON_AddNumberToObject(cp, "id", (double) id);
        cJSON_AddNumberToObject(cp, "seq", (double) seq);
        cJSON_AddStringToObject(cp, "head", head);
        cJSON_AddNumberToObject(cp, "time", (double) t);
        add_key_members(cJSON_AddObjectToObject(cp, "signer"), service_key);
        _cleanup_free_ char *sig = sign_b64(service_key, bytes, len);
        cJSON_AddStringToObject(cp, "signature", sig);

        cJSON *cs = cJSON_CreateObject();
        cJSON_AddStringToObject(cs, "holder", "authority");
        add_key_members(cs, authority_key);
        _cleanup_free_ char *csig = other_bytes ? sign_b64(authority_key, other_bytes, strlen(other_bytes))
                                                : sign_b64(authority_key, bytes, len);
        cJSON_AddStringToObject(cs, "signature", csig);
        cJSON_AddNumberToObject(cs, "time", (double) (t + 60));
        cJSON_AddItemToArray(cJSON_AddArrayToObject(cp, "countersignatures"), cs);
        return cp;
}

static void checkpoints_set(cJSON *seg, cJSON *cp) {
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(seg, "checkpoints"), cp);
}

static void test_checkpoint_valid(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(algs[a], 1, N);
                checkpoints_set(seg, checkpoint_new(7, 6, str_of(rec_at(seg, 5), "hash"), NULL));

                struct auditchain_report rep;
                int r = auditchain_verify_segment(seg, &rep);
                if (r != 0)
                        fail_msg("verify: %d: %s", r, rep.message);
                assert_int_equal(rep.records, N);
                assert_int_equal(rep.n_checkpoints, 1);
                const struct auditchain_checkpoint_report *c = &rep.checkpoints[0];
                assert_int_equal(c->id, 7);
                assert_int_equal(c->seq, 6);
                assert_true(c->signature_valid);
                assert_true(c->head_matches);
                assert_int_equal(c->countersignatures, 1);
                assert_int_equal(c->countersignatures_bad, 0);
                _cleanup_free_ char *fp = NULL;
                assert_int_equal(crypto_key_fingerprint(service_key, &fp), 0);
                assert_string_equal(c->fingerprint, fp);
                auditchain_report_done(&rep);
                assert_null(rep.checkpoints);
        }
}

static void expect_checkpoint(const cJSON *seg, bool sig, bool head, size_t cs, size_t cs_bad) {
        struct auditchain_report rep;
        assert_int_equal(auditchain_verify_segment(seg, &rep), -EBADMSG);
        /* The chain itself verifies: only the checkpoint is wrong. */
        assert_int_equal(rep.fault, AUDIT_FAULT_NONE);
        assert_int_equal(rep.records, rep.to - rep.from + 1);
        assert_int_equal(rep.n_checkpoints, 1);
        const struct auditchain_checkpoint_report *c = &rep.checkpoints[0];
        if (c->signature_valid != sig || c->head_matches != head || c->countersignatures != cs ||
            c->countersignatures_bad != cs_bad)
                fail_msg("checkpoint: signature %d head %d countersignatures %zu bad %zu; want %d %d %zu %zu",
                         c->signature_valid, c->head_matches, c->countersignatures, c->countersignatures_bad, sig,
                         head, cs, cs_bad);
        auditchain_report_done(&rep);
}

static void test_checkpoint_broken(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                /* Signed, but over record 5's hash claimed as record 6's head. */
                _cleanup_(cJSON_Deletep) cJSON *head = segment_new(algs[a], 1, N);
                checkpoints_set(head, checkpoint_new(1, 6, str_of(rec_at(head, 4), "hash"), NULL));
                expect_checkpoint(head, true, false, 1, 0);

                /* A countersignature over other bytes. */
                _cleanup_(cJSON_Deletep) cJSON *cs = segment_new(algs[a], 1, N);
                _cleanup_free_ char *other = NULL;
                size_t len;
                assert_int_equal(auditchain_checkpoint_bytes(5, str_of(rec_at(cs, 4), "hash"), T0 + 3600, &other, &len), 0);
                checkpoints_set(cs, checkpoint_new(1, 6, str_of(rec_at(cs, 5), "hash"), other));
                expect_checkpoint(cs, true, true, 0, 1);

                /* The service's signature no longer covering the checkpoint (time moved). */
                _cleanup_(cJSON_Deletep) cJSON *sig = segment_new(algs[a], 1, N);
                cJSON *cp = checkpoint_new(1, 6, str_of(rec_at(sig, 5), "hash"), NULL);
                set_number(cp, "time", T0 + 7200);
                checkpoints_set(sig, cp);
                expect_checkpoint(sig, false, true, 0, 1);

                /* The record a checkpoint covers rewritten with the chain after
                 * it relinked: the chain verifies, the checkpoint does not. */
                _cleanup_(cJSON_Deletep) cJSON *rw = segment_new(algs[a], 1, N);
                checkpoints_set(rw, checkpoint_new(1, 6, str_of(rec_at(rw, 5), "hash"), NULL));
                set_string(rec_at(rw, 5), "outcome", "refused");
                record_seal(algs[a], rec_at(rw, 5));
                relink_after(algs[a], rw, 5);
                expect_checkpoint(rw, true, false, 1, 0);

                /* A checkpoint past the tail that was cut off (with "to"): the
                 * chain verifies, but the signed checkpoint says record N was
                 * there, so it is named as deleted. */
                _cleanup_(cJSON_Deletep) cJSON *cut = segment_new(algs[a], 1, N);
                checkpoints_set(cut, checkpoint_new(1, N, str_of(rec_at(cut, N - 1), "hash"), NULL));
                cJSON_DeleteItemFromArray(records_of(cut), N - 1);
                set_number(cut, "to", N - 1);
                struct auditchain_report rep;
                assert_int_equal(auditchain_verify_segment(cut, &rep), -EBADMSG);
                assert_int_equal(rep.fault, AUDIT_FAULT_DELETED);
                assert_int_equal(rep.bad_seq, N);
                assert_int_equal(rep.records, N - 1);
                _cleanup_free_ char *want = xasprintf("record %d is missing: checkpoint 1 commits to record %d", N, N);
                if (!strstr(rep.message, want))
                        fail_msg("message \"%s\" does not say \"%s\"", rep.message, want);
                assert_true(rep.checkpoints[0].signature_valid);
                assert_false(rep.checkpoints[0].head_matches);
                auditchain_report_done(&rep);
        }
}

/* ------------------------------------------------------------------ */
/* Archives */

static void test_archive(void **state) {
        EVP_PKEY *keys[] = { service_key, authority_key };
        for (size_t a = 0; a < ELEMENTSOF(algs); a++)
                for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                        _cleanup_(cJSON_Deletep) cJSON *seg = segment_new(algs[a], 3, N);
                        checkpoints_set(seg, checkpoint_new(1, 6, str_of(rec_at(seg, 3), "hash"), NULL));
                        assert_int_equal(auditchain_sign_archive(seg, keys[k]), 0);
                        assert_non_null(cJSON_GetObjectItemCaseSensitive(seg, "archive_signer"));

                        struct auditchain_report rep;
                        int r = auditchain_verify_segment(seg, &rep);
                        if (r != 0)
                                fail_msg("verify: %d: %s", r, rep.message);
                        assert_true(rep.archive_signed);
                        assert_true(rep.archive_signature_valid);
                        auditchain_report_done(&rep);

                        /* Signing again replaces the signature; still valid. */
                        assert_int_equal(auditchain_sign_archive(seg, keys[k]), 0);
                        assert_int_equal(auditchain_verify_segment(seg, &rep), 0);
                        assert_true(rep.archive_signature_valid);
                        auditchain_report_done(&rep);

                        /* A record edited after signing. */
                        _cleanup_(cJSON_Deletep) cJSON *ed = cJSON_Duplicate(seg, true);
                        set_string(rec_at(ed, 1), "actor", "someone-else");
                        assert_int_equal(auditchain_verify_segment(ed, &rep), -EBADMSG);
                        assert_true(rep.archive_signed);
                        assert_false(rep.archive_signature_valid);
                        assert_int_equal(rep.fault, AUDIT_FAULT_EDITED);
                        auditchain_report_done(&rep);

                        /* A member outside the chain edited: only the archive signature tells. */
                        _cleanup_(cJSON_Deletep) cJSON *ex = cJSON_Duplicate(seg, true);
                        set_string(ex, "exported", "2026-03-01T00:00:00Z");
                        assert_int_equal(auditchain_verify_segment(ex, &rep), -EBADMSG);
                        assert_int_equal(rep.fault, AUDIT_FAULT_NONE);
                        assert_true(rep.archive_signed);
                        assert_false(rep.archive_signature_valid);
                        auditchain_report_done(&rep);

                        /* The signer swapped for another key: the signature does not verify. */
                        _cleanup_(cJSON_Deletep) cJSON *sw = cJSON_Duplicate(seg, true);
                        cJSON *signer = cJSON_GetObjectItemCaseSensitive(sw, "archive_signer");
                        _cleanup_free_ char *pem = NULL;
                        assert_int_equal(crypto_key_public_pem(keys[1 - k], &pem), 0);
                        set_string(signer, "public_key", pem);
                        assert_int_equal(auditchain_verify_segment(sw, &rep), -EBADMSG);
                        assert_false(rep.archive_signature_valid);
                        auditchain_report_done(&rep);
                }

        /* Unsigned: not reported as signed. */
        _cleanup_(cJSON_Deletep) cJSON *plain = segment_new(GC_HASH_SM3, 1, N);
        struct auditchain_report rep;
        assert_int_equal(auditchain_verify_segment(plain, &rep), 0);
        assert_false(rep.archive_signed);
        assert_false(rep.archive_signature_valid);
        auditchain_report_done(&rep);
}

static void test_fault_names(void **state) {
        assert_string_equal(auditchain_fault_name(AUDIT_FAULT_NONE), "none");
        assert_string_equal(auditchain_fault_name(AUDIT_FAULT_MALFORMED), "malformed");
        assert_string_equal(auditchain_fault_name(AUDIT_FAULT_EDITED), "edited");
        assert_string_equal(auditchain_fault_name(AUDIT_FAULT_DELETED), "deleted");
        assert_string_equal(auditchain_fault_name(AUDIT_FAULT_INSERTED), "inserted");
        assert_string_equal(auditchain_fault_name(AUDIT_FAULT_REORDERED), "reordered");
        assert_string_equal(auditchain_fault_name(AUDIT_FAULT_ANCHOR), "anchor");
}

static int keys_setup(void **state) {
        if (crypto_key_generate(GC_KEY_SM2, &service_key) < 0 || crypto_key_generate(GC_KEY_ED25519, &authority_key) < 0)
                return -1;
        return 0;
}

static int keys_teardown(void **state) {
        EVP_PKEY_free(service_key);
        EVP_PKEY_free(authority_key);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_record_hash),
                cmocka_unit_test(test_known_answer),
                cmocka_unit_test(test_checkpoint_bytes),
                cmocka_unit_test(test_intact),
                cmocka_unit_test(test_edited_field),
                cmocka_unit_test(test_edited_detail),
                cmocka_unit_test(test_deleted_middle),
                cmocka_unit_test(test_deleted_last),
                cmocka_unit_test(test_inserted),
                cmocka_unit_test(test_reordered),
                cmocka_unit_test(test_edited_rehashed),
                cmocka_unit_test(test_anchor),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_not_segment),
                cmocka_unit_test(test_checkpoint_valid),
                cmocka_unit_test(test_checkpoint_broken),
                cmocka_unit_test(test_archive),
                cmocka_unit_test(test_fault_names),
        };
        return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}
