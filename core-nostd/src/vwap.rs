//! VWAP over a sliding event-time window, in integers.
//!
//! Executions land in buckets `g` ns wide, where `g = gcd(interval, window)`,
//! so that every window `[b - W, b)` with `b` a multiple of the interval is an
//! exact union of `W / g` whole buckets. Each symbol owns a ring of `W / g`
//! buckets in storage the caller hands in.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// One bucket of a symbol's ring.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct VwapBucket {
    /// Σ price × shares, price in Price(4) units.
    pub notional: u128,
    /// Σ shares.
    pub volume: u64,
    /// `timestamp / g` of the executions in the bucket, plus one (0 = never used).
    pub tag: u64,
}

/// Greatest common divisor.
pub const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// `notional / volume` rounded half up, in Price(4) units: `(2N + V) / (2V)`.
/// `None` for zero volume, and for sums no window can hold (`2N + V`
/// beyond 128 bits or a quotient beyond 64: never for sums that
/// [`WindowGeometry::window_sum`] returns, whose average price fits a u32).
#[inline]
pub fn vwap_price4(notional: u128, volume: u64) -> Option<u64> {
    if volume == 0 {
        return None;
    }
    let v = u128::from(volume);
    // 2V < 2^65: cannot overflow.
    let twice = notional.checked_mul(2)?.checked_add(v)?;
    u64::try_from(twice / (2 * v)).ok()
}

/// Window geometry shared by every symbol's ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WindowGeometry {
    /// Bucket width in ns.
    pub bucket_ns: u64,
    /// Buckets per window.
    pub buckets: usize,
    /// Window length in ns.
    pub window_ns: u64,
}

impl WindowGeometry {
    /// Geometry for an emission interval and a window; `None` when either is 0
    /// or the window needs more than `max_buckets` buckets.
    pub const fn new(interval_ns: u64, window_ns: u64, max_buckets: usize) -> Option<Self> {
        if interval_ns == 0 || window_ns == 0 {
            return None;
        }
        let g = gcd(interval_ns, window_ns);
        let n = window_ns / g;
        if n as usize > max_buckets || n == 0 {
            return None;
        }
        Some(Self {
            bucket_ns: g,
            buckets: n as usize,
            window_ns,
        })
    }

    /// Records an execution in a symbol's ring; see
    /// [`WindowGeometry::record_at`] for when it is refused (`false`).
    #[inline]
    pub fn record(&self, ring: &mut [VwapBucket], ts: u64, price: u32, shares: u64) -> bool {
        let (idx, slot) = self.bucket_of(ts);
        self.record_at(ring, idx, slot, price, shares)
    }

    /// The bucket of an execution at `ts` (`ts / bucket_ns`) and its slot in
    /// a ring, for [`WindowGeometry::record_at`]: a caller that sees many
    /// executions in one bucket can keep them and skip two divisions.
    #[inline]
    pub fn bucket_of(&self, ts: u64) -> (u64, usize) {
        let idx = ts / self.bucket_ns;
        (idx, (idx % self.buckets as u64) as usize)
    }

    /// [`WindowGeometry::record`] with the bucket and slot already known.
    ///
    /// Refused (`false`, the ring unchanged) when the bucket's volume would
    /// pass `u64::MAX`, when the slot holds a later bucket than `idx` (an
    /// execution older than the ring: recording it would wipe newer ones),
    /// or when `slot` is outside the ring. The notional cannot overflow:
    /// it is at most `u32::MAX × volume < 2^96`.
    #[inline]
    pub fn record_at(
        &self,
        ring: &mut [VwapBucket],
        idx: u64,
        slot: usize,
        price: u32,
        shares: u64,
    ) -> bool {
        let Some(b) = ring.get_mut(slot) else {
            return false;
        };
        let tag = idx.saturating_add(1);
        if b.tag != tag {
            if b.tag > tag {
                return false;
            }
            *b = VwapBucket {
                notional: 0,
                volume: 0,
                tag,
            };
        }
        let Some(volume) = b.volume.checked_add(shares) else {
            return false;
        };
        b.volume = volume;
        b.notional += u128::from(price) * u128::from(shares);
        true
    }

