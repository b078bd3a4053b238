# The nvme target on namespaces with metadata (UBLK_F_INTEGRITY, Linux 7.0):
# ublktest5 (256 MiB, 8 bytes of metadata holding T10 PI type 1), ublktest2
# (64 MiB, 8 bytes of metadata without PI) and ublktest6 (256 MiB, 16 bytes
# of metadata holding PI type 1 with a 64-bit CRC64 guard). Helpers from
# nvme.sh and recovery.sh.

need_integrity() {
	ublk features | grep -qx INTEGRITY ||
		skip "kernel $(uname -r) has no UBLK_F_INTEGRITY (Linux 7.0): test_nvme_integrity_refused_where_the_kernel_lacks_it covers it"
}

# same_integrity ID N: the ublk device's integrity profile is the namespace's.
same_integrity() {
	local ublk=/sys/block/ublkb$1/integrity nvme f
	nvme=/sys/block/$(basename "$(nvme_blk "$2")")/integrity
	for f in format tag_size; do
		echo "$f: ublkb$1 $(cat $ublk/$f), nvme $(cat $nvme/$f)"
		[[ $(cat $ublk/$f) == "$(cat $nvme/$f)" ]] || fail "integrity/$f differs from the namespace's"
	done
}

test_nvme_integrity_pi_type1_has_the_namespaces_profile_and_passes_fio_verify() {
	need_nvme 5
	need_integrity
	local id out
	out=$(ublk add -t nvme -f "$(nvme_ng 5)") || fail "ublk add"
	echo "$out"
	echo "$out" | grep -q "integrity T10-DIF-TYPE1-CRC" || fail "add does not report the integrity format"
	id=$(echo "$out" | sed -n 's/^dev \([0-9]*\).*/\1/p;s/^id \([0-9]*\).*/\1/p' | head -n1)
	[[ -n $id ]] || id=$(ls /sys/class/ublk-char | sed 's/ublkc//' | head -n1)
	same_integrity "$id" 5
	[[ $(cat /sys/block/ublkb"$id"/integrity/format) == T10-DIF-TYPE1-CRC ]] || fail "not T10-DIF-TYPE1-CRC"
	ublk list -n "$id" | grep -q "integrity T10-DIF-TYPE1-CRC" || fail "list does not report the integrity format"
	ublk list -n "$id" --json | grep -q '"integrity": "T10-DIF-TYPE1-CRC"' || fail "list --json lacks integrity"
	[[ $(data_path_of "$id") == "$(copy_free_default)" ]] ||
		fail "data path $(data_path_of "$id"), want $(copy_free_default)"
	fio_verify /dev/ublkb"$id" 4k 1
	fio_verify /dev/ublkb"$id" 128k 2
	ublk del -n "$id"
}

# The data by zero copy or user copy, the integrity data by user copy in
# each: fio verify passes and the controller's PI checks pass (a wrong guard
# or reference tag would fail the I/O).
test_nvme_integrity_fio_verify_passes_in_every_data_path() {
	need_nvme 5
	need_integrity
	local id path n
	while read -r path; do
		for n in 5 6 2; do
			[[ -e /dev/disk/by-id/ng-ublktest$n ]] || continue
			echo "data path: $path, ublktest$n"
			id=$(add_dev -t nvme -f "$(nvme_ng $n)" $path)
			same_integrity "$id" "$n"
			fio_ok --name=verify --filename=/dev/ublkb"$id" --rw=randwrite --bsrange=4k-128k \
				--iodepth=16 --ioengine=io_uring --direct=1 --size=8M --verify=crc32c \
				--do_verify=1 --verify_fatal=1
			ublk del -n "$id"
		done
	done < <(copy_free_paths)
}

