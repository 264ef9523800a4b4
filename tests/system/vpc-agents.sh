#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# VPCs end to end: gc-orchestrator and three real gc-agents, each agent in
# a simulated host's network namespace (lib-netns.sh), the orchestrator on
# the test's own underlay (192.0.2.100, in a namespace of its own), the
# agents' VMs on the libvirt test driver for bookkeeping and their NICs
# played by guest namespaces attached to the VPC bridges with the MAC and
# address the orchestrator assigned (GET /v1/systems/ID/network). Every
# address lives in the run's namespaces. Shows, with real packets:
#
#   1. applies for A and B: each system's VPC is built on every host of
#      its VMs (bridge, VXLAN with the other hosts as FDB entries, router
#      namespace) and both reach trial; A's guests on different hosts
#      reach each other and the gateway (ICMP, TCP); B's gateway, the
#      underlay, the guest's own host and the orchestrator are out of
#      reach (R-NW1, R-NW3)
#   2. kill -9 of the agents while they build C's VPC (C gets A's CIDR
#      again, R-NW2), restart: C reaches trial, its VPC on each host is
#      A's there object for object (nothing missing, nothing twice), its
#      FDB entries are exactly its peers; guests of A and C with the same
#      address each reach only their own VPC
#   3. egress: refused by gcctl before the admission check (R-SC2), opened
#      after it; A's guest reaches the "internet" namespace with its source
#      NATed to the host's uplink address; C's does not (R-NW3)
#   4. isolate with gcctl: A's guests reach nothing (each other, the
#      gateway, the internet) while their VMs run; C is untouched; restore
#      brings all of it back (R-SC3)
#   5. a change releasing A's only VM on a host: nothing of A is left there
#      (links, namespace, FDB entries, rules), the other hosts' FDB entries
#      to it are gone, A's remaining guests still reach each other
#   6. an agent restarted on its state: every VPC on its host unchanged
#
# Environment (set by meson): GC_SRCDIR, GC_BUILDDIR; GC_AGENT overrides
# $GC_BUILDDIR/agent/gc-agent. GC_KEEP_TMP=1 keeps the run's directories.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-netns.sh
. "$HERE/lib-netns.sh"

why=$(nl_usable) || {
	printf '1..0 # SKIP %s\n' "$why"
	exit 77
}

: "${GC_SRCDIR:?GC_SRCDIR must name the source tree}"
: "${GC_BUILDDIR:?GC_BUILDDIR must name the build tree}"
# shellcheck source=tests/integration/lib.sh
. "$GC_SRCDIR/tests/integration/lib.sh"

AGENT_BIN=${GC_AGENT:-$GC_BUILDDIR/agent/gc-agent}
GCCTL_BIN=${GCCTL:-$GC_BUILDDIR/cli/gcctl}
[[ -x $AGENT_BIN ]] || bail "$AGENT_BIN is not built"
[[ -x $GCCTL_BIN ]] || bail "$GCCTL_BIN is not built"

HOSTS=3
ORCH_ADDR=192.0.2.100
POOL=包头-A
UNIT=市xx局
RANGES='["10.60.0.0/28", "10.70.0.0/28"]'
EGOV_RANGE=203.0.113.0/24       # the uplinks, on the internet namespace's bridge
VNI_FIRST=5000
declare -A AGENT_PID=()

exec 9>&1
_vpc_cleanup() {
	local rc=$? i
	set +e
	exec 1>&9 2>&1
	for i in "${!AGENT_PID[@]}"; do
		kill -KILL "${AGENT_PID[$i]}" 2>/dev/null
		wait "${AGENT_PID[$i]}" 2>/dev/null
	done
	nl_cleanup
	(exit "$rc")
	_cleanup
}
trap _vpc_cleanup EXIT
bail() {
	exec 1>&9 2>&1
	fail "$*"
	printf 'Bail out! %s\n' "$*"
	exit 1
}

# ---------------------------------------------------------------- setup ---

nl_init
nl_topology "$HOSTS" || bail "cannot build the test topology"
ORCH_NS=$(nl_underlay_ns_add orch "$ORCH_ADDR/24") || bail "cannot add the orchestrator's namespace"
IN_NS=(nsenter "--net=/run/netns/$ORCH_NS")
note "run $NL_RUN: hosts $(nl_host_ns 1)..$(nl_host_ns $HOSTS), orchestrator in $ORCH_NS at $ORCH_ADDR"

