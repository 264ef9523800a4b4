#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The exit with a secure wipe, end to end, on a real libvirtd with qemu
# (TCG) guests: a private libvirtd (lib-libvirtd.sh) whose dir storage pool
# lies on an ext4 file system made for the run on a loop device, so that
# after the reclaim the whole raw device can be scanned, freed blocks
# included; gc-orchestrator (--unsafe-test-clock) with the run's PKI (the
# integration suite's lib.sh); one gc-agent with a wipe key (the host's SM2
# key from the PKI). Shows:
#
#  1. setup: the pool's directory is on ext4 on a loop device;
#  2. an apply of 2 small VMs -> running qemu domains -> trial; the test
#     clock ends the trial; the go-live sheet signed by tenant, provider and
#     authority -> active;
#  3. every volume filled with a known pattern (a marker at the start of
#     every 512-byte sector), seen with od in the files and counted on the
#     raw device (the control: the scan finds them);
#  4. an approved exit -> exit_requested; POST .../reclaim before the
#     tenant's statement -> 409 exit_not_allowed (R-EX3), audited, nothing
#     changed;
#  5. the agent with --unsafe-test-wipe-corrupt; the tenant signs the
#     statement (gcctl system exit-statement): draining, vm.stop, domains
#     shut off, wiping; the verification fails: the exit's problem names
#     it, no certificate is kept, a job.failed record under R-EX3;
#  6. the agent with --unsafe-test-wipe-throttle, gcctl system reclaim:
#     gcctl system show / exit print phase, percent and rate while it runs;
#     kill -9 of the agent mid-write, a restart without the throttle: the
#     wipe resumes from its checkpoint and completes; every volume certified;
#  7. then by itself: vm.delete (no domain left), the VPC's jobs, the
#     release (reclaim.released), the exit sheet listing both VMs, each with
#     its 2 volumes, each with a certificate (zero, Clear, full, pass) whose
#     SM2 signature openssl verifies over the RFC 8785 bytes with the host's
#     public key from the PKI; a certificate with one byte changed does not;
#  8. the three parties sign the exit sheet: reclaimed; gcctl sheet verify
#     on the export;
#  9. the file system unmounted: not one marker left on the raw device,
#     none where a volume's first sector was; gcctl audit verify.
#
# The loop file is 5 GiB (sparse): the four volumes (2 VMs x 1 GiB system
# + 1 GiB data disk) are filled completely, 4 GiB, plus ext4's own blocks.
#
# Without a guest OS nothing in the guest answers the ACPI power-off of
# vm.stop, and the agent would wait JOBS_STOP_TIMEOUT_S (30 s) per VM before
# it destroys the domain. The test plays the guest: a watcher per domain
# (virsh qemu-monitor-event POWERDOWN) powers it off when the ACPI request
# arrives. GC_RECLAIM_NO_GUEST=1 leaves that out (the agent's 30 s path).
#
# Environment (set by meson): GC_SRCDIR, GC_BUILDDIR; GC_AGENT overrides
# $GC_BUILDDIR/agent/gc-agent, GCCTL $GC_BUILDDIR/cli/gcctl. GC_KEEP_TMP=1
# keeps the run's directory (not the loop file's).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-libvirtd.sh
. "$HERE/lib-libvirtd.sh"

tap_skip() {
	printf '1..0 # SKIP %s\n' "$*"
	exit 77
}
LV_SKIP=tap_skip
lv_skip_unless_usable
for tool in losetup mkfs.ext4 mount umount mountpoint filefrag od dd truncate; do
	command -v "$tool" >/dev/null 2>&1 || tap_skip "$tool is not installed (util-linux, e2fsprogs, coreutils)"
done
losetup -f >/dev/null 2>&1 || tap_skip "no free loop device (losetup -f)"

: "${GC_SRCDIR:?GC_SRCDIR must name the source tree}"
: "${GC_BUILDDIR:?GC_BUILDDIR must name the build tree}"
# shellcheck source=tests/integration/lib.sh
. "$GC_SRCDIR/tests/integration/lib.sh"

AGENT_BIN=${GC_AGENT:-$GC_BUILDDIR/agent/gc-agent}
GCCTL_BIN=${GCCTL:-$GC_BUILDDIR/cli/gcctl}
[[ -x $AGENT_BIN ]] || bail "$AGENT_BIN is not built"
[[ -x $GCCTL_BIN ]] || bail "$GCCTL_BIN is not built"
for opt in --unsafe-test-wipe-throttle --unsafe-test-wipe-corrupt; do
	"$AGENT_BIN" --help 2>&1 | grep -q -- "$opt" || bail "$AGENT_BIN has no $opt"
done

POOL=gc-reclaim
MARKER=GCPATTERN
AGENT_PID=
AGENT_LOG=$T/agent.log
LOGS[agent]=$AGENT_LOG
# The loop device's file and mount point: outside $T (mode 0700), where the
# qemu user can reach the volumes.
RUN_DIR=$(mktemp -d /tmp/gc-reclaim.XXXXXX)
chmod 755 "$RUN_DIR"
MNT=$RUN_DIR/mnt
POOL_DIR=$MNT/pool
LOOP_DEV=
OFFSET=0        # the test clock's offset, seconds

