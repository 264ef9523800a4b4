#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# gcctl tunnel without an orchestrator:
#  - --help on every verb, usage errors naming the option (exit 2);
#  - connect --endpoint/--host against a stand-in listener (python3, TLS 1.3,
#    client certificate required, a CA made here with scripts/pki.sh):
#    the "gc-tunnel/1" line gcctl sends; {"ok": true} then bytes both ways
#    with half-closes, in --stdio and in --listen mode (port on stderr,
#    summary as JSON, one connection only); a refusal line (exit 3 and
#    "gcctl: tunnel 7 refused: CODE: MESSAGE"); a connection cut without
#    close_notify (exit 4); a listener whose certificate names another host,
#    or is not a host's, or comes from another CA, is refused before the
#    token is sent (exit 1);
#  - submit, list, show, close and connect's lookup against a stand-in API
#    (python3 HTTPS): the calls made, the token shown once or written to a
#    file of mode 0600, waiting while a tunnel is opening, a closed tunnel.
#
# Environment (from meson): GCCTL, GC_SRCDIR.
set -euo pipefail

: "${GCCTL:?GCCTL must name the gcctl binary}"
: "${GC_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
[ -x "$GCCTL" ] || { echo "GCCTL=$GCCTL is not executable" >&2; exit 1; }
for tool in openssl python3 timeout; do
        if ! command -v "$tool" >/dev/null; then
                echo "SKIP: the $tool command is not installed" >&2
                exit 77
        fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tunnel-cli.XXXXXX")
