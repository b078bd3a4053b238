# The reference server's command line and `list` layout: scripts written for
# ublksrv's `ublk` (its own test suite among them) run against this one. Each
# option is used by its reference spelling, and `list` is parsed the way those
# scripts parse it, with grep and awk.

# ref_json_field ID FIELD: a number field of `ublk list -n ID --json`.
ref_json_field() { ublk list -n "$1" --json | sed -n "s/^ *\"$2\": \\([0-9]*\\),*\$/\\1/p" | head -n1; }

# ref_has_flag ID NAME: the device's flags line names NAME.
ref_has_flag() { ublk list -n "$1" | grep $'^\tflags ' | grep -qw "$2"; }

# ref_task_flags PID TID: the thread's PF_* flags (field 9 of its stat; the
# name in parentheses may hold spaces, so count from after it).
ref_task_flags() { sed 's/^.*) //' "/proc/$1/task/$2/stat" | awk '{print $7}'; }

test_reference_list_layout_parses_field_by_field() {
	local id out pid file=/tmp/ref-loop.img tid0 tid1 flags major minor
	truncate -s 64M "$file"
	# The reference layout is one thread per queue, whatever variant the
	# tier runs (several threads are listed as "tid 812,814").
	id=$(UBLK_TEST_VARIANT='' add_dev -t loop -f "$file" -q 2 -d 64 --name ref)
	out=$(ublk list -n "$id")
	echo "$out"
	pid=$(server_pid "$id")
	[[ $(echo "$out" | head -n1) == "dev id $id: nr_hw_queues 2 queue_depth 64 block size 512 dev_capacity 131072" ]] ||
		fail "first line: $(echo "$out" | head -n1)"
	# The reference suite's own pipelines (tests/common/fio_common).
	[[ $(echo "$out" | grep "pid" | awk '{print $7}') == "$pid" ]] || fail "daemon pid is not $pid"
	[[ $(echo "$out" | grep "state" | awk '{print $9}') == LIVE ]] || fail "state is not LIVE"
	tid0=$(echo "$out" | grep "queue 0" | awk '{print $4}')
	tid1=$(echo "$out" | grep "queue 1" | awk '{print $4}')
	[[ -d /proc/$pid/task/$tid0 && -d /proc/$pid/task/$tid1 && $tid0 != "$tid1" ]] ||
		fail "queue tids '$tid0' '$tid1' are not two threads of server $pid"
	[[ $(ublk list | grep "loop" | awk '{print $2}' | awk -F "," '{print $1}' | awk -F ":" '{print $2}' | xargs) == "$file" ]] ||
		fail "the backing file is not found the reference way"
	# The rest, field by field.
	[[ $(echo "$out" | grep "max rq size" | awk '{print $4}') == "$(ref_json_field "$id" max_io_bytes)" ]] ||
		fail "max rq size differs from list --json"
	flags=$(printf '0x%x' "$(ref_json_field "$id" flags)")
	[[ $(echo "$out" | grep $'^\tflags ' | awk '{print $2}') == "$flags" ]] || fail "flags are not $flags"
	ref_has_flag "$id" CMD_IOCTL_ENCODE || fail "flags line lacks CMD_IOCTL_ENCODE"
	major=$((16#$(stat -c %t "/dev/ublkc$id"))) minor=$((16#$(stat -c %T "/dev/ublkc$id")))
	[[ $(echo "$out" | grep "ublkc:" | awk '{print $2}') == "$major:$minor" ]] || fail "ublkc is not $major:$minor"
	major=$((16#$(stat -c %t "/dev/ublkb$id"))) minor=$((16#$(stat -c %T "/dev/ublkb$id")))
	[[ $(echo "$out" | grep "ublkb:" | awk '{print $4}') == "$major:$minor" ]] || fail "ublkb is not $major:$minor"
	echo "$out" | grep -q $'^\tqueue 0: tid [0-9]* affinity([0-9 ]*)$' || fail "queue 0 line has no affinity"
	echo "$out" | grep -qx $'\tname ref' || fail "no name line"
	echo "$out" | grep -q $'^\tdata path [a-z/-]*\(, batch commands\)*, recovery off, size 64 MiB, /dev/ublkb'"$id\$" ||
		fail "no data path line"
	# Exactly one line each for what the scripts grep.
	[[ $(echo "$out" | grep -c pid) == 1 && $(echo "$out" | grep -c state) == 1 ]] ||
		fail "'pid' or 'state' is on more than one line"
	ublk del -n "$id"
	rm -f "$file"
}

test_queue_threads_are_io_flushers() {
	local id pid tid flags n=0
	id=$(add_dev -t null -q 2)
	pid=$(server_pid "$id")
	# "tid 812" per queue, or "tid 812,814" for a queue's several threads.
	for tid in $(ublk list -n "$id" | grep $'^\tqueue ' | awk '{print $4}' | tr ',' ' '); do
		flags=$(ref_task_flags "$pid" "$tid")
		echo "queue thread $tid: flags $flags"
		# PR_SET_IO_FLUSHER sets PF_MEMALLOC_NOIO (0x80000) and
		# PF_LOCAL_THROTTLE (0x100000).
		(((flags & 0x80000) && (flags & 0x100000))) || fail "thread $tid is not an I/O flusher (flags $flags)"
		n=$((n + 1))
	done
	((n >= 2)) || fail "expected a thread for each of 2 queues, found $n"
	flags=$(ref_task_flags "$pid" "$pid")
	(((flags & 0x80000) == 0)) || fail "the main thread is marked too"
	ublk del -n "$id"
}

test_reference_recovery_values_set_the_kernel_flags() {
	local id
	id=$(add_dev -t null -r 1)
	ref_has_flag "$id" RECOVERY || fail "-r 1: no RECOVERY"
	! ref_has_flag "$id" RECOVERY_REISSUE || fail "-r 1 asked for reissue"
	ublk list -n "$id" --json | grep -q '"recovery": "fail-inflight"' || fail "-r 1 is not fail-inflight"
	# -r 1 survives its server like -r: QUIESCED, then recovered.
	rec_kill "$id"
	rec_state_is "$id" QUIESCED || fail "-r 1 device is not QUIESCED"
	rec_recover "$id"
	ublk del -n "$id"
	id=$(add_dev -t null -r 0 -i 1)
	ref_has_flag "$id" RECOVERY_REISSUE || fail "-i 1: no RECOVERY_REISSUE"
	ublk del -n "$id"
	id=$(add_dev -t null -r 0)
	! ref_has_flag "$id" RECOVERY || fail "-r 0 asked for recovery"
	ublk del -n "$id"
	if ublk features | grep -qx USER_RECOVERY_FAIL_IO; then
		id=$(add_dev -t null -e 1)
		ref_has_flag "$id" RECOVERY_FAIL_IO || fail "-e 1: no RECOVERY_FAIL_IO"
		ublk del -n "$id"
	else
		expect_error "USER_RECOVERY_FAIL_IO \\(Linux 6.13 or later\\)" ublk add -t null -e 1
	fi
	expect_error "^ublk: -i 1 and -e 1 exclude each other" ublk add -t null -i 1 -e 1
	expect_error "^ublk: -r 2: must be 0 or 1$" ublk add -t null -r2
	expect_error "^ublk: --recovery-mode: give it or -r 1/-i 1/-e 1, not both$" \
		ublk add -t null -r 1 --recovery-mode reissue
}

test_reference_loop_spellings_offset_in_sectors_and_buffered_io() {
	local id file=/tmp/ref-off.img
	truncate -s 32M "$file"
	# --offset 8 is 8 sectors (4096 bytes), as the reference's loop counts.
	id=$(add_dev -t loop -f "$file" --offset 8 --buffered_io)
	ublk list -n "$id" --json | grep -q '"offset": 4096' || fail "--offset 8 is not 4096 bytes"
	ublk list -n "$id" --json | grep -q '"buffered": true' || fail "--buffered_io did not make it buffered"
	[[ $(blockdev --getsize64 "/dev/ublkb$id") == $((32 * 1048576 - 4096)) ]] || fail "size is not the file past 8 sectors"
	printf 'REFERENCE' | dd of="/dev/ublkb$id" bs=4096 conv=sync,fsync 2>/dev/null
	[[ $(dd if="$file" bs=1 skip=4096 count=9 2>/dev/null) == REFERENCE ]] || fail "data is not at byte 4096"
	ublk del -n "$id"
	id=$(add_dev -t loop -f "$file" --offset 4096B)
	ublk list -n "$id" --json | grep -q '"offset": 4096' || fail "--offset 4096B is not 4096 bytes"
	ublk del -n "$id"
	if ublk features | grep -qx AUTO_BUF_REG; then
		id=$(add_dev -t loop -f "$file" --zerocopy)
		ublk list -n "$id" | grep -q "data path zero-copy/auto," || fail "--zerocopy is not zero copy"
		ublk del -n "$id"
		# The reference suite's loop/009: buffered backing I/O with zero copy.
		id=$(add_dev -t loop -f "$file" --buffered_io -z)
		fio_ok --name=bz --filename=/dev/ublkb"$id" --rw=randwrite --bs=64k --size=16M \
			--ioengine=io_uring --direct=1 --iodepth=8 --verify=crc32c --verify_fatal=1
		ublk del -n "$id"
	else
		expect_error "zero copy" ublk add -t loop -f "$file" --zerocopy
	fi
	rm -f "$file"
}

test_reference_options_accepted_or_refused_in_one_line() {
	local id
	id=$(add_dev -t null -u 1)
	ublk del -n "$id"
	id=$(add_dev -t null -u 0 --max_io_buf_bytes 65536)
	[[ $(ublk list -n "$id" | grep "max rq size" | awk '{print $4}') == 65536 ]] || fail "max rq size is not 65536"
	[[ $(cat "/sys/block/ublkb$id/queue/max_hw_sectors_kb") == 64 ]] || fail "requests are not limited to 64 KiB"
	ublk del -n "$id"
	# -b selects batch commands: served where the kernel has them, refused
	# in one line where it does not.
	if ublk features | grep -qx BATCH_IO; then
		id=$(add_dev -t null -b)
		ublk list -n "$id" | grep -q ', batch commands,' || fail "-b did not select batch commands"
		ublk del -n "$id"
	else
		expect_error "UBLK_F_BATCH_IO \\(Linux 7.0 or later\\)" ublk add -t null -b
	fi
	expect_error "^ublk: -u 2: must be 0 or 1$" ublk add -t null -u 2
	expect_error "^ublk: -g x: must be 0 or 1$" ublk add -t null -g x
	expect_error "^ublk: --max_io_buf_bytes 5000: must be a multiple of 4096$" ublk add -t null --max_io_buf_bytes 5000
	expect_error "^ublk: --htlb: only with --shmem_zc$" ublk add -t null --htlb /dev/hugepages/x
	expect_error "^ublk: --buffered_io: not an option of the null target$" ublk add -t null --buffered_io
}

# More queues than CPUs: the kernel grants one per possible CPU; add takes
# that, says so in one line, and the device has that many (the reference
# server's scripts ask for -q 4 and -q 8 on small machines).
test_more_queues_than_cpus_are_clamped_with_a_note() {
	local id cpus out
	cpus=$(($(cut -d- -f2 /sys/devices/system/cpu/possible) + 1))
	out=$(ublk add -t null -q $((cpus + 2)) --json 2>/tmp/ref-q.err) || fail "add -q $((cpus + 2)) failed"
	[[ $(cat /tmp/ref-q.err) == "ublk: -q $((cpus + 2)): this kernel allows at most $cpus queue(s) (one per possible CPU); using $cpus" ]] ||
		fail "add said '$(cat /tmp/ref-q.err)'"
	id=$(echo "$out" | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p')
	[[ $(ublk list -n "$id" | head -n1 | awk '{print $5}') == "$cpus" ]] || fail "device $id has not $cpus queues"
	[[ $(ublk list -n "$id" | grep -c $'^\tqueue ') == "$cpus" ]] || fail "list does not show $cpus queue lines"
	ublk del -n "$id"
}