# 16 bytes of metadata, a 64-bit guard (NVMe CRC64) and a 48-bit reference
# tag: the profile the kernel's driver gives it, checked by the controller.
test_nvme_integrity_64_bit_guard_pi_has_the_namespaces_profile_and_passes_fio_verify() {
	need_nvme 6
	need_integrity
	local id
	id=$(add_dev -t nvme -f "$(nvme_ng 6)")
	same_integrity "$id" 6
	[[ $(cat /sys/block/ublkb"$id"/integrity/format) == *CRC64* ]] ||
		fail "format $(cat /sys/block/ublkb"$id"/integrity/format), not a CRC64 one"
	fio_verify /dev/ublkb"$id" 4k 1
	fio_verify /dev/ublkb"$id" 128k 2
	ublk del -n "$id"
}

# Several queues, --read-only and recovery work on a device with PI as on
# any other.
test_nvme_integrity_two_queues_read_only_and_recovery() {
	need_nvme 5
	need_integrity
	local id
	id=$(add_dev -t nvme -f "$(nvme_ng 5)" -q 2)
	[[ $(ls /sys/block/ublkb"$id"/mq | wc -l) == 2 ]] || fail "not 2 hardware queues"
	fio_ok --name=pi2 --filename=/dev/ublkb"$id" --rw=randwrite --bs=8k --iodepth=16 --numjobs=2 \
		--offset_increment=64M --size=8M --ioengine=io_uring --direct=1 --verify=crc32c \
		--do_verify=1 --verify_fatal=1 --group_reporting
	ublk del -n "$id"

	dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 2>/dev/null
	id=$(add_dev -t nvme -f "$(nvme_ng 5)" -r)
	dd if=/tmp/pattern of=/dev/ublkb"$id" bs=64k oflag=direct status=none || fail "write"
	rec_kill "$id"
	rec_recover "$id"
	same_integrity "$id" 5
	cmp /tmp/pattern <(dd if=/dev/ublkb"$id" bs=64k count=64 iflag=direct status=none) ||
		fail "the data differs after recovery"
	ublk del -n "$id"

	id=$(add_dev -t nvme -f "$(nvme_ng 5)" --read-only)
	[[ $(cat /sys/block/ublkb"$id"/ro) == 1 ]] || fail "not read-only"
	same_integrity "$id" 5
	cmp /tmp/pattern <(dd if=/dev/ublkb"$id" bs=64k count=64 iflag=direct status=none) ||
		fail "the read-only device reads other data"
	if dd if=/dev/zero of=/dev/ublkb"$id" bs=4k count=1 oflag=direct status=none 2>/dev/null; then
		fail "a write to the read-only device succeeded"
	fi
	ublk del -n "$id"
	rm -f /tmp/pattern
}

test_nvme_integrity_metadata_without_pi_is_nop_and_passes_fio_verify() {
	need_nvme 2
	need_integrity
	local id
	id=$(add_dev -t nvme -f "$(nvme_ng 2)")
	same_integrity "$id" 2
	[[ $(cat /sys/block/ublkb"$id"/integrity/format) == nop ]] || fail "not nop"
	fio_ok --name=verify --filename=/dev/ublkb"$id" --rw=randwrite --bs=16k --iodepth=16 \
		--ioengine=io_uring --direct=1 --size=16M --verify=crc32c --do_verify=1 --verify_fatal=1
	ublk del -n "$id"
}

# What went through the ublk device is on the namespace with valid PI: the
# kernel's own driver (which has the controller check guard and reference
# tag) reads it back without error.
test_nvme_integrity_data_and_pi_read_back_through_the_kernel_driver() {
	need_nvme 5
	need_integrity
	local id n
	for n in 5 2 6; do
		dd if=/dev/urandom of=/tmp/pattern bs=1M count=8 2>/dev/null
		id=$(add_dev -t nvme -f "$(nvme_ng $n)")
		dd if=/tmp/pattern of=/dev/ublkb"$id" bs=64k seek=48 oflag=direct 2>/dev/null || fail "write through ublk"
		ublk del -n "$id"
		dd if="$(nvme_blk $n)" of=/tmp/back bs=64k skip=48 count=128 iflag=direct 2>/tmp/dd_err ||
			fail "reading ublktest$n back through the kernel driver: $(cat /tmp/dd_err)"
		cmp /tmp/pattern /tmp/back || fail "ublktest$n does not hold what was written through /dev/ublkb$id"
		echo "ublktest$n: 8 MiB read back through $(nvme_blk $n), same bytes"
	done
}

