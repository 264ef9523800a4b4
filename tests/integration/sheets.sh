#!/usr/bin/env bash
# sheets: tri-party confirmation sheets and the audit chain through the
# real binaries: gc-orchestrator (--unsafe-test-clock) with one gc-agent on
# the libvirt test driver, gcctl for every party, openssl alone for the
# offline check, and the SQLite file edited behind the orchestrator's back.
#
#   1. apply (六安-A, Lu'an pack) -> trial; the authority extends the trial
#      by 5 days (R-LC2) and the timer moves: a day past the first end,
#      still in trial; 5 more, awaiting_golive with a go-live sheet (R-LC3)
#   2. the sheet lists the system, the unit, each VM with its address,
#      ports, vCPUs, memory, disks, the totals and billing at confirmation
#   3. each bad signature is refused with its reason, audited once, and
#      changes nothing: another party's key, a revoked key, another unit's
#      key, an unregistered key, an Ed25519 key where the pack signs SM2,
#      a signature over other bytes, a certificate of another party
#   4. tenant, provider and authority sign with gcctl; a second tenant
#      signature is refused; the third completes the sheet: active, billing
#      starts (R-LC3)
#   5. the export verifies with gcctl offline, with --trust, and with the
#      openssl command alone (VERIFY.txt); a changed byte does not
#   6. a change (resize up, release, add) -> a change sheet with before and
#      after per VM; three signatures close the change (R-LC4)
#   7. checkpoints signed by the service key; the authority countersigns;
#      the chain offered for audit as an exported segment (R-AU2, R-AU3);
#      gcctl audit verify (live and exported) says so
#   8. retention (R-AU1): 7 months on (the Baotou pack's 6), the old records
#      are archived signed and pruned; the archive and the live chain verify;
#      the store refuses to delete a record inside the retention
#   9. the SQLite file edited behind the orchestrator's back: gcctl audit
#      verify names the edited record, then the deleted one
#  10. SIGTERM: the last checkpoint covers the last record
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

AGENT_BIN=$GC_BUILDDIR/agent/gc-agent
GCCTL_BIN=${GCCTL:-$GC_BUILDDIR/cli/gcctl}
[[ -x $AGENT_BIN ]] || bail "$AGENT_BIN is not built"
[[ -x $GCCTL_BIN ]] || bail "$GCCTL_BIN is not built"

UNIT=市xx局
POOL=六安-A
DAY=86400
OFFSET=0        # the test clock's offset, seconds

make_pki --unit 市xx局 --unit 市yy局
write_config '' '{"audit": {"checkpoint_interval_seconds": 1, "prune_interval_seconds": 1, "archive_dir": "archive"},
                  "parties": {"provider": "某云服务有限公司", "authority": "六安市数据资源管理局"}}'
ORCH_ARGS=(--unsafe-test-clock)
orch_start

register_key() {   # register_key PARTY HOLDER PUB [UNIT]: LAST_ID, the key's id
	local unit=
	[[ -z ${4-} ]] || unit=", \"unit\": $(jstr "$4")"
	api authority POST /v1/keys "{\"party\": \"$1\", \"holder\": $(jstr "$2"), \"public_key\": $(jstr "$(cat "$3")")$unit}"
	want 201 >"$T/reg.err" || bail "register $1 key $2: $(cat "$T/reg.err")"
	LAST_ID=$(jget "$BODY" 'd["key"]["id"]')
}
aq() { audit_fetch; jget "$T/audit.json" "$1"; }
mark() { audit_fetch; MARK=$AUDIT_LAST; }

# --------------------------------------------------------- registration ---

register_unit "$UNIT"
register_unit 市yy局
register_system "$UNIT" 一网通办
SID=$LAST_ID
record_agreement "$SID"
register_system "$UNIT" 门户网站
IDLE_SYS=$LAST_ID
register_approval_system approval-oa "$(sign_pub approval)"
register_host host-a "$POOL" none

