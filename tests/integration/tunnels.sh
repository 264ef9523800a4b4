#!/usr/bin/env bash
# tunnels: the orchestrator's side of operations tunnels (R-OP1..R-OP4)
# through the real binaries: gc-orchestrator, one gc-agent on the libvirt
# test driver with its operations address on 127.0.0.1 (no network
# section: it never dials a VM here; tests/system/tunnels.sh carries
# bytes into a real VPC), gcctl as the operators.
#
#   1. a tunnel request at POST /v1/requests is sent to /v1/tunnels; each
#      intake refusal names its field, value and rule and is one audit
#      record, nothing else stored: no unit approval (R-OP1), a bad identity
#      card number (R-OP1), a certificate in another name or of another role
#      or CA (R-OP1), too long without and beyond the security authority's
#      approval (R-OP1, R-OP2), a VM the system does not have
#   2. accepted: the token in the answer only (43 characters, its hash
#      stored, the token nowhere in the store), the same bytes again give
#      the tunnel without it, other bytes are a replay; tunnel.accepted
#      names the operator, the VM, the approval
#   3. who sees it: provider, authority, the approval system, its unit, the
#      operator named; not another unit, not another operator
#   4. the host listens on its operations address (tunnel.listening);
#      gcctl with a wrong token and with another operator's certificate is
#      refused (exit 3, the code named), each refusal an audit record
#      (and, two hours on on the test clock, that it is past its deadline)
#   5. the provider cuts it: tunnel.close_ordered, the agent closes the
#      listener and records the close (revoked) with the session record's
#      fields; nothing listens any more; closing again is refused
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

AGENT_BIN=$GC_BUILDDIR/agent/gc-agent
GCCTL_BIN=${GCCTL:-$GC_BUILDDIR/cli/gcctl}
[[ -x $AGENT_BIN ]] || bail "$AGENT_BIN is not built"
[[ -x $GCCTL_BIN ]] || bail "$GCCTL_BIN is not built"

UNIT=市xx局
POOL=包头-A
VM=市xx局协同办公OA应用服务器1

make_pki --unit 市xx局 --unit 市yy局 --host host-a --operator 张三 --operator 李四 --server-name 127.0.0.1
write_config '' '{"tunnels": {"max_minutes": 60, "long_lived_max_minutes": 120}}'
ORCH_ARGS=(--unsafe-test-clock)
orch_start

aq() { audit_fetch; jget "$T/audit.json" "$1"; }
mark() { audit_fetch; MARK=$AUDIT_LAST; }
# after_mark EXPR: the records after MARK as a list r (fetched now).
after_mark() { aq "(lambda r: $1)([x for x in d['records'] if x['seq'] > $MARK])"; }

# --------------------------------------------------------- registration ---

register_unit "$UNIT"
register_unit 市yy局
register_system "$UNIT" 协同办公OA
SID=$LAST_ID
record_agreement "$SID"
register_approval_system approval-oa "$(sign_pub approval)"
api provider POST /v1/hosts '{"name": "host-a", "pool": "包头-A", "underlay_address": "127.0.0.1", "operations_address": "127.0.0.1"}'
want 201 >"$T/reg.err" || bail "register host-a: $(cat "$T/reg.err")"

who_files host=host-a
cat >"$T/agent.json" <<EOF
{"orchestrator": "$URL", "tls": {"cert": "$CERT", "key": "$KEY", "ca": "$PKI/ca.crt"},
 "libvirt_uri": "test:///default", "storage_pool": "default-pool",
 "capacity": {"vcpus": 64, "memory_mib": 131072, "storage_gib": 100000, "arch": "x86_64"},
 "poll_seconds": 5, "journal": "$T/journal"}
EOF
LOGS[agent]=$T/agent.log
"$AGENT_BIN" -c "$T/agent.json" --log-level debug >>"$T/agent.log" 2>&1 &
AGENT_PID=$!
bg "$AGENT_PID"

sign "$SAMPLES/apply.json" "$T/apply.json" --set=pool="$POOL"
submit "$T/apply.json"
want 201 >"$T/apply.err" || bail "apply: $(cat "$T/apply.err")"
poll 90 system_is "$SID" trial || bail "the system did not reach trial: $(system_state "$SID")"

