#!/usr/bin/env bash
# Proves scripts/fix_client.py and scripts/fix_raw.py against a real peer: the
# QuickFIX acceptor in scripts/fix_acceptor_selftest.py on 127.0.0.1 (a free
# port). Needs the venv that scripts/setup.sh prepares (QuickFIX installed).
# Prints one "ok"/"FAIL" line per case, then "N passed, M failed"; exits non-zero
# on any failure. Loopback only; every run is bounded by its own timeout.
set -uo pipefail
cd "$(dirname "$0")/.."

VENV="${TICKWIRE_VENV:-$PWD/target/pyenv}"
PY="$VENV/bin/python"
if ! "$PY" -c 'import quickfix' 2>/dev/null; then
  echo "fix-client-selftest: quickfix is not importable from $PY; run scripts/setup.sh" >&2
  exit 2
fi
WORK="$(mktemp -d -t tw-fixselftest.XXXXXX)"
ACC_PID=""
cleanup() {
  if [ -n "$ACC_PID" ] && kill -0 "$ACC_PID" 2>/dev/null; then
    kill "$ACC_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$ACC_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$ACC_PID" 2>/dev/null
  fi
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "fix-client-selftest: outputs kept in $WORK"; fi
}
trap cleanup EXIT

PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$PY" scripts/fix_acceptor_selftest.py --port "$PORT" --lifetime 300 --log-dir "$WORK/acceptor-log" \
  >"$WORK/acceptor.out" 2>&1 &
ACC_PID=$!
for _ in $(seq 100); do grep -q '^READY' "$WORK/acceptor.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^READY' "$WORK/acceptor.out" || { echo "acceptor did not start:"; cat "$WORK/acceptor.out"; exit 1; }

pass=0; fail=0
ok() { echo "ok   $1"; pass=$((pass+1)); }
ko() { echo "FAIL $1"; fail=$((fail+1)); for f in "${@:2}"; do [ -f "$f" ] && sed 's/^/     | /' "$f" | tail -n 40; done; }
client() { # NAME expected-rc args... ; outputs in $WORK/NAME.{jsonl,json,err}
  local name=$1 want=$2; shift 2
  "$PY" scripts/fix_client.py --port "$PORT" --out "$WORK/$name.jsonl" --summary "$WORK/$name.json" "$@" \
    2>"$WORK/$name.err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then ko "$name: exit $rc, wanted $want" "$WORK/$name.err"; return 1; fi
  return 0
}
check() { # NAME python-assertions (reads S = summary, W = list of W lines)
  local name=$1 code=$2
  if "$PY" - "$WORK/$name.json" "$WORK/$name.jsonl" <<EOF 2>"$WORK/$name.check"
import json, sys
S = json.load(open(sys.argv[1]))
W = [json.loads(l) for l in open(sys.argv[2])] if sys.argv[2] and __import__("os").path.exists(sys.argv[2]) else []
$code
EOF
  then ok "$name"; else ko "$name: check failed" "$WORK/$name.check" "$WORK/$name.err" "$WORK/$name.json"; fi
}

# 1. snapshot of two symbols: two W, entries in order, prices exactly as sent
client snapshot 0 --symbols AAPL,MSFT --types 0,1 --depth 2 --md-req-id snap-1 --expect-w 2 --timeout 20 &&
check snapshot '
assert S["ok"] and S["logon"]["seen"] and S["w_count"] == 2, S
assert [w["symbol"] for w in W] == ["AAPL", "MSFT"], W
w = W[0]
assert w["md_req_id"] == "snap-1" and isinstance(w["msg_seq_num"], int)
assert w["entries"][0] == {"type": "0", "price": "189.2500", "size": "300", "orders": 2, "position": 1}, w
assert [e["type"] for e in w["entries"]] == ["0", "0", "1", "1"]
assert [e["price"] for e in w["entries"]] == ["189.2500", "189.2400", "189.2600", "189.3000"]
assert S["sent"].get("V") == 1 and S["received"].get("W") == 2 and S["rejects_sent"] == []
assert S["logout"]["initiated_by"] == "client (end of run)", S["logout"]
'

