#!/usr/bin/env bash
# usage: utilization, rightsizing, trial sizing and the monthly report
# (R-RS1..R-RS7, R-LC2, R-RQ3; orchestrator/usage.h) through the real
# binaries: gc-orchestrator (--unsafe-test-clock, notify-webhook to a
# receiver on 127.0.0.1), two gc-agent processes on the libvirt test driver
# (host-a in 包头-A, Baotou pack: bands; host-b in 六安-A, Lu'an pack: no
# bands), gcctl for the parties and the imports.
#
# The imported samples are hourly, at HH:30 in +08:00, per VM of 协同办公OA:
#   应用服务器1 (4 vCPU, 8 GiB)  CPU 8 % (54 % at noon), memory 12 %, disk 30 %:
#                               idle (R-RS7); cores to a quarter (R-RS1),
#                               memory to a quarter (R-RS2)
#   应用服务器2 (4 vCPU, 8 GiB)  CPU 74 % (98 % at noon: average 75 %), memory 72 %:
#                               cores x3 (R-RS3), memory x2 (R-RS4)
#   数据库服务器1 (8/16, 500 GiB data) CPU 40 %, memory 50 % (no band), disk
#                               75 % + half a point a day: doubled (R-RS5)
#   前置机1 (1 vCPU, 1 GiB)      CPU 5 %, memory 10 %: idle, but already at the
#                               platform's smallest flavour (R-RS6)
#
#   1. apply (4 VMs on 包头-A, 1 on 六安-A) -> trial; 20 days on the clock;
#      20 days of samples imported with gcctl metrics import (CSV); the
#      daily aggregates: one row per VM and day, sum/count/max
#   2. refusals (each naming the field, the value, one audit record,
#      usage_daily unchanged): a CPU over 100, an unknown VM, a time in the
#      future, a malformed time; a malformed CSV refused by gcctl before
#      anything is sent; the same file again counted once (duplicate); an
#      agent's sample of a VM on another host ignored
#   3. 12 more days: the trial ends; the go-live sheet's "recommended" per
#      VM is the trial's (R-LC2), with figures and rules; the monthly timer
#      has run for the month before (report.monthly, files written), and
#      announced nothing for a system in trial
#   4. go-live; the rest of the month imported; the clock to the 1st of the
#      next month: the timer's run announces 协同办公OA's recommendations
#      (rightsize.recommended) and the webhook receiver gets them, signed
#   5. gcctl report monthly (table, json, csv, html): the four VMs with
#      their figures, recommendations, rules, idle flags, totals; the Lu'an
#      system unregulated; a tenant sees its own unit only
#   6. the recommendation comes back as an ordinary change request
#      (accepted); a second change in the month is refused (R-RQ3)
#   7. 402 days on: the batches' digests are forgotten, and the old file
#      sent again is refused as too old rather than counted again
# shellcheck disable=SC2016 # python snippets in single quotes
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

AGENT_BIN=$GC_BUILDDIR/agent/gc-agent
GCCTL_BIN=${GCCTL:-$GC_BUILDDIR/cli/gcctl}
[[ -x $AGENT_BIN ]] || bail "$AGENT_BIN is not built"
[[ -x $GCCTL_BIN ]] || bail "$GCCTL_BIN is not built"

UNIT=市xx局
BPOOL=包头-A
LPOOL=六安-A
DAY=86400
OFFSET=0
HOOK=$T/hook
REPORTS=$T/reports

