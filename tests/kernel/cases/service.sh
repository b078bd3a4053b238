# Operating devices without downtime and from files: `ublk add --config`
# (a TOML file per device), `ublk restart` (a new server under load, no I/O
# error) and `ublk resize` (UPDATE_SIZE, Linux 6.16+, ext4 grown online).
# The systemd side (units, udev names, reboot) runs in the systemd guest.

svc_nvme=/dev/disk/by-id/ng-ublktest0

# svc_restart_under_fio DEV ID: crc32c-verified writes on DEV while the
# device's server is replaced twice; fio must finish with no error.
svc_restart_under_fio() {
	local dev=$1 id=$2 fio_pid rc old new round
	fio --name=svc --filename="$dev" --rw=randwrite --bs=4k --size=8M \
		--offset_increment=16M --numjobs=2 --ioengine=io_uring --direct=1 \
		--iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--loops=4 --group_reporting >/tmp/svc-fio.out 2>&1 &
	fio_pid=$!
	for round in 1 2; do
		sleep 1
		kill -0 "$fio_pid" 2>/dev/null || break
		old=$(server_pid "$id")
		timeout 150 ublk restart -n "$id" >/tmp/svc-restart.out 2>&1 || {
			cat /tmp/svc-restart.out
			rec_dump
			fail "round $round: ublk restart -n $id failed"
		}
		cat /tmp/svc-restart.out
		new=$(server_pid "$id")
		[[ -n $new && $new != "$old" ]] || fail "round $round: server pid $old -> '$new'"
		rec_state_is "$id" LIVE || fail "device $id not LIVE after restart"
	done
	wait_until 180 bash -c "! kill -0 $fio_pid 2>/dev/null" || { rec_dump; fail "fio hangs"; }
	rc=0
	wait "$fio_pid" || rc=$?
	if ((rc != 0)) || grep -qE 'err= *[1-9]|bad magic|verify failed' /tmp/svc-fio.out; then
		cat /tmp/svc-fio.out
		fail "fio failed across the restarts (exit $rc)"
	fi
	grep -E '^ *write:' /tmp/svc-fio.out | head -n1
}

test_add_config_file_describes_the_device_and_names_it() {
	local id
	truncate -s 64M /tmp/svc-data.img
	mkdir -p /tmp/svc-etc
	cat >/tmp/svc-etc/data.toml <<-'TOML'
		# a loop device on a file
		type = "loop"
		file = "/tmp/svc-data.img"
		queues = 2
		depth = 64
	TOML
	id=$(add_dev --config /tmp/svc-etc/data.toml)
	ublk list -n "$id" | grep -q $'^\tname data$' || fail "not named after the file: $(ublk list -n "$id")"
	ublk list -n "$id" | grep -q 'nr_hw_queues 2 queue_depth 64' || fail "queues/depth not from the file: $(ublk list -n "$id")"
	expect_error "name data: device $id has that name already" ublk add -t null --name data
	ublk del -n "$id"
	# The command line overrides the file.
	id=$(add_dev --config /tmp/svc-etc/data.toml -q 1 --name other)
	ublk list -n "$id" | grep -q 'nr_hw_queues 1 ' || fail "-q 1 did not override"
	ublk list -n "$id" | grep -q $'^\tname other$' || fail "--name did not override"
	ublk del -n "$id"
	rm -rf /tmp/svc-etc /tmp/svc-data.img
}

test_config_file_errors_name_the_file_the_line_and_the_key_and_create_nothing() {
	mkdir -p /tmp/svc-etc
	printf 'type = "null"\nqueus = 2\n' >/tmp/svc-etc/a.toml
	expect_error '^ublk: /tmp/svc-etc/a.toml:2: unknown key .queus.' ublk add --config /tmp/svc-etc/a.toml
	printf 'type = "null"\nqueues = "2"\n' >/tmp/svc-etc/b.toml
	expect_error "^ublk: /tmp/svc-etc/b.toml:2: key 'queues' must be a whole number, not a string$" \
		ublk add --config /tmp/svc-etc/b.toml
	printf 'queues = 2\n' >/tmp/svc-etc/c.toml
	expect_error "^ublk: /tmp/svc-etc/c.toml: missing required key 'type'" ublk add --config /tmp/svc-etc/c.toml
	printf 'type = "loop"\n' >/tmp/svc-etc/d.toml
	expect_error "^ublk: /tmp/svc-etc/d.toml: missing required key 'file'" ublk add --config /tmp/svc-etc/d.toml
	printf 'type = "null\n' >/tmp/svc-etc/e.toml
	expect_error '^ublk: /tmp/svc-etc/e.toml:1:.*not valid TOML' ublk add --config /tmp/svc-etc/e.toml
	expect_error 'absent.toml' ublk add --config /tmp/svc-etc/absent.toml
	no_servers || fail "a server is left: $(pgrep -a ublk-server)"
	rm -rf /tmp/svc-etc
}