TENANT_KEY=$(sign_key tenant)
PROVIDER_KEY=$(sign_key provider)
AUTHORITY_KEY=$(sign_key authority)
register_key tenant 李四 "$(sign_pub tenant)" "$UNIT"
register_key provider 王工 "$(sign_pub provider)"
register_key authority 陈处长 "$(sign_pub authority)"
register_key tenant 市yy局经办人 "$(sign_pub tenant 市yy局)" 市yy局
OTHER_UNIT_KEY=$(sign_key tenant 市yy局)
openssl genpkey -algorithm SM2 -out "$T/revoked.key" 2>/dev/null
openssl pkey -in "$T/revoked.key" -pubout -out "$T/revoked.pub" 2>/dev/null
register_key tenant 离职人员 "$T/revoked.pub" "$UNIT"
REVOKED_ID=$LAST_ID
openssl genpkey -algorithm SM2 -out "$T/stranger.key" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$T/ed.key" 2>/dev/null
openssl pkey -in "$T/ed.key" -pubout -out "$T/ed.pub" 2>/dev/null
register_key tenant 李四备用 "$T/ed.pub" "$UNIT"

run_gcctl authority "$T/revoke.out" key revoke "$REVOKED_ID" --reason "经办人离职"
check "gcctl key revoke $REVOKED_ID: exit 0" test "$RC" = 0
is "... the key shows its revocation" "$(dbq 'SELECT revoked IS NOT NULL, revoked_reason FROM party_keys WHERE id = ?' "$REVOKED_ID")" $'1\t经办人离职'

who_files host=host-a
cat >"$T/agent.json" <<EOF
{"orchestrator": "$URL", "tls": {"cert": "$CERT", "key": "$KEY", "ca": "$PKI/ca.crt"},
 "libvirt_uri": "test:///default", "storage_pool": "default-pool",
 "capacity": {"vcpus": 64, "memory_mib": 131072, "storage_gib": 100000, "arch": "x86_64"},
 "poll_seconds": 5, "journal": "$T/journal"}
EOF
LOGS[agent]=$T/agent.log
mkdir -p "$T/relabel"
"$AGENT_BIN" -c "$T/agent.json" --log-level debug --unsafe-test-relabel "$T/relabel" >>"$T/agent.log" 2>&1 &
AGENT_PID=$!
bg "$AGENT_PID"

# --------------------------------------------------- 1. apply -> trial ----

sign_now "$SAMPLES/apply-luan.json" "$T/apply.json"
submit "$T/apply.json"
want 201 >"$T/apply.err" || bail "apply: $(cat "$T/apply.err")"

poll 90 system_is "$SID" trial || true
is "1. 一网通办 reaches trial" "$(system_state "$SID")" trial
TRIAL_END0=$(dbq 'SELECT trial_end FROM systems WHERE id = ?' "$SID")

run_gcctl authority "$T/ext0.out" system extend-trial "$IDLE_SYS" --length 5 --approval 六安数管〔2026〕12号
check "1. extending a system that is not in trial is refused (exit 1)" test "$RC" = 1
check "... naming the state and R-LC2" grep -q 'R-LC2' "$T/ext0.out"
mark
run_gcctl authority "$T/ext.out" system extend-trial "$SID" --length 5 --approval 六安数管〔2026〕12号
check "1. gcctl system extend-trial $SID --length 5 (the authority's approval): exit 0" test "$RC" = 0
is "1. the trial now ends 5 days later (R-LC2)" "$(($(dbq 'SELECT trial_end FROM systems WHERE id = ?' "$SID") - TRIAL_END0))" $((5 * DAY))
is "1. ... and so does its timer" "$(dbq "SELECT due FROM timers WHERE kind = 'trial_end' AND system_id = ?" "$SID")" "$((TRIAL_END0 + 5 * DAY))"
check "1. one trial.extended record by the authority with its approval and R-LC2" \
	aq "[(r['action'], r['role'], r['rule'], r['detail']['approval']) for r in d['records'] if r['seq'] > $MARK] == [('trial.extended', 'authority', 'R-LC2', '六安数管〔2026〕12号')] or 1/0"

