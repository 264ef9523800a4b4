#!/usr/bin/env bash
# tests/integration/intake.sh - POST /v1/requests against the real
# gc-orchestrator over TLS 1.3 on 127.0.0.1 with a real SQLite file:
# accepted requests are stored (request, system state, VMs); every refusal
# answers its code, field, value and rule, appends exactly one audit record
# and changes nothing else in the store.  Requests are signed by
# sign-openssl.py (JCS in Python, the openssl command), so the orchestrator's
# acceptance shows that an independent JCS + SM2 (and Ed25519)
# implementation agrees with its own.  Submissions go through curl and
# through Python's ssl module.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

make_pki
write_config
orch_start
pass "gc-orchestrator listens on 127.0.0.1:$PORT"
register_baseline
pass "registered 市xx局, four systems, the agreement of 协同办公OA, approval system approval-oa"

# Requests answered 201, counted as they are accepted.
ACCEPTED=0

# ----------------------------------------------------------- helpers ------

# mkreq IN OUT [sign-openssl.py OPTION]...: a signed variant of a request.
mkreq() { sign "$@"; }

# refusal DESC FILE STATUS CODE FIELD RULE [VALUE]
# Submits FILE (curl, or the Python client when VIA=py; as WHO, default
# approval) and checks the answer, the one new audit record (ACTION, default
# request.refused; outcome denied for 403, else refused) and that every
# other table is unchanged.
refusal() {
	local desc=$1 file=$2 status=$3 code=$4 field=$5 rule=$6 value=${7-}
	local action=${ACTION:-request.refused} outcome=refused before got
	[[ $status != 403 ]] || outcome=denied
	db_dump "$T/dump.before"
	audit_fetch
	before=$AUDIT_LAST
	if [[ ${VIA:-curl} == py ]]; then pysubmit "$file" "${WHO:-approval}"; else submit "$file" "${WHO:-approval}"; fi
	cp "$BODY" "$T/refusal.body"
	check "$desc: HTTP $status" want "$status"
	got=$(jget "$T/refusal.body" '" | ".join([d["error"]["code"], d["error"]["field"], d["error"]["rule"],
		d["error"]["value"], "a message" if d["error"]["message"] else "no message"])' 2>&1) || true
	if [[ -n $value ]]; then
		is "$desc: error $code, field \"$field\", rule \"$rule\", value \"$value\"" "$got" \
			"$code | $field | $rule | $value | a message"
	else
		is "$desc: error $code, field \"$field\", rule \"$rule\"" "${got% | * | a message}" "$code | $field | $rule"
	fi
	audit_fetch
	got=$(jget "$T/audit.json" '" ".join(str(x) for x in [d["records"][-1]["seq"], d["records"][-1]["action"],
		d["records"][-1]["outcome"], "[" + d["records"][-1]["rule"] + "]", d["records"][-1]["detail"].get("code"),
		d["records"][-1]["detail"].get("status")])')
	is "$desc: one audit record added: $action, $outcome, rule \"$rule\", with the code and status" \
		"$got" "$((before + 1)) $action $outcome [$rule] $code $status"
	db_dump "$T/dump.after"
	check "$desc: nothing else in the store changed" diff -u "$T/dump.before" "$T/dump.after"
}

# accepted DESC FILE [existing]: 201 (or 200 existing:true).
accepted() {
	local desc=$1 file=$2 mode=${3:-new}
	if [[ ${VIA:-curl} == py ]]; then pysubmit "$file" "${WHO:-approval}"; else submit "$file" "${WHO:-approval}"; fi
	cp "$BODY" "$T/accepted.body"
	if [[ $mode == existing ]]; then
		check "$desc: HTTP 200" want 200
		is "$desc: existing is true" "$(jget "$T/accepted.body" 'd["existing"]')" true
	else
		check "$desc: HTTP 201" want 201
		is "$desc: existing is false" "$(jget "$T/accepted.body" 'd["existing"]')" false
		ACCEPTED=$((ACCEPTED + 1))
	fi
}

# ------------------------------------------------------ an acceptance -----

