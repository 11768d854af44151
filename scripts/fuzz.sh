#!/usr/bin/env bash
# Runs libFuzzer harnesses (make fuzz builds them): each for FUZZ_SECONDS
# over a scratch copy of its seed corpus tests/fuzz/corpus/<name>/, so the
# inputs it discovers never dirty the repository. FUZZ_JOBS run at once.
# Any crash, leak, UB report or a single input running over 30 s fails the harness; the run exits
# non-zero naming every failed harness, with the reproducer's path.
#
#   scripts/fuzz.sh build/fuzz/bin/fuzz_qs ...
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}
work=build/fuzz/run
rm -rf "$work"
mkdir -p "$work"

# One harness: prints nothing on success, its log's tail on failure.
run_one() {
	local bin=$1 name dir rc
	name=$(basename "$bin")
	dir=$work/${name#fuzz_}
	mkdir -p "$dir/corpus" "$dir/crash"
	if [ -d "tests/fuzz/corpus/${name#fuzz_}" ]; then
		cp -R "tests/fuzz/corpus/${name#fuzz_}/." "$dir/corpus/"
	fi
	rc=0
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    "$bin" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$dir/crash/" \
	    "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "$name" >"$dir/failed"
		echo "FAIL $name (exit $rc); log $dir/log; input:" \
		    "$(ls "$dir"/crash/* 2>/dev/null | head -n 1)"
		grep -E "ERROR: |runtime error|SUMMARY" "$dir/log" |
		    head -n 5 | sed 's/^/    /'
		return 1
	fi
	echo "ok   $name: $(grep -m1 -E '^stat::number_of_executed_units' \
	    "$dir/log" | awk '{print $2}') runs in ${seconds}s"
}
export -f run_one
export work seconds

echo "== fuzzing $# harnesses, ${seconds}s each, $jobs at a time"
failed=0
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$1"' _ {} ||
    failed=1

if [ "$failed" -ne 0 ]; then
	echo "fuzz: FAILED:" $(cat "$work"/*/failed 2>/dev/null)
	exit 1
fi
echo "fuzz: all $# harnesses clean"