who_files operator=张三
OP_CERT=$CERT OP_KEY=$KEY
who_files operator=李四
OTHER_CERT=$CERT
DOC_SEQ=0
# tunnel_doc OUT [OPTION]...: the sample for 张三 to VM port 22, signed, a new approval id.
tunnel_doc() {
	local out=$1
	shift
	DOC_SEQ=$((DOC_SEQ + 1))
	sign "$SAMPLES/tunnel.json" "$out" --set=approval.id="OA-T-$DOC_SEQ" --set=vm="$VM" \
		--set=operator.certificate="$(cat "$OP_CERT")" "$@"
}
# refused FILE STATUS CODE FIELD RULE: POST /v1/tunnels FILE is refused so,
# with one audit record and no tunnel stored.
refused() {
	local file=$1 status=$2 code=$3 field=$4 rule=$5 before
	before=$(dbq 'SELECT (SELECT COUNT(*) FROM tunnels) || "/" || (SELECT COUNT(*) FROM jobs)')
	mark
	api approval POST /v1/tunnels "@$file"
	want "$status" || return 1
	[[ $(jget "$BODY" 'd["error"]["code"] + " " + d["error"]["field"] + " " + d["error"]["rule"]') == "$code $field $rule" ]] ||
		{ echo "answer: $(cat "$BODY")"; return 1; }
	[[ $(after_mark '[(x["action"], x["outcome"]) for x in r] == [("request.refused", "refused")]') == true ]] ||
		{ echo "audit after the refusal: $(after_mark '[x["action"] for x in r]')"; return 1; }
	[[ $(dbq 'SELECT (SELECT COUNT(*) FROM tunnels) || "/" || (SELECT COUNT(*) FROM jobs)') == "$before" ]] ||
		{ echo "tunnels/jobs were $before, now $(dbq 'SELECT (SELECT COUNT(*) FROM tunnels) || "/" || (SELECT COUNT(*) FROM jobs)')"; return 1; }
}

# ------------------------------------------------------- 1. refusals ----

tunnel_doc "$T/t-requests.json"
mark
submit "$T/t-requests.json"
check "1. a tunnel request at POST /v1/requests is refused (422 wrong_endpoint, R-OP1)" \
	test "$STATUS $(jget "$BODY" 'd["error"]["code"] + " " + d["error"]["rule"]')" = "422 wrong_endpoint R-OP1"

tunnel_doc "$T/t-noapproval.json" --unset=unit_approval
check "1. no unit_approval: Baotou requires the unit's approval (422 missing_unit_approval, R-OP1)" \
	refused "$T/t-noapproval.json" 422 missing_unit_approval unit_approval R-OP1
tunnel_doc "$T/t-badid.json" --set=operator.id_number=110101199003070012
check "1. an identity card number with a wrong check digit (422 invalid_id_number, R-OP1)" \
	refused "$T/t-badid.json" 422 invalid_id_number operator.id_number R-OP1
tunnel_doc "$T/t-othername.json" --set=operator.name=王五
check "1. operator.name 王五 with 张三's certificate (422 operator_name_mismatch, R-OP1)" \
	refused "$T/t-othername.json" 422 operator_name_mismatch operator.name R-OP1
who_files tenant
tunnel_doc "$T/t-tenantcert.json" --set=operator.certificate="$(cat "$CERT")"
check "1. a tenant's certificate as the operator's (422 not_operator, R-OP1)" \
	refused "$T/t-tenantcert.json" 422 not_operator operator.certificate R-OP1
make_ca "$T/rogue"
make_cert operator 张三 "$T/rogue-op" "$T/rogue"
tunnel_doc "$T/t-rogue.json" --set=operator.certificate="$(cat "$T/rogue-op.crt")"
check "1. 张三's name in a certificate of another CA (422 untrusted_certificate, R-OP1)" \
	refused "$T/t-rogue.json" 422 untrusted_certificate operator.certificate R-OP1
tunnel_doc "$T/t-long.json" --set-json=minutes=61
check "1. 61 minutes over the platform's 60 without the security authority (422 tunnel_too_long, R-OP2)" \
	refused "$T/t-long.json" 422 tunnel_too_long minutes R-OP2
check "... the refusal names the limit" grep -q 'limit of 60 minutes' "$BODY"
tunnel_doc "$T/t-toolong.json" --set-json=minutes=121 --set=approval.security_authority=网信办-2026-09
check "1. 121 minutes with the security authority's approval, beyond the platform's 120 (422, R-OP2)" \
	refused "$T/t-toolong.json" 422 tunnel_too_long minutes R-OP2
tunnel_doc "$T/t-novm.json" --set=vm=市xx局协同办公OA应用服务器9
check "1. a VM the system does not have (422 unknown_vm)" refused "$T/t-novm.json" 422 unknown_vm vm R-NM2