# 2. subscription: the snapshot and two later W, stop on idle
client subscribe 0 --symbols AAPL --subscription 1 --idle-timeout 1.0 --timeout 20 &&
check subscribe '
assert S["ok"] and S["w_count"] == 3 and S["stopped_by"] == "idle timeout", S
assert [len(w["entries"]) for w in W] == [4, 4, 3]
assert W[1]["entries"][0]["size"] == "400" and W[1]["entries"][0]["orders"] == 3
seqs = [w["msg_seq_num"] for w in W]; assert seqs == sorted(seqs) and len(set(seqs)) == 3
'

# 3. session: TestRequest echo, ResendRequest answered by a gap fill, Logout answered
client session 0 --send-test-request TR-42 --send-resend-request 1,0 --logout-after 1 --timeout 20 &&
check session '
assert S["ok"], S
tr = S["test_request"]; assert tr["id"] == "TR-42" and tr["heartbeat_seq"] and tr["rtt_ms"] >= 0, tr
rr = S["resend_request"]; assert rr["begin"] == 1 and rr["end"] == 0 and rr["sent_seq"], rr
sr = rr["sequence_resets"][0]; assert sr["gap_fill"] == "Y" and sr["poss_dup"] == "Y" and int(sr["new_seq_no"]) > 1, sr
assert S["logout"]["initiated_by"] == "client (--logout-after)", S["logout"]
assert any(l["answer_to_ours"] for l in S["logout"]["server_logouts"]), S["logout"]
assert S["sent"].get("1") == 1 and S["sent"].get("2") == 1 and S["sent"].get("5") == 1
'

# 4. unknown symbol answered by 35=Y (expected)
client reject 0 --symbols UNKNOWN --md-req-id rj-1 --expect-reject --timeout 20 &&
check reject '
assert S["ok"] and S["w_count"] == 0, S
y = S["md_rejects"][0]; assert y["md_req_id"] == "rj-1" and y["reason"] == "0" and "UNKNOWN" in y["text"], y
'

# 5. the same 35=Y unexpected: must fail
client reject-unexpected 1 --symbols UNKNOWN --idle-timeout 1 --timeout 20 &&
check reject-unexpected '
assert not S["ok"] and any("MarketDataRequestReject" in e for e in S["errors"]), S["errors"]
'

# 6. slow consumer: stall after 5 W; the acceptor logs us out and drops us
client slow 0 --symbols FLOOD --subscription 1 --stop-reading-after 5 --stall-seconds 15 \
  --expect-disconnect --timeout 30 &&
check slow '
sc = S["slow_consumer"]; assert S["ok"] and sc["after_w"] == 5, S
assert sc["state_at_start"] == "ESTABLISHED" and "connection_lost_at" in sc, sc
assert sc["connection_state"] in ("CLOSE_WAIT", "gone (closed or reset)"), sc
assert sc["rx_queue_max"] > 0, sc
assert S["logout"]["initiated_by"] == "server" and S["logout"]["server_logouts"][0]["text"] == "slow consumer", S["logout"]
assert S["w_count"] == 200, S["w_count"]
'

