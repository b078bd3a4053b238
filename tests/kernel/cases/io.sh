# Real I/O through the null target with fio.

test_fio_random_read_and_write_on_one_queue() {
	local id
	id=$(add_dev -t null --size 4G)
	fio_ok --name=rr --filename=/dev/ublkb"$id" --rw=randread --bs=4k --iodepth=32 \
		--ioengine=io_uring --direct=1 --runtime=10 --time_based
	fio_ok --name=rw --filename=/dev/ublkb"$id" --rw=randwrite --bs=4k --iodepth=32 \
		--ioengine=io_uring --direct=1 --runtime=10 --time_based
	ublk del -n "$id"
}

test_fio_random_read_and_write_on_two_queues() {
	local id
	id=$(add_dev -t null -q 2 --size 4G)
	fio_ok --name=rr --filename=/dev/ublkb"$id" --rw=randread --bs=4k --iodepth=32 \
		--ioengine=io_uring --direct=1 --runtime=10 --time_based --numjobs=2 --group_reporting
	fio_ok --name=rw --filename=/dev/ublkb"$id" --rw=randwrite --bs=4k --iodepth=32 \
		--ioengine=io_uring --direct=1 --runtime=10 --time_based --numjobs=2 --group_reporting
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