# ------------------------------------------------------- 2. accepted ----

tunnel_doc "$T/t.json" --set-json=minutes=90 --set=approval.security_authority=网信办-2026-10
mark
api approval POST /v1/tunnels "@$T/t.json"
check "2. 90 minutes with the security authority's approval: accepted (201)" want 201
cp "$BODY" "$T/accepted.json"
TID=$(jget "$T/accepted.json" 'd["tunnel"]["id"]')
TOKEN=$(jget "$T/accepted.json" 'd["token"]')
check "2. the answer carries a 43-character base64url token" \
	python3 -c 'import re, sys; sys.exit(not re.fullmatch(r"[A-Za-z0-9_-]{43}", sys.argv[1]))' "$TOKEN"
is "2. the store keeps its SM3 hash, not the token" \
	"$(dbq 'SELECT token_hash FROM tunnels WHERE id = ?' "$TID")" \
	"sm3:$(printf %s "$TOKEN" | openssl dgst -sm3 -r | cut -d' ' -f1)"
check "2. the token is nowhere in the store's files" \
	bash -c '! grep -aqF -- "$1" "$2" "$2-wal" 2>/dev/null' _ "$TOKEN" "$DB"
check "2. tunnel.accepted names the operator, the VM, the port, the minutes and the security authority, under R-OP1" \
	test "$(after_mark "[(x['action'], x['rule'], x['approval'], x['detail']['operator']['name'], x['detail']['operator']['id_number'], x['detail']['vm'], x['detail']['port'], x['detail']['minutes'], x['detail']['security_authority']) for x in r if x['action'] == 'tunnel.accepted']")" = \
	"[[\"tunnel.accepted\", \"R-OP1\", \"approval-oa/OA-T-$DOC_SEQ\", \"张三\", \"110101199003070011\", \"$VM\", 22, 90, \"网信办-2026-10\"]]"
api approval POST /v1/tunnels "@$T/t.json"
check "2. the same bytes again: 200, the same tunnel, no token" \
	test "$STATUS $(jget "$BODY" '[d["existing"], d["tunnel"]["id"], d["token"]]')" = "200 [true, $TID, null]"
sign "$SAMPLES/tunnel.json" "$T/t-replay.json" --set=approval.id="OA-T-$DOC_SEQ" --set=vm="$VM" \
	--set=operator.certificate="$(cat "$OP_CERT")" --set-json=minutes=90 --set=approval.security_authority=网信办-2026-10 \
	--set-json=port=3389
api approval POST /v1/tunnels "@$T/t-replay.json"
check "2. the same approval id with other bytes: 409 replay" \
	test "$STATUS $(jget "$BODY" 'd["error"]["code"]')" = "409 replay"

# --------------------------------------------------- 3. who sees it ----

for who in provider authority approval tenant operator=张三; do
	api "$who" GET "/v1/tunnels/$TID"
	check "3. $who: GET /v1/tunnels/$TID is 200" want 200
done
api operator=张三 GET /v1/tunnels
is "3. 张三's list holds this tunnel" "$STATUS $(jget "$BODY" '[t["id"] for t in d["tunnels"]]')" "200 [$TID]"
for who in tenant=市yy局 operator=李四; do
	api "$who" GET "/v1/tunnels/$TID"
	check "3. $who: GET /v1/tunnels/$TID is 404" want 404
	api "$who" GET /v1/tunnels
	is "3. $who: its list is empty" "$STATUS $(jget "$BODY" 'd["tunnels"]')" "200 []"
done

# ------------------------------------------------- 4. the listener ----

listening() {
	api provider GET "/v1/tunnels/$TID"
	[[ $(jget "$BODY" 'd["tunnel"]["state"]') == open ]]
}
check "4. the host opens the listener: state open" poll 30 listening
ENDPOINT=$(jget "$BODY" '"%s:%s" % (d["tunnel"]["endpoint"]["address"], d["tunnel"]["endpoint"]["port"])')
check "4. ... on its operations address 127.0.0.1" test "${ENDPOINT%:*}" = 127.0.0.1
check "4. tunnel.listening is recorded by the host under R-OP1" \
	test "$(aq "[(x['actor'], x['rule'], x['approval']) for x in d['records'] if x['action'] == 'tunnel.listening' and x['object'] == 'tunnel:$TID']")" = \
	"[[\"host-a\", \"R-OP1\", \"approval-oa/OA-T-$DOC_SEQ\"]]"

