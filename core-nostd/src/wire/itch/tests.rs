//! Byte-level vectors written from the ITCH 5.0 specification, one per type.
//! Every vector uses stock locate 0x0102 (258), tracking number 0x0003 and
//! timestamp 0x1f1aced9f07b = 34,200,000,000,123 ns (09:30:00.000000123).

// Vectors are spelled byte by byte, as the specification lays fields out.
#![allow(clippy::byte_char_slices)]

use super::*;

const TS: u64 = 34_200_000_000_123;

macro_rules! hdr {
    ($t:literal) => {
        [
            $t, 0x01, 0x02, 0x00, 0x03, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b,
        ]
    };
}

fn join<const N: usize>(head: [u8; 11], tail: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out[..11].copy_from_slice(&head);
    out[11..].copy_from_slice(tail);
    out
}

fn check_header(m: &Message<'_>, t: u8) {
    let h = m.header();
    assert_eq!(h.msg_type, t);
    assert_eq!(m.msg_type(), t);
    assert_eq!(h.stock_locate(), 258);
    assert_eq!(h.tracking_number.get(), 3);
    assert_eq!(h.timestamp_ns(), TS);
}

#[test]
fn system_event() {
    let v: [u8; 12] = join(hdr!(b'S'), b"O");
    let m = Message::parse(&v).unwrap();
    check_header(&m, b'S');
    let Message::SystemEvent(s) = m else {
        panic!("{m:?}")
    };
    assert_eq!(s.event_code, b'O');
}

#[test]
fn stock_directory() {
    let v: [u8; 39] = join(
        hdr!(b'R'),
        &[
            b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // stock
            b'Q', // market category: NASDAQ Global Select
            b'N', // financial status: normal
            0x00, 0x00, 0x00, 0x64, // round lot size 100
            b'N', // round lots only
            b'C', // issue classification: common stock
            b'Z', b' ', // issue sub-type
            b'P', // authenticity: production
            b'N', // short sale threshold
            b'N', // IPO flag
            b'1', // LULD tier
            b'N', // ETP flag
            0x00, 0x00, 0x00, 0x00, // ETP leverage factor
            b'N', // inverse indicator
        ],
    );
    let m = Message::parse(&v).unwrap();
    check_header(&m, b'R');
    let Message::StockDirectory(r) = m else {
        panic!()
    };
    assert_eq!(stock_symbol(&r.stock), b"AAPL");
    assert_eq!(r.market_category, b'Q');
    assert_eq!(r.financial_status_indicator, b'N');
    assert_eq!(r.round_lot_size.get(), 100);
    assert_eq!(r.round_lots_only, b'N');
    assert_eq!(r.issue_classification, b'C');
    assert_eq!(&r.issue_sub_type, b"Z ");
    assert_eq!(r.authenticity, b'P');
    assert_eq!(r.luld_reference_price_tier, b'1');
    assert_eq!(r.etp_leverage_factor.get(), 0);
    assert_eq!(r.inverse_indicator, b'N');
}

#[test]
fn stock_trading_action() {
    let v: [u8; 25] = join(
        hdr!(b'H'),
        &[
            b'M', b'S', b'F', b'T', b' ', b' ', b' ', b' ', b'T', b' ', b'I', b'P', b'O', b'1',
        ],
    );
    let m = Message::parse(&v).unwrap();
    check_header(&m, b'H');
    let Message::StockTradingAction(h) = m else {
        panic!()
    };
    assert_eq!(stock_symbol(&h.stock), b"MSFT");
    assert_eq!(h.trading_state, b'T');
    assert_eq!(&h.reason, b"IPO1");
}

#[test]
fn reg_sho() {
    let v: [u8; 20] = join(
        hdr!(b'Y'),
        &[b'Z', b'V', b'Z', b'Z', b'T', b' ', b' ', b' ', b'1'],
    );
    let Message::RegShoRestriction(y) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(stock_symbol(&y.stock), b"ZVZZT");
    assert_eq!(y.reg_sho_action, b'1');
}

#[test]
fn market_participant_position() {
    let v: [u8; 26] = join(
        hdr!(b'L'),
        &[
            b'G', b'S', b'C', b'O', b'Q', b'Q', b'Q', b' ', b' ', b' ', b' ', b' ', b'Y', b'N',
            b'A',
        ],
    );
    let Message::MarketParticipantPosition(l) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(&l.mpid, b"GSCO");
    assert_eq!(stock_symbol(&l.stock), b"QQQ");
    assert_eq!(
        (
            l.primary_market_maker,
            l.market_maker_mode,
            l.market_participant_state
        ),
        (b'Y', b'N', b'A')
    );
}

