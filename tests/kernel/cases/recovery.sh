# User recovery (ublk add -r, ublk recover): a device outlives its server's
# SIGKILL, keeps what was in flight, and a new server takes it over. Which
# recovery features exist depends on the kernel: USER_RECOVERY and _REISSUE
# since 6.1, USER_RECOVERY_FAIL_IO since 6.13 (so not on the 6.12 test
# kernel: fail-io is checked to be refused there), zero copy since 6.16.

rec_nvme=/dev/disk/by-id/ng-ublktest0

rec_has() { ublk features | grep -qx "$1"; }
rec_state() { ublk list -n "$1" --json | sed -n 's/^ *"state": "\([A-Z_]*\)",*$/\1/p'; }
rec_state_is() { [[ $(rec_state "$1") == "$2" ]]; }
rec_waiting() { [[ $(rec_state "$1") =~ ^(QUIESCED|FAIL_IO)$ ]]; }

# rec_dump: what a hang looks like, for the failure report.
rec_dump() {
	local p
	ublk list 2>&1 || true
	pgrep -a ublk-server || true
	pgrep -a fio || true
	for p in /proc/[0-9]*; do
		[[ $(awk '{print $3}' "$p/stat" 2>/dev/null) == D ]] || continue
		echo "D-state $(cat "$p/comm"): $(head -n 6 "$p/stack" 2>/dev/null | tr '\n' ' ')"
	done
	dmesg | grep -v UBSAN | tail -n 15 || true
}

# rec_kill ID: SIGKILLs the device's server and waits until the device waits
# for a new one, with its state file kept and no process of the old server.
rec_kill() {
	local pid
	pid=$(server_pid "$1")
	[[ -n $pid ]] || fail "no server pid for device $1"
	kill -KILL "$pid"
	wait_until 30 rec_waiting "$1" || rec_dump
	rec_waiting "$1" || fail "device $1 not waiting after SIGKILL: $(ublk list -n "$1")"
	wait_until 10 no_servers || fail "a process of the dead server is left: $(pgrep -a ublk-server)"
	[[ -f /run/ublk/$1.json ]] || fail "state file of device $1 gone"
}

# rec_recover ID: ublk recover, which must bring the device back LIVE.
rec_recover() {
	local out
	out=$(timeout 90 ublk recover -n "$1") || { rec_dump; fail "ublk recover -n $1 failed"; }
	echo "$out" | grep -q "live again" || fail "recover said: $out"
	rec_state_is "$1" LIVE || fail "device $1 not LIVE after recover: $(ublk list -n "$1")"
}

# rec_fio_rounds DEV ID ROUNDS: crc32c-verified random writes by 4 jobs, the
# server SIGKILLed and the device recovered in the middle of each run; every
# run must end without an error and with every block verified.
rec_fio_rounds() {
	local dev=$1 id=$2 rounds=$3 round fio_pid rc killed=0
	for ((round = 1; round <= rounds; round++)); do
		fio --name=rec --filename="$dev" --rw=randwrite --bs=4k --size=4M \
			--offset_increment=8M --numjobs=4 --ioengine=io_uring --direct=1 \
			--iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1 \
			--loops=3 --group_reporting >/tmp/rec-fio.out 2>&1 &
		fio_pid=$!
		# Three loops and an early kill: on an idle host one loop can end
		# within a quarter of a second.
		sleep 0.5
		if kill -0 "$fio_pid" 2>/dev/null; then
			echo "round $round: killing the server"
			rec_kill "$id"
			killed=$((killed + 1))
			rec_recover "$id"
		fi
		wait_until 120 bash -c "! kill -0 $fio_pid 2>/dev/null" || { rec_dump; fail "round $round: fio hangs"; }
		rc=0
		wait "$fio_pid" || rc=$?
		if ((rc != 0)) || grep -qE 'err= *[1-9]|bad magic|verify failed' /tmp/rec-fio.out; then
			cat /tmp/rec-fio.out
			fail "round $round: fio failed (exit $rc)"
		fi
		grep -E '^ *write:' /tmp/rec-fio.out | head -n1 | sed "s/^/round $round: /"
	done
	echo "$killed of $rounds rounds had the server killed under fio"
	((killed >= rounds / 2)) || fail "fio finished before the kill in most rounds"
}

