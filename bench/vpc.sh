#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# VPCs on one host: N VPCs (default 1,000) created and then deleted three
# ways in the same run, each three times, interleaved:
#
#   module     the agent's network module, net_ensure / net_delete
#              (libnl-route, libnftables, unshare + bind mount; bench/vpc.c)
#   ip         one command per object: ip, bridge fdb append, nft -f
#   ip-batch   one ip -batch file per namespace, plus one bridge -batch and
#              one nft -f file for the host and an nft -f per router
#
#     bench/vpc.sh [N]          N from 1 to 1023
#
# The host is a network namespace of the run (PREFIX-host, with a veth
# ul0/ul1 and 192.0.2.11/24, the VXLAN local address); every link lives in
# it or in the run's router namespaces (/run/netns/PREFIX-vpc-XXXXXX), and
# the machine's own namespace is never changed. Per VPC X (VNI from 0x1000,
# all 10.0.0.0/24 with gateway 10.0.0.1 and MAC 02:00:00:XX:XX:XX, peers
# 192.0.2.12 and 192.0.2.13, egress none), every method makes exactly:
#   router namespace PREFIX-vpc-X (bind mount) with lo up
#   bridge PbX, MTU 1450, alias "govcloud vpc X", up
#   vxlan PvX: id, local 192.0.2.11, dstport 4789, nolearning, MTU 1450,
#     alias, port of PbX, up; FDB 00:00:00:00:00:00 dst PEER self permanent
#     for each peer
#   veth PrX, MTU 1450, alias, port of PbX, up; its peer gw in the router:
#     MTU 1450, the gateway MAC, up, 10.0.0.1/24, IPv4 forwarding on
#   nftables table bridge govcloud_PREFIX_X in the host (gateway MAC kept off
#     the VXLAN) and table inet govcloud in the router (net.h's rules)
# and the same deletion: the three links, the bridge table, the namespace.
# Two things no ip command sets: the alias (the kernel ignores it in a
# create request, for the module too: a second request) and gw's IPv4
# forwarding, a sysctl: "ip netns exec NS sysctl" (ip) or a write to /proc
# under ip netns exec (ip-batch). N stops at 1023: each VPC's bridge table
# hooks one base chain into the host's bridge forward hook, and the kernel
# takes at most 1024 per hook (MAX_HOOK_COUNT; beyond, nft fails E2BIG).
# After each creation the objects are compared with the module's (links,
# FDB, the host's ruleset, three sample routers in full); after each
# deletion nothing of the prefix may be left. Either failing stops the run.
#
# Prints per method the create, delete and total seconds (median and the
# three runs) and the ratios ip/module and ip-batch/module. Between runs it
# waits for the kernel's asynchronous teardown of deleted namespaces.
# Needs root, iproute2, nftables, nsenter, sysctl and python3 (exits 77
# without). At N=1000 a run takes about 45 minutes on 2 CPUs.
# Environment: GC_SRCDIR (default: this script's parent) and GC_BUILDDIR
# (default: $GC_SRCDIR/build).
set -euo pipefail

case "${1:-}" in
-h|--help)
        sed -n '4,47p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
esac
n=${1:-1000}
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "vpc.sh: N must be a positive integer, not \"$n\"" >&2; exit 2; }
(( n <= 1023 )) || { echo "vpc.sh: N must be at most 1023 (one bridge forward base chain per VPC; the kernel takes 1024 per hook)" >&2; exit 2; }

