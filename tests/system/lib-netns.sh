# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034  # its variables are for the scripts that source it
#
# Network namespaces that play hosts, their underlay and the internet, for
# system tests of the agent's network module (agent/net.h). Source it; bash.
#
# Topology (every address lives inside a namespace of the run; the root
# namespace is never changed):
#
#                       $NL_UL: bridge br0 (no address)
#          ul0 192.0.2.11/24 |  ul0 192.0.2.12/24 |  ...  | ul0 192.0.2.254/24
#                  host 1 ---+---- host 2 --------+- ...  +---- $NL_INET
#     wan0 (no address) |       wan0 |                          (the router
#                       +------------+----- bridge wan 203.0.113.1/24 of both)
#                                          in $NL_INET; 198.51.100.10/32 on lo
#
#   $NL_UL       the underlay: a bridge joining every host's ul0 and the
#                internet namespace's ul0
#   host I       $(nl_host_ns I): ul0 with $(nl_host_underlay I) =
#                192.0.2.(10+I)/24, default route via 192.0.2.254; wan0, a
#                veth into the internet namespace's bridge "wan", up and
#                without address: the parent of the VPC routers' uplink
#                macvlans ("--egress-parent internet=wan0")
#   $NL_INET     the internet and the underlay's router: bridge wan with
#                $NL_WAN_GW (203.0.113.1/24, the uplinks' gateway), ul0 with
#                192.0.2.254/24, $NL_INTERNET_ADDR (198.51.100.10) on lo,
#                IPv4 forwarding on. So a packet that leaves a VPC router
#                through its uplink can reach the internet address, and,
#                unless something drops it, the underlay too: the checks
#                that the underlay is protected can fail.
#   guests       nl_guest_add: a namespace with eth0, a veth whose other end
#                is a port of a VPC bridge in a host namespace
#
# Names: every namespace of the run starts with $NL_RUN (three characters,
# unique among the namespaces present); $(nl_host_prefix I) = $NL_RUN plus
# a letter is the host's prefix for net.h, so the router namespaces that the
# module makes ("PREFIX-vpc-XXXXXX") are the run's too. nl_cleanup removes
# every namespace whose name starts with $NL_RUN, and the processes in them.
#
# Run the program under test in a host with nl_in_host I CMD... (nsenter
# --net only: its bind mounts under /run/netns stay visible everywhere,
# which `ip netns exec` and its private mount namespace would hide).
#
# Functions return success or failure; nothing here exits. Requires root,
# iproute2 (ip, bridge), iputils-ping, python3, nsenter (util-linux).

NL_RUN=
NL_UL=
NL_INET=
NL_HOSTS=0
NL_WAN_GW=203.0.113.1
NL_INTERNET_ADDR=198.51.100.10
NL_UNDERLAY_ROUTER=192.0.2.254
NL_TMP=
NL_PIDS=()
declare -A NL_GUEST_PORT=()
_NL_PORTS=0

_nl_ip() { ip "$@" >/dev/null 2>&1; }

# nl_usable: can this machine make network namespaces (root, ip netns)?
# Prints the reason when it cannot.
nl_usable() {
	if [[ $(id -u) -ne 0 ]]; then
		echo "not root"
		return 1
	fi
	local probe="gcnlprobe$$"
	if ! ip netns add "$probe" 2>/dev/null; then
		echo "cannot create a network namespace (ip netns add)"
		return 1
	fi
	if ! ip -n "$probe" link add br0 type bridge 2>/dev/null; then
		ip netns del "$probe" 2>/dev/null
		echo "cannot create a bridge in a network namespace"
		return 1
	fi
	ip netns del "$probe"
	local tool
	for tool in ping python3 nsenter bridge; do
		command -v "$tool" >/dev/null || {
			echo "$tool is not installed"
			return 1
		}
	done
	return 0
}

# nl_init: pick the run's name tag and a scratch directory.
nl_init() {
	local chars=abcdefghijklmnopqrstuvwxyz0123456789 i
	for i in $(seq 100); do
		NL_RUN=n${chars:RANDOM%36:1}${chars:RANDOM%36:1}
		compgen -G "/run/netns/$NL_RUN*" >/dev/null || break
	done
	NL_UL=$NL_RUN-ul
	NL_INET=$NL_RUN-inet
	NL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gc-netns.XXXXXX")
}

nl_host_ns() { echo "$NL_RUN-h$1"; }
nl_host_underlay() { echo "192.0.2.$((10 + $1))"; }
nl_host_prefix() {
	local letters=abcdefghijklmnopqrstuvwxyz
	echo "$NL_RUN${letters:$1-1:1}"
}
# nl_in_host I CMD...: run CMD in host I's network namespace only. Started
# in the background ("nl_in_host ... &"), $! is a subshell, not CMD: to
# kill CMD, start "nsenter --net=/run/netns/$(nl_host_ns I) CMD... &".
nl_in_host() {
	local h=$1
	shift
	nsenter --net="/run/netns/$(nl_host_ns "$h")" "$@"
}

