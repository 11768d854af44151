#!/usr/bin/env bash
# `make run`: a private PostgreSQL under var/, migrations (as the owner
# role tollgate_owner), then tollgate in the foreground on 127.0.0.1:8080
# with conf/dev.env, connected as the application role tollgate. Ctrl-C stops
# tollgate and then PostgreSQL; a second run reuses the cluster and data.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export TOLLGATE_ROOT=$ROOT

scripts/pg.sh start

# shellcheck source=scripts/dev-env.sh
. scripts/dev-env.sh

scripts/migrate.sh

stop_all() {
	trap - EXIT INT TERM
	if [ -n "${tg_pid:-}" ] && kill -0 "$tg_pid" 2>/dev/null; then
		kill -TERM "$tg_pid" 2>/dev/null || true
		wait "$tg_pid" 2>/dev/null || true
	fi
	scripts/pg.sh stop
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# As root, workers drop to the "tollgate" user (no chroot: -n); otherwise
# tollgate runs as the invoking user (-n -r).
if [ "$(id -u)" -eq 0 ]; then
	export TOLLGATE_RUNAS=tollgate
	flags=(-f -n)
else
	flags=(-f -n -r)
fi

echo "tollgate: serving on http://$TOLLGATE_LISTEN (Ctrl-C to stop)"
./tollgate "${flags[@]}" &
tg_pid=$!
wait "$tg_pid"
