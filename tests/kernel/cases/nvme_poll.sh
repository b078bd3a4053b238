# nvme --poll: the NVMe commands go to the controller's poll queues through a
# second, IOPOLL ring per queue. The VM boots with nvme.poll_queues=1.

# io_irqs CTRL: interrupts taken so far by the I/O queues (not the admin
# queue) of NVMe controller CTRL (nvme0 ...), from /proc/interrupts. Poll
# queues have no interrupt: commands sent to them complete without one.
io_irqs() {
	awk -v q="^$1q[1-9][0-9]*$" '$NF ~ q { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) n += $i } END { print n + 0 }' /proc/interrupts
}

need_poll_queues() {
	need_nvme "$1"
	[[ $(cat /sys/block/"$(basename "$(nvme_blk "$1")")"/queue/io_poll) == 1 ]] ||
		skip "the controller of ublktest$1 has no poll queues (boot with nvme.poll_queues=1)"
}

# poll_verify N QUEUES BS BYTES: fio crc32c verify through a polled device on
# namespace N, and proof that the commands went to a poll queue.
poll_verify() {
	local n=$1 queues=$2 bs=$3 bytes=$4 id blk ctrl before after out
	blk=$(basename "$(nvme_blk "$n")")
	ctrl=${blk%n[0-9]*}
	out=$(ublk add -t nvme -f "$(nvme_ng "$n")" -q "$queues" --poll --json) || fail "ublk add --poll"
	id=$(echo "$out" | sed -n 's/^ *"dev_id": \([0-9]*\),*$/\1/p')
	echo "$out" | grep -q '"poll": true' || fail "add --json does not say \"poll\": true: $out"
	echo "$out" | grep -q '"data_path": "copy"' || fail "--poll did not choose copy mode: $out"
	ublk list -n "$id" --json | grep -q '"poll": true' || fail "list --json does not say \"poll\": true"
	ublk list -n "$id" | grep -q 'polled backend I/O' || fail "list does not say polled"
	before=$(io_irqs "$ctrl")
	fio_verify /dev/ublkb"$id" "$bs" "$queues"
	after=$(io_irqs "$ctrl")
	# 64 MiB written and read back per job: at least 2 * 64M / bs commands,
	# each of which would have taken an interrupt on an interrupt queue.
	local cmds=$((2 * 64 * 1024 * 1024 * queues / bytes))
	echo "$ctrl I/O queue interrupts during $cmds commands: $((after - before))"
	((after - before < cmds / 10)) || fail "the commands completed by interrupt, not on the poll queue"
	ublk del -n "$id"
}

test_nvme_poll_fio_verify_on_512_byte_lbas_one_and_two_queues() {
	need_poll_queues 0
	# The counter means something: without --poll every read takes one.
	local id before after ctrl
	ctrl=$(basename "$(nvme_blk 0)")
	ctrl=${ctrl%n[0-9]*}
	id=$(add_dev -t nvme -f "$(nvme_ng 0)" --zero-copy=off)
	before=$(io_irqs "$ctrl")
	dd if=/dev/ublkb"$id" of=/dev/null bs=4k count=1000 iflag=direct 2>/dev/null || fail "dd"
	after=$(io_irqs "$ctrl")
	echo "$ctrl I/O queue interrupts during 1000 reads without --poll: $((after - before))"
	((after - before >= 500)) || fail "reads without --poll took no interrupts: the counter proves nothing"
	ublk del -n "$id"
	poll_verify 0 1 4k 4096
	poll_verify 0 2 64k 65536
}

test_nvme_poll_fio_verify_on_4096_byte_lbas_one_and_two_queues() {
	need_poll_queues 1
	poll_verify 1 1 4k 4096
	poll_verify 1 2 128k 131072
}

test_nvme_poll_completions_are_reaped_by_polling() {
	need_poll_queues 0
	local id line lines before polled=0
	before=$(wc -l </tmp/ublk-tests-syslog 2>/dev/null || echo 0)
	id=$(add_dev -t nvme -f "$(nvme_ng 0)" --poll)
	fio_ok --name=r --filename=/dev/ublkb"$id" --rw=randread --bs=4k --iodepth=8 \
		--ioengine=io_uring --direct=1 --size=16M --io_size=8M
	ublk del -n "$id"
	# The server logs every queue thread's exit line, then "deleted".
	wait_until 10 eval 'tail -n +$((before + 1)) /tmp/ublk-tests-syslog | grep -q "dev $id: deleted"' ||
		fail "the server logged no deletion"
	# One exit line per thread serving the queue (two with --threads 2).
	lines=$(tail -n +$((before + 1)) /tmp/ublk-tests-syslog | grep "dev $id queue 0: exit")
	[[ -n $lines ]] || fail "the queue logged no exit"
	while read -r line; do
		echo "$line" | sed 's/.*: dev/dev/'
		[[ $line =~ ,\ ([0-9]+)\ polled\ completions ]] || fail "no polled completions counter in the server's log"
		polled=$((polled + BASH_REMATCH[1]))
	done <<<"$lines"
	((polled >= 2048)) || fail "only $polled polled completions for 2048 reads"
}

