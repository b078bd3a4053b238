#!/bin/bash
# Guest side of the zero-copy benchmark: the same ublk device in copy mode
# (--zero-copy=off), zero copy by automatic registration (auto) and by
# explicit registration (explicit), on three backends:
#   loop-tmpfs  ublk loop --buffered over a 256 MiB file on the guest's tmpfs
#               (the data path is the only cost: no device below); the kernel
#               loop driver on the same file runs beside it
#   loop-nvme   ublk loop over the first emulated NVMe drive's block device
#               (O_DIRECT)
#   nvme        the nvme target over the same drive's /dev/ngXnY
#
# Usage: zero_copy.sh [ROUNDS] [SECONDS]
#
# fio (io_uring, O_DIRECT, 1 job): 4k random read at iodepth 64, 512k
# sequential read and 512k sequential write at iodepth 16; each round adds
# one mode's device at a time (a backing store serves one device), ROUNDS
# rounds. Then, per mode, the server's resident memory (VmRSS) with 2
# queues x depth 128 after 512k reads at iodepth 256 have used every tag.
# Prints ratios zero-copy/copy (and zero-copy/kernel-loop for loop-tmpfs), and
# a JSON document between BENCH_JSON_BEGIN / BENCH_JSON_END lines.
set -euo pipefail
# shellcheck source=suite.sh
source "$(dirname "$0")/suite.sh" # iops, ratio, mean
rounds=${1:-3}
secs=${2:-10}
drive=/dev/disk/by-id/nvme-ublktest0
ng=/dev/disk/by-id/ng-ublktest0
[[ -b $drive && -c $ng ]] || { echo "zero_copy.sh: no $drive (boot with --nvme)" >&2; exit 1; }
drive=$(readlink -f "$drive") ng=$(readlink -f "$ng")
ublk features | grep -qx AUTO_BUF_REG || { echo "zero_copy.sh: kernel $(uname -r) has no zero copy" >&2; exit 1; }

kloop=''
cleanup() {
	ublk del -a >/dev/null 2>&1 || true
	[[ -z $kloop ]] || losetup -d "$kloop" 2>/dev/null || true
	rm -f /tmp/zc-bench.img
}
trap cleanup EXIT
dd if=/dev/urandom of=/tmp/zc-bench.img bs=1M count=256 2>/dev/null
dd if=/dev/urandom of="$drive" bs=1M count=256 oflag=direct 2>/dev/null

modes=(off auto explicit)
# name:rw:bs:iodepth
workloads=(randread-4k-qd64:randread:4k:64 seqread-512k-qd16:read:512k:16
	seqwrite-512k-qd16:write:512k:16)
backends=(loop-tmpfs loop-nvme nvme)

backend_args() {
	case $1 in
	loop-tmpfs) echo "-t loop -f /tmp/zc-bench.img --buffered" ;;
	loop-nvme) echo "-t loop -f $drive" ;;
	nvme) echo "-t nvme -f $ng" ;;
	esac
}

add() { # BACKEND MODE [ARGS...]
	local b=$1 m=$2
	shift 2
	# shellcheck disable=SC2046
	ublk add $(backend_args "$b") --zero-copy="$m" "$@" --json |
		sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p'
}

