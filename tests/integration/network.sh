#!/usr/bin/env bash
# tests/integration/network.sh - the VPC of each business system (R-NW1,
# R-NW2, R-NW3, R-SC2, R-SC3) against the real gc-orchestrator over TLS 1.3
# with a real SQLite file.  No gc-agent runs: hosts are registered with a
# declared capacity, jobs are read from the SQLite file (read-only) and
# through GET /v1/systems/{id}/network; where a system must reach trial (for
# a change), a few lines of curl answer its hosts' jobs as an agent would.
#
#   1. an apply gives the system a VPC: a VNI in network.vni_first..last, a
#      /28 (twice the VMs, at least a /28) inside the pool's address range,
#      the gateway its first address, each VM the lowest free address after
#      it and the MAC 52:54:00 + its id; a vpc.ensure per host holding a VM,
#      queued before that host's vm.ensure, its peers the other hosts'
#      underlay addresses; egress none, not isolated
#   2. a pool whose only range is a /28: two systems get the same CIDR and
#      the same first address (a repeat); an apply of 10 VMs (a /27) is
#      refused 422 R-NW2 and leaves nothing but its audit record; an uplink
#      range with one free address: the second VPC to open egress is refused
#      422 R-NW2
#   3. network.vni_first == vni_last (a second run): the second apply is
#      refused 422 R-NW1
#   4. egress: refused (R-SC2) without an admission and after a failed one,
#      (R-NW3) to a network the application did not list or the pool does not
#      offer; opened with an uplink per host inside the pool's egress range;
#      closed again (jobs without uplink) when the admission is recorded
#      failed, and that job reaches a host's parked long-poll at once.  Every
#      refusal (a body the schema refuses included: audited under the
#      operation's vpc.*.refused) is one audit record and changes nothing else
#   5. roles: the tenant may read the network but not open egress or isolate
#      (403, audited); the provider and the authority may isolate
#   6. isolate: "isolated": true on every host, one vpc.isolated record with
#      the reason; again: 200, nothing new; restore: "isolated": false
#   7. a change adding a VM on a host the VPC did not span: vpc.ensure there
#      (before the VM's vm.ensure), updated peers on the others; a change
#      releasing the only VM of a host: its vm.delete, then its vpc.delete
#   8. gcctl system network ID (text and --json); gcctl system egress refused
#      with the rule named
# Sections run in the order 1 2 4 5 6 8 7 3: 7 answers jobs of pool C only,
# and 3 needs a second run on a store of its own.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

GCCTL_BIN=${GCCTL:-$GC_BUILDDIR/cli/gcctl}
[[ -x $GCCTL_BIN ]] || bail "$GCCTL_BIN is not built"

UNIT=市xx局
POOL_A=包头-A           # 10.20.0.0/16, egress egov only
POOL_B=包头-B           # a single /28; an egov uplink range with one free address
POOL_C=包头-C           # for the changes; no egress
VNI_FIRST=7000
VNI_LAST=7099
EGOV_A=198.51.100.0/29
EGOV_A_GW=198.51.100.1
EGOV_B=198.51.100.8/30
EGOV_B_GW=198.51.100.9
declare -A UNDERLAY=(
	[cap-a1]=192.0.2.11 [cap-a2]=192.0.2.12
	[cap-b1]=192.0.2.21
	[cap-c1]=192.0.2.31 [cap-c2]=192.0.2.32 [cap-c3]=192.0.2.33
)

make_pki
write_config '' "$(
	cat <<EOF
{"pools": [
  {"name": "$POOL_A", "arch": ["x86", "arm"], "address_ranges": ["10.20.0.0/16"],
   "egress": {"egov": {"range": "$EGOV_A", "gateway": "$EGOV_A_GW"}}},
  {"name": "$POOL_B", "address_ranges": ["10.99.0.0/28"],
   "egress": {"egov": {"range": "$EGOV_B", "gateway": "$EGOV_B_GW"}}},
  {"name": "$POOL_C", "address_ranges": ["10.30.0.0/24"]}
 ],
 "network": {"vni_first": $VNI_FIRST, "vni_last": $VNI_LAST}}
EOF
)"
orch_start
pass "gc-orchestrator listens on 127.0.0.1:$PORT (pools $POOL_A, $POOL_B, $POOL_C; VNIs $VNI_FIRST-$VNI_LAST)"

# ----------------------------------------------------------- helpers ------

# Python helpers for the checks below: the store read-only, addresses.
cat >"$T/netlib.py" <<'EOF'
import ipaddress, json, os, sqlite3, sys, urllib.parse

def connect(path):
    con = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(path)), uri=True, timeout=30)
    con.row_factory = sqlite3.Row
    return con

def rows(con, sql, *args):
    return [dict(r) for r in con.execute(sql, args)]

def jobs(con, where="1", *args):
    out = rows(con, "SELECT id, host, kind, vm_id, vpc_id, request_id, payload, state FROM jobs WHERE %s ORDER BY id" % where, *args)
    for j in out:
        j["p"] = json.loads(j["payload"])
    return out

def net(s):
    return ipaddress.ip_network(s, strict=True)

def addr(s):
    return ipaddress.ip_address(s)

BAD = []

def want(cond, msg):
    if not cond:
        BAD.append(msg)
    return cond

def done():
    for b in BAD[:25]:
        print(b)
    sys.exit(1 if BAD else 0)
EOF
NETLIB=(env "PYTHONPATH=$T" python3 -B)

# dbq SQL [ARG]...: rows of a read-only query of the store, tab-separated.
dbq() {
	python3 - "$DB" "$@" <<'EOF'
import sqlite3, sys, urllib.parse, os
con = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(sys.argv[1])), uri=True, timeout=30)
for row in con.execute(sys.argv[2], sys.argv[3:]):
    print("\t".join("" if v is None else str(v) for v in row))
EOF
}
max_job() { dbq 'SELECT COALESCE(MAX(id), 0) FROM jobs'; }

# reg_host NAME POOL: a host with a large declared capacity and its own
# underlay address (lib.sh's register_host gives every host 10.0.0.1).
reg_host() {
	api provider POST /v1/hosts "{\"name\": \"$1\", \"pool\": $(jstr "$2"), \"underlay_address\": \"${UNDERLAY[$1]}\", \"operations_address\": \"10.1.0.${UNDERLAY[$1]##*.}\", \"capacity\": {\"vcpus\": 100000, \"memory_mib\": 100000000, \"storage_gib\": 100000000, \"arch\": \"x86_64\"}}"
	want 201 >"$T/reg.err" || bail "register host $1: $(cat "$T/reg.err")"
}
# new_system NAME: a registered system of $UNIT with its agreement; SYS[NAME].
declare -A SYS=()
new_system() {
	register_system "$UNIT" "$1"
	SYS[$1]=$LAST_ID
	record_agreement "$LAST_ID"
}
# admission ID passed|failed: the authority records the admission check.
admission() {
	api authority PUT "/v1/systems/$1/admission" "{\"mlps_certificate\": {\"number\": \"15010099999-20001\", \"date\": \"2026-10-01\"}, \"crypto_application_plan\": {\"reference\": \"密评方案-2026-01\", \"date\": \"2026-10-02\"}, \"security_test_reports\": [{\"reference\": \"安全测评-2026-07\", \"date\": \"2026-10-03\"}], \"result\": \"$2\"}"
}
# apply_for NAME POOL APPROVAL_ID OUT [sign-openssl.py OPTION]...: apply.json for
# system NAME in POOL, signed; submitted.
apply_for() {
	local name=$1 pool=$2 id=$3 out=$4
	shift 4
	sign "$SAMPLES/apply.json" "$out" --set=approval.id="$id" --set=system.name="$name" --set=pool="$pool" "$@"
	submit "$out"
}
# has_lines FILE ERE...: FILE has a line matching each ERE; else show FILE.
has_lines() {
	local f=$1 re
	shift
	for re in "$@"; do
		grep -Eq -- "$re" "$f" || { echo "no line matches /$re/ in:"; cat "$f"; return 1; }
	done
}
gcctl_as() {
	who_files "$1"
	shift
	"$GCCTL_BIN" "$@" --server "$URL" --cert "$CERT" --key "$KEY" --cacert "$PKI/ca.crt"
}

