#!/usr/bin/env bash
# Installs the Debian packages the app and its build need, if any is missing:
# Qt's runtime libraries (offscreen and X11), Xvfb for screenshots, gcc and
# GMP for py-libp2p's compiled dependency (fastecdsa), and the validators the
# tests run on resources/ (desktop-file-validate, appstreamcli), and a D-Bus
# daemon the notification tests start as a private session bus, and iproute2
# for the tests' network namespaces.
set -euo pipefail

packages=(
  gcc libgmp-dev
  libegl1 libgl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0
  fonts-dejavu-core fonts-noto-color-emoji
  xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0
  libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0
  desktop-file-utils appstream binutils
  iproute2  # the LAN discovery tests' network namespaces (ip netns, veth, bridges)
  dbus-daemon
)
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
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
