//! Live orders by reference: an open-addressing hash table with linear probing
//! in Robin Hood order and backward-shift deletion (no tombstones), over
//! caller-provided storage.
//!
//! Robin Hood order keeps each probe run sorted by home slot, so a deletion's
//! backward shift stops at the first entry sitting in its own home slot. With
//! identity hashing nearly every entry does, which keeps deletes O(1) even in
//! the dense runs of recent orders.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// One slot of the order table. `order_ref == 0` marks an empty slot (ITCH
/// never assigns reference 0 to a displayed order).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct OrderSlot {
    /// Order reference number; 0 when the slot is empty.
    pub order_ref: u64,
    /// Limit price, Price(4).
    pub price: u32,
    /// Shares still open.
    pub shares: u32,
    /// Stock locate of the order.
    pub locate: u16,
    /// `b'B'` or `b'S'`.
    pub side: u8,
    /// Explicit padding so the layout has no implicit padding bytes.
    pub _pad: [u8; 5],
}

impl OrderSlot {
    /// A live order.
    #[inline]
    pub const fn new(order_ref: u64, price: u32, shares: u32, locate: u16, side: u8) -> Self {
        Self {
            order_ref,
            price,
            shares,
            locate,
            side,
            _pad: [0; 5],
        }
    }

    /// An empty slot.
    pub const EMPTY: Self = Self {
        order_ref: 0,
        price: 0,
        shares: 0,
        locate: 0,
        side: 0,
        _pad: [0; 5],
    };
}

/// Why an order could not be inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InsertError {
    /// The table holds its configured maximum of live orders.
    Full,
    /// A live order already has this reference.
    Duplicate,
    /// Reference 0 is reserved for empty slots.
    ZeroRef,
}

/// The order table. Capacity is a power of two; the live count is capped at
/// `max_live` (at most 3/4 of the slots) so probe sequences stay short.
#[derive(Debug)]
pub struct OrderTable<'s> {
    slots: &'s mut [OrderSlot],
    mask: usize,
    len: usize,
    max_live: usize,
}

#[inline]
fn hash(order_ref: u64) -> u64 {
    // Identity. ITCH references are assigned in increasing order, so new
    // orders land in consecutive slots (streaming writes) and the executions,
    // cancels and deletes that mostly hit recent orders find them in warm
    // cache lines. A scattering hash measured 5x slower on a full book: nearly
    // every insert missed cache. Strided references only leave slots unused;
    // the live count, not the key pattern, bounds the load.
    order_ref
}

impl<'s> OrderTable<'s> {
    /// Slots needed to hold `max_live` orders at a load of at most 1/2.
    pub const fn slots_for(max_live: usize) -> usize {
        let want = if max_live < 4 { 8 } else { max_live * 2 };
        want.next_power_of_two()
    }

    /// Uses `slots` (length a power of two, all [`OrderSlot::EMPTY`]) as the table.
    /// Returns `None` when the length is not a power of two or is below 8.
    pub fn new(slots: &'s mut [OrderSlot], max_live: usize) -> Option<Self> {
        let n = slots.len();
        if n < 8 || !n.is_power_of_two() {
            return None;
        }
        slots.iter_mut().for_each(|s| *s = OrderSlot::EMPTY);
        Some(Self {
            slots,
            mask: n - 1,
            len: 0,
            max_live: max_live.min(n / 4 * 3),
        })
    }

    /// Live orders.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no order is live.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cap on live orders.
    pub fn max_live(&self) -> usize {
        self.max_live
    }

    /// The slot index holding `order_ref`, for [`OrderTable::at`],
    /// [`OrderTable::at_mut`] and [`OrderTable::remove_at`] (one probe for a
    /// read-modify-write).
    #[inline]
    pub fn find(&self, order_ref: u64) -> Option<usize> {
        self.find_order(order_ref).map(|(i, _)| i)
    }

