#!/usr/bin/env bash
# exit: the orchestrator's exit workflow (R-EX1..R-EX3, R-SC3; orchestrator/
# reclaim.h) through the real binaries: gc-orchestrator (--unsafe-test-clock,
# a fixed port, notify-webhook to a receiver on 127.0.0.1), two gc-agent
# processes on the libvirt test driver (host-a in 驻马店-A, Zhumadian pack:
# 30-day grace, the authority may not order a wipe, grounds no_longer_needed
# and low_utilization; host-b in 包头-A, Baotou pack: no grace, the authority
# may order a wipe, every ground), gcctl for the three parties.
#
# The test driver's volumes are not files: vm.stop works, vm.wipe is refused
# by the agent with nothing written (or fails with "unknown kind" while the
# agent does not know vm.wipe). Either way the reclaim must stop at "wiping"
# with the reason, and go on only when the provider says so.
#
#   1. 协同办公OA on 驻马店-A: apply -> trial -> (the test clock) ->
#      awaiting_golive -> the go-live sheet signed by the three parties ->
#      active. An approved tenant exit (exit.json): exit_requested, step
#      grace, grace_until = acceptance + 30 days, the statement unsigned with
#      its document, canonical bytes and SM3 hash (openssl recomputes it),
#      the VMs still running
#   2. refusals, each with its status, code, field, value, rule, exactly one
#      audit record and nothing else changed (GET exit and the exits, jobs,
#      systems, timers tables): the provider's reclaim in grace (R-EX3), an
#      order on a ground Zhumadian does not list (R-EX1), the statement
#      signed with another unit's key, with the provider's key, over other
#      bytes, by the provider's certificate, and on a system with no exit
#   3. the authority's order on Zhumadian (may not wipe): 202 suspended, the
#      VPC isolated (R-SC3), exit.reclaim_ordered with its ground, the
#      tenant's notification through the webhook; a second order refused
#   4. the tenant signs with gcctl (the signing key as --key, the
#      connection's --key after it, as gcctl sheet sign takes them; failing
#      that, the connection's key in GC_KEY): suspended -> draining (a
#      transition the lifecycle must allow) -> (vm.stop) -> wiping; the
#      audit; the VMs stopped on the agent; the wipe fails on the test
#      driver: the reclaim stops (problem, reclaim.stopped, job.failed under
#      R-EX3); gcctl system exit / show print it; the provider's POST
#      .../reclaim sends the wipe again and it stops the same way
#   5. 门户网站 on 包头-A: an authority exit (exit-authority.json, ground
#      unfixable_risk), then the order: 200, reclaim, draining -> wiping
#      without a statement. An authority exit on a ground the pack does not
#      list is refused at intake (Lu'an: none; Zhumadian: misuse; R-EX1)
#   6. 数据共享交换 on 驻马店-A in grace: SIGTERM, restart, the clock past
#      30 days: the exit_grace timer fires (exit.grace_ended, R-EX2) for it
#      alone
# shellcheck disable=SC2016 # the bash -c checks take their arguments as $1...
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

AGENT_BIN=$GC_BUILDDIR/agent/gc-agent
GCCTL_BIN=${GCCTL:-$GC_BUILDDIR/cli/gcctl}
[[ -x $AGENT_BIN ]] || bail "$AGENT_BIN is not built"
[[ -x $GCCTL_BIN ]] || bail "$GCCTL_BIN is not built"

UNIT=市xx局
ZPOOL=驻马店-A
BPOOL=包头-A
LPOOL=六安-A
DAY=86400
OFFSET=0        # the test clock's offset, seconds
T0=$SECONDS
HOOK=$T/hook

# A free port, fixed for the whole run: the agents find the orchestrator again after the restart.
FIXED_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

