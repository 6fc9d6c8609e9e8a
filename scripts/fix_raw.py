#!/usr/bin/env python3
"""Raw-socket FIX client for negative tests (no QuickFIX, standard library only).

Sends hand-made FIX messages over TCP and prints every message received, with
SOH shown as '|'. Each --send is one message written as tag=value fields
separated by '|' (SOH), e.g.  --send "35=A|34=1|49=CLIENT|56=TICKWIRE|52={now}|98=0|108=30|141=Y|".
Unless --raw is given, 8=FIX.4.4 and 9=<BodyLength> are put in front and
10=<CheckSum> at the end, each only if the message does not already have it, so
a test can force any of them (e.g. "...|10=000|" for a wrong checksum, or a
leading "8=FIX.4.2|" for a wrong BeginString). Placeholders: {now} is the
current UTC time as YYYYMMDD-HH:MM:SS.sss, {seq} the next outgoing MsgSeqNum
(from --seq-start, counted per message that uses it). Escapes \\xNN, \\r, \\n,
\\\\ and \\| (a literal '|') are decoded, so garbage bytes can be sent.

Output on stdout, one line each:
  SENT  +0.001 8=FIX.4.4|9=..|35=A|...|10=123|
  RECV  +0.004 8=FIX.4.4|9=..|35=A|...|10=045|          (framed by BodyLength)
  RECV! +0.004 <text> [bad checksum|bad length|unframed] (could not be framed/verified)
  CLOSED +1.234 by peer | reset by peer
  TIMEOUT +5.000
Exit status: 0, or 1 when an --expect pattern never matched, --expect-close saw
no close, or --expect-no-close saw one; 2 when the connection failed.
"""
from __future__ import annotations

import argparse
import codecs
import json
import re
import select
import socket
import sys
import time
from datetime import datetime, timezone

SOH = b"\x01"