PAST_FIRST_END=$((TRIAL_END0 - $(date +%s) - OFFSET + DAY))
advance "${PAST_FIRST_END}s" "$PAST_FIRST_END"
sleep 3
is "1. a day past the first end, still in trial" "$(system_state "$SID")" trial
advance 5d $((5 * DAY))
poll 15 system_is "$SID" awaiting_golive || true
is "1. 5 more days: awaiting_golive" "$(system_state "$SID")" awaiting_golive

# ------------------------------------------------------ 2. the sheet ------

run_gcctl provider "$T/list.json" --json sheet list --system "$SID"
check "2. gcctl sheet list: exit 0" test "$RC" = 0
SHEET=$(jget "$T/list.json" '[s["id"] for s in d["sheets"] if s["kind"] == "golive"][0]')
is "2. one open go-live sheet, nobody has signed" "$(jget "$T/list.json" '[(s["kind"], s["state"], s["signed"], s["missing"]) for s in d["sheets"]]')" \
	'[["golive", "open", [], ["tenant", "provider", "authority"]]]'
run_gcctl tenant "$T/sheet.json" --json sheet show "$SHEET"
check "2. the tenant reads it: exit 0" test "$RC" = 0
network_get "$SID"
check "2. it names the system, the unit, the apply's approval, the parties, sm2/sm3" \
	jget "$T/sheet.json" "(lambda x: (x['title'], x['system']['name'], x['system']['unit'], x['request']['approval'], x['parties'], x['crypto']['signature'], x['crypto']['hash']) == ('政务云资源开通三方确认单', '一网通办', '$UNIT', 'approval-oa/OA-2026-0004', {'tenant': '$UNIT', 'provider': '某云服务有限公司', 'authority': '六安市数据资源管理局'}, 'sm2', 'sm3') or 1/0)(d['sheet']['document'])"
VMROWS=$(jget "$T/sheet.json" '[(v["name"], v["addresses"], v["special_ports"], v["vcpus"], v["memory_gib"], v["system_disk_gib"], v["data_disk_gib"], v["recommended"], v["golive"]["vcpus"]) for v in d["sheet"]["document"]["vms"]]')
NETROWS=$(jget "$T/net-$SID.json" '[v["address"] for v in d["network"]["vms"]]')
check "2. one row per VM with its address as the VPC gives it ($NETROWS)" \
	python3 -c 'import json,sys; rows=json.loads(sys.argv[1]); net=json.loads(sys.argv[2]); sys.exit(0 if len(rows)==2 and sorted(a for r in rows for a in r[1])==sorted(net) else 1)' "$VMROWS" "$NETROWS"
check "2. ... with its ports, vCPUs, memory, disks, no recommendation yet, the go-live allocation as in use" \
	python3 -c 'import json,sys; rows=json.loads(sys.argv[1]); sys.exit(0 if all(r[2] and r[3]>0 and r[4]>0 and r[5]>0 and r[7] is None and r[8]==r[3] for r in rows) else 1)' "$VMROWS"
check "2. the totals add up, billing starts on confirmation (R-LC3), the trial shows its extension" \
	jget "$T/sheet.json" "(lambda x: x['totals']['vms'] == 2 and x['totals']['vcpus'] == sum(v['vcpus'] for v in x['vms']) and x['billing'] == {'starts': 'on_confirmation', 'rule': 'R-LC3'} and x['trial']['extended'] == 5 and x['opening_time'] is not None or 1/0)(d['sheet']['document'])"
HASH=$(jget "$T/sheet.json" 'd["sheet"]["hash"]')
run_gcctl tenant "$T/canon" sheet show "$SHEET" --canonical
check "2. gcctl sheet show --canonical prints the signed bytes: their SM3 is the sheet's hash" \
	test "sm3:$(openssl dgst -sm3 -r "$T/canon" | cut -d' ' -f1)" = "$HASH"
