#!/usr/bin/env bash
# The govcloud demo: install what is missing, build, and show what it does
# today. It grows with each part of the system.
#   scripts/demo.sh
# As root, its four hosts are network namespaces joined by an underlay
# (tests/system/lib-netns.sh, as the system suite makes them), the
# orchestrator sits on that underlay in a namespace of its own, and each
# system's VPC is really built; guest namespaces on the VPC bridges ping
# each other across hosts. Nothing in the machine's own network namespace
# is changed. Without root (or without network namespaces) everything runs
# on loopback and the VPCs are only planned. Everything it starts stops at
# the end; its files are in a temporary directory (kept with GC_DEMO_KEEP=1).
# GC_DEMO_BUILDDIR names the build directory (default: build, in the
# checkout; made with meson setup when missing). GC_DEMO_NETNS=0 keeps
# everything on loopback even as root; GC_DEMO_HV=test keeps the agents on
# libvirt's test driver even where a real libvirtd could run.
#
# The hypervisors. As root, every host runs a real libvirtd with qemu
# guests (TCG: <domain type='qemu'>, what the agent writes on a qemu URI):
# one private virtlogd and libvirtd per host, started inside that host's
# network namespace, because libvirtd puts its domains' taps in its own
# network namespace, where the VM's NIC must join its VPC's bridge, which
# the agent builds in the host's namespace. Each daemon also has a mount
# namespace of its own (tmpfs over /run/libvirt, /var/lib/libvirt,
# /etc/libvirt/qemu and /etc/libvirt/storage; its logs and qemu pid files
# bound to its directory) and its own unix socket; the agent's libvirt_uri
# is qemu:///system?socket=THAT-SOCKET (tests/system/lib-libvirtd.sh,
# lv_inst_*). Several daemons side by side work (measured: no conflict, each
# VM's tap in its host's namespace), so that is the arrangement, rather than
# one daemon for all hosts. They are launched in parallel as soon as the
# hosts exist and awaited only when the agents start: the qemu capability
# cache (/var/cache/libvirt) is shared, so only the first start on a
# machine probes qemu (a few seconds, spent while the PKI is made); later
# starts take about 0.3 s for all four. Each host has a dir storage pool
# in its daemon's directory; volumes are sparse. The guests have no OS
# (SeaBIOS finds no bootable disk and waits); the VPC steps' "VMs" that
# ping and answer the tunnel are namespaces on the same VPC bridges with
# the VM's address and MAC, as before. This machine (2 cores, 24 GiB) is
# smaller than the samples' VMs: the agents advertise the capacity the
# placement needs, and the pools' largest flavour (which is each VM's
# maximum, qemu's -m) is 16 vCPUs and 16 GiB, which qemu can reserve
# lazily; the default largest flavour (512 GiB) it cannot. Without root (or
# without libvirtd, qemu or mount namespaces) each agent runs on libvirt's
# test driver, in its own process.
#
# A run killed before its cleanup (kill -9) leaves its daemons, qemu
# processes, agents and namespaces behind; the next run stops them first
# (the run that made them is gone: its pid and start time are recorded).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

top=$PWD
build=${GC_DEMO_BUILDDIR:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
if [ ! -f "$build/build.ninja" ]; then
        meson setup "$build" >/dev/null
fi
meson compile -C "$build" >/dev/null
gcctl=$build/cli/gcctl
orchestrator=$build/orchestrator/gc-orchestrator
agent=$build/agent/gc-agent
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '\033[2m$ %s\033[0m\n' "$*"; }

# Network namespaces: the hosts, their underlay, the orchestrator's.
# shellcheck source=tests/system/lib-netns.sh
. "$top/tests/system/lib-netns.sh"
# Private libvirtds, one per host.
# shellcheck source=tests/system/lib-libvirtd.sh
. "$top/tests/system/lib-libvirtd.sh"

# A killed run's leftovers: the processes it started (their working
# directory is its directory), its namespaces, its libvirtds.
reap_stale_runs() {
        local state dir opid ostart tag keep nltmp pid
        # First the libvirtds, while they can still destroy their domains.
        if [ "$(id -u)" -eq 0 ]; then lv_inst_reap_stale; fi
        for state in /tmp/govcloud-demo.*/demo.state; do
                [ -r "$state" ] || continue
                dir=${state%/demo.state}
                read -r opid ostart tag keep nltmp <"$state" || continue
                if [ "$(_lv_starttime "$opid" 2>/dev/null)" = "$ostart" ] && _lv_running "$opid"; then
                        continue        # still running
                fi
                echo "(a killed demo run's leftovers in $dir: stopped)"
                for pid in /proc/[0-9]*; do
                        if [ "$(readlink "$pid/cwd" 2>/dev/null)" = "$dir" ]; then kill -KILL "${pid#/proc/}" 2>/dev/null || true; fi
                done
                if [ "$tag" != - ]; then        # its namespaces, and what runs in them
                        NL_RUN=$tag NL_TMP=$nltmp
                        nl_cleanup
                        NL_RUN='' NL_TMP=''
                fi
                if [ "$keep" = 1 ]; then rm -f "$state"; else rm -rf "$dir"; fi
        done
        return 0
}
reap_stale_runs