_nl_ns_add() {
	ip netns add "$1" || return 1
	ip -n "$1" link set lo up || return 1
	ip netns exec "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null
}

# nl_topology N: the underlay, the internet and N hosts.
nl_topology() {
	local n=$1 i h
	_nl_ns_add "$NL_UL" || return 1
	_nl_ns_add "$NL_INET" || return 1
	ip -n "$NL_UL" link add br0 type bridge || return 1
	ip -n "$NL_UL" link set br0 up || return 1
	ip -n "$NL_INET" link add wan type bridge || return 1
	ip -n "$NL_INET" addr add "$NL_WAN_GW/24" dev wan || return 1
	ip -n "$NL_INET" link set wan up || return 1
	ip -n "$NL_INET" addr add "$NL_INTERNET_ADDR/32" dev lo || return 1
	ip -n "$NL_INET" link add ul0 type veth peer name inet netns "$NL_UL" || return 1
	ip -n "$NL_UL" link set inet master br0 up || return 1
	ip -n "$NL_INET" addr add "$NL_UNDERLAY_ROUTER/24" dev ul0 || return 1
	ip -n "$NL_INET" link set ul0 up || return 1
	ip netns exec "$NL_INET" sysctl -qw net.ipv4.ip_forward=1 >/dev/null || return 1
	for ((i = 1; i <= n; i++)); do
		h=$(nl_host_ns "$i")
		_nl_ns_add "$h" || return 1
		ip -n "$h" link add ul0 type veth peer name "h$i" netns "$NL_UL" || return 1
		ip -n "$NL_UL" link set "h$i" master br0 up || return 1
		ip -n "$h" addr add "$(nl_host_underlay "$i")/24" dev ul0 || return 1
		ip -n "$h" link set ul0 up || return 1
		ip -n "$h" route add default via "$NL_UNDERLAY_ROUTER" || return 1
		ip -n "$h" link add wan0 type veth peer name "h$i" netns "$NL_INET" || return 1
		ip -n "$NL_INET" link set "h$i" master wan up || return 1
		ip -n "$h" link set wan0 up || return 1
	done
	NL_HOSTS=$n
}

# nl_guest_add NAME HOST BRIDGE MAC ADDR/LEN GATEWAY: a guest namespace
# $NL_RUN-g-NAME with eth0 (MAC, ADDR/LEN, MTU 1450, default route via
# GATEWAY), whose peer is a port of BRIDGE in host HOST. The port's name is
# stored in NL_GUEST_PORT[NAME].
nl_guest_add() {
	local name=$1 host=$2 bridge=$3 mac=$4 addr=$5 gw=$6
	local g=$NL_RUN-g-$name h port
	h=$(nl_host_ns "$host")
	_NL_PORTS=$((_NL_PORTS + 1))
	port=${NL_RUN}p$_NL_PORTS
	_nl_ns_add "$g" || return 1
	ip -n "$h" link add "$port" mtu 1450 type veth peer name eth0 netns "$g" || return 1
	ip -n "$g" link set eth0 address "$mac" mtu 1450 up || return 1
	ip -n "$h" link set "$port" master "$bridge" up || return 1
	ip -n "$g" addr add "$addr" dev eth0 || return 1
	ip -n "$g" route add default via "$gw" || return 1
	NL_GUEST_PORT[$name]=$port
}

nl_guest_ns() { echo "$NL_RUN-g-$1"; }

# nl_underlay_ns_add NAME ADDR/LEN: a namespace $NL_RUN-NAME on the underlay
# bridge with ADDR/LEN on its ul0 (say an orchestrator the hosts reach at
# 192.0.2.100), default route via the underlay's router. Prints its name.
# The bridge's port is named after NAME (u + its first 14 characters), not
# counted: callers take the name with $(...), a subshell.
nl_underlay_ns_add() {
	local ns=$NL_RUN-$1 port=u${1:0:14}
	_nl_ns_add "$ns" || return 1
	ip -n "$ns" link add ul0 type veth peer name "$port" netns "$NL_UL" || return 1
	ip -n "$NL_UL" link set "$port" master br0 up || return 1
	ip -n "$ns" addr add "$2" dev ul0 || return 1
	ip -n "$ns" link set ul0 up || return 1
	ip -n "$ns" route add default via "$NL_UNDERLAY_ROUTER" || return 1
	echo "$ns"
}

# nl_ping NS ADDR: success when ADDR answers ICMP echo from namespace NS
# (three tries, one second each at most).
nl_ping() {
	ip netns exec "$1" ping -n -q -c 3 -i 0.2 -W 1 -w 3 "$2" >/dev/null 2>&1
}
# nl_ping_count NS ADDR N: send N echo requests, print how many were answered.
nl_ping_count() {
	ip netns exec "$1" ping -n -q -c "$3" -i 0.2 -W 1 "$2" 2>/dev/null |
		sed -n 's/.* \([0-9]*\) received.*/\1/p'
}

