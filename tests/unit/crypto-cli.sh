#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# gcctl doc against the openssl command: signatures made by one verify with
# the other, for SM2 (SM3, distid 1234567812345678) and Ed25519; digests
# agree; tampering is caught by both; the distinguishing id is really used.
#
# Environment (from meson): GCCTL, GC_SRCDIR, GC_BUILDDIR.
set -euo pipefail

: "${GCCTL:?GCCTL must name the gcctl binary}"
[ -x "$GCCTL" ] || { echo "GCCTL=$GCCTL is not executable" >&2; exit 1; }
if ! command -v openssl >/dev/null; then
        echo "SKIP: the openssl command is not installed" >&2
        exit 77
fi

DISTID=1234567812345678
work=$(mktemp -d "${TMPDIR:-/tmp}/crypto-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

passed=0
failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

# check NAME CMD...: CMD must succeed.
check() {
        local name=$1; shift
        if "$@" >check.out 2>&1; then
                pass "$name"
        else
                fail "$name"
                sed 's/^/     | /' check.out
        fi
}

# check_exit NAME RC CMD...: CMD must exit with exactly RC; its output stays in exit.out.
check_exit() {
        local name=$1 want=$2 rc=0; shift 2
        "$@" >exit.out 2>&1 || rc=$?
        if [ "$rc" -eq "$want" ]; then
                pass "$name"
        else
                fail "$name (exit $rc, want $want)"
                sed 's/^/     | /' exit.out
        fi
}

# check_eq NAME GOT WANT
check_eq() {
        if [ "$2" = "$3" ]; then
                pass "$1"
        else
                fail "$1"
                echo "     | got:  $2"
                echo "     | want: $3"
        fi
}

ossl_verify_sm2() {     # PUB DATA SIG
        openssl pkeyutl -verify -pubin -inkey "$1" -rawin -in "$2" -digest sm3 \
                -pkeyopt "distid:$DISTID" -sigfile "$3"
}
ossl_verify_sm2_no_distid() {
        openssl pkeyutl -verify -pubin -inkey "$1" -rawin -in "$2" -digest sm3 -sigfile "$3"
}
ossl_sign_sm2() {       # KEY DATA OUT
        openssl pkeyutl -sign -inkey "$1" -rawin -in "$2" -digest sm3 \
                -pkeyopt "distid:$DISTID" -out "$3"
}
ossl_verify_ed() {      # PUB DATA SIG
        openssl pkeyutl -verify -pubin -inkey "$1" -rawin -in "$2" -sigfile "$3"
}
ossl_sign_ed() {        # KEY DATA OUT
        openssl pkeyutl -sign -inkey "$1" -rawin -in "$2" -out "$3"
}
fails() { ! "$@"; }
# gcctl doc verify must print "invalid signature" on stderr and exit 1.
gcctl_rejects() {
        local rc=0
        "$GCCTL" doc verify "$@" >stdout.txt 2>stderr.txt || rc=$?
        [ "$rc" -eq 1 ] && grep -q "invalid signature" stderr.txt && ! grep -q valid stdout.txt
}
gcctl_accepts() {
        [ "$("$GCCTL" doc verify "$@")" = valid ]
}
sha256_of() { sha256sum | cut -d' ' -f1; }

# --- documents -------------------------------------------------------------

# Written untidily on purpose: canonicalization must sort and strip.
cat >doc.json <<'EOF'
{
  "vms": [ { "name": "gov-web-01", "vcpus": 4, "memory_gib": 8.0 } ],
  "unit": "包头市政务云",
  "approved": true,
  "cost": 1.5e3
}
EOF
# The same document, reformatted: keys in another order, other spacing.
printf '{"approved":true,"cost":1500,"unit":"\\u5305\\u5934\\u5e02\\u653f\\u52a1\\u4e91","vms":[{"vcpus":4,"name":"gov-web-01","memory_gib":8}]}' >same.json
# A changed document: one more vCPU.
sed 's/"vcpus": 4/"vcpus": 5/' doc.json >tampered.json

canon_want='{"approved":true,"cost":1500,"unit":"包头市政务云","vms":[{"memory_gib":8,"name":"gov-web-01","vcpus":4}]}'
"$GCCTL" doc canon doc.json >canon.bin
check_eq "doc canon gives the RFC 8785 bytes" "$(cat canon.bin)" "$canon_want"
check_eq "doc canon adds no trailing newline" "$(tail -c1 canon.bin | od -An -c | tr -d ' ')" "}"
check "doc canon of a reformatted document gives the same bytes" cmp -s canon.bin <("$GCCTL" doc canon same.json)
check "doc canon reads standard input with -" cmp -s canon.bin <("$GCCTL" doc canon - <doc.json)
"$GCCTL" doc canon tampered.json >tampered.bin
check "the tampered document's canonical bytes differ" fails cmp -s canon.bin tampered.bin

# --- digests ---------------------------------------------------------------

check_eq "doc digest --alg sm3 --raw equals openssl dgst -sm3" \
        "$("$GCCTL" doc digest --alg sm3 --raw doc.json)" \
        "$(openssl dgst -sm3 -r doc.json | cut -d' ' -f1)"
check_eq "doc digest (sm3 by default) is SM3 of the canonical bytes" \
        "$("$GCCTL" doc digest doc.json)" \
        "$(openssl dgst -sm3 -r canon.bin | cut -d' ' -f1)"
check_eq "doc digest --alg sha256 is SHA-256 of the canonical bytes" \
        "$("$GCCTL" doc digest --alg sha256 doc.json)" "$(sha256_of <canon.bin)"
check_eq "doc digest --alg sha256 --raw equals sha256sum" \
        "$("$GCCTL" doc digest --alg sha256 --raw doc.json)" "$(sha256_of <doc.json)"
check_eq "SM3 of \"abc\" is the GB/T 32905 value" \
        "$(printf abc | "$GCCTL" doc digest --raw -)" \
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
check_exit "doc digest --alg md5 is a usage error" 2 "$GCCTL" doc digest --alg md5 doc.json

# --- SM2 -------------------------------------------------------------------

openssl genpkey -algorithm SM2 -out sm2.pem 2>/dev/null
openssl pkey -in sm2.pem -pubout -out sm2.pub.pem
openssl genpkey -algorithm SM2 -out other.pem 2>/dev/null
openssl pkey -in other.pem -pubout -out other.pub.pem

"$GCCTL" doc sign --key sm2.pem --out gc-sm2.sig doc.json
check "SM2: gcctl signature verifies with openssl pkeyutl (sm3, distid)" \
        ossl_verify_sm2 sm2.pub.pem canon.bin gc-sm2.sig
check "SM2: openssl WITHOUT the distid rejects the gcctl signature (the id is set)" \
        fails ossl_verify_sm2_no_distid sm2.pub.pem canon.bin gc-sm2.sig
check "SM2: gcctl verifies its own signature" \
        gcctl_accepts --pubkey sm2.pub.pem --sig gc-sm2.sig doc.json
check "SM2: gcctl signature verifies for the reformatted document" \
        gcctl_accepts --pubkey sm2.pub.pem --sig gc-sm2.sig same.json

"$GCCTL" doc sign --key sm2.pem doc.json >gc-sm2.b64
base64 -d gc-sm2.b64 >gc-sm2-b64.sig
check "SM2: base64 on stdout decodes to a signature openssl accepts" \
        ossl_verify_sm2 sm2.pub.pem canon.bin gc-sm2-b64.sig
check "SM2: gcctl verifies a base64 signature file" \
        gcctl_accepts --pubkey sm2.pub.pem --sig gc-sm2.b64 doc.json

ossl_sign_sm2 sm2.pem canon.bin ossl-sm2.sig
check "SM2: openssl signature (sm3, distid) verifies with gcctl" \
        gcctl_accepts --pubkey sm2.pub.pem --sig ossl-sm2.sig doc.json
openssl base64 -in ossl-sm2.sig -out ossl-sm2.b64
check "SM2: openssl signature wrapped by openssl base64 verifies with gcctl" \
        gcctl_accepts --pubkey sm2.pub.pem --sig ossl-sm2.b64 doc.json
openssl pkeyutl -sign -inkey sm2.pem -rawin -in canon.bin -digest sm3 -out ossl-sm2-noid.sig
check "SM2: openssl signature WITHOUT the distid is rejected by gcctl" \
        gcctl_rejects --pubkey sm2.pub.pem --sig ossl-sm2-noid.sig doc.json

check "SM2: tampered document fails gcctl verify (exit 1, \"invalid signature\")" \
        gcctl_rejects --pubkey sm2.pub.pem --sig gc-sm2.sig tampered.json
check "SM2: tampered document fails openssl verify" \
        fails ossl_verify_sm2 sm2.pub.pem tampered.bin gc-sm2.sig
check "SM2: another key's public half fails gcctl verify" \
        gcctl_rejects --pubkey other.pub.pem --sig gc-sm2.sig doc.json
head -c 20 gc-sm2.sig >truncated.sig
check "SM2: a truncated signature fails gcctl verify" \
        gcctl_rejects --pubkey sm2.pub.pem --sig truncated.sig doc.json

"$GCCTL" doc sign --raw --key sm2.pem --out gc-sm2-raw.sig doc.json
check "SM2: --raw signs the file bytes (openssl verifies over the file)" \
        ossl_verify_sm2 sm2.pub.pem doc.json gc-sm2-raw.sig
check "SM2: --raw verify accepts it" \
        gcctl_accepts --raw --pubkey sm2.pub.pem --sig gc-sm2-raw.sig doc.json
check "SM2: --raw signature does not cover the canonical bytes" \
        gcctl_rejects --pubkey sm2.pub.pem --sig gc-sm2-raw.sig doc.json
check "SM2: --raw verify of a reformatted file fails" \
        gcctl_rejects --raw --pubkey sm2.pub.pem --sig gc-sm2-raw.sig same.json

# --- Ed25519 ---------------------------------------------------------------

openssl genpkey -algorithm ed25519 -out ed.pem
openssl pkey -in ed.pem -pubout -out ed.pub.pem

"$GCCTL" doc sign --key ed.pem --out gc-ed.sig doc.json
check_eq "Ed25519: gcctl signature is 64 bytes" "$(stat -c %s gc-ed.sig)" 64
check "Ed25519: gcctl signature verifies with openssl pkeyutl -rawin" \
        ossl_verify_ed ed.pub.pem canon.bin gc-ed.sig
ossl_sign_ed ed.pem canon.bin ossl-ed.sig
check "Ed25519: openssl signature verifies with gcctl" \
        gcctl_accepts --pubkey ed.pub.pem --sig ossl-ed.sig doc.json
check "Ed25519: deterministic, gcctl and openssl signatures are identical" \
        cmp -s gc-ed.sig ossl-ed.sig
check "Ed25519: tampered document fails gcctl verify (exit 1)" \
        gcctl_rejects --pubkey ed.pub.pem --sig gc-ed.sig tampered.json
check "Ed25519: tampered document fails openssl verify" \
        fails ossl_verify_ed ed.pub.pem tampered.bin gc-ed.sig
check "Ed25519: an SM2 signature under an Ed25519 key fails" \
        gcctl_rejects --pubkey ed.pub.pem --sig gc-sm2.sig doc.json
check "Ed25519: an Ed25519 signature under an SM2 key fails" \
        gcctl_rejects --pubkey sm2.pub.pem --sig gc-ed.sig doc.json

# --- fingerprints ----------------------------------------------------------

for k in sm2 ed; do
        want="sha256:$(openssl pkey -pubin -in $k.pub.pem -outform DER | sha256_of)"
        check_eq "fingerprint of $k public key equals SHA-256 of its DER SPKI" \
                "$("$GCCTL" doc fingerprint $k.pub.pem)" "$want"
        check_eq "fingerprint of $k private key equals its public half's" \
                "$("$GCCTL" doc fingerprint $k.pem)" "$want"
done

# --- errors and help -------------------------------------------------------

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.pem 2>/dev/null
check_exit "sign with a P-256 key is refused (exit 1)" 1 "$GCCTL" doc sign --key p256.pem doc.json
check "  ... and the message names the file and the reason" \
        grep -q "p256.pem: not an SM2 or Ed25519 key" exit.out
check_exit "sign with a public key is refused (exit 1)" 1 "$GCCTL" doc sign --key sm2.pub.pem doc.json
check_exit "sign of a missing file fails (exit 1)" 1 "$GCCTL" doc sign --key sm2.pem missing.json
check "  ... and the message names the file" grep -q "missing.json: No such file" exit.out
printf '{"a":1,"a":2}' >dup.json
check_exit "canon of a document with a duplicate key fails (exit 1)" 1 "$GCCTL" doc canon dup.json
check_exit "sign without --key is a usage error (exit 2)" 2 "$GCCTL" doc sign doc.json
check_exit "verify without --sig is a usage error (exit 2)" 2 "$GCCTL" doc verify --pubkey sm2.pub.pem doc.json
: >empty.sig
check_exit "verify with an empty signature file fails (exit 1)" 1 \
        "$GCCTL" doc verify --pubkey sm2.pub.pem --sig empty.sig doc.json

for verb in canon digest sign verify fingerprint; do
        check "doc $verb --help prints its usage" \
                bash -c '"$1" doc "$2" --help | grep "^Usage: gcctl doc $2 " >/dev/null' _ "$GCCTL" "$verb"
done

json=$("$GCCTL" --json doc verify --pubkey sm2.pub.pem --sig gc-sm2.sig doc.json 2>/dev/null || true)
check "verify --json reports valid, alg and distid" \
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["valid"] is True and d["alg"]=="sm2-sm3" and d["distid"]=="1234567812345678", d' "$json"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
