#!/usr/bin/env python3
"""A small QuickFIX FIX 4.4 acceptor that stands in for tickwire in
scripts/fix-client-selftest.sh, to prove fix_client.py and fix_raw.py against a
real, independent FIX engine. Not a market-data server: it answers a
MarketDataRequest (35=V) with fixed snapshots.

Per symbol of the request (NoRelatedSym entries):
  UNKNOWN  MarketDataRequestReject 35=Y, 262=<MDReqID> 281=0 58=unknown symbol
  FLOOD    --flood snapshots at once, then (slow-consumer stand-in) it logs the
           client out after --flood-logout-after s and drops the connection
  BADCOUNT a W whose NoMDEntries (268) says 3 but carries 2 entries
  BADTYPE  a W with an entry MDEntryType 269=Z (not in FIX44.xml's enum)
  BADPX    a W with MDEntryPx 270=abc
  NOTYPE   a W with an entry that has no 269
  any else one W with two bids and two offers (prices as fixed strings, 346 and
           290 set); with SubscriptionRequestType 1 two more W follow, 0.1 s apart

Prints "READY <port>" on stdout once listening; runs until SIGTERM/SIGINT or
--lifetime seconds.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fix_client import find_data_dictionary, import_quickfix  # noqa: E402

BOOK = {  # (type, price, size, orders, position)
    0: [("0", "189.2500", "300", "2", "1"), ("0", "189.2400", "100", "1", "2"),
        ("1", "189.2600", "200", "3", "1"), ("1", "189.3000", "5", "1", "2")],
    1: [("0", "189.2500", "400", "3", "1"), ("0", "189.2400", "100", "1", "2"),
        ("1", "189.2600", "200", "3", "1"), ("1", "189.3000", "5", "1", "2")],
    2: [("0", "189.2500", "400", "3", "1"), ("1", "189.2600", "150", "2", "1"),
        ("1", "189.3000", "5", "1", "2")],
}


def main() -> int:
    p = argparse.ArgumentParser(prog="fix_acceptor_selftest.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True, help="TCP port to listen on (127.0.0.1)")
    p.add_argument("--sender", default="TICKWIRE", help="our CompID (default %(default)s)")
    p.add_argument("--target", default="CLIENT", help="the client's CompID (default %(default)s)")
    p.add_argument("--data-dictionary", metavar="FIX44.xml")
    p.add_argument("--flood", type=int, default=200, help="W messages for symbol FLOOD (default %(default)s)")
    p.add_argument("--flood-logout-after", type=float, default=1.0)
    p.add_argument("--lifetime", type=float, default=600.0, help="exit after this many seconds")
    p.add_argument("--log-dir", help="keep QuickFIX's logs here (default: a temp dir, removed)")
    a = p.parse_args()
    qf, qf44 = import_quickfix()
    dd = find_data_dictionary(a.data_dictionary)
    tmp = Path(tempfile.mkdtemp(prefix="tw-fixacceptor-"))
    logdir = Path(a.log_dir) if a.log_dir else tmp / "log"
    logdir.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "acceptor.cfg"
    cfg.write_text("\n".join([
        "[DEFAULT]", "ConnectionType=acceptor", "BeginString=FIX.4.4",
        "SenderCompID=%s" % a.sender, "TargetCompID=%s" % a.target,
        "SocketAcceptHost=127.0.0.1", "SocketAcceptPort=%d" % a.port, "SocketReuseAddress=Y",
        "NonStopSession=Y", "ResetOnLogon=Y", "ResetOnLogout=Y", "ResetOnDisconnect=Y",
        "UseDataDictionary=Y", "DataDictionary=%s" % dd, "LogoutTimeout=2",
        "FileStorePath=%s" % (tmp / "store"), "FileLogPath=%s" % logdir, "", "[SESSION]", ""]))

    def snapshot(req_id, sym, book, mutate=None):
        m = qf44.MarketDataSnapshotFullRefresh()
        m.setField(qf.MDReqID(req_id))
        m.setField(qf.Symbol(sym))
        g = qf44.MarketDataSnapshotFullRefresh.NoMDEntries()
        for typ, px, size, orders, pos in book:
            g.clear()
            if typ is not None:
                g.setField(269, typ)
            g.setField(270, px)
            g.setField(271, size)
            g.setField(346, orders)
            g.setField(290, pos)
            m.addGroup(g)
        if mutate:
            mutate(m)
        return m

    class Acceptor(qf.Application):
        def onCreate(self, sid): pass
        def onLogon(self, sid): print("LOGON %s" % sid, flush=True)
        def onLogout(self, sid):
            print("LOGOUT %s" % sid, flush=True)

            def enable():  # Session.logout() (FLOOD) disabled it: let the next client in
                time.sleep(0.05)
                s = qf.Session.lookupSession(sid)
                if s is not None and not s.isEnabled():
                    s.logon()
            threading.Thread(target=enable, daemon=True).start()

        def toAdmin(self, m, sid): pass
        def fromAdmin(self, m, sid): pass
        def toApp(self, m, sid): pass

        def fromApp(self, m, sid):
            try:
                if m.getHeader().getField(35) != "V":
                    return
                req = m.getField(262)
                sub = m.getField(263)
                g = qf44.MarketDataRequest.NoRelatedSym()
                syms = []
                for i in range(1, int(m.getField(146)) + 1):
                    m.getGroup(i, g)
                    syms.append(g.getField(55))
                for s in syms:
                    self.answer(req, sub, s, sid)
            except Exception as e:  # never let Python errors reach QuickFIX
                print("ERROR %r" % e, flush=True)

        def answer(self, req, sub, sym, sid):
            send = lambda msg: qf.Session.sendToTarget(msg, sid)  # noqa: E731
            if sym == "UNKNOWN":
                y = qf44.MarketDataRequestReject()
                y.setField(qf.MDReqID(req))
                y.setField(qf.MDReqRejReason("0"))
                y.setField(qf.Text("unknown symbol %s" % sym))
                send(y)
            elif sym == "FLOOD":
                for i in range(a.flood):
                    send(snapshot(req, sym, BOOK[i % 3]))

                def drop():
                    time.sleep(a.flood_logout_after)
                    s = qf.Session.lookupSession(sid)
                    if s is not None:
                        s.logout("slow consumer")
                threading.Thread(target=drop, daemon=True).start()
            elif sym == "BADCOUNT":
                send(snapshot(req, sym, BOOK[0][:2], lambda m: m.setField(268, "3")))
            elif sym == "BADTYPE":
                send(snapshot(req, sym, [("Z",) + BOOK[0][0][1:]] + BOOK[0][1:]))
            elif sym == "BADPX":
                send(snapshot(req, sym, [BOOK[0][0][:1] + ("abc",) + BOOK[0][0][2:]]))
            elif sym == "NOTYPE":
                send(snapshot(req, sym, [BOOK[0][0], (None,) + BOOK[0][1][1:]]))
            else:
                send(snapshot(req, sym, BOOK[0]))
                if sub == "1":
                    def updates():
                        for k in (1, 2):
                            time.sleep(0.1)
                            send(snapshot(req, sym, BOOK[k]))
                    threading.Thread(target=updates, daemon=True).start()

    app = Acceptor()
    settings = qf.SessionSettings(str(cfg))
    acc = qf.SocketAcceptor(app, qf.FileStoreFactory(settings), settings, qf.FileLogFactory(settings))
    # QuickFIX's threads must never take SIGTERM/SIGINT (an interrupted select()
    # there makes SocketAcceptor.stop() crash): block both before they start, and
    # take them synchronously in this thread.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    acc.start()
    print("READY %d" % a.port, flush=True)
    signal.sigtimedwait(stop_signals, a.lifetime)
    # No acc.stop(): QuickFIX 1.16's SocketAcceptor.stop() segfaults now and then
    # here (after sessions came and went). The kernel closes the sockets; the
    # FileLog is flushed line by line.
    sys.stdout.flush()
    if not a.log_dir:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
