# The loop target: files and block devices behind /dev/ublkbN.

nvme512=/dev/disk/by-id/nvme-ublktest0   # 1 GiB, 512-byte LBA
nvme4k=/dev/disk/by-id/nvme-ublktest1    # 1 GiB, 4096-byte LBA

loop_need_nvme() { [[ -b $1 ]] || fail "no emulated NVMe drive $1 (see tests/vm/kernel-tier.sh)"; }

# An ext4 file system on a kernel loop device over a tmpfs image, mounted on
# /mnt/host, so backing files can live on a file system with O_DIRECT.
loop_host_ext4_up() {
	truncate -s 768M /tmp/host.img
	host_loop=$(losetup -f --show /tmp/host.img)
	mkfs.ext4 -q -F "$host_loop"
	mkdir -p /mnt/host
	mount "$host_loop" /mnt/host
}
loop_host_ext4_down() {
	umount /mnt/host 2>/dev/null || true
	[[ -z ${host_loop:-} ]] || losetup -d "$host_loop" 2>/dev/null || true
	rm -f /tmp/host.img
}

# loop_add ARGS...: ublk add -t loop ARGS; prints the id.
loop_add() { add_dev -t loop "$@"; }

# loop_fio_verify DEVICE JOBS: random writes of 4k, 64k and 1M blocks with crc32c
# checksums, each job on its own slice, then verified reads.
loop_fio_verify() { fio_verify_slices "$1" "$2" 4M 16M 40M; }

# loop_slice_sum FILE BS SKIP COUNT: checksum of COUNT blocks of BS after SKIP blocks.
loop_slice_sum() { dd if="$1" bs="$2" skip="$3" count="$4" 2>/dev/null | md5sum | cut -d' ' -f1; }

loop_queue_attr() { cat /sys/block/ublkb"$1"/queue/"$2"; }

test_loop_fio_verify_passes_on_a_tmpfs_file_with_one_and_two_queues() {
	local id q
	truncate -s 128M /tmp/backing.img
	for q in 1 2; do
		id=$(loop_add -f /tmp/backing.img -q $q)
		[[ $(blockdev --getsize64 /dev/ublkb"$id") == 134217728 ]] || fail "size is not the file's"
		loop_fio_verify /dev/ublkb"$id" "$q"
		ublk del -n "$id"
	done
	rm -f /tmp/backing.img
}

