#!/usr/bin/env bash
# tests/integration/agents.sh - the real gc-orchestrator and two real
# gc-agent processes (host-a, host-b) on the libvirt test driver, mutual
# TLS 1.3 on 127.0.0.1, the orchestrator on a fixed port so that the agents
# find it again after a restart, with --unsafe-test-clock.
#
#   1. an accepted apply's VMs become running on the agents, spread by role,
#      labelled as named (R-NM2); the system reaches trial (R-LC2)
#   2. an apply that cannot fit is refused whole (capacity), nothing queued
#   3. a change in trial: resize and add; changing -> trial
#   4. a second change in the month is refused (R-RQ3) unless the approval
#      carries change_exception; the released VM's domain is undefined
#   5. labels changed behind the orchestrator's back are found and repaired
#      (R-NM3)
#   6. no client certificate, or one of another CA: no TLS session; no job
#      is handed to the closed long-poll of a stopped agent; host-b's
#      certificate neither gets nor completes host-a's jobs; host-a's agent,
#      started again on an empty test hypervisor, runs them and re-creates
#      its VMs
#   7. SIGKILL of the orchestrator while host-a's jobs are answered and
#      host-b's are out (its agent frozen with SIGSTOP meanwhile): every VM
#      runs, every job is done, none ran twice, each agent holds as many
#      domains as VMs are placed on it
#   9. an agent that stops is marked down (and audited), gets no new VMs,
#      comes back up (and audited)
#   8. after a SIGKILL, the test clock moves 32 days: the trial timer fires
#      (R-LC2); the clock's offset survives another SIGKILL
# Step 9 runs before 8 so that its apply is signed on the real clock.
#
# The test driver lives inside each agent's process: an agent started again
# finds an empty hypervisor, and its VMs are reported missing and re-created.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

AGENT_BIN=$GC_BUILDDIR/agent/gc-agent
GCCTL_BIN=${GCCTL:-$GC_BUILDDIR/cli/gcctl}
[[ -x $AGENT_BIN ]] || bail "$AGENT_BIN is not built"
[[ -x $GCCTL_BIN ]] || bail "$GCCTL_BIN is not built"

UNIT=市xx局
POOL=包头-A
CAPACITY='{"vcpus": 32, "memory_mib": 65536, "storage_gib": 100000, "arch": "x86_64"}'
T0=$SECONDS

# A free port, fixed for the whole run.
FIXED_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

make_pki
write_config '' "{\"listen\": \"127.0.0.1:$FIXED_PORT\"}"
ORCH_ARGS=(--unsafe-test-clock)
orch_start
is "gc-orchestrator listens on the fixed port 127.0.0.1:$FIXED_PORT" "$PORT" "$FIXED_PORT"

# ---------------------------------------------------------- helpers -------

# dbq SQL [ARG]...: rows of a read-only query of the store, tab-separated.
dbq() {
	python3 - "$DB" "$@" <<'EOF'
import sqlite3, sys, urllib.parse, os
con = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(sys.argv[1])), uri=True, timeout=30)
for row in con.execute(sys.argv[2], sys.argv[3:]):
    print("\t".join("" if v is None else str(v) for v in row))
EOF
}
# hosts_fetch: GET /v1/hosts into $T/hosts.json.
hosts_fetch() {
	api provider GET /v1/hosts
	want 200 >"$T/hosts.err" || bail "GET /v1/hosts: $(cat "$T/hosts.err")"
	cp "$BODY" "$T/hosts.json"
}
# host_get NAME FIELD: a field of a host in $T/hosts.json.
host_get() { jget "$T/hosts.json" "str({h['name']: h for h in d['hosts']}['$1']['$2'])"; }
# vms_fetch SYSTEM_ID: GET /v1/vms?system=ID into $T/vms.json.
vms_fetch() {
	api provider GET "/v1/vms?system=$1"
	want 200 >"$T/vms.err" || bail "GET /v1/vms?system=$1: $(cat "$T/vms.err")"
	cp "$BODY" "$T/vms.json"
}
# vm_get NAME EXPR: EXPR over the VM v named NAME in $T/vms.json.
vm_get() { jget "$T/vms.json" "(lambda v: $2)([v for v in d['vms'] if v['name'] == '$1'][0])"; }
# running SYSTEM_ID N: the system has N VMs that are not deleted, all running.
running() {
	vms_fetch "$1"
	jget "$T/vms.json" "[v['state'] for v in d['vms'] if v['state'] != 'deleted'] == ['running'] * $2 or 1/0"
}
# aq EXPR: EXPR over the audit chain ($T/audit.json, fetched now).
aq() {
	audit_fetch
	jget "$T/audit.json" "$1"
}
# audit_has EXPR: some record r after seq $MARK satisfies EXPR.
audit_has() { aq "any(r['seq'] > $MARK and ($1) for r in d['records']) or 1/0"; }
mark() { audit_fetch; MARK=$AUDIT_LAST; }
gcctl_as() {
	who_files "$1"
	shift
	"$GCCTL_BIN" "$@" --server "$URL" --cert "$CERT" --key "$KEY" --cacert "$PKI/ca.crt"
}

# ----------------------------------------------------------- agents -------

declare -A AGENT_PID=()
# agent_conf NAME FILE CERT KEY: an agent configuration in FILE (journal $T/journal-NAME).
agent_conf() {
	NAME=$1 FILE=$2 CERT=$3 KEY=$4 CA=$PKI/ca.crt URL=$URL CAP=$CAPACITY JOURNAL=$T/journal-$1 python3 - <<'EOF'
import json, os
e = os.environ
c = {
    "orchestrator": e["URL"],
    "tls": {"cert": e["CERT"], "key": e["KEY"], "ca": e["CA"]},
    "libvirt_uri": "test:///default",
    "storage_pool": "default-pool",
    "capacity": json.loads(e["CAP"]),
    "poll_seconds": 5,
    "journal": e["JOURNAL"],
}
json.dump(c, open(e["FILE"], "w", encoding="utf-8"), ensure_ascii=False, indent=2)
EOF
}
# agent_start NAME [CONFIG]: gc-agent in the background, log in $T/agent-NAME.log.
agent_start() {
	local name=$1 conf=${2:-$T/agent-$1.json}
	mkdir -p "$T/relabel-$name"
	LOGS[agent-$name]=$T/agent-$name.log
	printf -- '--- start %s\n' "$(date -u +%FT%TZ)" >>"$T/agent-$name.log"
	"$AGENT_BIN" -c "$conf" --log-level debug --unsafe-test-relabel "$T/relabel-$name" >>"$T/agent-$name.log" 2>&1 &
	AGENT_PID[$name]=$!
	bg "$!"
}
# agent_stop NAME: SIGTERM and wait (30 s); the status is gc-agent's.
agent_stop() {
	local name=$1 pid=${AGENT_PID[$1]} rc=0 deadline=$((SECONDS + 30))
	kill -TERM "$pid"
	while kill -0 "$pid" 2>/dev/null; do
		if [[ $SECONDS -ge $deadline ]]; then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
	wait "$pid" || rc=$?
	unbg "$pid"
	unset "AGENT_PID[$name]"
	return "$rc"
}
# log_lines NAME: the number of lines of an agent's log (a position to read from).
log_lines() { wc -l <"$T/agent-$1.log"; }
# log_since NAME LINE: the agent's log after LINE.
log_since() { tail -n "+$(($2 + 1))" "$T/agent-$1.log"; }
# last_inventory NAME [LINE]: the number of domains in the agent's last
# inventory after LINE.
last_inventory() {
	log_since "$1" "${2:-0}" | sed -n 's/.*inventory of \([0-9]*\) domains.*/\1/p' | tail -n 1 | grep .
}
hellos() { aq "len([r for r in d['records'] if r['action'] == 'host.hello' and r['actor'] == '$1'])"; }

