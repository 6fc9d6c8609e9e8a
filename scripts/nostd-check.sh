#!/usr/bin/env bash
# Proves tickwire-core is no_std and allocation-free: builds it into a no_std
# static library that has its own panic handler and no global allocator, then
# checks the archive for std or allocator symbols.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== no_std check: building tickwire-nostd-check (staticlib, no std, no allocator)"
cargo build --quiet --release --manifest-path nostd-check/Cargo.toml --target-dir target/nostd-check
lib=target/nostd-check/release/libtickwire_nostd_check.a
[ -f "$lib" ] || { echo "no_std check: $lib was not built" >&2; exit 1; }
syms=$(nm -C "$lib" 2>/dev/null || true)
bad=$(grep -E '__rust_alloc|__rdl_alloc|__rg_alloc|alloc::alloc::|std::|__rust_start_panic|rust_eh_personality' <<<"$syms" | grep -v ' U ' || true)
if [ -n "$bad" ]; then
  echo "no_std check FAILED: std or allocator symbols found in $lib:" >&2
  head -20 <<<"$bad" >&2
  exit 1
fi
for entry in tickwire_count_messages tickwire_fw_init tickwire_fw_on_frame tickwire_fw_on_fix tickwire_bus_encode; do
  grep -q "T $entry" <<<"$syms" || { echo "no_std check: entry point $entry missing from $lib" >&2; exit 1; }
done
# The firmware example must really link the engine and the FIX session.
for part in 'tickwire_core::engine::Engine::' 'tickwire_core::book::'; do
  grep -E " [tT] " <<<"$syms" | grep -q "$part" || { echo "no_std check: no $part code linked into $lib" >&2; exit 1; }
done
# The session and market-data code is inlined into the entry points; their
# texts prove it is there.
texts=$(strings -a "$lib")
for text in 'MsgSeqNum too low' 'slow consumer' 'unknown symbol'; do
  grep -q "$text" <<<"$texts" || { echo "no_std check: FIX session/market-data code missing from $lib (no \"$text\")" >&2; exit 1; }
done
echo "no_std check passed: $(wc -c <"$lib") byte archive, no std/alloc symbols"