GC_SRCDIR=${GC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
GC_BUILDDIR=${GC_BUILDDIR:-$GC_SRCDIR/build}
GC_BUILDDIR=$(cd "$GC_BUILDDIR" && pwd) || { echo "vpc.sh: no build tree at $GC_BUILDDIR" >&2; exit 1; }
bench=$GC_BUILDDIR/bench/bench-vpc
[ -x "$bench" ] || { echo "vpc.sh: $bench is not built (set GC_BUILDDIR to the build tree)" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
        echo "vpc.sh: skipped: needs root (network namespaces, links, nftables)"
        exit 77
fi
for tool in ip bridge nft nsenter sysctl python3; do
        command -v "$tool" >/dev/null || { echo "vpc.sh: skipped: the $tool command is not installed"; exit 77; }
done

VNI_BASE=$((0x1000))
UNDERLAY=192.0.2.11
PEERS=(192.0.2.12 192.0.2.13)
PORT=4789
CIDR=10.0.0.0/24
GATEWAY=10.0.0.1
MTU=1450
RUNS=3
METHODS=(module ip ip-batch)

# The run's prefix: "v" and three characters, no namespace of it present.
chars=abcdefghijklmnopqrstuvwxyz0123456789
P=
for _ in $(seq 100); do
        p=v${chars:RANDOM%36:1}${chars:RANDOM%36:1}${chars:RANDOM%36:1}
        compgen -G "/run/netns/$p-*" >/dev/null || { P=$p; break; }
done
[ -n "$P" ] || { echo "vpc.sh: no free prefix under /run/netns" >&2; exit 1; }
HOST=$P-host
HOSTNS=/run/netns/$HOST
work=$(mktemp -d "${TMPDIR:-/tmp}/gc-bench-vpc.XXXXXX")
child=

# Every namespace of the run goes (the host's with its links and tables).
cleanup() {
        local ns
        set +e
        trap - INT TERM
        if [ -n "$child" ]; then
                kill -TERM -- "-$child" 2>/dev/null
                wait "$child" 2>/dev/null
        fi
        for ns in /run/netns/"$P"-vpc-* "$HOSTNS"; do
                [ -e "$ns" ] && echo "netns del ${ns##*/}"
        done >"$work/cleanup.ip"
        [ -s "$work/cleanup.ip" ] && ip -force -batch "$work/cleanup.ip" >/dev/null 2>&1
        for ns in /run/netns/"$P"-*; do
                [ -e "$ns" ] && echo "vpc.sh: could not remove $ns" >&2
        done
        rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_timed VAR CMD...: CMD in a process group of its own (so that cleanup
# can end all of it), its wall-clock seconds in VAR; fails when CMD does.
run_timed() {
        local var=$1 t0 t1 rc=0
        shift
        t0=$EPOCHREALTIME
        set -m
        "$@" &
        child=$!
        set +m
        wait "$child" || rc=$?
        child=
        t1=$EPOCHREALTIME
        printf -v "$var" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
        return "$rc"
}

# settle: wait (at most 10 s) until the CPUs are mostly idle (two half
# seconds under 15 % busy), so that the kernel's asynchronous teardown of
# the namespaces just deleted is not charged to the next run. The seconds
# waited add up in settled.
settled=0
settle() {
        local i k quiet=0 a b busy total t0=$EPOCHREALTIME
        read -r -a a < <(head -n1 /proc/stat)
        for ((i = 0; i < 20 && quiet < 2; i++)); do
                sleep 0.5
                read -r -a b < <(head -n1 /proc/stat)
                total=0
                for k in 1 2 3 4 5 6 7 8; do total=$((total + b[k] - a[k])); done
                busy=$((total - (b[4] - a[4]) - (b[5] - a[5])))
                if (( total > 0 && busy * 100 < total * 15 )); then quiet=$((quiet + 1)); else quiet=0; fi
                a=("${b[@]}")
        done
        settled=$(awk -v s="$settled" -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", s + b - a }')
}

# ------------------------------------------------------------ the host ---

ip netns add "$HOST"
ip -n "$HOST" link set lo up
ip -n "$HOST" link add ul0 type veth peer name ul1
ip -n "$HOST" addr add "$UNDERLAY/24" dev ul0
ip -n "$HOST" link set ul0 up
ip -n "$HOST" link set ul1 up
if ! ip -n "$HOST" link add "${P}probe" type vxlan id 1 local "$UNDERLAY" dstport "$PORT" 2>/dev/null; then
        echo "vpc.sh: skipped: this kernel cannot make VXLAN devices"
        exit 77
fi
ip -n "$HOST" link del "${P}probe"

# ------------------------------------------- the files of the ip methods ---

mkdir -p "$work/ip" "$work/batch/router"
# vpc I: x (the VNI as six hex digits) and m (the gateway MAC) of VPC I.
vpc() {
        printf -v x '%06x' "$((VNI_BASE + $1))"
        m=02:00:00:${x:0:2}:${x:2:2}:${x:4:2}
}
hex() { local x m; vpc "$1"; echo "$x"; }

# The rules net.h puts into each router (egress none, not isolated): the
# same text as net.c's net_router_rules, without its leading "delete".
cat >"$work/router.nft" <<EOF
table inet govcloud {
	set protected4 {
		type ipv4_addr
		flags interval
		auto-merge
		elements = { $UNDERLAY/32 }
	}
	set protected6 {
		type ipv6_addr
		flags interval
		auto-merge
	}
	chain input {
		type filter hook input priority filter; policy drop;
		iifname "lo" accept
		ct state established,related accept
		iifname "gw" ip daddr $GATEWAY icmp type echo-request accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ip daddr @protected4 drop
		ip6 daddr @protected6 drop
		ct state established,related accept
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
	}
}
EOF

# bridge_table: the host's table for the VPC of x and m, as net.c's
# net_ensure_bridge_table makes it.
bridge_table() {
        cat <<EOF
table bridge govcloud_${P}_$x {
	chain forward {
		type filter hook forward priority 0; policy accept;
		oifname "${P}v$x" ether saddr $m drop
		oifname "${P}v$x" ether daddr $m drop
		iifname "${P}v$x" ether saddr $m drop
		iifname "${P}v$x" ether daddr $m drop
	}
}
EOF
}

gen_files() {
        local i x m ns alias peer
        {
                echo "set -e"
                for ((i = 0; i < n; i++)); do
                        vpc "$i"
                        ns=$P-vpc-$x alias="govcloud vpc $x"
                        bridge_table >"$work/ip/bridge-$x.nft"
                        echo "ip netns add $ns"
                        echo "ip -n $ns link set lo up"
                        echo "ip link add ${P}b$x mtu $MTU type bridge"
                        echo "ip link set dev ${P}b$x alias '$alias'"
                        echo "nft -f $work/ip/bridge-$x.nft"
                        echo "ip link add ${P}v$x mtu $MTU type vxlan id $((VNI_BASE + i)) local $UNDERLAY dstport $PORT nolearning"
                        echo "ip link set dev ${P}v$x alias '$alias' master ${P}b$x up"
                        for peer in "${PEERS[@]}"; do
                                echo "bridge fdb append 00:00:00:00:00:00 dev ${P}v$x dst $peer self permanent"
                        done
                        echo "ip link add ${P}r$x mtu $MTU type veth peer name gw mtu $MTU address $m netns $ns"
                        echo "ip link set dev ${P}r$x alias '$alias' master ${P}b$x up"
                        echo "ip -n $ns link set dev gw up"
                        echo "ip netns exec $ns sysctl -qw net.ipv4.conf.gw.forwarding=1"
                        echo "ip -n $ns addr add $GATEWAY/${CIDR#*/} dev gw"
                        echo "ip netns exec $ns nft -f $work/router.nft"
                        echo "ip link set dev ${P}b$x up"
                done
        } >"$work/ip/create.sh"
        {
                echo "set -e"
                for ((i = 0; i < n; i++)); do
                        vpc "$i"
                        echo "ip link del dev ${P}r$x"
                        echo "ip link del dev ${P}v$x"
                        echo "ip link del dev ${P}b$x"
                        echo "nft delete table bridge govcloud_${P}_$x"
                        echo "ip netns del $P-vpc-$x"
                done
        } >"$work/ip/delete.sh"

        # ip-batch: the host's three files, one ip -batch file per router.
        : >"$work/batch/host.nft"
        : >"$work/batch/host.fdb"
        {
                for ((i = 0; i < n; i++)); do vpc "$i"; echo "netns add $P-vpc-$x"; done
                for ((i = 0; i < n; i++)); do
                        vpc "$i"
                        ns=$P-vpc-$x alias="govcloud vpc $x"
                        echo "link add ${P}b$x mtu $MTU type bridge"
                        echo "link set dev ${P}b$x alias \"$alias\""
                        echo "link add ${P}v$x mtu $MTU type vxlan id $((VNI_BASE + i)) local $UNDERLAY dstport $PORT nolearning"
                        echo "link set dev ${P}v$x alias \"$alias\" master ${P}b$x up"
                        echo "link add ${P}r$x mtu $MTU type veth peer name gw mtu $MTU address $m netns $ns"
                        echo "link set dev ${P}r$x alias \"$alias\" master ${P}b$x up"
                        echo "link set dev ${P}b$x up"
                        for peer in "${PEERS[@]}"; do
                                echo "fdb append 00:00:00:00:00:00 dev ${P}v$x dst $peer self permanent" >>"$work/batch/host.fdb"
                        done
                        bridge_table >>"$work/batch/host.nft"
                        printf 'link set lo up\nlink set dev gw up\naddr add %s/%s dev gw\n' "$GATEWAY" "${CIDR#*/}" \
                                >"$work/batch/router/$ns.ip"
                done
        } >"$work/batch/host.ip"
        {
                echo "set -e"
                echo "ip -batch $work/batch/host.ip"
                echo "bridge -batch $work/batch/host.fdb"
                echo "nft -f $work/batch/host.nft"
                for ((i = 0; i < n; i++)); do
                        vpc "$i"
                        ns=$P-vpc-$x
                        echo "ip -n $ns -batch $work/batch/router/$ns.ip"
                        echo "ip netns exec $ns sh -c 'echo 1 >/proc/sys/net/ipv4/conf/gw/forwarding && exec nft -f $work/router.nft'"
                done
        } >"$work/batch/create.sh"
        {
                for ((i = 0; i < n; i++)); do
                        vpc "$i"
                        printf 'link del dev %sr%s\nlink del dev %sv%s\nlink del dev %sb%s\n' "$P" "$x" "$P" "$x" "$P" "$x"
                done
                for ((i = 0; i < n; i++)); do vpc "$i"; echo "netns del $P-vpc-$x"; done
        } >"$work/batch/host-delete.ip"
        for ((i = 0; i < n; i++)); do vpc "$i"; echo "delete table bridge govcloud_${P}_$x"; done >"$work/batch/host-delete.nft"
        printf 'set -e\nip -batch %s\nnft -f %s\n' "$work/batch/host-delete.ip" "$work/batch/host-delete.nft" \
                >"$work/batch/delete.sh"
}

# ---------------------------------------------------------- the checks ---

# fingerprint FILE: the objects of the prefix, normalized (no ifindex, no
# random MACs, no timers), for comparison between methods.
FINGERPRINT='
import json, os, subprocess, sys
host, prefix, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
samples = sys.argv[5:]
def run(*a):
    return subprocess.run(a, check=True, capture_output=True, text=True).stdout
VOLATILE = ("bridge_id", "root_id", "root_port", "root_path_cost", "topology_change",
            "topology_change_detected", "hello_timer", "tcn_timer", "topology_change_timer", "gc_timer")
def link(l, with_address):
    li = l.get("linkinfo") or {}
    v = {k: l.get(k) for k in ("mtu", "ifalias", "master", "txqlen", "num_tx_queues", "num_rx_queues",
                               "inet6_addr_gen_mode", "gso_max_size", "gro_max_size")}
    v["kind"] = li.get("info_kind")
    v["up"] = "UP" in l.get("flags", [])
    v["data"] = {k: d for k, d in (li.get("info_data") or {}).items() if k not in VOLATILE}
    if with_address:
        v["address"] = l.get("address")
    return v
fp = {}
links = {l["ifname"]: link(l, False) for l in json.loads(run("ip", "-n", host, "-j", "-d", "link", "show"))
         if l["ifname"].startswith(prefix)}
fp["host links"] = links
kinds = {}
for name, l in links.items():
    kinds[l["kind"]] = kinds.get(l["kind"], 0) + 1
fp["host link kinds"] = kinds
fp["host fdb"] = sorted([e.get("ifname"), e.get("mac"), e.get("dst"), sorted(e.get("flags", [])), e.get("state")]
                        for e in json.loads(run("bridge", "-n", host, "-j", "fdb", "show")) if "dst" in e)
fp["host nftables"] = run("ip", "netns", "exec", host, "nft", "list", "ruleset").splitlines()
fp["router namespaces"] = sum(1 for e in os.listdir("/run/netns") if e.startswith(prefix + "-vpc-"))
for ns in samples:
    r = {}
    r["links"] = {l["ifname"]: link(l, l["ifname"] == "gw") for l in json.loads(run("ip", "-n", ns, "-j", "-d", "link", "show"))}
    r["addresses"] = sorted([l["ifname"], a["family"], a["local"], a["prefixlen"], a.get("scope")]
                            for l in json.loads(run("ip", "-n", ns, "-j", "addr", "show")) for a in l.get("addr_info", []))
    r["netconf gw"] = json.loads(run("ip", "-n", ns, "-j", "netconf", "show", "dev", "gw"))
    r["routes"] = sorted(json.dumps({k: v for k, v in rt.items() if k != "flags"}, sort_keys=True)
                         for rt in json.loads(run("ip", "-n", ns, "-j", "-4", "route", "show", "table", "all")))
    r["nftables"] = run("ip", "netns", "exec", ns, "nft", "list", "ruleset").splitlines()
    fp["router " + ns[len(prefix):]] = r
if kinds != {"bridge": n, "vxlan": n, "veth": n} or fp["router namespaces"] != n or len(fp["host fdb"]) != 2 * n:
    sys.exit("expected %d each of bridge, vxlan, veth, %d router namespaces and %d FDB entries; found %s, %d, %d"
             % (n, n, 2 * n, kinds, fp["router namespaces"], len(fp["host fdb"])))
with open(out, "w") as f:
    json.dump(fp, f, indent=1, sort_keys=True)
    f.write("\n")
'

samples=("$P-vpc-$(hex 0)" "$P-vpc-$(hex $((n / 2)))" "$P-vpc-$(hex $((n - 1)))")

# check_created METHOD RUN: the objects are there and the same as the
# module's first run.
check_created() {
        local f=$work/fingerprint-$1-$2.json
        if ! python3 -c "$FINGERPRINT" "$HOST" "$P" "$n" "$f" "${samples[@]}" 2>"$work/fingerprint.err"; then
                echo "vpc.sh: $1, run $2: the objects made are not the expected ones:" >&2
                cat "$work/fingerprint.err" >&2
                exit 1
        fi
        if [ ! -e "$work/fingerprint.json" ]; then
                cp "$f" "$work/fingerprint.json"
        elif ! cmp -s "$f" "$work/fingerprint.json"; then
                echo "vpc.sh: $1, run $2: the objects differ from those of the first run (module):" >&2
                diff -u "$work/fingerprint.json" "$f" | head -n 60 >&2
                exit 1
        fi
}

# check_gone METHOD RUN: nothing of the prefix is left.
check_gone() {
        local links tables namespaces
        links=$(ip -n "$HOST" -o link show | awk -F': ' -v p="$P" 'index($2, p) == 1 { print $2 }' | head -n 5)
        tables=$(ip netns exec "$HOST" nft list tables | head -n 5)
        namespaces=$(compgen -G "/run/netns/$P-vpc-*" | head -n 5 || true)
        if [ -n "$links$tables$namespaces" ]; then
                echo "vpc.sh: $1, run $2: left after the deletion:" >&2
                printf '%s\n' "$links" "$tables" "$namespaces" | sed '/^$/d; s/^/  /' >&2
                exit 1
        fi
}

# ------------------------------------------------------------- the runs ---

gen_files
declare -A create_s=() delete_s=()
module_args=(--host-netns "$HOSTNS" --prefix "$P" --underlay "$UNDERLAY" --vni-base "$VNI_BASE")
for peer in "${PEERS[@]}"; do module_args+=(--peer "$peer"); done
module_args+=(--cidr "$CIDR" --gateway "$GATEWAY")

# run_method METHOD RUN: create, check, delete, check; the times in
# create_s / delete_s.
run_method() {
        local m=$1 r=$2 t note=
        settle
        case "$m" in
        module)
                run_timed t nsenter --net="$HOSTNS" "$bench" "${module_args[@]}" --only create "$n" >"$work/out" ||
                        { echo "vpc.sh: module, run $r: bench-vpc create failed" >&2; exit 1; }
                create_s[$m,$r]=$(awk '$1 == "create" { print $2 }' "$work/out")
                note=$(awk '$1 == "create_ms_first" { f = $2 } $1 == "create_ms_last" { l = $2 }
                            END { printf "create %s -> %s", f, l }' "$work/out")
                ;;
        *)
                run_timed t nsenter --net="$HOSTNS" bash "$work/${m/ip-batch/batch}/create.sh" ||
                        { echo "vpc.sh: $m, run $r: creating failed" >&2; exit 1; }
                create_s[$m,$r]=$t
                ;;
        esac
        check_created "$m" "$r"
        settle
        case "$m" in
        module)
                run_timed t nsenter --net="$HOSTNS" "$bench" "${module_args[@]}" --only delete "$n" >"$work/out" ||
                        { echo "vpc.sh: module, run $r: bench-vpc delete failed" >&2; exit 1; }
                delete_s[$m,$r]=$(awk '$1 == "delete" { print $2 }' "$work/out")
                note="  ms/VPC, first tenth -> last tenth: $note, $(awk '$1 == "delete_ms_first" { f = $2 }
                        $1 == "delete_ms_last" { l = $2 } END { printf "delete %s -> %s", f, l }' "$work/out")"
                ;;
        *)
                run_timed t nsenter --net="$HOSTNS" bash "$work/${m/ip-batch/batch}/delete.sh" ||
                        { echo "vpc.sh: $m, run $r: deleting failed" >&2; exit 1; }
                delete_s[$m,$r]=$t
                ;;
        esac
        check_gone "$m" "$r"
        printf '  run %d %-9s create %8.2f s  delete %8.2f s%s\n' "$r" "$m" "${create_s[$m,$r]}" "${delete_s[$m,$r]}" "$note"
}

echo "bench/vpc: $n VPCs on one host (namespace $HOST), prefix $P, VNI 0x$(hex 0)..0x$(hex $((n - 1))), 2 peers each"
echo "  $(nproc) CPUs, Linux $(uname -r), $(ip -V | sed 's/, libbpf.*//'), $(nft --version | cut -d' ' -f1-2), load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((run = 1; run <= RUNS; run++)); do
        for m in "${METHODS[@]}"; do
                run_method "$m" "$run"
        done
done
echo "  objects identical across all methods and runs (links, FDB, host ruleset, routers ${samples[*]#"$P"})"
echo "  waited $settled s in all between phases for the CPUs to be idle (not timed)"

# --------------------------------------------------------------- report ---

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A med_c=() med_d=() med_t=()
echo
printf '%-9s  %-30s  %-30s  %s\n' method "create s: median (runs)" "delete s: median (runs)" "total s: median (runs)"
for m in "${METHODS[@]}"; do
        cs=() ds=() ts=()
        for ((run = 1; run <= RUNS; run++)); do
                cs+=("${create_s[$m,$run]}")
                ds+=("${delete_s[$m,$run]}")
                ts+=("$(awk -v a="${create_s[$m,$run]}" -v b="${delete_s[$m,$run]}" 'BEGIN { printf "%.2f", a + b }')")
        done
        med_c[$m]=$(median "${cs[@]}")
        med_d[$m]=$(median "${ds[@]}")
        med_t[$m]=$(median "${ts[@]}")
        printf '%-9s  %-30s  %-30s  %s\n' "$m" \
                "$(printf '%.2f (%s)' "${med_c[$m]}" "$(printf '%.2f ' "${cs[@]}" | sed 's/ $//')")" \
                "$(printf '%.2f (%s)' "${med_d[$m]}" "$(printf '%.2f ' "${ds[@]}" | sed 's/ $//')")" \
                "$(printf '%.2f (%s)' "${med_t[$m]}" "$(printf '%.2f ' "${ts[@]}" | sed 's/ $//')")"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf("%.2fx", (b > 0) ? a / b : 0) }'; }
echo
for m in ip ip-batch; do
        printf '%s/module %s (create %s, delete %s)\n' "$m" "$(ratio "${med_t[$m]}" "${med_t[module]}")" \
                "$(ratio "${med_c[$m]}" "${med_c[module]}")" "$(ratio "${med_d[$m]}" "${med_d[module]}")"
done
echo "(medians of $RUNS runs; above 1x the module is faster. Per VPC the ip method runs 16 commands to create"
echo " and 5 to delete; ip-batch runs 2 per router namespace plus 3 for the host to create, 2 in all to delete."
echo " Made otherwise than by an ip object: gw's IPv4 forwarding, a sysctl under ip netns exec.)"
