#!/usr/bin/env bash
# Fetches the real Debian builds of the Docker stack that the end-to-end
# tests and the demo upgrade between: docker.io, containerd and runc of
# Debian 11 (bullseye), 12 (bookworm) and 13 (trixie), and trixie's
# Compose v2 (docker-compose 2.26.1, a static docker CLI plugin the
# liveswapd compose test runs against liveswapd). Each .deb is
# downloaded once into a root-owned cache and unpacked beside it; a re-run
# costs nothing.
#
# It uses a private apt configuration (its own sources list, lists and
# cache): the host's sources, packages and dpkg database are not changed.
# The package mirror is the one the host's own sources name.
#
# Usage: e2e/releases.sh [CACHE]   (default /var/cache/liveswap/releases)
# Prints one line per package: NAME VERSION UNPACKED-FOLDER.
set -euo pipefail

cache=${1:-${LIVESWAP_RELEASES:-/var/cache/liveswap/releases}}

# name=version, as the suites ship them.
releases=(
  docker.io=20.10.5+dfsg1-1+deb11u4
  docker.io=20.10.24+dfsg1-1+deb12u1+b6
  docker.io=26.1.5+dfsg1-9+deb13u1+b1
  containerd=1.4.13~ds1-1~deb11u6
  containerd=1.6.20~ds1-1+deb12u3
  containerd=1.7.24~ds1-6+deb13u1
  runc=1.0.0~rc93+ds1-5+deb11u5
  runc=1.1.5+ds1-1+deb12u1
  runc=1.1.15+ds1-2+b4
  docker-compose=2.26.1-4
)

unpacked() { echo "$cache/root/$1_$2"; }

missing=()
for r in "${releases[@]}"; do
  [ -e "$(unpacked "${r%%=*}" "${r#*=}")/.complete" ] || missing+=("$r")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "releases: ${#missing[@]} release(s) missing from $cache; run as root to fetch them" >&2
    exit 1
  fi
  # The cache is trusted by root: it must be root's alone.
  install -d -m 0755 -o root -g root "$cache" "$cache/root" "$cache/debs"
  apt=$cache/apt
  install -d -m 0755 "$apt" "$apt/lists/partial" "$apt/cache/archives/partial"

  # The host's own mirror and security mirror (deb822 or one-line sources).
  uri="" sec=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    while read -r key val _; do
      [ "$key" = "URIs:" ] || continue
      case "$val" in
        *security*) [ -n "$sec" ] || sec=$val ;;
        *) [ -n "$uri" ] || uri=$val ;;
      esac
    done <"$f"
  done
  if [ -z "$uri" ] && [ -e /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
    sec=$(awk '$1 == "deb" && $0 ~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  if [ -z "$uri" ] || [ -z "$sec" ]; then
    echo "releases: no Debian mirror found in /etc/apt/sources.list(.d): the host's apt must name one" >&2
    exit 1
  fi
  key=/usr/share/keyrings/debian-archive-keyring.gpg
  cat >"$apt/sources.list" <<EOF
deb [signed-by=$key] $uri bullseye main
deb [signed-by=$key] $sec bullseye-security main
deb [signed-by=$key] $uri bookworm main
deb [signed-by=$key] $uri trixie main
EOF
  opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Get::List-Cleanup=0
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  echo "releases: fetching ${missing[*]}" >&2
  apt-get "${opts[@]}" update -qq
  for r in "${missing[@]}"; do
    name=${r%%=*} version=${r#*=}
    deb=$(ls "$cache/debs/${name}_"*.deb 2>/dev/null | grep -F "_${version//:/%3a}_" | head -n1 || true)
    if [ -z "$deb" ]; then
      (cd "$cache/debs" && apt-get "${opts[@]}" download -qq "$name=$version")
      deb=$(ls "$cache/debs/${name}_"*.deb | grep -F "_${version//:/%3a}_" | head -n1)
    fi
    dir=$(unpacked "$name" "$version")
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    dpkg-deb -x "$deb" "$dir.tmp"
    dpkg-deb -e "$deb" "$dir.tmp/DEBIAN"
    sha256sum "$deb" | cut -d' ' -f1 >"$dir.tmp/.deb.sha256"
    basename "$deb" >"$dir.tmp/.deb"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    touch "$dir/.complete"
  done
fi

for r in "${releases[@]}"; do
  echo "${r%%=*} ${r#*=} $(unpacked "${r%%=*}" "${r#*=}")"
done