make_pki --unit 市xx局 --unit 市yy局
mkdir -p "$HOOK"
"${GCINT[@]}" hook --dir "$HOOK" --port 0 2>>"$T/hook.log" &
bg "$!"
poll 30 test -s "$HOOK/port" || bail "the webhook receiver did not start"
HOOK_PORT=$(cat "$HOOK/port")
write_config "[{\"path\": \"notify-webhook\", \"config\": {\"url\": \"http://127.0.0.1:$HOOK_PORT/hook\", \"timeout_ms\": 5000}}]" \
	"{\"listen\": \"127.0.0.1:$FIXED_PORT\",
	  \"pools\": [{\"name\": \"$BPOOL\", \"arch\": [\"x86\", \"arm\"]}, {\"name\": \"$LPOOL\", \"pack\": \"luan\"},
	             {\"name\": \"$ZPOOL\", \"pack\": \"zhumadian\"}],
	  \"parties\": {\"provider\": \"某云服务有限公司\", \"authority\": \"驻马店市大数据管理局\"}}"
ORCH_ARGS=(--unsafe-test-clock)
orch_start

# ---------------------------------------------------------- helpers -------

register_key() {   # register_key PARTY HOLDER PUB [UNIT]
	local unit=
	[[ -z ${4-} ]] || unit=", \"unit\": $(jstr "$4")"
	api authority POST /v1/keys "{\"party\": \"$1\", \"holder\": $(jstr "$2"), \"public_key\": $(jstr "$(cat "$3")")$unit}"
	want 201 >"$T/reg.err" || bail "register $1 key $2: $(cat "$T/reg.err")"
}
aq() { audit_fetch; jget "$T/audit.json" "$1"; }
mark() { audit_fetch; MARK=$AUDIT_LAST; }
# after_mark EXPR: EXPR over the records r after MARK (fetched now).
after_mark() { aq "(lambda r: $1)([x for x in d['records'] if x['seq'] > $MARK])"; }
# exit_get ID [WHO]: GET /v1/systems/ID/exit into $T/exit-ID.json; 1 unless 200.
exit_get() {
	api "${2:-provider}" GET "/v1/systems/$1/exit"
	cp "$BODY" "$T/exit-$1.json"
	[[ $STATUS == 200 ]]
}
# xq ID EXPR: EXPR over the exit x of $T/exit-ID.json.
xq() { jget "$T/exit-$1.json" "(lambda x: $2)(d['exit'])"; }
exit_step_is() { exit_get "$1" && [[ $(xq "$1" 'x["step"]') == "$2" ]]; }
exit_has_problem() { exit_get "$1" && [[ $(xq "$1" 'x["problem"] is not None') == true ]]; }
# fingerprint PUB: sha256 of the DER public key, as the orchestrator names keys.
fingerprint() { printf 'sha256:%s\n' "$(openssl pkey -pubin -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)"; }
# sm2_sign KEY IN OUT: SM2 with SM3 and the GM/T 0009 id over IN, base64 in OUT.
sm2_sign() {
	openssl pkeyutl -sign -inkey "$1" -rawin -in "$2" -digest sm3 -pkeyopt "distid:$DISTID" -out "$3.der" 2>/dev/null ||
		bail "openssl pkeyutl -sign with $1"
	base64 -w0 "$3.der" >"$3"
}
# canonical_of ID OUT: the statement's canonical bytes, exactly, in OUT.
canonical_of() {
	exit_get "$1" tenant || bail "GET /v1/systems/$1/exit as the tenant: $STATUS"
	python3 -c 'import json, sys; open(sys.argv[2], "wb").write(json.load(open(sys.argv[1], encoding="utf-8"))["exit"]["statement"]["canonical"].encode("utf-8"))' \
		"$T/exit-$1.json" "$2"
}
# snapshot ID OUT: what a refusal must not change: GET exit (if any) and the tables.
snapshot() {
	{
		api provider GET "/v1/systems/$1/exit"
		printf '%s %s\n' "$STATUS" "$(cat "$BODY")"
		for tbl in exits jobs timers vpcs; do
			printf '== %s\n' "$tbl"
			dbq "SELECT * FROM $tbl ORDER BY 1"
		done
		printf '== systems\n'
		dbq 'SELECT id, state, return_state, pool, updated FROM systems ORDER BY id'
		printf '== vms\n'
		dbq 'SELECT id, state FROM vms ORDER BY id'
	} >"$2"
}
# refused WHO METHOD PATH BODY SYSTEM STATUS CODE FIELD VALUE RULE ACTION:
# the call is refused so (VALUE '*': any), with exactly one audit record
# ACTION, and nothing else changes.
refused() {
	local who=$1 method=$2 path=$3 body=$4 sys=$5 status=$6 code=$7 field=$8 value=$9 rule=${10} action=${11} got parts
	snapshot "$sys" "$T/snap.before"
	mark
	api "$who" "$method" "$path" "$body"
	cp "$BODY" "$T/refusal.json"
	want "$status" || return 1
	got=$(jget "$T/refusal.json" '"|".join(str(d["error"].get(k)) for k in ("code", "field", "value", "rule"))')
	IFS='|' read -r -a parts <<<"$got"
	[[ $field != '*' ]] || field=${parts[1]}
	[[ $value != '*' ]] || value=${parts[2]}
	[[ $got == "$code|$field|$value|$rule" ]] || { echo "error: $got; expected $code|$field|$value|$rule: $(cat "$T/refusal.json")"; return 1; }
	[[ $(after_mark "[(x['action'], x['rule']) for x in r] == [('$action', '$rule')]") == true ]] ||
		{ echo "the audit after the refusal: $(after_mark "[(x['action'], x['outcome'], x['rule']) for x in r]")"; return 1; }
	snapshot "$sys" "$T/snap.after"
	diff "$T/snap.before" "$T/snap.after" || { echo "the refusal changed the above"; return 1; }
}
# vms_of ID: GET /v1/vms?system=ID into $T/vms-ID.json.
vms_of() {
	api provider GET "/v1/vms?system=$1"
	want 200 >"$T/vms.err" || bail "GET /v1/vms?system=$1: $(cat "$T/vms.err")"
	cp "$BODY" "$T/vms-$1.json"
}
# all_vms ID STATE: every VM of the system that is not deleted is in STATE.
all_vms() {
	vms_of "$1"
	jget "$T/vms-$1.json" "(lambda s: len(s) > 0 and s == ['$2'] * len(s) or 1/0)([v['state'] for v in d['vms'] if v['state'] != 'deleted'])"
}
# jobs_of ID KIND: "STATE STATE ..." of the system's jobs of KIND, by id.
jobs_of() { dbq "SELECT j.state FROM jobs j JOIN vms v ON v.id = j.vm_id WHERE v.system_id = ? AND j.kind = ? ORDER BY j.id" "$1" "$2" | xargs; }
no_job_pending() { [[ -z $(dbq "SELECT 1 FROM jobs j JOIN vms v ON v.id = j.vm_id WHERE v.system_id = ? AND j.kind = ? AND j.state IN ('queued', 'sent')" "$1" "$2") ]]; }

# ------------------------------------------------------ registration -----

register_unit "$UNIT"
register_unit 市yy局
register_system "$UNIT" 协同办公OA
SID=$LAST_ID
register_system "$UNIT" 数据共享交换
GID=$LAST_ID
register_system "$UNIT" 门户网站
BID=$LAST_ID
register_system "$UNIT" 一网通办
LID=$LAST_ID
for s in "$SID" "$GID" "$BID" "$LID"; do record_agreement "$s"; done
register_approval_system approval-oa "$(sign_pub approval)"
register_host host-a "$ZPOOL" none
register_host host-b "$BPOOL" none
register_host cap-la "$LPOOL"

TENANT_KEY=$(sign_key tenant)
PROVIDER_KEY=$(sign_key provider)
AUTHORITY_KEY=$(sign_key authority)
OTHER_UNIT_KEY=$(sign_key tenant 市yy局)
register_key tenant 李四 "$(sign_pub tenant)" "$UNIT"
register_key provider 王工 "$(sign_pub provider)"
register_key authority 陈处长 "$(sign_pub authority)"
register_key tenant 市yy局经办人 "$(sign_pub tenant 市yy局)" 市yy局

# The agents: a wipe signing key where this gc-agent knows the "wipe" section.
agent_conf() {   # agent_conf NAME [with-wipe]
	local name=$1 wipe=
	who_files "host=$name"
	if [[ ${2-} == with-wipe ]]; then
		openssl genpkey -algorithm SM2 -out "$T/wipe-$name.key" 2>/dev/null || bail "openssl genpkey SM2"
		mkdir -p "$T/wipe-$name"
		wipe=", \"wipe\": {\"signing_key\": \"$T/wipe-$name.key\", \"state_dir\": \"$T/wipe-$name\"}"
	fi
	cat >"$T/agent-$name.json" <<EOF
{"orchestrator": "$URL", "tls": {"cert": "$CERT", "key": "$KEY", "ca": "$PKI/ca.crt"},
 "libvirt_uri": "test:///default", "storage_pool": "default-pool",
 "capacity": {"vcpus": 64, "memory_mib": 131072, "storage_gib": 100000, "arch": "x86_64"},
 "poll_seconds": 5, "journal": "$T/journal-$name"$wipe}
EOF
}
WIPE_CONF=with-wipe
agent_conf host-a with-wipe
if ! "$AGENT_BIN" -c "$T/agent-host-a.json" --check-config >"$T/check-config.out" 2>&1; then
	note "this gc-agent does not take the wipe section: $(head -c 300 "$T/check-config.out")"
	WIPE_CONF=
fi
for h in host-a host-b; do
	agent_conf "$h" $WIPE_CONF
	LOGS[agent-$h]=$T/agent-$h.log
	"$AGENT_BIN" -c "$T/agent-$h.json" --log-level debug >>"$T/agent-$h.log" 2>&1 &
	bg "$!"
done

# ------------------------------------------ 1. apply -> active -> exit ----

note "step 1 at $((SECONDS - T0)) s"
ONE_VM='[{"type": "vm", "role": "应用服务器", "arch": "x86", "vcpus": 2, "memory_gib": 4,
          "system_disk": {"gib": 40, "type": "SSD"}, "data_disk": {"gib": 100, "type": "SAS"},
          "os": "麒麟V10", "network": "egov", "ports": [443], "count": COUNT}]'
