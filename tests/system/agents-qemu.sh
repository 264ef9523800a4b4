#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gc-orchestrator and one gc-agent on a real libvirtd with qemu (TCG)
# guests: a private libvirtd (lib-libvirtd.sh), a dir storage pool made for
# the run, the orchestrator on 127.0.0.1 with the run's PKI (the integration
# suite's lib.sh), the agent's capacity overridden (arch x86_64). Shows:
#
#  1. an approved apply of small VMs (1 vCPU, 1 GiB, 1 GiB system and data
#     disks) on a host whose capacity is learned from hello: every VM a
#     running qemu domain, the system in trial;
#  2. a change raising one VM to 2 vCPUs, 2 GiB and a 2 GiB data disk: the
#     running guest's vCPUs, the domain's memory and the volume and block
#     device sizes, read with virsh;
#  3. kill -9 of the agent in the middle of an apply, and a restart on the
#     same journal: every VM running, each domain defined once, every job
#     done once in the audit chain;
#  4. the labels read back with virsh: the title is the VM's full name
#     (UTF-8), the metadata element holds what the orchestrator recorded;
#  5. a title changed with virsh is recorded as vm.drift (R-NM3) within a
#     few heartbeats and repaired by the agent.
#
# Without a guest OS there is no balloon driver: the guest keeps the memory
# it booted with (the maximum), so the memory the agent sets is read from
# the domain's definition (virsh dumpxml --inactive), not from the guest.
#
# Environment (set by meson): GC_SRCDIR, GC_BUILDDIR; GC_AGENT overrides
# $GC_BUILDDIR/agent/gc-agent. GC_KEEP_TMP=1 keeps the run's directory.
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

: "${GC_SRCDIR:?GC_SRCDIR must name the source tree}"
: "${GC_BUILDDIR:?GC_BUILDDIR must name the build tree}"
# shellcheck source=tests/integration/lib.sh
. "$GC_SRCDIR/tests/integration/lib.sh"

AGENT_BIN=${GC_AGENT:-$GC_BUILDDIR/agent/gc-agent}
[[ -x $AGENT_BIN ]] || bail "$AGENT_BIN is not built"
XMLNS=https://govcloud.example/xmlns/vm/1
POOL=gc-agents
AGENT_PID=
AGENT_LOG=$T/agent.log

# Descriptor 9: the output at the start, so that an exit inside a check
# whose output is discarded still reports what happened. Background
# processes are started without it.
exec 9>&1
_system_cleanup() {
	local rc=$?
	set +e
	exec 1>&9 2>&1
	if [[ -n $AGENT_PID ]]; then
		kill -KILL "$AGENT_PID" 2>/dev/null
		wait "$AGENT_PID" 2>/dev/null
	fi
	if [[ $rc -ne 0 && $rc -ne 77 ]]; then
		if [[ -s $AGENT_LOG ]]; then
			printf '# the last lines of the agent log:\n'
			tail -n 25 "$AGENT_LOG" | sed 's/^/#   /'
		fi
		if [[ -n $LV_DIR && -s $LV_DIR/libvirtd.log ]]; then
			printf '# the last lines of the libvirtd log:\n'
			tail -n 15 "$LV_DIR/libvirtd.log" | sed 's/^/#   /'
		fi
	fi
	lv_stop
	(exit "$rc")
	_cleanup
}
trap _system_cleanup EXIT
# lib.sh's bail, its report sent to the output at the start.
bail() {
	exec 1>&9 2>&1
	fail "$*"
	printf 'Bail out! %s\n' "$*"
	exit 1
}

# ---------------------------------------------------------------- setup ---

t0=$SECONDS
lv_start 9>&- || bail "cannot start a private libvirtd"
lv_pool "$POOL" || bail "cannot create the storage pool $POOL"
pass "a private libvirtd answers on $LV_URI, dir pool $POOL"

