#!/usr/bin/env python3
"""Wrap an ITCH BinaryFILE into MoldUDP64 packets in a classic pcap (stdlib only).

  python mold_pcap.py IN.itch OUT.pcap [--per-packet 5] [--port 26477] [--session SESSION001]

Ethernet/IPv4/UDP 127.0.0.1:40000 -> 127.0.0.1:PORT, one MoldUDP64 packet per
--per-packet messages, sequence numbers starting at 1. Wireshark has no heuristic
for MoldUDP64, so decode with:

  tshark -r OUT.pcap -d udp.port==26477,moldudp64 \\
         -T fields -e moldudp64.session -e moldudp64.sequence -e moldudp64.count \\
         -e moldudp64.msgseq -e moldudp64.msglen -e moldudp64.msgdata

(moldudp64.msgdata, comma-separated hex per packet, round-trips to the input file.)
"""
import argparse
import struct


def _csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--per-packet", type=int, default=5)
    ap.add_argument("--port", type=int, default=26477)
    ap.add_argument("--session", default="SESSION001")
    a = ap.parse_args()
    data = open(a.inp, "rb").read()
    msgs, pos = [], 0
    while pos + 2 <= len(data):
        ln = struct.unpack_from(">H", data, pos)[0]
        if ln == 0 or pos + 2 + ln > len(data):
            break
        msgs.append(data[pos + 2:pos + 2 + ln])
        pos += 2 + ln
    sess = a.session.encode().ljust(10)[:10]
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        seq = 1
        for i in range(0, len(msgs), a.per_packet):
            chunk = msgs[i:i + a.per_packet]
            mold = sess + struct.pack(">QH", seq, len(chunk)) + b"".join(
                struct.pack(">H", len(m)) + m for m in chunk)
            seq += len(chunk)
            udp = struct.pack(">HHHH", 40000, a.port, 8 + len(mold), 0) + mold
            ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
            ip = ip[:10] + struct.pack(">H", _csum(ip)) + ip[12:]
            pkt = b"\0" * 12 + b"\x08\x00" + ip + udp
            n = i // a.per_packet
            f.write(struct.pack("<IIII", 1_700_000_000, n, len(pkt), len(pkt)) + pkt)
    print(f"{len(msgs)} messages in {(len(msgs) + a.per_packet - 1) // a.per_packet} packets -> {a.out}")


if __name__ == "__main__":
    main()
