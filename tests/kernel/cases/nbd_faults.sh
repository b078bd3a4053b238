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

# nbd_fault_round FAULT OUTCOME: a device on the fake server with FAULT, a
# block written at 8 MiB, the read that meets the fault (OUTCOME eio: it
# fails; ok: it returns the block), then the device connected again and
# serving the block.
nbd_fault_round() {
	local fault=$1 outcome=$2 id out rc=0
	nbd_fake_up "$fault"
	id=$(add_dev -t nbd -f "$(nbd_uri)")
	dd if=/tmp/nbd-fake-pattern of=/dev/ublkb"$id" bs=4k seek=2048 oflag=direct conv=notrunc status=none ||
		fail "$fault: the write before the fault failed"
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
	if [[ $fault == chunk-* ]]; then
		nbd_list_says "$id" 'structured replies' || fail "$fault: not structured replies after the fault"
	fi
	ublk del -n "$id"
	wait_until 10 dev_gone "$id" || fail "$fault: the device did not go"
	nbd_stop
}

test_nbd_protocol_violation_during_io_fails_the_request_with_eio_and_reconnects() {
	local fault outcome
	trap nbd_fake_down EXIT
	dd if=/dev/urandom of=/tmp/nbd-fake-pattern bs=4k count=1 2>/dev/null
	# FAULT|what the read that meets it does: fails with EIO (the request
	# was sent to a server that garbled its answer), or succeeds (an
	# oversize reply is noticed only at the next header; a reply cut short
	# by the server closing is a lost connection, resent).
	while IFS='|' read -r fault outcome; do
		nbd_fault_round "$fault" "$outcome"
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

test_nbd_broken_structured_reply_fails_the_request_with_eio_and_the_device_serves_again() {
	local fault outcome why
	trap nbd_fake_down EXIT
	dd if=/dev/urandom of=/tmp/nbd-fake-pattern bs=4k count=1 2>/dev/null
	# FAULT|outcome|the violation the server log names (none: an error the
	# request fails with, the connection stays; a close before DONE is a
	# lost connection, the READ is sent again).
	while IFS='|' read -r fault outcome why; do
		nbd_fault_round "$fault" "$outcome"
		if [[ $why != none ]]; then
			grep -q "protocol violation: $why; failing the requests sent" /tmp/ublk-tests-syslog ||
				fail "$fault: the server log does not say '$why'"
		fi
	done <<-'EOF2'
		chunk-wrong-cookie|eio|a chunk for no request in flight
		chunk-data-outside|eio|data outside the request
		chunk-hole-outside|eio|a hole outside the request
		chunk-oversize|eio|data outside the request
		chunk-none-without-done|eio|a NONE chunk without the DONE flag
		chunk-unknown-type|eio|a chunk of an unknown type
		chunk-short-cover|eio|a READ reply that did not cover its range
		chunk-simple-read|eio|a simple reply to a READ
		chunk-error|eio|none
		chunk-unknown-error|eio|none
		chunk-close-before-done|ok|none
	EOF2
	no_servers || fail "a ublk server was left behind"
}

# Structured replies when the server acknowledges them, simple ones when it
# refuses; data and holes read back as written either way.
test_nbd_structured_replies_are_used_only_when_the_server_agrees() {
	local fault id
	trap nbd_fake_down EXIT
	dd if=/dev/urandom of=/tmp/nbd-fake-pattern bs=1M count=2 2>/dev/null
	for fault in structured none; do
		nbd_fake_up "$fault"
		id=$(add_dev -t nbd -f "$(nbd_uri)")
		if [[ $fault == structured ]]; then
			nbd_list_says "$id" 'connection connected, structured replies' || fail "no structured replies"
			ublk list -n "$id" --json | grep -q '"connection": "connected, structured replies"' ||
				fail "list --json does not say structured replies"
		else
			nbd_list_says "$id" 'connection connected$' || fail "structured replies the server refused"
		fi
		# 2 MiB at 4 MiB + 4 KiB; the 4 KiB before it are never written
		# (a hole with structured replies).
		dd if=/tmp/nbd-fake-pattern of=/dev/ublkb"$id" bs=4k seek=1025 oflag=direct status=none ||
			fail "$fault: the write failed"
		[[ $(nbd_sum /dev/ublkb"$id" 1M 4 3) == $( (dd if=/dev/zero bs=4k count=1 2>/dev/null
			cat /tmp/nbd-fake-pattern
			dd if=/dev/zero bs=4k count=255 2>/dev/null) | md5sum | cut -d' ' -f1) ]] ||
			fail "$fault: the bytes do not read back"
		ublk del -n "$id"
		wait_until 10 dev_gone "$id" || fail "$fault: the device did not go"
		nbd_stop
	done
}