make_pki --host host-a
# Small flavours: the VMs' maximums (the pool's largest flavour) stay small,
# and a 1 GiB system disk is allowed.
write_config '[]' '{"pools": [{"name": "包头-A", "arch": ["x86"], "flavours": {"vcpus": {"min": 1, "max": 2}, "memory_gib": {"min": 1, "max": 2}, "system_disk_gib": {"min": 1, "max": 4}, "data_disk_gib": {"min": 0, "max": 4}}}]}'
orch_start 9>&-
pass "gc-orchestrator answers on $URL"

register_unit '市xx局'
register_system '市xx局' '协同办公OA'
SYS_A=$LAST_ID
record_agreement "$SYS_A"
register_system '市xx局' '门户网站'
SYS_B=$LAST_ID
record_agreement "$SYS_B"
register_approval_system approval-oa "$(sign_pub approval)"
# No declared capacity: the host gets its figures from the agent's hello.
api provider POST /v1/hosts '{"name": "host-a", "pool": "包头-A", "underlay_address": "10.0.0.1", "operations_address": "10.1.0.1"}'
check "host-a is registered without a capacity (201)" want 201

who_files host=host-a
cat >"$T/agent.json" <<EOF
{
  "orchestrator": "$URL",
  "tls": {"cert": "$CERT", "key": "$KEY", "ca": "$PKI/ca.crt"},
  "libvirt_uri": "$LV_URI",
  "storage_pool": "$POOL",
  "capacity": {"vcpus": 16, "memory_mib": 32768, "arch": "x86_64"},
  "poll_seconds": 25,
  "journal": "$T/agent.journal"
}
EOF

agent_start() {
	printf -- '--- start %s\n' "$(date -u +%FT%TZ)" >>"$AGENT_LOG"
	"$AGENT_BIN" -c "$T/agent.json" >>"$AGENT_LOG" 2>&1 9>&- &
	AGENT_PID=$!
}
host_up() {
	api provider GET /v1/hosts >/dev/null && [[ $STATUS == 200 ]] &&
		[[ $(jget "$BODY" '[h for h in d["hosts"] if h["name"] == "host-a"][0]["state"]') == up ]]
}
hellos() { grep -c 'hello: this is host host-a' "$AGENT_LOG" || true; }

agent_start
poll 30 host_up || bail "host-a did not say hello within 30 s"
api provider GET /v1/hosts
is "the orchestrator learned host-a's capacity from hello" \
	"$(jget "$BODY" '[str(h["vcpus"]) + " " + str(h["memory_mib"]) + " " + h["arch"] for h in d["hosts"] if h["name"] == "host-a"][0]')" \
	"16 32768 x86_64"

# ------------------------------------------------------------- helpers ---

# vms_json SYSTEM: GET /v1/vms?system=SYSTEM into $T/vms-SYSTEM.json.
vms_json() {
	api authority GET "/v1/vms?system=$1"
	want 200 >/dev/null || return 1
	cp "$BODY" "$T/vms-$1.json"
}
# all_running SYSTEM N: N VMs, every one running.
all_running() {
	vms_json "$1" || return 1
	[[ $(jget "$T/vms-$1.json" 'str(len(d["vms"])) + " " + str(len([v for v in d["vms"] if v["state"] == "running"]))') == "$2 $2" ]]
}
system_state() {
	api authority GET "/v1/systems/$1"
	jget "$BODY" 'd["system"]["state"]'
}
system_in() { [[ $(system_state "$1") == "$2" ]]; }
# uuids SYSTEM: the VMs' UUIDs, one a line, sorted.
uuids() { jget "$T/vms-$1.json" '"\n".join(sorted(v["uuid"] for v in d["vms"]))'; }
dom_state() { lv_virsh domstate "gc-$1" 2>/dev/null | head -n 1; }