sign "$SAMPLES/apply.json" "$T/apply-s.json" --set=pool="$ZPOOL" --set-json=trial_length=15 --set=approval.id=OA-Z-0001 \
	--set-json=vms="${ONE_VM/COUNT/2}"
submit "$T/apply-s.json"
check "1. 协同办公OA on $ZPOOL (Zhumadian pack, 2 VMs): the apply is accepted (201)" want 201
sign "$SAMPLES/apply.json" "$T/apply-g.json" --set=pool="$ZPOOL" --set-json=trial_length=15 --set=approval.id=OA-Z-0002 \
	--set=system.name=数据共享交换 --set-json=vms="${ONE_VM/COUNT/1}"
submit "$T/apply-g.json"
want 201 >"$T/apply.err" || bail "apply 数据共享交换: $(cat "$T/apply.err")"
sign "$SAMPLES/apply.json" "$T/apply-b.json" --set=pool="$BPOOL" --set=approval.id=OA-B-0001 \
	--set=system.name=门户网站 --set-json=vms="${ONE_VM/COUNT/1}"
submit "$T/apply-b.json"
want 201 >"$T/apply.err" || bail "apply 门户网站: $(cat "$T/apply.err")"
sign "$SAMPLES/apply-luan.json" "$T/apply-l.json"
submit "$T/apply-l.json"
want 201 >"$T/apply.err" || bail "apply 一网通办 (Lu'an): $(cat "$T/apply.err")"

for s in "$SID" "$GID" "$BID"; do
	poll 90 system_is "$s" trial || bail "system $s did not reach trial: $(system_state "$s")"
done
pass "1. 协同办公OA, 数据共享交换 (host-a) and 门户网站 (host-b) reach trial"
check "1. 协同办公OA's two VMs run" all_vms "$SID" running

advance 32d $((32 * DAY))
for s in "$SID" "$GID" "$BID"; do poll 15 system_is "$s" awaiting_golive || true; done
is "1. 32 days on the test clock: the three are awaiting_golive" \
	"$(system_state "$SID") $(system_state "$GID") $(system_state "$BID")" "awaiting_golive awaiting_golive awaiting_golive"

golive() {   # golive ID: the three parties sign its go-live sheet with gcctl
	local sheet p k
	api provider GET "/v1/sheets?system=$1"
	sheet=$(jget "$BODY" '[s["id"] for s in d["sheets"] if s["kind"] == "golive"][0]') || return 1
	for p in tenant provider authority; do
		k=$TENANT_KEY
		[[ $p == provider ]] && k=$PROVIDER_KEY
		[[ $p == authority ]] && k=$AUTHORITY_KEY
		run_gcctl "$p" "$T/golive-$1-$p.out" sheet sign "$sheet" --party "$p" --key "$k"
		[[ $RC == 0 ]] || { cat "$T/golive-$1-$p.out"; return 1; }
	done
	system_is "$1" active
}
check "1. 协同办公OA's go-live sheet signed by tenant, provider and authority (gcctl): active" golive "$SID"
golive "$GID" >"$T/golive.err" 2>&1 || bail "go-live of 数据共享交换: $(cat "$T/golive.err")"
golive "$BID" >"$T/golive.err" 2>&1 || bail "go-live of 门户网站: $(cat "$T/golive.err")"

api provider GET "/v1/systems/$SID/exit"
check "1. before any exit, GET /v1/systems/$SID/exit is 404 no_exit" \
	test "$STATUS $(jget "$BODY" 'd["error"]["code"]')" = "404 no_exit"

sign_now "$SAMPLES/exit.json" "$T/exit-s.json"
mark
submit "$T/exit-s.json"
check "1. the tenant's exit (exit.json: initiator tenant, ground no_longer_needed) is accepted (201)" want 201
EXIT_REQ=$(jget "$BODY" 'd["request"]["id"]' 2>/dev/null || echo 0)
is "1. 协同办公OA is exit_requested" "$(system_state "$SID")" exit_requested
check "1. the audit: one request.accepted (kind exit, active -> exit_requested, the approval), nothing else" \
	after_mark "[(x['action'], x['detail'].get('kind'), x['detail'].get('system'), x['detail'].get('from'), x['detail'].get('to'), x['approval']) for x in r] == [('request.accepted', 'exit', $SID, 'active', 'exit_requested', 'approval-oa/OA-2026-0131')] or 1/0"
exit_get "$SID" || bail "GET /v1/systems/$SID/exit: $STATUS $(cat "$BODY")"
cp "$T/exit-$SID.json" "$T/exit-grace.json"
is "1. GET exit: request, approval, initiator, ground, reason, step grace, no problem, no order" \
	"$(xq "$SID" '[x["request"], x["approval"], x["initiator"], x["ground"], x["reason"], x["step"], x["problem"], x["order"], x["grace_over"]]')" \
	"[$EXIT_REQ, \"approval-oa/OA-2026-0131\", \"tenant\", \"no_longer_needed\", \"业务并入全市统一协同办公平台，本系统停止使用\", \"grace\", null, null, false]"
