#!/bin/bash
# Guest side of the scaling benchmark: server threads against queues.
#
# Usage: threads.sh [ROUNDS] [SECONDS]
#
# One suite (suite.sh: each round adds every device in turn, runs every
# workload on it and removes it) with 2 fio jobs (io_uring, O_DIRECT) doing
# 4k random reads and writes at iodepth 64 each: null_blk with 2 submit
# queues against `ublk add -t null` with 1 queue (one thread), 2 queues (a
# thread each), 1 queue served by 2 threads and 2 queues by 4 threads
# (--threads, where the kernel has PER_IO_DAEMON). Prints a row per round,
# the means with each device's ratio to null_blk, and a JSON document between
# BENCH_JSON_BEGIN / BENCH_JSON_END lines.
set -euo pipefail
# shellcheck source=suite.sh
source "$(dirname "$0")/suite.sh"
rounds=${1:-3}
secs=${2:-5}
jobs=2 nullb_queues=2
trap remove_devices EXIT

# name:rw:bs:iodepth
workloads=(randread-4k-qd64:randread:4k:64 randwrite-4k-qd64:randwrite:4k:64)
devices=("null_blk|nullblk|" "ours-q1|ours|-t null --size 1G -q 1" "ours-q2|ours|-t null --size 1G -q 2")
if ublk features | grep -qx PER_IO_DAEMON; then
	devices+=("ours-q1-t2|ours|-t null --size 1G -q 1 --threads 2"
		"ours-q2-t4|ours|-t null --size 1G -q 2 --threads 4")
else
	echo "no PER_IO_DAEMON on $(uname -r): one thread per queue only"
fi
run_suite scaling "${devices[@]}"

echo "means over $rounds rounds of $secs s ($(nproc) vCPU, $(uname -r)); IOPS and x ratio to null_blk:"
printf '%s' "$summary"
echo BENCH_JSON_BEGIN
printf '{"benchmark":"threads","kernel":"%s","vcpus":%s,"rounds":%s,"seconds":%s,"jobs":%s,"suites":[%s]}\n' \
	"$(uname -r)" "$(nproc)" "$rounds" "$secs" "$jobs" "$json"
echo BENCH_JSON_END
