#!/usr/bin/env python3
"""QuickFIX (PyPI "quickfix") FIX 4.4 market-data initiator for tickwire's tests.

Logs on to a FIX 4.4 acceptor (tickwire's --fix-listen, or any other), sends one
MarketDataRequest (35=V) for the given symbols, records every
MarketDataSnapshotFullRefresh (35=W) as one JSON line, and runs the optional
session scenarios (TestRequest, ResendRequest, Logout, slow consumer, expected
MarketDataRequestReject). QuickFIX validates every incoming message against its
own FIX44.xml data dictionary with the strictest settings; anything it rejects
fails the run.

Exit status: 0 when every expectation was met and nothing was rejected; 1 on any
failure (the reasons are printed on stderr, one per line, prefixed "FAIL:", and
listed under "errors" in the --summary JSON); 2 on bad usage or setup.

Run it with the venv's interpreter: target/pyenv/bin/python scripts/fix_client.py
(scripts/setup.sh builds QuickFIX into that venv). See docs/fix-client.md.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

SOH = "\x01"

# SessionRejectReason (373) names, for readable failure messages.
REJECT_REASONS = {
    "0": "Invalid tag number", "1": "Required tag missing",
    "2": "Tag not defined for this message type", "3": "Undefined tag",
    "4": "Tag specified without a value", "5": "Value is incorrect (out of range) for this tag",
    "6": "Incorrect data format for value", "7": "Decryption problem", "8": "Signature problem",
    "9": "CompID problem", "10": "SendingTime accuracy problem", "11": "Invalid MsgType",
    "12": "XML validation error", "13": "Tag appears more than once",
    "14": "Tag specified out of required order", "15": "Repeating group fields out of order",
    "16": "Incorrect NumInGroup count for repeating group",
    "17": "Non data value includes field delimiter", "99": "Other",
}

# QuickFIX event-log texts that mean the peer sent something wrong even though
# QuickFIX did not answer with a Reject (it drops garbled messages silently).
BAD_EVENT_PATTERNS = [
    (re.compile(r"Expected (BodyLength|CheckSum)="), "garbled message dropped"),
    (re.compile(r"(BodyLength|CheckSum) (is missing|has wrong format)"), "garbled message dropped"),
    (re.compile(r"Header fields out of order"), "garbled message dropped"),
    (re.compile(r"Equal sign not found|Field tag is invalid"), "garbled message dropped"),
    (re.compile(r"MsgSeqNum too (high|low)"), "sequence number problem"),
    (re.compile(r"Logon message is not valid"), "invalid logon"),
    (re.compile(r"Timed out waiting for heartbeat"), "peer stopped heartbeating"),
    (re.compile(r"Timed out waiting for logon response"), "logon timed out"),
]

PRICE_RE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
INT_RE = re.compile(r"^-?\d+$")


def find_data_dictionary(explicit: str | None) -> Path:
    """FIX44.xml: --data-dictionary, $TICKWIRE_FIX44_XML, the venv's share/quickfix
    (where the quickfix wheel installs it), or target/quickfix-spec (setup.sh's
    fallback extraction from the sdist)."""
    cands = []
    if explicit:
        cands.append(Path(explicit))
    if os.environ.get("TICKWIRE_FIX44_XML"):
        cands.append(Path(os.environ["TICKWIRE_FIX44_XML"]))
    cands.append(Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml")
    repo = Path(__file__).resolve().parent.parent
    cands.append(repo / "target" / "quickfix-spec" / "FIX44.xml")
    for c in cands:
        if c.is_file():
            return c
    raise SystemExit("fix_client: FIX44.xml not found (tried %s); run scripts/setup.sh or pass "
                     "--data-dictionary" % ", ".join(map(str, cands)))


def dictionary_enum(dd: Path, tag: int) -> set[str]:
    """The enum values of a field in the data dictionary (empty: any value)."""
    import xml.etree.ElementTree as ET
    fields = ET.parse(str(dd)).getroot().find("fields")
    for f in fields if fields is not None else []:
        if f.get("number") == str(tag):
            return {v.get("enum") for v in f.findall("value")}
    return set()


class GroupCheckError(Exception):
    """A W entry QuickFIX let through but FIX44.xml forbids (QuickFIX 1.16 does not
    check the format or enum of fields inside repeating groups)."""

    def __init__(self, tag: int, kind: str, text: str):
        super().__init__(text)
        self.tag, self.kind = tag, kind


def decode_w_entries(qf44, message, entry_types: set[str]) -> list[dict]:
    """The NoMDEntries entries of a 35=W, in order, checked where QuickFIX does
    not look: 269 present and in FIX44.xml's enum, 270/271 decimals, 346/290
    integers. Raises GroupCheckError."""
    group = qf44.MarketDataSnapshotFullRefresh.NoMDEntries()
    n = int(message.getField(268))
    entries = []
    for i in range(1, n + 1):
        message.getGroup(i, group)
        e = {"type": fget(group, 269), "price": fget(group, 270), "size": fget(group, 271),
             "orders": fget(group, 346), "position": fget(group, 290)}
        if e["type"] is None:
            raise GroupCheckError(269, "format", "W entry %d has no 269" % i)
        if entry_types and e["type"] not in entry_types:
            raise GroupCheckError(269, "value", "W entry %d: 269=%r is not an MDEntryType of FIX44.xml"
                                  % (i, e["type"]))
        for k, tag in (("price", 270), ("size", 271)):
            if e[k] is not None and not PRICE_RE.match(e[k]):
                raise GroupCheckError(tag, "format", "W entry %d: %d=%r is not a decimal" % (i, tag, e[k]))
        for k, tag in (("orders", 346), ("position", 290)):
            if e[k] is not None:
                if not INT_RE.match(e[k]):
                    raise GroupCheckError(tag, "format", "W entry %d: %d=%r is not an integer" % (i, tag, e[k]))
                e[k] = int(e[k])
        entries.append(e)
    return entries


def import_quickfix():
    try:
        import quickfix  # noqa: F401
        import quickfix44  # noqa: F401
    except ImportError as e:
        sys.stderr.write("fix_client: cannot import quickfix (%s); run it with the venv python "
                         "that scripts/setup.sh prepared (target/pyenv/bin/python)\n" % e)
        sys.exit(2)
    return sys.modules["quickfix"], sys.modules["quickfix44"]


def raw(msg) -> str:
    return msg.toString().replace(SOH, "|")


def fget(fmap, tag: int):
    """A field's string value exactly as received, or None."""
    return fmap.getField(tag) if fmap.isSetField(tag) else None


