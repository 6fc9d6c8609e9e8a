#!/usr/bin/env python3
"""Checks FIX 4.4 messages offline, without a session, the way fix_client.py's
QuickFIX session would: BodyLength and CheckSum, header order, required fields,
formats and enums, group counts, fields allowed in the message type (QuickFIX's
DataDictionary.validate with FIX44.xml), plus the client's own checks inside
35=W entries that QuickFIX skips (269 enum, 270/271 decimals, 346/290 integers).
Session-level checks (CompIDs, MsgSeqNum, SendingTime latency) are not made.

Input: messages, one a line, with SOH or '|' between fields (from FILE or
stdin; blank lines and lines starting with # skipped). A line without a leading
8= gets 8/9/10 added (like fix_raw.py), so a body alone can be checked.
Prints "OK" or "REJECT <reason>" with the line number for each; exit 1 if any
was rejected. For unit-testing an encoder's output, e.g.
  cargo run ... | target/pyenv/bin/python scripts/fix_validate.py -
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fix_client import (GroupCheckError, decode_w_entries, dictionary_enum,  # noqa: E402
                        find_data_dictionary, import_quickfix)
from fix_raw import frame  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(prog="fix_validate.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", nargs="?", default="-", help="messages, one a line ('-' = stdin, the default)")
    p.add_argument("--data-dictionary", metavar="FIX44.xml")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the rejected lines")
    a = p.parse_args()
    qf, qf44 = import_quickfix()
    dd_path = find_data_dictionary(a.data_dictionary)
    dd = qf.DataDictionary(str(dd_path))
    types = dictionary_enum(dd_path, 269)
    src = sys.stdin if a.file == "-" else open(a.file, encoding="latin-1")
    bad = total = 0
    for n, line in enumerate(src, 1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        total += 1
        b = line.replace("|", "\x01").encode("latin-1")
        if not b.startswith(b"8="):
            b = frame(b, "FIX.4.4")
        text = b.decode("latin-1")
        try:
            m = qf.Message(text, dd, True)
            dd.validate(m)
            if m.getHeader().getField(35) == "W":
                decode_w_entries(qf44, m, types)
            if not a.quiet:
                print("%d: OK" % n)
        except GroupCheckError as e:
            bad += 1
            print("%d: REJECT %s (tag %d; fix_client makes QuickFIX reject it)" % (n, e, e.tag))
        except Exception as e:  # QuickFIX's exceptions: the reason a session Reject would carry
            bad += 1
            print("%d: REJECT %s: %s" % (n, type(e).__name__, e))
    print("fix_validate: %d messages, %d rejected" % (total, bad), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
