# The nbd target: exports of real NBD servers (qemu-nbd, nbdkit) on loopback
# inside the guest, behind /dev/ublkbN.

nbd_sock=/tmp/nbd-test.sock
nbd_pidfile=/tmp/nbd-test.pid

# nbd_qemu_up ARGS...: qemu-nbd serving export "disk" on $nbd_sock (or on
# TCP 127.0.0.1:10809 when ARGS has --tcp), detached once it listens.
nbd_qemu_up() {
	local where=(-k "$nbd_sock")
	if [[ ${1:-} == --tcp ]]; then
		where=(-b 127.0.0.1 -p 10809)
		shift
	fi
	need_tools qemu-nbd
	qemu-nbd --fork --persistent --pid-file="$nbd_pidfile" -x disk "${where[@]}" "$@" ||
		fail "qemu-nbd $* did not start"
}

# nbd_kit_up PLUGIN ARGS...: nbdkit on $nbd_sock, detached once it listens.
nbd_kit_up() {
	need_tools nbdkit
	nbdkit --unix "$nbd_sock" --pidfile "$nbd_pidfile" "$@" || fail "nbdkit $* did not start"
	wait_until 10 test -s "$nbd_pidfile" || fail "nbdkit wrote no pid file"
}

nbd_server_gone() { [[ ! -e /proc/$1 ]]; }

# Stops the server (SIGTERM, or SIGKILL with -9) and waits until it is gone.
nbd_stop() {
	local pid
	if [[ -s $nbd_pidfile ]]; then
		pid=$(cat "$nbd_pidfile")
		kill "$@" "$pid" 2>/dev/null || true
		wait_until 10 nbd_server_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
		rm -f "$nbd_pidfile"
	fi
}

# Stops the server and removes its files (an EXIT trap of every test).
nbd_down() {
	umount /mnt/nbd 2>/dev/null || true
	nbd_stop
	rm -f "$nbd_pidfile" "$nbd_sock" /tmp/nbd-test.img /tmp/nbd-test.qcow2 /tmp/nbd-pattern
}

nbd_uri() { echo "nbd+unix:///${1:-disk}?socket=$nbd_sock"; }

# nbd_fio_verify DEVICE JOBS: random writes of 4k, 64k and 1M blocks with
# crc32c checksums, each job on its own slice, then verified reads.
nbd_fio_verify() { fio_verify_slices "$1" "$2" 4M 16M 20M; }

nbd_list_says() { ublk list -n "$1" 2>/dev/null | grep -q "$2"; }
nbd_size() { blockdev --getsize64 /dev/ublkb"$1"; }
nbd_sum() { dd if="$1" bs="$2" skip="$3" count="$4" 2>/dev/null | md5sum | cut -d' ' -f1; }
nbd_blocks() { stat -c %b "$1"; }

