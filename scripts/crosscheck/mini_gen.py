#!/usr/bin/env python3
"""Tiny ITCH 5.0 BinaryFILE generator with hand-computed expected BBOs.

Writes a NASDAQ BinaryFILE (each message behind a 2-byte big-endian length)
built from a short, hand-written scenario. Every book-changing message carries
the BBO of its locate *after* that message, computed by hand (not by a model
book), so the expected `CHK` output of bbo_reference.py can be derived for any
--every N and compared line for line.

Usage:
  python mini_gen.py OUT.itch                     # clean scenario (both libs must agree)
  python mini_gen.py OUT.itch --expected N        # also print expected CHK lines to stdout
  python mini_gen.py OUT.itch --edge              # edge-case scenario (libs disagree by design)
  python mini_gen.py OUT.itch --bulk 1000000      # clean scenario followed by ~N random but
                                                  # valid messages, for timing only (no expected)

Only the standard library is used.
"""
from __future__ import annotations

import argparse
import random
import struct
import sys

# --------------------------------------------------------------------------- encoders
_ts = [34_200_000_000_000]  # 09:30:00 in ns since midnight


def _hdr(t: bytes, locate: int, tracking: int = 0) -> bytes:
    _ts[0] += 1_000
    ts = _ts[0]
    return t + struct.pack(">HH", locate, tracking) + ts.to_bytes(6, "big")


def _sym(s: str) -> bytes:
    b = s.encode("ascii")
    assert len(b) <= 8
    return b.ljust(8, b" ")


def msg_S(event: bytes) -> bytes:
    return _hdr(b"S", 0) + event


def msg_R(locate: int, stock: str) -> bytes:
    # stock(8) mktcat(1) FSI(1) roundlot u32 roundlotsonly(1) issueclass(1) subtype(2)
    # authenticity(1) SSTI(1) IPO(1) LULD tier(1) ETP flag(1) ETP lev u32 inverse(1)
    body = (_sym(stock) + b"Q" + b"N" + struct.pack(">I", 100) + b"N" + b"C" + b"Z "
            + b"P" + b"N" + b"N" + b"1" + b"N" + struct.pack(">I", 0) + b"N")
    m = _hdr(b"R", locate) + body
    assert len(m) == 39, len(m)
    return m


def msg_L(locate: int, stock: str) -> bytes:
    # Market Participant Position: MPID(4) stock(8) primary MM(1) mode(1) state(1) = 26
    m = _hdr(b"L", locate) + b"NSDQ" + _sym(stock) + b"Y" + b"N" + b"A"
    assert len(m) == 26
    return m


def msg_A(locate, ref, side, shares, stock, price):
    m = _hdr(b"A", locate) + struct.pack(">Q", ref) + side.encode() + struct.pack(">I", shares) \
        + _sym(stock) + struct.pack(">I", price)
    assert len(m) == 36
    return m


def msg_F(locate, ref, side, shares, stock, price, mpid="NSDQ"):
    m = _hdr(b"F", locate) + struct.pack(">Q", ref) + side.encode() + struct.pack(">I", shares) \
        + _sym(stock) + struct.pack(">I", price) + mpid.encode().ljust(4, b" ")
    assert len(m) == 40
    return m


_match = [1000]


def _next_match() -> int:
    _match[0] += 1
    return _match[0]


def msg_E(locate, ref, shares):
    m = _hdr(b"E", locate) + struct.pack(">QIQ", ref, shares, _next_match())
    assert len(m) == 31
    return m


def msg_C(locate, ref, shares, printable, price):
    m = _hdr(b"C", locate) + struct.pack(">QIQ", ref, shares, _next_match()) + printable.encode() \
        + struct.pack(">I", price)
    assert len(m) == 36
    return m


def msg_X(locate, ref, shares):
    m = _hdr(b"X", locate) + struct.pack(">QI", ref, shares)
    assert len(m) == 23
    return m


def msg_D(locate, ref):
    m = _hdr(b"D", locate) + struct.pack(">Q", ref)
    assert len(m) == 19
    return m


def msg_U(locate, old, new, shares, price):
    m = _hdr(b"U", locate) + struct.pack(">QQII", old, new, shares, price)
    assert len(m) == 35
    return m


def msg_P(locate, ref, side, shares, stock, price):
    m = _hdr(b"P", locate) + struct.pack(">Q", ref) + side.encode() + struct.pack(">I", shares) \
        + _sym(stock) + struct.pack(">I", price) + struct.pack(">Q", _next_match())
    assert len(m) == 44
    return m


def frame(m: bytes) -> bytes:
    return struct.pack(">H", len(m)) + m


# --------------------------------------------------------------------------- scenarios
# Each entry: (message bytes, expected) where expected is None (no book change for
# any locate) or (locate, (bid_px|None, bid_qty|None, ask_px|None, ask_qty|None)),
# the hand-computed BBO of that locate after the message.
N_ = None


