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
# end; the pool lives in the run's directory. The secrets of encrypted
# volumes would reach the host's /etc/libvirt/secrets: this script runs in a
# mount namespace of its own with a tmpfs there.
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
[ -d /etc/libvirt/secrets ] || lv_skip_default "/etc/libvirt/secrets does not exist (libvirt-daemon-system is not installed)"
if [ -z "${GC_HV_NAMESPACE:-}" ]; then
        exec unshare -m --propagation private env GC_HV_NAMESPACE=1 bash "$0" "$@"
fi
mount -t tmpfs -o mode=0700 gc-test-secrets /etc/libvirt/secrets || fail "cannot put a tmpfs over /etc/libvirt/secrets"

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