    /// (Σ notional, Σ volume) of executions with timestamp in `[b - W, b)`;
    /// `b` must be a multiple of the bucket width. `None` when the volume
    /// does not fit 64 bits (buckets near `u64::MAX` each); the notional
    /// then fits easily (at most 256 buckets of under 2^96 each).
    #[inline]
    pub fn window_sum(&self, ring: &[VwapBucket], boundary: u64) -> Option<(u128, u64)> {
        let hi = boundary / self.bucket_ns; // exclusive
        let lo = boundary.saturating_sub(self.window_ns) / self.bucket_ns; // inclusive
        let (mut n, mut v) = (0u128, 0u64);
        for b in ring.iter().take(self.buckets) {
            if b.tag > lo && b.tag <= hi {
                n = n.checked_add(b.notional)?;
                v = v.checked_add(b.volume)?;
            }
        }
        Some((n, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn layout() {
        assert_eq!(core::mem::size_of::<VwapBucket>(), 32);
    }

    #[test]
    fn rounding_half_up() {
        // (10.0000 × 1 + 10.0001 × 1) / 2 = 10.00005 -> 10.0001
        assert_eq!(vwap_price4(100_000 + 100_001, 2), Some(100_001));
        // 10.00004999… -> 10.0000
        assert_eq!(vwap_price4(3 * 100_000 + 100_001, 4), Some(100_000));
        assert_eq!(vwap_price4(1, 0), None);
        // Sums no window holds are refused, not wrapped.
        assert_eq!(vwap_price4(u128::MAX, 1), None);
        assert_eq!(vwap_price4(u128::MAX / 2, u64::MAX), None);
        assert_eq!(
            vwap_price4(u128::from(u32::MAX) * u128::from(u64::MAX), u64::MAX),
            Some(u64::from(u32::MAX))
        );
    }

    #[test]
    fn overflow_and_stale_executions_are_refused() {
        let g = WindowGeometry::new(100 * MS, 1000 * MS, 64).unwrap();
        let mut ring = [VwapBucket::default(); 10];
        assert!(g.record(&mut ring, 5 * MS, u32::MAX, u64::MAX - 1));
        assert!(g.record(&mut ring, 6 * MS, u32::MAX, 1));
        assert!(
            !g.record(&mut ring, 7 * MS, 1, 1),
            "volume would pass u64::MAX"
        );
        assert!(g.record(&mut ring, 105 * MS, 1, u64::MAX));
        assert_eq!(
            g.window_sum(&ring, 1000 * MS),
            None,
            "window volume past u64::MAX"
        );
        assert_eq!(
            g.window_sum(&ring, 100 * MS),
            Some((u128::from(u32::MAX) * u128::from(u64::MAX), u64::MAX))
        );
        // 1005 ms is the slot of 5 ms, a later bucket: 5 ms no longer goes there.
        assert!(g.record(&mut ring, 1005 * MS, 7, 1));
        assert!(!g.record(&mut ring, 5 * MS, 7, 1), "older than the ring");
        assert_eq!(g.window_sum(&ring, 1100 * MS), None);
        assert_eq!(g.window_sum(&ring, 2000 * MS), Some((7, 1)));
    }

    #[test]
    fn window_is_half_open_and_slides() {
        let g = WindowGeometry::new(100 * MS, 1000 * MS, 64).unwrap();
        assert_eq!((g.bucket_ns, g.buckets), (100 * MS, 10));
        let mut ring = [VwapBucket::default(); 10];
        g.record(&mut ring, 999 * MS, 100_000, 10); // in [0, 1s)
        g.record(&mut ring, 1000 * MS, 200_000, 10); // at 1s: not in [0, 1s)
        assert_eq!(g.window_sum(&ring, 1000 * MS), Some((1_000_000, 10)));
        assert_eq!(g.window_sum(&ring, 1100 * MS), Some((3_000_000, 20)));
        // At 2s the window is [1s, 2s): only the second.
        assert_eq!(g.window_sum(&ring, 2000 * MS), Some((2_000_000, 10)));
        assert_eq!(g.window_sum(&ring, 2100 * MS), Some((0, 0)));
        // Reusing a slot for a later bucket resets it.
        g.record(&mut ring, 10_999 * MS, 300_000, 1);
        assert_eq!(g.window_sum(&ring, 11_000 * MS), Some((300_000, 1)));
    }

    #[test]
    fn uneven_interval_and_window() {
        let g = WindowGeometry::new(300 * MS, 1000 * MS, 64).unwrap();
        assert_eq!((g.bucket_ns, g.buckets), (100 * MS, 10));
        assert!(WindowGeometry::new(7, 1_000_000_007, 64).is_none());
        assert!(WindowGeometry::new(0, 10, 64).is_none());
    }

    proptest::proptest! {
        #[test]
        fn matches_brute_force(execs in proptest::collection::vec((0u64..5_000, 1u32..1000, 1u64..100), 0..200), b_step in 1u64..60) {
            let (interval, window) = (50u64, 300u64);
            let g = WindowGeometry::new(interval, window, 64).unwrap();
            let mut ring = std::vec![VwapBucket::default(); g.buckets];
            let mut execs = execs;
            execs.sort();
            let mut i = 0;
            let mut b = interval;
            while b <= 5_100 {
                while i < execs.len() && execs[i].0 < b {
                    g.record(&mut ring, execs[i].0, execs[i].1, execs[i].2);
                    i += 1;
                }
                let lo = b.saturating_sub(window);
                let want = execs.iter().filter(|e| e.0 >= lo && e.0 < b)
                    .fold((0u128, 0u64), |(n, v), e| (n + u128::from(e.1) * u128::from(e.2), v + e.2));
                proptest::prop_assert_eq!(g.window_sum(&ring, b), Some(want));
                b += interval * b_step.min(3);
            }
        }
    }
}
