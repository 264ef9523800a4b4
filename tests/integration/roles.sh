#!/usr/bin/env bash
# tests/integration/roles.sh - who may call what.  Every operation of
# orchestrator/openapi.json is called with a certificate of each of the six
# roles: the roles in its x-roles are served (a GET answers 200, a POST or PUT
# with an empty object 400), every other role gets 403 "forbidden" and one
# audit record (access.denied, denied).  A tenant sees only its own unit's
# units, systems, requests and keys.  No client certificate, a certificate
# from another CA, and TLS 1.2 are refused at the handshake.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

make_pki --unit '市xx局' --unit '市yy局' --unit '市zz局'
write_config
orch_start
pass "gc-orchestrator listens on 127.0.0.1:$PORT"

# ------------------------------------------------------------- setup ------

register_unit '市xx局'
register_unit '市yy局'
register_system '市xx局' 协同办公OA
SYS_XX=$LAST_ID
record_agreement "$SYS_XX"
register_system '市yy局' 政务OA
SYS_YY=$LAST_ID
record_agreement "$SYS_YY"
register_approval_system approval-oa "$(sign_pub approval)"
# host-a (the host role of the matrix) has no room, so no job ever waits
# for it and its GET /v1/agent/jobs changes nothing; cap-bt takes the VMs.
register_host host-a 包头-A '{"vcpus": 1, "memory_mib": 1, "storage_gib": 0, "arch": "x86_64"}'
register_host cap-bt 包头-A
for u in 市xx局 市yy局; do
	api authority POST /v1/keys "{\"party\": \"tenant\", \"unit\": $(jstr "$u"), \"holder\": $(jstr "$u办公室"), \"public_key\": $(jstr "$(cat "$(sign_pub tenant "$u")")")}"
	want 201 >"$T/reg.err" || bail "register the key of $u: $(cat "$T/reg.err")"
done
api authority POST /v1/keys "{\"party\": \"provider\", \"holder\": \"云服务商运维部\", \"public_key\": $(jstr "$(cat "$(sign_pub provider)")")}"
want 201 >"$T/reg.err" || bail "register the provider key: $(cat "$T/reg.err")"

sign "$SAMPLES/apply.json" "$T/req-xx.json"
submit "$T/req-xx.json"
want 201 >"$T/reg.err" || bail "apply for 市xx局 协同办公OA: $(cat "$T/reg.err")"
REQ_XX=$(jget "$BODY" 'd["request"]["id"]')
sign "$SAMPLES/apply.json" "$T/req-yy.json" --set=approval.id=OA-2026-0002 --set=unit=市yy局 --set=system.name=政务OA
submit "$T/req-yy.json"
want 201 >"$T/reg.err" || bail "apply for 市yy局 政务OA: $(cat "$T/reg.err")"
REQ_YY=$(jget "$BODY" 'd["request"]["id"]')
# The matrix calls /v1/systems/1 and /v1/requests/1: 市xx局's.
[[ $SYS_XX == 1 && $REQ_XX == 1 ]] || bail "市xx局's system and request are not id 1 ($SYS_XX, $REQ_XX)"
pass "registered two units with a system, keys and an accepted request each, host-a, approval-oa"

# ------------------------------------------------------- the matrix -------

ROLES=(approval tenant provider authority host operator)
python3 - "$GC_SRCDIR/orchestrator/openapi.json" >"$T/ops.tsv" <<'EOF'
import json, sys
spec = json.load(open(sys.argv[1], encoding="utf-8"))
for path, item in spec["paths"].items():
    for method, op in item.items():
        if method in ("get", "put", "post", "delete", "patch"):
            print("\t".join([method.upper(), path, ",".join(op["x-roles"]), op["operationId"],
                             "body" if "requestBody" in op else "none"]))
EOF
N_OPS=$(wc -l <"$T/ops.tsv")
check "openapi.json lists at least 20 operations" test "$N_OPS" -ge 20

