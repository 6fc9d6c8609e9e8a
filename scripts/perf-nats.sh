#!/usr/bin/env bash
# What publishing book records to NATS costs and achieves, against a local
# nats-server (started here on a free loopback port, JetStream on, its store
# in a temp dir; stopped at exit). Not part of CI.
#
#   scripts/perf-nats.sh            (knobs are environment variables)
#
#   RUNS=5            host runs per variant (section 1), interleaved
#   MESSAGES=5000000  ITCH messages of the host's input (section 1)
#   SYMBOLS=2000      symbols of that input
#   BRIDGE_RUNS=3     replayer runs per variant (section 2)
#   BRIDGE_MESSAGES=1000000, BRIDGE_SYMBOLS=2000, BRIDGE_INTERVAL=10ms
#   BRIDGE_RING=1024  --nats-ring of the replayer runs (see 2.)
#   LAT_MESSAGES=300000, LAT_SYMBOLS=50, LAT_RATE=100000 (msg/s),
#   LAT_INTERVAL=10ms (section 3; under the 1s VWAP window, window/interval <= 256)
#   SERVER_CPUS       CPUs nats-server may use (taskset), default every CPU but
#                     1 (the worker lcore of -l 0,1), so the server does not
#                     preempt the busy-polling worker; "all" for no pinning
#   PERF_DIR (default target/perf-nats), HUGEPAGES (default 1536)
#   SECTIONS=123      which sections to run
#   VARIANTS="baseline core jetstream"  section 1's variants; also core1
#                     (--nats-depth 1: records of one level), core_ring2k
#                     (--record-ring 2048: a ring that stays in cache),
#                     core_noudp (--no-udp-output: NATS instead of the UDP
#                     FIX datagrams) and busy0 (the
#                     baseline with a busy loop on CPU 0, where the main
#                     lcore, the bridge and the server run: what sharing
#                     the machine costs the worker, without NATS)
#
# 1. Feed path with and without --nats (publishing must not slow the host's
#    feed path): the host as scripts/perf-host.sh's headline (net_pcap
#    infinite_rx=1 into one worker lcore -l 0,1, FIX to net_null, hugepages
#    when possible, --exit-on-end-of-session: every message applied once) on
#    one generated input (seed 42), variants interleaved run by run:
#      baseline  no --nats
#      core      --nats URL (core NATS)
#      jetstream --nats URL --nats-stream FEED (acks, 1024 in flight)
#    Rate = messages applied / the worker's busy span (stats JSON), median
#    and best of RUNS. The main lcore drains the records from the workers'
#    rings and OFFERS them to the bridge: a full bridge drops and counts,
#    the worker never waits, so drops are expected here (the feed outruns
#    any bridge) and are printed with the bridge's other counters (offered,
#    published, dropped, acked). The server is restarted with an empty
#    store before every run (baseline too, so each run sees the same).
#    On a 2-core machine the bridge thread, nats-server and the main lcore
#    share the cores with the worker: this measures the worst case.
# 2. Bridge throughput: `tickwire replay FILE --no-fix --nats URL
#    [--nats-stream S]` on an input with many emission boundaries (BRIDGE_*;
#    a record per changed symbol per boundary). The replayer waits for room
#    in the bridge (nothing is lost), so its elapsed time is the bridge's:
#    records/s = offered / elapsed_s, median of BRIDGE_RUNS. The engine
#    alone (`--no-fix`, no --nats) is timed too, to show it is far faster.
#    The replayer's elapsed_s ends when the last record is handed to the
#    bridge, before the bridge drains its channel and awaits the last acks:
#    the channel is kept small (--nats-ring BRIDGE_RING) so at most
#    BRIDGE_RING (+1024 in flight) records fall outside the measure; the
#    whole run's wall time is printed too.
# 3. Publish-to-consumer latency, at a rate the bridge sustains (not a
#    backlog): the host on a net_tap it creates (tap twnats0, --ip
#    10.78.0.2/24, line A 233.54.12.111:26400), fed over the kernel by
#    `tickwire send --rate LAT_RATE` (LAT_MESSAGES over LAT_SYMBOLS,
#    --interval LAT_INTERVAL): real time, paced, the records a boundary
#    emits (one per changed symbol, so at most LAT_SYMBOLS in a burst)
#    leave the main lcore as they come. `--nats-stamp` puts the wall time
#    of the publish (taken by the bridge thread just before the client
#    gets the message) in a header; `tickwire subscribe --latency` (same
#    machine, same clock) takes receive - stamp: client write, server,
#    delivery, subscriber decode. It does not include the worker -> ring ->
#    main lcore -> bridge channel hop. Core NATS: a live subscription;
#    JetStream: `--stream S --new` (an ordered consumer) started before the
#    host, so stored-then-delivered. Printed: records/s achieved, p50, p99,
#    p99.9 and max.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
case "${1:-}" in
  -h|--help) sed -n '2,62p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "perf-nats: no arguments, only environment knobs (try --help)" >&2; exit 2 ;;
