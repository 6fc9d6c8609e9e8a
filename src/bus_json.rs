//! The JSON form of a bus record (docs/bus-record.md,
//! docs/bus-record.schema.json): the binary record's fields by name, prices
//! as strings with exactly four decimals.

use serde_json::{json, Value};
use tickwire_core::book::Level;
use tickwire_core::bus::BusRecord;
use tickwire_core::fix::Price4;

/// The JSON form of `r`:
///
/// `v` (version), `session` (trailing spaces trimmed; `null` when all
/// zero: not MoldUDP64), `symbol`, `locate`, `pub_seq`, `seq`, `event_ns`,
/// `boundary_ns`, `stale`, `vwap` (`"101.2500"`, or `null` without a VWAP),
/// `volume`, and `bids` / `asks`, best first, each level
/// `{"price": "10.0000", "shares": n, "orders": n}`. Bytes that are not
/// UTF-8 in the session or symbol become U+FFFD.
pub fn to_json<T: AsRef<[u8]>>(r: &BusRecord<T>) -> Value {
    let session = r.session();
    let session = if session.iter().all(|&b| b == 0) {
        Value::Null
    } else {
        let n = session
            .iter()
            .rposition(|&c| c != b' ')
            .map_or(0, |i| i + 1);
        Value::String(String::from_utf8_lossy(&session[..n]).into_owned())
    };
    json!({
        "v": r.version(),
        "session": session,
        "symbol": String::from_utf8_lossy(r.symbol()),
        "locate": r.locate(),
        "pub_seq": r.pub_seq(),
        "seq": r.seq(),
        "event_ns": r.event_ns(),
        "boundary_ns": r.boundary_ns(),
        "stale": r.stale(),
        "vwap": r.vwap().map(|p| Price4(p).to_string()),
        "volume": r.volume(),
        "bids": r.bids().map(level).collect::<Vec<_>>(),
        "asks": r.asks().map(level).collect::<Vec<_>>(),
    })
}

fn level(l: Level) -> Value {
    json!({
        "price": Price4(u64::from(l.price)).to_string(),
        "shares": l.shares,
        "orders": l.orders,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_core::bus::{encode, MAX_LEN};
    use tickwire_core::engine::{BookRecord, Origin, RECORD_DEPTH};

    fn lv(price: u32, orders: u32, shares: u64) -> Level {
        Level {
            price,
            orders,
            shares,
        }
    }

    fn record() -> BookRecord {
        let mut r = BookRecord::EMPTY;
        r.boundary_ns = 34_200_001_000_000;
        r.vwap = 1_012_500;
        r.volume = 300;
        r.origin = Origin {
            session: *b"SESS01    ",
            seq: 42,
            event_ns: 34_200_000_000_000,
        };
        r.locate = 13;
        r.stale = true;
        r.symbol[..4].copy_from_slice(b"AAPL");
        r.symbol_len = 4;
        r.bid_count = 2;
        r.bids[0] = lv(1_012_600, 3, 500);
        r.bids[1] = lv(100_000, 1, 100);
        r.ask_count = 1;
        r.asks[0] = lv(1_012_700, 2, 200);
        r
    }

    fn json_of(r: &BookRecord, pub_seq: u64) -> Value {
        let mut buf = [0u8; MAX_LEN];
        let n = encode(r, pub_seq, RECORD_DEPTH, &mut buf).unwrap();
        to_json(&BusRecord::new_checked(&buf[..n]).unwrap())
    }

    fn example() -> Value {
        json_of(&record(), 7)
    }

    fn extreme() -> BookRecord {
        let mut r = record();
        r.vwap = u64::MAX;
        r.volume = u64::MAX;
        r.bids[0] = lv(u32::MAX, u32::MAX, u64::MAX);
        r.origin.session = *b"ABCDEFGHIJ";
        r
    }

    #[test]
    fn full_record() {
        let expected: Value = serde_json::from_str(
            r#"{
                "v": 1,
                "session": "SESS01",
                "symbol": "AAPL",
                "locate": 13,
                "pub_seq": 7,
                "seq": 42,
                "event_ns": 34200000000000,
                "boundary_ns": 34200001000000,
                "stale": true,
                "vwap": "101.2500",
                "volume": 300,
                "bids": [
                    {"price": "101.2600", "shares": 500, "orders": 3},
                    {"price": "10.0000", "shares": 100, "orders": 1}
                ],
                "asks": [
                    {"price": "101.2700", "shares": 200, "orders": 2}
                ]
            }"#,
        )
        .unwrap();
        assert_eq!(example(), expected);
    }

    #[test]
    fn empty_record() {
        let expected: Value = serde_json::from_str(
            r#"{
                "v": 1, "session": null, "symbol": "", "locate": 0,
                "pub_seq": 1, "seq": 0, "event_ns": 0, "boundary_ns": 0,
                "stale": false, "vwap": null, "volume": 0, "bids": [], "asks": []
            }"#,
        )
        .unwrap();
        assert_eq!(json_of(&BookRecord::EMPTY, 1), expected);
    }

    #[test]
    fn extremes() {
        let v = json_of(&extreme(), u64::MAX);
        assert_eq!(v["vwap"], "1844674407370955.1615");
        assert_eq!(v["volume"], u64::MAX);
        assert_eq!(v["pub_seq"], u64::MAX);
        assert_eq!(v["session"], "ABCDEFGHIJ");
        assert_eq!(
            v["bids"][0],
            json!({"price": "429496.7295", "shares": u64::MAX, "orders": u32::MAX})
        );
    }

    /// Writes the test records' JSON (an array) to the file
    /// $BUS_JSON_EXAMPLES names, for validating them against
    /// docs/bus-record.schema.json outside Rust.
    #[test]
    fn write_examples() {
        if let Some(path) = std::env::var_os("BUS_JSON_EXAMPLES") {
            let all = json!([
                example(),
                json_of(&BookRecord::EMPTY, 1),
                json_of(&extreme(), u64::MAX)
            ]);
            std::fs::write(path, serde_json::to_string_pretty(&all).unwrap()).unwrap();
        }
    }
}