def clean_scenario():
    return [
        (msg_S(b"O"), None),                                              # 1
        (msg_R(1, "AAPL"), None),                                         # 2
        (msg_R(2, "MSFT"), None),                                         # 3
        (msg_R(3, "IBM"), None),                                          # 4 never gets an add
        (msg_L(1, "AAPL"), None),                                         # 5 non-book type
        (msg_A(1, 1, "B", 100, "AAPL", 1000000), (1, (1000000, 100, N_, N_))),      # 6
        (msg_A(1, 2, "B", 200, "AAPL", 1000100), (1, (1000100, 200, N_, N_))),      # 7
        (msg_F(1, 3, "S", 300, "AAPL", 1000500), (1, (1000100, 200, 1000500, 300))),  # 8
        (msg_A(2, 10, "S", 10, "MSFT", 2500000), (2, (N_, N_, 2500000, 10))),       # 9
        (msg_A(1, 4, "S", 50, "AAPL", 1000500), (1, (1000100, 200, 1000500, 350))),  # 10
        (msg_A(1, 5, "S", 70, "AAPL", 1000600), (1, (1000100, 200, 1000500, 350))),  # 11 deeper level
        (msg_A(2, 11, "B", 5, "MSFT", 2490000), (2, (2490000, 5, 2500000, 10))),    # 12
        (msg_A(1, 7, "B", 25, "AAPL", 1000100), (1, (1000100, 225, 1000500, 350))),  # 13 joins level
        (msg_E(1, 2, 50), (1, (1000100, 175, 1000500, 350))),             # 14 E partial
        (msg_C(1, 3, 100, "N", 1000500), (1, (1000100, 175, 1000500, 250))),  # 15 C non-printable
        (msg_X(1, 4, 20), (1, (1000100, 175, 1000500, 230))),             # 16 X partial
        (msg_D(1, 2), (1, (1000100, 25, 1000500, 230))),                  # 17 D
        (msg_U(1, 1, 6, 400, 1000200), (1, (1000200, 400, 1000500, 230))),  # 18 U to better px
        (msg_P(1, 0, "B", 500, "AAPL", 1000300), (1, (1000200, 400, 1000500, 230))),  # 19 P no-op
        (msg_C(1, 3, 200, "Y", 1000450), (1, (1000200, 400, 1000500, 30))),  # 20 C full fill
        (msg_U(2, 11, 12, 8, 2495000), (2, (2495000, 8, 2500000, 10))),   # 21 U
        (msg_D(1, 4), (1, (1000200, 400, 1000600, 70))),                  # 22 level vanishes
        (msg_X(1, 7, 25), (1, (1000200, 400, 1000600, 70))),              # 23 X full (non-top)
        (msg_E(2, 10, 10), (2, (2495000, 8, N_, N_))),                    # 24 E full, side empty
        (msg_A(1, 8, "S", 100, "AAPL", 1000550), (1, (1000200, 400, 1000550, 100))),  # 25
        (msg_A(5, 20, "B", 1000, "ZVZZT", 100), (5, (100, 1000, N_, N_))),  # 26 locate w/o R msg
        (msg_U(1, 6, 9, 300, 1000200), (1, (1000200, 300, 1000550, 100))),  # 27 U same px, fewer
        (msg_S(b"C"), None),                                              # 28 end of messages
    ]


def edge_scenario():
    """Inputs where the two packages' documented/observed semantics differ.

    No expected values: run both implementations with --every 1 and diff.
    """
    return [
        (msg_S(b"O"), None),                                          # 1
        (msg_R(1, "EDGE"), None),                                     # 2
        (msg_R(2, "EDG2"), None),                                     # 3
        (msg_R(3, "EDG3"), None),                                     # 4
        (msg_A(1, 1, "B", 100, "EDGE", 500000), None),                # 5
        (msg_E(1, 999, 10), None),                                    # 6 unknown ref E
        (msg_X(1, 1, 150), None),                                     # 7 oversized X (clamp?)
        (msg_A(1, 2, "B", 100, "EDGE", 500000), None),                # 8
        (msg_A(1, 2, "B", 50, "EDGE", 510000), None),                 # 9 duplicate live ref
        (msg_A(1, 3, "S", 0, "EDGE", 520000), None),                  # 10 zero-share add
        (msg_A(3, 30, "S", 10, "EDG3", 0), None),                     # 11 zero-price add
        (msg_U(1, 2, 5, 0, 505000), None),                            # 12 replace to 0 shares
        (msg_A(2, 6, "B", 10, "EDG2", 100000), None),                 # 13
        (msg_D(1, 6), None),                                          # 14 D with wrong header locate
        (msg_E(2, 6, 4), None),                                       # 15
        (msg_U(2, 777, 778, 10, 100000), None),                       # 16 U of unknown ref
        (msg_E(2, 6, 100), None),                                     # 17 oversized E
        (msg_A(2, 40, "S", 10, "EDG2", 200000), None),                # 18
        (msg_A(2, 41, "S", 10, "EDG2", 210000), None),                # 19
        (msg_U(2, 40, 41, 20, 205000), None),                         # 20 U onto a live ref
        (msg_S(b"C"), None),                                          # 21
    ]