# refused DESC WHO METHOD PATH BODY STATUS CODE FIELD RULE ACTION: a call
# answered STATUS with that error; exactly one audit record (ACTION, outcome
# refused, or denied for 403, the rule, code and status in its detail); no
# other table of the store changed.
refused() {
	local desc=$1 who=$2 method=$3 path=$4 body=$5 status=$6 code=$7 field=$8 rule=$9 action=${10}
	local outcome=refused before got
	[[ $status != 403 ]] || outcome=denied
	db_dump "$T/dump.before"
	audit_fetch
	before=$AUDIT_LAST
	api "$who" "$method" "$path" "$body"
	cp "$BODY" "$T/refused.body"
	check "$desc: HTTP $status" want "$status"
	got=$(jget "$T/refused.body" '" | ".join([d["error"]["code"], d["error"]["field"], d["error"]["rule"],
		"a message" if d["error"]["message"] else "no message"])' 2>&1) || true
	is "$desc: error $code, field \"$field\", rule \"$rule\"" "$got" "$code | $field | $rule | a message"
	audit_fetch
	got=$(jget "$T/audit.json" '" ".join(str(x) for x in [d["records"][-1]["seq"], d["records"][-1]["action"],
		d["records"][-1]["outcome"], "[" + d["records"][-1]["rule"] + "]", d["records"][-1]["detail"].get("code"),
		d["records"][-1]["detail"].get("status")])')
	is "$desc: exactly one audit record: $action, $outcome, rule \"$rule\"" \
		"$got $AUDIT_LAST" "$((before + 1)) $action $outcome [$rule] $code $status $((before + 1))"
	db_dump "$T/dump.after"
	check "$desc: nothing else in the store changed" diff -u "$T/dump.before" "$T/dump.after"
}

# switched DESC WHO METHOD PATH BODY ACTION: a network switch answered 200
# with exactly one new audit record ACTION; JOBS_BEFORE is the last job id
# before it, AUDIT_BEFORE the last seq.
switched() {
	local desc=$1 who=$2 method=$3 path=$4 body=$5 action=$6 got
	audit_fetch
	AUDIT_BEFORE=$AUDIT_LAST
	JOBS_BEFORE=$(max_job)
	api "$who" "$method" "$path" "$body"
	cp "$BODY" "$T/switched.body"
	check "$desc: HTTP 200" want 200
	audit_fetch
	got=$(jget "$T/audit.json" '" ".join(str(x) for x in [d["records"][-1]["seq"], d["records"][-1]["action"], d["records"][-1]["role"]])')
	is "$desc: exactly one audit record, $action by the ${who%%=*}" "$got $AUDIT_LAST" \
		"$((AUDIT_BEFORE + 1)) $action ${who%%=*} $((AUDIT_BEFORE + 1))"
}

# unchanged DESC WHO METHOD PATH BODY: a switch already in that position:
# 200, no job, no audit record, nothing in the store changed.
unchanged() {
	local desc=$1 who=$2 method=$3 path=$4 body=$5 before
	db_dump "$T/dump.before"
	audit_fetch
	before=$AUDIT_LAST
	api "$who" "$method" "$path" "$body"
	check "$desc: HTTP 200" want 200
	audit_fetch
	is "$desc: no audit record" "$AUDIT_LAST" "$before"
	db_dump "$T/dump.after"
	check "$desc: no job, nothing in the store changed" diff -u "$T/dump.before" "$T/dump.after"
}

# ------------------------------------------------- the fake agent (7) -----

# The hosts of pool C answer their jobs as gc-agent would, from a
# certificate of the run's CA (OU=host, CN=the host).
agent_cert() { make_cert host "$1" "$T/host-$1"; }
# agent_round HOST: take HOST's queued jobs and report each done; AGENT_N is
# how many there were.
agent_round() {
	local who=file:$T/host-$1
	AGENT_N=0
	api "$who" GET '/v1/agent/jobs?wait=0'
	want 200 >"$T/agent.err" || bail "GET /v1/agent/jobs as $1: $(cat "$T/agent.err")"
	AGENT_N=$(jget "$BODY" 'len(d["jobs"])')
	[[ $AGENT_N -gt 0 ]] || return 0
	python3 - "$BODY" >"$T/results.json" <<'EOF'
import json, sys
out = []
for j in json.load(open(sys.argv[1], encoding="utf-8"))["jobs"]:
    if j["kind"] == "vm.ensure":
        v = j["vm"]
        out.append({"job": j["id"], "ok": True, "vm": {
            "uuid": v["uuid"], "name": v["name"], "title": v["title"], "labels": v["labels"], "state": "running",
            "vcpus": v["vcpus"], "memory_mib": v["memory_mib"],
            "disks": [{"name": d["name"], "gib": d["gib"]} for d in v["disks"]], "created": True, "recreated": False}})
    elif j["kind"] == "vm.delete":
        out.append({"job": j["id"], "ok": True})
    else:
        out.append({"job": j["id"], "ok": True, "vpc": {"vni": j["vpc"]["vni"], "actions": "test"}})
json.dump({"results": out}, sys.stdout, ensure_ascii=False)
EOF
	api "$who" POST /v1/agent/results "@$T/results.json"
	want 200 >"$T/agent.err" || bail "POST /v1/agent/results as $1: $(cat "$T/agent.err")"
}
# agents_settle HOST...: rounds until none of the hosts has a job left.
agents_settle() {
	local h total
	for _ in 1 2 3 4 5 6 7 8; do
		total=0
		for h in "$@"; do
			agent_round "$h"
			total=$((total + AGENT_N))
		done
		[[ $total -gt 0 ]] || return 0
	done
	bail "the hosts $* still had jobs after 8 rounds"
}

# --------------------------------------------------------- registration ---

