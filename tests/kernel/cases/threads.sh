# Server threads apart from queues (--threads N, --cpus LIST): with more
# threads than queues each queue's tags are split among its threads, each
# with a ring of its own (UBLK_F_PER_IO_DAEMON, Linux 6.16), for every target
# and data path; every byte must survive (crc32c-verified fio), every thread
# must serve, recovery and del under load must work, and what the kernel or
# a target cannot take is refused in one line.

th_need() { ublk features | grep -qx PER_IO_DAEMON || skip "kernel $(uname -r) lacks PER_IO_DAEMON (Linux 6.16)"; }
th_ng() { readlink -f /dev/disk/by-id/ng-ublktest"$1"; }
th_has() { ublk features | grep -qx "$1"; }

# th_tids ID: the device's server threads as `ublk list` names them, one a
# line, queue by queue.
th_tids() { ublk list -n "$1" | sed -n 's/^\tqueue [0-9]*: tid \([0-9,]*\) .*/\1/p' | tr ',' '\n'; }

# th_check ID N: the device reports N threads and `ublk list` names N
# distinct threads of its server.
th_check() {
	local id=$1 n=$2 pid tids t
	ublk list -n "$id" --json | grep -q "\"threads\": $n," ||
		fail "list does not report $n threads: $(ublk list -n "$id" --json | grep threads)"
	pid=$(server_pid "$id")
	tids=$(th_tids "$id" | sort -u)
	[[ $(echo "$tids" | wc -l) == "$n" ]] || fail "list names $(echo "$tids" | wc -l) threads, not $n: $(ublk list -n "$id")"
	for t in $tids; do
		[[ -d /proc/$pid/task/$t ]] || fail "thread $t is not one of server $pid's"
	done
}

# th_status FIELD ID: FIELD of /proc/PID/task/TID/status for each of device
# ID's server threads, in th_tids order: voluntary_ctxt_switches (sleeps in
# io_uring_enter), Cpus_allowed_list (the CPUs a thread may run on).
th_status() {
	local pid t
	pid=$(server_pid "$2")
	for t in $(th_tids "$2"); do
		awk -v f="$1:" '$1 == f {print $2}' /proc/"$pid"/task/"$t"/status
	done
}
th_switches() { th_status voluntary_ctxt_switches "$1"; }
th_cpus() { th_status Cpus_allowed_list "$1"; }

# th_fio DEV BS JOBS: crc32c-verified random writes, each job on its slice.
th_fio() {
	fio_ok --name=th-$2 --filename="$1" --rw=randwrite --bs="$2" --size=8M \
		--offset_increment=16M --numjobs="$3" --ioengine=io_uring --direct=1 \
		--iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1 --group_reporting
}

