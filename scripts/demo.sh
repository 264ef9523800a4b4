#!/usr/bin/env bash
# The govcloud demo: install what is missing, build, and show what it does
# today. It grows with each part of the system.
#   scripts/demo.sh
# Everything it starts runs on loopback and stops at the end; its files are
# in a temporary directory (kept with GC_DEMO_KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

if [ ! -f build/build.ninja ]; then
        meson setup build >/dev/null
fi
meson compile -C build >/dev/null
top=$PWD
gcctl=$top/build/cli/gcctl
orchestrator=$top/build/orchestrator/gc-orchestrator
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '\033[2m$ %s\033[0m\n' "$*"; }

work=$(mktemp -d /tmp/govcloud-demo.XXXXXX)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        if [ "${GC_DEMO_KEEP:-0}" = 1 ]; then echo "demo files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

step "The four jurisdictions' policy packs, checked against the schema"
"$gcctl" policy check policies/baotou.json policies/luan.json policies/zhumadian.json policies/sichuan.json
echo "(gcctl policy explain policies/NAME.json says what each pack decides, rule by rule)"

step "A PKI for this run (scripts/pki.sh: CA, TLS 1.3 certificates, SM2 signing keys)"
scripts/pki.sh --out "$work/pki" | tail -n 3
cd "$work"

step "A local webhook receiver, and the orchestrator on SQLite with two pools"
python3 "$top/scripts/webhook-receiver.py" "$work/webhook.port" "$work/events" &
pids+=($!)
for _ in $(seq 100); do [ -s webhook.port ] && break; sleep 0.05; done
cat >orchestrator.json <<JSON
{
  "listen": "127.0.0.1:0",
  "tls": { "cert": "pki/tls/orchestrator.crt", "key": "pki/tls/orchestrator.key", "ca": "pki/ca.crt" },
  "database": "orchestrator.db",
  "service_key": "pki/sign/orchestrator-gc-orchestrator.key",
  "plugin_dir": "$top/build/plugins",
  "pack": "baotou",
  "pools": [
    { "name": "包头-A", "arch": ["x86", "arm"] },
    { "name": "六安-A", "pack": "luan" }
  ],
  "plugins": [
    { "path": "notify-webhook", "config": { "url": "http://127.0.0.1:$(cat webhook.port)/events", "timeout_ms": 2000 } }
  ],
  "notify": { "retry_initial_ms": 200, "retry_max_ms": 2000 }
}
JSON
"$orchestrator" --config orchestrator.json --ready-file ready 2>orchestrator.log &
pids+=($!)
for _ in $(seq 200); do [ -s ready ] && break; sleep 0.05; done
[ -s ready ] || { cat orchestrator.log; exit 1; }
export GC_SERVER="https://127.0.0.1:$(cut -d' ' -f2 ready)" GC_CACERT="$work/pki/ca.crt"
echo "gc-orchestrator listening on $GC_SERVER (log: orchestrator.log)"

# Who is who: the client certificate decides the role (OU) and identity (CN).
as() {
        local who=$1; shift
        GC_CERT="$work/pki/tls/$who.crt" GC_KEY="$work/pki/tls/$who.key" "$gcctl" "$@"
}
tenant=$(awk -F'\t' '$1 == "tenant" { print $2; exit }' pki/names.tsv)

step "The authority registers the unit, its systems, an agreement (R-SC1) and the approval system"
say "gcctl unit add 市xx局"
as authority-authority unit add 市xx局 >/dev/null
for s in 协同办公OA 门户网站 一网通办 数据共享交换; do
        say "gcctl system register --unit 市xx局 --name $s --mlps 2 --availability 99.9%"
        as authority-authority system register --unit 市xx局 --name "$s" --mlps 2 --availability 99.9% >/dev/null
done
printf '安全责任书 AQ-2026-01\n' >agreement.pdf
say "gcctl system agreement 1 --reference AQ-2026-01 --signed-on 2026-11-01 ... --document agreement.pdf"
as authority-authority system agreement 1 --reference AQ-2026-01 --signed-on 2026-11-01 \
        --signatory 市xx局 --signatory 云服务商 --document agreement.pdf >/dev/null
