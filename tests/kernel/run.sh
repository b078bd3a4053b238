#!/bin/bash
# The kernel tier: behaviour tests against the real ublk_drv.
#
# Usage: run.sh [NAME_PATTERN]
#
# Runs every test_* function in cases/*.sh (or those whose name matches the
# grep pattern), each in its own bash with a time limit, then checks that it
# left no device, server process or state file behind. Needs root and
# /dev/ublk-control; `ublk` must be on PATH. tests/vm/kernel-tier.sh runs this
# natively or inside the test VM. Ends with "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
pattern=${1:-.}
limit=${UBLK_TEST_TIMEOUT:-300}

if [[ ! -e /dev/ublk-control || $(id -u) != 0 ]]; then
	echo "run.sh: needs root and /dev/ublk-control" >&2
	exit 77
fi
echo "kernel $(uname -r), $(nproc) CPU(s), $(command -v ublk)"

# Servers run in the background and log to syslog: keep their log so that a
# failing test can show it.
syslog=/tmp/ublk-tests-syslog
if ! pgrep -x syslogd >/dev/null && command -v syslogd >/dev/null; then
	syslogd -O "$syslog" 2>/dev/null || true
fi

tests=$(for f in "$here"/cases/*.sh; do grep -oE '^test_[a-z0-9_]+' "$f"; done |
	grep -E -- "$pattern")
passed=0 failed=0 failures=''
log=$(mktemp)
for t in $tests; do
	start=$SECONDS
	timeout -k 5 "$limit" bash -c 'source "$1/lib.sh"; for f in "$1"/cases/*.sh; do source "$f"; done; set -e; "$2"' \
		_ "$here" "$t" >"$log" 2>&1
	rc=$?
	[[ $rc != 124 ]] || echo "TIMEOUT after $limit s" >>"$log"
	leftovers=$(bash -c 'source "$1/lib.sh"; cleanup_everything' _ "$here" 2>&1)
	if [[ $rc == 0 && -n $leftovers ]]; then
		echo "left behind: $leftovers" >>"$log"
		rc=1
	fi
	if [[ $rc == 0 ]]; then
		passed=$((passed + 1))
		echo "PASS $t ($((SECONDS - start)) s)"
	else
		failed=$((failed + 1))
		failures+=" $t"
		echo "FAIL $t ($((SECONDS - start)) s, exit $rc)"
		sed 's/^/    | /' "$log" | tail -n 60
		if [[ -f $syslog ]]; then
			echo "    server log:"
			grep ublk-server "$syslog" | tail -n 15 | sed 's/^/    | /'
		fi
	fi
done
rm -f "$log"
[[ -z $failures ]] || echo "failed:$failures"
echo "$passed passed, $failed failed"
[[ $failed == 0 && $passed -gt 0 ]]
