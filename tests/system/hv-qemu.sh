#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The libvirt backend of the agent against a real libvirtd with qemu (TCG)
# guests: the cases of tests/unit/agent/test-hv.c, run with
# GC_HV_URI=qemu:///system and a dir storage pool made for the run, where
# disks really grow (volume and, while running, the guest's block device).
#
# No systemd here: virtlogd and libvirtd are started under `setsid tini -s`
# (tini reaps destroyed qemu processes at once), with their pid files in a
# temporary directory, and stopped by pid at the end. A libvirtd that already
# answers on qemu:///system is used as it is and left running.
#
# Usage: hv-qemu.sh [TEST-HV-BINARY]   (default: $GC_BUILDDIR/tests/unit/agent/test-hv)
set -euo pipefail

URI=qemu:///system

skip() {
        echo "SKIP: $*"
        exit 77
}

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

[ "$EUID" -eq 0 ] || skip "needs root: it starts libvirtd and qemu guests"
for bin in libvirtd virtlogd virsh tini qemu-system-x86_64; do
        command -v "$bin" >/dev/null 2>&1 ||
                skip "$bin is not installed (apt-get install libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils tini)"
done
[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] ||
        [ -n "$(find /usr/lib* -name 'libvirt_driver_qemu.so' -print -quit 2>/dev/null)" ] ||
        skip "the libvirt qemu driver is not installed (libvirt-daemon-driver-qemu)"

exe=${1:-${GC_BUILDDIR:-}/tests/unit/agent/test-hv}
[ -x "$exe" ] || fail "no test binary at $exe (build it, or set GC_BUILDDIR)"

tmp=$(mktemp -d /tmp/gc-hv-qemu.XXXXXX)
chmod 755 "$tmp"                # qemu opens the volumes in it
pool=gc-hv-test-$$
logd_tini= libvirtd_tini= kvm_restore=

virsh_() {
        virsh -q -c "$URI" "$@"
}

stop_daemon() {         # pidfile tini-pid
        local pid
        pid=$(cat "$1" 2>/dev/null || true)
        if [ -n "$pid" ]; then
                kill -TERM "$pid" 2>/dev/null || true
        fi
        if [ -n "$2" ]; then
                for _ in $(seq 1 100); do
                        kill -0 "$2" 2>/dev/null || break
                        sleep 0.1
                done
                kill -0 "$2" 2>/dev/null && kill -KILL "$2" 2>/dev/null
                wait "$2" 2>/dev/null || true
        fi
}

cleanup() {
        local rc=$?
        set +e
        if [ -n "$libvirtd_tini" ] || virsh_ version >/dev/null 2>&1; then
                # What a failed run may leave: the test's own domains only.
                for d in $(virsh_ list --all --name 2>/dev/null | grep -E '^(gc-6f1c|foreign-vm$)'); do
                        virsh_ destroy "$d" >/dev/null 2>&1
                        virsh_ undefine --nvram "$d" >/dev/null 2>&1 || virsh_ undefine "$d" >/dev/null 2>&1
                done
                virsh_ pool-destroy "$pool" >/dev/null 2>&1
        fi
        [ -n "$libvirtd_tini" ] && stop_daemon "$tmp/libvirtd.pid" "$libvirtd_tini"
        [ -n "$logd_tini" ] && stop_daemon "$tmp/virtlogd.pid" "$logd_tini"
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -s "$tmp/libvirtd.log" ]; then
                echo "--- libvirtd log (last 40 lines)" >&2
                tail -n 40 "$tmp/libvirtd.log" >&2
        fi
        if [ -n "$kvm_restore" ]; then
                chown "${kvm_restore% *}" /dev/kvm
                chmod "${kvm_restore#* }" /dev/kvm
        fi
        rm -rf "$tmp"
        exit "$rc"
}
trap cleanup EXIT

# When /dev/kvm exists but the qemu user cannot open it (no udev here to
# make it root:kvm 0660), libvirt finds its cached qemu capabilities
# outdated and probes qemu again on every define: seconds each. The guests
# use TCG (type='qemu') either way. Restored at the end.
if [ -c /dev/kvm ] && getent group kvm >/dev/null && [ "$(stat -c %G:%a /dev/kvm)" != kvm:660 ]; then
        kvm_restore=$(stat -c '%u:%g %a' /dev/kvm)
        echo "# /dev/kvm: root:kvm 0660 for the run (was ${kvm_restore})"
        chgrp kvm /dev/kvm
        chmod 0660 /dev/kvm
fi

if virsh_ version >/dev/null 2>&1; then
        echo "# using the libvirtd that answers on $URI"
else
        echo "# starting virtlogd and libvirtd"
        setsid tini -s -- virtlogd -p "$tmp/virtlogd.pid" >"$tmp/virtlogd.log" 2>&1 &
        logd_tini=$!
        setsid tini -s -- libvirtd -p "$tmp/libvirtd.pid" >"$tmp/libvirtd.log" 2>&1 &
        libvirtd_tini=$!
        # The first start probes qemu's capabilities (about 8 s here).
        for _ in $(seq 1 600); do
                virsh_ version >/dev/null 2>&1 && break
                kill -0 "$libvirtd_tini" 2>/dev/null || fail "libvirtd exited at start"
                sleep 0.1
        done
        virsh_ version >/dev/null 2>&1 || fail "libvirtd does not answer on $URI after 60 s"
fi
virsh_ capabilities | grep -q "<domain type='qemu'" || skip "libvirtd offers no qemu domains (qemu-system-x86 missing?)"

mkdir -p "$tmp/pool"
virsh_ pool-create-as "$pool" dir --target "$tmp/pool" >/dev/null || fail "cannot create the storage pool"

echo "# test-hv against $URI, pool $pool ($tmp/pool)"
GC_HV_URI=$URI GC_HV_POOL=$pool "$exe"