# ----------------------------------------------------- registration -------

register_unit "$UNIT"
for s in 协同办公OA 门户网站 一网通办 数据共享交换 电子证照; do
	register_system "$UNIT" "$s"
	SYS[$s]=$LAST_ID
	record_agreement "$LAST_ID"
done
register_approval_system approval-oa "$(sign_pub approval)"
register_host host-a "$POOL" none
register_host host-b "$POOL" none
hosts_fetch
is "host-a and host-b are registered in $POOL without a capacity" \
	"$(jget "$T/hosts.json" '[(h["name"], h["pool"], h["state"], h["vcpus"], h["memory_mib"], h["storage_gib"], h["arch"]) for h in d["hosts"]]')" \
	"[[\"host-a\", \"$POOL\", \"registered\", null, null, null, null], [\"host-b\", \"$POOL\", \"registered\", null, null, null, null]]"

for h in host-a host-b; do
	who_files "host=$h"
	agent_conf "$h" "$T/agent-$h.json" "$CERT" "$KEY"
	agent_start "$h"
done
hosts_up() {
	hosts_fetch
	jget "$T/hosts.json" "[(h['name'], h['state'], h['vcpus'], h['memory_mib'], h['storage_gib'], h['arch'], h['hypervisor']) for h in d['hosts']] == [(n, 'up', 32, 65536, 100000, 'x86_64', 'test:///default') for n in ('host-a', 'host-b')] or 1/0"
}
if poll 30 hosts_up; then
	pass "both agents said hello: host-a and host-b are up with 32 vCPUs, 65536 MiB, 100000 GiB, x86_64, test:///default"
else
	jget "$T/hosts.json" 'd["hosts"]' | sed 's/^/    # /'
	bail "the hosts did not come up with the agents' capacity within 30 s"
fi

# ------------------------------------------------ 1. apply -> running -----

note "step 1 at $((SECONDS - T0)) s"

SYS1=${SYS[协同办公OA]}
OA_APP1=${UNIT}协同办公OA应用服务器1
OA_APP2=${UNIT}协同办公OA应用服务器2
OA_APP3=${UNIT}协同办公OA应用服务器3
mark
MARK1=$MARK
sign "$SAMPLES/apply.json" "$T/apply.json"
submit "$T/apply.json"
check "1. apply.json (协同办公OA, 3 VMs in $POOL) is accepted: 201" want 201
REQ1=$(jget "$BODY" 'd["request"]["id"]')
T_APPLY=$(date +%s)
if poll 60 running "$SYS1" 3; then
	pass "1. the three VMs are running within 60 s"
else
	fail "1. the three VMs are running within 60 s"
	jget "$T/vms.json" '[(v["name"], v["host"], v["state"]) for v in d["vms"]]' | sed 's/^/    # /'
fi
poll 30 system_is "$SYS1" trial || true
is "1. 协同办公OA is in trial" "$(system_state "$SYS1")" trial
vms_fetch "$SYS1"
cp "$T/vms.json" "$T/vms1.json"
APP1_HOST=$(vm_get "$OA_APP1" 'v["host"]')
APP2_HOST=$(vm_get "$OA_APP2" 'v["host"]')
check "1. the two 应用服务器 are on different hosts ($APP1_HOST, $APP2_HOST): spread by role" \
	test "$APP1_HOST" != "$APP2_HOST" -a -n "$APP1_HOST" -a -n "$APP2_HOST"
check "1. each VM's observed title and labels are its name, unit, system, role, number, request $REQ1 and pool; labels in_sync; size as asked" \
	python3 - "$T/vms.json" "$REQ1" "$UNIT" "$POOL" <<'EOF'
import json, sys
vms = json.load(open(sys.argv[1], encoding="utf-8"))["vms"]
req, unit, pool = int(sys.argv[2]), sys.argv[3], sys.argv[4]
assert len(vms) == 3, len(vms)
for v in vms:
    o = v["observed"]
    want = {"unit": unit, "system": "协同办公OA", "role": v["role"], "number": v["number"], "request": req, "pool": pool}
    assert o["title"] == v["name"], (v["name"], o["title"])
    assert o["labels"] == want, (v["name"], o["labels"], want)
    assert v["name"] == unit + "协同办公OA" + v["role"] + str(v["number"]), v["name"]
    assert o["uuid"] == v["uuid"] and o["name"] == "gc-" + v["uuid"], (o["uuid"], o["name"], v["uuid"])
    assert v["labels_state"] == "in_sync", (v["name"], v["labels_state"])
    assert o["state"] == "running", o["state"]
    assert (o["vcpus"], o["memory_mib"]) == (v["vcpus"], v["memory_gib"] * 1024), (v["name"], o["vcpus"], o["memory_mib"])
print(sorted((v["name"], v["host"], v["vcpus"]) for v in vms))
EOF
audit_fetch
check "1. the audit has one job.done (vm.ensure, by the VM's host) for each VM, and system.stage requested -> provisioning (R-LC1) -> trial (R-LC2)" \
	python3 - "$T/audit.json" "$T/vms.json" "$SYS1" "$MARK1" <<'EOF'
import json, sys
recs = [r for r in json.load(open(sys.argv[1], encoding="utf-8"))["records"] if r["seq"] > int(sys.argv[4])]
vms = json.load(open(sys.argv[2], encoding="utf-8"))["vms"]
done = [r for r in recs if r["action"] == "job.done"]
for v in vms:
    mine = [r for r in done if r["detail"].get("uuid") == v["uuid"]]
    assert len(mine) == 1, (v["name"], len(mine))
    r = mine[0]
    assert (r["actor"], r["role"], r["detail"]["kind"], r["detail"]["host"], r["detail"]["state"], r["detail"]["vm"]) == \
        (v["host"], "host", "vm.ensure", v["host"], "running", v["name"]), r
