# tests/integration/lib.sh - sourced by the integration tests: a temporary
# directory removed on exit, TAP-style checks, a PKI made for the run by
# scripts/pki.sh, gc-orchestrator on 127.0.0.1 (port 0, --ready-file), curl
# and the Python client per role, registration helpers, and views of the
# audit chain and of the SQLite file.
#
# Environment (set by meson): GC_SRCDIR, GC_BUILDDIR; GC_ORCHESTRATOR
# overrides $GC_BUILDDIR/orchestrator/gc-orchestrator.
set -euo pipefail

: "${GC_SRCDIR:?GC_SRCDIR must name the source tree}"
: "${GC_BUILDDIR:?GC_BUILDDIR must name the build tree}"
GC_SRCDIR=$(cd "$GC_SRCDIR" && pwd)
GC_BUILDDIR=$(cd "$GC_BUILDDIR" && pwd)
HERE=$GC_SRCDIR/tests/integration
ORCH_BIN=${GC_ORCHESTRATOR:-$GC_BUILDDIR/orchestrator/gc-orchestrator}
PLUGIN_DIR=$GC_BUILDDIR/plugins
# shellcheck disable=SC2034 # used by the tests that source this file
SAMPLES=$GC_SRCDIR/scripts/samples
GCINT=(python3 -I -S "$HERE/gcint.py")
# shellcheck disable=SC2034 # used by the tests that source this file
DISTID=1234567812345678

for tool in curl openssl python3; do
	if ! command -v "$tool" >/dev/null; then
		printf '1..0 # SKIP %s is not installed\n' "$tool"
		exit 77
	fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/gc-integ.XXXXXX")
PKI=$T/pki
CONFIG=$T/orch.json
DB=$T/orch.db
ORCH_LOG=$T/orch.log
ORCH_PID=
PORT=
URL=
STATUS=
BODY=$T/body
LAST_ID=
BG_PIDS=()

_cleanup() {
	local rc=$? p
	for p in ${BG_PIDS[@]+"${BG_PIDS[@]}"} ${ORCH_PID:+"$ORCH_PID"}; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [[ $rc -ne 0 && -s $ORCH_LOG ]]; then
		printf '# the last lines of the orchestrator log:\n'
		tail -n 25 "$ORCH_LOG" | sed 's/^/#   /'
	fi
	for p in ${LOGS[@]+"${!LOGS[@]}"}; do
		if [[ $rc -ne 0 && -s ${LOGS[$p]} ]]; then
			printf '# the last lines of the %s log:\n' "$p"
			tail -n 15 "${LOGS[$p]}" | sed 's/^/#   /'
		fi
	done
	if [[ -n ${GC_KEEP_TMP:-} ]]; then
		printf '# kept %s\n' "$T"
	else
		rm -rf -- "$T"
	fi
}
trap _cleanup EXIT
trap 'printf "Bail out! %s line %s: %s failed\n" "${0##*/}" "$LINENO" "$BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# --------------------------------------------------------------- checks ---

# shellcheck source=tests/lib-tap.sh
. "$GC_SRCDIR/tests/lib-tap.sh"
TAP_TMP=$T
# LOGS: further logs (name=FILE) that must hold no sanitizer report, and
# whose last lines are shown when a test fails (the agents' logs).
declare -A LOGS=()
# sanitizer_clean NAME FILE: a check that FILE holds no sanitizer report.
sanitizer_clean() {
	if [[ -s $2 ]] && grep -Eq 'runtime error:|AddressSanitizer|LeakSanitizer|ThreadSanitizer' "$2"; then
		fail "the $1 log holds no sanitizer report"
		grep -E -m 5 'runtime error:|Sanitizer' "$2" | sed 's/^/    # /'
	fi
}
# finish: the plan and the exit status.
finish() {
	local name
	sanitizer_clean orchestrator "$ORCH_LOG"
	for name in ${LOGS[@]+"${!LOGS[@]}"}; do sanitizer_clean "$name" "${LOGS[$name]}"; done
	printf '1..%d\n' "$N"
	[[ $N -gt 0 ]] || bail "no check ran"
	if [[ $FAILS -ne 0 ]]; then
		printf '# %d of %d checks failed\n' "$FAILS" "$N"
		exit 1
	fi
	printf '# all %d checks passed\n' "$N"
}
# poll SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds; 1 on timeout.
poll() {
	local deadline=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[[ $SECONDS -lt $deadline ]] || return 1
		sleep 0.1
	done
}
now_ms() { date +%s%3N; }

