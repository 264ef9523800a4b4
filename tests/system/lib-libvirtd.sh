# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# tests/system/lib-libvirtd.sh - sourced by the system tests that need a real
# libvirtd with qemu guests: a private virtlogd and libvirtd for the run.
#
# No systemd here: both daemons run under `setsid tini -s` (tini reaps the
# destroyed qemu processes at once) inside a mount namespace of their own,
# where tmpfs covers /run/libvirt, /var/lib/libvirt, /etc/libvirt/qemu,
# /etc/libvirt/storage and /etc/libvirt/secrets: the domains, pools, secrets
# and sockets of the run are seen by
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
# The secrets too: a test's LUKS secrets never reach the machine's libvirt.
mkdir -p /etc/libvirt/secrets
for d in /run/libvirt /var/lib/libvirt /etc/libvirt/qemu /etc/libvirt/storage /etc/libvirt/secrets; do
        mount -t tmpfs -o mode=0755 gc-test-libvirt "\$d"
done
chmod 0700 /etc/libvirt/secrets
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

# ----------------------------------------------------------------------------
# Several private libvirtds at once: one per simulated host, each in its
# host's network namespace (libvirtd puts its domains' taps in its own network
# namespace, so a VM's NIC lands on the VPC bridge of its host). Each instance
# has what lv_start gives one daemon: its own virtlogd and libvirtd under
# `setsid tini -s`, its own mount namespace (tmpfs over /run/libvirt,
# /var/lib/libvirt, /etc/libvirt/qemu, /etc/libvirt/storage; /var/log/libvirt
# and /run/libvirt/qemu bound to its directory, so the domains' logs and the
# qemu pid files can be read from outside), its own socket, and, in a network
# namespace, a sysfs of that namespace (/sys/class/net lists its links). The
# qemu capability cache is shared: start instances in parallel, only the first
# start on a machine probes qemu.
#
#   lv_usable                     print why not and fail, without root, the
#                                 daemons, qemu or a mount namespace (the
#                                 checks of lv_skip_unless_usable)
#   lv_inst_start NAME [NETNS]    launch instance NAME (in NETNS, a name under
#                                 /run/netns) and return at once; its directory
#                                 is $LV_SET/NAME (LV_SET, mode 0755, is made
#                                 by the first call), its URI
#                                 ${LV_INST_URI[NAME]}
#   lv_inst_wait NAME             until it answers and offers qemu domains
#                                 (60 s at most)
#   lv_inst_virsh NAME ARGS...    virsh -q -c ${LV_INST_URI[NAME]} ARGS...
#   lv_inst_pool NAME POOL        a dir storage pool in $LV_SET/NAME/pool-POOL
#   lv_inst_stop_all              destroy the domains, stop every instance,
#                                 restore /dev/kvm, remove LV_SET; safe twice
#   lv_inst_reap_stale            the same for the sets of runs that were
#                                 killed before they could (the process that
#                                 made the set is gone): every process is
#                                 found from the set's pid files and checked
#                                 against its command line before it is
#                                 killed; their mounts go with them
#
# A set's owner is the shell that sourced this file ($$, with its start time).

LV_SET=
declare -A LV_INST_URI=()
declare -A LV_INST_TINI=()

_lv_why() {
        echo "$*"
        exit 1
}

lv_usable() {
        (LV_SKIP=_lv_why lv_skip_unless_usable)
}

# _lv_starttime PID: the process's start time (clock ticks since boot).
_lv_starttime() {
        local stat f
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        # field 22 of stat: the 20th after the command name
        read -r -a f <<<"${stat##*) }"
        echo "${f[19]}"
}

# _lv_pid_if PIDFILE TEXT: the pid in PIDFILE when that process runs and
# its command line holds TEXT.
_lv_pid_if() {
        local pid
        pid=$(cat "$1" 2>/dev/null) || return 1
        [[ $pid =~ ^[0-9]+$ ]] || return 1
        [[ -r /proc/$pid/cmdline ]] || return 1
        [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"$2"* ]] || return 1
        echo "$pid"
}