stages = [(r["detail"]["from"], r["detail"]["to"], r["rule"]) for r in recs
          if r["action"] == "system.stage" and r["object"] == "system:" + sys.argv[3]]
assert stages == [("requested", "provisioning", "R-LC1"), ("provisioning", "trial", "R-LC2")], stages
EOF
TRIAL_END=$(aq "[r['detail']['trial_end'] for r in d['records'] if r['action'] == 'system.stage' and r['object'] == 'system:$SYS1' and r['detail']['to'] == 'trial'][0]")
check "1. the trial ends about one month ahead ($TRIAL_END)" python3 - "$TRIAL_END" "$T_APPLY" <<'EOF'
import datetime, sys
end = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
days = (end - int(sys.argv[2])) / 86400
print("%.2f days" % days)
assert 27.9 <= days <= 31.1, days
EOF
check "1. each agent's log says it defined and started its VMs" python3 - "$T/vms.json" "$T" <<'EOF'
import json, re, sys
vms = json.load(open(sys.argv[1], encoding="utf-8"))["vms"]
for v in vms:
    log = open("%s/agent-%s.log" % (sys.argv[2], v["host"]), encoding="utf-8").read()
    n = len(re.findall(r"job [0-9]+ vm\.ensure %s: defined, started" % re.escape(v["name"]), log))
    assert n == 1, (v["name"], v["host"], n)
EOF

# ------------------------------------------------ 2. capacity refusal -----

note "step 2 at $((SECONDS - T0)) s"

SYS2=${SYS[门户网站]}
sign "$SAMPLES/apply.json" "$T/too-big.json" --set=approval.id=OA-2026-0002 --set=system.name=门户网站 \
	--set-json=vms.0.vcpus=64 --set-json=vms.0.count=1 --unset=vms.1
JOBS_BEFORE=$(dbq 'SELECT COUNT(*) FROM jobs')
VMS_BEFORE=$(dbq 'SELECT COUNT(*) FROM vms')
mark
submit "$T/too-big.json"
cp "$BODY" "$T/too-big.body"
check "2. an apply with a VM of 64 vCPUs (each host has 32) is refused: 422" want 422
is "2. the error is capacity on vms[0]" "$(jget "$T/too-big.body" 'd["error"]["code"] + " " + d["error"]["field"]')" "capacity vms[0]"
check "2. the message names the roomiest host" grep -Eq 'the roomiest, host-[ab], has [0-9]+ vCPUs' "$T/too-big.body"
audit_fetch
is "2. exactly one audit record: request.refused with the code capacity" \
	"$(jget "$T/audit.json" "[(r['action'], r['outcome'], r['detail'].get('code')) for r in d['records'] if r['seq'] > $MARK]")" \
	'[["request.refused", "refused", "capacity"]]'
is "2. nothing queued, no VM added, 门户网站 still registered" \
	"$(dbq 'SELECT COUNT(*) FROM jobs') $(dbq 'SELECT COUNT(*) FROM vms') $(system_state "$SYS2")" \
	"$JOBS_BEFORE $VMS_BEFORE registered"

# -------------------------------------------------- 3. change in trial ----

note "step 3 at $((SECONDS - T0)) s"

# change_doc FILE ID [JSON-MEMBERS]: an unsigned change of 协同办公OA.
change_doc() {
	printf '{"schema": "govcloud-request/1", "kind": "change",
  "approval": {"system": "approval-oa", "id": "%s", "approvers": [{"name": "王五", "title": "大数据中心科长"}],
               "time": "2026-11-20T09:30:00+08:00", "signature": "AAAA"},
  "unit": "%s", "system": {"name": "协同办公OA"}, "reason": "用户增长", %s}\n' "$2" "$UNIT" "$3" >"$1"
}
APP_SPEC='{"type": "vm", "role": "应用服务器", "arch": "x86", "vcpus": 4, "memory_gib": 8,
  "system_disk": {"gib": 40, "type": "SSD"}, "data_disk": {"gib": 200, "type": "SAS"},
  "os": "麒麟V10", "network": "egov", "ports": [443], "count": 1}'
change_doc "$T/change1.unsigned" OA-2026-0011 \
	"\"resize\": [{\"name\": \"$OA_APP1\", \"vcpus\": 8, \"memory_gib\": 16}], \"add\": [$APP_SPEC]"
sign "$T/change1.unsigned" "$T/change1.json"
mark
MARK3=$MARK
submit "$T/change1.json"
check "3. a change in trial (resize 应用服务器1 to 8 vCPUs / 16 GiB, add one 应用服务器) is accepted: 201" want 201
REQ3=$(jget "$BODY" 'd["request"]["id"]')
back_in_trial() { system_is "$SYS1" trial && running "$SYS1" 4; }
poll 60 back_in_trial || true
is "3. the system is back in trial with four running VMs" "$(system_state "$SYS1") $(jget "$T/vms.json" '[v["state"] for v in d["vms"]].count("running")')" "trial 4"
api provider GET "/v1/systems/$SYS1"
is "3. its transitions since the apply: trial -> changing -> trial" \
	"$(jget "$BODY" '[(t["from"], t["to"]) for t in d["system"]["transitions"]][-2:]')" '[["trial", "changing"], ["changing", "trial"]]'
is "3. the resized VM is observed with 8 vCPUs and 16384 MiB, labels in_sync" \
	"$(vm_get "$OA_APP1" '[v["observed"]["vcpus"], v["observed"]["memory_mib"], v["vcpus"], v["memory_gib"], v["labels_state"]]')" \
	'[8, 16384, 8, 16, "in_sync"]'
is "3. the added VM is $OA_APP3: number 3, running, observed title and labels its own, request $REQ3" \
	"$(vm_get "$OA_APP3" '[v["number"], v["state"], v["observed"]["title"], v["observed"]["labels"]["number"], v["observed"]["labels"]["request"], v["labels_state"]]')" \
	"[3, \"running\", \"$OA_APP3\", 3, $REQ3, \"in_sync\"]"
APP3_HOST=$(vm_get "$OA_APP3" 'v["host"]')
check "3. the resize ran on its host's agent as a live change (vcpus 4→8, memory 8192→16384 MiB)" \
	grep -Eq "vm\.ensure $OA_APP1: vcpus 4→8, memory 8192→16384 MiB" "$T/agent-$APP1_HOST.log"
