#!/usr/bin/env bash
# Performance harness for the whole DPDK path of the tickwire host, beside the
# in-memory engine on the same data, in one run.
#
#   scripts/perf-host.sh [MESSAGES [SYMBOLS]] [--runs N]
#
#   MESSAGES  ITCH messages per stream (default 5,000,000)
#   SYMBOLS   symbols of the first shape (default 50); a 2,000-symbol shape of
#             the same size is always measured too
#   --runs N  repetitions of every measurement (default 5); median and best
#             are reported (on a shared machine the best is the least disturbed)
#
# What it does, per shape:
# 1. Hugepages if it can (root): raises vm.nr_hugepages to HUGEPAGES (default
#    1536 x 2 MiB) and mounts hugetlbfs on /dev/hugepages (idempotent; the page
#    count is put back on exit); the EAL runs --in-memory. Without hugepages it
#    falls back to --no-huge --no-shconf and says so.
# 2. Generates once under target/perf-host/ a clean stream (seed 42) as pcap,
#    BinaryFILE and manifest. Engine tables are sized 1.25 x the generator's
#    live-order target, the same for host and replayer.
# 3. The headline, as the issue specifies it: net_pcap with infinite_rx=1 (the
#    PMD loads the pcap into mbufs at start; rx_burst copies frames from
#    memory) feeding one worker lcore (-l 0,1: lcore 0 main, lcore 1 worker),
#    FIX into TX mbufs sent to net_null. --exit-on-end-of-session ends the run
#    after the first pass (a second pass would be all duplicates), so every
#    message is applied exactly once. Rate = messages applied / the worker's
#    busy span (first to last burst), from --stats-json. Latency: TSC from a
#    burst's arrival (rx_burst returned) to its FIX handed to tx_burst, for
#    bursts that emitted FIX, in an HdrHistogram (p50/p99/p99.9/max).
# 4. The same pass with net_pcap reading the file through libpcap (no
#    infinite_rx): the PMD's reading then costs worker-core time.
# 5. The in-memory engine on the same data: `tickwire replay FILE.pcap` (FIX
#    encoded, to /dev/null) and, stricter, `tickwire replay FILE.itch --no-fix`.
#    Interleaved with the host runs so background load hits all alike.
# 6. RX ceiling: the file-read pass with --ports 1, every frame filtered.
# 7. A report per shape in target/perf-host/report-MESSAGES.txt.
#
# Caveat: on a machine with few cores, anything else running shares the
# worker's core (the worker busy-polls lcore 1).
#
# Environment: PERF_DIR (default target/perf-host), HUGEPAGES (default 1536).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

MESSAGES=5000000
SYMBOLS=50
RUNS=5
POS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    -h|--help) sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "perf-host: unknown option $1 (try --help)" >&2; exit 2 ;;
    *) POS+=("$1"); shift ;;
  esac
done
[ "${#POS[@]}" -ge 1 ] && MESSAGES="${POS[0]}"
[ "${#POS[@]}" -ge 2 ] && SYMBOLS="${POS[1]}"
[ "${#POS[@]}" -le 2 ] || { echo "perf-host: at most two positional arguments (MESSAGES SYMBOLS)" >&2; exit 2; }
for v in MESSAGES SYMBOLS RUNS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "perf-host: $v must be a positive integer (got ${!v})" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "perf-host: python3 is needed for the report" >&2; exit 2; }

PERF="${PERF_DIR:-$ROOT/target/perf-host}"
BIN="$ROOT/target/release/tickwire"
mkdir -p "$PERF"

# --- hugepages ----------------------------------------------------------------
LABEL=perf-host
# shellcheck source=scripts/hugepages.sh
. "$ROOT/scripts/hugepages.sh"

echo "== perf-host: building release"
cargo build --release -p tickwire-host --quiet

# --- data ---------------------------------------------------------------------
SHAPES=("$SYMBOLS")
[ "$SYMBOLS" != 2000 ] && SHAPES+=(2000)
for s in "${SHAPES[@]}"; do
  base="$PERF/${s}sym-$MESSAGES"
  if [ ! -s "$base.pcap" ] || [ ! -s "$base.itch" ] || [ ! -s "$base.manifest.json" ]; then
    echo "== perf-host: generating $base.{pcap,itch} ($MESSAGES messages, $s symbols)"
    "$BIN" gen --seed 42 --symbols "$s" --messages "$MESSAGES" --format both --out "$base" --quiet
  fi
done

