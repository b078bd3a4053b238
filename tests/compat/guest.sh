#!/bin/bash
# Guest side of tests/compat/run.sh (runs as /opt/tests/guest.sh in the test VM).
# Usage: guest.sh ours|reference TRUNTIME GROUP/NAME...
#
# Outer call: formats the first emulated NVMe drive as ext4, copies the guest's root
# onto it, and re-runs itself chrooted there (so that `/` has a real filesystem type
# and the suite's images are on disk). Inner call (UBLK_COMPAT_INNER=1): runs each
# test through the suite's own run_test.sh and prints, per test,
#   COMPAT: PASS|FAIL|SKIP GROUP/NAME (SECONDS s)[: reason]
# (a FAIL followed by the test's output as "COMPAT:     ..." lines) and finally
#   COMPAT: total: N passed, N failed, N skipped of N
set -uo pipefail

server=$1 runtime=$2
shift 2

if [[ ${UBLK_COMPAT_INNER:-} != 1 ]]; then
	set -e
	disk=/dev/disk/by-id/nvme-ublktest0
	[[ -b $disk ]] || { echo "COMPAT: total: guest has no NVMe drive for the chroot"; exit 1; }
	mkfs.ext4 -q -F "$disk"
	mkdir -p /newroot
	mount "$disk" /newroot
	for d in usr etc opt root; do cp -a "/$d" /newroot/; done
	for l in bin sbin lib lib64; do cp -a "/$l" /newroot/; done
	mkdir -p /newroot/{proc,sys,dev,tmp,run,mnt,var/tmp}
	chmod 1777 /newroot/tmp /newroot/var/tmp
	# The test bed's "null_blk nr_devices=0 / loop max_loop=0" is its own choice; the
	# suite expects the modules' defaults (loop/005 uses /dev/nullb0).
	rm -f /newroot/etc/modprobe.d/ublk-test.conf
	mount --rbind /dev /newroot/dev
	mount -t proc proc /newroot/proc
	mount --rbind /sys /newroot/sys
	mount -t tmpfs -o mode=755 tmpfs /newroot/run
	if [[ $server == reference ]]; then cp -a /opt/tests/anchor/. /newroot/; fi
	set +e
	UBLK_COMPAT_INNER=1 chroot /newroot /bin/bash /opt/tests/guest.sh "$server" "$runtime" "$@"
	rc=$?
	umount -l /newroot/dev /newroot/sys /newroot/proc /newroot/run 2>/dev/null
	exit $rc
fi

export PATH=/opt/tests/tools:$PATH
cd /
# null_blk with the stock options (the outer root loaded it with nr_devices=0)
modprobe -r null_blk 2>/dev/null

if [[ $server == reference ]]; then
	UBLK=/usr/local/anchor/ublksrv/ublk
else
	UBLK=/opt/ublk/sbin/ublk
fi
export UBLK
echo "COMPAT: server $server: $UBLK; kernel $(uname -r); / is $(findmnt -n -o FSTYPE /)"

suite=/opt/tests/suite
work=/var/tmp/ublk-compat
# The suite's own words for a failed step (see run.sh --help). generic/007 prints
# "failed to recover device!" and then "forgiving expected recovery failure" where a
# failed recovery is the expected outcome.
first_failure() { # LOG
	grep -v '^running ' "$1" | awk '
		/forgiving expected recovery failure/ { held = ""; next }
		held != "" { print held; exit }
		/failed to recover device!/ { held = $0; next }
		/failed|isn.t|incorrect|unexpectedly|did not|wedged|not in IO_FLUSHER|no free ublk|timedout|not found|I\/O error (while|after)|^error:|BUG:|WARNING:|blocked for more than|circular locking|refcount_t:|KCSAN:|can.t create|should have been/ { print; exit }
		/iops ,|iops read +write|write ,/ { print "no iops (fio had no device): " $0; exit }
		END { if (held != "") print held }' | sed 's/^[[:space:]]*//'
}
pass=0 failed=0 skipped=0 total=0
for t in "$@"; do
	total=$((total + 1))
	out=/tmp/compat-$(echo "$t" | tr / -).log
	start=$SECONDS
	# run_test.sh gives each test 250 s and then reports "timedout" and moves on;
	# a test left running would disturb the next ones, so stop the stragglers.
	"$suite/run_test.sh" "$t" "$runtime" "$work" >"$out" 2>&1
	secs=$((SECONDS - start))
	pkill -9 -f "^sh -c $t\$" 2>/dev/null
	pkill -9 -x fio 2>/dev/null
	reason=$(first_failure "$out")
	sed "s|^|LOG $t: |" "$out"
	if [[ -n $reason ]]; then
		failed=$((failed + 1))
		echo "COMPAT: FAIL $t ($secs s): $reason"
		sed 's/^/COMPAT:     /' "$out"
	elif grep -q -E '^[[:space:]]*SKIP:|, skipping$' "$out"; then
		skipped=$((skipped + 1))
		echo "COMPAT: SKIP $t ($secs s): $(grep -m1 -E 'SKIP:|, skipping$' "$out" | sed 's/^[[:space:]]*//')"
	else
		pass=$((pass + 1))
		echo "COMPAT: PASS $t ($secs s)"
	fi
	# whatever a failed test left behind must not spill into the next one
	for c in /dev/ublkc*; do
		[[ -e $c ]] || continue
		echo "COMPAT:     ($t left $c behind; deleting it)"
		timeout 60 "$UBLK" del -n "${c#/dev/ublkc}" >/dev/null 2>&1
	done
done
echo "COMPAT: total: $pass passed, $failed failed, $skipped skipped of $total"
[[ $failed == 0 ]]