server_pid=
gcctl_pid=
api_pid=
cleanup() {
        for pid in $server_pid $gcctl_pid $api_pid; do
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        done
        rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
unset GC_SERVER GC_CERT GC_KEY GC_CACERT GC_PROFILE GC_TUNNEL_TOKEN
export HOME="$work/home" XDG_CONFIG_HOME="$work/xdg"
mkdir -p "$HOME" "$XDG_CONFIG_HOME"

passed=0
failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

# expect NAME RC PATTERN ARGS...: gcctl ARGS exits RC and PATTERN (grep -E;
# "" for none) is in its stdout or stderr (out.txt, err.txt).
expect() {
        local name=$1 want=$2 pat=$3 rc=0; shift 3
        timeout 60 "$GCCTL" "$@" <"${STDIN:-/dev/null}" >out.txt 2>err.txt || rc=$?
        if [ "$rc" -eq "$want" ] && { [ -z "$pat" ] || grep -qE -- "$pat" out.txt err.txt; }; then
                pass "$name"
        else
                fail "$name (exit $rc, want $want; pattern: $pat)"
                sed 's/^/     | out: /' out.txt | head -20
                sed 's/^/     | err: /' err.txt | head -20
        fi
}

# --- help and usage errors ------------------------------------------------

expect "tunnel in gcctl --help" 0 'tunnel +operations tunnels' --help
expect "tunnel --help lists the verbs" 0 'connect +connect through a tunnel' tunnel --help
for v in submit list show close connect; do
        expect "tunnel $v --help" 0 "Usage: gcctl tunnel $v" tunnel "$v" --help
done
expect "connect --help: exit status 3" 0 '3 the agent refused' tunnel connect --help
expect "connect --help: exit status 4" 0 '4 the agent cut' tunnel connect --help

T=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA     # 43 characters
expect "submit: missing FILE" 2 'missing FILE' tunnel submit
expect "show: missing ID" 2 'missing ID' tunnel show
expect "show: bad ID" 2 'ID: "x" is not a whole number' tunnel show x
expect "close: missing ID" 2 'missing ID' tunnel close
expect "list: bad --state" 2 '--state: "bogus" is not a tunnel state' tunnel list --state bogus
expect "list: bad --system" 2 '--system: "x" is not a whole number' tunnel list --system x
expect "list: operand" 2 "unexpected operand 'x'" tunnel list x
expect "connect: missing ID" 2 'missing ID' tunnel connect --token "$T"
expect "connect: no token" 2 'no token: give --token-file FILE or --token TOKEN, or set GC_TUNNEL_TOKEN' \
        tunnel connect 7
expect "connect: short --token" 2 '--token: a value of 5 characters is not a tunnel token' \
        tunnel connect 7 --token short
rc=0; GC_TUNNEL_TOKEN=abc "$GCCTL" tunnel connect 7 >out.txt 2>err.txt || rc=$?
if [ $rc -eq 2 ] && grep -q 'GC_TUNNEL_TOKEN: a value of 3 characters' err.txt; then
        pass "connect: bad GC_TUNNEL_TOKEN"
else
        fail "connect: bad GC_TUNNEL_TOKEN (exit $rc)"
fi
expect "connect: --token and --token-file" 2 '--token and --token-file: give one' \
        tunnel connect 7 --token "$T" --token-file t
expect "connect: --listen and --stdio" 2 '--listen and --stdio: give one' \
        tunnel connect 7 --token "$T" --listen 0 --stdio
expect "connect: --endpoint without --host" 2 '--endpoint needs --host' \
        tunnel connect 7 --token "$T" --endpoint 127.0.0.1:1
expect "connect: --host without --endpoint" 2 '--host needs --endpoint' \
        tunnel connect 7 --token "$T" --host host-1
expect "connect: bad --endpoint" 2 '--endpoint: "nowhere" is not ADDR:PORT' \
        tunnel connect 7 --token "$T" --endpoint nowhere --host host-1
expect "connect: bad --endpoint port" 2 '--endpoint: "1.2.3.4:99999" is not ADDR:PORT' \
        tunnel connect 7 --token "$T" --endpoint 1.2.3.4:99999 --host host-1
expect "connect: bad --listen" 2 '--listen: "x:y" is not \[ADDR:\]PORT' \
        tunnel connect 7 --token "$T" --listen x:y
expect "connect: bad --wait" 2 '--wait: "soon" is not a whole number' \
        tunnel connect 7 --token "$T" --wait soon
expect "connect: unknown option" 2 "option '--bogus' is unknown" tunnel connect 7 --bogus
expect "connect: missing --token-file" 1 '--token-file nope.token: No such file' \
        tunnel connect 7 --token-file nope.token --endpoint 127.0.0.1:1 --host host-1
printf 'not a token\n' >bad.token
expect "connect: --token-file without a token" 1 '--token-file bad.token: its first line \(11 characters\) is not' \
        tunnel connect 7 --token-file bad.token --endpoint 127.0.0.1:1 --host host-1
expect "connect: no certificate" 2 'no client certificate' \
        tunnel connect 7 --token "$T" --endpoint 127.0.0.1:1 --host host-1
expect "connect: no server for the lookup" 2 'no server' tunnel connect 7 --token "$T"

# --- a CA, a host and an operator -----------------------------------------

bash "$GC_SRCDIR/scripts/pki.sh" --out pki --host host-1 --host host-2 --operator 张三 >pki.log 2>&1 \
        || { cat pki.log; echo "scripts/pki.sh failed" >&2; exit 1; }
bash "$GC_SRCDIR/scripts/pki.sh" --out other --host host-1 --operator 张三 >>pki.log 2>&1 \
        || { cat pki.log; echo "scripts/pki.sh (second CA) failed" >&2; exit 1; }
op_cert=$(python3 -c 'import json,sys; print([e["cert"] for e in json.load(open("pki/pki.json"))["entries"]
        if e["role"] == "operator" and e.get("kind") == "tls-client"][0])')
OP=(--cert "pki/$op_cert" --key "pki/${op_cert%.crt}.key" --cacert pki/ca.crt)
token=$(openssl rand 32 | basenc --base64url | tr -d '=\n')
printf '%s\n' "$token" >t7.token
chmod 600 t7.token

cat >server.py <<'EOF'
# A stand-in for an agent's tunnel listener: TLS 1.3, a client certificate
# chaining to the CA required; one connection; MODE decides the answer.
import json, socket, ssl, sys, time
mode, cert, key, ca, portfile, linefile = sys.argv[1:7]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(cert, key)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(ca)
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
open(portfile + ".tmp", "w").write(str(ls.getsockname()[1]))
import os; os.rename(portfile + ".tmp", portfile)
ls.settimeout(30)
raw, _ = ls.accept()
raw.settimeout(30)
try:
    c = ctx.wrap_socket(raw, server_side=True)
except (ssl.SSLError, OSError) as e:
    open(linefile + ".handshake", "w").write(str(e))
    sys.exit(0)
subject = dict(x[0] for x in c.getpeercert()["subject"])
line = b""
while not line.endswith(b"\n"):
    b = c.recv(1)
    if not b:
        break
    line += b
