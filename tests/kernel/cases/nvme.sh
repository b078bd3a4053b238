# The nvme target: an emulated NVMe namespace through io_uring passthrough.
# Drives (tests/vm/kernel-tier.sh): ublktest0 512-byte LBAs, ublktest1
# 4096-byte LBAs, ublktest2 with metadata (nvme_integrity.sh).

nvme_ng() { readlink -f /dev/disk/by-id/ng-ublktest"$1"; }
nvme_blk() { readlink -f /dev/disk/by-id/nvme-ublktest"$1"; }
need_nvme() { [[ -e /dev/disk/by-id/ng-ublktest$1 ]] || skip "no NVMe drive ublktest$1 (tests/vm/kernel-tier.sh emulates it)"; }

# fio_verify DEV BS QUEUES: random writes with crc32c, then verified reads.
fio_verify() {
	fio_ok --name=verify --filename="$1" --rw=randwrite --bs="$2" --iodepth=16 \
		--ioengine=io_uring --direct=1 --size=16M --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --numjobs="$3" --offset_increment=128M --group_reporting
}

# copy_free_paths: the `add` options of every data path the kernel serves
# zoned and integrity devices with (never plain copy), one per line: user
# copy always, zero copy (automatic and explicit registration) from 6.16.
copy_free_paths() {
	echo --usercopy
	if ublk features | grep -qx AUTO_BUF_REG; then
		echo -z
		echo --zero-copy=explicit
	fi
}

# copy_free_default: what `add` chooses unasked.
copy_free_default() {
	if ublk features | grep -qx AUTO_BUF_REG; then echo zero-copy/auto; else echo user-copy; fi
}

# data_path_of ID: the device's data path from `ublk list --json`.
data_path_of() {
	ublk list -n "$1" --json | sed -n 's/^ *"data_path": "\([^"]*\)",*$/\1/p'
}

test_nvme_fio_verify_at_4k_128k_and_max_size_on_512_byte_lbas() {
	need_nvme 0
	local id max
	id=$(add_dev -t nvme -f "$(nvme_ng 0)")
	max=$(($(cat /sys/block/ublkb"$id"/queue/max_sectors_kb) * 1024))
	echo "max I/O $max bytes"
	for bs in 4k 128k "$max"; do fio_verify /dev/ublkb"$id" "$bs" 1; done
	ublk del -n "$id"
	id=$(add_dev -t nvme -q 2 -f "$(nvme_blk 0)")
	fio_verify /dev/ublkb"$id" 64k 2
	ublk del -n "$id"
}

test_nvme_4096_byte_namespace_gets_4096_byte_blocks() {
	need_nvme 1
	local id
	id=$(add_dev -t nvme -f "$(nvme_ng 1)")
	[[ $(blockdev --getss /dev/ublkb"$id") == 4096 ]] || fail "logical block size is not 4096"
	[[ $(blockdev --getsize64 /dev/ublkb"$id") == $(blockdev --getsize64 "$(nvme_blk 1)") ]] ||
		fail "capacity differs from the namespace"
	fio_verify /dev/ublkb"$id" 4k 2
	fio_verify /dev/ublkb"$id" 256k 1
	ublk del -n "$id"
}

test_nvme_data_is_really_on_the_namespace() {
	need_nvme 0
	local id
	dd if=/dev/urandom of=/tmp/pattern bs=1M count=8 2>/dev/null
	id=$(add_dev -t nvme -f "$(nvme_ng 0)")
	dd if=/tmp/pattern of=/dev/ublkb"$id" bs=1M seek=3 oflag=direct 2>/dev/null || fail "write through ublk"
	ublk del -n "$id"
	dd if="$(nvme_blk 0)" of=/tmp/back bs=1M skip=3 count=8 iflag=direct 2>/dev/null
	cmp /tmp/pattern /tmp/back || fail "the namespace does not hold what was written through /dev/ublkb$id"
}

