# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# tests/system/lib-libvirtd.sh - sourced by the system tests that need a real
# libvirtd with qemu guests: a private virtlogd and libvirtd for the run.
#
# No systemd here: both daemons run under `setsid tini -s` (tini reaps the
# destroyed qemu processes at once) inside a mount namespace of their own,
# where tmpfs covers /run/libvirt, /var/lib/libvirt, /etc/libvirt/qemu and
# /etc/libvirt/storage: the domains, pools and sockets of the run are seen by
# nobody else and vanish with it, and a libvirtd the machine may already run
# is left alone. The qemu capability cache (/var/cache/libvirt) is shared, so
# only the first start on a machine probes qemu (about 8 s); later ones take
# about 0.1 s. The daemon listens on a socket in the run's directory:
#
#     qemu:///system?socket=$LV_DIR/run/libvirt-sock      ($LV_URI)
#
#   lv_skip_unless_usable      exit 77 (with the reason) without root, the
#                              daemons, qemu or the libvirt qemu driver
#   lv_start                   start both; LV_URI, LV_DIR (mode 0755: qemu
#                              opens the volumes below it)
#   lv_pool NAME               a dir storage pool in $LV_DIR/pool-NAME
#   lv_stop                    destroy what runs, stop both by pid, restore
#                              /dev/kvm, remove LV_DIR; safe to call twice
#   lv_virsh ARGS...           virsh -q -c "$LV_URI" ARGS...
#
# Callers set LV_SKIP (a function taking the reason; default: print it and
# exit 77) and call lv_stop from their EXIT trap.

LV_URI=
LV_DIR=
LV_TINI=
LV_KVM_RESTORE=

lv_skip_default() {
        echo "SKIP: $*"
        exit 77
}

lv_skip_unless_usable() {
        local skip=${LV_SKIP:-lv_skip_default} bin
        [ "$EUID" -eq 0 ] || "$skip" "needs root: it starts libvirtd and qemu guests"
        for bin in libvirtd virtlogd virsh tini unshare qemu-system-x86_64; do
                command -v "$bin" >/dev/null 2>&1 ||
                        "$skip" "$bin is not installed (apt-get install libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils tini)"
        done
        [ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] ||
                [ -n "$(find /usr/lib* -name 'libvirt_driver_qemu.so' -print -quit 2>/dev/null)" ] ||
                "$skip" "the libvirt qemu driver is not installed (libvirt-daemon-driver-qemu)"
        local d
        for d in /run/libvirt /var/lib/libvirt /etc/libvirt/qemu /etc/libvirt/storage; do
                [ -d "$d" ] || "$skip" "$d does not exist (libvirt-daemon-system is not installed)"
        done
        unshare -m --propagation private true 2>/dev/null ||
                "$skip" "cannot make a mount namespace for a private libvirtd (unshare -m)"
}

lv_virsh() {
        virsh -q -c "$LV_URI" "$@"
}

lv_fail() {
        echo "lib-libvirtd: $*" >&2
        return 1
}

lv_start() {
        local skip=${LV_SKIP:-lv_skip_default}
        LV_DIR=$(mktemp -d /tmp/gc-libvirtd.XXXXXX)
        chmod 755 "$LV_DIR"
        mkdir -m 700 "$LV_DIR/run"
        LV_URI="qemu:///system?socket=$LV_DIR/run/libvirt-sock"

        # When /dev/kvm exists but the qemu user cannot open it (no udev here
        # to make it root:kvm 0660), libvirt finds its cached qemu
        # capabilities outdated and probes qemu again on every define:
        # seconds each. The guests use TCG (type='qemu') either way.
        # Restored by lv_stop.
        if [ -c /dev/kvm ] && getent group kvm >/dev/null && [ "$(stat -c %G:%a /dev/kvm)" != kvm:660 ]; then
                LV_KVM_RESTORE=$(stat -c '%u:%g %a' /dev/kvm)
                echo "# /dev/kvm: root:kvm 0660 for the run (was ${LV_KVM_RESTORE})"
                chgrp kvm /dev/kvm
                chmod 0660 /dev/kvm
        fi

        cat >"$LV_DIR/libvirtd.conf" <<EOF
unix_sock_dir = "$LV_DIR/run"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
unix_sock_admin_perms = "0700"
EOF
        cat >"$LV_DIR/namespace.sh" <<EOF
set -e
for d in /run/libvirt /var/lib/libvirt /etc/libvirt/qemu /etc/libvirt/storage; do
        mount -t tmpfs -o mode=0755 gc-test-libvirt "\$d"
done
virtlogd -d -p "$LV_DIR/virtlogd.pid"
exec libvirtd -f "$LV_DIR/libvirtd.conf" -p "$LV_DIR/libvirtd.pid"
EOF
        echo "# starting a private virtlogd and libvirtd ($LV_URI)"
        setsid tini -s -- unshare -m --propagation private bash "$LV_DIR/namespace.sh" >"$LV_DIR/libvirtd.log" 2>&1 &
        LV_TINI=$!
        # The first start on a machine probes qemu's capabilities (about 8 s).
        local _
        for _ in $(seq 1 600); do
                lv_virsh version >/dev/null 2>&1 && break
                kill -0 "$LV_TINI" 2>/dev/null || { tail -n 20 "$LV_DIR/libvirtd.log" >&2; lv_fail "libvirtd exited at start"; return 1; }
                sleep 0.1
        done
        lv_virsh version >/dev/null 2>&1 || { lv_fail "libvirtd does not answer on $LV_URI after 60 s"; return 1; }
        local caps
        caps=$(lv_virsh capabilities) || { lv_fail "libvirtd gives no capabilities"; return 1; }
        [[ $caps == *"<domain type='qemu'"* ]] ||
                "$skip" "libvirtd offers no qemu domains (qemu-system-x86 missing?)"
}

lv_pool() {
        mkdir -p "$LV_DIR/pool-$1"
        lv_virsh pool-create-as "$1" dir --target "$LV_DIR/pool-$1" >/dev/null || { lv_fail "cannot create the storage pool $1"; return 1; }
}

lv_stop_pid() {         # PIDFILE
        local pid
        pid=$(cat "$1" 2>/dev/null || true)
        [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true
}

lv_stop() {
        local d _
        if [ -n "$LV_TINI" ]; then
                # The qemu processes would outlive the daemon: destroy them.
                for d in $(lv_virsh list --uuid 2>/dev/null); do
                        lv_virsh destroy "$d" >/dev/null 2>&1 || true
                done
                lv_stop_pid "$LV_DIR/libvirtd.pid"
                lv_stop_pid "$LV_DIR/virtlogd.pid"
                for _ in $(seq 1 100); do
                        kill -0 "$LV_TINI" 2>/dev/null || break
                        sleep 0.1
                done
                kill -0 "$LV_TINI" 2>/dev/null && kill -KILL "$LV_TINI" 2>/dev/null
                wait "$LV_TINI" 2>/dev/null || true
                LV_TINI=
        fi
        if [ -n "$LV_KVM_RESTORE" ]; then
                chown "${LV_KVM_RESTORE% *}" /dev/kvm
                chmod "${LV_KVM_RESTORE#* }" /dev/kvm
                LV_KVM_RESTORE=
        fi
        if [ -n "$LV_DIR" ]; then
                rm -rf "$LV_DIR"
                LV_DIR=
        fi
}
