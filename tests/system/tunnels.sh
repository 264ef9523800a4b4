#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Operations tunnels end to end (R-OP1..R-OP4): gc-orchestrator in its own
# namespace on the test's underlay (192.0.2.100), two real gc-agents in
# simulated hosts' namespaces (lib-netns.sh), an operator's workstation
# namespace on the underlay (192.0.2.50) where gcctl and ssh run, and the
# VMs of one system played by guest namespaces on the VPC bridges with the
# MAC and address the orchestrator assigned. One guest runs a real sshd on
# its own configuration in the run's directory, every guest a TCP echo
# server on port 7001. Shows:
#
#   0. R-OP4: before any tunnel, nothing listens in a host's namespace; an
#      approved tunnel opens exactly its own listener on the host's
#      operations address
#   1. R-OP2: 4 MiB of random bytes go through a tunnel to the echo port
#      and come back intact (SHA-256 both ways)
#   2. R-OP1: a real ssh client, its transport gcctl tunnel connect
#      --stdio, logs in with the user key and runs a command in the guest
#   3. R-OP2 single use: a second connection while the session is live is
#      refused (in_use); the token again after the session is refused; a
#      wrong token is refused (wrong_token) and the tunnel still works
#      afterwards; 李四's certificate with 张三's tunnel and token is
#      refused (wrong_operator)
#   4. R-OP1 time box: a session carrying data is cut at the deadline
#      (no earlier than deadline - 2 s, no later than deadline + 15 s)
#   5. R-OP1: the same with the orchestrator stopped before the deadline;
#      once it runs again the session's record arrives
#   6. R-OP2: kill -9 of an agent holding a live unused tunnel: restarted,
#      it listens again on the same port and the tunnel works before its
#      deadline; an agent down over a tunnel's deadline never listens for
#      it again (expired_unused)
#   7. R-OP3: per tunnel the audit chain holds tunnel.accepted,
#      tunnel.listening, one tunnel.connection_refused per refusal with its
#      reason, tunnel.session_opened and tunnel.closed with the operator,
#      approval, VM, address, port, times, reason and the bytes each way
#      (checked against what was sent); gcctl audit verify passes over the
#      live chain
#   8. R-OP1, R-OP2 at intake: minutes over the platform's limit (60) is
#      refused unless the security authority approved it; a missing unit
#      approval, an operator certificate of another name and an identity
#      card number with a wrong check digit are refused; each refusal is
#      one audit record (request.refused) and changes nothing else
#
# The deadline tunnels run side by side; timing checks have wide margins and
# nothing asserts speed.
#
# Environment (set by meson): GC_SRCDIR, GC_BUILDDIR; GC_AGENT overrides
# $GC_BUILDDIR/agent/gc-agent. GC_KEEP_TMP=1 keeps the run's directories.
# shellcheck disable=SC2016  # the bash -c programs take their values as arguments
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-netns.sh
. "$HERE/lib-netns.sh"

why=$(nl_usable) || {
	printf '1..0 # SKIP %s\n' "$why"
	exit 77
}
for tool in /usr/sbin/sshd ssh ssh-keygen socat ss; do
	command -v "$tool" >/dev/null || {
		printf '1..0 # SKIP %s is not installed (scripts/install-deps.sh)\n' "$tool"
		exit 77
	}
done

: "${GC_SRCDIR:?GC_SRCDIR must name the source tree}"
: "${GC_BUILDDIR:?GC_BUILDDIR must name the build tree}"
# shellcheck source=tests/integration/lib.sh
. "$GC_SRCDIR/tests/integration/lib.sh"

AGENT_BIN=${GC_AGENT:-$GC_BUILDDIR/agent/gc-agent}
GCCTL_BIN=${GCCTL:-$GC_BUILDDIR/cli/gcctl}
[[ -x $AGENT_BIN ]] || bail "$AGENT_BIN is not built"
[[ -x $GCCTL_BIN ]] || bail "$GCCTL_BIN is not built"

HOSTS=2
ORCH_ADDR=192.0.2.100
ORCH_PORT=7443                  # fixed: the agents find it again after a restart
OPS_ADDR=192.0.2.50
POOL=包头-A
UNIT=市xx局
SYSNAME=协同办公OA
ECHO_PORT=7001
MAX_MINUTES=60
ID_ZHANG=110101199003070011     # a valid GB 11643 check digit
declare -A AGENT_PID=()

exec 9>&1
_tun_cleanup() {
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
trap _tun_cleanup EXIT
bail() {
	exec 1>&9 2>&1
	fail "$*"
	printf 'Bail out! %s\n' "$*"
	exit 1
}

# The operator's side: a client of gcctl tunnel connect (--stdio, or
# --listen and one local connection), and a raw gc-tunnel/1 client.
cat >"$T/tclient.py" <<'EOF'
import hashlib, json, os, re, socket, ssl, subprocess, sys, threading, time

def now_ms():
    return int(time.time() * 1000)

class Conn:
    """gcctl tunnel connect CMD: its standard streams with --stdio, else
    the local port it prints ("listening on 127.0.0.1:PORT")."""
    def __init__(self, cmd, out):
        self.err = open(out + ".stderr", "wb")
        self.stdio = "--stdio" in cmd
        if self.stdio:
            self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, bufsize=0)
            return
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        timer = threading.Timer(60, self.p.kill)
        timer.start()
        port = None
        while True:
            line = self.p.stderr.readline()
            if not line:
                break
            self.err.write(line)
            self.err.flush()
            m = re.search(rb"listening on 127\.0\.0\.1:([0-9]+)", line)
            if m:
                port = int(m.group(1))
                break
        timer.cancel()
        threading.Thread(target=self.drain, daemon=True).start()
        if port is None:
            raise OSError("gcctl printed no local port")
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s.settimeout(None)

    def drain(self):
        for line in self.p.stderr:
            self.err.write(line)
            self.err.flush()

    def send(self, b):
        if self.stdio:
            view = memoryview(b)
            while view:
                n = self.p.stdin.write(view)
                view = view[n:]
        else:
            self.s.sendall(b)

    def shut(self):
        if self.stdio:
            self.p.stdin.close()
        else:
            self.s.shutdown(socket.SHUT_WR)

    def recv(self):
        if self.stdio:
            return os.read(self.p.stdout.fileno(), 65536)
        return self.s.recv(65536)

    def abort(self):
        self.p.kill()
        if not self.stdio:
            try:
                self.s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wait(self, seconds):
        try:
            return self.p.wait(seconds)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return "timeout"

