# Shared-memory zero copy (--shmem_zc --htlb FILE: UBLK_F_SHMEM_ZC, Linux
# 7.1). The server maps a hugetlbfs file and registers it with the kernel;
# an application doing O_DIRECT I/O from the same file's pages (fio
# --iomem=mmaphuge:FILE) has its requests served from that memory with no
# copy, which the queues count in their exit line. I/O from ordinary memory
# on the same device still goes through the copy path, and every byte must
# verify either way.

sz_need() {
	ublk features | grep -qx SHMEM_ZC || skip "kernel $(uname -r) lacks SHMEM_ZC (UBLK_F_SHMEM_ZC, Linux 7.1)"
}

# sz_hugepages: 8 huge pages reserved and hugetlbfs on /dev/hugepages.
sz_hugepages() {
	grep -q '^Hugepagesize: *2048 kB' /proc/meminfo || skip "huge pages are not 2 MiB here"
	local have
	have=$(cat /proc/sys/vm/nr_hugepages)
	((have >= 8)) || echo 8 >/proc/sys/vm/nr_hugepages
	(($(cat /proc/sys/vm/nr_hugepages) >= 8)) || skip "cannot reserve 8 huge pages"
	if ! grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts; then
		mkdir -p /dev/hugepages
		mount -t hugetlbfs none /dev/hugepages || fail "mounting hugetlbfs"
	fi
}

# sz_file PATH: a 2 MiB hugetlbfs file, the size fio's --iomem=mmaphuge with
# --hugepage-size=2M gives its buffers for iodepth x bs up to 1 MiB (fio
# truncates the file to that size, so it must not shrink under the server).
sz_file() {
	rm -f "$1"
	truncate -s 2M "$1" || fail "creating $1"
}

# sz_exits ID: the queues of device ID that logged serving at least one
# request from shared memory, without an error or a rejected descriptor.
sz_exits() {
	grep -cE "dev $1 queue [0-9]+: exit; [0-9]+ requests .*, 0 errors, 0 rejected descriptors, [0-9]+ failed copies, [1-9][0-9]* from shared memory" \
		/tmp/ublk-tests-syslog 2>/dev/null || true
}