test_recovery_loop_fio_verify_survives_five_server_kills() {
	local id
	truncate -s 64M /tmp/rec-loop.img
	id=$(add_dev -t loop -f /tmp/rec-loop.img -q 2 -r)
	ublk list -n "$id" --json | grep -q USER_RECOVERY_REISSUE || fail "no REISSUE on the device"
	rec_fio_rounds /dev/ublkb"$id" "$id" 5
	ublk del -n "$id"
	rm -f /tmp/rec-loop.img
}

test_recovery_nvme_fio_verify_survives_five_server_kills() {
	local id
	[[ -e $rec_nvme ]] || skip "no NVMe drive $rec_nvme (tests/vm/kernel-tier.sh emulates it)"
	id=$(add_dev -t nvme -f "$rec_nvme" -q 2 -r)
	rec_fio_rounds /dev/ublkb"$id" "$id" 5
	ublk del -n "$id"
}

test_recovered_ext4_is_clean_and_keeps_files_synced_before_the_kill() {
	local id churn i
	truncate -s 128M /tmp/rec-fs.img
	id=$(add_dev -t loop -f /tmp/rec-fs.img -r)
	mkfs.ext4 -q -F /dev/ublkb"$id" || fail "mkfs.ext4"
	mkdir -p /mnt/rec && mount /dev/ublkb"$id" /mnt/rec || fail "mount"
	mkdir /mnt/rec/keep /mnt/rec/churn
	for i in 1 2 3 4 5 6; do
		head -c $((i * 300000)) /dev/urandom >/mnt/rec/keep/f$i
	done
	sync
	(cd /mnt/rec/keep && md5sum f*) >/tmp/rec-sums
	# Write-heavy churn: files created, rewritten, renamed and deleted.
	(
		n=0
		while [[ ! -e /tmp/rec-stop ]]; do
			n=$((n + 1))
			dd if=/dev/urandom of=/mnt/rec/churn/a$((n % 20)) bs=64k count=$((n % 7 + 1)) 2>/dev/null
			cp /mnt/rec/keep/f$((n % 6 + 1)) /mnt/rec/churn/c$((n % 10)) 2>/dev/null
			mv /mnt/rec/churn/c$((n % 10)) /mnt/rec/churn/m$((n % 5)) 2>/dev/null
			rm -f /mnt/rec/churn/a$(((n + 7) % 20))
			((n % 10)) || sync
		done
	) &
	churn=$!
	rm -f /tmp/rec-stop
	sleep 3
	rec_kill "$id"
	grep -q ' /mnt/rec ' /proc/mounts || fail "file system unmounted while the server was dead"
	rec_recover "$id"
	sleep 2
	touch /tmp/rec-stop
	wait_until 60 bash -c "! kill -0 $churn 2>/dev/null" || fail "the file churn hangs after recovery"
	wait "$churn" || true
	rm -f /tmp/rec-stop
	sync
	umount /mnt/rec || fail "umount"
	e2fsck -fn /dev/ublkb"$id" || fail "e2fsck found errors after recovery"
	mount /dev/ublkb"$id" /mnt/rec || fail "mount after fsck"
	(cd /mnt/rec/keep && md5sum -c /tmp/rec-sums) || fail "synced files changed"
	umount /mnt/rec
	ublk del -n "$id"
	rm -f /tmp/rec-fs.img /tmp/rec-sums
}

