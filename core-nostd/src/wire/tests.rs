//! Whole-frame vectors and property tests: no input panics any parser.

use super::*;
use proptest::prelude::*;
use std::vec::Vec;

/// Ethernet (untagged) + IPv4 + UDP to 26400 + MoldUDP64 "SESSION001" seq 5,
/// count 1, one ITCH System Event 'O'. Built by hand.
fn frame() -> [u8; 88] {
    let mut f = [0u8; 88];
    // Ethernet: dst 01:00:5e:36:0c:6f, src 02:00:00:00:00:01, IPv4
    f[..14].copy_from_slice(&[
        0x01, 0x00, 0x5e, 0x36, 0x0c, 0x6f, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,
    ]);
    // IPv4: total 20 + 8 + 20 + 2 + 12 = 62 = 0x3e, DF, TTL 64, UDP, 10.0.0.1 -> 233.54.12.111
    f[14..34].copy_from_slice(&[
        0x45, 0x00, 0x00, 0x3e, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0x0a, 0x00, 0x00,
        0x01, 0xe9, 0x36, 0x0c, 0x6f,
    ]);
    let c = ipv4::checksum(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    // UDP: 30001 -> 26400, length 8 + 34 = 42
    f[34..42].copy_from_slice(&[0x75, 0x31, 0x67, 0x20, 0x00, 0x2a, 0x00, 0x00]);
    // MoldUDP64 header
    f[42..62].copy_from_slice(&[
        b'S', b'E', b'S', b'S', b'I', b'O', b'N', b'0', b'0', b'1', 0, 0, 0, 0, 0, 0, 0, 5, 0, 1,
    ]);
    // block: length 12, System Event 'O' at locate 0, tracking 0, ts 1
    f[62..76].copy_from_slice(&[0x00, 0x0c, b'S', 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'O']);
    // 12 bytes of Ethernet padding stay zero (frames are padded to 60 + FCS on the wire)
    f
}

#[test]
fn whole_frame_vector() {
    let f = frame();
    let Ok(Frame::Mold {
        packet,
        dst_port,
        dst_ip,
        vlan,
    }) = classify_frame(&f, &[26400])
    else {
        panic!()
    };
    assert_eq!((dst_port, vlan), (26400, None));
    assert_eq!(dst_ip, [233, 54, 12, 111]);
    assert_eq!(packet.sequence(), 5);
    let msgs: Vec<_> = packet.messages().collect();
    assert_eq!(msgs.len(), 1);
    let m = itch::Message::parse(msgs[0].unwrap()).unwrap();
    assert_eq!(m.msg_type(), b'S');
    assert_eq!(m.header().timestamp_ns(), 1);
    assert!(Ipv4Packet::new_checked(&f[14..]).unwrap().verify_checksum());
}

#[test]
fn filters() {
    let f = frame();
    assert!(matches!(
        classify_frame(&f, &[26401]),
        Ok(Frame::Filtered(FilterReason::OtherPort))
    ));
    assert!(matches!(classify_frame(&f, &[]), Ok(Frame::Mold { .. })));
    let mut arp = f;
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert!(matches!(
        classify_frame(&arp, &[]),
        Ok(Frame::Filtered(FilterReason::NotIpv4))
    ));
    let mut tcp = f;
    tcp[23] = 6;
    assert!(matches!(
        classify_frame(&tcp, &[]),
        Ok(Frame::Filtered(FilterReason::NotUdp))
    ));
}

#[test]
fn errors_by_layer() {
    let f = frame();
    assert_eq!(
        classify_frame(&f[..10], &[]).unwrap_err(),
        WireError::EthernetTruncated
    );
    assert_eq!(
        classify_frame(&f[..30], &[]).unwrap_err(),
        WireError::Ipv4Truncated
    );
    let mut frag = f;
    frag[20] = 0x20;
    assert_eq!(
        classify_frame(&frag, &[]).unwrap_err(),
        WireError::Ipv4Fragment
    );
    let mut udp = f;
    udp[39] = 0x7f;
    assert_eq!(
        classify_frame(&udp, &[]).unwrap_err(),
        WireError::UdpBadLength
    );
    let mut short_mold = f;
    short_mold[17] = 20 + 8 + 19; // IPv4 total length leaves 19 bytes of UDP payload
    short_mold[39] = 8 + 19;
    short_mold[24..26].copy_from_slice(&[0, 0]);
    assert_eq!(
        classify_frame(&short_mold, &[]).unwrap_err(),
        WireError::MoldTruncated
    );
}

#[test]
fn vlan_tagged_frame() {
    let f = frame();
    let mut t = [0u8; 92];
    t[..12].copy_from_slice(&f[..12]);
    t[12..16].copy_from_slice(&[0x81, 0x00, 0x00, 0x64]);
    t[16..].copy_from_slice(&f[12..]);
    let Ok(Frame::Mold { vlan, packet, .. }) = classify_frame(&t, &[26400]) else {
        panic!()
    };
    assert_eq!(vlan, Some(100));
    assert_eq!(packet.count(), 1);
}

/// Walks a frame through every layer the way a consumer would, touching every
/// accessor, so the property tests exercise all of them.
fn walk_everything(bytes: &[u8]) -> usize {
    let mut touched = 0usize;
    if let Ok(e) = EthernetFrame::new_checked(bytes) {
        touched +=
            usize::from(e.ethertype()) + e.payload().len() + usize::from(e.vlan_id().unwrap_or(0));
        touched += usize::from(e.src()[0]) + usize::from(e.dst()[5]);
    }
    if let Ok(ip) = Ipv4Packet::new_checked(bytes) {
        touched += ip.payload().len() + usize::from(ip.verify_checksum()) + ip.frag_offset();
        touched += usize::from(ip.ttl())
            + usize::from(ip.ident())
            + usize::from(ip.src()[0] ^ ip.dst()[3]);
    }
    if let Ok(u) = UdpPacket::new_checked(bytes) {
        touched += u.payload().len() + usize::from(u.src_port() ^ u.dst_port() ^ u.checksum());
    }
    if let Ok(m) = MoldPacket::new_checked(bytes) {
        touched += usize::from(m.session()[0]) + m.sequence() as usize + m.payload().len();
        for block in m.messages() {
            match block {
                Ok(msg) => {
                    if let Ok(parsed) = itch::Message::parse(msg) {
                        touched += parsed.header().timestamp_ns() as usize
                            + usize::from(parsed.header().stock_locate());
                    }
                }
                Err(e) => touched += e.name().len(),
            }
        }
    }
    match itch::Message::parse(bytes) {
        Ok(m) => touched += usize::from(m.msg_type()),
        Err(e) => touched += e.name().len(),
    }
    if let Ok(Frame::Mold { packet, .. }) = classify_frame(bytes, &[]) {
        touched += packet.messages().filter(|m| m.is_ok()).count();
    }
    touched
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        walk_everything(&bytes);
    }

    #[test]
    fn every_truncation_and_mutation_of_a_good_frame_is_handled(cut in 0usize..88, pos in 0usize..88, val in any::<u8>()) {
        let mut f = frame();
        f[pos] = val;
        walk_everything(&f[..cut]);
        walk_everything(&f);
        // A cut frame is either rejected or, when the cut only removed padding, still whole.
        let clean = frame();
        match classify_frame(&clean[..cut], &[]) {
            Ok(Frame::Mold { packet, .. }) => prop_assert!(cut >= 76 && packet.count() == 1),
            Ok(Frame::Filtered(_)) => prop_assert!(false, "a cut frame is never filtered"),
            Err(_) => prop_assert!(cut < 76),
        }
    }

    #[test]
    fn itch_accepts_exactly_the_specified_length(t in proptest::sample::select(itch::ALL_TYPES), len in 0usize..64) {
        let mut buf = [0u8; 64];
        buf[0] = t;
        let expected = itch::expected_length(t).unwrap();
        match itch::Message::parse(&buf[..len.max(1)]) {
            Ok(m) => { prop_assert_eq!(len.max(1), expected); prop_assert_eq!(m.msg_type(), t); }
            Err(WireError::ItchBadLength { msg_type, expected: e, actual }) => {
                prop_assert_eq!(msg_type, t);
                prop_assert_eq!(usize::from(e), expected);
                prop_assert_eq!(usize::from(actual), len.max(1));
                prop_assert!(len.max(1) != expected);
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn mold_blocks_never_exceed_count_or_buffer(body in proptest::collection::vec(any::<u8>(), 0..300), count in any::<u16>()) {
        let mut pkt = std::vec![0u8; 20];
        pkt[18..20].copy_from_slice(&count.to_be_bytes());
        pkt.extend_from_slice(&body);
        let p = MoldPacket::new_checked(&pkt[..]).unwrap();
        let mut ok_bytes = 0usize;
        let mut n = 0usize;
        let mut errors = 0usize;
        for b in p.messages() {
            n += 1;
            match b { Ok(m) => ok_bytes += 2 + m.len(), Err(_) => errors += 1 }
        }
        prop_assert!(n <= usize::from(p.message_count()));
        prop_assert!(errors <= 1);
        prop_assert!(ok_bytes <= body.len());
    }
}
