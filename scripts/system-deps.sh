#!/usr/bin/env bash
# Installs the Debian packages the Python dependencies need: sox and libsox-dev (soxbindings builds against
# libsox; scaper uses it for pitch shifting and resampling). Does nothing when they are already there.
set -euo pipefail
missing=()
command -v sox >/dev/null 2>&1 || missing+=(sox)
dpkg -s libsox-dev >/dev/null 2>&1 || missing+=(libsox-dev)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "error: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
