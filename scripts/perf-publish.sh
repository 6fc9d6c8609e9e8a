#!/usr/bin/env bash
# What an emission boundary costs the book lcore, with FIX encoded inline
# (the UDP datagram output) and with book records handed to the publisher
# (FIX sessions), in one run, interleaved.
#
#   scripts/perf-publish.sh [--runs N] [--messages M] [--symbols S]
#
# Input: a clean generated stream (seed 42, default 5,000,000 messages over
# 2,000 symbols; shared with perf-host.sh under target/perf-host/), through
# net_pcap with infinite_rx=1 into one worker lcore (-l 0,1), hugepages when
# possible, one pass (--exit-on-end-of-session). Modes:
#   inline   FIX 35=W encoded on the worker into TX mbufs, sent to net_null
#   depth10  --fix-listen with --no-udp-output, --max-depth 10: the worker
#            writes one record (10 levels a side) per changed symbol into the
#            ring; the publisher on the main lcore drains it (no client is
#            connected: the measure is the worker's side)
#   depth1   the same with --max-depth 1
# Reported per mode, medians over N runs (default 5):
#   boundary stall: TSC from the first snapshot/record a frame emits to the
#     worker being back at RX (after its FIX flush, for inline), p50/p99/p99.9
#   tick-to-book: TSC from a burst's arrival to the last message of the burst
#     applied (and its output flushed), p50/p99/p99.9
#   messages/s over the worker's busy span
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RUNS=5
MESSAGES=5000000
SYMBOLS=2000
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --messages) MESSAGES="$2"; shift 2 ;;
    --symbols) SYMBOLS="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "perf-publish: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
PERF="${PERF_DIR:-$ROOT/target/perf-host}"
BIN="${TICKWIRE_BIN:-$ROOT/target/release/tickwire}"
mkdir -p "$PERF"
LABEL=perf-publish
# shellcheck source=scripts/hugepages.sh
. "$ROOT/scripts/hugepages.sh"

if [ -z "${TICKWIRE_BIN:-}" ]; then
  echo "== perf-publish: building release"
  cargo build --release -p tickwire-host --quiet
fi
base="$PERF/${SYMBOLS}sym-$MESSAGES"
if [ ! -s "$base.pcap" ]; then
  echo "== perf-publish: generating $base.pcap"
  "$BIN" gen --seed 42 --symbols "$SYMBOLS" --messages "$MESSAGES" --format both --out "$base" --quiet
fi

man="$base.manifest.json"
jget() { python3 -c "import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'): v=v[k]
print(v)" "$1" "$2"; }
frames="$(jget "$man" pcap.packets.frames)"
target="$(jget "$man" live_orders_target)"
orders=$((target * 5 / 4 + 1024))
tables=(--max-orders "$orders" --max-levels "$orders" --max-locates $((SYMBOLS + 1)))
mbufs=262143
while [ "$mbufs" -lt $((frames + 8192)) ]; do mbufs=$((mbufs * 2 + 1)); done
mem_mb=$(((orders * 64) / 1048576 + 64 + mbufs * 23 / 10240 + 768))
cat "$base.pcap" >/dev/null # page cache

run() { # MODE RUN
  local mode="$1" i="$2" prefix="twpub-$1-$2-$$" stats="$PERF/publish-$1-$2.json"
  local app=(--rx-port net_pcap0 --tx-port net_null0 --exit-on-end-of-session --mbufs "$mbufs" "${tables[@]}"
             --stats-interval 0s --stats-json "$stats")
  case "$mode" in
    inline) ;;
    depth*) app+=(--control-port net_null1 --ip 10.254.0.2/24 --fix-listen 10.254.0.2:9878 --no-udp-output
                  --max-depth "${mode#depth}" --linger 0s) ;;
  esac
  # shellcheck disable=SC2046
  "$BIN" $(eal_mem "$mem_mb") --no-pci --no-telemetry -l 0,1 --log-level=error --file-prefix "$prefix" \
    --vdev "net_pcap0,rx_pcap=$base.pcap,infinite_rx=1" --vdev net_null0 --vdev net_null1,no-rx=1 \
    -- "${app[@]}" >"$PERF/publish-$mode-$i.log" 2>&1 \
    || { echo "perf-publish: $mode run $i failed:" >&2; tail -20 "$PERF/publish-$mode-$i.log" >&2; exit 1; }
  rm -rf "/var/run/dpdk/$prefix"
}

MODES=(inline depth10 depth1)
for i in $(seq 1 "$RUNS"); do
  for m in "${MODES[@]}"; do
    run "$m" "$i"
  done
  echo "== perf-publish: run $i/$RUNS done"
done

python3 - "$PERF" "$RUNS" "$HUGE" "${MODES[@]}" <<'PY'
import json, statistics, sys
perf, runs, huge, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4:]
print(f"boundary stall and tick-to-book, medians of {runs} runs (hugepages: {huge}); microseconds")
print(f"{'mode':8} {'stall p50':>10} {'p99':>8} {'p99.9':>8} {'max':>8} {'n':>5} | {'t2b p50':>8} {'p99':>8} {'p99.9':>8} | {'M msg/s':>8} {'records':>9} {'refused':>8}")
for m in modes:
    js = [json.load(open(f"{perf}/publish-{m}-{i}.json")) for i in range(1, runs + 1)]
    med = lambda f: statistics.median(f(j) for j in js)
    st = lambda k: med(lambda j: j["boundary_stall"][k]) / 1e3
    tb = lambda k: med(lambda j: j["burst_handling"][k]) / 1e3
    print(f"{m:8} {st('p50_ns'):10.1f} {st('p99_ns'):8.1f} {st('p999_ns'):8.1f} {st('max_ns'):8.1f} {int(med(lambda j: j['boundary_stall']['samples'])):5d} | "
          f"{tb('p50_ns'):8.2f} {tb('p99_ns'):8.2f} {tb('p999_ns'):8.2f} | {med(lambda j: j['messages_per_s'])/1e6:8.2f} "
          f"{int(med(lambda j: j['book_records'])):9d} {int(med(lambda j: j['book_records_refused'])):8d}")
PY
