//! ITCH 5.0 message encoder, written from the NASDAQ TotalView-ITCH 5.0
//! specification (independently of `tickwire-core`'s parser so that the two
//! can be cross-checked against each other).
//!
//! Every message starts with the 11-byte common header: message type (1),
//! stock locate (u16), tracking number (u16), timestamp (6 bytes, nanoseconds
//! since midnight). All integers are big-endian; Alpha fields are left
//! justified and space padded; `Price(4)` is a `u32` with 4 implied decimals,
//! `Price(8)` a `u64` with 8 implied decimals.

/// Length in bytes of the longest ITCH 5.0 message (`I`, NOII, 50 bytes).
pub const MAX_MESSAGE_LEN: usize = 50;

/// An 8-byte, space-padded stock symbol.
pub type Stock = [u8; 8];

/// The 23 ITCH 5.0 message types, in specification order.
pub const ALL_TYPES: [u8; 23] = [
    b'S', b'R', b'H', b'Y', b'L', b'V', b'W', b'K', b'J', b'h', b'A', b'F', b'E', b'C', b'X', b'D',
    b'U', b'P', b'Q', b'B', b'I', b'N', b'O',
];

/// The exact specification length of a message of type `t`, header included,
/// or `None` if `t` is not an ITCH 5.0 message type.
pub const fn message_len(t: u8) -> Option<usize> {
    Some(match t {
        b'S' => 12,
        b'R' => 39,
        b'H' => 25,
        b'Y' => 20,
        b'L' => 26,
        b'V' => 35,
        b'W' => 12,
        b'K' => 28,
        b'J' => 35,
        b'h' => 21,
        b'A' => 36,
        b'F' => 40,
        b'E' => 31,
        b'C' => 36,
        b'X' => 23,
        b'D' => 19,
        b'U' => 35,
        b'P' => 44,
        b'Q' => 40,
        b'B' => 19,
        b'I' => 50,
        b'N' => 20,
        b'O' => 48,
        _ => return None,
    })
}

/// Space-pad an ASCII symbol (up to 8 bytes; longer input is truncated).
pub fn stock(sym: &str) -> Stock {
    let mut s = [b' '; 8];
    for (d, b) in s.iter_mut().zip(sym.bytes()) {
        *d = b;
    }
    s
}

/// The common fields every message carries after its type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Stock locate code (0 for market-wide messages).
    pub stock_locate: u16,
    /// NASDAQ internal tracking number.
    pub tracking_number: u16,
    /// Nanoseconds since midnight; only the low 48 bits are encoded.
    pub timestamp: u64,
}

