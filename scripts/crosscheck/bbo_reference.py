#!/usr/bin/env python3
"""Reference top-of-book from third-party ITCH 5.0 implementations (cross-check / speed baseline).

Runs a NASDAQ BinaryFILE (2-byte big-endian length before every message) through one of
two PyPI packages and prints per-locate best bid/ask at checkpoints:

  python bbo_reference.py --impl itch-book|itchcpp FILE.itch --every N
      After message k (1-based, all message types counted) with k % N == 0, and once more
      after the last message if that was not already a checkpoint, prints for every stock
      locate that has had an A/F add at or before message k, sorted by locate:
          CHK <k> <locate> <bid_px|-> <bid_qty|-> <ask_px|-> <ask_qty|->
      Prices are the raw Price(4) integer (1234500 == $123.45); qty is the aggregate
      displayed shares at the best level; "-" means that side is empty.

  python bbo_reference.py --impl itch-book|itchcpp FILE.itch --bench [--runs 3] [--all]
      Times the implementation's fastest whole-file path (file already in RAM; wall clock,
      median of --runs runs) and prints ns/message and messages/s. --all adds the slower
      secondary paths (bbo table on, per-message Python callbacks, framing-only walk).

Environment: the venv /opt/tickwire-crosscheck-venv (pip install itch-book itchcpp).

How each package is driven (see README.md next to this file for semantics):
  itch-book : itch_book._core.Session(tables=["bbo"], depth=0, symbols=[]).feed(uint8 array)
              once for the whole file; the "bbo" table has one row per top-of-book change
              with seq == 1-based message ordinal, so the state at checkpoint k is the last
              row per locate with seq <= k (all bulk/numpy, no per-message Python).
  itchcpp   : itchcpp.book.BookManager.process_stream(bytes) per checkpoint segment (frame
              aligned; the manager keeps state across calls), then
              book_for_symbol(symbol).bbo() per locate. The Python API has no by-locate
              lookup, so the symbol comes from the locate's first A/F message (that is also
              the name itchcpp gives the book); two locates sharing a symbol are ambiguous
              and are reported on stderr.
The file is framed once in Python (count messages, find checkpoint byte offsets, first add per
locate). A zero-length frame (end of session) ends the stream; a truncated tail is dropped
with a warning.
"""
from __future__ import annotations

import argparse
import mmap
import os
import statistics
import sys
import time

IMPLS = ("itch-book", "itchcpp")

# ITCH 5.0 message lengths (incl. type byte). itch-book skips, and does not count in `seq`,
# any frame whose type is not listed or whose length differs; see Framing.skipped.
_SPEC = {"S": 12, "R": 39, "H": 25, "Y": 20, "L": 26, "V": 35, "W": 12, "K": 28, "J": 35,
         "h": 21, "A": 36, "F": 40, "E": 31, "C": 36, "X": 23, "D": 19, "U": 35, "P": 44,
         "Q": 40, "B": 19, "I": 50, "N": 20, "O": 48}
SPEC_LEN = [0] * 256
for _t, _l in _SPEC.items():
    SPEC_LEN[ord(_t)] = _l


# ----------------------------------------------------------------------------- framing
class Framing:
    __slots__ = ("count", "end", "chk", "chk_off", "first_add", "symbol", "skipped", "warn")

    def __init__(self):
        self.count = 0          # messages
        self.end = 0            # byte offset just past the last complete frame
        self.chk = []           # checkpoint message numbers k
        self.chk_off = []       # byte offset just past message k
        self.first_add = {}     # locate -> k of its first A/F
        self.symbol = {}        # locate -> stock (str, trailing spaces stripped) of first A/F
        self.skipped = []       # k of frames with unknown type / off-spec length
        self.warn = []


def frame_file(buf, every: int | None) -> Framing:
    """One pass over the length prefixes; records checkpoints and first add per locate."""
    fr = Framing()
    n = len(buf)
    pos = 0
    k = 0
    first_add = fr.first_add
    symbol = fr.symbol
    chk = fr.chk
    chk_off = fr.chk_off
    skipped = fr.skipped
    spec = SPEC_LEN
    ev = every or 0
    nxt = ev if ev else -1
    while pos + 2 <= n:
        ln = (buf[pos] << 8) | buf[pos + 1]
        if ln == 0:
            if pos + 2 < n:
                fr.warn.append(f"zero-length frame (end of session) at byte {pos}; "
                               f"{n - pos - 2} trailing bytes ignored")
            break
        end = pos + 2 + ln
        if end > n:
            fr.warn.append(f"truncated frame at byte {pos} (len {ln}, {n - pos - 2} bytes left); dropped")
            break
        k += 1
        t = buf[pos + 2]
        if spec[t] != ln:
            skipped.append(k)
        if (t == 65 or t == 70) and ln >= 36:   # 'A' / 'F'
            loc = (buf[pos + 3] << 8) | buf[pos + 4]
            if loc not in first_add:
                first_add[loc] = k
                symbol[loc] = bytes(buf[pos + 2 + 24:pos + 2 + 32]).rstrip(b" ").decode("ascii", "replace")
        if k == nxt:
            chk.append(k)
            chk_off.append(end)
            nxt += ev
        pos = end
    else:
        if pos != n:
            fr.warn.append(f"{n - pos} trailing byte(s) after the last frame; ignored")
    fr.count = k
    fr.end = pos
    if skipped:
        fr.warn.append(f"{len(skipped)} frame(s) with unknown type or off-spec length (first at "
                       f"message {skipped[0]}); itch-book skips them, itchcpp may not")
    if ev and (not chk or chk[-1] != k) and k > 0:
        chk.append(k)
        chk_off.append(pos)
    return fr