mkreq "$SAMPLES/apply.json" "$T/apply.json"
VIA=py accepted "apply.json (协同办公OA, 包头-A) through the Python client (TLS 1.3)" "$T/apply.json"
REQ_OA=$(jget "$T/accepted.body" 'd["request"]["id"]')
is "the reply names the three VMs built by R-NM2" \
	"$(jget "$T/accepted.body" '[v["name"] for v in d["vms"]]')" \
	'["市xx局协同办公OA应用服务器1", "市xx局协同办公OA应用服务器2", "市xx局协同办公OA数据库服务器1"]'
is "the reply says the system is now requested" "$(jget "$T/accepted.body" 'd["system"]["state"]')" requested
is "the request is approval-oa/OA-2026-0001, outcome accepted" \
	"$(jget "$T/accepted.body" 'd["request"]["approval_system"] + "/" + d["request"]["approval_id"] + " " + d["request"]["outcome"]')" \
	"approval-oa/OA-2026-0001 accepted"
check "the digest is sm3 over the canonical bytes" jget "$T/accepted.body" \
	'len(d["request"]["digest"]) == 68 and d["request"]["digest"].startswith("sm3:") or 1/0'

audit_fetch
check "the acceptance is one audit record: request.accepted, accepted, R-LC1" \
	audit_last_is request.accepted accepted R-LC1 approval-oa
is "the audit record names the approval" "$(jget "$T/audit.json" 'd["records"][-1]["approval"]')" approval-oa/OA-2026-0001

accepted "the same signed bytes again (curl)" "$T/apply.json" existing
is "... the existing request is returned" "$(jget "$T/accepted.body" 'd["request"]["id"]')" "$REQ_OA"
AUDIT_AFTER_OA=$AUDIT_LAST
audit_fetch
is "... and no audit record is added for it" "$AUDIT_LAST" "$AUDIT_AFTER_OA"

api authority GET "/v1/requests/$REQ_OA"
check "GET /v1/requests/$REQ_OA answers" want 200
check "GET /v1/requests/$REQ_OA returns the submitted document" python3 - "$BODY" "$T/apply.json" <<'EOF'
import json, sys
got = json.load(open(sys.argv[1], encoding="utf-8"))["request"]
sent = json.load(open(sys.argv[2], encoding="utf-8"))
assert got["document"] == sent, "the stored document differs from the one sent"
assert got["kind"] == "apply" and got["outcome"] == "accepted", got
EOF
api authority GET "/v1/systems/${SYS[协同办公OA]}"
check "GET /v1/systems/${SYS[协同办公OA]} answers" want 200
is "the system is requested, in pool 包头-A" "$(jget "$BODY" 'd["system"]["state"] + " " + d["system"]["pool"]')" "requested 包头-A"
is "the system lists its three planned VMs" \
	"$(jget "$BODY" '[(v["name"], v["state"], v["vcpus"]) for v in d["system"]["vms"]]')" \
	'[["市xx局协同办公OA应用服务器1", "planned", 4], ["市xx局协同办公OA应用服务器2", "planned", 4], ["市xx局协同办公OA数据库服务器1", "planned", 8]]'
is "the transition registered -> requested is recorded" \
	"$(jget "$BODY" '[(t["from"], t["to"], t["request"]) for t in d["system"]["transitions"]]')" \
	"[[\"registered\", \"requested\", $REQ_OA]]"

# ----------------------------------------------------- the pack's rules ---

mkreq "$SAMPLES/apply-classified.json" "$T/classified.json"
refusal "apply-classified.json" "$T/classified.json" 422 classified system.classified R-RQ1 true

mkreq "$SAMPLES/apply-bad-name.json" "$T/bad-name.json"
VIA=py refusal "apply-bad-name.json (Python client)" "$T/bad-name.json" 422 invalid_name 'vms[0].names[0]' R-NM2 web1

mkreq "$SAMPLES/apply-luan.json" "$T/luan.json"
accepted "apply-luan.json (一网通办, 六安-A, the luan pack)" "$T/luan.json"
is "... with the names it gave" "$(jget "$T/accepted.body" '[v["name"] for v in d["vms"]]')" '["ywtb-app-01", "ywtb-app-02"]'

mkreq "$SAMPLES/apply-duplicate-name.json" "$T/duplicate-name.json"
refusal "apply-duplicate-name.json (ywtb-app-01 is taken in 六安-A)" "$T/duplicate-name.json" \
	422 duplicate_name 'vms[0].names[0]' R-NM2 ywtb-app-01
