# Data paths beyond copy and zero copy: user copy (--usercopy: UBLK_F_USER_COPY,
# Linux 6.5; the server moves request data with reads and writes on
# /dev/ublkcN), NEED_GET_DATA (-g 1: UBLK_F_NEED_GET_DATA, a WRITE's data is
# fetched in a second step) and shared-memory zero copy (--shmem_zc:
# UBLK_F_SHMEM_ZC). Each must keep every byte (crc32c-verified fio, ext4 and
# fsck), show in add/list, survive recovery, and every combination a kernel
# cannot take must be refused in one line with nothing left behind.

dp_has() { ublk features | grep -qx "$1"; }
dp_need() { dp_has "$1" || skip "kernel $(uname -r) lacks $1 ($2)"; }
dp_ng() { readlink -f /dev/disk/by-id/ng-ublktest"$1"; }
dp_need_nvme() { [[ -e /dev/disk/by-id/ng-ublktest$1 ]] || skip "no NVMe drive ublktest$1 (tests/vm/kernel-tier.sh emulates it)"; }
dp_id() { echo "$1" | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p'; }

# dp_add PATH FEATURE ARGS...: ublk add ARGS; add and list must report data
# path PATH and (unless FEATURE is -) the device flag FEATURE. Prints the id.
dp_add() {
	local path=$1 feature=$2 out id
	shift 2
	out=$(ublk add "$@" --json) || fail "ublk add $* failed"
	id=$(dp_id "$out")
	echo "$out" | grep -q "\"data_path\": \"$path\"" || fail "add $* does not report $path: $out"
	ublk list -n "$id" | grep -q "data path $path," || fail "list does not show $path: $(ublk list -n "$id")"
	if [[ $feature != - ]]; then
		ublk list -n "$id" --json | grep -q "\"$feature\"" ||
			fail "device $id lacks the flag $feature: $(ublk list -n "$id" --json)"
	fi
	echo "$id"
}

# dp_fio DEV BS JOBS [RW]: crc32c-verified writes, each job on its own slice.
dp_fio() {
	fio_ok --name=dp-$2 --filename="$1" --rw="${4:-randwrite}" --bs="$2" --size=16M \
		--offset_increment=40M --numjobs="$3" --ioengine=io_uring --direct=1 \
		--iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1 --group_reporting
}

# dp_fio_all DEV: 4k, 64k and the device's largest I/O on one job, mixed
# random reads and writes on two.
dp_fio_all() {
	local max bs
	max=$(($(cat /sys/block/"${1#/dev/}"/queue/max_sectors_kb) * 1024))
	for bs in 4k 64k "$max"; do dp_fio "$1" "$bs" 1; done
	dp_fio "$1" 16k 2 randrw
}

# dp_ext4 ID: mkfs, files, fsck, checksums after a remount.
dp_ext4() {
	local dev=/dev/ublkb$1 i
	mkfs.ext4 -q -F "$dev" || fail "mkfs.ext4"
	mkdir -p /mnt/dp && mount "$dev" /mnt/dp || fail "mount"
	for i in $(seq 1 20); do head -c $((i * 7919)) /dev/urandom >/mnt/dp/f$i; done
	(cd /mnt/dp && md5sum f*) >/tmp/dp-sums
	umount /mnt/dp
	e2fsck -fn "$dev" || fail "e2fsck found errors"
	mount "$dev" /mnt/dp || fail "mount again"
	(cd /mnt/dp && md5sum -c /tmp/dp-sums >/dev/null) || fail "checksums differ after remount"
	umount /mnt/dp
}

# dp_verify_mode PATH FEATURE ARGS...: fio on loop (1 and 2 queues) and on
# both emulated namespaces with the data-path options ARGS.
dp_verify_mode() {
	local path=$1 feature=$2 id
	shift 2
	truncate -s 256M /tmp/dp.img
	echo "== loop, 1 queue"
	id=$(dp_add "$path" "$feature" -t loop -f /tmp/dp.img "$@")
	dp_fio_all /dev/ublkb"$id"
	ublk del -n "$id"
	echo "== loop, 2 queues"
	id=$(dp_add "$path" "$feature" -t loop -q 2 -f /tmp/dp.img "$@")
	dp_fio /dev/ublkb"$id" 64k 2
	ublk del -n "$id"
	rm -f /tmp/dp.img
	echo "== nvme, 512-byte LBAs"
	id=$(dp_add "$path" "$feature" -t nvme -f "$(dp_ng 0)" "$@")
	dp_fio_all /dev/ublkb"$id"
	ublk del -n "$id"
	echo "== nvme, 4096-byte LBAs, 2 queues"
	id=$(dp_add "$path" "$feature" -t nvme -q 2 -f "$(dp_ng 1)" "$@")
	dp_fio /dev/ublkb"$id" 4k 2
	dp_fio /dev/ublkb"$id" 256k 1
	ublk del -n "$id"
}

test_data_paths_kernel_features() {
	ublk features | tr '\n' ' '
	echo
}

test_data_paths_user_copy_loop_and_nvme_fio_verify() {
	dp_need USER_COPY "UBLK_F_USER_COPY, Linux 6.5"
	dp_need_nvme 0
	dp_need_nvme 1
	dp_verify_mode user-copy USER_COPY --usercopy
	echo "== nvme on 512-byte LBAs"
	local id
	id=$(dp_add user-copy USER_COPY -t nvme -f "$(dp_ng 0)" --usercopy)
	dp_fio /dev/ublkb"$id" 128k 1 write
	ublk del -n "$id"
}

test_data_paths_user_copy_ext4_on_nvme_and_null_stays_copy_free() {
	dp_need USER_COPY "UBLK_F_USER_COPY, Linux 6.5"
	dp_need_nvme 1
	local id
	id=$(dp_add user-copy USER_COPY -t nvme -f "$(dp_ng 1)" --usercopy)
	dp_ext4 "$id"
	ublk del -n "$id"
	# null never touches data: with --usercopy it keeps its copy-free mode.
	id=$(dp_add none USER_COPY -t null --usercopy)
	fio_ok --name=null-uc --filename=/dev/ublkb"$id" --rw=randrw --bs=64k --size=16M \
		--ioengine=io_uring --direct=1 --iodepth=16
	ublk del -n "$id"
}

test_data_paths_get_data_loop_and_nvme_fio_verify() {
	dp_need NEED_GET_DATA "UBLK_F_NEED_GET_DATA, Linux 6.0"
	dp_need_nvme 0
	dp_need_nvme 1
	dp_verify_mode copy/get-data NEED_GET_DATA -g 1
}

test_data_paths_get_data_ext4_on_loop_and_null() {
	dp_need NEED_GET_DATA "UBLK_F_NEED_GET_DATA, Linux 6.0"
	local id
	truncate -s 256M /tmp/dp.img
	id=$(dp_add copy/get-data NEED_GET_DATA -t loop -f /tmp/dp.img -g 1)
	dp_ext4 "$id"
	ublk del -n "$id"
	rm -f /tmp/dp.img
	# null asked for -g runs in copy mode, so the two-step WRITE is exercised.
	id=$(dp_add copy/get-data NEED_GET_DATA -t null -g 1)
	fio_ok --name=null-gd --filename=/dev/ublkb"$id" --rw=randrw --bs=64k --size=16M \
		--ioengine=io_uring --direct=1 --iodepth=16
	ublk del -n "$id"
}

test_data_paths_minus_zero_means_the_default() {
	local id
	truncate -s 64M /tmp/dp.img
	id=$(add_dev -t loop -f /tmp/dp.img -u 0 -g 0 --zero-copy=off)
	ublk list -n "$id" | grep -q "data path copy," || fail "-u 0 -g 0 is not plain copy: $(ublk list -n "$id")"
	ublk list -n "$id" --json | grep -qE '"(USER_COPY|NEED_GET_DATA)"' &&
		fail "-u 0 -g 0 asked for a flag: $(ublk list -n "$id" --json)"
	ublk del -n "$id"
	rm -f /tmp/dp.img
}

test_data_paths_bad_combinations_are_refused_in_one_line() {
	truncate -s 64M /tmp/dp.img
	expect_error 'user copy \(--usercopy\) and zero copy \(-z\) exclude each other' \
		ublk add -t loop -f /tmp/dp.img --usercopy -z
	expect_error 'user copy \(--usercopy\) and zero copy \(-z\) exclude each other' \
		ublk add -t loop -f /tmp/dp.img --usercopy --zero-copy=explicit
	expect_error 'NEED_GET_DATA \(-g\) works only in copy mode' \
		ublk add -t loop -f /tmp/dp.img -g 1 --usercopy
	expect_error 'NEED_GET_DATA \(-g\) works only in copy mode' \
		ublk add -t loop -f /tmp/dp.img -g 1 -z
	expect_error 'NEED_GET_DATA \(-g\) works only in copy mode' \
		ublk add -t null -g 1 --shmem_zc
	expect_error '^ublk: --htlb: only with --shmem_zc$' \
		ublk add -t loop -f /tmp/dp.img --htlb /dev/hugepages/x
	if dp_has SHMEM_ZC; then
		# Served now (shmem_zc.sh); the memory must be named.
		expect_error 'needs --htlb PATH' ublk add -t loop -f /tmp/dp.img --shmem_zc
	else
		expect_error 'needs the ublk feature UBLK_F_SHMEM_ZC' ublk add -t loop -f /tmp/dp.img --shmem_zc
	fi
	if ! dp_has USER_COPY; then
		expect_error 'needs the ublk feature UBLK_F_USER_COPY \(Linux 6.5' \
			ublk add -t loop -f /tmp/dp.img --usercopy
	fi
	rm -f /tmp/dp.img
	no_servers || fail "a server was started: $(pgrep -a ublk-server)"
	[[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]] || fail "a device was left: $(ls /sys/class/ublk-char)"
}

test_data_paths_recovery_keeps_user_copy_and_get_data() {
	dp_need USER_COPY "UBLK_F_USER_COPY, Linux 6.5"
	dp_need NEED_GET_DATA "UBLK_F_NEED_GET_DATA, Linux 6.0"
	local id mode path feature
	truncate -s 256M /tmp/dp.img
	for mode in --usercopy '-g 1'; do
		path=user-copy feature=USER_COPY
		[[ $mode == --usercopy ]] || path=copy/get-data feature=NEED_GET_DATA
		echo "== $mode"
		# shellcheck disable=SC2086 # the mode's words
		id=$(dp_add "$path" "$feature" -t loop -f /tmp/dp.img -r $mode)
		rec_fio_rounds /dev/ublkb"$id" "$id" 2
		ublk list -n "$id" | grep -q "data path $path," || fail "recovered device lost $path: $(ublk list -n "$id")"
		dp_fio /dev/ublkb"$id" 64k 1
		timeout 60 ublk del -n "$id" || fail "del of the recovered device hangs"
	done
	rm -f /tmp/dp.img
}