test_loop_fio_verify_passes_on_an_ext4_file_with_direct_io() {
	local id q out
	trap loop_host_ext4_down EXIT
	loop_host_ext4_up
	truncate -s 128M /mnt/host/backing.img
	for q in 1 2; do
		out=$(ublk add -t loop -f /mnt/host/backing.img -q $q --json 2>&1)
		echo "$out"
		[[ $out != *"buffered I/O"* ]] || fail "ext4 file did not get O_DIRECT"
		id=$(echo "$out" | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p')
		loop_fio_verify /dev/ublkb"$id" "$q"
		ublk del -n "$id"
	done
}

test_loop_fio_verify_passes_on_nvme_block_devices_of_both_sector_sizes() {
	local id err
	loop_need_nvme $nvme512
	loop_need_nvme $nvme4k
	id=$(loop_add -f $nvme512 -q 2)
	[[ $(blockdev --getsize64 /dev/ublkb"$id") == 1073741824 ]] || fail "size is not the drive's"
	loop_fio_verify /dev/ublkb"$id" 2
	ublk del -n "$id"
	# 4k-native drive: 4096-byte blocks keep O_DIRECT ...
	id=$(loop_add -f $nvme4k --logical-block-size 4096)
	[[ $(loop_queue_attr "$id" logical_block_size) == 4096 ]] || fail "logical block size not 4096"
	loop_fio_verify /dev/ublkb"$id" 1
	ublk del -n "$id"
	# ... 512-byte blocks fall back to buffered I/O and say why.
	id=$(loop_add -f $nvme4k 2>/tmp/add.err)
	err=$(cat /tmp/add.err)
	echo "$err"
	[[ $err == *"buffered I/O instead of O_DIRECT: the logical block size 512 is smaller"* ]] ||
		fail "no reason given for buffered I/O"
	loop_fio_verify /dev/ublkb"$id" 1
	ublk del -n "$id"
}

test_loop_data_lands_in_the_backing_file_byte_for_byte() {
	local id
	truncate -s 64M /tmp/backing.img
	dd if=/dev/urandom of=/tmp/pattern bs=1M count=16 2>/dev/null
	id=$(loop_add -f /tmp/backing.img --offset 1M --size 32M)
	[[ $(blockdev --getsize64 /dev/ublkb"$id") == 33554432 ]] || fail "--size not applied"
	dd if=/tmp/pattern of=/dev/ublkb"$id" bs=1M seek=8 oflag=direct 2>/dev/null
	# A small write through the page cache of the ublk device.
	dd if=/tmp/pattern of=/dev/ublkb"$id" bs=4k count=3 conv=fsync 2>/dev/null
	ublk del -n "$id"
	[[ $(loop_slice_sum /tmp/backing.img 4k 256 3) == $(loop_slice_sum /tmp/pattern 4k 0 3) ]] ||
		fail "the first 12k differ"
	[[ $(loop_slice_sum /tmp/backing.img 1M 9 16) == $(loop_slice_sum /tmp/pattern 1M 0 16) ]] ||
		fail "the pattern did not land at 1M + 8M"
	local zeros
	zeros=$(loop_slice_sum /dev/zero 1M 0 1)
	[[ $(loop_slice_sum /tmp/backing.img 1M 0 1) == "$zeros" ]] || fail "data before --offset was touched"
	[[ $(loop_slice_sum /tmp/backing.img 1M 33 1) == "$zeros" ]] || fail "data past the device was touched"
	rm -f /tmp/backing.img /tmp/pattern
}

test_loop_geometry_follows_the_backing_store() {
	local id
	loop_need_nvme $nvme4k
	truncate -s 64M /tmp/backing.img
	id=$(loop_add -f /tmp/backing.img)
	[[ $(loop_queue_attr "$id" logical_block_size) == 512 ]] || fail "default logical block size is not 512"
	[[ $(loop_queue_attr "$id" write_cache) == "write back" ]] || fail "a file needs flushes: no volatile cache"
	(($(loop_queue_attr "$id" discard_max_bytes) > 0)) || fail "tmpfs punches holes: discard not advertised"
	(($(loop_queue_attr "$id" write_zeroes_max_bytes) > 0)) || fail "write-zeroes not advertised"
	ublk del -n "$id"
	id=$(loop_add -f $nvme4k --logical-block-size 4096)
	[[ $(loop_queue_attr "$id" physical_block_size) == 4096 ]] || fail "physical block size not the drive's"
	ublk del -n "$id"
	rm -f /tmp/backing.img
}

test_loop_read_only_device_refuses_writes_and_serves_reads() {
	local id
	dd if=/dev/urandom of=/tmp/backing.img bs=1M count=8 2>/dev/null
	id=$(loop_add -f /tmp/backing.img --read-only)
	[[ $(blockdev --getro /dev/ublkb"$id") == 1 ]] || fail "device is not read-only"
	if dd if=/dev/zero of=/dev/ublkb"$id" bs=4k count=1 oflag=direct 2>/dev/null; then
		fail "a write to a read-only device succeeded"
	fi
	cmp /dev/ublkb"$id" /tmp/backing.img || fail "reads differ from the file"
	[[ $(loop_queue_attr "$id" write_cache) == "write through" ]] || fail "read-only device advertises a cache"
	ublk del -n "$id"
	rm -f /tmp/backing.img
}

test_loop_reads_past_a_shrunken_backing_file_fail_and_the_rest_still_works() {
	local id
	truncate -s 16M /tmp/backing.img
	id=$(loop_add -f /tmp/backing.img)
	truncate -s 8M /tmp/backing.img
	if dd if=/dev/ublkb"$id" of=/dev/null bs=4k skip=3000 count=1 iflag=direct 2>/dev/null; then
		fail "a read past the end of the backing file succeeded"
	fi
	dd if=/dev/ublkb"$id" of=/dev/null bs=4k count=16 iflag=direct 2>/dev/null ||
		fail "reads inside the file fail after an error"
	ublk del -n "$id"
	rm -f /tmp/backing.img
}

# loop_make_tree DIR: a few directories of files of assorted sizes, about 30 MiB
# whatever the build (a sanitized install is too big to copy here).
loop_make_tree() {
	local d=$1 i
	mkdir -p "$d/a/b/c" "$d/bin" "$d/tests"
	cp -a /opt/tests/. "$d/tests/"
	cp "$(command -v fio)" "$(command -v mkfs.ext4)" "$d/bin/"
	for i in 1 2 3 4 5 6; do
		dd if=/dev/urandom of="$d/a/f$i" bs=$((i * 13))k count=$i status=none
		dd if=/dev/urandom of="$d/a/b/c/g$i" bs=1k count=$((i * 100)) status=none
	done
	dd if=/dev/urandom of="$d/big" bs=1M count=24 status=none
}
loop_tree_sums() { (cd "$1" && find . -type f | sort | xargs md5sum); }

# loop_fs_round_trip MKFS CHECK: a tree of files survives umount, del and re-add.
loop_fs_round_trip() {
	local mkfs=$1 check=$2 id
	truncate -s 512M /tmp/fs.img
	id=$(loop_add -f /tmp/fs.img -q 2)
	$mkfs /dev/ublkb"$id" >/dev/null
	mkdir -p /mnt/loopfs
	mount /dev/ublkb"$id" /mnt/loopfs
	loop_make_tree /mnt/loopfs
	loop_tree_sums /mnt/loopfs >/tmp/sums
	umount /mnt/loopfs
	ublk del -n "$id"
	id=$(loop_add -f /tmp/fs.img)
	mount /dev/ublkb"$id" /mnt/loopfs
	[[ $(loop_tree_sums /mnt/loopfs) == "$(cat /tmp/sums)" ]] || fail "files changed across del and re-add"
	umount /mnt/loopfs
	$check /dev/ublkb"$id" || fail "$check found problems"
	ublk del -n "$id"
	rm -f /tmp/fs.img /tmp/sums
}

test_loop_ext4_files_survive_del_and_re_add_and_fsck_is_clean() {
	loop_fs_round_trip "mkfs.ext4 -q -F" "e2fsck -fn"
}

test_loop_xfs_files_survive_del_and_re_add_and_repair_finds_nothing() {
	need_tools mkfs.xfs xfs_repair
	modprobe xfs 2>/dev/null || skip "kernel $(uname -r) has no xfs module"
	loop_fs_round_trip "mkfs.xfs -q -f" "xfs_repair -n"
}

# loop_discard_file DIR: discard and write-zeroes read back zeros, leave
# holes, and keep the data around them.
loop_discard_file() {
	local img=$1/discard.img id before after zeros
	dd if=/dev/urandom of=/tmp/pattern bs=1M count=64 2>/dev/null
	truncate -s 64M "$img"
	id=$(loop_add -f "$img")
	dd if=/tmp/pattern of=/dev/ublkb"$id" bs=1M oflag=direct 2>/dev/null
	sync "$img"
	before=$(stat -c %b "$img")
	blkdiscard -o 8M -l 16M /dev/ublkb"$id" || fail "discard failed"
	blkdiscard -z -o 32M -l 8M /dev/ublkb"$id" || fail "write-zeroes failed"
	zeros=$(loop_slice_sum /dev/zero 1M 0 8)
	[[ $(loop_slice_sum /dev/ublkb"$id" 1M 8 8) == "$zeros" ]] || fail "discarded range is not zero"
	[[ $(loop_slice_sum /dev/ublkb"$id" 1M 32 8) == "$zeros" ]] || fail "zeroed range is not zero"
	ublk del -n "$id"
	after=$(stat -c %b "$img")
	echo "$img: $before blocks before, $after after"
	((after <= before - 32768)) || fail "no hole punched for 16M of discard"
	[[ $(loop_slice_sum "$img" 1M 16 8) == "$zeros" ]] || fail "backing file not zero after discard"
	[[ $(loop_slice_sum "$img" 1M 32 8) == "$zeros" ]] || fail "backing file not zero after write-zeroes"
	[[ $(loop_slice_sum "$img" 1M 0 8) == $(loop_slice_sum /tmp/pattern 1M 0 8) ]] || fail "data before the range lost"
	[[ $(loop_slice_sum "$img" 1M 40 24) == $(loop_slice_sum /tmp/pattern 1M 40 24) ]] || fail "data after the range lost"
	rm -f "$img" /tmp/pattern
}

test_loop_discard_and_write_zeroes_punch_holes_in_tmpfs_and_ext4_files() {
	trap loop_host_ext4_down EXIT
	loop_discard_file /tmp
	loop_host_ext4_up
	loop_discard_file /mnt/host
}

test_loop_discard_and_write_zeroes_work_on_a_block_device() {
	local id zeros
	loop_need_nvme $nvme512
	dd if=/dev/urandom of=/tmp/pattern bs=1M count=16 2>/dev/null
	id=$(loop_add -f $nvme512)
	dd if=/tmp/pattern of=/dev/ublkb"$id" bs=1M oflag=direct 2>/dev/null
	blkdiscard -z -o 4M -l 4M /dev/ublkb"$id" || fail "write-zeroes failed"
	zeros=$(loop_slice_sum /dev/zero 1M 0 4)
	[[ $(loop_slice_sum /dev/ublkb"$id" 1M 4 4) == "$zeros" ]] || fail "zeroed range is not zero"
	(($(loop_queue_attr "$id" discard_max_bytes) > 0)) || fail "the drive discards but the device does not"
	blkdiscard -o 8M -l 4M /dev/ublkb"$id" || fail "discard failed"
	[[ $(loop_slice_sum /dev/ublkb"$id" 1M 0 4) == $(loop_slice_sum /tmp/pattern 1M 0 4) ]] || fail "data before lost"
	[[ $(loop_slice_sum /dev/ublkb"$id" 1M 12 4) == $(loop_slice_sum /tmp/pattern 1M 12 4) ]] || fail "data after lost"
	ublk del -n "$id"
	[[ $(loop_slice_sum $nvme512 1M 4 4) == "$zeros" ]] || fail "drive not zero after write-zeroes"
	rm -f /tmp/pattern
}

test_loop_flush_reaches_fdatasync_on_the_backing_file() {
	local pid id flushes
	truncate -s 64M /tmp/backing.img
	ublk add -t loop -f /tmp/backing.img --foreground >/tmp/fg.out 2>/tmp/fg.err &
	pid=$!
	wait_until 30 grep -q "live" /tmp/fg.out || fail "device did not come up: $(cat /tmp/fg.err)"
	id=$(sed -n 's/^dev \([0-9]*\):.*/\1/p' /tmp/fg.out)
	dd if=/dev/urandom of=/dev/ublkb"$id" bs=4k count=4 conv=fsync 2>/dev/null || fail "fsync failed"
	kill -INT "$pid"
	wait "$pid" || fail "server exited with $?"
	grep "loop queue" /tmp/fg.err
	# One line per thread serving the queue (two with --threads 2).
	flushes=$(sed -n 's/.*loop queue 0: .* \([0-9]*\) flushes (fdatasync).*/\1/p' /tmp/fg.err |
		awk '{n += $1} END {print n + 0}')
	((flushes >= 1)) || fail "fsync of the device did not reach fdatasync"
	rm -f /tmp/backing.img
}

test_loop_del_while_mounted_keeps_the_data_and_does_not_hang() {
	local id start
	truncate -s 256M /tmp/fs.img
	id=$(loop_add -f /tmp/fs.img)
	mkfs.ext4 -q -F /dev/ublkb"$id"
	mkdir -p /mnt/loopfs
	mount /dev/ublkb"$id" /mnt/loopfs
	loop_make_tree /mnt/loopfs
	loop_tree_sums /mnt/loopfs >/tmp/sums
	start=$SECONDS
	ublk del -n "$id" || fail "del refused a mounted device"
	((SECONDS - start <= 15)) || fail "del took $((SECONDS - start)) s"
	wait_until 10 dev_gone "$id" || fail "device left behind"
	if touch /mnt/loopfs/new 2>/dev/null; then fail "the dead file system took a write"; fi
	umount /mnt/loopfs || fail "cannot unmount the dead file system"
	id=$(loop_add -f /tmp/fs.img)
	mount /dev/ublkb"$id" /mnt/loopfs
	[[ $(loop_tree_sums /mnt/loopfs) == "$(cat /tmp/sums)" ]] || fail "files written before del were lost"
	umount /mnt/loopfs
	e2fsck -fn /dev/ublkb"$id" || fail "e2fsck found problems"
	ublk del -n "$id"
	rm -f /tmp/fs.img /tmp/sums
}

test_loop_bad_backing_stores_are_refused_with_one_line() {
	local id
	expect_error "the loop target needs a backing file: -f PATH" ublk add -t loop
	expect_error "/tmp/missing.img does not exist" ublk add -t loop -f /tmp/missing.img
	expect_error "/tmp is a directory, not a file or block device" ublk add -t loop -f /tmp
	expect_error "/dev/null is neither a regular file nor a block device" ublk add -t loop -f /dev/null
	dd if=/dev/zero of=/tmp/tiny.img bs=100 count=1 2>/dev/null
	expect_error "/tmp/tiny.img is smaller than one 512-byte block" ublk add -t loop -f /tmp/tiny.img
	truncate -s 16M /tmp/b.img
	expect_error "--offset 33554432 is past the end of /tmp/b.img" ublk add -t loop -f /tmp/b.img --offset 32M
	expect_error "--offset 1000 is not a multiple of the logical block size 512" \
		ublk add -t loop -f /tmp/b.img --offset 1000B
	expect_error "--size 33554432 is larger than /tmp/b.img" ublk add -t loop -f /tmp/b.img --size 32M
	expect_error "--logical-block-size 1024: must be 512 or 4096" \
		ublk add -t loop -f /tmp/b.img --logical-block-size 1024
	nothing_created
	id=$(loop_add -f /tmp/b.img)
	expect_error "/tmp/b.img is already the backing store of ublk device $id" ublk add -t loop -f /tmp/b.img
	ln -sf /tmp/b.img /tmp/b-link.img
	expect_error "already the backing store of ublk device $id" ublk add -t loop -f /tmp/b-link.img
	ublk del -n "$id"
	chmod 000 /tmp/b.img
	expect_error "no permission to open /tmp/b.img" \
		setpriv --bounding-set=-dac_override,-dac_read_search ublk add -t loop -f /tmp/b.img
	nothing_created
	rm -f /tmp/tiny.img /tmp/b.img /tmp/b-link.img
}

test_loop_mounted_block_device_is_refused() {
	loop_need_nvme $nvme512
	mkfs.ext4 -q -F $nvme512
	mkdir -p /mnt/nvme
	mount $nvme512 /mnt/nvme
	local rc=0
	( expect_error "$nvme512 is in use \(mounted, or claimed by another driver\)" \
		ublk add -t loop -f $nvme512 ) || rc=$?
	umount /mnt/nvme
	nothing_created
	return $rc
}