make_pki --unit 市xx局 --unit 市yy局
mkdir -p "$HOOK"
"${GCINT[@]}" hook --dir "$HOOK" --port 0 2>>"$T/hook.log" &
bg "$!"
poll 30 test -s "$HOOK/port" || bail "the webhook receiver did not start"
HOOK_PORT=$(cat "$HOOK/port")
write_config "[{\"path\": \"notify-webhook\", \"config\": {\"url\": \"http://127.0.0.1:$HOOK_PORT/hook\", \"timeout_ms\": 5000}}]" \
	"{\"reports\": {\"dir\": \"$REPORTS\"},
	  \"pools\": [{\"name\": \"包头-A\", \"arch\": [\"x86\", \"arm\"]}, {\"name\": \"六安-A\", \"pack\": \"luan\"},
	             {\"name\": \"驻马店-A\", \"pack\": \"zhumadian\"}]}"
ORCH_ARGS=(--unsafe-test-clock)
orch_start

# ---------------------------------------------------------- helpers -------

register_key() {   # register_key PARTY HOLDER PUB [UNIT]
	local unit=
	[[ -z ${4-} ]] || unit=", \"unit\": $(jstr "$4")"
	api authority POST /v1/keys "{\"party\": \"$1\", \"holder\": $(jstr "$2"), \"public_key\": $(jstr "$(cat "$3")")$unit}"
	want 201 >"$T/reg.err" || bail "register $1 key $2: $(cat "$T/reg.err")"
}
aq() { audit_fetch; jget "$T/audit.json" "$1"; }
mark() { audit_fetch; MARK=$AUDIT_LAST; }
after_mark() { aq "(lambda r: $1)([x for x in d['records'] if x['seq'] > $MARK])"; }
# clock: the orchestrator's clock now, Unix seconds.
clock() { echo $(($(date +%s) + OFFSET)); }
# localday [T]: days since 1970-01-01 in +08:00 of T (default: the clock).
localday() { echo $(((${1:-$(clock)} + 8 * 3600) / DAY)); }
# samples_from D0 FIRST LAST OUT: as samples, the disk line starting at day D0.
samples_from() {
	python3 - "$2" "$3" "$4" "$UNIT" "$1" <<'EOF'
import datetime, sys
first, last, out, unit, d0 = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
tz = datetime.timezone(datetime.timedelta(hours=8))
with open(out, "w", encoding="utf-8") as f:
    f.write("time,vm,pool,cpu_pct,memory_pct,disk_pct\n")
    for day in range(first, last + 1):
        for h in range(24):
            t = datetime.datetime.fromtimestamp(day * 86400 - 8 * 3600 + h * 3600 + 1800, tz).isoformat()
            noon = h == 12
            rows = [
                (unit + "协同办公OA应用服务器1", 54 if noon else 8, 12, 30),
                (unit + "协同办公OA应用服务器2", 98 if noon else 74, 72, ""),
                (unit + "协同办公OA数据库服务器1", 40, 50, 75 + (day - d0) / 2),
                (unit + "协同办公OA前置机1", 5, 10, ""),
            ]
            for name, cpu, mem, disk in rows:
                f.write(f"{t},{name},包头-A,{cpu},{mem},{disk}\n")
EOF
}
# usage_snapshot OUT: the aggregates and batches, for "nothing changed".
usage_snapshot() {
	{
		dbq 'SELECT * FROM usage_daily ORDER BY vm_id, day'
		printf '== batches\n'
		dbq 'SELECT digest, samples FROM metric_batches ORDER BY digest'
		printf '== recommendations\n'
		dbq 'SELECT vm_id, period, vcpus_after, memory_after, disk_after FROM recommendations ORDER BY 1, 2'
	} >"$1"
}
# metrics_refused BODY STATUS CODE FIELD VALUE: POST /v1/metrics as the
# provider is refused so, with one audit record metrics.refused and the
# aggregates unchanged.
metrics_refused() {
	local got
	usage_snapshot "$T/u.before"
	mark
	api provider POST /v1/metrics "$1"
	cp "$BODY" "$T/refusal.json"
	want "$2" || return 1
	got=$(jget "$T/refusal.json" '"|".join(str(d["error"].get(k)) for k in ("code", "field", "value"))')
	[[ $got == "$3|$4|$5" ]] || { echo "error: $got; expected $3|$4|$5: $(cat "$T/refusal.json")"; return 1; }
	[[ $(after_mark "[x['action'] for x in r] == ['metrics.refused']") == true ]] ||
		{ echo "the audit after the refusal: $(after_mark "[(x['action'], x['outcome']) for x in r]")"; return 1; }
	usage_snapshot "$T/u.after"
	diff "$T/u.before" "$T/u.after" || { echo "the refusal changed the above"; return 1; }
}
vm_id() { dbq 'SELECT id FROM vms WHERE name = ?' "$UNIT协同办公OA$1"; }
# day_row ROLE DAY: "cpu_sum cpu_n cpu_max mem_sum mem_n mem_max disk_sum disk_n disk_max" of a VM's day.
day_row() { dbq 'SELECT cpu_sum, cpu_n, cpu_max, mem_sum, mem_n, mem_max, disk_sum, disk_n, disk_max FROM usage_daily WHERE vm_id = ? AND day = ?' "$(vm_id "$1")" "$2" | tr '\t' ' '; }

# ------------------------------------------------------ registration -----

register_unit "$UNIT"
UNIT_ID=$LAST_ID
register_unit 市yy局
register_system "$UNIT" 协同办公OA
SID=$LAST_ID
register_system "$UNIT" 一网通办
LID=$LAST_ID
register_system "$UNIT" 政务公开
ZID=$LAST_ID
record_agreement "$SID"
record_agreement "$LID"
record_agreement "$ZID"
register_approval_system approval-oa "$(sign_pub approval)"
register_host host-a "$BPOOL" none
register_host host-b "$LPOOL" none
register_host host-z 驻马店-A   # no agent: 政务公开's VMs stay queued, but count in its unit's report
TENANT_KEY=$(sign_key tenant)
PROVIDER_KEY=$(sign_key provider)
AUTHORITY_KEY=$(sign_key authority)
register_key tenant 李四 "$(sign_pub tenant)" "$UNIT"
register_key provider 王工 "$(sign_pub provider)"
register_key authority 陈处长 "$(sign_pub authority)"

for h in host-a host-b; do
	who_files "host=$h"
	cat >"$T/agent-$h.json" <<EOF
{"orchestrator": "$URL", "tls": {"cert": "$CERT", "key": "$KEY", "ca": "$PKI/ca.crt"},
 "libvirt_uri": "test:///default", "storage_pool": "default-pool",
 "capacity": {"vcpus": 64, "memory_mib": 131072, "storage_gib": 100000, "arch": "x86_64"},
 "poll_seconds": 5, "journal": "$T/journal-$h"}
EOF
	LOGS[agent-$h]=$T/agent-$h.log
	"$AGENT_BIN" -c "$T/agent-$h.json" --log-level debug >>"$T/agent-$h.log" 2>&1 &
	bg "$!"
done

# ------------------------------------------------- 1. trial and import ----

VMS='[{"type": "vm", "role": "应用服务器", "arch": "x86", "vcpus": 4, "memory_gib": 8,
        "system_disk": {"gib": 40, "type": "SSD"}, "data_disk": {"gib": 200, "type": "SAS"},
        "os": "麒麟V10", "network": "egov", "ports": [443], "count": 2},
       {"type": "vm", "role": "数据库服务器", "arch": "x86", "vcpus": 8, "memory_gib": 16,
        "system_disk": {"gib": 40, "type": "SSD"}, "data_disk": {"gib": 500, "type": "SSD"},
        "os": "麒麟V10", "network": "egov", "ports": [5432], "count": 1},
       {"type": "vm", "role": "前置机", "arch": "x86", "vcpus": 1, "memory_gib": 1,
        "system_disk": {"gib": 40, "type": "SSD"}, "data_disk": {"gib": 100, "type": "SAS"},
        "os": "麒麟V10", "network": "egov", "ports": [22], "count": 1}]'
