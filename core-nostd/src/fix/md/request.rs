//! Reading a MarketDataRequest (35=V) and deciding, before anything changes,
//! whether it is served, rejected at the session level (35=3: a required
//! tag missing, a value that is not a number, group counts that disagree) or
//! refused as market data (35=Y with MDReqRejReason 281).

use super::{ENTRY_BID, ENTRY_OFFER, ENTRY_VWAP, MAX_ECHOED_MD_REQ_ID, MAX_MD_REQ_ID};
use crate::fix::parse::{parse_uint, Message};

/// SessionRejectReason (373) values used here.
const REQUIRED_TAG_MISSING: u32 = 1;
const VALUE_INCORRECT: u32 = 5;
const INCORRECT_DATA_FORMAT: u32 = 6;
const INCORRECT_NUM_IN_GROUP: u32 = 16;

const MD_REQ_ID_TOO_LONG: &[u8] = b"MDReqID (262) longer than 64 bytes";
const _: () = assert!(MAX_MD_REQ_ID == 64, "MD_REQ_ID_TOO_LONG names the limit");

/// A request we serve.
#[derive(Debug, Clone, Copy)]
pub(super) struct Request<'a> {
    /// MDReqID (262).
    pub id: &'a [u8],
    /// SubscriptionRequestType (263): 0 snapshot, 1 subscribe, 2 disable.
    pub kind: u8,
    /// Levels per side, 1..=max depth.
    pub depth: u8,
    /// [`ENTRY_BID`] | [`ENTRY_OFFER`] | [`ENTRY_VWAP`].
    pub types: u8,
}

impl<'a> Request<'a> {
    /// The symbols (55) of the request, in order.
    pub fn symbols<'m>(&self, msg: &Message<'m>) -> impl Iterator<Item = &'m [u8]> {
        msg.fields().filter(|f| f.tag == 55).map(|f| f.value)
    }
}

/// Why a request is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RequestError<'a> {
    /// Session-level Reject (35=3).
    Session {
        tag: Option<u32>,
        reason: u32,
        text: &'static [u8],
    },
    /// MarketDataRequestReject (35=Y).
    Md {
        id: &'a [u8],
        reason: Option<u8>,
        text: &'static [u8],
    },
}

fn missing(tag: u32) -> RequestError<'static> {
    RequestError::Session {
        tag: Some(tag),
        reason: REQUIRED_TAG_MISSING,
        text: b"Required tag missing",
    }
}

fn number(msg: &Message<'_>, tag: u32) -> Result<Option<u64>, RequestError<'static>> {
    match msg.get(tag) {
        None => Ok(None),
        Some(v) => parse_uint(v).map(Some).ok_or(RequestError::Session {
            tag: Some(tag),
            reason: INCORRECT_DATA_FORMAT,
            text: b"Incorrect data format for value",
        }),
    }
}

fn required(msg: &Message<'_>, tag: u32) -> Result<u64, RequestError<'static>> {
    number(msg, tag)?.ok_or(missing(tag))
}

/// Reads and checks a MarketDataRequest.
pub(super) fn parse_request<'a>(
    msg: &Message<'a>,
    max_depth: u8,
) -> Result<Request<'a>, RequestError<'a>> {
    let id = msg.get(262).ok_or(missing(262))?;
    let md = |reason: Option<u8>, text: &'static [u8]| RequestError::Md { id, reason, text };
    if id.len() > MAX_MD_REQ_ID {
        // Refused, never truncated: a client matches the answer by its full
        // MDReqID, so a 35=Y echoes it while the answer stays small.
        // MDReqRejReason has no value for this: 281 is left out.
        return Err(if id.len() <= MAX_ECHOED_MD_REQ_ID {
            md(None, MD_REQ_ID_TOO_LONG)
        } else {
            RequestError::Session {
                tag: Some(262),
                reason: VALUE_INCORRECT,
                text: MD_REQ_ID_TOO_LONG,
            }
        });
    }
    let kind = required(msg, 263)?;
    if kind > 2 {
        return Err(md(
            Some(b'4'),
            b"unsupported SubscriptionRequestType: 0, 1 and 2 are served",
        ));
    }
    if kind == 2 {
        return Ok(Request {
            id,
            kind: 2,
            depth: 0,
            types: 0,
        });
    }
    let depth = required(msg, 264)?;
    let entries = required(msg, 267)?;
    let symbols = required(msg, 146)?;
    if let Some(u) = number(msg, 265)? {
        if u != 0 {
            return Err(md(
                Some(b'6'),
                b"unsupported MDUpdateType: only full refresh (0) is served",
            ));
        }
    }
    if msg.get(266).is_some_and(|v| v != b"Y") {
        return Err(md(
            Some(b'7'),
            b"unsupported AggregatedBook: books are aggregated by price",
        ));
    }
    // Group counts must match their entries.
    let (mut n_types, mut n_symbols, mut types) = (0u64, 0u64, 0u8);
    let mut bad_type = false;
    for f in msg.fields() {
        match f.tag {
            269 => {
                n_types += 1;
                types |= match f.value {
                    b"0" => ENTRY_BID,
                    b"1" => ENTRY_OFFER,
                    b"9" => ENTRY_VWAP,
                    _ => {
                        bad_type = true;
                        0
                    }
                };
            }
            55 => n_symbols += 1,
            _ => {}
        }
    }
    for (tag, declared, found) in [(267, entries, n_types), (146, symbols, n_symbols)] {
        if declared == 0 {
            return Err(RequestError::Session {
                tag: Some(tag),
                reason: VALUE_INCORRECT,
                text: b"Value is incorrect (out of range) for this tag",
            });
        }
        if declared != found {
            return Err(RequestError::Session {
                tag: Some(tag),
                reason: INCORRECT_NUM_IN_GROUP,
                text: b"Incorrect NumInGroup count for repeating group",
            });
        }
    }
    if bad_type {
        return Err(md(
            Some(b'8'),
            b"unsupported MDEntryType: 0 (bid), 1 (offer) and 9 (VWAP) are served",
        ));
    }
    let depth = match depth {
        0 => max_depth,
        d if d <= u64::from(max_depth) => d as u8,
        _ => {
            return Err(md(
                Some(b'5'),
                b"unsupported MarketDepth: more levels than this server keeps (--max-depth)",
            ))
        }
    };
    Ok(Request {
        id,
        kind: kind as u8,
        depth,
        types,
    })
}
