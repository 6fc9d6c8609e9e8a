//! What FIX 4.4 defines: tag numbers, MsgTypes, and the fields of the
//! messages we parse (from QuickFIX's FIX44.xml; regenerate, don't edit by
//! hand, when the dictionary changes).

/// Highest tag number FIX 4.4 defines. User-defined tags (5000 and up) are
/// refused, as QuickFIX's acceptance tests expect.
pub(crate) const MAX_FIX44_TAG: u32 = 956;

/// The tag number is one FIX 4.4 defines. The spec's few unassigned numbers
/// below 956 are accepted (a simplification: they are not rejected).
pub(crate) fn tag_defined(tag: u32) -> bool {
    (1..=MAX_FIX44_TAG).contains(&tag)
}

/// Where a tag belongs in a message (FIX44.xml `<header>`, `<trailer>`, or
/// the message body).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Part {
    Header,
    Body,
    Trailer,
}

/// Standard header fields, allowed on every message.
const HEADER: &[u32] = &[
    8, 9, 34, 35, 43, 49, 50, 52, 56, 57, 90, 91, 97, 115, 116, 122, 128, 129, 142, 143, 144, 145,
    212, 213, 347, 369, 627, 628, 629, 630,
];
/// Standard trailer fields.
const TRAILER: &[u32] = &[10, 89, 93];
/// Members of the header's NoHops (627) group: they may repeat.
const HEADER_GROUP: &[u32] = &[628, 629, 630];

pub(crate) fn part(tag: u32) -> Part {
    if HEADER.binary_search(&tag).is_ok() {
        Part::Header
    } else if TRAILER.binary_search(&tag).is_ok() {
        Part::Trailer
    } else {
        Part::Body
    }
}

/// The body of one MsgType as FIX44.xml defines it (components expanded).
#[derive(Clone, Copy)]
pub(crate) struct MsgDef {
    /// Body tags outside any repeating group: each at most once.
    pub single: &'static [u32],
    /// Tags inside repeating groups (at any depth): they may repeat.
    pub group: &'static [u32],
    /// NumInGroup tag and the group's first (delimiter) tag, for the groups
    /// whose count the session checks (top-level groups only: a nested
    /// group's count is per entry).
    pub counts: &'static [(u32, u32)],
}

impl MsgDef {
    /// The tag is defined for this MsgType (header and trailer included).
    pub(crate) fn allows(&self, tag: u32) -> bool {
        part(tag) != Part::Body
            || self.single.binary_search(&tag).is_ok()
            || self.group.binary_search(&tag).is_ok()
    }

    /// The tag may appear more than once (a repeating group's member).
    pub(crate) fn may_repeat(&self, tag: u32) -> bool {
        HEADER_GROUP.binary_search(&tag).is_ok() || self.group.binary_search(&tag).is_ok()
    }
}

/// Header fields only: what is known of a MsgType whose body the session
/// does not check.
pub(crate) const UNKNOWN_BODY: MsgDef = MsgDef {
    single: &[],
    group: &[],
    counts: &[],
};

/// MarketDataRequest: NoRelatedSym (146) carries the Instrument component
/// and its nested groups (UndInstrmtGrp, InstrmtLegGrp, ...), which is why
/// the group list is long.
const V_GROUP: &[u32] = &[
    22, 48, 55, 65, 106, 107, 167, 200, 201, 202, 206, 207, 223, 224, 225, 226, 227, 228, 231, 239,
    240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255, 256, 257, 269,
    305, 306, 307, 308, 309, 310, 311, 312, 313, 315, 316, 317, 318, 336, 348, 349, 350, 351, 362,
    363, 364, 365, 435, 436, 454, 455, 456, 457, 458, 459, 460, 461, 462, 463, 470, 471, 472, 541,
    542, 543, 555, 556, 592, 593, 594, 595, 596, 597, 598, 599, 600, 601, 602, 603, 604, 605, 606,
    607, 608, 609, 610, 611, 612, 613, 614, 615, 616, 617, 618, 619, 620, 621, 622, 623, 624, 625,
    667, 691, 711, 739, 740, 762, 763, 764, 810, 864, 865, 866, 867, 868, 873, 874, 875, 876, 877,
    878, 879, 882, 883, 884, 885, 886, 887, 888, 889, 941, 942, 947, 955, 956,
];