open(linefile, "wb").write(line)
open(linefile + ".subject", "w").write(subject.get("commonName", "") + "/" + subject.get("organizationalUnitName", ""))
if mode == "refuse":
    c.sendall(b'{"ok": false, "code": "wrong_token", "message": "the token does not match"}\n')
    c.unwrap()
    c.close()
elif mode == "echo":
    # The VM speaks first, right behind the answer line.
    c.sendall(b'{"ok": true}\nhello from vm\n')
    got = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += b
    # Our input ended (close_notify): half-closed; answer, then close.
    c.sendall(got.upper() + b"bye\n")
    c.unwrap()
    c.close()
elif mode == "cut":
    c.sendall(b'{"ok": true}\npartial\n')
    time.sleep(0.3)
    raw.shutdown(socket.SHUT_RDWR)      # no close_notify
    raw.close()
EOF

# serve MODE CERT KEY [CA]: start the stand-in; sets port.
serve() {
        rm -f port line line.handshake line.subject
        python3 server.py "$1" "$2" "$3" "${4:-pki/ca.crt}" port line 2>server.log &
        server_pid=$!
        for _ in $(seq 100); do [ -s port ] && break; sleep 0.05; done
        [ -s port ] || { cat server.log; echo "the stand-in listener did not start" >&2; exit 1; }
        port=$(cat port)
}
finish_server() {
        wait "$server_pid" 2>/dev/null || true
        server_pid=
}
HOST1=(pki/tls/host-host-1.crt pki/tls/host-host-1.key)

# --- --stdio: preamble, answer, bytes both ways, half-close ---------------

serve echo "${HOST1[@]}"
printf 'ping\n' >in.txt
STDIN=in.txt expect "stdio: session ends normally" 0 'tunnel 7: closed after [0-9.]+ s, 5 bytes sent, 23 bytes received' \
        tunnel connect 7 --token-file t7.token --stdio --endpoint "127.0.0.1:$port" --host host-1 "${OP[@]}"
finish_server
if [ "$(cat out.txt)" = "$(printf 'hello from vm\nPING\nbye')" ]; then
        pass "stdio: the VM's bytes on stdout, ours echoed after the half-close"
else
        fail "stdio: stdout was: $(od -c out.txt | head -5)"
fi
if python3 - "$token" line <<'EOF'
import json, sys
raw = open(sys.argv[2], "rb").read()
assert raw.endswith(b"\n") and raw.count(b"\n") == 1 and len(raw) <= 1024, raw
doc = json.loads(raw)
assert doc == {"protocol": "gc-tunnel/1", "tunnel": 7, "token": sys.argv[1]}, doc
assert type(doc["tunnel"]) is int
EOF
then pass "preamble: one line {\"protocol\": \"gc-tunnel/1\", \"tunnel\": 7, \"token\": ...}"
else fail "preamble: $(cat line)"; fi
if [ "$(cat line.subject)" = "张三/operator" ]; then pass "the operator's certificate was presented"
else fail "client certificate subject: $(cat line.subject)"; fi

# The token from the environment works the same.
serve echo "${HOST1[@]}"
STDIN=in.txt GC_TUNNEL_TOKEN=$token expect "stdio: token from GC_TUNNEL_TOKEN" 0 'tunnel 7: closed' \
        tunnel connect 7 --stdio --endpoint "127.0.0.1:$port" --host host-1 "${OP[@]}"
finish_server
grep -q "\"$token\"" line && pass "GC_TUNNEL_TOKEN: the token sent" || fail "GC_TUNNEL_TOKEN: line: $(cat line)"

# --- --listen: the port on stderr, one connection, JSON summary -----------

serve echo "${HOST1[@]}"
"$GCCTL" tunnel connect 7 --token-file t7.token --listen 127.0.0.1:0 --json \
        --endpoint "127.0.0.1:$port" --host host-1 "${OP[@]}" >listen.out 2>listen.err &