run_gcctl tenant "$T/show.txt" sheet show "$SHEET"
check "2. gcctl sheet show (text) lists each VM" grep -q "$(jget "$T/sheet.json" 'd["sheet"]["document"]["vms"][0]["name"]')" "$T/show.txt"

# ------------------------------------------------ 3. bad signatures -------

db_dump "$T/db.before"
mark
refused() {   # refused WHO CODE LABEL ARGS...: gcctl sheet sign is refused with CODE
	local who=$1 code=$2 label=$3
	shift 3
	run_gcctl "$who" "$T/refused.out" sheet sign "$SHEET" "$@"
	if [[ $RC == 1 ]] && grep -q "$code" "$T/refused.out"; then
		pass "3. $label: refused ($code)"
	else
		fail "3. $label: refused ($code)"
		sed 's/^/    # /' "$T/refused.out"
	fi
}
refused tenant wrong_party "the tenant signs with the provider's key" --party tenant --key "$PROVIDER_KEY"
refused tenant key_revoked "the tenant signs with a revoked key" --party tenant --key "$T/revoked.key"
refused tenant wrong_unit "the tenant signs with 市yy局's key" --party tenant --key "$OTHER_UNIT_KEY"
refused tenant unknown_key "the tenant signs with a key nobody registered" --party tenant --key "$T/stranger.key"
refused tenant key_type "the tenant signs with its Ed25519 key where the pack signs SM2 (R-SC4)" --party tenant --key "$T/ed.key"
refused provider party_mismatch "the provider's certificate signs as the tenant" --party tenant --key "$TENANT_KEY"
# A signature over other bytes: the tenant's key over the document with one byte changed.
sed 's/一网通办/一网通办X/' "$T/canon" | tr -d '\n' >"$T/other-bytes"
openssl pkeyutl -sign -inkey "$TENANT_KEY" -rawin -in "$T/other-bytes" -digest sm3 -pkeyopt distid:1234567812345678 -out "$T/other.sig" 2>/dev/null
FP=$(jget "$T/sheet.json" "[k for k in [0]] and '$(python3 - "$(sign_pub tenant)" <<'EOF'
import hashlib, subprocess, sys
der = subprocess.run(["openssl", "pkey", "-pubin", "-in", sys.argv[1], "-outform", "DER"], capture_output=True, check=True).stdout
print("sha256:" + hashlib.sha256(der).hexdigest())
EOF
)'")
api tenant POST "/v1/sheets/$SHEET/signatures" "{\"party\": \"tenant\", \"fingerprint\": \"$FP\", \"signature\": \"$(base64 -w0 "$T/other.sig")\"}"
check "3. a valid signature over other bytes: 422 bad_signature" test "$STATUS" = 422 -a -n "$(grep -o bad_signature "$BODY")"
check "3. ... the message names the sheet's hash" grep -q "$HASH" "$BODY"
is "3. each refusal appended exactly one sheet.refused record (7; the certificate of another party's is denied)" \
	"$(aq "sorted(r['outcome'] for r in d['records'] if r['seq'] > $MARK and r['action'] == 'sheet.refused')") $(aq "len([r for r in d['records'] if r['seq'] > $MARK])")" \
	'["denied", "refused", "refused", "refused", "refused", "refused", "refused"] 7'
db_dump "$T/db.after"
# The agent's heartbeats move host-a's last_seen meanwhile.
check "3. ... and changed nothing else in the store" cmp -s <(grep -v '^\["host-a"' "$T/db.before") <(grep -v '^\["host-a"' "$T/db.after")
is "3. no signature is recorded" "$(dbq 'SELECT COUNT(*) FROM sheet_signatures')" 0

# ------------------------------------------------- 4. three parties -------