# A small VM: 1 vCPU, 1 GiB, 1 GiB system and data disks.
small_vm_sets() {
	local i
	for i in 0 1; do
		printf '%s\n' "--set-json=vms.$i.vcpus=1" "--set-json=vms.$i.memory_gib=1" \
			"--set-json=vms.$i.system_disk.gib=1" "--set-json=vms.$i.data_disk.gib=1"
	done
}
mapfile -t SMALL < <(small_vm_sets)

# ---------------------------------------------- 1. provisioning on qemu ---

t1=$SECONDS
sign "$SAMPLES/apply.json" "$T/apply-a.json" --set=approval.id=OA-SYS-0001 "${SMALL[@]}"
submit "$T/apply-a.json"
check "the apply for 协同办公OA (3 small VMs) is accepted (201)" want 201
poll 60 all_running "$SYS_A" 3 || true
check "all 3 VMs of 协同办公OA are running (GET /v1/vms)" all_running "$SYS_A" 3
poll 10 system_in "$SYS_A" trial || true
is "协同办公OA is in trial" "$(system_state "$SYS_A")" trial
uuids "$SYS_A" >"$T/uuids-a"
running_domains() {
	local u pid
	while read -r u; do
		[[ $(dom_state "$u") == running ]] || { echo "gc-$u: $(dom_state "$u")"; return 1; }
		[[ $(lv_virsh dumpxml "gc-$u") == *"<domain type='qemu'"* ]] || { echo "gc-$u is not a qemu domain"; return 1; }
		pid=$(pgrep -f "qemu-system-x86_64 -name guest=gc-$u,") || { echo "no qemu process for gc-$u"; return 1; }
		[[ $(tr '\0' ' ' <"/proc/$pid/cmdline") == *" -accel tcg "* ]] || { echo "gc-$u: qemu $pid without -accel tcg"; return 1; }
	done <"$1"
}
check "each is a running qemu (TCG) domain named gc-UUID, one qemu -accel tcg process each (virsh domstate, dumpxml; /proc)" running_domains "$T/uuids-a"
note "1. provisioning: $((SECONDS - t1)) s"

# -------------------------------------------------------- 4. labels ---

# labels_match SYSTEM: for every VM, virsh's title is the full name and the
# metadata element holds the orchestrator's record.
labels_match() {
	local sys=$1 u
	api authority GET "/v1/systems/$sys"
	cp "$BODY" "$T/system-$sys.json"
	while read -r u; do
		lv_virsh desc --title "gc-$u" >"$T/title-$u" || return 1
		lv_virsh metadata "gc-$u" "$XMLNS" >"$T/meta-$u" || return 1
	done <"$T/uuids-a"
	python3 - "$T/vms-$sys.json" "$T/system-$sys.json" "$T" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
vms = json.load(open(sys.argv[1], encoding="utf-8"))["vms"]
system = json.load(open(sys.argv[2], encoding="utf-8"))["system"]
bad = 0
for v in vms:
    title = open("%s/title-%s" % (sys.argv[3], v["uuid"]), encoding="utf-8").read().rstrip("\n")
    meta = ET.fromstring(open("%s/meta-%s" % (sys.argv[3], v["uuid"]), encoding="utf-8").read())
    got = {c.tag.split("}")[-1]: (c.text or "") for c in meta}
    want = {"unit": v["unit"], "system": v["system"], "role": v["role"], "number": str(v["number"]),
            "request": str(v["request_id"]), "pool": system["pool"]}
    if title != v["name"]:
        print("gc-%s: title %r, want %r" % (v["uuid"], title, v["name"])); bad += 1
    if meta.tag.split("}")[-1] != "vm" or got != want:
        print("gc-%s: metadata %r, want %r" % (v["uuid"], got, want)); bad += 1
sys.exit(1 if bad else 0)
EOF
}
vms_json "$SYS_A"
check "virsh desc --title is each VM's full name; virsh metadata $XMLNS holds unit, system, role, number, request, pool as recorded" \
	labels_match "$SYS_A"