sign "$SAMPLES/apply.json" "$T/apply.json" --set=approval.id=OA-U-0001 --set-json=vms="$VMS"
submit "$T/apply.json"
want 201 >"$T/apply.err" || bail "apply 协同办公OA: $(cat "$T/apply.err")"
sign "$SAMPLES/apply-luan.json" "$T/apply-l.json" --set=approval.id=OA-U-0002
submit "$T/apply-l.json"
want 201 >"$T/apply.err" || bail "apply 一网通办: $(cat "$T/apply.err")"
# A system in the Zhumadian pool: its pack wants the unit's report by the 5th (R-RS7, Z20).
sign "$SAMPLES/apply-luan.json" "$T/apply-z.json" --set=approval.id=OA-U-0003 --set=system.name=政务公开 --set=pool=驻马店-A \
	--set-json=trial_length=15 --set-json=vms='[{"type": "vm", "role": "门户服务器", "arch": "x86", "vcpus": 1, "memory_gib": 1,
	"system_disk": {"gib": 40, "type": "SSD"}, "data_disk": {"gib": 10, "type": "SAS"}, "os": "麒麟V10", "network": "egov",
	"ports": [443], "count": 1, "names": ["zwgk-web-01"]}]'
submit "$T/apply-z.json"
want 201 >"$T/apply.err" || bail "apply 政务公开: $(cat "$T/apply.err")"
poll 90 system_is "$SID" trial || bail "协同办公OA did not reach trial: $(system_state "$SID")"
poll 90 system_is "$LID" trial || bail "一网通办 did not reach trial: $(system_state "$LID")"
pass "1. 协同办公OA (4 VMs, $BPOOL) and 一网通办 ($LPOOL) reach trial"
D0=$(localday)

