#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Real utilization figures from qemu (TCG) guests on a real libvirtd reach the
# orchestrator's daily aggregates (R-RS1..R-RS7, R-LC2; agent/usage.h,
# orchestrator/usage.h): a private libvirtd (lib-libvirtd.sh), gc-orchestrator
# on 127.0.0.1 with the run's PKI (the integration suite's lib.sh), one
# gc-agent sampling every 2 s (--unsafe-test-metrics-interval; the
# configuration's floor is 5 s) and posting a batch every 5 s. Shows:
#
#  1. --check-config names the sampler's settings; an apply of 3 small VMs
#     (1 vCPU each, blank disks) -> running qemu domains;
#  2. usage_daily gets at least 3 CPU samples of every VM; the figures are
#     real: the CPU time read independently with virsh domstats around a
#     known wall interval gives each guest's own CPU %, and the aggregates
#     agree with it within a generous band (average above 0 and at most
#     100; maximum at least a third of it; the samples that arrived around
#     the window within [a third of it, 3 times it + 5 points]); the disk
#     figure is what virsh domstats --block gives (allocation over
#     capacity); memory has no sample at all (no balloon driver in a guest
#     without an OS: a gap, not a zero); the agent says "sent N samples of
#     3 VMs";
#  3. the orchestrator stopped: the agent goes on sampling and its batches
#     wait in the spool (files of exactly the body format); kill -9 of the
#     agent; the orchestrator back on the same port, the agent restarted:
#     the spooled batches go first, the spool empties, and the SHA-256 of
#     each spooled file is a batch digest the orchestrator counted (the
#     very bytes were sent); the same file POSTed again is a duplicate,
#     counted once;
#  4. SIGTERM: status 0; every sample the agent says it sent is counted
#     once (the samples of metric_batches from host-a).
#
# A blank-disk TCG guest spins in SeaBIOS only briefly, then halts waiting
# to retry the boot: about 0.5-1 % of a CPU here (measured with virsh
# domstats, 35 ms of CPU time per 5 s), a little more while it boots. Its
# disks are never written: allocation 0, a real 0 %, not a gap.
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
command -v sha256sum >/dev/null 2>&1 || tap_skip "sha256sum is not installed (coreutils)"

: "${GC_SRCDIR:?GC_SRCDIR must name the source tree}"
: "${GC_BUILDDIR:?GC_BUILDDIR must name the build tree}"
# shellcheck source=tests/integration/lib.sh
. "$GC_SRCDIR/tests/integration/lib.sh"

AGENT_BIN=${GC_AGENT:-$GC_BUILDDIR/agent/gc-agent}
[[ -x $AGENT_BIN ]] || bail "$AGENT_BIN is not built"
"$AGENT_BIN" --help 2>&1 | grep -q -- --unsafe-test-metrics-interval || bail "$AGENT_BIN has no --unsafe-test-metrics-interval"
POOL=gc-usage
AGENT_PID=
AGENT_LOG=$T/agent.log
LOGS[agent]=$AGENT_LOG
SPOOL=$T/agent.journal.metrics
INTERVAL=2
BATCH=5

exec 9>&1
_usage_cleanup() {
	local rc=$?
	set +e
	exec 1>&9 2>&1
	if [[ -n $AGENT_PID ]]; then
		kill -KILL "$AGENT_PID" 2>/dev/null
		wait "$AGENT_PID" 2>/dev/null
	fi
	# (the agent's log is shown by lib.sh's _cleanup: LOGS[agent])
	if [[ $rc -ne 0 && $rc -ne 77 && -n $LV_DIR && -s $LV_DIR/libvirtd.log ]]; then
		printf '# the last lines of the libvirtd log:\n'
		tail -n 15 "$LV_DIR/libvirtd.log" | sed 's/^/#   /'
	fi
	lv_stop
	(exit "$rc")
	_cleanup
}
trap _usage_cleanup EXIT
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
write_config '[]' '{"pools": [{"name": "包头-A", "arch": ["x86"], "flavours": {"vcpus": {"min": 1, "max": 2}, "memory_gib": {"min": 1, "max": 2}, "system_disk_gib": {"min": 1, "max": 4}, "data_disk_gib": {"min": 0, "max": 4}}}]}'
orch_start 9>&-
pass "gc-orchestrator answers on $URL"