printf '%s' "${TOKEN:0:42}A" >"$T/wrong.token"
[[ ${TOKEN:42:1} != A ]] || printf '%s' "${TOKEN:0:42}B" >"$T/wrong.token"
printf '%s' "$TOKEN" >"$T/token"
mark
RC=0
timeout 30 "$GCCTL_BIN" tunnel connect "$TID" --token-file "$T/wrong.token" --stdio \
	--server "$URL" --cert "$OP_CERT" --key "$OP_KEY" --cacert "$PKI/ca.crt" </dev/null >"$T/c1.out" 2>"$T/c1.err" || RC=$?
check "4. a wrong token: gcctl exits 3 and names wrong_token" test "$RC" = 3 -a -n "$(grep -l wrong_token "$T/c1.err")"
RC=0
who_files operator=李四
timeout 30 "$GCCTL_BIN" tunnel connect "$TID" --token-file "$T/token" --stdio --endpoint "$ENDPOINT" --host host-a \
	--server "$URL" --cert "$CERT" --key "$KEY" --cacert "$PKI/ca.crt" </dev/null >"$T/c2.out" 2>"$T/c2.err" || RC=$?
check "4. 李四's certificate with 张三's token: gcctl exits 3 and names wrong_operator" \
	test "$RC" = 3 -a -n "$(grep -l wrong_operator "$T/c2.err")"
refusals_recorded() {
	[[ $(after_mark "sorted(x['detail']['reason'] for x in r if x['action'] == 'tunnel.connection_refused' and x['rule'] == 'R-OP2')") == '["wrong_operator", "wrong_token"]' ]]
}
check "4. each refusal is one tunnel.connection_refused record (R-OP2) with its reason" poll 30 refusals_recorded
api provider GET "/v1/tunnels/$TID"
is "4. the tunnel counts 2 refusals and is still open, its deadline ahead" "$(jget "$BODY" '[d["tunnel"]["refusals"], d["tunnel"]["state"], d["tunnel"]["past_deadline"]]')" '[2, "open", false]'

run_gcctl authority "$T/clock.out" clock advance 2h
api provider GET "/v1/tunnels/$TID"
is "4. two hours later on the orchestrator's clock, the open tunnel shows it is past its deadline" \
	"$(jget "$BODY" '[d["tunnel"]["state"], d["tunnel"]["past_deadline"]]')" '["open", true]'

# ------------------------------------------------------ 5. the cut ----

mark
api tenant POST "/v1/tunnels/$TID/close"
check "5. a tenant may not cut a tunnel (403)" want 403
api provider POST "/v1/tunnels/$TID/close"
check "5. the provider cuts it (200)" want 200
closed() {
	api provider GET "/v1/tunnels/$TID"
	[[ $(jget "$BODY" 'd["tunnel"]["state"]') == closed ]]
}
check "5. the host closes it: state closed" poll 30 closed
is "5. its session record: revoked, no session, no bytes" \
	"$(jget "$BODY" '[d["tunnel"]["session"][k] for k in ("close_reason", "opened_ms", "first_byte_ms", "bytes_in", "bytes_out")]')" \
	'["revoked", null, null, 0, 0]'
check "5. the audit: tunnel.close_ordered by the provider, then tunnel.closed (R-OP3) with the session record's fields" \
	test "$(after_mark "[x['action'] for x in r if x['object'] == 'tunnel:$TID' and x['action'] in ('tunnel.close_ordered', 'tunnel.closed')] + sorted(k for x in r if x['action'] == 'tunnel.closed' for k in x['detail'])")" = \
	'["tunnel.close_ordered", "tunnel.closed", "address", "approval", "bytes_in", "bytes_out", "closed_ms", "first_byte_ms", "host", "opened_ms", "operator", "port", "reason", "seq", "time_ms", "vm"]'
RC=0
timeout 30 "$GCCTL_BIN" tunnel connect "$TID" --token-file "$T/token" --stdio --endpoint "$ENDPOINT" --host host-a \
	--server "$URL" --cert "$OP_CERT" --key "$OP_KEY" --cacert "$PKI/ca.crt" </dev/null >"$T/c3.out" 2>"$T/c3.err" || RC=$?
check "5. the right token after the cut: nothing listens, gcctl fails" test "$RC" -ne 0
api provider POST "/v1/tunnels/$TID/close"
check "5. closing it again: 409" want 409
check "the chain verifies" gcctl_as authority audit verify

finish