RECEIVED=$(dbq 'SELECT received FROM requests WHERE id = ?' "$EXIT_REQ")
is "1. grace_until is the acceptance + 30 days (Zhumadian), in the store and in the answer" \
	"$(dbq 'SELECT requested, grace_until - requested FROM exits WHERE system_id = ?' "$SID") $(xq "$SID" '(__import__("datetime").datetime.strptime(x["grace_until"], "%Y-%m-%dT%H:%M:%SZ") - __import__("datetime").datetime.strptime(x["requested"], "%Y-%m-%dT%H:%M:%SZ")).total_seconds()')" \
	"$RECEIVED	$((30 * DAY)) $((30 * DAY)).0"
is "1. ... and the exit_grace timer is set for then" \
	"$(dbq "SELECT due - ?, fired IS NULL FROM timers WHERE kind = 'exit_grace' AND system_id = ?" "$RECEIVED" "$SID")" "$((30 * DAY))	1"
is "1. the statement is not signed" "$(xq "$SID" 'x["statement"]["signed"]')" false
check "1. its document: format gc-exit-statement/1, the system, the unit, the request and approval, the exit form's wording (zh, en), R-EX2" \
	xq "$SID" "(lambda s: (s['format'], s['system']['id'], s['system']['name'], s['system']['unit'], s['request']['id'], s['request']['approval'], s['rule']) == ('gc-exit-statement/1', $SID, '协同办公OA', '$UNIT', $EXIT_REQ, 'approval-oa/OA-2026-0131', 'R-EX2') and '已完成该业务系统在政务云上全部数据的迁移和备份' in s['statement'] and '安全清除' in s['statement'] and 'migrated and backed up' in s['statement_en'] or 1/0)(x['statement']['document'])"
canonical_of "$SID" "$T/statement.canon"
check "1. statement.canonical is the RFC 8785 form of the document" python3 - "$T/exit-$SID.json" "$T/statement.canon" <<'EOF'
import json, sys
def jcs(v):
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, int): return str(v)
    if isinstance(v, str): return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list): return "[" + ",".join(jcs(x) for x in v) + "]"
    keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(v[k]) for k in keys) + "}"
doc = json.load(open(sys.argv[1], encoding="utf-8"))["exit"]["statement"]["document"]
canon = open(sys.argv[2], "rb").read()
assert jcs(doc).encode("utf-8") == canon, (jcs(doc), canon)
EOF
STATEMENT_HASH=$(xq "$SID" 'x["statement"]["hash"]')
is "1. statement.hash is sm3 of the canonical bytes (openssl dgst -sm3)" \
	"sm3:$(openssl dgst -sm3 -r "$T/statement.canon" | cut -d' ' -f1)" "$STATEMENT_HASH"
check "1. the VMs still run" all_vms "$SID" running
check "1. no vm.stop or vm.wipe job is queued" test -z "$(jobs_of "$SID" vm.stop)$(jobs_of "$SID" vm.wipe)"
api tenant GET "/v1/systems/$SID/exit"
check "1. the tenant reads its exit (200)" want 200
api tenant=市yy局 GET "/v1/systems/$SID/exit"
check "1. another unit does not (404)" want 404

# ---------------------------------------------------------- 2. refusals ----

note "step 2 at $((SECONDS - T0)) s"
check "2. POST .../reclaim by the provider in grace: 409 exit_not_allowed system.state=exit_requested R-EX3, one reclaim.refused" \
	refused provider POST "/v1/systems/$SID/reclaim" '{"reason": "租户已迁移完毕"}' "$SID" \
	409 exit_not_allowed system.state exit_requested R-EX3 reclaim.refused
check "... the message says the tenant's statement has not come" grep -q 'statement' "$T/refusal.json"
check "2. reclaim-order on ground misuse (not Zhumadian's): 422 ground_not_allowed ground=misuse R-EX1, one exit.refused" \
	refused authority POST "/v1/systems/$SID/reclaim-order" '{"ground": "misuse", "reason": "违规使用"}' "$SID" \
	422 ground_not_allowed ground misuse R-EX1 exit.refused
check "... the message names the pack (驻马店)" grep -q '驻马店' "$T/refusal.json"

TENANT_FP=$(fingerprint "$(sign_pub tenant)")
sm2_sign "$OTHER_UNIT_KEY" "$T/statement.canon" "$T/sig-other-unit"
OTHER_FP=$(fingerprint "$(sign_pub tenant 市yy局)")
check "2. the statement signed with 市yy局's registered key: 422 wrong_unit fingerprint=its fingerprint R-EX2, one exit.refused" \
	refused tenant POST "/v1/systems/$SID/exit-statement" "{\"fingerprint\": \"$OTHER_FP\", \"signature\": \"$(cat "$T/sig-other-unit")\"}" "$SID" \
	422 wrong_unit fingerprint "$OTHER_FP" R-EX2 exit.refused
sm2_sign "$PROVIDER_KEY" "$T/statement.canon" "$T/sig-provider"
PROVIDER_FP=$(fingerprint "$(sign_pub provider)")
check "2. the statement signed with the provider's key, sent with the tenant's certificate: 422 wrong_party fingerprint=its fingerprint R-EX2, one exit.refused" \
	refused tenant POST "/v1/systems/$SID/exit-statement" "{\"fingerprint\": \"$PROVIDER_FP\", \"signature\": \"$(cat "$T/sig-provider")\"}" "$SID" \
	422 wrong_party fingerprint "$PROVIDER_FP" R-EX2 exit.refused
sed 's/协同办公OA/协同办公OB/' "$T/statement.canon" >"$T/other-bytes"
sm2_sign "$TENANT_KEY" "$T/other-bytes" "$T/sig-other-bytes"
check "2. the tenant's key over other bytes: 422 bad_signature signature=the signature R-EX2, one exit.refused" \
	refused tenant POST "/v1/systems/$SID/exit-statement" "{\"fingerprint\": \"$TENANT_FP\", \"signature\": \"$(cat "$T/sig-other-bytes")\"}" "$SID" \
	422 bad_signature signature "$(cat "$T/sig-other-bytes")" R-EX2 exit.refused
