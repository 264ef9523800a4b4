/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VPCs: one per business system (R-NW1), with the provider's addresses
 * (R-NW2), egress closed until the system passed admission (R-NW3, R-SC2),
 * and the isolation switch (R-SC3).
 *
 * Address management lives in the store and every allocation happens in
 * the caller's transaction, so a refusal or a crash leaves nothing half
 * allocated:
 *   - a VNI, the smallest free one in network.vni_first..vni_last;
 *   - a CIDR sized for twice the apply's VMs (at least a /28), carved from
 *     the pool's address_ranges: a block no other VPC of the pool uses while
 *     there is one, else the first block that fits (a CIDR may repeat across
 *     VPCs: isolation never relies on distinct ranges);
 *   - the gateway (the CIDR's first address) and its MAC 02:67:63 + VNI;
 *   - per VM the lowest free address after the gateway and the MAC
 *     52:54:00 + its id;
 *   - per host of a VPC with egress open, an uplink address from the
 *     pool's egress range.
 * Exhaustion of any of these is -ENOSPC with err naming what ran out.
 *
 * vpc_sync() turns the store's view into jobs: the hosts holding a VM of
 * the system (not being released) are the VPC's hosts; a host whose
 * VPCSPEC (include/gc/wire.h) changed gets a vpc.ensure, one that no longer
 * holds any gets a vpc.delete (after its VMs' vm.delete, queued before).
 * A caller queues the vm.ensure of new VMs after vpc_sync(), so a host
 * builds the network before the VMs that attach to it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "gc/error.h"

struct orch;
struct config_pool;

#define VPC_MIN_BLOCK_PREFIX 28         /* the smallest CIDR a VPC gets */

/* The system's VPC for an apply of n_vms VMs (nothing when it has one). */
int vpc_plan(struct orch *o, int64_t system_id, const struct config_pool *pool, size_t n_vms, struct gc_error *err);
/* An address and a MAC for the VM (nothing when it has them). field names
 * the VM in a refusal ("vms[2]"). */
int vpc_assign_vm(struct orch *o, int64_t system_id, int64_t vm_id, const char *field, struct gc_error *err);
/* Queue the VPC jobs the system's VMs and settings now call for. */
int vpc_sync(struct orch *o, int64_t system_id, int64_t request_id, struct gc_error *err);

/* "none" | "egov" | "internet": checks R-SC2 / R-NW3 and refuses with err
 * (-EPERM), else records it and syncs. *ret_changed: whether it changed. */
int vpc_set_egress(struct orch *o, int64_t system_id, const char *egress, bool *ret_changed, struct gc_error *err);
/* R-SC3: isolate or restore. -ENOENT when the system has no VPC. */
int vpc_set_isolated(struct orch *o, int64_t system_id, bool isolated, bool *ret_changed, struct gc_error *err);

/* A VPC job's result (inside the caller's transaction): the host's state
 * for that VPC; *ret_system the VPC's system (for lifecycle progress);
 * *ret_detail an audit detail (taken by the caller). */
int vpc_job_result(struct orch *o, int64_t job_id, const char *host, int64_t vpc_id, const char *kind, bool ok,
                   const cJSON *result, int64_t *ret_system, cJSON **ret_detail);
/* VPC work not finished for the system: jobs queued or sent, hosts not
 * ready. */
int vpc_pending(struct orch *o, int64_t system_id, int64_t *ret);

/* R-EX3, R-LC5: after its last vpc.delete, the system's VPC is released:
 * its VNI and CIDR (the row goes; its jobs keep their records without the
 * link) and its VMs' addresses and MACs. *ret is what was released, for
 * the exit sheet: {"vni","cidr","gateway","gateway_mac","addresses":[...],
 * "macs":[...]}; -ENOENT when the system has no VPC. Inside a transaction. */
int vpc_release(struct orch *o, int64_t system_id, cJSON **ret);

/* The VPC as JSON: vni, cidr, gateway, egress, isolated, hosts, VMs with
 * addresses, MACs and the application's ports. -ENOENT when none. */
int vpc_describe(struct orch *o, int64_t system_id, cJSON **ret);