def echo(out, opts, cmd):
    """N random bytes out, everything back, SHA-256 of both; with --hold,
    once all came back: OUT.echoed, then wait for OUT.release."""
    n, hold = int(opts[0]), "--hold" in opts
    res = {"sent": 0, "received": 0}
    try:
        c = Conn(cmd, out)
    except OSError as e:
        res.update(error=str(e))
        json.dump(res, open(out, "w"))
        return
    hin, hout = hashlib.sha256(), hashlib.sha256()
    echoed = threading.Event()
    def reader():
        while True:
            try:
                b = c.recv()
            except OSError as e:
                res["recv_error"] = str(e)
                break
            if not b:
                break
            hout.update(b)
            res["received"] += len(b)
            if res["received"] >= n:
                echoed.set()
        echoed.set()
    t = threading.Thread(target=reader)
    t.start()
    data = os.urandom(n)
    hin.update(data)
    try:
        for i in range(0, n, 65536):
            c.send(data[i:i + 65536])
            res["sent"] += len(data[i:i + 65536])
        if hold:
            echoed.wait(120)
            open(out + ".echoed", "w").close()
            for _ in range(1200):
                if os.path.exists(out + ".release"):
                    break
                time.sleep(0.1)
        c.shut()
    except (OSError, ValueError) as e:
        res["send_error"] = str(e)
    t.join(120)
    if t.is_alive():
        c.abort()
        t.join(10)
    res.update(sha_sent=hin.hexdigest(), sha_received=hout.hexdigest(), rc=c.wait(60))
    json.dump(res, open(out, "w"))

def stream(out, opts, cmd):
    """1 KiB every 50 ms until the tunnel is cut (at most MAX seconds):
    when the cut came, the last echo before it, bytes each way."""
    limit = float(opts[0])
    res = {"sent": 0, "received": 0, "first_rx_ms": None, "last_rx_ms": None, "start_ms": now_ms()}
    try:
        c = Conn(cmd, out)
    except OSError as e:
        res.update(error=str(e))
        json.dump(res, open(out, "w"))
        return
    stop = threading.Event()
    def writer():
        chunk = os.urandom(1024)
        while not stop.is_set():
            try:
                c.send(chunk)
            except (OSError, ValueError):
                break
            res["sent"] += len(chunk)
            time.sleep(0.05)
    threading.Thread(target=writer, daemon=True).start()
    timer = threading.Timer(limit, lambda: (res.update(gave_up=True), c.abort()))
    timer.start()
    while True:
        try:
            b = c.recv()
        except OSError as e:
            res["recv_error"] = str(e)
            break
        if not b:
            break
        res["received"] += len(b)
        res["last_rx_ms"] = now_ms()
        if res["first_rx_ms"] is None:
            res["first_rx_ms"] = res["last_rx_ms"]
            open(out + ".flowing", "w").close()
    res["cut_ms"] = now_ms()
    timer.cancel()
    stop.set()
    res["rc"] = c.wait(30)
    json.dump(res, open(out, "w"))

def raw(a):
    """gc-tunnel/1 by hand: HOST PORT CERT KEY CA TUNNEL TOKEN; prints the
    agent's certificate subject and its answer line."""
    host, port, cert, key, ca, tunnel, token = a
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=15))
    subject = dict(x[0] for x in s.getpeercert()["subject"])
    line = json.dumps({"protocol": "gc-tunnel/1", "tunnel": int(tunnel), "token": token}) + "\n"
    s.sendall(line.encode())
    buf = b""
    while b"\n" not in buf and len(buf) < 1024:
        b = s.recv(1024)
        if not b:
            break
        buf += b
    print(json.dumps({"subject": subject, "answer": json.loads(buf.split(b"\n")[0] or b"null")}, ensure_ascii=False))

def main():
    mode = sys.argv[1]
    if mode == "raw":
        return raw(sys.argv[2:])
    i = sys.argv.index("--")
    out, opts, cmd = sys.argv[2], sys.argv[3:i], sys.argv[i + 1:]
    {"echo": echo, "stream": stream}[mode](out, opts, cmd)

main()
EOF

# ---------------------------------------------------------------- setup ---

nl_init
nl_topology "$HOSTS" || bail "cannot build the test topology"
ORCH_NS=$(nl_underlay_ns_add orch "$ORCH_ADDR/24") || bail "cannot add the orchestrator's namespace"
OPS_NS=$(nl_underlay_ns_add ops "$OPS_ADDR/24") || bail "cannot add the operator's namespace"
IN_NS=(nsenter "--net=/run/netns/$ORCH_NS")
OPS=(nsenter "--net=/run/netns/$OPS_NS")
note "run $NL_RUN: hosts $(nl_host_ns 1)..$(nl_host_ns $HOSTS), orchestrator in $ORCH_NS at $ORCH_ADDR, operator in $OPS_NS at $OPS_ADDR"

make_pki --host host-1 --host host-2 --server-name "$ORCH_ADDR" --operator 张三 --operator 李四
who_files operator=张三
ZHANG_CERT=$CERT
who_files operator=李四
LI_CERT=$CERT LI_KEY=$KEY
ZHANG_SHA=$(openssl x509 -in "$ZHANG_CERT" -outform DER | sha256sum | cut -d' ' -f1)
write_config '' "$(
	cat <<EOF
{"listen": "$ORCH_ADDR:$ORCH_PORT",
 "pools": [{"name": "$POOL", "arch": ["x86"], "address_ranges": ["10.60.0.0/28"]}],
 "network": {"vni_first": 5000, "vni_last": 5099},
 "tunnels": {"max_minutes": $MAX_MINUTES}}
