# The nvme target on zoned (ZNS) namespaces (UBLK_F_ZONED; zero copy where
# the kernel has AUTO_BUF_REG, else user copy): ublktest3 (64 MiB zones, max
# open 4, max active 6) and ublktest4 (96 MiB zones, which the device shows
# as 128 MiB zones of 96 MiB capacity). Helpers from nvme.sh and recovery.sh.

need_zoned() {
	ublk features | grep -qx ZONED || skip "kernel $(uname -r) has no UBLK_F_ZONED (Linux 6.6)"
}


# zbd_verify DEV ZONES: sequential writes through fio's zone mode over the
# first ZONES zones (reset first), verified with crc32c.
zbd_verify() {
	local zone_bytes
	zone_bytes=$(($(cat /sys/block/"$(basename "$1")"/queue/chunk_sectors) * 512))
	blkzone reset "$1" || fail "blkzone reset $1"
	fio_ok --name=zbd --filename="$1" --ioengine=io_uring --direct=1 --zonemode=zbd \
		--rw=write --bs=64k --iodepth=4 --size=$(($2 * zone_bytes)) --verify=crc32c \
		--do_verify=1 --verify_fatal=1
}

# same_zones ID: device ID's zone report (conditions, write pointers) is
# that of namespace 3.
same_zones() {
	diff <(blkzone report /dev/ublkb"$1") <(blkzone report "$(nvme_blk 3)")
}

# zone_cond DEV ZONE: the condition number blkzone reports for zone ZONE.
zone_cond() {
	blkzone report -c 1 -o "$(($2 * $(cat /sys/block/"$(basename "$1")"/queue/chunk_sectors)))" "$1" |
		sed -n 's/.*zcond: *\([0-9]*\).*/\1/p'
}

# zoned_add ARGS...: add_dev, except that -z (automatic registration) keeps
# the per-tag commands whatever variant the tier runs: with --batch a zoned
# namespace refuses -z and takes user copy by default (feature_flags.cpp;
# checked by the btrfs batch test).
zoned_add() {
	if [[ " $* " == *" -z "* ]]; then
		UBLK_TEST_VARIANT='' add_dev "$@"
	else
		add_dev "$@"
	fi
}

test_nvme_zoned_device_is_host_managed_with_the_namespaces_zones_and_limits() {
	need_nvme 3
	need_zoned
	local id out q nq f
	# The defaults, checked below, whatever variant the tier runs.
	out=$(UBLK_TEST_VARIANT='' ublk add -t nvme -f "$(nvme_ng 3)") || fail "ublk add"
	echo "$out"
	id=$(ls /sys/class/ublk-char | sed 's/ublkc//' | head -n1)
	echo "$out" | grep -q "zoned" || fail "add does not report the zones"
	q=/sys/block/ublkb$id/queue
	nq=/sys/block/$(basename "$(nvme_blk 3)")/queue
	[[ $(cat $q/zoned) == host-managed ]] || fail "ublkb$id is $(cat $q/zoned)"
	for f in chunk_sectors nr_zones max_open_zones max_active_zones; do
		echo "$f: ublkb$id $(cat $q/$f), nvme $(cat $nq/$f)"
		[[ $(cat $q/$f) == "$(cat $nq/$f)" ]] || fail "queue/$f differs from the namespace's"
	done
	[[ $(cat $q/max_open_zones) == 4 && $(cat $q/max_active_zones) == 6 ]] || fail "not 4 open / 6 active"
	ublk list -n "$id" | grep -q "zone size 67108864" || fail "list does not report the zone size"
	ublk list -n "$id" --json | grep -q '"zone_bytes": 67108864' || fail "list --json lacks zone_bytes"
	[[ $(data_path_of "$id") == "$(copy_free_default)" ]] ||
		fail "data path $(data_path_of "$id"), want $(copy_free_default)"
	# Not asked, a zoned device keeps the per-tag commands (with batch
	# commands it gives up automatic zero copy).
	ublk list -n "$id" --json | grep -q '"batch": false' || fail "a zoned device took batch commands"
	blkzone reset /dev/ublkb"$id"
	same_zones "$id" ||
		fail "the zone report differs from the namespace's"
	ublk del -n "$id"
}

