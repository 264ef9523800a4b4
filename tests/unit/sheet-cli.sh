#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# gcctl's sheet and audit verbs, with documents made here independently of
# gcctl: canonical JSON in python3, hashes and signatures with the openssl
# command (SM2 with SM3 and the distinguishing id 1234567812345678, Ed25519).
#
#  - sheet verify: a complete bundle verifies, also with --trust of the right
#    keys; a wrong trusted key, a changed document byte, a changed signature
#    byte, a swapped public key, a missing party, a second signature of a
#    party and a non-canonical document are refused, naming the problem;
#  - sheet export --from-file --dir: the files and VERIFY.txt verify with
#    openssl alone, and stop verifying after a byte of sheet.json changes;
#  - sheet html of a bundle file;
#  - audit verify FILE: an intact segment (SM3 and SHA-256) verifies with its
#    checkpoints and countersignature; an edited record is named; a bad
#    checkpoint signature fails;
#  - the remote verbs against a stand-in HTTPS server (python3, TLS 1.3, a CA
#    made here): sheet list, show, sign (and its refusal to sign bytes that
#    are not canonical or do not hash to the sheet's hash), export; audit
#    checkpoints, checkpoint, countersign, export, verify of the live chain;
#    key revoke, key list's REVOKED column; system extend-trial.
#
# Environment (from meson): GCCTL, GC_SRCDIR.
set -euo pipefail

: "${GCCTL:?GCCTL must name the gcctl binary}"
[ -x "$GCCTL" ] || { echo "GCCTL=$GCCTL is not executable" >&2; exit 1; }
for tool in openssl python3 timeout; do
        if ! command -v "$tool" >/dev/null; then
                echo "SKIP: the $tool command is not installed" >&2
                exit 77
        fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/sheet-cli.XXXXXX")
