#!/usr/bin/env bash
# tests/unit/sheet-render.sh - the printable sheet (sheet_html) as a browser
# shows and prints it: each fixture bundle in tests/unit/data is rendered to
# HTML by sheet-html-tool, then by headless Chromium to a PDF and a PNG. The
# PDF must be A4 and its text (pdftotext) must hold the title, the unit, every
# VM's name and address, the change labels, the three parties and every
# signer's key fingerprint; the PNG must have ink (png-ink.py). Skips (77)
# where Chromium or poppler-utils or the CJK fonts are not installed. Every
# Chromium run is bounded by timeout.
# shellcheck disable=SC2317 # the helpers run through check (lib-tap.sh)
set -uo pipefail

SRC=${GC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${GC_BUILDDIR:-$SRC/build}
TOOL=${SHEET_HTML_TOOL:-$BUILD/tests/unit/sheet-html-tool}
DATA=$SRC/tests/unit/data
PNG_INK=$SRC/tests/unit/png-ink.py

RENDER_NAME=sheet-render
# shellcheck source=tests/unit/lib-render.sh
. "$SRC/tests/unit/lib-render.sh"

# What the fixture says must be on the page, one string a line:
#   short  strings that fit on a line of `pdftotext -layout`: the unit, the
#          system, every VM's address
#   long   strings a table cell may wrap (VM names, fingerprints), looked up
#          in `pdftotext -raw` (text in reading order) with all white space
#          removed
#   rows   each VM's row, cell after cell, the same way: the name, the
#          figures and (change) the label 核增/核减/释放/新增 together
wanted() {
	python3 - "$1" "$2" <<-'EOF'
		import json, sys
		bundle = json.load(open(sys.argv[1], encoding="utf-8"))
		doc = json.loads(bundle["document"])
		short, long, rows = [doc["system"]["unit"], doc["system"]["name"]], [], []
		dash = "—"
		def cell(o, k, unit=""):
		    return dash if o is None else "%s%s" % (o[k], unit)
		if doc["kind"] == "golive":
		    for i, vm in enumerate(doc["vms"], 1):
		        long.append(vm["name"])
		        short.extend(vm["addresses"])
		        rec, gl = vm["recommended"], vm["golive"]
		        rows.append("".join([str(i), vm["name"], vm["role"], "".join(vm["addresses"]),
		            "、".join(map(str, vm["special_ports"])) or dash, vm["arch"],
		            *(str(vm[k]) for k in ("vcpus", "memory_gib", "system_disk_gib", "data_disk_gib")),
		            dash if rec is None else "%s核/%sG" % (rec["vcpus"], rec["memory_gib"]),
		            "%s核/%sG系统盘%sG数据盘%sG" % (
		                gl["vcpus"], gl["memory_gib"], gl["system_disk_gib"], gl["data_disk_gib"])]))
		else:
		    labels = {"add": "核增", "reduce": "核减", "release": "释放", "adjust": "调整", "create": "新增"}
		    for i, c in enumerate(doc["changes"], 1):
		        b, a = c["before"], c["after"]
		        long.append(c["name"])
		        short.extend(side["address"] for side in (b, a) if side)
		        cells = [str(i), (a or b)["address"], c["name"]]
		        for k, unit in (("vcpus", "核"), ("memory_gib", ""), ("system_disk_gib", ""), ("data_disk_gib", "")):
		            cells += [cell(b, k, unit), cell(a, k, unit)]
		        rows.append("".join(cells + [labels[c["action"]]]))
		long.extend(s["fingerprint"] for s in bundle["signatures"])
		assert len(rows) >= 3 and len(bundle["signatures"]) >= 2, "a fixture with fewer than 3 VMs or 2 signatures"
		print("\n".join({"short": short, "long": long, "rows": rows}[sys.argv[2]]))
	EOF
}

PARTIES=('使用单位（甲方）' '云服务商（乙方）' '管理单位（丙方）')

for kind in golive change; do
	bundle=$DATA/sheet-$kind.json
	html=$T/$kind.html pdf=$T/$kind.pdf png=$T/$kind.png
	# shellcheck disable=SC2016 # expanded by the inner bash
	check "$kind: sheet-html-tool renders the bundle" bash -c '"$1" "$2" >"$3" && [[ -s $3 ]]' _ "$TOOL" "$bundle" "$html"

	if run_chromium "$html" --print-to-pdf="$pdf" && is_pdf "$pdf" >/dev/null; then
		pass "$kind: chromium prints it to PDF"
	else
		fail "$kind: chromium prints it to PDF"
		show_chromium_log
	fi
	# shellcheck disable=SC2016 # expanded by the inner bash
	check "$kind: the PDF is A4 portrait" bash -c 'pdfinfo "$1" | grep -E "^Page size: +59[45](\.[0-9]+)? x 84[12](\.[0-9]+)? pts"' _ "$pdf"
	pdftotext -layout "$pdf" "$T/$kind.layout.txt" 2>/dev/null || : >"$T/$kind.layout.txt"
	pdftotext -raw "$pdf" - 2>/dev/null | tr -d ' \t\n\r\f' >"$T/$kind.flat.txt"

	case $kind in
	golive)
		title=政务云资源开通三方确认单
		check "$kind: PDF has the billing start (R-LC3)" has "$T/$kind.layout.txt" '自三方确认之日起计费（R-LC3）'
		check "$kind: PDF says the authority has not signed" has "$T/$kind.layout.txt" '（未签署）'
		check "$kind: PDF has the status line" has "$T/$kind.layout.txt" '待签署：管理单位（丙方）'
		;;
	change)
		title=政务云资源变更确认单
		check "$kind: PDF has the before/after columns" has_all "$T/$kind.layout.txt" <<<$'变更前\n变更后'
		check "$kind: PDF says the sheet is complete" has "$T/$kind.layout.txt" '已完成三方确认'
		;;
	esac
	check "$kind: PDF has the title $title" has "$T/$kind.layout.txt" "$title"
	check "$kind: PDF has the unit, the system and every VM's address" has_all "$T/$kind.layout.txt" < <(wanted "$bundle" short)
	check "$kind: PDF has every VM's name and every signer's fingerprint" has_all "$T/$kind.flat.txt" < <(wanted "$bundle" long)
	n=0
	while IFS= read -r row; do
		n=$((n + 1))
		if [[ $kind == change ]]; then
			what="row $n of the change table, every cell and its 核增/核减/释放/新增 label"
		else
			what="row $n of the VM table, every cell"
		fi
		check "$kind: PDF has $what" has "$T/$kind.flat.txt" "$row"
	done < <(wanted "$bundle" rows)
	[[ $n -ge 3 ]] || fail "$kind: the fixture has rows to look for"
	for p in "${PARTIES[@]}"; do
		check "$kind: PDF has the party $p" has "$T/$kind.layout.txt" "$p"
	done

	if run_chromium "$html" --screenshot="$png" --window-size=1240,1754 && is_png "$png" >/dev/null; then
		pass "$kind: chromium takes a screenshot"
	else
		fail "$kind: chromium takes a screenshot"
		show_chromium_log
	fi
	if ink=$(python3 "$PNG_INK" "$png" 2>&1); then
		pass "$kind: the screenshot has ink"
		note "$ink"
	else
		fail "$kind: the screenshot has ink"
		printf '    # %s\n' "$ink"
	fi
done

# The ink check itself can fail: a page with nothing on it is blank.
printf '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>x</title></head><body></body></html>\n' >"$T/blank.html"
if run_chromium "$T/blank.html" --screenshot="$T/blank.png" --window-size=1240,1754 && is_png "$T/blank.png" >/dev/null; then
	refute "png-ink.py finds a blank page blank" python3 "$PNG_INK" "$T/blank.png"
else
	fail "chromium takes a screenshot of a blank page"
	show_chromium_log
fi
refute "png-ink.py refuses what is not a PNG" python3 "$PNG_INK" "$T/golive.html"

echo "1..$N"
[[ $FAILS -eq 0 ]] || { echo "# $FAILS of $N failed"; exit 1; }
exit 0