esac
RUNS="${RUNS:-5}"
MESSAGES="${MESSAGES:-5000000}"
SYMBOLS="${SYMBOLS:-2000}"
BRIDGE_RUNS="${BRIDGE_RUNS:-3}"
BRIDGE_MESSAGES="${BRIDGE_MESSAGES:-1000000}"
BRIDGE_SYMBOLS="${BRIDGE_SYMBOLS:-2000}"
BRIDGE_INTERVAL="${BRIDGE_INTERVAL:-10ms}"
BRIDGE_RING="${BRIDGE_RING:-1024}"
LAT_MESSAGES="${LAT_MESSAGES:-300000}"
LAT_SYMBOLS="${LAT_SYMBOLS:-50}"
LAT_RATE="${LAT_RATE:-100000}"
LAT_INTERVAL="${LAT_INTERVAL:-10ms}"
for v in RUNS MESSAGES SYMBOLS BRIDGE_RUNS BRIDGE_MESSAGES BRIDGE_SYMBOLS BRIDGE_RING LAT_MESSAGES LAT_SYMBOLS LAT_RATE; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "perf-nats: $v must be a positive integer (got ${!v})" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "perf-nats: needs root (hugepages, tap device)" >&2; exit 2; }
NATS_SERVER="${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
[ -x "$NATS_SERVER" ] || { echo "perf-nats: nats-server not found (apt-get install nats-server)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "perf-nats: python3 is needed" >&2; exit 2; }

PERF="${PERF_DIR:-$ROOT/target/perf-nats}"
BIN="$ROOT/target/release/tickwire"
mkdir -p "$PERF"
TMP="$(mktemp -d /tmp/perf-nats.XXXXXX)"
TAP=twnats0
SRV="" SUB="" HOST="" PREFIXES=()
LABEL=perf-nats
# shellcheck source=scripts/hugepages.sh
. "$ROOT/scripts/hugepages.sh"
cleanup() {
  [ -n "$SUB" ] && kill "$SUB" 2>/dev/null || true
  [ -n "$HOST" ] && kill -INT "$HOST" 2>/dev/null || true
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null || true
  wait 2>/dev/null || true
  ip link del "$TAP" 2>/dev/null || true
  for p in "${PREFIXES[@]}"; do rm -rf "/var/run/dpdk/$p"; done
  rm -rf "$TMP"
  restore_pages
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== perf-nats: building release"
cargo build --release -p tickwire-host --quiet

# --- the server ----------------------------------------------------------------
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="nats://127.0.0.1:$PORT"
NCPU="$(nproc)"
if [ -z "${SERVER_CPUS:-}" ]; then
  SERVER_CPUS=0; [ "$NCPU" -gt 2 ] && SERVER_CPUS="0,2-$((NCPU - 1))"
  [ "$NCPU" -eq 1 ] && SERVER_CPUS=all
fi
PIN=(); [ "$SERVER_CPUS" != all ] && PIN=(taskset -c "$SERVER_CPUS")
# srv_start: a fresh server with an empty JetStream store.
srv_start() {
  srv_stop
  rm -rf "$TMP/js"
  "${PIN[@]}" "$NATS_SERVER" -a 127.0.0.1 -p "$PORT" -js -sd "$TMP/js" >>"$PERF/nats-server.log" 2>&1 &
  SRV=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "perf-nats: nats-server did not start (see $PERF/nats-server.log)" >&2; exit 1
}
srv_stop() {
  if [ -n "$SRV" ]; then kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true; SRV=""; fi
}
: >"$PERF/nats-server.log"

json() { python3 -c "import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'): v=v[int(k)] if k.isdigit() else v[k]
print(v)" "$1" "$2"; }
gen() { # BASE SYMBOLS MESSAGES FORMAT
  if [ ! -s "$1.manifest.json" ] || { [ "$4" != binfile ] && [ ! -s "$1.pcap" ]; } || { [ "$4" != pcap ] && [ ! -s "$1.itch" ]; }; then
    echo "== perf-nats: generating $1 ($3 messages, $2 symbols)"
    "$BIN" gen --seed 42 --symbols "$2" --messages "$3" --format "$4" --out "$1" --quiet
  fi
}

REPORT="$PERF/report.txt"
{
  echo "== perf-nats $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs online, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "mode: hugepages $([ "$HUGE" = 1 ] && echo "yes (EAL --in-memory)" || echo "no (EAL --no-huge)"); nats-server $("$NATS_SERVER" --version 2>&1 | head -1) on 127.0.0.1:$PORT (CPUs $SERVER_CPUS), JetStream file store in $TMP"
} | tee "$REPORT"

SECTIONS="${SECTIONS:-123}"
if [[ "$SECTIONS" == *1* ]]; then
# --- 1. feed path ----------------------------------------------------------------
base="$PERF/${SYMBOLS}sym-$MESSAGES"
gen "$base" "$SYMBOLS" "$MESSAGES" pcap
man="$base.manifest.json"
frames="$(json "$man" pcap.packets.frames)"
target="$(json "$man" live_orders_target)"
orders=$((target * 5 / 4 + 1024))
tables=(--max-orders "$orders" --max-levels "$orders" --max-locates $((SYMBOLS + 1)))
mbufs=262143
while [ "$mbufs" -lt $((frames + 8192)) ]; do mbufs=$((mbufs * 2 + 1)); done
mem_mb=$(((orders * 64) / 1048576 + 64 + mbufs * 23 / 10240 + 768))
cat "$base.pcap" >/dev/null # page cache

feed_run() { # VARIANT RUN
  local v="$1" i="$2" prefix="twnats-$1-$2-$$" stats="$PERF/feed-$1-$2.json"
  PREFIXES+=("$prefix")
  local app=(--rx-port net_pcap0 --tx-port net_null0 --exit-on-end-of-session --mbufs "$mbufs" "${tables[@]}"
             --stats-interval 0s --stats-json "$stats")
  case "$v" in
    baseline) ;;
    core) app+=(--nats "$URL") ;;
    core1) app+=(--nats "$URL" --nats-depth 1) ;;
    core_ring2k) app+=(--nats "$URL" --record-ring 2048) ;;
    core_noudp) app+=(--nats "$URL" --no-udp-output) ;;
    jetstream) app+=(--nats "$URL" --nats-stream FEED) ;;
    busy0) ;;
  esac
  srv_start
  local spin=""
  if [ "$v" = busy0 ]; then
    taskset -c 0 sh -c 'while :; do :; done' & spin=$!
  fi
  # shellcheck disable=SC2046
  "$BIN" $(eal_mem "$mem_mb") --no-pci --no-telemetry -l 0,1 --log-level=error --file-prefix "$prefix" \
    --vdev "net_pcap0,rx_pcap=$base.pcap,infinite_rx=1" --vdev net_null0 \
    -- "${app[@]}" >"$PERF/feed-$v-$i.log" 2>&1 \
    || { echo "perf-nats: host run $v $i failed:" >&2; tail -20 "$PERF/feed-$v-$i.log" >&2; exit 1; }
  [ -n "$spin" ] && { kill "$spin"; wait "$spin" 2>/dev/null || true; }
  rm -rf "/var/run/dpdk/$prefix"
  local a; a="$(json "$stats" messages.applied)"
  [ "$a" = "$MESSAGES" ] || { echo "perf-nats: $v run $i applied $a of $MESSAGES messages" >&2; exit 1; }
}
read -r -a VARIANTS <<<"${VARIANTS:-baseline core jetstream}"
echo "== perf-nats: 1. feed path, $MESSAGES messages over $SYMBOLS symbols ($frames frames), $RUNS runs per variant"
for i in $(seq 1 "$RUNS"); do
  for v in "${VARIANTS[@]}"; do feed_run "$v" "$i"; done
  echo "   run $i/$RUNS done"
