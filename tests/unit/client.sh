#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# gcctl's client verbs without the orchestrator:
#  - request sign: the signature verifies with the openssl command over canonical
#    bytes computed here in python3 (an independent RFC 8785), SM2 and Ed25519;
#    a tampered document fails;
#  - connection settings: missing server (exit 2, the option named), a port that
#    refuses (exit 1, the URL named), profiles and their precedence;
#  - real HTTPS round trips against a small python3 http.server + ssl server
#    (TLS 1.3, client certificate required, a CA made here): tables, --json,
#    refusals, bodies sent, exit codes; TLS 1.2 and an untrusted server refused;
#  - vm list (filters, labels), host list's capacity columns, clock advance
#    (durations, the body, a server without the test clock);
#  - every verb's --help.
#
# Environment (from meson): GCCTL, GC_SRCDIR, GC_BUILDDIR.
set -euo pipefail

: "${GCCTL:?GCCTL must name the gcctl binary}"
: "${GC_SRCDIR:?GC_SRCDIR must name the source tree}"
[ -x "$GCCTL" ] || { echo "GCCTL=$GCCTL is not executable" >&2; exit 1; }
for tool in openssl python3 timeout; do
        if ! command -v "$tool" >/dev/null; then
                echo "SKIP: the $tool command is not installed" >&2
                exit 77
        fi
done