advance 20d $((20 * DAY))
samples_from "$D0" "$D0" "$((D0 + 19))" "$T/trial.csv"
run_gcctl provider "$T/import.out" metrics import "$T/trial.csv" --json
check "1. gcctl metrics import of 20 days x 24 h x 4 VMs (1,920 samples) succeeds" test "$RC" = 0
check "1. ... all 1,920 accepted, 4 VMs, 80 VM-days" \
	jget "$T/import.out" '(d.get("samples") or d.get("accepted")) == 1920 or 1/0'
is "1. usage_daily holds one row per VM and day: 80" "$(dbq 'SELECT COUNT(*) FROM usage_daily')" 80
# 应用服务器1 on day 3: 23 x 8 % + 54 % CPU, 24 x 12 % memory, 24 x 30 % disk (hundredths).
is "1. a day of 应用服务器1: sum, count and maximum per metric, in hundredths of a percent" \
	"$(day_row 应用服务器1 $((D0 + 3)))" "23800 24 5400 28800 24 1200 72000 24 3000"
is "1. a day of 应用服务器2: no disk column, a gap: disk count 0 and no maximum" \
	"$(day_row 应用服务器2 $((D0 + 3)))" "180000 24 9800 172800 24 7200 0 0 "
check "1. the import is audited: metrics.imported, 1,920 samples in all (R-RS7)" \
	aq 'sum(x["detail"]["samples"] for x in d["records"] if x["action"] == "metrics.imported" and x["rule"] == "R-RS7") == 1920 or 1/0'

# ---------------------------------------------------------- 2. refusals ----

APP1=$UNIT协同办公OA应用服务器1
T_OK=$(TZ=Asia/Shanghai date -d "@$(($(clock) - 3600))" +%Y-%m-%dT%H:%M:%S+08:00)
T_FUTURE=$(TZ=Asia/Shanghai date -d "@$(($(clock) + 2 * DAY))" +%Y-%m-%dT%H:%M:%S+08:00)
check "2. a CPU of 120 % is refused (400, samples[1].cpu_pct), nothing counted" metrics_refused \
	"{\"samples\": [{\"vm\": \"$APP1\", \"time\": \"$T_OK\", \"cpu_pct\": 10}, {\"vm\": \"$APP1\", \"time\": \"$T_OK\", \"cpu_pct\": 120}]}" \
	400 invalid_body samples[1].cpu_pct 120
check "2. an unknown VM is refused (422 unknown_vm, samples[1].vm), nothing counted" metrics_refused \
	"{\"samples\": [{\"vm\": \"$APP1\", \"time\": \"$T_OK\", \"cpu_pct\": 10}, {\"vm\": \"没有这台虚拟机\", \"time\": \"$T_OK\", \"cpu_pct\": 10}]}" \
	422 unknown_vm samples[1].vm 没有这台虚拟机
check "2. a time two days ahead is refused (422, samples[0].time)" metrics_refused \
	"{\"samples\": [{\"vm\": \"$APP1\", \"time\": \"$T_FUTURE\", \"cpu_pct\": 10}]}" \
	422 invalid_sample samples[0].time "$T_FUTURE"
check "2. a time without an offset is refused (422, samples[0].time)" metrics_refused \
	"{\"samples\": [{\"vm\": \"$APP1\", \"time\": \"2026-11-01 08:00:00xx\", \"cpu_pct\": 10}]}" \
	422 invalid_sample samples[0].time "2026-11-01 08:00:00xx"
check "2. a VM named by uuid and name at once is refused (422)" metrics_refused \
	"{\"samples\": [{\"vm\": \"$APP1\", \"uuid\": \"00000000-0000-0000-0000-000000000000\", \"time\": \"$T_OK\", \"cpu_pct\": 10}]}" \
	422 invalid_sample samples[0].uuid 00000000-0000-0000-0000-000000000000

usage_snapshot "$T/u.before"
mark
printf 'time,vm,pool,cpu_pct,memory_pct,disk_pct\n%s,%s,包头-A,10,20,30\n%s,%s,包头-A,1O,20,30\n' \
	"$T_OK" "$APP1" "$T_OK" "$APP1" >"$T/bad.csv"
run_gcctl provider "$T/bad.out" metrics import "$T/bad.csv"
check "2. a CSV with a bad number on line 3: gcctl refuses it naming line, column and value" \
	bash -c '[[ $1 != 0 ]] && grep -q "line 3" "$2" && grep -q cpu_pct "$2" && grep -q 1O "$2"' _ "$RC" "$T/bad.out"
