#!/usr/bin/env bash
# Runs every fuzz target under libFuzzer for a short, bounded time
# (FUZZ_SECONDS, default 20 each) from its seed corpus in fuzz/corpus/<target>.
# New inputs go to a temporary directory, so the committed seeds stay as they
# are; a crash fails the run and leaves the input in target/fuzz/artifacts.
#
# The targets are cargo-fuzz targets (`cargo +nightly fuzz run frame` works
# where cargo-fuzz is installed). This script builds them the way cargo-fuzz
# does, with LLVM's SanitizerCoverage instrumentation, which stable Rust
# accepts; without AddressSanitizer, which needs nightly and adds little to a
# core with no unsafe code: a panic is what these targets look for.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${FUZZ_SECONDS:-20}"
TARGETS=(ethernet ipv4 udp moldudp64 itch frame fix_parse fix_session feed engine bus_record)
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps RUSTFLAGS off build scripts, as cargo-fuzz does.
HOST="$(rustc -vV | sed -n 's/^host: //p')"
echo "== fuzz: building ${#TARGETS[@]} targets (libFuzzer, SanitizerCoverage, $HOST)"
cargo build --quiet --release --manifest-path fuzz/Cargo.toml --target-dir target/fuzz --target "$HOST" --bins
BIN="target/fuzz/$HOST/release"
mkdir -p target/fuzz/artifacts
for t in "${TARGETS[@]}"; do
  work="$(mktemp -d)"
  log="target/fuzz/$t.log"
  if ! "$BIN/$t" "$work" "fuzz/corpus/$t" -max_total_time="$SECS" -max_len=2048 \
      -artifact_prefix="target/fuzz/artifacts/$t-" -print_final_stats=1 >"$log" 2>&1; then
    echo "fuzz: target $t FAILED; input in target/fuzz/artifacts/, log $log" >&2
    tail -30 "$log" >&2
    rm -rf "$work"
    exit 1
  fi
  runs="$(grep -oP 'stat::number_of_executed_units:\s*\K[0-9]+' "$log" || echo '?')"
  cov="$(grep -oP 'cov: \K[0-9]+' "$log" | tail -1 || echo '?')"
  echo "fuzz: $t: ${SECS}s, $runs executions, coverage $cov, no crash"
  rm -rf "$work"
done