work=$(mktemp -d /tmp/govcloud-demo.XXXXXX)
pids=()
if [ "${GC_DEMO_NETNS:-1}" = 0 ]; then why="GC_DEMO_NETNS=0"; netns=0
elif why=$(nl_usable); then netns=1; else netns=0; fi
# The hypervisor: private libvirtds with qemu guests, or the test driver.
if [ "${GC_DEMO_HV:-qemu}" = test ]; then why_lv="GC_DEMO_HV=test"; hv="test"
elif why_lv=$(lv_usable); then hv="qemu"; else hv="test"; fi
in_orch=()      # the prefix that runs a command where the orchestrator is
cleanup() {
        local all=(${pids[@]+"${pids[@]}"} ${NL_PIDS[@]+"${NL_PIDS[@]}"})
        set +e
        if [ ${#all[@]} -gt 0 ]; then
                kill "${all[@]}" 2>/dev/null
                wait "${all[@]}" 2>/dev/null
        fi
        if [ "$hv" = qemu ] && [ -n "$LV_SET" ]; then
                if [ "${GC_DEMO_KEEP:-0}" = 1 ]; then
                        for d in "$LV_SET"/*/; do
                                d=${d%/}
                                mkdir -p "$work/libvirt-${d##*/}"
                                cp -r "$d/libvirtd.log" "$d/log/." "$work/libvirt-${d##*/}/" 2>/dev/null
                        done
                fi
                lv_inst_stop_all
        fi
        [ "$netns" = 1 ] && nl_cleanup
        if [ "${GC_DEMO_KEEP:-0}" = 1 ]; then
                rm -f "$work/demo.state"
                echo "demo files kept in $work"
        else
                rm -rf "$work"
        fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# For the next run, should this one be killed: who made it, its namespaces.
save_state() { echo "$$ $(_lv_starttime $$) ${NL_RUN:--} ${GC_DEMO_KEEP:-0} ${NL_TMP:--}" >"$work/demo.state"; }
save_state

step "The four jurisdictions' policy packs, checked against the schema"
"$gcctl" policy check policies/baotou.json policies/luan.json policies/zhumadian.json policies/sichuan.json
echo "(gcctl policy explain policies/NAME.json says what each pack decides, rule by rule)"

orch_addr=127.0.0.1
hosts=(host-a host-b host-c host-d)
declare -A hostno=([host-a]=1 [host-b]=2 [host-c]=3 [host-d]=4)
underlay() { if [ "$netns" = 1 ]; then nl_host_underlay "${hostno[$1]}"; else echo 127.0.0.1; fi; }
if [ "$netns" = 1 ]; then
        step "Four hosts as network namespaces on an underlay 192.0.2.0/24, and the orchestrator's"
        nl_init
        save_state
        nl_topology ${#hosts[@]}
        orch_addr=192.0.2.100
        orch_ns=$(nl_underlay_ns_add orch "$orch_addr/24")
        in_orch=(nsenter "--net=/run/netns/$orch_ns")
        for h in "${hosts[@]}"; do
                echo "$h: namespace $(nl_host_ns "${hostno[$h]}"), underlay $(underlay "$h"), uplink parent wan0"
        done
        echo "orchestrator: namespace $orch_ns, $orch_addr; the \"internet\": $NL_INET ($NL_INTERNET_ADDR)"
else
        step "Not in network namespaces ($why): hosts on loopback, VPCs planned but not built"
fi
if [ "$hv" = qemu ]; then
        if [ "$netns" = 1 ]; then
                step "A private libvirtd for each host, in the host's namespace (started now, awaited with the agents)"
        else
                step "A private libvirtd for each host (started now, awaited with the agents)"
        fi
        lv_launched=$(date +%s%N)
        for h in "${hosts[@]}"; do
                lv_inst_start "$h" "$([ "$netns" = 1 ] && nl_host_ns "${hostno[$h]}")"
                echo "$h: virtlogd and libvirtd in $LV_SET/$h, socket $LV_SET/$h/run/libvirt-sock"
        done
else
        step "No real libvirtd ($why_lv): each agent runs libvirt's test driver"
fi

step "A PKI for this run (scripts/pki.sh: CA, TLS 1.3 certificates, SM2 signing keys)"
scripts/pki.sh --out "$work/pki" --host host-a --host host-b --host host-c --host host-d \
        --server-name localhost --server-name 127.0.0.1 --server-name "$orch_addr" | tail -n 3
cd "$work"

step "A local webhook receiver, and the orchestrator on SQLite with three pools (test clock on)"
"${in_orch[@]}" python3 "$top/scripts/webhook-receiver.py" "$work/webhook.port" "$work/events" &
pids+=($!)
for _ in $(seq 100); do [ -s webhook.port ] && break; sleep 0.05; done
# The largest flavour is every VM's maximum (qemu's -m): 16 GiB, which qemu
# reserves lazily on this machine, and room for the samples' largest VM.
flavours='{ "vcpus": { "min": 1, "max": 16 }, "memory_gib": { "min": 1, "max": 16 } }'
# The Zhumadian pool holds the small system that the demo's exit wipes:
# 1 GiB disks (the default smallest system disk is 20 GiB), at most 4 vCPUs
# and 4 GiB. Its pack sets a 30-day grace period for migration on exit.
small_flavours='{ "vcpus": { "min": 1, "max": 4 }, "memory_gib": { "min": 1, "max": 4 },
                   "system_disk_gib": { "min": 1, "max": 40 }, "data_disk_gib": { "min": 0, "max": 200 } }'
cat >orchestrator.json <<JSON
{
  "listen": "$orch_addr:0",
  "tls": { "cert": "pki/tls/orchestrator.crt", "key": "pki/tls/orchestrator.key", "ca": "pki/ca.crt" },
  "database": "orchestrator.db",
  "service_key": "pki/sign/orchestrator-gc-orchestrator.key",
  "plugin_dir": "$build/plugins",
  "pack": "baotou",
  "pools": [
    { "name": "包头-A", "arch": ["x86", "arm"], "address_ranges": ["10.0.0.0/16"],
      "egress": { "egov": { "range": "203.0.113.0/24", "gateway": "203.0.113.1" } }, "flavours": $flavours },
    { "name": "六安-A", "pack": "luan", "flavours": $flavours },
    { "name": "驻马店-A", "pack": "zhumadian", "address_ranges": ["10.9.0.0/16"], "flavours": $small_flavours }
  ],
  "reclaim": { "wipe_method": "zero" },
  "plugins": [
    { "path": "notify-webhook", "config": { "url": "http://127.0.0.1:$(cat webhook.port)/events", "timeout_ms": 2000 } }
  ],
  "notify": { "retry_initial_ms": 200, "retry_max_ms": 2000 }
}
JSON
"${in_orch[@]}" "$orchestrator" --config orchestrator.json --ready-file ready --unsafe-test-clock 2>orchestrator.log &
pids+=($!)
for _ in $(seq 200); do [ -s ready ] && break; sleep 0.05; done
[ -s ready ] || { cat orchestrator.log; exit 1; }
export GC_SERVER="https://$orch_addr:$(cut -d' ' -f2 ready)" GC_CACERT="$work/pki/ca.crt"
echo "gc-orchestrator listening on $GC_SERVER (log: orchestrator.log)"

# Who is who: the client certificate decides the role (OU) and identity (CN).
as() {
        local who=$1; shift
        GC_CERT="$work/pki/tls/$who.crt" GC_KEY="$work/pki/tls/$who.key" "${in_orch[@]}" "$gcctl" "$@"
}
tenant=$(awk -F'\t' '$1 == "tenant" { print $2; exit }' pki/names.tsv)

step "The authority registers the unit, its systems, an agreement (R-SC1) and the approval system"
say "gcctl unit add 市xx局"
as authority-authority unit add 市xx局 >/dev/null
for s in 协同办公OA 门户网站 一网通办 数据共享交换 政务公开; do
        say "gcctl system register --unit 市xx局 --name $s --mlps 2 --availability 99.9%"
        as authority-authority system register --unit 市xx局 --name "$s" --mlps 2 --availability 99.9% >/dev/null
done
printf '安全责任书 AQ-2026-01\n' >agreement.pdf
say "gcctl system agreement 1 --reference AQ-2026-01 --signed-on 2026-11-01 ... --document agreement.pdf"
as authority-authority system agreement 1 --reference AQ-2026-01 --signed-on 2026-11-01 \
        --signatory 市xx局 --signatory 云服务商 --document agreement.pdf >/dev/null
say "gcctl key add --party approval --id approval-oa --name 市政务服务审批系统 --public pki/sign/approval-approval-oa.pub"
as authority-authority key add --party approval --id approval-oa --name 市政务服务审批系统 \
        --public pki/sign/approval-approval-oa.pub >/dev/null
as authority-authority system list
# 政务公开: the small system (Zhumadian pool) that exits at the end.
small=$(as authority-authority system list --json | python3 -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin)["systems"] if s["name"] == "政务公开"][0])')

if [ "$hv" = qemu ]; then
        step "The provider registers four compute nodes; an agent starts on each (its own libvirtd, qemu)"
        t=$(date +%s%N)
        for h in "${hosts[@]}"; do
                lv_inst_wait "$h"
        done
        echo "the four libvirtds answer (launched $(( (t - lv_launched) / 1000000 )) ms ago, waited $(( ($(date +%s%N) - t) / 1000000 )) ms more); a dir pool demo-pool on each"
        for h in "${hosts[@]}"; do
                lv_inst_pool "$h" demo-pool
        done
else
        step "The provider registers four compute nodes; an agent starts on each (libvirt test driver)"
