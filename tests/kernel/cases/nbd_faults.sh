# The nbd target against a server that breaks the NBD protocol on purpose
# (tests/tools/nbd_fake_server.cpp, installed in the stage tree as
# libexec/ublk-tests/nbd-fake-server). Helpers from nbd.sh.
# shellcheck disable=SC2154 # nbd_sock, nbd_pidfile: set in nbd.sh

nbd_fake=${UBLK_PREFIX:-/opt/ublk}/libexec/ublk-tests/nbd-fake-server

# nbd_fake_up FAULT: the fake server on $nbd_sock, 16 MiB of memory, its
# transmission fault at 8 MiB; returns once it listens.
nbd_fake_up() {
	[[ -x $nbd_fake ]] || fail "no $nbd_fake in the install tree"
	rm -f "$nbd_sock" /tmp/nbd-fake.out
	"$nbd_fake" --socket "$nbd_sock" --size $((16 << 20)) --at $((8 << 20)) --fault "$1" \
		>/tmp/nbd-fake.out 2>&1 &
	echo $! >"$nbd_pidfile"
	wait_until 5 grep -q listening /tmp/nbd-fake.out || fail "nbd-fake-server --fault $1 did not start"
}

nbd_fake_down() {
	nbd_down
	rm -f /tmp/nbd-fake.out /tmp/nbd-fake-pattern
}

nbd_nothing_left() {
	[[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]] || fail "a device was left behind after $1"
	compgen -G '/dev/ublkb*' >/dev/null && fail "a /dev/ublkb node was left behind after $1"
	compgen -G '/run/ublk/*.json' >/dev/null && fail "a state file was left behind after $1"
	no_servers || fail "a ublk server was left behind after $1"
}

test_nbd_server_breaking_the_handshake_fails_add_in_one_line_and_leaves_nothing() {
	local fault pattern
	trap nbd_fake_down EXIT
	while IFS='|' read -r fault pattern; do
		nbd_fake_up "$fault"
		expect_error "$pattern" ublk add -t nbd -f "$(nbd_uri)"
		nbd_nothing_left "$fault"
		nbd_stop
	done <<-'EOF2'
		close-in-handshake|closed the connection during the handshake
		bad-greeting-magic|not an NBD server \(no NBDMAGIC
		unknown-export|export 'disk' does not exist on the NBD server.*: no such export
		bad-option-magic|broke the protocol \(bad option reply magic\)
		wrong-option|broke the protocol \(a reply to another option\)
		short-option-reply|closed the connection during the handshake
		oversize-option-reply|broke the protocol \(an option reply of 1048576 bytes\)
	EOF2
}

# nbd_fake_read ID: 4 KiB at 8 MiB through the device (where the fault is).
nbd_fake_read() {
	timeout 30 dd if=/dev/ublkb"$1" bs=4k skip=2048 count=1 iflag=direct status=none
}

test_nbd_protocol_violation_during_io_fails_the_request_with_eio_and_reconnects() {
	local fault outcome id out rc
	trap nbd_fake_down EXIT
	dd if=/dev/urandom of=/tmp/nbd-fake-pattern bs=4k count=1 2>/dev/null
	# FAULT|what the read that meets it does: fails with EIO (the request
	# was sent to a server that garbled its answer), or succeeds (an
	# oversize reply is noticed only at the next header; a reply cut short
	# by the server closing is a lost connection, resent).
	while IFS='|' read -r fault outcome; do
		nbd_fake_up "$fault"
		id=$(add_dev -t nbd -f "$(nbd_uri)")
		dd if=/tmp/nbd-fake-pattern of=/dev/ublkb"$id" bs=4k seek=2048 oflag=direct conv=notrunc status=none ||
			fail "$fault: the write before the fault failed"
		rc=0
		out=$(nbd_fake_read "$id" 2>&1 | md5sum | cut -d' ' -f1; exit "${PIPESTATUS[0]}") || rc=$?
		((rc != 124)) || fail "$fault: the read hung"
		grep -q "$fault at offset 8388608" /tmp/nbd-fake.out || fail "$fault: the fault was not hit"
		if [[ $outcome == eio ]]; then
			((rc != 0)) || fail "$fault: the read that met the fault succeeded"
		else
			((rc == 0)) || fail "$fault: the read failed"
			[[ $out == $(md5sum </tmp/nbd-fake-pattern | cut -d' ' -f1) ]] || fail "$fault: the read returned other bytes"
		fi
		# Reconnected: the same bytes read back, the connection is up.
		wait_until 20 nbd_list_says "$id" 'connection connected' || fail "$fault: no connection again"
		[[ $(nbd_fake_read "$id" | md5sum | cut -d' ' -f1) == $(md5sum </tmp/nbd-fake-pattern | cut -d' ' -f1) ]] ||
			fail "$fault: the device does not serve the block again"
		ublk del -n "$id"
		wait_until 10 dev_gone "$id" || fail "$fault: the device did not go"
		nbd_stop
	done <<-'EOF2'
		reply-bad-magic|eio
		reply-wrong-cookie|eio
		reply-oversize|ok
		reply-short|ok
	EOF2
	grep -q 'protocol violation: bad reply magic; failing the requests sent, reconnecting' /tmp/ublk-tests-syslog ||
		fail "the server log has no protocol violation"
	grep -q 'protocol violation: a reply to no request in flight' /tmp/ublk-tests-syslog ||
		fail "the server log has no wrong-cookie violation"
	no_servers || fail "a ublk server was left behind"
}
