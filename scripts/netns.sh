#!/usr/bin/env bash
# Runs a command inside a private network namespace: loopback plus a veth pair with nowhere to
# go, so browsers gather candidates and send mDNS only on addresses of their own and no packet
# leaves the machine. Firefox gathers nothing on loopback alone, hence the veth and the default
# route. Needs root (CI is root); otherwise the command runs on the host network, and says so.
set -euo pipefail
if [ "${PEERKIT_NETNS:-}" = inside ]; then exec "$@"; fi
if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
  echo "peerkit: running in a private network namespace (198.18.7.1/24, no route out)" >&2
  exec unshare --net -- env PEERKIT_NETNS=inside bash -c '
    set -e
    ip link set lo up
    ip link add pk0 type veth peer name pk1
    ip addr add 198.18.7.1/24 dev pk0
    ip link set pk0 up
    ip link set pk1 up
    ip route add default via 198.18.7.2
    exec "$@"' netns "$@"
fi
echo "peerkit: not root or no unshare: tests run on the host network; browsers may gather candidates on real interfaces" >&2
export PEERKIT_NETNS=host
exec "$@"
