#!/usr/bin/env bash
# Sanity check: both reference packages reproduce the hand-computed BBOs of mini_gen.py,
# and agree with each other on a ~1M-message random (clean) file.
# Needs the venv from README.md (VENV overrides its location).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${VENV:-/opt/tickwire-crosscheck-venv}"
PY="$VENV/bin/python"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
python3 "$HERE/mini_gen.py" "$T/mini.itch" 2>/dev/null
for n in 1 2 5 7 28 100; do
  python3 "$HERE/mini_gen.py" "$T/mini.itch" --expected "$n" >"$T/exp" 2>/dev/null
  for impl in itch-book itchcpp; do
    if "$PY" "$HERE/bbo_reference.py" --impl "$impl" "$T/mini.itch" --every "$n" | cmp -s - "$T/exp"; then
      pass=$((pass+1))
    else
      echo "FAIL mini every=$n impl=$impl"; fail=$((fail+1))
    fi
  done
done
BULK="${BULK:-1000000}"
python3 "$HERE/mini_gen.py" "$T/bulk.itch" --bulk "$BULK" 2>/dev/null
"$PY" "$HERE/bbo_reference.py" --impl itch-book "$T/bulk.itch" --every 1000 >"$T/a"
"$PY" "$HERE/bbo_reference.py" --impl itchcpp   "$T/bulk.itch" --every 1000 >"$T/b"
if cmp -s "$T/a" "$T/b"; then pass=$((pass+1)); else echo "FAIL bulk itch-book vs itchcpp"; fail=$((fail+1)); fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
