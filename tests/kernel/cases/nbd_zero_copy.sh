# The nbd target with zero copy (-z: automatic buffer registration, Linux
# 6.16): a WRITE's data goes to the socket from the request's own pages
# (WRITE_FIXED) and a READ's comes from it straight into them (READ_FIXED),
# over simple replies. Every byte must survive (crc32c-verified fio), land
# at its offset in the served file, and cross a server restart; explicit
# registration is refused for nbd, and -z where the kernel lacks it.
# Helpers from nbd.sh and zero_copy.sh.

test_nbd_zero_copy_over_tcp_passes_fio_verify_and_bytes_land_in_the_file() {
	local id out
	zc_need
	trap nbd_down EXIT
	truncate -s 64M /tmp/nbd-test.img
	nbd_qemu_up --tcp -f raw /tmp/nbd-test.img
	id=$(zc_add auto -t nbd -f nbd://127.0.0.1/disk)
	out=$(ublk list -n "$id")
	[[ $out == *"connection connected"* && $out != *structured* ]] ||
		fail "zero copy should connect with simple replies: $out"
	nbd_bytes_land "$id"
	nbd_fio_verify /dev/ublkb"$id" 1
	ublk del -n "$id"
}

test_nbd_zero_copy_on_two_queues_and_across_a_server_restart_loses_nothing() {
	local id
	zc_need
	trap nbd_down EXIT
	nbd_kit_up memory 64M
	id=$(zc_add auto -t nbd -f "$(nbd_uri '')" -q 2)
	nbd_fio_verify /dev/ublkb"$id" 2
	ublk del -n "$id"
	nbd_stop
	truncate -s 64M /tmp/nbd-test.img
	nbd_qemu_up -f raw /tmp/nbd-test.img
	id=$(zc_add auto -t nbd -f "$(nbd_uri)")
	nbd_restart_under_fio "$id" 2
	ublk list -n "$id" | grep -q 'connection connected$' || fail "not reconnected with simple replies: $(ublk list -n "$id")"
	ublk del -n "$id"
}

test_nbd_zero_copy_refused_where_it_cannot_work() {
	trap nbd_down EXIT
	truncate -s 64M /tmp/nbd-test.img
	nbd_qemu_up -f raw /tmp/nbd-test.img
	expect_error 'zero-copy=explicit is not for this target' \
		ublk add -t nbd -f "$(nbd_uri)" --zero-copy=explicit
	zc_supported || expect_error 'AUTO_BUF_REG' ublk add -t nbd -f "$(nbd_uri)" -z
	[[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]] || fail "a device was left behind"
	no_servers || fail "a server was left behind"
}

# A recovery device (-r): a new server takes the zero-copy device over after
# a kill under fio verify (rec_fio_rounds in recovery.sh), in zero copy.
test_nbd_zero_copy_device_recovers_after_a_server_kill_under_fio_verify() {
	local id
	zc_need
	trap nbd_down EXIT
	truncate -s 64M /tmp/nbd-test.img
	nbd_qemu_up -f raw --shared=4 /tmp/nbd-test.img
	id=$(zc_add auto -t nbd -f "$(nbd_uri)" -r)
	rec_fio_rounds /dev/ublkb"$id" "$id" 2
	ublk list -n "$id" | grep -q "data path zero-copy/auto," ||
		fail "the recovered device is not in zero copy: $(ublk list -n "$id")"
	ublk del -n "$id"
}