check "... the message names the statement's hash" grep -q "$STATEMENT_HASH" "$T/refusal.json"
sm2_sign "$TENANT_KEY" "$T/statement.canon" "$T/sig-tenant"
snapshot "$SID" "$T/snap.before"
mark
api provider POST "/v1/systems/$SID/exit-statement" "{\"fingerprint\": \"$TENANT_FP\", \"signature\": \"$(cat "$T/sig-tenant")\"}"
check "2. the right signature sent with the provider's certificate: 403" want 403
is "... one record, access.denied" "$(after_mark "[(x['action'], x['outcome']) for x in r]")" '[["access.denied", "denied"]]'
snapshot "$SID" "$T/snap.after"
check "... nothing changed" diff "$T/snap.before" "$T/snap.after"
sm2_sign "$TENANT_KEY" "$T/statement.canon" "$T/sig-nox"
check "2. a tenant's statement for 门户网站, which has no exit: 409 no_exit system.state=active R-EX2, one exit.refused" \
	refused tenant POST "/v1/systems/$BID/exit-statement" "{\"fingerprint\": \"$TENANT_FP\", \"signature\": \"$(cat "$T/sig-nox")\"}" "$BID" \
	409 no_exit system.state active R-EX2 exit.refused
is "2. after the refusals, still exit_requested in grace, unsigned" \
	"$(system_state "$SID") $(exit_get "$SID" && xq "$SID" '[x["step"], x["statement"]["signed"]]')" 'exit_requested ["grace", false]'

# ------------------------------------------- 3. the authority's order ----

note "step 3 at $((SECONDS - T0)) s"
mark
api authority POST "/v1/systems/$SID/reclaim-order" '{"ground": "no_longer_needed", "reason": "业务已并入全市统一平台", "reference": "驻数管〔2027〕3号"}'
cp "$BODY" "$T/order.json"
# answered STATUS OUTCOME FILE: the last call answered STATUS with this outcome; else show the answer.
answered() {
	[[ $STATUS == "$1" && $(jget "$3" 'd["outcome"]' 2>/dev/null) == "$2" ]] || { echo "HTTP $STATUS: $(head -c 600 "$3")"; return 1; }
}
check "3. the authority orders the reclaim on no_longer_needed: 202, outcome suspended (Zhumadian: the order may not wipe)" \
	answered 202 suspended "$T/order.json"
is "3. the answer's exit has the order (ground, reason, reference, by, outcome) and is still in grace" \
	"$(jget "$T/order.json" '[d["exit"]["order"][k] for k in ("ground", "reason", "reference", "outcome")] + [d["exit"]["step"]]')" \
	'["no_longer_needed", "业务已并入全市统一平台", "驻数管〔2027〕3号", "suspended", "grace"]'
is "3. the system is suspended, to return to exit_requested" \
	"$(system_state "$SID") $(dbq 'SELECT return_state FROM systems WHERE id = ?' "$SID")" "suspended exit_requested"
network_get "$SID"
is "3. its VPC is isolated (R-SC3)" "$(jget "$T/net-$SID.json" 'd["network"]["isolated"]')" true
check "3. the audit: exit.reclaim_ordered by the authority with the ground (R-EX1), system.stage exit_requested -> suspended (R-SC3)" \
	after_mark "(lambda o, s: len(o) == 1 and o[0]['role'] == 'authority' and o[0]['rule'] == 'R-EX1' and o[0]['detail']['ground'] == 'no_longer_needed' and o[0]['detail']['outcome'] == 'suspended' and o[0]['approval'] == 'approval-oa/OA-2026-0131' and s == [('exit_requested', 'suspended', 'R-SC3')] or 1/0)([x for x in r if x['action'] == 'exit.reclaim_ordered'], [(x['detail']['from'], x['detail']['to'], x['rule']) for x in r if x['action'] == 'system.stage'])"
check "3. the VMs still run" all_vms "$SID" running
ordered_event() {
	hook_events exit.reclaim_ordered >"$T/ordered.json"
	[[ $(jget "$T/ordered.json" "[(e['system_id'], e['ground'], e['outcome'], e['rule']) for e in d]") == "[[$SID, \"no_longer_needed\", \"suspended\", \"R-EX1\"]]" ]]
}
check "3. the tenant's notification exit.reclaim_ordered reaches the webhook with the system, ground, outcome and rule" poll 30 ordered_event
check "... signed with the service key over the exact body (openssl)" event_verified exit.reclaim_ordered
check "3. a second order: 409 invalid_state R-EX1, one exit.refused" \
	refused authority POST "/v1/systems/$SID/reclaim-order" '{"ground": "low_utilization", "reason": "再次下令"}' "$SID" \
	409 invalid_state system.state suspended R-EX1 exit.refused
check "3. the provider's reclaim while suspended in grace: 409 exit_not_allowed R-EX3" \
	refused provider POST "/v1/systems/$SID/reclaim" '{"reason": "试图清除"}' "$SID" \
	409 exit_not_allowed system.state suspended R-EX3 reclaim.refused

# ------------------------------------- 4. the statement, stop, wipe ----

note "step 4 at $((SECONDS - T0)) s"
mark
STMT_LOG=$(wc -l <"$ORCH_LOG")
# As sheets.sh signs a sheet: the signing key first, the connection's --key after it.
run_gcctl tenant "$T/statement.out" system exit-statement "$SID" --key "$TENANT_KEY"
if [[ $RC == 0 ]]; then
	pass "4. gcctl system exit-statement $SID --key SIGNING-KEY ... --key TLS-KEY (as gcctl sheet sign takes them): exit 0"
else
	fail "4. gcctl system exit-statement $SID --key SIGNING-KEY ... --key TLS-KEY (as gcctl sheet sign takes them): exit 0"
	sed 's/^/    # /' "$T/statement.out"
	# The connection's key from the environment (GC_KEY), the signing key as --key.
	who_files tenant
	RC=0
	GC_KEY=$KEY "$GCCTL_BIN" system exit-statement "$SID" --key "$TENANT_KEY" --server "$URL" --cert "$CERT" --cacert "$PKI/ca.crt" \
		>"$T/statement.out" 2>&1 || RC=$?
	check "4. gcctl system exit-statement $SID --key SIGNING-KEY with the connection's key in GC_KEY: exit 0" \
		bash -c '[[ $1 == 0 ]] || { cat "$2"; exit 1; }' _ "$RC" "$T/statement.out"
