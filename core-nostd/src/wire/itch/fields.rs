//! A branch-free decoder into one fixed record of the fields books and trade
//! statistics use. Validation is one table lookup and compare; fields come
//! from per-type offset tables, so decoding does not branch on the message
//! type (a random mix of types makes such branches mispredict). Messages
//! whose types lack a field read it as 0; the typed views in the parent
//! module give every field of every type.

use super::{expected_length, HEADER_LEN};
use crate::wire::WireError;

/// Book and trade fields of one message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Fields {
    /// Type byte.
    pub msg_type: u8,
    /// Stock locate.
    pub stock_locate: u16,
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    /// Order reference (A F E C X D P), original reference (U); else 0.
    pub order_ref: u64,
    /// New order reference (U); else 0.
    pub new_order_ref: u64,
    /// Shares (A F P U), executed (E C), cancelled (X), cross shares (Q); else 0.
    pub shares: u64,
    /// Price (A F P U), execution price (C), cross price (Q); else 0.
    pub price: u32,
    /// Side (A F P); else 0.
    pub side: u8,
    /// Printable (C); else 0.
    pub printable: u8,
}

/// Where a type keeps each field; 0 means "not present" (offset 0 is the type
/// byte, never a field, so it doubles as the marker).
#[derive(Clone, Copy)]
struct Layout {
    order_ref: u8,
    new_ref: u8,
    shares: u8,
    shares8: bool,
    price: u8,
    side: u8,
    printable: u8,
}

const NONE: Layout = Layout {
    order_ref: 0,
    new_ref: 0,
    shares: 0,
    shares8: false,
    price: 0,
    side: 0,
    printable: 0,
};

const LAYOUTS: [Layout; 256] = {
    let mut t = [NONE; 256];
    let h = HEADER_LEN as u8;
    t[b'A' as usize] = Layout {
        order_ref: h,
        side: h + 8,
        shares: h + 9,
        price: h + 21,
        ..NONE
    };
    t[b'F' as usize] = t[b'A' as usize];
    t[b'E' as usize] = Layout {
        order_ref: h,
        shares: h + 8,
        ..NONE
    };
    t[b'C' as usize] = Layout {
        order_ref: h,
        shares: h + 8,
        printable: h + 20,
        price: h + 21,
        ..NONE
    };
    t[b'X' as usize] = Layout {
        order_ref: h,
        shares: h + 8,
        ..NONE
    };
    t[b'D' as usize] = Layout {
        order_ref: h,
        ..NONE
    };
    t[b'U' as usize] = Layout {
        order_ref: h,
        new_ref: h + 8,
        shares: h + 16,
        price: h + 20,
        ..NONE
    };
    t[b'P' as usize] = Layout {
        order_ref: h,
        side: h + 8,
        shares: h + 9,
        price: h + 21,
        ..NONE
    };
    t[b'Q' as usize] = Layout {
        shares: h,
        shares8: true,
        price: h + 16,
        ..NONE
    };
    t
};

/// Length of each type (0: unknown), as a table.
const LENGTHS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        if let Some(n) = expected_length(i as u8) {
            t[i] = n as u8;
        }
        i += 1;
    }
    t
};

/// Reads `N` big-endian bytes at `off`; 0 when `off` is 0 (field absent).
/// Present fields lie inside a validated message, so `get` does not fail
/// then; the absent marker reads the (always present) start of the message
/// and masks it, keeping the decode free of type-dependent branches.
#[inline(always)]
fn be<const N: usize>(msg: &[u8], off: u8) -> u64 {
    let off = usize::from(off);
    let Some(b) = msg.get(off..off + N) else {
        return 0;
    };
    let mut buf = [0u8; 8];
    buf[8 - N..].copy_from_slice(b);
    u64::from_be_bytes(buf) & 0u64.wrapping_sub(u64::from(off != 0))
}

