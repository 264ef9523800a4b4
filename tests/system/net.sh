#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The agent's network module (agent/net.h) with real packets: three hosts
# in network namespaces (lib-netns.sh: an underlay bridge, an internet
# namespace that also routes the underlay, an uplink parent per host), each
# host's agent played by net-tool run inside it with its own prefix, guests
# as namespaces on the VPC bridges. Shows:
#
#   1. one VPC over three hosts: guests reach each other and the gateway
#      (ICMP, TCP, full 1450-byte frames through VXLAN); the gateway MAC is
#      never learnt across the VXLAN;
#   2. two VPCs with the same CIDR and the same guest addresses, on the same
#      and on different hosts: each guest reaches only its own VPC's guest;
#   3. a guest reaches neither the underlay, nor its host, nor another
#      VPC's gateway, even with a path there (R-NW3); without the protected
#      list the same path works, so the rule is what drops;
#   4. egress closed by default, open with the source NATed to the uplink
#      (seen by the internet side), closed again;
#   5. isolation cuts guest-guest, guest-gateway and egress; lifting it
#      restores all three (R-SC3);
#   6. peers: shrinking removes the FDB entry (and the traffic), extending
#      brings both back;
#   7. reconcile removes an unknown VPC, rebuilds a deleted bridge and a
#      deleted router namespace, and leaves alone a link named like ours
#      without the alias, another prefix's namespace and table;
#   8. delete leaves no link, namespace, FDB entry or table;
#   9. kill -9 of net-tool between build steps, then ensure again: the same
#      state as an uninterrupted build, nothing twice.
#
# Every negative check counts echo requests sent (all) and answered (none),
# or a TCP connection that got no answer at all, next to a positive check
# of the same path.
#
# Usage: net.sh [NET-TOOL]   (default: $GC_BUILDDIR/tests/system/net-tool)
# GC_KEEP_TMP=1 keeps the run's scratch directory.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-netns.sh
. "$HERE/lib-netns.sh"

TOOL=${1:-${GC_BUILDDIR:-}/tests/system/net-tool}

# shellcheck source=tests/lib-tap.sh
. "$HERE/../lib-tap.sh"

why=$(nl_usable) || {
	printf '1..0 # SKIP %s\n' "$why"
	exit 77
}
[[ -x $TOOL ]] || {
	printf 'Bail out! no net-tool at %s (build it, or set GC_BUILDDIR)\n' "$TOOL"
	exit 1
}

