//! Price levels: per symbol and side, a sorted array of aggregated levels kept
//! in segments of an arena the caller hands in. The best level sits at the end
//! of its array, so best bid/offer is O(1) and the adds, executions and
//! cancels that cluster near the top shift only a few entries. Lookup by price
//! is a binary search over contiguous memory.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// One aggregated price level.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Level {
    /// Price(4).
    pub price: u32,
    /// Live orders resting at this price.
    pub orders: u32,
    /// Aggregate open shares.
    pub shares: u64,
}

/// Where one side's levels live in the arena.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct SideRef {
    /// First level of the segment.
    pub offset: u32,
    /// Levels in use.
    pub len: u32,
    /// Segment capacity (0 before the first add).
    pub cap: u32,
}

/// The arena ran out of room for a side to grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ArenaFull;

/// Smallest segment, in levels.
pub const MIN_SEGMENT: usize = 8;
const CLASSES: usize = 28;
const NONE: u32 = u32::MAX;

/// Segment allocator over the caller's level storage. Segments come in
/// power-of-two sizes from `MIN_SEGMENT`; a side that outgrows its segment
/// moves to one twice the size and its old segment goes on a free list of its
/// size class for the next side that needs one.
#[derive(Debug)]
pub struct LevelArena<'s> {
    levels: &'s mut [Level],
    bump: usize,
    free: [u32; CLASSES],
    in_use: usize,
}

fn class_of(cap: usize) -> usize {
    (cap / MIN_SEGMENT).trailing_zeros() as usize
}

/// Sort key: ascending key puts the best level last on both sides.
#[inline]
fn key(is_bid: bool, price: u32) -> u32 {
    if is_bid {
        price
    } else {
        !price
    }
}

/// Moves `seg[from..to]` one place right (towards the best end). Shifts near
/// the top are a few entries: a plain loop beats a `memmove` call.
#[inline]
fn shift_right(seg: &mut [Level], from: usize, to: usize) {
    if to - from > 16 {
        seg.copy_within(from..to, from + 1);
        return;
    }
    let mut i = to;
    while i > from {
        seg[i] = seg[i - 1];
        i -= 1;
    }
}

/// Moves `seg[from + 1..to]` one place left, over `seg[from]`.
#[inline]
fn shift_left(seg: &mut [Level], from: usize, to: usize) {
    if to - from > 16 {
        seg.copy_within(from + 1..to, from);
        return;
    }
    for i in from..to - 1 {
        seg[i] = seg[i + 1];
    }
}

/// Price(4) at and above which displayed orders are quoted in whole cents
/// (Reg NMS sub-penny rule): levels there lie on a 100-unit grid.
const PENNY_GRID_FROM: u32 = 10_000;

/// Finds `price` in levels sorted by ascending key (best last): `Ok(index)` or
/// `Err(insertion index)`, like `binary_search`.
///
/// Levels near the top of a book are dense: on a tick grid, a level `d` ticks
/// from the best is at most `d` places from the top, and exactly there when
/// every tick in between is occupied. So that slot is tried first (for the
/// best level itself `d` is 0), and only the places between it and the top
/// (or, off-grid, the whole side) are searched.
#[inline(always)]
fn find(levels: &[Level], is_bid: bool, price: u32) -> Result<usize, usize> {
    let flip = if is_bid { 0 } else { u32::MAX };
    let n = levels.len();
    if let Some(top) = levels.last() {
        // Ticks from the best; wraps to a huge value for a new best.
        let diff = (top.price ^ flip).wrapping_sub(price ^ flip);
        // Constant divisors: a multiply and shift, not a `div` on the hot path.
        let dist = if price >= PENNY_GRID_FROM {
            diff / 100
        } else {
            diff
        } as usize;
        if dist < n {
            let c = n - 1 - dist;
            if let Some(l) = levels.get(c) {
                if l.price == price {
                    return Ok(c);
                }
            }
        }
    }
    find_off_grid(levels, is_bid, price)
}

/// [`find`] when the tick-grid guess misses.
#[inline(never)]
fn find_off_grid(levels: &[Level], is_bid: bool, price: u32) -> Result<usize, usize> {
    let k = key(is_bid, price);
    let n = levels.len();
    let Some(top) = levels.last() else {
        return Err(0);
    };
    let best = key(is_bid, top.price);
    if k >= best {
        return if k == best { Ok(n - 1) } else { Err(n) };
    }
    let dist = if price >= PENNY_GRID_FROM {
        (best - k) / 100
    } else {
        best - k
    } as usize;
    if dist < n {
        let c = n - 1 - dist;
        let kc = key(is_bid, levels[c].price);
        if kc == k {
            return Ok(c);
        }
        if kc < k {
            // Present, if at all, strictly between c and the top: usually
            // just above c (a gap or two in the grid below the price).
            let mut i = c + 1;
            while i < n - 1 && i <= c + 4 {
                let ki = key(is_bid, levels[i].price);
                if ki >= k {
                    return if ki == k { Ok(i) } else { Err(i) };
                }
                i += 1;
            }
            return match levels[i..n - 1].binary_search_by_key(&k, |l| key(is_bid, l.price)) {
                Ok(j) => Ok(i + j),
                Err(j) => Err(i + j),
            };
        }
        // Off the grid: fall through to a full search.
    }
    levels.binary_search_by_key(&k, |l| key(is_bid, l.price))
}