EOF
)"
orch_start
pass "gc-orchestrator answers on $URL inside $ORCH_NS"

register_unit "$UNIT"
register_system "$UNIT" "$SYSNAME"
SYSID=$LAST_ID
record_agreement "$SYSID"
register_approval_system approval-oa "$(sign_pub approval)"

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
    "protected": ["192.0.2.0/24"],
    "state": "$T/vpcs-$i.json"
  },
  "tunnels": {"state": "$T/tunnels-$i.json"}
}
EOF
}
agent_start() {
	local i=$1
	shift
	printf -- '--- start %s %s\n' "$(date -u +%FT%TZ)" "$*" >>"$T/agent-$i.log"
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
	LOGS[host-$i]=$T/agent-$i.log
	agent_start "$i"
done
check "both agents, each in its host's namespace, say hello to the orchestrator" poll 60 hosts_up
hosts_up || bail "the agents are not up"

sign "$SAMPLES/apply.json" "$T/apply.json" --set=approval.id=OA-TUN-0001 --set=system.name="$SYSNAME" --set=pool="$POOL"
submit "$T/apply.json"
want 201 >"$T/apply.err" || bail "apply: $(cat "$T/apply.err")"
check "the system reaches trial: its VPC is built and its three VMs run" poll 90 system_is "$SYSID" trial
system_is "$SYSID" trial || bail "the system is not in trial"
network_get "$SYSID"
NET=$T/net-$SYSID.json

# Guest namespaces: one per VM, on its host's bridge with its MAC and
# address, each with a TCP echo server. VMNAME/VMADDR/VMHOST by guest tag.
declare -A VMNAME=() VMADDR=() VMHOST=() VMGNS=()
X=$(jget "$NET" '"%06x" % d["network"]["vni"]')
PREFIXLEN=$(jget "$NET" 'd["network"]["cidr"].split("/")[1]')
GW=$(jget "$NET" 'd["network"]["gateway"]')
n=0
while IFS=$'\t' read -r name host addr mac; do
	n=$((n + 1))
	i=${host#host-}
	nl_guest_add "vm$n" "$i" "$(nl_host_prefix "$i")b$X" "$mac" "$addr/$PREFIXLEN" "$GW" ||
		bail "cannot attach the guest of $name to host $i's bridge"
	VMNAME[vm$n]=$name VMADDR[vm$n]=$addr VMHOST[vm$n]=$i VMGNS[vm$n]=$(nl_guest_ns "vm$n")
	ip netns exec "${VMGNS[vm$n]}" socat -T 600 -t 30 "TCP-LISTEN:$ECHO_PORT,bind=$addr,fork,reuseaddr" EXEC:cat \
		>>"$T/echo-vm$n.log" 2>&1 &
	NL_PIDS+=($!)
	note "guest vm$n: $name on host-$i, $addr $mac"
done < <(jget "$NET" '"\n".join("\t".join([v["name"], v["host"], v["address"], v["mac"]]) for v in d["network"]["vms"] if v["state"] != "deleted")')
[[ $n -ge 2 ]] || bail "the system has $n VMs"
# listening NS PORT [ADDR]: a TCP listener on PORT in namespace NS.
listening() {
	nsenter "--net=/run/netns/$1" ss -Hltn "sport = :$2" | grep -q "${3:-}"
}
for g in "${!VMGNS[@]}"; do
	poll 10 listening "${VMGNS[$g]}" "$ECHO_PORT" || bail "no echo server in guest $g"
done

# X: the host of the most VMs (the sessions, ssh, the orchestrator stop);
# Y: another (its agent is killed). XVM/XVM2/YVM are guests on them.
XH='' YH='' XVM='' XVM2='' YVM='' XC=0
for g in $(printf '%s\n' "${!VMHOST[@]}" | sort); do
	h=${VMHOST[$g]}
	c=0
	for k in "${!VMHOST[@]}"; do if [[ ${VMHOST[$k]} == "$h" ]]; then c=$((c + 1)); fi; done
	if [[ -z $XH || $c -gt $XC ]]; then XH=$h XC=$c; fi
done
for g in $(printf '%s\n' "${!VMHOST[@]}" | sort); do
	if [[ ${VMHOST[$g]} == "$XH" ]]; then
		if [[ -z $XVM ]]; then XVM=$g; elif [[ -z $XVM2 ]]; then XVM2=$g; fi
	elif [[ -z $YVM ]]; then
		YVM=$g YH=${VMHOST[$g]}
	fi
done
[[ -n $YVM ]] || bail "the system's VMs are all on host-$XH"
XVM2=${XVM2:-$XVM}
note "host X = host-$XH ($XVM, $XVM2), host Y = host-$YH ($YVM)"

# A real sshd in XVM's guest: its own keys, configuration and pid file in
# the run's directory; the machine's /etc/ssh is not read.
SSHD=$T/ssh
mkdir -m 700 "$SSHD"
ssh-keygen -q -t ed25519 -N '' -C gc-test-host -f "$SSHD/host_key"
ssh-keygen -q -t ed25519 -N '' -C gc-test-user -f "$SSHD/user_key"
cp "$SSHD/user_key.pub" "$SSHD/authorized_keys"
printf 'gc-vm %s\n' "$(cut -d' ' -f1,2 "$SSHD/host_key.pub")" >"$SSHD/known_hosts"
cat >"$SSHD/sshd_config" <<EOF
ListenAddress ${VMADDR[$XVM]}:22
HostKey $SSHD/host_key
PidFile $SSHD/sshd.pid
AuthorizedKeysFile $SSHD/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
LogLevel VERBOSE
EOF
[[ -d /run/sshd ]] || install -d -m 755 /run/sshd    # sshd's privilege separation directory
/usr/sbin/sshd -t -f "$SSHD/sshd_config" >"$T/sshd-t.out" 2>&1 || bail "sshd -t: $(cat "$T/sshd-t.out")"
ip netns exec "${VMGNS[$XVM]}" /usr/sbin/sshd -D -e -f "$SSHD/sshd_config" >>"$T/sshd.log" 2>&1 &
NL_PIDS+=($!)
LOGS[sshd]=$T/sshd.log
poll 10 listening "${VMGNS[$XVM]}" 22 || bail "sshd does not listen in guest $XVM"

# ------------------------------------------------------------- helpers ---

# tunnel_doc TAG GUEST PORT MINUTES [sign-openssl.py OPTION]...: a signed
# tunnel request for 张三 in $T/tunnel-TAG.json (approval id OA-TUN-TAG).
tunnel_doc() {
	local tag=$1 g=$2 port=$3 minutes=$4
	shift 4
	sign "$SAMPLES/tunnel.json" "$T/tunnel-$tag.json" --set=approval.id="OA-TUN-$tag" --set=unit="$UNIT" \
		--set=system.name="$SYSNAME" --set=vm="${VMNAME[$g]}" --set-json=port="$port" --set-json=minutes="$minutes" \
		--set=operator.name=张三 --set=operator.id_number="$ID_ZHANG" --set=operator.certificate="$(cat "$ZHANG_CERT")" "$@"
}
# tunnel_new TAG GUEST PORT MINUTES [OPTION]...: the request POSTed by the
# approval system; TUN[TAG] is the id, the token is in $T/token-TAG.
declare -A TUN=() GUEST_OF=()
tunnel_new() {
	local tag=$1
	tunnel_doc "$@"
	api approval POST /v1/tunnels "@$T/tunnel-$tag.json"
	cp "$BODY" "$T/post-$tag.json"
	want 201 >"$T/post.err" || bail "POST /v1/tunnels ($tag): $(cat "$T/post.err")"
	TUN[$tag]=$(jget "$T/post-$tag.json" 'd["tunnel"]["id"]')
	(umask 077 && jget "$T/post-$tag.json" 'd["token"]' >"$T/token-$tag")
	GUEST_OF[$tag]=$2
	note "tunnel $tag = ${TUN[$tag]}: ${VMNAME[$2]} (${VMADDR[$2]}) port $3 for $4 minute(s)"
}
# tget TAG [WHO]: GET /v1/tunnels/ID into $T/tun-TAG.json; tv TAG EXPR.
tget() {
	api "${2:-provider}" GET "/v1/tunnels/${TUN[$1]}"
	want 200 >"$T/tget.err" || { cat "$T/tget.err"; return 1; }
	cp "$BODY" "$T/tun-$1.json"
}
tv() { jget "$T/tun-$1.json" "d[\"tunnel\"]$2"; }
tunnel_is() { tget "$1" >/dev/null && [[ $(tv "$1" '["state"]') == "$2" ]]; }
# connect TAG [--token-file F] [--as OPERATOR] MODE...: gcctl tunnel
# connect in the operator's namespace (the argument list, for tclient.py).
connect_cmd() {
	local tag=$1 tok=$T/token-$1 who=operator=张三
	shift
	while [[ $# -gt 0 ]]; do
		case $1 in
		--token-file) tok=$2; shift 2 ;;
		--as) who=operator=$2; shift 2 ;;
		*) break ;;
		esac
	done
	who_files "$who"
	CMD=("${OPS[@]}" "$GCCTL_BIN" tunnel connect "${TUN[$tag]}" --token-file "$tok" "$@"
		--server "$URL" --cert "$CERT" --key "$KEY" --cacert "$PKI/ca.crt")
}
# attempt NAME TAG [connect option]...: one connection with --stdio and no
# input; RC, and the output in $T/NAME.out/.err.
attempt() {
	local name=$1
	shift
	connect_cmd "$@" --stdio
	RC=0
	timeout 60 "${CMD[@]}" </dev/null >"$T/$name.out" 2>"$T/$name.err" || RC=$?
}
# refused_with NAME CODE ID: exit 3, "gcctl: tunnel ID refused: CODE: ...", no data.
refused_with() {
	local name=$1 code=$2 id=$3
	[[ $RC == 3 ]] || { echo "exit status $RC, expected 3; stderr: $(cat "$T/$name.err")"; return 1; }
	grep -q "^gcctl: tunnel $id refused: $code: ." "$T/$name.err" ||
		{ echo "stderr: $(cat "$T/$name.err")"; return 1; }
	[[ ! -s $T/$name.out ]] || { echo "$(wc -c <"$T/$name.out") bytes of data came through"; return 1; }
}
# host_listeners I: the TCP listeners in host I's namespace (address:port).
host_listeners() {
	nsenter "--net=/run/netns/$(nl_host_ns "$1")" ss -Hltn | awk '{print $4}' | sort | tr '\n' ' '
}
tclient() { "${OPS[@]}" python3 "$T/tclient.py" "$@"; }
REFUSED_CODES=()        # "TAG CODE", one per refusal a client was told of
codes_of() {            # TAG: the codes told for TAG, one a line
	local c
	for c in "${REFUSED_CODES[@]}"; do
		if [[ $c == "$1 "* ]]; then echo "${c#* }"; fi
	done
}
refusal_seen() {        # TAG NAME: the code the client was told, if any
	local code
	code=$(sed -n "s/^gcctl: tunnel ${TUN[$1]} refused: \([a-z_]*\): .*/\1/p" "$T/$2.err" | head -n1)
	[[ -z $code ]] || REFUSED_CODES+=("$1 $code")
}

# ===================================================== 0. R-OP4 ===

for i in $(seq "$HOSTS"); do
	is "0. R-OP4: before any tunnel nothing listens in host-$i's namespace" "$(host_listeners "$i")" ""
done

# ================================== 8. R-OP1, R-OP2: refusals at intake ===

# store_dump OUT: every table but the audit's, as db_dump, without the
# hosts' last_seen (the agents' polls move it).
store_dump() {
	python3 - "$DB" >"$1" <<'PY'
import json, os, sqlite3, sys, urllib.parse
con = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(sys.argv[1])), uri=True, timeout=30)
for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"):
    if t in ("audit", "notify_cursors", "checkpoints"):
        continue
    cur = con.execute('SELECT * FROM "%s"' % t)
    cols = [c[0] for c in cur.description]
    print("==", t, cols)
    rows = [json.dumps({k: v for k, v in zip(cols, r) if k != "last_seen"}, ensure_ascii=False, sort_keys=True) for r in cur]
    print("\n".join(sorted(rows)))
