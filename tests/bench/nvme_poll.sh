#!/bin/bash
# Guest side of the polled NVMe benchmark (boot with nvme.poll_queues=1):
# the nvme target with and without --poll against the kernel's own polled
# and interrupt-driven paths on the same emulated drive, in one boot.
#
# Usage: nvme_poll.sh [ROUNDS] [SECONDS]
#
# Paths: ublk = /dev/ublkbN from `ublk add -t nvme -f /dev/ngXnY` (copy mode,
# as --poll needs); ublk-poll = the same with --poll; ublk-spin = the target
# in its default data path with --poll-us $SPIN_US (1000 unless set);
# ublk-poll-spin = --poll with --poll-us; block = the namespace's
# block device with fio's io_uring engine; block-hipri = the same with
# --hipri (polled); passthru-hipri = its char device with io_uring_cmd and
# --hipri. Workloads: 4k randread at iodepth 1 and 64, O_DIRECT, 1 job.
# Rounds interleave the paths. Prints the mean IOPS per path and the ratios
# ublk-poll/ublk, ublk-poll/passthru-hipri and ublk-poll/block-hipri, each
# ublk path over block, and a
# JSON document between BENCH_JSON_BEGIN / BENCH_JSON_END lines.
set -euo pipefail
rounds=${1:-2}
secs=${2:-5}
spin_us=${SPIN_US:-1000}
blk=$(readlink -f /dev/disk/by-id/nvme-ublktest0)
ng=$(readlink -f /dev/disk/by-id/ng-ublktest0)
[[ $(cat /sys/block/"$(basename "$blk")"/queue/io_poll) == 1 ]] ||
	{ echo "nvme_poll.sh: $blk has no poll queues (boot with nvme.poll_queues=1)" >&2; exit 1; }
trap 'ublk del -a >/dev/null 2>&1 || true' EXIT

dd if=/dev/urandom of="$blk" bs=1M count=512 oflag=direct 2>/dev/null
# One ublk device on the namespace at a time: each is added for its run.
devid() { sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p'; }

kinds=(ublk ublk-poll ublk-spin ublk-poll-spin block block-hipri passthru-hipri)
workloads=("randread 4k 1" "randread 4k 64")
run() { # KIND RW BS QD
	local kind=$1 rw=$2 bs=$3 qd=$4 args id=''
	case $kind in
	ublk) id=$(ublk add -t nvme -f "$ng" --zero-copy=off --json | devid) ;;
	ublk-poll) id=$(ublk add -t nvme -f "$ng" --poll --json | devid) ;;
	ublk-spin) id=$(ublk add -t nvme -f "$ng" --poll-us "$spin_us" --json | devid) ;;
	ublk-poll-spin) id=$(ublk add -t nvme -f "$ng" --poll --poll-us "$spin_us" --json | devid) ;;
	esac
	case $kind in
	ublk*) args=(--filename=/dev/ublkb"$id" --ioengine=io_uring --direct=1) ;;
	block) args=(--filename="$blk" --ioengine=io_uring --direct=1) ;;
	block-hipri) args=(--filename="$blk" --ioengine=io_uring --direct=1 --hipri) ;;
	passthru-hipri) args=(--filename="$ng" --ioengine=io_uring_cmd --cmd_type=nvme --hipri) ;;
	esac
	fio --name=bench "${args[@]}" --rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs=1 \
		--size=512M --runtime="$secs" --time_based \
		--output-format=terse --terse-version=3 | awk -F';' '{print $8}'
	[[ -z $id ]] || ublk del -n "$id"
}

declare -A sum
for r in $(seq 1 "$rounds"); do
	for w in "${workloads[@]}"; do
		for kind in "${kinds[@]}"; do
			v=$(run "$kind" $w)
			sum[$kind $w]=$((${sum[$kind $w]:-0} + v))
		done
	done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b ? a/b : 0}'; }
ublks=(ublk ublk-poll ublk-spin ublk-poll-spin)
printf '%-14s' workload; printf ' %14s' "${kinds[@]}"; printf ' %9s %9s %9s' poll/ublk poll/pt poll/bhp
printf ' %16s' "${ublks[@]/%//block}"; echo
json=''
for w in "${workloads[@]}"; do
	declare -A m=()
	for kind in "${kinds[@]}"; do m[$kind]=$((sum[$kind $w] / rounds)); done
	a=$(ratio "${m[ublk-poll]}" "${m[ublk]}")
	b=$(ratio "${m[ublk-poll]}" "${m[passthru-hipri]}")
	c=$(ratio "${m[ublk-poll]}" "${m[block-hipri]}")
	printf '%-14s' "${w// /_}"
	for kind in "${kinds[@]}"; do printf ' %14s' "${m[$kind]}"; done
	printf ' %9s %9s %9s' "$a" "$b" "$c"
	fields=''
	for kind in "${kinds[@]}"; do fields+="\"${kind//-/_}_iops\":${m[$kind]},"; done
	for kind in "${ublks[@]}"; do
		o=$(ratio "${m[$kind]}" "${m[block]}")
		printf ' %16s' "$o"
		fields+="\"${kind//-/_}_over_block\":$o,"
	done
	echo
	json+="${json:+,}{\"workload\":\"$w\",${fields}\"poll_over_ublk\":$a,\"poll_over_passthru_hipri\":$b,\"poll_over_block_hipri\":$c}"
done
echo BENCH_JSON_BEGIN
printf '{"benchmark":"nvme_poll","kernel":"%s","vcpus":%s,"rounds":%s,"seconds":%s,"poll_us":%s,"results":[%s]}\n' \
	"$(uname -r)" "$(nproc)" "$rounds" "$secs" "$spin_us" "$json"
echo BENCH_JSON_END