usage_snapshot "$T/u.after"
check "2. ... nothing was sent: the aggregates and the audit unchanged" \
	bash -c 'diff "$1" "$2" && [[ $3 == true ]]' _ "$T/u.before" "$T/u.after" "$(after_mark 'r == []')"

run_gcctl provider "$T/import2.out" metrics import "$T/trial.csv" --json
usage_snapshot "$T/u.again"
check "2. the same file again: accepted as duplicates, nothing counted twice" \
	bash -c '[[ $1 == 0 ]] && diff "$2" "$3"' _ "$RC" "$T/u.after" "$T/u.again"
is "2. ... usage_daily of 应用服务器1 on day 3 is as before" "$(day_row 应用服务器1 $((D0 + 3)))" "23800 24 5400 28800 24 1200 72000 24 3000"
check "2. ... gcctl reports the duplicates" jget "$T/import2.out" '(d.get("duplicates") or d.get("duplicate")) or 1/0'

# An agent's sample of a VM on another host is ignored (not refused: the
# agent could do nothing about it).
LUAN_UUID=$(dbq 'SELECT uuid FROM vms WHERE system_id = ? LIMIT 1' "$LID")
A_UUID=$(dbq 'SELECT uuid FROM vms WHERE name = ?' "$APP1")
api host=host-a POST /v1/metrics "{\"samples\": [{\"uuid\": \"$LUAN_UUID\", \"time\": \"$T_OK\", \"cpu_pct\": 10}, {\"uuid\": \"$A_UUID\", \"time\": \"$T_OK\", \"cpu_pct\": 10.5}]}"
is "2. host-a's sample of a VM on host-b is ignored, its own VM's counted (accepted 1, ignored 1)" \
	"$STATUS $(jget "$BODY" '[d["accepted"], d["ignored"]]')" "200 [1, 1]"

# ---------------------------------------------- 3. the trial's sizing ----

advance 12d $((12 * DAY))
poll 20 system_is "$SID" awaiting_golive || true
is "3. 32 days after the start the trial is over: awaiting_golive" "$(system_state "$SID")" awaiting_golive
api provider GET "/v1/sheets?system=$SID"
GOLIVE=$(jget "$BODY" '[s["id"] for s in d["sheets"] if s["kind"] == "golive"][0]')
api provider GET "/v1/sheets/$GOLIVE"
cp "$BODY" "$T/golive.json"
rec() { jget "$T/golive.json" "(lambda v: $2)([v for v in d['sheet']['document']['vms'] if v['name'] == '$UNIT协同办公OA$1'][0]['recommended'])"; }
is "3. the go-live sheet recommends 应用服务器1 1 vCPU and 2 GiB (R-RS1, R-RS2, idle R-RS7; R-LC2)" \
	"$(rec 应用服务器1 '[v["vcpus"], v["memory_gib"], v["data_disk_gib"], v["idle"], v["rules"], v["rule"]]')" \
	'[1, 2, 200, true, ["R-RS1", "R-RS2", "R-RS7"], "R-LC2"]'
is "3. ... 应用服务器2 12 vCPU and 16 GiB (R-RS3 x3, R-RS4)" \
	"$(rec 应用服务器2 '[v["vcpus"], v["memory_gib"], v["rules"]]')" '[12, 16, ["R-RS3", "R-RS4"]]'
is "3. ... 数据库服务器1 its data disk doubled, 1000 GiB (R-RS5: 84.5 % and growing half a point a day)" \
	"$(rec 数据库服务器1 '[v["vcpus"], v["memory_gib"], v["data_disk_gib"], v["rules"], v["basis"]["disk"]["usage"], round(v["basis"]["disk"]["slope"], 2)]')" \
	'[8, 16, 1000, ["R-RS5"], 84.5, 0.5]'
is "3. ... 前置机1 unchanged: already at the smallest flavour (R-RS6), idle" \
	"$(rec 前置机1 '[v["vcpus"], v["memory_gib"], [s["rule"] for s in v["changes"]["skipped"]], v["idle"]]')" \
	'[1, 1, ["R-RS6", "R-RS6"], true]'
# 21 days: host-a's sample above (10.5 % CPU) fell on the 21st.
is "3. ... the figures it rests on: 21 days, CPU average 9.92 % and peak 54 %" \
	"$(rec 应用服务器1 '[v["basis"]["days"], v["basis"]["cpu"]["avg"], v["basis"]["cpu"]["peak"]]')" '[21, 9.92, 54]'