mark
run_gcctl tenant "$T/sign1.out" sheet sign "$SHEET" --party tenant --key "$TENANT_KEY"
check "4. the tenant signs with gcctl: exit 0" test "$RC" = 0
check "4. ... and is told who is missing" grep -q "provider" "$T/sign1.out"
run_gcctl tenant "$T/sign1b.out" sheet sign "$SHEET" --party tenant --key "$TENANT_KEY"
check "4. a second tenant signature is refused (already_signed)" test "$RC" = 1 -a -n "$(grep -o already_signed "$T/sign1b.out")"
is "4. still awaiting_golive after one signature" "$(system_state "$SID")" awaiting_golive
run_gcctl provider "$T/sign2.out" sheet sign "$SHEET" --party provider --key "$PROVIDER_KEY"
check "4. the provider signs: exit 0" test "$RC" = 0
is "4. still awaiting_golive after two" "$(system_state "$SID")" awaiting_golive
run_gcctl authority "$T/sign3.out" sheet sign "$SHEET" --party authority --key "$AUTHORITY_KEY"
check "4. the authority signs: exit 0" test "$RC" = 0
check "4. ... and gcctl says the sheet is complete" grep -qi "complete" "$T/sign3.out"
is "4. the system is active (R-LC3)" "$(system_state "$SID")" active
is "4. billing started at the third signature" "$(dbq 'SELECT s.billing_start = h.completed FROM systems s JOIN sheets h ON h.system_id = s.id WHERE h.id = ?' "$SHEET")" 1
check "4. the audit: sheet.signed, the refusal, sheet.signed, sheet.signed and in its transaction sheet.completed, system.stage awaiting_golive -> active under R-LC3, each naming the apply's approval" \
	aq "(lambda rs: [a for a, *_ in rs] == ['sheet.signed', 'sheet.refused', 'sheet.signed', 'sheet.signed', 'sheet.completed', 'system.stage'] and all(p == 'approval-oa/OA-2026-0004' for _, p, _ in rs) and ('system.stage', 'approval-oa/OA-2026-0004', 'R-LC3') in rs or 1/0)([(r['action'], r['approval'], r['rule']) for r in d['records'] if r['seq'] > $MARK])"

# ------------------------------------------------ 5. export and verify ----