make_pki --host host-1 --host host-2 --host host-3 --server-name "$ORCH_ADDR"
write_config '' "$(
	cat <<EOF
{"listen": "$ORCH_ADDR:0",
 "pools": [{"name": "$POOL", "arch": ["x86"], "address_ranges": $RANGES,
            "egress": {"egov": {"range": "$EGOV_RANGE", "gateway": "$NL_WAN_GW"}}}],
 "network": {"vni_first": $VNI_FIRST, "vni_last": 5099}}
EOF
)"
orch_start
pass "gc-orchestrator answers on $URL inside $ORCH_NS"

register_unit "$UNIT"
declare -A SYS=()
for s in 协同办公OA 门户网站 一网通办; do
	register_system "$UNIT" "$s"
	SYS[$s]=$LAST_ID
	record_agreement "$LAST_ID"
done
A=${SYS[协同办公OA]} B=${SYS[门户网站]} C=${SYS[一网通办]}
register_approval_system approval-oa "$(sign_pub approval)"

# agent_config I: host-I's configuration, its network section on its
# namespace's underlay address with its own prefix.
agent_config() {
	local i=$1
	who_files "host=host-$i"
	cat >"$T/agent-$i.json" <<EOF
{
  "orchestrator": "$URL",
  "tls": {"cert": "$CERT", "key": "$KEY", "ca": "$PKI/ca.crt"},
  "libvirt_uri": "test:///default",
  "storage_pool": "default-pool",
  "capacity": {"vcpus": 64, "memory_mib": 262144, "storage_gib": 20000, "arch": "x86_64"},
  "poll_seconds": 25,
  "journal": "$T/agent-$i.journal",
  "network": {
    "prefix": "$(nl_host_prefix "$i")",
    "underlay": "$(nl_host_underlay "$i")",
    "egress": {"egov": "wan0"},
    "protected": ["192.0.2.0/24"],
    "state": "$T/vpcs-$i.json"
  }
}
EOF
}
# agent_start I [OPTION]...: gc-agent in host I's namespace (nsenter --net).
agent_start() {
	local i=$1
	shift
	printf -- '--- start %s %s\n' "$(date -u +%FT%TZ)" "$*" >>"$T/agent-$i.log"
	# nsenter itself, not a function: $! is then the agent (nsenter execs it).
	nsenter "--net=/run/netns/$(nl_host_ns "$i")" "$AGENT_BIN" -c "$T/agent-$i.json" "$@" \
		>>"$T/agent-$i.log" 2>&1 9>&- &
	AGENT_PID[$i]=$!
}
agent_kill9() {
	kill -KILL "${AGENT_PID[$1]}" 2>/dev/null || true
	wait "${AGENT_PID[$1]}" 2>/dev/null || true
	unset "AGENT_PID[$1]"
}
agent_stop() {
	local rc=0
	kill -TERM "${AGENT_PID[$1]}"
	wait "${AGENT_PID[$1]}" || rc=$?
	unset "AGENT_PID[$1]"
	return "$rc"
}
hosts_up() {
	api provider GET /v1/hosts && [[ $STATUS == 200 ]] &&
		[[ $(jget "$BODY" 'sum(h["state"] == "up" for h in d["hosts"])') == "$HOSTS" ]]
}

for i in $(seq "$HOSTS"); do
	api provider POST /v1/hosts "{\"name\": \"host-$i\", \"pool\": \"$POOL\", \"underlay_address\": \"$(nl_host_underlay "$i")\", \"operations_address\": \"$(nl_host_underlay "$i")\"}"
	want 201 >"$T/reg.err" || bail "register host-$i: $(cat "$T/reg.err")"
	agent_config "$i"
	LOGS[host-$i]=$T/agent-$i.log     # its tail on failure; no sanitizer report
	agent_start "$i"
done
check "three agents, each in its host's namespace, say hello to the orchestrator on the underlay" poll 60 hosts_up
hosts_up || bail "the agents are not up"

