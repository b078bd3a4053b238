# Adding, listing and deleting devices.

test_add_list_del_round_trip() {
	local out id
	out=$(ublk add -t null --size 1G --name first)
	echo "$out"
	# add prints the device as list does (the reference server's layout).
	[[ $out == "dev id 0: nr_hw_queues 1 queue_depth 128 block size 512 dev_capacity 2097152"* ]] ||
		fail "add did not print the device with 1 queue, depth 128"
	[[ $out == *"state LIVE"* ]] || fail "add did not report the device live"
	[[ $out == *$'\tflags 0x'*CMD_IOCTL_ENCODE* ]] || fail "add did not list the flags"
	[[ $out == *"/dev/ublkb0"* ]] || fail "add did not name /dev/ublkb0"
	[[ -b /dev/ublkb0 ]] || fail "no /dev/ublkb0"
	[[ $(blockdev --getsize64 /dev/ublkb0) == 1073741824 ]] || fail "size is not 1 GiB"
	out=$(ublk list)
	echo "$out"
	[[ $out == *"dev id 0: nr_hw_queues 1 queue_depth 128 block size 512 dev_capacity 2097152"* ]] ||
		fail "list does not show the device"
	[[ $out == *$'\tname first\n'* ]] || fail "list does not show the name"
	ublk list -n 0 --json | grep -q '"state": "LIVE"' || fail "list --json lacks state"
	[[ -s /run/ublk/0.json ]] || fail "no state file"
	grep -q '"type": "null"' /run/ublk/0.json || fail "state file lacks the spec"
	ublk del -n 0
	wait_until 5 dev_gone 0 || fail "device 0 still there after del"
	[[ $(server_count) == 0 ]] || fail "server still running"
	out=$(ublk list)
	[[ -z $out ]] || fail "list not empty: $out"
}

test_several_devices_at_once() {
	local a b c
	a=$(add_dev -t null -n 5 --size 64M)
	b=$(add_dev -t null --size 128M)
	c=$(add_dev -t null -q 2 --size 256M)
	[[ $a == 5 ]] || fail "asked for id 5, got $a"
	[[ $b != "$c" && $b != 5 && $c != 5 ]] || fail "ids not distinct: $a $b $c"
	[[ $(ublk list | grep -c "^dev id ") == 3 ]] || fail "list does not show 3 devices"
	for id in $a $b $c; do
		dd if=/dev/ublkb"$id" of=/dev/null bs=64k count=100 iflag=direct 2>/dev/null ||
			fail "read from /dev/ublkb$id failed"
	done
	[[ $(blockdev --getsize64 /dev/ublkb"$c") == 268435456 ]] || fail "wrong size on $c"
	ublk del -n "$b"
	wait_until 5 dev_gone "$b" || fail "device $b not deleted"
	dev_exists "$a" && dev_exists "$c" || fail "deleting $b took others with it"
	ublk del -a
	for id in $a $c; do wait_until 5 dev_gone "$id" || fail "device $id survived del -a"; done
	[[ $(server_count) == 0 ]] || fail "servers left after del -a"
}

test_two_queues_serve_two_hardware_queues() {
	local id
	id=$(add_dev -t null -q 2 -d 64)
	ublk list -n "$id" --json | grep -q '"queues": 2' || fail "list does not show 2 queues"
	ls /sys/block/ublkb"$id"/mq | grep -c . | grep -qx 2 || fail "the disk does not have 2 hardware queues"
	ublk list -n "$id" --json | grep -q '"depth": 64' || fail "depth 64 not applied"
	ublk del -n "$id"
}

test_foreground_server_stops_on_sigint() {
	local pid
	ublk add -t null -n 3 --foreground >/tmp/fg.out 2>/tmp/fg.err &
	pid=$!
	wait_until 30 test -b /dev/ublkb3 || fail "foreground device did not appear"
	wait_until 5 grep -q "live" /tmp/fg.out || fail "foreground add did not report: $(cat /tmp/fg.out)"
	kill -INT "$pid"
	wait "$pid" || fail "foreground server exited with $?"
	wait_until 5 dev_gone 3 || fail "device 3 still there after SIGINT"
	grep -q "started" /tmp/fg.err || fail "no lifecycle log on stderr: $(cat /tmp/fg.err)"
}

test_features_lists_what_the_kernel_reports() {
	local out
	out=$(ublk features)
	echo "$out"
	for f in CMD_IOCTL_ENCODE USER_COPY USER_RECOVERY UNPRIVILEGED_DEV; do
		echo "$out" | grep -qx "$f" || fail "features lacks $f"
	done
	ublk features --json | grep -q '"flags": [1-9]' || fail "features --json lacks flags"
}

test_help_teaches_every_command() {
	ublk --help | grep -q "ublk add" || fail "--help lacks add"
	ublk help add | grep -q -- "--queues" || fail "help add lacks --queues"
	ublk add --help | grep -q "null" || fail "add --help lacks types"
	ublk --version | grep -q "^ublk " || fail "--version"
}
