#!/usr/bin/env bash
# Installs what tickwire needs on Debian 12, idempotently: DPDK 22.11, clang for
# bindgen, libpcap, tshark/tcpdump for the pcap checks, and a Python venv with
# the independent ITCH implementations used as cross-checks and baselines, plus
# QuickFIX (built from its PyPI sdist once, see below) for the FIX session tests.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(libdpdk-dev dpdk dpdk-dev prometheus pkg-config clang libclang-dev libpcap-dev tcpdump tshark iproute2 binutils python3 python3-venv python3-dev g++ iputils-ping arping buildah nats-server)
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
# QuickFIX (PyPI "quickfix"), the independent FIX 4.4 engine that the FIX session
# tests drive through scripts/fix_client.py. PyPI has only an sdist for it (no
# manylinux wheel), which compiles ~150 C++ files incl. a 5.8 MB SWIG wrapper:
# about 6 min on 2 cores. So the wheel is built once into $QF_WHEELS and installed
# from there; nothing is done when the venv already imports it. The wheel ships
# the data dictionaries as $VENV/share/quickfix/FIX*.xml (FIX44.xml is the one
# fix_client.py loads); should a build lack them they are extracted from the
# same sdist into target/quickfix-spec/.
QF_VERSION="${TICKWIRE_QUICKFIX_VERSION:-1.16.0}"
QF_WHEELS="${TICKWIRE_WHEELS:-$PWD/target/wheels}"
QF_SPEC="$PWD/target/quickfix-spec"
qf_dd() { # prints the FIX44.xml path that fix_client.py will use, if any
  for f in "$VENV/share/quickfix/FIX44.xml" "$QF_SPEC/FIX44.xml"; do
    if [ -f "$f" ]; then echo "$f"; return 0; fi
  done
  return 1
}
if "$VENV/bin/python" -c 'import quickfix' >/dev/null 2>&1 && qf_dd >/dev/null; then
  echo "== setup: QuickFIX present ($("$VENV/bin/python" -m pip show quickfix 2>/dev/null | sed -n 's/^Version: //p'), $(qf_dd))"
else
  mkdir -p "$QF_WHEELS"
  qf_whl() { ls "$QF_WHEELS"/quickfix-"$QF_VERSION"-*.whl 2>/dev/null | head -n1; }
  if [ -z "$(qf_whl)" ]; then
    # A prebuilt wheel, should PyPI ever publish one for this interpreter.
    "$VENV/bin/python" -m pip download -q --disable-pip-version-check --only-binary :all: --no-deps \
      -d "$QF_WHEELS" "quickfix==$QF_VERSION" >/dev/null 2>&1 || true
  fi
  if [ -z "$(qf_whl)" ]; then
    "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-binary :all: --no-deps \
      -d "$QF_WHEELS" "quickfix==$QF_VERSION"
    echo "== setup: building the QuickFIX $QF_VERSION wheel from the PyPI sdist (C++, about 6 min; once, cached in $QF_WHEELS)"
    qf_start=$(date +%s)
    MAKEFLAGS=-j2 nice -n 10 "$VENV/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps \
      -w "$QF_WHEELS" "$QF_WHEELS/quickfix-$QF_VERSION.tar.gz" >"$QF_WHEELS/build-$QF_VERSION.log" 2>&1 \
      || { tail -n 30 "$QF_WHEELS/build-$QF_VERSION.log" >&2; echo "setup: QuickFIX wheel build failed (log: $QF_WHEELS/build-$QF_VERSION.log)" >&2; exit 1; }
    echo "== setup: QuickFIX wheel built in $(( $(date +%s) - qf_start )) s: $(qf_whl)"
  fi
  echo "== setup: installing $(basename "$(qf_whl)") into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$(qf_whl)"
  if ! qf_dd >/dev/null; then
    if [ ! -f "$QF_WHEELS/quickfix-$QF_VERSION.tar.gz" ]; then
      "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-binary :all: --no-deps \
        -d "$QF_WHEELS" "quickfix==$QF_VERSION"
    fi
    mkdir -p "$QF_SPEC"
    tar -xzf "$QF_WHEELS/quickfix-$QF_VERSION.tar.gz" -C "$QF_SPEC" --strip-components=2 --wildcards "quickfix-$QF_VERSION/spec/FIX*.xml"
  fi
  "$VENV/bin/python" -c 'import quickfix' || { echo "setup: quickfix does not import in $VENV" >&2; exit 1; }
  echo "== setup: QuickFIX ready, data dictionary $(qf_dd)"
fi
echo "== setup: done (DPDK $(pkg-config --modversion libdpdk), $(cargo --version))"