nl_init
TAP_TMP=$NL_TMP
LOG=$NL_TMP/net-tool.log
finish() {
	local rc=$?
	set +e
	if [[ $rc -ne 0 || $FAILS -ne 0 ]] && [[ -s $LOG ]]; then
		printf '# the last lines of the net-tool log:\n'
		tail -n 30 "$LOG" | sed 's/^/#   /'
	fi
	[[ -n ${GC_KEEP_TMP:-} ]] && printf '# kept %s\n' "$NL_TMP"
	nl_cleanup
	printf '1..%d\n' "$N"
	[[ $rc -eq 0 && $FAILS -gt 0 ]] && rc=1
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nl_topology 3 || bail "cannot build the test topology"
note "run $NL_RUN: hosts $(nl_host_ns 1) $(nl_host_ns 2) $(nl_host_ns 3), internet $NL_INET"

P1=$(nl_host_prefix 1) P2=$(nl_host_prefix 2) P3=$(nl_host_prefix 3)
U1=$(nl_host_underlay 1) U2=$(nl_host_underlay 2) U3=$(nl_host_underlay 3)
H1=$(nl_host_ns 1) H3=$(nl_host_ns 3)
declare -A PFX=([1]=$P1 [2]=$P2 [3]=$P3) UL=([1]=$U1 [2]=$U2 [3]=$U3)

# agent HOST [--no-protected] ARGS...: net-tool as HOST's agent; stdout in
# $OUT, stderr appended to $LOG.
OUT=
agent() {
	local h=$1 prot=(--protected 192.0.2.0/24)
	shift
	if [[ ${1:-} == --no-protected ]]; then
		prot=()
		shift
	fi
	printf -- '--- host %s: %s\n' "$h" "$*" >>"$LOG"
	OUT=$(nl_in_host "$h" "$TOOL" --prefix "${PFX[$h]}" --underlay "${UL[$h]}" \
		--egress-parent internet=wan0 "${prot[@]}" "$@" 2>>"$LOG")
	local rc=$?
	printf '%s\n' "$OUT" >>"$LOG"
	return $rc
}

# spec FILE VNI CIDR GATEWAY MAC PEERS EGRESS UPLINK ISOLATED: write a VPCSPEC
# (PEERS a JSON array, UPLINK an address or "-").
spec() {
	local file=$1 vni=$2 cidr=$3 gw=$4 mac=$5 peers=$6 egress=$7 uplink=$8 iso=$9 up=
	[[ $uplink != - ]] && up=", \"uplink\": {\"address\": \"$uplink\", \"prefix\": 24, \"gateway\": \"$NL_WAN_GW\"}"
	printf '{"vni": %d, "cidr": "%s", "gateway": "%s", "gateway_mac": "%s", "peers": %s, "egress": "%s"%s, "isolated": %s}\n' \
		"$vni" "$cidr" "$gw" "$mac" "$peers" "$egress" "$up" "$iso" >"$file"
}
S=$NL_TMP

# VPC A (0x001001) on hosts 1-3; B (0x001002): A's CIDR and addresses, on
# hosts 1-2; C (0x001003) on host 1 only; D (0x001004) for the kill test.
MAC_A=02:67:63:00:10:01 MAC_B=02:67:63:00:10:02 MAC_C=02:67:63:00:10:03
a_spec() { # a_spec HOST PEERS [EGRESS UPLINK] [ISOLATED]
	spec "$S/a$1.json" 4097 10.0.0.0/24 10.0.0.1 $MAC_A "$2" "${3:-none}" "${4:--}" "${5:-false}"
	echo "$S/a$1.json"
}
b_spec() { spec "$S/b$1.json" 4098 10.0.0.0/24 10.0.0.1 $MAC_B "$2" none - false; echo "$S/b$1.json"; }
c_spec() { spec "$S/c$1.json" 4099 10.2.0.0/24 10.2.0.1 $MAC_C "$2" "${3:-none}" "${4:--}" false; echo "$S/c$1.json"; }

# none_answered NS ADDR: three echo requests leave NS, none is answered.
none_answered() {
	local out sent got
	out=$(ip netns exec "$1" ping -n -c 3 -i 0.2 -W 1 "$2" 2>&1)
	sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$out")
	got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
	[[ $sent == 3 && $got == 0 ]] || {
		echo "$out"
		return 1
	}
}
# tcp_silent NS ADDR PORT: a connection from NS gets no answer, not even a reset.
tcp_silent() {
	local err
	if nl_tcp "$1" "$2" "$3" 1.5 >/dev/null; then
		echo "answered"
		return 1
	fi
	err=$(ip netns exec "$1" python3 -c "$_NL_CLIENT" "$2" "$3" 1.5 2>&1 >/dev/null)
	[[ $err != *refused* ]] || {
		echo "$err"
		return 1
	}
}
tcp_says() { # tcp_says NS ADDR PORT WANT
	local got
	got=$(nl_tcp "$1" "$2" "$3")
	[[ $got == "$4" ]] || {
		echo "got: $got; want: $4"
		return 1
	}
}
G() { nl_guest_ns "$1"; }
# router_accepts NS: the accept and snat rules of a router's table, trimmed.
router_accepts() {
	ip netns exec "$1" nft list table inet govcloud | sed -nE 's/^[[:space:]]+//; / (accept|snat ip to [0-9.]+)$/p'
}

# ------------------------------------------------------- 1. one VPC ---

check "host 1 builds VPC A" agent 1 ensure "$(a_spec 1 "[\"$U2\", \"$U3\"]")"
check "host 2 builds VPC A" agent 2 ensure "$(a_spec 2 "[\"$U1\", \"$U3\"]")"
check "host 3 builds VPC A" agent 3 ensure "$(a_spec 3 "[\"$U1\", \"$U2\"]")"
agent 1 ensure "$S/a1.json"
is "a second ensure of the same spec changes nothing" "$OUT" "vpc 4097: unchanged"
check "host 1 builds VPC B" agent 1 ensure "$(b_spec 1 "[\"$U2\"]")"
check "host 2 builds VPC B" agent 2 ensure "$(b_spec 2 "[\"$U1\"]")"
check "host 1 builds VPC C" agent 1 ensure "$(c_spec 1 "[]")"

if ! { nl_guest_add a1 1 "${P1}b001001" 52:54:00:0a:00:01 10.0.0.2/24 10.0.0.1 &&
	nl_guest_add b1 2 "${P2}b001001" 52:54:00:0a:00:02 10.0.0.3/24 10.0.0.1 &&
	nl_guest_add c1 3 "${P3}b001001" 52:54:00:0a:00:03 10.0.0.4/24 10.0.0.1 &&
	nl_guest_add a2 1 "${P1}b001002" 52:54:00:0b:00:01 10.0.0.2/24 10.0.0.1 &&
	nl_guest_add b2 2 "${P2}b001002" 52:54:00:0b:00:02 10.0.0.3/24 10.0.0.1 &&
	nl_guest_add a3 1 "${P1}b001002" 52:54:00:0b:00:03 10.0.0.8/24 10.0.0.1 &&
	nl_guest_add b3 2 "${P2}b001002" 52:54:00:0b:00:04 10.0.0.9/24 10.0.0.1 &&
	nl_guest_add a4 1 "${P1}b001003" 52:54:00:0c:00:01 10.2.0.2/24 10.2.0.1; }; then
	bail "cannot attach the guests"
fi
for g in a1:10.0.0.2 b1:10.0.0.3 c1:10.0.0.4 a2:10.0.0.2 b2:10.0.0.3 a3:10.0.0.8 b3:10.0.0.9 a4:10.2.0.2; do
	nl_tcp_serve "$(G "${g%%:*}")" "${g#*:}" 7000 "${g%%:*}" || bail "no TCP responder in guest ${g%%:*}"
done
nl_tcp_serve "$NL_INET" "$NL_INTERNET_ADDR" 8080 inet || bail "no TCP responder in the internet namespace"

check "A: guest on host 1 pings the guest on host 2" nl_ping "$(G a1)" 10.0.0.3
check "A: guest on host 1 pings the guest on host 3" nl_ping "$(G a1)" 10.0.0.4
check "A: guest on host 2 pings the guest on host 3" nl_ping "$(G b1)" 10.0.0.4
check "A: guest on host 1 pings the gateway" nl_ping "$(G a1)" 10.0.0.1
check "A: guest on host 2 pings the gateway" nl_ping "$(G b1)" 10.0.0.1
check "A: guest on host 3 pings the gateway" nl_ping "$(G c1)" 10.0.0.1
check "A: TCP host 1 -> host 2 reaches b1" tcp_says "$(G a1)" 10.0.0.3 7000 "b1 saw 10.0.0.2"
check "A: TCP host 2 -> host 1 reaches a1" tcp_says "$(G b1)" 10.0.0.2 7000 "a1 saw 10.0.0.3"
check "A: TCP host 3 -> host 1 reaches a1" tcp_says "$(G c1)" 10.0.0.2 7000 "a1 saw 10.0.0.4"
check "A: 1450-byte packets pass the VXLAN unfragmented" \
	ip netns exec "$(G a1)" ping -n -q -c 2 -W 1 -M "do" -s 1422 10.0.0.3
gw_ports=$(bridge -n "$H1" fdb show br "${P1}b001001" | grep -i "^$MAC_A " | awk '{print $3}' | sort -u | tr '\n' ' ')
is "host 1 learnt the gateway MAC only on its router port, never on the VXLAN" "$gw_ports" "${P1}r001001 "

# ------------------------------------------- 2. identical CIDRs ---

check "B: TCP host 1 -> 10.0.0.3 reaches B's b2, not A's b1" tcp_says "$(G a2)" 10.0.0.3 7000 "b2 saw 10.0.0.2"
check "A: TCP host 1 -> 10.0.0.3 reaches A's b1, not B's b2" tcp_says "$(G a1)" 10.0.0.3 7000 "b1 saw 10.0.0.2"
check "B: a2 pings B's 10.0.0.9 on host 2" nl_ping "$(G a2)" 10.0.0.9
check "B: a2 pings B's 10.0.0.8 on host 1" nl_ping "$(G a2)" 10.0.0.8
check "A: a1 gets no answer from B's 10.0.0.9 (other host)" none_answered "$(G a1)" 10.0.0.9
check "A: a1 gets no answer from B's 10.0.0.8 (same host)" none_answered "$(G a1)" 10.0.0.8
check "A: no TCP answer from B's 10.0.0.9" tcp_silent "$(G a1)" 10.0.0.9 7000
check "B: b3 gets no answer from A's 10.0.0.4" none_answered "$(G b3)" 10.0.0.4
is "A: a1 resolved 10.0.0.3 to A's b1" \
	"$(ip -n "$(G a1)" neigh show 10.0.0.3 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}')" 52:54:00:0a:00:02
is "B: a2 resolved 10.0.0.3 to B's b2" \
	"$(ip -n "$(G a2)" neigh show 10.0.0.3 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}')" 52:54:00:0b:00:02

# ---------------------------------------------- 3. and 4. egress ---

check "egress closed: no answer from the internet" none_answered "$(G a1)" "$NL_INTERNET_ADDR"
check "egress closed: no TCP answer from the internet" tcp_silent "$(G a1)" "$NL_INTERNET_ADDR" 8080
check "egress closed: the router has no uplink" bash -c "! ip -n ${P1}-vpc-001001 link show dev up"
for u in "$U1" "$U2" "$NL_UNDERLAY_ROUTER"; do
	check "egress closed: no answer from underlay $u" none_answered "$(G a1)" "$u"
done

check "host 1 opens A's internet egress" agent 1 ensure "$(a_spec 1 "[\"$U2\", \"$U3\"]" internet 203.0.113.21)"
is "the summary says so" "$OUT" "vpc 4097: egress internet opened, replaced router rules"
check "host 2 opens A's internet egress" agent 2 ensure "$(a_spec 2 "[\"$U1\", \"$U3\"]" internet 203.0.113.22)"
check "host 1 opens C's internet egress" agent 1 ensure "$(c_spec 1 "[]" internet 203.0.113.23)"
check "egress open: a1 pings the internet" nl_ping "$(G a1)" "$NL_INTERNET_ADDR"
check "egress open: a1's TCP reaches the internet from uplink 203.0.113.21 (SNAT)" \
	tcp_says "$(G a1)" "$NL_INTERNET_ADDR" 8080 "inet saw 203.0.113.21"
check "egress open: b1's TCP reaches the internet from uplink 203.0.113.22 (SNAT)" \
	tcp_says "$(G b1)" "$NL_INTERNET_ADDR" 8080 "inet saw 203.0.113.22"
is "the internet side saw only uplink addresses" "$(sort -u "$NL_TMP/inet.peers" | tr '\n' ' ')" \
	"203.0.113.21 203.0.113.22 "
for u in "$U1" "$U2" "$U3" "$NL_UNDERLAY_ROUTER"; do
	check "egress open: still no answer from underlay $u (protected)" none_answered "$(G a1)" "$u"
done
check "egress open: no TCP answer from host 2's underlay address" tcp_silent "$(G a1)" "$U2" 22

# Another VPC's gateway, with a route there: the internet sends 10.2.0.0/24
# to C's uplink. Packets arrive at C's router (its uplink counts them) and
# get no answer.
ip -n "$NL_INET" route add 10.2.0.0/24 via 203.0.113.23
check "C: its own guest pings C's gateway" nl_ping "$(G a4)" 10.2.0.1
rx0=$(nl_rx_packets "${P1}-vpc-001003" up)
check "A: no answer from C's gateway 10.2.0.1" none_answered "$(G a1)" 10.2.0.1
rx1=$(nl_rx_packets "${P1}-vpc-001003" up)
check "A's pings did arrive at C's router ($rx0 -> $rx1 packets on its uplink)" test "$((rx1 - rx0))" -ge 3
check "the internet gets no answer from C's guest either" none_answered "$NL_INET" 10.2.0.2

# Without the protected list, the same path reaches the underlay, but never
# this host's own underlay address.
check "host 1 drops the protected list" agent 1 --no-protected ensure "$S/a1.json"
check "unprotected: a1 reaches the underlay router 192.0.2.254" nl_ping "$(G a1)" "$NL_UNDERLAY_ROUTER"
check "unprotected: a1 reaches host 2's underlay address" nl_ping "$(G a1)" "$U2"
check "unprotected: still no answer from host 1's own underlay address" none_answered "$(G a1)" "$U1"
check "host 1 protects the underlay again" agent 1 ensure "$S/a1.json"
check "protected again: no answer from the underlay router" none_answered "$(G a1)" "$NL_UNDERLAY_ROUTER"

check "host 1 closes A's egress" agent 1 ensure "$(a_spec 1 "[\"$U2\", \"$U3\"]")"
is "the summary says so" "$OUT" "vpc 4097: egress closed, replaced router rules"
check "egress closed again: no answer from the internet" none_answered "$(G a1)" "$NL_INTERNET_ADDR"
check "egress closed again: no TCP answer from the internet" tcp_silent "$(G a1)" "$NL_INTERNET_ADDR" 8080
check "egress closed again: the uplink is gone" bash -c "! ip -n ${P1}-vpc-001001 link show dev up"
check "egress closed again: no default route in the router" \
	bash -c "[ -z \"\$(ip -n ${P1}-vpc-001001 route show default)\" ]"

# ------------------------------------------------------ 5. isolation ---

check "host 1 opens A's egress for the isolation test" agent 1 ensure "$(a_spec 1 "[\"$U2\", \"$U3\"]" internet 203.0.113.21)"
check "before isolation: a1 reaches the internet" nl_ping "$(G a1)" "$NL_INTERNET_ADDR"
check "host 1 isolates A" agent 1 ensure "$(a_spec 1 "[\"$U2\", \"$U3\"]" internet 203.0.113.21 true)"
is "the summary says so" "$OUT" "vpc 4097: replaced router rules, isolated"
check "host 2 isolates A" agent 2 ensure "$(a_spec 2 "[\"$U1\", \"$U3\"]" internet 203.0.113.22 true)"
check "host 3 isolates A" agent 3 ensure "$(a_spec 3 "[\"$U1\", \"$U2\"]" none - true)"
check "isolated: A's bridge on host 1 is down" bash -c "! ip -n $H1 link show ${P1}b001001 | grep -q '[<,]UP[,>]'"
is "isolated: A's router on host 1 accepts nothing but loopback" \
	"$(router_accepts "${P1}-vpc-001001" | tr '\n' ';')" 'iifname "lo" accept;iifname "lo" accept;'
check "isolated: no answer between A's guests" none_answered "$(G a1)" 10.0.0.3
check "isolated: no TCP answer between A's guests" tcp_silent "$(G b1)" 10.0.0.4 7000
check "isolated: no answer from the gateway" none_answered "$(G a1)" 10.0.0.1
check "isolated: no answer from the internet" none_answered "$(G a1)" "$NL_INTERNET_ADDR"
check "isolated: B is untouched (a2 pings b3)" nl_ping "$(G a2)" 10.0.0.9
check "host 1 lifts A's isolation" agent 1 ensure "$(a_spec 1 "[\"$U2\", \"$U3\"]" internet 203.0.113.21)"
is "the summary says so" "$OUT" "vpc 4097: replaced router rules, isolation lifted"
check "host 2 lifts A's isolation" agent 2 ensure "$(a_spec 2 "[\"$U1\", \"$U3\"]" internet 203.0.113.22)"
check "host 3 lifts A's isolation" agent 3 ensure "$(a_spec 3 "[\"$U1\", \"$U2\"]")"
check "restored: a1 pings b1" nl_ping "$(G a1)" 10.0.0.3
check "restored: TCP b1 -> c1" tcp_says "$(G b1)" 10.0.0.4 7000 "c1 saw 10.0.0.3"
check "restored: a1 pings the gateway" nl_ping "$(G a1)" 10.0.0.1
check "restored: a1 reaches the internet" tcp_says "$(G a1)" "$NL_INTERNET_ADDR" 8080 "inet saw 203.0.113.21"
is "restored: A's router on host 1 has all its rules again" "$(router_accepts "${P1}-vpc-001001" | tr '\n' ';')" \
	'iifname "lo" accept;ct state established,related accept;iifname "gw" ip daddr 10.0.0.1 icmp type echo-request accept;ct state established,related accept;iifname "gw" oifname "up" accept;oifname "up" snat ip to 203.0.113.21;'

# ---------------------------------------------------------- 6. peers ---

fdb_dst() { # fdb_dst NS DEV: the all-zero entries' destinations
	bridge -n "$1" fdb show dev "$2" | awk '$1 == "00:00:00:00:00:00" {print $3}' | sort | tr '\n' ' '
}
is "host 1's VXLAN floods to hosts 2 and 3" "$(fdb_dst "$H1" "${P1}v001001")" "$U2 $U3 "
check "host 1 shrinks A to host 2" agent 1 ensure "$(a_spec 1 "[\"$U2\"]")"
is "the summary says so" "$OUT" "vpc 4097: removed peers, egress closed, replaced router rules"
is "host 1's FDB holds host 2 only" "$(fdb_dst "$H1" "${P1}v001001")" "$U2 "
check "shrunk: a1 still pings b1" nl_ping "$(G a1)" 10.0.0.3
ip -n "$(G a1)" neigh flush dev eth0
check "shrunk: no answer from c1 on the removed host" none_answered "$(G a1)" 10.0.0.4
check "host 1 extends A to host 3 again" agent 1 ensure "$(a_spec 1 "[\"$U2\", \"$U3\"]")"
is "the summary says so" "$OUT" "vpc 4097: added peers"
is "host 1's FDB holds hosts 2 and 3, each once" "$(fdb_dst "$H1" "${P1}v001001")" "$U2 $U3 "
check "extended: a1 pings c1 again" nl_ping "$(G a1)" 10.0.0.4

# ------------------------------------------------------- 7. reconcile ---

ip -n "$H1" link add "${P1}b00abcd" type bridge
ip netns add "${NL_RUN}z-vpc-001001"
ip netns exec "$H1" nft add table bridge "govcloud_${NL_RUN}z_001001"
agent 1 ensure "$(spec "$S/x.json" 43981 10.9.0.0/24 10.9.0.1 02:67:63:00:ab:cd "[]" none - false; echo "$S/x.json")"
rc=$?
check "ensure refuses a VPC whose bridge name is taken by a link without our alias" test "$rc" -ne 0
check "and made nothing for it" bash -c "! ip netns list | grep -q '^${P1}-vpc-00abcd'"

ip -n "$H1" link del "${P1}b001001"
ip netns del "${P1}-vpc-001002"
printf '[%s, %s]\n' "$(cat "$S/a1.json")" "$(cat "$S/b1.json")" >"$S/known1.json"
check "host 1 reconciles with A and B known" agent 1 reconcile "$S/known1.json"
is "reconcile removed one VPC (C)" "$OUT" "reconciled: 2 known, 1 removed"
agent 1 list
is "host 1 lists A and B" "${OUT//$'\n'/ }" "4097 4098"
check "C's links are gone" bash -c "! ip -n $H1 -o link | grep -q '${P1}[bvr]001003'"
check "C's namespace is gone" bash -c "! ip netns list | grep -q '^${P1}-vpc-001003'"
check "C's bridge table is gone" bash -c "! ip netns exec $H1 nft list tables | grep -q 'govcloud_${P1}_001003'"
check "A's bridge is back, with its alias" bash -c "ip -n $H1 -d link show ${P1}b001001 | grep -q 'alias govcloud vpc 001001'"
check "A's VXLAN and router link are its ports again" \
	bash -c "ip -n $H1 link show master ${P1}b001001 | grep -q '${P1}v001001' && ip -n $H1 link show master ${P1}b001001 | grep -q '${P1}r001001'"
ip -n "$H1" link set "${NL_GUEST_PORT[a1]}" master "${P1}b001001"
check "A: with a1 plugged in again, a1 pings b1" nl_ping "$(G a1)" 10.0.0.3
check "A: and the gateway" nl_ping "$(G a1)" 10.0.0.1
check "B's router namespace is back" ip netns exec "${P1}-vpc-001002" nft list table inet govcloud
check "B: a2 pings its gateway again" nl_ping "$(G a2)" 10.0.0.1
check "B: a2 pings b3" nl_ping "$(G a2)" 10.0.0.9
check "the link named like ours without the alias is untouched" ip -n "$H1" link show "${P1}b00abcd"
check "another prefix's namespace is untouched" ip netns exec "${NL_RUN}z-vpc-001001" true
check "another prefix's table is untouched" ip netns exec "$H1" nft list table bridge "govcloud_${NL_RUN}z_001001"

# ---------------------------------------------------------- 8. delete ---

count_of() { # count_of HOSTNS PREFIX VNI6: links, namespaces, FDB entries, tables
	local h=$1 p=$2 x=$3 links ns fdb tables
	links=$(ip -n "$h" -o link | grep -c "${p}[bvr]$x")
	ns=$(ip netns list | grep -c "^$p-vpc-$x")
	fdb=$(bridge -n "$h" fdb show | grep -c "dev ${p}v$x")
	tables=$(ip netns exec "$h" nft list ruleset | grep -c "govcloud_${p}_$x")
	echo "links $links namespaces $ns fdb $fdb tables $tables"
}
before=$(count_of "$H3" "$P3" 001001)
check "before delete, host 3 holds A ($before)" bash -c "[[ '$before' != *' 0'* && '$before' != 'links 0'* ]]"
check "host 3 deletes A" agent 3 delete 4097
is "nothing of A is left on host 3" "$(count_of "$H3" "$P3" 001001)" "links 0 namespaces 0 fdb 0 tables 0"
check "no rule names A's links any more" bash -c "! ip netns exec $H3 nft list ruleset | grep -q '${P3}v001001'"
check "deleting it again is success" agent 3 delete 4097
check "host 1's A is untouched by host 3's delete" nl_ping "$(G a1)" 10.0.0.3

# ------------------------------------------------------ 9. kill -9 ---

D=$S/d.json
spec "$D" 4100 10.4.0.0/24 10.4.0.1 02:67:63:00:10:04 "[\"$U1\", \"$U2\"]" internet 203.0.113.34 false
# snapshot: every property of VPC D on host 3 that an ensure sets, with
# ifindexes, random MACs and the operational state left out.
snapshot() { nl_vpc_snapshot "$H3" "$P3" 4100; }
check "reference: host 3 builds VPC D in one go" agent 3 ensure "$D"
snapshot >"$S/d.ref"
note "the reference state of D on host 3:"
sed 's/^/#   /' "$S/d.ref"
steps=$(grep -c 'vpc 0x001004: ' "$LOG")
note "an uninterrupted build of D takes $steps logged steps"
check "reference: host 3 deletes D" agent 3 delete 4100
check "reference: nothing of D is left" bash -c "[ \"\$(ip -n $H3 -o link | grep -c ${P3}[bvr]001004)\" = 0 ] && ! ip netns list | grep -q '^${P3}-vpc-001004'"

DELAY=60
partial=0 rounds=0 identical=0
for ((k = 0; k < steps; k += 2)); do
	t=$(((k * DELAY) + DELAY / 2))
	printf -- '--- host 3: ensure D with a kill after %d ms\n' "$t" >>"$LOG"
	# nsenter itself, not the function nl_in_host: $! is then net-tool
	# (nsenter execs it), which the kill must hit.
	nsenter --net="/run/netns/$H3" "$TOOL" --step-delay $DELAY --prefix "$P3" --underlay "$U3" --egress-parent internet=wan0 \
		--protected 192.0.2.0/24 ensure "$D" >>"$LOG" 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((t / 1000)) $((t % 1000)))"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rounds=$((rounds + 1))
	snapshot >"$S/d.killed"
	cmp -s "$S/d.ref" "$S/d.killed" || partial=$((partial + 1))
	agent 3 ensure "$D" || note "ensure after the kill at $t ms failed"
	snapshot >"$S/d.after"
	if cmp -s "$S/d.ref" "$S/d.after"; then
		identical=$((identical + 1))
	else
		note "after the kill at $t ms and an ensure, D differs from the reference:"
		diff "$S/d.ref" "$S/d.after" | head -n 20 | sed 's/^/#   /'
	fi
	agent 3 delete 4100 || note "delete after the kill at $t ms failed"