gcctl_as() {
	who_files "$1"
	shift
	"${IN_NS[@]}" "$GCCTL_BIN" "$@" --server "$URL" --cert "$CERT" --key "$KEY" --cacert "$PKI/ca.crt"
}
# apply SYSTEM_NAME APPROVAL_ID: apply.json (two 应用服务器, spread over
# hosts, and a 数据库服务器) for that system, signed and submitted.
apply() {
	sign "$SAMPLES/apply.json" "$T/apply-$2.json" --set=approval.id="$2" --set=system.name="$1" --set=pool="$POOL"
	submit "$T/apply-$2.json"
}
nget() { jget "$T/net-$1.json" "$2"; }
# all_ready ID: every host of the system's VPC has built its latest spec.
all_ready() {
	network_get "$1" >/dev/null && [[ $(nget "$1" 'all(h["state"] == "ready" for h in d["network"]["hosts"]) and len(d["network"]["hosts"]) > 0') == true ]]
}
# vnihex ID: the system's VNI as the module's names carry it.
vnihex() { printf '%06x' "$(nget "$1" 'd["network"]["vni"]')"; }
host_index() { echo "${1#host-}"; }

# guests ID TAG: a guest namespace per VM of system ID, named TAG-N (N the
# VM's number in GET network's order), on the bridge of its host with its
# MAC and address, and a TCP responder on port 7000 naming it. GUEST[TAG-N]
# is the address, GHOST[TAG-N] the host index.
declare -A GUEST=() GHOST=()
guests() {
	local id=$1 tag=$2 x prefix gw n=0 name host addr mac
	x=$(vnihex "$id")
	prefix=$(nget "$id" 'd["network"]["cidr"].split("/")[1]')
	gw=$(nget "$id" 'd["network"]["gateway"]')
	while IFS=$'\t' read -r name host addr mac; do
		n=$((n + 1))
		local i
		i=$(host_index "$host")
		nl_guest_add "$tag-$n" "$i" "$(nl_host_prefix "$i")b$x" "$mac" "$addr/$prefix" "$gw" ||
			bail "cannot attach the guest of $name to host $i's bridge"
		nl_tcp_serve "$(nl_guest_ns "$tag-$n")" 0.0.0.0 7000 "$tag-$n" || bail "no TCP responder in the guest of $name"
		GUEST[$tag-$n]=$addr
		GHOST[$tag-$n]=$i
		note "guest $tag-$n: $name on host-$i, $addr $mac"
	done < <(jget "$T/net-$id.json" '"\n".join("\t".join([v["name"], v["host"], v["address"], v["mac"]]) for v in d["network"]["vms"] if v["state"] != "deleted")')
}
gns() { nl_guest_ns "$1"; }
# reaches G ADDR: ICMP and TCP from guest G to ADDR; silent G ADDR: neither,
# the echo requests all sent and none answered.
reaches() { nl_ping "$(gns "$1")" "$2"; }
tcp_to() { nl_tcp "$(gns "$1")" "$2" 7000; }
silent() {
	local got
	got=$(nl_ping_count "$(gns "$1")" "$2" 3)
	[[ $got == 0 ]] || { echo "$got of 3 echo requests to $2 answered"; return 1; }
	! nl_tcp "$(gns "$1")" "$2" 7000 1
}
# two_hosts TAG: prints two guests of TAG on different hosts.
two_hosts() {
	local g h
	for g in "${!GHOST[@]}"; do
		[[ $g == "$1"-* ]] || continue
		for h in "${!GHOST[@]}"; do
			[[ $h == "$1"-* && ${GHOST[$h]} != "${GHOST[$g]}" ]] && { echo "$g $h"; return 0; }
		done
	done
	return 1
}
# snap ID I: system ID's VPC on host I, with the host's prefix, the VNI,
# the gateway MAC and the host's underlay address replaced by names, and
# without its FDB entries (the peers differ by system; checked apart).
snap() {
	local x gwmac
	x=$(vnihex "$1")
	gwmac=$(nget "$1" 'd["network"]["gateway_mac"]')
	nl_vpc_snapshot "$(nl_host_ns "$2")" "$(nl_host_prefix "$2")" "$((16#$x))" |
		grep -v '^00:00:00:00:00:00' |
		sed -e "s/$(nl_host_prefix "$2")/P/g" -e "s/$x/X/g" -e "s/$gwmac/GWMAC/g" \
			-e "s/$(nl_host_underlay "$2")/UNDERLAY/g" -e "s/ id $((16#$x)) / id VNI /"
}
# fdb ID I: the all-zero FDB entries' destinations of system ID's VXLAN on host I.
fdb() {
	bridge -n "$(nl_host_ns "$2")" fdb show dev "$(nl_host_prefix "$2")v$(vnihex "$1")" 2>/dev/null |
		awk '/^00:00:00:00:00:00/ { for (k = 1; k < NF; k++) if ($k == "dst") print $(k + 1) }' | sort | tr '\n' ' '
}
# peers ID I: what fdb ID I should be: the underlay of the VPC's other hosts.
peers() {
	nget "$1" '" ".join(sorted(h["underlay"] for h in d["network"]["hosts"] if h["host"] != "host-'"$2"'")) + (" " if len(d["network"]["hosts"]) > 1 else "")'
}
# nothing_of ID I: no link, namespace, table or FDB entry of the VPC on host I.
nothing_of() {
	local ns x p
	ns=$(nl_host_ns "$2") x=$(vnihex "$1") p=$(nl_host_prefix "$2")
	local links
	links=$(ip -n "$ns" -o link show | grep -c "${p}[bvr]$x" || true)
	[[ $links == 0 ]] || { echo "$links links of $x left on host $2"; return 1; }
	[[ ! -e /run/netns/$p-vpc-$x ]] || { echo "router namespace $p-vpc-$x left"; return 1; }
	! ip netns exec "$ns" nft list tables | grep -q "govcloud_${p}_$x" || { echo "table govcloud_${p}_$x left"; return 1; }
	[[ -z $(bridge -n "$ns" fdb show | grep "${p}v$x" || true) ]] || { echo "FDB entries of ${p}v$x left"; return 1; }
}

