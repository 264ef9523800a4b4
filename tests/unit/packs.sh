#!/usr/bin/env bash
# gcctl policy check / explain over the shipped packs and over broken ones,
# as an operator runs them.
set -euo pipefail
: "${GCCTL:?}" "${GC_SRCDIR:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
ok()   { echo "ok: $*"; }
bad()  { echo "FAIL: $*"; fails=$((fails + 1)); }
packs=("$GC_SRCDIR"/policies/{baotou,luan,zhumadian,sichuan}.json)

# Every shipped pack is valid.
if out=$("$GCCTL" policy check "${packs[@]}"); then
        [ "$(grep -cE '^\S+\.json +[a-z]+ +\S+ +valid$' <<<"$out")" -eq 4 ] && ok "four shipped packs valid" || bad "check output: $out"
else
        bad "policy check of the shipped packs failed: $out"
fi

# JSON output is machine-readable and says valid.
"$GCCTL" --json policy check "${packs[@]}" >"$work/check.json"
python3 - "$work/check.json" <<'PY' && ok "--json check output" || bad "--json check output"
import json, sys
d = json.load(open(sys.argv[1]))
assert [x["pack"] for x in d] == ["baotou", "luan", "zhumadian", "sichuan"], d
assert all(x["valid"] and x["issues"] == [] for x in d)
PY

# A broken pack: exit 1, every bad field named by its JSON path.
python3 - "$GC_SRCDIR/policies/baotou.json" "$work/broken.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["trial"]["max"] = "one month"
d["trial"]["length"] = 1
d["rightsizing"]["cpu"][1]["band"] = "[10,30]"
d["audit"]["retention_months"] = 0
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
set +e
out=$("$GCCTL" policy check "$work/broken.json")
rc=$?
set -e
[ $rc -eq 1 ] && ok "broken pack exits 1" || bad "broken pack exit $rc"
for want in '$.trial.max: is a string, expected integer or null' \
            '$.trial.length: is not a known key' \
            '$.audit.retention_months: is 0, below the minimum 1'; do
        grep -qF "$want" <<<"$out" && ok "names: $want" || bad "missing '$want' in: $out"
done
grep -q 'invalid: 3 problems' <<<"$out" && ok "counts the problems" || bad "count: $out"

# Fix the schema errors; the band overlap (a check beyond the schema) is then reported.
python3 - "$work/broken.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["trial"]["max"] = 1; del d["trial"]["length"]; d["audit"]["retention_months"] = 6
json.dump(d, open(sys.argv[1], "w"), ensure_ascii=False)
PY
out=$("$GCCTL" policy check "$work/broken.json" || true)
grep -qF '$.rightsizing.cpu[1].band: overlaps band 0' <<<"$out" && ok "band overlap named" || bad "overlap: $out"

# Duplicate keys and bad JSON are refused with where.
printf '{"schema":"govcloud-policy-pack/1","schema":"x"}' >"$work/dup.json"
out=$("$GCCTL" policy check "$work/dup.json" || true)
grep -qF '$.schema: is a duplicate key' <<<"$out" && ok "duplicate key named" || bad "dup: $out"
out=$("$GCCTL" policy check /nonexistent.json 2>&1 || true)
grep -q 'cannot be read' <<<"$out" && ok "missing file named" || bad "missing: $out"

# explain: every section, rule ids, the seeds' numbers, and what null means.
out=$("$GCCTL" policy explain "$GC_SRCDIR/policies/baotou.json")
for want in 'R-NM2  A VM'"'"'s name is unit + system + role + number' \
            'R-LC2  The trial lasts 1 month' \
            'R-RS1  Monthly average CPU utilization in [15 %, 30 %]: vCPUs x 0.5' \
            'R-RS3  Monthly average CPU utilization 70 % or more: vCPUs x 3' \
            'R-RS5  Disk usage at or above 80 % and growing linearly' \
            'R-RQ3  A system'"'"'s resources change at most 1 time per calendar month' \
            'R-SC1  The signed security responsibility agreement must be on record before anything is provisioned' \
            'R-OP2  Channels are single-use' \
            'R-AU1  Audit records are kept at least 6 calendar months' \
            'R-SC4  Signatures use SM2'; do
        grep -qF "$want" <<<"$out" && ok "baotou explains: $want" || bad "baotou lacks: $want"
done
out=$("$GCCTL" policy explain "$GC_SRCDIR/policies/luan.json")
grep -qF 'more than 10 new VMs, more than 40 more CPU cores, more than 80 GiB more memory, more than 5120 GiB more storage' <<<"$out" \
        && ok "luan explains R-RQ2 thresholds" || bad "luan R-RQ2: $out"
grep -qF 'The trial lasts 15 to 30 days' <<<"$out" && ok "luan trial" || bad "luan trial"
out=$("$GCCTL" policy explain "$GC_SRCDIR/policies/zhumadian.json")
grep -qF 'the tenant has 30 days to migrate' <<<"$out" && ok "zhumadian grace" || bad "zhumadian grace"
grep -qF 'at least 12 calendar months' <<<"$out" && ok "zhumadian retention" || bad "zhumadian retention"
out=$("$GCCTL" policy explain "$GC_SRCDIR/policies/sichuan.json")
grep -qF 'Not set here (unit is null): no trial stage' <<<"$out" && ok "sichuan: null explained from the schema" || bad "sichuan null"

# explain --json: every line carries a RULES.md id.
"$GCCTL" policy explain --json "$GC_SRCDIR/policies/baotou.json" >"$work/explain.json"
python3 - "$work/explain.json" <<'PY' && ok "explain --json" || bad "explain --json"
import json, re, sys
d = json.load(open(sys.argv[1]))
assert d["pack"]["id"] == "baotou"
lines = [l for s in d["sections"] for l in s["lines"]]
assert len(lines) > 30, len(lines)
assert all(re.fullmatch(r"R-[A-Z]{2}[0-9]+", l["rule"]) for l in lines)
PY

# explain refuses an invalid pack.
if "$GCCTL" policy explain "$work/dup.json" 2>/dev/null; then bad "explain accepted an invalid pack"; else ok "explain refuses an invalid pack"; fi

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
