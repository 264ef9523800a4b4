#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Provisioning end to end: N approved apply requests of M small VMs each
# (default 100 x 10 = 1,000 VMs) through gc-orchestrator onto gc-agent
# processes on the libvirt test driver (each agent its own in-process
# hypervisor, capacity overridden to a large x86_64 host), timed until
# GET /v1/vms shows all of them running; against one process defining and
# starting the same number of domains directly through the agent's libvirt
# backend on test:///default, in the same run (bench/provision.c).
#
#   phase 1: pool 包头-A, 4 hosts and agents (about N*M/4 domains each)
#   phase 2: pool 包头-B, 1 host and agent (all N*M domains on one host)
#
#     bench/provision.sh [N [M]]
#
# Prints VMs/s end to end, the reference, their ratio, p50 / p99 of one
# request until all its VMs run, and each agent's VmRSS with its domains.
# Environment: GC_SRCDIR (default: this script's parent) and GC_BUILDDIR
# (default: $GC_SRCDIR/build). TMPDIR picks the file system of the store
# and the agents' journals.
set -euo pipefail

case "${1:-}" in
-h|--help)
        sed -n '4,21p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
esac
n=${1:-100}
m=${2:-10}
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "provision.sh: N must be a positive integer, not \"$n\"" >&2; exit 2; }
[[ "$m" =~ ^[1-9][0-9]*$ && "$m" -ge 2 ]] || { echo "provision.sh: M must be an integer of at least 2, not \"$m\"" >&2; exit 2; }