def _fmt(v):
    return "-" if v is None else str(v)


# ----------------------------------------------------------------------------- itch-book
def run_itch_book(buf, fr: Framing, out):
    import numpy as np
    from itch_book._core import Session

    arr = np.frombuffer(buf, dtype=np.uint8, count=fr.end)
    s = Session(tables=["bbo"], depth=0, symbols=[])
    s.reserve(1 << 16)
    s.feed(arr)
    st = s.stats()
    nskip = len(fr.skipped)
    if (st["messages"] != fr.count - nskip or st["unknown"] + st["malformed"] != nskip
            or st["pending_bytes"]):
        print(f"warning: itch-book stats {st} vs {fr.count} framed messages ({nskip} off-spec); "
              "checkpoint alignment may be wrong", file=sys.stderr)
    b = s.take_bbo()
    seq = b["seq"].astype(np.int64)     # ordinal among frames itch-book accepted (1-based)
    if nskip:
        accepted = np.setdiff1d(np.arange(1, fr.count + 1, dtype=np.int64),
                                np.asarray(fr.skipped, dtype=np.int64), assume_unique=True)
        seq = accepted[seq - 1]          # -> ordinal among all frames
    loc = b["locate"].astype(np.int64)
    bpx, bsz, apx, asz = b["bid_px"], b["bid_sz"], b["ask_px"], b["ask_sz"]
    # One preformatted tail string per bbo row; price 0 means empty side (itch-book rejects
    # zero-price orders, so 0 is never a real level).
    has_b = bpx != 0
    has_a = apx != 0
    bpx_l, bsz_l, apx_l, asz_l = bpx.tolist(), bsz.tolist(), apx.tolist(), asz.tolist()
    hb, ha = has_b.tolist(), has_a.tolist()
    tails = [
        ("%d %d" % (bpx_l[i], bsz_l[i]) if hb[i] else "- -") + " "
        + ("%d %d" % (apx_l[i], asz_l[i]) if ha[i] else "- -")
        for i in range(len(bpx_l))
    ]
    empty = "- - - -"
    ks = np.asarray(fr.chk, dtype=np.int64)
    locs = sorted(fr.first_add)
    # per locate: row index of the last bbo row with seq <= k, for every checkpoint k
    order = np.argsort(loc, kind="stable")
    sl, ss = loc[order], seq[order]
    lo = np.searchsorted(sl, locs, side="left")
    hi = np.searchsorted(sl, locs, side="right")
    table = {}  # locate -> list (per checkpoint) of tail strings
    for j, L in enumerate(locs):
        rows = order[lo[j]:hi[j]]
        if len(rows):
            pos = np.searchsorted(ss[lo[j]:hi[j]], ks, side="right") - 1
            table[L] = [tails[rows[p]] if p >= 0 else empty for p in pos.tolist()]
        else:
            table[L] = None   # had an add but never a book change (e.g. rejected add)
    first = fr.first_add
    buf_lines = []
    for ci, k in enumerate(fr.chk):
        pre = "CHK %d " % k
        for L in locs:
            if first[L] > k:
                continue
            col = table[L]
            buf_lines.append("%s%d %s\n" % (pre, L, col[ci] if col is not None else empty))
        if len(buf_lines) > 200_000:
            out.write("".join(buf_lines))
            buf_lines.clear()
    out.write("".join(buf_lines))


