#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Utilization at scale (R-RS1..R-RS7), bench/rightsize.c:
#  ingest    one day of 5-minute samples for 10,000 VMs (2,880,000 samples)
#            POSTed to /v1/metrics of gc-orchestrator over HTTPS as the
#            provider, in batches (5,000 ordered by time is the main figure),
#            against a bare SQLite loop folding and upserting the same
#            batches; then where a batch's time goes, stage by stage;
#  evaluate  one monthly usage_evaluate() over 100,000 VMs x 30 days of daily
#            aggregates loaded straight into a store: time and peak RSS,
#            against the same aggregates in plain C arrays and a loop
#            calling rightsize_recommend().
#
#     bench/rightsize.sh [--only ingest|evaluate] [--ingest-vms N] [--steps N]
#                        [--runs LIST] [--evaluate-vms N] [--rounds N]
#
# --runs: batch sizes and orders, default 5000:time,1000:time,20000:time,5000:vm;
# --steps: samples per VM and day (default 288). About 4 minutes on 2 CPUs.
# Environment: GC_SRCDIR (default: this script's parent) and GC_BUILDDIR
# (default: $GC_SRCDIR/build). TMPDIR picks the file system of the stores
# (about 0.2 GB at the defaults).
set -euo pipefail

only= ingest_vms=10000 evaluate_vms=100000 steps=288 runs=5000:time,1000:time,20000:time,5000:vm rounds=2
args=("$@")
while [ $# -gt 0 ]; do
        case "$1" in
        -h|--help)
                sed -n '4,22p' "$0" | sed 's/^# \{0,1\}//'
                exit 0
                ;;
        --only) only=${2:?--only needs ingest or evaluate}; shift 2 ;;
        --ingest-vms) ingest_vms=${2:?}; shift 2 ;;
        --evaluate-vms) evaluate_vms=${2:?}; shift 2 ;;
        --steps) steps=${2:?}; shift 2 ;;
        --runs) runs=${2:?}; shift 2 ;;
        --rounds) rounds=${2:?}; shift 2 ;;
        *) echo "rightsize.sh: unknown argument \"$1\" (see --help)" >&2; exit 2 ;;
        esac
done
case "$only" in
""|ingest|evaluate) ;;
*) echo "rightsize.sh: --only takes ingest or evaluate, not \"$only\"" >&2; exit 2 ;;
esac
for n in "$ingest_vms" "$evaluate_vms" "$steps" "$rounds"; do
        [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "rightsize.sh: \"$n\" is not a positive integer" >&2; exit 2; }
done

GC_SRCDIR=${GC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
GC_BUILDDIR=${GC_BUILDDIR:-$GC_SRCDIR/build}
GC_BUILDDIR=$(cd "$GC_BUILDDIR" && pwd) || { echo "rightsize.sh: no build tree at $GC_BUILDDIR" >&2; exit 1; }
orchestrator=$GC_BUILDDIR/orchestrator/gc-orchestrator
bench=$GC_BUILDDIR/bench/bench-rightsize
for f in "$orchestrator" "$bench"; do
        [ -x "$f" ] || { echo "rightsize.sh: $f is not built (set GC_BUILDDIR to the build tree)" >&2; exit 1; }
done
command -v openssl >/dev/null || { echo "rightsize.sh: the openssl command is not installed" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/gc-bench-rightsize.XXXXXX")
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
        { echo "rightsize.sh: scripts/pki.sh failed:" >&2; cat "$work/pki.log" >&2; exit 1; }

# The pool of scripts/orchestrator.json.example; bodies up to 64 MiB.
cat >"$work/orchestrator.json" <<EOF
{
  "listen": "127.0.0.1:0",
  "tls": { "cert": "pki/tls/orchestrator.crt", "key": "pki/tls/orchestrator.key", "ca": "pki/ca.crt" },
  "database": "orchestrator.db",
  "service_key": "pki/sign/orchestrator-gc-orchestrator.key",
  "plugin_dir": "$GC_BUILDDIR/plugins",
  "pack": "baotou",
  "pools": [ {
    "name": "包头-A", "arch": ["x86"],
    "flavours": { "vcpus": { "min": 1, "max": 64 }, "memory_gib": { "min": 1, "max": 512 },
                  "system_disk_gib": { "min": 20, "max": 2048 }, "data_disk_gib": { "min": 0, "max": 32768 } }
  } ],
  "linear_growth": { "min_r2": 0.9, "min_slope": 0.1, "min_days": 7 },
  "limits": { "max_body_bytes": 67108864, "timeout_seconds": 300 }
}
EOF
results=$work/results.txt
: >"$results"
echo "file system of $work: $(stat -f -c %T "$work"), $(df -h --output=avail "$work" | tail -n 1 | tr -d ' ') free"

if [ "$only" != evaluate ]; then
        "$bench" setup --config "$work/orchestrator.json" --db "$work/orchestrator.db" --vms "$ingest_vms"
        "$orchestrator" -c "$work/orchestrator.json" --ready-file "$work/ready" --log-level warning \
                2>"$work/orchestrator.log" &
        orch_pid=$!
        for _ in $(seq 300); do
                [ -s "$work/ready" ] && break
                kill -0 "$orch_pid" 2>/dev/null || break
                sleep 0.1
        done
        if [ ! -s "$work/ready" ]; then
                echo "rightsize.sh: gc-orchestrator did not become ready:" >&2
                cat "$work/orchestrator.log" >&2
                exit 1
        fi
        read -r host port <"$work/ready"

        rc=0
        "$bench" ingest --url "https://$host:$port" --pki "$work/pki" --config "$work/orchestrator.json" \
                --db "$work/orchestrator.db" --reference-db "$work/reference.db" --vms "$ingest_vms" --steps "$steps" \
                --runs "$runs" --results "$results" || rc=$?
        kill -TERM "$orch_pid"
        orch_rc=0
        wait "$orch_pid" || orch_rc=$?
        orch_pid=
        if [ "$rc" -ne 0 ] || [ "$orch_rc" -ne 0 ]; then
                echo "rightsize.sh: bench-rightsize ingest exited $rc, gc-orchestrator $orch_rc; its log:" >&2
                cat "$work/orchestrator.log" >&2
                exit 1
        fi
        rm -f "$work"/orchestrator.db* "$work"/reference.db*
fi

if [ "$only" != ingest ]; then
        "$bench" evaluate --config "$work/orchestrator.json" --dir "$work" --vms "$evaluate_vms" --rounds "$rounds" \
                --results "$results"
fi

echo
echo "summary: bench/rightsize.sh${args[*]:+ ${args[*]}}"
echo "  (GC_BUILDDIR=$GC_BUILDDIR; $(nproc) CPUs; ratios: API or store figure / plain C reference, same run)"
sed 's/^/  /' "$results"