done
srv_stop
python3 - "$PERF" "$RUNS" "$MESSAGES" "$SYMBOLS" "$frames" "$HUGE" "${VARIANTS[@]}" <<'PY' | tee -a "$REPORT"
import json, statistics, sys
perf, runs, messages, symbols, frames, huge = sys.argv[1:7]
variants, runs = sys.argv[7:], int(runs)
print(f"\n1. feed path: host, net_pcap infinite_rx -> 1 worker lcore -> FIX to net_null, {int(messages):,} messages "
      f"over {symbols} symbols ({int(frames):,} frames), hugepages {'yes' if huge == '1' else 'no'}, "
      f"{runs} runs interleaved; worker M msg/s median / best")
base = None
for v in variants:
    js = [json.load(open(f"{perf}/feed-{v}-{i}.json")) for i in range(1, runs + 1)]
    rates = [j["workers"][0]["messages_per_s"] for j in js]
    med, best = statistics.median(rates), max(rates)
    base = base or med
    line = (f"  {v:10s} {med/1e6:7.2f} / {best/1e6:6.2f} M msg/s ({1e9/med:5.1f} ns/msg, "
            f"{100*(med/base-1):+5.1f}% vs baseline)")
    n = js[0].get("nats")
    if n:
        m = lambda k: int(statistics.median(j["nats"][k] for j in js))
        line += (f"; bridge (medians): offered {m('offered'):,}, published {m('published'):,}, "
                 f"dropped {m('dropped'):,}, acked {m('acked'):,}, failed {m('failed'):,}")
        errs = {j["nats"].get("last_error") for j in js} - {None}
        if errs:
            line += f"; last errors: {sorted(errs)}"
    print(line)
