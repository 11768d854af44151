#!/usr/bin/env bash
# Debian 12 packages Tollgate needs. As root, installs what is missing
# (apt-get, non-interactive); otherwise prints the one command to run.
#
#   scripts/deps.sh          build + make run
#   scripts/deps.sh --test   build + make test + make fuzz (what CI runs)
#   scripts/deps.sh --fuzz   build + make fuzz (clang with libFuzzer)
set -euo pipefail

build_pkgs=(gcc make pkg-config kore libjansson-dev libsodium-dev
	libjwt-dev libcurl4-openssl-dev libpq-dev libssl-dev
	postgresql-15 postgresql-client-15 ca-certificates python3-yaml)
test_pkgs=(check python3 python3-pytest python3-pytest-xdist
	python3-cryptography python3-requests
	python3-psycopg2 python3-prometheus-client python3-jsonschema
	nodejs npm chromium procps iproute2 curl nginx-light wrk)
# libFuzzer ships in clang's runtime package, not in clang itself.
fuzz_pkgs=(clang libclang-rt-14-dev)

pkgs=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then
	pkgs+=("${test_pkgs[@]}" "${fuzz_pkgs[@]}")
elif [ "${1:-}" = "--fuzz" ]; then
	pkgs+=("${fuzz_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		# nodejs from another repository (nodesource) brings its own npm.
		if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then
			continue
		fi
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "tollgate: missing Debian packages; run:" >&2
	echo "  sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi

echo "tollgate: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# No default cluster: tollgate runs its own under var/ (and tests under /tmp).
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
	mkdir -p /etc/postgresql-common/createcluster.d
	echo "create_main_cluster = false" \
	    > /etc/postgresql-common/createcluster.d/tollgate.conf
fi
log=$(mktemp)
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"; } >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	rm -f "$log"
	echo "tollgate: apt-get failed" >&2
	exit 1
fi
rm -f "$log"