note "   e.g. $(head -n 1 "$T/uuids-a" | while read -r u; do printf 'gc-%s: "%s" %s' "$u" "$(cat "$T/title-$u")" "$(tr -d '\n' <"$T/meta-$u")"; done)"

# --------------------------------------------- 2. live vCPUs, memory, disk ---

t2=$SECONDS
VM_NAME=$(jget "$T/vms-$SYS_A.json" '[v["name"] for v in d["vms"] if v["number"] == 1 and v["role"] == "应用服务器"][0]')
VM_UUID=$(jget "$T/vms-$SYS_A.json" "[v['uuid'] for v in d['vms'] if v['name'] == '$VM_NAME'][0]")
DOM=gc-$VM_UUID
live_vcpus() { lv_virsh vcpucount "$DOM" --live --current; }
config_memory_kib() { lv_virsh dumpxml --inactive "$DOM" | sed -n 's|.*<currentMemory unit=.KiB.>\([0-9]*\)</currentMemory>.*|\1|p'; }
dominfo() { lv_virsh dominfo "$DOM" | sed -n "s/^$1: *//p"; }
data_vol() { lv_virsh vol-list "$POOL" | awk -v v="$DOM-data.img" '$1 == v { print $2 }'; }
vol_bytes() { lv_virsh vol-info --bytes "$(data_vol)" | sed -n 's/^Capacity: *\([0-9]*\) bytes$/\1/p'; }
data_dev() { lv_virsh domblklist "$DOM" | awk -v v="$DOM-data.img" '$2 ~ v { print $1 }'; }
blk_bytes() { lv_virsh domblkinfo "$DOM" "$(data_dev)" | sed -n 's/^Capacity: *//p'; }

is "before: $VM_NAME runs 1 vCPU (virsh vcpucount --live)" "$(live_vcpus)" 1
is "before: its memory is 1 GiB (virsh dumpxml --inactive: currentMemory)" "$(config_memory_kib)" 1048576
is "before: its data volume is 1 GiB (virsh vol-info)" "$(vol_bytes)" $((1 << 30))
is "before: the running data disk is 1 GiB (virsh domblkinfo)" "$(blk_bytes)" $((1 << 30))
used_before=$(dominfo 'Used memory')

sign "$SAMPLES/change-resize-add.json" "$T/change.json" --set=approval.id=OA-SYS-0002 --unset=add \
	"--set-json=resize=[{\"name\": \"$VM_NAME\", \"vcpus\": 2, \"memory_gib\": 2, \"data_disk_gib\": 2}]"
submit "$T/change.json"
check "a change raising $VM_NAME to 2 vCPUs, 2 GiB and a 2 GiB data disk is accepted (201)" want 201
resized() {
	vms_json "$SYS_A" &&
		[[ $(jget "$T/vms-$SYS_A.json" "[str(v['observed']['vcpus']) + ' ' + str(v['observed']['memory_mib']) + ' ' + v['state'] for v in d['vms'] if v['name'] == '$VM_NAME'][0]") == "2 2048 running" ]]
}
poll 60 resized || true
check "the orchestrator records what the agent reports: 2 vCPUs, 2048 MiB, running" resized
poll 10 system_in "$SYS_A" trial || true
is "协同办公OA is back in trial" "$(system_state "$SYS_A")" trial
is "after: the running guest has 2 vCPUs (virsh vcpucount --live)" "$(live_vcpus)" 2
is "after: its memory is 2 GiB (virsh dumpxml --inactive: currentMemory)" "$(config_memory_kib)" 2097152
is "after: the running guest may hold 2 GiB (virsh dominfo: Max memory)" "$(dominfo 'Max memory')" "2097152 KiB"
note "   virsh dominfo Used memory: $used_before before, $(dominfo 'Used memory') after (no balloon driver in a diskless guest: it keeps what it booted with)"
is "after: its data volume is 2 GiB (virsh vol-info)" "$(vol_bytes)" $((2 << 30))
is "after: the running data disk is 2 GiB (virsh domblkinfo $(data_dev))" "$(blk_bytes)" $((2 << 30))
is "after: $DOM is still running" "$(dom_state "$VM_UUID")" running
note "2. change: $((SECONDS - t2)) s"

