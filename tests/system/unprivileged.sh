# Devices of ordinary users (UBLK_F_UNPRIVILEGED_DEV): two users of group
# ublk with one device each, a user outside the group, root over them all.
# shellcheck shell=bash

as() { runuser -u "$1" -- "${@:2}"; }
uid_of() { id -u "$1"; }
# The id `ublk add` printed ("dev N: /dev/ublkbN live").
added_id() { sed -n 's/^dev \([0-9]*\): .*live.*/\1/p' "$1" | head -n1; }
# one_line FILE: what a refusal printed is one "ublk: ..." line.
one_line() { [[ $(grep -c . "$1") == 1 ]] && grep -q '^ublk: ' "$1"; }
ublk_ids() { ls /sys/class/ublk-char 2>/dev/null | sed 's/^ublkc//' | sort -n; }

test_users_of_group_ublk_add_devices_whose_nodes_are_theirs() {
	getent group ublk >/dev/null || fail "the package did not create group ublk"
	[[ $(stat -c '%U:%G %a' /dev/ublk-control) == 'root:ublk 660' ]] ||
		fail "/dev/ublk-control is $(stat -c '%U:%G %a' /dev/ublk-control)"
	local u
	for u in alice bob; do id "$u" >/dev/null 2>&1 || useradd -m -G ublk "$u"; done
	id carol >/dev/null 2>&1 || useradd -m carol
	as alice truncate -s 64M /home/alice/disk.img
	# Small enough for an ordinary user's locked-memory limit.
	as alice ublk add -t loop -f /home/alice/disk.img -d 8 >/tmp/alice.add 2>&1 ||
		{ cat /tmp/alice.add; fail "alice: ublk add -t loop"; }
	as bob ublk add -t null --size 64M >/tmp/bob.add 2>&1 ||
		{ cat /tmp/bob.add; fail "bob: ublk add -t null"; }
	local a b
	a=$(added_id /tmp/alice.add) b=$(added_id /tmp/bob.add)
	[[ -n $a && -n $b ]] || fail "no ids: $(cat /tmp/alice.add /tmp/bob.add)"
	echo "$a" >"$state/alice_id"
	echo "$b" >"$state/bob_id"
	# Given before add returned, not eventually.
	for n in "/dev/ublkc$a" "/dev/ublkb$a"; do
		[[ $(stat -c '%U %a' "$n") == 'alice 600' ]] || fail "$n is $(stat -c '%U:%G %a' "$n")"
	done
	[[ $(stat -c '%U %a' "/dev/ublkb$b") == 'bob 600' ]] || fail "/dev/ublkb$b is $(stat -c '%U:%G %a' "/dev/ublkb$b")"
	ublk list -n "$a" --json >/tmp/alice.json 2>&1 || fail "list -n $a: $(cat /tmp/alice.json)"
	grep -q "\"owner_uid\": $(uid_of alice)," /tmp/alice.json || fail "owner: $(cat /tmp/alice.json)"
	grep -q '"UNPRIVILEGED_DEV"' /tmp/alice.json || fail "not unprivileged: $(cat /tmp/alice.json)"
	local dir=/run/ublk/$(uid_of alice)
	[[ $(stat -c '%U %a' "$dir") == 'alice 700' ]] || fail "$dir is $(stat -c '%U:%G %a' "$dir")"
	[[ $(stat -c '%U' "$dir/$a.json") == alice ]] || fail "no state file of alice's in $dir: $(ls -la "$dir")"
	as alice fio --name=verify --filename="/dev/ublkb$a" --rw=randwrite --bs=4k --size=16M \
		--ioengine=psync --direct=1 --verify=crc32c --do_verify=1 --output=/tmp/fio.out ||
		{ cat /tmp/fio.out; fail "fio verify as alice"; }
	grep -q 'err= 0' /tmp/fio.out || { cat /tmp/fio.out; fail "fio reported errors"; }
	cat /tmp/alice.add
}