/// Validates type and length, then decodes [`Fields`].
#[inline]
pub fn decode(msg: &[u8]) -> Result<Fields, WireError> {
    let Some(&t) = msg.first() else {
        return Err(WireError::ItchEmpty);
    };
    let len = LENGTHS[usize::from(t)];
    if usize::from(len) != msg.len() {
        return Err(if len == 0 {
            WireError::ItchUnknownType(t)
        } else {
            WireError::ItchBadLength {
                msg_type: t,
                expected: u16::from(len),
                actual: u16::try_from(msg.len()).unwrap_or(u16::MAX),
            }
        });
    }
    let l = LAYOUTS[usize::from(t)];
    Ok(Fields {
        msg_type: t,
        stock_locate: be::<2>(msg, 1) as u16,
        timestamp_ns: be::<6>(msg, 5),
        order_ref: be::<8>(msg, l.order_ref),
        new_order_ref: be::<8>(msg, l.new_ref),
        // Q's shares are 8 bytes wide, everyone else's 4 (Q is rare: predicted).
        shares: if l.shares8 {
            be::<8>(msg, l.shares)
        } else {
            be::<4>(msg, l.shares)
        },
        price: be::<4>(msg, l.price) as u32,
        side: be::<1>(msg, l.side) as u8,
        printable: be::<1>(msg, l.printable) as u8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::itch::{Message, ALL_TYPES};
    use proptest::prelude::*;

    /// The fields as the typed views give them: an independent path.
    fn via_views(m: &Message<'_>) -> Fields {
        let h = m.header();
        let mut f = Fields {
            msg_type: h.msg_type,
            stock_locate: h.stock_locate(),
            timestamp_ns: h.timestamp_ns(),
            ..Fields::default()
        };
        match *m {
            Message::AddOrder(a) => {
                (f.order_ref, f.side, f.shares, f.price) = (
                    a.order_ref.get(),
                    a.side,
                    a.shares.get().into(),
                    a.price.get(),
                )
            }
            Message::AddOrderMpid(a) => {
                (f.order_ref, f.side, f.shares, f.price) = (
                    a.order_ref.get(),
                    a.side,
                    a.shares.get().into(),
                    a.price.get(),
                )
            }
            Message::OrderExecuted(e) => {
                (f.order_ref, f.shares) = (e.order_ref.get(), e.executed_shares.get().into())
            }
            Message::OrderExecutedWithPrice(c) => {
                (f.order_ref, f.shares, f.printable, f.price) = (
                    c.order_ref.get(),
                    c.executed_shares.get().into(),
                    c.printable,
                    c.execution_price.get(),
                )
            }
            Message::OrderCancel(x) => {
                (f.order_ref, f.shares) = (x.order_ref.get(), x.cancelled_shares.get().into())
            }
            Message::OrderDelete(d) => f.order_ref = d.order_ref.get(),
            Message::OrderReplace(u) => {
                (f.order_ref, f.new_order_ref, f.shares, f.price) = (
                    u.original_order_ref.get(),
                    u.new_order_ref.get(),
                    u.shares.get().into(),
                    u.price.get(),
                )
            }
            Message::Trade(p) => {
                (f.order_ref, f.side, f.shares, f.price) = (
                    p.order_ref.get(),
                    p.side,
                    p.shares.get().into(),
                    p.price.get(),
                )
            }
            Message::CrossTrade(q) => (f.shares, f.price) = (q.shares.get(), q.cross_price.get()),
            _ => {}
        }
        f
    }

    proptest! {
        #[test]
        fn agrees_with_the_typed_views(t in proptest::sample::select(ALL_TYPES), body in proptest::collection::vec(any::<u8>(), 50)) {
            let n = expected_length(t).unwrap();
            let mut msg = body;
            msg.truncate(n);
            msg[0] = t;
            let view = Message::parse(&msg).unwrap();
            prop_assert_eq!(decode(&msg).unwrap(), via_views(&view));
        }

        #[test]
        fn errors_match_the_typed_parser(bytes in proptest::collection::vec(any::<u8>(), 0..60)) {
            match (decode(&bytes), Message::parse(&bytes)) {
                (Ok(f), Ok(m)) => prop_assert_eq!(f, via_views(&m)),
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
            }
        }
    }
}