def bulk_messages(n: int, seed: int = 1, n_locates: int = 50):
    """~n random valid messages (adds/E/C/X/D/U/P) for timing; bids stay below and asks above a
    fixed per-locate mid, so books never cross."""
    rnd = random.Random(seed)
    out = []
    base_locate = 100
    live: dict[int, list] = {}   # ref -> [locate, side, shares, price]
    refs: list[int] = []
    next_ref = 1_000_000
    for i in range(n_locates):
        out.append(msg_R(base_locate + i, f"S{i:04d}"))
    mids = [rnd.randint(100_000, 5_000_000) for _ in range(n_locates)]
    while len(out) < n:
        r = rnd.random()
        if r < 0.45 or len(refs) < 100:
            li = rnd.randrange(n_locates)
            side = "B" if rnd.random() < 0.5 else "S"
            off = rnd.randint(1, 50) * 100
            px = mids[li] - off if side == "B" else mids[li] + off
            sh = rnd.randint(1, 20) * 100
            ref = next_ref
            next_ref += 1
            if rnd.random() < 0.1:
                out.append(msg_F(base_locate + li, ref, side, sh, f"S{li:04d}", px))
            else:
                out.append(msg_A(base_locate + li, ref, side, sh, f"S{li:04d}", px))
            live[ref] = [base_locate + li, side, sh, px]
            refs.append(ref)
            continue
        # pick a live ref (swap-remove on delete)
        j = rnd.randrange(len(refs))
        ref = refs[j]
        loc, side, sh, px = live[ref]
        if r < 0.80:
            out.append(msg_D(loc, ref))
            del live[ref]
            refs[j] = refs[-1]
            refs.pop()
        elif r < 0.86:
            k = rnd.randint(1, sh)
            out.append(msg_E(loc, ref, k) if rnd.random() < 0.7 else msg_C(loc, ref, k, "Y", px))
            if k == sh:
                del live[ref]
                refs[j] = refs[-1]
                refs.pop()
            else:
                live[ref][2] -= k
        elif r < 0.91:
            k = rnd.randint(1, sh)
            out.append(msg_X(loc, ref, k))
            if k == sh:
                del live[ref]
                refs[j] = refs[-1]
                refs.pop()
            else:
                live[ref][2] -= k
        elif r < 0.98:
            new = next_ref
            next_ref += 1
            nsh = rnd.randint(1, 20) * 100
            npx = px + (rnd.randint(-3, 3) * 100)
            mid = mids[loc - base_locate]
            npx = min(npx, mid - 100) if side == "B" else max(npx, mid + 100)  # never cross
            out.append(msg_U(loc, ref, new, nsh, npx))
            del live[ref]
            live[new] = [loc, side, nsh, npx]
            refs[j] = new
        else:
            out.append(msg_P(loc, 0, "B", 100, "S0000", px))
    return out


def expected_chk(scn, every: int):
    """Expected CHK lines from the hand-written per-message annotations."""
    state: dict[int, tuple] = {}
    lines = []
    total = len(scn)
    fmt = lambda v: "-" if v is None else str(v)  # noqa: E731
    for k, (_, exp) in enumerate(scn, start=1):
        if exp is not None:
            loc, bbo = exp
            state[loc] = bbo
        if k % every == 0 or k == total:
            for loc in sorted(state):
                lines.append("CHK %d %d %s" % (k, loc, " ".join(fmt(v) for v in state[loc])))
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--edge", action="store_true", help="write the edge-case scenario instead")
    ap.add_argument("--expected", type=int, metavar="N", help="print expected CHK lines for --every N")
    ap.add_argument("--bulk", type=int, metavar="M", help="append ~M random messages (timing file)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    scn = edge_scenario() if a.edge else clean_scenario()
    msgs = [m for m, _ in scn]
    if a.bulk:
        if a.edge:
            ap.error("--bulk only with the clean scenario")
        # drop the closing S 'C' so the bulk part is not after end-of-messages
        msgs = msgs[:-1] + bulk_messages(a.bulk, a.seed) + [msgs[-1]]
    with open(a.out, "wb") as f:
        for m in msgs:
            f.write(frame(m))
    print(f"wrote {len(msgs)} messages to {a.out}", file=sys.stderr)
    if a.expected:
        if a.edge or a.bulk:
            ap.error("--expected only for the plain clean scenario")
        print("\n".join(expected_chk(scn, a.expected)))


if __name__ == "__main__":
    main()