server_pid=
cleanup() {
        if [ -n "$server_pid" ]; then
                kill "$server_pid" 2>/dev/null || true
                wait "$server_pid" 2>/dev/null || true
        fi
        rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
unset GC_SERVER GC_CERT GC_KEY GC_CACERT GC_PROFILE
export HOME="$work/home" XDG_CONFIG_HOME="$work/xdg"
mkdir -p "$HOME" "$XDG_CONFIG_HOME"

passed=0
failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

check() {  # NAME CMD...: CMD must succeed
        local name=$1; shift
        if "$@" >check.out 2>&1; then
                pass "$name"
        else
                fail "$name"
                sed 's/^/     | /' check.out | head -20
        fi
}
fails() { ! "$@"; }

# expect NAME RC PATTERN ARGS...: gcctl ARGS exits RC and PATTERN (grep -E;
# "" for none) is in its stdout or stderr (out.txt, err.txt).
expect() {
        local name=$1 want=$2 pat=$3 rc=0; shift 3
        timeout 60 "$GCCTL" "$@" >out.txt 2>err.txt || rc=$?
        if [ "$rc" -eq "$want" ] && { [ -z "$pat" ] || grep -qE -- "$pat" out.txt err.txt; }; then
                pass "$name"
        else
                fail "$name (exit $rc, want $want; pattern: $pat)"
                sed 's/^/     | out: /' out.txt | head -20
                sed 's/^/     | err: /' err.txt | head -20
        fi
}

DISTID=1234567812345678

# --- documents, bundles and segments, made without gcctl ---------------------

cat >tool.py <<'EOF'
# Sheet bundles and audit segments for the tests. Canonical JSON (RFC 8785)
# of documents with ASCII keys and integer numbers is python's json.dumps with
# sorted keys and no white space; hashes and signatures come from the openssl
# command.
import base64, hashlib, json, os, subprocess, sys, tempfile

DISTID = "1234567812345678"

def canon(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

def run(*args, data=None):
    return subprocess.run(args, input=data, check=True, capture_output=True).stdout

def digest(alg, data):
    if alg == "sha256":
        return hashlib.sha256(data).hexdigest()
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        return run("openssl", "dgst", "-sm3", "-r", f.name).split()[0].decode()

def public_pem(key):
    return run("openssl", "pkey", "-in", key, "-pubout").decode()

def fingerprint(key):
    der = run("openssl", "pkey", "-in", key, "-pubout", "-outform", "DER")
    return "sha256:" + hashlib.sha256(der).hexdigest()

def key_type(key):
    text = run("openssl", "pkey", "-in", key, "-noout", "-text")
    return "ed25519" if text.startswith(b"ED25519") else "sm2"

def sign(key, data):
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        if key_type(key) == "sm2":
            sig = run("openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", f.name,
                      "-digest", "sm3", "-pkeyopt", "distid:" + DISTID)
        else:
            sig = run("openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", f.name)
    return base64.b64encode(sig).decode()

def document(hash_alg, sig_alg):
    return {"format": "gc-sheet/1", "id": 7, "kind": "golive", "revision": 1,
            "title": "政务云资源开通三方确认单", "produced": "2026-12-01T00:00:00Z",
            "system": {"id": 3, "name": "协同办公OA", "unit": "市xx局", "pool": "egov-x86",
                       "mlps_level": 2, "availability": "99.9%"},
            "request": {"id": 12, "kind": "apply", "approval": "OA-2025-0002"},
            "crypto": {"hash": hash_alg, "signature": sig_alg},
            "network": {"vni": 10003, "cidr": "10.3.0.0/24", "gateway": "10.3.0.1"},
            "opening_time": "2026-11-01T00:00:00Z",
            "trial": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-30T00:00:00Z", "length": 30,
                      "unit": "days", "extended": 0},
            "billing": {"starts": "on_confirmation", "rule": "R-LC3"},
            "vms": [{"name": "市xx局-协同办公OA-应用服务器-01", "role": "应用服务器", "host": "cn-node-02",
                     "addresses": ["10.3.0.2"], "special_ports": [443], "arch": "x86", "vcpus": 4,
                     "memory_gib": 8, "system_disk_gib": 50, "data_disk_gib": 200, "recommended": None,
                     "golive": {"vcpus": 4, "memory_gib": 8, "system_disk_gib": 50, "data_disk_gib": 200}}],
            "totals": {"vms": 1, "vcpus": 4, "memory_gib": 8, "system_disk_gib": 50, "data_disk_gib": 200},
            "parties": {"tenant": "市xx局", "provider": "政务云服务商", "authority": "市数据资源管理局"}}

def signature(party, key, data):
    return {"party": party, "holder": {"tenant": "张三", "provider": "李四", "authority": "王五"}[party],
            "fingerprint": fingerprint(key), "key_type": key_type(key), "public_key": public_pem(key),
            "signature": sign(key, data), "time": "2026-12-01T08:00:00Z"}

def bundle(doc_bytes, hash_alg, signers):
    return {"format": "gc-sheet-export/1",
            "sheet": {"id": 7, "kind": "golive", "system": 3, "state": "complete",
                      "completed": "2026-12-01T09:00:00Z"},
            "document": doc_bytes.decode(), "hash": hash_alg + ":" + digest(hash_alg, doc_bytes),
            "signatures": [signature(p, k, doc_bytes) for p, k in signers]}

def load(path):
    return json.load(open(path, encoding="utf-8"))

def save(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)

def party_sig(b, party):
    return [s for s in b["signatures"] if s["party"] == party][0]

# --- audit segments --------------------------------------------------------

ACTIONS = ["request.submit", "system.register", "vm.create", "sheet.sign", "key.add", "vm.start", "audit.export"]

def record_hash(alg, rec):
    body = {k: v for k, v in rec.items() if k != "hash"}
    return alg + ":" + digest(alg, canon(body).encode())

def checkpoint_bytes(seq, head, t):
    return canon({"format": "gc-audit-checkpoint/1", "seq": seq, "head": head, "time": t}).encode()

def segment(alg, n, service, countersigner):
    records, prev = [], alg + ":" + "0" * 64
    for seq in range(1, n + 1):
        rec = {"seq": seq, "time": 1764547200 + 60 * seq, "actor": "市政务服务管理局", "role": "authority",
               "action": ACTIONS[seq % len(ACTIONS)], "object": "system/3", "approval": "OA-2025-%04d" % seq,
               "outcome": "done", "rule": "", "detail": {"n": seq, "note": "第%d条" % seq}, "prev": prev}
        rec["hash"] = record_hash(alg, rec)
        prev = rec["hash"]
        records.append(rec)
    checkpoints = []
    for cid, seq, counter in ((1, n - 2, True), (2, n, False)):
        head, t = records[seq - 1]["hash"], 1764547200 + 60 * seq + 5
        data = checkpoint_bytes(seq, head, t)
        cp = {"id": cid, "seq": seq, "head": head, "time": t,
              "signer": {"fingerprint": fingerprint(service), "key_type": key_type(service),
                         "public_key": public_pem(service)},
              "signature": sign(service, data), "countersignatures": []}
        if counter:
            cp["countersignatures"].append({"holder": "王五", "fingerprint": fingerprint(countersigner),
                                            "key_type": key_type(countersigner),
                                            "public_key": public_pem(countersigner),
                                            "signature": sign(countersigner, data),
                                            "time": "2026-12-01T10:00:00Z"})
        checkpoints.append(cp)
    return {"format": "gc-audit-segment/1", "hash": alg, "from": 1, "to": n, "anchor": alg + ":" + "0" * 64,
            "exported": "2026-12-01T12:00:00Z", "records": records, "checkpoints": checkpoints}

def main(cmd, args):
    if cmd == "doc":                    # doc HASH SIG OUT: the canonical bytes of a sheet document
        open(args[2], "wb").write(canon(document(args[0], args[1])).encode())
    elif cmd == "bundle":               # bundle DOCBYTES HASH OUT PARTY=KEY...
        doc = open(args[0], "rb").read()
        save(args[2], bundle(doc, args[1], [a.split("=", 1) for a in args[3:]]))
    elif cmd == "doc-byte":             # doc-byte IN OUT: 4 vCPUs become 5, the hash and signatures kept
        b = load(args[0])
        assert '"vcpus":4' in b["document"]
        b["document"] = b["document"].replace('"vcpus":4', '"vcpus":5', 1)
        save(args[1], b)
    elif cmd == "sig-byte":             # sig-byte IN OUT PARTY: one byte of PARTY's signature changed
        b = load(args[0])
        s = party_sig(b, args[2])
        raw = bytearray(base64.b64decode(s["signature"]))
        raw[len(raw) // 2] ^= 0x01
        s["signature"] = base64.b64encode(bytes(raw)).decode()
        save(args[1], b)
    elif cmd == "swap-key":             # swap-key IN OUT PARTY KEY [fingerprint]: PARTY's public key replaced
        b = load(args[0])
        s = party_sig(b, args[2])
        s["public_key"] = public_pem(args[3])
        if len(args) > 4:
            s["fingerprint"] = fingerprint(args[3])
        save(args[1], b)
    elif cmd == "drop":                 # drop IN OUT PARTY
        b = load(args[0])
        b["signatures"] = [s for s in b["signatures"] if s["party"] != args[2]]
        save(args[1], b)
    elif cmd == "twice":                # twice IN OUT PARTY KEY: a second signature of PARTY
        b = load(args[0])
        b["signatures"].append(signature(args[2], args[3], b["document"].encode()))
        save(args[1], b)
    elif cmd == "segment":              # segment ALG N SERVICEKEY AUTHORITYKEY OUT
        save(args[4], segment(args[0], int(args[1]), args[2], args[3]))
    elif cmd == "edit-record":          # edit-record IN OUT SEQ: the record's actor changed, hashes kept
        s = load(args[0])
        s["records"][int(args[2]) - 1]["actor"] = "someone else"
        save(args[1], s)
    elif cmd == "cp-sig":               # cp-sig IN OUT: checkpoint 1's service signature by another key
        s = load(args[0])
        cp = s["checkpoints"][0]
        cp["signature"] = sign(args[2], checkpoint_bytes(cp["seq"], cp["head"], cp["time"]))
        save(args[1], s)
    else:
        sys.exit("unknown command " + cmd)

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
EOF

for k in tenant provider authority other service; do
        openssl genpkey -algorithm SM2 -out "$k.pem" 2>/dev/null
        openssl pkey -in "$k.pem" -pubout -out "$k.pub.pem"
done
for k in tenant provider authority; do
        openssl genpkey -algorithm ed25519 -out "ed-$k.pem"
        openssl pkey -in "ed-$k.pem" -pubout -out "ed-$k.pub.pem"
done

python3 tool.py doc sm3 sm2 doc.json
check "python's canonical bytes of the sheet are gcctl doc canon's" cmp -s doc.json <("$GCCTL" doc canon doc.json)
python3 tool.py bundle doc.json sm3 bundle.json tenant=tenant.pem provider=provider.pem authority=authority.pem

# --- sheet verify ----------------------------------------------------------------

expect "sheet verify: a complete SM2/SM3 bundle verifies" 0 "verdict: complete" sheet verify bundle.json
check "sheet verify: one line per signature, valid" \
        test "$(grep -cE '^(tenant|provider|authority) .*sha256:[0-9a-f]{64} +valid' out.txt)" -eq 3
check "sheet verify: the document is canonical and its hash matches" \
        grep -q "canonical, hash matches" out.txt
expect "sheet verify --trust with the three parties' keys: complete" 0 "complete.*trusted key" \
        sheet verify bundle.json --trust tenant.pub.pem --trust provider.pub.pem --trust authority.pub.pem
check "sheet verify --trust: each line says trusted" test "$(grep -cE ' valid +yes ' out.txt)" -eq 3
expect "sheet verify --trust with a wrong key for the authority: refused, naming it" 1 \
        "authority \(王五\): key sha256:[0-9a-f]+ is not one of the trusted keys" \
        sheet verify bundle.json --trust tenant.pub.pem --trust provider.pub.pem --trust other.pub.pem
check "sheet verify --trust: the untrusted line says no" grep -qE '^authority .* valid +no ' out.txt
expect "sheet verify --json: the report" 0 '"complete":[[:space:]]+true' --json sheet verify bundle.json
check "sheet verify --json: three valid signatures, nothing missing" python3 -c '
import json, sys
r = json.load(open("out.txt"))
assert r["complete"] and r["canonical"] and r["hash_matches"] and r["missing"] == [], r
assert [s["party"] for s in r["signatures"]] == ["tenant", "provider", "authority"], r
assert all(s["valid"] for s in r["signatures"]), r'

python3 tool.py doc-byte bundle.json t-doc.json
expect "a document byte changed: refused, the hash named" 1 "hash: .* is not the document's sm3 hash" \
        sheet verify t-doc.json
check "a document byte changed: every signature invalid" test "$(grep -c ' invalid ' out.txt)" -eq 3
python3 tool.py sig-byte bundle.json t-sig.json provider
expect "a signature byte changed: refused, naming the party" 1 \
        "provider \(李四\): the signature does not verify over the document's bytes" sheet verify t-sig.json
python3 tool.py swap-key bundle.json t-key.json tenant other.pem
expect "a party's public key swapped: its fingerprint no longer matches" 1 \
        "tenant \(张三\): fingerprint sha256:[0-9a-f]+ is not that of its public_key" sheet verify t-key.json
python3 tool.py swap-key bundle.json t-key2.json tenant other.pem fingerprint
expect "public key and fingerprint swapped: the signature does not verify" 1 \
        "tenant \(张三\): the signature does not verify" sheet verify t-key2.json
python3 tool.py drop bundle.json t-drop.json authority
expect "a party missing: not complete, naming it" 1 "authority \(管理单位（丙方）\) has not signed" \
        sheet verify t-drop.json
python3 tool.py twice bundle.json t-twice.json tenant other.pem
expect "a party signing twice: refused" 1 "tenant signed twice" sheet verify t-twice.json
python3 - <<'EOF'
import json
b = json.load(open("bundle.json"))
doc = json.loads(b["document"])
open("pretty.json", "w").write(json.dumps(doc, ensure_ascii=False, indent=1))
EOF
python3 tool.py bundle pretty.json sm3 t-pretty.json tenant=tenant.pem provider=provider.pem authority=authority.pem
expect "a document signed but not canonical: refused" 1 "not in canonical form" sheet verify t-pretty.json
python3 tool.py bundle doc.json sm3 t-ed.json tenant=ed-tenant.pem provider=provider.pem authority=authority.pem
expect "an Ed25519 signature where the document says sm2: refused (R-SC4)" 1 \
        "tenant \(张三\): an ed25519 signature, but the document's crypto.signature is sm2 \(R-SC4\)" \
        sheet verify t-ed.json
echo '{"format": "gc-audit-segment/1"}' >not-bundle.json
expect "a file that is not a bundle: exit 1" 1 "not a sheet export bundle" sheet verify not-bundle.json
expect "sheet verify without FILE: usage error" 2 "missing FILE" sheet verify
expect "sheet verify --trust with a missing file: exit 1 naming it" 1 "--trust nope.pem" \
        sheet verify bundle.json --trust nope.pem

python3 tool.py doc sha256 ed25519 doc-ed.json
python3 tool.py bundle doc-ed.json sha256 bundle-ed.json \
        tenant=ed-tenant.pem provider=ed-provider.pem authority=ed-authority.pem
expect "sheet verify: a complete Ed25519/SHA-256 bundle verifies" 0 "verdict: complete" sheet verify bundle-ed.json

# --- sheet export --dir: verification with openssl alone ----------------------------

# Run the commands of VERIFY.txt one by one (not the script), each must succeed.
openssl_each() {  # DIR
        local line n=0
        while IFS= read -r line; do
                case $line in openssl\ pkeyutl*) ;; *) continue ;; esac
                (cd "$1" && eval "$line") >/dev/null 2>&1 || return 1
                n=$((n + 1))
        done <"$1/VERIFY.txt"
        [ "$n" -eq 3 ]
}
openssl_none() {  # DIR: every pkeyutl command of VERIFY.txt fails
        local line
        while IFS= read -r line; do
                case $line in openssl\ pkeyutl*) ;; *) continue ;; esac
                if (cd "$1" && eval "$line") >/dev/null 2>&1; then return 1; fi
        done <"$1/VERIFY.txt"
}

