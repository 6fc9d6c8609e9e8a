#!/usr/bin/env bash
# Cross-check tickwire's top of book against itch-book and itchcpp on one BinaryFILE.
#
#   scripts/crosscheck/compare.sh FILE.itch [EVERY]
#
# Runs `tickwire replay FILE --checkpoints EVERY --no-fix` and bbo_reference.py with both
# packages (CHK lines every EVERY messages, default 10000, and at the end), then compares
# the three outputs line for line. Prints one agreement line per pair and, for a pair that
# differs, the first differing lines. Exits 0 when tickwire agrees with both packages, 1
# otherwise, 2 on a usage or setup problem.
#
# Environment:
#   TICKWIRE_BIN   the tickwire binary (default: cargo build --release -p tickwire-host)
#   TICKWIRE_VENV  venv with itch-book and itchcpp (default target/pyenv, then
#                  /opt/tickwire-crosscheck-venv); scripts/setup.sh creates it
#   KEEP=DIR       keep the three CHK files in DIR
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
FILE="$1"
EVERY="${2:-10000}"
[ -f "$FILE" ] || { echo "compare: no such file: $FILE" >&2; exit 2; }
[[ "$EVERY" =~ ^[1-9][0-9]*$ ]] || { echo "compare: EVERY must be a positive integer, not '$EVERY'" >&2; exit 2; }

if [ -n "${TICKWIRE_BIN:-}" ]; then
  BIN="$TICKWIRE_BIN"
else
  # Always through cargo, so the binary matches the tree (a no-op when it is up to date).
  BIN="$ROOT/target/release/tickwire"
  (cd "$ROOT" && cargo build --release -p tickwire-host --quiet) >&2
fi
[ -x "$BIN" ] || { echo "compare: no tickwire binary at $BIN" >&2; exit 2; }

PY=""
for v in "${TICKWIRE_VENV:-}" "$ROOT/target/pyenv" /opt/tickwire-crosscheck-venv; do
  [ -n "$v" ] && [ -x "$v/bin/python" ] || continue
  if "$v/bin/python" -c 'import itch_book._core, itchcpp.book' 2>/dev/null; then PY="$v/bin/python"; break; fi
done
[ -n "$PY" ] || { echo "compare: no venv with itch-book and itchcpp; run scripts/setup.sh" >&2; exit 2; }

if [ -n "${KEEP:-}" ]; then T="$KEEP"; mkdir -p "$T"; else T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT; fi

t0=$(date +%s.%N)
"$BIN" replay "$FILE" --no-fix --quiet --checkpoints "$EVERY" --checkpoint-out "$T/tickwire.chk" \
  || echo "compare: tickwire replay reported an error (CHK lines up to it are compared)" >&2
t1=$(date +%s.%N)
"$PY" "$HERE/bbo_reference.py" --impl itch-book "$FILE" --every "$EVERY" >"$T/itch-book.chk"
t2=$(date +%s.%N)
"$PY" "$HERE/bbo_reference.py" --impl itchcpp "$FILE" --every "$EVERY" >"$T/itchcpp.chk"
t3=$(date +%s.%N)

lines=$(wc -l <"$T/tickwire.chk")
chks=$(awk '{print $2}' "$T/tickwire.chk" | uniq | wc -l)
awk -v f="$FILE" -v e="$EVERY" -v c="$chks" -v l="$lines" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" 'BEGIN {
  printf "file %s, CHK every %s: %s checkpoints with lines, %s lines (tickwire %.2f s, itch-book %.2f s, itchcpp %.2f s)\n",
    f, e, c, l, t1 - t0, t2 - t1, t3 - t2 }'

# compare A B: prints one line; returns 1 when they differ.
compare() {
  local a="$1" b="$2" na nb nd
  if cmp -s "$T/$a.chk" "$T/$b.chk"; then
    printf '  %-9s vs %-9s: AGREE   (%s lines identical)\n' "$a" "$b" "$(wc -l <"$T/$a.chk")"
    return 0
  fi
  na=$(wc -l <"$T/$a.chk"); nb=$(wc -l <"$T/$b.chk")
  nd=$(diff "$T/$a.chk" "$T/$b.chk" | grep -c '^<' || true)
  printf '  %-9s vs %-9s: DIFFER  (%s of %s lines differ; %s has %s lines)\n' "$a" "$b" "$nd" "$na" "$b" "$nb"
  diff "$T/$a.chk" "$T/$b.chk" | head -n 12 | sed 's/^/      /'
  return 1
}

status=0
compare tickwire itch-book || status=1
compare tickwire itchcpp || status=1
compare itch-book itchcpp || true   # informative: the packages differ on edge cases by design
if [ "$status" -eq 0 ]; then
  echo "agreement: tickwire matches both itch-book and itchcpp"
else
  echo "agreement: tickwire DIFFERS from at least one package (see scripts/crosscheck/README.md for documented semantic differences)"
fi
[ -n "${KEEP:-}" ] && echo "CHK files kept in $T"
exit "$status"