test_restart_loop_under_fio_verify_sees_no_error() {
	local id
	truncate -s 64M /tmp/svc-loop.img
	id=$(add_dev -t loop -f /tmp/svc-loop.img -q 2 -r --zero-copy=off)
	svc_restart_under_fio /dev/ublkb"$id" "$id"
	ublk del -n "$id"
	wait_until 10 no_servers || fail "servers left: $(pgrep -a ublk-server)"
	rm -f /tmp/svc-loop.img
}

test_restart_loop_zero_copy_under_fio_verify_sees_no_error() {
	local id
	rec_has AUTO_BUF_REG || skip "zero copy needs AUTO_BUF_REG (Linux 6.16)"
	truncate -s 64M /tmp/svc-loop.img
	id=$(add_dev -t loop -f /tmp/svc-loop.img -r -z)
	ublk list -n "$id" | grep -q 'data path zero-copy' || fail "not zero copy: $(ublk list -n "$id")"
	svc_restart_under_fio /dev/ublkb"$id" "$id"
	ublk del -n "$id"
	rm -f /tmp/svc-loop.img
}

test_restart_nvme_under_fio_verify_sees_no_error() {
	local id mode
	[[ -e $svc_nvme ]] || skip "no NVMe drive $svc_nvme (tests/vm/kernel-tier.sh emulates it)"
	for mode in off auto; do
		if [[ $mode == auto ]] && ! rec_has AUTO_BUF_REG; then
			echo "zero copy: not on this kernel"
			continue
		fi
		id=$(add_dev -t nvme -f "$svc_nvme" -r --zero-copy=$mode)
		svc_restart_under_fio /dev/ublkb"$id" "$id"
		ublk del -n "$id"
	done
}

test_restart_keeps_ext4_mounted_and_runs_the_installed_program() {
	local id
	truncate -s 128M /tmp/svc-fs.img
	id=$(add_dev -t loop -f /tmp/svc-fs.img -r)
	mkfs.ext4 -q /dev/ublkb"$id"
	mkdir -p /mnt/svc
	mount /dev/ublkb"$id" /mnt/svc
	echo before >/mnt/svc/f
	sync
	ublk restart -n "$id" || fail "restart failed"
	echo after >>/mnt/svc/f
	sync
	[[ $(cat /mnt/svc/f) == $'before\nafter' ]] || fail "file: $(cat /mnt/svc/f)"
	umount /mnt/svc
	e2fsck -fn /dev/ublkb"$id" >/dev/null || fail "e2fsck found errors after restart"
	ublk del -n "$id"
	rm -f /tmp/svc-fs.img
}

test_restart_is_refused_clearly_where_it_would_fail_io() {
	local id
	id=$(add_dev -t null)
	expect_error "device $id was made without recovery" ublk restart -n "$id"
	expect_error "no device is named 'nosuch'" ublk restart --name nosuch
	ublk del -n "$id"
	if ! rec_has QUIESCE; then
		id=$(add_dev -t null -r 1)
		expect_error "needs QUIESCE_DEV .* or recovery mode reissue" ublk restart -n "$id"
		ublk del -n "$id"
	fi
}

test_resize_grows_a_mounted_ext4_online() {
	local id before after
	if ! rec_has UPDATE_SIZE; then
		id=$(add_dev -t null)
		expect_error 'resize needs the ublk feature UPDATE_SIZE \(Linux 6.16\+\)' ublk resize -n "$id" --size 1G
		ublk del -n "$id"
		return 0
	fi
	need_tools resize2fs
	truncate -s 64M /tmp/svc-grow.img
	id=$(add_dev -t loop -f /tmp/svc-grow.img --name grow)
	mkfs.ext4 -q /dev/ublkb"$id"
	mkdir -p /mnt/svc
	mount /dev/ublkb"$id" /mnt/svc
	echo kept >/mnt/svc/f
	expect_error 'holds 67108864 bytes past its offset; grow it first' ublk resize -n "$id" --size 128M
	truncate -s 128M /tmp/svc-grow.img
	ublk resize --name grow --size 128M || fail "resize failed"
	[[ $(blockdev --getsize64 /dev/ublkb"$id") == 134217728 ]] || fail "size $(blockdev --getsize64 /dev/ublkb"$id")"
	before=$(df -k /mnt/svc | awk 'NR==2 {print $2}')
	resize2fs /dev/ublkb"$id" >/dev/null 2>&1 || fail "resize2fs failed"
	after=$(df -k /mnt/svc | awk 'NR==2 {print $2}')
	((after > before * 3 / 2)) || fail "ext4 did not grow: $before -> $after KiB"
	echo "ext4 grew online: $before -> $after KiB"
	dd if=/dev/zero of=/mnt/svc/big bs=1M count=80 conv=fsync 2>/dev/null || fail "cannot fill the grown space"
	[[ $(cat /mnt/svc/f) == kept ]] || fail "file lost"
	umount /mnt/svc
	e2fsck -fn /dev/ublkb"$id" >/dev/null || fail "e2fsck found errors"
	ublk list -n "$id" | grep -q 'dev_capacity 262144' || fail "list: $(ublk list -n "$id" | head -1)"
	ublk del -n "$id"
	rm -f /tmp/svc-grow.img
}