expect "sheet export --from-file --dir -o: exit 0" 0 "" \
        sheet export --from-file bundle.json --dir dir -o copy.json
check "export -o writes the bundle's bytes as they were" cmp -s copy.json bundle.json
check "export --dir: sheet.json is the document's exact bytes" cmp -s dir/sheet.json doc.json
check "export --dir: sheet.hash is the hash line" \
        test "$(cat dir/sheet.hash)" = "sm3:$(openssl dgst -sm3 -r doc.json | cut -d' ' -f1)"
check "export --dir: a key, a raw signature and the algorithm per party" \
        test -s dir/tenant.pem -a -s dir/provider.sig -a "$(cat dir/authority.alg)" = sm2
check "export --dir: the SM2 signature is raw DER" \
        test "$(head -c1 dir/tenant.sig | od -An -tx1 | tr -d ' ')" = 30
check "VERIFY.txt has the SM2 command of the brief" grep -qxF \
        "openssl pkeyutl -verify -pubin -inkey tenant.pem -rawin -in sheet.json -digest sm3 -pkeyopt distid:$DISTID -sigfile tenant.sig" \
        dir/VERIFY.txt
check "VERIFY.txt: sh VERIFY.txt succeeds with openssl alone" sh -c 'cd dir && sh VERIFY.txt'
check "VERIFY.txt: each openssl pkeyutl command succeeds on its own" openssl_each dir
check "VERIFY.txt: openssl dgst of sheet.json gives the hash in sheet.hash" sh -c \
        'cd dir && test "$(openssl dgst -sm3 sheet.json | sed "s/.*= //")" = "$(cut -d: -f2 sheet.hash)"'
