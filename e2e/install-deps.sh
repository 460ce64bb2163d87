#!/usr/bin/env bash
# Installs what liveswap's end-to-end tests and demo need on Debian 12.
# Idempotent: does nothing when everything is already there. Package
# maintainer scripts are kept from starting services: the tests start their
# own, isolated ones, and nothing should be left running system-wide.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
[ -x /usr/sbin/dockerd ] || need+=(docker.io)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -x /usr/bin/redis-server ] || need+=(redis-server)
[ -x /usr/lib/systemd/systemd ] || need+=(systemd)
have dbus-daemon || need+=(dbus)
[ -e /usr/lib/systemd/user/dbus.socket ] || need+=(dbus-user-session)
have ip || need+=(iproute2)
have unshare || need+=(util-linux)
have ansible-playbook || need+=(ansible-core)
# make bench measures the shim beside conmon's; an e2e drives liveswapd with
# the Python SDK.
have conmon || need+=(conmon)
python3 -c 'import docker' 2>/dev/null || need+=(python3-docker)

here=$(cd "$(dirname "$0")" && pwd)
if [ ${#need[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  # The real releases the tests upgrade between (cached after the first run).
  bash "$here/releases.sh" >/dev/null
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing ${need[*]}; run as root (apt-get install -y ${need[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${need[*]}"
policy=/usr/sbin/policy-rc.d
restore=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"
  restore=1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
[ -z "$restore" ] || rm -f "$policy"
bash "$here/releases.sh" >/dev/null
echo "install-deps: done"