PY
}
# tunnel_refusal DESC TAG STATUS FIELD RULES TEXT: POST $T/tunnel-TAG.json;
# the answer, one audit record and nothing else changed.
tunnel_refusal() {
	local desc=$1 tag=$2 status=$3 field=$4 rules=$5 text=$6 before got
	store_dump "$T/dump.before"
	audit_fetch
	before=$AUDIT_LAST
	api approval POST /v1/tunnels "@$T/tunnel-$tag.json"
	cp "$BODY" "$T/refusal-$tag.body"
	check "$desc: HTTP $status" want "$status"
	got=$(jget "$T/refusal-$tag.body" 'd["error"]["field"] + " " + d["error"]["rule"]' 2>&1) || true
	check "$desc: the error names field $field and rule ${rules// / or } ($got)" \
		bash -c '[[ " $2 " == *" ${1#* } "* && ${1%% *} == "$3" ]]' _ "$got" "$rules" "$field"
	if [[ -n $text ]]; then
		check "$desc: the message says \"$text\"" grep -q -- "$text" "$T/refusal-$tag.body"
	fi
	audit_fetch
	got=$(jget "$T/audit.json" '" ".join(str(x) for x in [len(d["records"]), d["records"][-1]["seq"], d["records"][-1]["action"], d["records"][-1]["outcome"], d["records"][-1]["rule"]])')
	check "$desc: one audit record added, request.refused ($got)" \
		bash -c '[[ $1 == "$2 request.refused refused "* && " $3 " == *" ${1##* } "* ]]' _ "${got#* }" "$((before + 1))" "$rules"
	store_dump "$T/dump.after"
	check "$desc: nothing else in the store changed" diff -u "$T/dump.before" "$T/dump.after"
}
tunnel_doc long "$XVM" "$ECHO_PORT" $((MAX_MINUTES + 1))
tunnel_refusal "8. R-OP1/R-OP2: minutes $((MAX_MINUTES + 1)) over the platform's $MAX_MINUTES" long 422 minutes "R-OP1 R-OP2" "$MAX_MINUTES"
tunnel_doc nounit "$XVM" "$ECHO_PORT" 5 --unset=unit_approval
tunnel_refusal "8. R-OP1: no unit_approval (Baotou requires the unit's own approval)" nounit 422 unit_approval R-OP1 ""
tunnel_doc wrongcn "$XVM" "$ECHO_PORT" 5 --set=operator.certificate="$(cat "$LI_CERT")"
got=$(jget "$T/tunnel-wrongcn.json" 'd["operator"]["name"]')
tunnel_refusal "8. R-OP1: operator $got with 李四's certificate" wrongcn 422 operator.name R-OP1 ""
tunnel_doc badid "$XVM" "$ECHO_PORT" 5 --set=operator.id_number=110101199003070012
tunnel_refusal "8. R-OP1: an identity card number with a wrong check digit" badid 422 operator.id_number R-OP1 ""