cp -r dir dir-bad
python3 -c 'import sys; p = "dir-bad/sheet.json"; b = bytearray(open(p, "rb").read()); b[40] ^= 1; open(p, "wb").write(bytes(b))'
check "a byte of sheet.json changed: sh VERIFY.txt fails" fails sh -c 'cd dir-bad && sh VERIFY.txt'
check "a byte of sheet.json changed: every openssl pkeyutl command fails" openssl_none dir-bad
check "a byte of sheet.json changed: the hash comparison fails" fails sh -c \
        'cd dir-bad && test "sm3:$(openssl dgst -sm3 -r sheet.json | cut -d" " -f1)" = "$(cat sheet.hash)"'

expect "sheet export -o /dev/null: written through" 0 "" sheet export --from-file bundle.json -o /dev/null
check "... /dev/null is still the device" test -c /dev/null
ln -s copy-target.json link.json
expect "sheet export -o a symbolic link: written through" 0 "" sheet export --from-file bundle.json -o link.json
check "... the link stays, its target has the bundle" sh -c 'test -L link.json && cmp -s copy-target.json bundle.json'
expect "sheet export --from-file, Ed25519: exit 0, bundle on stdout" 0 '"gc-sheet-export/1"' \
        sheet export --from-file bundle-ed.json --dir dir-ed
check "Ed25519: stdout is the bundle's bytes" cmp -s out.txt bundle-ed.json
check "VERIFY.txt has the Ed25519 command of the brief" grep -qxF \
        "openssl pkeyutl -verify -pubin -inkey tenant.pem -rawin -in sheet.json -sigfile tenant.sig" dir-ed/VERIFY.txt
check "Ed25519: the signature is 64 raw bytes" test "$(stat -c %s dir-ed/provider.sig)" -eq 64
check "Ed25519: VERIFY.txt uses openssl dgst -sha256" grep -q "openssl dgst -sha256 sheet.json" dir-ed/VERIFY.txt
check "Ed25519: sh VERIFY.txt succeeds" sh -c 'cd dir-ed && sh VERIFY.txt'
check "Ed25519: each openssl pkeyutl command succeeds" openssl_each dir-ed
python3 -c 'import sys; p = "dir-ed/sheet.json"; b = bytearray(open(p, "rb").read()); b[-3] ^= 1; open(p, "wb").write(bytes(b))'
check "Ed25519: after a changed byte every command fails" openssl_none dir-ed
expect "sheet export with neither ID nor --from-file: usage error" 2 "missing ID" sheet export
expect "sheet export --from-file and an ID: usage error" 2 "unexpected operand '7'" \
        sheet export 7 --from-file bundle.json
expect "sheet export --from-file of something else: exit 1" 1 "not a sheet export bundle" \
        sheet export --from-file not-bundle.json --dir x

# --- sheet html -------------------------------------------------------------------

expect "sheet html FILE -o: exit 0" 0 "" sheet html bundle.json -o page.html
check "sheet html: an HTML page naming the sheet's title" \
        sh -c 'grep -qi "<!DOCTYPE html>" page.html && grep -q "政务云资源开通三方确认单" page.html'
