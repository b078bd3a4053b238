# Live metrics: `ublk stats` counts exactly what the device served, errors by
# errno, and its Prometheus text is valid.

# stat_sum ID METRIC OP: METRIC's value for operation OP, summed over the
# queues, from `ublk stats --prometheus` (0 when the op has no series yet).
stat_sum() {
	ublk stats -n "$1" --prometheus | awk -v m="$2" -v op="op=\"$3\"" '
		index($0, m "{") == 1 && index($0, op) { s += $NF }
		END { printf "%d\n", s }'
}

# stat_errno ID ERRNO: failures with ERRNO ("ENOSPC"), summed over the queues.
stat_errno() {
	ublk stats -n "$1" --prometheus | awk -v e="errno=\"$2\"" '
		index($0, "ublk_errors_total{") == 1 && index($0, e) { s += $NF }
		END { printf "%d\n", s }'
}

# prom_check: reads the Prometheus text exposition format (0.0.4) on stdin
# and checks its grammar (metric and label names, quoted and escaped label
# values, numeric values), that each family's TYPE comes before its samples
# and its samples are together, that counters end in _total, and for every
# histogram series that le increases, the buckets are cumulative, the +Inf
# bucket equals _count, _sum exists, and _count equals ublk_requests_total
# with the same labels.
prom_check() {
	awk '
	function bad(msg) { print "prometheus line " NR ": " msg ": " $0 > "/dev/stderr"; failed = 1; exit 1 }
	/^# HELP / { if (help[$3]++) bad("second HELP"); next }
	/^# TYPE / {
		if ($3 in type) bad("second TYPE")
		if ($4 !~ /^(counter|gauge|histogram|summary|untyped)$/) bad("bad type")
		if ($3 in seen) bad("TYPE after samples")
		type[$3] = $4; next
	}
	/^#/ || /^$/ { next }
	{
		if (!match($0, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) bad("bad metric name")
		name = substr($0, 1, RLENGTH); rest = substr($0, RLENGTH + 1); labels = ""
		if (substr(rest, 1, 1) == "{") {
			if (!match(rest, /^\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\[\\"n])*",?)*\}/)) bad("bad labels")
			labels = substr(rest, 2, RLENGTH - 2); rest = substr(rest, RLENGTH + 1)
		}
		if (rest !~ /^ ([-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]Inf|NaN)( -?[0-9]+)?$/) bad("bad value")
		value = substr(rest, 2)
		family = name; suffix = ""
		if (name ~ /_(bucket|sum|count)$/) {
			base = name; sub(/_(bucket|sum|count)$/, "", base)
			if (type[base] == "histogram") { family = base; suffix = substr(name, length(base) + 2) }
		}
		if (!(family in type)) bad("sample before its TYPE")
		if (family != current) { if (family in done) bad("family split"); done[current] = 1; current = family }
		seen[family] = 1
		if (type[family] == "counter") {
			if (family !~ /_total$/) bad("counter not named _total")
			counter[family "{" labels "}"] = value
		}
		if (type[family] != "histogram") next
		le = ""
		if (match(labels, /(^|,)le="[^"]*"/)) {
			le = substr(labels, RSTART, RLENGTH); sub(/^,?le="/, "", le); sub(/"$/, "", le)
			labels = substr(labels, 1, RSTART - 1) substr(labels, RSTART + RLENGTH)
		}
		key = family "{" labels "}"; series[key] = labels
		if (suffix == "bucket") {
			if (le == "") bad("bucket without le")
			if (key in inf) bad("bucket after +Inf")
			if (le == "+Inf") inf[key] = value
			else { if ((key in lastle) && le + 0 <= lastle[key]) bad("le not increasing"); lastle[key] = le + 0 }
			if ((key in lastc) && value + 0 < lastc[key]) bad("buckets not cumulative")
			lastc[key] = value + 0
		} else if (suffix == "sum") sum[key] = 1
		else if (suffix == "count") cnt[key] = value
		else bad("histogram sample of another name")
	}
	END {
		if (failed) exit 1
		for (k in series) {
			if (!(k in inf)) { print "no +Inf bucket: " k > "/dev/stderr"; exit 1 }
			if (!(k in sum) || !(k in cnt)) { print "no _sum or _count: " k > "/dev/stderr"; exit 1 }
			if (inf[k] != cnt[k]) { print "+Inf bucket != _count: " k > "/dev/stderr"; exit 1 }
			r = "ublk_requests_total{" series[k] "}"
			if (!(r in counter) || counter[r] != cnt[k]) { print "_count != " r > "/dev/stderr"; exit 1 }
			n++
		}
		print "prometheus text valid: " NR " lines, " n " histograms"
	}'
}