# The same length with the security authority's approval (Baotou's
# long_lived_approval): accepted.
tunnel_new long61 "$XVM" "$ECHO_PORT" $((MAX_MINUTES + 1)) --set=approval.security_authority=网信安全批复-2026-07
is "8. R-OP2: minutes $((MAX_MINUTES + 1)) with approval.security_authority: accepted for $((MAX_MINUTES + 1)) minutes" \
	"$(jget "$T/post-long61.json" 'd["tunnel"]["minutes"]')" $((MAX_MINUTES + 1))
check "8. ... its deadline is $((MAX_MINUTES + 1)) minutes from now (within 60 s)" bash -c \
	'd=$1; n=$(date +%s); (( d - n >= $2 * 60 - 60 && d - n <= $2 * 60 + 5 ))' _ \
	"$(jget "$T/post-long61.json" 'd["tunnel"]["deadline_unix"]')" $((MAX_MINUTES + 1))

# ============================================= the tunnels, side by side ===

T0=$(date +%s)
tunnel_new D "$XVM2" "$ECHO_PORT" 1      # 4: cut at the deadline
tunnel_new K "$YVM" "$ECHO_PORT" 2       # 6: kill -9 and back before its deadline
tunnel_new K2 "$YVM" "$ECHO_PORT" 1      # 6: the agent down over its deadline
tunnel_new E "$XVM" "$ECHO_PORT" 5       # 1, 3: data, refusals
tunnel_new S "$XVM" 22 5                 # 2: ssh

is "the answer: 201, existing false, state opening or open, 张三 with his certificate's SHA-256" \
	"$(jget "$T/post-E.json" '" ".join(str(x) for x in [d["existing"], d["tunnel"]["state"] in ("opening", "open"), d["tunnel"]["operator"]["name"], d["tunnel"]["operator"]["certificate_sha256"], d["tunnel"]["vm"]["address"], d["tunnel"]["port"], d["tunnel"]["system"]["id"]])')" \
	"False True 张三 $ZHANG_SHA ${VMADDR[$XVM]} $ECHO_PORT $SYSID"
check "the token is 43 characters of base64url" grep -Eqx '[A-Za-z0-9_-]{43}' "$T/token-E"
api approval POST /v1/tunnels "@$T/tunnel-E.json"
cp "$BODY" "$T/again-E.json"
check "the same approval again: HTTP 200" want 200
is "... existing true, the same tunnel, and no token" \
	"$(jget "$T/again-E.json" '" ".join(str(x) for x in [d["existing"], d["tunnel"]["id"], d.get("token")])')" "True ${TUN[E]} None"
for tag in D K K2 E S long61; do
	check "tunnel $tag (${TUN[$tag]}) is open: its host listens" poll 30 tunnel_is "$tag" open
done
for tag in D K K2 E S long61; do tget "$tag" >/dev/null || true; done
for who in provider authority approval tenant operator=张三; do
	check "GET /v1/tunnels/${TUN[E]} as $who" tget E "$who"
