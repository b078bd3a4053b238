# Sourced by the guest-side benchmarks: fio on a kernel driver's device and on
# a ublk device, interleaved, with ratios and a JSON document.
#
# compare_devices BENCHMARK KERNEL_NAME KERNEL_DEV UBLK_DEV ROUNDS SECONDS
# runs every entry of the array `workloads` (name:rw:bs:iodepth) ROUNDS times
# on each device (fio io_uring, O_DIRECT, 1 job, SECONDS time-based), prints
# a row per round with the ratio ublk/KERNEL_NAME, the means, and the JSON
# between BENCH_JSON_BEGIN / BENCH_JSON_END lines ("<KERNEL_NAME>_iops" with
# dashes as underscores, "ublk_iops", "ratio" per workload).

bench_iops() { # DEVICE RW BS IODEPTH SECONDS
	local field=8
	[[ $2 != *write ]] || field=49
	fio --name=bench --filename="$1" --rw="$2" --bs="$3" --iodepth="$4" --numjobs=1 \
		--ioengine=io_uring --direct=1 --runtime="$5" --time_based \
		--output-format=terse --terse-version=3 | awk -F';' -v f=$field '{print $f}'
}
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", (a > 0 ? b / a : 0)}'; }

compare_devices() {
	local bench=$1 kname=$2 kdev=$3 udev=$4 rounds=$5 secs=$6
	local key=${kname//-/_} json='' summary='' w name rw bs depth r k u ksum usum rat
	printf '%-18s %6s %12s %12s %8s\n' workload round "$kname" ublk ratio
	for w in "${workloads[@]}"; do
		IFS=: read -r name rw bs depth <<<"$w"
		local k_all=() u_all=()
		ksum=0 usum=0
		for r in $(seq 1 "$rounds"); do
			k=$(bench_iops "$kdev" "$rw" "$bs" "$depth" "$secs")
			u=$(bench_iops "$udev" "$rw" "$bs" "$depth" "$secs")
			k_all+=("$k") u_all+=("$u")
			ksum=$((ksum + k)) usum=$((usum + u))
			printf '%-18s %6s %12s %12s %8s\n' "$name" "$r" "$k" "$u" "$(bench_ratio "$k" "$u")"
		done
		rat=$(bench_ratio "$ksum" "$usum")
		summary+=$(printf '%-18s %s %8s IOPS  ublk %8s IOPS  ublk/%s %s' \
			"$name" "$kname" $((ksum / rounds)) $((usum / rounds)) "$kname" "$rat")$'\n'
		json+=$(printf '%s{"workload":"%s","rw":"%s","bs":"%s","iodepth":%s,"%s_iops":[%s],"ublk_iops":[%s],"ratio":%s}' \
			"${json:+,}" "$name" "$rw" "$bs" "$depth" "$key" "$(IFS=,; echo "${k_all[*]}")" \
			"$(IFS=,; echo "${u_all[*]}")" "$rat")
	done
	echo "means over $rounds rounds of $secs s ($(nproc) vCPU, $(uname -r)):"
	printf '%s' "$summary"
	echo BENCH_JSON_BEGIN
	printf '{"benchmark":"%s","kernel":"%s","vcpus":%s,"rounds":%s,"seconds":%s,"results":[%s]}\n' \
		"$bench" "$(uname -r)" "$(nproc)" "$rounds" "$secs" "$json"
	echo BENCH_JSON_END
}
