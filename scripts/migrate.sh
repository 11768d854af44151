#!/usr/bin/env bash
# Apply the migrations of sql/ (NNNN_name.sql, in order) to
# TOLLGATE_DATABASE_URL: each one once, each in one transaction together
# with its row in schema_migrations, under an advisory lock so that two
# migrators never interleave. A failing migration is rolled back whole
# and stops the run. An applied migration whose file has changed since
# is an error: write a new migration instead.
#
# Migration files must not contain BEGIN/COMMIT themselves.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${TOLLGATE_MIGRATIONS_DIR:-$ROOT/sql}
URL=${TOLLGATE_DATABASE_URL:-}
if [ -z "$URL" ]; then
	echo "migrate: TOLLGATE_DATABASE_URL is not set" >&2
	exit 1
fi

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$URL")

applied=0
for f in "$DIR"/*.sql; do
	[ -e "$f" ] || continue
	name=$(basename "$f" .sql)
	if ! [[ $name =~ ^[0-9]{4}_[a-z0-9_]+$ ]]; then
		echo "migrate: bad migration file name: $(basename "$f")" >&2
		exit 1
	fi
	sum=$(sha256sum "$f" | cut -d' ' -f1)

	out=$("${PSQL[@]}" -v version="$name" -v checksum="$sum" \
	    -v file="$f" -f - 2>&1 <<'SQL'
\set QUIET on
BEGIN;
SELECT pg_advisory_xact_lock(7314470123);
CREATE TABLE IF NOT EXISTS schema_migrations (
	version		text PRIMARY KEY,
	checksum	text NOT NULL,
	applied_at	timestamptz NOT NULL DEFAULT now()
);
SELECT coalesce((SELECT checksum FROM schema_migrations
    WHERE version = :'version'), '') AS known \gset
SELECT (:'known' <> '') AS done, (:'known' <> '' AND :'known' <> :'checksum') AS changed \gset
\if :changed
\echo CHANGED
ROLLBACK;
\quit
\endif
\if :done
\echo SKIP
\else
\i :file
INSERT INTO schema_migrations (version, checksum)
    VALUES (:'version', :'checksum');
\echo APPLIED
\endif
COMMIT;
SQL
	) || {
		echo "migrate: $name failed; nothing of it was applied:" >&2
		echo "$out" | grep -v '^\(APPLIED\|SKIP\)$' >&2
		exit 1
	}

	case "$out" in
	*CHANGED*)
		echo "migrate: $name was changed after it was applied;" \
		    "add a new migration instead" >&2
		exit 1 ;;
	*APPLIED*)
		echo "migrate: applied $name"
		applied=$((applied + 1)) ;;
	esac
done

if [ "$applied" -eq 0 ]; then
	echo "migrate: up to date"
fi