done
api operator=李四 GET "/v1/tunnels/${TUN[E]}"
check "... but not as 李四, whom it does not name" want 403 404
tget E
is "E's endpoint is host-$XH's operations address" "$(tv E '["endpoint"]["address"]') $(tv E '["host"]')" "$(nl_host_underlay "$XH") host-$XH"
EXP_X=$(for tag in D E S long61; do
	if tget "$tag" >/dev/null && [[ $(tv "$tag" '["host"]') == host-$XH ]]; then
		echo "$(tv "$tag" '["endpoint"]["address"]'):$(tv "$tag" '["endpoint"]["port"]')"
	fi
done | sort | tr '\n' ' ')
is "0. R-OP4: host-$XH listens exactly on its open tunnels' endpoints" "$(host_listeners "$XH")" "$EXP_X"
raw_out=$(tclient raw "$(tv E '["endpoint"]["address"]')" "$(tv E '["endpoint"]["port"]')" "$LI_CERT" "$LI_KEY" "$PKI/ca.crt" "${TUN[E]}" "$(cat "$T/token-E")" 2>&1) || true
printf '%s\n' "$raw_out" >"$T/raw-li.json"
is "3. the listener presents host-$XH's certificate (OU=host)" \
	"$(jget "$T/raw-li.json" 'd["subject"]["organizationalUnitName"] + " " + d["subject"]["commonName"]' 2>&1)" "host host-$XH"
is "3. R-OP2: 李四's certificate with 张三's tunnel and token: refused, wrong_operator" \
	"$(jget "$T/raw-li.json" 'str(d["answer"]["ok"]) + " " + d["answer"]["code"]' 2>&1)" "False wrong_operator"
REFUSED_CODES+=("E $(jget "$T/raw-li.json" 'd["answer"]["code"]' 2>/dev/null || echo none)")

# ========================= 4. the first deadline session, data flowing ===

connect_cmd D --stdio
tclient stream "$T/stream-D.json" 200 -- "${CMD[@]}" &
STREAM_D=$!
bg "$STREAM_D"
check "4. data flows through tunnel D (its deadline $(tv D '["deadline"]'))" poll 30 test -e "$T/stream-D.json.flowing"

# ============================================== 3. refusals, 1. data ===

printf 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n' >"$T/token-wrong"
attempt wrongtoken E --token-file "$T/token-wrong"
check "3. R-OP2: a wrong token: exit 3, refused: wrong_token, no data" refused_with wrongtoken wrong_token "${TUN[E]}"
refusal_seen E wrongtoken
# 李四 cannot look the tunnel up (GET answers 404): gcctl is given the
# listener and its host.
E_ENDPOINT=$(tv E '["endpoint"]["address"]'):$(tv E '["endpoint"]["port"]')
attempt li E --as 李四 --endpoint "$E_ENDPOINT" --host "host-$XH"
check "3. R-OP2: gcctl as 李四 with 张三's tunnel and token: exit 3, refused: wrong_operator, no data" \
	refused_with li wrong_operator "${TUN[E]}"
refusal_seen E li

connect_cmd E --listen 127.0.0.1:0
tclient echo "$T/echo-E.json" 4194304 --hold -- "${CMD[@]}" &
ECHO_E=$!
bg "$ECHO_E"
check "3. ... the tunnel still works: 4 MiB echoed through it" poll 120 test -e "$T/echo-E.json.echoed"
# Straight to the listener (gcctl may already know from the orchestrator
# that the session is live, and stop before connecting).
attempt inuse E --endpoint "$E_ENDPOINT" --host "host-$XH"
check "3. R-OP2: a second connection while the session is live: exit 3, refused: in_use, no data" \
	refused_with inuse in_use "${TUN[E]}"
refusal_seen E inuse
attempt inuse2 E
check "3. ... the same through the tunnel's lookup: a non-zero exit and no data" \
	bash -c '[[ $1 != 0 && ! -s $2 ]]' _ "$RC" "$T/inuse2.out"
note "the second connection through the lookup: exit $RC: $(head -c 300 "$T/inuse2.err")"
refusal_seen E inuse2
touch "$T/echo-E.json.release"
wait "$ECHO_E" || true
unbg "$ECHO_E"
is "1. R-OP2: 4 MiB sent through gcctl --listen, 4 MiB back, the same SHA-256 both ways, gcctl exit 0" \
	"$(jget "$T/echo-E.json" '" ".join(str(x) for x in [d["sent"], d["received"], d.get("sha_sent") == d.get("sha_received"), d.get("rc")])' 2>&1)" \
	"4194304 4194304 True 0"
attempt reuse E
check "3. R-OP2: the token again after the session: a non-zero exit and no data" \
	bash -c '[[ $1 != 0 && ! -s $2 ]]' _ "$RC" "$T/reuse.out"
note "the reused token: exit $RC: $(head -c 300 "$T/reuse.err")"
refusal_seen E reuse

# ============================================================= 2. ssh ===

who_files operator=张三
PROXY="$GCCTL_BIN tunnel connect ${TUN[S]} --token-file $T/token-S --stdio --server $URL --cert $CERT --key $KEY --cacert $PKI/ca.crt"
rc=0
"${OPS[@]}" timeout 60 ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i "$SSHD/user_key" \
	-o UserKnownHostsFile="$SSHD/known_hosts" -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
	-o HostKeyAlias=gc-vm -o ConnectTimeout=30 -o LogLevel=ERROR -o ProxyCommand="$PROXY" \
	root@vm 'echo "whoami=$(id -un)"; ip -4 -o addr show dev eth0' >"$T/ssh.out" 2>"$T/ssh.err" || rc=$?
check "2. R-OP1: ssh through gcctl tunnel connect --stdio logs in with the user key (exit 0)" \
	bash -c '[[ $1 == 0 ]] || { echo "exit $1"; cat "$2"; exit 1; }' _ "$rc" "$T/ssh.err"
check "2. ... its command ran as root in the guest: eth0 has ${VMADDR[$XVM]}/$PREFIXLEN" \
	bash -c 'grep -qx whoami=root "$1" && grep -q "inet $2 " "$1" || { cat "$1"; exit 1; }' _ "$T/ssh.out" "${VMADDR[$XVM]}/$PREFIXLEN"