    /// The slot index holding `order_ref` and a copy of the order (one probe).
    #[inline(always)]
    pub fn find_order(&self, order_ref: u64) -> Option<(usize, OrderSlot)> {
        if order_ref == 0 {
            return None;
        }
        let mut i = hash(order_ref) as usize & self.mask;
        loop {
            let s = *self.slots.get(i)?;
            if s.order_ref == order_ref {
                return Some((i, s));
            }
            if s.order_ref == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The address of the slot a lookup of `order_ref` starts at, for a
    /// prefetch (nothing is read through it).
    #[inline]
    pub fn home_slot_addr(&self, order_ref: u64) -> *const u8 {
        let base = self.slots.as_ptr();
        base.wrapping_add(hash(order_ref) as usize & self.mask)
            .cast::<u8>()
    }

    /// The first and last byte a hit at the home slot of `order_ref` reads:
    /// the slot and the reference of the one after it (a removal checks it).
    /// The two lie in one or two cache lines; prefetch both.
    #[inline]
    pub fn home_slot_span(&self, order_ref: u64) -> [*const u8; 2] {
        let first = self.home_slot_addr(order_ref);
        let last = first.wrapping_add(core::mem::size_of::<OrderSlot>() + 7);
        [first, last]
    }

    /// The live order with this reference.
    #[inline]
    pub fn get(&self, order_ref: u64) -> Option<&OrderSlot> {
        self.find(order_ref).and_then(|i| self.slots.get(i))
    }

    /// Mutable access to a live order (its reference must not be changed).
    #[inline]
    pub fn get_mut(&mut self, order_ref: u64) -> Option<&mut OrderSlot> {
        self.find(order_ref)
            .and_then(move |i| self.slots.get_mut(i))
    }

    #[inline]
    fn displacement(&self, order_ref: u64, at: usize) -> usize {
        at.wrapping_sub(hash(order_ref) as usize) & self.mask
    }

    /// The order in slot `i` (from [`OrderTable::find`]).
    #[inline]
    pub fn at(&self, i: usize) -> Option<&OrderSlot> {
        self.slots.get(i).filter(|s| s.order_ref != 0)
    }

    /// The order in slot `i`, mutable (its reference must not be changed).
    #[inline]
    pub fn at_mut(&mut self, i: usize) -> Option<&mut OrderSlot> {
        self.slots.get_mut(i).filter(|s| s.order_ref != 0)
    }

    /// Inserts a new live order.
    #[inline(always)]
    pub fn insert(&mut self, order: OrderSlot) -> Result<(), InsertError> {
        if order.order_ref == 0 {
            return Err(InsertError::ZeroRef);
        }
        // Fast path: the home slot is empty. Then no live entry has this
        // reference (a run holding it would cover its home slot), and the
        // new order sits at distance 0, displacing nobody.
        let len = self.len;
        let under_cap = len < self.max_live;
        if let Some(slot) = self
            .slots
            .get_mut(hash(order.order_ref) as usize & self.mask)
        {
            if slot.order_ref == 0 && under_cap {
                *slot = order;
                self.len = len + 1;
                return Ok(());
            }
        }
        self.insert_probing(
            order.order_ref,
            order.price,
            order.shares,
            order.locate,
            order.side,
        )
    }

    /// [`OrderTable::insert`] when the home slot is taken (or the table full).
    /// The order comes in registers, not by reference: a reference would make
    /// the fast path build the slot on the stack and copy it from there.
    #[inline(never)]
    fn insert_probing(
        &mut self,
        order_ref: u64,
        price: u32,
        shares: u32,
        locate: u16,
        side: u8,
    ) -> Result<(), InsertError> {
        let order = OrderSlot::new(order_ref, price, shares, locate, side);
        let full = self.len >= self.max_live;
        let mut cur = order;
        let mut i = hash(cur.order_ref) as usize & self.mask;
        let mut dist = 0usize;
        // While `placed` is false, `cur` is the new order and the probe doubles
        // as the duplicate check: in Robin Hood order a live entry with the
        // same reference would sit before any entry closer to its home than
        // the probe distance. Terminates: fewer than `slots.len()` entries are
        // live, so an empty slot exists, and `i` moves forward every step.
        let mut placed = false;
        loop {
            let Some(&occupant) = self.slots.get(i) else {
                return Err(InsertError::Full);
            };
            if occupant.order_ref == 0 {
                if full && !placed {
                    return Err(InsertError::Full);
                }
                if let Some(slot) = self.slots.get_mut(i) {
                    *slot = cur;
                }
                self.len += 1;
                return Ok(());
            }
            if !placed && occupant.order_ref == cur.order_ref {
                return Err(InsertError::Duplicate);
            }
            let theirs = self.displacement(occupant.order_ref, i);
            if theirs < dist {
                if !placed && full {
                    return Err(InsertError::Full);
                }
                // Robin Hood: the entry closer to home yields its slot.
                if let Some(slot) = self.slots.get_mut(i) {
                    *slot = cur;
                }
                placed = true;
                cur = occupant;
                dist = theirs;
            }
            i = (i + 1) & self.mask;
            dist += 1;
        }
    }

    /// Removes and returns the order with this reference.
    #[inline]
    pub fn remove(&mut self, order_ref: u64) -> Option<OrderSlot> {
        let i = self.find(order_ref)?;
        self.remove_at(i)
    }

    /// Takes `shares` off the live order in slot `i` (from
    /// [`OrderTable::find`]); it must hold more than that.
    #[inline(always)]
    pub fn sub_shares(&mut self, i: usize, shares: u32) {
        if let Some(s) = self.slots.get_mut(i) {
            s.shares = s.shares.saturating_sub(shares);
        }
    }

    /// Removes and returns the order in slot `i` (from [`OrderTable::find`]).
    #[inline(always)]
    pub fn remove_at(&mut self, i: usize) -> Option<OrderSlot> {
        let slot = self.slots.get_mut(i)?;
        if slot.order_ref == 0 {
            return None;
        }
        let removed = core::mem::replace(slot, OrderSlot::EMPTY);
        self.len -= 1;
        // Nearly always the next slot is empty or holds an entry at home:
        // nothing to shift.
        let j = (i + 1) & self.mask;
        if let Some(next) = self.slots.get(j) {
            // Non-short-circuit: whether the next slot is taken is a coin
            // toss, whether it needs shifting nearly never.
            if (next.order_ref != 0) & (self.displacement(next.order_ref, j) != 0) {
                self.shift_back(i);
            }
        }
        Some(removed)
    }

    /// Closes the hole at `hole` left by a removal.
    #[inline(never)]
    fn shift_back(&mut self, mut hole: usize) {
        // Backward shift: move the rest of the run one slot back, until an
        // empty slot or an entry already in its home slot (Robin Hood order
        // means nothing after it belongs before it).
        let mut j = (hole + 1) & self.mask;
        while let Some(&cand) = self.slots.get(j) {
            if cand.order_ref == 0 || self.displacement(cand.order_ref, j) == 0 {
                break;
            }
            if let Some(h) = self.slots.get_mut(hole) {
                *h = cand;
            }
            if let Some(c) = self.slots.get_mut(j) {
                *c = OrderSlot::EMPTY;
            }
            hole = j;
            j = (j + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::vec;

    fn order(r: u64) -> OrderSlot {
        OrderSlot {
            order_ref: r,
            price: r as u32,
            shares: 100,
            locate: 1,
            side: b'B',
            _pad: [0; 5],
        }
    }

    #[test]
    fn layout() {
        assert_eq!(core::mem::size_of::<OrderSlot>(), 24);
        assert_eq!(core::mem::align_of::<OrderSlot>(), 8);
    }

    #[test]
    fn insert_get_remove() {
        let mut s = vec![OrderSlot::EMPTY; 16];
        let mut t = OrderTable::new(&mut s, 8).unwrap();
        assert_eq!(t.insert(order(5)), Ok(()));
        assert_eq!(t.insert(order(5)), Err(InsertError::Duplicate));
        assert_eq!(t.insert(order(0)), Err(InsertError::ZeroRef));
        assert_eq!(t.get(5).unwrap().price, 5);
        t.get_mut(5).unwrap().shares = 7;
        assert_eq!(t.remove(5).unwrap().shares, 7);
        assert!(t.get(5).is_none() && t.is_empty());
    }

    #[test]
    fn capacity_is_a_value_not_a_panic() {
        let mut s = vec![OrderSlot::EMPTY; 8];
        let mut t = OrderTable::new(&mut s, 100).unwrap();
        assert_eq!(t.max_live(), 6);
        for r in 1..=6 {
            t.insert(order(r)).unwrap();
        }
        assert_eq!(t.insert(order(7)), Err(InsertError::Full));
        assert_eq!(t.insert(order(3)), Err(InsertError::Duplicate));
        assert!(OrderTable::new(&mut [OrderSlot::EMPTY; 12], 4).is_none());
    }

    proptest::proptest! {
        #[test]
        fn behaves_like_a_hash_map(ops in proptest::collection::vec((0u8..3, 1u64..200, 0u64..4), 1..2000)) {
            let mut s = vec![OrderSlot::EMPTY; 256];
            let mut t = OrderTable::new(&mut s, 190).unwrap();
            let mut model: HashMap<u64, u32> = HashMap::new();
            for (op, r, wrap) in ops {
                // Keys 256 apart share a home slot: force collisions and wraps.
                let r = r + wrap * 256;
                match op {
                    0 => {
                        let res = t.insert(order(r));
                        if model.contains_key(&r) { proptest::prop_assert_eq!(res, Err(InsertError::Duplicate)); }
                        else if model.len() >= 190 { proptest::prop_assert_eq!(res, Err(InsertError::Full)); }
                        else { proptest::prop_assert_eq!(res, Ok(())); model.insert(r, r as u32); }
                    }
                    1 => { proptest::prop_assert_eq!(t.remove(r).map(|o| o.price), model.remove(&r)); }
                    _ => { proptest::prop_assert_eq!(t.get(r).map(|o| o.price), model.get(&r).copied()); }
                }
                proptest::prop_assert_eq!(t.len(), model.len());
            }
            for (r, p) in &model { proptest::prop_assert_eq!(t.get(*r).map(|o| o.price), Some(*p)); }
        }
    }
}