gcctl_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' listen.err 2>/dev/null && break; sleep 0.05; done
lport=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' listen.err)
if [ -n "$lport" ]; then pass "listen: \"listening on 127.0.0.1:PORT\" on stderr"
else fail "listen: stderr: $(cat listen.err)"; fi
python3 - "$lport" >listen.got <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"x" * 100000)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print(len(got), got[:13].decode(), got[-4:].decode().strip())
EOF
rc=0; wait "$gcctl_pid" || rc=$?
gcctl_pid=
finish_server
if [ "$(cat listen.got)" = "100018 hello from vm bye" ]; then pass "listen: 100,000 bytes there and back, half-closes passed on"
else fail "listen: the local client got: $(cat listen.got)"; fi
if [ $rc -eq 0 ] && python3 -c '
import json, sys
d = json.load(open("listen.out"))
assert d["tunnel"] == 7 and d["end"] == "closed", d
assert d["bytes_sent"] == 100000 and d["bytes_received"] == 100018, d
'; then pass "listen: exit 0, JSON summary on stdout"
else fail "listen: exit $rc, stdout: $(cat listen.out), stderr: $(cat listen.err)"; fi
# The listener took one connection and is gone.
if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=2)" "$lport" 2>/dev/null
then fail "listen: the local port still accepts"
else pass "listen: the local port is closed after the one connection"; fi

# --- a refusal: exit 3 and the agent's code and message --------------------

serve refuse "${HOST1[@]}"
expect "refusal: exit 3" 3 '^gcctl: tunnel 7 refused: wrong_token: the token does not match$' \
        tunnel connect 7 --token-file t7.token --stdio --endpoint "127.0.0.1:$port" --host host-1 "${OP[@]}"
finish_server

# --- cut without close_notify: exit 4 ---------------------------------------

serve cut "${HOST1[@]}"
mkfifo hold
( sleep 5 >hold ) &          # stdin stays open: the agent ends the session
hold_pid=$!
STDIN=hold expect "cut: exit 4" 4 'tunnel 7: cut by the agent after' \
        tunnel connect 7 --token-file t7.token --stdio --endpoint "127.0.0.1:$port" --host host-1 "${OP[@]}"
kill "$hold_pid" 2>/dev/null || true
wait "$hold_pid" 2>/dev/null || true
finish_server
[ "$(cat out.txt)" = "partial" ] && pass "cut: the bytes before the cut were passed on" \
        || fail "cut: stdout: $(cat out.txt)"

# --- the listener's certificate -------------------------------------------

# Another host's certificate: refused before the token is sent.
serve echo pki/tls/host-host-2.crt pki/tls/host-host-2.key
expect "wrong CN: refused" 1 'certificate subject is "CN=host-2,OU=host,O=govcloud", not OU=host, CN=host-1' \
        tunnel connect 7 --token-file t7.token --stdio --endpoint "127.0.0.1:$port" --host host-1 "${OP[@]}"
finish_server
[ ! -e line ] && pass "wrong CN: no line (and no token) reached the listener" || fail "wrong CN: line: $(cat line)"

# A certificate that is not a host's (OU=orchestrator), though its CN is asked for.
serve echo pki/tls/orchestrator.crt pki/tls/orchestrator.key
expect "wrong OU: refused" 1 'not OU=host, CN=gc-orchestrator' \
        tunnel connect 7 --token-file t7.token --stdio --endpoint "127.0.0.1:$port" --host gc-orchestrator "${OP[@]}"
finish_server
[ ! -e line ] && pass "wrong OU: nothing sent" || fail "wrong OU: line: $(cat line)"

# host-1 from another CA.
serve echo other/tls/host-host-1.crt other/tls/host-host-1.key
expect "other CA: refused" 1 'certificate chain \(depth [0-9]\): (unable to get local issuer|self.signed)' \
        tunnel connect 7 --token-file t7.token --stdio --endpoint "127.0.0.1:$port" --host host-1 "${OP[@]}"
finish_server
[ ! -e line ] && pass "other CA: nothing sent" || fail "other CA: line: $(cat line)"

# Nothing listening.
expect "no listener: exit 1" 1 'tunnel connect: endpoint 127.0.0.1:1: Connection refused' \
        tunnel connect 7 --token-file t7.token --stdio --endpoint 127.0.0.1:1 --host host-1 "${OP[@]}"

# --- the orchestrator's calls, against a stand-in API ----------------------