register_unit '市xx局'
register_system '市xx局' '协同办公OA'
SYS_A=$LAST_ID
record_agreement "$SYS_A"
register_approval_system approval-oa "$(sign_pub approval)"
api provider POST /v1/hosts '{"name": "host-a", "pool": "包头-A", "underlay_address": "10.0.0.1", "operations_address": "10.1.0.1"}'
want 201 >"$T/reg.err" || bail "register host-a: $(cat "$T/reg.err")"

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
  "metrics": {"enabled": true, "interval_seconds": 5, "batch_seconds": $BATCH, "batch_max": 5000}
}
EOF

"$AGENT_BIN" -c "$T/agent.json" --check-config --unsafe-test-metrics-interval "$INTERVAL" >"$T/check.txt" 2>"$T/check.err" 9>&- ||
	bail "gc-agent --check-config failed: $(cat "$T/check.err")"
is "--check-config names the sampler: interval, batches, spool beside the journal" \
	"$(grep '^metrics:' "$T/check.txt")" \
	"metrics: every VM sampled every $INTERVAL s; a batch posted every $BATCH s or at 5000 samples; spool $SPOOL"

agent_start() {
	printf -- '--- start %s\n' "$(date -u +%FT%TZ)" >>"$AGENT_LOG"
	"$AGENT_BIN" -c "$T/agent.json" --unsafe-test-metrics-interval "$INTERVAL" --log-level debug >>"$AGENT_LOG" 2>&1 9>&- &
	AGENT_PID=$!
}
host_up() {
	api provider GET /v1/hosts >/dev/null && [[ $STATUS == 200 ]] &&
		[[ $(jget "$BODY" '[h for h in d["hosts"] if h["name"] == "host-a"][0]["state"]') == up ]]
}
agent_start
poll 30 host_up || bail "host-a did not say hello within 30 s"
pass "gc-agent says hello (metrics every $INTERVAL s, a batch every $BATCH s)"

# ------------------------------------------------------ 1. VMs running ---

vms_json() {
	api authority GET "/v1/vms?system=$SYS_A"
	want 200 >/dev/null || return 1
	cp "$BODY" "$T/vms.json"
}
all_running() {
	vms_json || return 1
	[[ $(jget "$T/vms.json" 'str(len(d["vms"])) + " " + str(len([v for v in d["vms"] if v["state"] == "running"]))') == "$1 $1" ]]
}
small_vm_sets() {
	local i
	for i in 0 1; do
		printf '%s\n' "--set-json=vms.$i.vcpus=1" "--set-json=vms.$i.memory_gib=1" \
			"--set-json=vms.$i.system_disk.gib=1" "--set-json=vms.$i.data_disk.gib=1"
	done
}
mapfile -t SMALL < <(small_vm_sets)

t1=$SECONDS
sign "$SAMPLES/apply.json" "$T/apply.json" --set=approval.id=OA-SYS-0001 "${SMALL[@]}"
submit "$T/apply.json"
check "the apply for 协同办公OA (3 small VMs) is accepted (201)" want 201
poll 90 all_running 3 || true
check "all 3 VMs are running (GET /v1/vms)" all_running 3
jget "$T/vms.json" '"\n".join("%s %s" % (v["id"], v["uuid"]) for v in sorted(d["vms"], key=lambda v: v["id"]))' >"$T/vms.txt"
one_vcpu_qemu() {
	local id u
	while read -r id u; do
		[[ $(lv_virsh domstate "gc-$u") == running ]] || { echo "gc-$u is not running"; return 1; }
		[[ $(lv_virsh dumpxml "gc-$u") == *"<domain type='qemu'"* ]] || { echo "gc-$u is not a qemu domain"; return 1; }
		[[ $(lv_virsh vcpucount "gc-$u" --live --current) == 1 ]] || { echo "gc-$u does not run 1 vCPU"; return 1; }
	done <"$T/vms.txt"
}
check "each is a running qemu (TCG) domain with 1 vCPU (virsh domstate, dumpxml, vcpucount)" one_vcpu_qemu
note "1. apply: $((SECONDS - t1)) s"

