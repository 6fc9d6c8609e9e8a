#!/usr/bin/env bash
# The main job on a built-in sample: generate a realistic ITCH 5.0 MoldUDP64
# capture, run the tickwire DPDK host on it through a net_pcap virtual device
# (no NIC, no hugepages needed), and show the summary and the first FIX
# messages it sent. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== building tickwire (release)"
cargo build --release --quiet -p tickwire-host
TW=target/release/tickwire
OUT=target/demo
mkdir -p "$OUT"
echo "== generating a sample: 1,000,000 messages, 50 symbols, with duplicates, gaps, VLAN tags and malformed frames"
$TW gen --seed 42 --symbols 50 --messages 1000000 --dup-rate 0.01 --drop-rate 0.002 --vlan-rate 0.1 \
  --malformed-rate 0.002 --filtered-rate 0.002 --out "$OUT/sample"
HUGE="--no-huge -m 1024"
if grep -q '^HugePages_Free: *[1-9]' /proc/meminfo && mount | grep -q hugetlbfs; then HUGE="--in-memory -m 1024"; fi
echo "== running the DPDK host on net_pcap ($HUGE)"
rm -f "$OUT/fix.pcap"
$TW $HUGE --no-pci --no-telemetry -l 0 --log-level=warning --file-prefix "tw-demo-$$" \
  --vdev "net_pcap0,rx_pcap=$OUT/sample.pcap,tx_pcap=$OUT/fix.pcap" \
  -- --rx-port net_pcap0 --idle-exit 500ms --max-orders 1000000 --max-levels 1000000 \
     --stats-json "$OUT/host-stats.json"
echo "== first FIX messages sent (from $OUT/fix.pcap)"
tshark -r "$OUT/fix.pcap" -c 2 -T fields -e data 2>/dev/null \
  | python3 -c "import sys; d=b''.join(bytes.fromhex(l.strip()) for l in sys.stdin if l.strip()); print('\n'.join(('8=FIX'+m).replace(chr(1),'|') for m in d.decode().split('8=FIX')[1:6]))"
echo
echo "stats JSON: $OUT/host-stats.json"
