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

# Sanitizer builds (ASan+UBSan): every report goes to a file here instead of
# stderr (where it would upset the tests' one-line checks), and a report fails
# the test during which it appeared. Harmless for a normal build. The folder
# is world-writable for the tests that run `ublk` as nobody.
san_dir=/tmp/ublk-sanitizer
rm -rf "$san_dir"
mkdir -p "$san_dir"
chmod 1777 "$san_dir"
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:log_path=$san_dir/asan}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:log_path=$san_dir/ubsan}
export LSAN_OPTIONS=${LSAN_OPTIONS:-log_path=$san_dir/lsan}
# sanitizer_reports: prints and removes the reports written so far.
sanitizer_reports() {
	local r
	for r in "$san_dir"/*; do
		[[ -s $r ]] || continue
		echo "sanitizer report ${r##*/}:"
		head -n 40 "$r"
		rm -f "$r"
	done
}

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
	reports=$(sanitizer_reports)
	if [[ -n $reports ]]; then
		echo "$reports" >>"$log"
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
# Reports from processes that outlived their test (a server still exiting).
reports=$(sleep 1; sanitizer_reports)
if [[ -n $reports ]]; then
	echo "FAIL sanitizer reports after the last test"
	echo "$reports" | sed 's/^/    | /'
	failed=$((failed + 1))
	failures+=" (sanitizer)"
fi
[[ -z $failures ]] || echo "failed:$failures"
echo "$passed passed, $failed failed"
[[ $failed == 0 && $passed -gt 0 ]]