exec 9>&1
_reclaim_cleanup() {
	local rc=$?
	set +e
	exec 1>&9 2>&1
	if [[ -n $AGENT_PID ]]; then
		kill -KILL "$AGENT_PID" 2>/dev/null
		wait "$AGENT_PID" 2>/dev/null
	fi
	# (the agent's log is shown by lib.sh's _cleanup: LOGS[agent])
	if [[ $rc -ne 0 && $rc -ne 77 ]]; then
		if [[ -n $LV_DIR && -s $LV_DIR/libvirtd.log ]]; then
			printf '# the last lines of the libvirtd log:\n'
			tail -n 15 "$LV_DIR/libvirtd.log" | sed 's/^/#   /'
		fi
	fi
	lv_stop
	if mountpoint -q "$MNT" 2>/dev/null; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	[[ -z $LOOP_DEV ]] || losetup -d "$LOOP_DEV"
	rm -rf -- "$RUN_DIR"
	(exit "$rc")
	_cleanup
}
trap _reclaim_cleanup EXIT
bail() {
	exec 1>&9 2>&1
	fail "$*"
	printf 'Bail out! %s\n' "$*"
	exit 1
}

# ------------------------------------------------------------- helpers ---

advance() {   # advance SECONDS: the test clock
	run_gcctl authority "$T/clock.out" clock advance "${1}s"
	[[ $RC == 0 ]] || bail "gcctl clock advance ${1}s: $(cat "$T/clock.out")"
	OFFSET=$((OFFSET + $1))
}
register_key() {   # register_key PARTY HOLDER PUB [UNIT]
	local unit=
	[[ -z ${4-} ]] || unit=", \"unit\": $(jstr "$4")"
	api authority POST /v1/keys "{\"party\": \"$1\", \"holder\": $(jstr "$2"), \"public_key\": $(jstr "$(cat "$3")")$unit}"
	want 201 >"$T/reg.err" || bail "register $1 key $2: $(cat "$T/reg.err")"
}
mark() { audit_fetch; MARK=$AUDIT_LAST; }
# audit_since EXPR: EXPR over rs, the audit records after MARK.
audit_since() {
	audit_fetch
	jget "$T/audit.json" "(lambda rs: $1)([r for r in d['records'] if r['seq'] > $MARK])"
}

agent_start() {   # agent_start [OPTION]...
	[[ -z $AGENT_PID ]] || bail "agent_start: gc-agent $AGENT_PID runs already"
	printf -- '--- start %s %s\n' "$(date -u +%FT%TZ)" "$*" >>"$AGENT_LOG"
	"$AGENT_BIN" -c "$T/agent.json" "$@" >>"$AGENT_LOG" 2>&1 9>&- &
	AGENT_PID=$!
}
agent_stop() {    # SIGTERM; 0 when it exits with 0
	local rc=0
	[[ -n $AGENT_PID ]] || return 0
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID" || rc=$?
	AGENT_PID=
	return "$rc"
}
agent_kill9() {
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=
}
hellos() { grep -c 'hello: this is host host-a' "$AGENT_LOG" || true; }
host_up() {
	api provider GET /v1/hosts >/dev/null && [[ $STATUS == 200 ]] &&
		[[ $(jget "$BODY" '[h["state"] for h in d["hosts"] if h["name"] == "host-a"][0]') == up ]]
}
# agent_restart [OPTION]...: start it and wait for a new hello.
agent_restart() {
	local before
	before=$(hellos)
	agent_start "$@"
	hello_again() { [[ $(hellos) -gt $before ]]; }
	poll 30 hello_again || bail "the agent ($*) did not say hello within 30 s"
}

system_state() {
	api authority GET "/v1/systems/$1"
	jget "$BODY" 'd["system"]["state"]'
}
system_in() { [[ $(system_state "$1") == "$2" ]]; }
vms_json() {
	api authority GET "/v1/vms?system=$1"
	want 200 >/dev/null || return 1
	cp "$BODY" "$T/vms.json"
}
all_running() {
	vms_json "$1" || return 1
	[[ $(jget "$T/vms.json" 'str(len(d["vms"])) + " " + str(len([v for v in d["vms"] if v["state"] == "running"]))') == "$2 $2" ]]
}
dom_state() { lv_virsh domstate "gc-$1" 2>/dev/null | head -n 1; }
# exit_json: GET /v1/systems/SID/exit into $T/exit.json.
exit_json() {
	api provider GET "/v1/systems/$SID/exit"
	want 200 >/dev/null || return 1
	cp "$BODY" "$T/exit.json"
}
exit_is() { exit_json && [[ $(jget "$T/exit.json" "$1") == "$2" ]]; }

# scan_markers: the marker's occurrences on the whole raw device, read
# with O_DIRECT (not through the block device's page cache).
scan_markers() {
	python3 - "$LOOP_DEV" "$MARKER" <<'EOF'
import mmap, os, sys
dev, marker = sys.argv[1], sys.argv[2].encode()
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
size = os.lseek(fd, 0, os.SEEK_END)
buf = mmap.mmap(-1, 8 << 20)
n = off = 0
tail = b""
while off < size:
    got = os.preadv(fd, [buf], off)
    if got <= 0:
        break
    chunk = buf[:got]
    n += chunk.count(marker) + (tail + chunk[:len(marker) - 1]).count(marker)
    tail = chunk[-(len(marker) - 1):]
    off += got
if off != size:
    sys.exit("read %d of %d bytes" % (off, size))
print(n)
EOF
}
# dev_sector OFFSET: 512 bytes of the raw device at OFFSET (O_DIRECT).
dev_sector() {
	dd if="$LOOP_DEV" iflag=direct,skip_bytes skip="$1" bs=512 count=1 status=none
}

# ---------------------------------------------------------- 1. setup ---

t0=$SECONDS
truncate -s 5G "$RUN_DIR/disk.img"
LOOP_DEV=$(losetup --find --show "$RUN_DIR/disk.img") || bail "losetup --find --show $RUN_DIR/disk.img"
mkfs.ext4 -q -F -L gc-reclaim "$LOOP_DEV" >"$T/mkfs.out" 2>&1 || bail "mkfs.ext4 $LOOP_DEV: $(cat "$T/mkfs.out")"
mkdir -p "$MNT"
mount -t ext4 "$LOOP_DEV" "$MNT" || bail "mount $LOOP_DEV $MNT"
mkdir -m 755 "$POOL_DIR"
is "1. the pool's directory is on ext4 on $LOOP_DEV (a 5 GiB sparse file)" \
	"$(findmnt -n -o SOURCE,FSTYPE --target "$POOL_DIR" | tr -s ' ')" "$LOOP_DEV ext4"

