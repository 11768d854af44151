#!/usr/bin/env bash
# The npm packages of tests/node (the official OpenAI and Anthropic SDKs,
# the Vercel AI SDK and Playwright, test tools only): installed from
# package-lock.json by `npm ci` when they are missing or older than the
# lock file.
set -euo pipefail
cd "$(dirname "$0")/../tests/node"

stamp=node_modules/.package-lock.json
if [ -e "$stamp" ] && [ ! package-lock.json -nt "$stamp" ]; then
	exit 0
fi
echo "tollgate: installing the npm packages of tests/node"
npm ci --no-audit --no-fund --loglevel=error