test_what_the_kernel_refuses_a_users_device_is_refused_in_one_line() {
	local before opt
	before=$(ublk_ids)
	for opt in "-z" "-r" "--usercopy"; do
		if as alice ublk add -t loop -f /home/alice/disk.img -d 8 $opt >/tmp/refused 2>&1; then
			fail "alice: add $opt succeeded"
		fi
		one_line /tmp/refused || fail "add $opt: $(cat /tmp/refused)"
		cat /tmp/refused
	done
	grep -q 'root' /tmp/refused || fail "the refusal does not say who may"
	truncate -s 16M /var/lib/root-only.img
	chmod 600 /var/lib/root-only.img
	if as alice ublk add -t loop -f /var/lib/root-only.img >/tmp/refused 2>&1; then
		fail "alice made a device of root's file"
	fi
	one_line /tmp/refused && grep -q 'cannot open' /tmp/refused || fail "root's file: $(cat /tmp/refused)"
	cat /tmp/refused
	[[ $(ublk_ids) == "$before" ]] || fail "a refused add left a device: $(ublk_ids)"
}

test_a_user_outside_group_ublk_is_told_how_to_get_access() {
	if as carol ublk add -t null >/tmp/carol 2>&1; then fail "carol added a device"; fi
	one_line /tmp/carol && grep -q 'group ublk' /tmp/carol || fail "carol was told: $(cat /tmp/carol)"
	cat /tmp/carol
}

test_another_user_can_touch_nothing_of_someone_elses_device() {
	local a pid
	a=$(cat "$state/alice_id")
	if as bob dd if="/dev/ublkb$a" of=/dev/null bs=4k count=1 2>/tmp/bob.dd; then fail "bob read alice's disk"; fi
	if as bob dd if="/dev/ublkc$a" of=/dev/null bs=4k count=1 2>>/tmp/bob.dd; then fail "bob opened alice's char device"; fi
	for cmd in "del -n $a" "stats -n $a" "list -n $a"; do
		# shellcheck disable=SC2086
		if as bob ublk $cmd >/tmp/bob.out 2>&1; then fail "bob: ublk $cmd succeeded"; fi
		one_line /tmp/bob.out && grep -q 'belongs to alice' /tmp/bob.out || fail "bob: ublk $cmd: $(cat /tmp/bob.out)"
		cat /tmp/bob.out
	done
	as bob ublk list >/tmp/bob.list 2>&1 || fail "bob: ublk list: $(cat /tmp/bob.list)"
	! grep -q "^dev id $a:" /tmp/bob.list || fail "bob's list shows alice's device"
	grep -q "^dev id $(cat "$state/bob_id"):" /tmp/bob.list || fail "bob's list lacks his own: $(cat /tmp/bob.list)"
	ublk list -n "$a" --json >/tmp/alice.json
	pid=$(sed -n 's/^ *"pid": \([0-9]*\),*$/\1/p' /tmp/alice.json | head -n1)
	[[ -n $pid ]] || fail "no server pid: $(cat /tmp/alice.json)"
	if as bob kill -TERM "$pid" 2>/dev/null; then fail "bob signalled alice's server $pid"; fi
	if as bob cat "/run/ublk/$(uid_of alice)/$a.json" >/dev/null 2>&1; then fail "bob reads alice's state file"; fi
	ublk list -n "$a" --json >/tmp/alice.json
	grep -q '"state": "LIVE"' /tmp/alice.json || fail "alice's device is not LIVE after bob's attempts"
	as alice ublk stats -n "$a" >/dev/null || fail "alice cannot read her own counters"
}

