//! The reorder buffer: packets that arrived ahead of a gap, held (the packet
//! handle itself, zero-copy) in sequence order until the gap closes or is
//! given up. Storage is the caller's; a full buffer hands the packet back.

use super::Line;

/// One held packet.
#[derive(Debug)]
pub struct Held<P> {
    /// Sequence number of its first message.
    pub seq: u64,
    /// Its messages.
    pub count: u16,
    /// Where it came from.
    pub line: Line,
    /// When it arrived (ns, the caller's clock).
    pub arrived_ns: u64,
    /// The packet (MoldUDP64 bytes).
    pub packet: P,
}

impl<P> Held<P> {
    /// One past its last message.
    pub fn end(&self) -> u64 {
        self.seq.saturating_add(u64::from(self.count))
    }
}

/// A ring of slots kept sorted by sequence number. Packets mostly arrive in
/// order, so an insert usually lands at the back without moving anything.
#[derive(Debug)]
pub struct Reorder<'s, P> {
    slots: &'s mut [Option<Held<P>>],
    head: usize,
    len: usize,
}

impl<'s, P> Reorder<'s, P> {
    /// Over the caller's slots (all `None`; any that are not are dropped).
    pub fn new(slots: &'s mut [Option<Held<P>>]) -> Self {
        for s in slots.iter_mut() {
            *s = None;
        }
        Self {
            slots,
            head: 0,
            len: 0,
        }
    }

    /// Packets it can hold.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether another packet would be refused.
    pub fn is_full(&self) -> bool {
        self.len == self.slots.len()
    }

    fn index(&self, i: usize) -> usize {
        let cap = self.slots.len();
        let j = self.head + i;
        if j >= cap {
            j - cap
        } else {
            j
        }
    }

    /// The `i`-th held packet in sequence order.
    pub fn get(&self, i: usize) -> Option<&Held<P>> {
        if i >= self.len {
            return None;
        }
        self.slots.get(self.index(i))?.as_ref()
    }

    /// The lowest held packet.
    pub fn front(&self) -> Option<&Held<P>> {
        self.get(0)
    }

    /// Takes the lowest held packet.
    pub fn pop_front(&mut self) -> Option<Held<P>> {
        if self.len == 0 {
            return None;
        }
        let i = self.head;
        let h = self.slots.get_mut(i)?.take();
        self.head = self.index(1);
        self.len -= 1;
        if self.len == 0 {
            self.head = 0;
        }
        h
    }

    /// Holds `h` in sequence order (after packets with the same first
    /// number); a full buffer hands it back.
    pub fn insert(&mut self, h: Held<P>) -> Result<(), Held<P>> {
        if self.is_full() {
            return Err(h);
        }
        // Shift later packets one slot towards the back.
        let mut pos = self.len;
        while pos > 0 {
            let prev = self.index(pos - 1);
            let later = matches!(&self.slots[prev], Some(p) if p.seq > h.seq);
            if !later {
                break;
            }
            let to = self.index(pos);
            self.slots[to] = self.slots[prev].take();
            pos -= 1;
        }
        let at = self.index(pos);
        self.slots[at] = Some(h);
        self.len += 1;
        Ok(())
    }

    /// How far from `from` the held packets cover without a hole: the first
    /// sequence number at or after `from` that nothing held carries.
    pub fn covered_from(&self, from: u64) -> u64 {
        let mut cur = from;
        for i in 0..self.len {
            let Some(h) = self.get(i) else { break };
            if h.seq > cur {
                break;
            }
            cur = cur.max(h.end());
        }
        cur
    }

    /// The missing ranges `[start, end)` between `from` and `horizon` that
    /// nothing held covers, lowest first; stops after `max` ranges.
    pub fn holes(&self, from: u64, horizon: u64, mut each: impl FnMut(u64, u64), max: usize) {
        let mut cur = from;
        let mut n = 0;
        for i in 0..self.len {
            if n >= max || cur >= horizon {
                return;
            }
            let Some(h) = self.get(i) else { break };
            if h.seq > cur {
                each(cur, h.seq.min(horizon));
                n += 1;
            }
            cur = cur.max(h.end());
        }
        if n < max && cur < horizon {
            each(cur, horizon);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(seq: u64, count: u16) -> Held<u64> {
        Held {
            seq,
            count,
            line: Line::A,
            arrived_ns: 0,
            packet: seq,
        }
    }

    #[test]
    fn sorted_ring_and_holes() {
        let mut slots: [Option<Held<u64>>; 4] = Default::default();
        let mut r = Reorder::new(&mut slots);
        assert!(r.insert(held(20, 5)).is_ok());
        assert!(r.insert(held(10, 2)).is_ok());
        assert!(r.insert(held(30, 1)).is_ok());
        assert!(r.insert(held(12, 3)).is_ok());
        assert!(r.is_full());
        assert_eq!(r.insert(held(40, 1)).unwrap_err().seq, 40);
        let order: [u64; 4] = core::array::from_fn(|i| r.get(i).unwrap().seq);
        assert_eq!(order, [10, 12, 20, 30]);
        assert_eq!(r.covered_from(10), 15);
        assert_eq!(r.covered_from(5), 5);
        let mut holes = [(0, 0); 4];
        let mut n = 0;
        r.holes(
            8,
            40,
            |a, b| {
                holes[n] = (a, b);
                n += 1
            },
            8,
        );
        assert_eq!(&holes[..n], &[(8, 10), (15, 20), (25, 30), (31, 40)]);
        // Wrap around the ring.
        assert_eq!(r.pop_front().unwrap().seq, 10);
        assert_eq!(r.pop_front().unwrap().seq, 12);
        assert!(r.insert(held(1, 1)).is_ok());
        assert!(r.insert(held(25, 1)).is_ok());
        let order: [u64; 4] = core::array::from_fn(|i| r.get(i).unwrap().seq);
        assert_eq!(order, [1, 20, 25, 30]);
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn zero_capacity_refuses() {
        let mut r: Reorder<'_, u64> = Reorder::new(&mut []);
        assert!(r.insert(held(1, 1)).is_err());
        assert!(r.front().is_none());
    }
}