# jget FILE EXPR: a value of the JSON document d in FILE (gcint.py get).
jget() { "${GCINT[@]}" get "$1" "$2"; }

# ------------------------------------------------------------------ PKI ---

# make_pki [pki.sh OPTION]...: the run's CA and identities in $PKI.
make_pki() {
	if ! timeout 120 bash "$GC_SRCDIR/scripts/pki.sh" --out "$PKI" "$@" >"$T/pki.out" 2>&1; then
		sed 's/^/    # /' "$T/pki.out"
		bail "scripts/pki.sh --out $PKI $* failed"
	fi
}
# slug ROLE NAME: the file name part of an identity (names.tsv).
slug() {
	awk -F'\t' -v r="$1" -v n="$2" '$1 == r && $3 == n { print $2; found = 1 } END { exit !found }' "$PKI/names.tsv"
}
default_name() {
	case $1 in
	approval) echo approval-oa ;;
	tenant) echo '市xx局' ;;
	provider) echo provider-ops ;;
	authority) echo authority ;;
	host) echo host-a ;;
	operator) echo '张三' ;;
	orchestrator) echo gc-orchestrator ;;
	*) return 1 ;;
	esac
}
# who_files WHO: set CERT and KEY for WHO, which is a role ("tenant", its
# default identity), ROLE=NAME, or file:PREFIX (PREFIX.crt and PREFIX.key).
who_files() {
	local who=$1 role name s
	if [[ $who == file:* ]]; then
		CERT=${who#file:}.crt
		KEY=${who#file:}.key
		return 0
	fi
	role=${who%%=*}
	if [[ $who == *=* ]]; then name=${who#*=}; else name=$(default_name "$role"); fi
	s=$(slug "$role" "$name") || bail "no identity $role $name in $PKI/names.tsv"
	CERT=$PKI/tls/$role-$s.crt
	KEY=$PKI/tls/$role-$s.key
}
# sign_key ROLE [NAME]: the SM2 signing key of an identity.
sign_key() {
	local name=${2:-$(default_name "$1")}
	echo "$PKI/sign/$1-$(slug "$1" "$name").key"
}
sign_pub() {
	local name=${2:-$(default_name "$1")}
	echo "$PKI/sign/$1-$(slug "$1" "$name").pub"
}
# make_cert OU CN PREFIX [CA_PREFIX]: a client certificate (P-256,
# clientAuth) issued by the run's CA, or by CA_PREFIX.crt/.key.
make_cert() {
	local ou=$1 cn=$2 out=$3 ca=${4:-$PKI/ca}
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$out.key" -out "$out.csr" \
		-subj "/O=govcloud/OU=$ou/CN=$cn" -utf8 >/dev/null 2>&1 || bail "openssl req for $ou/$cn"
	printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$out.ext"
	openssl x509 -req -in "$out.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days 2 -sha256 \
		-extfile "$out.ext" -out "$out.crt" >/dev/null 2>&1 || bail "openssl x509 -req for $ou/$cn"
}
# make_ca PREFIX: a self-signed CA that is not the run's.
make_ca() {
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.crt" \
		-subj '/O=govcloud/CN=govcloud CA' -days 2 \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		>/dev/null 2>&1 || bail "openssl req -x509 (another CA)"
}

# ------------------------------------------------------- orchestrator ---

# write_config [PLUGINS_JSON [EXTRA_JSON]]: $CONFIG for the run; plugins
# default to notify-log writing $T/events.log; EXTRA_JSON is merged at the top.
write_config() {
	local plugins=${1:-'[{"path": "notify-log", "config": {"path": "events.log"}}]'} extra=${2:-'{}'}
	PLUGINS_JSON=$plugins EXTRA_JSON=$extra PLUGIN_DIR=$PLUGIN_DIR python3 - "$CONFIG" <<'EOF'
import json, os, sys
c = {
    "listen": "127.0.0.1:0",
    "tls": {"cert": "pki/tls/orchestrator.crt", "key": "pki/tls/orchestrator.key", "ca": "pki/ca.crt"},
    "database": "orch.db",
    "service_key": "pki/sign/orchestrator-gc-orchestrator.key",
    "pack": "baotou",
    "plugin_dir": os.environ["PLUGIN_DIR"],
    "pools": [{"name": "包头-A", "arch": ["x86", "arm"]}, {"name": "六安-A", "pack": "luan"}],
    "plugins": json.loads(os.environ["PLUGINS_JSON"]),
    "notify": {"retry_initial_ms": 100, "retry_max_ms": 1000},
}
c.update(json.loads(os.environ["EXTRA_JSON"]))
json.dump(c, open(sys.argv[1], "w", encoding="utf-8"), ensure_ascii=False, indent=2)
EOF
}
_ready_port() { [[ -s $T/ready ]] && grep -Eq '^[0-9.]+ [0-9]+$' "$T/ready"; }
_healthy() { api authority GET /healthz && [[ $STATUS == 200 ]]; }
# orch_start: start gc-orchestrator on $CONFIG (extra options in ORCH_ARGS);
# PORT and URL once it answers /healthz.
ORCH_ARGS=()
# IN_NS: a command prefix (nsenter --net=...) under which the orchestrator
# and the clients (curl, the Python client) run, for a system test whose
# orchestrator lives in a network namespace; empty: this namespace.
IN_NS=()
orch_start() {
	[[ -x $ORCH_BIN ]] || bail "$ORCH_BIN is not built"
	[[ -z $ORCH_PID ]] || bail "orch_start: already running ($ORCH_PID)"
	rm -f "$T/ready"
	printf -- '--- start %s\n' "$(date -u +%FT%TZ)" >>"$ORCH_LOG"
	(cd "$T" && exec ${IN_NS[@]+"${IN_NS[@]}"} "$ORCH_BIN" -c "$CONFIG" --ready-file "$T/ready" "${ORCH_ARGS[@]}") >>"$ORCH_LOG" 2>&1 &
	ORCH_PID=$!
	local deadline=$((SECONDS + 30))
	while ! _ready_port; do
		if ! kill -0 "$ORCH_PID" 2>/dev/null; then
			wait "$ORCH_PID" 2>/dev/null || true
			ORCH_PID=
			bail "gc-orchestrator exited before it was ready"
		fi
		[[ $SECONDS -lt $deadline ]] || bail "gc-orchestrator wrote no ready file within 30 s"
		sleep 0.05
	done
	PORT=$(cut -d' ' -f2 "$T/ready")
	URL=https://$(cut -d' ' -f1 "$T/ready"):$PORT
	poll 30 _healthy || bail "gc-orchestrator on port $PORT does not answer /healthz"
}
# orch_stop: SIGTERM, and wait (30 s) for exit status 0.
orch_stop() {
	local pid=$ORCH_PID rc=0 deadline=$((SECONDS + 30))
	[[ -n $pid ]] || return 0
	kill -TERM "$pid"
	while kill -0 "$pid" 2>/dev/null; do
		if [[ $SECONDS -ge $deadline ]]; then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
	wait "$pid" || rc=$?
	ORCH_PID=
	return "$rc"
}
# orch_kill9: SIGKILL and reap.
orch_kill9() {
	local pid=$ORCH_PID
	[[ -n $pid ]] || return 0
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	ORCH_PID=
}
# bg PID: a background process to kill on exit; unbg PID once it is reaped.
bg() { BG_PIDS+=("$1"); }
unbg() {
	local p keep=()
	for p in "${BG_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	BG_PIDS=(${keep[@]+"${keep[@]}"})
}

# -------------------------------------------------------------- clients ---

# api WHO METHOD PATH [BODY]: one call with curl; STATUS is the HTTP status
# (000 when there is none), the body is in $BODY.  BODY is JSON text or @FILE.
# Extra curl options may be given in the array CURL_EXTRA.
api() {
	local who=$1 method=$2 path=$3 body=${4-}
	who_files "$who"
	local args=(-sS --max-time 30 --cacert "$PKI/ca.crt" --cert "$CERT" --key "$KEY"
		-X "$method" -o "$BODY" -w '%{http_code}' ${CURL_EXTRA[@]+"${CURL_EXTRA[@]}"})
	[[ -z $body ]] || args+=(-H 'Content-Type: application/json' --data-binary "$body")
	: >"$BODY"
	STATUS=$(${IN_NS[@]+"${IN_NS[@]}"} curl "${args[@]}" "$URL$path" 2>"$T/curl.err") || STATUS=${STATUS:-000}
	[[ -n $STATUS ]] || STATUS=000
}
# pyapi WHO METHOD PATH [FILE]: the same call with the Python client (ssl
# module, TLS 1.3 required).
pyapi() {
	local who=$1 method=$2 path=$3 file=${4-}
	who_files "$who"
	local args=(call --url "$URL" --ca "$PKI/ca.crt" --cert "$CERT" --key "$KEY" --out "$BODY")
	[[ -z $file ]] || args+=(--data "$file")
	: >"$BODY"
	STATUS=$(${IN_NS[@]+"${IN_NS[@]}"} "${GCINT[@]}" "${args[@]}" "$method" "$path" 2>"$T/curl.err") || true
	[[ -n $STATUS ]] || STATUS=000
	if grep -q 'not TLSv1.3' "$T/curl.err"; then STATUS=tls; fi
}
# want STATUS...: the last call answered one of these; else show the body.
want() {
	local s
	for s in "$@"; do [[ $STATUS == "$s" ]] && return 0; done
	printf 'HTTP %s, expected %s: %s %s\n' "$STATUS" "$*" "$(head -c 600 "$BODY")" "$(head -c 300 "$T/curl.err")"
	return 1
}
urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

# ---------------------------------------------------------- registration ---

# jstr TEXT: TEXT as a JSON string.
jstr() {
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	printf '"%s"' "$s"
}
# Each sets LAST_ID (where there is one) and bails unless the call succeeds.
register_unit() {
	api authority POST /v1/units "{\"name\": $(jstr "$1")}"
	want 201 >"$T/reg.err" || bail "register unit $1: $(cat "$T/reg.err")"
	LAST_ID=$(jget "$BODY" 'd["unit"]["id"]')
}
# register_system UNIT NAME
register_system() {
	api authority POST /v1/systems "{\"unit\": $(jstr "$1"), \"name\": $(jstr "$2"), \"mlps_level\": 2, \"availability\": \"99.9%\", \"classified\": false}"
	want 201 >"$T/reg.err" || bail "register system $1 $2: $(cat "$T/reg.err")"
	LAST_ID=$(jget "$BODY" 'd["system"]["id"]')
}
# record_agreement SYSTEM_ID
record_agreement() {
	api authority PUT "/v1/systems/$1/agreement" \
		'{"reference": "安全责任书-2026-001", "signed_on": "2026-11-01", "signatories": ["市xx局", "云服务商"], "document_sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}'
	want 200 >"$T/reg.err" || bail "agreement for system $1: $(cat "$T/reg.err")"
}
# register_approval_system ID PUBLIC_KEY_PEM_FILE
register_approval_system() {
	api authority POST /v1/approval-systems "{\"id\": $(jstr "$1"), \"name\": $(jstr "OA $1"), \"public_key\": $(jstr "$(cat "$2")")}"
	want 201 >"$T/reg.err" || bail "register approval system $1: $(cat "$T/reg.err")"
}
# register_host NAME POOL [CAPACITY-JSON | none]: with a declared capacity (a
# large x86_64 host by default), so that requests can be placed before any
# agent says hello; "none" declares none (the agent's hello brings it).
register_host() {
	local cap=${3:-'{"vcpus": 100000, "memory_mib": 100000000, "storage_gib": 100000000, "arch": "x86_64"}'}
	local capacity=", \"capacity\": $cap"
	[[ $cap != none ]] || capacity=
	api provider POST /v1/hosts "{\"name\": $(jstr "$1"), \"pool\": $(jstr "$2"), \"underlay_address\": \"10.0.0.1\", \"operations_address\": \"10.1.0.1\"$capacity}"
	want 201 >"$T/reg.err" || bail "register host $1: $(cat "$T/reg.err")"
}
# register_baseline: the unit 市xx局, its four systems (协同办公OA with its
# agreement), the approval system approval-oa, and one host with room in
# each pool (no agent runs: jobs stay queued).  SYS[name] is each id.
declare -A SYS=()
register_baseline() {
	local s
	register_unit '市xx局'
	for s in 协同办公OA 门户网站 一网通办 数据共享交换; do
		register_system '市xx局' "$s"
		SYS[$s]=$LAST_ID
	done
	record_agreement "${SYS[协同办公OA]}"
	register_approval_system approval-oa "$(sign_pub approval)"
	register_host cap-bt 包头-A
	register_host cap-la 六安-A
}

# -------------------------------------------------------------- requests ---

# sign IN OUT [sign-openssl.py OPTION]...: sign IN with approval-oa's key
# (SIGN_KEY overrides), approval.time now unless an option sets it.
sign() {
	local in=$1 out=$2
	shift 2
	python3 -I -S "$HERE/sign-openssl.py" "$in" "${SIGN_KEY:-$(sign_key approval)}" --set=approval.time=now "$@" >"$out" ||
		bail "sign-openssl.py $in failed"
}
# submit FILE [WHO]: POST /v1/requests with curl (default WHO approval).
submit() { api "${2:-approval}" POST /v1/requests "@$1"; }
# pysubmit FILE [WHO]: the same with the Python client.
pysubmit() { pyapi "${2:-approval}" POST /v1/requests "$1"; }

# ----------------------------------------------------------------- views ---

# audit_fetch: every audit record through GET /v1/audit (authority) into
# $T/audit.json as {"records": [...]}; AUDIT_LAST is the last seq.
audit_fetch() {
	local after=0 n=0 last pages=()
	while :; do
		n=$((n + 1))
		api authority GET "/v1/audit?after=$after&limit=1000"
		want 200 >"$T/audit.err" || bail "GET /v1/audit: $(cat "$T/audit.err")"
		cp "$BODY" "$T/audit.page$n"
		pages+=("$T/audit.page$n")
		read -r after last < <("${GCINT[@]}" audit-pages "$T/audit.json" "${pages[@]}")
		[[ $last -eq 1000 ]] || break
	done
	# shellcheck disable=SC2034 # read by the tests
	AUDIT_LAST=$after
}
# audit_last_is ACTION OUTCOME RULE [ACTOR]: the newest audit record.
audit_last_is() {
	local got
	got=$(jget "$T/audit.json" 'd["records"][-1]["action"] + " " + d["records"][-1]["outcome"] + " [" + d["records"][-1]["rule"] + "] " + d["records"][-1]["actor"]')
	[[ $got == "$1 $2 [$3] ${4:-${got##* }}" ]] || { echo "newest audit record: $got; expected $1 $2 [$3] ${4-}"; return 1; }
}
# system_state ID: the system's lifecycle state; system_is ID STATE.
system_state() {
	api provider GET "/v1/systems/$1"
	want 200 >/dev/null || return 1
	jget "$BODY" 'd["system"]["state"]'
}
system_is() { [[ $(system_state "$1") == "$2" ]]; }
# network_get ID [WHO]: GET /v1/systems/ID/network into $T/net-ID.json.
network_get() {
	api "${2:-provider}" GET "/v1/systems/$1/network"
	want 200 >"$T/net.err" || bail "GET /v1/systems/$1/network: $(cat "$T/net.err")"
	cp "$BODY" "$T/net-$1.json"
}
# db_dump OUT: the tables that a refusal must not change.
db_dump() { "${GCINT[@]}" dump "$DB" >"$1"; }

# Helpers of the scripts that drive gcctl and the test clock. They read, at
# call time: DB (the store), GCCTL_BIN, URL, PKI, T and OFFSET (the seconds
# the test clock was moved; the script sets it to 0 and advance adds).
# dbq SQL [ARG]...: rows of the store, read-only, tab-separated.
dbq() {
	python3 - "$DB" "$@" <<'EOF'
import sqlite3, sys, urllib.parse, os
con = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(sys.argv[1])), uri=True, timeout=30)
for row in con.execute(sys.argv[2], sys.argv[3:]):
    print("\t".join("" if v is None else str(v) for v in row))
EOF
}
# gcctl_as WHO ARGS...: gcctl with WHO's certificate (who_files).
gcctl_as() {
	who_files "$1"
	shift
	"$GCCTL_BIN" "$@" --server "$URL" --cert "$CERT" --key "$KEY" --cacert "$PKI/ca.crt"
}
# run_gcctl WHO OUT ARGS...: gcctl as WHO, stdout and stderr in OUT; RC its status.
run_gcctl() {
	local who=$1 out=$2
	shift 2
	RC=0
	gcctl_as "$who" "$@" >"$out" 2>&1 || RC=$?
}
# advance DURATION SECONDS: the test clock forward (gcctl clock advance).
advance() {
	run_gcctl authority "$T/clock.out" clock advance "$1"
	[[ $RC == 0 ]] || bail "gcctl clock advance $1: $(cat "$T/clock.out")"
	OFFSET=$((OFFSET + $2))
}
# sign_now IN OUT [OPTION]...: sign a request with approval.time at the test clock.
sign_now() {
	local in=$1 out=$2 t
	shift 2
	t=$(TZ=Asia/Shanghai date -d "@$(($(date +%s) + OFFSET))" +%Y-%m-%dT%H:%M:%S+08:00)
	sign "$in" "$out" "$@" --set=approval.time="$t"
}

# The webhook receiver (gcint.py hook --dir $HOOK): what it got.
# hook_events TYPE: the webhook bodies of TYPE, as a JSON list.
hook_events() {
	python3 - "$HOOK/events" "$1" <<'EOF'
import glob, json, os, sys
out = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.body"))):
    try:
        b = json.load(open(f, encoding="utf-8"))
    except ValueError:
        continue
    if b.get("type") == sys.argv[2]:
        out.append(b)
print(json.dumps(out, ensure_ascii=False))
EOF
}
# event_verified TYPE: the first webhook delivery of TYPE verifies (X-GC-Signature, the service key, the exact body).
event_verified() {
	local f body sig
	for f in "$HOOK"/events/*.body; do
		[[ $(jget "$f" 'd.get("type")') == "$1" ]] || continue
		body=$f
		sig=$(jget "${f%.body}.json" '{k.lower(): v for k, v in d["headers"].items()}["x-gc-signature"]')
		printf '%s' "${sig#sm2:}" | base64 -d >"$T/event.sig"
		openssl pkeyutl -verify -pubin -inkey "$(sign_pub orchestrator)" -rawin -in "$body" -digest sm3 \
			-pkeyopt "distid:$DISTID" -sigfile "$T/event.sig"
		return
	done
	return 1
}