impl<'s> LevelArena<'s> {
    /// Uses `levels` as the arena, clearing it (which also faults in lazily
    /// zeroed pages now rather than on the hot path).
    pub fn new(levels: &'s mut [Level]) -> Self {
        levels.iter_mut().for_each(|l| *l = Level::default());
        Self {
            levels,
            bump: 0,
            free: [NONE; CLASSES],
            in_use: 0,
        }
    }

    /// Levels held by live segments (capacity, not occupancy).
    pub fn segment_levels_in_use(&self) -> usize {
        self.in_use
    }

    /// Total levels the arena can hold.
    pub fn capacity(&self) -> usize {
        self.levels.len()
    }

    fn alloc(&mut self, cap: usize) -> Result<u32, ArenaFull> {
        let class = class_of(cap);
        let head = *self.free.get(class).ok_or(ArenaFull)?;
        if head != NONE {
            // The first level of a free segment stores the next free segment.
            let next = self.levels.get(head as usize).ok_or(ArenaFull)?.price;
            self.free[class] = next;
            self.in_use += cap;
            return Ok(head);
        }
        let start = self.bump;
        let end = start.checked_add(cap).ok_or(ArenaFull)?;
        if end > self.levels.len() || end > NONE as usize {
            return Err(ArenaFull);
        }
        self.bump = end;
        self.in_use += cap;
        Ok(start as u32)
    }

    fn release(&mut self, offset: u32, cap: usize) {
        let class = class_of(cap);
        if let (Some(head), Some(first)) = (
            self.free.get(class).copied(),
            self.levels.get_mut(offset as usize),
        ) {
            first.price = head;
            self.free[class] = offset;
            self.in_use -= cap;
        }
    }

    /// The side's levels, worst first, best last.
    #[inline]
    pub fn levels(&self, side: &SideRef) -> &[Level] {
        let start = side.offset as usize;
        self.levels
            .get(start..start + side.len as usize)
            .unwrap_or(&[])
    }

    /// The best level of a side.
    #[inline]
    pub fn best(&self, side: &SideRef) -> Option<&Level> {
        self.levels(side).last()
    }

    /// Adds one order of `shares` at `price`.
    #[inline(always)]
    pub fn add(
        &mut self,
        side: &mut SideRef,
        is_bid: bool,
        price: u32,
        shares: u32,
    ) -> Result<(), ArenaFull> {
        let start = side.offset as usize;
        let len = side.len as usize;
        let pos = match self.levels.get_mut(start..start + len) {
            Some(seg) => match find(seg, is_bid, price) {
                Ok(i) => {
                    if let Some(l) = seg.get_mut(i) {
                        // Cannot overflow: a level holds at most one order
                        // per live order (the table caps them below 2^30),
                        // each of at most u32::MAX shares (sum below 2^62).
                        l.orders += 1;
                        l.shares += u64::from(shares);
                    }
                    return Ok(());
                }
                Err(i) => i,
            },
            None => 0,
        };
        self.insert_level(side, pos, price, shares)
    }

    /// A new level at `pos` of the side (growing its segment when full).
    #[inline(never)]
    fn insert_level(
        &mut self,
        side: &mut SideRef,
        pos: usize,
        price: u32,
        shares: u32,
    ) -> Result<(), ArenaFull> {
        if side.len == side.cap {
            self.grow(side)?;
        }
        let start = side.offset as usize;
        let len = side.len as usize;
        let seg = self
            .levels
            .get_mut(start..start + len + 1)
            .ok_or(ArenaFull)?;
        if pos > len {
            return Err(ArenaFull);
        }
        shift_right(seg, pos, len);
        seg[pos] = Level {
            price,
            orders: 1,
            shares: u64::from(shares),
        };
        side.len += 1;
        Ok(())
    }

    fn grow(&mut self, side: &mut SideRef) -> Result<(), ArenaFull> {
        let old_cap = side.cap as usize;
        let new_cap = if old_cap == 0 {
            MIN_SEGMENT
        } else {
            old_cap * 2
        };
        let new_off = self.alloc(new_cap)?;
        let len = side.len as usize;
        let old = side.offset as usize;
        self.levels.copy_within(old..old + len, new_off as usize);
        if old_cap != 0 {
            self.release(side.offset, old_cap);
        }
        side.offset = new_off;
        side.cap = new_cap as u32;
        Ok(())
    }