# ------------------------------------------------------ 2. the figures ---

# aggregates FILE: per VM (id uuid) the sums over its days:
# cpu_n cpu_sum cpu_max mem_n mem_max disk_n disk_max (NULL as "-").
aggregates() {
	local id u
	: >"$1"
	while read -r id u; do
		printf '%s %s %s\n' "$id" "$u" "$(dbq "SELECT COALESCE(SUM(cpu_n), 0), COALESCE(SUM(cpu_sum), 0), COALESCE(MAX(cpu_max), '-'),
			COALESCE(SUM(mem_n), 0), COALESCE(MAX(mem_max), '-'), COALESCE(SUM(disk_n), 0), COALESCE(MAX(disk_max), '-')
			FROM usage_daily WHERE vm_id = ?" "$id" | tr '\t' ' ')" >>"$1"
	done <"$T/vms.txt"
}
# cpu_at_least K [BASE]: every VM has K CPU samples (more than in BASE).
cpu_at_least() {
	aggregates "$T/agg-now.txt"
	python3 - "$1" "$T/agg-now.txt" "${2-}" <<'EOF'
import sys
k, now, base = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cnt = lambda f: {l.split()[0]: int(l.split()[2]) for l in open(f) if l.strip()}
have, before = cnt(now), (cnt(base) if base else {})
sys.exit(0 if all(have[i] - before.get(i, 0) >= k for i in have) else 1)
EOF
}
t2=$SECONDS
poll 120 cpu_at_least 3 || true
check "usage_daily holds at least 3 CPU samples of every VM" cpu_at_least 3
note "   first 3 samples of each VM after $((SECONDS - t2)) s: $(tr '\n' ';' <"$T/agg-now.txt")"

# The guests' own CPU, read independently: cpu.time (ns) twice around a
# known wall interval, and the aggregates before and after it.
cpu_times() {
	local id u
	while read -r id u; do
		printf '%s %s\n' "$id" "$(lv_virsh domstats "gc-$u" --cpu-total | sed -n 's/^ *cpu\.time=\([0-9]*\)$/\1/p')"
	done <"$T/vms.txt"
}
aggregates "$T/agg-before.txt"
w1=$(date +%s%N)
cpu_times >"$T/cpu-1.txt"
sleep 10
cpu_times >"$T/cpu-2.txt"
w2=$(date +%s%N)
# The samples taken in the window arrive within a batch or two.
poll 60 cpu_at_least 5 "$T/agg-before.txt" || true
aggregates "$T/agg-after.txt"
disk_figures() {
	local id u
	while read -r id u; do
		printf '%s %s\n' "$id" "$(lv_virsh domstats "gc-$u" --block | python3 -c '
import re, sys
t = sys.stdin.read()
a = sum(int(x) for x in re.findall(r"block\.\d+\.allocation=(\d+)", t))
c = sum(int(x) for x in re.findall(r"block\.\d+\.capacity=(\d+)", t))
print(round(a * 10000 / c) if c else "-")')"
	done <"$T/vms.txt"
}
disk_figures >"$T/disk.txt"

python3 - "$T/cpu-1.txt" "$T/cpu-2.txt" "$w1" "$w2" "$T/agg-before.txt" "$T/agg-after.txt" "$T/disk.txt" >"$T/figures.txt" <<'EOF'
import json, sys
c1 = dict(l.split() for l in open(sys.argv[1]) if l.strip())
c2 = dict(l.split() for l in open(sys.argv[2]) if l.strip())
wall = (int(sys.argv[4]) - int(sys.argv[3])) / 1e9
agg = lambda f: {l.split()[0]: l.split()[1:] for l in open(f) if l.strip()}
before, after = agg(sys.argv[5]), agg(sys.argv[6])
disk = dict(l.split() for l in open(sys.argv[7]) if l.strip())
out = {}
for vm, a in after.items():
    b = before[vm]
    n, s = int(a[1]), int(a[2])
    dn, ds = n - int(b[1]), s - int(b[2])
    out[vm] = {
        "uuid": a[0],
        "measured": (int(c2[vm]) - int(c1[vm])) / (wall * 1e9) * 100,   # 1 vCPU
        "cpu_n": n, "cpu_avg": s / n / 100 if n else None,
        "cpu_max": None if a[3] == "-" else int(a[3]) / 100,
        "window_n": dn, "window_avg": ds / dn / 100 if dn else None,
        "mem_n": int(a[4]), "mem_max": a[5],
        "disk_n": int(a[6]), "disk_max": None if a[7] == "-" else int(a[7]), "disk_virsh": disk[vm],
    }
