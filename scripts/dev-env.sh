# Sourced by scripts/run.sh (bash): exports conf/dev.env as defaults. A
# variable already set in the environment wins over its line there
# (TOLLGATE_LISTEN=127.0.0.1:9000 make run), and later lines see it
# (TOLLGATE_PUBLIC_URL=http://${TOLLGATE_LISTEN}). Lines are NAME=value,
# expanded by the shell; blank lines and comments are skipped. An
# argument names another file of the same form (the tests check every
# shipped one with it).
# shellcheck shell=bash

while IFS= read -r line || [ -n "$line" ]; do
	case $line in
	'' | '#'*) continue ;;
	esac
	name=${line%%=*}
	if [ -z "${!name+set}" ]; then
		eval "export $line"
	fi
done <"${1:-${TOLLGATE_ROOT:-.}/conf/dev.env}"
unset line name