fi
for h in host-a:包头-A host-b:包头-A host-c:六安-A host-d:驻马店-A; do
        name=${h%%:*} pool=${h#*:} ul=$(underlay "${h%%:*}")
        say "gcctl host add $name --pool $pool --underlay $ul --ops $ul --agent-cert pki/tls/host-$name.crt"
        as provider-provider-ops host add "$name" --pool "$pool" --underlay "$ul" --ops "$ul" \
                --agent-cert "pki/tls/host-$name.crt" >/dev/null
        [ "$hv" = qemu ] || mkdir -p "relabel-$name"
        network=
        in_host=()
        if [ "$netns" = 1 ]; then
                in_host=(nsenter "--net=/run/netns/$(nl_host_ns "${hostno[$name]}")")
                network=',
  "network": { "prefix": "'$(nl_host_prefix "${hostno[$name]}")'", "underlay": "'$ul'", "egress": { "egov": "wan0" },
               "protected": ["192.0.2.0/24"], "state": "vpcs-'$name'.json" }'
        fi
        uri=test:///default storage=default-pool
        if [ "$hv" = qemu ]; then uri=${LV_INST_URI[$name]} storage=demo-pool; fi
        cat >"agent-$name.json" <<JSON
{
  "orchestrator": "$GC_SERVER",
  "tls": { "cert": "pki/tls/host-$name.crt", "key": "pki/tls/host-$name.key", "ca": "pki/ca.crt" },
  "libvirt_uri": "$uri",
  "storage_pool": "$storage",
  "capacity": { "vcpus": 32, "memory_mib": 131072, "storage_gib": 20000, "arch": "x86_64" },
  "poll_seconds": 25,
  "journal": "agent-$name.journal",
  "wipe": { "signing_key": "pki/sign/host-$name.key", "state_dir": "wipe-$name", "progress_seconds": 1 }$network
}
JSON
        relabel=()      # the test driver: labels changed through the agent's test hook
        [ "$hv" = qemu ] || relabel=(--unsafe-test-relabel "relabel-$name")
        "${in_host[@]}" "$agent" --config "agent-$name.json" ${relabel[@]+"${relabel[@]}"} 2>"agent-$name.log" &
        pids+=($!)
done
for _ in $(seq 200); do
        up=$(as provider-provider-ops host list --json | python3 -c 'import json,sys; print(sum(h["state"] == "up" for h in json.load(sys.stdin)["hosts"]))')
        [ "$up" = ${#hosts[@]} ] && break
        sleep 0.1
done
as provider-provider-ops host list

# progress SYSTEM: one line that counts the system's VMs running, until all are.
progress() {
        local sys=$1 deadline=$((SECONDS + 60)) line
        while :; do
                line=$(as authority-authority vm list --system "$sys" --json | python3 -c '
import json, sys
vms = [v for v in json.load(sys.stdin)["vms"] if v["state"] != "deleted"]
run = sum(v["state"] == "running" for v in vms)
print("%d %d" % (run, len(vms)))')
                printf '\r  VMs running: %s/%s ' ${line}
                [ "${line% *}" = "${line#* }" ] && break
                [ $SECONDS -lt $deadline ] || { echo "(timed out)"; return 1; }
                sleep 0.2
        done
        echo
}
# system_state SYSTEM
system_state() { as authority-authority system show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["system"]["state"])'; }
wait_state() {
        local want=$2 deadline=$((SECONDS + 60))
        until [ "$(system_state "$1")" = "$want" ]; do
                [ $SECONDS -lt $deadline ] || { echo "system $1 did not reach $want"; return 1; }
                sleep 0.2
        done
        echo "system $1 is $want"
}

# Samples carry a fixed approval time; the approval system stamps it now,
# on the orchestrator's clock (clock_offset: how far the test clock moved).
clock_offset=0
advance() {
        local out
        out=$(as authority-authority clock advance "$1")
        echo "$out"
        clock_offset=$(sed -n 's/.*(offset +\{0,1\}\([0-9]*\) s).*/\1/p' <<<"$out")
}
stamp() {
        python3 - "$1" "$2" "$clock_offset" <<'PY'
import datetime, json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
now = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))) + datetime.timedelta(seconds=int(sys.argv[3] or 0))
doc["approval"]["time"] = now.replace(microsecond=0).isoformat()
json.dump(doc, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False, indent=2)
PY
}
submit() {
        local what=$1 sample=$2 key=${3:-pki/sign/approval-approval-oa.key} who=${4:-approval-approval-oa}
        step "$what"
        stamp "$top/scripts/samples/$sample" "$sample"
        say "gcctl request submit $sample --sign ${key##*/}"
        as "$who" request submit "$sample" --sign "$key" || true
}

# domains: each host's qemu domains as its own libvirtd lists them (virsh),
# then for each its qemu process, vCPUs (live), memory (the balloon target
# the agent set; the guest, without a balloon driver, keeps its maximum),
# its NIC's tap (in the host's namespace, on the VPC bridge) and disks
# (sparse volumes: little is written).
domains() {
        local h u dom pid acc vc mem max tap mac where vols n
        for h in "${hosts[@]}"; do
                say "virsh -c 'qemu:///system?socket=$LV_SET/$h/run/libvirt-sock' list --all --title   ($h)"
                n=0
                for u in $(lv_inst_virsh "$h" list --all --uuid); do
                        dom=gc-$u
                        n=$((n + 1))
                        printf '  %s  %-8s %s\n' "$dom" "$(lv_inst_virsh "$h" domstate "$dom" | sed '/^$/d')" "$(lv_inst_virsh "$h" desc --title "$dom")"
                        pid=$(cat "$LV_SET/$h/qemu-run/$dom.pid" 2>/dev/null || echo '?')
                        acc=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -o -- '-accel [a-z]*' || echo 'not running')
                        vc=$(lv_inst_virsh "$h" vcpucount "$dom" --live --current 2>/dev/null || echo '-')
                        mem=$(lv_inst_virsh "$h" dumpxml --inactive "$dom" | sed -n "s|.*<currentMemory unit='KiB'>\([0-9]*\)<.*|\1|p")
                        max=$(lv_inst_virsh "$h" dumpxml --inactive "$dom" | sed -n "s|.*<memory unit='KiB'>\([0-9]*\)<.*|\1|p")
                        tap='' mac=''
                        read -r tap mac < <(lv_inst_virsh "$h" domiflist "$dom" | awk 'NF { print $1, $5; exit }') || true
                        where=
                        if [ -n "${tap:-}" ] && [ "$netns" = 1 ]; then
                                where=" in $(nl_host_ns "${hostno[$h]}") $(ip -n "$(nl_host_ns "${hostno[$h]}")" -o link show dev "$tap" 2>/dev/null | grep -o 'master [^ ]*' || echo '(not found)')"
                        fi
                        vols=$(lv_inst_virsh "$h" domblklist "$dom" | awk 'NF { print $1 }' | while read -r dev; do
                                lv_inst_virsh "$h" domblkinfo "$dom" "$dev" | awk -v d="$dev" '/^Capacity/ { c = $2 } /^Allocation/ { a = $2 } END { printf " %s %d GiB (%d KiB written)", d, c / 2^30, a / 1024 }'
                        done)
                        printf '      qemu %s (%s), %s vCPUs, memory %d MiB (maximum %d MiB), NIC %s, disks%s\n' \
                                "$pid" "$acc" "$vc" $((mem / 1024)) $((max / 1024)) "${tap:-none}${mac:+ $mac}$where" "$vols"
                done
                [ "$n" -gt 0 ] || echo "  (no domains)"
        done
}

