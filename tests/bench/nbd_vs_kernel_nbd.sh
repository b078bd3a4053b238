#!/bin/bash
# Guest side of the nbd benchmark: ublk nbd against the kernel's own NBD
# client (nbd.ko, connected with nbd-client) to the same qemu-nbd server.
#
# Usage: nbd_vs_kernel_nbd.sh [ROUNDS] [SECONDS] [UBLK_ADD_OPTION...]
#
# qemu-nbd serves a 256 MiB raw file on tmpfs (written once) on a Unix
# socket, for two clients at once (--shared=2): /dev/nbd0 through nbd-client
# with one connection, and `ublk add -t nbd` (1 queue, depth 128: one
# connection; qemu-nbd does not allow several to a writable export). fio
# (io_uring, O_DIRECT, 1 job) runs 4k random read and random write at
# iodepth 64 and 512k sequential read at iodepth 16 on the two devices
# interleaved ROUNDS times. Prints a table with the ratio ublk/kernel-nbd per
# workload, and a JSON document between BENCH_JSON_BEGIN / BENCH_JSON_END.
# UBLK_ADD_OPTIONs go to `ublk add` (-z: zero copy, named in the JSON's
# benchmark as nbd_zero_copy_vs_kernel_nbd).
# Needs nbd.ko (the 7.2 kernel folder has it; 6.12's does not).
set -euo pipefail
# shellcheck source=compare.sh
source "$(dirname "$0")/compare.sh"
rounds=${1:-3}
secs=${2:-10}
shift $(($# < 2 ? $# : 2))
name=nbd_vs_kernel_nbd
[[ " $* " != *" -z "* ]] || name=nbd_zero_copy_vs_kernel_nbd
[[ -e /dev/nbd0 ]] || { echo "nbd_vs_kernel_nbd.sh: no /dev/nbd0 (nbd.ko not loaded)" >&2; exit 1; }
sock=/tmp/bench-nbd.sock
cleanup() {
	ublk del -a >/dev/null 2>&1 || true
	nbd-client -d /dev/nbd0 >/dev/null 2>&1 || true
	[[ ! -s /tmp/bench-nbd.pid ]] || kill "$(cat /tmp/bench-nbd.pid)" 2>/dev/null || true
}
trap cleanup EXIT
dd if=/dev/urandom of=/tmp/bench-nbd.img bs=1M count=256 2>/dev/null
qemu-nbd --fork --persistent --shared=2 --pid-file=/tmp/bench-nbd.pid -f raw -x disk \
	-k "$sock" /tmp/bench-nbd.img
nbd-client -unix "$sock" -N disk -b 512 /dev/nbd0 >/dev/null
id=$(ublk add -t nbd -f "nbd+unix:///disk?socket=$sock" -q 1 -d 128 "$@" --json |
	sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p')

# name:rw:bs:iodepth
workloads=(randread-4k-qd64:randread:4k:64 randwrite-4k-qd64:randwrite:4k:64
	seqread-512k-qd16:read:512k:16)
compare_devices "$name" kernel-nbd /dev/nbd0 /dev/ublkb"$id" "$rounds" "$secs"