#[test]
fn mwcb_decline_level() {
    // Levels 1..3 in Price(8): 3,500.00000000 / 3,250.00000000 / 2,800.00000000
    let v: [u8; 35] = join(
        hdr!(b'V'),
        &[
            0x00, 0x00, 0x00, 0x51, 0x7d, 0xa0, 0x2c, 0x00, // 350_000_000_000
            0x00, 0x00, 0x00, 0x4b, 0xab, 0x82, 0x72, 0x00, // 325_000_000_000
            0x00, 0x00, 0x00, 0x41, 0x31, 0x4c, 0xf0, 0x00, // 280_000_000_000
        ],
    );
    let Message::MwcbDeclineLevel(d) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(d.level1.get(), 350_000_000_000);
    assert_eq!(d.level2.get(), 325_000_000_000);
    assert_eq!(d.level3.get(), 280_000_000_000);
}

#[test]
fn mwcb_status() {
    let v: [u8; 12] = join(hdr!(b'W'), b"2");
    let Message::MwcbStatus(w) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(w.breached_level, b'2');
}

#[test]
fn ipo_quoting_period_update() {
    let v: [u8; 28] = join(
        hdr!(b'K'),
        &[
            b'N', b'E', b'W', b'C', b'O', b' ', b' ', b' ', 0x00, 0x00, 0x8c, 0xa0, b'A', 0x00,
            0x01, 0x86, 0xa0,
        ],
    );
    let Message::IpoQuotingPeriodUpdate(k) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(stock_symbol(&k.stock), b"NEWCO");
    assert_eq!(k.ipo_quotation_release_time.get(), 36_000); // 10:00:00 in seconds
    assert_eq!(k.ipo_quotation_release_qualifier, b'A');
    assert_eq!(k.ipo_price.get(), 100_000); // $10.0000
}

#[test]
fn luld_auction_collar() {
    let v: [u8; 35] = join(
        hdr!(b'J'),
        &[
            b'A', b'B', b'C', b' ', b' ', b' ', b' ', b' ', //
            0x00, 0x0f, 0x42, 0x40, // reference 1_000_000 = $100
            0x00, 0x10, 0x59, 0xa0, // upper 1_071_520 = $107.1520
            0x00, 0x0e, 0x2a, 0xe0, // lower 928_480 = $92.8480
            0x00, 0x00, 0x00, 0x02, // extension 2
        ],
    );
    let Message::LuldAuctionCollar(j) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(j.auction_collar_reference_price.get(), 1_000_000);
    assert_eq!(j.upper_auction_collar_price.get(), 1_071_520);
    assert_eq!(j.lower_auction_collar_price.get(), 928_480);
    assert_eq!(j.auction_collar_extension.get(), 2);
}

#[test]
fn operational_halt() {
    let v: [u8; 21] = join(
        hdr!(b'h'),
        &[b'X', b'Y', b'Z', b' ', b' ', b' ', b' ', b' ', b'Q', b'H'],
    );
    let m = Message::parse(&v).unwrap();
    check_header(&m, b'h');
    let Message::OperationalHalt(h) = m else {
        panic!()
    };
    assert_eq!((h.market_code, h.operational_halt_action), (b'Q', b'H'));
}

#[test]
fn add_order() {
    let v: [u8; 36] = join(
        hdr!(b'A'),
        &[
            0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xe2, 0x40, // order ref 123456
            b'B', // side
            0x00, 0x00, 0x01, 0x2c, // 300 shares
            b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // stock
            0x00, 0x1b, 0x5c, 0x74, // price 1_793_140 = $179.3140
        ],
    );
    let m = Message::parse(&v).unwrap();
    check_header(&m, b'A');
    let Message::AddOrder(a) = m else { panic!() };
    assert_eq!(a.order_ref.get(), 123_456);
    assert_eq!(a.side, b'B');
    assert_eq!(a.shares.get(), 300);
    assert_eq!(stock_symbol(&a.stock), b"AAPL");
    assert_eq!(a.price.get(), 1_793_140);
}

#[test]
fn add_order_mpid() {
    let v: [u8; 40] = join(
        hdr!(b'F'),
        &[
            0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xe2, 0x41, b'S', 0x00, 0x00, 0x00, 0x64, b'A',
            b'A', b'P', b'L', b' ', b' ', b' ', b' ', 0x00, 0x1b, 0x5c, 0xd8, b'N', b'I', b'T',
            b'E',
        ],
    );
    let Message::AddOrderMpid(f) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(f.order_ref.get(), 123_457);
    assert_eq!(f.side, b'S');
    assert_eq!(f.shares.get(), 100);
    assert_eq!(f.price.get(), 1_793_240);
    assert_eq!(&f.attribution, b"NITE");
}

