#!/usr/bin/env bash
# Whole-engine throughput harness: parse, book, top of book, VWAP windows and FIX
# emission, single thread, input memory-mapped, as `tickwire replay` runs them.
#
#   scripts/perf-engine.sh [--runs N] [--messages M] [--no-baseline]
#
# 1. Builds the release binary (cargo build --release -p tickwire-host).
# 2. Generates, unless already there, two BinaryFILEs under target/perf/:
#      50sym   M messages (default 5,000,000), 50 symbols    (~40,000 live orders)
#      2000sym M messages,                     2,000 symbols (~500,000 live orders)
#    (the generator's default live-order target for those symbol counts).
# 3. Runs, for each file, N times (default 5) with tables sized for the data:
#      tickwire replay FILE --out /dev/null --sending-time event --quiet --stats-json J \
#        --max-orders O --max-levels L --max-locates S
#    (O and L = 1.25 x the live-order target, S = symbols + 1), then once with the
#    default tables (4 Mi orders, 4 Mi levels, 65,536 locates).
#    FIX goes to /dev/null: every snapshot is still encoded and written, the kernel
#    just drops the bytes. SendingTime is event time (no clock read per message).
# 4. Reports the median ns/message and messages/s over the engine loop (the replayer's
#    own timer: from the first message to the last, after mapping and table setup),
#    the wall time of the whole process, and peak RSS from /usr/bin/time -v (the RSS
#    includes the mapped input file's pages).
# 5. Runs the baseline, itch-book's fastest whole-file path
#    (bbo_reference.py --impl itch-book FILE --bench --runs N: parse + full-depth book,
#    no tables, no output), on the same files in the same run, and prints one table.
#
# Environment: TICKWIRE_VENV (venv with itch-book; default target/pyenv, then
# /opt/tickwire-crosscheck-venv), PERF_DIR (default target/perf).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

RUNS=5
MESSAGES=5000000
BASELINE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --messages) MESSAGES="$2"; shift 2 ;;
    --no-baseline) BASELINE=0; shift ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "perf-engine: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "perf-engine: --runs must be a positive integer" >&2; exit 2; }
[[ "$MESSAGES" =~ ^[1-9][0-9]*$ ]] || { echo "perf-engine: --messages must be a positive integer" >&2; exit 2; }

PERF="${PERF_DIR:-$ROOT/target/perf}"
BIN="$ROOT/target/release/tickwire"
mkdir -p "$PERF"

if [ ! -x /usr/bin/time ]; then
  echo "== perf-engine: installing GNU time (for peak RSS)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq time >/dev/null
fi
command -v python3 >/dev/null || { echo "perf-engine: python3 is needed for the report" >&2; exit 2; }

PY=""
if [ "$BASELINE" -eq 1 ]; then
  for v in "${TICKWIRE_VENV:-}" "$ROOT/target/pyenv" /opt/tickwire-crosscheck-venv; do
    [ -n "$v" ] && [ -x "$v/bin/python" ] || continue
    if "$v/bin/python" -c 'import itch_book._core' 2>/dev/null; then PY="$v/bin/python"; break; fi
  done
  [ -n "$PY" ] || { echo "perf-engine: no venv with itch-book (run scripts/setup.sh, or pass --no-baseline)" >&2; exit 2; }
fi

echo "== perf-engine: building release"
cargo build --release -p tickwire-host --quiet

# name symbols
SHAPES=("50sym 50" "2000sym 2000")

for shape in "${SHAPES[@]}"; do
  read -r name symbols <<<"$shape"
  f="$PERF/$name-$MESSAGES.itch"
  if [ ! -s "$f" ] || [ ! -s "$PERF/$name-$MESSAGES.manifest.json" ]; then
    echo "== perf-engine: generating $f ($MESSAGES messages, $symbols symbols)"
    "$BIN" gen --seed 42 --symbols "$symbols" --messages "$MESSAGES" --format binfile \
      --out "$PERF/$name-$MESSAGES" --quiet
  fi
done

RES="$PERF/results-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RES"

# run_one LABEL FILE RUN ARGS...: one replay under /usr/bin/time -v.
run_one() {
  local label="$1" file="$2" run="$3"; shift 3
  local base="$RES/$label-$run"
  /usr/bin/time -v -o "$base.time" "$BIN" replay "$file" --out /dev/null --sending-time event \
    --quiet --no-progress --stats-json "$base.json" "$@"
}

for shape in "${SHAPES[@]}"; do
  read -r name symbols <<<"$shape"
  f="$PERF/$name-$MESSAGES.itch"
  target=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["live_orders_target"])' \
    "$PERF/$name-$MESSAGES.manifest.json")
  orders=$(( (target * 5 / 4 + 1023) / 1024 * 1024 ))
  levels=$orders
  locates=$(( symbols + 1 ))
  echo "$orders $levels $locates $(stat -c %s "$f")" >"$RES/$name.sizing"
  cat "$f" >/dev/null   # page cache warm for every run alike
  echo "== perf-engine: $name: $RUNS runs with the default tables, $RUNS sized (orders $orders, levels $levels, locates $locates), interleaved"
  for r in $(seq 1 "$RUNS"); do
    run_one "$name-default" "$f" "$r"
    run_one "$name-sized" "$f" "$r" --max-orders "$orders" --max-levels "$levels" --max-locates "$locates"
  done
  if [ "$BASELINE" -eq 1 ]; then
    echo "== perf-engine: $name: itch-book baseline ($RUNS runs)"
    /usr/bin/time -v -o "$RES/$name-itchbook.time" \
      "$PY" scripts/crosscheck/bbo_reference.py --impl itch-book "$f" --bench --runs "$RUNS" \
      >"$RES/$name-itchbook.txt"
  fi