is "3. the audit has one system.stage since, changing -> trial, under a lifecycle rule" \
	"$(aq "[(r['detail']['from'], r['detail']['to'], r['rule'][:4]) for r in d['records'] if r['seq'] > $MARK3 and r['action'] == 'system.stage']")" \
	'[["changing", "trial", "R-LC"]]'

# ---------------------------------------------------------- 4. R-RQ3 ------

note "step 4 at $((SECONDS - T0)) s"

change_doc "$T/change2.unsigned" OA-2026-0012 "\"release\": [\"$OA_APP3\"]"
sign "$T/change2.unsigned" "$T/change2.json"
JOBS_BEFORE=$(dbq 'SELECT COUNT(*) FROM jobs')
mark
submit "$T/change2.json"
cp "$BODY" "$T/change2.body"
check "4. a second change in the same calendar month without change_exception is refused: 422" want 422
is "4. ... rule R-RQ3" "$(jget "$T/change2.body" 'd["error"]["rule"]')" R-RQ3
audit_fetch
is "4. ... with exactly one audit record (request.refused, R-RQ3)" \
	"$(jget "$T/audit.json" "[(r['action'], r['rule']) for r in d['records'] if r['seq'] > $MARK]")" '[["request.refused", "R-RQ3"]]'
is "4. ... nothing queued, the system still in trial" "$(dbq 'SELECT COUNT(*) FROM jobs') $(system_state "$SYS1")" "$JOBS_BEFORE trial"

hosts_fetch
COUNT_BEFORE=$(host_get "$APP3_HOST" vm_count)
LINE=$(log_lines "$APP3_HOST")
change_doc "$T/change3.unsigned" OA-2026-0013 "\"release\": [\"$OA_APP3\"]"
sign "$T/change3.unsigned" "$T/change3.json" '--set=approval.change_exception=应用服务器3 停用，紧急释放'
submit "$T/change3.json"
check "4. the same with approval.change_exception (release $OA_APP3) is accepted: 201" want 201
released() { vms_fetch "$SYS1" && [[ $(vm_get "$OA_APP3" 'v["state"]') == deleted ]] && system_is "$SYS1" trial; }
poll 60 released || true
vms_fetch "$SYS1"
is "4. $OA_APP3 is deleted and the system back in trial" "$(vm_get "$OA_APP3" 'v["state"]') $(system_state "$SYS1")" "deleted trial"
check "4. its agent ($APP3_HOST) stopped and undefined the domain" \
	grep -Eq "job [0-9]+ vm\.delete $OA_APP3: (stopped, )?undefined" <(log_since "$APP3_HOST" "$LINE")
hosts_fetch
is "4. $APP3_HOST's vm_count drops by one" "$(host_get "$APP3_HOST" vm_count)" "$((COUNT_BEFORE - 1))"
# The next heartbeat after the delete lists one domain fewer.
inventory_after_delete() {
	local n
	n=$(log_since "$APP3_HOST" "$LINE" | sed -n '/vm\.delete/,$p' | sed -n 's/.*inventory of \([0-9]*\) domains.*/\1/p' | tail -n 1)
	[[ -n $n ]] && echo "$n"
}
if poll 25 inventory_after_delete; then
	is "4. $APP3_HOST's next inventory after the delete lists $((COUNT_BEFORE - 1)) domains: $OA_APP3's is gone" \
		"$(inventory_after_delete)" "$((COUNT_BEFORE - 1))"
else
	fail "4. $APP3_HOST posted an inventory within 25 s of the delete"
fi

# ------------------------------------------------- 5. drift repair --------

note "step 5 at $((SECONDS - T0)) s"

vms_fetch "$SYS1"
DRIFT_VM=$OA_APP2
DRIFT_UUID=$(vm_get "$DRIFT_VM" 'v["uuid"]')
DRIFT_HOST=$(vm_get "$DRIFT_VM" 'v["host"]')
mark
MARK5=$MARK
python3 - "$T/relabel-$DRIFT_HOST" "$DRIFT_UUID" "$UNIT" "$REQ1" "$POOL" <<'EOF'
import json, os, sys
d, uuid, unit, req, pool = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
doc = {"uuid": uuid, "title": "改过的名字",
       "labels": {"unit": unit, "system": "协同办公OA", "role": "数据库服务器", "number": 2, "request": req, "pool": pool}}
with open(os.path.join(d, "drift.tmp"), "w", encoding="utf-8") as f:
    json.dump(doc, f, ensure_ascii=False)
os.rename(os.path.join(d, "drift.tmp"), os.path.join(d, "drift.json"))
EOF
pass "5. labels of $DRIFT_VM (on $DRIFT_HOST) changed behind the orchestrator's back: title 改过的名字, role 数据库服务器"
SAW_DRIFTED=no
# drift_repaired: vm.drift, then a job.done for the VM; gcctl vm list on the way.
drift_repaired() {
	if gcctl_as provider vm list --system "$SYS1" >"$T/vmlist.out" 2>&1 &&
		grep -F "$DRIFT_VM" "$T/vmlist.out" | grep DRIFTED >/dev/null; then
		SAW_DRIFTED=yes
	fi
	aq "(lambda dr: bool(dr) and any(r['action'] == 'job.done' and r['seq'] > dr[0] and r['detail'].get('uuid') == '$DRIFT_UUID' for r in d['records']))([r['seq'] for r in d['records'] if r['seq'] > $MARK5 and r['action'] == 'vm.drift' and r['detail']['uuid'] == '$DRIFT_UUID']) or 1/0"
}
if poll 45 drift_repaired; then
	pass "5. within 45 s the audit shows vm.drift for $DRIFT_VM and then a job.done for it"
else
	fail "5. within 45 s the audit shows vm.drift for $DRIFT_VM and then a job.done for it"
fi
audit_fetch
check "5. the vm.drift record: rule R-NM3, by $DRIFT_HOST, expected the record's labels and title, found the changed ones" \
	python3 - "$T/audit.json" "$MARK5" "$DRIFT_UUID" "$DRIFT_VM" "$DRIFT_HOST" <<'EOF'
