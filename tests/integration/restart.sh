#!/usr/bin/env bash
# tests/integration/restart.sh - what a crash cannot take away.  Accepted
# requests are submitted, gc-orchestrator is killed with SIGKILL (once when
# idle, once while a stream of submissions is in flight) and started again
# on the same SQLite file: every request that was answered 201 is still
# there, a resubmission of the same bytes answers 200 existing, the store
# passes integrity_check, the audit chain verifies (recomputed here: SM3 of
# the RFC 8785 bytes of each record, chained by prev) and every committed
# acceptance still reaches the notifier.  SIGTERM stops it cleanly with a
# service.stopped record.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

N_FIRST=4
N_STREAM=30
N_ALL=$((N_FIRST + N_STREAM))

make_pki
write_config
orch_start
pass "gc-orchestrator listens on 127.0.0.1:$PORT"

register_unit '市xx局'
for i in $(seq -f '%02g' 1 "$N_ALL"); do
	register_system '市xx局' "业务系统$i"
done
register_approval_system approval-oa "$(sign_pub approval)"
register_host cap-la 六安-A
pass "registered 市xx局 with $N_ALL systems and approval-oa"

# One signed apply per system, in 六安-A (the luan pack), VM names by R-NM2.
for i in $(seq -f '%02g' 1 "$N_ALL"); do
	sign "$SAMPLES/apply.json" "$T/req-$i.json" "--set=approval.id=RS-$i" "--set=system.name=业务系统$i" --set=pool=六安-A
done
pass "signed $N_ALL apply requests"

# listed_ids: the approval ids of GET /v1/requests, sorted, one a line.
listed_ids() {
	api provider GET /v1/requests
	want 200 >"$T/list.err" || bail "GET /v1/requests: $(cat "$T/list.err")"
	jget "$BODY" '"\n".join(sorted(r["approval_id"] for r in d["requests"]))'
}
# resubmit_all FIRST LAST OUT: submit each again; "id status existing request" lines.
resubmit_all() {
	local i
	: >"$3"
	for i in $(seq -f '%02g' "$1" "$2"); do
		submit "$T/req-$i.json"
		printf 'RS-%s %s %s\n' "$i" "$STATUS" "$(jget "$BODY" 'str(d["existing"]).lower() + " " + str(d["request"]["id"])' 2>/dev/null || echo '- -')" >>"$3"
	done
}
chain_ok() { "${GCINT[@]}" audit-verify "$DB"; }
integrity_ok() { "${GCINT[@]}" integrity "$DB"; }

# ------------------------------------------------- SIGKILL when idle ------

: >"$T/first.tsv"
for i in $(seq -f '%02g' 1 "$N_FIRST"); do
	submit "$T/req-$i.json"
	printf 'RS-%s %s %s\n' "$i" "$STATUS" "$(jget "$BODY" 'd["request"]["id"]' 2>/dev/null || echo -)" >>"$T/first.tsv"
done
is "the first $N_FIRST requests are accepted (201)" "$(awk '$2 == 201' "$T/first.tsv" | wc -l)" "$N_FIRST"

orch_kill9
pass "gc-orchestrator killed with SIGKILL"
check "the store passes integrity_check after SIGKILL" integrity_ok
check "the audit chain verifies after SIGKILL" chain_ok
orch_start
pass "gc-orchestrator starts again on the same store (port $PORT)"

listed_ids >"$T/listed1"
check "every request answered 201 before the kill is listed" \
	diff <(awk '$2 == 201 { print $1 }' "$T/first.tsv" | sort) "$T/listed1"
resubmit_all 1 "$N_FIRST" "$T/again1.tsv"
check "each answers 200 existing, with the request id of its 201" \
	diff <(awk '{ print $1, 200, "true", $3 }' "$T/first.tsv") "$T/again1.tsv"

# ------------------------------------- SIGKILL during a stream of submits -

# The stream runs in the background; each line is "id HTTP-status".
stream() {
	local i code
	BODY=$T/stream.body
	for i in $(seq -f '%02g' $((N_FIRST + 1)) "$N_ALL"); do
		who_files approval
		code=$(curl -sS --max-time 20 --cacert "$PKI/ca.crt" --cert "$CERT" --key "$KEY" -o "$BODY" -w '%{http_code}' \
			-H 'Content-Type: application/json' --data-binary "@$T/req-$i.json" "$URL/v1/requests" 2>/dev/null) || true
		printf 'RS-%s %s\n' "$i" "${code:-000}" >>"$T/stream.tsv"
	done
}
: >"$T/stream.tsv"
stream &
STREAM_PID=$!
bg "$STREAM_PID"
streamed_some() { [[ $(wc -l <"$T/stream.tsv") -ge 5 ]]; }
poll 60 streamed_some || bail "the stream made fewer than 5 submissions in 60 s"
orch_kill9
pass "gc-orchestrator killed with SIGKILL after $(wc -l <"$T/stream.tsv") streamed submissions"
stream_done() { ! kill -0 "$STREAM_PID" 2>/dev/null; }
poll 120 stream_done || bail "the stream did not end within 120 s"
wait "$STREAM_PID" || true
unbg "$STREAM_PID"
N_201=$(awk '$2 == 201' "$T/stream.tsv" | wc -l)
N_LOST=$(awk '$2 != 201' "$T/stream.tsv" | wc -l)
note "stream: $N_201 answered 201, $N_LOST without an answer ($(awk '$2 != 201 { print $2 }' "$T/stream.tsv" | sort | uniq -c | xargs))"
is "the stream made all $N_STREAM submissions" "$(wc -l <"$T/stream.tsv")" "$N_STREAM"
check "the kill landed inside the stream: some answered 201 ($N_201), some not ($N_LOST)" \
	test "$N_201" -ge 5 -a "$N_LOST" -ge 1
