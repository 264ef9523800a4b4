#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# gcctl metrics import, report monthly | run and recommendations list without
# the orchestrator:
#  - metrics import checks the whole CSV file before it connects: a bad header
#    (an unknown column named, no time column), bad numbers, bad quoting, bad
#    times and VM names are refused with the line, the column and the value,
#    and nothing reaches the server (its log stays empty);
#  - against a small python3 https server standing in for POST /v1/metrics
#    (TLS 1.3, client certificate, a batch counted once by the SHA-256 of its
#    bytes): the batches' exact bytes, the same bytes on a second run (so the
#    server counts none twice), a refusal of samples[i].member mapped back to
#    the file's line and column, the batches sent before it kept;
#  - report monthly in its four formats (the table from the report fixture,
#    -o written whole), report run, recommendations list;
#  - usage errors before any connection, and every verb's --help.
#
# Environment (from meson): GCCTL, GC_SRCDIR.
# shellcheck disable=SC2317 # cleanup runs from the trap
set -uo pipefail

: "${GCCTL:?GCCTL must name the gcctl binary}"
SRC=${GC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/lib-tap.sh
. "$SRC/tests/lib-tap.sh"
for tool in openssl python3 timeout; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP the $tool command is not installed"
		exit 77
	fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/gc-test-metrics-cli.XXXXXX")
# shellcheck disable=SC2034 # read by lib-tap.sh
TAP_TMP=$T
server_pid=
cleanup() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	rm -rf -- "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$T" || exit 1

unset GC_SERVER GC_CERT GC_KEY GC_CACERT GC_PROFILE
export HOME="$T/home" XDG_CONFIG_HOME="$T/xdg"
mkdir -p "$HOME" "$XDG_CONFIG_HOME"

# run ARGS...: gcctl ARGS; stdout in out.txt, stderr in err.txt, exit status in $rc.
run() {
	timeout 60 "$GCCTL" "$@" >out.txt 2>err.txt
	rc=$?
}
# expect NAME RC TEXT ARGS...: exit status RC and TEXT (fixed string) in stdout or stderr.
expect() {
	local name=$1 want=$2 text=$3
	shift 3
	run "$@"
	if [[ $rc -eq $want ]] && grep -qF -- "$text" out.txt err.txt; then
		pass "$name"
	else
		fail "$name"
		printf '    # exit %s, want %s; want the text: %s\n' "$rc" "$want" "$text"
		sed 's/^/    # out: /' out.txt | head -n 15
		sed 's/^/    # err: /' err.txt | head -n 15
	fi
}
# csv NAME: standard input into NAME.csv
csv() { cat >"$1.csv"; }

# --- help and usage errors --------------------------------------------------------

expect "gcctl --help lists metrics" 0 "metrics " --help
expect "gcctl --help lists report" 0 "report " --help
expect "gcctl --help lists recommendations" 0 "recommendations " --help
expect "metrics import --help" 0 "Usage: gcctl metrics import FILE" metrics import --help
expect "metrics import --help says a re-run is safe" 0 "counts
a batch once, by the digest of its bytes" metrics import --help
expect "report monthly --help" 0 "Usage: gcctl report monthly --month YYYY-MM" report monthly --help
expect "report run --help" 0 "Usage: gcctl report run --month YYYY-MM" report run --help
expect "recommendations list --help" 0 "Usage: gcctl recommendations list" recommendations list --help
for v in "metrics import" "report monthly" "report run" "recommendations list"; do
	# shellcheck disable=SC2086
	run $v --help
	check "$v --help has an example" grep -q '^Example' out.txt
done
expect "metrics import without FILE" 2 "missing FILE" metrics import
expect "--batch 0 is refused" 2 '--batch: "0" is not a whole number from 1 to 50000' metrics import x.csv --batch 0
expect "--batch 50001 is refused" 2 "from 1 to 50000" metrics import x.csv --batch 50001
expect "report monthly without --month" 2 "--month YYYY-MM is required" report monthly --unit x
expect "report monthly --month 2026-13" 2 '--month: "2026-13" is not YYYY-MM' report monthly --month 2026-13
expect "report monthly --format pdf" 2 '--format: "pdf" is not table, json, csv or html' \
	report monthly --month 2026-10 --format pdf
expect "report monthly -o needs a format" 2 "--out writes json, csv or html" report monthly --month 2026-10 -o x
expect "report run without --month" 2 "--month YYYY-MM is required" report run
expect "recommendations list --period 2026-1" 2 '--period: "2026-1" is not YYYY-MM or trial' \
	recommendations list --period 2026-1
expect "recommendations list --system x" 2 '--system: "x" is not a whole number' recommendations list --system x

# --- a CA, the server's and a client's certificates, the server ---------------------

mkdir pki
(
	cd pki || exit 1
	ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
	ec ca.key
	openssl req -x509 -new -key ca.key -subj "/O=govcloud test/CN=test CA" -days 2 \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		-out ca.crt 2>/dev/null
	leaf() { # NAME SUBJECT EXTENSIONS
		ec "$1.key"
		openssl req -new -utf8 -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
		printf '%b' "$3" >"$1.ext"
		openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
			-days 2 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
	}
	leaf server "/O=govcloud test/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"
	leaf provider "/O=govcloud test/OU=provider/CN=政务云服务商" "extendedKeyUsage=clientAuth"
) || bail "no test PKI"
[[ -s pki/provider.crt ]] || bail "no test PKI"

cat >server.py <<'EOF'
# A stand-in for the orchestrator: TLS 1.3, a client certificate required.
# POST /v1/metrics counts a batch once by the SHA-256 of its bytes and refuses
# a batch holding a sample whose vm is "REFUSE-ME" (422, samples[i].vm) or
# whose cpu_pct is 66.6 (500, without a field). Every call goes to the log:
# method, path, body and the body's SHA-256.
import hashlib, http.server, json, ssl, sys, urllib.parse

pki, portfile, logfile, report = sys.argv[1:5]
seen = set()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, doc=None, raw=None, ctype="application/json"):
        body = raw if raw is not None else json.dumps(doc, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_call(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        digest = hashlib.sha256(body).hexdigest()
        with open(logfile, "a") as f:
            f.write(json.dumps({"method": self.command, "path": url.path, "query": query,
                                "body": body.decode(), "sha256": digest}, ensure_ascii=False) + "\n")
        route = (self.command, url.path)
        if route == ("POST", "/v1/metrics"):
            samples = json.loads(body)["samples"]
            for i, s in enumerate(samples):
                if s.get("vm") == "REFUSE-ME":
                    return self.answer(422, {"error": {"code": "unknown_vm", "field": "samples[%d].vm" % i,
                                                       "value": "REFUSE-ME", "rule": "", "message": "names no VM"}})
                if s.get("cpu_pct") == 66.6:
                    return self.answer(500, {"error": {"code": "internal", "message": "the store failed"}})
            if digest in seen:
                return self.answer(200, {"accepted": 0, "ignored": 0, "duplicate": True, "digest": digest})
            seen.add(digest)
            vms = {s.get("uuid") or s.get("vm") for s in samples}
            return self.answer(200, {"accepted": len(samples), "ignored": 0, "vms": len(vms), "days": 1,
                                     "duplicate": False})
        if route == ("GET", "/v1/reports/monthly"):
            if query.get("unit") == "nope":
                return self.answer(404, {"error": {"code": "not_found", "message": "unit: no such unit"}})
            fmt = query.get("format")
            if fmt == "json":
                return self.answer(200, raw=open(report, "rb").read())
            if fmt == "csv":
                return self.answer(200, raw="\ufeffunit,system\r\n单位,\"a,b\"\r\n".encode(), ctype="text/csv")
            return self.answer(200, raw="<!DOCTYPE html>\n<p>报告</p>\n".encode(), ctype="text/html")
        if route == ("POST", "/v1/reports/monthly"):
            return self.answer(200, {"month": json.loads(body)["month"], "announced": 1,
                                     "units": [{"unit": "包头市大数据局", "files": []}]})
        if route == ("GET", "/v1/recommendations"):
            return self.answer(200, {"recommendations": [
                {"id": 11, "vm": "包头市大数据局协同办公应用服务器1", "system_id": 3, "system": "协同办公",
                 "unit": "包头市大数据局", "period": "2026-10", "vcpus": {"before": 8, "after": 2},
                 "memory_gib": {"before": 16, "after": 4},
                 "disk": {"name": "data_disk_gib", "before": 200, "after": None},
                 "idle": True, "rules": ["R-RS1", "R-RS2", "R-RS7"], "figures": {}, "created": "2026-11-01T00:00:05Z"},
                {"id": 12, "vm": "包头市大数据局协同办公数据库服务器1", "system_id": 3, "system": "协同办公",
                 "unit": "包头市大数据局", "period": "2026-10", "vcpus": {"before": 4, "after": 12},
                 "memory_gib": {"before": 16, "after": None},
                 "disk": {"name": "data_disk_gib", "before": 500, "after": 1000},
                 "idle": False, "rules": ["R-RS3", "R-RS5"], "figures": {}, "created": "2026-11-01T00:00:05Z"}]})
        return self.answer(404, {"error": {"code": "not_found", "message": "no such route"}})

    do_GET = do_POST = handle_call

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
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
: >calls.log
python3 server.py "$T/pki" port.txt calls.log "$SRC/tests/unit/data/report-monthly.json" 2>server.err &
server_pid=$!
for _ in $(seq 100); do
	[[ -s port.txt ]] && break
	sleep 0.1
done
[[ -s port.txt ]] || { cat server.err; bail "the test server did not start"; }
conn=(--server "https://127.0.0.1:$(cat port.txt)" --cert pki/provider.crt --key pki/provider.key --cacert pki/ca.crt)

# calls: the number of calls the server has logged; call N FIELD: a field of the N-th (from 1).
calls() { wc -l <calls.log | tr -d ' '; }
call() { sed -n "${1}p" calls.log | python3 -c 'import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; sys.stdout.write(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True))' "$2"; }

# --- metrics import: refusals before anything is sent ---------------------------------

# refused NAME TEXT FILE: exit 1 naming TEXT, and no call reached the server
refused() {
	local name=$1 text=$2 file=$3 before
	before=$(calls)
	expect "$name" 1 "$text" metrics import "$file" "${conn[@]}"
	is "$name: nothing was sent" "$(calls)" "$before"
}

csv unknown <<<$'time,vm,cpu,memory_pct\n2026-10-01T08:00:00+08:00,a,1,2'
refused "an unknown column is named" 'unknown.csv: line 1: "cpu" is not a column this import knows' unknown.csv
csv twice <<<$'time,vm,cpu_pct,cpu_pct\n2026-10-01T08:00:00+08:00,a,1,2'
refused "a column given twice" 'line 1: "cpu_pct" is a column given twice' twice.csv
csv notime <<<$'vm,cpu_pct\na,1'
refused "no time column" "line 1: no time column" notime.csv
csv novm <<<$'time,cpu_pct\n2026-10-01T08:00:00+08:00,1'
refused "no uuid or vm column" "line 1: no uuid or vm column" novm.csv
csv nometric <<<$'time,vm,pool\n2026-10-01T08:00:00+08:00,a,p'
refused "no metric column" "no cpu_pct, memory_pct or disk_pct column" nometric.csv
csv poolonly <<<$'time,uuid,pool,cpu_pct\n2026-10-01T08:00:00+08:00,a,p,1'
refused "a pool column without vm" "a pool column without a vm column" poolonly.csv
: >empty.csv
refused "an empty file" "empty: the first line names the columns" empty.csv
csv headeronly <<<$'time,vm,cpu_pct'
refused "a header and no samples" "no samples after the header" headeronly.csv

# Numbers: line, column and value named.
csv comma <<<$'time,vm,cpu_pct,memory_pct\n2026-10-01T08:00:00+08:00,a,1,2\n2026-10-01T08:05:00+08:00,a,1,"12,5"'
refused "a decimal comma" 'comma.csv: line 3, column memory_pct: "12,5" is not a number' comma.csv
csv percent <<<$'time,vm,cpu_pct\n2026-10-01T08:00:00+08:00,a,12%'
refused "a percent sign" 'line 2, column cpu_pct: "12%" is not a number' percent.csv
csv over <<<$'time,vm,disk_pct\n2026-10-01T08:00:00+08:00,a,100.5'
refused "above 100" 'line 2, column disk_pct: "100.5" is not from 0 to 100' over.csv
csv exp <<<$'time,vm,disk_pct\n2026-10-01T08:00:00+08:00,a,1e3'
refused "1e3 is above 100" 'line 2, column disk_pct: "1e3" is not from 0 to 100' exp.csv
csv negative <<<$'time,vm,cpu_pct\n2026-10-01T08:00:00+08:00,a,-1'
refused "a negative percentage" '"-1" is not from 0 to 100' negative.csv
csv dot <<<$'time,vm,cpu_pct\n2026-10-01T08:00:00+08:00,a,.5'
refused "a number JSON does not take (.5)" '"'.5'" is not a number' dot.csv
csv space <<<$'time,vm,cpu_pct\n2026-10-01T08:00:00+08:00,a, 5'
refused "a number with a space" '" 5" is not a number' space.csv
csv fields <<<$'time,vm,cpu_pct\n2026-10-01T08:00:00+08:00,a,12,5'
refused "a record with a field too many" "line 2: 4 fields, the header has 3" fields.csv

# Quoting (RFC 4180), and line numbers that count the lines of a quoted field.
csv afterquote <<<$'time,vm,cpu_pct\n2026-10-01T08:00:00+08:00,"a"b,1'
refused "text after a closing quote" "line 2, column vm: text after the closing quote" afterquote.csv
csv midquote <<<$'time,vm,cpu_pct\n2026-10-01T08:00:00+08:00,a"b,1'
refused "a quote inside an unquoted field" "line 2, column vm: a quote inside an unquoted field" midquote.csv
printf 'time,vm,cpu_pct\n2026-10-01T08:00:00+08:00,a,1\n2026-10-01T08:05:00+08:00,"a,1\n2026-10-01T08:10:00+08:00,a,1\n' >open.csv
refused "a quoted field that does not end" "line 3, column vm: a quoted field does not end" open.csv
printf 'time,vm,pool,cpu_pct\n2026-10-01T08:00:00+08:00,"a ""x"", 1",p,1\n\n2026-10-01T08:05:00+08:00,b,"p\nq",1\n2026-10-01T08:10:00+08:00,b,p,x\n' >lines.csv
refused "a line break in a quoted field is refused in a name, on its record's line" \
	'line 4, column pool: "p?q" holds a control character' lines.csv
printf 'time,vm,pool,cpu_pct\r\n2026-10-01T08:00:00+08:00,"a ""x"", 1",p,1\r\n\r\n\r\n2026-10-01T08:10:00+08:00,b,p,x\r\n' >crlf.csv
refused "CRLF line ends and blank lines counted" 'line 5, column cpu_pct: "x" is not a number' crlf.csv
printf 'time,vm,cpu_pct\r\n2026-10-01T08:00:00+08:00,a,1\r2026-10-01T08:05:00+08:00,a,1\r\n' >cr.csv
refused "a carriage return alone" "line 2: a carriage return without a line feed" cr.csv
printf 'time,vm,cpu_pct\n2026-10-01T08:00:00+08:00,a,1\n2026-10-01T08:00:00+08:00,\xb0\xfc\xcd\xb7,1\n' >gbk.csv
refused "a file that is not UTF-8 (GBK)" "line 3: not UTF-8" gbk.csv

# Times and VMs.
csv space_time <<<$'time,vm,cpu_pct\n2026-10-01 08:00:00+08:00,a,1'
refused "a time with a space" 'line 2, column time: "2026-10-01 08:00:00+08:00" is not an RFC 3339 time' space_time.csv
csv nooffset <<<$'time,vm,cpu_pct\n2026-10-01T08:00:00,a,1'
refused "a time without an offset" 'column time: "2026-10-01T08:00:00" is not an RFC 3339 time with an offset' nooffset.csv
csv feb30 <<<$'time,vm,cpu_pct\n2026-02-30T08:00:00Z,a,1'
refused "a day the month does not have" '"2026-02-30T08:00:00Z" is not an RFC 3339 time' feb30.csv
csv notime_cell <<<$'time,vm,cpu_pct\n,a,1'
refused "an empty time" 'line 2, column time: "" is empty' notime_cell.csv
csv both <<<$'time,uuid,vm,cpu_pct\n2026-10-01T08:00:00Z,6f1c3a52-8f3e-4c55-9d1e-0b7e8f2a9c01,a,1'
refused "uuid and vm on one line" "line 2: both uuid and vm given" both.csv
csv neither <<<$'time,uuid,vm,cpu_pct\n2026-10-01T08:00:00Z,,,1'
refused "no VM on a line" "line 2: no VM: the uuid and vm cells are empty" neither.csv
csv baduuid <<<$'time,uuid,cpu_pct\n2026-10-01T08:00:00Z,6f1c3a52,1'
refused "a bad uuid" 'line 2, column uuid: "6f1c3a52" is not a UUID' baduuid.csv
csv uuidpool <<<$'time,uuid,vm,pool,cpu_pct\n2026-10-01T08:00:00Z,6f1c3a52-8f3e-4c55-9d1e-0b7e8f2a9c01,,p,1'
refused "a pool with a uuid" 'line 2, column pool: "p" is given with a uuid' uuidpool.csv

# What is good passes --check without a connection.
printf '\xef\xbb\xbftime,uuid,vm,pool,cpu_pct,memory_pct,disk_pct\r\n2026-10-01T08:00:00+08:00,,包头市大数据局协同办公应用服务器1,包头-A,12.50,,40\r\n2026-10-01T08:05:00.250Z,6f1c3a52-8f3e-4c55-9d1e-0b7e8f2a9c01,,,0,100,1e1\r\n' >good.csv
expect "--check takes a file with a BOM, CRLF, uuid and vm lines" 0 "samples: 2" metrics import good.csv --check
expect "--check counts the VMs named" 0 "vms: 2" metrics import good.csv --check
is "--check sends nothing" "$(calls)" 0

# --- metrics import against the server ---------------------------------------------------

{
	echo 'time,vm,pool,cpu_pct,memory_pct'
	for i in $(seq 0 11); do
		printf '2026-10-01T%02d:00:00+08:00,包头市大数据局协同办公应用服务器%d,%s,%s,%s\n' "$i" $((i % 3 + 1)) \
			"$([[ $i -eq 1 ]] && echo 包头-A)" "$((10 + i)).50" "$([[ $i -eq 2 ]] || echo $((30 + i)))"
	done
} >month.csv
expect "import: 12 samples in 3 batches of 5" 0 "batches: 3 of at most 5 samples" metrics import month.csv --batch 5 "${conn[@]}"
check "import: 12 accepted" grep -qF "accepted: 12" out.txt
check "import: 3 VMs named" grep -qF "vms: 3" out.txt
is "import: three calls" "$(calls)" 3
is "import: POST /v1/metrics" "$(call 1 method) $(call 1 path)" "POST /v1/metrics"
is "import: the first batch's bytes (order, numbers as written, null for a gap, pool where given)" "$(call 1 body)" \
	'{"samples":[{"time":"2026-10-01T00:00:00+08:00","vm":"包头市大数据局协同办公应用服务器1","cpu_pct":10.50,"memory_pct":30},{"time":"2026-10-01T01:00:00+08:00","vm":"包头市大数据局协同办公应用服务器2","pool":"包头-A","cpu_pct":11.50,"memory_pct":31},{"time":"2026-10-01T02:00:00+08:00","vm":"包头市大数据局协同办公应用服务器3","cpu_pct":12.50,"memory_pct":null},{"time":"2026-10-01T03:00:00+08:00","vm":"包头市大数据局协同办公应用服务器1","cpu_pct":13.50,"memory_pct":33},{"time":"2026-10-01T04:00:00+08:00","vm":"包头市大数据局协同办公应用服务器2","cpu_pct":14.50,"memory_pct":34}]}'
check "import: each batch is JSON the server parses, 5, 5 and 2 samples" python3 - calls.log <<-'EOF'
	import json, sys
	n = [len(json.loads(json.loads(l)["body"])["samples"]) for l in open(sys.argv[1])]
	assert n == [5, 5, 2], n
EOF
first_run=$(for n in 1 2 3; do call "$n" sha256; done)

expect "import again: every batch counted before" 0 "counted before: 3 batches" \
	metrics import month.csv --batch 5 "${conn[@]}"
check "import again: none accepted" grep -qF "accepted: 0" out.txt
is "import again: the same bytes" "$(for n in 4 5 6; do call "$n" sha256; done)" "$first_run"
expect "import with another --batch: other bytes, counted" 0 "accepted: 12" \
	metrics import month.csv --batch 4 "${conn[@]}"
is "import --batch 4: three calls more" "$(calls)" 9
expect "import from standard input, --progress on standard error" 0 "batch 2/2: 2 samples (lines 12-13): counted before, not again" \
	metrics import - --batch 10 --progress "${conn[@]}" <month.csv
expect "import --json: the summary" 0 '"duplicates":	2' --json metrics import month.csv --batch 10 "${conn[@]}"

# A refusal of samples[i].vm names the file's line: blank lines and a header
# before it counted; the batches before it stay sent.
{
	echo 'time,vm,cpu_pct'
	echo
	for i in 0 1 2 3 4 5 6; do
		printf '2026-10-02T%02d:00:00+08:00,%s,%d\n' "$i" "$([[ $i -eq 6 ]] && echo REFUSE-ME || echo 包头市大数据局协同办公应用服务器1)" "$i"
		[[ $i -eq 2 ]] && echo
	done
} >refuse.csv
before=$(calls)
expect "a refused sample is named by line and column" 1 \
	'refuse.csv: line 10, column vm: "REFUSE-ME" names no VM [unknown_vm]' metrics import refuse.csv --batch 3 "${conn[@]}"
check "the refusal says what was sent before it" \
	grep -qF "stopped at batch 3 of 3; the 2 before it (6 samples) were sent and stay" err.txt
is "the refused batch was the last call" "$(($(calls) - before))" 3
printf 'time,vm,cpu_pct\n2026-10-03T00:00:00+08:00,a,1\n2026-10-03T01:00:00+08:00,a,66.6\n' >fail.csv
expect "a server failure without a field: the batch's lines" 1 "batch 1 holds lines 2-3" \
	metrics import fail.csv "${conn[@]}"
check "the server's message is shown" grep -qF "failed (HTTP 500): the store failed [internal]" err.txt

# --- report monthly / run, recommendations list --------------------------------------------

expect "report monthly: a table per system" 0 "system 3 协同办公 (pool 包头-A, pack baotou)" \
	report monthly --unit 包头市大数据局 --month 2026-10 "${conn[@]}"
is "report monthly: the query" "$(call "$(calls)" query)" '{"format": "json", "month": "2026-10", "unit": "包头市大数据局"}'
check "report monthly: the table's rows" python3 - out.txt <<-'EOF'
	import re, sys
	text = open(sys.argv[1], encoding="utf-8").read()
	want = [
	    r"unit: 包头市大数据局\nmonth: 2026-10 \(2026-10-01 to 2026-10-31\)\ndue: 2026-11-05\n",
	    r"包头市大数据局协同办公应用服务器1 +8 vCPU, 16 GiB, disks 40\+200 GiB +11\.2 / 35 +18\.5 / 30\.1 +42\.6 \+0\.01/day +"
	    r"vcpus 8→2 \(R-RS1\), memory 16→4 GiB \(R-RS2\) +IDLE\n",
	    r"包头市大数据局协同办公数据库服务器1 .* 85\.3 \+0\.61/day, linear +vcpus 4→12 \(R-RS3\), memory 16→32 GiB \(R-RS4\), "
	    r"data disk 500→1000 GiB \(R-RS5\) +-\n",
	    r"包头市大数据局协同办公备份服务器1 +2 vCPU, 4 GiB, disks 40\+100 GiB +no data +no data +no data +- +-\n",
	    r"total: 3 VMs, 14 vCPU, 36 GiB memory, 920 GiB disk; 1 idle; 5 changes: 16 vCPU, 40 GiB memory, 1420 GiB disk after\n",
	    r"system 7 政务公开 \(pool 六安-A, pack luan: no bands, no recommendations\)\n",
	    r"unit total: 2 systems, 4 VMs, 16 vCPU, 40 GiB memory, 980 GiB disk; 1 idle; 5 changes",
	]
	for w in want:
	    assert re.search(w, text), "no match for %s in\n%s" % (w, text)
EOF
run report monthly --unit "a&b c" --month 2026-10 --format csv -o r.csv "${conn[@]}"
is "report monthly --format csv -o FILE: exit 0, nothing on standard output" "$rc $(wc -c <out.txt)" "0 0"
is "report monthly: the unit is escaped in the query" "$(call "$(calls)" query)" '{"format": "csv", "month": "2026-10", "unit": "a&b c"}'
is "report monthly -o: the body as it came" "$(od -An -c r.csv | tr -s ' ' | head -c 40)" "$(printf '\xef\xbb\xbfunit,system\r\n' | od -An -c | tr -s ' ' | head -c 40)"
expect "report monthly --format html to standard output" 0 "<p>报告</p>" report monthly --month 2026-10 --format html "${conn[@]}"
is "report monthly without --unit asks for none (a tenant's own)" "$(call "$(calls)" query)" '{"format": "html", "month": "2026-10"}'
expect "report monthly --json is the model" 0 '"schema": "govcloud-report/1"' --json report monthly --unit x --month 2026-10 "${conn[@]}"
expect "report monthly: a refusal is shown" 1 "refused (HTTP 404): unit: no such unit [not_found]" \
	report monthly --unit nope --month 2026-10 "${conn[@]}"
expect "report run --month" 0 "announced: 1" report run --month 2026-10 "${conn[@]}"
is "report run: the body" "$(call "$(calls)" body)" '{"month":"2026-10"}'
expect "recommendations list: a table" 0 "VCPUS" recommendations list --system 3 --period 2026-10 "${conn[@]}"
is "recommendations list: the query" "$(call "$(calls)" query)" '{"period": "2026-10", "system": "3"}'
check "recommendations list: the rows" python3 - out.txt <<-'EOF'
	import re, sys
	text = open(sys.argv[1], encoding="utf-8").read()
	assert re.search(r"^ID +PERIOD +SYSTEM +VM +VCPUS +MEMORY GIB +DISK GIB +IDLE +RULES\n", text), text
	assert re.search(r"\n11 +2026-10 +协同办公 +包头市大数据局协同办公应用服务器1 +8 → 2 +16 → 4 +data_disk_gib 200 +IDLE +R-RS1, R-RS2, R-RS7\n", text), text
	assert re.search(r"\n12 +2026-10 +协同办公 +包头市大数据局协同办公数据库服务器1 +4 → 12 +16 +data_disk_gib 500 → 1000 +- +R-RS3, R-RS5\n", text), text
EOF
expect "recommendations list --period trial" 0 "IDLE" recommendations list --period trial "${conn[@]}"
is "recommendations list --period trial: the query" "$(call "$(calls)" query)" '{"period": "trial"}'

echo "1..$N"
[[ $FAILS -eq 0 ]] || { echo "# $FAILS of $N failed"; exit 1; }
exit 0
