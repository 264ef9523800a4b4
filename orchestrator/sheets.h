/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tri-party confirmation sheets (R-LC3 go-live, R-LC4 change, R-LC5 exit). The document and export
 * formats are common/sheet.h's.
 *
 * A sheet is produced once, inside the transaction that reaches its stage:
 * the go-live sheet when the trial's timer moves the system to
 * awaiting_golive, a change sheet when the change's jobs are done. Its
 * canonical bytes and their hash (the pack's, R-SC4) are stored and never
 * change. Each party signs those bytes with its registered key (SM2 by
 * default, Ed25519 by pack); the third valid signature completes the sheet
 * in the same transaction: a go-live sheet moves the system to active,
 * applies the signed allocation and starts billing (R-LC3); a change sheet
 * closes its change request (R-LC4); the exit sheet, produced when the
 * reclaim has released everything, moves the system to reclaimed (R-LC5,
 * orchestrator/reclaim.h).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "gc/error.h"

struct orch;
struct api_call;

/* A registered party key, by fingerprint. */
struct party_key {
        int64_t id;
        char party[16];                 /* tenant, provider, authority */
        char key_type[16];              /* sm2, ed25519 */
        char *public_key;               /* PEM */
        char *holder;
        bool revoked;
        int64_t unit_id;                /* tenant keys; 0 otherwise */
};
/* -ENOENT when no key has that fingerprint. */
int party_key_find(struct orch *o, const char *fingerprint, struct party_key *ret);
void party_key_done(struct party_key *k);

/* A party's signature over bytes (NUL-terminated canonical JSON): the key
 * registered, not revoked, the party's, the system's unit's (tenant), of
 * the pack's type (R-SC4), and the signature valid. 0; an HTTP status
 * (422) with err; or a negative errno from the store. what names the bytes
 * in the message ("sheet 7 (sm3:...)"). *k is filled from the lookup on. */
int party_signature_check(struct orch *o, const char *party, const char *fp, int64_t unit_id, const char *signature_type,
                          const char *bytes, const char *sig_b64, const char *rule, const char *what, struct party_key *k,
                          struct gc_error *err);

/* The system's VMs as a change sheet's "before" / "after" rows, keyed by
 * name: {"name": {"address","name","vcpus","memory_gib","system_disk_gib",
 * "data_disk_gib"}}. Inside the caller's transaction. */
int sheets_snapshot(struct orch *o, int64_t system_id, cJSON **ret);

/* Produce the sheet inside the caller's transaction; a sheet that exists
 * already is left as it is (0). */
int sheets_golive(struct orch *o, int64_t system_id);
int sheets_change(struct orch *o, int64_t system_id, int64_t request_id);
/* R-LC5: takes exit and released (see sheets.c); *ret_id the sheet's id. */
int sheets_exit(struct orch *o, int64_t system_id, int64_t request_id, cJSON *exit, cJSON *released, int64_t *ret_id);

/* Route handlers. */
void get_sheets(struct api_call *c);
void get_sheet(struct api_call *c);
void get_sheet_export(struct api_call *c);
void post_sheet_signature(struct api_call *c);
void post_trial_extension(struct api_call *c);
void post_key_revoke(struct api_call *c);