# ----------------------------------------------------------------------------- itchcpp
def run_itchcpp(buf, fr: Framing, out):
    from itchcpp.book import BookManager

    bm = BookManager()
    locs = sorted(fr.first_add)
    by_sym = {}
    for L in locs:
        by_sym.setdefault(fr.symbol[L], []).append(L)
    dup = {s: ls for s, ls in by_sym.items() if len(ls) > 1}
    if dup:
        print(f"warning: itchcpp books are only reachable by symbol; locates sharing a symbol "
              f"are ambiguous (each prints the lowest locate's book): {dup}", file=sys.stderr)
    cache = {}   # locate -> L3Book (pointers are stable: books live in unique_ptrs)
    first = fr.first_add
    prev = 0
    mv = memoryview(buf)
    empty = "- - - -"
    for k, off in zip(fr.chk, fr.chk_off):
        if off > prev:
            bm.process_stream(bytes(mv[prev:off]))
            prev = off
        lines = []
        pre = "CHK %d " % k
        for L in locs:
            if first[L] > k:
                continue
            bk = cache.get(L)
            if bk is None:
                bk = bm.book_for_symbol(fr.symbol[L])
                if bk is not None:
                    cache[L] = bk
            if bk is None:
                lines.append("%s%d %s\n" % (pre, L, empty))
                continue
            q = bk.bbo()
            bid = ("%d %d" % (round(q.bid_price * 10000), q.bid_shares)) if q.has_bid else "- -"
            ask = ("%d %d" % (round(q.ask_price * 10000), q.ask_shares)) if q.has_ask else "- -"
            lines.append("%s%d %s %s\n" % (pre, L, bid, ask))
        out.write("".join(lines))
    mv.release()


# ----------------------------------------------------------------------------- bench
def _median_time(fn, runs):
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        ts.append(time.perf_counter_ns() - t0)
    return statistics.median(ts), ts


def bench(impl, data: bytes, fr: Framing, runs: int, also: bool, out):
    n = fr.count
    cases = []
    if impl == "itch-book":
        import numpy as np
        from itch_book._core import Session

        arr = np.frombuffer(data, dtype=np.uint8, count=fr.end)

        def book_only():
            s = Session(tables=[], depth=0, symbols=[])   # parse + full-depth apply, no tables
            s.feed(arr)

        def with_bbo():
            s = Session(tables=["bbo"], depth=0, symbols=[])
            s.reserve(1 << 16)
            s.feed(arr)
            s.take_bbo()

        cases.append(("Session(tables=[]).feed  [parse+apply, fastest]", book_only))
        if also:
            cases.append(("Session(tables=['bbo']).feed+take_bbo", with_bbo))
    else:
        from itchcpp.book import BookManager
        from itchcpp.parser import MessageParser

        payload = data[:fr.end] if fr.end != len(data) else data

        def book_only():
            BookManager().process_stream(payload)   # parse + L3 apply, all symbols

        def frame_only():
            # type filter matching nothing but 'S': C++ framing walk, nothing materialised
            for _ in MessageParser(message_type=b"S").parse_stream(payload):
                pass

        def py_callbacks():
            MessageParser().parse_messages(payload, lambda m: None)

        cases.append(("BookManager().process_stream  [parse+apply, fastest]", book_only))
        if also:
            cases.append(("MessageParser(b'S').parse_stream  [framing/filter walk only]", frame_only))
            cases.append(("MessageParser().parse_messages(noop cb)  [decode -> Python objects]",
                          py_callbacks))
    for name, fn in cases:
        fn()  # warm-up (page-in, allocator)
        med, ts = _median_time(fn, runs)
        out.write(f"{impl}: {name}\n")
        out.write(f"  messages={n} runs={runs} wall_ns={ts} median_ns={med}\n")
        out.write(f"  {med / n:.1f} ns/message  {n / (med / 1e9):,.0f} messages/s\n")


# ----------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--impl", required=True, choices=IMPLS)
    ap.add_argument("file")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--every", type=int, metavar="N", help="checkpoint every N messages (and at EOF)")
    g.add_argument("--bench", action="store_true", help="time the fastest whole-file path")
    ap.add_argument("--runs", type=int, default=3, help="bench runs (median), default 3")
    ap.add_argument("--all", action="store_true", help="bench: also time secondary paths")
    a = ap.parse_args(argv)
    if a.every is not None and a.every <= 0:
        ap.error("--every must be >= 1")

    out = sys.stdout
    if a.bench:
        with open(a.file, "rb") as f:
            data = f.read()
        fr = frame_file(data, None)
        for w in fr.warn:
            print("warning:", w, file=sys.stderr)
        if fr.count == 0:
            sys.exit("no messages")
        bench(a.impl, data, fr, a.runs, a.all, out)
        return

    with open(a.file, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    fr = frame_file(buf, a.every)
    for w in fr.warn:
        print("warning:", w, file=sys.stderr)
    if fr.count == 0:
        return
    if a.impl == "itch-book":
        run_itch_book(buf, fr, out)
    else:
        run_itchcpp(buf, fr, out)
    out.flush()


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        sys.stderr.close()