check "2. ... sshd logged the public key login" grep -q 'Accepted publickey for root' "$T/sshd.log"

# ============================= 6. kill -9 of the agent with live tunnels ===

tget K >/dev/null || true
K_PORT=$(tv K '["endpoint"]["port"]') || bail "tunnel K has no endpoint"
tget K2 >/dev/null || true
K2_PORT=$(tv K2 '["endpoint"]["port"]') || bail "tunnel K2 has no endpoint"
YNS=$(nl_host_ns "$YH")
check "6. host-$YH listens on K's port $K_PORT" listening "$YNS" "$K_PORT"
agent_kill9 "$YH"
refute "6. kill -9 of host-$YH's agent: K's port is closed" listening "$YNS" "$K_PORT"
agent_start "$YH"
check "6. R-OP2: restarted, host-$YH's agent listens on K's port $K_PORT again (deadline $(tv K '["deadline"]'))" \
	poll 30 listening "$YNS" "$K_PORT"
tget K >/dev/null || true
is "6. ... K is still open, with the same endpoint" "$(tv K '["state"]') $(tv K '["endpoint"]["port"]')" "open $K_PORT"
connect_cmd K --stdio
tclient echo "$T/echo-K.json" 65536 -- "${CMD[@]}" || true
is "6. ... and K works before its deadline: 64 KiB echoed intact" \
	"$(jget "$T/echo-K.json" '" ".join(str(x) for x in [d["sent"], d["received"], d.get("sha_sent") == d.get("sha_received"), d.get("rc")])' 2>&1)" \
	"65536 65536 True 0"
K2_DEADLINE=$(tv K2 '["deadline_unix"]')
agent_kill9 "$YH"
check "6. host-$YH's agent killed again before K2's deadline (K2 unused)" test "$(date +%s)" -lt "$K2_DEADLINE"

# ======================== 5. a session while the orchestrator is stopped ===

# O's deadline comes well after D's: D is cut with the orchestrator up.
while [[ $(date +%s) -lt $((T0 + 30)) ]]; do sleep 0.5; done
tunnel_new O "$XVM2" "$ECHO_PORT" 1
check "tunnel O (${TUN[O]}) is open" poll 30 tunnel_is O open
connect_cmd O --stdio
tclient stream "$T/stream-O.json" 200 -- "${CMD[@]}" &
STREAM_O=$!
bg "$STREAM_O"
check "5. data flows through tunnel O (its deadline $(tv O '["deadline"]'))" poll 30 test -e "$T/stream-O.json.flowing"

# --------------------------------------------------------- 4. D's cut ---

D_DEADLINE=$(tv D '["deadline_unix"]')
O_DEADLINE=$(tv O '["deadline_unix"]')
wait "$STREAM_D" || true
unbg "$STREAM_D"
# in_window FILE DEADLINE: the cut no earlier than DEADLINE - 2 s, no later
# than DEADLINE + 15 s, data flowing until 10 s before it at most.
in_window() {
	local cut last
	cut=$(jget "$1" 'd["cut_ms"]') last=$(jget "$1" 'd["last_rx_ms"] or 0')
	echo "cut at $cut ms, the deadline $(($2 * 1000)) ms, the last echo at $last ms"
	((cut >= $2 * 1000 - 2000 && cut <= $2 * 1000 + 15000)) || return 1
	((last >= $2 * 1000 - 10000))
}
check "4. R-OP1: the session in D is cut at its deadline (-2 s .. +15 s) while data flows" in_window "$T/stream-D.json" "$D_DEADLINE"
is "4. ... gcctl exits 4 (cut by the agent)" "$(jget "$T/stream-D.json" 'd["rc"]')" 4
check "4. ... the orchestrator records D closed at the deadline" poll 30 tunnel_is D closed
tget D >/dev/null || true
is "4. ... close_reason deadline" "$(tv D '["session"]["close_reason"]')" deadline
check "4. ... closed_ms within the deadline's window" bash -c \
	'(( $1 >= $2 * 1000 - 2000 && $1 <= $2 * 1000 + 15000 ))' _ "$(tv D '["session"]["closed_ms"]')" "$D_DEADLINE"

# ------------------------------------------ 5. the orchestrator stops ---

check "5. the orchestrator stops on SIGTERM with status 0" orch_stop
check "5. ... stopped before O's deadline, O still carrying data" bash -c \
	'[[ $(date +%s) -lt $1 && ! -e $2 ]]' _ "$O_DEADLINE" "$T/stream-O.json"
wait "$STREAM_O" || true
unbg "$STREAM_O"
check "5. R-OP1: the orchestrator down, the session in O is still cut at its deadline (-2 s .. +15 s)" \
	in_window "$T/stream-O.json" "$O_DEADLINE"
is "5. ... gcctl exits 4" "$(jget "$T/stream-O.json" 'd["rc"]')" 4

# 6: host Y's agent comes back after K2's deadline.
while [[ $(date +%s) -le $((K2_DEADLINE + 1)) ]]; do sleep 0.5; done
agent_start "$YH"
orch_start
pass "5. gc-orchestrator started again"
closed_by_deadline() { tunnel_is "$1" closed && [[ $(tv "$1" '["session"]["close_reason"]') == deadline ]]; }
check "5. ... O's session record arrives: closed, reason deadline" poll 60 closed_by_deadline O
check "6. R-OP2: host-$YH's agent back after K2's deadline: K2 closed" poll 60 tunnel_is K2 closed
is "6. ... reason expired_unused, never opened" "$(tv K2 '["session"]["close_reason"]') $(tv K2 '["session"]["opened_ms"]')" "expired_unused null"
refute "6. ... nothing listens on K2's port $K2_PORT" listening "$YNS" "$K2_PORT"
attempt k2late K2
check "6. ... connecting to K2 fails: a non-zero exit and no data" bash -c '[[ $1 != 0 && ! -s $2 ]]' _ "$RC" "$T/k2late.out"
refusal_seen K2 k2late
is "6. R-OP4: host-$YH listens on nothing" "$(host_listeners "$YH")" ""