say "gcctl key add --party approval --id approval-oa --name 市政务服务审批系统 --public pki/sign/approval-approval-oa.pub"
as authority-authority key add --party approval --id approval-oa --name 市政务服务审批系统 \
        --public pki/sign/approval-approval-oa.pub >/dev/null
as authority-authority system list

# Samples carry a fixed approval time; the approval system stamps it now.
stamp() {
        python3 - "$1" "$2" <<'PY'
import datetime, json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
doc["approval"]["time"] = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).replace(microsecond=0).isoformat()
json.dump(doc, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False, indent=2)
PY
}
submit() {
        local what=$1 sample=$2 key=${3:-pki/sign/approval-approval-oa.key} who=${4:-approval-approval-oa}
        step "$what"
        stamp "$top/scripts/samples/$sample" "$sample"
        say "gcctl request submit $sample --sign ${key##*/}"
        as "$who" request submit "$sample" --sign "$key" || true
}

submit "A valid apply (Baotou pool: VM names built as unit+system+role+number, R-NM2)" apply.json
step "The approval system retries the same approval: the existing request comes back"
as approval-approval-oa request submit apply.json --sign pki/sign/approval-approval-oa.key || true
submit "A classified system (R-RQ1)" apply-classified.json
submit "A VM name that breaks Baotou's naming rule (R-NM2)" apply-bad-name.json
submit "A valid apply in the Lu'an pool, with the names it chose" apply-luan.json
submit "Another system taking a name already used in that pool (R-NM2)" apply-duplicate-name.json
submit "A major change (12 new VMs) without re-review (R-RQ2, Lu'an's thresholds)" change-major.json
openssl genpkey -algorithm SM2 -out forged.key 2>/dev/null
submit "A forged signature: the right approval system's certificate, a key it never registered" apply-luan.json forged.key
submit "A replay: approval OA-2026-0001 again, with other content" apply-replay.json
submit "The wrong role: the tenant's certificate submitting a request" apply.json pki/sign/approval-approval-oa.key "tenant-$tenant"

step "What the tenant sees: its own unit's systems, with their states"
as "tenant-$tenant" system list
step "System 1 in detail"
as "tenant-$tenant" system show 1

step "The audit chain: every acceptance and every refusal, attributed"
as authority-authority audit list --limit 200

step "Metrics (Prometheus text): requests by outcome, refusals by rule"
curl -sS --cacert pki/ca.crt --cert pki/tls/provider-provider-ops.crt --key pki/tls/provider-provider-ops.key \
        "$GC_SERVER/metrics" | grep -E '^gc_(requests|refusals|access)' | grep -v ' 0$'

step "The events the webhook receiver got, each signed with the orchestrator's service key"
for _ in $(seq 100); do
        n=$(ls events/*.json 2>/dev/null | wc -l)
        [ "$n" -ge 10 ] && break
        sleep 0.1
done
for f in events/*.json; do
        sig=$(sed -n 's/^X-GC-Signature: sm2://p' "${f%.json}.headers")
        printf '%s' "$sig" | base64 -d >sig.der
        if openssl pkeyutl -verify -pubin -inkey pki/sign/orchestrator-gc-orchestrator.pub -rawin -in "$f" \
                -digest sm3 -pkeyopt distid:1234567812345678 -sigfile sig.der >/dev/null 2>&1; then v="signature ok"; else v="SIGNATURE BAD"; fi
        python3 - "$f" "$v" <<'PY'
import json, sys
e = json.load(open(sys.argv[1], encoding="utf-8"))
what = e.get("stage") and "%s -> %s" % (e.get("from"), e["stage"]) or \
       e.get("error") and "%s (%s) %s" % (e["error"].get("code"), e["error"].get("rule") or "-", e["error"].get("field")) or \
       ", ".join(e.get("vms", []))
print("%-6s %-16s %-28s %s  [%s]" % (e["id"], e["type"], e.get("approval", ""), what, sys.argv[2]))
PY
done

step "Done"
echo "Every refusal above added one audit record and changed nothing else; the accepted requests,"
echo "their VMs and transitions are in $work/orchestrator.db (SQLite, WAL)."