import json, sys
recs = [r for r in json.load(open(sys.argv[1], encoding="utf-8"))["records"] if r["seq"] > int(sys.argv[2])]
drift = [r for r in recs if r["action"] == "vm.drift" and r["detail"]["uuid"] == sys.argv[3]]
assert len(drift) == 1, len(drift)
r = drift[0]
dt = r["detail"]
assert (r["rule"], r["actor"], dt["host"], dt["vm"]) == ("R-NM3", sys.argv[5], sys.argv[5], sys.argv[4]), r
assert dt["expected_title"] == sys.argv[4] and dt["found_title"] == "改过的名字", dt
assert dt["expected"]["role"] == "应用服务器" and dt["found"]["role"] == "数据库服务器", dt
assert {k: v for k, v in dt["expected"].items() if k != "role"} == {k: v for k, v in dt["found"].items() if k != "role"}, dt
others = [r for r in recs if r["action"] in ("vm.drift", "vm.missing") and r["detail"]["uuid"] != sys.argv[3]]
assert not others, others
EOF
vms_fetch "$SYS1"
is "5. $DRIFT_VM is in_sync again: observed title its name, role 应用服务器" \
	"$(vm_get "$DRIFT_VM" '[v["labels_state"], v["observed"]["title"], v["observed"]["labels"]["role"]]')" \
	"[\"in_sync\", \"$DRIFT_VM\", \"应用服务器\"]"
check "5. the agent applied the change and the repair relabelled the domain" \
	grep -Eq "job [0-9]+ vm\.ensure $DRIFT_VM: relabelled" "$T/agent-$DRIFT_HOST.log"
gcctl_as provider vm list --system "$SYS1" >"$T/vmlist.out" 2>&1 || true
check "5. gcctl vm list shows $DRIFT_VM in sync" \
	awk -v n="$DRIFT_VM" 'index($0, n) && /in sync/ { ok = 1 } END { exit !ok }' "$T/vmlist.out"
note "5. DRIFTED seen by gcctl vm list while the repair was under way: $SAW_DRIFTED"

# ------------------------------------------- 6. certificates and jobs -----

note "step 6 at $((SECONDS - T0)) s"

# curl_jobs CERT-ARGS...: GET /v1/agent/jobs?wait=0; "HTTP-STATUS CURL-EXIT"
# (000 when there is no HTTP answer).
curl_jobs() {
	local code rc=0
	code=$(curl -sS --max-time 10 --cacert "$PKI/ca.crt" "$@" -o "$T/raw.body" -w '%{http_code}' \
		"$URL/v1/agent/jobs?wait=0" 2>"$T/raw.err") || rc=$?
	echo "${code:-000} $rc"
}
# refused_in_tls "STATUS EXIT": curl's exit status says the TLS session
# failed (35: the handshake; 55/56: the server's alert read as a send or
# receive failure), not that nothing listens (7) or nothing answered (28).
refused_in_tls() { [[ $1 == "000 35" || $1 == "000 55" || $1 == "000 56" ]]; }
who_files host=host-b
GOT=$(curl_jobs --cert "$CERT" --key "$KEY")
is "6. control: host-b's own certificate gets an answer on /v1/agent/jobs?wait=0" "${GOT% *}" 200
GOT=$(curl_jobs)
check "6. without a client certificate: no HTTP answer, the TLS session is refused (curl: $GOT; $(head -c 120 "$T/raw.err"))" \
	refused_in_tls "$GOT"
make_ca "$T/rogue-ca"
make_cert host host-b "$T/rogue-host-b" "$T/rogue-ca"
make_cert host host-a "$T/rogue-host-a" "$T/rogue-ca"
GOT=$(curl_jobs --cert "$T/rogue-host-b.crt" --key "$T/rogue-host-b.key")
check "6. host-b's name in a certificate of another CA: no HTTP answer, the TLS session is refused (curl: $GOT; $(head -c 120 "$T/raw.err"))" \
	refused_in_tls "$GOT"
agent_conf nocert "$T/agent-nocert.json" "$T/missing.crt" "$T/missing.key"
python3 - "$T/agent-nocert.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1], encoding="utf-8"))
del c["tls"]["cert"], c["tls"]["key"]
json.dump(c, open(sys.argv[1], "w", encoding="utf-8"))
EOF
RC=0
timeout 20 "$AGENT_BIN" -c "$T/agent-nocert.json" >"$T/agent-nocert.log" 2>&1 || RC=$?
check "6. gc-agent with a configuration without a client certificate refuses to start (status $RC)" \
	test "$RC" -ne 0 -a "$RC" -ne 124
check "6. ... and says tls.cert is required" grep -q 'tls\.cert.*required' "$T/agent-nocert.log"

# host-a's agent stops; applies for 门户网站 and 电子证照 spread their two
# 应用服务器 each over both hosts, so one job of each waits for host-a.
check "6. host-a's agent stops on SIGTERM with status 0" agent_stop host-a
HELLOS_A=$(hellos host-a)
# apply_two SYSTEM APPROVAL-ID: an apply of two 应用服务器; sets A_JOB, A_VM,
# A_UUID (the one placed on host-a) and B_VM.
apply_two() {
	sign "$SAMPLES/apply.json" "$T/apply-$2.json" "--set=approval.id=$2" "--set=system.name=$1" --unset=vms.1 \
		--set-json=vms.0.vcpus=1 --set-json=vms.0.memory_gib=1
	submit "$T/apply-$2.json"
	check "6. an apply for $1 (2 应用服务器) is accepted: 201" want 201
	vms_fetch "${SYS[$1]}"
	is "6. ... one VM placed on each host" "$(jget "$T/vms.json" 'sorted(v["host"] for v in d["vms"])')" '["host-a", "host-b"]'
	A_VM=$(jget "$T/vms.json" '[v["name"] for v in d["vms"] if v["host"] == "host-a"][0]')
	A_UUID=$(vm_get "$A_VM" 'v["uuid"]')
	B_VM=$(jget "$T/vms.json" '[v["name"] for v in d["vms"] if v["host"] == "host-b"][0]')
	A_JOB=$(dbq "SELECT j.id FROM jobs j JOIN vms v ON v.id = j.vm_id WHERE v.uuid = ? AND j.host = 'host-a'" "$A_UUID")
}
apply_two 门户网站 OA-2026-0021
X_JOB=$A_JOB X_VM=$A_VM X_UUID=$A_UUID X_B_VM=$B_VM
# The stopped agent's last long-poll may still be parked in the
# orchestrator; its connection is closed, and no job may be handed to it
# (dispatch.c: waiter_closed, drop_waiters).
is "6. host-a's job $X_JOB is not handed to the closed long-poll of the stopped agent: queued" \
	"$(dbq 'SELECT state FROM jobs WHERE id = ?' "$X_JOB")" queued
apply_two 电子证照 OA-2026-0022
Y_JOB=$A_JOB Y_VM=$A_VM Y_UUID=$A_UUID Y_B_VM=$B_VM
b_vms_running() {
	vms_fetch "${SYS[门户网站]}" && [[ $(vm_get "$X_B_VM" 'v["state"]') == running ]] || return 1
	vms_fetch "${SYS[电子证照]}" && [[ $(vm_get "$Y_B_VM" 'v["state"]') == running ]]
}
if poll 30 b_vms_running; then
	pass "6. host-b ran its VMs ($X_B_VM, $Y_B_VM)"