test_nvme_zoned_fio_zbd_write_verify_passes_in_every_data_path() {
	need_nvme 3
	need_zoned
	local id path
	while read -r path; do
		echo "data path: $path"
		id=$(zoned_add -t nvme -f "$(nvme_ng 3)" $path)
		zbd_verify /dev/ublkb"$id" 2
		same_zones "$id" ||
			fail "$path: the write pointers differ from the namespace's"
		ublk del -n "$id"
	done < <(copy_free_paths)
}

# Two queues: fio jobs on different zones at once, each zone's writes in
# order (the block layer's zone write plugging), verified.
test_nvme_zoned_two_queues_serve_two_writers_verified() {
	need_nvme 3
	need_zoned
	local id zone_bytes
	id=$(add_dev -t nvme -f "$(nvme_ng 3)" -q 2)
	[[ $(ls /sys/block/ublkb"$id"/mq | wc -l) == 2 ]] || fail "not 2 hardware queues"
	zone_bytes=$((64 << 20))
	blkzone reset /dev/ublkb"$id"
	fio_ok --name=zbd2 --filename=/dev/ublkb"$id" --ioengine=io_uring --direct=1 --zonemode=zbd \
		--rw=write --bs=64k --iodepth=4 --numjobs=2 --offset_increment=$((2 * zone_bytes)) \
		--size=$((2 * zone_bytes)) --verify=crc32c --do_verify=1 --verify_fatal=1 --group_reporting
	same_zones "$id" ||
		fail "the write pointers differ from the namespace's"
	ublk del -n "$id"
}

test_nvme_zoned_read_only_device_reports_zones_and_refuses_changes() {
	need_nvme 3
	need_zoned
	local id dev
	id=$(add_dev -t nvme -f "$(nvme_ng 3)")
	dev=/dev/ublkb$id
	blkzone reset "$dev"
	dd if=/dev/urandom of="$dev" bs=64k count=4 oflag=direct status=none || fail "write zone 0"
	ublk del -n "$id"
	id=$(add_dev -t nvme -f "$(nvme_ng 3)" --read-only)
	dev=/dev/ublkb$id
	[[ $(cat /sys/block/ublkb"$id"/ro) == 1 ]] || fail "ublkb$id is not read-only"
	[[ $(cat /sys/block/ublkb"$id"/queue/zoned) == host-managed ]] || fail "not host-managed"
	diff <(blkzone report "$dev") <(blkzone report "$(nvme_blk 3)") || fail "the report differs"
	blkzone report -c 1 "$dev" | grep -q "wptr 0x000200" || fail "zone 0's write pointer is not at 256 KiB"
	if dd if=/dev/zero of="$dev" bs=64k count=1 seek=4 oflag=direct status=none 2>/dev/null; then
		fail "a write to the read-only device succeeded"
	fi
	if blkzone reset -o 0 -c 1 "$dev" 2>/dev/null; then fail "a zone reset on the read-only device succeeded"; fi
	blkzone report -c 1 "$(nvme_blk 3)" | grep -q "wptr 0x000200" || fail "the namespace's zone 0 changed"
	dd if="$dev" of=/dev/null bs=64k count=4 iflag=direct status=none || fail "reads fail"
	ublk del -n "$id"
}

