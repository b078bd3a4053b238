#!/bin/bash
# Guest side of the peers benchmark: this project's server against the other
# ublk servers and the kernel's own drivers, in one boot.
#
# Usage: peers.sh [ROUNDS] [SECONDS]
#
# Two suites, each a list of devices that take turns (each round adds every
# device in turn, runs every workload on it and removes it, so no two share
# the CPU or a backing file):
#   null  the kernel's null_blk (1 submit queue, blk-mq, depth 128, no
#         interrupts) against `ublk add -t null`
#   loop  the kernel loop driver on a 256 MiB file on tmpfs against
#         `ublk add -t loop --buffered` on the same file
# each server in its default mode and its fastest one, 1 queue x depth 128.
# The reference servers are used when installed in the guest's root (run.sh
# --peers DIR copies DIR's install trees there): ublksrv at
# /usr/local/anchor/ublksrv/ublk (default and -b; loop also -z) and the
# kernel's selftest server kublk (default, -b and --auto_zc). Without them
# the suites compare with the kernel's drivers only, and say so.
#
# fio (io_uring, O_DIRECT, 1 job): 4k random read and write at iodepth 1 and
# 64, 512k sequential read at iodepth 16. Prints a row per round, the means
# with each device's ratio to the kernel driver and this project's best mode
# over the best reference server per workload, and a JSON document between
# BENCH_JSON_BEGIN / BENCH_JSON_END lines.
set -euo pipefail
rounds=${1:-3}
secs=${2:-5}

