#!/usr/bin/env bash
# Install what is missing, build with warnings as errors, run every test suite.
#   scripts/test.sh [meson test options...]   e.g. --suite unit, or a test's name
# Ends with one line "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

build=build-test
if [ ! -f "$build/build.ninja" ]; then
        meson setup "$build" --werror >/dev/null
fi
meson compile -C "$build"

set +e
meson test -C "$build" --print-errorlogs "$@"
rc=$?
set -e

python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        counts["passed"] += 1
    elif r == "SKIP":
        counts["skipped"] += 1
    else:
        counts["failed"] += 1
print("{passed} passed, {failed} failed, {skipped} skipped".format(**counts))
PY
exit $rc