test_root_lists_and_deletes_every_users_device() {
	local a b
	a=$(cat "$state/alice_id") b=$(cat "$state/bob_id")
	ublk list >/tmp/root.list 2>&1 || fail "root: ublk list: $(cat /tmp/root.list)"
	grep -q "owner: $(uid_of alice):" /tmp/root.list || fail "root's list lacks alice's device: $(cat /tmp/root.list)"
	grep -q "owner: $(uid_of bob):" /tmp/root.list || fail "root's list lacks bob's device: $(cat /tmp/root.list)"
	ublk stats -n "$a" >/dev/null || fail "root: ublk stats -n $a"
	ublk del -n "$a" || fail "root: ublk del -n $a"
	ublk del -n "$b" || fail "root: ublk del -n $b"
	[[ ! -e /sys/class/ublk-char/ublkc$a && ! -e /sys/class/ublk-char/ublkc$b ]] || fail "left: $(ublk_ids)"
	[[ ! -e /run/ublk/$(uid_of alice)/$a.json ]] || fail "alice's state file left"
	[[ ! -e /run/ublk/$(uid_of bob)/$b.json ]] || fail "bob's state file left"
	# A user's del -a deletes their own devices, and nobody else's (root's
	# data device runs on).
	local before
	before=$(ublk_ids)
	as alice ublk add -t null -d 8 >/tmp/alice.add 2>&1 || { cat /tmp/alice.add; fail "alice: second add"; }
	a=$(added_id /tmp/alice.add)
	as alice ublk del -a || fail "alice: ublk del -a"
	[[ ! -e /sys/class/ublk-char/ublkc$a ]] || fail "alice's del -a left her device $a"
	[[ $(ublk_ids) == "$before" ]] || fail "alice's del -a changed others' devices: $before -> $(ublk_ids)"
}

test_a_users_loop_device_without_d_fits_the_locked_memory_limit() {
	local id depth
	as alice truncate -s 16M /home/alice/small.img
	# The common 8 MiB limit (this guest's may be higher).
	as alice prlimit --memlock=8388608:8388608 ublk add -t loop -f /home/alice/small.img --json \
		>/tmp/alice.small 2>/tmp/alice.small.err ||
		{ cat /tmp/alice.small /tmp/alice.small.err; fail "alice: ublk add -t loop without -d"; }
	grep -q 'locked-memory limit' /tmp/alice.small.err || fail "no note on the depth: $(cat /tmp/alice.small.err)"
	id=$(sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p' /tmp/alice.small)
	depth=$(sed -n 's/^ *"\(queue_\)\{0,1\}depth": \([0-9]*\),*$/\2/p' /tmp/alice.small | head -n1)
	[[ -n $id && -n $depth ]] && ((depth < 128)) || fail "add: $(cat /tmp/alice.small)"
	as alice dd if=/dev/zero of="/dev/ublkb$id" bs=64k count=16 oflag=direct 2>/dev/null || fail "alice: write"
	as alice ublk del -n "$id" || fail "alice: ublk del -n $id"
	cat /tmp/alice.small.err
}

test_a_user_serves_an_nbd_export_as_their_own_device() {
	local sock=/home/alice/nbd.sock pidfile=/home/alice/nbdkit.pid id
	as alice nbdkit --unix "$sock" -P "$pidfile" memory 64M ||
		fail "alice: nbdkit memory"
	as alice ublk add -t nbd -f "nbd+unix:///?socket=$sock" -d 8 >/tmp/alice.nbd 2>&1 ||
		{ cat /tmp/alice.nbd; kill "$(cat "$pidfile")"; fail "alice: ublk add -t nbd"; }
	id=$(added_id /tmp/alice.nbd)
	[[ $(stat -c '%U %a' "/dev/ublkb$id") == 'alice 600' ]] || fail "/dev/ublkb$id is $(stat -c '%U:%G %a' "/dev/ublkb$id")"
	as alice fio --name=verify --filename="/dev/ublkb$id" --rw=randwrite --bs=64k --size=16M \
		--ioengine=psync --direct=1 --verify=crc32c --do_verify=1 --output=/tmp/fio.out ||
		{ cat /tmp/fio.out; fail "fio verify as alice on nbd"; }
	grep -q 'err= 0' /tmp/fio.out || { cat /tmp/fio.out; fail "fio reported errors"; }
	as alice ublk del -n "$id" || fail "alice: ublk del -n $id"
	kill "$(cat "$pidfile")"
	cat /tmp/alice.nbd
}

unprivileged_tests() {
	local t
	for t in test_users_of_group_ublk_add_devices_whose_nodes_are_theirs \
		test_what_the_kernel_refuses_a_users_device_is_refused_in_one_line \
		test_a_user_outside_group_ublk_is_told_how_to_get_access \
		test_a_user_serves_an_nbd_export_as_their_own_device \
		test_a_users_loop_device_without_d_fits_the_locked_memory_limit \
		test_another_user_can_touch_nothing_of_someone_elses_device \
		test_root_lists_and_deletes_every_users_device; do
		run_test "$t" || break
	done
}
