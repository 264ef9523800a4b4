#!/usr/bin/env bash
# gcctl's command line: help on every level, usage errors, version.
set -euo pipefail
: "${GCCTL:?}"
fails=0
ok()  { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

expect() {  # expect RC PATTERN ARGS...
        local want=$1 pat=$2; shift 2
        local out rc
        set +e; out=$("$GCCTL" "$@" 2>&1); rc=$?; set -e
        if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" <<<"$out"; then ok "gcctl $* -> $rc"
        else bad "gcctl $*: exit $rc (want $want), output: $out"; fi
}

expect 0 '^gcctl [0-9]+\.[0-9]+' --version
expect 0 'Commands:' --help
expect 0 'policy +check and explain' help
expect 2 'Commands:'                                    # no verb: usage, exit 2
expect 2 "unknown command 'nope'" nope
expect 2 "unknown option '--bogus'" --bogus
expect 0 'check +validate policy packs' policy --help
expect 0 'Usage: gcctl policy check' policy check --help
expect 0 'Usage: gcctl policy explain' policy explain --help
expect 2 'no FILE given' policy check
expect 2 'exactly one FILE' policy explain
expect 2 "unknown or needs a value" policy check --frobnicate x
expect 0 'Commands:' doc --help
for v in canon digest sign verify fingerprint; do
        expect 0 "Usage: gcctl doc $v" doc "$v" --help
done

expect 0 'sheet +tri-party confirmation sheets' --help
expect 0 'Commands:' sheet --help
for v in list show sign export verify html; do
        expect 0 "Usage: gcctl sheet $v" sheet "$v" --help
done
expect 0 'Commands:' audit --help
for v in list checkpoints checkpoint countersign export verify; do
        expect 0 "Usage: gcctl audit $v" audit "$v" --help
done
expect 0 'extend-trial +extend the trial' system --help
expect 0 'Usage: gcctl system extend-trial' system extend-trial --help
expect 0 'revoke +revoke a party' key --help
expect 0 'Usage: gcctl key revoke' key revoke --help
# A missing operand or required option is a usage error before any connection.
expect 2 'missing ID' sheet show
expect 2 'missing ID' sheet sign --party tenant --key k.pem
expect 2 'missing ID' sheet export
expect 2 'missing FILE' sheet verify
expect 2 'missing ID or FILE' sheet html
expect 2 '--key KEY.pem is required' sheet sign 7 --party tenant
expect 2 '--key KEY.pem is required' audit countersign
expect 2 'unexpected operand' audit checkpoints 3
expect 2 'missing ID' system extend-trial --length 5 --approval x
expect 2 'missing ID' key revoke --reason x
expect 2 "unknown command 'nope'" sheet nope
expect 0 'tunnel +operations tunnels' --help
for v in submit list show close connect; do
        expect 0 "Usage: gcctl tunnel $v" tunnel "$v" --help
done
expect 2 'missing ID' tunnel connect --token-file t
expect 2 '--listen and --stdio: give one of them' tunnel connect 7 --token-file t --listen 0 --stdio
expect 0 'metrics +utilization samples' --help
expect 0 'report +the monthly utilization report' --help
expect 0 'recommendations +rightsizing recommendations' --help
expect 0 'Usage: gcctl metrics import' metrics import --help
expect 0 'Usage: gcctl report monthly' report monthly --help
expect 0 'Usage: gcctl report run' report run --help
expect 0 'Usage: gcctl recommendations list' recommendations list --help
expect 2 'missing FILE' metrics import
expect 2 '--month YYYY-MM is required' report monthly --unit x
expect 2 '--month YYYY-MM is required' report run

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
