# Per-target options: each target takes the options its table declares and
# refuses every other one in one line, creating nothing; --read-only makes a
# read-only device on every target that stores data, with the backend
# opened read-only. Drives (tests/vm/kernel-tier.sh): ublktest0 is an
# emulated NVMe namespace with 512-byte LBAs.

to_ng() { readlink -f /dev/disk/by-id/ng-ublktest"$1"; }
to_blk() { readlink -f /dev/disk/by-id/nvme-ublktest"$1"; }
to_nothing_left() {
	[[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]] || fail "a device was left: $(ublk list)"
	no_servers || fail "a server was left: $(pgrep -a ublk-server)"
}
# to_md5 PATH MIB: checksum of the first MIB MiB.
to_md5() { dd if="$1" bs=1M count="$2" iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1; }

# to_opened_read_only PID PATH: the server holds PATH open, and only for
# reading (the access mode in /proc/PID/fdinfo).
to_opened_read_only() {
	local fd flags found=0
	for fd in /proc/"$1"/fd/*; do
		[[ $(readlink -f "$fd") == "$2" ]] || continue
		found=1
		flags=$(sed -n 's/^flags:\t*//p' /proc/"$1"/fdinfo/"${fd##*/}")
		(((8#$flags & 3) == 0)) || fail "$2 is open with flags $flags, not O_RDONLY"
	done
	((found)) || fail "server $1 does not hold $2 open"
}

# to_refuses_writes DEV: the block layer marks DEV read-only, writes by dd
# and fio fail, reads work.
to_refuses_writes() {
	local dev=$1 err
	[[ $(blockdev --getro "$dev") == 1 ]] || fail "blockdev --getro $dev is not 1"
	if err=$(dd if=/dev/zero of="$dev" bs=4k count=1 oflag=direct conv=notrunc 2>&1); then
		fail "dd wrote to read-only $dev"
	fi
	echo "dd write: $(echo "$err" | head -n1)"
	if fio --name=w --filename="$dev" --rw=randwrite --bs=4k --size=1M --direct=1 \
		--ioengine=io_uring --iodepth=4 >/tmp/to-fio.out 2>&1 &&
		! grep -qE 'err= *[1-9]' /tmp/to-fio.out; then
		cat /tmp/to-fio.out
		fail "fio wrote to read-only $dev"
	fi
	echo "fio write: $(grep -m1 -iE 'error|err=' /tmp/to-fio.out)"
	rm -f /tmp/to-fio.out
	dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null || fail "reading $dev failed"
}

test_nvme_read_only_device_refuses_writes() {
	[[ -e /dev/disk/by-id/ng-ublktest0 ]] || skip "no emulated NVMe drive 0"
	local id ng before
	ng=$(to_ng 0)
	before=$(to_md5 "$(to_blk 0)" 4)
	id=$(add_dev -t nvme -f "$ng" --read-only)
	to_refuses_writes /dev/ublkb"$id"
	[[ $(to_md5 /dev/ublkb"$id" 4) == "$before" ]] || fail "reads differ from the namespace"
	to_opened_read_only "$(server_pid "$id")" "$ng"
	ublk del -n "$id"
	[[ $(to_md5 "$(to_blk 0)" 4) == "$before" ]] || fail "the namespace changed"
	# Without --read-only the same namespace is writable.
	id=$(add_dev -t nvme -f "$ng")
	[[ $(blockdev --getro /dev/ublkb"$id") == 0 ]] || fail "writable device reports read-only"
	ublk del -n "$id"
}

test_loop_read_only_device_opens_its_file_read_only() {
	local id before
	dd if=/dev/urandom of=/tmp/to-ro.img bs=1M count=8 2>/dev/null
	before=$(md5sum </tmp/to-ro.img)
	id=$(add_dev -t loop -f /tmp/to-ro.img --read-only)
	to_refuses_writes /dev/ublkb"$id"
	[[ $(to_md5 /dev/ublkb"$id" 8) == "$(to_md5 /tmp/to-ro.img 8)" ]] ||
		fail "reads differ from the file"
	to_opened_read_only "$(server_pid "$id")" /tmp/to-ro.img
	ublk del -n "$id"
	[[ $(md5sum </tmp/to-ro.img) == "$before" ]] || fail "the file changed"
	rm -f /tmp/to-ro.img
}

test_options_of_other_targets_are_refused() {
	local ng=/dev/ng0n1
	[[ ! -e /dev/disk/by-id/ng-ublktest0 ]] || ng=$(to_ng 0)
	truncate -s 16M /tmp/to.img
	expect_error "^ublk: --offset: not an option of the nvme target$" ublk add -t nvme -f "$ng" --offset 1M
	expect_error "^ublk: --offset: not an option of the nvme target$" ublk add --offset 1M -t nvme -f "$ng"
	expect_error "^ublk: --logical-block-size: not an option of the nvme target$" \
		ublk add -t nvme -f "$ng" --logical-block-size 4096
	expect_error "^ublk: --buffered: not an option of the nvme target$" ublk add -t nvme -f "$ng" --buffered
	expect_error "^ublk: --read-only: not an option of the null target$" ublk add -t null --read-only
	expect_error "^ublk: -f: not an option of the null target$" ublk add -t null -f /tmp/to.img
	expect_error "^ublk: --offset: not an option of the null target$" ublk add -t null --offset 1M
	expect_error "^ublk: --logical-block-size: not an option of the null target$" \
		ublk add -t null --logical-block-size 512
	expect_error "^ublk: --buffered: not an option of the null target$" ublk add -t null --buffered
	expect_error "^ublk: --force-auto-fallback: not an option of the null target$" \
		ublk add -t null -z --force-auto-fallback
	expect_error "--force-auto-fallback needs --zero-copy=auto" \
		ublk add -t loop -f /tmp/to.img --force-auto-fallback
	expect_error "--stall-before-start 4000: must be a whole number from 0 to 3600" \
		ublk add -t null --stall-before-start 4000
	to_nothing_left
	rm -f /tmp/to.img
}

test_help_add_for_one_target_lists_only_its_options() {
	ublk help add | grep -q -- '--logical-block-size' || fail "help add lacks loop's options"
	ublk help add | grep -q -- '--stall-before-start' || fail "help add lacks the testing options"
	! ublk help add -t nvme | grep -q -- '--offset' || fail "help add -t nvme shows --offset"
	ublk help add -t nvme | grep -q -- '--read-only' || fail "help add -t nvme lacks --read-only"
	ublk add -t loop --help | grep -q -- '--offset SIZE' || fail "add -t loop --help lacks --offset"
	ublk help add -t null | grep -q -- '-z, --zero-copy' || fail "help add -t null lacks -z (the reference's null takes it)"
}

test_zero_copy_is_refused_for_every_target_on_a_kernel_without_it() {
	if ublk features | grep -qx AUTO_BUF_REG; then
		skip "kernel $(uname -r) has zero copy (AUTO_BUF_REG)"
	fi
	truncate -s 16M /tmp/to.img
	expect_error "zero copy \(-z\) needs the ublk feature AUTO_BUF_REG" ublk add -t loop -f /tmp/to.img -z
	# The release may hold regex characters (6.12.107+deb13): compare literally.
	grep -qF "(running $(uname -r))" /tmp/expect_err || fail "the error does not name the running kernel"
	expect_error "needs ublk buffer registration" ublk add -t loop -f /tmp/to.img --zero-copy=explicit
	if [[ -e /dev/disk/by-id/ng-ublktest0 ]]; then
		expect_error "zero copy \(-z\) needs the ublk feature AUTO_BUF_REG" ublk add -t nvme -f "$(to_ng 0)" -z
	fi
	expect_error "zero copy \(-z\) needs the ublk feature AUTO_BUF_REG" ublk add -t null -z
	to_nothing_left
	rm -f /tmp/to.img
}
