#!/bin/bash
# Benchmarks, run side by side with the kernel's own drivers in one guest boot.
#
# Usage: tests/bench/run.sh --prefix STAGE [--kernel KDIR] [--rounds N] [--seconds S]
#                           [--out DIR]
#
# STAGE is an install tree (cmake --install build --prefix STAGE). For each of
# 1 and 2 vCPUs, boots the test VM and runs null_vs_null_blk.sh; prints its
# table and writes DIR/null-<N>vcpu.json (default DIR: ./bench-results).
# Under TCG only the ratios mean something; absolute IOPS do not.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
stage='' kernel=() rounds=4 secs=10 out=bench-results
while [[ $# -gt 0 ]]; do
	case $1 in
	--prefix) stage=$2; shift 2 ;;
	--kernel) kernel=(--kernel "$2"); shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[[ -n $stage ]] || { echo "run.sh: --prefix STAGE is required" >&2; exit 2; }
mkdir -p "$out"
for vcpus in 1 2; do
	log=$(mktemp)
	"$here/../vm/run.sh" --prefix "$stage" --tests "$here" "${kernel[@]}" --vcpus "$vcpus" \
		--timeout $((rounds * secs * 2 * 3 + 300)) -- \
		/opt/tests/null_vs_null_blk.sh "$rounds" "$secs" | tee "$log" | grep -v '^BENCH_JSON\|^{'
	sed -n '/^BENCH_JSON_BEGIN/,/^BENCH_JSON_END/p' "$log" | sed '1d;$d' >"$out/null-${vcpus}vcpu.json"
	rm -f "$log"
	echo "wrote $out/null-${vcpus}vcpu.json"
done
