#!/usr/bin/env bash
# The ledger consistency check (ledger_check() in sql/): cached balances
# equal their entries, every transaction balances, and what later
# migrations add (holds, usage records). Prints each problem; exits 1 on
# any, 0 when the ledger is consistent.
set -euo pipefail
URL=${TOLLGATE_DATABASE_URL:-}
if [ -z "$URL" ]; then
	echo "check-ledger: TOLLGATE_DATABASE_URL is not set" >&2
	exit 1
fi
out=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$URL" \
    -c "SELECT problem FROM ledger_check()")
if [ -n "$out" ]; then
	echo "$out" | sed 's/^/check-ledger: /'
	echo "check-ledger: FAILED"
	exit 1
fi
echo "check-ledger: consistent"
