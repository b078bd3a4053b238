#!/bin/bash
# Guest side of the --poll-us benchmark: the same devices with and without a
# spin before the queue thread sleeps.
#
# Usage: poll_us.sh [ROUNDS] [SECONDS]
#
# Two suites (suite.sh: each round adds every device in turn, runs every
# workload on it and removes it):
#   null  null_blk against `ublk add -t null` with --poll-us 0, 20, 200, 1000
#   nvme  the first emulated NVMe drive's block device against the nvme
#         target on its /dev/ngXnY with --poll-us 0, 20, 200, 1000
# (20 µs is the scale of real hardware; under TCG a request takes 10× as
# long, so only the longer spins can cover a backend's completion there)
# fio (io_uring, O_DIRECT, 1 job) 4k random read at iodepth 1 and 64. Prints
# a row per round, the means with each device's ratio to the kernel's
# driver, and a JSON document between BENCH_JSON_BEGIN / BENCH_JSON_END lines.
set -euo pipefail
# shellcheck source=suite.sh
source "$(dirname "$0")/suite.sh"
rounds=${1:-3}
secs=${2:-5}
drive=/dev/disk/by-id/nvme-ublktest0
ng=/dev/disk/by-id/ng-ublktest0
[[ -b $drive && -c $ng ]] || { echo "poll_us.sh: no $drive (boot with --nvme)" >&2; exit 1; }
drive=$(readlink -f "$drive") ng=$(readlink -f "$ng")
trap remove_devices EXIT
block_up() { dev=$drive; }
block_down() { :; }

# name:rw:bs:iodepth
workloads=(randread-4k-qd1:randread:4k:1 randread-4k-qd64:randread:4k:64)
dd if=/dev/urandom of="$drive" bs=1M count=256 oflag=direct 2>/dev/null
run_suite null "null_blk|nullblk|" "ours|ours|-t null --size 1G" \
	"ours-poll-20|ours|-t null --size 1G --poll-us 20" "ours-poll-200|ours|-t null --size 1G --poll-us 200" \
	"ours-poll-1000|ours|-t null --size 1G --poll-us 1000"
run_suite nvme "nvme-block|block|" "ours|ours|-t nvme -f $ng" \
	"ours-poll-20|ours|-t nvme -f $ng --poll-us 20" "ours-poll-200|ours|-t nvme -f $ng --poll-us 200" \
	"ours-poll-1000|ours|-t nvme -f $ng --poll-us 1000"

echo "means over $rounds rounds of $secs s ($(nproc) vCPU, $(uname -r)); IOPS and x ratio to the kernel's driver:"
printf '%s' "$summary"
echo BENCH_JSON_BEGIN
printf '{"benchmark":"poll_us","kernel":"%s","vcpus":%s,"rounds":%s,"seconds":%s,"suites":[%s]}\n' \
	"$(uname -r)" "$(nproc)" "$rounds" "$secs" "$json"
echo BENCH_JSON_END
