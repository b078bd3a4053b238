# Bad input: one clear line, non-zero exit, nothing created.

nothing_created() {
	[[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]] || fail "a device was created: $(ls /sys/class/ublk-char)"
	[[ $(pgrep -x ublk-server | wc -l) == 0 ]] || fail "a server process is running"
}

test_bad_add_options_are_refused_before_touching_the_kernel() {
	expect_error "unknown target type 'bogus'" ublk add -t bogus
	expect_error "unknown option '--bogus'" ublk add -t null --bogus
	expect_error "-q 0: must be a whole number from 1" ublk add -t null -q 0
	expect_error "-d 0: must be a whole number from 1 to 4096" ublk add -t null -d 0
	expect_error "-d 5000: must be a whole number from 1 to 4096" ublk add -t null -d 5000
	expect_error "malformed size '12Q'" ublk add -t null --size 12Q
	expect_error "multiple of 512" ublk add -t null --size 1000
	expect_error "-t TYPE is required" ublk add -q 1
	expect_error "unknown command 'frob'" ublk frob
	nothing_created
}


test_id_in_use_is_refused_and_the_first_device_survives() {
	add_dev -t null -n 2 >/dev/null
	expect_error "device 2 already exists" ublk add -t null -n 2
	dev_exists 2 || fail "the first device 2 is gone"
	[[ $(pgrep -x ublk-server | wc -l) == 2 ]] || fail "expected one server (and its guardian)"
	ublk del -n 2
}

# del of a missing device: what it wants is so; one line and exit 0, as the
# reference server does (scripts delete devices a guardian may have deleted).
test_del_of_a_missing_device_says_so_and_succeeds_list_fails() {
	local out err
	out=$(ublk del -n 42 2>/tmp/del_err) || fail "del -n 42 of a missing device failed"
	err=$(cat /tmp/del_err)
	[[ -z $out ]] || fail "del printed on stdout: $out"
	[[ $err == "ublk: device 42 does not exist; nothing to delete" ]] || fail "del said '$err'"
	expect_error "device 42 does not exist" ublk list -n 42
	expect_error "give exactly one of -n ID or -a" ublk del
}

test_no_permission_gives_a_clear_error() {
	expect_error "permission denied opening /dev/ublk-control: run as root" \
		setpriv --reuid=65534 --regid=65534 --clear-groups ublk add -t null
	expect_error "permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups ublk list
	nothing_created
}

test_missing_module_says_how_to_load_it() {
	modprobe -r ublk_drv || fail "cannot unload ublk_drv"
	local rc=0
	( expect_error "ublk_drv is not loaded: modprobe ublk_drv" ublk add -t null ) || rc=$?
	modprobe ublk_drv
	wait_until 5 test -e /dev/ublk-control || fail "ublk_drv did not come back"
	return $rc
}