else
	fail "6. host-b ran its VMs ($X_B_VM, $Y_B_VM)"
fi
is "6. host-a's job $Y_JOB waits for host-a, queued" "$(dbq 'SELECT host, state FROM jobs WHERE id = ?' "$Y_JOB")" "host-a	queued"
mark
api host=host-b GET "/v1/agent/jobs?wait=0"
check "6. GET /v1/agent/jobs?wait=0 with host-b's certificate: 200" want 200
is "6. ... host-a's jobs $X_JOB and $Y_JOB are not among them" \
	"$(jget "$BODY" "[j['id'] for j in d['jobs'] if j['id'] in ($X_JOB, $Y_JOB)]")" '[]'
is "6. ... and job $Y_JOB is still queued for host-a" "$(dbq 'SELECT host, state FROM jobs WHERE id = ?' "$Y_JOB")" "host-a	queued"
forged() { # JOB UUID TITLE: a successful result as host-a would post it
	printf '{"job": %s, "ok": true, "vm": {"uuid": "%s", "name": "gc-%s", "title": "%s", "state": "running", "vcpus": 1, "memory_mib": 1024}}' \
		"$1" "$2" "$2" "$3"
}
X_STATE=$(dbq 'SELECT state FROM jobs WHERE id = ?' "$X_JOB")
api host=host-b POST /v1/agent/results \
	"{\"results\": [$(forged "$X_JOB" "$X_UUID" "$X_VM"), $(forged "$Y_JOB" "$Y_UUID" "$Y_VM")]}"
note "6. POST /v1/agent/results for jobs $X_JOB and $Y_JOB with host-b's certificate: HTTP $STATUS $(head -c 200 "$BODY")"
vms_fetch "${SYS[门户网站]}"
X_VM_STATE=$(vm_get "$X_VM" 'v["state"]')
vms_fetch "${SYS[电子证照]}"
is "6. ... completes neither: the jobs are as they were ($X_STATE, queued), $X_VM and $Y_VM still planned" \
	"$(dbq 'SELECT state FROM jobs WHERE id = ?' "$X_JOB") $(dbq 'SELECT state FROM jobs WHERE id = ?' "$Y_JOB") $X_VM_STATE $(vm_get "$Y_VM" 'v["state"]')" \
	"$X_STATE queued planned planned"
audit_fetch
is "6. ... and no job.done or job.failed is recorded" \
	"$(jget "$T/audit.json" "len([r for r in d['records'] if r['seq'] > $MARK and r['action'] in ('job.done', 'job.failed')])")" 0
check "6. the orchestrator logs host-b's results for jobs $X_JOB and $Y_JOB as not its jobs" \
	grep -q "host host-b: result for job $Y_JOB, which is not its job: ignored" "$ORCH_LOG"

# An agent with host-a's name in a certificate of another CA cannot say hello.
agent_conf rogue "$T/agent-rogue.json" "$T/rogue-host-a.crt" "$T/rogue-host-a.key"
LOGS[agent-rogue]=$T/agent-rogue.log
"$AGENT_BIN" -c "$T/agent-rogue.json" >"$T/agent-rogue.log" 2>&1 &
ROGUE_PID=$!
bg "$ROGUE_PID"
rogue_refused() { grep -q 'orchestrator unreachable' "$T/agent-rogue.log"; }
poll 20 rogue_refused || true
kill -TERM "$ROGUE_PID" 2>/dev/null || true
wait "$ROGUE_PID" || true
unbg "$ROGUE_PID"
check "6. gc-agent with host-a's name in a certificate of another CA cannot reach the orchestrator" rogue_refused
grep -m 1 'unreachable' "$T/agent-rogue.log" | sed 's/^/# /'
is "6. ... and no hello of host-a is recorded meanwhile" "$(hellos host-a)" "$HELLOS_A"

# host-a's agent comes back on an empty test hypervisor.
vms_fetch "$SYS1"
A_OLD=$(jget "$T/vms.json" '" ".join(sorted(v["uuid"] for v in d["vms"] if v["host"] == "host-a" and v["state"] == "running"))')
LINE=$(log_lines host-a)
mark
MARK6=$MARK
agent_start host-a
a_back() {
	vms_fetch "${SYS[门户网站]}" && [[ $(vm_get "$X_VM" 'v["state"]') == running ]] || return 1
	vms_fetch "${SYS[电子证照]}" && [[ $(vm_get "$Y_VM" 'v["state"]') == running ]] || return 1
	aq "set('$A_OLD'.split()) <= set(r['detail']['uuid'] for r in d['records'] if r['seq'] > $MARK6 and r['action'] == 'job.done' and r['detail'].get('recreated')) or 1/0"
}
if poll 60 a_back; then
	pass "6. host-a's agent starts again and runs jobs $X_JOB and $Y_JOB: $X_VM and $Y_VM are running"
else
	fail "6. host-a's agent starts again and runs jobs $X_JOB and $Y_JOB: $X_VM and $Y_VM are running"
fi
is "6. jobs $X_JOB and $Y_JOB are done, by host-a" \
	"$(dbq 'SELECT group_concat(state) FROM jobs WHERE id IN (?, ?)' "$X_JOB" "$Y_JOB") $(aq "sorted(r['actor'] for r in d['records'] if r['action'] == 'job.done' and r['detail']['job'] in ($X_JOB, $Y_JOB))")" \
	'done,done ["host-a", "host-a"]'
audit_fetch
check "6. host-a's empty hypervisor: each of its earlier VMs is reported vm.missing and re-created (job.done with recreated: true)" \
	python3 - "$T/audit.json" "$MARK6" "$A_OLD" <<'EOF'
import json, sys
recs = [r for r in json.load(open(sys.argv[1], encoding="utf-8"))["records"] if r["seq"] > int(sys.argv[2])]
want = set(sys.argv[3].split())
assert want, "host-a held none of 协同办公OA's VMs: nothing to re-create"
missing = [r["detail"]["uuid"] for r in recs if r["action"] == "vm.missing"]
assert sorted(missing) == sorted(want), (missing, want)
re = [r["detail"]["uuid"] for r in recs if r["action"] == "job.done" and r["detail"].get("recreated")]
assert sorted(re) == sorted(want), (re, want)
print(len(want), "re-created")
EOF
check "6. host-a's log says the VMs were re-defined" grep -q 're-defined (made here before, missing now), started' \
	<(log_since host-a "$LINE")
