#!/usr/bin/env bash
# The govcloud demo: install what is missing, build, and show what it does
# today. It grows with each part of the system.
#   scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

if [ ! -f build/build.ninja ]; then
        meson setup build >/dev/null
fi
meson compile -C build >/dev/null
gcctl=build/cli/gcctl
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "The four jurisdictions' policy packs, checked against the schema"
"$gcctl" policy check policies/baotou.json policies/luan.json policies/zhumadian.json policies/sichuan.json

for pack in baotou luan zhumadian sichuan; do
        step "What policies/$pack.json decides"
        "$gcctl" policy explain "policies/$pack.json"
done

step "A PKI for the parties (scripts/pki.sh, the openssl command; in .pki/)"
scripts/pki.sh --out .pki | tail -n 4

step "The authority signs the Baotou pack's canonical bytes (RFC 8785) with its SM2 key"
key=$(ls .pki/sign/authority-*.key | head -n 1)
pub=${key%.key}.pub
"$gcctl" doc sign --key "$key" --out .pki/baotou.sig policies/baotou.json
echo "signature: .pki/baotou.sig ($(stat -c %s .pki/baotou.sig) bytes, SM2 with SM3, id 1234567812345678)"
echo -n "gcctl doc verify: "
"$gcctl" doc verify --pubkey "$pub" --sig .pki/baotou.sig policies/baotou.json
echo -n "openssl, independently: "
"$gcctl" doc canon policies/baotou.json >.pki/baotou.canon
openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in .pki/baotou.canon -digest sm3 \
        -pkeyopt distid:1234567812345678 -sigfile .pki/baotou.sig
