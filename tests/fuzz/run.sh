#!/bin/bash
# Usage: run.sh [SECONDS] [HARNESS...]
#
# Builds the libFuzzer harnesses (clang, ASan+UBSan, -DUBLK_FUZZ=ON) in
# $UBLK_FUZZ_BUILD (default build-fuzz beside the sources) and runs each for
# SECONDS (default $UBLK_FUZZ_SECONDS, else 60) from a copy of its seed corpus
# tests/fuzz/corpus/NAME. Harnesses: options_fuzz (the ublk command line),
# state_fuzz (state-file and --spec JSON), nbd_fuzz (NBD URIs, the server's
# handshake bytes and reply headers). A crash, leak, timeout or sanitizer
# report fails the run; the reproducer is left in the work folder it names.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
seconds=${1:-${UBLK_FUZZ_SECONDS:-60}}
[[ $# -gt 0 ]] && shift
harnesses=("$@")
[[ ${#harnesses[@]} -gt 0 ]] || harnesses=(options_fuzz state_fuzz nbd_fuzz)
# Absolute: the harnesses run from their work folder.
build=$(realpath -m "${UBLK_FUZZ_BUILD:-$src/build-fuzz}")

CC=clang CXX=clang++ cmake -S "$src" -B "$build" -DUBLK_FUZZ=ON -DUBLK_WERROR=ON \
	-DUBLK_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${harnesses[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/ublk-fuzz.XXXXXX")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for h in "${harnesses[@]}"; do
	name=${h%_fuzz}
	mkdir -p "$work/$name"
	cp "$here/corpus/$name/"* "$work/$name/"
	echo "fuzz: $h for $seconds s"
	if (cd "$work" && "$build/bin/$h" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
		"$work/$name") >"$work/$h.log" 2>&1; then
		grep -E '^(stat::number_of_executed_units|#[0-9]+ *DONE)' "$work/$h.log" | sed "s/^/fuzz: $h: /"
	else
		failed=1
		echo "fuzz: $h FAILED; reproducer and log in $work" >&2
		tail -n 60 "$work/$h.log" >&2
	fi
done
if [[ $failed == 0 ]]; then rm -rf "$work"; fi
exit $failed