register_unit "$UNIT"
for s in 协同办公OA 门户网站 一网通办 数据共享交换 电子证照 视频会议; do new_system "$s"; done
register_approval_system approval-oa "$(sign_pub approval)"
reg_host cap-a1 "$POOL_A"
reg_host cap-a2 "$POOL_A"
reg_host cap-b1 "$POOL_B"
reg_host cap-c1 "$POOL_C"
reg_host cap-c2 "$POOL_C"
pass "registered $UNIT, six systems with their agreements, approval-oa, hosts cap-a1 cap-a2 ($POOL_A), cap-b1 ($POOL_B), cap-c1 cap-c2 ($POOL_C)"
OA=${SYS[协同办公OA]}
PORTAL=${SYS[门户网站]}
B1=${SYS[一网通办]}
B2=${SYS[数据共享交换]}
B3=${SYS[电子证照]}
C1=${SYS[视频会议]}

api provider GET "/v1/systems/$OA/network"
check "before any apply, GET /v1/systems/$OA/network is 404 (no VPC)" want 404

# ===================================================== 1. an apply ========

JOBS0=$(max_job)
apply_for 协同办公OA "$POOL_A" OA-NET-0001 "$T/apply-oa.json"
check "1. apply for 协同办公OA (3 VMs, $POOL_A): HTTP 201" want 201
REQ_OA=$(jget "$BODY" 'd["request"]["id"]')
network_get "$OA"
cp "$T/net-$OA.json" "$T/net-oa-1.json"

check "1. the VPC: a VNI in $VNI_FIRST..$VNI_LAST, a /28 inside 10.20.0.0/16, the gateway its first address, gateway MAC 02:67:63 + VNI" \
	"${NETLIB[@]}" - "$DB" "$OA" "$T/net-oa-1.json" "$VNI_FIRST" "$VNI_LAST" <<'EOF'
import sys
from netlib import *
db, sid, nf, first, last = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
n = json.load(open(nf, encoding="utf-8"))["network"]
con = connect(db)
v = rows(con, "SELECT * FROM vpcs WHERE system_id = ?", sid)
want(len(v) == 1, "vpcs rows for the system: %d, expected 1" % len(v))
v = v[0] if v else {}
want(first <= n["vni"] <= last, "vni %s outside %d..%d" % (n["vni"], first, last))
want(n["vni"] == v.get("vni") and n["cidr"] == v.get("cidr") and n["gateway"] == v.get("gateway"),
     "GET network %s/%s/%s differs from the store %s" % (n["vni"], n["cidr"], n["gateway"], v))
c = net(n["cidr"])
want(c.subnet_of(net("10.20.0.0/16")), "%s is not inside 10.20.0.0/16" % c)
want(c.prefixlen == 28, "3 VMs want a /28 (twice the VMs + 3, at least /28), got /%d" % c.prefixlen)
want(addr(n["gateway"]) == c.network_address + 1, "gateway %s is not the first address of %s" % (n["gateway"], c))
want(n["gateway_mac"] == "02:67:63:%02x:%02x:%02x" % ((n["vni"] >> 16) & 255, (n["vni"] >> 8) & 255, n["vni"] & 255),
     "gateway_mac %s for vni %s" % (n["gateway_mac"], n["vni"]))
want(n["system"] == sid and n["pool"] == "包头-A", "system/pool %s/%s" % (n["system"], n["pool"]))
done()
EOF

check "1. each VM: an address inside the CIDR after the gateway (.2, .3, .4 in VM order), unique; MAC 52:54:00 + its id, unique" \
	"${NETLIB[@]}" - "$DB" "$OA" "$T/net-oa-1.json" <<'EOF'
import sys
from netlib import *
db, sid, nf = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n = json.load(open(nf, encoding="utf-8"))["network"]
con = connect(db)
vms = rows(con, "SELECT id, name, host, address, mac FROM vms WHERE system_id = ? ORDER BY id", sid)
c = net(n["cidr"])
want(len(vms) == 3, "%d VMs, expected 3" % len(vms))
addrs = [v["address"] for v in vms]
macs = [v["mac"] for v in vms]
want(None not in addrs and None not in macs, "a VM without address or MAC: %s" % vms)
if None not in addrs:
    want(len(set(addrs)) == len(addrs), "addresses not unique: %s" % addrs)
    for a in addrs:
        want(addr(a) in c and addr(a) not in (c.network_address, c.network_address + 1, c.broadcast_address),
             "address %s is not a host address of %s after the gateway" % (a, c))
    want(addrs == [str(c.network_address + k) for k in (2, 3, 4)], "addresses %s, expected the lowest free ones .2 .3 .4" % addrs)
want(len(set(macs)) == len(macs), "MACs not unique: %s" % macs)
for v in vms:
    want(v["mac"] == "52:54:00:%02x:%02x:%02x" % ((v["id"] >> 16) & 255, (v["id"] >> 8) & 255, v["id"] & 255),
         "VM %d: MAC %s" % (v["id"], v["mac"]))
got = sorted((x["name"], x["host"], x["address"], x["mac"]) for x in n["vms"])
want(got == sorted((v["name"], v["host"], v["address"], v["mac"]) for v in vms), "GET network's VMs %s differ from the store" % got)
want(all(x["ports"] for x in n["vms"]), "a VM without the application's ports: %s" % n["vms"])
done()
EOF

check "1. a vpc.ensure per host that got a VM, each before that host's vm.ensure jobs; peers = the other hosts' underlay addresses; egress none, not isolated, no uplink" \
	"${NETLIB[@]}" - "$DB" "$OA" "$REQ_OA" "$JOBS0" <<'EOF'
import sys
from netlib import *
db, sid, req, j0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
con = connect(db)
v = rows(con, "SELECT * FROM vpcs WHERE system_id = ?", sid)[0]
under = {h["name"]: h["underlay_address"] for h in rows(con, "SELECT name, underlay_address FROM hosts")}
hosts = sorted({r["host"] for r in rows(con, "SELECT host FROM vms WHERE system_id = ?", sid)})
js = jobs(con, "id > ?", j0)
want(all(j["request_id"] == req for j in js), "jobs of another request: %s" % [(j["id"], j["request_id"]) for j in js])
want(len(hosts) == 2, "the 3 VMs are on %s, expected both hosts of the pool (spread by role)" % hosts)
ensure = [j for j in js if j["kind"] == "vpc.ensure"]
want(sorted(j["host"] for j in ensure) == hosts, "vpc.ensure on %s, expected one on each of %s" % ([j["host"] for j in ensure], hosts))
want(not [j for j in js if j["kind"] in ("vpc.delete", "vm.delete")], "a delete job after an apply")
for j in ensure:
    p = j["p"]
    vm_jobs = [x["id"] for x in js if x["kind"] == "vm.ensure" and x["host"] == j["host"]]
    want(vm_jobs and j["id"] < min(vm_jobs), "host %s: vpc.ensure %d is not before its vm.ensure %s" % (j["host"], j["id"], vm_jobs))
    want(j["vpc_id"] == v["id"] and j["vm_id"] is None, "job %d: vpc_id %s vm_id %s" % (j["id"], j["vpc_id"], j["vm_id"]))
    others = sorted(under[h] for h in hosts if h != j["host"])
    want(sorted(p.get("peers", [])) == others and len(p["peers"]) == len(others),
         "host %s: peers %s, expected %s" % (j["host"], p.get("peers"), others))
    want(p["vni"] == v["vni"] and p["cidr"] == v["cidr"] and p["gateway"] == v["gateway"] and p["gateway_mac"] == v["gateway_mac"],
         "host %s: VPCSPEC %s does not match the VPC %s" % (j["host"], p, v))
    want(p.get("egress") == "none" and p.get("isolated") is False and "uplink" not in p,
         "host %s: egress %s isolated %s uplink %s" % (j["host"], p.get("egress"), p.get("isolated"), p.get("uplink")))