print("  (the host offers records and never waits: a bridge that cannot keep up drops and counts;\n"
      "   drops are expected here, the measure is the worker's rate)")
PY

fi
if [[ "$SECTIONS" == *2* ]]; then
# --- 2. bridge throughput ---------------------------------------------------------
bbase="$PERF/${BRIDGE_SYMBOLS}sym-$BRIDGE_MESSAGES"
gen "$bbase" "$BRIDGE_SYMBOLS" "$BRIDGE_MESSAGES" binfile
cat "$bbase.itch" >/dev/null
BVARIANTS=(engine core jetstream)
echo "== perf-nats: 2. bridge throughput, $BRIDGE_MESSAGES messages over $BRIDGE_SYMBOLS symbols, --interval $BRIDGE_INTERVAL, $BRIDGE_RUNS runs"
for i in $(seq 1 "$BRIDGE_RUNS"); do
  for v in "${BVARIANTS[@]}"; do
    args=()
    case "$v" in
      core) args=(--nats "$URL" --nats-ring "$BRIDGE_RING") ;;
      jetstream) args=(--nats "$URL" --nats-ring "$BRIDGE_RING" --nats-stream BRIDGE) ;;
    esac
    srv_start
    s="$PERF/bridge-$v-$i.json"
    t0="$(date +%s.%N)"
    "$BIN" replay "$bbase.itch" --no-fix --quiet --interval "$BRIDGE_INTERVAL" "${args[@]}" --stats-json "$s" \
      >"$PERF/bridge-$v-$i.log" 2>&1 \
      || { echo "perf-nats: replay $v $i failed:" >&2; tail -5 "$PERF/bridge-$v-$i.log" >&2; exit 1; }
    t1="$(date +%s.%N)"
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); j['wall_s']=float(sys.argv[3])-float(sys.argv[2]); json.dump(j,open(sys.argv[1],'w'))" "$s" "$t0" "$t1"
  done