def hdr(msg, tag: int):
    h = msg.getHeader()
    return h.getField(tag) if h.isSetField(tag) else None


def msg_type(msg) -> str:
    return msg.getHeader().getField(35)


def seq_of(msg):
    v = hdr(msg, 34)
    return int(v) if v is not None else None


def settings_text(a, dd: Path, tmp: Path) -> str:
    """The QuickFIX session settings. Validation stays at QuickFIX's strictest:
    data dictionary on, fields-out-of-order, fields-have-values, user-defined
    fields, length and checksum, CompID and SendingTime latency checks all Y."""
    lines = [
        "[DEFAULT]",
        "ConnectionType=initiator",
        "BeginString=FIX.4.4",
        "SenderCompID=%s" % a.sender,
        "TargetCompID=%s" % a.target,
        "HeartBtInt=%d" % a.heartbeat,
        "SocketConnectHost=%s" % a.host,
        "SocketConnectPort=%d" % a.port,
        "ReconnectInterval=%d" % a.reconnect_interval,
        "NonStopSession=Y",
        "ResetOnLogon=Y",
        "ResetOnLogout=Y",
        "ResetOnDisconnect=Y",
        "UseDataDictionary=Y",
        "DataDictionary=%s" % dd,
        "ValidateFieldsOutOfOrder=Y",
        "ValidateFieldsHaveValues=Y",
        "ValidateUserDefinedFields=Y",
        "ValidateLengthAndChecksum=Y",
        "AllowUnknownMsgFields=N",
        "CheckCompID=Y",
        "CheckLatency=%s" % ("Y" if a.max_latency > 0 else "N"),
        "MaxLatency=%d" % max(a.max_latency, 1),
        "LogonTimeout=%d" % a.logon_timeout,
        "LogoutTimeout=%d" % a.logout_timeout,
        "SocketNodelay=Y",
        "PersistMessages=Y",
        "FileStorePath=%s" % (tmp / "store"),
        "FileLogPath=%s" % (tmp / "log"),
        "",
        "[SESSION]",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- TCP state
TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
              "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
              "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}


def own_socket_inodes() -> set[str]:
    out = set()
    try:
        for fd in os.listdir("/proc/self/fd"):
            try:
                t = os.readlink("/proc/self/fd/" + fd)
            except OSError:
                continue
            if t.startswith("socket:["):
                out.add(t[8:-1])
    except OSError:
        pass
    return out


def tcp_state_to(host: str, port: int):
    """(state, rx_queue_bytes) of this process's TCP socket connected to host:port,
    or (None, None) when it no longer exists (closed/reset). Linux /proc only."""
    try:
        ip = socket.gethostbyname(host)
    except OSError:
        return None, None
    inodes = own_socket_inodes()
    want_port = "%04X" % port
    want_ip = "".join("%02X" % int(b) for b in reversed(ip.split(".")))
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                p = line.split()
                rip, rport = p[2].split(":")
                if rport == want_port and rip == want_ip and p[9] in inodes:
                    rxq = int(p[4].split(":")[1], 16)
                    return TCP_STATES.get(p[3], p[3]), rxq
    except OSError:
        pass
    return None, None


# --------------------------------------------------------------------------- application
def build_app_class(qf, qf44):
    class Client(qf.Application):
        """Records everything; never lets a Python exception escape into QuickFIX."""

        def __init__(self, a, out_fh):
            super().__init__()
            self.a = a
            self.out = out_fh
            self.lock = threading.Lock()
            self.t0 = time.monotonic()
            self.session_id = None
            self.logged_on = threading.Event()
            self.logged_out = threading.Event()
            self.logon_at = None
            self.logout_at = None
            self.logon_count = 0
            self.received = Counter()
            self.sent = Counter()
            self.errors: list[str] = []
            self.rejects_sent: list[dict] = []
            self.rejects_received: list[dict] = []
            self.md_rejects: list[dict] = []
            self.w_count = 0
            self.x_count = 0
            self.last_activity = time.monotonic()
            self.test_req_id = None
            self.test_request: dict | None = None
            self.resend_request: dict | None = None
            self.sending_own_resend = False
            self.final_logout = False
            self.logout_sent = None
            self.unexpected_resend_requests: list[dict] = []
            self.client_logout_initiated_at = None
            self.server_logouts: list[dict] = []
            self.stall_release = threading.Event()
            self.stall_started = threading.Event()
            self.stall_info: dict | None = None
            self.group_check_error = None
            self.entry_types = dictionary_enum(a.dd_path, 269)

        def now(self):
            return round(time.monotonic() - self.t0, 6)

        def fail(self, text):
            with self.lock:
                self.errors.append(text)

        # ---- session events
        def onCreate(self, sessionID):
            self.session_id = sessionID

        def onLogon(self, sessionID):
            try:
                self.logon_count += 1
                if self.logon_at is None:
                    self.logon_at = self.now()
                self.logged_on.set()
            except Exception as e:  # pragma: no cover
                self.fail("onLogon: %r" % e)

        def onLogout(self, sessionID):
            try:
                if self.logged_on.is_set() and self.logout_at is None:
                    self.logout_at = self.now()
                self.logged_out.set()
            except Exception as e:  # pragma: no cover
                self.fail("onLogout: %r" % e)

        # ---- outgoing
        def toAdmin(self, message, sessionID):
            try:
                t = msg_type(message)
                if t == "A" and self.logged_out.is_set():
                    # QuickFIX's timer "sends" a Logon on the dead session after a
                    # disconnect; it never reaches the wire (no reconnect for an hour).
                    return
                self.sent[t] += 1
                if t == "3":
                    r = {"at": self.now(), "msg_type": "3", "ref_seq_num": fget(message, 45),
                         "ref_tag": fget(message, 371), "ref_msg_type": fget(message, 372),
                         "reason": fget(message, 373), "text": fget(message, 58), "raw": raw(message)}
                    self.rejects_sent.append(r)
                    self.fail("QuickFIX rejected message %s from the server: reason %s (%s), tag %s, "
                              "text %r" % (r["ref_seq_num"], r["reason"],
                                           REJECT_REASONS.get(r["reason"] or "", "?"), r["ref_tag"], r["text"]))
                elif t == "2":
                    if self.sending_own_resend:
                        self.sending_own_resend = False
                        self.resend_request["sent_seq"] = seq_of(message)
                    else:
                        r = {"at": self.now(), "begin": fget(message, 7), "end": fget(message, 16)}
                        self.unexpected_resend_requests.append(r)
                        self.fail("QuickFIX sent its own ResendRequest %s..%s: the server's MsgSeqNum "
                                  "jumped (gap)" % (r["begin"], r["end"]))
                elif t == "5":
                    if self.client_logout_initiated_at is None and not self.server_logouts:
                        self.client_logout_initiated_at = self.now()
                    self.logout_sent = {"at": self.now(), "text": fget(message, 58), "final": self.final_logout}
            except Exception as e:
                self.fail("toAdmin: %r" % e)

        def toApp(self, message, sessionID):
            try:
                t = msg_type(message)
                self.sent[t] += 1
                if t == "j":
                    r = {"at": self.now(), "msg_type": "j", "ref_seq_num": fget(message, 45),
                         "ref_msg_type": fget(message, 372), "reason": fget(message, 380),
                         "text": fget(message, 58), "raw": raw(message)}
                    self.rejects_sent.append(r)
                    self.fail("QuickFIX sent BusinessMessageReject for message %s (35=%s): reason %s, "
                              "text %r" % (r["ref_seq_num"], r["ref_msg_type"], r["reason"], r["text"]))
            except Exception as e:
                self.fail("toApp: %r" % e)

        # ---- incoming
        def fromAdmin(self, message, sessionID):
            try:
                t = msg_type(message)
                now = self.now()
                self.received[t] += 1
                if t not in ("0",):
                    self.last_activity = time.monotonic()
                if t == "0":
                    trid = fget(message, 112)
                    if trid is not None and self.test_request is not None and trid == self.test_req_id \
                            and self.test_request.get("heartbeat_seq") is None:
                        self.test_request.update(heartbeat_seq=seq_of(message), answered_at=now,
                                                 rtt_ms=round((now - self.test_request["sent_at"]) * 1000, 3))
                        self.last_activity = time.monotonic()
                    elif trid is not None and self.test_request is not None:
                        self.test_request.setdefault("other_heartbeats_with_112", []).append(trid)
                elif t == "4":
                    gf = {"at": now, "msg_seq_num": seq_of(message), "gap_fill": fget(message, 123),
                          "new_seq_no": fget(message, 36), "poss_dup": hdr(message, 43),
                          "orig_sending_time": hdr(message, 122), "seen_by": "fromAdmin"}
                    if self.resend_request is not None:
                        self.add_sequence_reset(gf)
                    else:
                        self.fail("unsolicited SequenceReset: %r" % gf)
                elif t == "5":
                    self.server_logouts.append({"at": now, "msg_seq_num": seq_of(message),
                                                "text": fget(message, 58),
                                                "answer_to_ours": self.client_logout_initiated_at is not None})
                elif t == "3":
                    r = {"at": now, "ref_seq_num": fget(message, 45), "ref_tag": fget(message, 371),
                         "ref_msg_type": fget(message, 372), "reason": fget(message, 373),
                         "text": fget(message, 58)}
                    self.rejects_received.append(r)
                    if not self.a.allow_server_reject:
                        self.fail("the server rejected our message %s: reason %s, text %r"
                                  % (r["ref_seq_num"], r["reason"], r["text"]))
            except Exception as e:
                self.fail("fromAdmin: %r" % e)

        def fromApp(self, message, sessionID):
            try:
                t = msg_type(message)
                self.received[t] += 1
                self.last_activity = time.monotonic()
                if t == "W":
                    try:
                        self.on_w(message)
                    except GroupCheckError as g:
                        self.fail("%s (QuickFIX does not check values inside groups; the client does, and "
                                  "makes QuickFIX reject it): %s" % (g, raw(message)))
                        self.group_check_error = g
                elif t == "Y":
                    r = {"at": self.now(), "msg_seq_num": seq_of(message), "md_req_id": fget(message, 262),
                         "reason": fget(message, 281), "text": fget(message, 58)}
                    self.md_rejects.append(r)
                    if not self.a.expect_reject:
                        self.fail("unexpected MarketDataRequestReject: 262=%s 281=%s 58=%r"
                                  % (r["md_req_id"], r["reason"], r["text"]))
                elif t == "X":
                    self.x_count += 1
                elif t == "j":
                    r = {"at": self.now(), "ref_seq_num": fget(message, 45), "ref_msg_type": fget(message, 372),
                         "reason": fget(message, 380), "text": fget(message, 58)}
                    self.rejects_received.append(r)
                    if not self.a.allow_server_reject:
                        self.fail("the server sent BusinessMessageReject: %r" % r)
            except Exception as e:
                self.fail("fromApp could not handle message (%r): %s" % (e, raw(message)))
            g, self.group_check_error = self.group_check_error, None
            if g is not None:
                # QuickFIX answers these with a session Reject (373=5 or 6, 371=tag).
                raise (qf.IncorrectTagValue(g.tag) if g.kind == "value" else qf.IncorrectDataFormat(g.tag))
            self.maybe_stall()

        def on_w(self, message):
            entries = decode_w_entries(qf44, message, self.entry_types)
            rec = {"msg_seq_num": seq_of(message), "sending_time": hdr(message, 52),
                   "md_req_id": fget(message, 262), "symbol": fget(message, 55), "entries": entries}
            if self.a.out_raw:
                rec["raw"] = raw(message)
            with self.lock:
                self.w_count += 1
                if self.out:
                    self.out.write(json.dumps(rec) + "\n")
                    self.out.flush()

        def add_sequence_reset(self, gf):
            with self.lock:
                lst = self.resend_request.setdefault("sequence_resets", [])
                if not any(x["msg_seq_num"] == gf["msg_seq_num"] and x["new_seq_no"] == gf["new_seq_no"]
                           for x in lst):
                    lst.append(gf)
                    self.last_activity = time.monotonic()

        def maybe_stall(self):
            a = self.a
            if a.stop_reading_after is None or self.stall_info is not None:
                return
            if self.w_count < a.stop_reading_after:
                return
            self.stall_info = {"after_w": self.w_count, "started_at": self.now()}
            self.stall_started.set()
            # Block the thread that reads the socket: QuickFIX reads nothing more
            # until the main thread releases us.
            self.stall_release.wait()
            self.stall_info["resumed_at"] = self.now()

    return Client


# --------------------------------------------------------------------------- requests
def send_market_data_request(qf, qf44, a, sid):
    m = qf44.MarketDataRequest()
    m.setField(qf.MDReqID(a.md_req_id))
    m.setField(qf.SubscriptionRequestType(a.subscription))
    m.setField(qf.MarketDepth(a.depth))
    if a.update_type is not None:
        m.setField(qf.MDUpdateType(a.update_type))
    g = qf44.MarketDataRequest.NoMDEntryTypes()
    for t in a.types:
        g.setField(qf.MDEntryType(t))
        m.addGroup(g)
    s = qf44.MarketDataRequest.NoRelatedSym()
    for sym in a.symbol_list:
        s.setField(qf.Symbol(sym))
        m.addGroup(s)
    return qf.Session.sendToTarget(m, sid)


def send_admin(qf, sid, mtype, fields):
    m = qf.Message()
    m.getHeader().setField(qf.MsgType(mtype))
    for f in fields:
        m.setField(f)
    return qf.Session.sendToTarget(m, sid)


def read_log_files(logdir: Path, sender: str):
    """(events, incoming raw messages) from QuickFIX's FileLog."""
    events, incoming = [], []
    if not logdir.is_dir():
        return events, incoming
    for p in sorted(logdir.glob("*.event.current.log")):
        for line in p.read_text(errors="replace").splitlines():
            if " : " in line:
                events.append(line.split(" : ", 1)[1])
    for p in sorted(logdir.glob("*.messages.current.log")):
        for line in p.read_text(errors="replace").splitlines():
            if " : " not in line:
                continue
            m = line.split(" : ", 1)[1]
            if (SOH + "49=" + sender + SOH) not in m:
                incoming.append(m.replace(SOH, "|"))
    return events, incoming


# --------------------------------------------------------------------------- main
def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="fix_client.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1],
        epilog="""\
examples:
  # snapshot of two symbols, stop after 2 W, write them as JSON lines
  fix_client.py --port 9878 --symbols AAPL,MSFT --expect-w 2 --out w.jsonl --summary s.json
  # subscribe, take everything until 3 s of silence
  fix_client.py --port 9878 --symbols-file syms.txt --subscription 1 --idle-timeout 3 --out w.jsonl
  # session checks: TestRequest echo, ResendRequest 1..0 (gap fill), Logout after 2 s
  fix_client.py --port 9878 --send-test-request --send-resend-request 1,0 --logout-after 2
  # unknown symbol must be answered by 35=Y
  fix_client.py --port 9878 --symbols UNKNOWN --expect-reject --summary s.json
  # slow consumer: stop reading after 5 W and see whether/when the server drops us
  fix_client.py --port 9878 --symbols AAPL --subscription 1 --stop-reading-after 5 --stall-seconds 30 --expect-disconnect

The W JSON lines (--out) and the summary (--summary) are described in docs/fix-client.md.""")
    g = p.add_argument_group("connection and session")
    g.add_argument("--host", default="127.0.0.1", help="acceptor address (default %(default)s)")
    g.add_argument("--port", type=int, required=True, help="acceptor TCP port")
    g.add_argument("--sender", default="CLIENT", help="our SenderCompID, 49 (default %(default)s)")
    g.add_argument("--target", default="TICKWIRE", help="the server's CompID, our 56 (default %(default)s)")
    g.add_argument("--heartbeat", type=int, default=30, help="HeartBtInt, 108, in seconds (default %(default)s)")
    g.add_argument("--data-dictionary", metavar="FIX44.xml",
                   help="data dictionary (default: the one the quickfix wheel installs in "
                        "<venv>/share/quickfix, else target/quickfix-spec/FIX44.xml)")
    g.add_argument("--max-latency", type=int, default=120,
                   help="QuickFIX MaxLatency: largest allowed |SendingTime - now| in s; 0 turns CheckLatency "
                        "off (default %(default)s)")
    g.add_argument("--logon-timeout", type=int, default=10, help="QuickFIX LogonTimeout, s (default %(default)s)")
    g.add_argument("--logout-timeout", type=int, default=5, help="QuickFIX LogoutTimeout, s (default %(default)s)")
    g.add_argument("--reconnect-interval", type=int, default=3600,
                   help="QuickFIX ReconnectInterval, s; large, so a dropped connection stays dropped "
                        "(default %(default)s)")
    g = p.add_argument_group("market data request (35=V); none is sent without symbols")
    g.add_argument("--symbols", help="comma-separated symbols, one NoRelatedSym (146) entry each")
    g.add_argument("--symbols-file", help="file with symbols, one a line (blank lines and #comments skipped)")
    g.add_argument("--depth", type=int, default=0, help="MarketDepth, 264 (0 = full book; default %(default)s)")
    g.add_argument("--types", default="0,1",
                   help="comma-separated MDEntryType values, one NoMDEntryTypes (267) entry each "
                        "(default %(default)s)")
    g.add_argument("--subscription", choices=["0", "1", "2"], default="0",
                   help="SubscriptionRequestType, 263: 0 snapshot, 1 snapshot+updates, 2 unsubscribe "
                        "(default %(default)s)")
    g.add_argument("--update-type", type=int, choices=[0, 1],
                   help="MDUpdateType, 265 (not sent unless given)")
    g.add_argument("--md-req-id", default="tw-1", help="MDReqID, 262 (default %(default)s)")
    g = p.add_argument_group("output")
    g.add_argument("--out", help="JSON lines file: one line per received 35=W")
    g.add_argument("--out-raw", action="store_true", help="add the raw message ('|' for SOH) to each --out line")
    g.add_argument("--summary", help="summary JSON file (counts, rejects, logon/logout, scenario results)")
    g.add_argument("--keep-logs", metavar="DIR", help="copy QuickFIX's message/event logs and settings here")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    g = p.add_argument_group("when to stop (the run ends as soon as every given expectation is met)")
    g.add_argument("--expect-w", type=int, metavar="N", help="expect N 35=W (stop after the Nth)")
    g.add_argument("--idle-timeout", type=float, metavar="S",
                   help="stop once nothing but Heartbeats arrived for S seconds (not a failure by itself)")
    g.add_argument("--timeout", type=float, default=30.0,
                   help="overall limit in seconds; reaching it with an expectation unmet fails "
                        "(default %(default)s)")
    g = p.add_argument_group("session scenarios")
    g.add_argument("--send-test-request", nargs="?", const="TWTEST1", metavar="ID",
                   help="after logon send TestRequest 35=1 with 112=ID (default ID TWTEST1) and expect the "
                        "Heartbeat that echoes it")
    g.add_argument("--send-resend-request", metavar="BEGIN,END",
                   help="after logon (and after the first W when a request was sent) send ResendRequest "
                        "35=2 7=BEGIN 16=END and expect a SequenceReset (35=4, normally 123=Y)")
    g.add_argument("--logout-after", type=float, metavar="S",
                   help="S seconds after logon send Logout and expect the server's Logout answer")
    g.add_argument("--expect-reject", action="store_true",
                   help="expect a MarketDataRequestReject 35=Y (and allow it): records 262/281/58")
    g.add_argument("--allow-server-reject", action="store_true",
                   help="do not fail when the server sends 35=3/35=j (for negative tests)")
    g.add_argument("--stop-reading-after", type=int, metavar="N",
                   help="slow consumer: after the Nth W block the reading thread (the socket is no longer "
                        "read) and watch the TCP connection. QuickFIX also stops heartbeating then, so the "
                        "server may close for silence or as a slow consumer; fix_raw.py --stop-reading-after "
                        "keeps heartbeating")
    g.add_argument("--stall-seconds", type=float, metavar="S",
                   help="with --stop-reading-after: resume reading after S s, or as soon as the connection "
                        "is gone (default: until --timeout)")
    g.add_argument("--expect-disconnect", action="store_true",
                   help="with --stop-reading-after: fail unless the server closed/reset the connection or "
                        "logged us out")
    a = p.parse_args(argv)
    syms = []
    if a.symbols:
        syms += [s.strip() for s in a.symbols.split(",") if s.strip()]
    if a.symbols_file:
        for line in Path(a.symbols_file).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                syms.append(line)
    a.symbol_list = syms
    a.types = [t.strip() for t in a.types.split(",") if t.strip()]
    if not a.types and syms:
        p.error("--types is empty")
    if a.send_resend_request:
        try:
            b, e = (int(x) for x in a.send_resend_request.split(","))
        except ValueError:
            p.error("--send-resend-request wants BEGIN,END (e.g. 1,0)")
        a.resend_range = (b, e)
    if (a.stall_seconds is not None or a.expect_disconnect) and a.stop_reading_after is None:
        p.error("--stall-seconds/--expect-disconnect need --stop-reading-after")
    if a.expect_w is not None and not syms:
        p.error("--expect-w needs --symbols or --symbols-file")
    return a