want(len([j for j in js if j["kind"] == "vm.ensure"]) == 3, "vm.ensure jobs: %d, expected 3" % len([j for j in js if j["kind"] == "vm.ensure"]))
vh = rows(con, "SELECT host, state, uplink_address FROM vpc_hosts WHERE vpc_id = ? ORDER BY host", v["id"])
want([h["host"] for h in vh] == hosts and all(h["state"] == "pending" and h["uplink_address"] is None for h in vh),
     "vpc_hosts %s" % vh)
done()
EOF
is "1. GET network: egress none, not isolated, the hosts cap-a1 cap-a2 with their underlay addresses" \
	"$(jget "$T/net-oa-1.json" '[d["network"]["egress"], d["network"]["isolated"], [(h["host"], h["underlay"], h["uplink"]) for h in d["network"]["hosts"]]]')" \
	'["none", false, [["cap-a1", "192.0.2.11", null], ["cap-a2", "192.0.2.12", null]]]'
api tenant GET "/v1/systems/$OA"
is "1. GET /v1/systems/$OA includes the network's CIDR (the tenant's view)" \
	"$(jget "$BODY" 'd["system"]["network"]["cidr"]' 2>&1)" "$(jget "$T/net-oa-1.json" 'd["network"]["cidr"]')"
OA_VNI=$(jget "$T/net-oa-1.json" 'd["network"]["vni"]')
OA_CIDR=$(jget "$T/net-oa-1.json" 'd["network"]["cidr"]')

# A second system of the same pool: its own VNI and a CIDR of its own.
sign "$SAMPLES/apply.json" "$T/apply-portal.json" --set=approval.id=OA-NET-0002 --set=system.name=门户网站 \
	--set=pool="$POOL_A" '--set-json=system.networks=["egov", "internet"]'
submit "$T/apply-portal.json"
check "1. apply for 门户网站 ($POOL_A, networks egov and internet): HTTP 201" want 201
network_get "$PORTAL"
PORTAL_CIDR=$(jget "$T/net-$PORTAL.json" 'd["network"]["cidr"]')
check "1. 门户网站 gets another VNI and a distinct /28 of 10.20.0.0/16 ($OA_CIDR, $PORTAL_CIDR) while blocks are free" \
	"${NETLIB[@]}" - "$T/net-$PORTAL.json" "$OA_VNI" "$OA_CIDR" <<'EOF'
import sys
from netlib import *
n = json.load(open(sys.argv[1], encoding="utf-8"))["network"]
want(n["vni"] != int(sys.argv[2]), "the same VNI %s" % n["vni"])
c, o = net(n["cidr"]), net(sys.argv[3])
want(c.subnet_of(net("10.20.0.0/16")) and c.prefixlen == 28, "%s" % c)
want(not c.overlaps(o), "%s overlaps %s" % (c, o))
want(addr(n["gateway"]) == c.network_address + 1, "gateway %s" % n["gateway"])
done()
EOF

# ================================================ 2. a /28 pool =========

apply_for 一网通办 "$POOL_B" OA-NET-0003 "$T/apply-b1.json"
check "2. apply for 一网通办 in $POOL_B (10.99.0.0/28 only): HTTP 201" want 201
apply_for 数据共享交换 "$POOL_B" OA-NET-0004 "$T/apply-b2.json"
check "2. apply for 数据共享交换 in $POOL_B: HTTP 201" want 201
network_get "$B1"
network_get "$B2"
is "2. both VPCs have the pool's only block, 10.99.0.0/28 (a repeat is allowed)" \
	"$(jget "$T/net-$B1.json" 'd["network"]["cidr"]') $(jget "$T/net-$B2.json" 'd["network"]["cidr"]')" "10.99.0.0/28 10.99.0.0/28"
is "2. ... and their first VMs the same address, 10.99.0.2" \
	"$(jget "$T/net-$B1.json" 'd["network"]["vms"][0]["address"]') $(jget "$T/net-$B2.json" 'd["network"]["vms"][0]["address"]')" \
	"10.99.0.2 10.99.0.2"
check "2. ... with distinct VNIs and distinct MACs" "${NETLIB[@]}" - "$T/net-$B1.json" "$T/net-$B2.json" <<'EOF'
import sys
from netlib import *
a, b = (json.load(open(f, encoding="utf-8"))["network"] for f in sys.argv[1:3])
want(a["vni"] != b["vni"], "the same VNI %s" % a["vni"])
want(a["gateway_mac"] != b["gateway_mac"], "the same gateway MAC %s" % a["gateway_mac"])
macs = [v["mac"] for v in a["vms"] + b["vms"]]
want(len(set(macs)) == len(macs) == 6, "MACs %s" % macs)
done()
EOF

sign "$SAMPLES/apply.json" "$T/apply-b3.json" --set=approval.id=OA-NET-0005 --set=system.name=电子证照 \
	--set=pool="$POOL_B" '--set-json=vms.0.count=9'
refused "2. an apply of 10 VMs in $POOL_B (needs a /27)" approval POST /v1/requests "@$T/apply-b3.json" \
	422 address_exhausted vms R-NW2 request.refused
is "2. ... no VPC, no VM for 电子证照" \
	"$(dbq 'SELECT (SELECT COUNT(*) FROM vpcs WHERE system_id = ?) || " " || (SELECT COUNT(*) FROM vms WHERE system_id = ?)' "$B3" "$B3")" "0 0"
is "2. ... and it is still registered" "$(system_state "$B3")" registered

# ==================================================== 4. egress ==========

EGOV='{"egress": "egov", "reference": "备案-2026-118"}'
INTERNET='{"egress": "internet", "reference": "备案-2026-119"}'

refused "4. egress egov for 协同办公OA before any admission" provider PUT "/v1/systems/$OA/egress" "$EGOV" \
	422 admission_required egress R-SC2 vpc.egress.refused
refused "4. egress for 电子证照, which has no VPC" provider PUT "/v1/systems/$B3/egress" "$EGOV" \
	409 no_vpc id R-NW1 vpc.egress.refused
refused "4. egress for system 9999, which is not registered" provider PUT /v1/systems/9999/egress "$EGOV" \
	404 not_found id R-NW3 vpc.egress.refused
# A body the schema refuses is audited under the operation's refusal action,
# as every other refusal of the operation (tests/integration/roles.sh).
refused "4. egress \"bogus\" (the schema's enum)" provider PUT "/v1/systems/$OA/egress" '{"egress": "bogus", "reference": "x"}' \
	400 invalid_body egress R-NW3 vpc.egress.refused
