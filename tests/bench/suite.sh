# shellcheck shell=bash disable=SC2154
# Sourced by the guest-side benchmarks that compare several devices: each
# round adds every device in turn, runs every workload on it and removes it,
# so no two share the CPU or a backing store.
#
# The caller sets `rounds`, `secs`, `workloads` (name:rw:bs:iodepth) and
# `img` (a backing file for loop devices),
# and may set `jobs` (fio jobs per run, default 1) and `nullb_queues`
# (null_blk's submit queues, default 1),
# and calls run_suite NAME DEVICE..., each DEVICE "label|kind|up arguments":
# KIND_up ARGS sets $dev to the live block device, KIND_down removes it. The
# first DEVICE is the kernel's driver the others are measured against; labels
# starting with "ours" are this project's server, any other label past the
# first a reference server. run_suite prints a row per round and appends the
# means (to $summary) and the suite's JSON (to $json).

# Each device: UP sets $dev to its block device once it is live, DOWN
# removes it.
nb=/sys/kernel/config/nullb/nullb0 # null_blk's configfs folder
nullblk_up() {
	mkdir "$nb"
	echo 1024 >"$nb/size" # MiB
	echo 2 >"$nb/queue_mode"
	echo "${nullb_queues:-1}" >"$nb/submit_queues"
	echo 128 >"$nb/hw_queue_depth"
	echo 0 >"$nb/irqmode"
	echo 1 >"$nb/power"
	dev=/dev/nullb0
}
nullblk_down() { echo 0 >"$nb/power"; rmdir "$nb"; }
kloop_up() { kloop=$(losetup --show -f "$img") && dev=$kloop; }
kloop_down() { losetup -d "$kloop"; kloop=''; }
ours_up() { # one queue unless the arguments say -q
	local q=(-q 1)
	[[ " $* " != *" -q "* ]] || q=()
	dev=/dev/ublkb$(ublk add "${q[@]}" -d 128 "$@" --json | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p')
}
ours_down() { ublk del -a >/dev/null; }
# The reference servers, 1 queue x depth 128 like ours, at fixed ids.
ublksrv_up() { "$ublksrv" add -n 1 -q 1 -d 128 "$@" >/dev/null && dev=/dev/ublkb1; }
ublksrv_down() { "$ublksrv" del -n 1 >/dev/null; }
kublk_up() { "$kublk" add -n 2 -q 1 -d 128 "$@" >/dev/null && dev=/dev/ublkb2; }
kublk_down() { "$kublk" del -n 2 >/dev/null; }
# install_peers: run.sh --peers DIR puts DIR's install trees (one folder a
# server, its root inside) under /opt/tests/peers; copy them into the
# guest's root and set $ublksrv (its path, executable when installed) and
# $kublk (empty when absent).
install_peers() {
	local tree
	for tree in /opt/tests/peers/*/; do
		[[ ! -d $tree ]] || cp -a "$tree." /
	done
	ublksrv=/usr/local/anchor/ublksrv/ublk
	kublk=$(command -v kublk || true)
}
# remove_devices: whatever a benchmark may have left on an exit: this
# server's devices, the reference servers' and null_blk's.
remove_devices() {
	ublk del -a >/dev/null 2>&1 || true
	[[ ! -x ${ublksrv:-} ]] || "$ublksrv" del -a >/dev/null 2>&1 || true
	[[ -z ${kublk:-} ]] || "$kublk" del -n 2 >/dev/null 2>&1 || true
	[[ ! -d $nb ]] || { echo 0 >"$nb/power"; rmdir "$nb"; } 2>/dev/null || true
}
# fio_terse DEVICE RW BS IODEPTH: one fio run's terse (version 3) line, in
# which field 8 is the read IOPS and 49 the write IOPS (iops_field RW).
fio_terse() {
	fio --name=bench --filename="$1" --rw="$2" --bs="$3" --iodepth="$4" --numjobs="${jobs:-1}" \
		--ioengine=io_uring --direct=1 --runtime="$secs" --time_based --size=256M --group_reporting \
		--output-format=terse --terse-version=3
}
iops_field() { if [[ $1 == *write ]]; then echo 49; else echo 8; fi; }
iops() { fio_terse "$@" | awk -F';' -v f="$(iops_field "$2")" '{print $f}'; } # DEVICE RW BS IODEPTH
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