expect "sheet html of a bundle that does not verify: a warning, the page written" 0 \
        "warning: the sheet does not verify" sheet html t-sig.json -o page2.html
check "sheet html: the page of the bad bundle is there" test -s page2.html
expect "sheet html of neither a file nor an ID: usage error" 2 "neither an existing file nor a sheet ID" \
        sheet html nonexistent.json

# --- audit verify FILE --------------------------------------------------------------

for alg in sha256 sm3; do
        python3 tool.py segment "$alg" 7 service.pem authority.pem "seg-$alg.json"
        expect "audit verify: an intact $alg segment verifies" 0 "records: 7 verified, hash $alg, records 1–7" \
                audit verify "seg-$alg.json"
        check "audit verify ($alg): checkpoint 1 valid, head matches, countersigned by the authority" \
                grep -qE "^checkpoint 1: record 5, signature valid, head matches, countersigned by 王五 \(sha256:[0-9a-f]{64}\)$" out.txt
        check "audit verify ($alg): checkpoint 2 not countersigned" \
                grep -qE "^checkpoint 2: record 7, signature valid, head matches, not countersigned$" out.txt
        check "audit verify ($alg): the summary line" grep -qx "checkpoints: 1 of 2 countersigned" out.txt
        python3 tool.py edit-record "seg-$alg.json" "seg-$alg-edited.json" 3
        expect "audit verify: record 3 edited in the $alg segment: exit 1 naming it" 1 \
                "^record 3: edited: record 3 was edited" audit verify "seg-$alg-edited.json"
        check "audit verify ($alg): two records verified before the edited one" \
                grep -q "^records: 2 verified" out.txt
done
expect "audit verify --json: the report" 0 '"ok":[[:space:]]+true' --json audit verify seg-sm3.json
check "audit verify --json: records, checkpoints, countersignature" python3 -c '
import json
r = json.load(open("out.txt"))
assert r["records"] == 7 and r["hash"] == "sm3" and r["fault"] is None and r["countersigned"] == 1, r
assert r["checkpoints"][0]["countersignatures"][0]["valid"] and r["checkpoints"][0]["head_matches"], r'
expect "audit verify --json of the edited segment: the fault" 1 '"name":[[:space:]]+"edited"' \
        --json audit verify seg-sm3-edited.json
python3 tool.py cp-sig seg-sm3.json seg-cp.json other.pem
expect "audit verify: a checkpoint signed by another key: exit 1" 1 \
        "checkpoint 1: record 5, signature INVALID" audit verify seg-cp.json
check "audit verify: ... and the records still verified" grep -q "^records: 7 verified" out.txt
expect "audit verify of a sheet bundle: not a segment" 1 "not an audit segment" audit verify bundle.json
expect "audit verify with two files: usage error" 2 "unexpected operand" audit verify a b

# --- the remote verbs against a stand-in server ------------------------------------------

mkdir pki
(
        cd pki
        ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
        ec ca.key
        openssl req -x509 -new -key ca.key -subj "/O=govcloud test/CN=test CA" -days 2 \
                -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
                -out ca.crt 2>/dev/null
        leaf() {  # NAME SUBJECT EXTENSIONS
                ec "$1.key"
                openssl req -new -utf8 -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
                printf '%b' "$3" >"$1.ext"
                openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
                        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
        }
        leaf server "/O=govcloud test/CN=localhost" \
                "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"
        leaf tenant "/O=govcloud test/OU=tenant/CN=市xx局" "extendedKeyUsage=clientAuth"
        leaf authority "/O=govcloud test/OU=authority/CN=市数据资源管理局" "extendedKeyUsage=clientAuth"
)

# Sheet 7 is the bundle above without signatures; 8 has canonical bytes that
# are not canonical; 9 a hash that is not its bytes'. The live audit chain is
# seg-sm3.json, 10 checkpoints in pages of at most 3.
cat >server.py <<'EOF'
import base64, hashlib, http.server, json, os, ssl, subprocess, sys, tempfile, urllib.parse
sys.path.insert(0, ".")
import tool

pki, portfile, logfile = sys.argv[1:4]
bundle = json.load(open("bundle.json", encoding="utf-8"))
canonical = bundle["document"]
pretty = json.dumps(json.loads(canonical), ensure_ascii=False, indent=1)
segment = json.load(open("seg-sm3.json", encoding="utf-8"))
signatures = {7: [], 8: [], 9: []}
# Odd ids are the segment's countersigned checkpoint, even ones its other one;
# 5 is not countersigned and its service signature is by another key.
CHECKPOINTS = []
for cid in range(1, 11):
    cp = json.loads(json.dumps(segment["checkpoints"][0 if cid % 2 and cid != 5 else 1]))
    cp["id"] = cid
    CHECKPOINTS.append(cp)
forged = CHECKPOINTS[4]
forged["signature"] = tool.sign("other.pem", tool.checkpoint_bytes(forged["seq"], forged["head"], forged["time"]))

def sheet(sid):
    doc = json.loads(canonical)
    text = canonical if sid != 8 else pretty
    h = bundle["hash"] if sid != 9 else "sm3:" + "0" * 64
    signed = [s["party"] for s in signatures[sid]]
    missing = [p for p in ("tenant", "provider", "authority") if p not in signed]
    return {"id": sid, "system": 3, "kind": "golive", "state": "complete" if not missing else "open", "hash": h,
            "created": "2026-12-01T00:00:00Z", "completed": None, "request": 12, "canonical": text,
            "document": doc, "signatures": signatures[sid], "signed": signed, "missing": missing}