# ====================================================== 7. the audit ===

for tag in E S K; do
	check "tunnel $tag is closed" poll 30 tunnel_is "$tag" closed
done
audit_fetch
cp "$T/audit.json" "$T/audit-final.json"
# recs TAG EXPR: EXPR over r, the list of TAG's audit records (object tunnel:ID).
recs() {
	jget "$T/audit-final.json" "(lambda r: $2)([x for x in d[\"records\"] if x[\"object\"] == \"tunnel:${TUN[$1]}\"])"
}
for tag in E S K D O K2; do
	is "7. R-OP3: tunnel $tag: one tunnel.accepted by the approval system" \
		"$(recs "$tag" '[x["role"] for x in r if x["action"] == "tunnel.accepted"]')" '["approval"]'
	check "7. ... tunnel.listening by host-${VMHOST[${GUEST_OF[$tag]}]}" bash -c '[[ $1 -ge 1 ]]' _ \
		"$(recs "$tag" 'len([x for x in r if x["action"] == "tunnel.listening" and x["actor"] == "host-'"${VMHOST[${GUEST_OF[$tag]}]}"'"])')"
	want_codes=$(codes_of "$tag" | sort | tr '\n' ' ')
	is "7. ... one tunnel.connection_refused per refusal, with its reason" \
		"$(recs "$tag" '" ".join(sorted(x["detail"].get("reason", "?") for x in r if x["action"] == "tunnel.connection_refused")) + (" " if r else "")' | sed 's/^ $//')" "$want_codes"
	n_open=1
	[[ $tag != K2 ]] || n_open=0
	is "7. ... $n_open tunnel.session_opened, one tunnel.closed" \
		"$(recs "$tag" 'str(len([x for x in r if x["action"] == "tunnel.session_opened"])) + " " + str(len([x for x in r if x["action"] == "tunnel.closed"]))')" "$n_open 1"
	is "7. ... tunnel.closed names 张三 (id number, certificate), the approval, the VM, its address and port" \
		"$(recs "$tag" '[(c["operator"]["name"], c["operator"]["id_number"], c["operator"]["certificate_sha256"], c["approval"], c["vm"], c["address"], c["port"]) for c in [x["detail"] for x in r if x["action"] == "tunnel.closed"]]')" \
		"[[\"张三\", \"$ID_ZHANG\", \"$ZHANG_SHA\", \"approval-oa/OA-TUN-$tag\", \"${VMNAME[${GUEST_OF[$tag]}]}\", \"${VMADDR[${GUEST_OF[$tag]}]}\", $(jget "$T/tunnel-$tag.json" 'd["port"]')]]"
done
closed() { recs "$1" "[x[\"detail\"] for x in r if x[\"action\"] == \"tunnel.closed\"][0]$2"; }
ordered() { # TAG: opened_ms <= first_byte_ms <= closed_ms
	recs "$1" '(lambda c: c["opened_ms"] <= c["first_byte_ms"] <= c["closed_ms"])([x["detail"] for x in r if x["action"] == "tunnel.closed"][0])'
}
is "7. E's record: reason client_closed, 4 MiB in and 4 MiB out (what was sent and echoed)" \
	"$(closed E '["reason"]') $(closed E '["bytes_in"]') $(closed E '["bytes_out"]')" "client_closed 4194304 4194304"
is "7. ... opened_ms <= first_byte_ms <= closed_ms" "$(ordered E)" true
is "7. K's record: reason client_closed, 64 KiB each way" \
	"$(closed K '["reason"]') $(closed K '["bytes_in"]') $(closed K '["bytes_out"]')" "client_closed 65536 65536"
check "7. S's record (ssh): bytes both ways, closed by a side" bash -c \
	'[[ $1 -gt 0 && $2 -gt 0 && ( $3 == client_closed || $3 == target_closed ) ]]' _ \
	"$(closed S '["bytes_in"]')" "$(closed S '["bytes_out"]')" "$(closed S '["reason"]')"
for tag in D O; do
	f=$T/stream-$tag.json
	check "7. $tag's record: reason deadline; what the client received <= bytes_out <= bytes_in <= what it sent" bash -c \
		'echo "client sent $3, received $4; bytes_in $1, bytes_out $2, reason $5"; [[ $5 == deadline ]] && (( $4 <= $2 && $2 <= $1 && $1 <= $3 && $4 > 0 ))' _ \
		"$(closed "$tag" '["bytes_in"]')" "$(closed "$tag" '["bytes_out"]')" "$(jget "$f" 'd["sent"]')" "$(jget "$f" 'd["received"]')" "$(closed "$tag" '["reason"]')"
	is "7. ... opened_ms <= first_byte_ms <= closed_ms" "$(ordered "$tag")" true
done
is "7. K2's record: expired_unused, no session, no bytes" \
	"$(closed K2 '["reason"]') $(closed K2 '["opened_ms"]') $(closed K2 '["bytes_in"]') $(closed K2 '["bytes_out"]')" "expired_unused null 0 0"
tget E >/dev/null || true
is "7. GET E: closed, its session as recorded, refusals counted" \
	"$(tv E '["session"]["bytes_in"]') $(tv E '["session"]["bytes_out"]') $(tv E '["session"]["close_reason"]') $(tv E '["refusals"]')" \
	"4194304 4194304 client_closed $(codes_of E | wc -l)"
who_files authority
rc=0
"${OPS[@]}" "$GCCTL_BIN" audit verify --server "$URL" --cert "$CERT" --key "$KEY" --cacert "$PKI/ca.crt" >"$T/verify.out" 2>&1 || rc=$?
check "7. R-OP3: gcctl audit verify passes over the live chain" bash -c '[[ $1 == 0 ]] || { cat "$2"; exit 1; }' _ "$rc" "$T/verify.out"

for i in $(seq "$HOSTS"); do
	check "host-$i's agent stops on SIGTERM with status 0" agent_stop "$i"
done
check "gc-orchestrator stops on SIGTERM with status 0" orch_stop
finish