# stats_count_fio ID: fio issues a known number of reads and writes of two
# sizes; the device's counters grow by exactly that, bytes too.
stats_count_fio() {
	local id=$1 r0 w0 rb0 wb0 f
	r0=$(stat_sum "$id" ublk_requests_total read)
	w0=$(stat_sum "$id" ublk_requests_total write)
	rb0=$(stat_sum "$id" ublk_bytes_total read)
	wb0=$(stat_sum "$id" ublk_bytes_total write)
	f=(--filename=/dev/ublkb"$id" --ioengine=io_uring --direct=1 --numjobs=1 --iodepth=4 --size=32M)
	fio_ok --name=w4k --rw=randwrite --bs=4k --number_ios=300 "${f[@]}"
	fio_ok --name=r4k --rw=randread --bs=4k --number_ios=500 "${f[@]}"
	fio_ok --name=r64k --rw=randread --bs=64k --number_ios=100 "${f[@]}"
	ublk stats -n "$id"
	[[ $(($(stat_sum "$id" ublk_requests_total read) - r0)) == 600 ]] ||
		fail "reads counted: $(($(stat_sum "$id" ublk_requests_total read) - r0)), fio issued 600"
	[[ $(($(stat_sum "$id" ublk_requests_total write) - w0)) == 300 ]] ||
		fail "writes counted: $(($(stat_sum "$id" ublk_requests_total write) - w0)), fio issued 300"
	[[ $(($(stat_sum "$id" ublk_bytes_total read) - rb0)) == $((500 * 4096 + 100 * 65536)) ]] ||
		fail "read bytes counted: $(($(stat_sum "$id" ublk_bytes_total read) - rb0))"
	[[ $(($(stat_sum "$id" ublk_bytes_total write) - wb0)) == $((300 * 4096)) ]] ||
		fail "write bytes counted: $(($(stat_sum "$id" ublk_bytes_total write) - wb0))"
	[[ $(stat_sum "$id" ublk_request_errors_total read) == 0 ]] || fail "read errors counted"
	ublk stats -n "$id" --prometheus | prom_check || fail "invalid Prometheus text"
}

test_stats_count_exactly_what_fio_issued_on_null_with_two_queues() {
	local id
	need_tools fio
	id=$(add_dev -t null -q 2 --size 1G)
	stats_count_fio "$id"
	ublk del -n "$id"
	[[ ! -e /run/ublk/$id.metrics ]] || fail "del left the metrics file"
}

test_stats_count_exactly_what_fio_issued_on_loop() {
	local id
	need_tools fio
	truncate -s 64M /tmp/stats.img
	id=$(add_dev -t loop -f /tmp/stats.img)
	stats_count_fio "$id"
	ublk del -n "$id"
	rm -f /tmp/stats.img
}

stats_small_fs_down() {
	umount /tmp/stats-small 2>/dev/null || true
	rmdir /tmp/stats-small 2>/dev/null || true
}

test_stats_count_backend_errors_by_errno() {
	local id out
	need_tools dd
	trap stats_small_fs_down EXIT
	# A 16M backing file on a 1M file system: writes past what fits fail
	# with ENOSPC in the backend.
	mkdir -p /tmp/stats-small
	mount -t tmpfs -o size=1M tmpfs /tmp/stats-small
	truncate -s 16M /tmp/stats-small/full.img
	id=$(add_dev -t loop -f /tmp/stats-small/full.img)
	if dd if=/dev/zero of=/dev/ublkb"$id" bs=64k count=64 oflag=direct 2>/dev/null; then
		fail "4M of writes fitted on a 1M file system"
	fi
	out=$(ublk stats -n "$id")
	echo "$out"
	(($(stat_sum "$id" ublk_request_errors_total write) > 0)) || fail "no write errors counted"
	(($(stat_errno "$id" ENOSPC) > 0)) || fail "no ENOSPC counted"
	[[ $out == *"errors: "*"ENOSPC"* ]] || fail "the text does not name ENOSPC"
	ublk stats -n "$id" --prometheus | prom_check || fail "invalid Prometheus text"
	ublk del -n "$id"
}