test_fail_io_mode_fails_io_while_no_server_and_serves_after_recovery() {
	local id start
	truncate -s 64M /tmp/rec-fail.img
	if ! rec_has USER_RECOVERY_FAIL_IO; then
		echo "kernel $(uname -r) lacks USER_RECOVERY_FAIL_IO: checking the refusal"
		expect_error 'USER_RECOVERY_FAIL_IO' ublk add -t loop -f /tmp/rec-fail.img --recovery-mode fail-io
		wait_until 5 no_servers || fail "a server was left by the refused add"
		[[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]] || fail "the refused add left a device"
		rm -f /tmp/rec-fail.img
		skip "kernel $(uname -r) lacks USER_RECOVERY_FAIL_IO (Linux 6.13); checked that fail-io is refused"
	fi
	id=$(add_dev -t loop -f /tmp/rec-fail.img --recovery-mode fail-io)
	dd if=/dev/urandom of=/tmp/rec-data bs=1M count=4 2>/dev/null
	dd if=/tmp/rec-data of=/dev/ublkb"$id" bs=1M oflag=direct 2>/dev/null || fail "write before the kill"
	# In flight at the kill: it must fail back, not hang.
	fio --name=inflight --filename=/dev/ublkb"$id" --rw=randrw --bs=4k --iodepth=16 \
		--ioengine=io_uring --direct=1 --offset=8M --size=32M --runtime=120 --time_based \
		>/tmp/rec-fail-fio.out 2>&1 &
	sleep 1
	rec_kill "$id"
	rec_state_is "$id" FAIL_IO || fail "not FAIL_IO: $(ublk list -n "$id")"
	wait_until 60 bash -c '! pgrep -x fio >/dev/null' || fail "fio hangs while no server runs"
	grep -qE 'err= *[1-9]|error' /tmp/rec-fail-fio.out || fail "fio saw no error: $(tail -n 5 /tmp/rec-fail-fio.out)"
	start=$SECONDS
	if timeout 30 dd if=/dev/ublkb"$id" of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null; then
		fail "a read succeeded with no server"
	fi
	if timeout 30 dd if=/tmp/rec-data of=/dev/ublkb"$id" bs=4k count=1 oflag=direct 2>/dev/null; then
		fail "a write succeeded with no server"
	fi
	((SECONDS - start < 25)) || fail "failing I/O took $((SECONDS - start)) s"
	rec_recover "$id"
	cmp <(dd if=/dev/ublkb"$id" bs=1M count=4 iflag=direct 2>/dev/null) /tmp/rec-data ||
		fail "data written before the kill differs after recovery"
	fio_ok --name=after --filename=/dev/ublkb"$id" --rw=randwrite --bs=4k --size=8M \
		--ioengine=io_uring --direct=1 --iodepth=16 --verify=crc32c --do_verify=1
	ublk del -n "$id"
	rm -f /tmp/rec-fail.img /tmp/rec-data /tmp/rec-fail-fio.out
}

test_recover_refuses_devices_it_cannot_take_over() {
	local id plain
	expect_error 'device 77 does not exist' ublk recover -n 77
	plain=$(add_dev -t null --size 1G)
	expect_error 'not created with recovery' ublk recover -n "$plain"
	ublk del -n "$plain"
	id=$(add_dev -t null --size 1G -r)
	expect_error 'still running' ublk recover -n "$id"
	rec_kill "$id"
	cp /run/ublk/"$id".json /tmp/rec-state.json
	sed -i 's/"depth": 128/"depth": 64/' /run/ublk/"$id".json
	expect_error 'does not match' ublk recover -n "$id"
	rm /run/ublk/"$id".json
	expect_error 'no state file' ublk recover -n "$id"
	rec_waiting "$id" || fail "a refused recover changed the device: $(ublk list -n "$id")"
	no_servers || fail "a refused recover started a server"
	cp /tmp/rec-state.json /run/ublk/"$id".json
	rec_recover "$id"
	ublk del -n "$id"
	rm -f /tmp/rec-state.json
}