_NL_SERVER='
import socket, sys
addr, port, name, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(64)
while True:
    c, peer = s.accept()
    with open(log, "a") as f:
        f.write(peer[0] + "\n")
    try:
        c.sendall(("%s saw %s\n" % (name, peer[0])).encode())
    except OSError:
        pass
    c.close()
'
_NL_CLIENT='
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    c.settimeout(float(sys.argv[3]))
    data = c.recv(256)
except OSError as e:
    sys.stderr.write("%s\n" % e)
    sys.exit(1)
if not data:
    sys.exit(1)
sys.stdout.write(data.decode())
'

# nl_tcp_serve NS ADDR PORT NAME: a TCP responder in NS that answers each
# connection with "NAME saw PEER" and appends PEER to $NL_TMP/NAME.peers.
nl_tcp_serve() {
	local ns=$1 addr=$2 port=$3 name=$4 i
	: >"$NL_TMP/$name.peers"
	ip netns exec "$ns" python3 -c "$_NL_SERVER" "$addr" "$port" "$name" "$NL_TMP/$name.peers" \
		>>"$NL_TMP/$name.log" 2>&1 &
	NL_PIDS+=($!)
	for i in $(seq 50); do
		ip netns exec "$ns" python3 -c "$_NL_CLIENT" "$addr" "$port" 0.2 >/dev/null 2>&1 && {
			: >"$NL_TMP/$name.peers"
			return 0
		}
		sleep 0.1
	done
	return 1
}

# nl_tcp NS ADDR PORT [TIMEOUT]: connect from NS; prints the responder's
# line; success only when a line came back.
nl_tcp() {
	ip netns exec "$1" python3 -c "$_NL_CLIENT" "$2" "$3" "${4:-2}" 2>/dev/null
}

# nl_rx_packets NS IF: the receive packet counter of IF in NS.
nl_rx_packets() {
	ip -n "$1" -s link show dev "$2" 2>/dev/null | awk '/RX:/ {getline; print $2; exit}'
}

_NL_LINKS_PY='
import json, sys, re
want = re.compile(sys.argv[1])
for l in json.load(sys.stdin):
    if not want.search(l["ifname"]):
        continue
    info = l.get("linkinfo", {})
    data = info.get("info_data", {})
    extra = ""
    if info.get("info_kind") == "vxlan":
        extra = " id %s local %s port %s learning %s remote %s" % (data.get("id"), data.get("local"),
            data.get("port"), data.get("learning"), data.get("remote"))
    if info.get("info_kind") == "macvlan":
        extra = " mode %s" % data.get("mode")
    print("%s kind %s admin %s mtu %s master %s alias %s%s" % (l["ifname"], info.get("info_kind"),
        "up" if "UP" in l["flags"] else "down", l["mtu"], l.get("master"), l.get("ifalias"), extra))
'
# nl_vpc_snapshot NS PREFIX VNI: what the network module built for VNI in
# the host namespace NS (agent/net.h): its links there, the VXLAN's
# all-zero FDB entries, its bridge table, and in its router namespace the
# links, gateway MAC, addresses, routes, rules and forwarding switches.
# Two snapshots are equal when the same objects exist with the same
# settings (kernel-chosen MACs and indexes left out).
nl_vpc_snapshot() {
	local ns=$1 p=$2 x r
	x=$(printf '%06x' "$3")
	r=$p-vpc-$x
	# Each part whatever happens to the others (a caller may run set -e).
	(
		set +e
		ip -n "$ns" -j -d link show | python3 -c "$_NL_LINKS_PY" "^${p}[bvr]$x\$"
		bridge -n "$ns" fdb show dev "${p}v$x" | grep '^00:00:00:00:00:00' | sort
		ip netns exec "$ns" nft list table bridge "govcloud_${p}_$x"
		[[ -e /run/netns/$r ]] && echo "router namespace present" || echo "no router namespace"
		ip -n "$r" -j -d link show | python3 -c "$_NL_LINKS_PY" ""
		ip -n "$r" link show dev gw | grep -o 'link/ether [0-9a-f:]*'
		ip -n "$r" -4 -o addr show | awk '{print $2, $3, $4}'
		ip -n "$r" route show
		ip netns exec "$r" nft list ruleset
		ip netns exec "$r" sysctl -n net.ipv4.conf.gw.forwarding net.ipv4.conf.up.forwarding
	) 2>&1 || true
}

# nl_cleanup: end the processes and remove every namespace of the run.
nl_cleanup() {
	local pid ns
	for pid in "${NL_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${NL_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	NL_PIDS=()
	[[ -n $NL_RUN ]] || return 0
	for ns in /run/netns/"$NL_RUN"*; do
		[[ -e $ns ]] || continue
		ns=${ns##*/}
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	[[ -n $NL_TMP && -d $NL_TMP && -z ${GC_KEEP_TMP:-} ]] && rm -rf "$NL_TMP"
	return 0
}
