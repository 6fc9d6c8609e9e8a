//! NASDAQ TotalView-ITCH 5.0 messages as typed zero-copy views.
//!
//! Every message is a `#[repr(C)]` struct of byte-aligned big-endian fields
//! whose size equals the specification's length (checked at compile time).
//! [`Message::parse`] dispatches on the type byte and casts in place; it
//! rejects unknown types and any framing length that differs from the
//! specification's, so the caller can count the error and skip the message by
//! its framing length.
//!
//! Prices are integers: `Price(4)` fields are `U32` with 4 implied decimals,
//! `Price(8)` fields are `U64` with 8. Alpha fields are space-padded ASCII.

use zerocopy::byteorder::big_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::WireError;

pub mod fields;
pub use fields::{decode as decode_fields, Fields};

/// The 11 bytes every ITCH 5.0 message starts with.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    /// Message type byte.
    pub msg_type: u8,
    /// Locate code identifying the security (0 for market-wide messages).
    pub stock_locate: U16,
    /// NASDAQ internal tracking number.
    pub tracking_number: U16,
    /// Nanoseconds since midnight, 48-bit big-endian.
    pub timestamp: [u8; 6],
}

impl Header {
    /// The timestamp as nanoseconds since midnight.
    #[inline]
    pub fn timestamp_ns(&self) -> u64 {
        let t = self.timestamp;
        u64::from_be_bytes([0, 0, t[0], t[1], t[2], t[3], t[4], t[5]])
    }

    /// The stock locate as a native integer.
    #[inline]
    pub fn stock_locate(&self) -> u16 {
        self.stock_locate.get()
    }
}

/// Length of [`Header`].
pub const HEADER_LEN: usize = 11;

/// Implemented by every message struct.
pub trait ItchMessage: FromBytes + KnownLayout + Immutable + Unaligned {
    /// The type byte.
    const TYPE: u8;
    /// Exact length in bytes, type byte included.
    const LEN: usize;
    /// The common header.
    fn header(&self) -> &Header;
}

/// Trims the trailing spaces of an 8-byte Stock field.
pub fn stock_symbol(stock: &[u8; 8]) -> &[u8] {
    let end = stock.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
    &stock[..end]
}

#[inline]
fn cast<M: ItchMessage>(buf: &[u8]) -> Result<&M, WireError> {
    let bad_length = || WireError::ItchBadLength {
        msg_type: M::TYPE,
        expected: M::LEN as u16,
        actual: u16::try_from(buf.len()).unwrap_or(u16::MAX),
    };
    if buf.len() != M::LEN {
        return Err(bad_length());
    }
    M::ref_from_bytes(buf).map_err(|_| bad_length())
}