def now_ts() -> str:
    t = datetime.now(timezone.utc)
    return t.strftime("%Y%m%d-%H:%M:%S.") + "%03d" % (t.microsecond // 1000)


def checksum(b: bytes) -> int:
    return sum(b) % 256


def decode_line(line: str) -> bytes:
    """'|' -> SOH, backslash escapes decoded (\\| stays a literal '|')."""
    out = bytearray()
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            if line[i + 1] == "|":
                out += b"|"
                i += 2
                continue
            m = re.match(r"\\(x[0-9a-fA-F]{2}|r|n|t|\\|0)", line[i:])
            if m:
                out += codecs.escape_decode(m.group(0).encode())[0]
                i += len(m.group(0))
                continue
        if c == "|":
            out += SOH
        else:
            out += c.encode("latin-1")
        i += 1
    return bytes(out)


def frame(body_fields: bytes, begin: str) -> bytes:
    """Adds 8=, 9= and 10= where missing (see --help)."""
    b = body_fields
    if b and not b.endswith(SOH) and not re.search(rb"(^|\x01)10=[^\x01]*$", b):
        b += SOH
    has8 = b.startswith(b"8=")
    rest = b.split(SOH, 1)[1] if has8 else b
    head8 = b.split(SOH, 1)[0] + SOH if has8 else ("8=%s" % begin).encode() + SOH
    has9 = rest.startswith(b"9=")
    m10 = re.search(rb"(^|\x01)(10=[^\x01]*\x01?)$", rest)
    trailer = m10.group(2) if m10 else None
    if trailer is not None:
        rest = rest[: len(rest) - len(trailer)]
    if has9:
        head9, body = rest.split(SOH, 1)
        head9 += SOH
    else:
        body = rest
        head9 = b"9=%d" % len(body) + SOH
    msg = head8 + head9 + body
    if trailer is None:
        trailer = b"10=%03d" % checksum(msg) + SOH
    return msg + trailer


def show(b: bytes) -> str:
    s = b.replace(SOH, b"|")
    return "".join(chr(c) if 32 <= c < 127 else "\\x%02x" % c for c in s)


class Reader:
    """Splits the byte stream into FIX messages using 9=BodyLength."""

    def __init__(self):
        self.buf = b""

    def feed(self, data: bytes):
        self.buf += data
        out = []
        while self.buf:
            start = self.buf.find(b"8=")
            if start > 0:
                out.append(("unframed", self.buf[:start]))
                self.buf = self.buf[start:]
                continue
            if start < 0:
                if len(self.buf) > 1 and not self.buf.endswith(b"8"):
                    out.append(("unframed", self.buf))
                    self.buf = b""
                break
            m = re.match(rb"8=[^\x01]*\x019=(\d+)\x01", self.buf)
            if not m:
                if re.match(rb"8=[^\x01]*\x01(9(=\d*)?)?$", self.buf) or re.match(rb"8=[^\x01]*$", self.buf):
                    break  # incomplete header
                nxt = self.buf.find(b"8=", 2)
                cut = nxt if nxt > 0 else len(self.buf)
                out.append(("unframed", self.buf[:cut]))
                self.buf = self.buf[cut:]
                continue
            end_body = m.end() + int(m.group(1))
            if len(self.buf) < end_body + 7:
                break
            tail = self.buf[end_body:end_body + 7]
            msg = self.buf[: end_body + 7]
            if not re.match(rb"10=\d{3}\x01", tail):
                nxt = self.buf.find(b"8=", 2)
                cut = nxt if nxt > 0 else len(self.buf)
                out.append(("bad length", self.buf[:cut]))
                self.buf = self.buf[cut:]
                continue
            self.buf = self.buf[end_body + 7:]
            if int(tail[3:6]) != checksum(msg[:end_body]):
                out.append(("bad checksum", msg))
            else:
                out.append((None, msg))
        return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="fix_raw.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="""\
examples:
  # logon, then a message with a wrong checksum; print what comes back for 3 s
  fix_raw.py --port 9878 --send "35=A|34={seq}|49=CLIENT|56=TICKWIRE|52={now}|98=0|108=30|141=Y|" \\
             --send "35=1|34={seq}|49=CLIENT|56=TICKWIRE|52={now}|112=X|10=000|" --timeout 3
  # garbage bytes before any logon; expect the server to close
  fix_raw.py --port 9878 --raw --send "\\x00\\xffGET / HTTP/1.0\\r\\n\\r\\n" --expect-close --timeout 5""")
    p.add_argument("--host", default="127.0.0.1", help="server address (default %(default)s)")
    p.add_argument("--port", type=int, required=True, help="server TCP port")
    p.add_argument("--send", action="append", default=[], metavar="FIELDS",
                   help="a message to send, '|' for SOH (repeat for several, sent in order)")
    p.add_argument("--raw", action="store_true",
                   help="send every --send exactly as given (after '|' and escape decoding): no 8/9/10 added")
    p.add_argument("--begin-string", default="FIX.4.4", help="8= added when missing (default %(default)s)")
    p.add_argument("--seq-start", type=int, default=1, help="first value of {seq} (default %(default)s)")
    p.add_argument("--delay", type=float, default=0.2,
                   help="seconds to read between two sends (default %(default)s)")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds to keep reading after the last send (default %(default)s)")
    p.add_argument("--expect", action="append", default=[], metavar="REGEX",
                   help="a received message (shown with '|') must match REGEX; stops early once all matched")
    p.add_argument("--expect-close", action="store_true",
                   help="the server must close or reset the connection before --timeout")
    p.add_argument("--expect-no-close", action="store_true",
                   help="the server must keep the connection open until --timeout")
    p.add_argument("--linger", action="store_true",
                   help="with --expect: keep reading until --timeout even after every pattern matched")
    p.add_argument("--json", metavar="FILE", help="also write every event as a JSON line to FILE")
    g = p.add_argument_group("slow consumer (stop reading, stay alive)")
    g.add_argument("--rcvbuf", type=int, metavar="BYTES",
                   help="SO_RCVBUF before connecting (small values make the server's sends block sooner)")
    g.add_argument("--stop-reading-after", type=int, metavar="BYTES",
                   help="after the sends, once BYTES were received, read nothing more until --timeout: "
                        "only --keepalive is sent, and the connection state is watched (STALL, then CLOSED "
                        "with 'reset', 'send failed' or the TCP state the server's close left)")
    g.add_argument("--keepalive", metavar="FIELDS",
                   help="a message sent every --keepalive-every seconds while not reading "
                        "(e.g. a Heartbeat '35=0|34={seq}|49=CLIENT|56=TICKWIRE|52={now}|')")
    g.add_argument("--keepalive-every", type=float, default=0.5, metavar="S",
                   help="seconds between two --keepalive messages (default %(default)s)")
    a = p.parse_args(argv)

    jf = open(a.json, "w") if a.json else None
    t0 = time.monotonic()
    seq = [a.seq_start]

    def emit(kind, data: bytes | None = None, note=None):
        t = time.monotonic() - t0
        line = "%-6s +%.3f" % (kind, t)
        if data is not None:
            line += " " + show(data)
        if note:
            line += " [%s]" % note
        print(line, flush=True)
        if jf:
            jf.write(json.dumps({"event": kind, "t": round(t, 6),
                                 "msg": show(data) if data is not None else None, "note": note}) + "\n")
            jf.flush()

    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if a.rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
        s.settimeout(5)
        s.connect((a.host, a.port))
    except OSError as e:
        print("CONNECT-FAILED %s:%d %s" % (a.host, a.port, e), flush=True)
        return 2
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    reader = Reader()
    received: list[str] = []
    pending = [re.compile(x) for x in a.expect]
    closed = None

    received_bytes = 0

    def expand(line: str) -> bytes:
        if "{seq}" in line:
            line = line.replace("{seq}", str(seq[0]))
            seq[0] += 1
        b = decode_line(line.replace("{now}", now_ts()))
        return b if a.raw else frame(b, a.begin_string)

    def stall(until: float) -> None:
        """Reads nothing; sends --keepalive; watches the TCP state."""
        nonlocal closed
        emit("STALL", note="stopped reading after %d bytes" % received_bytes)
        next_keepalive = time.monotonic()
        while closed is None and time.monotonic() < until:
            state = tcp_state(s)
            if state != "ESTABLISHED":
                closed = "by peer (%s)" % state if state in ("CLOSE_WAIT", "LAST_ACK") else "reset by peer (%s)" % state
                emit("CLOSED", note=closed)
                return
            if a.keepalive and time.monotonic() >= next_keepalive:
                next_keepalive += a.keepalive_every
                msg = expand(a.keepalive)
                try:
                    s.send(msg)
                    emit("SENT", msg)
                except BlockingIOError:
                    emit("SKIP", msg, "send buffer full")
                except OSError as e:
                    closed = "reset by peer (send failed: %s)" % e
                    emit("CLOSED", note=closed)
                    return
            time.sleep(0.01)

    def pump(until: float) -> None:
        nonlocal closed, received_bytes
        while closed is None:
            left = until - time.monotonic()
            if left <= 0:
                return
            if a.expect and not pending and not a.linger and not a.expect_close:
                return
            if stalling and a.stop_reading_after is not None and received_bytes >= a.stop_reading_after:
                stall(until)
                return
            r, _, _ = select.select([s], [], [], min(left, 0.05))
            if not r:
                continue
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                closed = "reset by peer"
                emit("CLOSED", note=closed)
                return
            except BlockingIOError:
                continue
            received_bytes += len(data)
            if not data:
                closed = "by peer"
                for note, m in reader.feed(b""):
                    emit("RECV!" if note else "RECV", m, note)
                if reader.buf:
                    emit("RECV!", reader.buf, "incomplete at close")
                emit("CLOSED", note=closed)
                return
            for note, m in reader.feed(data):
                emit("RECV!" if note else "RECV", m, note)
                txt = show(m)
                received.append(txt)
                for rx in list(pending):
                    if rx.search(txt):
                        pending.remove(rx)

    stalling = False
    for i, line in enumerate(a.send):
        if closed is not None:
            emit("SKIP", decode_line(line), "connection closed")
            continue
        msg = expand(line)
        try:
            _send_all(s, msg)
        except OSError as e:
            closed = "send failed: %s" % e
            emit("CLOSED", note=closed)
            break
        emit("SENT", msg)
        if i + 1 < len(a.send):
            pump(time.monotonic() + a.delay)
    stalling = True
    pump(time.monotonic() + a.timeout)
    if closed is None:
        emit("TIMEOUT")
    try:
        s.close()
    except OSError:
        pass
    rc = 0
    for rx in pending:
        print("FAIL: nothing received matched %r" % rx.pattern, file=sys.stderr)
        rc = 1
    if a.expect_close and closed is None:
        print("FAIL: the server did not close the connection within %.1f s" % a.timeout, file=sys.stderr)
        rc = 1
    if a.expect_no_close and closed is not None:
        print("FAIL: the server closed the connection (%s)" % closed, file=sys.stderr)
        rc = 1
    if jf:
        jf.close()
    return rc


TCP_STATES = ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
              "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"]


def tcp_state(s: socket.socket) -> str:
    """The kernel's TCP state of `s` (first byte of struct tcp_info)."""
    try:
        st = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return "CLOSE"
    return TCP_STATES[st] if st < len(TCP_STATES) else str(st)


def _send_all(s: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    deadline = time.monotonic() + 5
    while view:
        try:
            n = s.send(view)
            view = view[n:]
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise OSError("send blocked for 5 s")
            select.select([], [s], [], 0.05)


if __name__ == "__main__":
    sys.exit(main())
