/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wire protocol between gc-agent and gc-orchestrator: JSON over HTTPS
 * with mutual TLS. The agent's certificate has OU=host and CN=<host name>;
 * the orchestrator serves only registered hosts, each only its own jobs.
 * Compute nodes open no port: the agent pulls.
 *
 *   POST /v1/agent/hello        once at start and after every reconnect
 *     {"version": "0.1.0", "hypervisor": "test:///default",
 *      "capacity": {"vcpus": 32, "memory_mib": 131072, "storage_gib": 4096, "arch": "x86_64"}}
 *     -> 200 {"host": "host-a", "heartbeat_seconds": 10, "poll_seconds": 25}
 *     Jobs the orchestrator had sent to this host without a result are sent
 *     again (the agent's journal answers for the ones it finished).
 *
 *   GET /v1/agent/jobs?wait=SECONDS    long-poll, at most poll_seconds
 *     -> 200 {"jobs": [JOB, ...]}      at once when jobs are queued, else
 *                                      when one is, else [] at the timeout
 *     An agent posts the results of one poll's jobs before it polls again:
 *     a job still without a result at the next poll went to a poll the
 *     agent never received, and is sent again.
 *
 *   POST /v1/agent/results
 *     {"results": [{"job": 12, "ok": true, "vm": VMSTATE}
 *                  | {"job": 14, "ok": true}            (vm.delete: no VM left)
 *                  | {"job": 13, "ok": false, "error": "define: ..."}]}
 *     -> 200 {"accepted": N}            a result for a finished job is ignored
 *
 *   POST /v1/agent/inventory           every heartbeat_seconds: the heartbeat
 *     {"domains": [VMSTATE, ...]}      every domain the agent manages
 *     -> 200 {"drift": N, "missing": N}  relabel / re-create jobs were queued
 *
 * JOB (idempotent: an id and the desired state, never a delta)
 *   {"id": 12, "kind": "vm.ensure", "vm": VMSPEC}   define if missing (same
 *        UUID), start, bring vCPUs / memory / disks up or down to the spec,
 *        set the labels; the result reports what the hypervisor now holds
 *   {"id": 14, "kind": "vm.delete", "vm": {"uuid": "..."}}   stop, undefine,
 *        delete its volumes; a VM already gone is success
 *   {"id": 15, "kind": "vpc.ensure", "vpc": VPCSPEC}   create, extend, shrink
 *        or switch the VPC on this host until it is exactly VPCSPEC
 *   {"id": 16, "kind": "vpc.delete", "vpc": {"vni": 4097}}   the last VM of
 *        the VPC left this host: remove its bridge, VXLAN, router; gone is
 *        success
 *   A host's vpc.ensure is queued before the vm.ensure of a VM that needs
 *   it; results: {"job": 15, "ok": true, "vpc": {"vni": 4097, "actions": "..."}}
 *
 * VMSPEC
 *   {"uuid": "6f1c...-...", "name": "gc-6f1c...", "title": "市xx局协同办公OA应用服务器1",
 *    "labels": {"unit": "市xx局", "system": "协同办公OA", "role": "应用服务器", "number": 1,
 *               "request": 7, "pool": "包头-A"},
 *    "arch": "x86_64" | "aarch64", "vcpus": 4, "max_vcpus": 16,
 *    "memory_mib": 8192, "max_memory_mib": 32768,
 *    "disks": [{"name": "system", "gib": 40, "type": "SSD"}, {"name": "data", "gib": 200, "type": "SAS"}],
 *    "image": "kylin-v10" | null, "running": true}
 *   (a data disk of 0 GiB is no disk)
 *    "nics": [{"vni": 4097, "mac": "52:54:00:00:00:07", "address": "10.0.0.2"}]
 *   (optional: the VM's NIC on the bridge of its VPC, with the MAC and the
 *   address the orchestrator assigned, R-NW2; set when the domain is defined)
 *
 * VPCSPEC (R-NW1: one per business system; agent/net.h builds it)
 *   {"vni": 4097, "cidr": "10.0.0.0/24", "gateway": "10.0.0.1",
 *    "gateway_mac": "02:67:63:00:10:01",
 *    "peers": ["192.0.2.12", "192.0.2.13"],      the other hosts' underlay
 *    "egress": "none" | "egov" | "internet",      R-NW3, R-SC2
 *    "uplink": {"address": "203.0.113.7", "prefix": 24, "gateway": "203.0.113.1"},
 *                                                 when egress is not none
 *    "isolated": false}                           R-SC3
 *
 * VMSTATE (what the hypervisor holds; labels as read back from it)
 *   {"uuid", "name", "title", "labels": {...}, "state": "running" | "shutoff" | "paused" | "other",
 *    "vcpus", "memory_mib", "disks": [{"name", "gib"}],
 *    "created": true|false (defined by this job), "recreated": true|false (defined
 *    again: the hypervisor had lost it)}
 *
 * The hello's arch is the orchestrator's vocabulary (x86_64, aarch64, other);
 * an agent maps the hypervisor's (i686 on the test driver: configure it).
 *
 * Labels live in the domain's <metadata> under GC_WIRE_XMLNS (R-NM2, R-NM3).
 */
#pragma once

#define GC_WIRE_XMLNS "https://govcloud.example/xmlns/vm/1"
#define GC_WIRE_XMLNS_PREFIX "gc"
#define GC_WIRE_DOMAIN_PREFIX "gc-"
