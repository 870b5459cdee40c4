#!/usr/bin/env bash
# Brings Meetecho's simple-whip-server (Debian's `simple-whip-server`) for test/node/whip-interop.test.mjs,
# the WHIP server the project did not write. `apt-get install` of it would pull Debian's nodejs,
# which conflicts with the Node the project runs on, so its .deb is downloaded and unpacked into
# node_modules/.cache/simple-whip-server; its Node dependencies come from npm through tools/ (its
# lock). Never fails: without apt or the mirror the interop test skips and says why.
set -uo pipefail
cd "$(dirname "$0")/.."
into=node_modules/.cache/simple-whip-server
if [ ! -d tools/node_modules/express ] || [ tools/package-lock.json -nt tools/node_modules/.package-lock.json ]; then
  npm ci --prefix tools --no-audit --no-fund >/dev/null || echo "peerkit: npm ci --prefix tools failed: the WHIP/WHEP interop test will skip" >&2
fi
[ -f /usr/share/simple-whip-server/src/server.js ] || [ -f "$into/usr/share/simple-whip-server/src/server.js" ] && exit 0
command -v apt-get >/dev/null && command -v dpkg >/dev/null || {
  echo "peerkit: no apt-get/dpkg here: the WHIP interop test will skip (simple-whip-server is a Debian package)" >&2
  exit 0
}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fetch() { (cd "$scratch" && apt-get download -qq simple-whip-server) 2>/dev/null; }
if ! fetch && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null 2>&1
  fetch
fi
deb=$(ls "$scratch"/simple-whip-server_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
  echo "peerkit: apt-get download simple-whip-server failed: the WHIP interop test will skip" >&2
  exit 0
fi
mkdir -p "$into.part" && dpkg -x "$deb" "$into.part" && rm -rf "$into" && mv "$into.part" "$into"