refused "4. isolate without a reason (the schema)" provider POST "/v1/systems/$OA/isolate" '{}' \
	400 invalid_body reason R-SC3 vpc.isolated.refused
admission "$OA" failed
check "4. the authority records 协同办公OA's admission: failed" want 200
refused "4. egress egov after a failed admission" provider PUT "/v1/systems/$OA/egress" "$EGOV" \
	422 admission_required egress R-SC2 vpc.egress.refused
check "4. ... the message says the admission failed" grep -qi 'failed' "$T/refused.body"
admission "$OA" passed
check "4. the authority records 协同办公OA's admission: passed" want 200
refused "4. egress internet, which the application did not list (networks [egov])" provider PUT "/v1/systems/$OA/egress" \
	"$INTERNET" 422 not_applied_for egress R-NW3 vpc.egress.refused
admission "$PORTAL" passed
check "4. the authority records 门户网站's admission: passed" want 200
refused "4. egress internet for 门户网站 (listed, but $POOL_A offers egov only)" provider PUT "/v1/systems/$PORTAL/egress" \
	"$INTERNET" 422 egress_not_offered egress R-NW3 vpc.egress.refused

switched "4. egress egov for 协同办公OA (admission passed, listed, offered)" provider PUT "/v1/systems/$OA/egress" "$EGOV" vpc.egress
is "4. ... the record keeps the reference" "$(jget "$T/audit.json" 'd["records"][-1]["detail"]["reference"]')" 备案-2026-118
is "4. ... the answer says egress egov" "$(jget "$T/switched.body" 'd["network"]["egress"]')" egov
check "4. ... a vpc.ensure per host with egress egov and an uplink inside $EGOV_A (prefix 29, gateway $EGOV_A_GW), different per host" \
	"${NETLIB[@]}" - "$DB" "$OA" "$JOBS_BEFORE" "$EGOV_A" "$EGOV_A_GW" "$T/switched.body" <<'EOF'
import sys
from netlib import *
db, sid, j0, rng, gw, body = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), net(sys.argv[4]), sys.argv[5], sys.argv[6]
con = connect(db)
v = rows(con, "SELECT * FROM vpcs WHERE system_id = ?", sid)[0]
want(v["egress"] == "egov", "vpcs.egress %s" % v["egress"])
js = jobs(con, "id > ?", j0)
want(sorted((j["host"], j["kind"]) for j in js) == [("cap-a1", "vpc.ensure"), ("cap-a2", "vpc.ensure")],
     "jobs %s, expected one vpc.ensure on each of cap-a1 cap-a2" % [(j["host"], j["kind"]) for j in js])
ups = []
for j in js:
    p = j["p"]
    u = p.get("uplink") or {}
    want(p.get("egress") == "egov" and p.get("isolated") is False, "host %s: egress %s isolated %s" % (j["host"], p.get("egress"), p.get("isolated")))
    want(u.get("prefix") == rng.prefixlen and u.get("gateway") == gw, "host %s: uplink %s" % (j["host"], u))
    a = u.get("address")
    want(a and addr(a) in rng and addr(a) not in (rng.network_address, rng.broadcast_address, addr(gw)),
         "host %s: uplink address %s not a free host address of %s" % (j["host"], a, rng))
    ups.append(a)
want(len(set(ups)) == len(ups) == 2, "uplink addresses %s not one per host" % ups)
vh = {h["host"]: h for h in rows(con, "SELECT * FROM vpc_hosts WHERE vpc_id = ?", v["id"])}
for j in js:
    want(vh[j["host"]]["uplink_kind"] == "egov" and vh[j["host"]]["uplink_address"] == j["p"]["uplink"]["address"],
         "vpc_hosts %s" % vh[j["host"]])
n = json.load(open(body, encoding="utf-8"))["network"]
want(sorted((h["host"], h["egress"], h["uplink"]) for h in n["hosts"]) == sorted((j["host"], "egov", j["p"]["uplink"]["address"]) for j in js),
     "the answer's hosts %s" % n["hosts"])
done()
EOF
unchanged "4. egress egov again" provider PUT "/v1/systems/$OA/egress" "$EGOV"

# The uplink range of pool B holds one free address (a /30 less its gateway).
admission "$B1" passed
check "4. admission passed for 一网通办" want 200
admission "$B2" passed
check "4. admission passed for 数据共享交换" want 200
switched "4. egress egov for 一网通办 ($POOL_B)" provider PUT "/v1/systems/$B1/egress" "$EGOV" vpc.egress
is "4. ... its host's uplink is the range's one free address, 198.51.100.10" \
	"$(jget "$T/switched.body" '[(h["host"], h["uplink"]) for h in d["network"]["hosts"]]')" '[["cap-b1", "198.51.100.10"]]'
refused "4. egress egov for 数据共享交换: $POOL_B's uplink range $EGOV_B has no address left" provider PUT \
	"/v1/systems/$B2/egress" "$EGOV" 422 address_exhausted egress R-NW2 vpc.egress.refused

# A failed admission closes the open egress.  cap-a1 answers its jobs so
# far (a certificate of its own), then parks a long-poll: closing the egress
# must reach it at once, as opening it does, not at the poll's timeout.
agent_cert cap-a1
agent_round cap-a1
who_files file:"$T/host-cap-a1"
(
	curl -sS --max-time 40 --cacert "$PKI/ca.crt" --cert "$CERT" --key "$KEY" -o "$T/poll-a1.json" \
		"$URL/v1/agent/jobs?wait=20" 2>"$T/poll-a1.err" || true
	now_ms >"$T/poll-a1.end"
) &
POLL_PID=$!
bg "$POLL_PID"
sleep 1
audit_fetch
AUDIT_BEFORE=$AUDIT_LAST
JOBS_BEFORE=$(max_job)
POLL_T0=$(now_ms)
admission "$OA" failed
check "4. the authority records 协同办公OA's admission as failed again: HTTP 200" want 200
wait "$POLL_PID" || true
unbg "$POLL_PID"
POLL_MS=$(($(cat "$T/poll-a1.end") - POLL_T0))
note "cap-a1's parked long-poll answered $POLL_MS ms after the admission was recorded"
check "4. ... cap-a1's parked long-poll (wait=20) is answered at once (< 5 s), not at its timeout" test "$POLL_MS" -lt 5000
is "4. ... with the vpc.ensure closing the egress (egress none, no uplink)" \
	"$(jget "$T/poll-a1.json" '[(j["kind"], j["vpc"].get("egress"), "uplink" in j["vpc"]) for j in d["jobs"]]' 2>&1)" \
	'[["vpc.ensure", "none", false]]'
audit_fetch
is "4. ... one audit record, admission.recorded, saying the egress closed (R-SC2)" \
	"$(jget "$T/audit.json" '" ".join([str(len([r for r in d["records"] if r["seq"] > '"$AUDIT_BEFORE"'])), d["records"][-1]["action"], d["records"][-1]["rule"], str(d["records"][-1]["detail"].get("egress_closed", "")[:5])])')" \
	"1 admission.recorded R-SC2 R-SC2"