cat >api.py <<'EOF'
# A stand-in for the orchestrator's /v1/tunnels (HTTPS, TLS 1.3, client
# certificates). Tunnel 7 is opening on its first GET, then open at the
# stand-in listener whose port is in the file "port"; 8 is closed; 9 stays
# opening.
import copy, http.server, json, os, ssl, sys, urllib.parse
pki, portfile, logfile, token = sys.argv[1:5]
TUNNEL = {"id": 7, "state": "opening", "approval": "approval-oa/OA-2026-0107", "unit": "市xx局",
          "system": {"id": 3, "name": "协同办公OA"},
          "vm": {"id": 11, "name": "市xx局协同办公OA应用服务器1", "address": "10.0.0.2"},
          "port": 22, "minutes": 30, "purpose": "安装中间件安全补丁",
          "received": "2026-11-20T09:31:00+08:00", "deadline": "2026-11-20T10:01:00+08:00",
          "deadline_unix": 1795136460, "host": "host-1", "endpoint": None,
          "operator": {"name": "张三", "id_number": "110101199003070011", "organization": "某某运维服务有限公司",
                       "certificate_sha256": "00" * 32},
          "session": {"opened_ms": None, "first_byte_ms": None, "closed_ms": None, "close_reason": None,
                      "bytes_in": None, "bytes_out": None},
          "refusals": 0}
seen = {"body": None, "gets": 0}

