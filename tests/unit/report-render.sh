#!/usr/bin/env bash
# tests/unit/report-render.sh - the monthly utilization report's page
# (report_html, R-RS7) as a browser prints and shows it: the fixture model
# tests/unit/data/report-monthly.json is rendered to HTML by report-tool, then
# by headless Chromium to a PDF and a PNG, as sheet-render.sh does. The PDF
# must be A4 landscape with each system on a page of its own, and its text
# (pdftotext) must hold the title, the unit, the month, the period and the due
# date, every VM's name, the idle flag 闲置 and the bands' rule ids (R-RS1,
# R-RS5, ...), and "无数据" for the VM without samples; the PNG must have ink
# (png-ink.py). Skips (77) where Chromium or poppler-utils or the CJK fonts are
# not installed. Every Chromium run is bounded by timeout.
# shellcheck disable=SC2317 # the helpers run through check (lib-tap.sh)
set -uo pipefail

SRC=${GC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${GC_BUILDDIR:-$SRC/build}
TOOL=${REPORT_TOOL:-$BUILD/tests/unit/report-tool}
MODEL=$SRC/tests/unit/data/report-monthly.json
PNG_INK=$SRC/tests/unit/png-ink.py

RENDER_NAME=report-render
# shellcheck source=tests/unit/lib-render.sh
. "$SRC/tests/unit/lib-render.sh"

# What the model says must be on the page: "short" strings fit on a line of
# `pdftotext -layout`; "long" ones (VM names a table cell may wrap) are
# looked up in `pdftotext -raw` with all white space removed; "systems" are
# the systems' headings, in order.
wanted() {
	python3 - "$1" "$2" <<-'EOF'
		import json, sys
		m = json.load(open(sys.argv[1], encoding="utf-8"))
		numerals = "一二三四五六七八九"
		out = {
		    "short": [m["unit"], m["month"], m["due"], m["period"]["first"], m["period"]["last"]]
		             + [s["name"] for s in m["systems"]],
		    "long": [vm["name"] for s in m["systems"] for vm in s["vms"]],
		    "systems": ["%s、%s" % (numerals[i], s["name"]) for i, s in enumerate(m["systems"])],
		    "idle": [vm["name"] + "闲置R-RS7" for s in m["systems"] for vm in s["vms"] if vm["idle"]],
		}[sys.argv[2]]
		assert len(m["systems"]) >= 2 and sum(len(s["vms"]) for s in m["systems"]) >= 3, "a fixture too small"
		print("\n".join(out))
	EOF
}

# page_of PDF TEXT: the first page whose text holds TEXT (white space removed), 0 if none.
page_of() {
	local pdf=$1 text=$2 pages p
	pages=$(pdfinfo "$pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')
	for ((p = 1; p <= ${pages:-0}; p++)); do
		if pdftotext -f "$p" -l "$p" -raw "$pdf" - 2>/dev/null | tr -d ' \t\n\r\f' | grep -qF -- "$text"; then
			echo "$p"
			return
		fi
	done
	echo 0
}

html=$T/report.html pdf=$T/report.pdf png=$T/report.png
# shellcheck disable=SC2016 # expanded by the inner bash
check "report-tool renders the model" bash -c '"$1" html "$2" >"$3" && [[ -s $3 ]]' _ "$TOOL" "$MODEL" "$html"

if run_chromium "$html" --print-to-pdf="$pdf" && is_pdf "$pdf" >/dev/null; then
	pass "chromium prints it to PDF"
else
	fail "chromium prints it to PDF"
	show_chromium_log
fi
# shellcheck disable=SC2016 # expanded by the inner bash
check "the PDF is A4 landscape" bash -c 'pdfinfo "$1" | grep -E "^Page size: +84[12](\.[0-9]+)? x 59[45](\.[0-9]+)? pts"' _ "$pdf"
pdftotext -layout "$pdf" "$T/layout.txt" 2>/dev/null || : >"$T/layout.txt"
pdftotext -raw "$pdf" - 2>/dev/null | tr -d ' \t\n\r\f' >"$T/flat.txt"

check "PDF has the title" has "$T/layout.txt" '政务云资源月度使用情况表'
check "PDF has the unit, the month, the period, the due date and the systems" \
	has_all "$T/layout.txt" < <(wanted "$MODEL" short)
check "PDF has every VM's name" has_all "$T/flat.txt" < <(wanted "$MODEL" long)
check "PDF flags the idle VM over its chart (闲置, R-RS7)" has_all "$T/flat.txt" < <(wanted "$MODEL" idle)
is "PDF flags no other VM" "$(grep -o '闲置R-RS7' "$T/flat.txt" | wc -l)" "$(wanted "$MODEL" idle | wc -l)"
check "PDF has the bands' rule ids" has_all "$T/flat.txt" <<<$'R-RS1×0.25\nR-RS1×0.5\nR-RS3×3\nR-RS4×2\nR-RS5×2\nR-RS1\nR-RS5'
check "PDF says 无数据 for the VM without samples" has "$T/flat.txt" '无数据：本月无采样'
check "PDF says the Lu'an pack has no bands" has "$T/flat.txt" '未规定使用率调整档位'

# Each system on its own page, after the summary's.
prev=$(page_of "$pdf" '政务云资源月度使用情况表')
is "the title is on page 1" "$prev" 1
while IFS= read -r heading; do
	p=$(page_of "$pdf" "$heading")
	if [[ $p -gt $prev ]]; then
		pass "$heading begins a later page ($p)"
	else
		fail "$heading begins a later page"
		printf '    # on page %s, the one before on page %s\n' "$p" "$prev"
	fi
	prev=$p
done < <(wanted "$MODEL" systems)

if run_chromium "$html" --screenshot="$png" --window-size=1754,1240 && is_png "$png" >/dev/null; then
	pass "chromium takes a screenshot"
else
	fail "chromium takes a screenshot"
	show_chromium_log
fi
if ink=$(python3 "$PNG_INK" "$png" 2>&1); then
	pass "the screenshot has ink"
	note "$ink"
else
	fail "the screenshot has ink"
	printf '    # %s\n' "$ink"
fi

echo "1..$N"
[[ $FAILS -eq 0 ]] || { echo "# $FAILS of $N failed"; exit 1; }
exit 0
