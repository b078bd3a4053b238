# Zero copy (-z): the request's pages go to the backend I/O (loop
# READ/WRITE_FIXED, NVMe passthrough with IORING_URING_CMD_FIXED) without a
# copy, in two modes: auto (ublk feature AUTO_BUF_REG, Linux 6.16: the kernel
# registers each request's pages in the queue ring's buffer table) and
# explicit (the server chains REGISTER_IO_BUF -> I/O -> UNREGISTER_IO_BUF).
# Copy mode (off) is what loop.sh and nvme.sh verify. Where the kernel lacks
# zero copy (the 6.12 test kernel) -z must be refused in one line, nothing
# left behind, and the device works without -z by copying.

zc_supported() { ublk features | grep -qx AUTO_BUF_REG; }
zc_need() { zc_supported || skip "kernel $(uname -r) lacks zero copy (AUTO_BUF_REG, Linux 6.16)"; }
zc_ng() { readlink -f /dev/disk/by-id/ng-ublktest"$1"; }
zc_have_nvme() { [[ -e /dev/disk/by-id/ng-ublktest$1 ]] || skip "no NVMe drive ublktest$1 (tests/vm/kernel-tier.sh emulates it)"; }
zc_max_io() { echo $(($(cat /sys/block/ublkb"$1"/queue/max_sectors_kb) * 1024)); }
zc_id() { echo "$1" | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p'; }

# zc_add MODE ARGS...: adds a device with --zero-copy=MODE, checks that add
# and list report that data path, prints the id.
zc_add() {
	local mode=$1 out id path
	shift
	path=zero-copy/$mode
	[[ $mode != off ]] || path=copy
	out=$(ublk add "$@" --zero-copy="$mode" --json) || fail "ublk add $* --zero-copy=$mode failed"
	id=$(zc_id "$out")
	echo "$out" | grep -q "\"data_path\": \"$path\"" ||
		fail "add does not report $path: $out"
	ublk list -n "$id" | grep -q "data path $path," ||
		fail "list does not show $path: $(ublk list -n "$id")"
	echo "$id"
}

# zc_fio DEV RW BS JOBS: crc32c-verified I/O, each job on its own 40 MiB slice.
zc_fio() {
	fio_ok --name=zc-$2-$3 --filename="$1" --rw="$2" --bs="$3" --size=16M \
		--offset_increment=40M --numjobs="$4" --ioengine=io_uring --direct=1 \
		--iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1 --group_reporting
}

# zc_fio_all DEV JOBS: random writes at 4k, 64k and the device's max I/O size,
# sequential writes and mixed random reads/writes, all verified.
zc_fio_all() {
	local max bs
	max=$(zc_max_io "${1#/dev/ublkb}")
	echo "max I/O $max bytes"
	for bs in 4k 64k "$max"; do zc_fio "$1" randwrite "$bs" "$2"; done
	zc_fio "$1" write 128k "$2"
	zc_fio "$1" randrw 16k "$2"
}

# zc_verify_modes ARGS...: fio verify in each mode (auto, explicit, off) on
# the device ARGS describe: the whole set on 1 queue, mixed and largest I/O on
# 2 queues.
zc_verify_modes() {
	local id mode
	for mode in auto explicit off; do
		echo "== $mode, 1 queue"
		id=$(zc_add $mode "$@" -q 1)
		zc_fio_all /dev/ublkb"$id" 1
		ublk del -n "$id"
		echo "== $mode, 2 queues"
		id=$(zc_add $mode "$@" -q 2)
		zc_fio /dev/ublkb"$id" randrw 16k 2
		zc_fio /dev/ublkb"$id" randwrite "$(zc_max_io "$id")" 2
		ublk del -n "$id"
	done
}

test_zero_copy_refused_clearly_where_the_kernel_lacks_it() {
	if zc_supported; then
		[[ $(uname -r) != 6.12* ]] || fail "a 6.12 kernel claims AUTO_BUF_REG"
		skip "kernel $(uname -r) has zero copy (AUTO_BUF_REG): there is no refusal to check"
	fi
	truncate -s 64M /tmp/zc.img
	expect_error "zero copy \(-z\) needs the ublk feature AUTO_BUF_REG .*Linux 6\.16 or later.*\(running .*\)$" \
		ublk add -t loop -f /tmp/zc.img -z
	# The release may hold regex characters (6.12.107+deb13): compare literally.
	grep -qF "(running $(uname -r))" /tmp/expect_err || fail "the error does not name the running kernel"
	expect_error "AUTO_BUF_REG .*6\.16" ublk add -t loop -f /tmp/zc.img --zero-copy=auto
	expect_error "zero copy \(--zero-copy=explicit\) needs ublk buffer registration .*Linux 6\.15" \
		ublk add -t nvme -f /dev/ng0n1 --zero-copy=explicit
	[[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]] || fail "a device was left behind"
	no_servers || fail "a server was left behind"
	# Without -z the same device works, copying.
	local id out
	out=$(ublk add -t loop -f /tmp/zc.img)
	[[ $out == *"data path copy,"* ]] || fail "add without -z does not copy: $out"
	id=$(echo "$out" | sed -n 's/^dev \([0-9]*\):.*/\1/p')
	zc_fio /dev/ublkb"$id" randwrite 64k 1
	ublk del -n "$id"
	rm -f /tmp/zc.img
}

test_zero_copy_add_and_list_report_the_data_path() {
	zc_need
	local id out
	truncate -s 64M /tmp/zc.img
	out=$(ublk add -t loop -f /tmp/zc.img -z)
	echo "$out"
	[[ $out == *"data path zero-copy/auto,"* ]] || fail "add does not say zero copy"
	[[ $out == *AUTO_BUF_REG* ]] || fail "add does not list AUTO_BUF_REG among the features"
	id=$(echo "$out" | sed -n 's/^dev \([0-9]*\):.*/\1/p')
	grep -q '"zero_copy": "auto"' /run/ublk/"$id".json || fail "state file lacks zero_copy"
	ublk del -n "$id"
	# Unasked, the server picks automatic registration here; off copies;
	# null, which never touches data, takes -z (as the reference's null
	# does) and keeps its copy-free data path.
	out=$(ublk add -t loop -f /tmp/zc.img)
	[[ $out == *"data path zero-copy/auto,"* ]] || fail "the default is not zero-copy/auto: $out"
	ublk del -n "$(echo "$out" | sed -n 's/^dev \([0-9]*\):.*/\1/p')"
	out=$(ublk add -t loop -f /tmp/zc.img --zero-copy=off)
	[[ $out == *"data path copy,"* ]] || fail "--zero-copy=off does not copy: $out"
	ublk del -n "$(echo "$out" | sed -n 's/^dev \([0-9]*\):.*/\1/p')"
	out=$(ublk add -t null --size 1G -z)
	[[ $out == *"data path none,"* ]] || fail "null -z is not copy-free: $out"
	ublk del -n "$(echo "$out" | sed -n 's/^dev \([0-9]*\):.*/\1/p')"
	rm -f /tmp/zc.img
}

test_zero_copy_loop_fio_verify_in_every_mode_one_and_two_queues() {
	zc_need
	truncate -s 128M /tmp/zc.img
	zc_verify_modes -t loop -f /tmp/zc.img
	rm -f /tmp/zc.img
}

test_zero_copy_nvme_fio_verify_in_every_mode_on_512_byte_lbas() {
	zc_need
	zc_have_nvme 0
	zc_verify_modes -t nvme -f "$(zc_ng 0)"
}

test_zero_copy_nvme_fio_verify_auto_and_explicit_on_4096_byte_lbas() {
	zc_need
	zc_have_nvme 1
	local id
	id=$(zc_add auto -t nvme -f "$(zc_ng 1)" -q 2)
	zc_fio_all /dev/ublkb"$id" 2
	ublk del -n "$id"
	id=$(zc_add explicit -t nvme -f "$(zc_ng 1)" -q 1)
	zc_fio_all /dev/ublkb"$id" 1
	ublk del -n "$id"
}

# Every automatic registration made to fail (a test hook fills the slots the
# kernel would use): each request arrives with NEED_REG_BUF and the server
# registers it by hand; data still verifies, and the server counts them.
zc_by_hand_exits() {
	grep -cE 'queue [0-9]+: exit; [0-9]+ requests in [0-9]+ wakeups, [1-9][0-9]* registered by hand, [0-9]+ tags aborted, 0 errors' \
		/tmp/ublk-tests-syslog 2>/dev/null || true
}

test_zero_copy_auto_registers_by_hand_when_the_kernel_falls_back() {
	zc_need
	local id before
	truncate -s 128M /tmp/zc.img
	before=$(zc_by_hand_exits)
	id=$(zc_add auto -t loop -f /tmp/zc.img -q 2 --force-auto-fallback)
	zc_fio /dev/ublkb"$id" randrw 64k 2
	zc_fio /dev/ublkb"$id" write 512k 1
	ublk del -n "$id"
	# Both queues exited having registered by hand, without an error.
	wait_until 10 eval '(($(zc_by_hand_exits) >= before + 2))' ||
		fail "the server did not register by hand, or saw errors"
	grep 'registered by hand' /tmp/ublk-tests-syslog | tail -n 2
	rm -f /tmp/zc.img
}

# The NVMe queue's DMA limits become the zero-copy device's, so the block
# layer shapes requests the way the controller takes them and the kernel
# never bounces a request's pages on their way to the passthrough command.
test_zero_copy_nvme_device_carries_the_namespace_dma_limits() {
	zc_need
	zc_have_nvme 0
	local id ng nvq ubq f
	ng=$(zc_ng 0)
	nvq=/sys/block/nvme${ng#/dev/ng}/queue
	id=$(zc_add auto -t nvme -f "$ng")
	ubq=/sys/block/ublkb$id/queue
	for f in virt_boundary_mask dma_alignment max_segments; do
		echo "$f: nvme $(cat $nvq/$f) ublk $(cat $ubq/$f)"
		[[ $(cat $nvq/$f) == "$(cat $ubq/$f)" ]] || fail "$f differs"
	done
	(($(cat $ubq/max_hw_sectors_kb) <= $(cat $nvq/max_hw_sectors_kb))) || fail "max_hw_sectors_kb above the namespace's"
	ublk del -n "$id"
}

# zc_ext4_round_trip ARGS...: ext4 on a zero-copy device, files written and
# summed, del, re-add the same backend in copy mode: fsck clean, sums match.
zc_ext4_round_trip() {
	local id i
	id=$(zc_add "$@")
	shift
	mkfs.ext4 -q -F /dev/ublkb"$id" || fail "mkfs.ext4"
	mkdir -p /mnt/zc && mount /dev/ublkb"$id" /mnt/zc || fail "mount"
	for i in $(seq 1 20); do head -c $((i * 7919 + 65536)) /dev/urandom >/mnt/zc/f$i; done
	mkdir /mnt/zc/d && cp /mnt/zc/f* /mnt/zc/d/
	sync
	(cd /mnt/zc && md5sum f* d/*) >/tmp/zc-sums
	umount /mnt/zc
	ublk del -n "$id"
	id=$(add_dev "$@" --zero-copy=off)
	ublk list -n "$id" | grep -q 'data path copy,' || fail "re-add is not in copy mode"
	e2fsck -fn /dev/ublkb"$id" || fail "e2fsck after re-add in copy mode"
	mount /dev/ublkb"$id" /mnt/zc || fail "mount after re-add"
	(cd /mnt/zc && md5sum -c /tmp/zc-sums >/dev/null) || fail "checksums differ after re-add"
	umount /mnt/zc
	ublk del -n "$id"
}

test_zero_copy_ext4_on_loop_survives_re_add_in_copy_mode() {
	zc_need
	truncate -s 256M /tmp/zc.img
	zc_ext4_round_trip auto -t loop -f /tmp/zc.img
	rm -f /tmp/zc.img
}

test_zero_copy_ext4_on_nvme_survives_re_add_in_copy_mode() {
	zc_need
	zc_have_nvme 1
	zc_ext4_round_trip explicit -t nvme -f "$(zc_ng 1)"
}

zc_small_down() {
	umount /mnt/zcsmall 2>/dev/null || true
}

test_zero_copy_loop_backend_errors_reach_the_application() {
	zc_need
	local id mode
	trap zc_small_down EXIT
	mkdir -p /mnt/zcsmall
	for mode in auto explicit; do
		echo "== $mode"
		# A 64 MiB sparse file on an 8 MiB tmpfs: writes past what fits get ENOSPC.
		mount -t tmpfs -o size=8M tmpfs /mnt/zcsmall
		truncate -s 64M /mnt/zcsmall/f
		id=$(zc_add $mode -t loop -f /mnt/zcsmall/f)
		if dd if=/dev/urandom of=/dev/ublkb"$id" bs=1M count=32 oflag=direct 2>/dev/null; then
			fail "writing 32 MiB into an 8 MiB tmpfs succeeded"
		fi
		# The device keeps serving at full depth: what fits still reads and
		# writes, verified.
		fio_ok --name=after --filename=/dev/ublkb"$id" --rw=randwrite --bs=4k --size=1M \
			--ioengine=io_uring --direct=1 --iodepth=128 --verify=crc32c --do_verify=1 --verify_fatal=1
		dd if=/dev/ublkb"$id" of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null || fail "reads fail after ENOSPC"
		ublk del -n "$id"
		wait_until 5 dev_gone "$id" || fail "device still there after del"
		umount /mnt/zcsmall
	done
}

# del with every tag busy in a backend I/O: each registration is released
# (no hung tag keeps del waiting), fio gets errors, the backing file is free
# for the next device.
test_zero_copy_del_under_load_releases_every_slot() {
	zc_need
	local id mode fio_pid rc
	truncate -s 128M /tmp/zc.img
	for mode in auto explicit; do
		echo "== $mode"
		rc=0
		id=$(zc_add $mode -t loop -f /tmp/zc.img -q 2)
		fio --name=busy --filename=/dev/ublkb"$id" --rw=randrw --bs=64k --iodepth=128 --numjobs=2 \
			--ioengine=io_uring --direct=1 --runtime=120 --time_based >/tmp/busy.out 2>&1 &
		fio_pid=$!
		sleep 3
		ublk del -n "$id" || fail "del failed under load"
		wait_until 10 bash -c "! kill -0 $fio_pid 2>/dev/null" || fail "fio still running 10 s after del"
		wait "$fio_pid" || rc=$?
		((rc != 0)) || grep -qE 'err= *[1-9]|error' /tmp/busy.out || fail "fio saw no error"
		wait_until 10 dev_gone "$id" || fail "device left behind"
	done
	id=$(zc_add explicit -t loop -f /tmp/zc.img)
	zc_fio /dev/ublkb"$id" randrw 16k 1
	ublk del -n "$id"
	rm -f /tmp/zc.img
}