test_recover_refuses_a_state_file_naming_another_backing_file() {
	local id
	truncate -s 32M /tmp/rec-a.img /tmp/rec-b.img
	id=$(add_dev -t loop -f /tmp/rec-a.img -r)
	rec_kill "$id"
	cp /run/ublk/"$id".json /tmp/rec-state.json
	sed -i 's|"file": "/tmp/rec-a.img"|"file": "/tmp/rec-b.img"|' /run/ublk/"$id".json
	expect_error 'backing file /tmp/rec-b.img is not the one the device was created on' \
		ublk recover -n "$id"
	rec_waiting "$id" || fail "a refused recover changed the device: $(ublk list -n "$id")"
	no_servers || fail "a refused recover started a server"
	cp /tmp/rec-state.json /run/ublk/"$id".json
	rec_recover "$id"
	ublk del -n "$id"
	rm -f /tmp/rec-a.img /tmp/rec-b.img /tmp/rec-state.json
}

test_server_killed_before_start_dev_leaves_nothing_and_the_id_is_reusable() {
	local rc guardian server add_pid flag
	truncate -s 32M /tmp/rec-start.img
	for flag in -r ''; do
		echo "== add $flag killed before START_DEV"
		ublk add -t loop -f /tmp/rec-start.img -n 5 $flag --stall-before-start 30 \
			>/tmp/rec-add.out 2>&1 &
		add_pid=$!
		wait_until 30 dev_exists 5 || fail "device 5 never appeared"
		guardian=$(pgrep -o -x ublk-server)
		wait_until 10 pgrep -P "$guardian" -x ublk-server >/dev/null || fail "no server child"
		server=$(pgrep -P "$guardian" -x ublk-server)
		sleep 1
		kill -KILL "$server"
		rc=0
		wait "$add_pid" || rc=$?
		((rc != 0)) || fail "add succeeded although its server was killed"
		echo "add: exit $rc, $(cat /tmp/rec-add.out)"
		wait_until 35 dev_gone 5 || fail "half-made device left: $(ublk list)"
		wait_until 10 no_servers || fail "processes left: $(pgrep -a ublk-server)"
		[[ $(add_dev -t loop -f /tmp/rec-start.img -n 5 $flag) == 5 ]] || fail "id 5 not reusable"
		ublk del -n 5
	done
	rm -f /tmp/rec-start.img /tmp/rec-add.out
}

test_server_killed_during_del_leaves_nothing_and_the_id_is_reusable() {
	local id pid del_pid rc flag fio_pid
	truncate -s 32M /tmp/rec-del.img
	for flag in -r ''; do
		echo "== del of a device added with '$flag', server killed during del"
		id=$(add_dev -t loop -f /tmp/rec-del.img $flag --stall-before-stop 30)
		fio --name=busy --filename=/dev/ublkb"$id" --rw=randrw --bs=4k --iodepth=8 \
			--ioengine=io_uring --direct=1 --runtime=60 --time_based >/dev/null 2>&1 &
		fio_pid=$!
		sleep 1
		pid=$(server_pid "$id")
		ublk del -n "$id" &
		del_pid=$!
		sleep 2
		kill -KILL "$pid"
		rc=0
		wait "$del_pid" || rc=$?
		((rc == 0)) || fail "del failed (exit $rc)"
		wait_until 30 dev_gone "$id" || fail "device left: $(ublk list)"
		wait_until 45 bash -c "! kill -0 $fio_pid 2>/dev/null" || fail "fio hangs"
		wait "$fio_pid" || true
		wait_until 10 no_servers || fail "processes left: $(pgrep -a ublk-server)"
		[[ $(add_dev -t loop -f /tmp/rec-del.img -n "$id") == "$id" ]] || fail "id not reusable"
		ublk del -n "$id"
	done
	rm -f /tmp/rec-del.img
}