DATA="$GC_SRCDIR/tests/unit/data"
DISTID=1234567812345678
work=$(mktemp -d "${TMPDIR:-/tmp}/client.XXXXXX")
server_pids=()
cleanup() {
        local pid
        for pid in "${server_pids[@]}"; do
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        done
        rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# Nothing from the caller's environment may choose the connection.
unset GC_SERVER GC_CERT GC_KEY GC_CACERT GC_PROFILE
export HOME="$work/home" XDG_CONFIG_HOME="$work/xdg"
mkdir -p "$HOME" "$XDG_CONFIG_HOME"

passed=0
failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

# check NAME CMD...: CMD must succeed.
check() {
        local name=$1; shift
        if "$@" >check.out 2>&1; then
                pass "$name"
        else
                fail "$name"
                sed 's/^/     | /' check.out
        fi
}
fails() { ! "$@"; }

# run RC [env VAR=VALUE... --] ARGS...: gcctl ARGS, exit status must be RC;
# stdout in out.txt, stderr in err.txt.
run() {
        local want=$1 rc=0 vars=(); shift
        if [ "$1" = env ]; then
                shift
                while [ "$1" != -- ]; do vars+=("$1"); shift; done
                shift
        fi
        timeout 60 env "${vars[@]}" "$GCCTL" "$@" >out.txt 2>err.txt || rc=$?
        last_rc=$rc
        [ "$rc" -eq "$want" ]
}
# expect NAME RC PATTERN [env VAR=VALUE... --] ARGS...: exit status RC and PATTERN
# (grep -E) in stdout+stderr.
expect() {
        local name=$1 want=$2 pat=$3; shift 3
        if run "$want" "$@" && grep -qE -- "$pat" out.txt err.txt; then
                pass "$name"
        else
                fail "$name (exit $last_rc, want $want; pattern: $pat)"
                sed 's/^/     | out: /' out.txt | head -20
                sed 's/^/     | err: /' err.txt | head -20
        fi
}
check_eq() {
        if [ "$2" = "$3" ]; then
                pass "$1"
        else
                fail "$1"
                echo "     | got:  $2"
                echo "     | want: $3"
        fi
}

# --- an independent RFC 8785 in python3 -------------------------------------

cat >jcs.py <<'EOF'
# RFC 8785 for the documents of this test: keys sorted by UTF-16 code units,
# strings as ECMAScript's JSON.stringify writes them (json.dumps with
# ensure_ascii=False does the same escapes), integers as integers.
import base64, json, sys

def number(v):
    if isinstance(v, bool):
        raise TypeError
    if isinstance(v, int):
        return str(v)
    if v == 0:
        return "0"
    if v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    r = repr(v)
    if "e" in r or abs(v) < 1e-6:
        raise ValueError("no exponent forms in these tests: %r" % v)
    return r

def canon(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(canon(x) for x in v) + "]"
    keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canon(v[k]) for k in keys) + "}"

# split SIGNED CANON SIG: the canonical bytes without approval.signature, and the signature.
if sys.argv[1] == "split":
    doc = json.load(open(sys.argv[2], encoding="utf-8"))
    sig = doc["approval"].pop("signature")
    open(sys.argv[3], "wb").write(canon(doc).encode("utf-8"))
    open(sys.argv[4], "wb").write(base64.b64decode(sig, validate=True))
# strip IN OUT: the document without approval.signature, as JSON.
elif sys.argv[1] == "strip":
    doc = json.load(open(sys.argv[2], encoding="utf-8"))
    doc["approval"].pop("signature", None)
    json.dump(doc, open(sys.argv[3], "w", encoding="utf-8"), ensure_ascii=False)
# tamper IN OUT: one more vCPU on the first VM, signature kept.
elif sys.argv[1] == "tamper":
    doc = json.load(open(sys.argv[2], encoding="utf-8"))
    doc["vms"][0]["vcpus"] += 1
    json.dump(doc, open(sys.argv[3], "w", encoding="utf-8"), ensure_ascii=False)
# approval-id IN ID OUT: the same request with another approval id.
elif sys.argv[1] == "approval-id":
    doc = json.load(open(sys.argv[2], encoding="utf-8"))
    doc["approval"]["id"] = sys.argv[3]
    json.dump(doc, open(sys.argv[4], "w", encoding="utf-8"), ensure_ascii=False, indent=1)
EOF

openssl genpkey -algorithm SM2 -out sm2.pem 2>/dev/null
openssl pkey -in sm2.pem -pubout -out sm2.pub.pem
openssl genpkey -algorithm ed25519 -out ed.pem
openssl pkey -in ed.pem -pubout -out ed.pub.pem

verify_sm2() {  # SIGNED: openssl checks the signature over python's canonical bytes
        python3 jcs.py split "$1" "$1.canon" "$1.sig" &&
        openssl pkeyutl -verify -pubin -inkey sm2.pub.pem -rawin -in "$1.canon" -digest sm3 \
                -pkeyopt "distid:$DISTID" -sigfile "$1.sig"
}
verify_ed() {
        python3 jcs.py split "$1" "$1.canon" "$1.sig" &&
        openssl pkeyutl -verify -pubin -inkey ed.pub.pem -rawin -in "$1.canon" -sigfile "$1.sig"
}
same_canon_as_gcctl() {  # SIGNED: python's canonical bytes equal gcctl doc canon's
        python3 jcs.py strip "$1" "$1.unsigned" && cmp -s "$1.canon" <("$GCCTL" doc canon "$1.unsigned")
}

# --- request sign ------------------------------------------------------------

check "request sign (SM2) writes the signed request with --out" \
        "$GCCTL" request sign "$DATA/apply-oa.json" --key sm2.pem --out apply.sm2.json
check "SM2: the signature verifies with openssl pkeyutl (sm3, distid) over python's JCS bytes" \
        verify_sm2 apply.sm2.json
check "SM2: python's canonical bytes are gcctl doc canon's" same_canon_as_gcctl apply.sm2.json
check "SM2: the signature is DER (SEQUENCE)" \
        test "$(head -c1 apply.sm2.json.sig | od -An -tx1 | tr -d ' ')" = 30
python3 jcs.py tamper apply.sm2.json tampered.sm2.json
check "SM2: a tampered request fails openssl verification" fails verify_sm2 tampered.sm2.json
check "the signed request keeps every other member" \
        python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
a["approval"].pop("signature"); assert a == b' apply.sm2.json "$DATA/apply-oa.json"

"$GCCTL" request sign - --key ed.pem <"$DATA/apply-oa.json" >apply.ed.json
check "Ed25519: the signature verifies with openssl pkeyutl -rawin" verify_ed apply.ed.json
check_eq "Ed25519: the signature is 64 bytes" "$(stat -c %s apply.ed.json.sig)" 64
python3 jcs.py tamper apply.ed.json tampered.ed.json
check "Ed25519: a tampered request fails openssl verification" fails verify_ed tampered.ed.json
"$GCCTL" request sign "$DATA/apply-oa.json" --key ed.pem >apply.ed2.json
check "Ed25519: signing is deterministic" cmp -s apply.ed.json apply.ed2.json

# Keys outside the BMP, U+FF61 and other code points whose UTF-16 order differs from their
# code point order; a stale signature that must be replaced, not signed over.
check "request sign replaces an existing approval.signature" \
        "$GCCTL" request sign "$DATA/sign-jcs.json" --key sm2.pem --out jcs.sm2.json
check "SM2: signature over keys sorted by UTF-16 code units verifies" verify_sm2 jcs.sm2.json
check "SM2: python's JCS of the odd keys is gcctl doc canon's" same_canon_as_gcctl jcs.sm2.json
"$GCCTL" request sign "$DATA/sign-jcs.json" --key ed.pem --out jcs.ed.json
check "Ed25519: signature over keys sorted by UTF-16 code units verifies" verify_ed jcs.ed.json

expect "request sign without --key is a usage error" 2 "--key KEY.pem is required" \
        request sign "$DATA/apply-oa.json"
expect "request sign without FILE is a usage error" 2 "missing FILE" request sign --key sm2.pem
expect "request sign with a public key fails" 1 "public key" \
        request sign "$DATA/apply-oa.json" --key sm2.pub.pem
printf '{"approval": {"id": "a"}, "unit": "x", "unit": "y"}' >dup.json
expect "request sign refuses duplicate keys (strict JSON)" 1 'not strict JSON: .*unit' \
        request sign dup.json --key sm2.pem
printf '{"unit": "x"}' >noapproval.json
expect "request sign refuses a document without approval" 1 'no "approval" object' \
        request sign noapproval.json --key sm2.pem
check "request sign never prints the private key" \
        fails grep -q PRIVATE apply.sm2.json apply.ed.json

# --- connection settings -------------------------------------------------------

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
closed=$(free_port)
closed_url="https://127.0.0.1:$closed"

if [ -e /etc/govcloud/gcctl.json ]; then
        echo "skip the missing-server checks: /etc/govcloud/gcctl.json exists on this machine"
else
        expect "no server: exit 2 naming --server and GC_SERVER" 2 "--server URL.*GC_SERVER" unit list
        expect "no server for request submit too" 2 "--server URL" request submit apply.sm2.json
fi
expect "no client certificate: exit 2 naming --cert" 2 "--cert FILE.*GC_CERT" \
        unit list --server "$closed_url"
expect "an http:// server is a usage error" 2 "not an https:// URL" \
        unit list --server "http://127.0.0.1:$closed" --cert sm2.pem

# --- a CA, the server's and the clients' certificates --------------------------

mkdir pki
(
        cd pki
        ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
        ca() {  # NAME CN
                ec "$1.key"
                openssl req -x509 -new -key "$1.key" -subj "/O=govcloud test/CN=$2" -days 2 \
                        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
                        -out "$1.crt" 2>/dev/null
        }
        leaf() {  # NAME SUBJECT EXTENSIONS [CA]
                ec "$1.key"
                openssl req -new -utf8 -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
                printf '%b' "$3" >"$1.ext"
                openssl x509 -req -in "$1.csr" -CA "${4:-ca}.crt" -CAkey "${4:-ca}.key" -CAcreateserial \
                        -days 2 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
        }
        ca ca "test CA"
        ca other-ca "another CA"
        leaf server "/O=govcloud test/CN=localhost" \
                "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"
        leaf authority "/O=govcloud test/OU=authority/CN=市政务服务管理局" "extendedKeyUsage=clientAuth"
        leaf tenant "/O=govcloud test/OU=tenant/CN=市xx局" "extendedKeyUsage=clientAuth"
        leaf approval "/O=govcloud test/OU=approval/CN=approval-oa" "extendedKeyUsage=clientAuth"
        leaf agent "/O=govcloud test/OU=host/CN=cn-node-01" "extendedKeyUsage=clientAuth"
        cat authority.crt authority.key >authority.pem
)

# --- the server ------------------------------------------------------------------

cat >server.py <<'EOF'
# A stand-in for the orchestrator's API: TLS 1.3 (or only up to 1.2 with
# "tls12"; without the test clock with "noclock"), a client certificate
# required, canned answers, and a log of every call (method, path, the
# client's CN and OU, TLS version, body).
import datetime, http.server, json, ssl, sys, urllib.parse

pki, portfile, logfile, mode = sys.argv[1:5]

UNITS = [
    {"id": 1, "name": "市xx局", "credit_code": "11340000MB0000000X", "contact": "张三 0564-3300000",
     "created": "2025-02-01T09:00:00+08:00"},
    {"id": 2, "name": "Municipal Data Bureau", "credit_code": None, "contact": "",
     "created": "2025-02-02T09:00:00+08:00"},
]
SYSTEM = {"id": 3, "unit": "市xx局", "name": "协同办公OA", "mlps_level": 2, "availability": "99.9%",
          "classified": False, "state": "requested", "pool": "egov-x86",
          "agreement": {"reference": "安全责任书-2025-017", "signed_on": "2025-03-01",
                        "signatories": ["市xx局", "政务云服务商"], "document_sha256": "ab" * 32},
          "admission": None, "vm_count": 3}
VMS = [
    {"name": "市xx局-协同办公OA-应用服务器-01", "role": "应用服务器", "number": 1, "arch": "x86", "vcpus": 4,
     "memory_gib": 8, "system_disk": {"gib": 50, "type": "SSD"}, "data_disk": {"gib": 200, "type": "SAS"},
     "os": "银河麒麟V10", "network": "egov", "ports": [443, 8443], "state": "requested"},
    {"name": "市xx局-协同办公OA-应用服务器-02", "role": "应用服务器", "number": 2, "arch": "x86", "vcpus": 4,
     "memory_gib": 8, "system_disk": {"gib": 50, "type": "SSD"}, "data_disk": {"gib": 200, "type": "SAS"},
     "os": "银河麒麟V10", "network": "egov", "ports": [443, 8443], "state": "requested"},
]
TRANSITIONS = [{"from": None, "to": "requested", "time": "2025-03-03T10:05:00+08:00",
                "actor": "approval-oa", "request": 12}]
HOSTS = [
    {"name": "cn-node-01", "pool": "egov-x86", "underlay_address": "10.20.0.11", "operations_address": "10.30.0.11",
     "certificate_sha256": None, "state": "registered", "vcpus": None, "memory_mib": None, "storage_gib": None,
     "arch": None, "hypervisor": None, "last_seen": None, "created": "2026-11-01T08:00:00Z", "vm_count": 0},
    {"name": "cn-node-02", "pool": "egov-x86", "underlay_address": "10.20.0.12", "operations_address": "10.30.0.12",
     "certificate_sha256": None, "state": "up", "vcpus": 64, "memory_mib": 262144, "storage_gib": 4000,
     "arch": "x86", "hypervisor": "kvm", "last_seen": "2026-11-21T05:59:30Z", "created": "2026-11-01T08:00:00Z",
     "vm_count": 2},
    {"name": "cn-node-03", "pool": "egov-x86", "underlay_address": "10.20.0.13", "operations_address": "10.30.0.13",
     "certificate_sha256": None, "state": "down", "vcpus": 8, "memory_mib": 7680, "storage_gib": 500,
     "arch": "arm", "hypervisor": "kvm", "last_seen": "2026-11-20T23:00:00Z", "created": "2026-11-01T08:00:00Z",
     "vm_count": 0},
]
def vm(number, host, state, labels, data_disk):
    return {"id": 20 + number, "name": "市xx局-协同办公OA-应用服务器-%02d" % number, "system_id": 3,
            "system": "协同办公OA", "unit": "市xx局", "role": "应用服务器", "number": number,
            "uuid": None if host is None else "6f1c2a4e-0000-4000-8000-%012d" % number, "host": host,
            "state": state, "labels_state": labels, "arch": "x86", "vcpus": 4, "memory_gib": 8,
            "system_disk": {"gib": 40, "type": "SSD"}, "data_disk": data_disk, "os": "银河麒麟V10",
            "network": "egov", "ports": [443], "observed": None if host is None else {"state": state},
            "request_id": 12}
FLEET = [vm(1, "cn-node-02", "running", "in_sync", {"gib": 200, "type": "SAS"}),
         vm(2, "cn-node-02", "running", "drifted", {"gib": 200, "type": "SAS"}),
         vm(3, None, "planned", "unknown", None)]
CLOCK_BASE = datetime.datetime(2026, 11, 21, 6, 0, 0, tzinfo=datetime.timezone.utc)
clock_offset = 0
REQUEST = {"id": 12, "kind": "apply", "system_id": 3, "unit": "市xx局", "system": "协同办公OA",
           "approval_system": "approval-oa", "approval_id": "OA-2025-0002", "digest": "cd" * 32,
           "received": "2025-03-03T10:05:00+08:00", "outcome": "accepted"}

def error(code, message, field="", value="", rule=""):
    return {"error": {"code": code, "field": field, "value": value, "message": message, "rule": rule}}

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def peer(self, key):
        cert = self.connection.getpeercert()
        return [v for rdn in cert["subject"] for k, v in rdn if k == key][0]

    def answer(self, status, doc=None, raw=None, ctype="application/json"):
        body = raw if raw is not None else json.dumps(doc, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_call(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else None
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        with open(logfile, "a", encoding="utf-8") as f:
            f.write(json.dumps({"method": self.command, "path": url.path, "query": query,
                                "cn": self.peer("commonName"), "ou": self.peer("organizationalUnitName"),
                                "tls": self.connection.version(), "ctype": self.headers.get("Content-Type"),
                                "body": body}, ensure_ascii=False) + "\n")
        doc = json.loads(body) if body else None
        route = (self.command, url.path)

        if route == ("GET", "/v1/units"):
            return self.answer(200, {"units": UNITS})
        if route == ("POST", "/v1/units"):
            return self.answer(201, {"unit": dict(doc, id=7, created="2025-03-04T08:00:00+08:00")})
        if route == ("GET", "/v1/systems"):
            rows = [dict(SYSTEM, admission={"result": "passed"})]
            if query.get("unit") not in (None, "市xx局"):
                rows = []
            return self.answer(200, {"systems": rows})
        if route == ("POST", "/v1/systems"):
            return self.answer(201, {"system": dict(doc, id=4, state="registered", pool=None,
                                                    agreement=None, admission=None, vm_count=0)})
        if route == ("GET", "/v1/systems/3"):
            return self.answer(200, {"system": dict(SYSTEM, vms=VMS, transitions=TRANSITIONS)})
        if route == ("PUT", "/v1/systems/3/agreement"):
            return self.answer(200, {"system": dict(SYSTEM, agreement=doc)})
        if route == ("PUT", "/v1/systems/3/admission"):
            return self.answer(200, {"system": dict(SYSTEM, admission=doc)})
        if route == ("POST", "/v1/requests"):
            approval_id = doc["approval"]["id"]
            if approval_id == "OA-2025-0001":
                return self.answer(422, error("invalid_name", "does not follow unit+system+role+number",
                                              "vms[0].names[0]", "web1", "R-NM2"))
            result = {"existing": approval_id == "OA-2025-0003", "request": REQUEST,
                      "system": {"id": 3, "unit": "市xx局", "name": "协同办公OA", "state": "requested"},
                      "vms": [{"name": v["name"], "role": v["role"], "number": v["number"]} for v in VMS]}
            return self.answer(200 if result["existing"] else 201, result)
        if route == ("GET", "/v1/requests"):
            return self.answer(200, {"requests": [REQUEST] if query.get("system") in (None, "3") else []})
        if route == ("GET", "/v1/requests/12"):
            return self.answer(200, {"request": dict(REQUEST, document={"schema": "govcloud-request/1",
                                                                         "kind": "apply"})})
        if route == ("GET", "/v1/requests/97"):
            return self.answer(200, raw=b'{"pad": "' + b"x" * (17 * 1024 * 1024) + b'"}')
        if route == ("GET", "/v1/requests/98"):
            return self.answer(200, raw=b'{"request": {"id": 98, "id": 99}}')
        if route == ("GET", "/v1/requests/99"):
            return self.answer(502, raw=b"<html>bad gateway</html>", ctype="text/html")
        if route == ("GET", "/v1/keys"):
            return self.answer(200, {"keys": [{"id": 1, "party": "tenant", "unit": "市xx局", "holder": "张三",
                                               "key_type": "sm2", "fingerprint": "sha256:" + "ef" * 32,
                                               "created": "2025-02-03T09:00:00+08:00"}]})
        if route == ("POST", "/v1/keys"):
            return self.answer(201, {"key": {"id": 2, "party": doc["party"], "unit": doc.get("unit"),
                                             "holder": doc["holder"], "key_type": "sm2",
                                             "fingerprint": "sha256:" + "01" * 32, "created": "2025-03-04"}})
        if route == ("GET", "/v1/approval-systems"):
            if self.peer("organizationalUnitName") not in ("authority", "provider"):
                return self.answer(403, error("forbidden", "the role tenant may not do this"))
            return self.answer(200, {"approval_systems": [{"id": "approval-oa", "name": "市政务服务审批系统",
                                                           "key_type": "sm2", "fingerprint": "sha256:" + "aa" * 32,
                                                           "created": "2025-02-01T10:00:00+08:00"}]})
        if route == ("POST", "/v1/approval-systems"):
            return self.answer(201, {"approval_system": {"id": doc["id"], "name": doc["name"], "key_type": "ed25519",
                                                         "fingerprint": "sha256:" + "02" * 32,
                                                         "created": "2025-03-04"}})
        if route == ("GET", "/v1/pools"):
            return self.answer(200, {"pools": [{"name": "egov-x86", "pack": "luan", "jurisdiction": "六安市",
                                                "arch": ["x86", "arm"]}]})
        if route == ("GET", "/v1/hosts"):
            return self.answer(200, {"hosts": HOSTS})
        if route == ("GET", "/v1/vms"):
            if "system" in query and query["system"] not in ("3", "4"):
                return self.answer(400, error("invalid_query", "is not a system id", "system", query["system"]))
            return self.answer(200, {"vms": FLEET if query.get("system") in (None, "3") else []})
        if route == ("POST", "/v1/test/clock"):
            global clock_offset
            if mode == "noclock":
                return self.answer(404, error("not_found",
                                              "the test clock is off (gc-orchestrator --unsafe-test-clock)"))
            clock_offset += doc["advance_seconds"]
            now = CLOCK_BASE + datetime.timedelta(seconds=clock_offset)
            return self.answer(200, {"now": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "offset_seconds": clock_offset})
        if route == ("POST", "/v1/hosts"):
            return self.answer(201, {"host": dict(doc, state="registered")})
        if route == ("GET", "/v1/audit"):
            return self.answer(200, {"records": [
                {"seq": int(query.get("after", 0)) + 1, "time": "2025-03-03T10:05:00+08:00", "actor": "approval-oa",
                 "role": "approval", "action": "request.submit", "object": "system/3", "approval": "OA-2025-0001",
                 "outcome": "refused", "rule": "R-NM2", "detail": {"field": "vms[0].names[0]"},
                 "hash": "12" * 32, "prev": "34" * 32}]})
        return self.answer(404, error("not_found", "no such object"))

    do_GET = do_POST = do_PUT = handle_call

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
if mode == "tls12":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(pki + "/ca.crt")
ctx.load_cert_chain(pki + "/server.crt", pki + "/server.key")
httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(httpd.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
httpd.serve_forever()
EOF

start_server() {  # MODE PORTFILE LOG
        python3 server.py "$work/pki" "$2" "$3" "$1" 2>>server.err &
        server_pids+=($!)
        for _ in $(seq 100); do
                [ -s "$2" ] && return 0
                sleep 0.1
        done
        echo "the test server did not start:" >&2
        cat server.err >&2
        exit 1
}
start_server tls13 port.txt calls.log
server="https://127.0.0.1:$(cat port.txt)"
as_authority=(--server "$server" --cert pki/authority.crt --key pki/authority.key --cacert pki/ca.crt)
as_tenant=(--server "$server" --cert pki/tenant.crt --key pki/tenant.key --cacert pki/ca.crt)
as_approval=(--server "$server" --cert pki/approval.crt --key pki/approval.key --cacert pki/ca.crt)

# last_call FIELD: a field of the server's last logged call.
last_call() { tail -n1 calls.log | python3 -c 'import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; sys.stdout.write(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))' "$1"; }
calls() { wc -l <calls.log; }
touch calls.log

expect "a port that refuses: exit 1 naming the URL" 1 "$closed_url/v1/units: .*(onnect|refused)" \
        unit list --server "$closed_url" --cert pki/authority.crt --key pki/authority.key
expect "a missing client certificate file: exit 1 naming it" 1 "client certificate nonexistent.crt" \
        unit list --server "$server" --cert nonexistent.crt

# --- unit list: TLS 1.3, the client certificate, the table ----------------------

expect "unit list over HTTPS: the table" 0 "^ID +NAME +CREDIT CODE +CONTACT +CREATED" unit list "${as_authority[@]}"
check_eq "the server saw TLS 1.3" "$(last_call tls)" "TLSv1.3"
check_eq "the server saw the client certificate's CN" "$(last_call cn)" "市政务服务管理局"
check_eq "GET /v1/units was asked" "$(last_call method) $(last_call path)" "GET /v1/units"
cp out.txt units.txt
check "unit list: rows with CJK names, null as '-'" \
        grep -qE '^2 +Municipal Data Bureau +- ' units.txt
# Columns line up by display width: a CJK character takes two columns.
check "unit list: columns aligned by display width (CJK counts 2)" python3 - units.txt <<'EOF'
import sys, unicodedata
def width(s):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
cols = set()
for line, cell in zip(lines, ["CREDIT CODE", "11340000MB0000000X", "-"]):
    cols.add(width(line[:line.index(cell, line.index("  "))]))
assert len(lines) == 3 and len(cols) == 1, (lines, cols)
EOF
expect "global --json prints the server's body" 0 '"units"' --json unit list "${as_authority[@]}"
check "--json: stdout is the server's document" python3 -c '
import json, sys
doc = json.load(open("out.txt", encoding="utf-8"))
assert doc["units"][0]["name"] == "市xx局" and doc["units"][1]["credit_code"] is None, doc'
expect "leaf --json works the same" 0 '"credit_code"' unit list --json "${as_authority[@]}"

# --- connection settings: profiles and precedence ---------------------------------

cat >pki/profile.json <<EOF
{"server": "$server", "cert": "authority.crt", "key": "authority.key", "cacert": "ca.crt"}
EOF
expect "--profile: relative paths are the profile's directory's" 0 "^1 +市xx局" unit list --profile pki/profile.json
expect "GC_PROFILE names the profile" 0 "^1 +市xx局" env GC_PROFILE=pki/profile.json -- unit list
mkdir -p "$XDG_CONFIG_HOME/govcloud"
cat >"$XDG_CONFIG_HOME/govcloud/gcctl.json" <<EOF
{"server": "$closed_url", "cert": "$work/pki/authority.crt", "key": "$work/pki/authority.key",
 "cacert": "$work/pki/ca.crt"}
EOF
expect "the XDG profile is read when nothing else names a server" 1 "$closed_url/v1/units" unit list
expect "GC_SERVER beats the profile" 0 "^1 +市xx局" env GC_SERVER="$server" -- unit list
expect "--server beats GC_SERVER" 0 "^1 +市xx局" \
        env GC_SERVER="$closed_url" -- unit list --server "$server"
expect "GC_CERT and GC_KEY beat the profile" 0 "^1 +市xx局" \
        env GC_SERVER="$server" GC_CERT="$work/pki/tenant.crt" GC_KEY="$work/pki/tenant.key" -- unit list
check_eq "... and the server saw GC_CERT's certificate" "$(last_call ou)" "tenant"
expect "--cert with the key in the same file" 0 "^1 +市xx局" \
        unit list --server "$server" --cert pki/authority.pem --cacert pki/ca.crt
rm "$XDG_CONFIG_HOME/govcloud/gcctl.json"
printf '{"server": "%s", "certificate": "x"}' "$server" >bad-profile.json
expect "a profile with an unknown setting is a usage error" 2 "profile bad-profile.json: certificate: is not a profile setting" \
        unit list --profile bad-profile.json
expect "a named profile that is missing is a usage error" 2 "profile nonexistent.json: cannot be read" \
        unit list --profile nonexistent.json

# --- TLS: the server is checked, TLS 1.3 only ----------------------------------------

expect "a server certificate from another CA: exit 1" 1 "$server/v1/units: .*(certificate|SSL)" \
        unit list "${as_authority[@]}" --cacert pki/other-ca.crt
start_server tls12 port12.txt calls12.log
expect "a server that offers only TLS 1.2: exit 1" 1 "https://127.0.0.1:$(cat port12.txt)/v1/units: " \
        unit list --server "https://127.0.0.1:$(cat port12.txt)" --cert pki/authority.crt \
        --key pki/authority.key --cacert pki/ca.crt

# --- request submit ---------------------------------------------------------------------

n=$(calls)
expect "request submit: the refusal with field, value and rule, exit 1" 1 \
        '^gcctl: refused \(HTTP 422\): vms\[0\]\.names\[0\]: "web1" does not follow unit\+system\+role\+number \(R-NM2\) \[invalid_name\]$' \
        request submit apply.sm2.json "${as_approval[@]}"
check_eq "POST /v1/requests was sent once, as application/json" \
        "$(($(calls) - n)) $(last_call method) $(last_call path) $(last_call ctype)" "1 POST /v1/requests application/json"
last_call body >sent.json
check "a signed file is sent as it is" cmp -s sent.json apply.sm2.json
expect "request submit --json: the refusal body on stdout, exit 1" 1 '"code":[[:space:]]*"invalid_name"' \
        --json request submit apply.sm2.json "${as_approval[@]}"
check "--json refusal: stdout is the server's error document" python3 -c '
import json
assert json.load(open("out.txt", encoding="utf-8"))["error"]["rule"] == "R-NM2"'

python3 jcs.py approval-id "$DATA/apply-oa.json" OA-2025-0002 apply2.json
expect "request submit --sign: accepted, the system and its new state" 0 \
        '^accepted: request 12, system 3 协同办公OA → requested$' \
        request submit apply2.json --sign sm2.pem "${as_approval[@]}"
check "request submit lists the VMs' names" grep -qE '^市xx局-协同办公OA-应用服务器-02 +应用服务器 +2$' out.txt
last_call body >sent2.json
check "--sign: the body is compact JSON" python3 -c '
import json
body = open("sent2.json", encoding="utf-8").read().rstrip("\n")
assert body == json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)' 
check "--sign: the body's signature verifies with openssl" verify_sm2 sent2.json

python3 jcs.py approval-id apply.ed.json OA-2025-0003 apply3.json
"$GCCTL" request sign apply3.json --key ed.pem --out apply3.json
expect "request submit, HTTP 200: existing" 0 '^existing: request 12, system 3 协同办公OA → requested$' \
        request submit apply3.json "${as_approval[@]}"

n=$(calls)
expect "request submit of an unsigned file without --sign: exit 1, nothing sent" 1 "approval.signature is missing" \
        request submit "$DATA/apply-oa.json" "${as_approval[@]}"
check_eq "... and nothing reached the server" "$(calls)" "$n"
expect "options may follow or precede the FILE" 0 '^accepted' request submit --sign ed.pem apply2.json "${as_approval[@]}"

# --- request show / list: answers that are not what they should be -------------------------

expect "request show: fields, then the document" 0 '^approval_id: OA-2025-0002$' request show 12 "${as_authority[@]}"
check "request show prints the document" grep -q '"schema":.*"govcloud-request/1"' out.txt
expect "request show ID must be a number" 2 'ID: "x" is not a whole number' request show x "${as_authority[@]}"
expect "a 404 with an error body: refused, exit 1" 1 '^gcctl: refused \(HTTP 404\): no such object \[not_found\]$' \
        request show 1234 "${as_authority[@]}"
expect "an HTML 502: exit 1, the status and that it is not JSON" 1 "/v1/requests/99: HTTP 502.*text/html.*not strict JSON" \
        request show 99 "${as_authority[@]}"
expect "an answer with duplicate keys is refused (strict parse)" 1 "not strict JSON" \
        request show 98 "${as_authority[@]}"
expect "an answer over 16 MiB is refused" 1 "larger than 16 MiB" request show 97 "${as_authority[@]}"
expect "request list --system: the table" 0 '^12 +apply +3 +市xx局 +协同办公OA +approval-oa +OA-2025-0002' \
        request list --system 3 "${as_authority[@]}"
check_eq "... with ?system=3" "$(last_call query)" '{"system": "3"}'

# --- systems ------------------------------------------------------------------------------

expect "system list --unit: the query is escaped, the table" 0 '^3 +市xx局 +协同办公OA +2 +99\.9% +no +requested +egov-x86 +安全责任书-2025-017 +passed +3$' \
        system list --unit 市xx局 "${as_authority[@]}"
check_eq "... the server decoded the unit" "$(last_call query)" '{"unit": "市xx局"}'
expect "system show: fields, nested objects flattened" 0 '^agreement\.signatories: 市xx局, 政务云服务商$' \
        system show 3 "${as_authority[@]}"
check "system show: null as '-'" grep -q '^admission: -$' out.txt
check "system show: the VMs table" grep -qE '^市xx局-协同办公OA-应用服务器-01 +应用服务器 +1 +x86 +4 +8 GiB +50 GiB SSD +200 GiB SAS +银河麒麟V10 +egov +443, 8443 +requested$' out.txt
check "system show: the transitions table" grep -qE '^2025-03-03T10:05:00\+08:00 +- +requested +approval-oa +12$' out.txt

expect "system register: the body, the answer" 0 '^state: registered$' \
        system register --unit 市xx局 --name 协同办公OA --mlps 2 --availability 99.9% "${as_authority[@]}"
check_eq "system register: the body sent" "$(last_call body)" \
        '{"unit":"市xx局","name":"协同办公OA","mlps_level":2,"availability":"99.9%","classified":false}'
expect "system register --mlps 4 is a usage error" 2 '--mlps: "4" is not a whole number from 0 to 3' \
        system register --unit u --name n --mlps 4 --availability 99% "${as_authority[@]}"
expect "system register without --name is a usage error" 2 "required" \
        system register --unit u --mlps 1 --availability 99% "${as_authority[@]}"

printf 'signed agreement, scanned\n' >agreement.pdf
expect "system agreement: PUT with the document's SHA-256" 0 '^agreement\.reference: 安全责任书-2025-018$' \
        system agreement 3 --reference 安全责任书-2025-018 --signed-on 2025-03-02 \
        --signatory 市xx局 --signatory 政务云服务商 --document agreement.pdf "${as_authority[@]}"
check_eq "system agreement: the body sent" "$(last_call method) $(last_call path) $(last_call body)" \
        "PUT /v1/systems/3/agreement {\"reference\":\"安全责任书-2025-018\",\"signed_on\":\"2025-03-02\",\"signatories\":[\"市xx局\",\"政务云服务商\"],\"document_sha256\":\"$(sha256sum agreement.pdf | cut -d' ' -f1)\"}"
expect "system agreement with one signatory is a usage error" 2 "at least two" \
        system agreement 3 --reference r --signed-on 2025-03-02 --signatory a --document agreement.pdf
expect "system agreement --signed-on must be a date" 2 'not a date' \
        system agreement 3 --reference r --signed-on 2025-02-30 --signatory a --signatory b --document agreement.pdf
expect "system admission: PUT the file" 0 '^admission\.security_test_reports\[0\]\.reference: 安测-2025-011$' \
        system admission 3 "$DATA/admission-oa.json" "${as_authority[@]}"
check "system admission: the body is the file's document" python3 -c '
import json, sys
sent = json.loads(json.loads(open("calls.log", encoding="utf-8").read().splitlines()[-1])["body"])
assert sent == json.load(open(sys.argv[1], encoding="utf-8"))' "$DATA/admission-oa.json"

# --- units, keys, hosts, pools, audit ------------------------------------------------------

expect "unit add: the body, the answer" 0 '^id: 7$' \
        unit add 市yy局 --credit-code 11340000MB0000001X --contact "李四 0564-3300001" "${as_authority[@]}"
check_eq "unit add: the body sent" "$(last_call body)" \
        '{"name":"市yy局","credit_code":"11340000MB0000001X","contact":"李四 0564-3300001"}'

expect "key add --party tenant: POST /v1/keys" 0 '^holder: 张三$' \
        key add --party tenant --unit 市xx局 --holder 张三 --public sm2.pub.pem "${as_authority[@]}"
check_eq "key add: the public key sent is the file's" "$(last_call body | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"], end="")')" \
        "$(cat sm2.pub.pem)"
check_eq "key add: POST /v1/keys" "$(last_call path)" "/v1/keys"
n=$(calls)
expect "key add with a private key: exit 1, nothing sent" 1 "a private key" \
        key add --party tenant --unit 市xx局 --holder 张三 --public sm2.pem "${as_authority[@]}"
check_eq "... nothing reached the server" "$(calls)" "$n"
check "no private key material ever reached the server" fails grep -q PRIVATE calls.log
expect "key add --party approval: POST /v1/approval-systems" 0 '^id: approval-oa$' \
        key add --party approval --id approval-oa --name 市政务服务审批系统 --public ed.pub.pem "${as_authority[@]}"
check_eq "key add --party approval: the body" "$(last_call path) $(last_call body | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(d))')" \
        "/v1/approval-systems ['id', 'name', 'public_key']"
expect "key add --party approval needs --id" 2 "needs --id" key add --party approval --name n --public ed.pub.pem
expect "key add --party tenant needs --unit" 2 "needs --unit" key add --party tenant --holder h --public ed.pub.pem
expect "key add --party nobody is a usage error" 2 'is not tenant, provider' key add --party nobody --holder h --public ed.pub.pem
expect "key list: both tables" 0 '^approval-oa +市政务服务审批系统 +sm2' key list "${as_authority[@]}"
check "key list: the keys table" grep -qE '^1 +tenant +市xx局 +张三 +sm2 +sha256:' out.txt
expect "key list as a tenant: keys, and a note for approval systems" 0 "approval systems are not shown" \
        key list "${as_tenant[@]}"
check "... the tenant still gets its keys" grep -qE '^1 +tenant +市xx局' out.txt
check_eq "... and did not ask for approval systems (an audited denial)" "$(last_call path)" "/v1/keys"
expect "key list as a role the server refuses approval systems to: a note" 0 "not shown: .*\(HTTP 403\)" \
        key list --server "$server" --cert pki/agent.crt --key pki/agent.key --cacert pki/ca.crt
check_eq "... it asked" "$(last_call path)" "/v1/approval-systems"
expect "key list --json: one object with both lists" 0 '"approval_systems"' --json key list "${as_authority[@]}"
check "key list --json: keys and approval_systems" python3 -c '
import json
d = json.load(open("out.txt", encoding="utf-8"))
assert sorted(d) == ["approval_systems", "keys"] and d["approval_systems"][0]["id"] == "approval-oa", d'

expect "host add --agent-cert: the certificate's SHA-256" 0 '^name: cn-node-01$' \
        host add cn-node-01 --pool egov-x86 --underlay 10.20.0.11 --ops 10.30.0.11 \
        --agent-cert pki/agent.crt "${as_authority[@]}"
check_eq "host add: the body sent" "$(last_call body)" \
        "{\"name\":\"cn-node-01\",\"pool\":\"egov-x86\",\"underlay_address\":\"10.20.0.11\",\"operations_address\":\"10.30.0.11\",\"certificate_sha256\":\"$(openssl x509 -in pki/agent.crt -outform DER | sha256sum | cut -d' ' -f1)\"}"
expect "host add: a certificate for another name is refused" 1 'CN is "cn-node-01", not the host' \
        host add cn-node-02 --pool egov-x86 --underlay 10.20.0.12 --ops 10.30.0.12 --agent-cert pki/agent.crt
expect "host add: a file that is not a certificate" 1 "not a PEM certificate" \
        host add cn-node-01 --pool p --underlay 10.20.0.11 --ops 10.30.0.11 --agent-cert sm2.pub.pem
expect "host list: the table, a host whose agent never called" 0 \
        '^cn-node-01 +egov-x86 +10\.20\.0\.11 +10\.30\.0\.11 +registered +- +- +- +- +0 +-$' host list "${as_authority[@]}"
check "host list: the header has the capacity columns" \
        grep -qE '^NAME +POOL +UNDERLAY +OPERATIONS +STATE +CERTIFICATE +VCPUS +MEMORY +ARCH +VMS +LAST SEEN$' out.txt
check "host list: a host that is up, MiB as GiB" \
        grep -qE '^cn-node-02 +egov-x86 +10\.20\.0\.12 +10\.30\.0\.12 +up +- +64 +256 GiB +x86 +2 +2026-11-21T05:59:30Z$' out.txt
check "host list: memory that is not whole GiB has one decimal" \
        grep -qE '^cn-node-03 .* down +- +8 +7\.5 GiB +arm +0 +2026-11-20T23:00:00Z$' out.txt
check_eq "host list: GET /v1/hosts" "$(last_call method) $(last_call path)" "GET /v1/hosts"
expect "host list --json: the server's body" 0 '"memory_mib"' --json host list "${as_authority[@]}"
check "host list --json: every host, nulls kept" python3 -c '
import json
d = json.load(open("out.txt", encoding="utf-8"))
assert [h["name"] for h in d["hosts"]] == ["cn-node-01", "cn-node-02", "cn-node-03"], d
assert d["hosts"][0]["last_seen"] is None and d["hosts"][1]["memory_mib"] == 262144, d'

# --- vm list ---------------------------------------------------------------------------------

expect "vm list: the header" 0 '^NAME +SYSTEM +HOST +STATE +VCPUS +MEMORY +SYSTEM DISK +DATA DISK +LABELS$' \
        vm list "${as_authority[@]}"
check_eq "vm list: GET /v1/vms without a query" "$(last_call method) $(last_call path) $(last_call query)" "GET /v1/vms {}"
cp out.txt vms.txt
check "vm list: a running VM in sync, sizes rendered" \
        grep -qE '^市xx局-协同办公OA-应用服务器-01 +协同办公OA +cn-node-02 +running +4 +8 GiB +40 GiB SSD +200 GiB SAS +in sync$' vms.txt
check "vm list: drifted labels stand out" \
        grep -qE '^市xx局-协同办公OA-应用服务器-02 +协同办公OA +cn-node-02 +running +4 +8 GiB +40 GiB SSD +200 GiB SAS +DRIFTED$' vms.txt
check "vm list: a planned VM: no host, no data disk, labels unknown as '-'" \
        grep -qE '^市xx局-协同办公OA-应用服务器-03 +协同办公OA +- +planned +4 +8 GiB +40 GiB SSD +- +-$' vms.txt
check_eq "vm list: one line per VM" "$(wc -l <vms.txt)" 4
expect "vm list --system 3: the query" 0 '应用服务器-03' vm list --system 3 "${as_authority[@]}"
check_eq "... with ?system=3" "$(last_call query)" '{"system": "3"}'
expect "vm list --system of a system without VMs: (none)" 0 '^\(none\)$' vm list --system 4 "${as_authority[@]}"
expect "vm list --host: only that host's VMs, filtered here" 0 '应用服务器-02 .* DRIFTED$' \
        vm list --host cn-node-02 "${as_authority[@]}"
check_eq "... two rows under the header" "$(wc -l <out.txt)" 3
check "... not the planned VM" fails grep -q '应用服务器-03' out.txt
check_eq "... and the server was asked for every VM" "$(last_call query)" "{}"
expect "vm list --host with no VMs there: (none)" 0 '^\(none\)$' vm list --host cn-node-01 "${as_authority[@]}"
expect "vm list --json: the server's body" 0 '"labels_state"' --json vm list --system 3 "${as_authority[@]}"
check "vm list --json: every VM with all its members" python3 -c '
import json
d = json.load(open("out.txt", encoding="utf-8"))
assert [v["labels_state"] for v in d["vms"]] == ["in_sync", "drifted", "unknown"], d
assert d["vms"][0]["system_disk"] == {"gib": 40, "type": "SSD"} and d["vms"][2]["observed"] is None, d'
expect "vm list --json --host: the body with that host's VMs" 0 '"vms"' --json vm list --host cn-node-02 "${as_authority[@]}"
check "vm list --json --host: two VMs, both on the host" python3 -c '
import json
d = json.load(open("out.txt", encoding="utf-8"))
assert [v["host"] for v in d["vms"]] == ["cn-node-02", "cn-node-02"], d'
n=$(calls)
expect "vm list --system 0 is a usage error" 2 '--system: "0" is not a whole number' vm list --system 0 "${as_authority[@]}"
expect "vm list --system x is a usage error" 2 '--system: "x" is not a whole number' vm list --system x "${as_authority[@]}"
expect "vm list with an operand is a usage error" 2 "unexpected operand 'web1'" vm list web1 "${as_authority[@]}"
check_eq "... nothing reached the server" "$(calls)" "$n"

# --- clock advance -----------------------------------------------------------------------------

expect "clock advance 30d: the new time and offset" 0 '^clock: now 2026-12-21T06:00:00Z \(offset \+2592000 s\)$' \
        clock advance 30d "${as_authority[@]}"
check_eq "clock advance 30d: POST /v1/test/clock with 30 days in seconds" \
        "$(last_call method) $(last_call path) $(last_call ctype) $(last_call body)" \
        'POST /v1/test/clock application/json {"advance_seconds":2592000}'
for d in 12h:43200 90m:5400 45s:45 3600:3600 0:0 3650d:315360000; do
        expect "clock advance ${d%%:*}: accepted" 0 '^clock: now ' clock advance "${d%%:*}" "${as_authority[@]}"
        check_eq "clock advance ${d%%:*}: ${d#*:} seconds sent" "$(last_call body)" "{\"advance_seconds\":${d#*:}}"
done
expect "clock advance --json: the server's body" 0 '"offset_seconds"' --json clock advance 1h "${as_authority[@]}"
check "clock advance --json: now and offset_seconds" python3 -c '
import json
d = json.load(open("out.txt", encoding="utf-8"))
assert sorted(d) == ["now", "offset_seconds"] and isinstance(d["offset_seconds"], int), d'
n=$(calls)
expect "clock advance 3x is a usage error" 2 'DURATION: "3x" is not a number of seconds' \
        clock advance 3x "${as_authority[@]}"
for bad in d 30dd 1.5h 30D " 30d" 1e3; do
        expect "clock advance '$bad' is a usage error" 2 'is not a number of seconds' clock advance "$bad" "${as_authority[@]}"
done
expect "clock advance beyond ten years is a usage error" 2 'more than ten years' clock advance 3651d "${as_authority[@]}"
expect "clock advance of an absurd number is a usage error" 2 'more than ten years' \
        clock advance 99999999999999999999999 "${as_authority[@]}"
expect "clock advance without DURATION is a usage error" 2 'missing DURATION' clock advance "${as_authority[@]}"
check_eq "... nothing reached the server" "$(calls)" "$n"
start_server noclock port-noclock.txt calls-noclock.log
noclock=(--server "https://127.0.0.1:$(cat port-noclock.txt)" --cert pki/authority.crt --key pki/authority.key
         --cacert pki/ca.crt)
expect "clock advance without --unsafe-test-clock: the refusal, exit 1" 1 \
        '^gcctl: refused \(HTTP 404\): the test clock is off \(gc-orchestrator --unsafe-test-clock\) \[not_found\]$' \
        clock advance 30d "${noclock[@]}"
check "... and nothing on stdout" test ! -s out.txt
expect "clock advance --json without the test clock: the error body, exit 1" 1 '"code":[[:space:]]*"not_found"' \
        --json clock advance 30d "${noclock[@]}"
expect "pool list: the table, arrays joined" 0 '^egov-x86 +luan +六安市 +x86, arm$' pool list "${as_authority[@]}"
expect "audit list --after --limit: the table" 0 '^6 +2025-03-03T10:05:00\+08:00 +approval-oa +approval +request\.submit +system/3 +OA-2025-0001 +refused +R-NM2$' \
        audit list --after 5 --limit 2 "${as_authority[@]}"
check_eq "... with the query" "$(last_call query)" '{"after": "5", "limit": "2"}'
expect "audit list --limit 0 is a usage error" 2 '--limit: "0" is not a whole number from 1 to 1000' audit list --limit 0

# --- help on every verb ---------------------------------------------------------------------

for v in "request sign" "request submit" "request show" "request list" "system list" "system show" \
         "system register" "system agreement" "system admission" "unit add" "unit list" "key add" \
         "key list" "host add" "host list" "pool list" "audit list" "vm list" "clock advance"; do
        # shellcheck disable=SC2086
        expect "$v --help" 0 "^Usage: gcctl $v" $v --help
        check "$v --help has an example" grep -q '^Example' out.txt
done
for v in request system unit key host pool audit vm clock; do
        expect "$v --help lists its verbs" 0 "Commands:" "$v" --help
done
expect "help for connection options on a client verb" 0 "--profile FILE" unit list --help
expect "clock advance --help: only with --unsafe-test-clock, for tests and demos" 0 \
        "started with --unsafe-test-clock" clock advance --help
check "clock advance --help says it is for tests and demos" grep -q 'For tests and demos only' out.txt
expect "an unknown option is a usage error" 2 "unknown or needs a value" unit list --frobnicate
expect "an option without its value names it" 2 "option '--server' is unknown or needs a value" unit list --server

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