GC_SRCDIR=${GC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
GC_BUILDDIR=${GC_BUILDDIR:-$GC_SRCDIR/build}
GC_BUILDDIR=$(cd "$GC_BUILDDIR" && pwd) || { echo "provision.sh: no build tree at $GC_BUILDDIR" >&2; exit 1; }
orchestrator=$GC_BUILDDIR/orchestrator/gc-orchestrator
agent=$GC_BUILDDIR/agent/gc-agent
bench=$GC_BUILDDIR/bench/bench-provision
for f in "$orchestrator" "$agent" "$bench"; do
        [ -x "$f" ] || { echo "provision.sh: $f is not built (set GC_BUILDDIR to the build tree)" >&2; exit 1; }
done
for tool in curl openssl python3; do
        command -v "$tool" >/dev/null || { echo "provision.sh: the $tool command is not installed" >&2; exit 1; }
done

hosts_a=(host-1 host-2 host-3 host-4)
hosts_b=(host-5)
work=$(mktemp -d "${TMPDIR:-/tmp}/gc-bench-provision.XXXXXX")
orch_pid=
declare -A agent_pid=()
cleanup() {
        local h
        for h in "${!agent_pid[@]}"; do
                kill -TERM "${agent_pid[$h]}" 2>/dev/null || true
                wait "${agent_pid[$h]}" 2>/dev/null || true
        done
        if [ -n "$orch_pid" ]; then
                kill -TERM "$orch_pid" 2>/dev/null || true
                wait "$orch_pid" 2>/dev/null || true
        fi
        rm -rf "$work"
}
trap cleanup EXIT

pki_args=()
for h in "${hosts_a[@]}" "${hosts_b[@]}"; do pki_args+=(--host "$h"); done
"$GC_SRCDIR/scripts/pki.sh" --out "$work/pki" "${pki_args[@]}" >"$work/pki.log" 2>&1 ||
        { echo "provision.sh: scripts/pki.sh failed:" >&2; cat "$work/pki.log" >&2; exit 1; }
pki=$work/pki

# Small VMs need a system disk below the default minimum of 20 GiB.
flavours='{ "vcpus": { "min": 1, "max": 4 }, "memory_gib": { "min": 1, "max": 8 }, "system_disk_gib": { "min": 1, "max": 40 }, "data_disk_gib": { "min": 0, "max": 200 } }'
cat >"$work/orchestrator.json" <<EOF
{
  "listen": "127.0.0.1:0",
  "tls": { "cert": "pki/tls/orchestrator.crt", "key": "pki/tls/orchestrator.key", "ca": "pki/ca.crt" },
  "database": "orchestrator.db",
  "service_key": "pki/sign/orchestrator-gc-orchestrator.key",
  "plugin_dir": "$GC_BUILDDIR/plugins",
  "pack": "baotou",
  "pools": [
    { "name": "包头-A", "arch": ["x86"], "flavours": $flavours },
    { "name": "包头-B", "arch": ["x86"], "flavours": $flavours }
  ]
}
EOF

(cd "$work" && exec "$orchestrator" -c "$work/orchestrator.json" --ready-file "$work/ready") 2>"$work/orchestrator.log" &
orch_pid=$!
for _ in $(seq 100); do
        [ -s "$work/ready" ] && break
        kill -0 "$orch_pid" 2>/dev/null || break
        sleep 0.1
done
if [ ! -s "$work/ready" ]; then
        echo "provision.sh: gc-orchestrator did not become ready:" >&2
        cat "$work/orchestrator.log" >&2
        exit 1
fi
read -r addr port <"$work/ready"
url=https://$addr:$port

# call IDENTITY METHOD PATH JSON: the reply must be 2xx.
call() {
        curl -sS --fail-with-body --tlsv1.3 --cacert "$pki/ca.crt" \
                --cert "$pki/tls/$1.crt" --key "$pki/tls/$1.key" \
                -H 'Content-Type: application/json' -X "$2" --data-binary "$4" "$url$3" >"$work/reply.json" ||
                { echo "provision.sh: $2 $3 failed:" >&2; cat "$work/reply.json" >&2; echo >&2; exit 1; }
}
call authority-authority POST /v1/units '{"name":"市xx局"}'
call authority-authority POST /v1/approval-systems "$(python3 -c '
import json, sys
print(json.dumps({"id": "approval-oa", "name": "市政务OA", "public_key": open(sys.argv[1]).read()}))
' "$pki/sign/approval-approval-oa.pub")"

# start_agent HOST POOL: registered without a capacity (hello brings it).
start_agent() {
        call provider-provider-ops POST /v1/hosts \
                "{\"name\": \"$1\", \"pool\": \"$2\", \"underlay_address\": \"10.0.0.1\", \"operations_address\": \"10.1.0.1\"}"
        cat >"$work/agent-$1.json" <<EOF
{
  "orchestrator": "$url",
  "tls": { "cert": "$pki/tls/host-$1.crt", "key": "$pki/tls/host-$1.key", "ca": "$pki/ca.crt" },
  "libvirt_uri": "test:///default",
  "storage_pool": "default-pool",
  "capacity": { "vcpus": 65536, "memory_mib": 67108864, "storage_gib": 1048576, "arch": "x86_64" },
  "journal": "$work/agent-$1.journal"
}
EOF
        "$agent" -c "$work/agent-$1.json" 2>"$work/agent-$1.log" &
        agent_pid[$1]=$!
}
phase_a=包头-A:
for h in "${hosts_a[@]}"; do
        start_agent "$h" 包头-A
        phase_a+="$h=${agent_pid[$h]},"
done
phase_b=包头-B:
for h in "${hosts_b[@]}"; do
        start_agent "$h" 包头-B
        phase_b+="$h=${agent_pid[$h]},"
done

echo "file system of $work: $(stat -f -c %T "$work"); $(nproc) CPUs; gc-orchestrator and gc-agent log at info"
rc=0
"$bench" --url "$url" --pki "$pki" --sample "$GC_SRCDIR/scripts/samples/apply.json" \
        --requests "$n" --vms-per-request "$m" --phase "${phase_a%,}" --phase "${phase_b%,}" || rc=$?

stopped=0
for h in "${!agent_pid[@]}"; do
        kill -TERM "${agent_pid[$h]}"
        wait "${agent_pid[$h]}" || stopped=$?
        unset "agent_pid[$h]"
done
kill -TERM "$orch_pid"
orch_rc=0
wait "$orch_pid" || orch_rc=$?
orch_pid=
if [ "$rc" -ne 0 ] || [ "$orch_rc" -ne 0 ] || [ "$stopped" -ne 0 ]; then
        echo "provision.sh: bench-provision exited $rc, gc-orchestrator $orch_rc, an agent $stopped; the logs' last lines:" >&2
        for f in "$work"/*.log; do
                echo "--- $f" >&2
                tail -n 20 "$f" >&2
        done
        exit 1
fi