# 7-10. invalid W: a Reject (35=3) goes to the server, and the client fails. 268
# count and a missing 269 are QuickFIX's own checks; 269/270 values inside the
# group are not checked by QuickFIX 1.16, so the client checks them and makes
# QuickFIX reject (373=5 value, 373=6 format).
for bad in BADCOUNT:16 NOTYPE:1 BADTYPE:5 BADPX:6; do
  sym=${bad%%:*}; reason=${bad##*:}
  client "invalid-$sym" 1 --symbols "$sym" --idle-timeout 1 --timeout 20 &&
  check "invalid-$sym" "
r = S['rejects_sent']; assert not S['ok'] and r and r[0]['reason'] == '$reason', (r, S['errors'])
assert any('rejected message' in e for e in S['errors']), S['errors']
"
done

# 11. no server: logon failure is reported
DEAD="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$PY" scripts/fix_client.py --port "$DEAD" --logon-timeout 1 --timeout 3 --summary "$WORK/nologon.json" \
  2>"$WORK/nologon.err"; rc=$?
if [ $rc -eq 1 ] && grep -q "logon failed" "$WORK/nologon.err"; then ok nologon; else ko "nologon: exit $rc" "$WORK/nologon.err"; fi

# 12-14. fix_raw.py: logon + TestRequest, wrong checksum ignored, MsgSeqNum too low -> Logout
LOGON='35=A|34={seq}|49=CLIENT|56=TICKWIRE|52={now}|98=0|108=30|141=Y|'
if "$PY" scripts/fix_raw.py --port "$PORT" --send "$LOGON" \
     --send '35=1|34={seq}|49=CLIENT|56=TICKWIRE|52={now}|112=RAW1|' \
     --send '35=5|34={seq}|49=CLIENT|56=TICKWIRE|52={now}|' \
     --expect '\|35=A\|.*\|141=Y\|' --expect '\|35=0\|.*\|112=RAW1\|' --expect '\|35=5\|' --timeout 5 \
     >"$WORK/raw1.out" 2>&1 && grep -q '^SENT .*|9=[0-9]*|35=A|' "$WORK/raw1.out"; then ok raw-logon-testrequest
else ko raw-logon-testrequest "$WORK/raw1.out"; fi

if "$PY" scripts/fix_raw.py --port "$PORT" --send "$LOGON" \
     --send '35=1|34={seq}|49=CLIENT|56=TICKWIRE|52={now}|112=BADSUM|10=000|' \
     --send '35=1|34=2|49=CLIENT|56=TICKWIRE|52={now}|112=GOOD|' \
     --send '35=5|34=3|49=CLIENT|56=TICKWIRE|52={now}|' \
     --expect '\|112=GOOD\|' --expect '\|35=5\|' --linger --timeout 3 >"$WORK/raw2.out" 2>&1 \
   && ! grep -q 'BADSUM' <(grep '^RECV' "$WORK/raw2.out"); then ok raw-bad-checksum-ignored
else ko raw-bad-checksum-ignored "$WORK/raw2.out"; fi

if "$PY" scripts/fix_raw.py --port "$PORT" --send "$LOGON" \
     --send '35=0|34=1|49=CLIENT|56=TICKWIRE|52={now}|' \
     --expect '\|35=5\|.*58=MsgSeqNum too low' --expect-close --timeout 5 >"$WORK/raw3.out" 2>&1 \
   && grep -q '^CLOSED' "$WORK/raw3.out"; then ok raw-seq-too-low
else ko raw-seq-too-low "$WORK/raw3.out"; fi

# (the QuickFIX acceptor drops a connection without a Logon on its next 1 s tick)
if "$PY" scripts/fix_raw.py --port "$PORT" --raw --send '\x00\xffgarbage\r\n' --expect-close --timeout 5 \
     >"$WORK/raw4.out" 2>&1 && grep -q '^SENT .*\\x00\\xffgarbage' "$WORK/raw4.out"; then ok raw-garbage-closed
else ko raw-garbage-closed "$WORK/raw4.out"; fi

# 16. fix_validate.py: offline checks, same verdicts as the session
printf '%s\n' '35=W|49=TICKWIRE|56=CLIENT|34=1|52=20240315-14:30:00.123|55=AAPL|268=2|269=0|270=179.3100|271=300|346=2|290=1|269=9|270=179.3150|271=1000|' \
  '35=W|49=TICKWIRE|56=CLIENT|34=1|52=20240315-14:30:00.123|55=AAPL|268=1|269=Z|' \
  '35=W|49=TICKWIRE|56=CLIENT|34=1|52=20240315-14:30:00.123|55=AAPL|268=2|269=0|' >"$WORK/validate.in"
"$PY" scripts/fix_validate.py "$WORK/validate.in" >"$WORK/validate.out" 2>&1
if [ $? -eq 1 ] && grep -q '^1: OK' "$WORK/validate.out" && grep -q "^2: REJECT .*269='Z'" "$WORK/validate.out" \
   && grep -q '^3: REJECT RepeatingGroupCountMismatch' "$WORK/validate.out"; then ok validate-offline
else ko validate-offline "$WORK/validate.out"; fi

echo "fix-client-selftest: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