# ------------------------------------------ 3. kill -9 of the agent mid-job ---

t3=$SECONDS
N_B=8
done_lines() { grep -Ec '"state": *"done"' "$T/agent.journal" || true; }
done_before=$(done_lines)
sign "$SAMPLES/apply.json" "$T/apply-b.json" --set=approval.id=OA-SYS-0003 --set=system.name=门户网站 \
	"${SMALL[@]}" --set-json=vms.0.count=5 --set-json=vms.1.count=3
submit "$T/apply-b.json"
check "the apply for 门户网站 ($N_B small VMs) is accepted (201)" want 201
first_done() { [[ $(done_lines) -gt $done_before ]]; }
if poll 60 first_done; then
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=
else
	bail "the agent finished no job of the apply within 60 s"
fi
killed_done=$(($(done_lines) - done_before))
killed_domains=$(lv_virsh list --all --uuid | grep -c . || true)
note "   killed after $killed_done of $N_B jobs done in the journal; $killed_domains domains defined then"
check "the agent was killed with jobs of the apply left ($killed_done of $N_B done)" test "$killed_done" -lt "$N_B"

hellos_before=$(hellos)
agent_start
hello_again() { [[ $(hellos) -gt $hellos_before ]]; }
poll 30 hello_again || bail "the restarted agent did not say hello within 30 s"
pass "the agent starts again on the same journal and says hello"
poll 60 all_running "$SYS_B" "$N_B" || true
if all_running "$SYS_B" "$N_B"; then
	pass "all $N_B VMs of 门户网站 are running (GET /v1/vms)"
else
	fail "all $N_B VMs of 门户网站 are running (GET /v1/vms)"
	jget "$T/vms-$SYS_B.json" '"\n".join("%s: %s, the agent reported %s" % (v["name"], v["state"], (v["observed"] or {}).get("state")) for v in d["vms"] if v["state"] != "running")' |
		sed 's/^/    # /'
fi
poll 10 system_in "$SYS_B" trial || true
is "门户网站 is in trial" "$(system_state "$SYS_B")" trial
uuids "$SYS_B" >"$T/uuids-b"
sort "$T/uuids-a" "$T/uuids-b" >"$T/uuids-all"
lv_virsh list --all --uuid | grep . | sort >"$T/virsh-uuids"
check "virsh list --all --uuid: no UUID twice" test -z "$(uniq -d "$T/virsh-uuids")"
check "virsh list --all --uuid: exactly the UUIDs of the 11 VMs" diff "$T/uuids-all" "$T/virsh-uuids"
names_ok() {
	local u
	while read -r u; do
		[[ $(lv_virsh domname "$u") == "gc-$u" ]] || { echo "$u is named $(lv_virsh domname "$u")"; return 1; }
	done <"$T/uuids-all"
}
check "each domain is named gc-UUID (virsh domname)" names_ok
is "every domain is running (virsh list --state-running)" "$(lv_virsh list --state-running --uuid | grep -c .)" 11
is "the pool holds two volumes per VM, none twice (virsh vol-list)" \
	"$(lv_virsh vol-list "$POOL" | awk 'NF { print $1 }' | sort -u | wc -l) $(lv_virsh vol-list "$POOL" | grep -c .)" "22 22"
check "each VM of 门户网站 is a running qemu (TCG) domain (virsh domstate, dumpxml; /proc)" running_domains "$T/uuids-b"