fi
check "... it shows the wording and says what it signed" \
	bash -c 'grep -q "安全清除" "$1" && grep -q "signed the exit statement of system $2 with $3 ($4)" "$1"' _ "$T/statement.out" "$SID" "$TENANT_FP" "$STATEMENT_HASH"
exit_get "$SID"
is "4. the statement is signed, by 李四's key" "$(xq "$SID" '[x["statement"]["signed"], x["statement"]["holder"], x["statement"]["fingerprint"]]')" "[true, \"李四\", \"$TENANT_FP\"]"
check "4. the signature verifies with openssl over the canonical bytes" bash -c '
	base64 -d <<<"$1" >"$2.der" && openssl pkeyutl -verify -pubin -inkey "$3" -rawin -in "$2" -digest sm3 -pkeyopt "distid:$4" -sigfile "$2.der"' \
	_ "$(xq "$SID" 'x["statement"]["signature"]')" "$T/statement.canon" "$(sign_pub tenant)" "$DISTID"
who_files tenant
RC=0
GC_KEY=$KEY "$GCCTL_BIN" system exit-statement "$SID" --key "$TENANT_KEY" --server "$URL" --cert "$CERT" --cacert "$PKI/ca.crt" \
	>"$T/statement2.out" 2>&1 || RC=$?
check "4. signing again is refused (exit 1, already_signed)" test "$RC" = 1 -a -n "$(grep -o already_signed "$T/statement2.out")"
poll 30 exit_step_is "$SID" wiping || true
is "4. the VMs are stopped (vm.stop), then the reclaim is at step wiping" "$(xq "$SID" 'x["step"]')" wiping
is "4. the system is wiping" "$(system_state "$SID")" wiping
is "4. a vm.stop job per VM, done" "$(jobs_of "$SID" vm.stop)" "done done"
check "4. the VMs are stopped (GET /v1/vms)" all_vms "$SID" stopped
is "4. ... each domain shut off as the agent reported it (observed)" \
	"$(jget "$T/vms-$SID.json" '[v["observed"]["state"] for v in d["vms"]]')" '["shutoff", "shutoff"]'
check "4. the audit: exit.statement_signed (R-EX2) by the tenant with the hash, system.stage suspended -> draining -> wiping (R-EX3), reclaim.step stopping then wiping, a job.done per vm.stop" \
	after_mark "(lambda s, st, rs, jd: s == [('tenant', 'R-EX2', '$STATEMENT_HASH', '李四')] and st == [('suspended', 'draining', 'R-EX3', 'tenant_statement'), ('draining', 'wiping', 'R-EX3', None)] and rs == ['stopping', 'wiping'] and jd == 2 or 1/0)([(x['role'], x['rule'], x['detail']['hash'], x['detail']['holder']) for x in r if x['action'] == 'exit.statement_signed'], [(x['detail']['from'], x['detail']['to'], x['rule'], x['detail'].get('by')) for x in r if x['action'] == 'system.stage'], [x['detail']['step'] for x in r if x['action'] == 'reclaim.step' and x['object'] == 'system:$SID'], len([x for x in r if x['action'] == 'job.done' and x['detail'].get('kind') == 'vm.stop']))"
network_get "$SID"
is "4. the VPC stays isolated" "$(jget "$T/net-$SID.json" 'd["network"]["isolated"]')" true
refute "4. the orchestrator logs no illegal lifecycle transition (suspended -> draining)" \
	bash -c 'tail -n "+$(($2 + 1))" "$1" | grep "illegal transition"' _ "$ORCH_LOG" "$STMT_LOG"

wipe_stopped() { exit_has_problem "$SID" && no_job_pending "$SID" vm.wipe; }
if poll 30 wipe_stopped; then
	pass "4. the wipe on the test driver fails and the reclaim stops with a problem"
else
	fail "4. the wipe on the test driver fails and the reclaim stops with a problem"
	sed 's/^/    # /' "$T/exit-$SID.json"
fi
PROBLEM=$(xq "$SID" 'x["problem"] or ""')
VM_NAMES=$(jget "$T/vms-$SID.json" '" ".join(v["name"] for v in d["vms"])')
note "problem: $PROBLEM"
is "4. the step stays wiping, the system wiping" "$(xq "$SID" 'x["step"]') $(system_state "$SID")" "wiping wiping"
check "4. the problem names vm.wipe, one of the VMs ($VM_NAMES) and host-a" \
	python3 -c 'import sys; p, names = sys.argv[1], sys.argv[2].split(); sys.exit(0 if p.startswith("vm.wipe of ") and any(n in p for n in names) and "host-a" in p and ("refused" in p or "failed" in p) else 1)' "$PROBLEM" "$VM_NAMES"
is "4. a vm.wipe job per VM, failed" "$(jobs_of "$SID" vm.wipe)" "failed failed"
check "4. each failed with an error (the agent's refusal or an unknown kind)" \
	test "$(dbq "SELECT COUNT(*) FROM jobs j JOIN vms v ON v.id = j.vm_id WHERE v.system_id = ? AND j.kind = 'vm.wipe' AND json_extract(j.result, '$.ok') = 0 AND length(json_extract(j.result, '$.error')) > 0" "$SID")" = 2
check "4. the audit: a job.failed per vm.wipe by host-a under R-EX3 with its error, one reclaim.stopped (R-EX3) with the problem, no reclaim.step deleting" \
	after_mark "(lambda jf, st, dl: len(jf) == 2 and all(a == 'host-a' and ru == 'R-EX3' and e for a, ru, e in jf) and st == [('wiping', '''$PROBLEM''', 'R-EX3')] and not dl or 1/0)([(x['actor'], x['rule'], x['detail'].get('error')) for x in r if x['action'] == 'job.failed' and x['detail'].get('kind') == 'vm.wipe'], [(x['detail']['step'], x['detail']['problem'], x['rule']) for x in r if x['action'] == 'reclaim.stopped'], [x for x in r if x['action'] == 'reclaim.step' and x['detail']['step'] == 'deleting'])"