# The private libvirtd's mount namespace is a copy of this one: the mount
# is made first, so that libvirtd sees the file system.
lv_start 9>&- || bail "cannot start a private libvirtd"
lv_virsh pool-create-as "$POOL" dir --target "$POOL_DIR" >/dev/null || bail "cannot create the storage pool $POOL at $POOL_DIR"
pass "1. a private libvirtd answers on $LV_URI, dir pool $POOL at $POOL_DIR"

make_pki --host host-a
write_config '[]' '{"pools": [{"name": "包头-A", "arch": ["x86"], "flavours": {"vcpus": {"min": 1, "max": 2}, "memory_gib": {"min": 1, "max": 2}, "system_disk_gib": {"min": 1, "max": 4}, "data_disk_gib": {"min": 0, "max": 4}}}],
                    "parties": {"provider": "某云服务有限公司", "authority": "包头市大数据局"}}'
ORCH_ARGS=(--unsafe-test-clock)
orch_start 9>&-
pass "1. gc-orchestrator (--unsafe-test-clock) answers on $URL"

UNIT=市xx局
register_unit "$UNIT"
register_system "$UNIT" 协同办公OA
SID=$LAST_ID
record_agreement "$SID"
register_approval_system approval-oa "$(sign_pub approval)"
TENANT_KEY=$(sign_key tenant)
PROVIDER_KEY=$(sign_key provider)
AUTHORITY_KEY=$(sign_key authority)
HOST_PUB=$(sign_pub host host-a)
register_key tenant 李四 "$(sign_pub tenant)" "$UNIT"
register_key provider 王工 "$(sign_pub provider)"
register_key authority 陈处长 "$(sign_pub authority)"
api provider POST /v1/hosts '{"name": "host-a", "pool": "包头-A", "underlay_address": "10.0.0.1", "operations_address": "10.1.0.1"}'
check "1. host-a is registered without a capacity (201)" want 201

who_files host=host-a
cat >"$T/agent.json" <<EOF
{
  "orchestrator": "$URL",
  "tls": {"cert": "$CERT", "key": "$KEY", "ca": "$PKI/ca.crt"},
  "libvirt_uri": "$LV_URI",
  "storage_pool": "$POOL",
  "capacity": {"vcpus": 16, "memory_mib": 32768, "arch": "x86_64"},
  "poll_seconds": 25,
  "journal": "$T/agent.journal",
  "wipe": {"signing_key": "$(sign_key host host-a)", "state_dir": "$T/wipe-state", "progress_seconds": 1, "sample_blocks": 4096}
}
EOF
agent_start
poll 30 host_up || bail "host-a did not say hello within 30 s"
dbq "SELECT wipe_key FROM hosts WHERE name = 'host-a'" >"$T/wipe-key.pem"
is "1. host-a's hello announced its wipe key: the host's public key from the PKI" \
	"$(openssl pkey -pubin -in "$T/wipe-key.pem" -outform DER 2>/dev/null | sha256sum)" \
	"$(openssl pkey -pubin -in "$HOST_PUB" -outform DER 2>/dev/null | sha256sum)"
note "1. setup: $((SECONDS - t0)) s"

# ------------------------------------------ 2. apply, trial, go-live ---

t2=$SECONDS
SMALL=()
for i in 0 1; do
	SMALL+=("--set-json=vms.$i.count=1" "--set-json=vms.$i.vcpus=1" "--set-json=vms.$i.memory_gib=1"
		"--set-json=vms.$i.system_disk.gib=1" "--set-json=vms.$i.data_disk.gib=1")
done
sign_now "$SAMPLES/apply.json" "$T/apply.json" --set=approval.id=OA-SYS-0001 "${SMALL[@]}"
submit "$T/apply.json"
check "2. the apply for 协同办公OA (2 VMs: 1 vCPU, 1 GiB, 1 GiB system and data disks) is accepted (201)" want 201
poll 90 all_running "$SID" 2 || true
check "2. both VMs are running (GET /v1/vms)" all_running "$SID" 2
jget "$T/vms.json" '"\n".join(sorted(v["uuid"] for v in d["vms"]))' >"$T/uuids"
mapfile -t UUIDS <"$T/uuids"
running_domains() {
	local u pid
	for u in "${UUIDS[@]}"; do
		[[ $(dom_state "$u") == running ]] || { echo "gc-$u: $(dom_state "$u")"; return 1; }
		pid=$(pgrep -f "qemu-system-x86_64 -name guest=gc-$u,") || { echo "no qemu process for gc-$u"; return 1; }
	done
}
check "2. each is a running qemu domain gc-UUID with its qemu process (virsh domstate; pgrep)" running_domains
poll 15 system_in "$SID" trial || true
is "2. 协同办公OA is in trial" "$(system_state "$SID")" trial

TRIAL_END=$(dbq 'SELECT trial_end FROM systems WHERE id = ?' "$SID")
advance $((TRIAL_END - $(date +%s) - OFFSET + 60))
poll 20 system_in "$SID" awaiting_golive || true
is "2. the test clock past the trial's end: awaiting_golive" "$(system_state "$SID")" awaiting_golive
golive_sheet() {
	api provider GET "/v1/sheets?system=$SID"
	GOLIVE=$(jget "$BODY" '[s["id"] for s in d["sheets"] if s["kind"] == "golive"][0]')
}
poll 10 golive_sheet || bail "no go-live sheet for system $SID"
for p in tenant provider authority; do
	k=$TENANT_KEY
	[[ $p == provider ]] && k=$PROVIDER_KEY
	[[ $p == authority ]] && k=$AUTHORITY_KEY
	run_gcctl "$p" "$T/gsign-$p.out" sheet sign "$GOLIVE" --party "$p" --key "$k"
	check "2. the $p signs the go-live sheet $GOLIVE (gcctl sheet sign)" test "$RC" = 0
