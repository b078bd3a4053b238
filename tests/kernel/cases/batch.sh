# Batch commands (ublk add --batch: UBLK_F_BATCH_IO, Linux 7.0): PREP_IO_CMDS,
# a multishot FETCH_IO_CMDS and one COMMIT_IO_CMDS per pass instead of the
# per-tag FETCH_REQ / COMMIT_AND_FETCH_REQ. Every target and data path must
# keep every byte with batch on and off, a batch device must survive a
# SIGKILL of its server and be recovered, del must work under load; where
# the kernel lacks the feature, --batch is refused in one line. Helpers from
# data_paths.sh, nvme_zoned.sh, nbd.sh and recovery.sh.

batch_has() { ublk features | grep -qx BATCH_IO; }
batch_need() { batch_has || skip "kernel $(uname -r) lacks BATCH_IO (UBLK_F_BATCH_IO, Linux 7.0)"; }

# batch_says ID on|off: add's and list's reports agree on the mode.
batch_says() {
	local want=false
	[[ $2 == on ]] && want=true
	ublk list -n "$1" --json | grep -q "\"batch\": $want" ||
		fail "list --json does not say batch $2: $(ublk list -n "$1" --json)"
	if [[ $2 == on ]]; then
		ublk list -n "$1" | grep -q ', batch commands,' || fail "list does not show batch commands: $(ublk list -n "$1")"
	else
		ublk list -n "$1" | grep -q 'batch commands' && fail "list shows batch commands: $(ublk list -n "$1")"
	fi
	return 0
}

# batch_fio DEV: crc32c-verified random writes of 4k and 128k blocks on two
# jobs (each its own slice), then a verified mixed pass; short on purpose.
batch_fio() {
	local bs
	for bs in 4k 128k; do
		fio_ok --name=batch-$bs --filename="$1" --rw=randwrite --bs=$bs --size=8M \
			--offset_increment=16M --numjobs=2 --ioengine=io_uring --direct=1 \
			--iodepth=32 --verify=crc32c --do_verify=1 --verify_fatal=1 --group_reporting
	done
}

test_batch_add_and_list_report_it_and_a_kernel_without_it_refuses_it() {
	local id out
	if ! batch_has; then
		expect_error 'batch commands \(--batch\) need the ublk feature UBLK_F_BATCH_IO \(Linux 7.0' \
			ublk add -t null --batch
		expect_error 'UBLK_F_BATCH_IO' ublk add -t null -b
		id=$(add_dev -t null)
		batch_says "$id" off
		ublk del -n "$id"
		no_servers || fail "a server was left: $(pgrep -a ublk-server)"
		return 0
	fi
	out=$(ublk add -t null --batch --json) || fail "ublk add --batch"
	echo "$out" | grep -q '"batch": true' || fail "add --batch does not report batch: $out"
	id=$(dp_id "$out")
	batch_says "$id" on
	ublk list -n "$id" --json | grep -q '"BATCH_IO"' || fail "device lacks the BATCH_IO flag"
	ublk del -n "$id"
	id=$(add_dev -t null --batch=off)
	batch_says "$id" off
	ublk del -n "$id"
	# Not asked: off, batch not having measured ahead of the per-tag
	# commands (the README's performance section). The default, whatever
	# variant the tier runs.
	id=$(UBLK_TEST_VARIANT='' add_dev -t null)
	batch_says "$id" off
	ublk del -n "$id"
	expect_error 'cannot be combined with NEED_GET_DATA' ublk add -t null --batch -g 1
	expect_error '^ublk: --batch=maybe: must be on or off$' ublk add -t null --batch=maybe
	no_servers || fail "a server was left: $(pgrep -a ublk-server)"
}