/// One ITCH 5.0 message, by value (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ItchMsg {
    /// `S` System Event (12).
    SystemEvent { hdr: Header, event_code: u8 },
    /// `R` Stock Directory (39).
    StockDirectory {
        hdr: Header,
        stock: Stock,
        market_category: u8,
        financial_status: u8,
        round_lot_size: u32,
        round_lots_only: u8,
        issue_classification: u8,
        issue_subtype: [u8; 2],
        authenticity: u8,
        short_sale_threshold: u8,
        ipo_flag: u8,
        luld_tier: u8,
        etp_flag: u8,
        etp_leverage_factor: u32,
        inverse_indicator: u8,
    },
    /// `H` Stock Trading Action (25).
    StockTradingAction {
        hdr: Header,
        stock: Stock,
        trading_state: u8,
        reserved: u8,
        reason: [u8; 4],
    },
    /// `Y` Reg SHO Short Sale Price Test Restricted Indicator (20).
    RegShoRestriction {
        hdr: Header,
        stock: Stock,
        action: u8,
    },
    /// `L` Market Participant Position (26).
    MarketParticipantPosition {
        hdr: Header,
        mpid: [u8; 4],
        stock: Stock,
        primary_market_maker: u8,
        market_maker_mode: u8,
        participant_state: u8,
    },
    /// `V` MWCB Decline Level (35); levels are Price(8).
    MwcbDeclineLevel {
        hdr: Header,
        level1: u64,
        level2: u64,
        level3: u64,
    },
    /// `W` MWCB Status (12).
    MwcbStatus { hdr: Header, breached_level: u8 },
    /// `K` IPO Quoting Period Update (28).
    IpoQuotingPeriodUpdate {
        hdr: Header,
        stock: Stock,
        release_time: u32,
        release_qualifier: u8,
        ipo_price: u32,
    },
    /// `J` LULD Auction Collar (35).
    LuldAuctionCollar {
        hdr: Header,
        stock: Stock,
        ref_price: u32,
        upper_price: u32,
        lower_price: u32,
        extension: u32,
    },
    /// `h` Operational Halt (21).
    OperationalHalt {
        hdr: Header,
        stock: Stock,
        market_code: u8,
        action: u8,
    },
    /// `A` Add Order, no MPID attribution (36).
    AddOrder {
        hdr: Header,
        order_ref: u64,
        side: u8,
        shares: u32,
        stock: Stock,
        price: u32,
    },
    /// `F` Add Order with MPID attribution (40).
    AddOrderMpid {
        hdr: Header,
        order_ref: u64,
        side: u8,
        shares: u32,
        stock: Stock,
        price: u32,
        attribution: [u8; 4],
    },
    /// `E` Order Executed (31).
    OrderExecuted {
        hdr: Header,
        order_ref: u64,
        executed_shares: u32,
        match_number: u64,
    },
    /// `C` Order Executed With Price (36).
    OrderExecutedWithPrice {
        hdr: Header,
        order_ref: u64,
        executed_shares: u32,
        match_number: u64,
        printable: u8,
        execution_price: u32,
    },
    /// `X` Order Cancel (23).
    OrderCancel {
        hdr: Header,
        order_ref: u64,
        cancelled_shares: u32,
    },
    /// `D` Order Delete (19).
    OrderDelete { hdr: Header, order_ref: u64 },
    /// `U` Order Replace (35).
    OrderReplace {
        hdr: Header,
        original_ref: u64,
        new_ref: u64,
        shares: u32,
        price: u32,
    },
    /// `P` Trade, non-cross (44).
    Trade {
        hdr: Header,
        order_ref: u64,
        side: u8,
        shares: u32,
        stock: Stock,
        price: u32,
        match_number: u64,
    },
    /// `Q` Cross Trade (40).
    CrossTrade {
        hdr: Header,
        shares: u64,
        stock: Stock,
        cross_price: u32,
        match_number: u64,
        cross_type: u8,
    },
    /// `B` Broken Trade (19).
    BrokenTrade { hdr: Header, match_number: u64 },
    /// `I` Net Order Imbalance Indicator (50).
    Noii {
        hdr: Header,
        paired_shares: u64,
        imbalance_shares: u64,
        imbalance_direction: u8,
        stock: Stock,
        far_price: u32,
        near_price: u32,
        current_ref_price: u32,
        cross_type: u8,
        price_variation_indicator: u8,
    },
    /// `N` Retail Price Improvement Indicator (20).
    RetailInterest {
        hdr: Header,
        stock: Stock,
        interest_flag: u8,
    },
    /// `O` Direct Listing with Capital Raise Price Discovery (48).
    DirectListingPriceDiscovery {
        hdr: Header,
        stock: Stock,
        open_eligibility: u8,
        min_allowable_price: u32,
        max_allowable_price: u32,
        near_execution_price: u32,
        near_execution_time: u64,
        lower_price_range_collar: u32,
        upper_price_range_collar: u32,
    },
}

/// Big-endian writer into a fixed-size buffer. Never panics: the buffer is
/// `MAX_MESSAGE_LEN` bytes and every message fits.
struct Cursor<'a> {
    buf: &'a mut [u8; MAX_MESSAGE_LEN],
    pos: usize,
}

impl Cursor<'_> {
    #[inline(always)]
    fn bytes(&mut self, b: &[u8]) {
        let end = self.pos + b.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(b);
        }
        self.pos = end;
    }
    #[inline(always)]
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    #[inline(always)]
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    #[inline(always)]
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
    #[inline(always)]
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }
    #[inline(always)]
    fn header(&mut self, t: u8, h: &Header) {
        self.u8(t);
        self.u16(h.stock_locate);
        self.u16(h.tracking_number);
        self.bytes(&h.timestamp.to_be_bytes()[2..8]);
    }
}

impl ItchMsg {
    /// The message type byte.
    pub fn msg_type(&self) -> u8 {
        use ItchMsg::*;
        match self {
            SystemEvent { .. } => b'S',
            StockDirectory { .. } => b'R',
            StockTradingAction { .. } => b'H',
            RegShoRestriction { .. } => b'Y',
            MarketParticipantPosition { .. } => b'L',
            MwcbDeclineLevel { .. } => b'V',
            MwcbStatus { .. } => b'W',
            IpoQuotingPeriodUpdate { .. } => b'K',
            LuldAuctionCollar { .. } => b'J',
            OperationalHalt { .. } => b'h',
            AddOrder { .. } => b'A',
            AddOrderMpid { .. } => b'F',
            OrderExecuted { .. } => b'E',
            OrderExecutedWithPrice { .. } => b'C',
            OrderCancel { .. } => b'X',
            OrderDelete { .. } => b'D',
            OrderReplace { .. } => b'U',
            Trade { .. } => b'P',
            CrossTrade { .. } => b'Q',
            BrokenTrade { .. } => b'B',
            Noii { .. } => b'I',
            RetailInterest { .. } => b'N',
            DirectListingPriceDiscovery { .. } => b'O',
        }
    }

