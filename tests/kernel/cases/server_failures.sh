# A server that cannot do what it promised says so in one line and leaves
# nothing behind; what users hand it never crashes it.

test_recovery_device_without_a_writable_state_file_is_not_added() {
	local dir=/tmp/full-state rc=0
	mkdir -p "$dir"
	mount -t tmpfs -o size=16k,mode=0755 tmpfs "$dir"
	# Fill it: the state file's temporary copy cannot be written.
	dd if=/dev/zero of="$dir/filler" bs=4k count=16 2>/dev/null || true
	UBLK_STATE_DIR=$dir expect_error 'cannot keep a recovery device without its state file' \
		ublk add -t null -r || rc=$?
	[[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]] || rc=1
	# Without recovery a missing state file costs only list's details.
	local id
	id=$(UBLK_STATE_DIR=$dir add_dev -t null) || rc=1
	[[ -n $id ]] && UBLK_STATE_DIR=$dir ublk del -n "$id"
	umount "$dir"
	((rc == 0)) || fail "a recovery device was left behind or add did not fail"
	wait_until 5 no_servers || fail "server still running"
}

test_names_that_are_not_utf8_are_listed_not_crashed_on() {
	local id out
	id=$(add_dev -t null --name $'disk\xff\xfe') || fail "add with a non-UTF-8 name failed"
	out=$(ublk list -n "$id" --json) || fail "list --json failed"
	echo "$out" | grep -q '"name": "disk' || fail "name missing: $out"
	ublk list | grep -q "^dev id $id: " || fail "list has no device $id"
	ublk del -n "$id"
}

test_a_backing_path_that_is_not_utf8_is_refused() {
	local f=$'/tmp/disk\xff.img'
	truncate -s 64M "$f"
	expect_error 'not valid UTF-8' ublk add -t loop -f "$f"
	rm -f "$f"
}