def tunnel(tid):
    t = copy.deepcopy(TUNNEL)
    t["id"] = tid
    if tid == 7 and seen["gets"] > 1:
        t["state"] = "open"
        t["endpoint"] = {"address": "127.0.0.1", "port": int(open("port").read())}
    if tid == 8:
        t["state"] = "closed"
        t["session"]["close_reason"] = "deadline"
    return t

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def answer(self, status, doc):
        body = json.dumps(doc, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def handle_call(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        url = urllib.parse.urlsplit(self.path)
        cn = dict(x[0] for x in self.connection.getpeercert()["subject"])["commonName"]
        with open(logfile, "a") as f:
            f.write(json.dumps({"method": self.command, "path": url.path, "query": url.query, "cn": cn,
                                "body": body.decode()}, ensure_ascii=False) + "\n")
        if (self.command, url.path) == ("POST", "/v1/tunnels"):
            doc = json.loads(body)
            if doc.get("kind") != "tunnel" or not doc["approval"].get("signature"):
                return self.answer(422, {"error": {"code": "invalid", "message": "not a signed tunnel request"}})
            if seen["body"] == body:
                return self.answer(200, {"existing": True, "tunnel": tunnel(7), "token": None})
            seen["body"] = body
            return self.answer(201, {"existing": False, "tunnel": tunnel(7), "token": token})
        if (self.command, url.path) == ("GET", "/v1/tunnels"):
            return self.answer(200, {"tunnels": [tunnel(7), tunnel(8)]})
        parts = url.path.split("/")
        if len(parts) >= 4 and parts[:3] == ["", "v1", "tunnels"] and parts[3] in ("7", "8", "9"):
            tid = int(parts[3])
            if self.command == "GET" and len(parts) == 4:
                if tid == 7:
                    seen["gets"] += 1
                return self.answer(200, {"tunnel": tunnel(tid)})
            if self.command == "POST" and parts[4:] == ["close"]:
                t = tunnel(tid)
                t["state"] = "closed"
                t["session"]["close_reason"] = "revoked"
                return self.answer(200, {"tunnel": t})
        return self.answer(404, {"error": {"code": "not_found", "message": "no such tunnel"}})
    do_GET = do_POST = handle_call

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(pki + "/ca.crt")
ctx.load_cert_chain(pki + "/tls/orchestrator.crt", pki + "/tls/orchestrator.key")
httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(httpd.server_address[1]))
os.rename(portfile + ".tmp", portfile)
httpd.serve_forever()
EOF

touch calls.log
python3 api.py "$work/pki" api.port calls.log "$token" 2>api.err &
api_pid=$!
for _ in $(seq 100); do [ -s api.port ] && break; sleep 0.1; done
[ -s api.port ] || { echo "the stand-in API did not start:" >&2; cat api.err >&2; exit 1; }
api="https://127.0.0.1:$(cat api.port)"
APPROVAL=(--server "$api" --cert pki/tls/approval-approval-oa.crt --key pki/tls/approval-approval-oa.key
          --cacert pki/ca.crt)
PROVIDER=(--server "$api" --cert pki/tls/provider-provider-ops.crt --key pki/tls/provider-provider-ops.key
          --cacert pki/ca.crt)
last_call() { tail -n1 calls.log | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); del d["approval"]["signature"]
json.dump(d, open("unsigned.json", "w"), ensure_ascii=False)' "$GC_SRCDIR/scripts/samples/tunnel.json"
expect "submit: an unsigned request refused before any call" 1 'approval.signature is missing: sign it with --sign' \
        tunnel submit unsigned.json "${APPROVAL[@]}"
"$GCCTL" request sign unsigned.json --key pki/sign/approval-approval-oa.key --out signed.json
expect "submit: accepted, the token printed" 0 "^token: $token\$" tunnel submit signed.json "${APPROVAL[@]}"
grep -q '^accepted: tunnel 7 → opening$' out.txt && grep -q 'shown only this once' out.txt \
        && pass "submit: the summary and the once-only note" || fail "submit: stdout: $(cat out.txt)"
[ "$(last_call method) $(last_call path) $(last_call cn)" = "POST /v1/tunnels approval-oa" ] \
        && pass "submit: POST /v1/tunnels as the approval system" || fail "submit: call: $(tail -n1 calls.log)"
expect "submit again: existing, no token" 0 '^token: not shown again' tunnel submit signed.json "${APPROVAL[@]}"
grep -q "$token" out.txt && fail "submit again: the token was printed" || pass "submit again: no token in the output"
sed -i 's/"purpose": "[^"]*"/"purpose": "second"/' unsigned.json
expect "submit --token-out: the token in the file" 0 "^token: written to t-out.token \\(mode 0600\\)" \
        tunnel submit unsigned.json --sign pki/sign/approval-approval-oa.key --token-out t-out.token "${APPROVAL[@]}"
[ "$(cat t-out.token)" = "$token" ] && [ "$(stat -c %a t-out.token)" = 600 ] && ! grep -q "$token" out.txt \
        && pass "submit --token-out: mode 0600, not printed" || fail "submit --token-out: $(stat -c %a t-out.token)"
sed -i 's/"purpose": "[^"]*"/"purpose": "third"/' unsigned.json
expect "submit --json --token-out" 0 '"token_file":\s+"t-json.token"' \
        tunnel submit unsigned.json --sign pki/sign/approval-approval-oa.key --token-out t-json.token --json \
        "${APPROVAL[@]}"
grep -q "$token" out.txt && fail "submit --json --token-out: token printed" \
        || pass "submit --json --token-out: no token on stdout"

expect "list: the table" 0 '^ID +STATE +UNIT +SYSTEM +VM +PORT +OPERATOR +HOST +ENDPOINT +DEADLINE +APPROVAL' \
        tunnel list "${PROVIDER[@]}"
grep -qE '^8 +closed +市xx局 +协同办公OA' out.txt && pass "list: a row" || fail "list: $(cat out.txt)"
expect "list --state --system" 0 '' tunnel list --state open --system 3 "${PROVIDER[@]}"
[ "$(last_call query)" = "state=open&system=3" ] && pass "list: ?state=open&system=3" \
        || fail "list: query $(last_call query)"
expect "show: fields" 0 '^session.close_reason: deadline$' tunnel show 8 "${PROVIDER[@]}"
expect "show --json" 0 '"tunnel":' tunnel show 8 --json "${PROVIDER[@]}"
expect "show: unknown tunnel" 1 'refused \(HTTP 404\): no such tunnel' tunnel show 5 "${PROVIDER[@]}"
expect "close: revoked" 0 '^close reason: revoked$' tunnel close 7 "${PROVIDER[@]}"
[ "$(last_call method) $(last_call path)" = "POST /v1/tunnels/7/close" ] && pass "close: POST /v1/tunnels/7/close" \
        || fail "close: $(tail -n1 calls.log)"

# connect, looking the tunnel up: closed, opening too long, opening -> open.
OPERATOR=(--server "$api" "${OP[@]}")
expect "connect: a closed tunnel" 1 'tunnel 8 is closed \(close reason: deadline\)' \
        tunnel connect 8 --token-file t7.token --stdio "${OPERATOR[@]}"
expect "connect: still opening after --wait" 1 'tunnel 9 is still opening after --wait 1 s' \
        tunnel connect 9 --token-file t7.token --stdio --wait 1 "${OPERATOR[@]}"
serve echo "${HOST1[@]}"
STDIN=in.txt expect "connect: waits while opening, then connects" 0 'tunnel 7: closed after' \
        tunnel connect 7 --token-file t7.token --stdio "${OPERATOR[@]}"
finish_server
grep -q 'tunnel 7 is opening; waiting up to 30 s' err.txt && [ "$(head -c 13 out.txt)" = "hello from vm" ] \
        && pass "connect: the endpoint from GET /v1/tunnels/7" || fail "connect lookup: $(cat err.txt)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
