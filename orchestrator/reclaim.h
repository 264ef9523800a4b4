/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exit and reclaim (R-EX1..R-EX3, R-LC5; DESIGN.md "Lifecycle", "Wipe").
 *
 * An accepted exit request moves the system to exit_requested and makes
 * its exit row: the statement the tenant is to sign (the exit form's
 * wording, as canonical JSON, hashed with the pack's hash) and, where the
 * pack sets one, the end of the migration grace period as a timer
 * ("exit_grace"). The VMs stay as they are.
 *
 * What moves it on (R-EX2, R-EX3):
 *   - the tenant's signature over the statement (POST .../exit-statement),
 *     with its registered key, at any time while the exit is open;
 *   - an authority order (POST .../reclaim-order) on a ground the pack
 *     lists (R-EX1), where the pack's authority_may_order_wipe allows it,
 *     after the grace period: the order and the tenant's notification go
 *     on the audit chain, from which the notifier delivers it. Where the
 *     pack does not allow it, the order suspends the system (R-SC3: VPC
 *     isolated, state suspended) until the statement comes.
 *
 * Then the reclaim runs by itself, one step after the other, the step in
 * the exit row and a "reclaim" timer that fires at the next tick after
 * every change (so a restart resumes where it was):
 *   stopping   vm.stop for every VM                    (state draining)
 *   wiping     vm.wipe for every VM (WIPESPEC by pack)  (state wiping)
 *              each volume's certificate verified with its host's wipe key
 *   deleting   vm.delete for every VM
 *   network    the VPC's vpc.delete jobs, then its VNI, CIDR, addresses and
 *              MACs released
 *   sheet      the exit sheet (R-LC5): every released VM, volume (with its
 *              certificate) and network resource, for three signatures;
 *              the complete sheet moves the system to reclaimed
 *   done
 * A failed job stops the reclaim at its step with the reason in "problem"
 * (audited once); POST .../reclaim (provider) tries the step again.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "gc/error.h"

struct orch;
struct api_call;
struct config_pool;

#define RECLAIM_STATEMENT_FORMAT "gc-exit-statement/1"

/* Inside the accepting transaction of an exit request. */
int reclaim_exit_accepted(struct orch *o, int64_t system_id, int64_t request_id, const cJSON *doc,
                          const struct config_pool *pool);
/* Move the reclaim on as far as it can go now (inside a transaction). */
int reclaim_advance(struct orch *o, int64_t system_id);
/* The "exit_grace" timer fired (inside a transaction). */
int reclaim_grace_ended(struct orch *o, int64_t system_id);
/* A vm.stop or vm.wipe result (inside a transaction): *ret_system for the
 * lifecycle, *ret_detail an audit detail for the job record (taken). */
int reclaim_job_result(struct orch *o, int64_t job_id, const char *host, const char *kind, int64_t vm_id, bool ok,
                       const cJSON *result, int64_t *ret_system, cJSON **ret_detail);
/* The exit sheet has its three signatures (inside a transaction). */
int reclaim_sheet_completed(struct orch *o, int64_t system_id, int64_t sheet_id);
/* The exit as JSON for GET /v1/systems/{id}[/exit]; -ENOENT when none. */
int reclaim_describe(struct orch *o, int64_t system_id, cJSON **ret);

/* Route handlers. */
void get_exit(struct api_call *c);
void post_exit_statement(struct api_call *c);
void post_reclaim_order(struct api_call *c);
void post_reclaim(struct api_call *c);
void agent_wipe_progress(struct api_call *c);