test_nvme_ext4_survives_del_and_re_add() {
	need_nvme 1
	local id
	id=$(add_dev -t nvme -f "$(nvme_ng 1)")
	mkfs.ext4 -q -F /dev/ublkb"$id" || fail "mkfs.ext4"
	mkdir -p /mnt/n && mount /dev/ublkb"$id" /mnt/n || fail "mount"
	for i in $(seq 1 20); do head -c $((i * 7919)) /dev/urandom >/mnt/n/f$i; done
	mkdir /mnt/n/d && cp /mnt/n/f* /mnt/n/d/
	(cd /mnt/n && md5sum f* d/*) >/tmp/sums
	umount /mnt/n
	ublk del -n "$id"
	id=$(add_dev -t nvme -f "$(nvme_ng 1)")
	e2fsck -fn /dev/ublkb"$id" || fail "e2fsck after re-add"
	mount /dev/ublkb"$id" /mnt/n || fail "mount after re-add"
	(cd /mnt/n && md5sum -c /tmp/sums >/dev/null) || fail "checksums differ after re-add"
	umount /mnt/n
	ublk del -n "$id"
}

test_nvme_discard_and_write_zeroes_reach_the_namespace() {
	need_nvme 0
	local id
	id=$(add_dev -t nvme -f "$(nvme_ng 0)")
	dd if=/dev/urandom of=/dev/ublkb"$id" bs=1M count=4 oflag=direct 2>/dev/null
	blkdiscard -o 0 -l 1M /dev/ublkb"$id" || fail "blkdiscard"
	blkdiscard -z -o 2M -l 1M /dev/ublkb"$id" || fail "blkdiscard -z"
	ublk del -n "$id"
	local blk
	blk=$(nvme_blk 0)
	zero_range "$blk" 0 1 || fail "discarded range does not read back as zeros"
	zero_range "$blk" 2 1 || fail "zeroed range does not read back as zeros"
	! zero_range "$blk" 1 1 || fail "data between the ranges was lost"
}

test_nvme_bad_devices_are_refused_clearly() {
	need_nvme 0
	need_nvme 2
	expect_error "is an NVMe controller, not a namespace" ublk add -t nvme -f /dev/nvme0
	expect_error "/dev/null is not an NVMe namespace" ublk add -t nvme -f /dev/null
	expect_error "/dev/ng9n9: No such file or directory" ublk add -t nvme -f /dev/ng9n9
	expect_error "needs -f" ublk add -t nvme
	# Let the unprivileged user past the control device, so that the namespace
	# itself is what refuses it.
	chmod 0666 /dev/ublk-control
	local rc=0
	(expect_error "/dev/ng[0-9]+n[0-9]+: you cannot open it for reading and writing \(Permission denied\)" \
		setpriv --reuid=65534 --regid=65534 --clear-groups ublk add -t nvme -f "$(nvme_ng 0)") || rc=$?
	chmod 0600 /dev/ublk-control
	((rc == 0)) || fail "no clear permission error for the namespace"
	# Metadata needs UBLK_F_INTEGRITY (nvme_integrity.sh serves it where the
	# kernel has it).
	if ! ublk features | grep -qx INTEGRITY; then
		expect_error "8 bytes of metadata per block.*UBLK_F_INTEGRITY \(Linux 7.0 or later\)" \
			ublk add -t nvme -f "$(nvme_ng 2)"
	fi
	[[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]] || fail "a device was left behind"
}

# Zoned namespaces are served (nvme_zoned.sh); --size cannot cut one.
test_nvme_zoned_namespace_refuses_a_size() {
	need_nvme 3
	expect_error "--size does not apply to .*, a zoned namespace" \
		ublk add -t nvme --size 64M -f "$(nvme_ng 3)"
	nothing_created
}

# Two servers on one namespace would corrupt it, as for loop's files.
test_nvme_namespace_already_served_is_refused() {
	need_nvme 0
	local id ng
	ng=$(nvme_ng 0)
	id=$(add_dev -t nvme -f "$ng")
	expect_error "$ng is already the backing store of ublk device $id" ublk add -t nvme -f "$ng"
	[[ $(ls /sys/class/ublk-char | wc -l) == 1 ]] || fail "a second device was made"
	ublk del -n "$id"
	id=$(add_dev -t nvme -f "$ng")
	ublk del -n "$id"
}
