# Hostile and wrong input: an unsafe state directory, corrupt or hand-edited
# state files and a hand-edited backing path are refused or reported, never
# trusted, and nothing crashes.

hostile_nothing_created() {
	[[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]] || fail "a device was created: $(ls /sys/class/ublk-char)"
	[[ $(pgrep -x ublk-server | wc -l) == 0 ]] || fail "a server process is running"
}

# hostile_list_reports ID PATTERN: `ublk list` still lists device ID (exit 0)
# and reports its state file on stderr with a line matching PATTERN.
hostile_list_reports() {
	local id=$1 pattern=$2 out err
	out=$(ublk list 2>/tmp/hostile_err) || fail "ublk list failed: $(cat /tmp/hostile_err)"
	err=$(cat /tmp/hostile_err)
	[[ $err =~ $pattern ]] || fail "ublk list said '$err', expected '$pattern'"
	echo "$out" | grep -A1 "^dev id $id: " | grep -q "state LIVE$" || fail "ublk list lost device $id: $out"
	ublk list --json >/dev/null 2>&1 || fail "ublk list --json failed"
	echo "ok: list -> $err"
}

# hostile_edit ID SED-EXPRESSION: edits the state file in place (same owner
# and mode, as a root user with an editor would).
hostile_edit() {
	local f=/run/ublk/$1.json text
	text=$(sed -e "$2" "$f")
	printf '%s\n' "$text" >"$f"
}

test_unsafe_state_directory_is_refused_before_creating_a_device() {
	trap 'rm -rf /run/ublk /tmp/hostile-dir' EXIT
	rm -rf /run/ublk
	mkdir -m 1777 /run/ublk
	chmod 1777 /run/ublk
	expect_error "state directory /run/ublk is unsafe: writable by group or others \(mode 1777\)" \
		ublk add -t null
	hostile_nothing_created
	chmod 0775 /run/ublk
	expect_error "state directory /run/ublk is unsafe: writable by group or others" ublk add -t null
	chmod 0755 /run/ublk
	chown 65534:65534 /run/ublk
	expect_error "state directory /run/ublk is unsafe: owned by uid 65534" ublk add -t null
	rmdir /run/ublk
	mkdir -m 0755 /tmp/hostile-dir
	ln -s /tmp/hostile-dir /run/ublk
	expect_error "state directory /run/ublk is unsafe: it is a symlink" ublk add -t null
	hostile_nothing_created
	rm -f /run/ublk
	# A missing one is created root-owned 0755.
	local id
	id=$(add_dev -t null)
	[[ $(stat -c '%a %u %F' /run/ublk) == "755 0 directory" ]] ||
		fail "/run/ublk is $(stat -c '%a %u %F' /run/ublk)"
	[[ -f /run/ublk/$id.json && ! -e /run/ublk/$id.json.tmp ]] || fail "no state file for device $id"
	[[ $(stat -c '%a %u' "/run/ublk/$id.json") == "644 0" ]] || fail "state file mode $(stat -c '%a %u' "/run/ublk/$id.json")"
	ublk del -n "$id"
	wait_until 10 dev_gone "$id" || fail "device $id not removed"
}

test_corrupt_or_hand_edited_state_file_is_reported_by_list_and_del() {
	local id f good
	id=$(add_dev -t null --size 64M)
	f=/run/ublk/$id.json
	good=$(cat "$f")
	grep -q '"pid"' "$f" || fail "state file has no pid: $good"

	head -c 40 "$f" >/tmp/hostile_part && cat /tmp/hostile_part >"$f"
	hostile_list_reports "$id" "device $id: state file $f not trusted: not valid JSON"
	head -c 300 /dev/urandom >"$f"
	hostile_list_reports "$id" "state file $f not trusted"
	: >"$f"
	hostile_list_reports "$id" "state file $f not trusted: not valid JSON"

	printf '%s\n' "$good" >"$f"
	hostile_edit "$id" 's/"pid": \([0-9]*\)/"pid": "\1"/'
	hostile_list_reports "$id" "not trusted: field \"pid\" must be a whole number"
	printf '%s\n' "$good" >"$f"
	hostile_edit "$id" 's/"type": "null"/"type": "floppy"/'
	hostile_list_reports "$id" "unknown target type 'floppy'"
	printf '%s\n' "$good" >"$f"
	hostile_edit "$id" 's/"depth": [0-9]*/"depth": 99999/'
	hostile_list_reports "$id" "field \"depth\" must be a whole number up to"
	printf '%s\n' "$good" >"$f"
	hostile_edit "$id" "s/\"dev_id\": $id/\"dev_id\": $((id + 7))/"
	hostile_list_reports "$id" "not trusted"
	printf '%s\n' "$good" >"$f"
	hostile_edit "$id" '/"data_path"/d'
	hostile_list_reports "$id" "missing field \"data_path\""
	printf '%s\n' "$good" >"$f"
	chmod 0666 "$f"
	hostile_list_reports "$id" "writable by group or others; not trusted"
	rm -f "$f"
	printf '%s\n' "$good" >/tmp/hostile_state.json
	ln -s /tmp/hostile_state.json "$f"
	hostile_list_reports "$id" "state file $f is a symlink; not trusted"
	rm -f "$f" /tmp/hostile_state.json

	# A bad state file for del: reported, and the device still goes.
	printf '%s\n' "$good" >"$f"
	hostile_edit "$id" 's/"pid": \([0-9]*\)/"pid": -1/'
	local err
	ublk del -n "$id" 2>/tmp/hostile_err || fail "ublk del failed: $(cat /tmp/hostile_err)"
	err=$(cat /tmp/hostile_err)
	[[ $err =~ "device $id: state file $f not trusted".*"deleting without it" ]] ||
		fail "ublk del said '$err'"
	wait_until 10 dev_gone "$id" || fail "device $id not removed"
	wait_until 10 no_servers || fail "the server did not stop"
	rm -f /tmp/hostile_part /tmp/hostile_err
}

test_hand_edited_backing_path_is_detected() {
	local id f
	truncate -s 64M /tmp/hostile-a.img
	truncate -s 64M /tmp/hostile-b.img
	id=$(add_dev -t loop -f /tmp/hostile-a.img)
	f=/run/ublk/$id.json
	grep -q '"backing"' "$f" || fail "no backing identity recorded: $(cat "$f")"
	grep -q '"kind": "file"' "$f" || fail "backing identity is not a file's: $(cat "$f")"
	ublk list 2>/tmp/hostile_err >/dev/null || fail "ublk list failed"
	[[ ! -s /tmp/hostile_err ]] || fail "list complained about a good state file: $(cat /tmp/hostile_err)"

	hostile_edit "$id" 's|"file": "/tmp/hostile-a.img"|"file": "/tmp/hostile-b.img"|'
	hostile_list_reports "$id" "device $id: backing file /tmp/hostile-b.img is not the one the device was created on"
	ublk list --json 2>/dev/null | grep -q '"backing_error"' || fail "list --json has no backing_error"
	# Replacing the file behind the recorded path is caught too.
	hostile_edit "$id" 's|"file": "/tmp/hostile-b.img"|"file": "/tmp/hostile-a.img"|'
	mv /tmp/hostile-b.img /tmp/hostile-a.img.new
	mv /tmp/hostile-a.img.new /tmp/hostile-a.img
	hostile_list_reports "$id" "backing file /tmp/hostile-a.img is not the one the device was created on"
	ublk del -n "$id"
	wait_until 10 dev_gone "$id" || fail "device $id not removed"
	rm -f /tmp/hostile-a.img /tmp/hostile-b.img /tmp/hostile_err
}
