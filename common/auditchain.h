/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit chain's format, shared by the orchestrator (which appends and
 * exports), gcctl (which verifies segments offline) and the benchmark
 * (R-AU1..R-AU3).
 *
 * A record is the JSON object
 *
 *     {"seq","time","actor","role","action","object","approval","outcome",
 *      "rule","detail","prev","hash"}
 *
 * "time" is Unix seconds (a number). Its hash covers the canonical bytes
 * (RFC 8785) of the object without "hash". "prev" and "hash" are
 * "<alg>:<64 hex>" (sm3 or sha256, by the pack, R-SC4); the first record's
 * prev is "<alg>:" and 64 zeros.
 *
 * A checkpoint commits to the head of the chain at one record. What is
 * signed, by the orchestrator's service key and by the authority's
 * countersignature alike, is the canonical bytes of
 *
 *     {"format":"gc-audit-checkpoint/1","seq":N,"head":"<hash of record N>","time":T}
 *
 * so `openssl pkeyutl -verify -rawin` checks either signature on its own.
 *
 * A segment (`gcctl audit export`, the archives pruning writes) is one
 * self-contained JSON document:
 *
 *     {"format":"gc-audit-segment/1",
 *      "hash":"sm3",
 *      "from":F, "to":T,                 the seqs of the first and last record
 *      "anchor":"<prev of record F>",    the zero hash when F is 1
 *      "exported":"RFC 3339",
 *      "records":[record, ...],          seq F..T in order
 *      "checkpoints":[checkpoint, ...]}  those with F <= seq <= T
 *
 *     checkpoint = {"id","seq","head","time",
 *                   "signer":{"fingerprint","key_type","public_key"},
 *                   "signature":"<base64>",
 *                   "countersignatures":[{"holder","fingerprint","key_type",
 *                                          "public_key","signature","time"}]}
 *
 * Archives add "archive_signer" ({"fingerprint","key_type","public_key"})
 * and "archive_signature": the service key's signature (base64) over the
 * canonical bytes of the segment without "archive_signature".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "buf.h"
#include "crypto.h"

#define AUDIT_SEGMENT_FORMAT "gc-audit-segment/1"
#define AUDIT_CHECKPOINT_FORMAT "gc-audit-checkpoint/1"
/* One record's canonical bytes are at most this long. */
#define AUDIT_RECORD_MAX (1024 * 1024)

/* "<alg>:" and 64 zeros (malloc()ed). */
char *auditchain_zero_hash(enum gc_hash_alg alg);

/* The hash of a record object; any "hash" member of it is left out of what
 * is hashed. ret is "<alg>:<hex>" (malloc()ed). -EINVAL for a record JCS
 * cannot serialize. */
int auditchain_record_hash(enum gc_hash_alg alg, const cJSON *record, char **ret);
/* The same into a caller's buffer (no allocation per record, for bulk
 * appends and verification): out holds "<alg>:<64 hex>" and a NUL. */
int auditchain_record_hash_buf(enum gc_hash_alg alg, const cJSON *record, struct gc_buf *scratch,
                               char out[8 + 64 + 1]);

/* The canonical bytes a checkpoint's signatures cover (malloc()ed, NUL-terminated). */
int auditchain_checkpoint_bytes(int64_t seq, const char *head, int64_t time, char **ret, size_t *ret_len);

enum auditchain_fault {
        AUDIT_FAULT_NONE,
        AUDIT_FAULT_MALFORMED,          /* a record that is not a record (missing member, wrong type) */
        AUDIT_FAULT_EDITED,             /* its hash does not match its content */
        AUDIT_FAULT_DELETED,            /* a seq is missing: the record before it is gone */
        AUDIT_FAULT_INSERTED,           /* a record whose prev is not its predecessor's hash, seq in order */
        AUDIT_FAULT_REORDERED,          /* seq goes backwards or repeats */
        AUDIT_FAULT_ANCHOR,             /* the first record's prev is not the segment's anchor */
};

const char *auditchain_fault_name(enum auditchain_fault f);     /* "edited", ... */

struct auditchain_checkpoint_report {
        int64_t id, seq;
        bool signature_valid;           /* the service key's signature */
        bool head_matches;              /* head == hash of record seq (false if seq is outside) */
        size_t countersignatures;       /* valid countersignatures */
        size_t countersignatures_bad;   /* present but not valid */
        char fingerprint[80];           /* the service key's */
};

struct auditchain_report {
        enum gc_hash_alg alg;
        int64_t from, to;               /* as the segment says */
        int64_t records;                /* records that verified, in order */
        /* The first broken record (fault != NONE): its seq as found at that
         * position (or the missing seq for DELETED), its index in "records",
         * and a sentence saying what is wrong. */
        enum auditchain_fault fault;
        int64_t bad_seq;
        size_t bad_index;
        char message[256];
        struct auditchain_checkpoint_report *checkpoints;
        size_t n_checkpoints;
        bool archive_signed;            /* "archive_signature" present */
        bool archive_signature_valid;
};

/* Verify a segment: every record's hash and link, the anchor, each
 * checkpoint's signature and head and its countersignatures. Returns 0 when
 * the chain and every checkpoint verify, -EBADMSG when something does not
 * (the report says what; records after the first fault are not checked),
 * -EINVAL for a document that is not a segment (message in report). */
int auditchain_verify_segment(const cJSON *segment, struct auditchain_report *report);
void auditchain_report_done(struct auditchain_report *report);

/* Sign / verify a segment as an archive (the "archive_signature" member). */
int auditchain_sign_archive(cJSON *segment, EVP_PKEY *key);
