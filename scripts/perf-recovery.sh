#!/usr/bin/env bash
# Recovery time of the host's feed: from a gap's detection to caught up, for
# gaps of 1, 100 and 10,000 messages lost on both lines, recovered from a
# MoldUDP64 re-request server over a real kernel network path.
#
#   scripts/perf-recovery.sh [--gaps N] [--rate MSGS_PER_S]
#
#   --gaps N  gaps per size (default 40)
#   --rate R  feed rate, messages/s (default 100000)
#
# Setup (root): the host on a net_tap it creates (tap twrec0, control plane
# --ip 10.77.0.2/24, lines A 233.54.12.111:26400 and B 233.54.12.112:26400,
# --rerequest 10.77.0.1:26401); on the kernel side of the tap `tickwire send`
# publishes a generated day on both lines with the same ranges dropped on
# both, and `tickwire rerequest-server` answers from the day's file (one
# datagram of at most 1,400 bytes per request, as NASDAQ's). The host's
# `feed[0].recovery_time` histogram (TSC, HdrHistogram) gives p50/p99/max;
# every message must be applied and none lost. A drop range drops the whole
# packets carrying it (the 1-message case is sent one message per packet);
# the report gives the messages actually lost per gap. A gap lost on both
# lines first waits out the arbitration window (1 ms) before it is
# requested, which dominates small gaps. Report in
# target/perf-recovery/report.txt.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
GAPS=40
RATE=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --gaps) GAPS="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "perf-recovery: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "perf-recovery: needs root (tap device, EAL)" >&2; exit 2; }
PERF="${PERF_DIR:-$ROOT/target/perf-recovery}"
BIN="$ROOT/target/release/tickwire"
mkdir -p "$PERF"
LABEL=perf-recovery
# shellcheck source=scripts/hugepages.sh
. "$ROOT/scripts/hugepages.sh"
cargo build --release -p tickwire-host --quiet
TAP=twrec0
SESSION=TWRECOVER1
REPORT="$PERF/report.txt"
: >"$REPORT"

cleanup() {
  [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null || true
  [ -n "${HOST:-}" ] && kill -INT "$HOST" 2>/dev/null || true
  wait 2>/dev/null || true
  restore_pages
}
trap cleanup EXIT

for G in 1 100 10000; do
  # Spacing: room for the feed to run clean between gaps.
  SPACING=$((G * 20 > 4000 ? G * 20 : 4000))
  [ "$G" = 1 ] && SPACING=1000
  MESSAGES=$((SPACING * (GAPS + 2)))
  day="$PERF/day-$G"
  "$BIN" gen --seed 9 --symbols 50 --messages "$MESSAGES" --format binfile --out "$day" --quiet
  ranges=""
  for k in $(seq 1 "$GAPS"); do
    a=$((k * SPACING)); ranges="$ranges${ranges:+,}$a-$((a + G - 1))"
  done
  stats="$PERF/host-$G.json"
  prefix="twrec-$$-$G"
  # shellcheck disable=SC2046
  "$BIN" $(eal_mem 1024) --no-pci --no-telemetry -l 0,1 --log-level=error --file-prefix "$prefix" \
    --vdev "net_tap0,iface=$TAP" -- --rx-port net_tap0 --ip 10.77.0.2/24 \
    --line-a 233.54.12.111:26400 --line-b 233.54.12.112:26400 --rerequest 10.77.0.1:26401 \
    --reorder-buffer 65536 --mbufs 131071 --recovery-timeout 5s --exit-on-end-of-session \
    --no-udp-output --fix-listen 10.77.0.2:9878 --stats-interval 0s --stats-json "$stats" \
    >"$PERF/host-$G.log" 2>&1 &
  HOST=$!
  for _ in $(seq 1 200); do ip link show "$TAP" >/dev/null 2>&1 && break; sleep 0.05; done
  ip addr add 10.77.0.1/24 dev "$TAP"
  ip link set "$TAP" up
  ip route replace 224.0.0.0/4 dev "$TAP"
  "$BIN" rerequest-server "$day.itch" --listen 10.77.0.1:26401 --session "$SESSION" \
    --stats-json "$PERF/server-$G.json" >"$PERF/server-$G.log" 2>&1 &
  SRV=$!
  sleep 1
  # Drop ranges drop the whole packets carrying them: for 1-message gaps
  # the feed is cut one message per packet, else ~40 per packet.
  # (one packet per message: a twentieth of the rate, or the tap drops
  # packets on both lines at once).
  cut=()
  rate=$RATE
  [ "$G" = 1 ] && { cut=(--max-messages 1); rate=$((RATE / 20)); }
  "$BIN" send "$day.itch" --session "$SESSION" --line-a 233.54.12.111:26400 \
    --line-b 233.54.12.112:26400 --bind 10.77.0.1 --rate "$rate" "${cut[@]}" \
    --drop-a "$ranges" --drop-b "$ranges" --end-of-session --linger 3s \
    --stats-json "$PERF/send-$G.json" >"$PERF/send-$G.log"
  for _ in $(seq 1 300); do kill -0 "$HOST" 2>/dev/null || break; sleep 0.1; done
  kill -INT "$HOST" 2>/dev/null || true
  wait "$HOST" || true
  HOST=""
  kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true; SRV=""
  ip route del 224.0.0.0/4 dev "$TAP" 2>/dev/null || true
  rm -rf "/var/run/dpdk/$prefix"
  python3 - "$stats" "$G" "$GAPS" "$MESSAGES" "$rate" <<'EOF' | tee -a "$REPORT"
import json, sys
st, g, gaps, messages, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
j = json.load(open(st))
f = j["feed"][0]
s = f["sessions"][0]
r = f["recovery_time"]
per_gap = s['lines']['recovery']['won'] / max(r['samples'], 1)
print(f"gap {g:>6,} messages ({per_gap:,.0f} lost per gap, whole packets) x {gaps}: recovery p50 {r['p50_ns']/1e3:9.1f} us  p99 {r['p99_ns']/1e3:9.1f} us  "
      f"max {r['max_ns']/1e3:9.1f} us ({r['samples']} gaps closed); applied {s['messages_applied']:,} of {messages:,}, "
      f"lost {s['messages_lost']}, requests {s['requests']:,}, recovery won {s['lines']['recovery']['won']:,}; "
      f"feed {rate:,} msg/s over tap")
if s["messages_lost"] != 0 or s["messages_applied"] != messages:
    sys.exit("perf-recovery: messages were lost or missing")
EOF
done
echo "== perf-recovery: report in $REPORT"