check "4. ... egress back to none; new vpc.ensure jobs on both hosts with egress none and no uplink; the uplinks released" \
	"${NETLIB[@]}" - "$DB" "$OA" "$JOBS_BEFORE" <<'EOF'
import sys
from netlib import *
db, sid, j0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = connect(db)
v = rows(con, "SELECT * FROM vpcs WHERE system_id = ?", sid)[0]
want(v["egress"] == "none", "vpcs.egress %s" % v["egress"])
js = jobs(con, "id > ?", j0)
want(sorted((j["host"], j["kind"]) for j in js) == [("cap-a1", "vpc.ensure"), ("cap-a2", "vpc.ensure")],
     "jobs %s" % [(j["host"], j["kind"]) for j in js])
for j in js:
    want(j["p"].get("egress") == "none" and "uplink" not in j["p"], "host %s: %s" % (j["host"], j["p"]))
vh = rows(con, "SELECT * FROM vpc_hosts WHERE vpc_id = ?", v["id"])
want(all(h["uplink_kind"] is None and h["uplink_address"] is None for h in vh), "vpc_hosts %s" % vh)
done()
EOF
network_get "$OA"
is "4. ... GET network: egress none, no uplinks" \
	"$(jget "$T/net-$OA.json" '[d["network"]["egress"], [h["uplink"] for h in d["network"]["hosts"]]]')" '["none", [null, null]]'
refused "4. egress egov after the admission failed again" provider PUT "/v1/systems/$OA/egress" "$EGOV" \
	422 admission_required egress R-SC2 vpc.egress.refused
admission "$OA" passed
check "4. 协同办公OA passes its admission once more" want 200
is "4. ... which does not reopen the egress" "$(dbq 'SELECT egress FROM vpcs WHERE system_id = ?' "$OA")" none
switched "4. egress egov for 门户网站, once 协同办公OA's uplinks are released" provider PUT "/v1/systems/$PORTAL/egress" "$EGOV" vpc.egress
check "4. ... an uplink per host of its VPC inside $EGOV_A, not the gateway, distinct" python3 - "$T/switched.body" "$EGOV_A" "$EGOV_A_GW" <<'EOF2'
import ipaddress, json, sys
n = json.load(open(sys.argv[1], encoding="utf-8"))["network"]
rng, gw = ipaddress.ip_network(sys.argv[2]), ipaddress.ip_address(sys.argv[3])
ups = [h["uplink"] for h in n["hosts"]]
assert len(ups) == 2 and None not in ups and len(set(ups)) == 2, ups
for u in ups:
    a = ipaddress.ip_address(u)
    assert a in rng and a not in (rng.network_address, rng.broadcast_address, gw), u
print(ups)
EOF2

# ====================================================== 5. roles =========

refused "5. the tenant PUTs egress" tenant PUT "/v1/systems/$OA/egress" "$EGOV" 403 forbidden certificate.OU '' access.denied
refused "5. the tenant POSTs isolate" tenant POST "/v1/systems/$OA/isolate" '{"reason": "试试"}' \
	403 forbidden certificate.OU '' access.denied
refused "5. the tenant POSTs restore" tenant POST "/v1/systems/$OA/restore" '{"reason": "试试"}' \
	403 forbidden certificate.OU '' access.denied
refused "5. the approval system POSTs isolate" approval POST "/v1/systems/$OA/isolate" '{"reason": "试试"}' \
	403 forbidden certificate.OU '' access.denied
refused "5. the authority PUTs egress (the provider's role)" authority PUT "/v1/systems/$OA/egress" "$EGOV" \
	403 forbidden certificate.OU '' access.denied
api tenant GET "/v1/systems/$OA/network"
check "5. the tenant reads its system's network: HTTP 200" want 200
is "5. ... the same VPC" "$(jget "$BODY" 'd["network"]["cidr"]')" "$OA_CIDR"
switched "5. the authority isolates 门户网站" authority POST "/v1/systems/$PORTAL/isolate" '{"reason": "通报：高危漏洞"}' vpc.isolated
is "5. ... isolated" "$(jget "$T/switched.body" 'd["network"]["isolated"]')" true
switched "5. the provider restores 门户网站" provider POST "/v1/systems/$PORTAL/restore" '{"reason": "已修复"}' vpc.restored
is "5. ... not isolated" "$(jget "$T/switched.body" 'd["network"]["isolated"]')" false
refused "5. isolating 电子证照, which has no VPC" provider POST "/v1/systems/$B3/isolate" '{"reason": "试试"}' \
	409 no_vpc id R-SC3 vpc.isolated.refused

# ==================================================== 6. isolation =======

REASON='高危漏洞未修复，立即隔离'
switched "6. the provider isolates 协同办公OA" provider POST "/v1/systems/$OA/isolate" \
	"{\"reason\": \"$REASON\", \"reference\": \"通报-2026-07\"}" vpc.isolated
is "6. ... the record keeps the reason" "$(jget "$T/audit.json" 'd["records"][-1]["detail"]["reason"]')" "$REASON"
is "6. ... the record names the system" "$(jget "$T/audit.json" 'd["records"][-1]["object"]')" "system:$OA"
check "6. ... a vpc.ensure with \"isolated\": true for every host of the VPC, nothing else changed in the spec" \
	"${NETLIB[@]}" - "$DB" "$OA" "$JOBS_BEFORE" <<'EOF'
import sys
from netlib import *
db, sid, j0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = connect(db)
v = rows(con, "SELECT * FROM vpcs WHERE system_id = ?", sid)[0]
want(v["isolated"] == 1, "vpcs.isolated %s" % v["isolated"])
js = jobs(con, "id > ?", j0)
want(sorted((j["host"], j["kind"]) for j in js) == [("cap-a1", "vpc.ensure"), ("cap-a2", "vpc.ensure")],
     "jobs %s" % [(j["host"], j["kind"]) for j in js])
for j in js:
    prev = jobs(con, "host = ? AND vpc_id = ? AND kind = 'vpc.ensure' AND id <= ?", j["host"], v["id"], j0)[-1]["p"]
    want(j["p"].get("isolated") is True, "host %s: isolated %s" % (j["host"], j["p"].get("isolated")))
    want(dict(j["p"], isolated=False) == prev, "host %s: %s differs from the previous spec %s beyond isolated" % (j["host"], j["p"], prev))
done()
EOF
unchanged "6. isolating 协同办公OA again (the authority)" authority POST "/v1/systems/$OA/isolate" '{"reason": "再次隔离"}'
network_get "$OA"
is "6. GET network: isolated" "$(jget "$T/net-$OA.json" 'd["network"]["isolated"]')" true
switched "6. the authority restores 协同办公OA" authority POST "/v1/systems/$OA/restore" '{"reason": "漏洞已修复，复测通过"}' vpc.restored
is "6. ... the record keeps the reason" "$(jget "$T/audit.json" 'd["records"][-1]["detail"]["reason"]')" "漏洞已修复，复测通过"
check "6. ... a vpc.ensure with \"isolated\": false for every host" "${NETLIB[@]}" - "$DB" "$OA" "$JOBS_BEFORE" <<'EOF'
import sys
from netlib import *
db, sid, j0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = connect(db)
js = jobs(con, "id > ?", j0)
want(sorted((j["host"], j["kind"], j["p"].get("isolated")) for j in js) == [("cap-a1", "vpc.ensure", False), ("cap-a2", "vpc.ensure", False)],
     "jobs %s" % [(j["host"], j["kind"], j["p"].get("isolated")) for j in js])
