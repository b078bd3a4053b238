#!/bin/bash
# Benchmarks, run side by side with the kernel's own drivers in one guest boot.
#
# Usage: tests/bench/run.sh --prefix STAGE [--kernel KDIR] [--rounds N] [--seconds S]
#                           [--out DIR] [--only null|loop|nvme|nvme-poll|zero-copy|nbd|peers|poll-us|threads|cpu-split]
#                           [--peers DIR]
#
# STAGE is an install tree (cmake --install build --prefix STAGE). For each of
# 1 and 2 vCPUs, boots the test VM and runs null_vs_null_blk.sh (ublk null
# against null_blk), then boots it again with an emulated NVMe drive and runs
# loop_vs_kernel_loop.sh (ublk loop against the kernel loop driver on one
# backing file); prints their tables and writes DIR/null-<N>vcpu.json and
# DIR/loop-<N>vcpu.json (default DIR: ./bench-results); with 2 vCPUs also
# nvme_vs_kernel.sh (the nvme target against the namespace's block device and
# fio's own passthrough) into DIR/nvme-2vcpu.json, and zero_copy.sh (copy
# against both zero-copy modes on loop and nvme, and the server's memory)
# into DIR/zero-copy-2vcpu.json (kernels with zero copy only), and, booted
# with nvme.poll_queues=1, nvme_poll.sh (nvme with and without --poll and
# --poll-us against the kernel's polled paths) into DIR/nvme-poll-2vcpu.json, and
# nbd_vs_kernel_nbd.sh (ublk nbd against nbd.ko, both on one qemu-nbd server;
# kernels with nbd.ko only) into DIR/nbd-2vcpu.json, and the same with the
# ublk device in zero copy (-z) into DIR/nbd-zero-copy-2vcpu.json; with 1 and
# 2 vCPUs,
# peers.sh (null and loop on tmpfs against the kernel's drivers and, with
# --peers DIR, the reference servers whose install trees are DIR's folders,
# each server in its default and fastest modes) into DIR/peers-<N>vcpu.json,
# and poll_us.sh (null and nvme with and without --poll-us at iodepth 1 and
# 64) into DIR/poll-us-<N>vcpu.json, and threads.sh (null with 1 and 2
# queues against 1 and 2 queues served by twice the threads, 2 fio jobs) into
# DIR/threads-<N>vcpu.json; with 2 vCPUs, cpu_split.sh (fio's CPU and each
# CPU's busy share on null_blk and on every server's null device at iodepth
# 64, with --peers DIR the reference servers too) into
# DIR/cpu-split-2vcpu.json.
# --only runs one of them.
# Under TCG only the ratios mean something; absolute IOPS do not.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
stage='' kernel=() rounds=4 secs=10 out=bench-results only='' peers=''
while [[ $# -gt 0 ]]; do
	case $1 in
	--prefix) stage=$2; shift 2 ;;
	--kernel) kernel=(--kernel "$2"); shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--peers) peers=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[[ -n $stage ]] || { echo "run.sh: --prefix STAGE is required" >&2; exit 2; }
[[ -z $only || $only =~ ^(null|loop|nvme|nvme-poll|zero-copy|nbd|peers|poll-us|threads|cpu-split)$ ]] ||
	{ echo "run.sh: --only null|loop|nvme|nvme-poll|zero-copy|nbd|peers|poll-us|threads|cpu-split" >&2; exit 2; }
[[ -z $peers || -d $peers ]] || { echo "run.sh: --peers $peers is not a folder" >&2; exit 2; }
mkdir -p "$out"

# The guest's /opt/tests: this folder, and with --peers the reference
# servers' install trees under peers/.
tests=$here
if [[ -n $peers ]]; then
	tests=$(mktemp -d)
	trap 'rm -rf "$tests"' EXIT
	cp -a "$here/." "$tests/"
	mkdir "$tests/peers"
	for tree in "$peers"/*/; do
		[[ -d ${tree}usr ]] && cp -a "$tree" "$tests/peers/" && echo "peer: $(basename "$tree")"
	done
fi

# bench NAME VCPUS TIMEOUT VM_ARGS... -- GUEST_COMMAND...
bench() {
	local name=$1 vcpus=$2 timeout=$3 log
	shift 3
	log=$(mktemp)
	"$here/../vm/run.sh" --prefix "$stage" --tests "$tests" "${kernel[@]}" --vcpus "$vcpus" \
		--timeout "$timeout" "$@" | tee "$log" | grep -v '^BENCH_JSON\|^{'
	sed -n '/^BENCH_JSON_BEGIN/,/^BENCH_JSON_END/p' "$log" | sed '1d;$d' >"$out/$name-${vcpus}vcpu.json"
	rm -f "$log"
	echo "wrote $out/$name-${vcpus}vcpu.json"
}

for vcpus in 1 2; do
	if [[ -z $only || $only == null ]]; then
		bench null "$vcpus" $((rounds * secs * 2 * 3 + 300)) -- \
			/opt/tests/null_vs_null_blk.sh "$rounds" "$secs"
	fi
	if [[ -z $only || $only == loop ]]; then
		bench loop "$vcpus" $((rounds * secs * 10 * 3 + 600)) --nvme 1024 -- \
			/opt/tests/loop_vs_kernel_loop.sh "$rounds" "$secs"
	fi
	if [[ -z $only || $only == peers ]]; then
		bench peers "$vcpus" $((rounds * secs * 5 * 14 * 3 + 600)) -- \
			/opt/tests/peers.sh "$rounds" "$secs"
	fi
	if [[ -z $only || $only == poll-us ]]; then
		bench poll-us "$vcpus" $((rounds * secs * 2 * 10 * 3 + 600)) --nvme 1024 -- \
			/opt/tests/poll_us.sh "$rounds" "$secs"
	fi
	if [[ -z $only || $only == threads ]]; then
		bench threads "$vcpus" $((rounds * secs * 2 * 5 * 3 + 600)) -- \
			/opt/tests/threads.sh "$rounds" "$secs"
	fi
done
if [[ -z $only || $only == nvme ]]; then
	bench nvme 2 $((rounds * secs * 15 * 3 + 600)) --nvme 1024 -- \
		/opt/tests/nvme_vs_kernel.sh "$rounds" "$secs"
fi
if [[ -z $only || $only == cpu-split ]]; then
	bench cpu-split 2 $((rounds * secs * 2 * 6 * 3 + 600)) -- \
		/opt/tests/cpu_split.sh "$rounds" "$secs"
fi
if [[ -z $only || $only == zero-copy ]]; then
	bench zero-copy 2 $((rounds * secs * 40 + 600)) --nvme 1024 -- \
		/opt/tests/zero_copy.sh "$rounds" "$secs"
fi
if [[ -z $only || $only == nvme-poll ]]; then
	bench nvme-poll 2 $((rounds * secs * 14 * 3 + 600)) --nvme 1024 \
		--append nvme.poll_queues=1 -- /opt/tests/nvme_poll.sh "$rounds" "$secs"
fi
if [[ -z $only || $only == nbd ]]; then
	bench nbd 2 $((rounds * secs * 6 * 3 + 600)) -- \
		/opt/tests/nbd_vs_kernel_nbd.sh "$rounds" "$secs"
	bench nbd-zero-copy 2 $((rounds * secs * 6 * 3 + 600)) -- \
		/opt/tests/nbd_vs_kernel_nbd.sh "$rounds" "$secs" -z
fi