# _lv_running PID: it runs (a zombie has ended: its parent has not waited yet).
_lv_running() {
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        [[ ${stat:0:1} != Z ]]
}

lv_inst_virsh() {
        local name=$1
        shift
        virsh -q -c "${LV_INST_URI[$name]}" "$@"
}

lv_inst_start() {
        local name=$1 ns=${2:-} d enter=()
        if [[ -z $LV_SET ]]; then
                LV_SET=$(mktemp -d /tmp/gc-libvirtd-set.XXXXXX) || return 1
                chmod 755 "$LV_SET"
                echo "$$ $(_lv_starttime $$)" >"$LV_SET/owner"
                # As lv_start: qemu must be able to open /dev/kvm, or libvirt
                # probes qemu again on every define.
                if [ -c /dev/kvm ] && getent group kvm >/dev/null && [ "$(stat -c %G:%a /dev/kvm)" != kvm:660 ]; then
                        stat -c '%u:%g %a' /dev/kvm >"$LV_SET/kvm.restore"
                        chgrp kvm /dev/kvm
                        chmod 0660 /dev/kvm
                fi
        fi
        d=$LV_SET/$name
        mkdir -p "$d/log" "$d/qemu-run" || return 1
        mkdir -m 700 "$d/run"
        mkdir -m 700 "$d/cgroup"
        LV_INST_URI[$name]="qemu:///system?socket=$d/run/libvirt-sock"
        cat >"$d/libvirtd.conf" <<CONF
unix_sock_dir = "$d/run"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
unix_sock_admin_perms = "0700"
CONF
        cat >"$d/namespace.sh" <<SCRIPT
set -e
mkdir -p /etc/libvirt/secrets
for m in /run/libvirt /var/lib/libvirt /etc/libvirt/qemu /etc/libvirt/storage /etc/libvirt/secrets; do
        mount -t tmpfs -o mode=0755 gc-test-libvirt "\$m"
done
chmod 0700 /etc/libvirt/secrets
mkdir -p /run/libvirt/qemu
mount --bind "$d/qemu-run" /run/libvirt/qemu
mount --bind "$d/log" /var/log/libvirt
if [ -n "$ns" ] && mount --rbind /sys/fs/cgroup "$d/cgroup"; then
        # /sys of this network namespace, the cgroups kept
        if mount -t sysfs -o nosuid,nodev,noexec sysfs /sys; then
                mount --move "$d/cgroup" /sys/fs/cgroup
        else
                umount -R "$d/cgroup"
        fi
fi
virtlogd -d -p "$d/virtlogd.pid"
exec libvirtd -f "$d/libvirtd.conf" -p "$d/libvirtd.pid"
SCRIPT
        [[ -z $ns ]] || enter=(nsenter "--net=/run/netns/$ns")
        setsid tini -s -- "${enter[@]}" unshare -m --propagation private bash "$d/namespace.sh" >"$d/libvirtd.log" 2>&1 &
        LV_INST_TINI[$name]=$!
        echo "${LV_INST_TINI[$name]}" >"$d/tini.pid"
}

lv_inst_wait() {
        local name=$1 d=$LV_SET/$1 caps _
        for _ in $(seq 1 600); do
                lv_inst_virsh "$name" version >/dev/null 2>&1 && break
                if ! kill -0 "${LV_INST_TINI[$name]}" 2>/dev/null && ! _lv_pid_if "$d/libvirtd.pid" "$d/" >/dev/null; then
                        tail -n 20 "$d/libvirtd.log" >&2
                        lv_fail "libvirtd $name exited at start"
                        return 1
                fi
                sleep 0.1
        done
        caps=$(lv_inst_virsh "$name" capabilities) || { lv_fail "libvirtd $name does not answer on ${LV_INST_URI[$name]}"; return 1; }
        [[ $caps == *"<domain type='qemu'"* ]] || { lv_fail "libvirtd $name offers no qemu domains"; return 1; }
}