json() { python3 -c "import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'): v=v[int(k)] if k.isdigit() else v[k]
print(v)" "$1" "$2"; }

# run_host TAG MEM_MB VDEV STATS [app args...]: one host run to completion
# (idle exit), output in $PERF/TAG.log; removes its runtime dir.
run_host() {
  local tag="$1" mem="$2" vdev="$3" stats="$4"; shift 4
  local prefix="twperf-$tag-$$"
  # shellcheck disable=SC2046
  "$BIN" $(eal_mem "$mem") --no-pci --no-telemetry -l 0,1 --log-level=error --file-prefix "$prefix" \
    --vdev "$vdev" --vdev net_null0 \
    -- --rx-port net_pcap0 --tx-port net_null0 --stats-interval 0s --stats-json "$stats" "$@" \
    >"$PERF/$tag.log" 2>&1 || { echo "perf-host: host run $tag failed:" >&2; tail -20 "$PERF/$tag.log" >&2; exit 1; }
  rm -rf "/var/run/dpdk/$prefix"
}

median() { python3 -c "import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
best() { python3 -c "import sys; print(max(float(x) for x in sys.argv[1:]))" "$@"; }

REPORT="$PERF/report-$MESSAGES.txt"
: >"$REPORT"
for s in "${SHAPES[@]}"; do
  base="$PERF/${s}sym-$MESSAGES"
  man="$base.manifest.json"
  target="$(json "$man" live_orders_target)"
  frames="$(json "$man" pcap.packets.frames)"
  orders=$((target * 5 / 4 + 1024))
  tables=(--max-orders "$orders" --max-levels "$orders" --max-locates $((s + 1)))
  # Engine tables: 48 B/order + 16 B/level (+ small); mbufs ~2.3 KiB each.
  eng_mb=$(((orders * 64) / 1048576 + 64))
  single_mb=$((eng_mb + 8191 * 3 / 1024 + 256))
  echo "== perf-host: ${s} symbols: $frames frames, tables ${tables[*]}"
  cat "$base.pcap" >/dev/null # page cache

  # The headline, as specified: net_pcap with infinite_rx=1 (the PMD loads the
  # pcap into mbufs at start; rx_burst copies from memory, no libpcap), one
  # worker, FIX to net_null, hugepages. --exit-on-end-of-session stops the
  # worker after the first pass's end-of-session packet, so every message is
  # applied exactly once (a second pass would be all duplicates).
  mbufs=262143
  while [ "$mbufs" -lt $((frames + 8192)) ]; do mbufs=$((mbufs * 2 + 1)); done
  loop_mb=$((eng_mb + mbufs * 23 / 10240 + 512))
  rates=(); runs_json=(); rrates=(); prates=(); frates=()
  for r in $(seq 1 "$RUNS"); do
    j="$PERF/${s}sym-inf-$r.json"
    run_host "${s}sym-inf-$r" "$loop_mb" "net_pcap0,rx_pcap=$base.pcap,infinite_rx=1" "$j" \
      --exit-on-end-of-session --mbufs "$mbufs" "${tables[@]}"
    applied="$(json "$j" messages.applied)"
    [ "$applied" = "$MESSAGES" ] || { echo "perf-host: infinite_rx pass applied $applied of $MESSAGES messages" >&2; exit 1; }
    [ "$(json "$j" reconciled.rx_equals_classified)" = True ] || { echo "perf-host: counters do not reconcile ($j)" >&2; exit 1; }
    rates+=("$(json "$j" workers.0.messages_per_s)"); runs_json+=("$j")
    # Single pass read through libpcap from the page cache (net_pcap without
    # infinite_rx): the PMD's file reading runs on the worker core too.
    jf="$PERF/${s}sym-file-$r.json"
    run_host "${s}sym-file-$r" "$single_mb" "net_pcap0,rx_pcap=$base.pcap" "$jf" --idle-exit 500ms "${tables[@]}"
    frates+=("$(json "$jf" workers.0.messages_per_s)")
    # The in-memory engine on the same data (the pcap, FIX encoded, as the
    # host does) and, stricter, on the BinaryFILE without FIX. Interleaved
    # with the host runs so background load hits all alike.
    jp="$PERF/${s}sym-replay-pcap-$r.json"
    "$BIN" replay "$base.pcap" --out /dev/null --quiet --stats-json "$jp" "${tables[@]}"
    prates+=("$(json "$jp" messages_per_s)")
    jj="$PERF/${s}sym-replay-$r.json"
    "$BIN" replay "$base.itch" --no-fix --quiet --stats-json "$jj" "${tables[@]}"
    rrates+=("$(json "$jj" messages_per_s)")
  done
  host_rate="$(median "${rates[@]}")"
  host_best="$(best "${rates[@]}")"
  file_rate="$(median "${frates[@]}")"
  pcap_rate="$(median "${prates[@]}")"
  # The run whose rate is the median gives the latency figures.
  mid="$(python3 -c "import sys; r=[float(x) for x in sys.argv[2:]]; m=float(sys.argv[1]); print(min(range(len(r)), key=lambda i: abs(r[i]-m)))" "$host_rate" "${rates[@]}")"
  lat_json="${runs_json[$mid]}"

  # RX ceiling: everything filtered (--ports 1), N runs.
  rx_rates=()
  for r in $(seq 1 "$RUNS"); do
    jr="$PERF/${s}sym-rxonly-$r.json"
    # From the file (idle exit): with every frame filtered, no end of
    # session is ever applied, so an infinite_rx run would never end.
    run_host "${s}sym-rxonly-$r" "$single_mb" "net_pcap0,rx_pcap=$base.pcap" "$jr" --ports 1 --idle-exit 500ms "${tables[@]}"
    rx_rates+=("$(python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(j['rx_packets']/max(j['busy_span_s'],1e-9))" "$jr")")
  done

  replay_rate="$(median "${rrates[@]}")"
  replay_best="$(best "${rrates[@]}")"

  rx_best="$(best "${rx_rates[@]}")"
  python3 - "$s" "$MESSAGES" "$frames" "$HUGE" "$host_rate" "$replay_rate" "$lat_json" "$rx_best" none "$RUNS" \
    "$host_best" "$replay_best" "$file_rate" "$pcap_rate" <<'EOF' | tee -a "$REPORT"
import json, sys
s, messages, frames, huge, host, rep, latf, rx_fps, loopf, runs, host_best, rep_best, file_rate, pcap_rate = sys.argv[1:15]
file_rate, pcap_rate = float(file_rate), float(pcap_rate)
messages, frames, host, rep = int(messages), int(frames), float(host), float(rep)
host_best, rep_best, rx_fps = float(host_best), float(rep_best), float(rx_fps)
lat = json.load(open(latf))
l = lat["latency_burst_to_tx"]; b = lat["burst_handling"]
mpf = messages / frames
print(f"\n== {s} symbols, {messages:,} messages in {frames:,} frames ({mpf:.1f} msgs/frame), "
      f"hugepages: {'yes' if huge == '1' else 'no'}, {runs} runs (median / best)")
print(f"  host, infinite_rx    {host/1e6:8.2f} / {host_best/1e6:.2f} M ITCH msg/s per worker core "
      f"(net_pcap infinite_rx=1, one pass -> 1 worker lcore -> FIX to net_null)")
print(f"  host, pcap from file {file_rate/1e6:8.2f} M msg/s (net_pcap reading through libpcap on the worker core)")
print(f"  engine, same pcap    {pcap_rate/1e6:8.2f} M msg/s (tickwire replay .pcap, FIX encoded to /dev/null)")
print(f"  engine, BinaryFILE   {rep/1e6:8.2f} / {rep_best/1e6:.2f} M msg/s (tickwire replay .itch --no-fix: stricter)")
print(f"  ratio host/engine    {host/pcap_rate:8.2f} vs the same pcap, {host/rep:.2f} vs the BinaryFILE without FIX")
print(f"  latency burst->tx    (median run) p50 {l['p50_ns']:,} ns  p99 {l['p99_ns']:,} ns  p99.9 {l['p999_ns']:,} ns  "
      f"max {l['max_ns']:,} ns ({l['samples']} bursts with FIX)")
print(f"  burst handling       p50 {b['p50_ns']:,} ns  p99 {b['p99_ns']:,} ns  p99.9 {b['p999_ns']:,} ns "
      f"({b['samples']} bursts)")
print(f"  fix                  {lat['fix']['sent']:,} sent, {lat['fix']['dropped']} dropped, "
      f"{lat['fix']['datagrams_sent']:,} datagrams")
print(f"  RX ceiling (best)    {rx_fps/1e6:8.2f} M frames/s (--ports 1: libpcap read + classify only; "
      f"~{rx_fps*mpf/1e6:.0f} M msg/s equivalent)")
EOF
done
echo
echo "report: $REPORT (stats JSON and logs in $PERF)"
