#!/bin/bash
# Guest side of the loop benchmark: ublk loop against the kernel's loop
# driver on the same backing file.
#
# Usage: loop_vs_kernel_loop.sh [ROUNDS] [SECONDS]
#
# The backing file (256 MiB, written once) lives on ext4 on the guest's first
# emulated NVMe drive (/dev/disk/by-id/nvme-ublktest0), so both sides do
# O_DIRECT to a real block device: the kernel loop with
# `losetup --direct-io=on`, ublk with `ublk add -t loop` (1 queue, depth 128,
# O_DIRECT by default). fio (io_uring, O_DIRECT, 1 job) runs 4k random read
# and random write at iodepth 1 and 64, and 512k sequential read at iodepth
# 16, on the two devices interleaved ROUNDS times. Prints a table with the
# ratio ublk/kernel-loop per workload, and a JSON document between
# BENCH_JSON_BEGIN / BENCH_JSON_END lines.
set -euo pipefail
# shellcheck source=compare.sh
source "$(dirname "$0")/compare.sh"
rounds=${1:-3}
secs=${2:-10}
drive=/dev/disk/by-id/nvme-ublktest0
[[ -b $drive ]] || { echo "loop_vs_kernel_loop.sh: no $drive (boot with --nvme)" >&2; exit 1; }

mnt=/mnt/bench
kloop=''
cleanup() {
	ublk del -a >/dev/null 2>&1 || true
	[[ -z $kloop ]] || losetup -d "$kloop" 2>/dev/null || true
	umount "$mnt" 2>/dev/null || true
}
trap cleanup EXIT
mkfs.ext4 -q -F "$drive"
mkdir -p "$mnt"
mount "$drive" "$mnt"
dd if=/dev/urandom of="$mnt/backing.img" bs=1M count=256 oflag=direct 2>/dev/null
kloop=$(losetup --direct-io=on --show -f "$mnt/backing.img")
[[ $(cat /sys/block/"${kloop#/dev/}"/loop/dio) == 1 ]] || echo "warning: kernel loop did not enable direct I/O" >&2
id=$(ublk add -t loop -f "$mnt/backing.img" -q 1 -d 128 --json |
	sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p')
ublk=/dev/ublkb$id

# name:rw:bs:iodepth
workloads=(randread-4k-qd1:randread:4k:1 randread-4k-qd64:randread:4k:64
	randwrite-4k-qd1:randwrite:4k:1 randwrite-4k-qd64:randwrite:4k:64
	seqread-512k-qd16:read:512k:16)

compare_devices loop_vs_kernel_loop kernel-loop "$kloop" "$ublk" "$rounds" "$secs"
