#!/bin/bash
# Usage: tests/compat/run.sh --suite DIR [--server ours|reference] [--prefix STAGE]
#                            [--kernel KDIR] [--runtime SECONDS] [--timeout SECONDS]
#                            [-- TEST_PATTERN...]
#
# Runs the reference server's own test suite (ublksrv's tests/: run_test.sh,
# common/, generic/, null/, loop/ ...) in the test VM against a `ublk` binary and
# prints one line per test (PASS, FAIL or SKIP, with the reason) and a total.
# The suite is never part of this repository: DIR is a folder holding a copy of it
# (see README.md here); it is taken as it is, nothing in it is changed.
#
#   --suite DIR      the folder holding run_test.sh and the test groups (required)
#   --server S       ours (default): UBLK is STAGE/sbin/ublk (/opt/ublk/sbin/ublk in
#                    the guest); reference: UBLK is the reference server's ublk from
#                    $UBLK_COMPAT_ANCHOR (default ../shared/anchors/ublksrv next to the
#                    checkout), installed in the guest at /usr/local/anchor/ublksrv
#   --prefix STAGE   install tree of this project (default build/stage); the VM needs
#                    one even with --server reference
#   --kernel KDIR    as tests/vm/run.sh (default there: the shared 7.2 kernel)
#   --runtime S      the suite's TRUNTIME, fio's run time per step (default 5; the
#                    suite's own default is 10)
#   --timeout S      for the whole guest (default 7200)
#   --log FILE       keep the guest's whole console there
#   TEST_PATTERN     extended regexes matched against GROUP/NAME (e.g. 'generic/00[12]'
#                    'null/.*'); default: every test of the groups generic, null, loop
#
# The guest (see guest.sh) formats an emulated NVMe drive as ext4 and runs the suite
# chrooted onto it, so that `/` has a real filesystem type (generic/003 formats a
# ublk device with the root's fstype) and the suite's 1 GiB images live on disk, not
# in RAM. The chroot leaves out the test bed's `options null_blk nr_devices=0` (loop/005
# expects the stock /dev/nullb0). The guest has no udev, so `udevadm` there is a no-op
# shim (devtmpfs creates the nodes itself). A few host tools the suite calls and the
# test bed lacks (findmnt, wipefs, GNU stat/ps/...) are copied in.
#
# Verdicts, the same for every server (run_test.sh itself reports nothing but
# "timedout", and the tests' exit statuses are lost in it):
#   FAIL  a line of the test's output with the suite's own words for a failed step
#         (failed, isn't, incorrect, unexpectedly, did not, wedged, timedout, not in
#         IO_FLUSHER, no free ublk, can't create, should have been, I/O error while/
#         after, command not found, kernel splats; generic/007's "failed to recover
#         device!" only where no "forgiving expected recovery failure" follows), or a
#         perf line whose iops is empty (fio had no device to run on)
#   SKIP  the test said it skipped ("SKIP: ..." or "..., skipping") and nothing failed
#   PASS  otherwise
# Each FAIL is followed by the test's output, indented; --log keeps every test's.
# Exit status: 0 when every test passed or skipped, 1 otherwise (124: guest timeout).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

die() { echo "compat/run.sh: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -/s/^# \{0,1\}//p' "$0"; }

suite='' server=ours stage=$repo/build/stage kernel=() runtime=5 timeout=7200 keep=''
while [[ $# -gt 0 ]]; do
	case $1 in
	--suite) suite=$2; shift 2 ;;
	--server) server=$2; shift 2 ;;
	--prefix) stage=$2; shift 2 ;;
	--kernel) kernel=(--kernel "$2"); shift 2 ;;
	--runtime) runtime=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--log) keep=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ -n $suite ]] || die "--suite DIR is required"
[[ -f $suite/run_test.sh && -d $suite/common ]] || die "no reference suite at $suite (want run_test.sh and common/)"
suite=$(cd "$suite" && pwd)
case $suite/ in "$repo"/*) die "the suite must live outside the repository ($suite)" ;; esac
[[ $server == ours || $server == reference ]] || die "--server ours|reference"
[[ $runtime =~ ^[1-9][0-9]*$ ]] || die "bad --runtime $runtime"
[[ -x $stage/sbin/ublk ]] || die "no ublk in install tree $stage (cmake --install build --prefix $stage)"
anchor=${UBLK_COMPAT_ANCHOR:-$repo/../shared/anchors/ublksrv}
if [[ $server == reference ]]; then
	[[ -x $anchor/usr/local/anchor/ublksrv/ublk ]] || die "no reference server under $anchor"
fi
patterns=("$@")
for p in "${patterns[@]}"; do
	[[ $p =~ ^[][A-Za-z0-9_./*?+|()^$-]+$ ]] || die "bad test pattern '$p'"
done

tmp=$(mktemp -d) vm=''
trap '[[ -z $vm ]] || kill "$vm" 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# The guest's /opt/tests: the suite, the runner's guest side, tools, the reference tree.
g=$tmp/guest
mkdir -p "$g/tools"
cp -a "$suite" "$g/suite"
install -m 755 "$here/guest.sh" "$g/guest.sh"
for t in findmnt wipefs stat ps timeout mktemp truncate dd killall fallocate blockdev; do
	p=$(command -v "$t") || { echo "compat/run.sh: warning: $t not on the host, the guest uses busybox's" >&2; continue; }
	cp -L "$p" "$g/tools/$t"
done
printf '#!/bin/sh\n# no udev in the test guest: devtmpfs makes the nodes, nothing to settle\nexit 0\n' >"$g/tools/udevadm"
chmod 755 "$g/tools/udevadm"
if [[ $server == reference ]]; then
	mkdir -p "$g/anchor"
	cp -a "$anchor/." "$g/anchor/"
fi

# The tests to run, as GROUP/NAME, in the order run_test.sh's "all" takes them.
tests=()
for grp in generic null loop; do
	[[ -d $suite/$grp ]] || continue
	for f in "$suite/$grp"/[0-9]*; do
		[[ -f $f && $f != *~ ]] || continue
		t=$grp/${f##*/}
		if [[ ${#patterns[@]} -gt 0 ]]; then
			m=0
			for p in "${patterns[@]}"; do [[ $t =~ ^($p)$ ]] && m=1; done
			[[ $m == 1 ]] || continue
		fi
		tests+=("$t")
	done
done
[[ ${#tests[@]} -gt 0 ]] || die "no test matches ${patterns[*]}"

echo "compat/run.sh: server $server, ${#tests[@]} tests, TRUNTIME $runtime" >&2
log=$tmp/console
: >"$log"
"$repo/tests/vm/run.sh" --prefix "$stage" --tests "$g" "${kernel[@]}" --nvme 8192 \
	--timeout "$timeout" -- /opt/tests/guest.sh "$server" "$runtime" "${tests[@]}" >"$log" 2>&1 &
vm=$!
# One line per test as the guest reports it.
tail -n +1 -f --pid=$vm "$log" | sed -un 's/^COMPAT: //p'
vrc=0
wait $vm || vrc=$?
vm=''
[[ -z $keep ]] || cp "$log" "$keep"
if ! grep -q '^COMPAT: total:' "$log"; then
	echo "compat/run.sh: the guest did not finish the run (exit $vrc); the end of its console:" >&2
	tail -n 40 "$log" >&2
	exit $((vrc == 124 ? 124 : 1))
fi
grep -q '^COMPAT: total:.* 0 failed' "$log"
