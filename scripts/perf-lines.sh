#!/usr/bin/env bash
# What lines mode (the feed sequencer in front of the engine) costs the host
# on a clean feed, beside the classic single-line path, in one run.
#
#   scripts/perf-lines.sh [MESSAGES [SYMBOLS]] [--runs N]
#
#   MESSAGES  ITCH messages (default 5,000,000); SYMBOLS (default 50; a
#             2,000-symbol shape is measured too)
#   --runs N  repetitions (default 5), interleaved; medians are reported
#
# Per shape, as scripts/perf-host.sh's headline (net_pcap infinite_rx=1 into
# one worker lcore, FIX to net_null, hugepages when possible,
# --exit-on-end-of-session so every message is applied once):
#   classic   no lines options: MoldUDP64 sequenced inside the engine
#   lines-A   --line-a net_pcap0: every packet through feed::Sequencer
#   lines-AB  line B on net_pcap1 (the same pcap, infinite_rx): every message
#             arrives twice, the worker polls both ports in turn and drops
#             the second copy (rate = unique messages / busy span)
# Rate = messages applied / the worker's busy span; burst->tx latency
# percentiles from the median run. Report: target/perf-lines/report-N.txt.
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
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "perf-lines: unknown option $1 (try --help)" >&2; exit 2 ;;
    *) POS+=("$1"); shift ;;
  esac
done
[ "${#POS[@]}" -ge 1 ] && MESSAGES="${POS[0]}"
[ "${#POS[@]}" -ge 2 ] && SYMBOLS="${POS[1]}"
for v in MESSAGES SYMBOLS RUNS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "perf-lines: $v must be a positive integer (got ${!v})" >&2; exit 2; }
done
PERF="${PERF_DIR:-$ROOT/target/perf-lines}"
BIN="$ROOT/target/release/tickwire"
mkdir -p "$PERF"
LABEL=perf-lines
# shellcheck source=scripts/hugepages.sh
. "$ROOT/scripts/hugepages.sh"
echo "== perf-lines: building release"
cargo build --release -p tickwire-host --quiet