audit_fetch
jobs_once() {
	python3 - "$T/audit.json" "$T/uuids-b" <<'EOF'
import collections, json, sys
recs = json.load(open(sys.argv[1], encoding="utf-8"))["records"]
want = set(open(sys.argv[2]).read().split())
done = collections.Counter(r["object"] for r in recs if r["action"] == "job.done")
twice = [j for j, n in done.items() if n > 1]
failed = [r["object"] for r in recs if r["action"] == "job.failed"]
per_vm = collections.Counter(r["detail"]["uuid"] for r in recs if r["action"] == "job.done" and r["detail"].get("uuid") in want)
bad = 0
if twice:
    print("job.done twice for", twice); bad = 1
if failed:
    print("job.failed:", failed); bad = 1
if set(per_vm) != want or any(n != 1 for n in per_vm.values()):
    print("job.done per VM of the apply:", dict(per_vm)); bad = 1
print("%d job.done records, %d jobs" % (sum(done.values()), len(done)))
sys.exit(bad)
EOF
}
check "the audit chain holds one job.done per job (none twice, none failed), one per VM of the apply" jobs_once
note "   $(jobs_once | tail -n 1); resent after hello: $(jget "$T/audit.json" '[r["detail"].get("jobs_resent") for r in d["records"] if r["action"] == "host.hello"]')"
note "3. kill -9 and restart: $((SECONDS - t3)) s"

# ------------------------------------------------------------- 5. drift ---

t5=$SECONDS
VM_ID=$(jget "$T/vms-$SYS_A.json" "[v['id'] for v in d['vms'] if v['name'] == '$VM_NAME'][0]")
seq_before=$AUDIT_LAST
lv_virsh desc "$DOM" --title --new-desc "改过的标题 changed behind the orchestrator's back" --live --config >/dev/null
is "virsh changed the title of $DOM" "$(lv_virsh desc --title "$DOM")" "改过的标题 changed behind the orchestrator's back"
drift_recorded() {
	api authority GET "/v1/audit?after=$seq_before&limit=1000"
	[[ $STATUS == 200 ]] &&
		[[ $(jget "$BODY" "len([r for r in d['records'] if r['action'] == 'vm.drift' and r['object'] == 'vm:$VM_ID' and r['rule'] == 'R-NM3'])") -ge 1 ]]
}
poll 35 drift_recorded || true
check "within a few heartbeats the orchestrator records vm.drift (R-NM3) for $VM_NAME" drift_recorded
note "   drift recorded after $((SECONDS - t5)) s"
cp "$BODY" "$T/drift.json"
is "the drift record names the title found and the one expected" \
	"$(jget "$T/drift.json" "[r['detail']['found_title'] + ' / ' + r['detail']['expected_title'] for r in d['records'] if r['action'] == 'vm.drift'][0]")" \
	"改过的标题 changed behind the orchestrator's back / $VM_NAME"
title_back() { [[ $(lv_virsh desc --title "$DOM") == "$VM_NAME" ]]; }
poll 35 title_back || true
check "the agent's repair job restores the title (virsh desc --title)" title_back
in_sync() {
	vms_json "$SYS_A" && [[ $(jget "$T/vms-$SYS_A.json" "[v['labels_state'] for v in d['vms'] if v['id'] == $VM_ID][0]") == in_sync ]]
}
poll 15 in_sync || true
check "GET /v1/vms shows its labels in sync again" in_sync
check "and virsh still reads every label as recorded" labels_match "$SYS_A"
note "5. drift and repair: $((SECONDS - t5)) s"

# ------------------------------------------------------------------ stop ---

kill -TERM "$AGENT_PID"
rc=0
wait "$AGENT_PID" || rc=$?
AGENT_PID=
is "gc-agent stops on SIGTERM with status 0" "$rc" 0
check "the agent's log holds no sanitizer report" bash -c "! grep -Eq 'runtime error:|Sanitizer' '$AGENT_LOG'"
check "gc-orchestrator stops on SIGTERM with status 0" orch_stop
note "total: $((SECONDS - t0)) s"
finish
