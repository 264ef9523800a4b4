#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# An operations tunnel's cost on loopback, in one run: throughput and
# one-byte round trips for direct TCP, for the tunnel (gcctl tunnel connect
# -> the agent's tunnel, agent/tunnel.c, run in bench-tunnel -> target) and
# for socat's plain TLS forward over the same path (bench/tunnel.c).
#
#     bench/tunnel.sh [--quick] [--bytes N] [--rounds N] [--repeat N]
#
# --quick: 256 MiB per throughput run and one run per path (default 1 GiB,
# three runs); --rounds: round trips per latency run (default 10,000). A
# fresh tunnel (and fresh socat processes) for every measurement: a tunnel
# is single-use. Needs socat (apt-get install socat; exits 77 without) and
# the openssl command. About 1 minute on 2 CPUs at the defaults.
# Environment: GC_SRCDIR (default: this script's parent) and GC_BUILDDIR
# (default: $GC_SRCDIR/build).
set -euo pipefail

for arg in "$@"; do
        case "$arg" in
        -h|--help)
                sed -n '4,17p' "$0" | sed 's/^# \{0,1\}//'
                exit 0
                ;;
        esac
done

GC_SRCDIR=${GC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
GC_BUILDDIR=${GC_BUILDDIR:-$GC_SRCDIR/build}
GC_BUILDDIR=$(cd "$GC_BUILDDIR" && pwd) || { echo "tunnel.sh: no build tree at $GC_BUILDDIR" >&2; exit 1; }
bench=$GC_BUILDDIR/bench/bench-tunnel
gcctl=$GC_BUILDDIR/cli/gcctl
for f in "$bench" "$gcctl"; do
        [ -x "$f" ] || { echo "tunnel.sh: $f is not built (set GC_BUILDDIR to the build tree)" >&2; exit 1; }
done
socat=$(command -v socat) || { echo "SKIP: socat is not installed (apt-get install socat)" >&2; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: the openssl command is not installed" >&2; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/gc-bench-tunnel.XXXXXX")
trap 'rm -rf "$work"' EXIT

bash "$GC_SRCDIR/scripts/pki.sh" --out "$work/pki" --host host-1 --operator 张三 >"$work/pki.log" 2>&1 \
        || { cat "$work/pki.log" >&2; echo "tunnel.sh: scripts/pki.sh failed" >&2; exit 1; }
op_cert=$(cd "$work/pki" && ls tls/operator-*.crt | head -n 1)
mkdir -p "$work/run"

echo "socat: $("$socat" -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/\1/p'), $(openssl version)" >&2
"$bench" --cert "$work/pki/tls/host-host-1.crt" --key "$work/pki/tls/host-host-1.key" --ca "$work/pki/ca.crt" \
        --operator-cert "$work/pki/$op_cert" --operator-key "$work/pki/${op_cert%.crt}.key" \
        --gcctl "$gcctl" --socat "$socat" --dir "$work/run" "$@"