def main(argv=None) -> int:
    a = parse_args(sys.argv[1:] if argv is None else argv)
    qf, qf44 = import_quickfix()
    dd = find_data_dictionary(a.data_dictionary)
    a.dd_path = dd
    tmp = Path(tempfile.mkdtemp(prefix="tw-fixclient-"))
    (tmp / "store").mkdir()
    (tmp / "log").mkdir()
    cfg = tmp / "client.cfg"
    cfg.write_text(settings_text(a, dd, tmp))

    def log(s):
        if not a.quiet:
            sys.stderr.write("fix_client: %s\n" % s)

    out_fh = open(a.out, "w") if a.out else None
    App = build_app_class(qf, qf44)
    app = App(a, out_fh)
    settings = qf.SessionSettings(str(cfg))
    initiator = qf.SocketInitiator(app, qf.FileStoreFactory(settings), settings, qf.FileLogFactory(settings))
    t_start = time.monotonic()
    deadline = t_start + a.timeout
    log("connecting to %s:%d as %s -> %s (dictionary %s)" % (a.host, a.port, a.sender, a.target, dd))
    initiator.start()

    md_sent = tr_sent = rr_sent = lo_sent = False
    next_log_scan = 0.0
    stall_watch = None
    timed_out = False
    stopped_by = None
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                stopped_by = "timeout"
                break
            if not app.logged_on.is_set():
                if app.logged_out.is_set() or app.errors:
                    stopped_by = "logon failed"
                    break
                time.sleep(0.02)
                continue
            sid = app.session_id
            since_logon = now - t_start - app.logon_at
            if not md_sent and a.symbol_list:
                send_market_data_request(qf, qf44, a, sid)
                md_sent = True
                log("sent MarketDataRequest 262=%s 263=%s 264=%d for %d symbol(s)"
                    % (a.md_req_id, a.subscription, a.depth, len(a.symbol_list)))
            if a.send_test_request and not tr_sent:
                app.test_req_id = a.send_test_request
                app.test_request = {"id": a.send_test_request, "sent_at": app.now(), "heartbeat_seq": None}
                send_admin(qf, sid, "1", [qf.TestReqID(a.send_test_request)])
                tr_sent = True
            if a.send_resend_request and not rr_sent and (not md_sent or app.w_count > 0 or app.md_rejects
                                                          or since_logon > 2.0):
                b, e = a.resend_range
                app.resend_request = {"begin": b, "end": e, "sent_at": app.now(), "sent_seq": None,
                                      "sequence_resets": []}
                app.sending_own_resend = True
                send_admin(qf, sid, "2", [qf.BeginSeqNo(b), qf.EndSeqNo(e)])
                rr_sent = True
            if rr_sent and not app.resend_request["sequence_resets"] and now >= next_log_scan:
                next_log_scan = now + 0.25
                # A GapFill below the expected MsgSeqNum (43=Y) is dropped by QuickFIX
                # without a callback: find it in QuickFIX's message log.
                for m in read_log_files(tmp / "log", a.sender)[1]:
                    if "|35=4|" in "|" + m:
                        f = dict(x.split("=", 1) for x in m.split("|") if "=" in x)
                        app.add_sequence_reset({
                            "at": app.now(), "msg_seq_num": int(f["34"]) if f.get("34", "").isdigit() else None,
                            "gap_fill": f.get("123"), "new_seq_no": f.get("36"), "poss_dup": f.get("43"),
                            "orig_sending_time": f.get("122"),
                            "seen_by": "wire only (QuickFIX drops a PossDup below the expected MsgSeqNum "
                                       "without a callback)"})
            if a.logout_after is not None and not lo_sent and since_logon >= a.logout_after:
                app.client_logout_initiated_at = app.now()
                qf.Session.lookupSession(sid).logout("fix_client --logout-after")
                lo_sent = True
                log("sent Logout")
            # slow consumer: watch the connection while the reader is blocked
            if app.stall_started.is_set() and stall_watch is None:
                stall_watch = {"samples": 0, "state_at_start": None}
                st, rxq = tcp_state_to(a.host, a.port)
                stall_watch["state_at_start"] = st
                stall_watch["rx_queue_at_start"] = rxq
                log("stalled the reader after %d W (tcp %s, rx queue %s bytes)" % (app.w_count, st, rxq))
            if stall_watch is not None and not app.stall_release.is_set():
                st, rxq = tcp_state_to(a.host, a.port)
                stall_watch["samples"] += 1
                stall_watch["last_state"] = st
                if rxq is not None:
                    stall_watch["rx_queue_max"] = max(stall_watch.get("rx_queue_max", 0), rxq)
                if st != "ESTABLISHED" and "connection_lost_at" not in stall_watch:
                    stall_watch["connection_lost_at"] = app.now()
                    stall_watch["connection_state"] = st or "gone (closed or reset)"
                    log("while stalled the connection went %s" % stall_watch["connection_state"])
                stalled_for = app.now() - app.stall_info["started_at"]
                limit = a.stall_seconds if a.stall_seconds is not None else a.timeout
                if "connection_lost_at" in stall_watch or stalled_for >= limit or now >= deadline - 1.0:
                    stall_watch["stalled_for"] = round(stalled_for, 3)
                    app.stall_release.set()
                    stall_watch["released_at"] = app.now()
                    log("resumed reading after %.2f s" % stalled_for)
            # done?
            pending = []
            if a.expect_w is not None and app.w_count < a.expect_w:
                pending.append("W %d/%d" % (app.w_count, a.expect_w))
            if a.send_test_request and (app.test_request is None or app.test_request.get("heartbeat_seq") is None):
                pending.append("Heartbeat echoing TestRequest")
            if a.send_resend_request and (app.resend_request is None
                                          or not app.resend_request.get("sequence_resets")):
                pending.append("SequenceReset after ResendRequest")
            if a.logout_after is not None and not any(l["answer_to_ours"] for l in app.server_logouts) \
                    and not app.logged_out.is_set():
                pending.append("Logout answer")
            if a.expect_reject and not app.md_rejects:
                pending.append("MarketDataRequestReject")
            if a.stop_reading_after is not None:
                if app.stall_info is None:
                    pending.append("W %d to stall after" % a.stop_reading_after)
                elif not app.stall_release.is_set():
                    pending.append("stall")
                elif a.expect_disconnect and not (app.logged_out.is_set()
                                                  or "connection_lost_at" in (stall_watch or {})):
                    pending.append("disconnect")
            if app.logged_out.is_set():
                # (cannot happen while the reader is stalled: the callbacks run on it)
                stopped_by = "logged out"
                break
            has_expectation = any(x is not None and x is not False for x in (
                a.expect_w, a.send_test_request, a.send_resend_request, a.logout_after,
                a.expect_reject or None, a.stop_reading_after))
            if has_expectation and not pending:
                stopped_by = "expectations met"
                # let a Reject of the last message surface before we leave
                time.sleep(0.2)
                break
            stalled = app.stall_info is not None and not app.stall_release.is_set()
            if a.idle_timeout is not None and not stalled and time.monotonic() - app.last_activity >= a.idle_timeout:
                stopped_by = "idle timeout"
                break
            time.sleep(0.02)
    finally:
        app.stall_release.set()
        if stopped_by is None:
            stopped_by = "interrupted"
        still_on = app.logged_on.is_set() and not app.logged_out.is_set()
        try:
            if still_on:
                # Log out ourselves and wait for the answer in small steps:
                # Initiator::stop() alone polls in whole seconds.
                app.final_logout = True
                qf.Session.lookupSession(app.session_id).logout()
                app.logged_out.wait(a.logout_timeout + 1.0)
            initiator.stop()
        except Exception as e:  # pragma: no cover
            app.fail("initiator.stop: %r" % e)
        if out_fh:
            out_fh.close()

    elapsed = time.monotonic() - t_start
    events, incoming = read_log_files(tmp / "log", a.sender)
    # Pending expectations at the end are failures.
    if not app.logged_on.is_set():
        app.fail("logon failed: no Logon answer from %s:%d within %.1f s%s" % (
            a.host, a.port, elapsed, (" (" + "; ".join(e for e in events[-3:]) + ")") if events else ""))
    else:
        if a.expect_w is not None and app.w_count < a.expect_w:
            app.fail("expected %d W, got %d (%s)" % (a.expect_w, app.w_count, stopped_by))
        if a.send_test_request and (app.test_request or {}).get("heartbeat_seq") is None:
            app.fail("no Heartbeat with 112=%s answered our TestRequest" % a.send_test_request)
        if a.send_resend_request and not (app.resend_request or {}).get("sequence_resets"):
            app.fail("no SequenceReset answered our ResendRequest %s" % a.send_resend_request)
        if a.logout_after is not None and not any(l["answer_to_ours"] for l in app.server_logouts):
            app.fail("the server did not answer our Logout")
        if a.expect_reject and not app.md_rejects:
            app.fail("expected a MarketDataRequestReject (35=Y), got none")
        if a.stop_reading_after is not None and app.stall_info is None:
            app.fail("never got the %d W to stall after" % a.stop_reading_after)
        if a.expect_disconnect and not (app.logged_out.is_set() or "connection_lost_at" in (stall_watch or {})):
            app.fail("the server did not drop the stalled client")
        if stopped_by == "logged out" and a.logout_after is None and not a.expect_disconnect:
            why = next((l["text"] for l in app.server_logouts), None)
            app.fail("the session ended before the run was over: %s" % (
                "server Logout, 58=%r" % why if app.server_logouts else "connection lost without Logout"))
    if timed_out and not app.errors and stopped_by == "timeout":
        pass  # a run with no expectation simply lasts --timeout
    for ev in events:
        for pat, what in BAD_EVENT_PATTERNS:
            if pat.search(ev) and not (what == "peer stopped heartbeating" and app.stall_info):
                app.fail("%s: %s" % (what, ev))
    incoming_types = Counter()
    for m in incoming:
        mm = re.search(r"\|35=([^|]*)\|", "|" + m)
        incoming_types[mm.group(1) if mm else "?"] += 1

    server_logout = next((l for l in app.server_logouts), None)
    summary = {
        "ok": not app.errors,
        "errors": app.errors,
        "stopped_by": stopped_by,
        "elapsed_s": round(elapsed, 3),
        "server": "%s:%d" % (a.host, a.port),
        "sender_comp_id": a.sender, "target_comp_id": a.target,
        "logon": {"seen": app.logged_on.is_set(), "at": app.logon_at, "count": app.logon_count},
        "logout": {"seen": app.logged_out.is_set(), "at": app.logout_at,
                   "initiated_by": ("server" if server_logout and not server_logout["answer_to_ours"]
                                    else "client (--logout-after)" if lo_sent
                                    else "client (end of run)" if app.final_logout
                                    else "disconnect without Logout" if app.logged_out.is_set() else None),
                   "sent": app.logout_sent, "server_logouts": app.server_logouts},
        "received": dict(sorted(app.received.items())),
        "sent": dict(sorted(app.sent.items())),
        "received_raw": dict(sorted(incoming_types.items())),
        "w_count": app.w_count,
        "x_count": app.x_count,
        "rejects_sent": app.rejects_sent,
        "rejects_received": app.rejects_received,
        "md_rejects": app.md_rejects,
        "test_request": app.test_request,
        "resend_request": app.resend_request,
        "unexpected_resend_requests": app.unexpected_resend_requests,
        "slow_consumer": None if app.stall_info is None else dict(app.stall_info, **(stall_watch or {})),
        "events": events,
    }
    if a.summary:
        Path(a.summary).write_text(json.dumps(summary, indent=2) + "\n")
    if a.keep_logs:
        dst = Path(a.keep_logs)
        dst.mkdir(parents=True, exist_ok=True)
        for f in list((tmp / "log").glob("*")) + [cfg]:
            shutil.copy(f, dst / f.name)
    shutil.rmtree(tmp, ignore_errors=True)
    for e in app.errors:
        sys.stderr.write("FAIL: %s\n" % e)
    log("%s after %.2f s (%s): received %s, sent %s, %d W" % (
        "ok" if not app.errors else "FAILED", elapsed, stopped_by, dict(app.received), dict(app.sent), app.w_count))
    return 0 if not app.errors else 1


if __name__ == "__main__":
    sys.exit(main())