check "... the message names the pool" grep -q '六安-A' "$T/refusal.body"

mkreq "$SAMPLES/change-major.json" "$T/change-major.json"
refusal "change-major.json (12 new VMs without the re-review)" "$T/change-major.json" 422 major_change new_vms R-RQ2

mkreq "$SAMPLES/apply.json" "$T/vcpus0.json" --set=approval.id=OA-2026-0100 --set=system.name=门户网站 \
	--set-json=vms.0.vcpus=0
refusal "vcpus 0 (schema)" "$T/vcpus0.json" 400 invalid_request 'vms[0].vcpus' '' 0

mkreq "$SAMPLES/apply.json" "$T/other-pool.json" --set=approval.id=OA-2026-0101 --set=system.name=门户网站 \
	--set=pool=不存在-A
refusal "a pool this orchestrator does not have" "$T/other-pool.json" 422 unknown_pool pool '' 不存在-A

# ------------------------------------------------------------ state -------

mkreq "$SAMPLES/apply.json" "$T/unknown-system.json" --set=approval.id=OA-2026-0102 --set=system.name=未登记系统
refusal "an apply for a system that is not registered" "$T/unknown-system.json" \
	422 unknown_system system.name R-NM1 未登记系统

mkreq "$SAMPLES/apply.json" "$T/unknown-unit.json" --set=approval.id=OA-2026-0103 --set=unit=市zz局
refusal "an apply for a unit that is not registered" "$T/unknown-unit.json" 422 unknown_unit unit R-NM1 市zz局

mkreq "$SAMPLES/apply.json" "$T/again.json" --set=approval.id=OA-2026-0104
refusal "a second apply for 协同办公OA (already requested)" "$T/again.json" \
	409 invalid_state system.name R-LC1 协同办公OA

mkreq "$SAMPLES/apply.json" "$T/no-agreement.json" --set=approval.id=OA-2026-0105 --set=system.name=门户网站
VIA=py refusal "an apply for 门户网站 in 包头-A without an agreement" "$T/no-agreement.json" \
	422 no_agreement system.name R-SC1 门户网站

# ---------------------------------------------------------- envelope ------

mkreq "$SAMPLES/apply-replay.json" "$T/replay.json"
refusal "apply-replay.json (OA-2026-0001 with other content)" "$T/replay.json" 409 replay approval.id '' OA-2026-0001

openssl genpkey -algorithm SM2 -out "$T/rogue-sm2.key" 2>/dev/null
openssl pkey -in "$T/rogue-sm2.key" -pubout -out "$T/rogue-sm2.pub" 2>/dev/null
SIGN_KEY=$T/rogue-sm2.key mkreq "$SAMPLES/apply.json" "$T/rogue-signed.json" --set=approval.id=OA-2026-0106 \
	--set=system.name=门户网站
refusal "a request signed with an unregistered SM2 key" "$T/rogue-signed.json" 422 bad_signature approval.signature ''