run_gcctl provider "$T/export.out" sheet export "$SHEET" -o "$T/golive.json" --dir "$T/golive"
check "5. gcctl sheet export -o --dir: exit 0" test "$RC" = 0
run_gcctl provider "$T/verify.out" sheet verify "$T/golive.json"
check "5. gcctl sheet verify (offline): exit 0" test "$RC" = 0
run_gcctl provider "$T/verify2.out" sheet verify "$T/golive.json" --trust "$(sign_pub tenant)" --trust "$(sign_pub provider)" --trust "$(sign_pub authority)"
check "5. ... with --trust the three registered public keys: exit 0" test "$RC" = 0
run_gcctl provider "$T/verify3.out" sheet verify "$T/golive.json" --trust "$(sign_pub tenant)" --trust "$(sign_pub provider)" --trust "$T/revoked.pub"
check "5. ... trusting another key than the authority's: exit 1" test "$RC" = 1
python3 - "$T/golive.json" "$T/golive-bad.json" <<'EOF'
import json, sys
b = json.load(open(sys.argv[1], encoding="utf-8"))
b["document"] = b["document"].replace('"vcpus":4', '"vcpus":5', 1)
json.dump(b, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
EOF
run_gcctl provider "$T/verify4.out" sheet verify "$T/golive-bad.json"
check "5. a bundle with one figure changed: exit 1" test "$RC" = 1
# The recipe a party runs with openssl alone (gcctl wrote it; we run it as written).
openssl_recipe() {
	(cd "$1" && bash -e VERIFY.txt) >"$T/recipe.out" 2>&1
}
check "5. every command of VERIFY.txt (openssl pkeyutl -verify per party, openssl dgst) succeeds" openssl_recipe "$T/golive"
check "5. ... three signatures verified by openssl" test "$(grep -c 'Signature Verified Successfully' "$T/recipe.out")" = 3
for p in tenant provider authority; do
	check "5. openssl alone: the $p's signature over sheet.json" \
		openssl pkeyutl -verify -pubin -inkey "$T/golive/$p.pem" -rawin -in "$T/golive/sheet.json" -digest sm3 \
		-pkeyopt distid:1234567812345678 -sigfile "$T/golive/$p.sig"
done
is "5. openssl dgst -sm3 of sheet.json is the sheet's hash" "sm3:$(openssl dgst -sm3 -r "$T/golive/sheet.json" | cut -d' ' -f1)" "$HASH"
printf ' ' >>"$T/golive/sheet.json"
refute "5. after a byte is added to sheet.json, openssl refuses the tenant's signature" \
	openssl pkeyutl -verify -pubin -inkey "$T/golive/tenant.pem" -rawin -in "$T/golive/sheet.json" -digest sm3 \
	-pkeyopt distid:1234567812345678 -sigfile "$T/golive/tenant.sig"
run_gcctl tenant "$T/sheet.html" sheet html "$SHEET" -o "$T/golive.html"
check "5. gcctl sheet html writes the printable page" grep -q '政务云资源开通三方确认单' "$T/golive.html"

# ------------------------------------------------------ 6. a change ------

VM1=$(jget "$T/sheet.json" 'd["sheet"]["document"]["vms"][0]["name"]')
VM2=$(jget "$T/sheet.json" 'd["sheet"]["document"]["vms"][1]["name"]')
python3 - "$T/change.json" "$UNIT" "$VM1" "$VM2" <<'EOF'
import json, sys
out, unit, vm1, vm2 = sys.argv[1:]
json.dump({
    "schema": "govcloud-request/1", "kind": "change",
    "approval": {"system": "approval-oa", "id": "OA-2026-0100", "approvers": [{"name": "王五", "title": "科长"}],
                 "time": "2026-11-20T09:30:00+08:00", "signature": "AAAA"},
    "unit": unit, "system": {"name": "一网通办"},
    "reason": "上线后访问量增长：一台核增，一台释放，新增一台", "planned_date": "2027-01-05",
    "resize": [{"name": vm1, "vcpus": 8, "memory_gib": 16}],
    "release": [vm2],
    "add": [{"type": "vm", "role": "应用服务器", "arch": "x86", "vcpus": 4, "memory_gib": 8,
             "system_disk": {"gib": 40, "type": "SSD"}, "data_disk": {"gib": 100, "type": "SAS"},
             "os": "麒麟V10", "network": "egov", "ports": [443], "count": 1}],
}, open(out, "w", encoding="utf-8"), ensure_ascii=False)
EOF
sign_now "$T/change.json" "$T/change-signed.json"
submit "$T/change-signed.json"
if [[ $STATUS != 201 ]]; then
	fail "6. the change is accepted: 201"
	sed 's/^/    # /' "$BODY"
else
	pass "6. the change is accepted: 201"
fi
CHANGE_ID=$(jget "$BODY" 'd["request"]["id"]' 2>/dev/null || echo 0)
change_sheet() {
	api provider GET "/v1/sheets?system=$SID"
	CSHEET=$(jget "$BODY" '[s["id"] for s in d["sheets"] if s["kind"] == "change"][0]') && system_is "$SID" active
}
poll 90 change_sheet || true
check "6. the change ran and the system is back in active with a change sheet" test -n "${CSHEET-}"
run_gcctl provider "$T/csheet.json" --json sheet show "${CSHEET:-0}"
is "6. the change sheet: add for $VM1 (4 -> 8 vCPUs), release for $VM2, create for the new VM" \
	"$(jget "$T/csheet.json" '[(c["action"], c["before"] and c["before"]["vcpus"], c["after"] and c["after"]["vcpus"]) for c in d["sheet"]["document"]["changes"]]')" \
	'[["add", 4, 8], ["release", 4, null], ["create", null, 4]]'
check "6. before and after name each VM with its address" \
	jget "$T/csheet.json" "(lambda c: c[0]['before']['address'] == c[0]['after']['address'] and c[0]['before']['name'] == '$VM1' and c[2]['after']['address'] is not None or 1/0)(d['sheet']['document']['changes'])"
is "6. the change request is not closed yet" "$(dbq 'SELECT closed IS NULL FROM requests WHERE id = ?' "$CHANGE_ID")" 1
for p in tenant provider authority; do
	k=$TENANT_KEY
	[[ $p == provider ]] && k=$PROVIDER_KEY
	[[ $p == authority ]] && k=$AUTHORITY_KEY
	run_gcctl "$p" "$T/csign-$p.out" sheet sign "${CSHEET:-0}" --party "$p" --key "$k"
	check "6. the $p signs the change sheet" test "$RC" = 0
done
is "6. three signatures close the change (R-LC4)" "$(dbq 'SELECT closed IS NOT NULL FROM requests WHERE id = ?' "$CHANGE_ID") $(dbq 'SELECT state FROM sheets WHERE id = ?' "${CSHEET:-0}")" "1 complete"
is "6. the system stays active" "$(system_state "$SID")" active

# ------------------------------------------------------ 7. checkpoints ----

run_gcctl provider "$T/cp.out" audit checkpoint
check "7. gcctl audit checkpoint: exit 0" test "$RC" = 0
poll 10 test "$(dbq 'SELECT COUNT(*) FROM checkpoints')" -ge 2 || true
check "7. the service key signs checkpoints at its interval" test "$(dbq 'SELECT COUNT(*) FROM checkpoints')" -ge 2
run_gcctl authority "$T/cs.out" audit countersign --key "$AUTHORITY_KEY"
check "7. the authority countersigns them: exit 0" test "$RC" = 0
N_CP=$(dbq 'SELECT COUNT(*) FROM checkpoints c WHERE EXISTS (SELECT 1 FROM countersignatures s WHERE s.checkpoint_id = c.id)')
check "7. ... every checkpoint so far ($N_CP)" test "$N_CP" -ge 2 -a "$N_CP" = "$(dbq 'SELECT COUNT(*) FROM checkpoints WHERE id <= (SELECT MAX(checkpoint_id) FROM countersignatures)')"
run_gcctl provider "$T/cs2.out" audit countersign --key "$PROVIDER_KEY"
check "7. the provider's key cannot countersign (exit 1)" test "$RC" = 1
run_gcctl authority "$T/av.out" audit verify
check "7. gcctl audit verify (the live chain): exit 0" test "$RC" = 0
check "7. ... and it says which checkpoints are countersigned" grep -qi "countersigned" "$T/av.out"
run_gcctl provider "$T/ae.out" audit export -o "$T/segment.json"
check "7. gcctl audit export: exit 0" test "$RC" = 0
run_gcctl provider "$T/av2.out" audit verify "$T/segment.json"
check "7. the exported segment verifies offline" test "$RC" = 0

# ------------------------------------------------------- 8. retention ----

FIRST_BEFORE=$(dbq 'SELECT MIN(seq) FROM audit')
advance 100d $((100 * DAY))
sleep 2
MID=$(dbq 'SELECT MAX(seq) FROM audit')
advance 120d $((120 * DAY))
poll 15 test -n "$(ls "$T/archive" 2>/dev/null)" || true
ARCHIVE=$(find "$T/archive" -name 'audit-*.json' 2>/dev/null | sort | head -n 1 || true)
check "8. 220 days on, the records past the Baotou pack's 6 months are archived ($ARCHIVE)" test -n "$ARCHIVE"
check "8. ... and pruned: the live chain starts later" test "$(dbq 'SELECT MIN(seq) FROM audit')" -gt "$FIRST_BEFORE"
check "8. nothing inside the retention was pruned (record $MID, 120 days old, is there)" test "$(dbq 'SELECT COUNT(*) FROM audit WHERE seq = ?' "$MID")" = 1
check "8. an audit.archived record under R-AU1" aq "any(r['action'] == 'audit.archived' and r['rule'] == 'R-AU1' for r in d['records']) or 1/0"
run_gcctl provider "$T/arch.out" audit verify "$ARCHIVE"
check "8. the archive verifies offline, with its signature" test "$RC" = 0
check "... (its signature is reported)" grep -qi "archive" "$T/arch.out"
run_gcctl authority "$T/av3.out" audit verify
check "8. the live chain still verifies from the archive's head" test "$RC" = 0
del_inside() {
	python3 - "$DB" "$MID" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=30)
try:
    con.execute("DELETE FROM audit WHERE seq = ?", (int(sys.argv[2]),)); con.commit()
except sqlite3.DatabaseError as e:
    print(e); sys.exit(0)
sys.exit(1)
EOF
}
check "8. the store refuses to delete a record inside the retention (R-AU1)" del_inside

