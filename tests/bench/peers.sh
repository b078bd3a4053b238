#!/bin/bash
# Guest side of the peers benchmark: this project's server against the other
# ublk servers and the kernel's own drivers, in one boot.
#
# Usage: peers.sh [ROUNDS] [SECONDS]
#
# Two suites, each a list of devices that take turns (each round adds every
# device in turn, runs every workload on it and removes it, so no two share
# the CPU or a backing file):
#   null  the kernel's null_blk (1 submit queue, blk-mq, depth 128, no
#         interrupts) against `ublk add -t null`
#   loop  the kernel loop driver on a 256 MiB file on tmpfs against
#         `ublk add -t loop --buffered` on the same file
# each server in its default mode and its fastest ones (this project's also
# with --batch where the kernel has batch commands), 1 queue x depth 128.
# The reference servers are used when installed in the guest's root (run.sh
# --peers DIR copies DIR's install trees there): ublksrv at
# /usr/local/anchor/ublksrv/ublk (default and -b; loop also -z) and the
# kernel's selftest server kublk (default, -b and --auto_zc). Without them
# the suites compare with the kernel's drivers only, and say so.
#
# fio (io_uring, O_DIRECT, 1 job): 4k random read and write at iodepth 1 and
# 64, 512k sequential read at iodepth 16. Prints a row per round, the means
# with each device's ratio to the kernel driver and this project's best mode
# over the best reference server per workload, and a JSON document between
# BENCH_JSON_BEGIN / BENCH_JSON_END lines.
set -euo pipefail
# shellcheck source=suite.sh
source "$(dirname "$0")/suite.sh"
rounds=${1:-3}
secs=${2:-5}

install_peers
img=/tmp/peers.img
kloop=''
cleanup() {
	remove_devices
	[[ -z $kloop ]] || losetup -d "$kloop" 2>/dev/null || true
	rm -f "$img"
}
trap cleanup EXIT

# The reference servers daemonize and return once /dev/ublkbN is live.
# label|server|up arguments. The first entry is the kernel's driver the
# others are measured against; labels starting with "ours" are this project.
null_devices=("null_blk|nullblk|" "ours|ours|-t null --size 1G")
loop_devices=("kernel-loop|kloop|" "ours|ours|-t loop -f $img --buffered"
	"ours-copy|ours|-t loop -f $img --buffered --zero-copy=off")
# Batch commands (opt-in) where the kernel has them, beside the default
# per-tag commands.
if ublk features | grep -qx BATCH_IO; then
	null_devices+=("ours-batch|ours|-t null --size 1G --batch")
	loop_devices+=("ours-batch|ours|-t loop -f $img --buffered --batch")
fi
peers_note=''
if [[ -x $ublksrv ]]; then
	null_devices+=("ublksrv|ublksrv|-t null" "ublksrv-b|ublksrv|-t null -b")
	loop_devices+=("ublksrv|ublksrv|-t loop -f $img" "ublksrv-z|ublksrv|-t loop -z -f $img")
else
	peers_note+="no reference server at $ublksrv; "
fi
if [[ -n $kublk ]]; then
	null_devices+=("kublk|kublk|-t null" "kublk-b|kublk|-t null -b" "kublk-auto_zc|kublk|-t null --auto_zc")
	loop_devices+=("kublk|kublk|-t loop $img" "kublk-auto_zc|kublk|-t loop --auto_zc $img")
else
	peers_note+="no kublk on PATH; "
fi
[[ -z $peers_note ]] || echo "peers.sh: ${peers_note}comparing with the kernel's drivers only (run.sh --peers DIR)"

# name:rw:bs:iodepth
workloads=(randread-4k-qd1:randread:4k:1 randread-4k-qd64:randread:4k:64
	randwrite-4k-qd1:randwrite:4k:1 randwrite-4k-qd64:randwrite:4k:64
	seqread-512k-qd16:read:512k:16)

dd if=/dev/urandom of="$img" bs=1M count=256 2>/dev/null
run_suite null "${null_devices[@]}"
run_suite loop "${loop_devices[@]}"

echo "means over $rounds rounds of $secs s ($(nproc) vCPU, $(uname -r)); IOPS and x ratio to the kernel's driver:"
printf '%s' "$summary"
echo BENCH_JSON_BEGIN
printf '{"benchmark":"peers","kernel":"%s","vcpus":%s,"rounds":%s,"seconds":%s,"suites":[%s]}\n' \
	"$(uname -r)" "$(nproc)" "$rounds" "$secs" "$json"
echo BENCH_JSON_END