# localday: the day (days since 1970-01-01, +08:00) on the orchestrator's clock.
localday() { echo $((($(date +%s) + ${clock_offset:-0} + 8 * 3600) / 86400)); }
# usage_csv D0 FIRST LAST OUT: what a provider's monitoring would export for
# system 1's VMs, hourly at HH:30 (+08:00) from day FIRST to LAST: per VM by
# its place in the list, an idle one (CPU 8 %, 54 % at noon; memory 12 %),
# a busy one (74 %, 98 % at noon; memory 72 %), a middling one (CPU 40 %,
# memory 50 %: in no band), and a database whose disk grows half a point a
# day from 75 % on day D0.
usage_csv() {
        as authority-authority vm list --system 1 --json | python3 -c '
import datetime, json, sys
d0, first, last, out = (int(x) for x in sys.argv[1:4]) + (sys.argv[4],) if False else (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
vms = sorted((v["name"] for v in json.load(sys.stdin)["vms"] if v["state"] != "deleted"), key=lambda n: ("数据库" in n, n))
tz = datetime.timezone(datetime.timedelta(hours=8))
with open(out, "w", encoding="utf-8") as f:
    f.write("time,vm,pool,cpu_pct,memory_pct,disk_pct\n")
    for day in range(first, last + 1):
        for h in range(24):
            t = datetime.datetime.fromtimestamp(day * 86400 - 8 * 3600 + h * 3600 + 1800, tz).isoformat()
            for i, name in enumerate(vms):
                if "数据库" in name:
                    row = (40, 50, 75 + (day - d0) / 2)
                else:
                    row = [(54 if h == 12 else 8, 12, 30), (98 if h == 12 else 74, 72, 45), (40, 50, 35)][i % 3]
                f.write("%s,%s,包头-A,%s,%s,%s\n" % ((t, name) + tuple(row)))
' "$1" "$2" "$3" "$4"
}

submit "A valid apply (Baotou pool: VM names built as unit+system+role+number, R-NM2)" apply.json
progress 1
wait_state 1 trial
as authority-authority vm list --system 1

# The small system the exit wipes at the end: two VMs with 1 GiB system and
# data disks in the Zhumadian pool (a 30-day trial, which the month that
# passes below ends with system 1's), made here from the Lu'an sample.
python3 - "$top/scripts/samples/apply-luan.json" apply-small.json <<'PY'
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
doc["approval"]["id"] = "OA-2026-0201"
doc["system"]["name"], doc["pool"], doc["trial_length"] = "政务公开", "驻马店-A", 30
doc["vms"] = [{"type": "vm", "role": "门户服务器", "arch": "x86", "vcpus": 1, "memory_gib": 1,
               "system_disk": {"gib": 1, "type": "SSD"}, "data_disk": {"gib": 1, "type": "SAS"},
               "os": "麒麟V10", "network": "egov", "ports": [443], "count": 2,
               "names": ["zwgk-web-01", "zwgk-web-02"]}]
json.dump(doc, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False, indent=2)
PY
step "A small system in the Zhumadian pool (政务公开: 2 VMs, 1 GiB disks), the one that exits at the end"
stamp apply-small.json apply-small.json
say "gcctl request submit apply-small.json --sign approval-oa.key"
as approval-approval-oa request submit apply-small.json --sign pki/sign/approval-approval-oa.key
progress "$small"
wait_state "$small" trial
as authority-authority vm list --system "$small"
if [ "$hv" = qemu ]; then
        step "The VMs really run: each host's libvirtd lists its qemu domains"
        domains
fi

step "System 1's own network (R-NW1, R-NW2): a VXLAN id, a CIDR, an address and MAC per VM"
say "gcctl system network 1"
as provider-provider-ops system network 1
if [ "$netns" = 1 ]; then
        # Two VMs on different hosts, played by guest namespaces on their
        # hosts' VPC bridges with the assigned MAC and address.
        as provider-provider-ops system network 1 --json >net-1.json
        read -r vni cidr gw < <(python3 -c 'import json; n = json.load(open("net-1.json"))["network"]; print(n["vni"], n["cidr"], n["gateway"])')
        x=$(printf '%06x' "$vni")
        mapfile -t gl < <(python3 -c '
import json
vms, seen = json.load(open("net-1.json"))["network"]["vms"], set()
for v in vms:
    if v["host"] not in seen:
        seen.add(v["host"])
        print(v["name"], v["host"], v["address"], v["mac"])' | head -n 2)
        k=0
        for line in "${gl[@]}"; do
                read -r vm h addr mac <<<"$line"
                k=$((k + 1))
                i=${hostno[$h]}
                nl_guest_add "g$k" "$i" "$(nl_host_prefix "$i")b$x" "$mac" "$addr/${cidr#*/}" "$gw"
                ga[k]=$addr
                echo "guest g$k plays $vm: $addr $mac on $h's bridge $(nl_host_prefix "$i")b$x"
        done
        say "ip netns exec g1 ping ${ga[2]}   (g1 on ${gl[0]#* } pings g2 on ${gl[1]#* }: across the VXLAN)"
        ip netns exec "$(nl_guest_ns g1)" ping -n -c 3 -i 0.2 -W 1 "${ga[2]}" | sed -n '/packets/p'
        say "ping from g1 to the internet ($NL_INTERNET_ADDR): egress is closed (R-NW3)"
        ip netns exec "$(nl_guest_ns g1)" ping -n -c 2 -i 0.2 -W 1 "$NL_INTERNET_ADDR" | sed -n '/packets/p' || true
        say "gcctl system egress 1 --to egov --reference 备案-2026-01   (before the admission check)"
        as provider-provider-ops system egress 1 --to egov --reference 备案-2026-01 || true
        say "gcctl system isolate 1 --reason 疑似入侵   (R-SC3: traffic stops, VMs keep running)"
        as provider-provider-ops system isolate 1 --reason 疑似入侵 --reference 事件-2026-01 >/dev/null
        for _ in $(seq 100); do
                as provider-provider-ops system network 1 --json | python3 -c 'import json,sys; n = json.load(sys.stdin)["network"]; sys.exit(0 if all(h["state"] == "ready" for h in n["hosts"]) else 1)' && break
                sleep 0.1
        done
        printf 'isolated on every host; g1 -> g2: '
        ip netns exec "$(nl_guest_ns g1)" ping -n -c 2 -i 0.2 -W 1 "${ga[2]}" | sed -n '/packets/p' || true
        say "gcctl system restore 1 --reason 排查完毕"
        as authority-authority system restore 1 --reason 排查完毕 --reference 事件-2026-01 >/dev/null
        for _ in $(seq 100); do
                as provider-provider-ops system network 1 --json | python3 -c 'import json,sys; n = json.load(sys.stdin)["network"]; sys.exit(0 if all(h["state"] == "ready" for h in n["hosts"]) else 1)' && break
                sleep 0.1
        done
        printf 'restored on every host; g1 -> g2: '
        ip netns exec "$(nl_guest_ns g1)" ping -n -c 3 -i 0.2 -W 1 "${ga[2]}" | sed -n '/packets/p'

        step "An operations tunnel (R-OP1..R-OP4): approved, 张三 only, one session, 5 minutes, audited"
        operator=$(awk -F'\t' '$1 == "operator" { print $2; exit }' pki/names.tsv)
        nl_tcp_serve "$(nl_guest_ns g1)" 0.0.0.0 7000 g1 || true
        python3 - "$top/scripts/samples/tunnel.json" tunnel.json "${gl[0]%% *}" "pki/tls/operator-$operator.crt" <<'PY'
import datetime, json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
doc["approval"]["time"] = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).replace(microsecond=0).isoformat()
doc["vm"], doc["port"], doc["minutes"] = sys.argv[3], 7000, 5
doc["operator"]["certificate"] = open(sys.argv[4], encoding="ascii").read()
json.dump(doc, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False, indent=2)
PY
        say "gcctl tunnel submit tunnel.json --sign approval-oa.key --token-out tunnel.token   (the approval system)"
        as approval-approval-oa tunnel submit tunnel.json --sign pki/sign/approval-approval-oa.key --token-out tunnel.token || true
        tid=$(as provider-provider-ops tunnel list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tunnels"][-1]["id"])')
        say "gcctl tunnel connect $tid --token-file tunnel.token --stdio   (张三, through the host's listener into g1:7000)"
        as "operator-$operator" tunnel connect "$tid" --token-file tunnel.token --stdio </dev/null || true
        say "the same token again: one opening, one session (R-OP2)"
        as "operator-$operator" tunnel connect "$tid" --token-file tunnel.token --stdio </dev/null || true
        for _ in $(seq 100); do
                [ "$(as provider-provider-ops tunnel show "$tid" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tunnel"]["state"])')" = closed ] && break
                sleep 0.1
        done
        say "gcctl tunnel show $tid   (the session record, R-OP3)"
        as provider-provider-ops tunnel show "$tid" || true
        say "gcctl audit list --json   (the tunnel's records)"
        as authority-authority audit list --limit 1000 --json | python3 -c '
import json, sys
for r in json.load(sys.stdin)["records"]:
    if r["object"] == "tunnel:" + sys.argv[1]:
        d = r["detail"]
        print(r["seq"], r["action"], r["rule"], r["actor"], d.get("reason", ""), d.get("bytes_in", ""), d.get("bytes_out", ""))' "$tid" || true
fi
step "The approval system retries the same approval: the existing request comes back"
as approval-approval-oa request submit apply.json --sign pki/sign/approval-approval-oa.key || true
submit "A classified system (R-RQ1)" apply-classified.json
submit "A VM name that breaks Baotou's naming rule (R-NM2)" apply-bad-name.json
submit "A valid apply in the Lu'an pool, with the names it chose" apply-luan.json
submit "Another system taking a name already used in that pool (R-NM2)" apply-duplicate-name.json
submit "A major change (12 new VMs) without re-review (R-RQ2, Lu'an's thresholds)" change-major.json
openssl genpkey -algorithm SM2 -out forged.key 2>/dev/null
submit "A forged signature: the right approval system's certificate, a key it never registered" apply-luan.json forged.key
submit "A replay: approval OA-2026-0001 again, with other content" apply-replay.json
submit "The wrong role: the tenant's certificate submitting a request" apply.json pki/sign/approval-approval-oa.key "tenant-$tenant"

submit "A change in the trial: 应用服务器1 grows to 8 vCPUs and 16 GiB, one 应用服务器 is added" change-resize-add.json
progress 1
wait_state 1 trial
submit "A second change in the same calendar month, without an exception (R-RQ3)" change-second.json

step "Labels changed behind the orchestrator's back (as virsh on the host would), then repaired (R-NM3)"
read -r vm_uuid vm_host < <(as authority-authority vm list --system 1 --json | python3 -c '
import json, sys
v = [v for v in json.load(sys.stdin)["vms"] if v["name"].endswith("应用服务器2")][0]
print(v["uuid"], v["host"])')
if [ "$hv" = qemu ]; then
        say "virsh desc gc-$vm_uuid --title --new-desc 临时测试机; virsh metadata gc-$vm_uuid ... (role 测试)   (on $vm_host)"
        lv_inst_virsh "$vm_host" desc "gc-$vm_uuid" --title --new-desc 临时测试机 --live --config >/dev/null
        lv_inst_virsh "$vm_host" metadata "gc-$vm_uuid" https://govcloud.example/xmlns/vm/1 --key gc --live --config \
                --set '<vm><unit>市xx局</unit><system>协同办公OA</system><role>测试</role><number>9</number><request>1</request><pool>包头-A</pool></vm>' >/dev/null
else
        cat >"relabel-$vm_host/drift.json" <<JSON
{ "uuid": "$vm_uuid", "title": "临时测试机", "labels": { "unit": "市xx局", "system": "协同办公OA", "role": "测试", "number": 9, "request": 1, "pool": "包头-A" } }
JSON
fi
echo "title of 市xx局协同办公OA应用服务器2 on $vm_host changed to 临时测试机"
for _ in $(seq 300); do
        n=$(as authority-authority audit list --limit 1000 --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["records"]
d = [x for x in r if x["action"] == "vm.drift"]
print(len(d) and len([x for x in r if x["action"] == "job.done" and x["seq"] > d[-1]["seq"]]) and 1 or 0)')
        [ "$n" = 1 ] && break
        sleep 0.1
done
as authority-authority audit list --limit 1000 --json | python3 -c '
import json, sys
for x in json.load(sys.stdin)["records"]:
    if x["action"] == "vm.drift":
        d = x["detail"]
        print("audit %d vm.drift (%s): %s found titled %s, role %s; expected role %s" % (x["seq"], x["rule"], d["vm"], d["found_title"], d["found"]["role"], d["expected"]["role"]))
    if x["action"] == "job.done" and x["seq"] > 0 and x["detail"].get("vm", "").endswith("应用服务器2"):
        last = "audit %d job.done: %s relabelled on %s" % (x["seq"], x["detail"]["vm"], x["detail"]["host"])
print(last)'

step "Twenty days of the trial pass on the test clock"
trial_day=$(( $(localday) ))
advance 20d
step "The trial's usage, from the provider's own monitoring (CSV), loaded with gcctl metrics import (R-LC2)"
usage_csv "$trial_day" "$trial_day" "$((trial_day + 19))" trial-usage.csv
echo "trial-usage.csv: $(($(wc -l <trial-usage.csv) - 1)) samples, hourly; the first lines:"
head -n 4 trial-usage.csv
say "gcctl metrics import trial-usage.csv"
as provider-provider-ops metrics import trial-usage.csv
say "gcctl metrics import trial-usage.csv   (again: the same batches are counted once)"
as provider-provider-ops metrics import trial-usage.csv

step "The rest of the month passes: the trials end (R-LC2; 政务公开's 30 days too)"
advance 11d
wait_state 1 awaiting_golive
wait_state "$small" awaiting_golive

step "Each party's own signing key (made here for the demo), registered by the authority"
for p in tenant provider authority; do
        openssl genpkey -algorithm SM2 -out "party-$p.key" 2>/dev/null
        openssl pkey -in "party-$p.key" -pubout -out "party-$p.pub" 2>/dev/null
done
say "gcctl key add --party tenant --unit 市xx局 --holder 李四 --public party-tenant.pub  (provider, authority alike)"
as authority-authority key add --party tenant --unit 市xx局 --holder 李四 --public party-tenant.pub >/dev/null
as authority-authority key add --party provider --holder 王工（云服务商运维） --public party-provider.pub >/dev/null
as authority-authority key add --party authority --holder 陈处长（数据资源管理局） --public party-authority.pub >/dev/null
as authority-authority key list

step "The go-live sheet (R-LC3), produced when the trial ended: RECOMMENDED is the trial's usage against the Baotou bands (R-LC2)"
as "tenant-$tenant" sheet list --system 1
sheet=$(as "tenant-$tenant" --json sheet list --system 1 |
        python3 -c 'import json, sys; print([s["id"] for s in json.load(sys.stdin)["sheets"] if s["kind"] == "golive"][0])')
say "gcctl sheet show $sheet"
as "tenant-$tenant" sheet show "$sheet"

step "The tenant signs with the provider's key: refused, and audited"
say "gcctl sheet sign $sheet --party tenant --key party-provider.key"
as "tenant-$tenant" sheet sign "$sheet" --party tenant --key party-provider.key || true

step "The tenant, the provider and the authority sign, each with its own key"
say "gcctl sheet sign $sheet --party tenant --key party-tenant.key"
as "tenant-$tenant" sheet sign "$sheet" --party tenant --key party-tenant.key
say "gcctl sheet sign $sheet --party provider --key party-provider.key"
as provider-provider-ops sheet sign "$sheet" --party provider --key party-provider.key
say "gcctl sheet sign $sheet --party authority --key party-authority.key"
as authority-authority sheet sign "$sheet" --party authority --key party-authority.key
wait_state 1 active

step "政务公开's go-live sheet, signed by the three parties alike"
small_golive=$(as "tenant-$tenant" --json sheet list --system "$small" |
        python3 -c 'import json, sys; print([s["id"] for s in json.load(sys.stdin)["sheets"] if s["kind"] == "golive"][0])')
for p in tenant provider authority; do
        who=authority-authority
        [ "$p" = tenant ] && who=tenant-$tenant
        [ "$p" = provider ] && who=provider-provider-ops
        say "gcctl sheet sign $small_golive --party $p --key party-$p.key"
        as "$who" sheet sign "$small_golive" --party "$p" --key "party-$p.key" | tail -n 1
done
wait_state "$small" active

step "Printed: the sheet's page (golive.html), and its PDF through headless Chromium"
as "tenant-$tenant" sheet html "$sheet" -o golive.html
if command -v chromium >/dev/null && command -v pdftotext >/dev/null; then
        timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
                --disable-component-update --disable-sync --no-pdf-header-footer \
                --user-data-dir="$work/chromium" --print-to-pdf="$work/golive.pdf" "file://$work/golive.html" >/dev/null 2>&1 || true
fi
if [ -s golive.pdf ]; then
        echo "golive.pdf ($(stat -c %s golive.pdf) bytes); its text:"
        pdftotext -layout golive.pdf - | awk 'NF && n++ < 40'
else
        echo "no PDF (chromium or poppler-utils missing); the page is $work/golive.html"
fi

step "Verified offline: with gcctl and the three public keys, then with the openssl command alone"
as provider-provider-ops sheet export "$sheet" -o golive.json --dir golive >/dev/null
say "gcctl sheet verify golive.json --trust party-tenant.pub --trust party-provider.pub --trust party-authority.pub"
"$gcctl" sheet verify golive.json --trust party-tenant.pub --trust party-provider.pub --trust party-authority.pub
say "cd golive && cat VERIFY.txt && bash VERIFY.txt"
(cd golive && cat VERIFY.txt && bash -e VERIFY.txt)

step "The audit chain's head: signed by the orchestrator, countersigned by the authority (R-AU3)"
as provider-provider-ops audit checkpoint >/dev/null
say "gcctl audit countersign --key party-authority.key"
as authority-authority audit countersign --key party-authority.key
say "gcctl audit verify"
as authority-authority audit verify | tail -n 4

step "The month goes on: its usage since the trial, imported; then the 1st of the next month on the test clock"
today=$(localday)
month_first=$(python3 -c 'import datetime, sys; print(int(sys.argv[1]) - datetime.date.fromordinal(719163 + int(sys.argv[1])).day + 1)' "$today")
from=$((trial_day + 20))
[ "$from" -ge "$month_first" ] || from=$month_first
usage_csv "$trial_day" "$from" "$((today - 1))" month-usage.csv
say "gcctl metrics import month-usage.csv"
as provider-provider-ops metrics import month-usage.csv
month=$(python3 -c 'import datetime, sys; print(datetime.date.fromordinal(719163 + int(sys.argv[1])).strftime("%Y-%m"))' "$today")
next_first=$(python3 -c 'import datetime, sys; d = datetime.date.fromordinal(719163 + int(sys.argv[1])); n = (d.replace(day=28) + datetime.timedelta(days=4)).replace(day=1); print(n.toordinal() - 719163)' "$today")
advance "$((next_first * 86400 - 8 * 3600 + 3600 - $(date +%s) - clock_offset))s"
for _ in $(seq 100); do
        [ -s "reports/$month/unit-1.html" ] && break
        sleep 0.1
done

step "The monthly timer's run for $month: each VM against the Baotou bands (R-RS1..R-RS6), idle flags (R-RS7)"
say "gcctl report monthly --unit 市xx局 --month $month"
as "tenant-$tenant" report monthly --unit 市xx局 --month "$month"
say "gcctl recommendations list --system 1 --period $month"
as provider-provider-ops recommendations list --system 1 --period "$month"

step "The report's files for every unit (R-RS7: due by the pack's day), and its page printed through headless Chromium"
ls -l "reports/$month/"
echo "reports/$month/unit-1.csv, the first lines:"
head -n 3 "reports/$month/unit-1.csv"
if command -v chromium >/dev/null && command -v pdftotext >/dev/null; then
        timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
                --disable-component-update --disable-sync --no-pdf-header-footer \
                --user-data-dir="$work/chromium" --print-to-pdf="$work/report-$month.pdf" "file://$work/reports/$month/unit-1.html" >/dev/null 2>&1 || true
fi
if [ -s "report-$month.pdf" ]; then
        echo "report-$month.pdf ($(stat -c %s "report-$month.pdf") bytes); its text:"
        pdftotext -layout "report-$month.pdf" - | awk 'NF && n++ < 30'
else
        echo "no PDF (chromium or poppler-utils missing); the page is $work/reports/$month/unit-1.html"
fi

step "The recommendations went to the approval system (rightsize.recommended, through the webhook): a change request to approve"
for _ in $(seq 100); do
        grep -l '"type":"rightsize.recommended"' events/*.json >/dev/null 2>&1 && break
        sleep 0.1
done
for f in $(grep -l '"type":"rightsize.recommended"' events/*.json 2>/dev/null); do
        python3 -c 'import json, sys; e = json.load(open(sys.argv[1], encoding="utf-8")); print(json.dumps({k: e[k] for k in ("type", "system", "period", "resize")}, ensure_ascii=False, indent=1))' "$f"
done

step "Every VM, per host, with its labels"
as provider-provider-ops vm list
if [ "$hv" = qemu ]; then
        step "And as each host's libvirtd sees them (after the change: 8 vCPUs and 16 GiB for 应用服务器1)"
        domains
fi

step "What the tenant sees: its own unit's systems, with their states"
as "tenant-$tenant" system list
step "System 1 in detail"
as "tenant-$tenant" system show 1

step "The audit chain: every acceptance and every refusal, attributed"
as authority-authority audit list --limit 200

step "Metrics (Prometheus text): requests by outcome, refusals by rule"
"${in_orch[@]}" curl -sS --cacert pki/ca.crt --cert pki/tls/provider-provider-ops.crt --key pki/tls/provider-provider-ops.key \
        "$GC_SERVER/metrics" | grep -E '^gc_(requests|refusals|access)' | grep -v ' 0$'

step "The events the webhook receiver got, each signed with the orchestrator's service key"
for _ in $(seq 100); do
        n=$(ls events/*.json 2>/dev/null | wc -l)
        [ "$n" -ge 16 ] && break
        sleep 0.1
done
for f in events/*.json; do
        sig=$(sed -n 's/^X-GC-Signature: sm2://p' "${f%.json}.headers")
        printf '%s' "$sig" | base64 -d >sig.der
        if openssl pkeyutl -verify -pubin -inkey pki/sign/orchestrator-gc-orchestrator.pub -rawin -in "$f" \
                -digest sm3 -pkeyopt distid:1234567812345678 -sigfile sig.der >/dev/null 2>&1; then v="signature ok"; else v="SIGNATURE BAD"; fi
        python3 - "$f" "$v" <<'PY'
import json, sys
e = json.load(open(sys.argv[1], encoding="utf-8"))
what = e.get("stage") and "%s -> %s" % (e.get("from"), e["stage"]) or \
       e.get("error") and "%s (%s) %s" % (e["error"].get("code"), e["error"].get("rule") or "-", e["error"].get("field")) or \
       e.get("resize") and "%s: %s" % (e.get("period"), ", ".join(sorted(r["name"] for r in e["resize"]))) or \
       ", ".join(e.get("vms", []))
print("%-6s %-16s %-28s %s  [%s]" % (e["id"], e["type"], e.get("approval", ""), what, sys.argv[2]))
PY
done

# ------------------------------------------------------------------------
# The exit (R-EX1..R-EX3, R-LC5): 政务公开, the small system in the
# Zhumadian pool (its two VMs on host-d, four 1 GiB volumes), leaves.
#   1. as root, a known pattern is written into its volumes (the files of
#      host-d's dir pool) and shown with od;
#   2. the approval system submits the tenant's exit (no_longer_needed);
#      the Zhumadian pack's 30-day grace period for migration passes on the
#      test clock;
#   3. the provider's reclaim before the tenant's statement is refused
#      (exit_not_allowed, R-EX3);
#   4. the tenant signs the statement, and the reclaim runs by itself:
#      vm.stop, vm.wipe (zero, full verification: the orchestrator's
#      reclaim.wipe_method, since the pack names no method; a certificate
#      per volume signed with host-d's wipe key, the "wipe" section of its
#      agent's config), vm.delete, the VPC removed and released, the exit
#      sheet; polled every second;
#   5. the exit sheet, signed by the three parties: reclaimed;
#   6. the sheet verified offline, one certificate with openssl alone;
#   7. the volumes are gone, and the audit chain holds the exit.
# The guests have no OS to answer vm.stop's ACPI power-off, so the agent
# would wait 30 s per VM before it destroys the domain; as
# tests/system/reclaim.sh does, a stand-in for each guest (virsh
# qemu-monitor-event POWERDOWN, then destroy) powers it off at once.
# On libvirt's test driver (no root) the volumes are no files: the agent
# refuses the wipe, and the exit stops there (step 4), with its problem.
exit_vms=()     # uuid host name, of 政务公开's VMs
exit_vols=()    # path uuid disk name, of their volumes (qemu only)
exit_poll() {   # exit_poll SYSTEM T0 SEQ: the reclaim's steps (audit records after SEQ) and wipes, every second
        local sid=$1 t0=$2 out step='' last='' lines prev='' problem seen=$3 deadline=$((SECONDS + 300))
        while :; do
                out=$(as provider-provider-ops system exit "$sid" 2>&1) || true
                step=$(sed -n 's/^exit: .*, step \([a-z_]*\).*/\1/p' <<<"$out")
                problem=$(sed -n 's/^exit: .*; STOPPED: //p' <<<"$out")
                if [ "$step" != "$last" ]; then
                        # Each step once, from the audit chain: a poll a second
                        # misses the quick ones (deleting, network).
                        while read -r seq what; do
                                printf '  [+%3ds] %s\n' $((SECONDS - t0)) "$what"
                                seen=$seq
                        done < <(as authority-authority audit list --limit 1000 --json | python3 -c '
import json, sys
sid, seen = sys.argv[1], int(sys.argv[2])
for r in json.load(sys.stdin)["records"]:
    d = r["detail"] or {}
    if r["seq"] <= seen or r["object"] != "system:" + sid:
        continue
    if r["action"] == "reclaim.step":
        print(r["seq"], "step %-9s (audit %d reclaim.step, %s)" % (d["step"], r["seq"], r["time"]))
    elif r["action"] == "system.stage":
        print(r["seq"], "system %s -> %s (audit %d system.stage)" % (d.get("from"), d.get("to"), r["seq"]))' "$sid" "$seen")
                        last=$step
                fi
                # the volumes' lines (VM DISK PHASE PERCENT DONE RATE CERTIFIED), when they change
                lines=$(awk '/ PHASE /{ v = 1; next } v && /^  / && !/exit sheet/' <<<"$out")
                if [ -n "$lines" ] && [ "$lines" != "$prev" ]; then
                        [ -n "$prev" ] || awk '/ PHASE /' <<<"$out" | sed 's/^/           /'
                        printf '  [+%3ds]\n' $((SECONDS - t0))
                        sed 's/^/         /' <<<"$lines"
                        prev=$lines
                fi
                if [ -n "$problem" ]; then
                        printf '  [+%3ds] STOPPED at step %s: %s\n' $((SECONDS - t0)) "$step" "$problem"
                        return 1
                fi
                case $step in sheet | done) return 0 ;; esac
                [ $SECONDS -lt $deadline ] || { echo "  (no exit sheet within 300 s)"; return 1; }
                sleep 1
        done
}
audit_head() { as authority-authority audit list --limit 1000 --json | python3 -c 'import json,sys; print(max(r["seq"] for r in json.load(sys.stdin)["records"]))'; }
demo_exit() {
        local sid=$small t0 u h name dev src path disk line xsheet p who mark exit_mark fill_pids=() pids_guest=() fill_ok=0
        local -a exit_uuids=()
        mapfile -t exit_vms < <(as authority-authority vm list --system "$sid" --json | python3 -c '
import json, sys
for v in json.load(sys.stdin)["vms"]:
    if v["state"] != "deleted":
        print(v["uuid"], v["host"], v["name"])')
        for line in "${exit_vms[@]}"; do exit_uuids+=("${line%% *}"); done

        if [ "$hv" = qemu ]; then
                step "Exit 1/7: a known pattern written into 政务公开's volumes (as root: the files of host-d's dir pool)"
                for line in "${exit_vms[@]}"; do
                        read -r u h name <<<"$line"
                        say "virsh domblklist gc-$u --details   ($name on $h)"
                        lv_inst_virsh "$h" domblklist "gc-$u" --details | sed '/^$/d; s/^/  /'
                        while read -r dev src; do
                                path=$src
                                case $path in /*) ;; *) path=$(lv_inst_virsh "$h" vol-path --pool demo-pool "$src") ;; esac
                                disk=${path##*-} disk=${disk%.img}
                                exit_vols+=("$path $u $disk $name")
                        done < <(lv_inst_virsh "$h" domblklist "gc-$u" --details | awk '$2 == "disk" { print $3, $4 }')
                done
                say "every 512-byte sector of each volume: \"GCDEMO <vm>/<disk> \" padded with '#'"
                for line in "${exit_vols[@]}"; do
                        read -r path u disk name <<<"$line"
                        python3 - "$path" "$name/$disk" <<'PY' &
import os, sys
path, tag = sys.argv[1], sys.argv[2].encode()
chunk = ("GCDEMO ".encode() + tag + b" ").ljust(512, b"#") * 2048       # 1 MiB
size = os.stat(path).st_size
fd = os.open(path, os.O_WRONLY)
for off in range(0, size, len(chunk)):
    os.pwrite(fd, chunk[:size - off], off)
os.fsync(fd)
os.close(fd)
PY
                        fill_pids+=($!)
                done
                for p in "${fill_pids[@]}"; do wait "$p" || fill_ok=1; done
                [ "$fill_ok" = 0 ] || echo "(a volume could not be filled)"
                for line in "${exit_vols[@]}"; do
                        read -r path u disk name <<<"$line"
                        say "od -A d -c -N 48 ${path##*/}   ($name, $disk: $(($(stat -c '%b * %B' "$path") >> 20)) MiB written of $(($(stat -c %s "$path") >> 20)) MiB)"
                        od -A d -c -N 48 "$path"
                done
        else
                step "Exit 1/7: no pattern: on libvirt's test driver 政务公开's volumes are not files"
        fi

        step "Exit 2/7: the approval system submits 政务公开's exit (the tenant's, no_longer_needed); the pack's 30-day grace"
        exit_mark=$(audit_head)
        python3 - "$top/scripts/samples/exit.json" exit-small.json <<'PY'
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
doc["approval"]["id"] = "OA-2026-0231"
doc["system"]["name"] = "政务公开"
doc["reason"] = "政务公开栏目并入市政府门户网站，本系统停止使用"
doc.pop("planned_date", None)
json.dump(doc, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False, indent=2)
PY
        stamp exit-small.json exit-small.json
        say "gcctl request submit exit-small.json --sign approval-oa.key"
        as approval-approval-oa request submit exit-small.json --sign pki/sign/approval-approval-oa.key
        wait_state "$sid" exit_requested
        say "gcctl system exit $sid   (the VMs still run; the statement awaits the tenant's signature)"
        as provider-provider-ops system exit "$sid"
        say "gcctl clock advance 31d   (the migration grace period passes on the test clock)"
        advance 31d
        for _ in $(seq 100); do
                case $(as provider-provider-ops system exit "$sid") in *"(over)"*) break ;; esac
                sleep 0.1
        done
        say "gcctl system exit $sid"
        as provider-provider-ops system exit "$sid"
        as authority-authority audit list --limit 1000 --json | python3 -c '
import json, sys
for r in json.load(sys.stdin)["records"]:
    if r["action"] == "exit.grace_ended" and r["object"] == "system:" + sys.argv[1]:
        print("audit %d %s %s (%s)" % (r["seq"], r["time"], r["action"], r["rule"]))' "$sid"

        step "Exit 3/7: the provider reclaims before the tenant's statement: refused (R-EX3)"
        say "gcctl system reclaim $sid --reason 提前回收资源"
        as provider-provider-ops system reclaim "$sid" --reason 提前回收资源 || true
        echo "system $sid is $(system_state "$sid")"

        step "Exit 4/7: the tenant signs the exit statement; the reclaim runs by itself (polled every second)"
        if [ "$hv" = qemu ]; then
                for line in "${exit_vms[@]}"; do
                        read -r u h name <<<"$line"
                        (
                                if lv_inst_virsh "$h" qemu-monitor-event --domain "gc-$u" --event POWERDOWN --timeout 120 >"guest-$u.event" 2>&1 &&
                                        grep -q POWERDOWN "guest-$u.event"; then
                                        lv_inst_virsh "$h" destroy "gc-$u" >>"guest-$u.event" 2>&1
                                fi
                        ) &
                        pids_guest+=($!)
                done
                pids+=("${pids_guest[@]}")
                echo "(a stand-in for each guest OS powers its VM off when the ACPI power-off comes)"
                sleep 1.5       # the stand-ins are listening
        fi
        mark=$(audit_head)
        say "gcctl system exit-statement $sid --key party-tenant.key   (the tenant)"
        as "tenant-$tenant" system exit-statement "$sid" --key party-tenant.key | sed -n '1,3p'
        t0=$SECONDS
        if ! exit_poll "$sid" "$t0" "$mark"; then
                say "gcctl system exit $sid"
                as provider-provider-ops system exit "$sid" || true
                if [ "$hv" != qemu ]; then
                        echo "On libvirt's test driver the volumes are not files that a wipe could write: the agent"
                        echo "refuses the wipe and the reclaim stops at that step (as root, with each host's own libvirtd"
                        echo "and qemu, it goes on: the volumes are wiped and certified, and the exit sheet is signed)."
                fi
                return 0
        fi
        say "gcctl system exit $sid"
        as provider-provider-ops system exit "$sid"

        step "Exit 5/7: the exit sheet (R-LC5): released VMs, each volume with its certificate, the network; three signatures"
        xsheet=$(as "tenant-$tenant" --json sheet list --system "$sid" |
                python3 -c 'import json, sys; print([s["id"] for s in json.load(sys.stdin)["sheets"] if s["kind"] == "exit"][0])')
        say "gcctl sheet show $xsheet"
        as "tenant-$tenant" sheet show "$xsheet"
        for p in tenant provider authority; do
                who=authority-authority
                [ "$p" = tenant ] && who=tenant-$tenant
                [ "$p" = provider ] && who=provider-provider-ops
                say "gcctl sheet sign $xsheet --party $p --key party-$p.key"
                as "$who" sheet sign "$xsheet" --party "$p" --key "party-$p.key"
        done
        wait_state "$sid" reclaimed
        say "gcctl system list   (the tenant)"
        as "tenant-$tenant" system list

        step "Exit 6/7: verified offline: the exit sheet with gcctl, then a wipe certificate with openssl alone"
        as provider-provider-ops sheet export "$xsheet" -o exit-sheet.json --dir exit-sheet >/dev/null
        say "gcctl sheet verify exit-sheet.json --trust party-tenant.pub --trust party-provider.pub --trust party-authority.pub"
        "$gcctl" sheet verify exit-sheet.json --trust party-tenant.pub --trust party-provider.pub --trust party-authority.pub
        say "cd exit-sheet && bash VERIFY.txt"
        (cd exit-sheet && bash -e VERIFY.txt)
        # One volume's certificate: its bytes are the certificate without
        # "signature", canonical (RFC 8785; for what a certificate holds,
        # json.dumps with sorted keys and no spaces gives the same bytes).
        as provider-provider-ops --json sheet show "$xsheet" >exit-sheet-show.json
        python3 - exit-sheet-show.json cert <<'PY'
import base64, json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
sheet = d.get("sheet", d)
doc = sheet.get("document", sheet)
vm = doc["released"]["vms"][0]
vol = vm["volumes"][0]
cert = dict(vol["certificate"])
sig = cert.pop("signature")
open(sys.argv[2] + ".json", "w", encoding="utf-8", newline="").write(
    json.dumps(cert, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
open(sys.argv[2] + ".sig", "wb").write(base64.b64decode(sig["value"]))
v, s, ver = cert.get("volume", {}), cert.get("sanitization", {}), cert.get("verification", {})
print("certificate of %s's %s volume: %s, %d bytes; %s, %s; verification %s: %s; signed %s" % (
    vm["name"], vol["disk"], v.get("path"), v.get("size", 0), s.get("method"), s.get("category"),
    ver.get("method"), ver.get("result"), sig.get("key_type")))
PY
        say "openssl pkeyutl -verify -pubin -inkey pki/sign/host-host-d.pub -rawin -in cert.json -digest sm3 -pkeyopt distid:1234567812345678 -sigfile cert.sig"
        openssl pkeyutl -verify -pubin -inkey pki/sign/host-host-d.pub -rawin -in cert.json -digest sm3 \
                -pkeyopt distid:1234567812345678 -sigfile cert.sig || true
        say "the same with one byte of the certificate changed"
        sed 's/"size":\([0-9]*\)/"size":1\1/' cert.json >cert-changed.json
        openssl pkeyutl -verify -pubin -inkey pki/sign/host-host-d.pub -rawin -in cert-changed.json -digest sm3 \
                -pkeyopt distid:1234567812345678 -sigfile cert.sig 2>&1 | head -n 1 || true

        step "Exit 7/7: the volumes are gone, and the audit chain holds the exit"
        if [ "$hv" = qemu ]; then
                say "virsh vol-list demo-pool   (host-d)"
                lv_inst_virsh host-d vol-list demo-pool | sed '/^$/d' | grep . || echo "  (no volumes)"
                for line in "${exit_vols[@]}"; do
                        read -r path u disk name <<<"$line"
                        if [ -e "$path" ]; then echo "  $name $disk: STILL THERE ($path)"; else echo "  $name $disk: gone (${path##*/})"; fi
                done
                say "virsh list --all   (host-d)"
                lv_inst_virsh host-d list --all | sed '/^$/d' | grep . || echo "  (no domains)"
        fi
        say "gcctl audit list --json   (the exit of system $sid, from its request on)"
        as authority-authority audit list --limit 1000 --json | python3 -c '
import json, sys
sid, since, xsheet, uuids = int(sys.argv[1]), int(sys.argv[2]), "sheet:" + sys.argv[3], sys.argv[4:]
for r in json.load(sys.stdin)["records"]:
    d, a = r["detail"] or {}, r["action"]
    # vm.stop and vm.delete records name the VM (uuid), not the system
    if r["seq"] <= since or not (r["object"] in ("system:%d" % sid, xsheet) or d.get("system") == sid or d.get("uuid") in uuids
                                 or a == "clock.advanced"):
        continue
    what = ""
    if a == "clock.advanced":
        what = "+%d days" % (d.get("advance_seconds", 0) // 86400)
    elif a == "request.accepted":
        what = "%s: %s -> %s" % (d.get("kind"), d.get("from"), d.get("to"))
    elif a == "reclaim.step":
        what = d.get("step", "")
    elif a in ("job.done", "job.failed"):
        what = "%s %s" % (d.get("kind"), " on ".join(x for x in (d.get("vm"), d.get("host")) if x))
        if d.get("volumes"):
            what += ": " + ", ".join("%s %s %s %s" % (v["disk"], v["method"], v["category"], v["verification"]) for v in d["volumes"])
        if d.get("error"):
            what += ": " + d["error"]
    elif a == "reclaim.released":
        what = "%s VMs, VNI %s, %s, %s" % (d.get("vms"), d.get("vni"), d.get("cidr"), " ".join(d.get("addresses") or []))
    elif a in ("reclaim.refused", "reclaim.stopped"):
        what = "%s%s" % (d.get("code", ""), ": " + d["problem"] if d.get("problem") else "")
    elif a == "system.stage":
        what = "%s -> %s" % (d.get("from"), d.get("to"))
    elif a == "sheet.signed":
        what = "%s (%s)" % (d.get("party", ""), d.get("holder", ""))
    elif a == "exit.statement_signed":
        what = d.get("holder", "")
    print("%-5d %s  %-22s %-6s %s" % (r["seq"], r["time"], a, r["rule"] or "-", what))' "$sid" "$exit_mark" "$xsheet" "${exit_uuids[@]}"
        echo "exit: $((SECONDS - t0)) s from the tenant's statement to reclaimed and checked"
}
# ------------------------------------------------------------------------
demo_exit

step "Done"
echo "Every refusal above added one audit record and changed nothing else; the accepted requests,"
echo "their VMs and transitions are in $work/orchestrator.db (SQLite, WAL)."