is "3. the trial's recommendations are stored (period trial): 4" \
	"$(dbq "SELECT COUNT(*) FROM recommendations WHERE period = 'trial' AND system_id = ?" "$SID")" 4
PREV_MONTH=$(python3 -c 'import datetime,sys; d=datetime.date.fromordinal(datetime.date(1970,1,1).toordinal()+int(sys.argv[1])); print((d.replace(day=1)-datetime.timedelta(days=1)).strftime("%Y-%m"))' "$(localday)")
poll 20 test -s "$REPORTS/$PREV_MONTH/unit-$UNIT_ID.csv" || true
check "3. the monthly timer has run for $PREV_MONTH: report.monthly (R-RS7) with its files" \
	aq "[x for x in d['records'] if x['action'] == 'report.monthly' and x['detail']['month'] == '$PREV_MONTH' and x['rule'] == 'R-RS7'] or 1/0"
check "3. ... $REPORTS/$PREV_MONTH/unit-$UNIT_ID.{json,csv,html} written, their SHA-256 as audited" \
	python3 - "$T/audit.json" "$PREV_MONTH" <<'EOF'
import hashlib, json, sys
recs = [x for x in json.load(open(sys.argv[1]))["records"] if x["action"] == "report.monthly" and x["detail"]["month"] == sys.argv[2]]
files = [f for r in recs for f in r["detail"]["files"]]
assert len(files) >= 3, files
for f in files:
    assert hashlib.sha256(open(f["path"], "rb").read()).hexdigest() == f["sha256"], f
EOF
check "3. ... nothing announced for systems in trial (no rightsize.recommended)" \
	aq '[x for x in d["records"] if x["action"] == "rightsize.recommended"] == [] or 1/0'

# ------------------------------------------- 4. live: the month's run ----

golive() {
	local p k
	for p in tenant provider authority; do
		k=$TENANT_KEY
		[[ $p == provider ]] && k=$PROVIDER_KEY
		[[ $p == authority ]] && k=$AUTHORITY_KEY
		run_gcctl "$p" "$T/golive-$p.out" sheet sign "$1" --party "$p" --key "$k"
		[[ $RC == 0 ]] || { cat "$T/golive-$p.out"; return 1; }
	done
}
check "4. the go-live sheet signed by the three parties" golive "$GOLIVE"
is "4. 协同办公OA is active" "$(system_state "$SID")" active

# The current month: at least 8 of its days past, all of them with samples.
TODAY=$(localday)
read -r M_FIRST M_DAY <<<"$(python3 -c 'import datetime,sys; d=datetime.date.fromordinal(datetime.date(1970,1,1).toordinal()+int(sys.argv[1])); print(int(sys.argv[1]) - d.day + 1, d.day)' "$TODAY")"
if [[ $M_DAY -lt 9 ]]; then
	advance "$((9 - M_DAY))d" $(((9 - M_DAY) * DAY))
	TODAY=$(localday)
fi
MONTH=$(python3 -c 'import datetime,sys; print(datetime.date.fromordinal(datetime.date(1970,1,1).toordinal()+int(sys.argv[1])).strftime("%Y-%m"))' "$TODAY")
FROM=$((D0 + 20))
[[ $FROM -ge $M_FIRST ]] || FROM=$M_FIRST
samples_from "$D0" "$FROM" "$((TODAY - 1))" "$T/month.csv"
run_gcctl provider "$T/import3.out" metrics import "$T/month.csv" --json
check "4. the month so far imported ($MONTH, from day $((FROM - M_FIRST + 1)))" test "$RC" = 0
NEXT_FIRST=$(python3 -c 'import datetime,sys; d=datetime.date.fromordinal(datetime.date(1970,1,1).toordinal()+int(sys.argv[1])); n=(d.replace(day=28)+datetime.timedelta(days=4)).replace(day=1); print((n-datetime.date(1970,1,1)).days)' "$TODAY")
# To 01:00 on the 1st of the next month, +08:00.
TARGET=$((NEXT_FIRST * DAY - 8 * 3600 + 3600))
mark
advance "$((TARGET - $(clock)))s" $((TARGET - $(clock)))
rec_event() { [[ $(hook_events rightsize.recommended) != "[]" ]]; }
poll 30 rec_event || true
check "4. on the 1st the timer's run announces 协同办公OA's recommendations for $MONTH (rightsize.recommended)" \
	after_mark "[x for x in r if x['action'] == 'rightsize.recommended' and x['detail']['system'] == $SID and x['detail']['period'] == '$MONTH'] or 1/0"