sz_id() { echo "$1" | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p'; }

# sz_fio DEV FILE RW BS [ARGS]: crc32c-verified I/O whose buffers are FILE's
# pages (FILE empty: ordinary memory).
sz_fio() {
	local dev=$1 file=$2 rw=$3 bs=$4 mem=()
	shift 4
	[[ -z $file ]] || mem=(--iomem=mmaphuge:"$file" --hugepage-size=2M)
	fio_ok --name=sz-"$bs" --filename="$dev" --rw="$rw" --bs="$bs" --size=32M \
		--ioengine=io_uring --direct=1 --iodepth=16 --verify=crc32c \
		--do_verify=1 --verify_fatal=1 "${mem[@]}" "$@"
}

# sz_serve_and_check ID FILE: fio from the shared memory, then from
# ordinary memory, on device ID; after del its queues must have logged
# requests served from shared memory.
sz_serve_and_check() {
	local id=$1 file=$2
	# One run from the shared memory: fio removes its mmap file at exit, and
	# a new file would be other pages than the ones the server registered.
	sz_fio /dev/ublkb"$id" "$file" randwrite 16k
	sz_fio /dev/ublkb"$id" "" randrw 64k
	ublk del -n "$id"
	wait_until 10 eval '(($(sz_exits "$id") >= 1))' ||
		fail "no queue of device $id served a request from shared memory: $(grep "dev $id queue" /tmp/ublk-tests-syslog | tail -n 4)"
	grep "dev $id queue [0-9]*: exit" /tmp/ublk-tests-syslog | tail -n 1 | sed 's/.*: dev/dev/'
}

test_shmem_zc_loop_serves_fio_from_the_shared_memory() {
	sz_need
	sz_hugepages
	local out id file=/dev/hugepages/ublk-sz
	truncate -s 256M /tmp/sz.img
	sz_file "$file"
	out=$(ublk add -t loop -f /tmp/sz.img --shmem_zc --htlb "$file" --json) || fail "ublk add --shmem_zc failed"
	id=$(sz_id "$out")
	echo "$out" | grep -q '"data_path": "copy"' || fail "add does not report copy underneath: $out"
	ublk list -n "$id" --json | grep -q '"SHMEM_ZC"' || fail "device $id lacks SHMEM_ZC: $(ublk list -n "$id" --json)"
	sz_serve_and_check "$id" "$file"
	# Two queues, mixed sizes from the shared memory.
	sz_file "$file"
	id=$(add_dev -t loop -q 2 -f /tmp/sz.img --shmem_zc --htlb "$file")
	sz_fio /dev/ublkb"$id" "$file" randrw 4k --numjobs=1
	sz_fio /dev/ublkb"$id" "" write 128k
	ublk del -n "$id"
	wait_until 10 eval '(($(sz_exits "$id") >= 1))' ||
		fail "2 queues: none served a request from shared memory: $(grep "dev $id queue" /tmp/ublk-tests-syslog | tail -n 4)"
	rm -f /tmp/sz.img "$file"
}

test_shmem_zc_nvme_serves_fio_from_the_shared_memory() {
	sz_need
	sz_hugepages
	[[ -e /dev/disk/by-id/ng-ublktest0 ]] || skip "no NVMe drive ublktest0 (tests/vm/kernel-tier.sh emulates it)"
	local id file=/dev/hugepages/ublk-sz-nvme
	sz_file "$file"
	id=$(add_dev -t nvme -f "$(readlink -f /dev/disk/by-id/ng-ublktest0)" --shmem_zc --htlb "$file")
	sz_serve_and_check "$id" "$file"
	rm -f "$file"
}

test_shmem_zc_bad_memory_is_refused_in_one_line() {
	sz_need
	sz_hugepages
	truncate -s 64M /tmp/sz.img
	expect_error '^ublk: shared-memory zero copy \(--shmem_zc\) needs --htlb PATH' \
		ublk add -t loop -f /tmp/sz.img --shmem_zc
	expect_error 'opening --htlb /dev/hugepages/none: No such file' \
		ublk add -t loop -f /tmp/sz.img --shmem_zc --htlb /dev/hugepages/none
	: >/dev/hugepages/ublk-sz-empty
	expect_error '--htlb /dev/hugepages/ublk-sz-empty: the file is empty' \
		ublk add -t loop -f /tmp/sz.img --shmem_zc --htlb /dev/hugepages/ublk-sz-empty
	# The guest's /tmp is tmpfs (which the kernel takes, like memfds): a
	# procfs file stands for memory the kernel cannot pin.
	expect_error '--htlb /proc/sys/vm/nr_hugepages: not on hugetlbfs or tmpfs' \
		ublk add -t null --shmem_zc --htlb /proc/sys/vm/nr_hugepages
	expect_error 'cannot be combined with recovery \(-r\)' \
		ublk add -t loop -f /tmp/sz.img -r --shmem_zc --htlb /dev/hugepages/ublk-sz-empty
	rm -f /tmp/sz.img /dev/hugepages/ublk-sz-empty
	no_servers || fail "a server was started: $(pgrep -a ublk-server)"
	[[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]] || fail "a device was left: $(ls /sys/class/ublk-char)"
}

# Without the feature (6.12): one line naming it and the version.
test_shmem_zc_is_refused_where_the_kernel_lacks_it() {
	if ublk features | grep -qx SHMEM_ZC; then
		skip "kernel $(uname -r) has SHMEM_ZC: the other shmem_zc tests cover it"
	fi
	truncate -s 64M /tmp/sz.img
	expect_error 'needs the ublk feature UBLK_F_SHMEM_ZC \(Linux 7.1 or later\)' \
		ublk add -t loop -f /tmp/sz.img --shmem_zc --htlb /dev/hugepages/x
	rm -f /tmp/sz.img
	no_servers || fail "a server was started: $(pgrep -a ublk-server)"
}