# th_case N PATH ARGS...: ublk add ARGS with N threads; add must report data
# path PATH; fio verify at 4k and 128k on two jobs (null: fio without
# verify); every thread must have served (slept and woken) meanwhile.
th_case() {
	local n=$1 path=$2 out id before after i
	shift 2
	echo "== $* --threads $n"
	out=$(ublk add "$@" --threads "$n" --json) || fail "ublk add $* --threads $n failed"
	id=$(echo "$out" | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p')
	echo "$out" | grep -q "\"data_path\": \"$path\"" || fail "add $* does not report $path: $out"
	echo "$out" | grep -q "\"threads\": $n," || fail "add $* does not report $n threads: $out"
	th_check "$id" "$n"
	mapfile -t before < <(th_switches "$id")
	if [[ $path == none ]]; then
		# null keeps no data: nothing to verify.
		fio_ok --name=th-null --filename=/dev/ublkb"$id" --rw=randrw --bs=4k --size=16M \
			--numjobs=2 --ioengine=io_uring --direct=1 --iodepth=32 --group_reporting
	else
		th_fio /dev/ublkb"$id" 4k 2
		th_fio /dev/ublkb"$id" 128k 2
	fi
	mapfile -t after < <(th_switches "$id")
	for i in "${!before[@]}"; do
		((after[i] > before[i] + 4)) ||
			fail "thread $i of device $id served nothing: ${before[i]} -> ${after[i]} wake-ups"
	done
	ublk del -n "$id"
}

test_threads_split_queue_tags_and_fio_verify_every_target_and_data_path() {
	th_need
	[[ -e /dev/disk/by-id/ng-ublktest0 ]] || skip "no NVMe drive ublktest0 (tests/vm/kernel-tier.sh emulates it)"
	truncate -s 128M /tmp/th.img
	th_case 2 none -t null -q 1
	th_case 3 none -t null -q 2
	th_case 2 copy -t loop -f /tmp/th.img -q 1 --zero-copy=off
	th_case 4 copy -t loop -f /tmp/th.img -q 2 --zero-copy=off
	th_case 3 user-copy -t loop -f /tmp/th.img -q 1 --usercopy
	th_case 2 zero-copy/auto -t loop -f /tmp/th.img -q 1 -z
	th_case 4 zero-copy/auto -t loop -f /tmp/th.img -q 2 -z
	th_case 3 zero-copy/explicit -t loop -f /tmp/th.img -q 1 --zero-copy=explicit
	th_case 2 copy -t nvme -f "$(th_ng 0)" -q 1 --zero-copy=off
	th_case 3 zero-copy/auto -t nvme -f "$(th_ng 0)" -q 1 -z
	th_case 4 user-copy -t nvme -f "$(th_ng 0)" -q 2 --usercopy
	rm -f /tmp/th.img
}

test_threads_the_kernel_or_target_cannot_serve_are_refused_in_one_line() {
	expect_error '--threads 1: fewer threads than queues' ublk add -t null -q 2 --threads 1
	expect_error '--threads 9: more threads than tags' ublk add -t null -q 1 -d 8 --threads 9
	expect_error '--threads 2: the nbd target serves each queue over one connection' \
		ublk add -t nbd -f nbd://127.0.0.1:1/x --threads 2
	expect_error '--cpus 0,4096: CPU 4096 does not exist' ublk add -t null --cpus 0,4096
	expect_error '--cpus 2-1: a range must go upwards' ublk add -t null --cpus 2-1
	expect_error '--threads 0:' ublk add -t null --threads 0
	if th_has PER_IO_DAEMON; then
		if th_has BATCH_IO; then
			expect_error '--threads 2: .*--batch' ublk add -t null --threads 2 --batch
		fi
	else
		expect_error '--threads 2: more threads than queues need the ublk feature UBLK_F_PER_IO_DAEMON \(Linux 6.16' \
			ublk add -t null -q 1 --threads 2
	fi
}

test_threads_run_on_one_cpu_of_the_queue_affinity_or_the_cpus_given() {
	local id id2 cpus cpus2
	(($(nproc) >= 2)) || skip "needs 2 CPUs, the guest has $(nproc)"
	# One thread per queue, pinned in the order given.
	id=$(add_dev -t null -q 2 --threads 2 --cpus 1,0)
	[[ $(th_cpus "$id" | paste -sd' ') == "1 0" ]] ||
		fail "the queues' threads are not on CPUs 1 and 0: $(th_cpus "$id" | paste -sd' ')"
	ublk list -n "$id" --json | grep -q '"cpus"' || fail "list --json does not keep --cpus in the spec"
	ublk del -n "$id"
	# Without --cpus: two devices of one queue, whose affinity is every CPU,
	# each on one CPU, and not on the same one.
	id=$(add_dev -t null -q 1)
	id2=$(add_dev -t null -q 1)
	cpus=$(th_cpus "$id")
	cpus2=$(th_cpus "$id2")
	[[ $cpus =~ ^[0-9]+$ && $cpus2 =~ ^[0-9]+$ && $cpus != "$cpus2" ]] ||
		fail "one-queue devices not on one CPU each, apart: '$cpus' and '$cpus2'"
	# And a queue's own CPU keeps its thread: with a queue per CPU, each
	# thread is on the CPU of its queue's affinity.
	ublk del -n "$id2"
	ublk del -n "$id"
	id=$(add_dev -t null -q "$(nproc)")
	local q=0 want
	while read -r cpus; do
		want=$(ublk list -n "$id" | sed -n "s/^\tqueue $q: .* affinity(\([0-9]*\) )\$/\1/p")
		[[ -n $want && $cpus == "$want" ]] || fail "queue $q's thread on '$cpus', its affinity is '$want'"
		q=$((q + 1))
	done < <(th_cpus "$id")
	ublk del -n "$id"
	th_has PER_IO_DAEMON || return 0
	# Two threads on one queue whose affinity is both CPUs: one on each.
	id=$(add_dev -t null -q 1 --threads 2)
	[[ $(th_cpus "$id" | sort -u | wc -l) == 2 && $(th_cpus "$id" | wc -l) == 2 ]] ||
		fail "the queue's two threads do not spread over its CPUs: $(th_cpus "$id" | paste -sd' ')"
	ublk del -n "$id"
}

test_recovery_of_a_device_with_threads_per_tag_keeps_every_block() {
	th_need
	local id
	truncate -s 64M /tmp/th-rec.img
	id=$(add_dev -t loop -f /tmp/th-rec.img -q 1 --threads 2 -r)
	rec_fio_rounds /dev/ublkb"$id" "$id" 2
	# The new server serves the same layout.
	th_check "$id" 2
	ublk del -n "$id"
	rm -f /tmp/th-rec.img
}

test_del_under_load_with_several_threads_per_queue_ends_fio_and_every_thread() {
	th_need
	local id fio_pid layout rc
	truncate -s 128M /tmp/th-del.img
	for layout in "-q 2 --threads 4" "-q 1 --threads 3 -z"; do
		echo "== $layout"
		rc=0
		# shellcheck disable=SC2086
		id=$(add_dev -t loop -f /tmp/th-del.img $layout)
		fio --name=th-del --filename=/dev/ublkb"$id" --rw=randrw --bs=64k --numjobs=2 \
			--ioengine=io_uring --direct=1 --iodepth=64 --time_based --runtime=120 >/tmp/th-del.out 2>&1 &
		fio_pid=$!
		sleep 2
		timeout 60 ublk del -n "$id" || fail "del under load failed"
		wait_until 10 bash -c "! kill -0 $fio_pid 2>/dev/null" || { cat /tmp/th-del.out; rec_dump; fail "fio still running 10 s after del"; }
		wait "$fio_pid" || rc=$?
		((rc != 0)) || grep -qE 'err= *[1-9]|error' /tmp/th-del.out || fail "fio saw no error"
		wait_until 10 dev_gone "$id" || fail "device $id left behind"
		wait_until 10 no_servers || fail "server threads left: $(pgrep -a ublk-server)"
	done
	rm -f /tmp/th-del.img
}
