/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Placing VMs on hosts, per-host job queues, the agents' side of the API
 * (include/gc/wire.h), the lifecycle moves their results cause, deadline
 * timers and the test clock.
 *
 * Jobs live in the store (queued -> sent -> done | failed). A job sent and
 * not answered within DISPATCH_RESEND_SECONDS, or sent before the agent
 * said hello again, is sent again: jobs are idempotent and the agent's
 * journal answers for those it finished, so none runs twice and none is
 * lost across a crash of either side.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "gc/error.h"

struct orch;
struct api_call;

#define DISPATCH_HEARTBEAT_SECONDS 10
#define DISPATCH_POLL_SECONDS 25
#define DISPATCH_RESEND_SECONDS 60
#define DISPATCH_DOWN_AFTER_SECONDS (3 * DISPATCH_HEARTBEAT_SECONDS)

/* A VM to place: its spec (the vms.spec JSON) and, on success, its host. */
struct sched_vm {
        const cJSON *spec;
        const char *name;
        const char *role;
        const char *field;              /* for the refusal: "vms[1]" */
        char host[64];
};

/* Place every VM on a host of the pool (right arch, enough free vCPUs,
 * memory and storage; a system's VMs of one role spread over hosts), or
 * none: -ENOSPC with err naming the first VM that does not fit and the
 * largest free room. Reads the store; call inside the accepting
 * transaction. */
int sched_place(struct orch *o, const char *pool, int64_t system_id, struct sched_vm *vms, size_t n,
                struct gc_error *err);
/* Can host take a growth of this many vCPUs / MiB / GiB? -ENOSPC with err. */
int sched_grow(struct orch *o, const char *host, long vcpus, long memory_mib, long disk_gib, const char *field,
               struct gc_error *err);

/* Give a VM its UUID and host (inside the caller's transaction). */
int dispatch_assign(struct orch *o, int64_t vm_id, const char *host);
/* Queue a job for the VM: vm.ensure with its current spec, vm.delete or
 * vm.stop ({"uuid","title"}). */
int dispatch_enqueue(struct orch *o, int64_t vm_id, int64_t request_id, const char *kind);
/* The same with the payload given (JSON text; NULL: as above). */
int dispatch_enqueue_payload(struct orch *o, int64_t vm_id, int64_t request_id, const char *kind, const char *payload_text);
/* Give a VM a new size (a value < 0 keeps that one) and queue its
 * vm.ensure job, on request_id (inside the caller's transaction). */
int dispatch_resize(struct orch *o, int64_t vm_id, int64_t request_id, long vcpus, long memory_gib,
                    long system_disk_gib, long data_disk_gib);
/* After a commit that queued jobs: answer parked long-polls. */
void dispatch_wake(struct orch *o);

/* Move a system from -> to with its audit record and transition row
 * (inside the caller's transaction); takes extra (detail members). Nothing
 * happens (0) when the system is not in from. */
int dispatch_stage(struct orch *o, int64_t system_id, const char *from, const char *to, const char *rule, cJSON *extra);

/* Set (or move) a deadline timer; inside a transaction. */
int timers_set(struct orch *o, const char *kind, int64_t system_id, int64_t due);

void dispatch_start(struct orch *o);    /* the periodic tick */
void dispatch_stop(struct orch *o);     /* drop parked polls, stop the tick */
void dispatch_tick(struct orch *o);     /* fire timers, resend stale jobs, mark hosts down */

/* Route handlers (api.c's table). */
void agent_hello(struct api_call *c);
void agent_jobs(struct api_call *c);
void agent_results(struct api_call *c);
void agent_inventory(struct api_call *c);
void get_vms(struct api_call *c);
void post_test_clock(struct api_call *c);