    /// The common header.
    pub fn header(&self) -> &Header {
        use ItchMsg::*;
        match self {
            SystemEvent { hdr, .. }
            | StockDirectory { hdr, .. }
            | StockTradingAction { hdr, .. }
            | RegShoRestriction { hdr, .. }
            | MarketParticipantPosition { hdr, .. }
            | MwcbDeclineLevel { hdr, .. }
            | MwcbStatus { hdr, .. }
            | IpoQuotingPeriodUpdate { hdr, .. }
            | LuldAuctionCollar { hdr, .. }
            | OperationalHalt { hdr, .. }
            | AddOrder { hdr, .. }
            | AddOrderMpid { hdr, .. }
            | OrderExecuted { hdr, .. }
            | OrderExecutedWithPrice { hdr, .. }
            | OrderCancel { hdr, .. }
            | OrderDelete { hdr, .. }
            | OrderReplace { hdr, .. }
            | Trade { hdr, .. }
            | CrossTrade { hdr, .. }
            | BrokenTrade { hdr, .. }
            | Noii { hdr, .. }
            | RetailInterest { hdr, .. }
            | DirectListingPriceDiscovery { hdr, .. } => hdr,
        }
    }

    /// Encoded length in bytes (the specification length for its type).
    pub fn encoded_len(&self) -> usize {
        // Every variant's type is a valid ITCH type.
        message_len(self.msg_type()).unwrap_or(0)
    }

    /// Encode into `out`, returning the number of bytes written
    /// (always `self.encoded_len()`).
    pub fn encode_into(&self, out: &mut [u8; MAX_MESSAGE_LEN]) -> usize {
        use ItchMsg::*;
        let mut c = Cursor { buf: out, pos: 0 };
        c.header(self.msg_type(), self.header());
        match *self {
            SystemEvent { event_code, .. } => c.u8(event_code),
            StockDirectory {
                stock,
                market_category,
                financial_status,
                round_lot_size,
                round_lots_only,
                issue_classification,
                issue_subtype,
                authenticity,
                short_sale_threshold,
                ipo_flag,
                luld_tier,
                etp_flag,
                etp_leverage_factor,
                inverse_indicator,
                ..
            } => {
                c.bytes(&stock);
                c.u8(market_category);
                c.u8(financial_status);
                c.u32(round_lot_size);
                c.u8(round_lots_only);
                c.u8(issue_classification);
                c.bytes(&issue_subtype);
                c.u8(authenticity);
                c.u8(short_sale_threshold);
                c.u8(ipo_flag);
                c.u8(luld_tier);
                c.u8(etp_flag);
                c.u32(etp_leverage_factor);
                c.u8(inverse_indicator);
            }
            StockTradingAction {
                stock,
                trading_state,
                reserved,
                reason,
                ..
            } => {
                c.bytes(&stock);
                c.u8(trading_state);
                c.u8(reserved);
                c.bytes(&reason);
            }
            RegShoRestriction { stock, action, .. } => {
                c.bytes(&stock);
                c.u8(action);
            }
            MarketParticipantPosition {
                mpid,
                stock,
                primary_market_maker,
                market_maker_mode,
                participant_state,
                ..
            } => {
                c.bytes(&mpid);
                c.bytes(&stock);
                c.u8(primary_market_maker);
                c.u8(market_maker_mode);
                c.u8(participant_state);
            }
            MwcbDeclineLevel {
                level1,
                level2,
                level3,
                ..
            } => {
                c.u64(level1);
                c.u64(level2);
                c.u64(level3);
            }
            MwcbStatus { breached_level, .. } => c.u8(breached_level),
            IpoQuotingPeriodUpdate {
                stock,
                release_time,
                release_qualifier,
                ipo_price,
                ..
            } => {
                c.bytes(&stock);
                c.u32(release_time);
                c.u8(release_qualifier);
                c.u32(ipo_price);
            }
            LuldAuctionCollar {
                stock,
                ref_price,
                upper_price,
                lower_price,
                extension,
                ..
            } => {
                c.bytes(&stock);
                c.u32(ref_price);
                c.u32(upper_price);
                c.u32(lower_price);
                c.u32(extension);
            }
            OperationalHalt {
                stock,
                market_code,
                action,
                ..
            } => {
                c.bytes(&stock);
                c.u8(market_code);
                c.u8(action);
            }
            AddOrder {
                order_ref,
                side,
                shares,
                stock,
                price,
                ..
            } => {
                c.u64(order_ref);
                c.u8(side);
                c.u32(shares);
                c.bytes(&stock);
                c.u32(price);
            }
            AddOrderMpid {
                order_ref,
                side,
                shares,
                stock,
                price,
                attribution,
                ..
            } => {
                c.u64(order_ref);
                c.u8(side);
                c.u32(shares);
                c.bytes(&stock);
                c.u32(price);
                c.bytes(&attribution);
            }
            OrderExecuted {
                order_ref,
                executed_shares,
                match_number,
                ..
            } => {
                c.u64(order_ref);
                c.u32(executed_shares);
                c.u64(match_number);
            }
            OrderExecutedWithPrice {
                order_ref,
                executed_shares,
                match_number,
                printable,
                execution_price,
                ..
            } => {
                c.u64(order_ref);
                c.u32(executed_shares);
                c.u64(match_number);
                c.u8(printable);
                c.u32(execution_price);
            }
            OrderCancel {
                order_ref,
                cancelled_shares,
                ..
            } => {
                c.u64(order_ref);
                c.u32(cancelled_shares);
            }
            OrderDelete { order_ref, .. } => c.u64(order_ref),
            OrderReplace {
                original_ref,
                new_ref,
                shares,
                price,
                ..
            } => {
                c.u64(original_ref);
                c.u64(new_ref);
                c.u32(shares);
                c.u32(price);
            }
            Trade {
                order_ref,
                side,
                shares,
                stock,
                price,
                match_number,
                ..
            } => {
                c.u64(order_ref);
                c.u8(side);
                c.u32(shares);
                c.bytes(&stock);
                c.u32(price);
                c.u64(match_number);
            }
            CrossTrade {
                shares,
                stock,
                cross_price,
                match_number,
                cross_type,
                ..
            } => {
                c.u64(shares);
                c.bytes(&stock);
                c.u32(cross_price);
                c.u64(match_number);
                c.u8(cross_type);
            }
            BrokenTrade { match_number, .. } => c.u64(match_number),
            Noii {
                paired_shares,
                imbalance_shares,
                imbalance_direction,
                stock,
                far_price,
                near_price,
                current_ref_price,
                cross_type,
                price_variation_indicator,
                ..
            } => {
                c.u64(paired_shares);
                c.u64(imbalance_shares);
                c.u8(imbalance_direction);
                c.bytes(&stock);
                c.u32(far_price);
                c.u32(near_price);
                c.u32(current_ref_price);
                c.u8(cross_type);
                c.u8(price_variation_indicator);
            }
            RetailInterest {
                stock,
                interest_flag,
                ..
            } => {
                c.bytes(&stock);
                c.u8(interest_flag);
            }
            DirectListingPriceDiscovery {
                stock,
                open_eligibility,
                min_allowable_price,
                max_allowable_price,
                near_execution_price,
                near_execution_time,
                lower_price_range_collar,
                upper_price_range_collar,
                ..
            } => {
                c.bytes(&stock);
                c.u8(open_eligibility);
                c.u32(min_allowable_price);
                c.u32(max_allowable_price);
                c.u32(near_execution_price);
                c.u64(near_execution_time);
                c.u32(lower_price_range_collar);
                c.u32(upper_price_range_collar);
            }
        }
        debug_assert_eq!(c.pos, self.encoded_len());
        c.pos
    }