# ============================================= 1. two systems, two VPCs ===

apply 协同办公OA OA-VPC-0001
check "1. apply for A (协同办公OA): HTTP 201" want 201
apply 门户网站 OA-VPC-0002
check "1. apply for B (门户网站): HTTP 201" want 201
check "1. A reaches trial: its VPC is ready on every host and its VMs run" poll 60 system_is "$A" trial
check "1. B reaches trial" poll 60 system_is "$B" trial
network_get "$A"
network_get "$B"
is "1. A's CIDR is the first block of the pool's first range" "$(nget "$A" 'd["network"]["cidr"]')" 10.60.0.0/28
is "1. B's CIDR is the next free block (distinct while any is free, R-NW2)" "$(nget "$B" 'd["network"]["cidr"]')" 10.70.0.0/28
A_HOSTS=$(nget "$A" '" ".join(h["host"] for h in d["network"]["hosts"])')
note "A spans $A_HOSTS; B spans $(nget "$B" '" ".join(h["host"] for h in d["network"]["hosts"])')"
for id in "$A" "$B"; do
	for h in $(nget "$id" '" ".join(h["host"] for h in d["network"]["hosts"])'); do
		i=$(host_index "$h")
		x=$(vnihex "$id")
		is "1. system $id on $h: bridge, VXLAN and veth, up, with the alias" \
			"$(ip -n "$(nl_host_ns "$i")" -j -d link show | python3 -c '
import json, sys
p, x = sys.argv[1], sys.argv[2]
print(" ".join(sorted("%s:%s:%s" % (l["ifname"][len(p)], l["linkinfo"]["info_kind"], l.get("ifalias")) for l in json.load(sys.stdin) if l["ifname"] in (p + "b" + x, p + "v" + x, p + "r" + x))))' "$(nl_host_prefix "$i")" "$x")" \
			"b:bridge:govcloud vpc $x r:veth:govcloud vpc $x v:vxlan:govcloud vpc $x"
		is "1. system $id on $h: the FDB entries are the other hosts of its VPC" "$(fdb "$id" "$i")" "$(peers "$id" "$i")"
	done
done

guests "$A" a
guests "$B" b
read -r a1 a2 < <(two_hosts a) || bail "A's VMs are all on one host"
GW_A=$(nget "$A" 'd["network"]["gateway"]')
GW_B=$(nget "$B" 'd["network"]["gateway"]')
check "1. guest $a1 (host ${GHOST[$a1]}) pings $a2 (host ${GHOST[$a2]}) across the VXLAN" reaches "$a1" "${GUEST[$a2]}"
check "1. ... and reaches its TCP port" tcp_to "$a1" "${GUEST[$a2]}"
check "1. guest $a2 pings the gateway $GW_A (answered on its own host)" reaches "$a2" "$GW_A"
check "1. B's guests reach each other" reaches b-1 "${GUEST[b-2]}"
check "1. ... all of them" reaches b-2 "${GUEST[b-3]}"
check "1. B's guest pings its gateway $GW_B" reaches b-1 "$GW_B"
check "1. A's guest cannot reach B's gateway $GW_B" silent "$a1" "$GW_B"
check "1. ... nor B's guest ${GUEST[b-1]}" silent "$a1" "${GUEST[b-1]}"
check "1. A's guest cannot reach its host's underlay address $(nl_host_underlay "${GHOST[$a1]}") (R-NW3)" \
	silent "$a1" "$(nl_host_underlay "${GHOST[$a1]}")"