# wipe_outcomes ID: per failed vm.wipe, "refused FIELD" (the agent's checks: nothing written) or "error TEXT".
wipe_outcomes() {
	dbq "SELECT CASE WHEN json_extract(j.result, '$.wipe.refused') IS NOT NULL THEN 'refused ' || json_extract(j.result, '$.wipe.refused.field') ELSE 'error ' || json_extract(j.result, '$.error') END FROM jobs j JOIN vms v ON v.id = j.vm_id WHERE v.system_id = ? AND j.kind = 'vm.wipe' AND j.state = 'failed' ORDER BY j.id" "$1"
}
note "the vm.wipe outcomes: $(wipe_outcomes "$SID" | xargs -d '\n' printf '%s; ')"
check "4. each vm.wipe was refused by the agent's checks on a volume (nothing written), or failed with an unknown kind (an agent without vm.wipe)" \
	bash -c '[[ -n $1 ]] && ! grep -Ev "^refused (volumes\[[0-9]+\]\.[a-z]+|wipe\.[a-z_]+)$|^error .*unknown" <<<"$1"' _ "$(wipe_outcomes "$SID")"
check "4. nothing was wiped: no volume certified" test "$(dbq 'SELECT COUNT(*) FROM wipes w JOIN vms v ON v.id = w.vm_id WHERE v.system_id = ? AND w.certificate IS NOT NULL' "$SID")" = 0
check "4. the VMs are still defined (no vm.delete)" test -z "$(jobs_of "$SID" vm.delete)"

run_gcctl provider "$T/gexit.out" system exit "$SID"
check "4. gcctl system exit $SID: exit 0" test "$RC" = 0
check "... prints the step and STOPPED with the problem" grep -qF "step wiping; STOPPED: $PROBLEM" "$T/gexit.out"
check "... the statement signed by 李四, the order (no_longer_needed, suspended)" \
	bash -c 'grep -q "statement signed .* by 李四" "$1" && grep -q "authority.s order: no_longer_needed, suspended" "$1"' _ "$T/gexit.out"
if [[ $(xq "$SID" 'len(x["volumes"])') -gt 0 ]]; then
	check "... and the per-volume table" grep -q 'PERCENT' "$T/gexit.out"
fi
run_gcctl provider "$T/gexit.json" system exit "$SID" --json
check "4. gcctl system exit --json: valid JSON, the same exit" \
	jget "$T/gexit.json" "d['exit']['step'] == 'wiping' and d['exit']['problem'] == '''$PROBLEM''' or 1/0"
run_gcctl tenant "$T/gshow.out" system show "$SID"
check "4. gcctl system show $SID (the tenant) prints the exit block" \
	grep -qF "exit: initiator tenant, ground no_longer_needed, step wiping; STOPPED:" "$T/gshow.out"

mark
api provider POST "/v1/systems/$SID/reclaim" '{"reason": "测试驱动卷，重试清除"}'
check "4. the provider's POST .../reclaim: 200" want 200
cp "$BODY" "$T/resume.json"
check "... one reclaim.resumed (R-EX3) with the step, the problem, the reason, retried" \
	after_mark "[(x['action'], x['rule'], x['detail']['step'], x['detail']['problem'], x['detail']['reason'], x['detail']['retried']) for x in r if x['action'] == 'reclaim.resumed'] == [('reclaim.resumed', 'R-EX3', 'wiping', '''$PROBLEM''', '测试驱动卷，重试清除', True)] or 1/0"
wiped_again() { wipe_stopped && [[ $(jobs_of "$SID" vm.wipe) == "failed failed failed failed" ]]; }
check "4. the wipe is sent again, a job per VM, and fails again" poll 30 wiped_again
# same_problem A B: the same failure, whichever VM it names.
same_problem() {
	python3 - "$1" "$2" "$VM_NAMES $(jget "$T/vms-$SID.json" '" ".join(v["uuid"] for v in d["vms"])')" <<'EOF'
import re, sys
def norm(p):
    for n in sys.argv[3].split():
        p = p.replace(n, "VM")
    return re.sub(r"/[^ ]+", "PATH", p)
print(norm(sys.argv[1]))
print(norm(sys.argv[2]))
sys.exit(norm(sys.argv[1]) != norm(sys.argv[2]))
EOF
}
PROBLEM2=$(after_mark "(lambda p: p[0] if len(p) == 1 else 'not one reclaim.stopped: %r' % p)([x['detail']['problem'] for x in r if x['action'] == 'reclaim.stopped' and x['detail']['step'] == 'wiping'])")
note "problem again: $PROBLEM2"
check "4. the same failure again (whichever VM it names), audited again: one reclaim.stopped at wiping" same_problem "$PROBLEM" "$PROBLEM2"
is "... step, state" "$(xq "$SID" 'x["step"]') $(system_state "$SID")" "wiping wiping"
api tenant POST "/v1/systems/$SID/reclaim" '{"reason": "租户自行清除"}'
check "4. the tenant may not resume a reclaim (403)" want 403

# ---------------------------------------------------- 5. Baotou, Lu'an ----

note "step 5 at $((SECONDS - T0)) s"
sign_now "$SAMPLES/exit-authority.json" "$T/exit-b.json" --set=system.name=门户网站
mark
submit "$T/exit-b.json"
check "5. 门户网站 (包头-A): the authority's exit (initiator authority, ground unfixable_risk) is accepted (201)" want 201
exit_get "$BID" || bail "GET /v1/systems/$BID/exit: $STATUS"
is "5. exit_requested, step grace (no grace period in Baotou: grace_until null, over)" \
	"$(system_state "$BID") $(xq "$BID" '[x["initiator"], x["ground"], x["step"], x["grace_until"], x["grace_over"]]')" \
	'exit_requested ["authority", "unfixable_risk", "grace", null, true]'
is "5. no exit_grace timer" "$(dbq "SELECT COUNT(*) FROM timers WHERE kind = 'exit_grace' AND system_id = ?" "$BID")" 0
mark
api authority POST "/v1/systems/$BID/reclaim-order" '{"ground": "unfixable_risk", "reason": "高危漏洞逾期未整改", "reference": "包数管〔2027〕7号"}'
cp "$BODY" "$T/order-b.json"
check "5. the order (Baotou lets it wipe): 200 outcome reclaim" answered 200 reclaim "$T/order-b.json"
is "5. the order's ground and reference are recorded" "$(jget "$T/order-b.json" '[d["exit"]["order"][k] for k in ("ground", "reference", "outcome")]')" '["unfixable_risk", "包数管〔2027〕7号", "reclaim"]'
poll 30 exit_step_is "$BID" wiping || true
is "5. draining -> wiping without any statement" \
	"$(system_state "$BID") $(xq "$BID" '[x["step"], x["statement"]["signed"]]')" 'wiping ["wiping", false]'