print(json.dumps(out))
EOF
fig() { jget "$T/figures.txt" "$1"; }
note "   measured with virsh domstats over $(((w2 - w1) / 1000000)) ms, per VM id:"
fig '"\n".join("%s: measured %.2f %%; aggregates %d samples, average %.2f %%, max %.2f %%; window %d samples, average %s; disk %s (virsh %s) in %d samples; memory %d samples" % (k, v["measured"], v["cpu_n"], v["cpu_avg"] or 0, v["cpu_max"] or 0, v["window_n"], "%.2f %%" % v["window_avg"] if v["window_avg"] is not None else "-", v["disk_max"], v["disk_virsh"], v["disk_n"], v["mem_n"]) for k, v in sorted(d.items()))' |
	sed 's/^/     /' | while read -r line; do note "$line"; done
is "every guest used CPU in the window (virsh domstats cpu.time grew)" \
	"$(fig 'all(v["measured"] > 0 for v in d.values())')" true
is "R-RS1: every VM's CPU average is above 0 and at most 100 %" \
	"$(fig 'all(v["cpu_avg"] is not None and 0 < v["cpu_avg"] <= 100 for v in d.values())')" true
is "every VM's CPU maximum is at least a third of its measured CPU" \
	"$(fig 'all(v["cpu_max"] is not None and v["cpu_max"] >= v["measured"] / 3 for v in d.values())')" true
is "the samples around the window average within [measured / 3, 3 x measured + 5 points]" \
	"$(fig 'all(v["window_avg"] is not None and v["measured"] / 3 <= v["window_avg"] <= 3 * v["measured"] + 5 for v in d.values())')" true
is "R-RS2: no memory sample at all (no balloon driver in the guest: a gap, not a zero; mem_n 0, mem_max NULL)" \
	"$(fig 'all(v["mem_n"] == 0 and v["mem_max"] == "-" for v in d.values())')" true
is "R-RS5: disk samples for every VM, the figure virsh domstats --block gives (allocation / capacity)" \
	"$(fig 'all(v["disk_n"] > 0 and str(v["disk_max"]) == v["disk_virsh"] for v in d.values())')" true
check "the agent logs each batch: \"metrics: sent N samples of 3 VMs\"" grep -Eq 'metrics: sent [0-9]+ samples of 3 VMs' "$AGENT_LOG"
check "and the gaps only at debug level (\"memory_pct null: no balloon figures from the guest\")" \
	grep -Eq 'debug .*metrics: [0-9a-f-]{36}: .*memory_pct null: no balloon figures from the guest' "$AGENT_LOG"
refute "no warning about the figures themselves" grep -Eq '(warning|error) .*metrics:' "$AGENT_LOG"

# ------------------------------------------- 3. outage, spool, restart ---

