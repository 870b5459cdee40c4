#!/usr/bin/env bash
# What `npm test` and `npm start` need on a fresh machine: dependencies, browsers, a build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/.bin ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
missing=()
for pkg in "${@}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "peerkit: install these Debian packages first: ${missing[*]}" >&2
    exit 1
  fi
fi
# The WHIP server of test/node/whip-interop.test.mjs; never fails (the test skips without it).
bash scripts/simple-whip-server.sh
npm run --silent build
