#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The libvirt backend of the agent against a real libvirtd with qemu (TCG)
# guests: the cases of tests/unit/agent/test-hv.c, run with GC_HV_URI set to
# the run's libvirtd and a dir storage pool made for the run, where disks
# really grow (volume and, while running, the guest's block device).
#
# The daemons: a private virtlogd and libvirtd started for the run
# (lib-libvirtd.sh), reached at qemu:///system?socket=... and stopped at the
# end; the pool lives in the run's directory, the secrets of encrypted
# volumes in the daemon's own mount namespace.
#
# Usage: hv-qemu.sh [TEST-HV-BINARY]   (default: $GC_BUILDDIR/tests/unit/agent/test-hv)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-libvirtd.sh
. "$HERE/lib-libvirtd.sh"

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

lv_skip_unless_usable

exe=${1:-${GC_BUILDDIR:-}/tests/unit/agent/test-hv}
[ -x "$exe" ] || fail "no test binary at $exe (build it, or set GC_BUILDDIR)"

pool=gc-hv-test

cleanup() {
        local rc=$?
        set +e
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$LV_DIR" ] && [ -s "$LV_DIR/libvirtd.log" ]; then
                echo "--- libvirtd log (last 40 lines)" >&2
                tail -n 40 "$LV_DIR/libvirtd.log" >&2
        fi
        lv_stop
        exit "$rc"
}
trap cleanup EXIT

lv_start || fail "cannot start libvirtd"
lv_pool "$pool" || fail "cannot create the storage pool"
URI=$LV_URI

echo "# test-hv against $URI, pool $pool"
GC_HV_URI=$URI GC_HV_POOL=$pool "$exe"