check "no submission was refused: each got 201 or no answer" \
	test "$(awk '$2 != 201 && $2 != "000"' "$T/stream.tsv" | wc -l)" -eq 0

check "the store passes integrity_check after SIGKILL mid-stream" integrity_ok
check "the audit chain verifies after SIGKILL mid-stream" chain_ok
orch_start
pass "gc-orchestrator starts again (port $PORT)"

ok_ids() { awk '$2 == 201 { print $1 }' "$@" | sort; }
none() { # DESCRIPTION COMMAND...: COMMAND prints nothing
	local out
	out=$("${@:2}")
	[[ -z $out ]] || { printf '%s:\n%s\n' "$1" "$out"; return 1; }
}
listed_ids >"$T/listed2"
check "every request answered 201 (before and during the stream) is listed" \
	none "not listed" comm -23 <(ok_ids "$T/first.tsv" "$T/stream.tsv") "$T/listed2"
resubmit_all $((N_FIRST + 1)) "$N_ALL" "$T/again2.tsv"
sort "$T/again2.tsv" >"$T/again2.sorted"
check "each answered 201 in the stream answers 200 existing now" \
	none "not existing" awk 'NR == FNR { ok[$1] = 1; next } ($1 in ok) && !($2 == 200 && $3 == "true")' \
	<(ok_ids "$T/stream.tsv") "$T/again2.sorted"
check "each without an answer is now accepted (201) or found committed (200 existing)" \
	none "neither" awk 'NR == FNR { ok[$1] = 1; next } !($1 in ok) && !(($2 == 201 && $3 == "false") || ($2 == 200 && $3 == "true"))' \
	<(ok_ids "$T/stream.tsv") "$T/again2.sorted"
listed_ids >"$T/listed3"
is "now all $N_ALL requests are listed, each once" "$(sort -u "$T/listed3" | wc -l) $(wc -l <"$T/listed3")" "$N_ALL $N_ALL"
audit_fetch
is "the audit chain holds one request.accepted per request" \
	"$(jget "$T/audit.json" 'len([r for r in d["records"] if r["action"] == "request.accepted"])')" "$N_ALL"
api provider GET /v1/systems
is "every system is requested, with three VMs" \
	"$(jget "$BODY" 'sorted(set((s["state"], s["vm_count"]) for s in d["systems"]))')" '[["requested", 3]]'
check "the audit chain verifies" chain_ok

# At least once: every acceptance reaches notify-log, across the kills.
events_complete() {
	python3 - "$T/audit.json" "$T/events.log" "$N_ALL" <<'EOF'
import json, sys
recs = json.load(open(sys.argv[1], encoding="utf-8"))["records"]
want = set()
for r in recs:
    if r["action"] == "request.accepted":
        want |= {str(r["seq"]), "%d.stage" % r["seq"]}
got = set()
try:
    for line in open(sys.argv[2], encoding="utf-8"):
        got.add(json.loads(line)["id"])
except FileNotFoundError:
    pass
missing = sorted(want - got, key=lambda x: float(x.replace(".stage", ".5")))
print("missing:", " ".join(missing) or "none")
sys.exit(1 if missing or len(want) != 2 * int(sys.argv[3]) else 0)
EOF
}
if poll 60 events_complete; then
	pass "events.log has both events of each of the $N_ALL acceptances"
else
	fail "events.log has both events of each of the $N_ALL acceptances"
	events_complete | sed 's/^/    # /'
fi

# ------------------------------------------------------------ SIGTERM -----

check "SIGTERM stops gc-orchestrator with status 0" orch_stop
check "the last audit record is service.stopped by gc-orchestrator" python3 - "$DB" <<'EOF'
import sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
row = con.execute("SELECT seq, action, actor, role, outcome FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
print(row)
sys.exit(0 if row[1:] == ("service.stopped", "gc-orchestrator", "system", "recorded") else 1)
EOF
check "the audit chain verifies after SIGTERM" chain_ok
orch_start
audit_fetch
check "after the restart service.started follows service.stopped" python3 - "$T/audit.json" <<'EOF'
import json, sys
recs = json.load(open(sys.argv[1], encoding="utf-8"))["records"]
actions = [r["action"] for r in recs]
assert actions[-2:] == ["service.stopped", "service.started"], actions[-3:]
# One service.started per start (four), one service.stopped per SIGTERM (one).
assert actions.count("service.started") == 4, actions.count("service.started")
assert actions.count("service.stopped") == 1, actions.count("service.stopped")
EOF
resubmit_all 1 1 "$T/again3.tsv"
is "a request accepted before everything answers 200 existing still" "$(cut -d' ' -f2,3 "$T/again3.tsv")" "200 true"
check "SIGTERM stops it again with status 0" orch_stop
check "the final audit chain verifies" chain_ok
finish