want(rows(con, "SELECT isolated FROM vpcs WHERE system_id = ?", sid)[0]["isolated"] == 0, "still isolated in the store")
done()
EOF
unchanged "6. restoring 协同办公OA again" provider POST "/v1/systems/$OA/restore" '{"reason": "再次恢复"}'

# ======================================================= 8. gcctl ========

network_get "$OA"
gcctl_as provider system network "$OA" >"$T/gcctl-net.out" 2>"$T/gcctl-net.err" || true
check "8. gcctl system network $OA shows the CIDR $OA_CIDR and the VNI" \
	has_lines "$T/gcctl-net.out" "$OA_CIDR" "\\b$OA_VNI\\b"
check "8. ... the hosts with their underlay addresses" \
	has_lines "$T/gcctl-net.out" 'cap-a1.*192\.0\.2\.11' 'cap-a2.*192\.0\.2\.12'
check "8. ... each VM with its address and MAC" python3 - "$T/gcctl-net.out" "$T/net-$OA.json" <<'EOF'
import json, sys
out = open(sys.argv[1], encoding="utf-8").read().splitlines()
bad = []
for v in json.load(open(sys.argv[2], encoding="utf-8"))["network"]["vms"]:
    if not any(v["name"] in l and v["address"] in l.split() and v["mac"] in l for l in out):
        bad.append("no line with %s %s %s" % (v["name"], v["address"], v["mac"]))
print("\n".join(bad) or "ok")
sys.exit(1 if bad else 0)
EOF
gcctl_as tenant --json system network "$OA" >"$T/gcctl-net.json" 2>"$T/gcctl-net.err" || true
check "8. gcctl --json system network $OA (as the tenant) parses and agrees with the API" python3 - "$T/gcctl-net.json" "$T/net-$OA.json" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1], encoding="utf-8"))["network"]
b = json.load(open(sys.argv[2], encoding="utf-8"))["network"]
a.pop("updated", None); b.pop("updated", None)
assert a == b, (a, b)
EOF
rc=0
gcctl_as provider system egress "$OA" --to internet --reference 备案-2026-200 >"$T/gcctl-eg.out" 2>"$T/gcctl-eg.err" || rc=$?
is "8. gcctl system egress $OA --to internet is refused: exit status 1" "$rc" 1
check "8. ... its message says refused and names the field and the rule R-NW3" \
	has_lines "$T/gcctl-eg.err" 'refused \(HTTP 422\): egress: "internet" .*\(R-NW3\) \[[a-z_]+\]$'
rc=0
gcctl_as provider system isolate "$OA" >"$T/gcctl-iso.out" 2>"$T/gcctl-iso.err" || rc=$?
is "8. gcctl system isolate without --reason is a usage error (exit 2)" "$rc" 2

# ===================================================== 7. changes ========

agent_cert cap-c1
agent_cert cap-c2
agent_cert cap-c3
JOBS0=$(max_job)
apply_for 视频会议 "$POOL_C" OA-NET-0010 "$T/apply-c.json"
check "7. apply for 视频会议 in $POOL_C: HTTP 201" want 201
C_VPC=$(dbq 'SELECT id FROM vpcs WHERE system_id = ?' "$C1")
is "7. ... its VPC spans cap-c1 and cap-c2" "$(dbq 'SELECT group_concat(host, " ") FROM (SELECT host FROM vpc_hosts WHERE vpc_id = ? ORDER BY host)' "$C_VPC")" \
	"cap-c1 cap-c2"
agents_settle cap-c1 cap-c2
check "7. with its hosts' jobs answered, 视频会议 reaches trial" poll 10 system_is "$C1" trial
is "7. ... and its VPC hosts are ready" "$(dbq 'SELECT group_concat(state, " ") FROM vpc_hosts WHERE vpc_id = ?' "$C_VPC")" "ready ready"

reg_host cap-c3 "$POOL_C"
JOBS_BEFORE=$(max_job)
sign "$SAMPLES/change-resize-add.json" "$T/change-c1.json" --set=approval.id=OA-NET-0011 --set=system.name=视频会议 --unset=resize
submit "$T/change-c1.json"
check "7. a change adding an 应用服务器 to 视频会议 (cap-c3 now registered): HTTP 201" want 201
REQ_C1=$(jget "$BODY" 'd["request"]["id"]')
check "7. ... the new VM goes to cap-c3, outside the VPC; vpc.ensure there before its vm.ensure; cap-c1 and cap-c2 get updated peers" \
	"${NETLIB[@]}" - "$DB" "$C1" "$JOBS_BEFORE" "$REQ_C1" <<'EOF'
import sys
from netlib import *
db, sid, j0, req = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
con = connect(db)
v = rows(con, "SELECT * FROM vpcs WHERE system_id = ?", sid)[0]
under = {h["name"]: h["underlay_address"] for h in rows(con, "SELECT name, underlay_address FROM hosts")}
new = rows(con, "SELECT id, host, address, mac FROM vms WHERE system_id = ? AND request_id = ?", sid, req)
want(len(new) == 1 and new[0]["host"] == "cap-c3", "the new VM: %s, expected one on cap-c3" % new)
js = jobs(con, "id > ?", j0)
want(all(j["request_id"] == req for j in js), "jobs of another request")
ens = {j["host"]: j for j in js if j["kind"] == "vpc.ensure"}
want(sorted(ens) == ["cap-c1", "cap-c2", "cap-c3"], "vpc.ensure on %s, expected cap-c1 cap-c2 cap-c3" % sorted(ens))
for h, j in ens.items():
    others = sorted(under[x] for x in ("cap-c1", "cap-c2", "cap-c3") if x != h)
    want(sorted(j["p"]["peers"]) == others and len(j["p"]["peers"]) == 2, "%s: peers %s, expected %s" % (h, j["p"]["peers"], others))
    want(j["p"]["vni"] == v["vni"] and j["p"]["cidr"] == v["cidr"], "%s: %s" % (h, j["p"]))
vm = [j for j in js if j["kind"] == "vm.ensure"]
want([j["host"] for j in vm] == ["cap-c3"], "vm.ensure jobs on %s, expected one on cap-c3" % [j["host"] for j in vm])
if vm and "cap-c3" in ens:
    want(ens["cap-c3"]["id"] < vm[0]["id"], "cap-c3: vpc.ensure %d after vm.ensure %d" % (ens["cap-c3"]["id"], vm[0]["id"]))
want(not [j for j in js if j["kind"] in ("vm.delete", "vpc.delete")], "a delete job")
if new:
    c = net(v["cidr"])
    want(new[0]["address"] == str(c.network_address + 5), "the 4th VM's address %s, expected .5 of %s" % (new[0]["address"], c))
    if vm:
        nics = vm[0]["p"].get("nics") or []
        want(nics == [{"vni": v["vni"], "mac": new[0]["mac"], "address": new[0]["address"]}], "vm.ensure nics %s" % nics)