test_batch_fio_verify_on_every_target_and_data_path_with_batch_on_and_off() {
	batch_need
	dp_need_nvme 0
	local batch row id path args
	truncate -s 128M /tmp/batch.img
	nbd_kit_up memory 128M
	trap nbd_down EXIT
	# target/data path | the add arguments
	local rows=(
		"none|-t null"
		"copy|-t loop -f /tmp/batch.img --zero-copy=off"
		"user-copy|-t loop -f /tmp/batch.img --usercopy -q 2"
		"zero-copy/auto|-t loop -f /tmp/batch.img -z"
		"copy|-t nvme -f $(dp_ng 0) --zero-copy=off -q 2"
		"user-copy|-t nvme -f $(dp_ng 0) --usercopy"
		"zero-copy/auto|-t nvme -f $(dp_ng 0) -z"
		"copy|-t nbd -f $(nbd_uri)"
		"zero-copy/auto|-t nbd -f $(nbd_uri) -z"
	)
	for batch in on off; do
		for row in "${rows[@]}"; do
			path=${row%%|*} args=${row#*|}
			echo "== batch $batch: $args ($path)"
			# shellcheck disable=SC2086 # the row's words
			id=$(dp_add "$path" - $args --batch=$batch)
			batch_says "$id" "$batch"
			if [[ $path == none ]]; then
				fio_ok --name=batch-null --filename=/dev/ublkb"$id" --rw=randrw --bs=4k \
					--size=16M --ioengine=io_uring --direct=1 --iodepth=64
			else
				batch_fio /dev/ublkb"$id"
			fi
			ublk del -n "$id"
		done
	done
	if [[ -e /dev/disk/by-id/ng-ublktest3 ]] && ublk features | grep -qx ZONED; then
		echo "== batch on: a zoned namespace (elements carry the zone-append sector)"
		id=$(add_dev -t nvme -f "$(dp_ng 3)" --batch)
		batch_says "$id" on
		zbd_verify /dev/ublkb"$id" 2
		ublk del -n "$id"
	fi
	rm -f /tmp/batch.img
}

# QUIESCE_DEV of a batch device fails the I/O that arrives while the
# fetches are cancelled (Linux 7.2), so restart hands a batch device over as
# a crash would: in reissue mode what was in flight goes to the new server;
# without reissue, restart is refused.
test_batch_device_restarts_under_fio_verify_without_an_error() {
	batch_need
	local id
	truncate -s 64M /tmp/batch.img
	id=$(add_dev -t loop -f /tmp/batch.img -q 2 -r --batch)
	batch_says "$id" on
	svc_restart_under_fio /dev/ublkb"$id" "$id"
	batch_says "$id" on
	grep -q "dev $id: handing over as a crash would (batch commands)" /tmp/ublk-tests-syslog ||
		fail "the batch device was not handed over as a crash would"
	ublk del -n "$id"
	id=$(add_dev -t loop -f /tmp/batch.img --recovery-mode fail-inflight --batch)
	expect_error 'batch commands without failing I/O needs recovery mode reissue' \
		ublk restart -n "$id"
	rec_state_is "$id" LIVE || fail "a refused restart left the device $(ublk list -n "$id")"
	ublk del -n "$id"
	rm -f /tmp/batch.img
}

test_batch_device_survives_server_kills_and_recovers_every_block() {
	batch_need
	local id
	truncate -s 128M /tmp/batch.img
	id=$(add_dev -t loop -f /tmp/batch.img -r --batch)
	batch_says "$id" on
	rec_fio_rounds /dev/ublkb"$id" "$id" 3
	batch_says "$id" on
	batch_fio /dev/ublkb"$id"
	timeout 60 ublk del -n "$id" || fail "del of the recovered device hangs"
	rm -f /tmp/batch.img
}

test_batch_del_under_load_leaves_nothing() {
	batch_need
	local id args fio_pid rc
	truncate -s 128M /tmp/batch.img
	for args in "-t null -q 2" "-t loop -f /tmp/batch.img -q 2 -z"; do
		echo "== $args"
		rc=0
		# shellcheck disable=SC2086 # the words
		id=$(add_dev $args --batch)
		fio --name=busy --filename=/dev/ublkb"$id" --rw=randrw --bs=16k --iodepth=128 --numjobs=2 \
			--ioengine=io_uring --direct=1 --runtime=120 --time_based >/tmp/busy.out 2>&1 &
		fio_pid=$!
		sleep 3
		timeout 60 ublk del -n "$id" || fail "del failed or hangs under load"
		wait_until 10 bash -c "! kill -0 $fio_pid 2>/dev/null" || fail "fio still running 10 s after del"
		wait "$fio_pid" || rc=$?
		((rc != 0)) || grep -qE 'err= *[1-9]|error' /tmp/busy.out || fail "fio saw no error"
		wait_until 10 dev_gone "$id" || fail "device left behind"
		no_servers || fail "a server was left: $(pgrep -a ublk-server)"
	done
	rm -f /tmp/batch.img
}
