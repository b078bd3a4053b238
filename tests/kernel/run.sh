#!/bin/bash
# The kernel tier: behaviour tests against the real ublk_drv.
#
# Usage: run.sh [NAME_PATTERN]
#
# Runs every test_* function in cases/*.sh (or those whose name matches the
# grep pattern), each in its own bash with a time limit, then checks that it
# left no device, server process or state file behind. Needs root and
# /dev/ublk-control; `ublk` must be on PATH. tests/vm/kernel-tier.sh runs this
# natively or inside the test VM. Ends with "N passed, N failed, N skipped".
#
# A test that cannot run here calls skip (lib.sh) and is reported as
# "SKIP name (reason)"; what it left behind still fails it. The file
# expected-skips names, per kernel, the tests that may skip there and why.
# With UBLK_TEST_STRICT_SKIPS=1 (tests/vm/kernel-tier.sh sets it when
# CI=true) a skip that file does not list for the running kernel fails the
# test; an expected skip that runs after all is fine.
#
# UBLK_TEST_ONLY=PATTERN runs only the tests whose names match it (a grep -E
# pattern, besides NAME_PATTERN): a shorter tier, for the sanitizer run in CI.
# UBLK_TEST_EXCEPT=PATTERN leaves out the tests whose names match it. The
# first line says how many were left out and which; they are neither passed
# nor skipped.
#
# UBLK_TEST_VARIANT=batch|threads runs every test on another engine layout:
# each `ublk add` gets --batch, or --threads twice its queues, unless it
# chooses that itself or cannot take it (variant/ublk says when). The
# defaults (per-tag commands, a thread per queue) run without it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
pattern=${1:-.}
limit=${UBLK_TEST_TIMEOUT:-300}
strict=${UBLK_TEST_STRICT_SKIPS:-0}
release=$(uname -r)
skip_status=77

if [[ ! -e /dev/ublk-control || $(id -u) != 0 ]]; then
	echo "run.sh: needs root and /dev/ublk-control" >&2
	exit 77
fi
if [[ -n ${UBLK_TEST_VARIANT:-} ]]; then
	UBLK_TEST_REAL_UBLK=$(command -v ublk) || { echo "run.sh: no ublk on PATH" >&2; exit 1; }
	export UBLK_TEST_REAL_UBLK PATH=$here/variant:$PATH
	echo "variant $UBLK_TEST_VARIANT: every ublk add gets its options (variant/ublk)"
fi
echo "kernel $(uname -r), $(nproc) CPU(s), ${UBLK_TEST_REAL_UBLK:-$(command -v ublk)}"

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

# expected_skip TEST: prints why TEST may skip on this kernel, per the file
# expected-skips ("KERNEL TEST WHY..." lines); fails when it may not. KERNEL
# and TEST are shell patterns; KERNEL matches the release equal to it or
# starting with it and then ".", "-" or "+" (6.12 matches 6.12.107+deb13-...).
expected_skip() {
	local kernel name why
	[[ -f $here/expected-skips ]] || return 1
	while read -r kernel name why; do
		[[ -n $kernel && $kernel != \#* ]] || continue
		# shellcheck disable=SC2053 # both fields are patterns
		[[ $release == $kernel || $release == ${kernel}[.+-]* ]] || continue
		# shellcheck disable=SC2053
		[[ $1 == $name ]] || continue
		echo "${why:-no reason given}"
		return 0
	done <"$here/expected-skips"
	return 1
}

all_tests=$(for f in "$here"/cases/*.sh; do grep -oE '^test_[a-z0-9_]+' "$f"; done)
tests=$(grep -E -- "$pattern" <<<"$all_tests")
if [[ -n ${UBLK_TEST_ONLY:-} ]]; then
	left_out=$(grep -vE -- "$UBLK_TEST_ONLY" <<<"$tests")
	tests=$(grep -E -- "$UBLK_TEST_ONLY" <<<"$tests")
	echo "left out (UBLK_TEST_ONLY): $(grep -c . <<<"$left_out") tests:" $left_out
fi
if [[ -n ${UBLK_TEST_EXCEPT:-} ]]; then
	left_out=$(grep -E -- "$UBLK_TEST_EXCEPT" <<<"$tests")
	tests=$(grep -vE -- "$UBLK_TEST_EXCEPT" <<<"$tests")
	echo "left out (UBLK_TEST_EXCEPT): $(grep -c . <<<"$left_out") tests:" $left_out
fi
passed=0 failed=0 skipped=0 failures='' expected='' unlisted='' unexpected=''

# A line of expected-skips naming no test (renamed, removed) is stale.
if [[ -f $here/expected-skips ]]; then
	while read -r kernel name _; do
		[[ -n $kernel && $kernel != \#* ]] || continue
		for t in $all_tests; do
			# shellcheck disable=SC2053 # a pattern
			[[ $t != $name ]] || continue 2
		done
		echo "FAIL expected-skips names $name, which is no test"
		failed=$((failed + 1))
		failures+=" (expected-skips)"
	done <"$here/expected-skips"
fi
log=$(mktemp)
for t in $tests; do
	start=$SECONDS
	timeout -k 5 "$limit" bash -c 'source "$1/lib.sh"; for f in "$1"/cases/*.sh; do source "$f"; done; set -e; "$2"' \
		_ "$here" "$t" >"$log" 2>&1
	rc=$?
	[[ $rc != 124 ]] || echo "TIMEOUT after $limit s" >>"$log"
	# A skip is status 77 with the line skip printed; a bare 77 from some
	# command is a failure.
	reason=''
	if [[ $rc == "$skip_status" ]]; then
		reason=$(sed -n 's/^SKIP: //p' "$log" | tail -n 1)
		[[ -n $reason ]] || echo "exit $skip_status without a SKIP line" >>"$log"
	fi
	leftovers=$(bash -c 'source "$1/lib.sh"; cleanup_everything' _ "$here" 2>&1)
	if [[ ($rc == 0 || -n $reason) && -n $leftovers ]]; then
		echo "left behind: $leftovers" >>"$log"
		rc=1 reason=''
	fi
	reports=$(sanitizer_reports)
	if [[ -n $reports ]]; then
		echo "$reports" >>"$log"
		rc=1 reason=''
	fi
	if [[ -n $reason ]]; then
		if why=$(expected_skip "$t"); then
			reason+="; expected here: $why"
			expected+=" $t"
		elif [[ $strict == 1 ]]; then
			echo "skipped, and expected-skips does not list $t for kernel $release: $reason" >>"$log"
			unexpected+=" $t"
			rc=1 reason=''
		else
			unlisted+=" $t"
		fi
	fi
	if [[ $rc == 0 ]]; then
		passed=$((passed + 1))
		echo "PASS $t ($((SECONDS - start)) s)"
	elif [[ -n $reason ]]; then
		skipped=$((skipped + 1))
		echo "SKIP $t ($reason)"
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
[[ -z $expected ]] || echo "skipped as expected-skips allows on $release:$expected"
[[ -z $unlisted ]] || echo "skipped, not in expected-skips for $release (a failure with UBLK_TEST_STRICT_SKIPS=1):$unlisted"
[[ -z $unexpected ]] || echo "skipped, not in expected-skips for $release, so failed:$unexpected"
[[ -z $failures ]] || echo "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped${UBLK_TEST_VARIANT:+ (variant $UBLK_TEST_VARIANT)}"
[[ $failed == 0 && $passed -gt 0 ]]
