#!/usr/bin/env bash
# The test suite behind `make test`: C unit tests (Check), then the
# black-box integration tests (pytest) that start their own PostgreSQL,
# the built ./tollgate and fake upstreams. Prints one summary; exits
# non-zero on any failure. Every process a test starts is stopped by the
# test fixtures, also when the test fails.
#
#   scripts/run-tests.sh [all|unit|integration] [pytest args...]
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build/release}
MODE=${1:-all}
shift || true

PY=/usr/bin/python3

# Everything the tests write (clusters, working directories, certificates)
# goes under one directory that is removed at the end, pass or fail. It
# must be traversable by the unprivileged users some tests run as.
TMPDIR=$(mktemp -d /tmp/tollgate-tests.XXXXXX)
chmod 755 "$TMPDIR"
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
unit_total=0
unit_failed=()
integ_rc=0
integ_ran=0

if [ -n "${SANITIZE:-}" ]; then
	export ASAN_OPTIONS="abort_on_error=0:detect_leaks=1:${ASAN_OPTIONS:-}"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
	export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
fi

if [ "$MODE" = all ] || [ "$MODE" = unit ]; then
	echo "== unit tests"
	while IFS= read -r t; do
		unit_total=$((unit_total + 1))
		if ! CK_FORK=yes "$t"; then
			unit_failed+=("${t#"$BUILD"/tests/}")
		fi
	done < <(find "$BUILD/tests" -type f -name 'test_*' -perm -u+x \
	    2>/dev/null | sort)
	echo "== fuzz corpus replays"
	while IFS= read -r f; do
		name=$(basename "$f")
		unit_total=$((unit_total + 1))
		if ! "$f" "tests/fuzz/corpus/${name#fuzz_}"; then
			unit_failed+=("fuzz/$name")
		fi
	done < <(find "$BUILD/fuzz" -type f -name 'fuzz_*' -perm -u+x \
	    ! -name '*.d' 2>/dev/null | sort)
fi

if [ "$MODE" = all ] || [ "$MODE" = integration ]; then
	echo "== integration tests"
	integ_ran=1
	# Tests spend most of their time waiting on sockets and timers, and
	# each pytest-xdist worker has its own PostgreSQL: run them in
	# parallel (TOLLGATE_TEST_JOBS=1 for one at a time).
	jobs=()
	if [ "${TOLLGATE_TEST_JOBS:-3}" -gt 1 ] &&
	    "$PY" -c "import xdist" 2>/dev/null; then
		jobs=(-n "${TOLLGATE_TEST_JOBS:-3}")
	fi
	# The whole directory unless the arguments name tests of their own
	# (pytest would run those on top of the whole directory).
	where=(tests/integration)
	for a in "$@"; do
		case $a in
		tests/*|./tests/*) where=() ;;
		esac
	done
	TOLLGATE_BIN="$ROOT/tollgate" TOLLGATE_SANITIZE="${SANITIZE:-}" \
	    "$PY" -m pytest -p no:cacheprovider -q -rfE "${jobs[@]}" \
	    "${where[@]}" "$@"
	integ_rc=$?
fi

echo
echo "== summary"
if [ "$MODE" = all ] || [ "$MODE" = unit ]; then
	echo "unit:        $((unit_total - ${#unit_failed[@]}))/$unit_total programs passed"
	for f in "${unit_failed[@]}"; do
		echo "  FAILED $f"
	done
fi
if [ "$integ_ran" = 1 ]; then
	if [ "$integ_rc" -eq 0 ]; then
		echo "integration: passed"
	else
		echo "integration: FAILED (pytest exit $integ_rc)"
	fi
fi

if [ ${#unit_failed[@]} -ne 0 ] || [ "$integ_rc" -ne 0 ]; then
	echo "RESULT: FAIL"
	exit 1
fi
echo "RESULT: PASS"