def error(code, message, field="", value="", rule=""):
    return {"error": {"code": code, "field": field, "value": value, "message": message, "rule": rule}}

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, doc=None, raw=None):
        body = raw if raw is not None else json.dumps(doc, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_call(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else None
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        with open(logfile, "a", encoding="utf-8") as f:
            f.write(json.dumps({"method": self.command, "path": url.path, "query": query, "body": body},
                               ensure_ascii=False) + "\n")
        doc = json.loads(body) if body else None
        route = (self.command, url.path)
        parts = url.path.split("/")

        if route == ("GET", "/v1/sheets"):
            rows = [dict(sheet(7), system_name="协同办公OA", unit="市xx局")]
            for r in rows:
                del r["canonical"], r["document"], r["signatures"]
            return self.answer(200, {"sheets": rows if query.get("system") in (None, "3") else []})
        if self.command == "GET" and len(parts) == 4 and parts[2] == "sheets" and int(parts[3]) in signatures:
            return self.answer(200, {"sheet": sheet(int(parts[3]))})
        if route == ("GET", "/v1/sheets/7/export"):
            return self.answer(200, raw=open("bundle.json", "rb").read())
        if route == ("POST", "/v1/sheets/7/signatures"):
            party = doc["party"]
            if doc["fingerprint"] == tool.fingerprint("ed-tenant.pem"):
                return self.answer(422, error("key_type", "is an ed25519 key; this pack signs with sm2",
                                              "fingerprint", doc["fingerprint"], "R-SC4"))
            if any(s["party"] == party for s in signatures[7]):
                return self.answer(409, error("already_signed", "has signed this sheet already", "party", party,
                                              "R-LC3"))
            key = {"tenant": "tenant.pem", "provider": "provider.pem", "authority": "authority.pem"}[party]
            if doc["fingerprint"] != tool.fingerprint(key):
                return self.answer(422, error("unknown_key", "is not a registered key of this party",
                                              "fingerprint", doc["fingerprint"], "R-LC3"))
            with tempfile.NamedTemporaryFile() as m, tempfile.NamedTemporaryFile() as s:
                m.write(canonical.encode()); m.flush()
                s.write(base64.b64decode(doc["signature"])); s.flush()
                ok = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", key.replace(".pem", ".pub.pem"),
                                     "-rawin", "-in", m.name, "-digest", "sm3", "-pkeyopt", "distid:" + tool.DISTID,
                                     "-sigfile", s.name], capture_output=True).returncode == 0
            if not ok:
                return self.answer(422, error("bad_signature", "does not verify over the canonical bytes",
                                              "signature", doc["signature"][:16], "R-LC3"))
            signatures[7].append({"party": party, "holder": "张三", "fingerprint": doc["fingerprint"],
                                  "key_type": "sm2", "public_key": tool.public_pem(key),
                                  "signature": doc["signature"], "time": "2026-12-01T08:00:00Z"})
            return self.answer(201, {"sheet": sheet(7)})
        if route == ("GET", "/v1/audit/checkpoints"):
            after, limit = int(query.get("after", 0)), min(int(query.get("limit", 100)), 3)
            return self.answer(200, {"checkpoints": [c for c in CHECKPOINTS if c["id"] > after][:limit]})
        if route == ("POST", "/v1/audit/checkpoints"):
            return self.answer(200, {"checkpoint": CHECKPOINTS[-1]})
        if self.command == "POST" and len(parts) == 6 and parts[5] == "countersignatures":
            cp = CHECKPOINTS[int(parts[4]) - 1]
            if any(c["fingerprint"] == doc["fingerprint"] for c in cp["countersignatures"]):
                return self.answer(409, error("already_countersigned", "by this key already"))
            cp["countersignatures"].append({"holder": "王五", "fingerprint": doc["fingerprint"], "key_type": "sm2",
                                            "public_key": tool.public_pem("authority.pem"),
                                            "signature": doc["signature"], "time": "2026-12-01T10:00:00Z"})
            return self.answer(201, {"checkpoint": cp})
        if route == ("GET", "/v1/audit/export"):
            if query.get("from") == "2":    # larger than any other answer may be
                return self.answer(200, raw=b'{"format": "gc-audit-segment/1", "pad": "' + b"x" * (20 << 20) + b'"}')
            return self.answer(200, raw=open("seg-sm3.json", "rb").read())
        if route == ("GET", "/v1/sheets/8/export"):
            return self.answer(200, raw=b'{"pad": "' + b"x" * (9 << 20) + b'"}')
        if route == ("POST", "/v1/keys/4/revoke"):
            return self.answer(200, {"key": {"id": 4, "party": "tenant", "holder": "张三", "revoked": "2026-12-02T00:00:00Z"}})
        if route == ("GET", "/v1/keys"):
            return self.answer(200, {"keys": [{"id": 4, "party": "tenant", "unit": "市xx局", "holder": "张三",
                                               "key_type": "sm2", "fingerprint": "sha256:" + "ab" * 32,
                                               "created": "2026-11-01T00:00:00Z", "revoked": "2026-12-02T00:00:00Z"}]})
        if route == ("GET", "/v1/approval-systems"):
            return self.answer(200, {"approval_systems": []})
        if route == ("POST", "/v1/systems/3/trial-extension"):
            if doc["length"] > 30:
                return self.answer(422, error("trial_extension", "longer than the pack allows (30 days)", "length",
                                              str(doc["length"]), "R-LC2"))
            return self.answer(200, {"system": {"id": 3}, "trial_end": "2026-12-15T00:00:00Z", "extended": doc["length"]})
        return self.answer(404, error("not_found", "no such object"))

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
os.rename(portfile + ".tmp", portfile)
httpd.serve_forever()
EOF

