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
 *              Refused while a wipe of the domain runs; afterwards its wipe
 *              state files go (wipejobs_forget).
 *   vm.stop    ACPI shutdown, then destroy when the domain is still not
 *              off after JOBS_STOP_TIMEOUT_S; shut off already is success,
 *              and a paused domain (which cannot take the ACPI request) is
 *              destroyed at once. The result carries VMSTATE, as vm.ensure's
 *              does. With env->stops the wait is not here: the job is
 *              pending (like vm.wipe below) and jobs_collect() looks at the
 *              domain each time it is called, so that the agent's loop goes
 *              on (a guest that ignores ACPI would otherwise hold it 30 s
 *              per VM, past the orchestrator's heartbeat limit); without,
 *              jobs_run polls the state itself.
 *   vm.wipe    WIPESPEC (jobs_wipe_spec_parse; errors name "wipe.FIELD").
 *              Checked here, in the caller's thread, with nothing written:
 *              the domain exists, is ours and is shut off; each disk of its
 *              definition (hv ops volumes) names a file or block device
 *              that no running domain has among its disks ("attached to
 *              running domain NAME"), that libvirt finds by its path in the
 *              managed pool ("not in managed pool P"), of format raw, qcow2
 *              or luks (a LUKS volume to crypto-erase names its secret),
 *              and that is, as wipe.h will check again: no symbolic link, a
 *              regular file or block device, under the pool's directory by
 *              its real path, of the size libvirt gives. A refusal:
 *                {"job", "ok": false, "error": "refused: FIELD \"VALUE\": REASON",
 *                 "wipe": {"uuid", "refused": {"field", "value", "reason"}, "volumes": []}}
 *              (fields "wipe.uuid", "wipe.signing_key", "volumes[I].path",
 *              "volumes[I].format", "volumes[I].size", "volumes[I].secret").
 *              Then the volumes go to a thread (agent/wipejob.h, which
 *              describes the result): no result now (outcome->pending), and
 *              nothing journalled as done; jobs_collect() gives the result
 *              once the thread has ended. The same job id again while the
 *              module holds it is pending too, and nothing is done. Without
 *              a wipe module (env->wipes NULL) vm.wipe fails: JOBS_NO_WIPE.
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
 * vm.ensure with VMSPEC "encrypted": true creates new volumes in LUKS format
 * (hv.h); where the hypervisor has no libvirt secrets the job fails with
 * JOBS_NO_SECRETS and nothing is defined.
 *
 * The result entry (for POST /v1/agent/results) is
 *   {"job": 12, "ok": true, "vm": VMSTATE [, "disk_resize": "...", "disk_add": "..."]}
 *   {"job": 41, "ok": true, "vm": VMSTATE}                     vm.stop
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
#include "wipejob.h"

#define JOBS_KIND_ENSURE "vm.ensure"
#define JOBS_KIND_DELETE "vm.delete"
#define JOBS_KIND_VPC_ENSURE "vpc.ensure"
#define JOBS_KIND_VPC_DELETE "vpc.delete"
#define JOBS_KIND_TUNNEL_OPEN "tunnel.open"
#define JOBS_KIND_TUNNEL_CLOSE "tunnel.close"
#define JOBS_KIND_STOP "vm.stop"
#define JOBS_KIND_WIPE "vm.wipe"
#define JOBS_STOP_TIMEOUT_S 30
#define JOBS_NO_WIPE "vm.wipe: this agent has no wipe module; nothing is wiped here"
#define JOBS_NO_SECRETS "define: encrypted volumes (VMSPEC \"encrypted\": true) need libvirt secrets, which this " \
        "hypervisor does not have; nothing was defined"
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
        struct wipejobs *wipes;         /* NULL: vm.wipe fails (JOBS_NO_WIPE) */
        const char *storage_pool;       /* the managed pool's name, for refusals */
        uint64_t wipe_sample_blocks;    /* a "sampled" WIPESPEC without sample_blocks; 0: 4096 */
        struct jobs_stops *stops;       /* NULL: vm.stop waits in jobs_run */
};

/* The vm.stop jobs waiting for their domains (see vm.stop above). */
struct jobs_stops;
int jobs_stops_new(struct jobs_stops **ret);
void jobs_stops_free(struct jobs_stops *s);
size_t jobs_stops_pending(const struct jobs_stops *s);

struct jobs_outcome {
        int64_t job;
        bool replayed;                  /* done before: the journal's result */
        bool ok;
        bool created;                   /* vm.ensure defined the domain */
        bool pending;                   /* vm.wipe, vm.stop: no result yet (*ret_result NULL); jobs_collect */
        char actions[512];              /* "defined, started", "unchanged", ... */
        double seconds;
};

/* Run one job. *ret_result is the result entry, or NULL when the job goes
 * on in a thread (outcome->pending); fails (-EINVAL with err) only when the
 * job has no usable id, or when the journal cannot record that it starts
 * (then the job is not run). */
int jobs_run(const struct jobs_env *env, const cJSON *job, cJSON **ret_result, struct jobs_outcome *ret_outcome,
             struct gc_error *err);

/* The results of the pending jobs that have ended (vm.wipe threads, vm.stop
 * domains now off or destroyed), each recorded as done in the journal: an
 * array of result entries and their job ids (n 0: none). */
int jobs_collect(const struct jobs_env *env, cJSON **ret_results, int64_t **ret_jobs, size_t *ret_n);

/* WIPESPEC -> struct wipejob_spec; errors name the field under "wipe".
 * default_sample_blocks: for "verify": "sampled" without "sample_blocks". */
int jobs_wipe_spec_parse(const cJSON *wipe, uint64_t default_sample_blocks, struct wipejob_spec *ret, struct gc_error *err);
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
