#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The audit chain's cost: records appended through the orchestrator's
# audit_append() into SQLite stores (WAL, synchronous=FULL), with SM3 and
# with SHA-256, one per transaction and 1,000 per transaction, against the
# same INSERTs into an identical table without the chain (and again with
# pseudo-random values in its UNIQUE hash column), in the same run; then
# the chain verified with audit_verify_store() and, exported to an
# in-memory segment, auditchain_verify_segment() (bench/audit.c).
#
#     bench/audit.sh [--records N] [--single N] [--json]
#
# --records: the 1,000-per-transaction runs and the verified chain (default
# 1,000,000); --single: the one-per-transaction runs (default 20,000).
# About 5 minutes on 2 CPUs at the defaults.
# Environment: GC_SRCDIR (default: this script's parent) and GC_BUILDDIR
# (default: $GC_SRCDIR/build). TMPDIR picks the file system of the stores
# (three at a time, about 0.45 GB each at the defaults).
set -euo pipefail

for arg in "$@"; do
        case "$arg" in
        -h|--help)
                sed -n '4,19p' "$0" | sed 's/^# \{0,1\}//'
                exit 0
                ;;
        esac
done

GC_SRCDIR=${GC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
GC_BUILDDIR=${GC_BUILDDIR:-$GC_SRCDIR/build}
GC_BUILDDIR=$(cd "$GC_BUILDDIR" && pwd) || { echo "audit.sh: no build tree at $GC_BUILDDIR" >&2; exit 1; }
bench=$GC_BUILDDIR/bench/bench-audit
[ -x "$bench" ] || { echo "audit.sh: $bench is not built (set GC_BUILDDIR to the build tree)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/gc-bench-audit.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "file system of $work: $(stat -f -c %T "$work"), $(df -h --output=avail "$work" | tail -n 1 | tr -d ' ') free" >&2
"$bench" --dir "$work" "$@"