#[test]
fn order_executed() {
    let v: [u8; 31] = join(
        hdr!(b'E'),
        &[
            0, 0, 0, 0, 0, 0x01, 0xe2, 0x40, 0, 0, 0, 0x32, 0, 0, 0, 0, 0, 0, 0x30, 0x39,
        ],
    );
    let Message::OrderExecuted(e) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(e.order_ref.get(), 123_456);
    assert_eq!(e.executed_shares.get(), 50);
    assert_eq!(e.match_number.get(), 12_345);
}

#[test]
fn order_executed_with_price() {
    let v: [u8; 36] = join(
        hdr!(b'C'),
        &[
            0, 0, 0, 0, 0, 0x01, 0xe2, 0x40, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0x30, 0x3a, b'Y',
            0x00, 0x1b, 0x5c, 0x10,
        ],
    );
    let Message::OrderExecutedWithPrice(c) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(c.executed_shares.get(), 10);
    assert_eq!(c.match_number.get(), 12_346);
    assert_eq!(c.printable, b'Y');
    assert_eq!(c.execution_price.get(), 1_793_040);
}

#[test]
fn order_cancel() {
    let v: [u8; 23] = join(
        hdr!(b'X'),
        &[0, 0, 0, 0, 0, 0x01, 0xe2, 0x40, 0, 0, 0, 0x14],
    );
    let Message::OrderCancel(x) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!((x.order_ref.get(), x.cancelled_shares.get()), (123_456, 20));
}

#[test]
fn order_delete() {
    let v: [u8; 19] = join(hdr!(b'D'), &[0, 0, 0, 0, 0, 0x01, 0xe2, 0x40]);
    let Message::OrderDelete(d) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(d.order_ref.get(), 123_456);
}

#[test]
fn order_replace() {
    let v: [u8; 35] = join(
        hdr!(b'U'),
        &[
            0, 0, 0, 0, 0, 0x01, 0xe2, 0x40, 0, 0, 0, 0, 0, 0x01, 0xe2, 0x42, 0, 0, 0x01, 0x90,
            0x00, 0x1b, 0x5b, 0xac,
        ],
    );
    let Message::OrderReplace(u) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(u.original_order_ref.get(), 123_456);
    assert_eq!(u.new_order_ref.get(), 123_458);
    assert_eq!(u.shares.get(), 400);
    assert_eq!(u.price.get(), 1_792_940);
}

#[test]
fn trade() {
    let v: [u8; 44] = join(
        hdr!(b'P'),
        &[
            0, 0, 0, 0, 0, 0, 0, 0, b'B', 0, 0, 0x03, 0xe8, b'S', b'P', b'Y', b' ', b' ', b' ',
            b' ', b' ', 0x00, 0x45, 0x1c, 0x60, 0, 0, 0, 0, 0, 0, 0x30, 0x3b,
        ],
    );
    let Message::Trade(p) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(p.order_ref.get(), 0);
    assert_eq!(p.side, b'B');
    assert_eq!(p.shares.get(), 1000);
    assert_eq!(stock_symbol(&p.stock), b"SPY");
    assert_eq!(p.price.get(), 4_529_248);
    assert_eq!(p.match_number.get(), 12_347);
}

#[test]
fn cross_trade() {
    let v: [u8; 40] = join(
        hdr!(b'Q'),
        &[
            0, 0, 0, 0, 0, 0x0f, 0x42, 0x40, b'S', b'P', b'Y', b' ', b' ', b' ', b' ', b' ', 0x00,
            0x45, 0x1c, 0x60, 0, 0, 0, 0, 0, 0, 0x30, 0x3c, b'O',
        ],
    );
    let Message::CrossTrade(q) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(q.shares.get(), 1_000_000);
    assert_eq!(q.cross_price.get(), 4_529_248);
    assert_eq!(q.match_number.get(), 12_348);
    assert_eq!(q.cross_type, b'O');
}

#[test]
fn broken_trade() {
    let v: [u8; 19] = join(hdr!(b'B'), &[0, 0, 0, 0, 0, 0, 0x30, 0x3b]);
    let Message::BrokenTrade(b) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(b.match_number.get(), 12_347);
}

