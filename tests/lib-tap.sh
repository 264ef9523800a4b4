# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# TAP output for the test scripts: source it, set TAP_TMP to a scratch
# directory before the first check, print the plan ("1..$N") at the end and
# fail when FAILS is not 0.

N=0
FAILS=0
pass() { N=$((N + 1)); printf 'ok %d - %s\n' "$N" "$*"; }
fail() { N=$((N + 1)); FAILS=$((FAILS + 1)); printf 'not ok %d - %s\n' "$N" "$*"; }
note() { printf '# %s\n' "$*"; }
bail() {
	fail "$*"
	printf 'Bail out! %s\n' "$*"
	exit 1
}
# check DESCRIPTION COMMAND...: pass when COMMAND succeeds; otherwise show its output.
check() {
	local desc=$1
	shift
	if "$@" >"${TAP_TMP:?}/check.out" 2>&1; then
		pass "$desc"
	else
		fail "$desc"
		sed 's/^/    # /' "$TAP_TMP/check.out" | head -n 30
	fi
}
# refute DESCRIPTION COMMAND...: pass when COMMAND fails.
refute() {
	local desc=$1
	shift
	if "$@" >"${TAP_TMP:?}/check.out" 2>&1; then
		fail "$desc (it succeeded)"
		sed 's/^/    # /' "$TAP_TMP/check.out" | head -n 30
	else
		pass "$desc"
	fi
}
# is DESCRIPTION GOT WANT
is() {
	if [[ $2 == "$3" ]]; then
		pass "$1"
	else
		fail "$1"
		printf '    # got:  %s\n    # want: %s\n' "$2" "$3"
	fi
}