macro_rules! itch_messages {
    ($(
        $(#[$doc:meta])*
        $name:ident = $ty:literal, $len:literal {
            $( $(#[$fdoc:meta])* $field:ident : $fty:ty ),* $(,)?
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
            #[repr(C)]
            pub struct $name {
                /// Common header.
                pub header: Header,
                $( $(#[$fdoc])* pub $field: $fty, )*
            }

            impl ItchMessage for $name {
                const TYPE: u8 = $ty;
                const LEN: usize = $len;
                #[inline]
                fn header(&self) -> &Header {
                    &self.header
                }
            }

            const _: () = assert!(core::mem::size_of::<$name>() == $len);
            const _: () = assert!(core::mem::align_of::<$name>() == 1);
        )*

        /// Any ITCH 5.0 message, borrowed from the buffer it was parsed from.
        #[derive(Debug, Clone, Copy)]
        pub enum Message<'a> {
            $(
                $(#[$doc])*
                $name(&'a $name),
            )*
        }

        impl<'a> Message<'a> {
            /// Parses one message whose framing gave exactly `buf`.
            #[inline]
            pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
                let Some(&t) = buf.first() else {
                    return Err(WireError::ItchEmpty);
                };
                match t {
                    $( $ty => cast::<$name>(buf).map(Message::$name), )*
                    _ => Err(WireError::ItchUnknownType(t)),
                }
            }

            /// The message's bytes, as parsed.
            #[inline]
            pub fn as_bytes(&self) -> &'a [u8] {
                match *self {
                    $( Message::$name(m) => m.as_bytes(), )*
                }
            }

            /// The common header.
            #[inline]
            pub fn header(&self) -> &'a Header {
                match *self {
                    $( Message::$name(m) => &m.header, )*
                }
            }
        }

        /// The specification's length for a type byte, `None` for unknown types.
        pub const fn expected_length(msg_type: u8) -> Option<usize> {
            match msg_type {
                $( $ty => Some($len), )*
                _ => None,
            }
        }

        /// Every ITCH 5.0 type byte, in specification order.
        pub const ALL_TYPES: &[u8] = &[$($ty),*];
    };
}

itch_messages! {
    /// S: System Event.
    SystemEvent = b'S', 12 { event_code: u8 }

    /// R: Stock Directory.
    StockDirectory = b'R', 39 {
        stock: [u8; 8],
        market_category: u8,
        financial_status_indicator: u8,
        round_lot_size: U32,
        round_lots_only: u8,
        issue_classification: u8,
        issue_sub_type: [u8; 2],
        authenticity: u8,
        short_sale_threshold_indicator: u8,
        ipo_flag: u8,
        luld_reference_price_tier: u8,
        etp_flag: u8,
        etp_leverage_factor: U32,
        inverse_indicator: u8,
    }

    /// H: Stock Trading Action.
    StockTradingAction = b'H', 25 {
        stock: [u8; 8],
        trading_state: u8,
        reserved: u8,
        reason: [u8; 4],
    }

    /// Y: Reg SHO Short Sale Price Test Restricted Indicator.
    RegShoRestriction = b'Y', 20 { stock: [u8; 8], reg_sho_action: u8 }

    /// L: Market Participant Position.
    MarketParticipantPosition = b'L', 26 {
        mpid: [u8; 4],
        stock: [u8; 8],
        primary_market_maker: u8,
        market_maker_mode: u8,
        market_participant_state: u8,
    }

    /// V: MWCB Decline Level (Price(8) levels).
    MwcbDeclineLevel = b'V', 35 { level1: U64, level2: U64, level3: U64 }

    /// W: MWCB Status.
    MwcbStatus = b'W', 12 { breached_level: u8 }

    /// K: IPO Quoting Period Update.
    IpoQuotingPeriodUpdate = b'K', 28 {
        stock: [u8; 8],
        ipo_quotation_release_time: U32,
        ipo_quotation_release_qualifier: u8,
        ipo_price: U32,
    }

    /// J: LULD Auction Collar.
    LuldAuctionCollar = b'J', 35 {
        stock: [u8; 8],
        auction_collar_reference_price: U32,
        upper_auction_collar_price: U32,
        lower_auction_collar_price: U32,
        auction_collar_extension: U32,
    }

    /// h: Operational Halt.
    OperationalHalt = b'h', 21 { stock: [u8; 8], market_code: u8, operational_halt_action: u8 }

    /// A: Add Order, no MPID attribution.
    AddOrder = b'A', 36 {
        order_ref: U64,
        /// 'B' buy or 'S' sell.
        side: u8,
        shares: U32,
        stock: [u8; 8],
        price: U32,
    }

    /// F: Add Order with MPID attribution.
    AddOrderMpid = b'F', 40 {
        order_ref: U64,
        /// 'B' buy or 'S' sell.
        side: u8,
        shares: U32,
        stock: [u8; 8],
        price: U32,
        attribution: [u8; 4],
    }

    /// E: Order Executed (at the order's price).
    OrderExecuted = b'E', 31 { order_ref: U64, executed_shares: U32, match_number: U64 }

    /// C: Order Executed With Price.
    OrderExecutedWithPrice = b'C', 36 {
        order_ref: U64,
        executed_shares: U32,
        match_number: U64,
        /// 'Y' when the execution should count toward volume statistics.
        printable: u8,
        execution_price: U32,
    }

    /// X: Order Cancel (partial).
    OrderCancel = b'X', 23 { order_ref: U64, cancelled_shares: U32 }

    /// D: Order Delete.
    OrderDelete = b'D', 19 { order_ref: U64 }

    /// U: Order Replace.
    OrderReplace = b'U', 35 {
        original_order_ref: U64,
        new_order_ref: U64,
        shares: U32,
        price: U32,
    }

    /// P: Trade (non-cross, against a non-displayed order).
    Trade = b'P', 44 {
        order_ref: U64,
        side: u8,
        shares: U32,
        stock: [u8; 8],
        price: U32,
        match_number: U64,
    }

    /// Q: Cross Trade.
    CrossTrade = b'Q', 40 {
        shares: U64,
        stock: [u8; 8],
        cross_price: U32,
        match_number: U64,
        cross_type: u8,
    }

    /// B: Broken Trade.
    BrokenTrade = b'B', 19 { match_number: U64 }

    /// I: Net Order Imbalance Indicator (NOII).
    Noii = b'I', 50 {
        paired_shares: U64,
        imbalance_shares: U64,
        imbalance_direction: u8,
        stock: [u8; 8],
        far_price: U32,
        near_price: U32,
        current_reference_price: U32,
        cross_type: u8,
        price_variation_indicator: u8,
    }

    /// N: Retail Price Improvement Indicator.
    RetailInterest = b'N', 20 { stock: [u8; 8], interest_flag: u8 }

    /// O: Direct Listing with Capital Raise Price Discovery.
    DirectListingPriceDiscovery = b'O', 48 {
        stock: [u8; 8],
        open_eligibility_status: u8,
        minimum_allowable_price: U32,
        maximum_allowable_price: U32,
        near_execution_price: U32,
        near_execution_time: U64,
        lower_price_range_collar: U32,
        upper_price_range_collar: U32,
    }
}

impl Message<'_> {
    /// The type byte.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.header().msg_type
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Message<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        let h = self.header();
        defmt::write!(
            f,
            "ITCH type={=u8} locate={=u16} ts={=u64}",
            h.msg_type,
            h.stock_locate(),
            h.timestamp_ns()
        );
    }
}

#[cfg(test)]
mod tests;