done
is "2. the system is active (R-LC3)" "$(system_state "$SID")" active
note "2. apply, trial, go-live: $((SECONDS - t2)) s"

# --------------------------------------------------- 3. the pattern ---

t3=$SECONDS
# The volumes: path, VM uuid, disk (system, data).
vols() {
	local u src path
	for u in "${UUIDS[@]}"; do
		lv_virsh domblklist "gc-$u" --details | awk '$2 == "disk" { print $4 }' | while read -r src; do
			# a disk of type volume names the pool's volume
			path=$src
			[[ $path == /* ]] || path=$(lv_virsh vol-path --pool "$POOL" "$src")
			[[ $src == *-data.img ]] && echo "$path $u data" || echo "$path $u system"
		done
	done
}
vols >"$T/vols"
is "3. 4 volumes, 2 per domain, all in the pool's directory (virsh domblklist)" \
	"$(awk -v p="$POOL_DIR/" 'index($1, p) == 1' "$T/vols" | wc -l) $(awk '{ print $2 }' "$T/vols" | sort | uniq -c | awk '{ print $1 }' | sort -u)" "4 2"
fill() {   # fill PATH TAG: the marker at the start of every 512-byte sector
	python3 - "$1" "$2" "$MARKER" <<'EOF'
import os, sys
path, tag, marker = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
size = os.stat(path).st_size
fd = os.open(path, os.O_WRONLY)
CH = 1 << 20
# Each sector: MARKER TAG CHUNK SECTOR ====...; the prefix (up to the
# sector's number in the chunk) set by strided slices, the rest a template.
L = len(b"%s %s %08x " % (marker, tag, 0))
template = bytearray(b"".join((b" " * L + b"%04x " % i).ljust(512, b"=") for i in range(CH // 512)))
for base in range(0, size, CH):
    prefix = b"%s %s %08x " % (marker, tag, base // CH)
    for j in range(L):
        template[j::512] = prefix[j:j + 1] * (CH // 512)
    os.pwrite(fd, template[:min(CH, size - base)], base)
os.fsync(fd)
os.close(fd)
EOF
}
FILL_PIDS=()
while read -r path u disk; do
	fill "$path" "${u:0:8}/$disk" &
	FILL_PIDS+=($!)
done <"$T/vols"
fill_ok=0
for p in "${FILL_PIDS[@]}"; do wait "$p" || fill_ok=1; done
check "3. every volume file is filled with the pattern, fsync'd" test "$fill_ok" = 0
note "   filled in $((SECONDS - t3)) s"
VOL_BYTES=0
while read -r path _; do VOL_BYTES=$((VOL_BYTES + $(stat -c %s "$path"))); done <"$T/vols"
pattern_in_files() {
	local path u disk
	while read -r path u disk; do
		od -A d -c -N 32 "$path" | tr -d ' \n' | grep -q "$MARKER" || { echo "$path: $(od -A d -c -N 32 "$path" | head -n 2)"; return 1; }
		od -A d -c -j $((512 * 1000)) -N 32 "$path" | tr -d ' \n' | grep -q "$MARKER" || { echo "$path sector 1000: no marker"; return 1; }
	done <"$T/vols"
}
check "3. od shows the marker in the first sector and in sector 1000 of each volume" pattern_in_files
note "   $(head -n 1 "$T/vols" | awk '{ print $1 }'): $(od -A d -c -N 32 "$(head -n 1 "$T/vols" | awk '{ print $1 }')" | head -n 1)"
# Where each volume's first block lies on the device (filefrag: 4 KiB blocks).
while read -r path u disk; do
	bs=$(filefrag -v "$path" | sed -n 's/.*blocksize of \([0-9]*\) bytes.*/\1/p; s/.*(\([0-9]*\) blocks of \([0-9]*\) bytes).*/\2/p' | head -n 1)
	start=$(filefrag -v "$path" | awk '$1 == "0:" { sub(/\.\.$/, "", $4); print $4 }')
	echo "$path $((start * bs))"
done <"$T/vols" >"$T/phys"
first_sectors_marked() {
	local path off
	while read -r path off; do
		[[ $(dev_sector "$off" | head -c 9) == "$MARKER" ]] || { echo "$path at byte $off of $LOOP_DEV: $(dev_sector "$off" | head -c 40 | od -c | head -n 1)"; return 1; }
	done <"$T/phys"
}
check "3. the raw device holds each volume's first sector where filefrag says (dd iflag=direct | od)" first_sectors_marked
note "   $(head -n 1 "$T/phys" | awk '{ print $2 }'): $(dev_sector "$(head -n 1 "$T/phys" | awk '{ print $2 }')" | od -A d -c -N 32 | head -n 1)"
ts=$SECONDS
BEFORE=$(scan_markers)
note "   the scan of $LOOP_DEV: $((SECONDS - ts)) s"
WANT_MARKERS=$((VOL_BYTES / 512))
check "3. the control: a scan of the whole raw device counts the marker ($BEFORE > 0)" test "$BEFORE" -gt 0
is "3. ... once per sector of the 4 volumes ($VOL_BYTES bytes)" "$BEFORE" "$WANT_MARKERS"
note "3. pattern and scan: $((SECONDS - t3)) s"

# --------------------------------------------------------- 4. the exit ---

t4=$SECONDS
sign_now "$SAMPLES/exit.json" "$T/exit-req.json" --set=approval.id=OA-EXIT-0001
submit "$T/exit-req.json"
check "4. the approved exit request is accepted (201)" want 201
poll 10 system_in "$SID" exit_requested || true
is "4. the system is exit_requested" "$(system_state "$SID")" exit_requested
exit_json
is "4. GET /v1/systems/$SID/exit: step grace, the statement not signed" \
	"$(jget "$T/exit.json" 'd["exit"]["step"] + " " + str(d["exit"]["statement"]["signed"])')" "grace False"

# The agent stops here: the refusal must change nothing (no heartbeat either).
check "4. gc-agent stops on SIGTERM with status 0" agent_stop
db_dump "$T/db.before"
mark
api provider POST "/v1/systems/$SID/reclaim" '{"reason": "提前回收"}'
is "4. POST /v1/systems/$SID/reclaim as provider before the statement: 409 exit_not_allowed (R-EX3)" \
	"$STATUS $(jget "$BODY" 'd["error"]["code"] + " " + d["error"].get("rule", "")' 2>/dev/null)" "409 exit_not_allowed R-EX3"
check "4. ... audited once: reclaim.refused under R-EX3" \
	audit_since "[(r['action'], r['rule']) for r in rs] == [('reclaim.refused', 'R-EX3')] or 1/0"
db_dump "$T/db.after"
check "4. ... and nothing changed in the store" cmp -s "$T/db.before" "$T/db.after"
is "4. still exit_requested" "$(system_state "$SID")" exit_requested
note "4. exit and refusal: $((SECONDS - t4)) s"

# --------------------------------- 5. statement, stop, corrupted wipe ---

t5=$SECONDS
agent_restart --unsafe-test-wipe-corrupt
pass "5. gc-agent runs with --unsafe-test-wipe-corrupt"
# The guest's stand-in: it powers the domain off when the ACPI request comes.
GUESTS=()
if [[ -z ${GC_RECLAIM_NO_GUEST:-} ]]; then
	for u in "${UUIDS[@]}"; do
		(
			if lv_virsh qemu-monitor-event --domain "gc-$u" --event POWERDOWN --timeout 120 >"$T/powerdown-$u" 2>&1 &&
				grep -q POWERDOWN "$T/powerdown-$u"; then
				lv_virsh destroy "gc-$u" >/dev/null 2>&1
			fi
		) 9>&- &
		GUESTS+=($!)
		bg "$!"
	done
	sleep 1      # the watchers are listening
fi
mark
# The connection's identity from a profile: --key is the signing key here.
who_files tenant
printf '{"server": "%s", "cert": "%s", "key": "%s", "cacert": "%s"}\n' "$URL" "$CERT" "$KEY" "$PKI/ca.crt" >"$T/tenant-profile.json"
RC=0
"$GCCTL_BIN" system exit-statement "$SID" --key "$TENANT_KEY" --profile "$T/tenant-profile.json" >"$T/statement.out" 2>&1 || RC=$?
check "5. the tenant signs the exit statement (gcctl system exit-statement --key, its TLS identity by --profile): exit 0" test "$RC" = 0
check "5. ... gcctl showed the statement it signed" grep -q '同意云服务商对其数据进行安全清除' "$T/statement.out"
[[ $RC == 0 ]] || bail "the exit statement is not signed: $(head -c 300 "$T/statement.out")"
states=()
state_seen() {
	local s
	s=$(system_state "$SID")
	[[ ${#states[@]} -gt 0 && ${states[-1]} == "$s" ]] || states+=("$s")
	[[ $s == "$1" ]]
}
poll 120 state_seen wiping || true
note "   states polled: ${states[*]}"
check "5. system.stage: exit_requested -> draining -> wiping (R-EX3)" \
	audit_since "[(r['detail']['from'], r['detail']['to'], r['rule']) for r in rs if r['action'] == 'system.stage'] == [('exit_requested', 'draining', 'R-EX3'), ('draining', 'wiping', 'R-EX3')] or 1/0"
shut_off() {
	local u
	for u in "${UUIDS[@]}"; do
		[[ $(dom_state "$u") == "shut off" ]] || { echo "gc-$u: $(dom_state "$u")"; return 1; }
	done
}
check "5. vm.stop: both domains are shut off (virsh domstate)" shut_off
check "5. ... with a job.done for vm.stop of each VM" \
	audit_since "len([r for r in rs if r['action'] == 'job.done' and r['detail'].get('kind') == 'vm.stop']) == 2 or 1/0"
for p in ${GUESTS[@]+"${GUESTS[@]}"}; do wait "$p" 2>/dev/null || true; unbg "$p"; done
powerdowns() {
	local u
	for u in "${UUIDS[@]}"; do
		grep -q POWERDOWN "$T/powerdown-$u" || { echo "gc-$u: $(cat "$T/powerdown-$u")"; return 1; }
	done
}
if [[ -z ${GC_RECLAIM_NO_GUEST:-} ]]; then
	check "5. ... each after an ACPI power-off request first (qemu's POWERDOWN event), which the guest's stand-in answered" powerdowns
fi
note "   the agent: $(grep -E 'shut down \(ACPI|destroyed \(' "$AGENT_LOG" | sed 's/.*\(shut down (ACPI[^)]*)\|destroyed ([^)]*)\).*/\1/' | paste -sd';')"
problem_set() { exit_json && [[ $(jget "$T/exit.json" 'd["exit"]["problem"] or ""') != "" ]]; }
poll 120 problem_set || true
exit_json
PROBLEM=$(jget "$T/exit.json" 'd["exit"]["problem"] or ""')
note "   problem: $PROBLEM"
check "5. the verification failed: the exit stopped at step wiping, its problem names the verification" \
	jget "$T/exit.json" "(d['exit']['step'] == 'wiping' and 'verif' in (d['exit']['problem'] or '')) or 1/0"
check "5. ... the agent's log says the byte was flipped and the wipe failed" \
	bash -c "grep -q 'UNSAFE test: byte 100 of .* flipped' '$AGENT_LOG' && grep -q 'wipe of .* failed: .*verif' '$AGENT_LOG'"
is "5. no certificate is stored: GET /v1/systems/$SID/exit lists no volume certified" \
	"$(jget "$T/exit.json" 'len([v for v in d["exit"]["volumes"] if v["certified"]])')" 0
check "5. a job.failed record for vm.wipe under R-EX3 with the error" \
	audit_since "any(r['action'] == 'job.failed' and r['rule'] == 'R-EX3' and r['detail'].get('kind') == 'vm.wipe' and 'verif' in r['detail'].get('error', '') for r in rs) or 1/0"
check "5. ... and reclaim.stopped at step wiping with that problem (R-EX3)" \
	audit_since "any(r['action'] == 'reclaim.stopped' and r['rule'] == 'R-EX3' and r['detail']['step'] == 'wiping' and 'verif' in r['detail']['problem'] for r in rs) or 1/0"
is "5. the system stays wiping" "$(system_state "$SID")" wiping
note "5. statement, stop, failed wipe: $((SECONDS - t5)) s"

# ------------------------ 6. retry: throttled, kill -9, resume, certified ---

t6=$SECONDS
THROTTLE=$((64 << 20))
check "6. the corrupting agent stops on SIGTERM with status 0" agent_stop
agent_restart --unsafe-test-wipe-throttle "$THROTTLE"
pass "6. gc-agent runs with --unsafe-test-wipe-throttle $THROTTLE (64 MiB/s)"
mark
run_gcctl provider "$T/reclaim.out" system reclaim "$SID" --reason "校验失败后重新擦除"
check "6. gcctl system reclaim $SID --reason: exit 0" test "$RC" = 0
check "6. ... reclaim.resumed (R-EX3), step wiping, retried, with the problem" \
	audit_since "any(r['action'] == 'reclaim.resumed' and r['rule'] == 'R-EX3' and r['detail']['step'] == 'wiping' and r['detail']['retried'] and r['detail'].get('problem') for r in rs) or 1/0"
# While it runs: gcctl system exit prints, per volume, VM DISK PHASE PERCENT
# DONE RATE CERTIFIED (DONE and RATE two words each: "1.0 GiB", "64.0 MiB/s").
# write_lines FILE: the lines of volumes in phase write, 0 < percent < 100.
write_lines() {
	awk 'NF >= 9 && $(NF-6) == "write" && $(NF-5) ~ /%$/ {
		pct = $(NF-5); sub(/%$/, "", pct)
		if (pct + 0 > 0 && pct + 0 < 100) print
	}' "$1"
}
# rate_lines: those with a rate > 0.
rate_lines() { awk '$(NF-2) + 0 > 0'; }
SEEN_LINE='' RATE_LINE='' SHOW_LINE='' SHOW_RATE='' KILL_AT=''
watch_wipe() {
	local line pct
	gcctl_as provider system exit "$SID" >"$T/gexit.txt" 2>&1 || return 1
	line=$(write_lines "$T/gexit.txt" | head -n 1)
	[[ -n $line ]] || return 1
	if [[ -z $SEEN_LINE ]]; then
		SEEN_LINE=$line
		cp "$T/gexit.txt" "$T/gexit-seen.txt"
		# the orchestrator's answer as it is, for the report
		api provider GET "/v1/systems/$SID/exit" && cp "$BODY" "$T/exit-writing.json"
	fi
	[[ -n $RATE_LINE ]] || RATE_LINE=$(write_lines "$T/gexit.txt" | rate_lines | head -n 1)
	pct=$(awk '{ p = $(NF-5); sub(/%$/, "", p); print p }' <<<"$line")
	if awk -v p="$pct" 'BEGIN { exit !(p >= 15 && p <= 60) }'; then
		KILL_AT=$line
		return 0
	fi
	return 1
}
deadline=$((SECONDS + 60))
while [[ $SECONDS -lt $deadline ]]; do
	if [[ -n $SEEN_LINE && -z $SHOW_LINE ]]; then
		gcctl_as provider system show "$SID" >"$T/gshow.txt" 2>&1 || true
		SHOW_LINE=$(write_lines "$T/gshow.txt" | head -n 1)
		SHOW_RATE=$(write_lines "$T/gshow.txt" | rate_lines | head -n 1)
	fi
	if watch_wipe; then break; fi
	sleep 0.3
done
[[ -n $KILL_AT ]] && agent_kill9
note "   gcctl system exit: $(grep -E 'PHASE' "$T/gexit-seen.txt" 2>/dev/null | tr -s ' ')"
note "                      $(tr -s ' ' <<<"$SEEN_LINE")"
note "   GET /v1/systems/$SID/exit then: $(jget "$T/exit-writing.json" '"; ".join("%s %s phase %s done %r total %r rate %r percent %r" % (v["vm"], v["disk"], v["phase"], v["done"], v["total"], v["rate"], v["percent"]) for v in d["exit"]["volumes"])' 2>&1)"
check "6. gcctl system exit showed a volume in phase write with 0 < percent < 100" test -n "$SEEN_LINE"
check "6. ... and a rate > 0 (RATE column)" test -n "$RATE_LINE"
check "6. gcctl system show $SID showed a volume in phase write with 0 < percent < 100" test -n "$SHOW_LINE"
check "6. ... and a rate > 0" test -n "$SHOW_RATE"
check "6. the agent was killed (-9) with a volume between 15% and 60% written: $(tr -s ' ' <<<"$KILL_AT")" test -n "$KILL_AT"
[[ -n $KILL_AT ]] || bail "the throttled wipe was not seen between 15% and 60% within 60 s"
state_files() {
	python3 - "$T/wipe-state" <<'EOF'
import glob, json, sys
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    s = json.load(open(f))
    print(f.rsplit("/", 1)[1], s.get("phase"), s.get("pass"), s.get("offset"), s.get("size"))
EOF
}
state_files >"$T/states.txt"
note "   the state files after the kill: $(paste -sd';' "$T/states.txt")"
# shellcheck disable=SC2016 # awk fields
check "6. a state file holds a checkpoint inside the volume (0 < offset < size)" \
	awk '$2 == "write" && $4 > 0 && $4 < $5 { ok = 1 } END { exit !ok }' "$T/states.txt"
log_lines=$(wc -l <"$AGENT_LOG")
agent_restart
pass "6. gc-agent starts again without the throttle and says hello"
all_certified() {
	exit_json && [[ $(jget "$T/exit.json" 'str(len(d["exit"]["volumes"])) + " " + str(len([v for v in d["exit"]["volumes"] if v["certified"]]))') == "4 4" ]]
}
poll 120 all_certified || true
check "6. every volume certified (GET /v1/systems/$SID/exit: 4 of 4)" all_certified
tail -n +"$((log_lines + 1))" "$AGENT_LOG" >"$T/agent-after.log"
note "   after the restart: $(grep -E ': disk .* wiped' "$T/agent-after.log" | sed 's/.*: disk/disk/' | paste -sd';')"
# shellcheck disable=SC2016 # awk fields
check "6. the wipe resumed from its checkpoint: the agent's log says (resumed) with fewer bytes written than the volume's" \
	awk '/ wiped \(resumed\)/ { for (i = 1; i <= NF; i++) if ($i == "bytes" && $(i+1) == "written,") { if ($(i-1) + 0 < 1073741824) ok = 1 } } END { exit !ok }' "$T/agent-after.log"
is "6. every volume at 100% (gcctl system exit)" \
	"$(gcctl_as provider system exit "$SID" | awk 'NF >= 8 && $NF == "yes" && $(NF-5) == "100.0%"' | wc -l)" 4
note "6. throttled, killed, resumed: $((SECONDS - t6)) s"

# ---------------------------- 7. delete, network, release, exit sheet ---

t7=$SECONDS
exit_sheet() {
	api provider GET "/v1/sheets?system=$SID"
	EXIT_SHEET=$(jget "$BODY" '[s["id"] for s in d["sheets"] if s["kind"] == "exit"][0]')
}
poll 90 exit_sheet || true
check "7. the reclaim went on by itself to the exit sheet (GET /v1/sheets?system=$SID kind exit)" test -n "${EXIT_SHEET:-}"
exit_json
is "7. the exit is at step sheet, without a problem" "$(jget "$T/exit.json" 'd["exit"]["step"] + " " + str(d["exit"]["problem"])')" "sheet None"
is "7. vm.delete: no domain left (virsh list --all)" "$(lv_virsh list --all --uuid | grep -c . || true)" 0
is "7. ... no volume left in the pool (virsh vol-list)" "$(lv_virsh vol-list "$POOL" | grep -c . || true)" 0
MARK=0
check "7. a job.done for vm.delete of each VM" \
	audit_since "len([r for r in rs if r['action'] == 'job.done' and r['detail'].get('kind') == 'vm.delete']) == 2 or 1/0"
check "7. the VPC's jobs: a vpc.delete done on host-a" \
	audit_since "any(r['action'] == 'job.done' and r['detail'].get('kind') == 'vpc.delete' for r in rs) or 1/0"
check "7. reclaim.released (R-LC5) names 2 VMs and the VNI, CIDR and addresses given back" \
	audit_since "any(r['action'] == 'reclaim.released' and r['rule'] == 'R-LC5' and r['detail']['vms'] == 2 and r['detail'].get('vni') and r['detail'].get('cidr') and r['detail'].get('addresses') for r in rs) or 1/0"
check "7. the steps in order: stopping, wiping, deleting, network, sheet (reclaim.step)" \
	audit_since "[r['detail']['step'] for r in rs if r['action'] == 'reclaim.step'] == ['stopping', 'wiping', 'deleting', 'network', 'sheet'] or 1/0"
api provider GET "/v1/sheets/${EXIT_SHEET:-0}"
cp "$BODY" "$T/exit-sheet.json"
is "7. the exit sheet lists both VMs, each with its 2 volumes (system, data)" \
	"$(jget "$T/exit-sheet.json" 'sorted((v["uuid"], sorted(x["disk"] for x in v["volumes"])) for v in d["sheet"]["document"]["released"]["vms"])')" \
	"$(python3 -c 'import json, sys; print(json.dumps(sorted([u, ["data", "system"]] for u in sys.argv[1:])))' "${UUIDS[@]}")"
is "7. ... each volume: method zero, category Clear, verification full, result pass, a certificate" \
	"$(jget "$T/exit-sheet.json" 'sorted(set((x["method"], x["category"], x["verification"], x["result"], x["certificate"] is not None) for v in d["sheet"]["document"]["released"]["vms"] for x in v["volumes"]))')" \
	'[["zero", "Clear", "full", "pass", true]]'
# Each certificate on its own: RFC 8785 bytes, the host's key from the PKI, openssl.
mkdir -p "$T/certs"
certs_ok=0
python3 - "$T/exit-sheet.json" "$T/certs" >"$T/certs.out" 2>&1 <<'EOF' || certs_ok=1
import base64, json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))["sheet"]["document"]

def jcs(v):   # RFC 8785 for what a certificate holds: no fractions
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, int): return str(v)
    if isinstance(v, float):
        raise SystemExit("a fraction in a certificate: %r" % v)
    if isinstance(v, str): return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list): return "[" + ",".join(jcs(x) for x in v) + "]"
    keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(v[k]) for k in keys) + "}"

