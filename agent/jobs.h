/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Executing one JOB (include/gc/wire.h) with the hypervisor ops, the local
 * journal around it:
 *
 *   vm.ensure  get(uuid); missing: define, and start if it should run
 *              (VMSTATE "created": true, and "recreated": true when the
 *              journal shows this agent had made it before); present:
 *              converge vCPUs, memory, disks that are smaller than the spec
 *              (a hypervisor that cannot grow a volume is noted as
 *              "disk_resize": "unsupported by this hypervisor", not a
 *              failure), title and labels (compared exactly), running or not.
 *   vm.delete  shutdown(force) and undefine; a VM already gone is success.
 *   vpc.ensure net_ensure (agent/net.h), then the VPCSPEC is kept in the
 *              state file, which the agent reconciles from at start.
 *   vpc.delete net_delete, and the VPC leaves the state file.
 *   Without a network module the VPC jobs succeed with "actions":
 *   JOBS_NO_NETWORK, and a VM's NIC is not attached ("nic" note): the
 *   orchestrator's audit chain shows it.
 *   tunnel.open  tunnels_start (agent/tunnel.h): the listener for an
 *              approved tunnel (R-OP4), the same one again for the same id;
 *              a tunnel used, closed or past its deadline fails (R-OP1, R-OP2).
 *   tunnel.close tunnels_revoke: the session cut and the listener closed
 *              ("revoked"); unknown or closed is success.
 *   Without the tunnel module (env->tunnels NULL) both fail: JOBS_NO_TUNNELS.
 *
 * The result entry (for POST /v1/agent/results) is
 *   {"job": 12, "ok": true, "vm": VMSTATE [, "disk_resize": "...", "disk_add": "..."]}
 *   {"job": 14, "ok": true}                                    vm.delete, tunnel.close
 *   {"job": 31, "ok": true, "tunnel": {"id", "address", "port", "deadline"}}   tunnel.open
 *   {"job": 13, "ok": false, "error": "define: Input/output error"}
 * with VMSTATE read back with get() after the job.
 *
 * A job whose id the journal has as done is not run again: its stored result
 * is returned (outcome->replayed).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "gc/error.h"
#include "hv.h"
#include "journal.h"
#include "net.h"
#include "tunnel.h"

#define JOBS_KIND_ENSURE "vm.ensure"
#define JOBS_KIND_DELETE "vm.delete"
#define JOBS_KIND_VPC_ENSURE "vpc.ensure"
#define JOBS_KIND_VPC_DELETE "vpc.delete"
#define JOBS_KIND_TUNNEL_OPEN "tunnel.open"
#define JOBS_KIND_TUNNEL_CLOSE "tunnel.close"
#define JOBS_NO_TUNNELS "tunnels: this agent has no tunnel module; nothing is opened or closed here"
#define JOBS_NO_NETWORK "not built: this host's agent has no network section"
#define JOBS_DISK_RESIZE_UNSUPPORTED "unsupported by this hypervisor"

struct jobs_env {
        const struct hv_ops *ops;
        struct hv *hv;
        struct journal *journal;
        struct net *net;                /* NULL: no network section (VPCs are not built here) */
        const char *net_state;          /* the VPCs this host should have (a JSON file) */
        struct tunnels *tunnels;        /* NULL: tunnel jobs fail (JOBS_NO_TUNNELS) */
};

struct jobs_outcome {
        int64_t job;
        bool replayed;                  /* done before: the journal's result */
        bool ok;
        bool created;                   /* vm.ensure defined the domain */
        char actions[512];              /* "defined, started", "unchanged", ... */
        double seconds;
};

/* Run one job. *ret_result is the result entry; fails (-EINVAL with err)
 * only when the job has no usable id, or when the journal cannot record
 * that it starts (then the job is not run). */
int jobs_run(const struct jobs_env *env, const cJSON *job, cJSON **ret_result, struct jobs_outcome *ret_outcome,
             struct gc_error *err);

/* VMSPEC -> struct hv_spec; errors name the field under "vm". */
int jobs_spec_parse(const cJSON *vm, struct hv_spec *ret, bool *ret_running, struct gc_error *err);
/* What the hypervisor holds, as VMSTATE. */
cJSON *jobs_vmstate(const struct hv_domain *d, bool recreated);
const char *jobs_state_name(enum hv_state s);
/* The state file: the VPCSPECs this host should have. Missing: none. */
int jobs_vpc_state_load(const char *path, struct net_vpc **ret, size_t *ret_n);
void jobs_vpc_state_free(struct net_vpc *v, size_t n);

/* Whether uuid is 8-4-4-4-12 hex digits. */
bool jobs_uuid_valid(const char *uuid);