done
srv_stop
python3 - "$PERF" "$BRIDGE_RUNS" "$BRIDGE_MESSAGES" "$BRIDGE_SYMBOLS" "$BRIDGE_INTERVAL" "$BRIDGE_RING" <<'PY' | tee -a "$REPORT"
import json, statistics, sys
perf, runs, messages, symbols, interval, ring = sys.argv[1:7]
runs = int(runs)
load = lambda v: [json.load(open(f"{perf}/bridge-{v}-{i}.json")) for i in range(1, runs + 1)]
print(f"\n2. bridge throughput: tickwire replay --no-fix on {int(messages):,} messages over {symbols} symbols, "
      f"--interval {interval}, --nats-ring {ring}; medians of {runs}")
eng = load("engine")
print(f"  engine alone (no --nats)   elapsed {statistics.median(j['elapsed_s'] for j in eng)*1e3:8.1f} ms "
      f"({statistics.median(j['messages_per_s'] for j in eng)/1e6:.2f} M msg/s); wall {statistics.median(j['wall_s'] for j in eng):.2f} s")
for v, what in [("core", "core NATS"), ("jetstream", "JetStream (acks, 1024 in flight)")]:
    js = load(v)
    rates = [j["nats"]["offered"] / j["elapsed_s"] for j in js]
    n = js[0]["nats"]
    off = statistics.median(j["nats"]["offered"] for j in js)
    warn = "" if off >= 100_000 else "  (fewer than 100k records: raise BRIDGE_MESSAGES or lower BRIDGE_INTERVAL)"
    print(f"  {what:26s} {statistics.median(rates)/1e3:8.1f} k records/s (best {max(rates)/1e3:.1f} k); "
          f"{int(off):,} records, {statistics.median(j['nats']['bytes'] for j in js)/off:.0f} B each, "
          f"elapsed {statistics.median(j['elapsed_s'] for j in js):.2f} s, wall {statistics.median(j['wall_s'] for j in js):.2f} s; "
          f"published {n['published']:,}, acked {n['acked']:,}, dropped {n['dropped']}, failed {n['failed']}{warn}")
PY

