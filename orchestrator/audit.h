/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit chain (R-AU1..R-AU3): an append-only sequence of records, each
 * holding who, which approval, what, when, the outcome and the rule, and
 * the hash of the record before it. A record's hash covers the canonical
 * bytes (RFC 8785) of the record without its "hash" member:
 *
 *     {"seq","time","actor","role","action","object","approval","outcome",
 *      "rule","detail","prev"}
 *
 * "prev" and "hash" are "<alg>:<hex>" (sm3 or sha256, by the pack, R-SC4);
 * the first record's prev is "<alg>:" followed by 64 zeros.
 *
 * audit_append() must run inside the caller's store transaction, so that a
 * state change and its record commit or vanish together.
 */
#pragma once

#include <stdint.h>

#include <cJSON.h>

#include "crypto.h"
#include "store.h"

struct audit_entry {
        int64_t time;                   /* Unix seconds */
        const char *actor;              /* certificate CN, or "gc-orchestrator" */
        const char *role;               /* approval, tenant, provider, authority, host, operator, system */
        const char *action;             /* "request.accepted", "request.refused", "unit.registered", ... */
        const char *object;             /* "system:3", "request:12", "" */
        const char *approval;           /* "approval-oa/OA-2026-0001", "" */
        const char *outcome;            /* "accepted", "refused", "recorded", "denied" */
        const char *rule;               /* "R-NM2", "" */
        const cJSON *detail;            /* an object; NULL is {} */
};

int audit_append(struct store *s, enum gc_hash_alg alg, const struct audit_entry *e, int64_t *ret_seq);
/* The record alone, in a transaction of its own: a refusal, a start. */
int audit_record(struct store *s, enum gc_hash_alg alg, const struct audit_entry *e);

/* Recompute every hash and link from the first record; -EBADMSG with
 * *ret_bad_seq set at the first record that does not verify. */
int audit_verify_store(struct store *s, int64_t *ret_count, int64_t *ret_bad_seq);