poll 30 running "$SYS1" 3 || true
is "6. 协同办公OA's three VMs are running again, labels in_sync" \
	"$(jget "$T/vms.json" '[(v["state"], v["labels_state"]) for v in d["vms"] if v["state"] != "deleted"]')" \
	'[["running", "in_sync"], ["running", "in_sync"], ["running", "in_sync"]]'

# ------------------------------------------ 7. SIGKILL mid-dispatch -------

note "step 7 at $((SECONDS - T0)) s"

SYS7=${SYS[一网通办]}
N7=20
sign "$SAMPLES/apply.json" "$T/apply7.json" --set=approval.id=OA-2026-0031 --set=system.name=一网通办 --unset=vms.1 \
	--set-json=vms.0.vcpus=1 --set-json=vms.0.memory_gib=1 --set-json=vms.0.count=$N7
LINE_A=$(log_lines host-a)
LINE_B=$(log_lines host-b)
# host-b's agent is frozen while the jobs go out: host-a's are answered,
# host-b's are not, when the orchestrator is killed.
kill -STOP "${AGENT_PID[host-b]}"
submit "$T/apply7.json"
check "7. an apply for 一网通办 with $N7 VMs is accepted: 201" want 201
vms_fetch "$SYS7"
NA=$(jget "$T/vms.json" 'len([v for v in d["vms"] if v["host"] == "host-a"])')
NB=$(jget "$T/vms.json" 'len([v for v in d["vms"] if v["host"] == "host-b"])')
is "7. the $N7 VMs are placed over both hosts" "$((NA + NB)) $((NA > 0 && NB > 0))" "$N7 1"
jobs_done() { dbq "SELECT COUNT(*) FROM jobs j JOIN vms v ON v.id = j.vm_id WHERE v.system_id = ? AND j.state = 'done'" "$SYS7"; }
a_done() { [[ $(jobs_done) -ge $NA ]]; }
poll 30 a_done || true
DONE_AT_KILL=$(jobs_done)
B_STATES=$(dbq "SELECT j.state, COUNT(*) FROM jobs j JOIN vms v ON v.id = j.vm_id WHERE v.system_id = ? AND j.host = 'host-b' GROUP BY j.state" "$SYS7" | tr '\t\n' ': ')
orch_kill9
pass "7. gc-orchestrator killed with SIGKILL with $DONE_AT_KILL of $N7 jobs done (host-b's jobs: $B_STATES)"
check "7. the kill landed mid-dispatch: some jobs done, not all" test "$DONE_AT_KILL" -gt 0 -a "$DONE_AT_KILL" -lt "$N7"
kill -CONT "${AGENT_PID[host-b]}"
# If host-b's jobs had gone out, it runs them now and keeps the results.
if [[ $B_STATES == *sent* ]]; then
	b_ran() { [[ $(log_since host-b "$LINE_B" | grep -c "vm\.ensure ${UNIT}一网通办应用服务器[0-9]*: defined") -ge $NB ]]; }
	poll 20 b_ran || true
	check "7. host-b ran the $NB jobs it had been sent while the orchestrator was down" b_ran
fi
orch_start
is "7. gc-orchestrator starts again on the same port and store" "$PORT" "$FIXED_PORT"
T7=$SECONDS
if poll 90 running "$SYS7" "$N7"; then
	pass "7. all $N7 VMs are running ($((SECONDS - T7)) s after the restart)"
else
	fail "7. all $N7 VMs are running"
	jget "$T/vms.json" '[(v["name"], v["host"], v["state"]) for v in d["vms"]]' | sed 's/^/    # /'
fi
poll 30 system_is "$SYS7" trial || true
is "7. 一网通办 is in trial" "$(system_state "$SYS7")" trial
vms_fetch "$SYS7"
check "7. no job lost: each VM has exactly one job, done, and a job.done record" \
	python3 - "$DB" "$SYS7" "$N7" "$URL" <<'EOF'
import sqlite3, sys, os, urllib.parse
con = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(sys.argv[1])), uri=True, timeout=30)
rows = con.execute("SELECT v.name, j.id, j.state, j.kind FROM vms v LEFT JOIN jobs j ON j.vm_id = v.id WHERE v.system_id = ?",
                   (sys.argv[2],)).fetchall()
names = {r[0] for r in rows}
assert len(names) == int(sys.argv[3]), len(names)
assert len(rows) == len(names), [r for r in rows]
assert all(r[2] == "done" and r[3] == "vm.ensure" for r in rows), [r for r in rows if r[2] != "done"]
done = con.execute("SELECT COUNT(DISTINCT json_extract(detail, '$.job')) FROM audit WHERE action = 'job.done' "
                   "AND json_extract(detail, '$.job') IN (SELECT j.id FROM jobs j JOIN vms v ON v.id = j.vm_id WHERE v.system_id = ?)",
                   (sys.argv[2],)).fetchone()[0]
assert done == len(rows), (done, len(rows))
EOF
check "7. none ran twice: in the agents' logs each job id has at most one \"defined\" line, and each of the $N7 VMs exactly one" \
	python3 - "$T/vms.json" "$T/agent-host-a.log" "$T/agent-host-b.log" <<'EOF'
import collections, json, re, sys
vms = json.load(open(sys.argv[1], encoding="utf-8"))["vms"]
per_job, per_vm = collections.Counter(), collections.Counter()
host_of = {}
for path in sys.argv[2:]:
    for line in open(path, encoding="utf-8"):
        m = re.search(r"job ([0-9]+) vm\.ensure (.+?): (re-)?defined", line)
        if m:
            per_job[m.group(1)] += 1
            if not m.group(3):
                per_vm[m.group(2)] += 1
                host_of.setdefault(m.group(2), set()).add(path)
twice = {j: n for j, n in per_job.items() if n > 1}
assert not twice, "job ids defined more than once: %s" % twice
bad = {v["name"]: per_vm[v["name"]] for v in vms if per_vm[v["name"]] != 1}
assert not bad, "VMs not defined exactly once: %s" % bad
wrong = [v["name"] for v in vms if host_of[v["name"]] != {sys.argv[2] if v["host"] == "host-a" else sys.argv[3]}]
assert not wrong, "defined by the other host: %s" % wrong
print("%d job ids, %d VMs" % (len(per_job), len(vms)))
EOF
grep -h 'journal' <(log_since host-a "$LINE_A") <(log_since host-b "$LINE_B") | head -n 4 | sed 's/^/# /' || true
# Each agent's next inventory lists exactly the VMs placed on it.
inventories_match() {
	local h n
	hosts_fetch
	for h in host-a host-b; do
		n=$(last_inventory "$h" "$(cat "$T/inv-line-$h")") || return 1
		[[ $n == "$(host_get "$h" vm_count)" ]] || return 1
	done
}
log_lines host-a >"$T/inv-line-host-a"
log_lines host-b >"$T/inv-line-host-b"
if poll 30 inventories_match; then
	pass "7. each agent's next inventory lists as many domains as VMs are placed on it (host-a $(host_get host-a vm_count), host-b $(host_get host-b vm_count))"
