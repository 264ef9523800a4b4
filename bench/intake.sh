#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Intake throughput: approved apply requests accepted and durably stored
# through the HTTPS API (one keep-alive TLS 1.3 connection from loopback),
# against a bare SQLite loop writing the same rows with the same durability
# into a file in the same directory, in the same run (bench/intake.c).
#
#     bench/intake.sh [N]          N requests (default 500)
#
# Environment: GC_SRCDIR (the source tree; default: this script's parent)
# and GC_BUILDDIR (the build tree; default: $GC_SRCDIR/build). TMPDIR picks
# the file system both databases live on.
set -euo pipefail

case "${1:-}" in
-h|--help)
        sed -n '4,13p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
esac
n=${1:-500}
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "intake.sh: N must be a positive integer, not \"$n\"" >&2; exit 2; }

GC_SRCDIR=${GC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
GC_BUILDDIR=${GC_BUILDDIR:-$GC_SRCDIR/build}
GC_BUILDDIR=$(cd "$GC_BUILDDIR" && pwd) || { echo "intake.sh: no build tree at $GC_BUILDDIR" >&2; exit 1; }
orchestrator=$GC_BUILDDIR/orchestrator/gc-orchestrator
bench=$GC_BUILDDIR/bench/bench-intake
for f in "$orchestrator" "$bench"; do
        [ -x "$f" ] || { echo "intake.sh: $f is not built (set GC_BUILDDIR to the build tree)" >&2; exit 1; }
done
for tool in curl openssl python3; do
        command -v "$tool" >/dev/null || { echo "intake.sh: the $tool command is not installed" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/gc-bench-intake.XXXXXX")
orch_pid=
cleanup() {
        if [ -n "$orch_pid" ]; then
                kill -TERM "$orch_pid" 2>/dev/null || true
                wait "$orch_pid" 2>/dev/null || true
        fi
        rm -rf "$work"
}
trap cleanup EXIT

"$GC_SRCDIR/scripts/pki.sh" --out "$work/pki" >"$work/pki.log" 2>&1 ||
        { echo "intake.sh: scripts/pki.sh failed:" >&2; cat "$work/pki.log" >&2; exit 1; }
pki=$work/pki

cat >"$work/orchestrator.json" <<EOF
{
  "listen": "127.0.0.1:0",
  "tls": { "cert": "pki/tls/orchestrator.crt", "key": "pki/tls/orchestrator.key", "ca": "pki/ca.crt" },
  "database": "orchestrator.db",
  "service_key": "pki/sign/orchestrator-gc-orchestrator.key",
  "plugin_dir": "$GC_BUILDDIR/plugins",
  "pack": "baotou",
  "pools": [ { "name": "包头-A", "arch": ["x86"] } ]
}
EOF

"$orchestrator" -c "$work/orchestrator.json" --ready-file "$work/ready" --log-level warning \
        2>"$work/orchestrator.log" &
orch_pid=$!
for _ in $(seq 100); do
        [ -s "$work/ready" ] && break
        kill -0 "$orch_pid" 2>/dev/null || break
        sleep 0.1
done
if [ ! -s "$work/ready" ]; then
        echo "intake.sh: gc-orchestrator did not become ready:" >&2
        cat "$work/orchestrator.log" >&2
        exit 1
fi
read -r host port <"$work/ready"
url=https://$host:$port

# as_authority METHOD PATH JSON: one call as the authority; the reply must be 2xx.
as_authority() {
        curl -sS --fail-with-body --tlsv1.3 --cacert "$pki/ca.crt" \
                --cert "$pki/tls/authority-authority.crt" --key "$pki/tls/authority-authority.key" \
                -H 'Content-Type: application/json' -X "$1" --data-binary "$3" "$url$2" >"$work/reply.json" ||
                { echo "intake.sh: $1 $2 failed:" >&2; cat "$work/reply.json" >&2; echo >&2; exit 1; }
}
as_authority POST /v1/units '{"name":"市xx局"}'
as_authority POST /v1/approval-systems "$(python3 -c '
import json, sys
print(json.dumps({"id": "approval-oa", "name": "市政务OA", "public_key": open(sys.argv[1]).read()}))
' "$pki/sign/approval-approval-oa.pub")"

# One host with room for every VM (no agent runs: jobs stay queued).
curl -sS --fail-with-body --tlsv1.3 --cacert "$pki/ca.crt" \
        --cert "$pki/tls/provider-provider-ops.crt" --key "$pki/tls/provider-provider-ops.key" \
        -H 'Content-Type: application/json' -X POST "$url/v1/hosts" --data-binary \
        '{"name": "host-a", "pool": "包头-A", "underlay_address": "10.0.0.1", "operations_address": "10.1.0.1",
          "capacity": {"vcpus": 1000000, "memory_mib": 1000000000, "storage_gib": 1000000000, "arch": "x86_64"}}' \
        >"$work/reply.json" || { echo "intake.sh: POST /v1/hosts failed:" >&2; cat "$work/reply.json" >&2; exit 1; }

echo "file system of $work: $(stat -f -c %T "$work")"
rc=0
"$bench" --url "$url" --pki "$pki" --config "$work/orchestrator.json" \
        --sample "$GC_SRCDIR/scripts/samples/apply.json" \
        --api-db "$work/orchestrator.db" --reference-db "$work/reference.db" "$n" || rc=$?

kill -TERM "$orch_pid"
orch_rc=0
wait "$orch_pid" || orch_rc=$?
orch_pid=
if [ "$rc" -ne 0 ] || [ "$orch_rc" -ne 0 ]; then
        echo "intake.sh: bench-intake exited $rc, gc-orchestrator $orch_rc; its log:" >&2
        cat "$work/orchestrator.log" >&2
        exit 1
fi