    /// Encode into a fresh `Vec` (convenience for tests and tools).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut b = [0u8; MAX_MESSAGE_LEN];
        let n = self.encode_into(&mut b);
        b[..n].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> Header {
        Header {
            stock_locate: 0x0102,
            tracking_number: 0x0304,
            timestamp: 0x0000_0506_0708_090A,
        }
    }

    #[test]
    fn header_layout() {
        let m = ItchMsg::OrderDelete {
            hdr: h(),
            order_ref: 0x1112_1314_1516_1718,
        };
        let v = m.to_vec();
        assert_eq!(v.len(), 19);
        assert_eq!(&v[..11], &[b'D', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(&v[11..], &[0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]);
    }

    #[test]
    fn add_order_layout() {
        let m = ItchMsg::AddOrder {
            hdr: h(),
            order_ref: 7,
            side: b'B',
            shares: 300,
            stock: stock("AAPL"),
            price: 1_234_500,
        };
        let v = m.to_vec();
        assert_eq!(v.len(), 36);
        assert_eq!(&v[11..19], &7u64.to_be_bytes());
        assert_eq!(v[19], b'B');
        assert_eq!(&v[20..24], &300u32.to_be_bytes());
        assert_eq!(&v[24..32], b"AAPL    ");
        assert_eq!(&v[32..36], &1_234_500u32.to_be_bytes());
    }

    #[test]
    fn all_types_have_lengths() {
        for t in ALL_TYPES {
            assert!(message_len(t).is_some());
        }
        assert_eq!(message_len(b'Z'), None);
        assert_eq!(
            ALL_TYPES.iter().map(|&t| message_len(t).unwrap()).max(),
            Some(MAX_MESSAGE_LEN)
        );
    }
}