audit_fetch
MATRIX_START=$AUDIT_LAST
: >"$T/calls.tsv"
n_denied=0
n_served=0
while IFS=$'\t' read -r method path roles op has_body; do
	url_path=${path//\{id\}/1}
	# The monthly report names its unit (a tenant's is its own).
	[[ $method != GET || $path != /v1/reports/monthly ]] || url_path+='?unit=1'
	for role in "${ROLES[@]}"; do
		body=
		[[ $has_body == none ]] || body='{}'
		api "$role" "$method" "$url_path" "$body"
		printf '%s\t%s\t%s\t%s\t%s\n' "$role" "$(default_name "$role")" "$method" "$url_path" "$STATUS" >>"$T/calls.tsv"
		if [[ ,$roles, == *,$role,* ]]; then
			n_served=$((n_served + 1))
			# Served: a read answers 200, or 404 for sheet 1, tunnel 1 and
			# system 1's exit, which this test never produces; a body {} fails the schema (400); a
			# POST without a body (a checkpoint now) is done (200/201).
			if [[ $method == GET && $path == /v1/sheets/\{id\}* ]]; then expect=404
			elif [[ $path == /v1/tunnels/\{id\}* ]]; then expect=404
			elif [[ $method == GET && $path == /v1/systems/\{id\}/exit ]]; then expect=404
			elif [[ $method == GET ]]; then expect=200
			elif [[ $has_body == none ]]; then expect=201; [[ $STATUS == 200 ]] && expect=200
			else expect=400; fi
			check "$op ($method $path) as $role: $expect" want "$expect"
		else
			n_denied=$((n_denied + 1))
			if [[ $STATUS == 403 ]] && grep -q '"code":"forbidden"' "$BODY"; then
				pass "$op ($method $path) as $role: 403 forbidden"
			else
				fail "$op ($method $path) as $role: 403 forbidden"
				printf '    # HTTP %s: %s\n' "$STATUS" "$(head -c 300 "$BODY")"
			fi
		fi
	done
done <"$T/ops.tsv"
check "both served ($n_served) and denied ($n_denied) calls were made" test "$n_served" -ge 30 -a "$n_denied" -ge 50

audit_fetch
check "each 403 added one access.denied record (denied, the caller's CN and role, the path), each 400 one refusal, each GET none" \
	python3 - "$T/calls.tsv" "$T/audit.json" "$MATRIX_START" <<'EOF'
import json, sys
calls = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8")]
recs = [r for r in json.load(open(sys.argv[2], encoding="utf-8"))["records"] if r["seq"] > int(sys.argv[3])]
i, bad = 0, []
for role, cn, method, path, status in calls:
    if status in ("200", "201", "404"):
        continue
    if i >= len(recs):
        bad.append("%s %s as %s (HTTP %s): no audit record" % (method, path, role, status)); break
    r = recs[i]; i += 1
    d = r["detail"]
    want = ("access.denied", "denied") if status == "403" else (r["action"], "refused")
    if (r["action"], r["outcome"]) != want or r["actor"] != cn or r["role"] != role \
            or d.get("path") != path.split("?")[0] or d.get("method") != method or str(d.get("status")) != status:
        bad.append("%s %s as %s (HTTP %s): audit record %d is %s %s by %s/%s for %s %s (%s)" % (
            method, path, role, status, r["seq"], r["action"], r["outcome"], r["role"], r["actor"],
            d.get("method"), d.get("path"), d.get("status")))
if i < len(recs):
    bad.append("%d audit records more than calls that should have made one" % (len(recs) - i))
for b in bad[:20]:
    print(b)
print(len(calls), "calls,", len(recs), "records")
sys.exit(1 if bad else 0)
EOF

# A body refused by the schema is audited under the same action as the
# operation's other refusals (the handlers' unit.refused, agreement.refused...).
check "each 400 is audited under its operation's refusal action (unit.refused, agreement.refused, ...)" \
	python3 - "$T/calls.tsv" "$T/audit.json" "$MATRIX_START" <<'EOF'
import json, sys
action = {
    ("POST", "/v1/units"): "unit.refused",
    ("POST", "/v1/systems"): "system.refused",
    ("PUT", "/v1/systems/1/agreement"): "agreement.refused",
    ("PUT", "/v1/systems/1/admission"): "admission.refused",
    ("PUT", "/v1/systems/1/egress"): "vpc.egress.refused",
    ("POST", "/v1/systems/1/isolate"): "vpc.isolated.refused",
    ("POST", "/v1/systems/1/restore"): "vpc.restored.refused",
    ("POST", "/v1/approval-systems"): "approval_system.refused",
    ("POST", "/v1/keys"): "key.refused",
    ("POST", "/v1/hosts"): "host.refused",
    ("POST", "/v1/requests"): "request.refused",
    ("POST", "/v1/agent/hello"): "agent_hello.refused",
    ("POST", "/v1/agent/results"): "agent_results.refused",
    ("POST", "/v1/agent/inventory"): "agent_inventory.refused",
    ("POST", "/v1/test/clock"): "clock.refused",
    ("POST", "/v1/systems/1/trial-extension"): "trial.refused",
    ("POST", "/v1/keys/1/revoke"): "key.refused",
    ("POST", "/v1/audit/checkpoints/1/countersignatures"): "checkpoint.refused",
    ("POST", "/v1/sheets/1/signatures"): "sheet.refused",
    ("POST", "/v1/tunnels"): "request.refused",
    ("POST", "/v1/agent/tunnel-events"): "agent_tunnel_events.refused",
    ("POST", "/v1/agent/wipe-progress"): "agent_wipe_progress.refused",
    ("POST", "/v1/systems/1/exit-statement"): "exit.refused",
    ("POST", "/v1/systems/1/reclaim-order"): "exit.refused",
    ("POST", "/v1/systems/1/reclaim"): "reclaim.refused",
    ("POST", "/v1/metrics"): "metrics.refused",
    ("POST", "/v1/reports/monthly"): "report.refused",
}
calls = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8")]
recs = [r for r in json.load(open(sys.argv[2], encoding="utf-8"))["records"] if r["seq"] > int(sys.argv[3])]
by_call = iter(recs)
bad, n = [], 0
for role, cn, method, path, status in calls:
    if status in ("200", "201", "404"):
        continue
    r = next(by_call, None)
    if r is None or status != "400":
        continue
    n += 1
    want = action.get((method, path), "?")
    if r["action"] != want:
        bad.append("%s %s (400): audited as %s, expected %s" % (method, path, r["action"], want))
for b in sorted(set(bad)):
    print(b)
print(n, "refusals of a body checked")
sys.exit(1 if bad or n == 0 else 0)
EOF

# Identities that hold a certificate but are not who they claim.
make_cert visitor visitor "$T/visitor"
api "file:$T/visitor" GET /healthz
check "a certificate with an unknown OU (visitor) gets 403 even for /healthz" want 403
check "... code forbidden" grep -q '"code":"forbidden"' "$BODY"
api tenant=市zz局 GET /v1/systems
check "a tenant certificate of an unregistered unit (市zz局) gets 403" want 403
check "... code unknown_caller" grep -q '"code":"unknown_caller"' "$BODY"
api host=host-b GET /healthz
check "a host certificate of an unregistered host (host-b) gets 403" want 403
check "... code unknown_caller" grep -q '"code":"unknown_caller"' "$BODY"
audit_fetch
check "... and that is audited as access.denied for host-b" audit_last_is access.denied denied '' host-b

api authority GET /v1/no-such-path
check "an unknown path is 404" want 404
api authority PUT /v1/units '{}'
check "a known path with another method is 405" want 405

# ---------------------------------------------------- a tenant's view -----

for u in 市xx局 市yy局; do
	if [[ $u == 市xx局 ]]; then other=市yy局 own_sys=$SYS_XX other_sys=$SYS_YY own_req=$REQ_XX other_req=$REQ_YY
	else other=市xx局 own_sys=$SYS_YY other_sys=$SYS_XX own_req=$REQ_YY other_req=$REQ_XX; fi
	api "tenant=$u" GET /v1/units
	is "$u: GET /v1/units shows only $u" "$STATUS $(jget "$BODY" '[x["name"] for x in d["units"]]')" "200 [\"$u\"]"
	api "tenant=$u" GET /v1/systems
	is "$u: GET /v1/systems shows only its system" "$STATUS $(jget "$BODY" '[(x["id"], x["unit"]) for x in d["systems"]]')" \
		"200 [[$own_sys, \"$u\"]]"
	api "tenant=$u" GET "/v1/systems?unit=$(urlencode "$other")"
	is "$u: GET /v1/systems?unit=$other still shows only its own" \
		"$STATUS $(jget "$BODY" 'sorted(set(x["unit"] for x in d["systems"]))')" "200 [\"$u\"]"
	api "tenant=$u" GET "/v1/systems/$own_sys"
	check "$u: GET /v1/systems/$own_sys (its own) is 200" want 200
	api "tenant=$u" GET "/v1/systems/$other_sys"
	check "$u: GET /v1/systems/$other_sys ($other's) is 404" want 404
	api "tenant=$u" GET /v1/requests
	is "$u: GET /v1/requests shows only its request" "$STATUS $(jget "$BODY" '[(x["id"], x["unit"]) for x in d["requests"]]')" \
		"200 [[$own_req, \"$u\"]]"
	api "tenant=$u" GET "/v1/requests?system=$other_sys"
	is "$u: GET /v1/requests?system=$other_sys ($other's) is empty" "$STATUS $(jget "$BODY" 'd["requests"]')" "200 []"
	api "tenant=$u" GET "/v1/requests/$own_req"
	is "$u: GET /v1/requests/$own_req (its own) returns the document" "$STATUS $(jget "$BODY" 'd["request"]["document"]["unit"]')" "200 $u"
	api "tenant=$u" GET "/v1/requests/$other_req"
	check "$u: GET /v1/requests/$other_req ($other's) is 404" want 404
	api "tenant=$u" GET /v1/keys
	is "$u: GET /v1/keys shows only its unit's key" "$STATUS $(jget "$BODY" '[(x["party"], x["unit"]) for x in d["keys"]]')" \
		"200 [[\"tenant\", \"$u\"]]"
done
api authority GET /v1/units
is "the authority sees both units" "$(jget "$BODY" '[x["name"] for x in d["units"]]')" '["市xx局", "市yy局"]'
api provider GET /v1/requests
is "the provider sees both requests" "$(jget "$BODY" 'sorted(x["id"] for x in d["requests"])')" "[$REQ_XX, $REQ_YY]"
api provider GET /v1/keys
is "the provider sees all three keys" "$(jget "$BODY" 'len(d["keys"])')" 3

# -------------------------------------------------------------- TLS -------

audit_fetch
BEFORE_TLS=$AUDIT_LAST
tls_refused() { # LABEL CURL-OPTION...: no HTTP status, curl fails
	local rc=0 code
	code=$(curl -sS --max-time 20 -o "$T/tls.body" -w '%{http_code}' --cacert "$PKI/ca.crt" "$@" "$URL/healthz" \
		2>"$T/tls.err") || rc=$?
	printf 'curl exit %s, HTTP %s: %s\n' "$rc" "$code" "$(head -c 300 "$T/tls.err")"
	[[ $rc -ne 0 && $code == 000 ]]
}
who_files authority
check "the authority certificate over TLS 1.3 with curl is served (the control)" \
	curl -sSf --max-time 20 -o /dev/null --cacert "$PKI/ca.crt" --cert "$CERT" --key "$KEY" --tlsv1.3 "$URL/healthz"
# Two connections in a row, the second offering the first's session: a
# full handshake again, not an internal error alert.
check "a second connection right after the first (curl, Connection: close) is served too" \
	bash -c '[[ $(curl -sS --max-time 20 -H "Connection: close" --cacert "$1" --cert "$2" --key "$3" -o /dev/null -o /dev/null \
		-w "%{http_code} " "$4/healthz" "$4/healthz") == "200 200 " ]]' _ "$PKI/ca.crt" "$CERT" "$KEY" "$URL"
check "no client certificate: refused at the handshake" tls_refused
make_ca "$T/other-ca"
make_cert authority authority "$T/other-authority" "$T/other-ca"
check "a certificate from another CA (same subject as the authority): refused at the handshake" \
	tls_refused --cert "$T/other-authority.crt" --key "$T/other-authority.key"
check "TLS 1.2 (curl --tls-max 1.2), with a valid certificate: refused" \
	tls_refused --cert "$CERT" --key "$KEY" --tls-max 1.2
check "the server certificate presented as a client certificate: refused" \
	tls_refused --cert "$PKI/tls/orchestrator.crt" --key "$PKI/tls/orchestrator.key"
pyapi authority GET /healthz
check "the Python client negotiates TLS 1.3 and is served" want 200
audit_fetch
is "refused handshakes reach no handler: no audit record" "$AUDIT_LAST" "$BEFORE_TLS"

check "the audit chain verifies (SM3, RFC 8785)" "${GCINT[@]}" audit-verify "$DB"
check "gc-orchestrator stops on SIGTERM with status 0" orch_stop
finish