fi
if [[ "$SECTIONS" == *3* ]]; then
# --- 3. latency -------------------------------------------------------------------
lbase="$PERF/${LAT_SYMBOLS}sym-$LAT_MESSAGES"
gen "$lbase" "$LAT_SYMBOLS" "$LAT_MESSAGES" binfile
session="$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('session','TICKWIRE01'))" "$lbase.manifest.json" 2>/dev/null || echo TICKWIRE01)"
"$BIN" gen --seed 1 --symbols 5 --messages 2000 --format binfile --out "$TMP/tiny" --quiet
echo "== perf-nats: 3. latency, $LAT_MESSAGES messages over $LAT_SYMBOLS symbols at $LAT_RATE msg/s, --interval $LAT_INTERVAL"
lat_run() { # VARIANT
  local v="$1" prefix="twnats-lat-$1-$$" stats="$PERF/lat-$1-host.json" sub="$PERF/lat-$1-sub.json"
  PREFIXES+=("$prefix")
  local nats=(--nats "$URL" --nats-stamp) subargs=()
  srv_start
  if [ "$v" = jetstream ]; then
    nats+=(--nats-stream LAT)
    subargs=(--stream LAT --new)
    # The stream must exist before its consumer: a tiny replay creates it.
    "$BIN" replay "$TMP/tiny.itch" --no-fix --quiet --nats "$URL" --nats-stream LAT >/dev/null 2>&1
  fi
  "$BIN" subscribe --nats "$URL" 'md.>' "${subargs[@]}" --quiet --latency --idle-exit 3s \
    --stats-json "$sub" >"$PERF/lat-$v-sub.log" 2>&1 &
  SUB=$!
  sleep 0.5
  # shellcheck disable=SC2046
  "$BIN" $(eal_mem 1024) --no-pci --no-telemetry -l 0,1 --log-level=error --file-prefix "$prefix" \
    --vdev "net_tap0,iface=$TAP" -- --rx-port net_tap0 --ip 10.78.0.2/24 \
    --line-a 233.54.12.111:26400 --interval "$LAT_INTERVAL" --exit-on-end-of-session --no-udp-output \
    "${nats[@]}" --stats-interval 0s --stats-json "$stats" >"$PERF/lat-$v-host.log" 2>&1 &
  HOST=$!
  for _ in $(seq 1 200); do
    ip link show "$TAP" >/dev/null 2>&1 && break
    kill -0 "$HOST" 2>/dev/null || { echo "perf-nats: latency host ($v) exited:" >&2; tail -5 "$PERF/lat-$v-host.log" >&2; exit 1; }
    sleep 0.05
  done
  ip addr add 10.78.0.1/24 dev "$TAP"
  ip link set "$TAP" up
  ip route replace 224.0.0.0/4 dev "$TAP"
  sleep 1
  "$BIN" send "$lbase.itch" --session "$session" --line-a 233.54.12.111:26400 --bind 10.78.0.1 \
    --rate "$LAT_RATE" --end-of-session --linger 1s --stats-json "$PERF/lat-$v-send.json" >"$PERF/lat-$v-send.log" 2>&1
  for _ in $(seq 1 300); do kill -0 "$HOST" 2>/dev/null || break; sleep 0.1; done
  kill -INT "$HOST" 2>/dev/null || true
  wait "$HOST" || { echo "perf-nats: latency host ($v) failed:" >&2; tail -20 "$PERF/lat-$v-host.log" >&2; exit 1; }
  HOST=""
  wait "$SUB" || { echo "perf-nats: subscriber ($v) failed:" >&2; tail -5 "$PERF/lat-$v-sub.log" >&2; exit 1; }
  SUB=""
  ip route del 224.0.0.0/4 dev "$TAP" 2>/dev/null || true
  rm -rf "/var/run/dpdk/$prefix"
}
for v in core jetstream; do lat_run "$v"; done
srv_stop
python3 - "$PERF" "$LAT_MESSAGES" "$LAT_SYMBOLS" "$LAT_RATE" "$LAT_INTERVAL" <<'PY' | tee -a "$REPORT"
import json, sys
perf, messages, symbols, rate, interval = sys.argv[1:6]
print(f"\n3. publish -> consumer latency (--nats-stamp, tickwire subscribe --latency, same clock): host on net_tap fed by "
      f"tickwire send at {int(rate):,} msg/s, {int(messages):,} messages over {symbols} symbols, --interval {interval}")
for v, what in [("core", "core NATS, live subscription"), ("jetstream", "JetStream, ordered consumer --new")]:
    h = json.load(open(f"{perf}/lat-{v}-host.json"))
    s = json.load(open(f"{perf}/lat-{v}-sub.json"))
    n = h["nats"]
    applied = h["messages"]["applied"]
    span = h["workers"][0].get("busy_span_s") or h.get("busy_span_s") or 0
    l = s.get("latency") or {}
    if not l:
        print(f"  {what:34s} no latency samples (subscriber got {s['messages']} messages)")
        continue
    rec_s = n["published"] / span if span else float("nan")
    print(f"  {what:34s} p50 {l['p50_ns']/1e3:8.1f} us  p99 {l['p99_ns']/1e3:8.1f} us  p99.9 {l['p999_ns']/1e3:8.1f} us  "
          f"max {l['max_ns']/1e3:8.1f} us ({l['samples']:,} samples; ~{rec_s:,.0f} records/s over the feed's "
          f"{span:.2f} s); applied {applied:,}, bridge offered {n['offered']:,}, dropped {n['dropped']}, "
          f"acked {n['acked']:,}; subscriber missing {s['pub_seq_missing']}")
PY
fi
echo
echo "== perf-nats: report in $REPORT (stats JSON and logs in $PERF)"