# A zoned device with recovery: the server killed and a new one taking
# over keeps the zones' write pointers and data; writing goes on at the
# write pointer. (Killed idle: a write the dead server had sent could not
# be reissued at a write pointer that has moved, see the README.)
test_nvme_zoned_recovery_keeps_write_pointers_and_data() {
	need_nvme 3
	need_zoned
	local id dev
	id=$(add_dev -t nvme -f "$(nvme_ng 3)" -r)
	dev=/dev/ublkb$id
	blkzone reset "$dev"
	head -c $((1 << 20)) /dev/urandom >/tmp/zrec
	dd if=/tmp/zrec of="$dev" bs=64k oflag=direct status=none || fail "write zone 0"
	blkzone report -c 2 "$dev" >/tmp/zrec.report
	rec_kill "$id"
	rec_recover "$id"
	diff /tmp/zrec.report <(blkzone report -c 2 "$dev") || fail "the write pointers changed"
	cmp /tmp/zrec <(dd if="$dev" bs=64k count=16 iflag=direct status=none) || fail "zone 0's data differs"
	dd if=/tmp/zrec of="$dev" bs=64k seek=16 oflag=direct status=none || fail "write at the write pointer after recovery"
	blkzone report -c 1 "$dev" | grep -q "wptr 0x001000" || fail "zone 0's write pointer is not at 2 MiB"
	rm -f /tmp/zrec /tmp/zrec.report
	ublk del -n "$id"
}

