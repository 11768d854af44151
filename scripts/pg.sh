#!/usr/bin/env bash
# The private PostgreSQL cluster of `make run`, under var/pg: data in
# var/pg/data, a Unix socket (no TCP) in var/pg/sock.
#
#   scripts/pg.sh start    create (first time) and start the cluster, and
#                          make sure the roles "tollgate_owner" (owns the
#                          database, runs the migrations) and "tollgate"
#                          (what tollgate connects as) and the database
#                          "tollgate" exist (docs/operations.md,
#                          "Database roles")
#   scripts/pg.sh stop     stop tollgate (if var/tollgate.pid is live) and
#                          the cluster
#   scripts/pg.sh status
#
# PostgreSQL refuses to run as root: as root the cluster belongs to the
# system user "tollgate" (created when missing).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=$ROOT/var
PGDIR=$VAR/pg
DATA=$PGDIR/data
SOCK=$PGDIR/sock
LOG=$PGDIR/postgresql.log
PGUSER_OS=tollgate

bindir() {
	local d
	for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ]; then
			echo "$d"
			return
		fi
	done
	echo "tollgate: PostgreSQL server binaries not found" \
	    "(apt-get install postgresql-15)" >&2
	exit 1
}

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$PGUSER_OS" -- "$@"
	else
		"$@"
	fi
}

ensure_os_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	if ! id "$PGUSER_OS" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin "$PGUSER_OS"
	fi
	mkdir -p "$PGDIR"
	chown "$PGUSER_OS:" "$PGDIR"
	if ! runuser -u "$PGUSER_OS" -- test -w "$PGDIR"; then
		echo "tollgate: user $PGUSER_OS cannot reach $PGDIR;" \
		    "give others search (x) permission on its parent" \
		    "directories, or check out elsewhere" >&2
		exit 1
	fi
}

start() {
	local bin
	bin=$(bindir)
	mkdir -p "$PGDIR"
	ensure_os_user
	if [ ! -f "$DATA/PG_VERSION" ]; then
		echo "tollgate: creating PostgreSQL cluster in $DATA"
		as_pg "$bin/initdb" -D "$DATA" -U postgres -A trust \
		    -E UTF8 --locale=C.UTF-8 >/dev/null
	fi
	as_pg mkdir -p "$SOCK"
	if as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
		echo "tollgate: PostgreSQL already running"
	else
		# setsid: Ctrl-C in the terminal must not reach postgres
		# directly; make run stops it in order.
		as_pg setsid "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 30 \
		    -o "-k $SOCK -c listen_addresses= -c fsync=on" start \
		    >/dev/null
		echo "tollgate: PostgreSQL started (socket $SOCK)"
	fi

	ensure_role tollgate_owner
	ensure_role tollgate
	case $(psql_admin -tAc "SELECT pg_get_userbyid(datdba) FROM pg_database
	    WHERE datname = 'tollgate'") in
	"")
		psql_admin -qc "CREATE DATABASE tollgate OWNER tollgate_owner" ;;
	tollgate)
		# A cluster from before the split: the owner takes over.
		as_pg psql -X -h "$SOCK" -U postgres -d tollgate -qc \
		    "REASSIGN OWNED BY tollgate TO tollgate_owner"
		echo "tollgate: database tollgate now belongs to tollgate_owner" ;;
	esac
}

ensure_role() {
	if ! psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname='$1'" |
	    grep -q 1; then
		psql_admin -qc "CREATE ROLE $1 LOGIN"
	fi
}

psql_admin() {
	as_pg psql -X -h "$SOCK" -U postgres -d postgres "$@"
}

stop() {
	local bin pid
	if [ -f "$VAR/tollgate.pid" ]; then
		pid=$(cat "$VAR/tollgate.pid")
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 50); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
		fi
	fi
	[ -f "$DATA/PG_VERSION" ] || return 0
	bin=$(bindir)
	if as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
		as_pg "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
		echo "tollgate: PostgreSQL stopped"
	fi
}

status() {
	local bin
	bin=$(bindir)
	as_pg "$bin/pg_ctl" -D "$DATA" status
}

case "${1:-}" in
start)	start ;;
stop)	stop ;;
status)	status ;;
*)	echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
