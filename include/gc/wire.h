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
 * Tunnels (R-OP1..R-OP4; DESIGN.md "Tunnels"). The hello's answer also
 * carries "time": the orchestrator's clock (Unix seconds). The agent keeps
 * the difference to its own clock and converts every tunnel time with it:
 * deadlines in jobs and times in events are on the orchestrator's clock.
 *
 *   {"id": 31, "kind": "tunnel.open", "tunnel": TUNNELSPEC}   open (or, for
 *        a tunnel this agent already holds, report) the listener; a tunnel
 *        past its deadline or already used is refused, never reopened
 *        -> {"job": 31, "ok": true, "tunnel": {"id": 7, "address": "192.0.2.11",
 *                                              "port": 40123, "deadline": 1795000000}}
 *   {"id": 32, "kind": "tunnel.close", "tunnel": {"id": 7}}   cut the session
 *        and close the listener now (reason "revoked"); unknown or closed is
 *        success -> {"job": 32, "ok": true}
 *
 * TUNNELSPEC
 *   {"id": 7, "listen": "192.0.2.11",      the host's registered operations address
 *    "vni": 4097,                          the VM's VPC: the agent connects from
 *                                          its router namespace (agent/net.h)
 *    "target": "10.0.0.2", "target_port": 22,
 *    "deadline": 1795000000,               orchestrator clock, Unix seconds
 *    "seconds": 1800,                      the approved length (a second bound:
 *                                          never later than receipt + seconds)
 *    "token_hash": "sm3:<hex>",            of the token's ASCII (the token itself
 *                                          never reaches the agent)
 *    "operator": {"name": "张三", "certificate_sha256": "<hex of the DER>"},
 *    "approval": "approval-oa/OA-2026-0107"}
 *
 *   POST /v1/agent/tunnel-events          whenever the agent holds unposted
 *     {"events": [EVENT, ...]}            events; -> 200 {"accepted": N}; an
 *                                         event seen before is ignored
 *   EVENT {"tunnel": 7, "seq": 1..,       per tunnel, from 1, no gaps
 *          "event": "refused" | "session" | "closed", "time": T, ...}
 *     refused  "peer": "192.0.2.100:53412", "reason": REASON, "subject": "CN=...,OU=..." | null
 *              REASON: no_certificate, wrong_operator, bad_preamble, wrong_tunnel,
 *              wrong_token, in_use (a session is live), handshake (TLS failed),
 *              target_unreachable, agent_error (the state could not be written):
 *              the token stays good after either
 *     session  "peer", "subject": the token was consumed; the target answered
 *     closed   "opened": T | null, "first_byte": T | null, "closed": T,
 *              "reason": "client_closed" | "target_closed" | "deadline" | "revoked"
 *                        | "agent_stopped" | "agent_restarted" | "expired_unused"
 *                        | "listener_lost",
 *              "bytes_in": N (operator -> VM), "bytes_out": N (VM -> operator)
 *   Times T: orchestrator clock, Unix milliseconds.
 *
 * The channel (gcctl tunnel connect -> agent), "gc-tunnel/1": TCP to the
 * listener, TLS 1.3. The agent presents its host certificate (OU=host,
 * CN=<host>; clientAuth and serverAuth) and requires a client certificate
 * chaining to its CA; the client checks the chain and OU=host, CN=<the
 * tunnel's host>. The client then sends one line (at most 1024 bytes):
 *   {"protocol": "gc-tunnel/1", "tunnel": 7, "token": "<43 chars base64url>"}\n
 * and the agent answers one line:
 *   {"ok": true}\n            then raw bytes both ways until either side
 *                             closes or the deadline passes
 *   {"ok": false, "code": REASON, "message": "..."}\n   then it closes
 * Only the first connection with the operator's certificate (by SHA-256 of
 * the DER) and the token is accepted. The agent dials the target first: a
 * target that does not answer is refused ("target_unreachable") and the
 * token stays good; once it answers, the token is consumed (on disk) before
 * {"ok": true} is sent and a byte is forwarded (R-OP2). Either side's EOF is
 * passed on as a half-close (TLS close_notify <-> shutdown(SHUT_WR)); the
 * session ends when both directions have ended. Every refusal is an event
 * (R-OP3).
 *
 * Reclaim (R-EX2, R-EX3; DESIGN.md "Reclaim"). The orchestrator drives a
 * system's exit with three jobs per VM, in this order, each after the
 * previous one is done for every VM of the system: vm.stop, vm.wipe,
 * vm.delete (then vpc.delete where no VM of the VPC is left).
 *
 *   {"id": 41, "kind": "vm.stop", "vm": {"uuid": "..."}}   power the domain
 *        off (ACPI shutdown, then destroy after 30 s); off or shut off
 *        already is success -> {"job": 41, "ok": true, "vm": VMSTATE}
 *   {"id": 42, "kind": "vm.wipe", "wipe": WIPESPEC}   wipe every volume of
 *        the domain (agent/wipe.h), in disk order, one after the other, in
 *        a thread of the agent's: the job's result comes when all are done,
 *        and meanwhile the agent posts progress (below) and keeps polling.
 *        The same job id again while it runs is ignored; after a restart
 *        (kill -9) it resumes from each volume's checkpoint and still
 *        verifies the whole volume. Refused, with nothing written, unless
 *        for every volume: the domain exists and is shut off; no running
 *        domain on this host has the volume's path among its disks
 *        ("attached to running domain NAME"); the volume is in the agent's
 *        managed storage pool (virStorageVolLookupByPath, then its pool's
 *        name and target path; "not in managed pool P"); the path is the
 *        file or block device libvirt names (wipe.h's identity checks).
 *        -> {"job": 42, "ok": true, "wipe": {"uuid": "...", "volumes": [VOLWIPE, ...]}}
 *        -> {"job": 42, "ok": false, "error": "...", "wipe": {"uuid": "...",
 *              "refused": {"field": "volumes[1].path", "value": "...", "reason": "..."},
 *              "volumes": [VOLWIPE of those done]}}
 *   vm.delete then undefines the domain and deletes its (wiped) volumes.
 *
 * WIPESPEC
 *   {"uuid": "...",
 *    "method": "zero" | "random" | "crypto-erase",   the pack's (R-EX3); crypto-erase
 *                                   on a volume not in LUKS format falls back to
 *                                   random, and VOLWIPE says "fallback": "not encrypted"
 *    "passes": 1..7, "verify": "full" | "sampled", "sample_blocks": 4096,
 *    "approval": "approval-oa/OA-2026-0131",       the exit's approval (R-AU3), required
 *    "operator": "provider:运维中心"}               who ordered it (R-AU3), required
 *   A domain that does not exist is refused on "wipe.uuid" (vm.stop of a
 *   missing domain fails too: the orchestrator's records disagree with the
 *   host, which an operator must look at). The checks run before the first
 *   volume is written; a file swapped in after them is caught by the wipe
 *   engine itself, and volumes wiped before it stay listed.
 *
 * VOLWIPE
 *   {"disk": "system" | "data", "path": "...", "pool": "...",
 *    "certificate": CERT,           wipe.h's certificate, signed with this
 *                                   host's wipe key (config "wipe.signing_key");
 *                                   for crypto-erase sanitization.key_destruction
 *                                   is {"libvirt_secret": UUID, "action":
 *                                   "undefined" | "already undefined", "header"}
 *    "resumed": {"pass", "offset"}} where this run took the wipe up after a
 *                                   restart (only when past the start)
 *
 *   POST /v1/agent/wipe-progress    every few seconds while a wipe runs
 *     {"progress": [{"job": 42, "uuid": "...", "disk": "data", "path": "...",
 *                    "size": N, "phase": "write" | "verify" | "done" | "failed",
 *                    "pass": 1, "passes": 1, "done": N, "total": N,
 *                    "rate": bytes/s, "time": T (Unix ms, orchestrator clock)}]}
 *     -> 200 {"accepted": N}        the orchestrator keeps the latest per
 *                                   volume (gcctl system show) and does not
 *                                   send the job again while progress comes
 *
 * The hello carries the host's wipe key: "wipe_key": PEM public key (SM2 or
 * Ed25519), or null when the agent has none (then vm.wipe fails: no
 * certificate could be signed). The orchestrator keeps it per host and
 * verifies every certificate with it before it lists it on the exit sheet.
 *
 * Encrypted volumes: VMSPEC's "encrypted": true (the pack's wipe method is
 * crypto-erase) makes vm.ensure create new volumes in qemu's LUKS format,
 * each with its own libvirt secret (private, never given out; a random
 * passphrase: 32 random bytes in hex, since qemu-img takes only UTF-8)
 * whose usage is the volume's path. libvirt's dir pools have no "luks"
 * volume format: such a volume is format raw with <encryption
 * format='luks'>, and the agent reports it as "luks". Existing volumes are
 * left as they are.
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
#define GC_WIRE_TUNNEL_PROTOCOL "gc-tunnel/1"
#define GC_WIRE_TUNNEL_LINE_MAX 1024
