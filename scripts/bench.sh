#!/usr/bin/env bash
# make bench: see scripts/bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 scripts/bench.py "$@"
