# Helpers of the system tier's tests (sourced by run.sh).
# shellcheck shell=bash

# run_test NAME: runs the function NAME in a subshell with errexit; prints
# PASS or FAIL with what it printed. Counts are kept in $state across boots.
run_test() {
	local name=$1 log rc start=$SECONDS
	log=$(mktemp)
	(set -e; "$name") >"$log" 2>&1
	rc=$?
	if ((rc == 0)); then
		echo "PASS $name ($((SECONDS - start)) s)"
		echo "$name" >>"$state/passed"
	else
		echo "FAIL $name ($((SECONDS - start)) s, exit $rc)"
		sed 's/^/    | /' "$log" | tail -n 40
		echo "    journal:"
		journalctl -b --no-pager -n 25 -u 'ublk@*' 2>/dev/null | sed 's/^/    | /'
		echo "$name" >>"$state/failed"
	fi
	rm -f "$log"
	return "$rc"
}

fail() {
	echo "FAILED: $*" >&2
	exit 1
}

# wait_until SECONDS COMMAND...: true once COMMAND succeeds, false after SECONDS.
wait_until() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		if "$@"; then return 0; fi
		sleep 0.1
	done
	return 1
}

# finish: the summary line system-tier.sh reads, then power off.
finish() {
	local passed failed
	passed=$(grep -c . "$state/passed" 2>/dev/null) || true
	failed=$(grep -c . "$state/failed" 2>/dev/null) || true
	echo "${passed:-0} passed, ${failed:-0} failed"
	if [[ -s $state/failed ]]; then
		echo "failed: $(tr '\n' ' ' <"$state/failed")"
		echo "UBLK_SYSTEM_EXIT=1"
	else
		echo "UBLK_SYSTEM_EXIT=0"
	fi
	systemctl --no-block poweroff || { echo "system tests: systemctl poweroff failed; powering off directly"; sync; echo o >/proc/sysrq-trigger; }
}