test_foreground_server_restarted_by_a_supervisor_recovers_its_device() {
	local sup guardian first second
	truncate -s 64M /tmp/rec-fg.img
	rm -f /tmp/rec-fg-stop
	# A supervisor like systemd's Restart=always.
	(
		while [[ ! -e /tmp/rec-fg-stop ]]; do
			# A killed server exits 137: restart it (not an error here).
			ublk add --foreground -t loop -f /tmp/rec-fg.img -n 6 -r 2>>/tmp/rec-fg.log || true
			sleep 0.5
		done
	) >/tmp/rec-fg.out &
	sup=$!
	wait_until 60 bash -c 'ublk list -n 6 2>/dev/null | grep -q LIVE' || fail "foreground server never got live: $(cat /tmp/rec-fg.log)"
	first=$(server_pid 6)
	dd if=/dev/urandom of=/tmp/rec-fg-data bs=1M count=2 2>/dev/null
	dd if=/tmp/rec-fg-data of=/dev/ublkb6 bs=1M oflag=direct 2>/dev/null || fail "write"
	kill -KILL "$first"
	wait_until 60 bash -c "ublk list -n 6 --json | grep -q '\"state\": \"LIVE\"' && ! ublk list -n 6 --json | grep -q '\"pid\": $first,'" ||
		{ cat /tmp/rec-fg.log; cat /tmp/rec-fg.out; rec_dump; fail "the restarted server did not recover the device"; }
	second=$(server_pid 6)
	echo "server $first killed, $second took over"
	grep -q "live again" /tmp/rec-fg.out || fail "no recovery report: $(cat /tmp/rec-fg.out)"
	cmp <(dd if=/dev/ublkb6 bs=1M count=2 iflag=direct 2>/dev/null) /tmp/rec-fg-data || fail "data differs"
	touch /tmp/rec-fg-stop
	guardian=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/"$second"/status)
	kill -TERM "$guardian"
	wait_until 30 dev_gone 6 || fail "device left after SIGTERM"
	wait_until 30 bash -c "! kill -0 $sup 2>/dev/null" || fail "supervisor loop did not end"
	rm -f /tmp/rec-fg.img /tmp/rec-fg-data /tmp/rec-fg-stop /tmp/rec-fg.log /tmp/rec-fg.out
}

test_features_show_which_recovery_modes_the_kernel_has() {
	local f
	for f in USER_RECOVERY USER_RECOVERY_REISSUE USER_RECOVERY_FAIL_IO; do
		if rec_has $f; then echo "$f: yes"; else echo "$f: no"; fi
	done
	rec_has USER_RECOVERY || fail "kernel $(uname -r) lacks USER_RECOVERY"
	rec_has USER_RECOVERY_REISSUE || fail "kernel $(uname -r) lacks USER_RECOVERY_REISSUE"
}

test_recovery_of_zero_copy_devices_keeps_every_block() {
	local id
	rec_has AUTO_BUF_REG || skip "kernel $(uname -r) lacks zero copy (AUTO_BUF_REG, Linux 6.16)"
	[[ -e $rec_nvme ]] || skip "no NVMe drive $rec_nvme (tests/vm/kernel-tier.sh emulates it)"
	truncate -s 64M /tmp/rec-zc.img
	# Explicit registration is refused with recovery (a server killed while
	# holding buffers it registered by hand hung the device's STOP_DEV on
	# 7.2): one line, nothing made.
	expect_error 'cannot be combined with recovery' \
		ublk add -t loop -f /tmp/rec-zc.img -r --zero-copy=explicit
	no_servers || fail "a refused add left a server"
	echo "== loop, zero-copy/auto, 2 queues"
	id=$(add_dev -t loop -f /tmp/rec-zc.img -q 2 -r --zero-copy=auto)
	rec_fio_rounds /dev/ublkb"$id" "$id" 2
	ublk list -n "$id" | grep -q "zero-copy/auto" || fail "recovered device lost zero-copy/auto"
	timeout 60 ublk del -n "$id" || { rec_dump; fail "del of the recovered zero-copy/auto device hangs"; }
	echo "== nvme, zero-copy/auto"
	id=$(add_dev -t nvme -f "$rec_nvme" -q 1 -r --zero-copy=auto)
	rec_fio_rounds /dev/ublkb"$id" "$id" 2
	timeout 60 ublk del -n "$id" || { rec_dump; fail "del of the recovered nvme zero-copy/auto device hangs"; }
	rm -f /tmp/rec-zc.img
}