done

python3 - "$RES" "$RUNS" "$MESSAGES" "$BASELINE" <<'EOF' | tee "$RES/report.txt"
import json, os, re, statistics, subprocess, sys
res, runs, messages, baseline = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"

def tv(path):
    t = open(path).read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
    w = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
    wall = int(w.group(1) or 0) * 3600 + int(w.group(2)) * 60 + float(w.group(3))
    return rss / 1024, wall

def engine(label, n):
    rows = []
    for r in range(1, n + 1):
        j = json.load(open(f"{res}/{label}-{r}.json"))
        m = j["messages"]["applied"] + j["messages"]["malformed"]
        b = j["book"]
        refused = b["orders_refused_full"] + b["levels_refused_full"] + b["locate_out_of_range"]
        rss, wall = tv(f"{res}/{label}-{r}.time")
        rows.append(dict(ns=j["elapsed_s"] * 1e9 / m, mps=m / j["elapsed_s"], rss=rss, wall=wall,
                         msgs=m, refused=refused, fix=j["fix"]["messages"], fixb=j["fix"]["bytes"],
                         live=j["live_orders"], storage=j["storage_bytes"] / 2**20))
    med = lambda k: statistics.median(r[k] for r in rows)
    return dict(n=n, ns=med("ns"), mps=med("mps"), rss=med("rss"), wall=med("wall"),
                ns_all=[round(r["ns"], 1) for r in rows], msgs=rows[0]["msgs"],
                refused=max(r["refused"] for r in rows), fix=rows[0]["fix"], fixb=rows[0]["fixb"],
                live=rows[0]["live"], storage=rows[0]["storage"])

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"

cpu = sh("lscpu | sed -n 's/^Model name: *//p'") or "?"
print(f"tickwire perf-engine  {sh('date -u +%Y-%m-%dT%H:%M:%SZ')}  commit {sh('git rev-parse --short HEAD')}"
      f"{' (dirty tree)' if sh('git status --porcelain --untracked-files=no') else ''}")
print(f"cpu: {cpu}, {os.cpu_count()} cpus; {sh('rustc --version')}")
print(f"single thread, input mmapped from page cache, FIX encoded and written to /dev/null, "
      f"SendingTime = event time; {runs} runs, medians")
print()
hdr = f"{'file':<8} {'engine / config':<58} {'runs':>4} {'ns/msg':>7} {'Mmsg/s':>7} {'wall s':>7} {'peak RSS':>9}"
print(hdr)
print("-" * len(hdr))
problems = []
for name in ("50sym", "2000sym"):
    o, l, s, size = open(f"{res}/{name}.sizing").read().split()
    print(f"{name:<8} input {messages:,} messages, {int(size)/2**20:.0f} MiB BinaryFILE")
    for label, n, cfg in ((f"{name}-sized", runs, f"tickwire sized: orders {o}, levels {l}, locates {s}"),
                          (f"{name}-default", runs, "tickwire defaults (4Mi orders, 4Mi levels)")):
        e = engine(label, n)
        if e["refused"]:
            problems.append(f"{label}: {e['refused']} adds refused for capacity (sizing too small)")
        if e["msgs"] != messages:
            problems.append(f"{label}: {e['msgs']} messages processed, expected {messages}")
        print(f"{name:<8} {cfg[:58]:<58} {n:>4} {e['ns']:>7.1f} {e['mps']/1e6:>7.2f} {e['wall']:>7.3f} "
              f"{e['rss']:>6.0f} MiB")
        if n > 1:
            print(f"{'':<8}   runs ns/msg {e['ns_all']}")
        print(f"{'':<8}   live orders at end {e['live']:,}, engine tables {e['storage']:.0f} MiB, "
              f"FIX {e['fix']:,} messages / {e['fixb']/2**20:.1f} MiB")
    if baseline:
        t = open(f"{res}/{name}-itchbook.txt").read()
        ns = float(re.search(r"([\d.]+) ns/message", t).group(1))
        mps = float(re.search(r"ns/message\s+([\d,]+) messages/s", t).group(1).replace(",", ""))
        rss, wall = tv(f"{res}/{name}-itchbook.time")
        print(f"{name:<8} {'itch-book Session(tables=[]).feed (baseline)':<58} {runs:>4} {ns:>7.1f} "
              f"{mps/1e6:>7.2f} {'-':>7} {rss:>6.0f} MiB")
        print(f"{'':<8}   parse + full-depth book only: no top-of-book tables, VWAP or FIX;")
        print(f"{'':<8}   RSS is the whole Python process holding the file in memory")
print()
print(f"ns/msg and Mmsg/s: engine loop only (replayer timer). wall s: whole process, incl. mapping and")
print(f"zeroing the tables. Raw results: {res}")
for p in problems:
    print("PROBLEM:", p)
sys.exit(1 if problems else 0)
EOF
