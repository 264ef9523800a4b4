#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The wipe engine's speed, in one run on one target under /var/tmp (a file,
# or with --loop a loop device over it, --direct-io=on): our zero and random
# passes (the verification timed apart), dd if=/dev/zero oflag=direct bs=4M,
# shred -n1 and libvirt's virStorageVolWipePattern (zero) on a volume of the
# same size in a dir pool, in the same directory, of a private libvirtd that
# this script starts (tests/system/lib-libvirtd.sh); MB/s and ratios to dd.
# Then crypto-erase of sparse qemu LUKS volumes of 1 GiB and 16 GiB.
#
#     bench/wipe.sh [--size SIZE] [--repeat N] [--loop]
#
# --size: bytes of the target, IEC suffixes allowed, a multiple of 4 MiB
# (default 1G); --repeat: runs per method, the median shown (default 3);
# --loop (root): a loop device instead of the file. Without root, or when
# libvirtd cannot start, the libvirt row is left out with the reason.
# Needs twice --size free under /var/tmp. About 35 s on 2 CPUs at the
# defaults. Environment: GC_SRCDIR (default: this script's parent),
# GC_BUILDDIR (default: $GC_SRCDIR/build).
set -euo pipefail

size=1G
repeat=3
loop=false
while [ $# -gt 0 ]; do
        case "$1" in
        -h|--help)
                sed -n '4,20p' "$0" | sed 's/^# \{0,1\}//'
                exit 0
                ;;
        --size) size=$2; shift 2 ;;
        --size=*) size=${1#*=}; shift ;;
        --repeat) repeat=$2; shift 2 ;;
        --repeat=*) repeat=${1#*=}; shift ;;
        --loop) loop=true; shift ;;
        *) echo "wipe.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
        esac
done

GC_SRCDIR=${GC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
GC_BUILDDIR=${GC_BUILDDIR:-$GC_SRCDIR/build}
GC_BUILDDIR=$(cd "$GC_BUILDDIR" && pwd) || { echo "wipe.sh: no build tree at $GC_BUILDDIR" >&2; exit 1; }
bench=$GC_BUILDDIR/bench/bench-wipe
[ -x "$bench" ] || { echo "wipe.sh: $bench is not built (set GC_BUILDDIR to the build tree)" >&2; exit 1; }
for bin in dd shred numfmt; do
        command -v "$bin" >/dev/null || { echo "SKIP: $bin is not installed (coreutils)" >&2; exit 77; }
done
bytes=$(numfmt --from=iec "$size") || { echo "wipe.sh: --size $size: not a size" >&2; exit 2; }
if [ "$bytes" -le 0 ] || [ $((bytes % (4 * 1024 * 1024))) -ne 0 ]; then
        echo "wipe.sh: --size $size: must be a positive multiple of 4 MiB" >&2
        exit 2
fi
if $loop && [ "$EUID" -ne 0 ]; then
        echo "wipe.sh: --loop needs root" >&2
        exit 2
fi

# shellcheck source=tests/system/lib-libvirtd.sh
. "$GC_SRCDIR/tests/system/lib-libvirtd.sh"

work=
loopdev=
cleanup() {
        local rc=$?
        trap - EXIT INT TERM
        lv_stop >&2 || true
        if [ -n "$loopdev" ]; then
                losetup -d "$loopdev" 2>/dev/null || true
        fi
        [ -z "$work" ] || rm -rf "$work"
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One directory on the disk under /var/tmp (tmpfs, as /tmp may be, refuses
# O_DIRECT): the target, the libvirt pool, the LUKS volumes, the state files.
work=$(mktemp -d /var/tmp/gc-bench-wipe.XXXXXX)
chmod 755 "$work"
mkdir "$work/pool" "$work/state" "$work/luks"
echo "file system of $work: $(stat -f -c %T "$work"), $(df -h --output=avail "$work" | tail -n 1 | tr -d ' ') free" >&2

# libvirtd: a missing piece leaves the libvirt row out, with the reason.
lv_reason=
lv_note() { [ -n "$lv_reason" ] || lv_reason="$*"; }
LV_SKIP=lv_note
lv_args=()
lv_skip_unless_usable
if [ -z "$lv_reason" ]; then
        if lv_start >&2 2>"$work/lv-start.err" && [ -z "$lv_reason" ]; then
                if lv_virsh pool-create-as gc-bench-wipe dir --target "$work/pool" >/dev/null 2>"$work/lv-pool.err"; then
                        lv_args=(--libvirt-uri "$LV_URI" --libvirt-pool gc-bench-wipe)
                else
                        lv_note "cannot create the dir pool: $(tr '\n' ' ' <"$work/lv-pool.err")"
                fi
        else
                lv_note "libvirtd did not start: $(tail -n 3 "$work/lv-start.err" | tr '\n' ' ')"
        fi
fi
[ -z "$lv_reason" ] || { echo "wipe.sh: libvirt left out: $lv_reason" >&2; lv_args=(--libvirt-skip "$lv_reason"); }

# The target: allocated up front (bench-wipe writes it once before timing).
target=$work/pool/target.img
fallocate -l "$bytes" "$target" 2>/dev/null || truncate -s "$bytes" "$target"
setup_lines=("fallocate -l $bytes $target")
pool_dir=$work/pool
if $loop; then
        loopdev=$(losetup -f --show --direct-io=on "$target")
        setup_lines+=("losetup -f --show --direct-io=on $target  -> $loopdev")
        target=$loopdev
        pool_dir=/dev
fi

# Crypto-erase volumes: sparse qemu LUKS files. qemu-img times its PBKDF2
# by thread CPU time and sometimes gives up ("Unable to get accurate CPU
# usage") on a busy machine: a few tries.
luks_args=()
if command -v qemu-img >/dev/null; then
        for s in 1G 16G; do
                f=$work/luks/luks-$s.img
                # shellcheck disable=SC2054  # commas inside qemu options
                cmd=(qemu-img create -q -f luks --object secret,id=s0,data=x -o key-secret=s0 "$f" "$s")
                ok=false
                for try in 1 2 3 4 5; do
                        if "${cmd[@]}" >"$work/qemu-img.log" 2>&1; then
                                ok=true
                                break
                        fi
                        echo "wipe.sh: qemu-img create $s, try $try: $(tr '\n' ' ' <"$work/qemu-img.log")" >&2
                        rm -f "$f"
                done
                $ok || { echo "wipe.sh: qemu-img could not create the $s LUKS volume" >&2; exit 1; }
                setup_lines+=("${cmd[*]}  ($(du -k "$f" | cut -f1) KiB allocated)")
                luks_args+=(--luks "$f")
        done
else
        echo "wipe.sh: qemu-img is not installed (qemu-utils): no crypto-erase" >&2
fi

"$bench" --target "$target" --pool-dir "$pool_dir" --work "$work/state" --size "$bytes" --repeat "$repeat" \
        "${lv_args[@]}" "${luks_args[@]}"
echo "  setup:"
for l in "${setup_lines[@]}"; do
        echo "    $l"
done
if [ ${#lv_args[@]} -eq 4 ]; then
        echo "    libvirtd: tests/system/lib-libvirtd.sh lv_start; virsh -c '$LV_URI' pool-create-as gc-bench-wipe dir --target $work/pool"
fi
echo "  ran: bench/wipe.sh --size $size --repeat $repeat$($loop && echo ' --loop')"