test_stats_text_json_and_watch_reports() {
	local id out
	id=$(add_dev -t null --size 1G --name stats-me)
	dd if=/dev/ublkb"$id" of=/dev/null bs=4k count=100 iflag=direct 2>/dev/null || fail "reads"
	out=$(ublk stats --name stats-me)
	echo "$out"
	[[ $out == *"dev $id (stats-me)"* && $out == *read* ]] || fail "text report"
	out=$(ublk stats -n "$id" --json)
	[[ $out == *'"dev_id": '"$id"* && $out == *'"p99"'* && $out == *'"in_flight"'* ]] || fail "JSON report: $out"
	# --watch reports until interrupted: one at once, then one a second.
	out=$(timeout 3 ublk stats -n "$id" --watch 1) || true
	echo "$out"
	(($(echo "$out" | grep -c "^dev $id ") >= 2)) || fail "--watch did not repeat"
	# Without -n: every device with metrics.
	ublk stats --prometheus | prom_check || fail "invalid Prometheus text"
	ublk del -n "$id"
}

test_stats_refuses_unknown_devices_and_devices_without_metrics() {
	local id
	expect_error "^ublk: device 99 does not exist$" ublk stats -n 99
	expect_error "^ublk: no device is named 'nope'" ublk stats --name nope
	id=$(add_dev -t null --size 1G --metrics=off)
	[[ ! -e /run/ublk/$id.metrics ]] || fail "--metrics=off made a metrics file"
	expect_error "^ublk: device $id has no metrics" ublk stats -n "$id"
	expect_error "^ublk: device $id has no metrics" ublk stats -n "$id" --prometheus
	ublk del -n "$id"
	expect_error "^ublk: --metrics maybe: must be on or off$" ublk add -t null --metrics maybe
}

test_stats_a_recovered_device_counts_afresh() {
	local id pid out
	id=$(add_dev -t null --size 1G -r)
	dd if=/dev/ublkb"$id" of=/dev/null bs=4k count=50 iflag=direct 2>/dev/null || fail "reads"
	(($(stat_sum "$id" ublk_requests_total read) >= 50)) || fail "reads not counted"
	pid=$(server_pid "$id")
	kill -9 "$pid"
	wait_until 20 bash -c "! kill -0 $pid 2>/dev/null" || fail "server did not die"
	expect_error "^ublk: device $id: its server \(pid $pid\) is not running; no live metrics" \
		ublk stats -n "$id"
	ublk recover -n "$id" >/dev/null || fail "recover"
	out=$(ublk stats -n "$id" --json)
	[[ $out == *'"pid": '"$(server_pid "$id")"* ]] || fail "stats not from the new server: $out"
	[[ $(stat_sum "$id" ublk_requests_total read) == 0 ]] || fail "the new server did not start from zero"
	dd if=/dev/ublkb"$id" of=/dev/null bs=4k count=10 iflag=direct 2>/dev/null || fail "reads"
	[[ $(stat_sum "$id" ublk_requests_total read) == 10 ]] || fail "reads after recovery not counted"
	ublk del -n "$id"
}

# file_reads FILE: reads counted in a Prometheus text file, over the queues.
file_reads() {
	awk 'index($0, "ublk_requests_total{") == 1 && index($0, "op=\"read\"") { s += $NF }
		END { printf "%d\n", s }' "$1"
}
file_has_reads() { [[ $(file_reads "$1") == "$2" ]]; }

test_stats_metrics_file_for_node_exporter_is_rewritten_and_removed() {
	local id f=/tmp/ublk-node.prom before
	id=$(add_dev -t null --size 1G --metrics-file "$f")
	[[ -f $f ]] || fail "add did not write $f"
	prom_check <"$f" || fail "invalid Prometheus text in $f"
	before=$(stat_sum "$id" ublk_requests_total read)
	dd if=/dev/ublkb"$id" of=/dev/null bs=4k count=20 iflag=direct 2>/dev/null || fail "reads"
	# Rewritten every 10 s.
	wait_until 25 file_has_reads "$f" $((before + 20)) ||
		fail "$f not rewritten: $(file_reads "$f") reads, expected $((before + 20))"
	prom_check <"$f" || fail "invalid Prometheus text in $f"
	ublk del -n "$id"
	[[ ! -e $f ]] || fail "del left $f"
	expect_error "^ublk: .*--metrics-file.*/nonexistent/m\.prom.*No such file" \
		ublk add -t null --metrics-file /nonexistent/m.prom
	expect_error "^ublk: --metrics-file m.prom: must be an absolute path$" \
		ublk add -t null --metrics-file m.prom
	expect_error "^ublk: --metrics-file: not with --metrics=off$" \
		ublk add -t null --metrics-file "$f" --metrics=off
}