# One device at a time: a backing store serves one ublk device. Each round
# adds each mode's device in turn, runs every workload on it and deletes it;
# the kernel loop driver takes its turn last, on the same file.
json='' summary=''
printf '%-11s %-19s %5s %10s %10s %10s %10s\n' backend workload round copy auto explicit kloop
for b in "${backends[@]}"; do
	declare -A all=()
	for r in $(seq 1 "$rounds"); do
		declare -A row=()
		for m in "${modes[@]}"; do
			d=/dev/ublkb$(add "$b" "$m" -q 1 -d 128)
			for w in "${workloads[@]}"; do
				IFS=: read -r name rw bs depth <<<"$w"
				row[$m:$name]=$(iops "$d" "$rw" "$bs" "$depth")
				all[$m:$name]+="${row[$m:$name]} "
			done
			ublk del -a >/dev/null
		done
		if [[ $b == loop-tmpfs ]]; then
			kloop=$(losetup --show -f /tmp/zc-bench.img)
			for w in "${workloads[@]}"; do
				IFS=: read -r name rw bs depth <<<"$w"
				row[kloop:$name]=$(iops "$kloop" "$rw" "$bs" "$depth")
				all[kloop:$name]+="${row[kloop:$name]} "
			done
			losetup -d "$kloop"
			kloop=''
		fi
		for w in "${workloads[@]}"; do
			name=${w%%:*}
			printf '%-11s %-19s %5s %10s %10s %10s %10s\n' "$b" "$name" "$r" \
				"${row[off:$name]}" "${row[auto:$name]}" "${row[explicit:$name]}" "${row[kloop:$name]:--}"
		done
		unset row
	done
	for w in "${workloads[@]}"; do
		name=${w%%:*}
		# shellcheck disable=SC2086
		c=$(mean ${all[off:$name]}) a=$(mean ${all[auto:$name]}) e=$(mean ${all[explicit:$name]})
		line=$(printf '%-11s %-19s copy %7s  auto %7s (x%s)  explicit %7s (x%s)' \
			"$b" "$name" "$c" "$a" "$(ratio "$c" "$a")" "$e" "$(ratio "$c" "$e")")
		kj=''
		if [[ -n ${all[kloop:$name]:-} ]]; then
			# shellcheck disable=SC2086
			kl=$(mean ${all[kloop:$name]})
			line+=$(printf '  kernel-loop %7s (auto/kloop x%s)' "$kl" "$(ratio "$kl" "$a")")
			kj=$(printf ',"kernel_loop_iops":%s,"auto_over_kernel_loop":%s' "$kl" "$(ratio "$kl" "$a")")
		fi
		summary+="$line"$'\n'
		json+=$(printf '%s{"backend":"%s","workload":"%s","copy_iops":%s,"auto_iops":%s,"explicit_iops":%s,"auto_over_copy":%s,"explicit_over_copy":%s%s}' \
			"${json:+,}" "$b" "$name" "$c" "$a" "$e" "$(ratio "$c" "$a")" "$(ratio "$c" "$e")" "$kj")
	done
	unset all
done

# Resident memory of one server, 2 queues x depth 128, every tag used.
rss_json='' rss_summary=''
for m in "${modes[@]}"; do
	id=$(add loop-tmpfs "$m" -q 2 -d 128)
	fio --name=touch --filename=/dev/ublkb"$id" --rw=randread --bs=512k --iodepth=128 --numjobs=2 \
		--ioengine=io_uring --direct=1 --runtime=3 --time_based --size=256M >/dev/null
	pid=$(ublk list -n "$id" --json | sed -n 's/^ *"pid": \([0-9]*\),*$/\1/p' | head -n1)
	rss=$(awk '/^VmRSS/{print $2}' /proc/"$pid"/status)
	rss_summary+=$(printf '%-9s server VmRSS %7s KiB' "$m" "$rss")$'\n'
	rss_json+=$(printf '%s"%s":%s' "${rss_json:+,}" "$m" "$rss")
	ublk del -n "$id"
done

echo "means over $rounds rounds of $secs s ($(nproc) vCPU, $(uname -r)); IOPS:"
printf '%s' "$summary"
echo "server memory, 2 queues x depth 128, max I/O 512 KiB:"
printf '%s' "$rss_summary"
echo BENCH_JSON_BEGIN
printf '{"benchmark":"zero_copy","kernel":"%s","vcpus":%s,"rounds":%s,"seconds":%s,"results":[%s],"rss_kib":{%s}}\n' \
	"$(uname -r)" "$(nproc)" "$rounds" "$secs" "$json" "$rss_json"
echo BENCH_JSON_END
