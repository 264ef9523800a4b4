/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What keeps the audit chain honest beyond its hashes (R-AU1..R-AU3,
 * common/auditchain.h for the formats):
 *
 *  - checkpoints: the service key signs the head at an interval
 *    (audit.checkpoint_interval_seconds) and on shutdown; the authority
 *    countersigns them with its registered key, so that the provider, who
 *    holds the service key and the database, cannot rewrite what a
 *    countersigned checkpoint covers;
 *  - export: a self-contained segment any party verifies offline;
 *  - retention (R-AU1): records younger than the pack's retention in
 *    calendar months are never removed (a trigger in the store refuses it);
 *    older ones are written to audit.archive_dir as a signed archive, and
 *    only then pruned. Without an archive directory or a service key,
 *    nothing is pruned.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

struct orch;
struct api_call;

/* Sign a checkpoint of the head, in a transaction of its own. *ret_id is
 * the new checkpoint, or the latest one when the head has not moved since
 * (then *ret_new is false). -ENOKEY without a service key, -ENODATA on an
 * empty chain. */
int chain_checkpoint(struct orch *o, int64_t *ret_id, bool *ret_new);

/* The segment of records from..to (0: the first retained / the head). */
int chain_export(struct orch *o, int64_t from, int64_t to, cJSON **ret);

/* One retention pass: archive and prune what the pack lets go. Returns the
 * number of records pruned. */
int chain_prune(struct orch *o);

void chain_start(struct orch *o);       /* the checkpoint and retention timers */
void chain_stop(struct orch *o);        /* a last checkpoint */

/* Route handlers. */
void get_checkpoints(struct api_call *c);
void post_checkpoint(struct api_call *c);
void post_countersignature(struct api_call *c);
void get_audit_export(struct api_call *c);