check "4. ... and one report.monthly per unit with VMs (R-RS7)" \
	after_mark "[x['detail']['unit'] for x in r if x['action'] == 'report.monthly'] == ['$UNIT'] or 1/0"
hook_events rightsize.recommended >"$T/hook-rec.json"
check "4. the webhook receiver got the event: period, system, resize entries for a change request" \
	jget "$T/hook-rec.json" "(lambda e: e['period'] == '$MONTH' and e['system_id'] == $SID and sorted(sorted(x.items()) for x in e['resize']) == sorted(sorted(x.items()) for x in [
	{'name': '$UNIT协同办公OA应用服务器1', 'vcpus': 1, 'memory_gib': 2},
	{'name': '$UNIT协同办公OA应用服务器2', 'vcpus': 12, 'memory_gib': 16},
	{'name': '$UNIT协同办公OA数据库服务器1', 'data_disk_gib': 1000}]) or 1/0)(d[-1])"
check "4. ... signed with the service key over the exact body (openssl)" event_verified rightsize.recommended

# ------------------------------------------------- 5. the report ----

run_gcctl tenant "$T/report.json" report monthly --unit "$UNIT" --month "$MONTH" --format json
check "5. gcctl report monthly --format json (the tenant, its unit)" test "$RC" = 0
rq() { jget "$T/report.json" "(lambda s: $1)([s for s in d['systems'] if s['name'] == '协同办公OA'][0])"; }
rv() { jget "$T/report.json" "(lambda v: $2)([v for s in d['systems'] for v in s['vms'] if v['name'] == '$UNIT协同办公OA$1'][0])"; }
is "5. 应用服务器1: CPU average and peak, memory, idle, rules" \
	"$(rv 应用服务器1 '[v["cpu"]["avg"], v["cpu"]["peak"], v["memory"]["avg"], v["idle"], v["rules"], v["recommendation"]["vcpus"]["after"], v["recommendation"]["memory_gib"]["after"]]')" \
	'[9.92, 54, 12, true, ["R-RS1", "R-RS2", "R-RS7"], 1, 2]'
is "5. 应用服务器2: 75 % CPU -> 12 vCPUs (R-RS3), 72 % memory -> 16 GiB (R-RS4); no disk data: null" \
	"$(rv 应用服务器2 '[v["cpu"]["avg"], v["recommendation"]["vcpus"]["after"], v["recommendation"]["memory_gib"]["after"], v["disk"], v["idle"]]')" \
	'[75, 12, 16, null, false]'
is "5. 数据库服务器1: disk trend half a point a day, linear, data disk 500 -> 1000 GiB (R-RS5)" \
	"$(rv 数据库服务器1 '[v["disk"]["slope"], v["disk"]["linear"], v["recommendation"]["data_disk_gib"]["before"], v["recommendation"]["data_disk_gib"]["after"], v["recommendation"]["data_disk_gib"]["rule"]]')" \
	'[0.5, true, 500, 1000, "R-RS5"]'
is "5. 前置机1: skipped at the platform's smallest flavour (R-RS6), idle" \
	"$(rv 前置机1 '[v["recommendation"]["vcpus"], [s["dimension"] for s in v["recommendation"]["skipped"]], v["idle"]]')" \
	'[null, ["vcpus", "memory_gib"], true]'
is "5. the system's totals: 4 VMs, 17 vCPUs -> 22, 33 GiB -> 35, 2 idle" \
	"$(rq '[s["totals"]["vms"], s["totals"]["vcpus"], s["totals"]["after"]["vcpus"], s["totals"]["memory_gib"], s["totals"]["after"]["memory_gib"], s["totals"]["idle"]]')" \
	"[4, 17, 22, 33, 35, 2]"
DUE=$(python3 -c 'import datetime,sys; d=datetime.date.fromordinal(719163+int(sys.argv[1])); n=(d.replace(day=28)+datetime.timedelta(days=4)).replace(day=5); print(n)' "$((NEXT_FIRST - 1))")
is "5. due by the 5th of the next month: the earliest day the unit's packs set (Zhumadian, Z20)" \
	"$(jget "$T/report.json" 'd["due"]')" "$DUE"
is "5. 一网通办 on $LPOOL: Lu'an sets no bands: no recommendation" \
	"$(jget "$T/report.json" '[(s["bands"]["regulated"], sum(1 for v in s["vms"] for k in ("vcpus", "memory_gib", "data_disk_gib") if v["recommendation"].get(k))) for s in d["systems"] if s["name"] == "一网通办"]')" \
	'[[false, 0]]'
