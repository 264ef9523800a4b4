#!/usr/bin/env bash
# Build the libFuzzer targets with clang and run each for a bounded time.
#   scripts/fuzz.sh [SECONDS]      (default 30 per target)
# The targets: every tests/fuzz/fuzz-NAME.c. Seeds: the shipped policy packs,
# the samples, tests/fuzz/corpus/*.json and a target's own
# tests/fuzz/corpus/NAME/. A crash leaves its input in build-fuzz/findings
# and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
case $seconds in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2;; esac

if [ ! -d build-fuzz ]; then
        CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false \
                -Db_sanitize=address,undefined -Db_lundef=false \
                -Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
meson compile -C build-fuzz >/dev/null

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
mkdir -p build-fuzz/findings
for src in tests/fuzz/fuzz-*.c; do
        t=${src#tests/fuzz/fuzz-}
        t=${t%.c}
        corpus=build-fuzz/corpus-$t
        mkdir -p "$corpus"
        cp policies/*.json tests/fuzz/corpus/*.json scripts/samples/*.json "$corpus"/
        if [ -d tests/fuzz/corpus/$t ]; then
                cp tests/fuzz/corpus/$t/* "$corpus"/
        fi
        echo "fuzz-$t: ${seconds}s"
        build-fuzz/tests/fuzz/fuzz-$t -max_total_time="$seconds" -max_len=65536 \
                -artifact_prefix=build-fuzz/findings/$t- -print_final_stats=1 "$corpus" 2>build-fuzz/fuzz-$t.log \
                || { tail -40 build-fuzz/fuzz-$t.log; echo "fuzz-$t: FAILED (input in build-fuzz/findings)"; exit 1; }
        grep -E 'stat::number_of_executed_units' build-fuzz/fuzz-$t.log | sed "s/^/fuzz-$t: /"
done
