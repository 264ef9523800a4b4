#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# vm.wipe on a real libvirtd (tests/system/wipe-qemu.c): wipes of real
# volumes read back, the refusals with nothing written, kill -9 mid-wipe and
# resume, a corrupted verification, crypto-erase of an encrypted VM made by
# vm.ensure. Two dir pools made for the run: the managed one and another.
#
# The daemons: a private virtlogd and libvirtd (lib-libvirtd.sh). Their
# domains, pools and secrets stay in the run's mount namespace: no secret
# of the run reaches the host's libvirt.
#
# Usage: wipe-qemu.sh [WIPE-QEMU-BINARY]   (default: $GC_BUILDDIR/tests/system/wipe-qemu)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-libvirtd.sh
. "$HERE/lib-libvirtd.sh"

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

lv_skip_unless_usable

exe=${1:-${GC_BUILDDIR:-}/tests/system/wipe-qemu}
[ -x "$exe" ] || fail "no test binary at $exe (build it, or set GC_BUILDDIR)"
command -v qemu-img >/dev/null 2>&1 || lv_skip_default "qemu-img is not installed (qemu-utils): libvirt makes LUKS volumes with it"

pool=gc-wipe
other=gc-wipe-other
WORK=

cleanup() {
        local rc=$?
        set +e
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$LV_DIR" ] && [ -s "$LV_DIR/libvirtd.log" ]; then
                echo "--- libvirtd log (last 40 lines)" >&2
                tail -n 40 "$LV_DIR/libvirtd.log" >&2
        fi
        lv_stop
        [ -z "$WORK" ] || rm -rf "$WORK"
        exit "$rc"
}
trap cleanup EXIT

lv_start || fail "cannot start libvirtd"
lv_pool "$pool" || fail "cannot create the storage pool $pool"
lv_pool "$other" || fail "cannot create the storage pool $other"
# On the disk: the state files and the loose test files (not tmpfs).
WORK=$(mktemp -d /var/tmp/gc-wipe-qemu.XXXXXX)

echo "# wipe-qemu against $LV_URI, pools $pool and $other"
GC_HV_URI=$LV_URI GC_HV_POOL=$pool GC_HV_POOL_DIR=$LV_DIR/pool-$pool \
        GC_HV_OTHER_POOL=$other GC_HV_OTHER_POOL_DIR=$LV_DIR/pool-$other GC_WIPE_DIR=$WORK "$exe"
