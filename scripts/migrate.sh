#!/usr/bin/env bash
# Apply the migrations of sql/ (NNNN_name.sql, in order) as the owner
# role, TOLLGATE_MIGRATE_DATABASE_URL (default TOLLGATE_DATABASE_URL):
# each one once, each in one transaction together with its row in
# schema_migrations, under an advisory lock so that two migrators never
# interleave. A failing migration is rolled back whole and stops the run.
# An applied migration whose file has changed since is an error: write a
# new migration instead.
#
# The application role is the role of TOLLGATE_DATABASE_URL (asked of
# the server, when the two URLs differ). Migrations see its name as the
# setting tollgate.app_role; after the last one, tg_roles_apply() (sql/
# 0490_roles.sql) states the split of rights between the two roles again
# (docs/operations.md, "Database roles").
#
# Migration files must not contain BEGIN/COMMIT themselves.
#
# `tollgate migrate` (app/core/migrate.c) does the same from the copies of
# sql/ built into the binary, for hosts without psql or the checkout:
# change both together. tests/integration/test_migrate.py holds them to
# the same schema, rows and messages.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${TOLLGATE_MIGRATIONS_DIR:-$ROOT/sql}
APP_URL=${TOLLGATE_DATABASE_URL:-}
URL=${TOLLGATE_MIGRATE_DATABASE_URL:-$APP_URL}
if [ -z "$URL" ]; then
	echo "migrate: neither TOLLGATE_MIGRATE_DATABASE_URL nor" \
	    "TOLLGATE_DATABASE_URL is set" >&2
	exit 1
fi

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$URL")

# One role for both when the URLs are the same or only one is set.
app_role=
if [ -n "$APP_URL" ] && [ "$APP_URL" != "$URL" ]; then
	app_role=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$APP_URL" \
	    -c "SELECT current_user") || {
		echo "migrate: cannot connect as the application role" \
		    "(TOLLGATE_DATABASE_URL)" >&2
		exit 1
	}
elif [ -n "${TOLLGATE_MIGRATE_DATABASE_URL:-}" ] && [ -z "$APP_URL" ]; then
	echo "migrate: TOLLGATE_DATABASE_URL is not set: no rights granted" \
	    "to an application role" >&2
fi

# An install from before the split (its tables belong to the application
# role) changes hands first; migrating as another role would fail anyway.
who=$("${PSQL[@]}" -A -t -c "SELECT pg_get_userbyid(c.relowner) FROM
    pg_class c WHERE c.oid = to_regclass('schema_migrations') AND
    c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)")
if [ -n "$who" ]; then
	me=$("${PSQL[@]}" -A -t -c "SELECT current_user")
	echo "migrate: the tables belong to role $who, not to $me, which runs" \
	    "the migrations; as a superuser, in this database:" \
	    "REASSIGN OWNED BY $who TO $me; (docs/operations.md," \
	    "\"Database roles\")" >&2
	exit 1
fi

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
	    -v file="$f" -v app_role="$app_role" -f - 2>&1 <<'SQL'
\set QUIET on
BEGIN;
SELECT pg_advisory_xact_lock(7314470123);
SELECT set_config('tollgate.app_role', :'app_role', true) AS app_role \gset
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

# The split again, whatever the migrations just replaced or added.
out=$("${PSQL[@]}" -v app_role="$app_role" -f - 2>&1 <<'SQL'
\set QUIET on
BEGIN;
SELECT pg_advisory_xact_lock(7314470123);
SELECT set_config('tollgate.app_role', :'app_role', true) AS app_role \gset
SELECT to_regproc('tg_roles_apply') IS NOT NULL AS split \gset
\if :split
SELECT tg_roles_apply() \gset
\endif
COMMIT;
SQL
) || {
	echo "migrate: the database roles could not be set:" >&2
	echo "$out" >&2
	exit 1
}

if [ "$applied" -eq 0 ]; then
	echo "migrate: up to date"
fi