test_nbd_qemu_nbd_raw_file_over_tcp_has_its_size_and_passes_fio_verify() {
	local id out
	trap nbd_down EXIT
	truncate -s 96M /tmp/nbd-test.img
	nbd_qemu_up --tcp -f raw /tmp/nbd-test.img
	id=$(add_dev -t nbd -f nbd://127.0.0.1/disk)
	[[ $(nbd_size "$id") == 100663296 ]] || fail "size $(nbd_size "$id") is not the export's"
	nbd_fio_verify /dev/ublkb"$id" 1
	out=$(ublk list -n "$id" 2>&1)
	echo "$out"
	[[ $out == *nbd://127.0.0.1/disk* && $out != *"not trusted"* ]] || fail "ublk list does not show the nbd device as it is"
	# qemu-nbd offers structured replies: the fio verify ran on them.
	[[ $out == *"connection connected, structured replies"* ]] || fail "not structured replies with qemu-nbd"
	ublk del -n "$id"
}

# nbd_bytes_land ID: 1 MiB written through the device is at its offset in
# /tmp/nbd-test.img (the served raw file), and 1 MiB written into the file
# reads back through the device.
nbd_bytes_land() {
	local id=$1
	dd if=/dev/urandom of=/tmp/nbd-pattern bs=1M count=1 2>/dev/null
	# Written through the device at 5 MiB + 4 KiB: there in the file.
	dd if=/tmp/nbd-pattern of=/dev/ublkb"$id" bs=4k seek=1281 oflag=direct conv=notrunc 2>/dev/null
	[[ $(nbd_sum /tmp/nbd-test.img 4k 1281 256) == $(nbd_sum /tmp/nbd-pattern 4k 0 256) ]] ||
		fail "the bytes written are not at their offset in the file"
	[[ $(nbd_sum /tmp/nbd-test.img 4k 1280 1) == $(nbd_sum /dev/zero 4k 0 1) ]] ||
		fail "the block before the write changed"
	# Written into the file at 40 MiB: read back through the device.
	dd if=/tmp/nbd-pattern of=/tmp/nbd-test.img bs=1M seek=40 conv=notrunc 2>/dev/null
	[[ $(dd if=/dev/ublkb"$id" bs=1M skip=40 count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1) == \
		$(nbd_sum /tmp/nbd-pattern 1M 0 1) ]] || fail "the file's bytes do not read back at their offset"
	rm -f /tmp/nbd-pattern
}

test_nbd_bytes_land_in_the_raw_file_at_their_offsets() {
	local id
	trap nbd_down EXIT
	truncate -s 64M /tmp/nbd-test.img
	nbd_qemu_up -f raw /tmp/nbd-test.img
	id=$(add_dev -t nbd -f "$(nbd_uri)")
	nbd_bytes_land "$id"
	ublk del -n "$id"
}

test_nbd_qcow2_image_keeps_ext4_across_del_and_re_add() {
	local id sum
	trap nbd_down EXIT
	need_tools qemu-img
	qemu-img create -q -f qcow2 /tmp/nbd-test.qcow2 256M
	nbd_qemu_up -f qcow2 /tmp/nbd-test.qcow2
	id=$(add_dev -t nbd -f "$(nbd_uri)")
	[[ $(nbd_size "$id") == 268435456 ]] || fail "size is not the image's virtual size"
	mkfs.ext4 -q -F /dev/ublkb"$id"
	mkdir -p /mnt/nbd
	mount /dev/ublkb"$id" /mnt/nbd
	dd if=/dev/urandom of=/mnt/nbd/data bs=1M count=8 2>/dev/null
	sum=$(md5sum </mnt/nbd/data)
	umount /mnt/nbd
	ublk del -n "$id"
	id=$(add_dev -t nbd -f "$(nbd_uri)")
	e2fsck -fn /dev/ublkb"$id" >/dev/null || fail "fsck found errors after re-add"
	mount /dev/ublkb"$id" /mnt/nbd
	[[ $(md5sum </mnt/nbd/data) == "$sum" ]] || fail "the file changed across del and re-add"
	umount /mnt/nbd
	ublk del -n "$id"
	nbd_stop
	qemu-img check -q /tmp/nbd-test.qcow2 || fail "qemu-img check found errors"
}

test_nbd_nbdkit_memory_export_passes_fio_verify_on_one_and_two_queues() {
	local id q
	trap nbd_down EXIT
	nbd_kit_up memory 64M
	for q in 1 2; do
		id=$(add_dev -t nbd -f "$(nbd_uri '')" -q $q)
		[[ $(nbd_size "$id") == 67108864 ]] || fail "size is not the memory export's"
		[[ $(ls /sys/block/ublkb"$id"/mq | wc -l) == "$q" ]] || fail "not $q queues"
		nbd_fio_verify /dev/ublkb"$id" "$q"
		ublk del -n "$id"
	done
}

test_nbd_discard_punches_holes_and_write_zeroes_reads_back_zero() {
	local id before after
	trap nbd_down EXIT
	truncate -s 64M /tmp/nbd-test.img
	nbd_qemu_up -f raw --discard=unmap /tmp/nbd-test.img
	id=$(add_dev -t nbd -f "$(nbd_uri)")
	[[ $(cat /sys/block/ublkb"$id"/queue/discard_max_bytes) != 0 ]] || fail "no discard advertised"
	dd if=/dev/urandom of=/dev/ublkb"$id" bs=1M count=16 oflag=direct 2>/dev/null
	sync
	before=$(nbd_blocks /tmp/nbd-test.img)
	blkdiscard -f -o 0 -l 8M /dev/ublkb"$id"
	after=$(nbd_blocks /tmp/nbd-test.img)
	echo "file blocks: $before before discard, $after after"
	((after <= before - 8192 * 2)) || fail "discarding 8 MiB did not punch holes in the file"
	zero_range /dev/ublkb"$id" 0 8 || fail "the discarded range does not read back as zeros"
	# Write zeroes over data.
	blkdiscard -f -z -o 8M -l 4M /dev/ublkb"$id"
	zero_range /dev/ublkb"$id" 8 4 || fail "written zeroes do not read back as zeros"
	zero_range /dev/ublkb"$id" 12 4 && fail "write zeroes went past its range"
	ublk del -n "$id"
}

test_nbd_read_only_export_gives_a_read_only_device() {
	local id out
	trap nbd_down EXIT
	truncate -s 16M /tmp/nbd-test.img
	nbd_qemu_up -f raw -r /tmp/nbd-test.img
	out=$(ublk add -t nbd -f "$(nbd_uri)" --json)
	echo "$out"
	[[ $out == *"read-only"* ]] || fail "add did not say the device is read-only"
	id=$(echo "$out" | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p')
	[[ $(cat /sys/block/ublkb"$id"/ro) == 1 ]] || fail "the device is writable"
	dd if=/dev/zero of=/dev/ublkb"$id" bs=4k count=1 oflag=direct 2>/dev/null &&
		fail "a write to the read-only device succeeded"
	dd if=/dev/ublkb"$id" of=/dev/null bs=1M count=16 iflag=direct 2>/dev/null || fail "reads fail"
	ublk del -n "$id"
}

test_nbd_bad_inputs_are_refused_in_one_line_and_leave_nothing() {
	trap nbd_down EXIT
	truncate -s 16M /tmp/nbd-test.img
	nbd_qemu_up -f raw /tmp/nbd-test.img
	expect_error 'not an NBD URI' ublk add -t nbd -f /tmp/nbd-test.img
	expect_error 'bad port' ublk add -t nbd -f nbd://127.0.0.1:x/disk
	expect_error 'socket=PATH' ublk add -t nbd -f nbd+unix:///disk
	expect_error 'TLS' ublk add -t nbd -f nbds://127.0.0.1/disk
	expect_error 'cannot connect to 127.0.0.1:1: Connection refused' ublk add -t nbd -f nbd://127.0.0.1:1/disk
	expect_error 'cannot connect to unix:/tmp/none.sock' ublk add -t nbd -f 'nbd+unix:///disk?socket=/tmp/none.sock'
	expect_error "export 'nope' does not exist" ublk add -t nbd -f "$(nbd_uri nope)"
	expect_error 'NBD_FLAG_CAN_MULTI_CONN.*-q 1' ublk add -t nbd -f "$(nbd_uri)" -q 2
	expect_error 'user copy' ublk add -t nbd -f "$(nbd_uri)" --usercopy
	expect_error 'size' ublk add -t nbd -f "$(nbd_uri)" --size 1M
	expect_error 'needs the NBD server' ublk add -t nbd
	[[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]] || fail "a device was left behind"
	no_servers || fail "a server was left behind"
}

test_nbd_server_killed_without_reconnect_fails_requests_with_eio_and_del_works() {
	local id pid
	trap nbd_down EXIT
	truncate -s 64M /tmp/nbd-test.img
	nbd_qemu_up -f raw /tmp/nbd-test.img
	id=$(add_dev -t nbd -f "$(nbd_uri)" --reconnect-timeout 0)
	pid=$(cat "$nbd_pidfile")
	dd if=/dev/urandom of=/dev/ublkb"$id" bs=1M count=8 oflag=direct 2>/dev/null
	kill -9 "$pid"
	wait_until 10 nbd_server_gone "$pid" || fail "qemu-nbd did not die"
	# No hang and no success: the requests fail.
	timeout 30 dd if=/dev/ublkb"$id" of=/dev/null bs=4k count=1 skip=100 iflag=direct 2>/dev/null &&
		fail "a read after the server died succeeded"
	timeout 30 dd if=/dev/zero of=/dev/ublkb"$id" bs=4k count=1 oflag=direct 2>/dev/null &&
		fail "a write after the server died succeeded"
	timeout 60 ublk del -n "$id" || fail "del did not finish"
	wait_until 10 dev_gone "$id" || fail "the device did not go"
}

# nbd_restart_under_fio ID LOOPS: crc32c-verified random writes on the
# device while qemu-nbd (serving /tmp/nbd-test.img on $nbd_sock) is killed
# and started again 2 s later; fio must end without an error.
nbd_restart_under_fio() {
	local fio_pid rc=0
	fio --output-format=normal --name=restart --filename=/dev/ublkb"$1" --rw=randwrite \
		--bs=64k --size=32M --loops="$2" --ioengine=io_uring --direct=1 --iodepth=16 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 >/tmp/nbd-fio.out 2>&1 &
	fio_pid=$!
	sleep 0.5
	nbd_stop -9
	sleep 2
	nbd_qemu_up -f raw /tmp/nbd-test.img
	wait "$fio_pid" || rc=$?
	cat /tmp/nbd-fio.out
	((rc == 0)) || fail "fio failed across the server's restart"
	grep -E 'err= *[1-9]' /tmp/nbd-fio.out && fail "fio saw errors across the server's restart"
	grep -q 'reconnected' /tmp/ublk-tests-syslog || fail "the server log shows no reconnect"
	rm -f /tmp/nbd-fio.out
}

test_nbd_server_restarted_under_fio_verify_loses_no_io() {
	local id
	trap nbd_down EXIT
	truncate -s 64M /tmp/nbd-test.img
	nbd_qemu_up -f raw /tmp/nbd-test.img
	id=$(add_dev -t nbd -f "$(nbd_uri)")
	nbd_restart_under_fio "$id" 3
	ublk del -n "$id"
}

test_nbd_server_down_past_the_reconnect_timeout_fails_io_then_serves_again() {
	local id
	trap nbd_down EXIT
	truncate -s 64M /tmp/nbd-test.img
	nbd_qemu_up -f raw /tmp/nbd-test.img
	id=$(add_dev -t nbd -f "$(nbd_uri)" --reconnect-timeout 2)
	dd if=/dev/urandom of=/dev/ublkb"$id" bs=1M count=4 oflag=direct 2>/dev/null
	nbd_stop
	# Waits up to the timeout, then fails; never hangs.
	timeout 30 dd if=/dev/ublkb"$id" of=/dev/null bs=4k count=1 skip=300 iflag=direct 2>/dev/null &&
		fail "a read with the server down succeeded"
	timeout 30 dd if=/dev/zero of=/dev/ublkb"$id" bs=4k count=1 oflag=direct 2>/dev/null &&
		fail "a write with the server down succeeded"
	wait_until 5 nbd_list_says "$id" 'connection down' || fail "ublk list does not show the connection down"
	nbd_qemu_up -f raw /tmp/nbd-test.img
	wait_until 20 dd if=/dev/ublkb"$id" of=/dev/null bs=4k count=1 skip=400 iflag=direct status=none ||
		fail "the device did not serve again once the server was back"
	wait_until 5 nbd_list_says "$id" 'connection connected' || fail "ublk list does not show the connection back"
	ublk list -n "$id" --json | grep -q '"connection": "connected, structured replies"' || fail "list --json has no connection"
	nbd_fio_verify /dev/ublkb"$id" 1
	ublk del -n "$id"
}

# Deleting a device whose NBD server is gone does not wait for the
# reconnect timeout: what waits for the connection fails with EIO at once.
test_nbd_del_with_the_server_down_fails_what_waits_without_waiting_for_the_timeout() {
	local id dd_pid
	trap nbd_down EXIT
	truncate -s 64M /tmp/nbd-test.img
	nbd_qemu_up -f raw /tmp/nbd-test.img
	id=$(add_dev -t nbd -f "$(nbd_uri)" --reconnect-timeout 600)
	dd if=/dev/urandom of=/dev/ublkb"$id" bs=1M count=4 oflag=direct 2>/dev/null
	nbd_stop -9
	wait_until 10 nbd_list_says "$id" 'connection reconnecting' || fail "ublk list does not show the reconnect"
	dd if=/dev/ublkb"$id" of=/dev/null bs=4k count=1 skip=100 iflag=direct 2>/dev/null &
	dd_pid=$!
	sleep 1
	timeout 60 ublk del -n "$id" || fail "del did not finish within 60 s (the reconnect timeout is 600 s)"
	wait "$dd_pid" && fail "the read waiting for the server succeeded"
	wait_until 10 dev_gone "$id" || fail "the device did not go"
}

# A device with recovery: a new ublk server takes the nbd device over after
# the old one is killed (it connects to the NBD server again) and after a
# restart, with fio verifying throughout (rec_fio_rounds in recovery.sh,
# svc_restart_under_fio in service.sh).
test_nbd_recovery_and_restart_keep_every_block_under_fio_verify() {
	local id
	trap nbd_down EXIT
	truncate -s 64M /tmp/nbd-test.img
	nbd_qemu_up -f raw --shared=4 /tmp/nbd-test.img
	id=$(add_dev -t nbd -f "$(nbd_uri)" -r)
	rec_fio_rounds /dev/ublkb"$id" "$id" 2
	svc_restart_under_fio /dev/ublkb"$id" "$id"
	ublk del -n "$id"
}
