#!/bin/bash
# Guest side of the NVMe benchmark: the nvme target against the kernel's own
# NVMe paths, on the same emulated drive in one boot.
#
# Usage: nvme_vs_kernel.sh [ROUNDS] [SECONDS]
#
# Paths: (a) /dev/ublkbN from `ublk add -t nvme -f /dev/ngXnY`; (b) the
# namespace's block device with fio's io_uring engine; (c) its char device
# with fio's io_uring_cmd engine (passthrough, no block layer); where the
# kernel has batch commands, also (d) the ublk device with them (--batch).
# A namespace serves one ublk device at a time, so each round adds (a),
# runs every workload on it and deletes it, then the same for (d). Workloads: 4k randread and randwrite at
# iodepth 1 and 64, 128k sequential read at iodepth 16; all O_DIRECT, 1
# job. Rounds interleave the paths. Prints the mean IOPS per path and the
# ratios a/b, a/c and d/b, and a JSON document between BENCH_JSON_BEGIN /
# BENCH_JSON_END lines.
set -euo pipefail
rounds=${1:-2}
secs=${2:-5}
blk=$(readlink -f /dev/disk/by-id/nvme-ublktest0)
ng=$(readlink -f /dev/disk/by-id/ng-ublktest0)
trap 'ublk del -a >/dev/null 2>&1 || true' EXIT

# Give every read something real to read.
dd if=/dev/urandom of="$blk" bs=1M count=512 oflag=direct 2>/dev/null
ublk_up() { id=$(ublk add -t nvme -f "$ng" "$@" --json | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p'); }
kinds=(ublk block passthru)
! ublk features | grep -qx BATCH_IO || kinds+=(batch)

workloads=("randread 4k 1" "randread 4k 64" "randwrite 4k 1" "randwrite 4k 64" "read 128k 16")
run() { # PATH-KIND WORKLOAD...
	local kind=$1 rw=$2 bs=$3 qd=$4 args
	case $kind in
	ublk | batch) args=(--filename=/dev/ublkb"$id" --ioengine=io_uring --direct=1) ;;
	block) args=(--filename="$blk" --ioengine=io_uring --direct=1) ;;
	# Passthrough never touches the page cache; fio refuses O_DIRECT on it.
	passthru) args=(--filename="$ng" --ioengine=io_uring_cmd --cmd_type=nvme) ;;
	esac
	fio --name=bench "${args[@]}" --rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs=1 \
		--size=512M --runtime="$secs" --time_based \
		--output-format=terse --terse-version=3 |
		awk -F';' -v rw="$rw" '{print (rw ~ /write/) ? $49 : $8}'
}

declare -A sum
for r in $(seq 1 "$rounds"); do
	for kind in "${kinds[@]}"; do
		case $kind in
		ublk) ublk_up ;;
		batch) ublk_up --batch ;;
		esac
		for w in "${workloads[@]}"; do
			# shellcheck disable=SC2086 # a workload is three words
			v=$(run "$kind" $w)
			sum[$kind $w]=$(( ${sum[$kind $w]:-0} + v ))
		done
		[[ $kind == block || $kind == passthru ]] || ublk del -n "$id" >/dev/null
	done
done

printf '%-20s %10s %10s %10s %10s %8s %8s %8s\n' workload ublk block passthru batch a/b a/c d/b
json=''
for w in "${workloads[@]}"; do
	a=$((sum[ublk $w] / rounds)) b=$((sum[block $w] / rounds)) c=$((sum[passthru $w] / rounds))
	d=$((${sum[batch $w]:-0} / rounds))
	ab=$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.3f", b ? a/b : 0}')
	ac=$(awk -v a="$a" -v c="$c" 'BEGIN{printf "%.3f", c ? a/c : 0}')
	db=$(awk -v d="$d" -v b="$b" 'BEGIN{printf "%.3f", b ? d/b : 0}')
	printf '%-20s %10s %10s %10s %10s %8s %8s %8s\n' "${w// /_}" "$a" "$b" "$c" "$d" "$ab" "$ac" "$db"
	json+="${json:+,}{\"workload\":\"$w\",\"ublk_iops\":$a,\"block_iops\":$b,\"passthru_iops\":$c,\"ublk_over_block\":$ab,\"ublk_over_passthru\":$ac"
	[[ ${kinds[*]} != *batch* ]] || json+=",\"batch_iops\":$d,\"batch_over_block\":$db"
	json+="}"
done
echo BENCH_JSON_BEGIN
printf '{"benchmark":"nvme_vs_kernel","kernel":"%s","vcpus":%s,"rounds":%s,"seconds":%s,"results":[%s]}\n' \
	"$(uname -r)" "$(nproc)" "$rounds" "$secs" "$json"
echo BENCH_JSON_END
