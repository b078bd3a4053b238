#!/bin/bash
# Guest side of the null benchmark: ublk null against the kernel's null_blk.
#
# Usage: null_vs_null_blk.sh [ROUNDS] [SECONDS]
#
# fio 4k random read, iodepth 64, 1 job, io_uring, O_DIRECT, against
# /dev/nullb0 (null_blk: 1 submit queue, queue_mode=2 (blk-mq), depth 128,
# no interrupts), /dev/ublkbN (ublk null: 1 queue, depth 128, batch commands
# where the kernel has them), a second ublk null made with --metrics=off and
# a third with --batch=off (the per-tag commands), the four interleaved
# ROUNDS times. Prints a table, the ublk/null_blk ratio, the metrics on/off
# ratio (what `ublk stats`'s counters cost) and the batch on/off ratio, and
# a JSON document between
# BENCH_JSON_BEGIN / BENCH_JSON_END lines.
set -euo pipefail
rounds=${1:-4}
secs=${2:-10}

nb=/sys/kernel/config/nullb/nullb0
mkdir "$nb"
echo 1024 >"$nb/size"             # MiB
echo 2 >"$nb/queue_mode"          # blk-mq
echo 1 >"$nb/submit_queues"
echo 128 >"$nb/hw_queue_depth"
echo 0 >"$nb/irqmode"             # complete in the submitting context
echo 1 >"$nb/power"
trap 'echo 0 >"$nb/power"; rmdir "$nb"; ublk del -a >/dev/null 2>&1 || true' EXIT

add_null() {
	ublk add -t null -q 1 -d 128 --size 1G "$@" --json | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p'
}
batch=()
ublk features | grep -qx BATCH_IO && batch=(--batch)
id=$(add_null "${batch[@]}")
off=$(add_null "${batch[@]}" --metrics=off)
pertag=$(add_null --batch=off)
echo "measured mode: $(ublk list -n "$id" | grep -q 'batch commands' && echo batch commands || echo per-tag commands)"
# The clock the metrics read per pass is cheap only through the vDSO, which
# needs a TSC-like clocksource.
echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"

iops() { # DEVICE
	fio --name=bench --filename="$1" --rw=randread --bs=4k --iodepth=64 --numjobs=1 \
		--ioengine=io_uring --direct=1 --runtime="$secs" --time_based \
		--output-format=terse --terse-version=3 | awk -F';' '{print $8}'
}

ublk_iops=() nullb_iops=() off_iops=() pertag_iops=()
ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b/a}'; }
printf '%-6s %12s %12s %8s %12s %8s %12s %8s\n' round null_blk ublk ratio metrics-off on/off batch-off on/off
for r in $(seq 1 "$rounds"); do
	a=$(iops /dev/nullb0)
	# The default device and its variants take turns going first.
	if ((r % 2)); then
		b=$(iops "/dev/ublkb$id")
		c=$(iops "/dev/ublkb$off")
		d=$(iops "/dev/ublkb$pertag")
	else
		d=$(iops "/dev/ublkb$pertag")
		c=$(iops "/dev/ublkb$off")
		b=$(iops "/dev/ublkb$id")
	fi
	nullb_iops+=("$a") ublk_iops+=("$b") off_iops+=("$c") pertag_iops+=("$d")
	printf '%-6s %12s %12s %8s %12s %8s %12s %8s\n' "$r" "$a" "$b" "$(ratio_of "$a" "$b")" "$c" \
		"$(ratio_of "$c" "$b")" "$d" "$(ratio_of "$d" "$b")"
done

sum() { local s=0 v; for v in "$@"; do s=$((s + v)); done; echo "$s"; }
na=$(sum "${nullb_iops[@]}") ub=$(sum "${ublk_iops[@]}")
of=$(sum "${off_iops[@]}") pt=$(sum "${pertag_iops[@]}")
ratio=$(ratio_of "$na" "$ub")
metrics_ratio=$(ratio_of "$of" "$ub")
batch_ratio=$(ratio_of "$pt" "$ub")
echo "mean over $rounds rounds: null_blk $((na / rounds)) IOPS, ublk $((ub / rounds)) IOPS, ublk/null_blk = $ratio ($(nproc) vCPU)"
echo "metrics: on $((ub / rounds)) IOPS, off $((of / rounds)) IOPS, on/off = $metrics_ratio"
echo "batch: ${batch[*]:-(not on this kernel)} $((ub / rounds)) IOPS, --batch=off $((pt / rounds)) IOPS, on/off = $batch_ratio"
echo BENCH_JSON_BEGIN
printf '{"benchmark":"null_vs_null_blk","kernel":"%s","vcpus":%s,"rounds":%s,"seconds":%s,' \
	"$(uname -r)" "$(nproc)" "$rounds" "$secs"
printf '"workload":"randread 4k iodepth 64 numjobs 1 io_uring direct",'
printf '"null_blk_iops":[%s],"ublk_iops":[%s],"ratio":%s,' \
	"$(IFS=,; echo "${nullb_iops[*]}")" "$(IFS=,; echo "${ublk_iops[*]}")" "$ratio"
printf '"ublk_metrics_off_iops":[%s],"metrics_on_off_ratio":%s,' \
	"$(IFS=,; echo "${off_iops[*]}")" "$metrics_ratio"
printf '"ublk_batch_off_iops":[%s],"batch_on_off_ratio":%s}\n' \
	"$(IFS=,; echo "${pertag_iops[*]}")" "$batch_ratio"
echo BENCH_JSON_END