touch calls.log
python3 server.py "$work/pki" port.txt calls.log 2>server.err &
server_pid=$!
for _ in $(seq 100); do [ -s port.txt ] && break; sleep 0.1; done
[ -s port.txt ] || { echo "the test server did not start:" >&2; cat server.err >&2; exit 1; }
server="https://127.0.0.1:$(cat port.txt)"
conn=(--server "$server" --cert pki/authority.crt --key pki/authority.key --cacert pki/ca.crt)
# sign and countersign: --key is the party's key, the connection's is --client-key.
conn_signing=(--server "$server" --cert pki/authority.crt --client-key pki/authority.key --cacert pki/ca.crt)
last_call() { tail -n1 calls.log | python3 -c 'import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; print(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))' "$1"; }

expect "sheet list: the table" 0 "^ID +SYSTEM +KIND +STATE +SIGNED +MISSING +CREATED" sheet list "${conn[@]}"
check "sheet list: the row, system id and name, who is missing" \
        grep -qE "^7 +3 协同办公OA +golive +open +- +tenant, provider, authority +2026-12-01" out.txt
expect "sheet list --system 3: the query" 0 "^7 " sheet list --system 3 "${conn[@]}"
check "sheet list --system 3 asked with ?system=3" test "$(last_call query)" = '{"system": "3"}'
expect "sheet show: the title, the VM row, the missing parties" 0 "政务云资源开通三方确认单 \(golive\), sheet 7" \
        sheet show 7 "${conn[@]}"
check "sheet show: system, unit, hash" sh -c 'grep -q "^system: 3 协同办公OA" out.txt &&
        grep -q "^unit: 市xx局" out.txt && grep -qE "^hash: sm3:[0-9a-f]{64}" out.txt'
check "sheet show: the VM with its host, address, port and resources" grep -qE \
        "市xx局-协同办公OA-应用服务器-01 +应用服务器 +cn-node-02 +10.3.0.2 +443 +x86 +4 vCPU, 8 GiB, disks 50\+200 GiB" out.txt
check "sheet show: the missing parties with their titles" grep -q "missing: tenant 使用单位（甲方）" out.txt
expect "sheet show --canonical: exactly the canonical bytes" 0 "" sheet show 7 --canonical "${conn[@]}"
check "sheet show --canonical is the document's bytes, no newline" cmp -s out.txt doc.json
expect "sheet show --json: the server's answer" 0 '"canonical"' --json sheet show 7 "${conn[@]}"

expect "sheet sign as tenant: signed, the others missing" 0 \
        "^signed sheet 7 as tenant with sha256:[0-9a-f]{64}; missing: provider, authority$" \
        sheet sign 7 --party tenant --key tenant.pem "${conn_signing[@]}"
check "sheet sign: the POST body has party, fingerprint, signature" python3 -c '
import json, subprocess, sys
sys.path.insert(0, ".")
import tool
c = [json.loads(l) for l in open("calls.log")][-1]
assert c["method"] == "POST" and c["path"] == "/v1/sheets/7/signatures", c
b = json.loads(c["body"])
assert sorted(b) == ["fingerprint", "party", "signature"] and b["party"] == "tenant", b
assert b["fingerprint"] == tool.fingerprint("tenant.pem"), b'
expect "sheet sign: a refusal with its field, value, rule and code, exit 1" 1 \
        '^gcctl: refused \(HTTP 409\): party: "tenant" has signed this sheet already \(R-LC3\) \[already_signed\]$' \
        sheet sign 7 --party tenant --key tenant.pem "${conn_signing[@]}"
expect "sheet sign with another party's key: the server's refusal" 1 'refused \(HTTP 422\): fingerprint: ' \
        sheet sign 7 --party provider --key other.pem "${conn_signing[@]}"
expect "sheet sign as provider, the connection's key as a second --key" 0 "missing: authority$" \
        sheet sign 7 --party provider --key provider.pem "${conn[@]}"
expect "sheet sign as authority: complete" 0 "; sheet 7 is complete$" \
        sheet sign 7 --party authority --key authority.pem "${conn_signing[@]}"
n=$(wc -l <calls.log)
expect "sheet sign refuses bytes that are not canonical" 1 "not signing sheet 8: document: not in canonical form" \
        sheet sign 8 --party tenant --key tenant.pem "${conn_signing[@]}"
expect "sheet sign refuses a hash that is not the bytes'" 1 "not signing sheet 9: hash: .* is not the document's sm3 hash" \
        sheet sign 9 --party tenant --key tenant.pem "${conn_signing[@]}"
check "nothing was posted for the sheets that do not check" \
        test "$(tail -n +$((n + 1)) calls.log | grep -c '"POST"')" -eq 0
expect "sheet sign with an Ed25519 key for an SM2 sheet: a warning, and the server's refusal (audited there)" 1 \
        "\[key_type\]" sheet sign 7 --party tenant --key ed-tenant.pem "${conn_signing[@]}"
check "... the warning names the document's algorithm" \
        grep -q "warning: ed-tenant.pem is an ed25519 key, but sheet 7 takes sm2 signatures" err.txt
expect "sheet sign with --key three times: usage error" 2 "given a third time" \
        sheet sign 7 --party tenant --key tenant.pem --key a --key b
expect "sheet sign without --party: usage error" 2 "--party is required" sheet sign 7 --key tenant.pem
expect "sheet sign with an unknown party: usage error" 2 '"approval" is not tenant, provider or authority' \
        sheet sign 7 --party approval --key tenant.pem
expect "sheet sign with a public key: exit 1" 1 "a public key" \
        sheet sign 7 --party tenant --key tenant.pub.pem "${conn_signing[@]}"
expect "sheet export ID -o --dir" 0 "" sheet export 7 -o got.json --dir got "${conn[@]}"
n=$(wc -l <calls.log)
expect "sheet verify accepts the connection options, and sends nothing" 0 "verdict: complete" \
        sheet verify got.json "${conn[@]}"
