#!/usr/bin/env bash
# Installs the Debian packages the app and its build need, if any is missing:
# Qt's runtime libraries (offscreen and X11), Xvfb for screenshots, gcc and
# GMP for py-libp2p's compiled dependency (fastecdsa), and the validators the
# tests run on resources/ (desktop-file-validate, appstreamcli), and a D-Bus
# daemon the notification tests start as a private session bus, and iproute2
# for the tests' network namespaces, with what the network lab
# (threads_desktop/bench/lab.py) builds home routers from: nftables (NAT and a
# firewall), conntrack (to look at a router's NAT table when a test fails)
# and miniupnpd (a UPnP router; run by the lab inside a namespace only).
set -euo pipefail

packages=(
  gcc libgmp-dev
  libegl1 libgl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0
  fonts-dejavu-core fonts-noto-color-emoji
  xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0
  libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0
  desktop-file-utils appstream binutils
  iproute2  # the LAN discovery tests' network namespaces (ip netns, veth, bridges)
  nftables conntrack miniupnpd miniupnpd-nftables  # the lab's routers (NAT, firewall, UPnP)
  dbus-daemon
)
# Benchmarks only (never the tests, never CI): `--bench` adds Syncthing, which
# scripts/bench-syncthing.py and scripts/bench-photos-vs-syncthing.py compare with.
if [ "${1:-}" = "--bench" ]; then packages+=(syncthing); fi
python=${PYTHON:-python3}
# Debian's own Python needs these to make a virtualenv and build C extensions.
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then packages+=(python3-venv); fi
if [ ! -f "$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; then
  packages+=(python3-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
  echo "Please install as root: apt-get install ${missing[*]}" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# miniupnpd must not run on this machine's own network: the lab starts its own
# copies inside router namespaces. The package asks (debconf) whether to start
# a daemon, default no, and installs its service disabled; answer no explicitly.
if [[ " ${missing[*]} " == *" miniupnpd "* ]]; then
  echo "miniupnpd miniupnpd/start_daemon boolean false" | "${sudo[@]}" debconf-set-selections
fi
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
