# shellcheck shell=bash
# tests/unit/lib-render.sh - sourced by the scripts that print a page with
# headless Chromium (sheet-render.sh, report-render.sh): the skip where
# Chromium, poppler-utils or the CJK fonts are missing, a temporary
# directory, one bounded Chromium run, and checks on the files it makes.
# Set SRC, TOOL and RENDER_NAME (the temporary directory's name) first.

# shellcheck source=tests/lib-tap.sh
. "$SRC/tests/lib-tap.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $CHROMIUM ]] || ! command -v pdftotext >/dev/null || ! command -v pdfinfo >/dev/null; then
	echo '1..0 # SKIP chromium not installed (apt-get install chromium poppler-utils fonts-noto-cjk)'
	exit 77
fi
if ! fc-list ':lang=zh' family 2>/dev/null | grep -q 'Noto Sans CJK SC\|Noto Serif CJK SC'; then
	echo '1..0 # SKIP no CJK font (apt-get install fonts-noto-cjk)'
	exit 77
fi
[[ -x $TOOL ]] || bail "no $TOOL (build it: ninja ${TOOL#"$BUILD"/})"

T=$(mktemp -d "${TMPDIR:-/tmp}/gc-test-$RENDER_NAME.XXXXXX")
# shellcheck disable=SC2034 # read by lib-tap.sh
TAP_TMP=$T
trap 'rm -rf -- "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_chromium HTML OPTION...: one headless run with a fresh profile and
# home, nothing fetched from the network; its output goes to $T/chromium.log
# (the last run's only).
run_chromium() {
	local html=$1 profile rc
	shift
	profile=$(mktemp -d "$T/profile.XXXXXX")
	HOME=$profile XDG_CONFIG_HOME=$profile XDG_CACHE_HOME=$profile \
		timeout -k 10 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-background-networking --disable-component-update --disable-sync \
		--no-first-run --no-pdf-header-footer --user-data-dir="$profile" \
		"$@" "file://$html" >"$T/chromium.log" 2>&1
	rc=$?
	[[ $rc -eq 0 ]] || echo "chromium $* $html: exit $rc (124: timed out)" >>"$T/chromium.log"
	return $rc
}

# has FILE TEXT: FILE holds TEXT (fixed string)
has() { grep -qF -- "$2" "$1" || { echo "lacks: $2"; return 1; }; }
# has_all FILE < lines: every line is in FILE
has_all() {
	local f=$1 line miss=0
	while IFS= read -r line; do
		[[ -n $line ]] || continue
		grep -qF -- "$line" "$f" || { echo "lacks: $line"; miss=1; }
	done
	return "$miss"
}
is_pdf() { [[ $(head -c 5 "$1" 2>/dev/null) == %PDF- ]] || { echo "$1 is not a PDF"; return 1; }; }
is_png() { [[ $(head -c 8 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || { echo "$1 is not a PNG"; return 1; }; }
# the last run's output, without the complaints about the missing D-Bus
show_chromium_log() { grep -v 'dbus' "$T/chromium.log" | tail -n 15 | sed 's/^/    # chromium: /'; }