done
check "the kills landed mid-build ($partial of $rounds left a partial VPC)" test "$partial" -ge $((rounds - 1))
is "after each kill, one ensure made D exactly the reference" "$identical" "$rounds"
check "kill -9 during delete: ensure, kill mid-delete, delete again leaves nothing" bash -c "
	nsenter --net=/run/netns/$H3 $TOOL --prefix $P3 --underlay $U3 --egress-parent internet=wan0 ensure $D >/dev/null 2>&1 &&
	{ nsenter --net=/run/netns/$H3 $TOOL --step-delay 200 --prefix $P3 --underlay $U3 delete 4100 >/dev/null 2>&1 &
	  p=\$!; sleep 0.3; kill -KILL \$p; wait \$p; } ;
	[ \"\$(ip -n $H3 -o link | grep -c ${P3}[bvr]001004)\" != 3 ] &&
	nsenter --net=/run/netns/$H3 $TOOL --prefix $P3 --underlay $U3 delete 4100 >/dev/null 2>&1 &&
	[ \"\$(ip -n $H3 -o link | grep -c ${P3}[bvr]001004)\" = 0 ] && ! ip netns list | grep -q '^${P3}-vpc-001004' &&
	! ip netns exec $H3 nft list tables | grep -q govcloud_${P3}_001004"