check "1. ... nor another host's $(nl_host_underlay "${GHOST[$a2]}")" silent "$a1" "$(nl_host_underlay "${GHOST[$a2]}")"
check "1. ... nor the orchestrator $ORCH_ADDR" silent "$a1" "$ORCH_ADDR"
check "1. egress is closed: A's guest cannot reach the internet $NL_INTERNET_ADDR" silent "$a1" "$NL_INTERNET_ADDR"

# ============================ 2. kill -9 in the middle of a VPC build ===

for i in $(seq "$HOSTS"); do
	agent_stop "$i" || note "host-$i's agent did not exit 0 on SIGTERM"
	agent_start "$i" --unsafe-test-net-step-delay 300
done
check "2. the agents restarted, each building slowly (a test option)" poll 60 hosts_up
apply 一网通办 OA-VPC-0003
check "2. apply for C (一网通办): HTTP 201" want 201
network_get "$C"
XC=$(vnihex "$C")
is "2. C gets A's CIDR again: both ranges' blocks are taken (R-NW2)" "$(nget "$C" 'd["network"]["cidr"]')" 10.60.0.0/28
C_HOSTS=$(nget "$C" '" ".join(h["host"] for h in d["network"]["hosts"])')
building() { # I: host I's agent has logged at least three steps of C's VPC
	[[ $(grep -c "vpc 0x$XC: " "$T/agent-$1.log" || true) -ge 3 ]]
}
any_building() {
	local h
	for h in $C_HOSTS; do building "$(host_index "$h")" && return 0; done
	return 1
}
check "2. an agent of C's hosts ($C_HOSTS) is building C's VPC" poll 60 any_building
killed=()
for h in $C_HOSTS; do
	i=$(host_index "$h")
	if building "$i"; then killed+=("$i"); fi
	agent_kill9 "$i"
done
note "killed mid-build on host(s) ${killed[*]}"
for i in "${killed[@]}"; do
	snap "$C" "$i" >"$T/snap-c-$i.killed"
done
check "2. C is not in trial after the kill" bash -c "[ \"$(system_state "$C")\" != trial ]"
for i in $(seq "$HOSTS"); do
	[[ -z ${AGENT_PID[$i]:-} ]] || agent_stop "$i" || note "host-$i's agent did not exit 0 on SIGTERM"
	agent_start "$i"
done
check "2. after the restart (no delay), C reaches trial" poll 90 system_is "$C" trial
network_get "$C"
j=$(host_index "${A_HOSTS%% *}")
snap "$A" "$j" >"$T/snap-a-$j"
for i in "${killed[@]}"; do
	snap "$C" "$i" >"$T/snap-c-$i"
	check "2. the kill had left C partial on host $i" bash -c "! cmp -s $T/snap-c-$i.killed $T/snap-c-$i"
	check "2. C on host $i (killed mid-build) is, object for object, what A is on host $j" diff -u "$T/snap-a-$j" "$T/snap-c-$i"
	is "2. C's FDB entries on host $i are exactly its peers, once each" "$(fdb "$C" "$i")" "$(peers "$C" "$i")"
done
audit_fetch
is "2. every job has exactly one result in the audit chain (job.done or job.failed)" "$(jget "$T/audit.json" \
	'(lambda o: sorted(set(o.count(x) for x in o)))([r["object"] for r in d["records"] if r["action"] in ("job.done", "job.failed")])')" "[1]"
is "2. no job failed" "$(jget "$T/audit.json" 'len([r for r in d["records"] if r["action"] == "job.failed"])')" 0

guests "$C" c
same=$(jget "$T/net-$C.json" '[v["address"] for v in d["network"]["vms"]][0]')
ga=$(for g in "${!GUEST[@]}"; do if [[ $g == a-* && ${GUEST[$g]} == "$same" ]]; then echo "$g"; fi; done)
note "A's $ga and C's c-1 both have $same"
# answers G ADDR NAME: TCP from guest G to ADDR is answered by guest NAME.
answers() {
	local out
	out=$(tcp_to "$1" "$2") || { echo "no answer from $2"; return 1; }
	[[ $out == "$3 saw "* ]] || { echo "answered: $out"; return 1; }
}
for g in "${!GUEST[@]}"; do
	[[ $g == c-* && $g != c-1 ]] || continue
	check "2. C's $g (host ${GHOST[$g]}) asks $same: C's c-1 answers, not A's $ga" answers "$g" "$same" c-1