# The zone resources the namespace has (4 open, 6 active) reach the
# application as the errors the kernel's own NVMe driver gives.
test_nvme_zoned_too_many_open_zones_fails_like_the_nvme_driver() {
	need_nvme 3
	need_zoned
	local id dev z err_ublk err_nvme
	id=$(add_dev -t nvme -f "$(nvme_ng 3)")
	dev=/dev/ublkb$id
	blkzone reset "$dev"
	for z in 0 1 2 3; do
		blkzone open -o $((z * 131072)) -c 1 "$dev" || fail "open zone $z"
	done
	err_ublk=$(blkzone open -o $((4 * 131072)) -c 1 "$dev" 2>&1) && fail "a fifth open zone was allowed"
	echo "ublk: $err_ublk"
	blkzone reset "$dev"
	ublk del -n "$id"
	dev=$(nvme_blk 3)
	for z in 0 1 2 3; do blkzone open -o $((z * 131072)) -c 1 "$dev" || fail "open zone $z on $dev"; done
	err_nvme=$(blkzone open -o $((4 * 131072)) -c 1 "$dev" 2>&1) && fail "the namespace allowed a fifth open zone"
	echo "nvme: $err_nvme"
	blkzone reset "$dev"
	[[ ${err_ublk##*: } == "${err_nvme##*: }" ]] || fail "ublk says '${err_ublk##*: }', the NVMe driver '${err_nvme##*: }'"
}

test_nvme_zoned_open_close_finish_reset_and_misplaced_writes() {
	need_nvme 3
	need_zoned
	local id dev
	id=$(add_dev -t nvme -f "$(nvme_ng 3)")
	dev=/dev/ublkb$id
	blkzone reset "$dev" || fail "reset all"
	[[ $(zone_cond "$dev" 2) == 1 ]] || fail "zone 2 not empty after reset"
	blkzone open -o $((2 * 131072)) -c 1 "$dev" || fail "open"
	[[ $(zone_cond "$dev" 2) == 3 ]] || fail "zone 2 not explicitly open: $(zone_cond "$dev" 2)"
	blkzone close -o $((2 * 131072)) -c 1 "$dev" || fail "close"
	# NVMe closes an open zone even when nothing was written (QEMU: closed).
	[[ $(zone_cond "$dev" 2) == "$(zone_cond "$(nvme_blk 3)" 2)" ]] ||
		fail "zone 2 is $(zone_cond "$dev" 2) after close, the namespace's $(zone_cond "$(nvme_blk 3)" 2)"
	[[ $(zone_cond "$dev" 2) == 4 || $(zone_cond "$dev" 2) == 1 ]] || fail "zone 2 not closed or empty"
	dd if=/dev/urandom of="$dev" bs=64k count=1 seek=$((2 * 1024)) oflag=direct status=none ||
		fail "a write at the write pointer failed"
	[[ $(zone_cond "$dev" 2) == 2 ]] || fail "zone 2 not implicitly open after a write"
	if dd if=/dev/zero of="$dev" bs=64k count=1 seek=$((2 * 1024 + 8)) oflag=direct status=none; then
		fail "a write beyond the write pointer succeeded"
	fi
	blkzone finish -o $((2 * 131072)) -c 1 "$dev" || fail "finish"
	[[ $(zone_cond "$dev" 2) == 14 ]] || fail "zone 2 not full after finish"
	if dd if=/dev/zero of="$dev" bs=64k count=1 seek=$((2 * 1024 + 1)) oflag=direct status=none; then
		fail "a write to a full zone succeeded"
	fi
	blkzone reset -o $((2 * 131072)) -c 1 "$dev" || fail "reset one"
	[[ $(zone_cond "$dev" 2) == 1 ]] || fail "zone 2 not empty after reset"
	ublk del -n "$id"
}

test_nvme_zoned_non_power_of_two_zones_are_rounded_up_and_remapped() {
	need_nvme 4
	need_zoned
	local path
	while read -r path; do
		echo "data path: $path"
		zoned_remap_round "$path"
	done < <(copy_free_paths)
}

# zoned_remap_round ADD_OPTION: the checks of the test above in one data path.
zoned_remap_round() {
	local id dev ng q
	ng=$(nvme_ng 4)
	id=$(zoned_add -t nvme -f "$ng" $1)
	dev=/dev/ublkb$id
	q=/sys/block/ublkb$id/queue
	[[ $(cat $q/zoned) == host-managed ]] || fail "not host-managed"
	[[ $(cat $q/chunk_sectors) == 262144 ]] || fail "zone size $(cat $q/chunk_sectors), want 128 MiB"
	[[ $(cat $q/nr_zones) == 10 ]] || fail "$(cat $q/nr_zones) zones, want 10"
	blkzone report -c 1 "$dev"
	blkzone report -c 1 "$dev" | grep -q "cap 0x030000" || fail "zone capacity is not 96 MiB"
	ublk list -n "$id" | grep -q "zone capacity 100663296" || fail "list does not report the capacity"
	zbd_verify "$dev" 1
	# Zone 1 of the device is zone 1 of the namespace: LBA 196608.
	blkzone reset -o 262144 -c 1 "$dev"
	head -c 65536 /dev/urandom >/tmp/zone1
	dd if=/tmp/zone1 of="$dev" bs=64k seek=2048 oflag=direct status=none || fail "write zone 1"
	nvme read "$ng" -s 196608 -c 127 -z 65536 -d /tmp/zone1.back >/dev/null || fail "nvme read"
	cmp /tmp/zone1 /tmp/zone1.back || fail "the data is not at the mapped LBA"
	# Beyond the capacity a zone reads as zeroes.
	[[ $(dd if="$dev" bs=64k skip=$((2048 + 1600)) count=1 iflag=direct status=none | tr -d '\0' | wc -c) == 0 ]] ||
		fail "the rounded-up tail does not read as zeroes"
	rm -f /tmp/zone1 /tmp/zone1.back
	ublk del -n "$id"
}

test_nvme_zoned_refuses_other_data_paths() {
	need_nvme 3
	need_zoned
	expect_error "a zoned device is served by zero copy or user copy, not NEED_GET_DATA" \
		ublk add -t nvme -g 1 -f "$(nvme_ng 3)"
	# Where the kernel has no zero copy, -z is refused for that.
	if ! ublk features | grep -qx AUTO_BUF_REG; then
		expect_error "zero copy \(-z\) needs the ublk feature AUTO_BUF_REG" \
			ublk add -t nvme -z -f "$(nvme_ng 3)"
	fi
	nothing_created
}

# btrfs is the kernel's user of zone append (REQ_OP_ZONE_APPEND): a zoned
# btrfs written and scrubbed through the device exercises it.
need_btrfs() {
	[[ -e /lib/modules-extra/btrfs.ko ]] || skip "no btrfs module for kernel $(uname -r) (the 7.2 folder's modules-extra has it)"
}

# zoned_btrfs_round_trip NS [ADD_ARGS...]: btrfs -O zoned on a ublk device
# over namespace NS (`ublk add -t nvme ADD_ARGS`, whose data path line it
# prints): a file survives a remount, scrub finds nothing, and the data went
# by zone append.
zoned_btrfs_round_trip() {
	local id dev m ns=$1
	shift
	need_btrfs
	if [[ ! -d /sys/module/btrfs ]]; then
		for m in xor raid6_pq libblake2b btrfs; do
			[[ -d /sys/module/$m || ! -e /lib/modules-extra/$m.ko ]] || insmod /lib/modules-extra/$m.ko ||
				fail "insmod $m"
		done
	fi
	id=$(add_dev -t nvme -f "$(nvme_ng "$ns")" "$@")
	dev=/dev/ublkb$id
	ublk list -n "$id" | grep 'data path'
	blkzone reset "$dev"
	mkfs.btrfs -f -q -O zoned -d single -m single "$dev" || fail "mkfs.btrfs -O zoned"
	mkdir -p /mnt/zbtrfs
	mount -t btrfs "$dev" /mnt/zbtrfs || fail "mount"
	head -c $((24 << 20)) /dev/urandom >/tmp/zfile
	cp /tmp/zfile /mnt/zbtrfs/f && sync || fail "write"
	umount /mnt/zbtrfs
	mount -t btrfs "$dev" /mnt/zbtrfs || fail "mount again"
	cmp /tmp/zfile /mnt/zbtrfs/f || fail "the file read back differs"
	btrfs scrub start -B /mnt/zbtrfs || fail "scrub found errors"
	umount /mnt/zbtrfs
	rm -f /tmp/zfile
	# The device's own counters: btrfs wrote its data by zone append.
	local appends
	appends=$(stat_sum "$id" ublk_requests_total zone_append)
	echo "zone appends served: $appends"
	((appends > 0)) || fail "btrfs sent no ZONE_APPEND"
	ublk del -n "$id"
}

test_nvme_zoned_btrfs_writes_through_zone_append() {
	need_nvme 3
	need_zoned
	zoned_btrfs_round_trip 3
}

# With batch commands the kernel's commit mishandles a zone append's sector
# when the request's buffer was registered automatically, so a zoned batch
# device takes user copy by default and refuses -z (feature_flags.cpp);
# explicit registration is not affected. btrfs writes its data by zone
# append and checks it on the way back.
test_nvme_zoned_btrfs_with_batch_commands_keeps_every_file_intact() {
	need_nvme 3
	need_zoned
	ublk features | grep -qx BATCH_IO || skip "kernel $(uname -r) lacks BATCH_IO (Linux 7.0)"
	zoned_btrfs_round_trip 3 --batch | tee /tmp/zbatch.out
	grep -q 'data path user-copy' /tmp/zbatch.out || fail "a zoned batch device did not take user copy"
	zoned_btrfs_round_trip 3 --batch --zero-copy=explicit | tee /tmp/zbatch.out
	grep -q 'data path zero-copy/explicit' /tmp/zbatch.out || fail "explicit zero copy was not kept"
	expect_error 'cannot be combined with --batch on a zoned device' \
		ublk add -t nvme -f "$(nvme_ng 3)" --batch -z
	rm -f /tmp/zbatch.out
}

# The namespace with 96 MiB zones: the kernel's NVMe driver gives it no
# usable block device (size 0, or none); through ublk it carries a file
# system.
test_nvme_zoned_btrfs_on_the_namespace_the_block_driver_leaves_at_size_0() {
	need_nvme 4
	need_zoned
	need_btrfs
	local blk
	blk=$(nvme_blk 4)
	if [[ -b $blk ]]; then
		[[ $(blockdev --getsize64 "$blk") == 0 ]] || fail "$blk is usable here (size $(blockdev --getsize64 "$blk"))"
		echo "$blk: size 0"
	else
		echo "the kernel made no block device for the namespace ($blk)"
	fi
	zoned_btrfs_round_trip 4
}
