#!/usr/bin/env bash
# tests/integration/webhook.sh - the notify-webhook plugin against a real
# HTTP receiver on 127.0.0.1 (gcint.py hook).  Events arrive for an
# acceptance (request.accepted, stage.reached) and a refusal
# (request.refused), as canonical JSON, with X-GC-Signature verifying over
# the exact body with the orchestrator's service key (openssl, SM2 with SM3
# and the GM/T 0009 id) and X-GC-Key naming that key.  While the receiver is
# down, answers 503 or never answers, submissions are still answered at once,
# the orchestrator logs its retries, and once the receiver is back every
# event arrives, in audit order, without a gap (duplicates allowed).
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

HOOK=$T/hook
HOOK_PID=
WEBHOOK_TIMEOUT_MS=5000
FAST_MS=3000

# hook_start [PORT]: the receiver, in the background; HOOK_PORT once it listens.
hook_start() {
	rm -f "$HOOK/port"
	mkdir -p "$HOOK"
	"${GCINT[@]}" hook --dir "$HOOK" --port "${1:-0}" 2>>"$T/hook.log" &
	HOOK_PID=$!
	bg "$HOOK_PID"
	poll 30 test -s "$HOOK/port" || bail "the webhook receiver did not start (port ${1:-0})"
	HOOK_PORT=$(cat "$HOOK/port")
}
hook_stop() {
	kill -TERM "$HOOK_PID"
	wait "$HOOK_PID" 2>/dev/null || true
	unbg "$HOOK_PID"
	HOOK_PID=
}
hook_mode() { printf '%s\n' "$1" >"$HOOK/mode.tmp" && mv "$HOOK/mode.tmp" "$HOOK/mode"; }
# deliveries [STATUS]: how many POSTs the receiver recorded (answered STATUS).
deliveries() {
	local n=0 f
	for f in "$HOOK"/events/*.json; do
		[[ -e $f ]] || continue
		if [[ -z ${1-} ]] || grep -q "^{\"status\": $1," "$f"; then n=$((n + 1)); fi
	done
	echo "$n"
}
at_least() { [[ $("${@:2}") -ge $1 ]]; } # N COMMAND...: COMMAND prints a number >= N
# timed_submit FILE: submit and set ELAPSED_MS.
timed_submit() {
	local t0
	t0=$(now_ms)
	submit "$1"
	ELAPSED_MS=$(($(now_ms) - t0))
}
# log_since LINE: the orchestrator's log after line LINE.
log_since() { tail -n "+$(($1 + 1))" "$ORCH_LOG"; }
log_lines() { wc -l <"$ORCH_LOG"; }
# max_attempt SINCE: the highest "not delivered (attempt N)" after line SINCE.
max_attempt() { log_since "$1" | grep -o 'not delivered (attempt [0-9]*)' | grep -o '[0-9]*' | sort -n | tail -n 1 || true; }
retried() { [[ $(max_attempt "$1") -ge $2 ]]; } # SINCE N
all_delivered() { "${GCINT[@]}" hook-check --db "$DB" --dir "$HOOK"; }

make_pki
SERVICE_PUB=$(sign_pub orchestrator)
SERVICE_FP=sha256:$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1], encoding="utf-8"))
print([e for e in m["entries"] if e["role"] == "orchestrator" and e["kind"] == "sign"][0]["pub_sha256"])' "$PKI/pki.json")
hook_start
pass "the webhook receiver listens on 127.0.0.1:$HOOK_PORT"
write_config "[{\"path\": \"notify-webhook\", \"config\": {\"url\": \"http://127.0.0.1:$HOOK_PORT/hook\", \"timeout_ms\": $WEBHOOK_TIMEOUT_MS}}]"
orch_start
pass "gc-orchestrator listens on 127.0.0.1:$PORT with notify-webhook"
register_baseline

# ------------------------------------------- an acceptance, a refusal -----

sign "$SAMPLES/apply.json" "$T/apply.json"
submit "$T/apply.json"
check "apply.json is accepted" want 201
sign "$SAMPLES/apply-classified.json" "$T/classified.json"
submit "$T/classified.json"
check "apply-classified.json is refused" want 422
check "three events arrive within 30 s" poll 30 at_least 3 deliveries 200
is "they are request.accepted, stage.reached, request.refused, nothing else" \
	"$(for f in "$HOOK"/events/*.body; do jget "$f" 'd["type"]'; done | xargs)" \
	"request.accepted stage.reached request.refused"

audit_fetch
SEQ_ACC=$(jget "$T/audit.json" '[r["seq"] for r in d["records"] if r["action"] == "request.accepted"][0]')
SEQ_REF=$(jget "$T/audit.json" '[r["seq"] for r in d["records"] if r["action"] == "request.refused"][0]')
is "their ids are the audit seq numbers" \
	"$(for f in "$HOOK"/events/*.body; do jget "$f" 'd["id"]'; done | xargs)" "$SEQ_ACC $SEQ_ACC.stage $SEQ_REF"
bodies=("$HOOK"/events/*.body)
is "request.accepted carries the request, the system and the VM names" \
	"$(jget "${bodies[0]}" '" ".join([d["kind"], d["unit"], d["system"], str(d["request"]), d["approval"], str(len(d["vms"]))])')" \
	"apply 市xx局 协同办公OA 1 approval-oa/OA-2026-0001 3"
is "request.refused carries the error with its rule" \
	"$(jget "${bodies[2]}" '" ".join([d["caller"], d["error"]["code"], d["error"]["field"], d["error"]["rule"]])')" \
	"approval-oa classified system.classified R-RQ1"

# header FILE NAME: a request header the receiver recorded.
header() { jget "$1" "{k.lower(): v for k, v in d[\"headers\"].items()}.get(\"$2\", \"(none)\")"; }
n=0
for f in "$HOOK"/events/*.json; do
	n=$((n + 1))
	body=${f%.json}.body
	sig=$(header "$f" x-gc-signature)
	is "event $n: X-GC-Event is the body's id" "$(header "$f" x-gc-event)" "$(jget "$body" 'd["id"]')"
	is "event $n: Content-Type application/json, X-GC-Key the service key's fingerprint, POST to /hook" \
		"$(header "$f" content-type) $(header "$f" x-gc-key) $(jget "$f" 'd["path"]')" \
		"application/json $SERVICE_FP /hook"
	check "event $n: X-GC-Signature is sm2:<base64>" grep -Eq '^sm2:[A-Za-z0-9+/]+=*$' <<<"$sig"
	printf '%s' "${sig#sm2:}" | base64 -d >"$T/sig.der" 2>/dev/null || true
	check "event $n: the signature verifies over the exact body (openssl, sm3, distid $DISTID)" \
		openssl pkeyutl -verify -pubin -inkey "$SERVICE_PUB" -rawin -in "$body" -digest sm3 \
		-pkeyopt "distid:$DISTID" -sigfile "$T/sig.der"
	{ cat "$body"; printf ' '; } >"$T/body.altered"
	refute "event $n: ... and not over the body with one byte more" \
		openssl pkeyutl -verify -pubin -inkey "$SERVICE_PUB" -rawin -in "$T/body.altered" -digest sm3 \
		-pkeyopt "distid:$DISTID" -sigfile "$T/sig.der"
	check "event $n: the body is canonical JSON (RFC 8785)" python3 -B -c '
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("s", sys.argv[1]); m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
b = open(sys.argv[2], "rb").read()
sys.exit(0 if m.jcs(json.loads(b)).encode() == b else 1)' "$HERE/sign-openssl.py" "$body"
done
is "three deliveries were checked" "$n" 3

# --------------------------------------------------- the receiver down ----

hook_stop
pass "the receiver is stopped"
L=$(log_lines)
sign "$SAMPLES/apply-luan.json" "$T/luan.json"
sign "$SAMPLES/apply-bad-name.json" "$T/bad-name.json"
sign "$SAMPLES/apply-duplicate-name.json" "$T/duplicate-name.json"
for f in luan:201 bad-name:422 duplicate-name:422; do
	timed_submit "$T/${f%%:*}.json"
	check "with the receiver down, ${f%%:*} is answered ${f#*:}" want "${f#*:}"
	check "... in ${ELAPSED_MS} ms (< $FAST_MS)" test "$ELAPSED_MS" -lt "$FAST_MS"
done
check "the orchestrator logs the failed deliveries and retries (attempt 3 within 30 s)" poll 30 retried "$L" 3
check "... naming the audit record it retries" grep -q "audit record $((SEQ_REF + 1)) not delivered" <(log_since "$L")
note "$(log_since "$L" | grep -m1 'not delivered' | sed 's/^[^ ]* //')"
hook_start "$HOOK_PORT"
pass "the receiver is back on port $HOOK_PORT"
check "every event arrives, in order, without a gap, within 30 s" poll 30 all_delivered

# ------------------------------------------------- the receiver says 503 --

hook_mode 503
L=$(log_lines)
D503=$(deliveries 503)
sign "$SAMPLES/apply.json" "$T/no-agreement.json" --set=approval.id=OA-2026-0201 --set=system.name=门户网站
sign "$SAMPLES/apply.json" "$T/again.json" --set=approval.id=OA-2026-0202
for f in no-agreement:422 again:409; do
	timed_submit "$T/${f%%:*}.json"
	check "with the receiver answering 503, ${f%%:*} is answered ${f#*:}" want "${f#*:}"
	check "... in ${ELAPSED_MS} ms (< $FAST_MS)" test "$ELAPSED_MS" -lt "$FAST_MS"
done
check "the receiver is asked again and again (3 answers 503 within 30 s)" poll 30 at_least $((D503 + 3)) deliveries 503
check "the orchestrator logs those retries" poll 30 retried "$L" 2
hook_mode 200
check "answering 200 again, every event arrives, in order, without a gap" poll 30 all_delivered

# ------------------------------------------- the receiver never answers ---

hook_mode hang
D_ALL=$(deliveries)
sign "$SAMPLES/apply.json" "$T/hang1.json" --set=approval.id=OA-2026-0301 --set=system.name=未登记系统
sign "$SAMPLES/apply.json" "$T/hang2.json" --set=approval.id=OA-2026-0302 --set=system.name=未登记系统
submit "$T/hang1.json"
check "a refusal while the receiver hangs is answered 422" want 422
check "the notifier is stuck in a POST the receiver does not answer" poll 10 at_least $((D_ALL + 1)) deliveries
timed_submit "$T/hang2.json"
check "a submission meanwhile is answered (422)" want 422
check "... in ${ELAPSED_MS} ms, well under the webhook's ${WEBHOOK_TIMEOUT_MS} ms timeout (< $FAST_MS)" \
	test "$ELAPSED_MS" -lt "$FAST_MS"
api authority GET /healthz
check "the API answers meanwhile" want 200
hook_mode 200
check "after the timeout every event arrives, in order, without a gap" poll 60 all_delivered

# ------------------------------------------------------------- summary ----

check "all $(deliveries) deliveries: ids, types, order, and every X-GC-Signature and X-GC-Key" \
	"${GCINT[@]}" hook-check --db "$DB" --dir "$HOOK" --pub "$SERVICE_PUB" --key-fp "$SERVICE_FP"
note "$(tail -n 1 "$T/check.out")"
audit_fetch
is "the audit chain has 2 acceptances and 7 request refusals to notify" \
	"$(jget "$T/audit.json" '" ".join(str(len([r for r in d["records"] if r["action"] == a])) for a in ("request.accepted", "request.refused"))')" \
	"2 7"
api provider GET /metrics
check "the metrics count delivered and failed deliveries" \
	grep -Eq '^gc_notify_deliveries_total\{result="failed"\} [1-9]' "$BODY"
check "gc-orchestrator stops on SIGTERM with status 0 (the receiver hanging or not)" orch_stop
hook_stop
finish