check "5. the audit: exit.reclaim_ordered (R-EX1, ground unfixable_risk), system.stage exit_requested -> draining by authority_order with the ground, -> wiping, no statement" \
	after_mark "(lambda o, s, st: o == [('unfixable_risk', 'reclaim', 'R-EX1')] and s == [('exit_requested', 'draining', 'authority_order', 'unfixable_risk'), ('draining', 'wiping', None, None)] and not st or 1/0)([(x['detail']['ground'], x['detail']['outcome'], x['rule']) for x in r if x['action'] == 'exit.reclaim_ordered'], [(x['detail']['from'], x['detail']['to'], x['detail'].get('by'), x['detail'].get('ground')) for x in r if x['action'] == 'system.stage' and x['object'] == 'system:$BID'], [x for x in r if x['action'] == 'exit.statement_signed'])"
is "5. its VM was stopped (vm.stop done), not suspended, its VPC not isolated" \
	"$(jobs_of "$BID" vm.stop) $(network_get "$BID" && jget "$T/net-$BID.json" 'd["network"]["isolated"]')" "done false"
b_stopped() { exit_has_problem "$BID" && no_job_pending "$BID" vm.wipe; }
check "5. its wipe fails on host-b's test driver: the reclaim stops at wiping with the problem" poll 30 b_stopped
check "... naming host-b" grep -q 'host-b' <<<"$(xq "$BID" 'x["problem"]')"
run_gcctl authority "$T/order-b2.out" system reclaim-order "$BID" --ground misuse --reason '再次下令'
check "5. gcctl system reclaim-order again: exit 1, invalid_state" test "$RC" = 1 -a -n "$(grep -o invalid_state "$T/order-b2.out")"

sign_now "$SAMPLES/exit-authority.json" "$T/exit-l.json" --set=system.name=一网通办 --set=approval.id=OA-L-EXIT
snapshot "$LID" "$T/snap.before"
mark
submit "$T/exit-l.json"
check "5. an authority exit of 一网通办 ($LPOOL, Lu'an lists no grounds): 422 ground_not_allowed ground=unfixable_risk R-EX1" \
	test "$STATUS $(jget "$BODY" 'd["error"]["code"] + " " + d["error"]["field"] + "=" + d["error"]["value"] + " " + d["error"]["rule"]')" = \
	"422 ground_not_allowed ground=unfixable_risk R-EX1"
is "... one request.refused (R-EX1)" "$(after_mark "[(x['action'], x['rule']) for x in r]")" '[["request.refused", "R-EX1"]]'
snapshot "$LID" "$T/snap.after"
check "... nothing stored" diff "$T/snap.before" "$T/snap.after"
sign_now "$SAMPLES/exit-authority.json" "$T/exit-g-misuse.json" --set=system.name=数据共享交换 --set=approval.id=OA-Z-EXIT-M --set=ground=misuse
mark
submit "$T/exit-g-misuse.json"
check "5. an authority exit of 数据共享交换 on ground misuse (Zhumadian lists no_longer_needed, low_utilization): 422 ground_not_allowed R-EX1" \
	test "$STATUS $(jget "$BODY" 'd["error"]["code"] + " " + d["error"]["value"] + " " + d["error"]["rule"]')" = "422 ground_not_allowed misuse R-EX1"
is "... one request.refused; 数据共享交换 stays active" "$(after_mark "[x['action'] for x in r]") $(system_state "$GID")" '["request.refused"] active'

# ------------------------------------------------------- 6. restart ----

note "step 6 at $((SECONDS - T0)) s"
sign_now "$SAMPLES/exit.json" "$T/exit-g.json" --set=system.name=数据共享交换 --set=approval.id=OA-Z-EXIT-2
submit "$T/exit-g.json"
check "6. 数据共享交换 ($ZPOOL): the tenant's exit is accepted (201)" want 201
G_RECEIVED=$(dbq "SELECT received FROM requests WHERE approval_id = 'OA-Z-EXIT-2'")
is "6. its exit_grace timer is pending, due in 30 days" \
	"$(dbq "SELECT due - ?, fired IS NULL FROM timers WHERE kind = 'exit_grace' AND system_id = ?" "$G_RECEIVED" "$GID")" "$((30 * DAY))	1"
check "6. SIGTERM: gc-orchestrator exits 0" orch_stop
orch_start
pass "6. gc-orchestrator started again on the same store (port $PORT)"
mark
advance 29d $((29 * DAY))
sleep 2
is "6. 29 days on: no exit.grace_ended yet, still exit_requested in grace" \
	"$(after_mark "[x for x in r if x['action'] == 'exit.grace_ended']") $(system_state "$GID")" "[] exit_requested"
advance 2d $((2 * DAY))
grace_ended() { [[ $(after_mark "[(x['object'], x['rule'], x['actor'], x['detail']['statement']) for x in r if x['action'] == 'exit.grace_ended']") == "[[\"system:$GID\", \"R-EX2\", \"gc-orchestrator\", false]]" ]]; }
check "6. 31 days on: the timer fires after the restart: one exit.grace_ended for 数据共享交换 (R-EX2, no statement)" poll 15 grace_ended
note "records: $(after_mark "[(x['action'], x['object']) for x in r]")"
is "6. the timer is marked fired" "$(dbq "SELECT fired IS NOT NULL FROM timers WHERE kind = 'exit_grace' AND system_id = ?" "$GID")" 1
exit_get "$GID"
is "6. the exit: grace over, still at step grace, unsigned; the system exit_requested (the VMs stay until the statement or an order)" \
	"$(xq "$GID" '[x["grace_over"], x["step"], x["statement"]["signed"]]') $(system_state "$GID")" '[true, "grace", false] exit_requested'
check "6. 协同办公OA (past its grace, at wiping) got no exit.grace_ended" \
	after_mark "not [x for x in r if x['action'] == 'exit.grace_ended' and x['object'] == 'system:$SID'] or 1/0"
check "6. the VMs of 数据共享交换 still run" all_vms "$GID" running
check "the audit chain verifies" gcctl_as authority audit verify

note "run time $((SECONDS - T0)) s"
finish