SHAPES=("$SYMBOLS")
[ "$SYMBOLS" != 2000 ] && SHAPES+=(2000)
json() { python3 -c "import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'): v=v[int(k)] if k.isdigit() else v[k]
print(v)" "$1" "$2"; }

# run_host TAG MEM_MB STATS VDEVS... -- APP ARGS
run_host() {
  local tag="$1" mem="$2" stats="$3"; shift 3
  local vdevs=()
  while [ "$1" != "--" ]; do vdevs+=(--vdev "$1"); shift; done
  shift
  local prefix="twlines-$tag-$$"
  # shellcheck disable=SC2046
  "$BIN" $(eal_mem "$mem") --no-pci --no-telemetry -l 0,1 --log-level=error --file-prefix "$prefix" \
    "${vdevs[@]}" --vdev net_null0 \
    -- --rx-port net_pcap0 --tx-port net_null0 --stats-interval 0s --stats-json "$stats" "$@" \
    >"$PERF/$tag.log" 2>&1 || { echo "perf-lines: host run $tag failed:" >&2; tail -20 "$PERF/$tag.log" >&2; exit 1; }
  rm -rf "/var/run/dpdk/$prefix"
}

REPORT="$PERF/report-$MESSAGES.txt"
: >"$REPORT"
for s in "${SHAPES[@]}"; do
  base="$PERF/${s}sym-$MESSAGES"
  if [ ! -s "$base.pcap" ] || [ ! -s "$base.manifest.json" ]; then
    echo "== perf-lines: generating $base.pcap ($MESSAGES messages, $s symbols)"
    "$BIN" gen --seed 42 --symbols "$s" --messages "$MESSAGES" --format pcap --out "$base" --quiet
  fi
  man="$base.manifest.json"
  target="$(json "$man" live_orders_target)"
  frames="$(json "$man" pcap.packets.frames)"
  orders=$((target * 5 / 4 + 1024))
  tables=(--max-orders "$orders" --max-levels "$orders" --max-locates $((s + 1)))
  eng_mb=$(((orders * 64) / 1048576 + 64))
  mbufs=262143
  while [ "$mbufs" -lt $((frames + 8192)) ]; do mbufs=$((mbufs * 2 + 1)); done
  # Line B's port takes its mbufs from the same pool: twice the frames.
  mbufs_ab=$mbufs
  while [ "$mbufs_ab" -lt $((2 * frames + 8192)) ]; do mbufs_ab=$((mbufs_ab * 2 + 1)); done
  one_mb=$((eng_mb + mbufs * 23 / 10240 + 512))
  two_mb=$((eng_mb + mbufs_ab * 23 / 10240 + 768))
  cat "$base.pcap" >/dev/null
  echo "== perf-lines: ${s} symbols, $frames frames"
  for r in $(seq 1 "$RUNS"); do
    run_host "${s}-classic-$r" "$one_mb" "$PERF/${s}-classic-$r.json" \
      "net_pcap0,rx_pcap=$base.pcap,infinite_rx=1" -- \
      --exit-on-end-of-session --mbufs "$mbufs" "${tables[@]}"
    run_host "${s}-linesA-$r" "$one_mb" "$PERF/${s}-linesA-$r.json" \
      "net_pcap0,rx_pcap=$base.pcap,infinite_rx=1" -- \
      --exit-on-end-of-session --mbufs "$mbufs" --line-a net_pcap0 "${tables[@]}"
    run_host "${s}-linesAB-$r" "$two_mb" "$PERF/${s}-linesAB-$r.json" \
      "net_pcap0,rx_pcap=$base.pcap,infinite_rx=1" "net_pcap1,rx_pcap=$base.pcap,infinite_rx=1" -- \
      --exit-on-end-of-session --mbufs "$mbufs_ab" --line-b net_pcap1 "${tables[@]}"
    for v in classic linesA linesAB; do
      a="$(json "$PERF/${s}-$v-$r.json" messages.applied)"
      [ "$a" = "$MESSAGES" ] || { echo "perf-lines: $v run $r applied $a of $MESSAGES" >&2; exit 1; }
    done
  done
  python3 - "$PERF" "$s" "$RUNS" "$MESSAGES" "$frames" "$HUGE" <<'EOF' | tee -a "$REPORT"
import json, statistics, sys
perf, s, runs, messages, frames, huge = sys.argv[1:7]
runs = int(runs)
def load(v):
    return [json.load(open(f"{perf}/{s}-{v}-{r}.json")) for r in range(1, runs + 1)]
print(f"\n== {s} symbols, {int(messages):,} messages in {int(frames):,} frames, hugepages: "
      f"{'yes' if huge == '1' else 'no'}, {runs} runs interleaved (median)")
base = None
for v, what in [("classic", "classic single line (sequencing in the engine)"),
                ("linesA", "lines mode, line A only (feed::Sequencer)"),
                ("linesAB", "lines mode, A and B on two ports (each message twice)")]:
    js = load(v)
    rates = [j["workers"][0]["messages_per_s"] for j in js]
    med = statistics.median(rates)
    mid = min(range(len(rates)), key=lambda i: abs(rates[i] - med))
    l = js[mid]["latency_burst_to_tx"]
    if base is None:
        base = med
    ns = 1e9 / med
    f = js[mid].get("feed", [{}])[0].get("sessions", [{}])[0]
    extra = ""
    if f:
        extra = (f" lost {f['messages_lost']}, A won {f['lines']['a']['won']:,}, "
                 f"B won {f['lines']['b']['won']:,}, B duplicates {f['lines']['b']['duplicates']:,}")
    print(f"  {what:55s} {med/1e6:6.2f} M msg/s ({ns:5.1f} ns/msg, {100*(med/base-1):+5.1f}% vs classic); "
          f"burst->tx p50 {l['p50_ns']:,} p99 {l['p99_ns']:,} p99.9 {l['p999_ns']:,} ns.{extra}")
EOF
done
echo "== perf-lines: report in $REPORT"
