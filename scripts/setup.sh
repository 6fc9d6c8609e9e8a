#!/usr/bin/env bash
# Installs what tickwire needs on Debian 12, idempotently: DPDK 22.11, clang for
# bindgen, libpcap, tshark/tcpdump for the pcap checks, and a Python venv with
# the independent ITCH implementations used as cross-checks and baselines.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(libdpdk-dev dpdk pkg-config clang libclang-dev libpcap-dev tcpdump tshark iproute2 binutils python3 python3-venv g++ iputils-ping arping)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  # tshark asks whether non-root users may capture; answer no, non-interactively.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "== setup: Debian packages present (${APT_PACKAGES[*]})"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. Install a Rust toolchain (https://rustup.rs) and run again." >&2
  exit 1
fi
pkg-config --atleast-version=22.11 libdpdk || { echo "setup: libdpdk >= 22.11 not found by pkg-config" >&2; exit 1; }

VENV="${TICKWIRE_VENV:-$PWD/target/pyenv}"
PY_PACKAGES=(itch-book itchcpp)
if [ ! -x "$VENV/bin/python" ]; then
  echo "== setup: creating Python venv at $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -m pip show "${PY_PACKAGES[@]}" >/dev/null 2>&1; then
  echo "== setup: installing Python packages into $VENV: ${PY_PACKAGES[*]}"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
else
  echo "== setup: Python packages present (${PY_PACKAGES[*]})"
fi
echo "== setup: done (DPDK $(pkg-config --modversion libdpdk), $(cargo --version))"