test_nvme_poll_refuses_zero_copy_user_copy_and_metadata() {
	need_poll_queues 0
	# A kernel without zero copy refuses -z before the target is asked.
	local zc='cannot go with zero copy|needs the ublk feature AUTO_BUF_REG|needs ublk buffer registration'
	expect_error "$zc" ublk add -t nvme -f "$(nvme_ng 0)" --poll -z
	expect_error "$zc" ublk add -t nvme -f "$(nvme_ng 0)" --poll --zero-copy=explicit
	expect_error 'only in plain copy mode' ublk add -t nvme -f "$(nvme_ng 0)" --poll --usercopy
	expect_error 'not an option of the loop target' ublk add -t loop -f /tmp/x --poll
	expect_error 'not an option of the null target' ublk add -t null --poll
	need_nvme 2
	expect_error 'has metadata' ublk add -t nvme -f "$(nvme_ng 2)" --poll
	need_nvme 3
	expect_error 'is zoned, which is served by zero copy or user copy' ublk add -t nvme -f "$(nvme_ng 3)" --poll
	nothing_created
}

# set_poll_queues CTRL N: the nvme driver reads poll_queues again when a
# controller resets, so the refusal needs no second boot.
set_poll_queues() {
	echo "$2" >/sys/module/nvme/parameters/poll_queues || return 1
	echo 1 >/sys/class/nvme/"$1"/reset_controller || return 1
	wait_until 30 eval "[[ \$(cat /sys/block/$3/queue/io_poll 2>/dev/null) == $4 ]]"
}

test_nvme_poll_refused_when_the_controller_has_no_poll_queues() {
	need_poll_queues 0
	[[ -w /sys/module/nvme/parameters/poll_queues ]] || skip "nvme's poll_queues parameter is not writable"
	local blk ctrl out rc=0
	blk=$(basename "$(nvme_blk 0)")
	ctrl=${blk%n[0-9]*}
	set_poll_queues "$ctrl" 0 "$blk" 0 || fail "$ctrl kept its poll queues after a reset with poll_queues=0"
	wait_until 30 test -e "$(nvme_ng 0)" || fail "$(nvme_ng 0) did not come back"
	expect_error "^ublk: --poll: $blk has no poll queues \(boot with nvme.poll_queues=N\)$" \
		ublk add -t nvme -f "$(nvme_ng 0)" --poll
	# What a polled passthrough command does on such a controller (why we
	# refuse rather than let it run): printed, not asserted.
	out=$(fio --name=p --filename="$(nvme_ng 0)" --ioengine=io_uring_cmd --cmd_type=nvme \
		--hipri --rw=randread --bs=4k --size=4M --io_size=1M 2>&1) || rc=$?
	echo "fio io_uring_cmd --hipri without poll queues: exit $rc"
	echo "$out" | grep -E 'err=|read:|error' | head -n 3
	set_poll_queues "$ctrl" 1 "$blk" 1 || fail "$ctrl has no poll queue again after a reset with poll_queues=1"
	wait_until 30 test -e "$(nvme_ng 0)" || fail "$(nvme_ng 0) did not come back"
}

# The option is in the state file's spec: the new server polls too.
test_nvme_poll_restart_under_fio_verify_keeps_polling() {
	need_poll_queues 0
	# Without QUIESCE (6.12) restart ends the old server with commands in
	# flight; the teardown of its IOPOLL ring then spins in a kernel worker
	# (soft lockup, seen on 6.12.107) and the guest never recovers.
	rec_has QUIESCE || skip "restarting a polled device without QUIESCE hangs the kernel (6.12 soft lockup in the IOPOLL ring's teardown)"
	local id
	id=$(add_dev -t nvme -f "$(nvme_ng 0)" -r --poll)
	svc_restart_under_fio /dev/ublkb"$id" "$id"
	ublk list -n "$id" --json | grep -q '"poll": true' || fail "the restarted device lost --poll"
	grep "ublk-server\[$(server_pid "$id")\].*polled ring IOPOLL" /tmp/ublk-tests-syslog ||
		fail "the new server has no polled ring"
	ublk del -n "$id"
}