else
	fail "7. each agent's next inventory lists as many domains as VMs are placed on it"
	for h in host-a host-b; do
		note "$h: vm_count $(host_get "$h" vm_count), last inventory $(last_inventory "$h" || echo none)"
	done
fi

# ------------------------------------------------- 9. a host goes down ----

note "step 9 at $((SECONDS - T0)) s"

SYS9=${SYS[数据共享交换]}
mark
MARK9=$MARK
check "9. host-b's agent stops on SIGTERM with status 0" agent_stop host-b
T9=$SECONDS
host_b_down() { hosts_fetch && [[ $(host_get host-b state) == down ]]; }
if poll 45 host_b_down; then
	pass "9. host-b is down in GET /v1/hosts $((SECONDS - T9)) s after its agent stopped"
else
	fail "9. host-b is down in GET /v1/hosts within 45 s of its agent stopping"
fi
check "9. ... within 35 s (three missed heartbeats)" test $((SECONDS - T9)) -le 35
audit_fetch
is "9. one host.down record for host-b" \
	"$(jget "$T/audit.json" "[(r['action'], r['object']) for r in d['records'] if r['seq'] > $MARK9 and r['action'].startswith('host.')]")" \
	'[["host.down", "host:host-b"]]'
is "9. host-a is still up" "$(host_get host-a state)" up
sign "$SAMPLES/apply.json" "$T/apply9.json" --set=approval.id=OA-2026-0041 --set=system.name=数据共享交换 --unset=vms.1 \
	--set-json=vms.0.vcpus=1 --set-json=vms.0.memory_gib=1
submit "$T/apply9.json"
check "9. an apply for 数据共享交换 (2 应用服务器) is accepted: 201" want 201
vms_fetch "$SYS9"
is "9. both VMs are placed on host-a: none on the down host-b" "$(jget "$T/vms.json" '[v["host"] for v in d["vms"]]')" '["host-a", "host-a"]'
poll 30 running "$SYS9" 2 || true
is "9. ... and run there" "$(jget "$T/vms.json" '[v["state"] for v in d["vms"]]')" '["running", "running"]'
mark
agent_start host-b
host_b_up() { hosts_fetch && [[ $(host_get host-b state) == up ]]; }
if poll 30 host_b_up; then
	pass "9. host-b's agent starts again: host-b is up in GET /v1/hosts"
else
	fail "9. host-b's agent starts again: host-b is up in GET /v1/hosts"
fi
host_b_up_audited() { audit_has "r['action'] == 'host.up' and r['object'] == 'host:host-b'"; }
if poll 10 host_b_up_audited; then
	pass "9. ... and a host.up record says so"
else
	fail "9. ... and a host.up record says so"
	jget "$T/audit.json" "'host records since: ' + ', '.join('%d %s %s' % (r['seq'], r['action'], r['object']) for r in d['records'] if r['seq'] > $MARK and r['action'].startswith('host.'))" | sed 's/^/    # /'
fi
all_back() {
	local s n
	for s in "$SYS1:3" "$SYS2:2" "${SYS[电子证照]}:2" "$SYS7:$N7" "$SYS9:2"; do
		n=${s#*:}
		running "${s%%:*}" "$n" || return 1
	done
}
if poll 60 all_back; then
	pass "9. host-b's VMs are re-created on its empty hypervisor: every VM of the five systems is running"
else
	fail "9. host-b's VMs are re-created on its empty hypervisor: every VM of the five systems is running"
fi
is "9. each of host-b's VMs was reported vm.missing once" \
	"$(aq "len([r for r in d['records'] if r['seq'] > $MARK and r['action'] == 'vm.missing'])")" \
	"$(dbq "SELECT COUNT(*) FROM vms WHERE host = 'host-b' AND state <> 'deleted'")"

# ---------------------------------- 8. the trial timer across SIGKILL -----

note "step 8 at $((SECONDS - T0)) s"

orch_kill9
orch_start
pass "8. gc-orchestrator killed with SIGKILL and started again (port $PORT)"
is "8. 协同办公OA is still in trial" "$(system_state "$SYS1")" trial
mark
gcctl_as authority --json clock advance 32d >"$T/clock1.json" 2>"$T/clock1.err" || true
is "8. gcctl clock advance 32d: the offset is 32 days" "$(jget "$T/clock1.json" 'd["offset_seconds"]' 2>&1)" 2764800
poll 15 system_is "$SYS1" awaiting_golive || true
is "8. 协同办公OA moved trial -> awaiting_golive" "$(system_state "$SYS1")" awaiting_golive
audit_fetch
is "8. the audit has system.stage trial -> awaiting_golive for it with rule R-LC2" \
	"$(jget "$T/audit.json" "[(r['detail']['from'], r['detail']['to'], r['rule']) for r in d['records'] if r['seq'] > $MARK and r['action'] == 'system.stage' and r['object'] == 'system:$SYS1']")" \
	'[["trial", "awaiting_golive", "R-LC2"]]'
check "8. the records since carry the moved clock (32 days ahead)" python3 - "$T/audit.json" "$MARK" "$(date +%s)" <<'EOF'
import datetime, json, sys
recs = [r for r in json.load(open(sys.argv[1], encoding="utf-8"))["records"] if r["seq"] > int(sys.argv[2])]
assert recs
for r in recs:
    t = datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    assert abs(t - (int(sys.argv[3]) + 32 * 86400)) < 120, (r["seq"], r["action"], r["time"])
EOF
orch_kill9
orch_start
gcctl_as authority --json clock advance 0s >"$T/clock2.json" 2>"$T/clock2.err" || true
is "8. after another SIGKILL and start, clock advance 0s answers the same offset" \
	"$(jget "$T/clock2.json" 'd["offset_seconds"]' 2>&1)" 2764800
is "8. 协同办公OA is still awaiting_golive" "$(system_state "$SYS1")" awaiting_golive

# ------------------------------------------------------------ the end ------

note "the end at $((SECONDS - T0)) s"

check "the agents stop on SIGTERM with status 0" agent_stop host-a
check "... host-b too" agent_stop host-b
check "gc-orchestrator stops on SIGTERM with status 0" orch_stop
check "the audit chain verifies" "${GCINT[@]}" audit-verify "$DB"
note "run time $((SECONDS - T0)) s"
finish