done()
EOF
agents_settle cap-c1 cap-c2 cap-c3
check "7. with the jobs answered, 视频会议 is back in trial" poll 10 system_is "$C1" trial
network_get "$C1"
is "7. GET network: the VPC spans cap-c1 cap-c2 cap-c3, all ready" \
	"$(jget "$T/net-$C1.json" '[(h["host"], h["state"]) for h in d["network"]["hosts"]]')" \
	'[["cap-c1", "ready"], ["cap-c2", "ready"], ["cap-c3", "ready"]]'

# Release the only VM of a host (cap-c2 holds 应用服务器2 alone).
ONLY=$(dbq "SELECT host || '	' || MIN(name) FROM vms WHERE system_id = ? AND state <> 'deleted' GROUP BY host HAVING COUNT(*) = 1 AND host <> 'cap-c3' ORDER BY host LIMIT 1" "$C1")
ONLY_HOST=${ONLY%%$'\t'*}
ONLY_VM=${ONLY#*$'\t'}
note "releasing $ONLY_VM, the only VM of $ONLY_HOST"
[[ -n $ONLY_HOST && -n $ONLY_VM ]] || bail "no host of 视频会议 holds exactly one VM"
JOBS_BEFORE=$(max_job)
sign "$SAMPLES/change-second.json" "$T/change-c2-norq3.json" --set=approval.id=OA-NET-0012 --set=system.name=视频会议 \
	"--set-json=release=[\"$ONLY_VM\"]"
refused "7. a second change this month without change_exception" approval POST /v1/requests "@$T/change-c2-norq3.json" \
	422 change_limit month R-RQ3 request.refused
sign "$SAMPLES/change-second.json" "$T/change-c2.json" --set=approval.id=OA-NET-0013 --set=system.name=视频会议 \
	"--set-json=release=[\"$ONLY_VM\"]" "--set=approval.change_exception=紧急释放：$ONLY_VM 停用"
submit "$T/change-c2.json"
check "7. a change (with change_exception) releasing $ONLY_VM: HTTP 201" want 201
REQ_C2=$(jget "$BODY" 'd["request"]["id"]')
check "7. ... $ONLY_HOST: vm.delete, then vpc.delete {vni} (a larger id); the other hosts get peers without $ONLY_HOST" \
	"${NETLIB[@]}" - "$DB" "$C1" "$JOBS_BEFORE" "$REQ_C2" "$ONLY_HOST" <<'EOF'
import sys
from netlib import *
db, sid, j0, req, gone = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
con = connect(db)
v = rows(con, "SELECT * FROM vpcs WHERE system_id = ?", sid)[0]
under = {h["name"]: h["underlay_address"] for h in rows(con, "SELECT name, underlay_address FROM hosts")}
js = jobs(con, "id > ?", j0)
want(all(j["request_id"] == req for j in js), "jobs of another request")
on = [(j["kind"], j["id"]) for j in js if j["host"] == gone]
want([k for k, _ in on] == ["vm.delete", "vpc.delete"], "%s: jobs %s, expected vm.delete then vpc.delete" % (gone, on))
d = [j for j in js if j["host"] == gone and j["kind"] == "vpc.delete"]
if d:
    want(d[0]["p"] == {"vni": v["vni"]} and d[0]["vpc_id"] == v["id"], "vpc.delete payload %s" % d[0]["p"])
stay = sorted(h for h in ("cap-c1", "cap-c2", "cap-c3") if h != gone)
ens = {j["host"]: j for j in js if j["kind"] == "vpc.ensure"}
want(sorted(ens) == stay, "vpc.ensure on %s, expected %s" % (sorted(ens), stay))
for h, j in ens.items():
    want(sorted(j["p"]["peers"]) == sorted(under[x] for x in stay if x != h), "%s: peers %s" % (h, j["p"]["peers"]))
want(not [j for j in js if j["kind"] == "vm.ensure"], "a vm.ensure")
vh = {r["host"]: r["state"] for r in rows(con, "SELECT host, state FROM vpc_hosts WHERE vpc_id = ?", v["id"])}
want(vh.get(gone) == "removing", "vpc_hosts %s" % vh)
done()
EOF
agents_settle cap-c1 cap-c2 cap-c3
check "7. with the jobs answered, 视频会议 is back in trial" poll 10 system_is "$C1" trial
network_get "$C1"
is "7. GET network: $ONLY_HOST has left the VPC" \
	"$(jget "$T/net-$C1.json" '" ".join(h["host"] for h in d["network"]["hosts"])')" \
	"$(printf '%s\n' cap-c1 cap-c2 cap-c3 | grep -vx "$ONLY_HOST" | paste -sd' ')"
is "7. ... and lists the three VMs left" "$(jget "$T/net-$C1.json" 'len(d["network"]["vms"])')" 3

audit_fetch
check "7. the VPC jobs' results are audited (job.done, R-NW1, with the VNI)" jget "$T/audit.json" \
	"len([r for r in d['records'] if r['action'] == 'job.done' and r['rule'] == 'R-NW1' and r['detail'].get('vni') == $(dbq 'SELECT vni FROM vpcs WHERE id = ?' "$C_VPC")]) >= 6 or 1/0"

check "the audit chain verifies (SM3, RFC 8785)" "${GCINT[@]}" audit-verify "$DB"
check "gc-orchestrator stops on SIGTERM with status 0" orch_stop

# ============================================ 3. VNI exhaustion ==========

# A second run on a store of its own: one VXLAN id in the range.
write_config '' '{"database": "orch-vni.db", "network": {"vni_first": 5000, "vni_last": 5000}}'
DB=$T/orch-vni.db
orch_start
pass "3. gc-orchestrator started again on a new store with network.vni_first = vni_last = 5000"
register_baseline
apply_for 协同办公OA 包头-A OA-VNI-0001 "$T/apply-vni1.json"
check "3. the first apply: HTTP 201" want 201
network_get "${SYS[协同办公OA]}"
is "3. ... its VPC has VNI 5000" "$(jget "$T/net-${SYS[协同办公OA]}.json" 'd["network"]["vni"]')" 5000
record_agreement "${SYS[门户网站]}"
sign "$SAMPLES/apply.json" "$T/apply-vni2.json" --set=approval.id=OA-VNI-0002 --set=system.name=门户网站
refused "3. a second apply while the only VNI is taken" approval POST /v1/requests "@$T/apply-vni2.json" \
	422 vni_exhausted network.vni R-NW1 request.refused
is "3. ... no VPC, no VM for 门户网站, still registered" \
	"$(dbq 'SELECT (SELECT COUNT(*) FROM vpcs WHERE system_id = ?) || " " || (SELECT COUNT(*) FROM vms WHERE system_id = ?)' "${SYS[门户网站]}" "${SYS[门户网站]}") $(system_state "${SYS[门户网站]}")" \
	"0 0 registered"

check "3. the audit chain of the second store verifies" "${GCINT[@]}" audit-verify "$DB"
check "3. gc-orchestrator stops on SIGTERM with status 0" orch_stop
finish