    /// Takes `shares` off the level at `price`; when `order_gone`, one order
    /// fewer rests there. A level with no orders left is removed. Returns false
    /// when no level has that price (the book and the order table disagree,
    /// which the engine counts).
    #[inline(always)]
    pub fn reduce(
        &mut self,
        side: &mut SideRef,
        is_bid: bool,
        price: u32,
        shares: u32,
        order_gone: bool,
    ) -> bool {
        let start = side.offset as usize;
        let len = side.len as usize;
        let Some(seg) = self.levels.get_mut(start..start + len) else {
            return false;
        };
        let Ok(i) = find(seg, is_bid, price) else {
            return false;
        };
        let Some(l) = seg.get_mut(i) else {
            return false;
        };
        l.shares = l.shares.saturating_sub(u64::from(shares));
        if order_gone {
            l.orders = l.orders.saturating_sub(1);
        }
        if l.orders == 0 {
            remove_level(seg, i);
            side.len -= 1;
        }
        true
    }
}

/// Removes level `i` of `seg`, shifting the better ones down.
#[inline(never)]
fn remove_level(seg: &mut [Level], i: usize) {
    let len = seg.len();
    if i < len {
        shift_left(seg, i, len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::vec;

    #[test]
    fn layout() {
        assert_eq!(core::mem::size_of::<Level>(), 16);
        assert_eq!(core::mem::size_of::<SideRef>(), 12);
    }

    #[test]
    fn best_is_last_on_both_sides() {
        let mut store = vec![Level::default(); 64];
        let mut a = LevelArena::new(&mut store);
        let (mut bid, mut ask) = (SideRef::default(), SideRef::default());
        for p in [100, 300, 200] {
            a.add(&mut bid, true, p, 10).unwrap();
            a.add(&mut ask, false, p + 1000, 10).unwrap();
        }
        a.add(&mut bid, true, 300, 5).unwrap();
        assert_eq!(
            a.best(&bid),
            Some(&Level {
                price: 300,
                orders: 2,
                shares: 15
            })
        );
        assert_eq!(a.best(&ask).unwrap().price, 1100);
        assert!(a.reduce(&mut bid, true, 300, 10, true));
        assert_eq!(a.best(&bid).unwrap().shares, 5);
        assert!(a.reduce(&mut bid, true, 300, 5, true));
        assert_eq!(a.best(&bid).unwrap().price, 200);
        assert!(!a.reduce(&mut bid, true, 999, 1, true));
    }

    #[test]
    fn growth_reuses_freed_segments_and_reports_exhaustion() {
        let mut store = vec![Level::default(); 8 + 16];
        let mut a = LevelArena::new(&mut store);
        let mut s1 = SideRef::default();
        for p in 1..=8 {
            a.add(&mut s1, true, p, 1).unwrap();
        }
        // Ninth level: moves to a 16-segment, freeing the 8-segment.
        a.add(&mut s1, true, 9, 1).unwrap();
        assert_eq!((s1.offset, s1.cap), (8, 16));
        let mut s2 = SideRef::default();
        a.add(&mut s2, false, 5, 1).unwrap();
        assert_eq!(s2.offset, 0, "the freed segment is reused");
        for p in 10..=16 {
            a.add(&mut s1, true, p, 1).unwrap();
        }
        assert_eq!(a.add(&mut s1, true, 17, 1), Err(ArenaFull));
        assert_eq!(a.levels(&s1).len(), 16);
        assert_eq!(
            a.levels(&s1)
                .iter()
                .map(|l| l.price)
                .collect::<std::vec::Vec<_>>(),
            (1..=16).collect::<std::vec::Vec<_>>()
        );
    }

    proptest::proptest! {
        #[test]
        fn matches_a_sorted_map(ops in proptest::collection::vec((proptest::bool::ANY, 0u8..4, 1u32..60, 1u32..5), 1..1500), grid in proptest::bool::ANY) {
            let mut store = vec![Level::default(); 4096];
            let mut a = LevelArena::new(&mut store);
            let mut sides = [SideRef::default(), SideRef::default(), SideRef::default(), SideRef::default()];
            let mut model: [BTreeMap<u32, (u32, u64)>; 4] = Default::default();
            for (add, which, price, shares) in ops {
                // On the penny grid (above $1) or sub-penny; a few off-grid prices above $1 too.
                let price = if grid { 1_000_000 + price * 100 + u32::from(price % 17 == 0) * 7 } else { price };
                let w = usize::from(which);
                let is_bid = w % 2 == 0;
                if add {
                    a.add(&mut sides[w], is_bid, price, shares).unwrap();
                    let e = model[w].entry(price).or_insert((0, 0));
                    e.0 += 1;
                    e.1 += u64::from(shares);
                } else if let Some(e) = model[w].get_mut(&price) {
                    proptest::prop_assert!(a.reduce(&mut sides[w], is_bid, price, 1, true));
                    e.0 -= 1;
                    e.1 = e.1.saturating_sub(1);
                    if e.0 == 0 { model[w].remove(&price); }
                }
                for (i, m) in model.iter().enumerate() {
                    let got: std::vec::Vec<(u32, u32, u64)> = a.levels(&sides[i]).iter().map(|l| (l.price, l.orders, l.shares)).collect();
                    let mut want: std::vec::Vec<(u32, u32, u64)> = m.iter().map(|(&p, &(o, s))| (p, o, s)).collect();
                    if i % 2 == 1 { want.reverse(); }
                    proptest::prop_assert_eq!(got, want);
                }
            }
        }
    }
}