# A block whose stored guard is wrong (written through the char device with
# no checking) fails to read through the ublk device with the protection
# error, never silently; its neighbours read fine.
test_nvme_integrity_corrupted_pi_fails_the_read_with_eilseq() {
	need_nvme 5
	need_integrity
	need_tools nvme
	local id lba=1000 err path n
	dd if=/dev/urandom of=/tmp/blk bs=512 count=1 2>/dev/null
	# Guard 0xdead (wrong), application tag 0, reference tag = the LBA.
	printf '\xde\xad\x00\x00\x00\x00\x03\xe8' >/tmp/badpi
	nvme write "$(nvme_ng 5)" --start-block=$lba --block-count=0 --data-size=512 \
		--data=/tmp/blk --metadata-size=8 --metadata=/tmp/badpi --prinfo=0 ||
		fail "nvme write with a bad guard"
	while read -r path; do
		echo "data path: $path"
		id=$(add_dev -t nvme -f "$(nvme_ng 5)" $path)
		for n in $((lba - 1)) $((lba + 1)); do
			dd if=/dev/ublkb"$id" of=/dev/null bs=512 skip=$n count=1 iflag=direct 2>/dev/null ||
				fail "neighbour block $n does not read"
		done
		if dd if=/dev/ublkb"$id" of=/dev/null bs=512 skip=$lba count=1 iflag=direct 2>/tmp/dd_err; then
			fail "the block with the bad guard read without error"
		fi
		err=$(cat /tmp/dd_err)
		echo "dd: $err"
		[[ $err == *"Invalid or incomplete multibyte or wide character"* ]] ||
			fail "not the protection error (EILSEQ): $err"
		# The device keeps serving.
		dd if=/dev/ublkb"$id" of=/dev/null bs=1M skip=1 count=4 iflag=direct 2>/dev/null || fail "reads after the error"
		ublk del -n "$id"
	done < <(copy_free_paths)
	# Heal the block for later tests: a write through ublk gives it valid PI.
	id=$(add_dev -t nvme -f "$(nvme_ng 5)")
	dd if=/tmp/blk of=/dev/ublkb"$id" bs=512 seek=$lba count=1 oflag=direct 2>/dev/null || fail "rewrite"
	dd if=/dev/ublkb"$id" of=/dev/null bs=512 skip=$lba count=1 iflag=direct 2>/dev/null || fail "healed block"
	ublk del -n "$id"
}

test_nvme_integrity_other_data_paths_are_refused() {
	need_nvme 5
	need_integrity
	expect_error 'its data moves by zero copy or user copy .*not NEED_GET_DATA' \
		ublk add -t nvme -f "$(nvme_ng 2)" -g 1
	no_servers || fail "a server was started: $(pgrep -a ublk-server)"
}

test_nvme_integrity_refused_where_the_kernel_lacks_it() {
	need_nvme 5
	if ublk features | grep -qx INTEGRITY; then
		skip "kernel $(uname -r) has INTEGRITY: the other nvme_integrity tests cover it"
	fi
	local n
	for n in 5 2; do
		expect_error "has 8 bytes of metadata per block.*needs the ublk feature UBLK_F_INTEGRITY \(Linux 7.0 or later\)" \
			ublk add -t nvme -f "$(nvme_ng $n)"
	done
	if [[ -e /dev/disk/by-id/ng-ublktest6 ]]; then
		expect_error "has 16 bytes of metadata per block.*needs the ublk feature UBLK_F_INTEGRITY \(Linux 7.0 or later\)" \
			ublk add -t nvme -f "$(nvme_ng 6)"
	fi
	no_servers || fail "a server was started: $(pgrep -a ublk-server)"
}