t3=$SECONDS
check "gc-orchestrator stops on SIGTERM with status 0" orch_stop
spooled() { [[ $(find "$SPOOL" -name '*.json' | wc -l) -ge $1 ]]; }
poll 90 spooled 2 || true
check "while the orchestrator is away the agent goes on sampling: batches wait in the spool" spooled 2
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
mkdir -p "$T/spooled"
cp "$SPOOL"/*.json "$T/spooled/"
note "   $(find "$T/spooled" -name '*.json' | wc -l) batches spooled when the agent was killed (-9): $(find "$T/spooled" -name '*.json' -printf '%f ')"
spool_format() {
	python3 - "$T/spooled" "$T/vms.txt" <<'EOF'
import calendar, glob, json, re, sys, time
uuids = {l.split()[1] for l in open(sys.argv[2]) if l.strip()}
num = re.compile(r'^(0|[1-9][0-9]{0,2})(\.[0-9]{1,2})?$')
bad = 0
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    raw = open(f, "rb").read()
    d = json.loads(raw)
    if list(d) != ["samples"] or not d["samples"]:
        print(f, "is not {\"samples\": [...]}"); bad = 1; continue
    for s in d["samples"]:
        if list(s) != ["uuid", "time", "cpu_pct", "memory_pct", "disk_pct"] or s["uuid"] not in uuids:
            print(f, "sample", s); bad = 1
        if not re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', s["time"]) or \
           abs(calendar.timegm(time.strptime(s["time"], "%Y-%m-%dT%H:%M:%SZ")) - time.time()) > 600:
            print(f, "time", s["time"]); bad = 1
        if s["memory_pct"] is not None:
            print(f, "memory_pct", s["memory_pct"]); bad = 1
    for m in re.findall(rb'"(?:cpu|memory|disk)_pct":([^,}]*)', raw):
        if m != b"null" and not num.match(m.decode()):
            print(f, "number", m); bad = 1
    if b" " in raw or b"\n" in raw:
        print(f, "has white space"); bad = 1
sys.exit(bad)
EOF
}
check "each spooled file is one batch body: {\"samples\":[{uuid, time (UTC, now), cpu_pct, memory_pct null, disk_pct}]}, 2 decimals at most" spool_format

# The orchestrator back on the same port; the agent started again.
python3 - "$CONFIG" "$PORT" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1], encoding="utf-8"))
c["listen"] = "127.0.0.1:" + sys.argv[2]
json.dump(c, open(sys.argv[1], "w", encoding="utf-8"), ensure_ascii=False, indent=2)
EOF
orch_start 9>&-
pass "gc-orchestrator runs again on $URL"
agent_start
spool_empty() { [[ $(find "$SPOOL" -name '*.json' | wc -l) -eq 0 ]]; }
poll 90 spool_empty || true
check "the restarted agent sends the spooled batches: the spool is empty" spool_empty
check "it said so at its start (\"from before wait in the spool; they go first\")" \
	grep -Eq 'metrics: [0-9]+ batch(es)? from before wait in the spool; they go first' "$AGENT_LOG"
digests_counted() {
	local f d
	for f in "$T"/spooled/*.json; do
		d=$(sha256sum "$f" | cut -d' ' -f1)
		[[ $(dbq "SELECT source FROM metric_batches WHERE digest = ?" "$d") == host-a ]] || { echo "$f: $d not counted"; return 1; }
	done
}
check "the SHA-256 of every spooled file is a batch the orchestrator counted from host-a (the very bytes were sent)" digests_counted
first=$(find "$T/spooled" -name '*.json' | sort | head -n 1)
api host=host-a POST /v1/metrics "@$first"
is "the same bytes POSTed again: 200, a duplicate, nothing counted" \
	"$STATUS $(jget "$BODY" 'str(d["duplicate"]) + " " + str(d["accepted"])')" "200 True 0"
note "3. outage, kill -9, restart: $((SECONDS - t3)) s"

# ------------------------------------------------------------------ stop ---

kill -TERM "$AGENT_PID"
rc=0
wait "$AGENT_PID" || rc=$?
AGENT_PID=
is "gc-agent stops on SIGTERM with status 0" "$rc" 0
sent=$(grep -E 'metrics: sent [0-9]+ samples' "$AGENT_LOG" | grep -v 'counted this batch already' |
	sed -E 's/.*metrics: sent ([0-9]+) samples.*/\1/' | awk '{ s += $1 } END { print s + 0 }')
counted=$(dbq "SELECT COALESCE(SUM(samples), 0) FROM metric_batches WHERE source = 'host-a'")
is "every sample the agent logged as sent is counted once by the orchestrator ($sent)" "$counted" "$sent"
check "gc-orchestrator stops on SIGTERM with status 0" orch_stop
note "total: $((SECONDS - t0)) s"
finish