check "sheet verify: no call was made" test "$(wc -l <calls.log)" -eq "$n"
check "sheet export: the body as received" cmp -s got.json bundle.json
check "sheet export --dir from the server: sh VERIFY.txt succeeds" sh -c 'cd got && sh VERIFY.txt'
expect "sheet html ID: the page from the server's bundle" 0 "" sheet html 7 -o page7.html "${conn[@]}"
check "sheet html ID: asked for the export" test "$(last_call path)" = /v1/sheets/7/export
check "sheet html ID: the page is written" grep -qi "<!DOCTYPE html>" page7.html
expect "sheet show of an unknown sheet: the refusal" 1 'refused \(HTTP 404\)' sheet show 99 "${conn[@]}"

expect "audit checkpoints: the table" 0 "^ID +SEQ +TIME +HEAD +SIGNER FINGERPRINT +COUNTERSIGNED" \
        audit checkpoints "${conn[@]}"
check "audit checkpoints: time as RFC 3339, head shortened, the count" \
        grep -qE "^1 +5 +2025-12-01T00:0[0-9]:[0-9]{2}Z +sm3:[0-9a-f]{12}… +sha256:[0-9a-f]{64} +1$" out.txt
expect "audit checkpoint: the existing one when the head has not moved" 0 "head has not moved" \
        audit checkpoint "${conn[@]}"
check "audit checkpoint: POST /v1/audit/checkpoints" test "$(last_call method) $(last_call path)" = "POST /v1/audit/checkpoints"
expect "audit countersign: every checkpoint without this key's countersignature; a forged one refused" 1 \
        "checkpoint 5 not countersigned: the service signature does not verify" \
        audit countersign --key authority.pem "${conn_signing[@]}"
check "audit countersign: the even checkpoints were countersigned, paging through all" \
        test "$(grep -c '^countersigned checkpoint' out.txt)" -eq 5
check "audit countersign: asked for every page (after=0, 3, 6, 9, 10)" python3 -c '
import json
q = [json.loads(l)["query"].get("after") for l in open("calls.log") if "/v1/audit/checkpoints" == json.loads(l)["path"]
     and json.loads(l)["method"] == "GET"]
assert q[-5:] == ["0", "3", "6", "9", "10"], q'
check "audit countersign: the countersignature verifies with openssl over the checkpoint bytes" python3 -c '
import base64, json, subprocess, sys
sys.path.insert(0, ".")
import tool
c = [json.loads(l) for l in open("calls.log") if json.loads(l)["path"] == "/v1/audit/checkpoints/2/countersignatures"][-1]
cp = json.load(open("seg-sm3.json"))["checkpoints"][1]
open("cp.bin", "wb").write(tool.checkpoint_bytes(cp["seq"], cp["head"], cp["time"]))
open("cp.sig", "wb").write(base64.b64decode(json.loads(c["body"])["signature"]))
subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "authority.pub.pem", "-rawin", "-in", "cp.bin",
                "-digest", "sm3", "-pkeyopt", "distid:" + tool.DISTID, "-sigfile", "cp.sig"], check=True)'
expect "audit countersign again: nothing left but the forged one" 1 "checkpoint 5 not countersigned" \
        audit countersign --key authority.pem "${conn_signing[@]}"
check "audit countersign again: nothing countersigned twice" fails grep -q "^countersigned" out.txt
expect "audit countersign of a given checkpoint already countersigned" 0 "checkpoint 2: countersigned by .* already" \
        audit countersign 2 --key authority.pem "${conn_signing[@]}"
expect "audit countersign of an unknown checkpoint" 1 "there is no checkpoint 77" \
        audit countersign 77 --key authority.pem "${conn_signing[@]}"
expect "audit countersign without --key: usage error" 2 "--key KEY.pem is required" audit countersign
expect "audit export --from --to -o" 0 "" audit export --from 1 --to 7 -o live.json "${conn[@]}"
check "audit export: the query" test "$(last_call query)" = '{"from": "1", "to": "7"}'
check "audit export: the body as received" cmp -s live.json seg-sm3.json
expect "audit export of 20 MiB: more than the 16 MiB of other answers" 0 "" \
        audit export --from 2 -o big.json "${conn[@]}"
check "audit export of 20 MiB: all of it written" test "$(stat -c %s big.json)" -gt $((20 << 20))
expect "sheet export of a bundle over 8 MiB: refused" 1 "larger than 8 MiB" sheet export 8 "${conn[@]}"
expect "audit export --to before --from: usage error" 2 "--to 1 is before --from 5" audit export --from 5 --to 1
expect "audit verify of the live chain" 0 "checkpoints: 1 of 2 countersigned" audit verify "${conn[@]}"
check "audit verify of the live chain: fetched /v1/audit/export" test "$(last_call path)" = /v1/audit/export

expect "key revoke: the key with its revocation" 0 "revoked: 2026-12-02" \
        key revoke 4 --reason "张三调离" "${conn[@]}"
check "key revoke: the body" test "$(last_call body)" = '{"reason":"张三调离"}'
expect "key revoke without --reason: usage error" 2 "--reason TEXT is required" key revoke 4
expect "key list: the REVOKED column" 0 "REVOKED" key list "${conn[@]}"
check "key list: the revocation time in the row" grep -qE "^4 .* 2026-12-02T00:00:00Z$" out.txt
expect "system extend-trial: the new end" 0 "system 3: the trial now ends 2026-12-15T00:00:00Z \(extended by 15 in all\)" \
        system extend-trial 3 --length 15 --approval "数管函〔2026〕12号" "${conn[@]}"
check "system extend-trial: the body" test "$(last_call body)" = '{"length":15,"approval":"数管函〔2026〕12号"}'
expect "system extend-trial beyond the pack: the refusal with its rule" 1 'refused \(HTTP 422\): length: "40" .*\(R-LC2\)' \
        system extend-trial 3 --length 40 --approval x "${conn[@]}"
expect "system extend-trial without --approval: usage error" 2 "--length and --approval are required" \
        system extend-trial 3 --length 5

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