# run.sh --peers DIR puts DIR's install trees (one folder a server, its root
# inside) under /opt/tests/peers.
for tree in /opt/tests/peers/*/; do
	[[ ! -d $tree ]] || cp -a "$tree." /
done
ublksrv=/usr/local/anchor/ublksrv/ublk
kublk=$(command -v kublk || true)
img=/tmp/peers.img
nb=/sys/kernel/config/nullb/nullb0
kloop=''
cleanup() {
	ublk del -a >/dev/null 2>&1 || true
	[[ ! -x $ublksrv ]] || "$ublksrv" del -a >/dev/null 2>&1 || true
	[[ -z $kublk ]] || "$kublk" del -n 2 >/dev/null 2>&1 || true
	[[ -z $kloop ]] || losetup -d "$kloop" 2>/dev/null || true
	[[ ! -d $nb ]] || { echo 0 >"$nb/power"; rmdir "$nb"; } 2>/dev/null || true
	rm -f "$img"
}
trap cleanup EXIT

# Each device: UP sets $dev to its block device once it is live, DOWN
# removes it.
nullblk_up() {
	mkdir "$nb"
	echo 1024 >"$nb/size" # MiB
	echo 2 >"$nb/queue_mode"
	echo 1 >"$nb/submit_queues"
	echo 128 >"$nb/hw_queue_depth"
	echo 0 >"$nb/irqmode"
	echo 1 >"$nb/power"
	dev=/dev/nullb0
}
nullblk_down() { echo 0 >"$nb/power"; rmdir "$nb"; }
kloop_up() { kloop=$(losetup --show -f "$img") && dev=$kloop; }
kloop_down() { losetup -d "$kloop"; kloop=''; }
ours_up() {
	dev=/dev/ublkb$(ublk add -q 1 -d 128 "$@" --json | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p')
}
ours_down() { ublk del -a >/dev/null; }
# The reference servers daemonize and return once /dev/ublkbN is live.
ublksrv_up() { "$ublksrv" add -n 1 -q 1 -d 128 "$@" >/dev/null && dev=/dev/ublkb1; }
ublksrv_down() { "$ublksrv" del -n 1 >/dev/null; }
kublk_up() { "$kublk" add -n 2 -q 1 -d 128 "$@" >/dev/null && dev=/dev/ublkb2; }
kublk_down() { "$kublk" del -n 2 >/dev/null; }

# label|server|up arguments. The first entry is the kernel's driver the
# others are measured against; labels starting with "ours" are this project.
null_devices=("null_blk|nullblk|" "ours|ours|-t null --size 1G")
loop_devices=("kernel-loop|kloop|" "ours|ours|-t loop -f $img --buffered"
	"ours-copy|ours|-t loop -f $img --buffered --zero-copy=off")
peers_note=''
if [[ -x $ublksrv ]]; then
	null_devices+=("ublksrv|ublksrv|-t null" "ublksrv-b|ublksrv|-t null -b")
	loop_devices+=("ublksrv|ublksrv|-t loop -f $img" "ublksrv-z|ublksrv|-t loop -z -f $img")
else
	peers_note+="no reference server at $ublksrv; "
fi
if [[ -n $kublk ]]; then
	null_devices+=("kublk|kublk|-t null" "kublk-b|kublk|-t null -b" "kublk-auto_zc|kublk|-t null --auto_zc")
	loop_devices+=("kublk|kublk|-t loop $img" "kublk-auto_zc|kublk|-t loop --auto_zc $img")
else
	peers_note+="no kublk on PATH; "
fi
[[ -z $peers_note ]] || echo "peers.sh: ${peers_note}comparing with the kernel's drivers only (run.sh --peers DIR)"

# name:rw:bs:iodepth
workloads=(randread-4k-qd1:randread:4k:1 randread-4k-qd64:randread:4k:64
	randwrite-4k-qd1:randwrite:4k:1 randwrite-4k-qd64:randwrite:4k:64
	seqread-512k-qd16:read:512k:16)

iops() { # DEVICE RW BS IODEPTH
	local field=8
	[[ $2 != *write ]] || field=49
	fio --name=bench --filename="$1" --rw="$2" --bs="$3" --iodepth="$4" --numjobs=1 \
		--ioengine=io_uring --direct=1 --runtime="$secs" --time_based --size=256M \
		--output-format=terse --terse-version=3 | awk -F';' -v f=$field '{print $f}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", (a > 0 ? b / a : 0)}'; }
mean() { local s=0 n=0 v; for v in "$@"; do s=$((s + v)); n=$((n + 1)); done; echo $((s / n)); }
join() { local IFS=,; echo "$*"; }

# run_suite NAME DEVICE... : appends the suite's JSON to $json and its means
# to $summary.
json='' summary=''
run_suite() {
	local suite=$1 e label kind args dev w name rw bs depth r
	shift
	local entries=("$@") labels=()
	declare -A all=()
	for e in "${entries[@]}"; do labels+=("${e%%|*}"); done
	printf '%-6s %-19s %5s' "$suite" workload round
	printf ' %13s' "${labels[@]}"
	echo
	for r in $(seq 1 "$rounds"); do
		declare -A row=()
		for e in "${entries[@]}"; do
			IFS='|' read -r label kind args <<<"$e"
			# shellcheck disable=SC2086
			"${kind}_up" $args
			for w in "${workloads[@]}"; do
				IFS=: read -r name rw bs depth <<<"$w"
				row[$label:$name]=$(iops "$dev" "$rw" "$bs" "$depth")
				all[$label:$name]+="${row[$label:$name]} "
			done
			"${kind}_down"
		done
		for w in "${workloads[@]}"; do
			name=${w%%:*}
			printf '%-6s %-19s %5s' "$suite" "$name" "$r"
			for label in "${labels[@]}"; do printf ' %13s' "${row[$label:$name]}"; done
			echo
		done
		unset row
	done
	local ref=${labels[0]} results='' line m kmean best_ours best_peer iops_json ratio_json
	for w in "${workloads[@]}"; do
		name=${w%%:*}
		# shellcheck disable=SC2086
		kmean=$(mean ${all[$ref:$name]})
		line=$(printf '%-6s %-19s %s %7s' "$suite" "$name" "$ref" "$kmean")
		best_ours=0 best_peer=0 iops_json='' ratio_json=''
		for label in "${labels[@]:1}"; do
			# shellcheck disable=SC2086
			m=$(mean ${all[$label:$name]})
			line+=$(printf '  %s %7s (x%s)' "$label" "$m" "$(ratio "$kmean" "$m")")
			ratio_json+=$(printf '%s"%s":%s' "${ratio_json:+,}" "$label" "$(ratio "$kmean" "$m")")
			if [[ $label == ours* ]]; then
				((m <= best_ours)) || best_ours=$m
			else
				((m <= best_peer)) || best_peer=$m
			fi
		done
		for label in "${labels[@]}"; do
			# shellcheck disable=SC2086
			iops_json+=$(printf '%s"%s":[%s]' "${iops_json:+,}" "$label" "$(join ${all[$label:$name]})")
		done
		local peer_json=null
		if ((best_peer > 0)); then
			line+=$(printf '  best ours/best peer x%s' "$(ratio "$best_peer" "$best_ours")")
			peer_json=$(ratio "$best_peer" "$best_ours")
		fi
		summary+="$line"$'\n'
		results+=$(printf '%s{"workload":"%s","iops":{%s},"over_%s":{%s},"best_ours_over_best_peer":%s}' \
			"${results:+,}" "$name" "$iops_json" "${ref//-/_}" "$ratio_json" "$peer_json")
	done
	json+=$(printf '%s{"suite":"%s","reference":"%s","results":[%s]}' "${json:+,}" "$suite" "$ref" "$results")
	unset all
}

dd if=/dev/urandom of="$img" bs=1M count=256 2>/dev/null
run_suite null "${null_devices[@]}"
run_suite loop "${loop_devices[@]}"

echo "means over $rounds rounds of $secs s ($(nproc) vCPU, $(uname -r)); IOPS and x ratio to the kernel's driver:"
printf '%s' "$summary"
echo BENCH_JSON_BEGIN
printf '{"benchmark":"peers","kernel":"%s","vcpus":%s,"rounds":%s,"seconds":%s,"suites":[%s]}\n' \
	"$(uname -r)" "$(nproc)" "$rounds" "$secs" "$json"
echo BENCH_JSON_END
