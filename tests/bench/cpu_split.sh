#!/bin/bash
# Guest side of the CPU-split benchmark: where the CPU goes at iodepth 64,
# the submitter's or the server's, for the kernel's null_blk and every null
# device of this project's server and of the reference servers.
#
# Usage: cpu_split.sh [ROUNDS] [SECONDS]
#
# Each round adds every device in turn (1 queue x depth 128), runs fio
# (io_uring, O_DIRECT, 1 job, 4k random read, then random write, iodepth
# 64) and removes it. Per run it records fio's IOPS, fio's own CPU time
# (usr + sys, in % of one CPU, from fio) and how busy each CPU was (from
# /proc/stat, in %). The submitter limits the rate when fio is near 100% of
# a CPU while another CPU, where the server runs, has time to spare; the
# spare CPU's busy share over the IOPS is the server's CPU per request
# (null_blk's shows the guest's own background). The reference servers are
# used as peers.sh does (run.sh --peers DIR). Prints a row per run, the
# means per device, and a JSON document between BENCH_JSON_BEGIN /
# BENCH_JSON_END lines.
set -euo pipefail
# shellcheck source=suite.sh
source "$(dirname "$0")/suite.sh"
rounds=${1:-3}
secs=${2:-5}
install_peers
trap remove_devices EXIT

devices=("null_blk|nullblk|" "ours|ours|-t null --size 1G")
! ublk features | grep -qx BATCH_IO || devices+=("ours-batch|ours|-t null --size 1G --batch")
[[ ! -x $ublksrv ]] || devices+=("ublksrv-b|ublksrv|-t null -b")
[[ -z $kublk ]] || devices+=("kublk-b|kublk|-t null -b" "kublk-auto_zc|kublk|-t null --auto_zc")

# cpu_ticks: "busy total" jiffies of each CPU, space separated.
cpu_ticks() { awk '/^cpu[0-9]/ {b = $2 + $3 + $4 + $7 + $8; printf "%d %d ", b, b + $5 + $6}' /proc/stat; }

# measure DEVICE RW: "IOPS FIO_CPU BUSY0 BUSY1 ..." (percentages).
measure() {
	local before after out i busy=''
	read -ra before <<<"$(cpu_ticks)"
	out=$(fio_terse "$1" "$2" 4k 64)
	read -ra after <<<"$(cpu_ticks)"
	for ((i = 0; i < ${#before[@]}; i += 2)); do
		busy+=" $(awk -v b=$((after[i] - before[i])) -v t=$((after[i + 1] - before[i + 1])) \
			'BEGIN {printf "%.1f", (t > 0 ? 100 * b / t : 0)}')"
	done
	awk -F';' -v f="$(iops_field "$2")" '{u = $88; s = $89; sub("%", "", u); sub("%", "", s); printf "%d %.1f", $f, u + s}' <<<"$out"
	echo "$busy"
}

declare -A sums=()
printf '%-9s %5s %-14s %7s %7s  %s\n' workload round device IOPS fio-cpu "busy per CPU (%)"
for rw in randread randwrite; do
	for r in $(seq 1 "$rounds"); do
		for e in "${devices[@]}"; do
			IFS='|' read -r label kind args <<<"$e"
			# shellcheck disable=SC2086
			"${kind}_up" $args
			read -r iops fio_cpu busy <<<"$(measure "$dev" "$rw")"
			"${kind}_down"
			printf '%-9s %5s %-14s %7s %6s%%  %s\n' "$rw" "$r" "$label" "$iops" "$fio_cpu" "$busy"
			# The spare CPU: the least busy one.
			spare=$(tr ' ' '\n' <<<"$busy" | sort -n | head -1)
			sums[$rw:$label]+="$iops $fio_cpu $spare;"
		done
	done
done

echo "means over $rounds rounds of $secs s ($(nproc) vCPU, $(uname -r)): IOPS, fio's CPU, the least busy CPU and its time per request:"
json=''
for rw in randread randwrite; do
	for e in "${devices[@]}"; do
		label=${e%%|*}
		line=$(tr ';' '\n' <<<"${sums[$rw:$label]}" | awk -v rw="$rw" -v l="$label" '
			NF == 3 {n++; i += $1; f += $2; s += $3; us += ($1 > 0 ? 1e4 * $3 / $1 : 0)}
			END {printf "%s %s %d %.1f %.1f %.2f", rw, l, i / n, f / n, s / n, us / n}')
		read -r _ _ iops fio_cpu spare us <<<"$line"
		printf '%-9s %-14s IOPS %7s  fio %5s%%  spare CPU busy %5s%%  %s us a request\n' \
			"$rw" "$label" "$iops" "$fio_cpu" "$spare" "$us"
		json+=$(printf '%s{"workload":"%s","device":"%s","iops":%s,"fio_cpu_pct":%s,"spare_cpu_busy_pct":%s,"spare_cpu_us_per_io":%s}' \
			"${json:+,}" "$rw-4k-qd64" "$label" "$iops" "$fio_cpu" "$spare" "$us")
	done
done
echo BENCH_JSON_BEGIN
printf '{"benchmark":"cpu_split","kernel":"%s","vcpus":%s,"rounds":%s,"seconds":%s,"results":[%s]}\n' \
	"$(uname -r)" "$(nproc)" "$rounds" "$secs" "$json"
echo BENCH_JSON_END