/// The body definition of the MsgTypes we parse: the session messages and
/// MarketDataRequest (V). `None` for others (handed on or business-rejected
/// without a body check).
pub(crate) fn msg_def(t: &[u8]) -> Option<MsgDef> {
    let def = |single, group, counts| {
        Some(MsgDef {
            single,
            group,
            counts,
        })
    };
    match t {
        b"0" | b"1" => def(&[112], &[], &[]),
        b"2" => def(&[7, 16], &[], &[]),
        b"3" => def(&[45, 58, 354, 355, 371, 372, 373], &[], &[]),
        b"4" => def(&[36, 123], &[], &[]),
        b"5" => def(&[58, 354, 355], &[], &[]),
        b"A" => def(
            &[95, 96, 98, 108, 141, 383, 384, 464, 553, 554, 789],
            &[372, 385],
            &[(384, 372)],
        ),
        // 267/269 and 146/55 counts are the market-data layer's (with its
        // own texts); only the top-level list matters here.
        b"V" => def(
            &[
                146, 262, 263, 264, 265, 266, 267, 286, 386, 546, 547, 812, 815,
            ],
            V_GROUP,
            &[],
        ),
        _ => None,
    }
}

/// The MsgType is one FIX 4.4 defines.
pub(crate) fn msg_type_defined(t: &[u8]) -> bool {
    match *t {
        [c] => {
            matches!(c, b'0'..=b'9' | b'A'..=b'H' | b'J'..=b'N' | b'P'..=b'T' | b'V'..=b'Z' | b'a'..=b'z')
        }
        [b'A', c] => c.is_ascii_uppercase(),
        [b'B', c] => (b'A'..=b'H').contains(&c),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_types() {
        for t in [
            &b"0"[..],
            b"5",
            b"A",
            b"V",
            b"W",
            b"Y",
            b"j",
            b"AA",
            b"AZ",
            b"BH",
        ] {
            assert!(msg_type_defined(t), "{t:?}");
        }
        for t in [&b""[..], b"*", b"I", b"O", b"U", b"BI", b"AAA", b"a1"] {
            assert!(!msg_type_defined(t), "{t:?}");
        }
    }

    #[test]
    fn field_lists_are_sorted_for_binary_search() {
        let sorted =
            |l: &[u32]| l.windows(2).all(|w| w[0] < w[1]) && l.iter().all(|&t| tag_defined(t));
        assert!(sorted(HEADER) && sorted(TRAILER) && sorted(HEADER_GROUP) && sorted(V_GROUP));
        for t in [&b"0"[..], b"1", b"2", b"3", b"4", b"5", b"A", b"V"] {
            let d = msg_def(t).unwrap();
            assert!(sorted(d.single) && sorted(d.group), "{t:?}");
        }
        assert!(msg_def(b"D").is_none() && msg_def(b"W").is_none());
    }

    #[test]
    fn what_each_message_allows() {
        let v = msg_def(b"V").unwrap();
        for t in [
            262, 263, 264, 265, 266, 267, 269, 146, 55, 48, 22, 454, 455, 34, 52, 10,
        ] {
            assert!(v.allows(t), "{t}");
        }
        assert!(!v.allows(44) && !v.allows(112) && !v.allows(268));
        assert!(v.may_repeat(269) && v.may_repeat(55) && !v.may_repeat(262) && !v.may_repeat(52));
        let hb = msg_def(b"0").unwrap();
        assert!(hb.allows(112) && hb.allows(369) && hb.allows(93) && !hb.allows(55));
        let logon = msg_def(b"A").unwrap();
        assert!(logon.allows(553) && logon.allows(789) && logon.allows(385) && !logon.allows(1));
        assert!(logon.may_repeat(372) && !logon.may_repeat(108));
        assert!(part(8) == Part::Header && part(628) == Part::Header && part(89) == Part::Trailer);
        assert!(part(112) == Part::Body);
    }

    #[test]
    fn tags() {
        assert!(tag_defined(1) && tag_defined(956) && tag_defined(112));
        assert!(!tag_defined(0) && !tag_defined(957) && !tag_defined(999) && !tag_defined(5000));
    }
}