python3 - "$T/apply.json" "$T/tampered.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
d["approval"]["id"] = "OA-2026-0107"
json.dump(d, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
EOF
refusal "a signed request changed after signing (approval.id)" "$T/tampered.json" 422 bad_signature approval.signature ''

mkreq "$SAMPLES/apply.json" "$T/unknown-as.json" --set=approval.id=OA-2026-0108 --set=approval.system=approval-xx
refusal "an approval system that is not registered" "$T/unknown-as.json" \
	422 unknown_approval_system approval.system '' approval-xx

mkreq "$SAMPLES/apply.json" "$T/expired.json" --set=approval.id=OA-2026-0109 --set=system.name=门户网站 \
	--set=approval.time=now-8d
refusal "an approval 8 days old (the window is 7 days)" "$T/expired.json" 422 approval_expired approval.time ''

mkreq "$SAMPLES/apply.json" "$T/future.json" --set=approval.id=OA-2026-0110 --set=system.name=门户网站 \
	--set=approval.time=now+1h
VIA=py refusal "an approval 1 h in the future (skew 300 s)" "$T/future.json" 422 approval_in_future approval.time ''

python3 - "$T/apply.json" "$T/no-signature.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
d["approval"]["id"] = "OA-2026-0111"
del d["approval"]["signature"]
json.dump(d, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
EOF
refusal "an envelope without approval.signature" "$T/no-signature.json" 400 invalid_envelope approval.signature ''

printf 'this is not JSON\n' >"$T/not-json.txt"
refusal "a body that is not JSON" "$T/not-json.txt" 400 invalid_json 'byte 0' ''

# The same document with "kind" twice; still valid JSON to a lenient parser.
python3 - "$T/apply.json" "$T/dup-key.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
d["approval"]["id"] = "OA-2026-0112"
text = json.dumps(d, ensure_ascii=False)
assert text.startswith('{"schema"')
open(sys.argv[2], "w", encoding="utf-8").write('{"kind": "apply", ' + text[1:])
EOF
refusal "a duplicate JSON key (kind twice)" "$T/dup-key.json" 400 invalid_json kind ''

# An approval system submitting under another's id: approval-oa2 is
# registered with a key of its own; approval-oa's certificate submits a
# request that names approval-oa2 and is signed with approval-oa2's key.
openssl genpkey -algorithm SM2 -out "$T/oa2.key" 2>/dev/null
openssl pkey -in "$T/oa2.key" -pubout -out "$T/oa2.pub" 2>/dev/null
register_approval_system approval-oa2 "$T/oa2.pub"
SIGN_KEY=$T/oa2.key mkreq "$SAMPLES/apply.json" "$T/oa2.json" --set=approval.id=OA2-0001 \
	--set=approval.system=approval-oa2 --set=system.name=门户网站
refusal "approval-oa's certificate submitting as approval-oa2" "$T/oa2.json" 403 not_caller approval.system '' approval-oa2

ACTION=access.denied WHO=tenant refusal "the tenant certificate POSTing /v1/requests" "$T/apply.json" \
	403 forbidden certificate.OU '' tenant

# -------------------------------------------------------------- Ed25519 ---

# An approval system whose signing key is Ed25519: its certificate is made
# here (OU=approval, CN=approval-ed) by the run's CA.
make_cert approval approval-ed "$T/approval-ed"
openssl genpkey -algorithm ED25519 -out "$T/ed.key" 2>/dev/null
openssl pkey -in "$T/ed.key" -pubout -out "$T/ed.pub" 2>/dev/null
register_approval_system approval-ed "$T/ed.pub"
is "approval-ed is registered with an ed25519 key" "$(jget "$BODY" 'd["approval_system"]["key_type"]')" ed25519

openssl genpkey -algorithm ED25519 -out "$T/ed-other.key" 2>/dev/null
SIGN_KEY=$T/ed-other.key mkreq "$SAMPLES/apply-luan.json" "$T/ed-bad.json" --set=approval.system=approval-ed \
	--set=approval.id=ED-0001 --set=system.name=数据共享交换 --set=vms.0.names.0=sjgx-app-01 \
	--set=vms.0.names.1=sjgx-app-02
WHO=file:$T/approval-ed refusal "an Ed25519 signature by another key" "$T/ed-bad.json" 422 bad_signature approval.signature ''

SIGN_KEY=$T/ed.key mkreq "$SAMPLES/apply-luan.json" "$T/ed.json" --set=approval.system=approval-ed \
	--set=approval.id=ED-0001 --set=system.name=数据共享交换 --set=vms.0.names.0=sjgx-app-01 \
	--set=vms.0.names.1=sjgx-app-02
WHO=file:$T/approval-ed accepted "an apply signed with Ed25519 by approval-ed (curl)" "$T/ed.json"
is "... the Ed25519 request is stored for approval-ed" \
	"$(jget "$T/accepted.body" 'd["request"]["approval_system"] + " " + d["system"]["name"] + " " + d["system"]["state"]')" \
	"approval-ed 数据共享交换 requested"

# An approval system sees its own requests only.
pyapi approval GET /v1/requests
check "approval-oa lists requests" want 200
is "approval-oa sees only approval-oa's requests" "$(jget "$BODY" 'sorted(set(r["approval_system"] for r in d["requests"]))')" '["approval-oa"]'
pyapi file:"$T/approval-ed" GET /v1/requests
is "approval-ed sees its one request" "$(jget "$BODY" '[r["approval_id"] for r in d["requests"]]')" '["ED-0001"]'

# ------------------------------------------------ counts and events -------

api authority GET /v1/requests
is "GET /v1/requests lists the $ACCEPTED accepted requests and nothing refused" \
	"$(jget "$BODY" 'len(d["requests"])')" "$ACCEPTED"
is "... all accepted" "$(jget "$BODY" 'sorted(set(r["outcome"] for r in d["requests"]))')" '["accepted"]'

audit_fetch
cp "$T/audit.json" "$T/audit.final.json"
N_REFUSED=$(jget "$T/audit.json" 'len([r for r in d["records"] if r["action"] == "request.refused"])')
N_ACCEPTED=$(jget "$T/audit.json" 'len([r for r in d["records"] if r["action"] == "request.accepted"])')
is "the audit chain has one request.accepted per acceptance" "$N_ACCEPTED" "$ACCEPTED"
check "there were at least 20 request refusals" test "$N_REFUSED" -ge 20

# notify-log: one line per event, request.accepted + stage.reached for an
# acceptance, request.refused for a refusal, in audit order.
events_complete() { [[ -f $T/events.log && $(wc -l <"$T/events.log") -ge $((2 * N_ACCEPTED + N_REFUSED)) ]]; }
check "events.log receives $((2 * N_ACCEPTED + N_REFUSED)) events within 30 s" poll 30 events_complete
check "events.log has exactly the events of the audit chain, in order" python3 - "$T/audit.final.json" "$T/events.log" <<'EOF'
import json, sys
recs = json.load(open(sys.argv[1], encoding="utf-8"))["records"]
want = []
for r in recs:
    if r["action"] == "request.accepted":
        want += [(str(r["seq"]), "request.accepted", None), (str(r["seq"]) + ".stage", "stage.reached", None)]
    elif r["action"] == "request.refused":
        want.append((str(r["seq"]), "request.refused", r["detail"]["code"]))
got = []
for line in open(sys.argv[2], encoding="utf-8"):
    e = json.loads(line)
    got.append((e["id"], e["type"], e["error"]["code"] if e["type"] == "request.refused" else None))
if got != want:
    for i, (g, w) in enumerate(zip(got + [None] * len(want), want + [None] * len(got))):
        if g != w:
            print("event %d: got %s, want %s" % (i, g, w))
            break
    sys.exit(1)
print(len(got), "events")
EOF

# GET /metrics agrees with the audit chain of this run (one process).
api provider GET /metrics
check "GET /metrics answers the provider" want 200
cp "$BODY" "$T/metrics.txt"
check "the metrics agree with the audit chain" python3 - "$T/audit.final.json" "$T/metrics.txt" <<'EOF'
import collections, json, re, sys
recs = json.load(open(sys.argv[1], encoding="utf-8"))["records"]
m = {}
for line in open(sys.argv[2], encoding="utf-8"):
    if line.startswith("#") or not line.strip():
        continue
    k, v = line.rsplit(" ", 1)
    m[k] = int(v)
bad = []
def expect(key, want):
    if m.get(key, 0) != want:
        bad.append("%s is %s, the audit chain says %d" % (key, m.get(key), want))
acc = collections.Counter(r["detail"]["kind"] for r in recs if r["action"] == "request.accepted")
ref = collections.Counter(r["detail"].get("kind", "unknown") for r in recs if r["action"] == "request.refused")
for kind in ("apply", "change", "exit"):
    expect('gc_requests_total{kind="%s",outcome="accepted"}' % kind, acc[kind])
    expect('gc_requests_total{kind="%s",outcome="refused"}' % kind, ref[kind])
expect('gc_requests_total{kind="unknown",outcome="refused"}', ref["unknown"])
expect('gc_requests_total{kind="apply",outcome="existing"}', 1)
rules = collections.Counter(r["rule"] or "none" for r in recs if r["outcome"] == "refused")
for rule, n in rules.items():
    expect('gc_refusals_total{rule="%s"}' % rule, n)
expect("gc_access_denied_total", sum(1 for r in recs if r["outcome"] == "denied"))
# This process appended every record since its service.started, that one included.
start = max(r["seq"] for r in recs if r["action"] == "service.started")
expect("gc_audit_records_total", sum(1 for r in recs if r["seq"] >= start))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF

check "the audit chain verifies (SM3, RFC 8785)" "${GCINT[@]}" audit-verify "$DB"
check "gc-orchestrator stops on SIGTERM with status 0" orch_stop
finish