lv_inst_pool() {
        local d=$LV_SET/$1
        mkdir -p "$d/pool-$2"
        lv_inst_virsh "$1" pool-create-as "$2" dir --target "$d/pool-$2" >/dev/null ||
                { lv_fail "cannot create the storage pool $2 on $1"; return 1; }
}

# _lv_inst_stop DIR: stop the instance whose directory is DIR, whoever
# started it.
_lv_inst_stop() {
        local d=$1 uri="qemu:///system?socket=$1/run/libvirt-sock" dom f pid pids=() alive names=() cg _
        for f in "$d"/qemu-run/*.xml "$d"/qemu-run/*.pid; do
                [[ -e $f ]] || continue
                f=${f##*/}
                names+=("${f%.*}")
        done
        if [[ -S $d/run/libvirt-sock ]]; then
                for dom in $(timeout 10 virsh -q -c "$uri" list --uuid 2>/dev/null); do
                        timeout 10 virsh -q -c "$uri" destroy "$dom" >/dev/null 2>&1 || true
                done
        fi
        # What destroy left: the qemu processes by their pid files.
        for f in "$d"/qemu-run/*.pid; do
                [[ -e $f ]] || continue
                f=${f##*/}
                if pid=$(_lv_pid_if "$d/qemu-run/$f" "guest=${f%.pid},"); then
                        kill -KILL "$pid" 2>/dev/null || true
                fi
        done
        for f in libvirtd virtlogd tini; do
                pid=$(_lv_pid_if "$d/$f.pid" "$d/") || continue
                [[ $f = tini ]] || kill -TERM "$pid" 2>/dev/null || true
                pids+=("$pid")
        done
        for _ in $(seq 1 100); do
                alive=0
                for pid in ${pids[@]+"${pids[@]}"}; do
                        _lv_running "$pid" && alive=1
                done
                [[ $alive = 1 ]] || break
                sleep 0.1
        done
        for pid in ${pids[@]+"${pids[@]}"}; do
                if _lv_running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        done
        # The cgroups of domains whose libvirtd died before it could remove
        # them (empty once their qemu has gone).
        for f in ${names[@]+"${names[@]}"}; do
                for cg in /sys/fs/cgroup/*/machine/qemu-*-"$f".libvirt-qemu /sys/fs/cgroup/machine/qemu-*-"$f".libvirt-qemu; do
                        if [[ -d $cg ]]; then find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
                done
        done
        return 0
}

# _lv_set_remove SET: stop its instances, restore /dev/kvm, remove it.
_lv_set_remove() {
        local set=$1 d r
        for d in "$set"/*/; do
                [[ -e $d/libvirtd.conf ]] && _lv_inst_stop "${d%/}"
        done
        if [[ -s $set/kvm.restore ]]; then
                r=$(cat "$set/kvm.restore")
                chown "${r% *}" /dev/kvm 2>/dev/null || true
                chmod "${r#* }" /dev/kvm 2>/dev/null || true
        fi
        rm -rf "$set"
}

lv_inst_stop_all() {
        local name
        [[ -n $LV_SET ]] || return 0
        _lv_set_remove "$LV_SET"
        for name in "${!LV_INST_TINI[@]}"; do
                wait "${LV_INST_TINI[$name]}" 2>/dev/null || true
        done
        LV_INST_TINI=()
        LV_INST_URI=()
        LV_SET=
}

lv_inst_reap_stale() {
        local set owner
        for set in /tmp/gc-libvirtd-set.*; do
                [[ -d $set && $set != "$LV_SET" ]] || continue
                if [[ ! -s $set/owner ]]; then
                        # being made right now, or a leftover of long ago
                        [[ -n $(find "$set" -maxdepth 0 -mmin +1 2>/dev/null) ]] || continue
                fi
                read -r -a owner 2>/dev/null <"$set/owner" || owner=()
                if [[ ${#owner[@]} -eq 2 && $(_lv_starttime "${owner[0]}" 2>/dev/null) == "${owner[1]}" ]] &&
                        _lv_running "${owner[0]}"; then
                        continue        # its run is still going
                fi
                echo "# a killed run's libvirtds ($set): stopped"
                _lv_set_remove "$set"
        done
        return 0
}
