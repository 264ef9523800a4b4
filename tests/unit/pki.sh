#!/usr/bin/env bash
# tests/unit/pki.sh - scripts/pki.sh: the CA, the TLS leaves, the SM2 signing
# keys, the manifest, idempotence, and a real TLS 1.3 handshake with a client
# certificate on 127.0.0.1.  Needs only bash, openssl, coreutils and python3
# (to read pki.json).  Every step is bounded by timeout.
set -uo pipefail

SRC=${GC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PKI_SH="$SRC/scripts/pki.sh"
DISTID=1234567812345678

T=$(mktemp -d "${TMPDIR:-/tmp}/gc-test-pki.XXXXXX")
SERVER_PID=
cleanup() {
	if [[ -n $SERVER_PID ]]; then
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	rm -rf -- "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PKI="$T/pki"
FAILS=0
N=0

pass() { N=$((N + 1)); printf 'ok %d - %s\n' "$N" "$*"; }
fail() { N=$((N + 1)); FAILS=$((FAILS + 1)); printf 'not ok %d - %s\n' "$N" "$*"; }
# check DESCRIPTION COMMAND...: pass when COMMAND succeeds; on failure show its output.
check() {
	local desc=$1
	shift
	if "$@" >"$T/check.out" 2>&1; then
		pass "$desc"
	else
		fail "$desc"
		sed 's/^/    # /' "$T/check.out" | head -20
	fi
}
# refute DESCRIPTION COMMAND...: pass when COMMAND fails.
refute() {
	local desc=$1
	shift
	if "$@" >"$T/check.out" 2>&1; then
		fail "$desc (it succeeded)"
		sed 's/^/    # /' "$T/check.out" | head -20
	else
		pass "$desc"
	fi
}
bail() {
	fail "$*"
	printf 'Bail out! %s\n' "$*"
	exit 1
}

run_pki() { timeout 120 bash "$PKI_SH" --out "$PKI" "$@"; }

# Manifest rows, tab-separated: role name kind cert key pub subject sha256
# (missing fields are "-").
manifest() {
	python3 - "$PKI/pki.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1], encoding="utf-8"))
assert m["version"] == 1
for e in m["entries"]:
    row = [e.get(k) for k in ("role", "name", "kind", "cert", "key", "pub", "subject", "sha256")]
    print("\t".join("-" if v is None else str(v) for v in row))
EOF
}
# field F (1-based) of the manifest row for ROLE NAME KIND
mf() {
	manifest | awk -F'\t' -v r="$1" -v n="$2" -v k="$3" -v f="$4" \
		'$1 == r && $2 == n && $3 == k { print $f; found = 1 } END { exit !found }'
}

fingerprint() {
	local fp
	fp=$(openssl x509 -in "$1" -noout -fingerprint -sha256) || return 1
	fp=${fp#*=}
	fp=${fp//:/}
	printf '%s\n' "${fp,,}"
}

subject_utf8() { openssl x509 -in "$1" -noout -subject -nameopt utf8 | sed 's/^subject=//'; }

# A checksum of every certificate and key, to compare runs.
snapshot() { (cd "$PKI" && find ca.crt ca.key tls sign -type f | LC_ALL=C sort | xargs sha256sum); }

# Small predicates for check/refute.
help_describes_layout() {
	local out
	out=$(timeout 10 bash "$PKI_SH" --help) || return 1
	grep -q 'pki.json' <<<"$out" && grep -q 'sign/<role>-<slug>' <<<"$out"
}
no_private_key_in() { ! grep -q -e 'PRIVATE KEY' -e 'priv:' "$1"; }
no_operator_signing_key() { ! cut -f1,3 "$1" | grep -x $'operator\tsign' >/dev/null; }
text_has_after() { grep -A1 -- "$2" <<<"$1" | grep -- "$3" >/dev/null; } # TEXT LINE NEXT-LINE-PATTERN
subject_ends_with() { subject_utf8 "$1" | grep -- "$2\$" >/dev/null; }
cn_is_utf8string() { openssl asn1parse -in "$1" | grep "UTF8STRING *:$2\$" >/dev/null; }
leaf_is_sound() { # CERT KEY: matching key, EC P-256, CA:FALSE, SKI and AKI
	local t
	[[ $(openssl x509 -in "$1" -noout -pubkey) == "$(openssl pkey -in "$2" -pubout)" ]] || return 1
	t=$(openssl x509 -in "$1" -noout -text)
	grep -q 'ASN1 OID: prime256v1' <<<"$t" && text_has_after "$t" 'Basic Constraints' 'CA:FALSE' &&
		grep -q 'Subject Key Identifier' <<<"$t" && grep -q 'Authority Key Identifier' <<<"$t"
}
serials_unique() {
	local c dups
	dups=$(for c in "$PKI"/ca.crt "$PKI"/tls/*.crt; do openssl x509 -in "$c" -noout -serial; done | sort | uniq -d)
	[[ -z $dups ]]
}
is_sm2_pkcs8() {
	head -1 "$1" | grep -x -- '-----BEGIN PRIVATE KEY-----' >/dev/null && openssl asn1parse -in "$1" | grep 'OBJECT *:sm2' >/dev/null
}
is_sm2_pub_of() { # PUB KEY
	openssl pkey -pubin -in "$1" | openssl asn1parse | grep 'OBJECT *:sm2' >/dev/null &&
		[[ $(openssl pkey -in "$2" -pubout) == "$(openssl pkey -pubin -in "$1")" ]]
}
sm2_sign_verify() { # KEY PUB MSG SIG
	openssl pkeyutl -sign -inkey "$1" -rawin -in "$3" -digest sm3 -pkeyopt distid:$DISTID -out "$4" &&
		openssl pkeyutl -verify -pubin -inkey "$2" -rawin -in "$3" -digest sm3 -pkeyopt distid:$DISTID -sigfile "$4"
}
added_files() { # OLD-SNAPSHOT NEW-SNAPSHOT: paths only in the new one
	comm -13 <(awk '{ print $2 }' "$1" | LC_ALL=C sort) <(awk '{ print $2 }' "$2" | LC_ALL=C sort)
}
only_added_host_c() {
	diff <(printf '%s\n' sign/host-host-c.key sign/host-host-c.pub tls/host-host-c.crt tls/host-host-c.key) \
		<(added_files "$1" "$2")
}
nothing_changed() { # OLD-SNAPSHOT NEW-SNAPSHOT: every old file has the same checksum
	local sum path bad=0
	while read -r sum path; do
		grep -qxF "$sum  $path" "$2" || { printf 'changed or gone: %s\n' "$path"; bad=1; }
	done <"$1"
	return "$bad"
}
cert_kept_key_null() { [[ -f $1 && $2 == - ]]; }
refused() { [[ $1 -ne 0 ]] && ! grep -q 'HTTP/1.0 200' "$2"; } # RC LOG
refused_for_no_cert() { refused "$1" "$2" && grep -q -i 'certificate required' "$2"; }
served() { [[ $1 -eq 0 ]] && grep -q 'HTTP/1.0 200 ok' "$2"; }

# -------------------------------------------------------------- it runs --

[[ -f $PKI_SH ]] || bail "scripts/pki.sh not found under $SRC"
check "--help exits 0 and describes the layout" help_describes_layout
refute "an unknown option is refused" timeout 10 bash "$PKI_SH" --out "$T/never" --bogus
refute "a name with / is refused" timeout 10 bash "$PKI_SH" --out "$T/never" --unit 'a/b'
refute "--days 0 is refused" timeout 10 bash "$PKI_SH" --out "$T/never" --days 0
check "nothing was written by the refused runs" test ! -e "$T/never/ca.key"

if ! run_pki --days 825 >"$T/run1.out" 2>&1; then
	sed 's/^/    # /' "$T/run1.out"
	bail "scripts/pki.sh --out DIR (defaults) failed"
fi
pass "scripts/pki.sh with the defaults runs"
check "the summary names what it created" grep -q 'created' "$T/run1.out"
check "nothing that looks like a private key is printed" no_private_key_in "$T/run1.out"
check "pki.json is valid JSON and lists entries" manifest
check "README.txt is written" grep -q 'sign/<role>-<slug>' "$PKI/README.txt"

# ------------------------------------------------------------ manifest ----

CA_CRT=$(mf ca "govcloud CA" ca 4) || bail "manifest has no CA"
CA_CRT="$PKI/$CA_CRT"
SRV_CRT="$PKI/$(mf orchestrator gc-orchestrator tls-server 4)" || bail "manifest has no server cert"
SRV_KEY="$PKI/$(mf orchestrator gc-orchestrator tls-server 5)"
TEN_CRT="$PKI/$(mf tenant '市xx局' tls-client 4)" || bail "manifest has no tenant 市xx局"
TEN_KEY="$PKI/$(mf tenant '市xx局' tls-client 5)"

expect_rows=(
	$'orchestrator\tgc-orchestrator\ttls-server'
	$'approval\tapproval-oa\ttls-client'
	$'tenant\t市xx局\ttls-client'
	$'provider\tprovider-ops\ttls-client'
	$'authority\tauthority\ttls-client'
	$'host\thost-a\ttls-client'
	$'host\thost-b\ttls-client'
	$'operator\t张三\ttls-client'
	$'orchestrator\tgc-orchestrator\tsign'
	$'approval\tapproval-oa\tsign'
	$'tenant\t市xx局\tsign'
	$'provider\tprovider-ops\tsign'
	$'authority\tauthority\tsign'
	$'host\thost-a\tsign'
	$'host\thost-b\tsign'
)
manifest >"$T/rows"
missing=0
for r in "${expect_rows[@]}"; do
	if ! cut -f1-3 "$T/rows" | grep -xF "$r" >/dev/null; then
		printf '    # missing from pki.json: %s\n' "${r//$'\t'/ }"
		missing=1
	fi
done
check "pki.json lists every expected identity (7 roles, TLS and SM2)" test "$missing" -eq 0
check "no operator has a signing key" no_operator_signing_key "$T/rows"
missing=0
while IFS=$'\t' read -r role name kind crt key pub subj sha; do
	for f in "$crt" "$key" "$pub"; do
		[[ $f == - || -f $PKI/$f ]] || { printf '    # %s %s: %s does not exist\n' "$role" "$name" "$f"; missing=1; }
	done
done <"$T/rows"
check "every file pki.json names exists" test "$missing" -eq 0
bad_fp=0
while IFS=$'\t' read -r role name kind crt key pub subj sha; do
	[[ $crt != - ]] || continue
	[[ $(fingerprint "$PKI/$crt") == "$sha" ]] || { printf '    # %s: sha256 in pki.json differs\n' "$crt"; bad_fp=1; }
	[[ $(subject_utf8 "$PKI/$crt") == "$subj" ]] || { printf '    # %s: subject in pki.json differs\n' "$crt"; bad_fp=1; }
done <"$T/rows"
check "pki.json fingerprints and subjects match the certificates" test "$bad_fp" -eq 0

# ------------------------------------------------------------------ CA ----

CA_TEXT=$(openssl x509 -in "$CA_CRT" -noout -text -nameopt utf8)
check "CA subject is O=govcloud, CN=govcloud CA" test "$(subject_utf8 "$CA_CRT")" = "O=govcloud, CN=govcloud CA"
check "CA basicConstraints is critical CA:TRUE, pathlen:0" \
	text_has_after "$CA_TEXT" 'Basic Constraints: critical' 'CA:TRUE, pathlen:0$'
check "CA keyUsage is critical keyCertSign, cRLSign" \
	text_has_after "$CA_TEXT" 'Key Usage: critical' '^ *Certificate Sign, CRL Sign$'
check "CA has a subjectKeyIdentifier" grep -q 'Subject Key Identifier' <<<"$CA_TEXT"
check "CA key is EC P-256" grep -q 'ASN1 OID: prime256v1' <<<"$CA_TEXT"
check "CA verifies against itself" openssl verify -CAfile "$CA_CRT" "$CA_CRT"

# -------------------------------------------------------------- leaves ----

while IFS=$'\t' read -r role name kind crt key pub subj sha; do
	case $kind in
	tls-server)
		check "$crt verifies with -purpose sslserver" openssl verify -CAfile "$CA_CRT" -purpose sslserver "$PKI/$crt"
		refute "$crt fails -purpose sslclient" openssl verify -CAfile "$CA_CRT" -purpose sslclient "$PKI/$crt"
		;;
	tls-client)
		check "$crt ($role $name) verifies with -purpose sslclient" \
			openssl verify -CAfile "$CA_CRT" -purpose sslclient "$PKI/$crt"
		if [[ $role == host ]]; then
			# A host's agent also serves the operations tunnels it opens.
			check "$crt ($role $name) also verifies with -purpose sslserver (tunnel endpoints)" \
				openssl verify -CAfile "$CA_CRT" -purpose sslserver "$PKI/$crt"
		else
			refute "$crt fails -purpose sslserver" openssl verify -CAfile "$CA_CRT" -purpose sslserver "$PKI/$crt"
		fi
		;;
	*) continue ;;
	esac
	check "$crt subject is O=govcloud, OU=$role, CN=$name" \
		test "$(subject_utf8 "$PKI/$crt")" = "O=govcloud, OU=$role, CN=$name"
	check "$crt matches its key, EC P-256, not a CA, has SKI/AKI" leaf_is_sound "$PKI/$crt" "$PKI/$key"
done <"$T/rows"

check "every certificate has its own serial" serials_unique

SAN=$(openssl x509 -in "$SRV_CRT" -noout -ext subjectAltName)
check "server SAN holds DNS:localhost" grep -q 'DNS:localhost' <<<"$SAN"
check "server SAN holds IP 127.0.0.1" grep -q 'IP Address:127.0.0.1' <<<"$SAN"
check "server cert verifies for host localhost and IP 127.0.0.1" \
	openssl verify -CAfile "$CA_CRT" -purpose sslserver -verify_hostname localhost -verify_ip 127.0.0.1 "$SRV_CRT"

check "tenant CN 市xx局 reads back with -nameopt utf8" subject_ends_with "$TEN_CRT" 'OU=tenant, CN=市xx局'
OP_CRT="$PKI/$(mf operator '张三' tls-client 4)"
check "operator CN 张三 reads back with -nameopt utf8" subject_ends_with "$OP_CRT" 'OU=operator, CN=张三'
check "the Chinese CN is a UTF8String" cn_is_utf8string "$TEN_CRT" '市xx局'

bad_mode=0
while IFS= read -r -d '' k; do
	m=$(stat -c %a "$k")
	[[ $m == 600 ]] || { printf '    # %s has mode %s\n' "${k#"$PKI"/}" "$m"; bad_mode=1; }
done < <(find "$PKI" -name '*.key' -type f -print0)
check "every private key is mode 600" test "$bad_mode" -eq 0
check "at least 16 private keys were checked" test "$(find "$PKI" -name '*.key' | wc -l)" -ge 16

# ------------------------------------------------------------- SM2 keys ---

printf 'govcloud sheet bytes \xe5\xb8\x82\n' >"$T/msg"
printf 'govcloud sheet bytes, altered\n' >"$T/msg2"
while IFS=$'\t' read -r role name kind crt key pub subj sha; do
	[[ $kind == sign ]] || continue
	k="$PKI/$key" p="$PKI/$pub" s="$T/sig.$role"
	check "$key ($role $name) is an SM2 PKCS#8 key" is_sm2_pkcs8 "$k"
	check "$pub is the SM2 public key of $key" is_sm2_pub_of "$p" "$k"
	check "$key signs (sm3, distid $DISTID) and $pub verifies" sm2_sign_verify "$k" "$p" "$T/msg" "$s"
	refute "$pub rejects the signature over other bytes" \
		openssl pkeyutl -verify -pubin -inkey "$p" -rawin -in "$T/msg2" -digest sm3 -pkeyopt distid:$DISTID -sigfile "$s"
	refute "$pub rejects the signature without the distid" \
		openssl pkeyutl -verify -pubin -inkey "$p" -rawin -in "$T/msg" -digest sm3 -sigfile "$s"
done <"$T/rows"

# -------------------------------------------------------- idempotence -----

CA_FP1=$(fingerprint "$CA_CRT")
snapshot >"$T/snap1"
check "a second run succeeds" run_pki
check "the second run reuses the CA (same fingerprint)" test "$(fingerprint "$CA_CRT")" = "$CA_FP1"
snapshot >"$T/snap2"
check "the second run keeps every certificate and key unchanged" diff "$T/snap1" "$T/snap2"

check "a run with --host host-c succeeds" run_pki --host host-c
snapshot >"$T/snap3"
check "--host host-c adds exactly tls/host-host-c.{crt,key} and sign/host-host-c.{key,pub}" \
	only_added_host_c "$T/snap1" "$T/snap3"
check "--host host-c changes nothing that existed" nothing_changed "$T/snap1" "$T/snap3"
check "the CA is still the same after --host host-c" test "$(fingerprint "$CA_CRT")" = "$CA_FP1"
n_hosts=$(manifest | awk -F'\t' '$1 == "host" && $3 == "tls-client"' | wc -l)
check "pki.json now lists 3 host certificates (host-a, host-b, host-c)" test "$n_hosts" -eq 3
check "host-c verifies as a client" openssl verify -CAfile "$CA_CRT" -purpose sslclient "$PKI/tls/host-host-c.crt"

# A private key handed to its party: the certificate and public key are kept.
mv "$PKI/$(mf operator '张三' tls-client 5)" "$T/handed-away.key"
check "a run after an operator key was handed away succeeds" run_pki
check "the operator certificate is kept and its key is null in pki.json" \
	cert_kept_key_null "$OP_CRT" "$(mf operator '张三' tls-client 5)"
mv "$T/handed-away.key" "$PKI/$(mf operator '张三' tls-client 4 | sed 's/\.crt$/.key/')"

# A CA whose key vanished is an error, never a silent new CA.
mv "$PKI/ca.key" "$T/ca.key.saved"
refute "a CA certificate without its key is refused" run_pki
check "... and the CA certificate is untouched" test "$(fingerprint "$CA_CRT")" = "$CA_FP1"
mv "$T/ca.key.saved" "$PKI/ca.key"

# ---------------------------------------------------- TLS 1.3 handshake ---

start_server() {
	local port
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		port=$((20000 + RANDOM % 40000))
		: >"$T/server.log"
		timeout 120 openssl s_server -accept "127.0.0.1:$port" -cert "$SRV_CRT" -key "$SRV_KEY" \
			-CAfile "$CA_CRT" -Verify 1 -verify_return_error -tls1_3 -www -nameopt utf8 \
			</dev/null >"$T/server.log" 2>&1 &
		SERVER_PID=$!
		for _ in $(seq 50); do
			if grep -q '^ACCEPT' "$T/server.log"; then
				PORT=$port
				return 0
			fi
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
		SERVER_PID=
	done
	return 1
}

# client OUTFILE [s_client options]: one HTTP GET over TLS 1.3.
client() {
	local out=$1
	shift
	printf 'GET / HTTP/1.0\r\n\r\n' |
		timeout 15 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA_CRT" \
			-verify_return_error -tls1_3 -verify_ip 127.0.0.1 -nameopt utf8 -ign_eof "$@" \
			>"$out" 2>&1
}

PORT=
if ! start_server; then
	sed 's/^/    # /' "$T/server.log"
	bail "openssl s_server did not start on 127.0.0.1"
fi
pass "openssl s_server (TLS 1.3, client cert required) listens on 127.0.0.1:$PORT"

client "$T/c1.log" -cert "$TEN_CRT" -key "$TEN_KEY"
rc=$?
check "tenant client handshake succeeds (s_client exit 0)" test "$rc" -eq 0
check "client verified the server: Verify return code: 0 (ok)" grep -q 'Verify return code: 0 (ok)' "$T/c1.log"
check "the session is TLSv1.3" grep -q 'New, TLSv1.3' "$T/c1.log"
check "the server answered over the mutual TLS session" grep -q 'HTTP/1.0 200 ok' "$T/c1.log"
check "the server saw the tenant client certificate (CN=市xx局)" \
	grep -q 'depth=0 O=govcloud, OU=tenant, CN=市xx局' "$T/server.log"

client "$T/c2.log"
rc=$?
check "without a client certificate the connection fails (certificate required)" refused_for_no_cert "$rc" "$T/c2.log"
check "... and the server says the peer returned no certificate" grep -q 'peer did not return a certificate' "$T/server.log"

# A client certificate from another CA is refused.
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/rogue.key" \
	-out "$T/rogue.crt" -subj '/O=govcloud/OU=tenant/CN=rogue' -days 1 -utf8 \
	-addext extendedKeyUsage=clientAuth >/dev/null 2>&1
client "$T/c3.log" -cert "$T/rogue.crt" -key "$T/rogue.key"
rc=$?
check "a client certificate from another CA is refused" refused "$rc" "$T/c3.log"

# The server certificate (serverAuth only) is no client certificate.
client "$T/c4.log" -cert "$SRV_CRT" -key "$SRV_KEY"
rc=$?
check "the server certificate is refused as a client certificate" refused "$rc" "$T/c4.log"

HOSTC_CRT="$PKI/tls/host-host-c.crt"
client "$T/c5.log" -cert "$HOSTC_CRT" -key "$PKI/tls/host-host-c.key"
rc=$?
check "the host added later (host-c) connects too" served "$rc" "$T/c5.log"

kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=

# --------------------------------------------------------------- --force --

check "--force regenerates" run_pki --force
check "--force made a new CA" test "$(fingerprint "$CA_CRT")" != "$CA_FP1"
check "--force kept every identity (host-c reissued)" \
	openssl verify -CAfile "$CA_CRT" -purpose sslclient "$PKI/tls/host-host-c.crt"
check "--force reissued the tenant under the new CA" openssl verify -CAfile "$CA_CRT" -purpose sslclient "$TEN_CRT"

printf '1..%d\n' "$N"
if [[ $FAILS -ne 0 ]]; then
	printf '# %d of %d checks failed\n' "$FAILS" "$N"
	exit 1
fi
printf '# all %d checks passed\n' "$N"