done
for g in "${!GUEST[@]}"; do
	[[ $g == a-* && $g != "$ga" ]] || continue
	check "2. A's $g (host ${GHOST[$g]}) asks $same: A's $ga answers, not C's c-1" answers "$g" "$same" "$ga"
done

# ================================================ 3. egress (R-SC2/NW3) ===

rc=0
gcctl_as provider system egress "$A" --to egov --reference 备案-2026-301 >"$T/eg.out" 2>"$T/eg.err" || rc=$?
is "3. gcctl system egress A --to egov before the admission check: refused (exit 1)" "$rc" 1
check "3. ... the message names the rule R-SC2" grep -q 'R-SC2' "$T/eg.err"
api authority PUT "/v1/systems/$A/admission" '{"mlps_certificate": {"number": "15010099999-20001", "date": "2026-10-01"}, "crypto_application_plan": {"reference": "密评方案-2026-01", "date": "2026-10-02"}, "security_test_reports": [{"reference": "安全测评-2026-07", "date": "2026-10-03"}], "result": "passed"}'
check "3. the authority records that A passed its admission check" want 200 201
check "3. gcctl system egress A --to egov now succeeds" gcctl_as provider system egress "$A" --to egov --reference 备案-2026-301
check "3. every host of A has built the opened egress" poll 60 all_ready "$A"
network_get "$A"
UPLINKS=$(nget "$A" '" ".join(sorted(h["uplink"] for h in d["network"]["hosts"]))')
note "A's uplinks: $UPLINKS"
nl_tcp_serve "$NL_INET" "$NL_INTERNET_ADDR" 7000 internet || bail "no TCP responder in the internet namespace"
saw_uplink() { # G: the internet side saw G's connection come from G's host's uplink
	local out want
	want=$(nget "$A" '[h["uplink"] for h in d["network"]["hosts"] if h["host"] == "host-'"${GHOST[$1]}"'"][0]')
	out=$(tcp_to "$1" "$NL_INTERNET_ADDR") || { echo "no answer from the internet"; return 1; }
	[[ $out == "internet saw $want" ]] || { echo "answered: $out; expected the source $want"; return 1; }
}
check "3. A's guest $a1 reaches the internet, its source NATed to host ${GHOST[$a1]}'s uplink" saw_uplink "$a1"
check "3. ... and $a2 through host ${GHOST[$a2]}'s uplink" saw_uplink "$a2"
# The internet namespace also routes the underlay: from here on a path
# leads there through the uplink, and only the protected list stops it.
check "3. A's guest still cannot reach the orchestrator $ORCH_ADDR, though the uplink leads there (protected)" \
	silent "$a1" "$ORCH_ADDR"
check "3. ... nor another host's underlay address $(nl_host_underlay "${GHOST[$a2]}")" silent "$a1" "$(nl_host_underlay "${GHOST[$a2]}")"
check "3. C's guests (the same addresses) still cannot reach the internet" silent c-1 "$NL_INTERNET_ADDR"
audit_fetch
is "3. one audit record of the refusal (vpc.egress.refused, R-SC2) and one of the opening (vpc.egress, by the provider)" \
	"$(jget "$T/audit.json" '" ".join(r["action"] + ":" + r["rule"] + ":" + r["role"] for r in d["records"] if r["action"].startswith("vpc.egress"))')" \
	"vpc.egress.refused:R-SC2:provider vpc.egress:R-NW3:provider"

# ============================================= 4. isolate and restore ===

