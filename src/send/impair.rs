//! Per-line network impairments for `tickwire send`: what a receiver's gap
//! detection, A/B arbitration and re-requests are tested against.
//! Deterministic: ranges are exact, and the random ones draw from a PRNG
//! seeded by `--seed` and the line, in a fixed order per packet.

use std::fmt;

use crate::gen::rng::Rng;

/// Inclusive ranges of message sequence numbers, e.g. `100-199,5000`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqRanges(Vec<(u64, u64)>);

impl SeqRanges {
    /// Parses `A-B` and `N` items separated by commas (empty: no range).
    pub fn parse(s: &str) -> Result<SeqRanges, String> {
        let mut v = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = || format!("{item:?} is not a sequence number or a range like 100-199");
            let (lo, hi) = match item.split_once('-') {
                Some((a, b)) => (a.trim(), b.trim()),
                None => (item, item),
            };
            let lo: u64 = lo.parse().map_err(|_| bad())?;
            let hi: u64 = hi.parse().map_err(|_| bad())?;
            if lo == 0 || hi < lo {
                return Err(format!(
                    "{item:?}: sequence numbers start at 1 and a range runs low-high"
                ));
            }
            v.push((lo, hi));
        }
        Ok(SeqRanges(v))
    }

    /// Whether any sequence in `first..=last` is in a range.
    pub fn intersects(&self, first: u64, last: u64) -> bool {
        self.0.iter().any(|&(lo, hi)| first <= hi && lo <= last)
    }

    /// Whether there is no range.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for SeqRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (lo, hi)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{lo}-{hi}")?;
        }
        Ok(())
    }
}

/// One line's impairments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Impairments {
    /// Chance that a data packet is lost.
    pub loss: f64,
    /// Data packets carrying any of these sequences are lost.
    pub drop: SeqRanges,
    /// Chance that a data packet goes out after the next one.
    pub reorder: f64,
    /// Chance that a data packet goes out twice in a row.
    pub duplicate: f64,
}

/// What happens to one data packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Lost because it carries a sequence in a drop range.
    DroppedByRange,
    /// Lost by chance (`loss`).
    Lost,
    /// Goes out; `duplicate`: twice; `reorder`: after the next packet.
    Sent {
        /// Send it twice.
        duplicate: bool,
        /// Hold it back behind the next packet.
        reorder: bool,
    },
}

/// Decides each data packet's [`Fate`] for one line.
#[derive(Debug, Clone)]
pub struct Impairer {
    cfg: Impairments,
    rng: Rng,
}

impl Impairer {
    /// `line` (0 for A, 1 for B) makes the lines' draws independent.
    pub fn new(cfg: Impairments, seed: u64, line: u64) -> Impairer {
        Impairer {
            cfg,
            rng: Rng::new(seed, 0x5E4D_0000 + line),
        }
    }

    /// The fate of the packet carrying `first..=last`. Draws loss, then
    /// duplicate, then reorder (each only when its chance is non-zero).
    pub fn fate(&mut self, first: u64, last: u64) -> Fate {
        if self.cfg.drop.intersects(first, last) {
            return Fate::DroppedByRange;
        }
        if self.rng.chance(self.cfg.loss) {
            return Fate::Lost;
        }
        let duplicate = self.rng.chance(self.cfg.duplicate);
        let reorder = self.rng.chance(self.cfg.reorder);
        Fate::Sent { duplicate, reorder }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = SeqRanges::parse("100-199, 5000-5099,7").unwrap();
        assert_eq!(r.to_string(), "100-199,5000-5099,7-7");
        assert!(r.intersects(150, 150));
        assert!(r.intersects(90, 100));
        assert!(r.intersects(199, 300));
        assert!(!r.intersects(200, 4999));
        assert!(r.intersects(7, 7));
        assert!(!r.intersects(8, 99));
        assert!(SeqRanges::parse("").unwrap().is_empty());
        for bad in ["0-5", "9-3", "x", "1-", "-4", "1-2-3"] {
            assert!(SeqRanges::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fates_are_seeded() {
        let cfg = Impairments {
            loss: 0.2,
            drop: SeqRanges::parse("10-19").unwrap(),
            reorder: 0.1,
            duplicate: 0.1,
        };
        let run = |seed| {
            let mut i = Impairer::new(cfg.clone(), seed, 0);
            (1..200u64).map(|s| i.fate(s, s)).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        let f = run(1);
        assert!(f[9..19].iter().all(|x| *x == Fate::DroppedByRange));
        assert!(f.contains(&Fate::Lost));
        let mut none = Impairer::new(Impairments::default(), 1, 0);
        assert_eq!(
            none.fate(1, 1),
            Fate::Sent {
                duplicate: false,
                reorder: false
            }
        );
    }
}
