# Helpers for the kernel-tier cases (sourced by run.sh; bash).
# Every helper fails the test (non-zero exit under set -e) with a message.

fail() {
	echo "FAILED: $*" >&2
	exit 1
}

# skip REASON: this test cannot run on this kernel or machine (a feature the
# kernel lacks, a drive or tool that is missing). Ends the test with status 77
# and the line "SKIP: REASON" on stderr (so it works inside $(...) too), which
# run.sh reports. Call it before the test makes anything: what a skipped test
# leaves behind still fails it.
skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# need_tools PROGRAM...: skips the test unless every PROGRAM is on PATH.
need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || skip "$t is not installed (tests/install-deps.sh installs it)"
	done
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

dev_exists() { [[ -e /sys/class/ublk-char/ublkc$1 ]]; }
dev_gone() { ! dev_exists "$1" && [[ ! -e /dev/ublkb$1 && ! -e /run/ublk/$1.json ]]; }
server_count() { pgrep -x ublk-server | wc -l; }

# add_dev ARGS...: runs `ublk add ARGS --json`, checks it succeeded, and prints
# the device id.
add_dev() {
	local out
	out=$(ublk add "$@" --json) || fail "ublk add $* failed"
	echo "$out" | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p'
}

# server_pid ID: the server's pid from `ublk list`.
server_pid() {
	ublk list -n "$1" --json | sed -n 's/^ *"pid": \([0-9]*\),*$/\1/p' | head -n1
}

# expect_error PATTERN COMMAND...: COMMAND must fail with exactly one line on
# stderr matching PATTERN, print nothing on stdout, and leave no device.
expect_error() {
	local pattern=$1 out err rc=0
	shift
	out=$("$@" 2>/tmp/expect_err) || rc=$?
	err=$(cat /tmp/expect_err)
	((rc != 0)) || fail "'$*' succeeded; expected an error matching '$pattern'"
	[[ -z $out ]] || fail "'$*' printed on stdout: $out"
	[[ $(printf '%s\n' "$err" | wc -l) == 1 ]] || fail "'$*' printed more than one line: $err"
	[[ $err =~ $pattern ]] || fail "'$*' said '$err', expected '$pattern'"
	echo "ok: $* -> $err"
}

# fio_ok ARGS...: fio must exit 0 and report err=0 for every job.
fio_ok() {
	local out
	out=$(fio --output-format=normal "$@" 2>&1) || { echo "$out"; fail "fio $* failed"; }
	if echo "$out" | grep -E 'err= *[1-9]' >/dev/null; then
		echo "$out"
		fail "fio reported errors"
	fi
	echo "$out" | grep -E '^ *(read|write):' || true
}

# fio_verify_slices DEVICE JOBS SMALL LARGE STRIDE: random writes of 4k blocks
# (SMALL bytes per job), then 64k and 1M blocks (LARGE per job), with crc32c
# checksums, job N on the slice at N * STRIDE, each followed by verified reads.
fio_verify_slices() {
	local dev=$1 jobs=$2 small=$3 large=$4 stride=$5 bs
	for bs in 4k 64k 1m; do
		fio_ok --name=verify-$bs --filename="$dev" --rw=randwrite --bs=$bs \
			--size="$([[ $bs == 4k ]] && echo "$small" || echo "$large")" \
			--offset_increment="$stride" --numjobs="$jobs" --ioengine=io_uring --direct=1 \
			--iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1 --group_reporting
	done
}

# Deletes whatever a test left; prints what it had to clean (run.sh treats any
# output as a leak).
cleanup_everything() {
	local ids pids
	ids=$(ls /sys/class/ublk-char 2>/dev/null | sed 's/ublkc//' | tr '\n' ' ')
	if [[ -n $ids ]]; then
		echo "devices $ids"
		# Bounded: a device stuck in the kernel must not hang the whole tier.
		timeout 60 ublk del -a >/dev/null 2>&1 || echo "(ublk del -a did not finish)"

	fi
	sleep 0.2
	pids=$(pgrep -x ublk-server | tr '\n' ' ')
	if [[ -n $pids ]]; then
		echo "server processes $pids"
		pkill -9 -x ublk-server || true
		sleep 0.5
		timeout 30 ublk del -a >/dev/null 2>&1 || echo "(ublk del -a did not finish)"
	fi
	if compgen -G '/run/ublk/*' >/dev/null; then
		echo "state files $(ls /run/ublk)"
		rm -f /run/ublk/*
	fi
}

no_servers() { [[ $(server_count) == 0 ]]; }

# zero_range DEV OFFSET_MIB LEN_MIB: true when that range reads back as zeros.
zero_range() {
	[[ $(dd if="$1" bs=1M skip="$2" count="$3" iflag=direct 2>/dev/null | tr -d '\0' | wc -c) == 0 ]]
}