# ---------------------------------------------- 9. edited behind its back ---

EDIT=$(dbq "SELECT MAX(seq) FROM audit WHERE action = 'clock.advanced'")
ACTOR=$(dbq 'SELECT actor FROM audit WHERE seq = ?' "$EDIT")
sqlw() {   # sqlw SQL [ARG]...: a write to the store, as someone with the file would do it
	python3 -c 'import sqlite3, sys; con = sqlite3.connect(sys.argv[1], timeout=30); con.execute(sys.argv[2], sys.argv[3:]); con.commit()' "$DB" "$@"
}
sqlw "DROP TRIGGER audit_no_update"
sqlw "UPDATE audit SET actor = 'someone else' WHERE seq = ?" "$EDIT"
run_gcctl authority "$T/tamper.out" audit verify
check "9. after an edit in the SQLite file, gcctl audit verify fails (exit 1)" test "$RC" = 1
check "9. ... naming record $EDIT as edited" grep -Eq "record $EDIT\b.*edited" "$T/tamper.out"
sqlw "UPDATE audit SET actor = ? WHERE seq = ?" "$ACTOR" "$EDIT"
run_gcctl authority "$T/tamper1.out" audit verify
check "9. the edit undone, it verifies again" test "$RC" = 0
sqlw "DROP TRIGGER audit_no_delete"
deleted_named() {   # deleted_named SEQ LABEL: the record deleted, gcctl audit verify names it missing
	run_gcctl authority "$T/tamper2.out" audit verify
	if [[ $RC == 1 ]] && grep -E "record $1\b" "$T/tamper2.out" | grep -qi 'missing\|deleted'; then
		pass "9. $2: gcctl audit verify fails naming record $1 as missing"
	else
		fail "9. $2: gcctl audit verify fails naming record $1 as missing"
		sed 's/^/    # /' "$T/tamper2.out"
	fi
}
# Two records after the edited one, and a checkpoint over both: what the
# chain holds after "clock advanced" must not depend on the timers' timing.
for u in 市tt局 市uu局; do register_unit "$u"; done
run_gcctl provider "$T/cp.out" audit checkpoint
[[ $RC == 0 ]] || bail "gcctl audit checkpoint: $(cat "$T/cp.out")"
LAST=$(dbq 'SELECT MAX(seq) FROM audit')
[[ $(dbq 'SELECT MAX(seq) FROM checkpoints') -ge $LAST ]] || bail "no checkpoint covers record $LAST"
sqlw "DELETE FROM audit WHERE seq = ?" "$LAST"
deleted_named "$LAST" "the last record deleted (a checkpoint had covered it)"
DEL=$(dbq 'SELECT MIN(seq) FROM audit WHERE seq > ?' "$EDIT")
sqlw "DELETE FROM audit WHERE seq = ?" "$DEL"
deleted_named "$DEL" "a record in the middle deleted"

# ------------------------------------------------------- 10. shutdown ----

orch_stop
# The records deleted above let the last ones take their numbers again: the
# newest checkpoint (not the highest number) is the one signed at the stop.
check "10. after SIGTERM the last checkpoint covers the last record" \
	test "$(dbq 'SELECT seq FROM checkpoints ORDER BY id DESC LIMIT 1')" = "$(dbq 'SELECT MAX(seq) FROM audit')"

finish