check "4. gcctl system isolate A" gcctl_as provider system isolate "$A" --reason "疑似入侵，紧急隔离" --reference 事件-2026-11
check "4. every host of A has isolated it" poll 60 all_ready "$A"
is "4. GET network says isolated" "$(nget "$A" 'd["network"]["isolated"]')" true
check "4. isolated: $a1 cannot reach $a2" silent "$a1" "${GUEST[$a2]}"
check "4. isolated: $a2 cannot reach the gateway" silent "$a2" "$GW_A"
check "4. isolated: $a1 cannot reach the internet" silent "$a1" "$NL_INTERNET_ADDR"
vms_running() {
	api provider GET "/v1/vms?system=$A" >/dev/null &&
		[[ $(jget "$BODY" 'all(v["state"] == "running" for v in d["vms"] if v["state"] != "deleted") and len(d["vms"]) > 0') == true ]]
}
check "4. A's VMs keep running" vms_running
check "4. C is untouched: its guests reach each other" answers c-2 "${GUEST[c-3]}" c-3
check "4. gcctl system restore A" gcctl_as authority system restore "$A" --reason "排查完毕" --reference 事件-2026-11
check "4. every host of A has lifted the isolation" poll 60 all_ready "$A"
is "4. GET network says not isolated" "$(nget "$A" 'd["network"]["isolated"]')" false
check "4. restored: $a1 reaches $a2 again" reaches "$a1" "${GUEST[$a2]}"
check "4. restored: $a2 reaches the gateway" reaches "$a2" "$GW_A"
check "4. restored: $a1 reaches the internet through its uplink" saw_uplink "$a1"

# ======================================= 5. shrink: a host leaves A ===

network_get "$A"
read -r ONLY_VM ONLY_HOST < <(jget "$T/net-$A.json" '(lambda vs: [" ".join([v["name"], v["host"]]) for v in vs if [w["host"] for w in vs].count(v["host"]) == 1][0])([v for v in d["network"]["vms"] if v["state"] != "deleted"])') ||
	bail "no host holds exactly one VM of A"
gone=$(host_index "$ONLY_HOST")
note "releasing $ONLY_VM, A's only VM on $ONLY_HOST"
sign "$SAMPLES/change-second.json" "$T/change-a.json" --set=approval.id=OA-VPC-0004 --set=system.name=协同办公OA \
	"--set-json=release=[\"$ONLY_VM\"]"
submit "$T/change-a.json"
check "5. a change releasing $ONLY_VM: HTTP 201" want 201
check "5. A is back in trial" poll 60 system_is "$A" trial
check "5. ... its VPC no longer spans $ONLY_HOST, and the rest is ready" poll 60 all_ready "$A"
is "5. GET network: $ONLY_HOST is gone from A's hosts" \
	"$(nget "$A" '"'"$ONLY_HOST"'" in [h["host"] for h in d["network"]["hosts"]]')" false
check "5. nothing of A is left on $ONLY_HOST: no link, namespace, table, FDB entry" nothing_of "$A" "$gone"
for h in $(nget "$A" '" ".join(h["host"] for h in d["network"]["hosts"])'); do
	i=$(host_index "$h")
	is "5. $h's FDB entries for A no longer include $ONLY_HOST" "$(fdb "$A" "$i")" "$(peers "$A" "$i")"
done
rest=()
for g in "${!GHOST[@]}"; do
	[[ $g == a-* && ${GHOST[$g]} != "$gone" ]] && rest+=("$g")
done
if [[ ${#rest[@]} -ge 2 ]]; then
	check "5. A's remaining guests still reach each other (${rest[0]} -> ${rest[1]})" reaches "${rest[0]}" "${GUEST[${rest[1]}]}"
fi

# ================================== 6. restart on the state: no change ===

i=$(host_index "${C_HOSTS%% *}")
for id in "$A" "$B" "$C"; do snap "$id" "$i" >"$T/before-$id"; done
starts=$(grep -c 'VPCs\? in place' "$T/agent-$i.log" || true)
agent_stop "$i" || note "host-$i's agent did not exit 0 on SIGTERM"
agent_start "$i"
reconciled() { [[ $(grep -c 'VPCs\? in place' "$T/agent-$i.log" || true) -gt $starts ]]; }
check "6. host-$i's agent restarts, reconciles its VPCs and says hello" poll 60 reconciled
poll 60 hosts_up || true
for id in "$A" "$B" "$C"; do
	snap "$id" "$i" >"$T/after-$id"
	check "6. system $id's VPC on host $i is unchanged by the restart" diff -u "$T/before-$id" "$T/after-$id"
done
check "6. C's guests still reach each other across hosts" answers c-1 "${GUEST[c-2]}" c-2

for i in $(seq "$HOSTS"); do
	check "host-$i's agent stops on SIGTERM with status 0" agent_stop "$i"
done
check "gc-orchestrator stops on SIGTERM with status 0" orch_stop
finish