#[test]
fn noii() {
    let v: [u8; 50] = join(
        hdr!(b'I'),
        &[
            0, 0, 0, 0, 0, 0, 0x27, 0x10, // paired 10_000
            0, 0, 0, 0, 0, 0, 0x01, 0xf4, // imbalance 500
            b'B', // direction
            b'S', b'P', b'Y', b' ', b' ', b' ', b' ', b' ', //
            0x00, 0x45, 0x1c, 0x60, // far
            0x00, 0x45, 0x1b, 0xfc, // near
            0x00, 0x45, 0x1b, 0x98, // current reference
            b'O', // cross type
            b'L', // price variation indicator
        ],
    );
    let Message::Noii(i) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(i.paired_shares.get(), 10_000);
    assert_eq!(i.imbalance_shares.get(), 500);
    assert_eq!(i.imbalance_direction, b'B');
    assert_eq!(i.far_price.get(), 4_529_248);
    assert_eq!(i.near_price.get(), 4_529_148);
    assert_eq!(i.current_reference_price.get(), 4_529_048);
    assert_eq!((i.cross_type, i.price_variation_indicator), (b'O', b'L'));
}

#[test]
fn retail_interest() {
    let v: [u8; 20] = join(
        hdr!(b'N'),
        &[b'S', b'P', b'Y', b' ', b' ', b' ', b' ', b' ', b'A'],
    );
    let Message::RetailInterest(n) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(n.interest_flag, b'A');
}

#[test]
fn direct_listing_price_discovery() {
    let v: [u8; 48] = join(
        hdr!(b'O'),
        &[
            b'D', b'L', b'C', b'R', b' ', b' ', b' ', b' ', b'Y', //
            0x00, 0x01, 0x86, 0xa0, // min 100_000
            0x00, 0x03, 0x0d, 0x40, // max 200_000
            0x00, 0x02, 0x49, 0xf0, // near 150_000
            0, 0, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, // near execution time
            0x00, 0x01, 0xd4, 0xc0, // lower collar 120_000
            0x00, 0x02, 0xbf, 0x20, // upper collar 180_000
        ],
    );
    let Message::DirectListingPriceDiscovery(o) = Message::parse(&v).unwrap() else {
        panic!()
    };
    assert_eq!(o.open_eligibility_status, b'Y');
    assert_eq!(o.minimum_allowable_price.get(), 100_000);
    assert_eq!(o.maximum_allowable_price.get(), 200_000);
    assert_eq!(o.near_execution_price.get(), 150_000);
    assert_eq!(o.near_execution_time.get(), TS);
    assert_eq!(o.lower_price_range_collar.get(), 120_000);
    assert_eq!(o.upper_price_range_collar.get(), 180_000);
}

#[test]
fn lengths_table_matches_specification() {
    let spec: [(u8, usize); 23] = [
        (b'S', 12),
        (b'R', 39),
        (b'H', 25),
        (b'Y', 20),
        (b'L', 26),
        (b'V', 35),
        (b'W', 12),
        (b'K', 28),
        (b'J', 35),
        (b'h', 21),
        (b'A', 36),
        (b'F', 40),
        (b'E', 31),
        (b'C', 36),
        (b'X', 23),
        (b'D', 19),
        (b'U', 35),
        (b'P', 44),
        (b'Q', 40),
        (b'B', 19),
        (b'I', 50),
        (b'N', 20),
        (b'O', 48),
    ];
    assert_eq!(ALL_TYPES.len(), 23);
    for (t, len) in spec {
        assert_eq!(expected_length(t), Some(len), "type {}", t as char);
        assert!(ALL_TYPES.contains(&t));
    }
    for t in 0..=255u8 {
        if !spec.iter().any(|&(s, _)| s == t) {
            assert_eq!(expected_length(t), None);
            assert_eq!(
                Message::parse(&[t; 40]).unwrap_err(),
                WireError::ItchUnknownType(t)
            );
        }
    }
}

#[test]
fn wrong_lengths_are_errors() {
    let v: [u8; 19] = join(hdr!(b'D'), &[0, 0, 0, 0, 0, 0x01, 0xe2, 0x40]);
    assert_eq!(
        Message::parse(&v[..18]).unwrap_err(),
        WireError::ItchBadLength {
            msg_type: b'D',
            expected: 19,
            actual: 18
        }
    );
    let mut long = [0u8; 20];
    long[..19].copy_from_slice(&v);
    assert_eq!(
        Message::parse(&long).unwrap_err(),
        WireError::ItchBadLength {
            msg_type: b'D',
            expected: 19,
            actual: 20
        }
    );
    assert_eq!(Message::parse(&[]).unwrap_err(), WireError::ItchEmpty);
}

#[test]
fn stock_symbol_trims_trailing_spaces_only() {
    assert_eq!(stock_symbol(b"BRK A   "), b"BRK A");
    assert_eq!(stock_symbol(b"        "), b"");
    assert_eq!(stock_symbol(b"ABCDEFGH"), b"ABCDEFGH");
}