# del --safe (TRY_STOP_DEV, 7.0): a mounted device, or one a process holds
# open, is refused and keeps serving; an idle one is deleted.
test_del_safe_refuses_a_device_in_use_and_deletes_an_idle_one() {
	local id
	if ! rec_has SAFE_STOP_DEV; then
		id=$(add_dev -t null)
		expect_error 'del --safe needs TRY_STOP_DEV \(UBLK_F_SAFE_STOP_DEV, Linux 7.0 or later\)' ublk del -n "$id" --safe
		ublk del -n "$id"
		return 0
	fi
	truncate -s 64M /tmp/svc-safe.img
	id=$(add_dev -t loop -f /tmp/svc-safe.img)
	mkfs.ext4 -q /dev/ublkb"$id"
	mkdir -p /mnt/svc
	mount /dev/ublkb"$id" /mnt/svc
	echo kept >/mnt/svc/f
	expect_error "device $id is open \\(mounted, or in use by a process or another device\\); not deleted" \
		ublk del -n "$id" --safe
	rec_state_is "$id" LIVE || fail "device $id not LIVE after a refused del --safe"
	echo more >>/mnt/svc/f
	sync
	[[ $(cat /mnt/svc/f) == $'kept\nmore' ]] || fail "the mounted file system stopped working"
	umount /mnt/svc
	# A process holding the block device open.
	sleep 30 </dev/ublkb"$id" &
	local holder=$!
	expect_error "device $id is open" ublk del -a --safe
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	ublk del -n "$id" --safe || fail "del --safe of an idle device failed"
	wait_until 10 dev_gone "$id" || fail "device $id left behind"
	no_servers || fail "server left running"
	e2fsck -fn /tmp/svc-safe.img >/dev/null || fail "e2fsck found errors"
	rm -f /tmp/svc-safe.img
}

# --no-partition-scan (NO_AUTO_PART_SCAN, 7.0): a disk holding an MBR with
# one partition gets ublkbNp1 by default, and none with the option.
test_add_no_partition_scan_leaves_a_partition_table_unread() {
	local id
	truncate -s 16M /tmp/svc-part.img
	# MBR: one Linux partition (type 0x83) from LBA 2048, 8192 sectors.
	printf '\x00\x00\x00\x00\x83\x00\x00\x00\x00\x08\x00\x00\x00\x20\x00\x00' |
		dd of=/tmp/svc-part.img bs=1 seek=446 conv=notrunc status=none
	printf '\x55\xaa' | dd of=/tmp/svc-part.img bs=1 seek=510 conv=notrunc status=none
	if ! rec_has NO_AUTO_PART_SCAN; then
		expect_error '--no-partition-scan needs NO_AUTO_PART_SCAN \(Linux 7.0 or later\)' \
			ublk add -t loop -f /tmp/svc-part.img --no-partition-scan
		nothing_created
		rm -f /tmp/svc-part.img
		return 0
	fi
	id=$(add_dev -t loop -f /tmp/svc-part.img)
	wait_until 10 test -e /sys/block/ublkb"$id"/ublkb"$id"p1 || fail "no partition ublkb${id}p1 without the option"
	ublk del -n "$id"
	id=$(add_dev -t loop -f /tmp/svc-part.img --no-partition-scan)
	sleep 2
	[[ ! -e /sys/block/ublkb"$id"/ublkb"$id"p1 ]] || fail "ublkb${id}p1 appeared with --no-partition-scan"
	ublk del -n "$id"
	rm -f /tmp/svc-part.img
}