run_gcctl provider "$T/report.csv" report monthly --unit "$UNIT" --month "$MONTH" --format csv
check "5. --format csv: a row per VM with its recommendation and rules, system and unit totals" \
	python3 - "$T/report.csv" "$UNIT" <<'EOF'
import csv, io, sys
rows = list(csv.DictReader(io.StringIO(open(sys.argv[1], encoding="utf-8-sig").read())))
vm = {r["vm"]: r for r in rows if r["vm"]}
app1 = vm[sys.argv[2] + "协同办公OA应用服务器1"]
assert app1["recommended_vcpus"] == "1" and app1["idle"] == "true" and "R-RS1" in app1["rules"], app1
assert vm[sys.argv[2] + "协同办公OA数据库服务器1"]["recommended_disk"] == "data_disk_gib=1000", vm
assert vm[sys.argv[2] + "协同办公OA应用服务器2"]["disk_usage"] == "", "a gap is empty, not 0"
assert any(r["role"] == "unit total" for r in rows) and sum(r["role"] == "system total" for r in rows) == 3, rows
EOF
run_gcctl provider "$T/report.html" report monthly --unit "$UNIT" --month "$MONTH" --format html
check "5. --format html: a page naming every VM, the bands' rules and 闲置" \
	bash -c 'grep -q "<html" "$1" && grep -q "应用服务器1" "$1" && grep -q "R-RS5" "$1" && grep -q 闲置 "$1"' _ "$T/report.html"
run_gcctl provider "$T/report.txt" report monthly --unit "$UNIT" --month "$MONTH"
check "5. the table: each VM with its recommendation" \
	bash -c '[[ $1 == 0 ]] && grep -q 数据库服务器1 "$2" && grep -q 1000 "$2"' _ "$RC" "$T/report.txt"
api tenant GET "/v1/reports/monthly?unit=$(urlencode 市yy局)&month=$MONTH"
is "5. a tenant asking for another unit gets its own" "$STATUS $(jget "$BODY" 'd["unit"]')" "200 $UNIT"
check "5. the timer's files for $MONTH exist: json, csv, html" \
	test -s "$REPORTS/$MONTH/unit-$UNIT_ID.json" -a -s "$REPORTS/$MONTH/unit-$UNIT_ID.csv" -a -s "$REPORTS/$MONTH/unit-$UNIT_ID.html"
run_gcctl provider "$T/recs.out" recommendations list --system "$SID" --period "$MONTH" --json
check "5. gcctl recommendations list: the four VMs of $MONTH" \
	jget "$T/recs.out" 'len(d["recommendations"]) == 4 or 1/0'

# ------------------------------- 6. back as an ordinary change (R-RQ3) ----

RESIZE=$(jget "$T/hook-rec.json" 'd[-1]["resize"]')
sign_now "$SAMPLES/change-resize-add.json" "$T/change.json" --set=approval.id=OA-U-0101 \
	--set="reason=月度资源使用评估建议($MONTH)" --set-json=resize="$RESIZE" --set-json=add='[]'
submit "$T/change.json"
check "6. the approved recommendation comes back as a change request: accepted (201)" want 201
sign_now "$SAMPLES/change-resize-add.json" "$T/change2.json" --set=approval.id=OA-U-0102 \
	--set-json=resize="[{\"name\": \"$APP1\", \"vcpus\": 2}]" --set-json=add='[]'
submit "$T/change2.json"
is "6. a second change in the same month is refused: R-RQ3 holds" \
	"$STATUS $(jget "$BODY" 'd["error"]["rule"]')" "422 R-RQ3"

# ------------------------------------------- 7. a year and more later ----

advance 402d $((402 * DAY))
poll 20 test "$(dbq 'SELECT COUNT(*) FROM metric_batches')" = 0 || true
is "7. 402 days on, the monthly run has forgotten the batches' digests" "$(dbq 'SELECT COUNT(*) FROM metric_batches')" 0
run_gcctl provider "$T/import-old.out" metrics import "$T/trial.csv"
check "7. ... and the trial's file sent again is refused, its samples older than 400 days: nothing counted twice" \
	bash -c '[[ $1 != 0 ]] && grep -q "older than 400 days" "$2"' _ "$RC" "$T/import-old.out"

check "gcctl audit verify: the chain holds" gcctl_as authority audit verify
finish