i = 0
for vm in doc["released"]["vms"]:
    for vol in vm["volumes"]:
        cert = dict(vol["certificate"])
        sig = cert.pop("signature")
        a = json.dumps(cert, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        b = jcs(cert)
        if a != b:
            raise SystemExit("json.dumps(sort_keys) and RFC 8785 differ for %s" % vol["path"])
        base = "%s/%d" % (sys.argv[2], i)
        open(base + ".bytes", "w", encoding="utf-8", newline="").write(a)
        open(base + ".sig", "wb").write(base64.b64decode(sig["value"]))
        open(base + ".info", "w").write("%s %s %s %s %s\n" % (vm["name"], vol["disk"], sig["key_type"], cert["volume"]["path"], cert["volume"]["size"]))
        # one byte changed: the size
        open(base + ".bad", "w", encoding="utf-8", newline="").write(a.replace('"size":%d' % cert["volume"]["size"], '"size":%d' % (cert["volume"]["size"] + 1), 1))
        i += 1
print(i)
EOF
[[ $certs_ok == 0 ]] || sed 's/^/    # /' "$T/certs.out"
CERTS=$(find "$T/certs" -name '*.bytes' | wc -l)
is "7. 4 certificates, each RFC 8785 the same as json.dumps(sort_keys, compact) (integers alike)" "$CERTS" 4
verify_certs() {   # verify_certs SUFFIX
	local f n=0
	for f in "$T"/certs/*.bytes; do
		f=${f%.bytes}
		openssl pkeyutl -verify -pubin -inkey "$HOST_PUB" -rawin -in "$f.$1" -digest sm3 \
			-pkeyopt distid:1234567812345678 -sigfile "$f.sig" >"$f.$1.out" 2>&1 || { echo "$(cat "$f.info"): $(cat "$f.$1.out")"; return 1; }
		n=$((n + 1))
	done
	[[ $n -eq 4 ]]
}
check "7. openssl pkeyutl -verify (SM2, SM3, distid 1234567812345678) of each certificate with host-a's public key from the PKI" verify_certs bytes
is "7. ... each an SM2 signature over a 1 GiB volume that was in the pool" \
	"$(awk -v p="$POOL_DIR/" '$3 == "sm2" && index($4, p) == 1 && $5 == 1073741824' "$T"/certs/*.info | wc -l)" 4
cmp -s "$T/certs/0.bytes" "$T/certs/0.bad" && bail "the changed certificate is the same as the original"
refute "7. a certificate with one byte changed (its size) fails that check" \
	openssl pkeyutl -verify -pubin -inkey "$HOST_PUB" -rawin -in "$T/certs/0.bad" -digest sm3 \
	-pkeyopt distid:1234567812345678 -sigfile "$T/certs/0.sig"
note "7. delete, network, sheet: $((SECONDS - t7)) s"

# ------------------------------------------ 8. three signatures: reclaimed ---

t8=$SECONDS
for p in tenant provider authority; do
	k=$TENANT_KEY
	[[ $p == provider ]] && k=$PROVIDER_KEY
	[[ $p == authority ]] && k=$AUTHORITY_KEY
	run_gcctl "$p" "$T/xsign-$p.out" sheet sign "${EXIT_SHEET:-0}" --party "$p" --key "$k"
	check "8. the $p signs the exit sheet (gcctl sheet sign)" test "$RC" = 0
done
poll 10 system_in "$SID" reclaimed || true
is "8. the system is reclaimed" "$(system_state "$SID")" reclaimed
exit_json
is "8. the exit is at step done" "$(jget "$T/exit.json" 'd["exit"]["step"]')" "done"
run_gcctl provider "$T/xexport.out" sheet export "${EXIT_SHEET:-0}" -o "$T/exit-export.json"
check "8. gcctl sheet export of the exit sheet: exit 0" test "$RC" = 0
run_gcctl provider "$T/xverify.out" sheet verify "$T/exit-export.json"
check "8. gcctl sheet verify on the export: exit 0" test "$RC" = 0
note "8. signatures: $((SECONDS - t8)) s"

# -------------------------------------------- 9. the raw device, the chain ---

t9=$SECONDS
check "9. gc-agent stops on SIGTERM with status 0" agent_stop
lv_stop
umount "$MNT" || bail "umount $MNT"
check "9. the file system is unmounted" bash -c "! mountpoint -q '$MNT' && ! grep -q '^$LOOP_DEV ' /proc/mounts"
AFTER=$(scan_markers)
is "9. a scan of the whole raw device, freed blocks included: not one marker left (before: $BEFORE)" "$AFTER" 0
first_sectors_clean() {
	local path off s
	while read -r path off; do
		s=$(dev_sector "$off" | od -A d -c | head -n 2)
		if dev_sector "$off" | grep -aq "$MARKER"; then
			echo "byte $off, where $path began: $s"
			return 1
		fi
	done <"$T/phys"
}
check "9. od of the first sector where each volume was shows no marker" first_sectors_clean
note "   $(head -n 1 "$T/phys" | awk '{ print $2 }'): $(dev_sector "$(head -n 1 "$T/phys" | awk '{ print $2 }')" | od -A d -c | head -n 2 | paste -sd' ' | tr -s ' ')"
run_gcctl authority "$T/av.out" audit verify
check "9. gcctl audit verify: exit 0" test "$RC" = 0
check "9. gc-orchestrator stops on SIGTERM with status 0" orch_stop
note "9. scan and chain: $((SECONDS - t9)) s"
note "total: $((SECONDS - t0)) s"
finish
