# Real I/O through the null target with fio.

test_fio_random_read_and_write_on_one_queue() {
	local id
	id=$(add_dev -t null --size 4G)
	fio_ok --name=rr --filename=/dev/ublkb"$id" --rw=randread --bs=4k --iodepth=32 \
		--ioengine=io_uring --direct=1 --runtime=3 --time_based
	fio_ok --name=rw --filename=/dev/ublkb"$id" --rw=randwrite --bs=4k --iodepth=32 \
		--ioengine=io_uring --direct=1 --runtime=3 --time_based
	ublk del -n "$id"
}

test_fio_random_read_and_write_on_two_queues() {
	local id
	id=$(add_dev -t null -q 2 --size 4G)
	fio_ok --name=rr --filename=/dev/ublkb"$id" --rw=randread --bs=4k --iodepth=32 \
		--ioengine=io_uring --direct=1 --runtime=3 --time_based --numjobs=2 --group_reporting
	fio_ok --name=rw --filename=/dev/ublkb"$id" --rw=randwrite --bs=4k --iodepth=32 \
		--ioengine=io_uring --direct=1 --runtime=3 --time_based --numjobs=2 --group_reporting
	ublk del -n "$id"
}

test_every_request_kind_completes() {
	local id
	id=$(add_dev -t null --size 1G)
	dd if=/dev/zero of=/dev/ublkb"$id" bs=1M count=8 oflag=direct 2>/dev/null || fail "large writes"
	dd if=/dev/ublkb"$id" of=/dev/null bs=512 count=8 iflag=direct 2>/dev/null || fail "sector reads"
	blkdiscard -o 0 -l 1M /dev/ublkb"$id" || fail "discard"
	blkdiscard -z -o 1M -l 1M /dev/ublkb"$id" || fail "write zeroes"
	sync /dev/ublkb"$id" || fail "flush"
	ublk del -n "$id"
}

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }

test_poll_us_spins_under_load_and_sleeps_when_idle() {
	local id pid before t0 idle line
	truncate -s 64M /tmp/poll-us.img
	before=$(grep -c ': exit; ' /tmp/ublk-tests-syslog 2>/dev/null || true)
	id=$(add_dev -t loop -f /tmp/poll-us.img --poll-us 200)
	ublk list -n "$id" --json | grep -q '"poll_us": 200' || fail "list does not show poll_us: $(ublk list -n "$id" --json)"
	for depth in 1 16; do
		fio_ok --name=verify-qd$depth --filename=/dev/ublkb"$id" --rw=randwrite --bs=4k \
			--size=8M --iodepth=$depth --ioengine=io_uring --direct=1 \
			--verify=crc32c --do_verify=1 --verify_fatal=1
	done
	# Idle, the spin stops after one budget: the server uses next to no CPU.
	pid=$(server_pid "$id")
	sleep 0.5
	t0=$(cpu_ticks "$pid")
	sleep 2
	idle=$(($(cpu_ticks "$pid") - t0))
	echo "idle server: $idle clock ticks in 2 s"
	((idle < 20)) || fail "the idle server used $idle ticks in 2 s: it keeps spinning"
	ublk del -n "$id"
	rm -f /tmp/poll-us.img
	wait_until 10 eval '(($(grep -c ": exit; " /tmp/ublk-tests-syslog) > before))' ||
		fail "the queue logged no exit"
	# The spin watches the ring's flags instead of entering on every turn.
	line=$(grep "dev $id queue 0: serving" /tmp/ublk-tests-syslog | tail -n1)
	[[ $line == *TASKRUN_FLAG* ]] || fail "the queue's ring has no TASKRUN_FLAG: $line"
	line=$(grep "dev $id queue 0: exit" /tmp/ublk-tests-syslog | tail -n1)
	echo "$line" | sed 's/.*: dev/dev/'
	[[ $line =~ ,\ ([0-9]+)\ spins\ found\ work ]] || fail "no spin counter in the server's log"
	((BASH_REMATCH[1] > 0)) || fail "no spin found work at iodepth 1"
}
