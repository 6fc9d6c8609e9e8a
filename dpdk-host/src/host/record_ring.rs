//! A single-producer single-consumer ring of fixed-size book-record slots,
//! filled in place: the book lcore writes a record straight into the slot
//! the publisher will read, and never waits (a full ring refuses the record
//! and the engine keeps the locate due for the next boundary).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use tickwire_core::engine::BookRecord;

/// What a slot carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// A book record.
    Record,
    /// A directory entry: `record.locate` is `record.symbol`.
    Directory,
}

/// One slot, on cache lines of its own: the consumer reading one slot
/// never pulls a line the producer is writing the next one into.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
pub struct Slot {
    /// What it carries.
    pub kind: SlotKind,
    /// The record (for a directory entry only locate and symbol count).
    pub record: BookRecord,
}

/// An index on a cache line of its own, so the producer's and the
/// consumer's writes never share a line.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Index(AtomicUsize);

/// The ring. Capacity is a power of two.
pub struct RecordRing {
    slots: Box<[UnsafeCell<Slot>]>,
    mask: usize,
    /// Next slot the producer writes (only the producer stores it).
    head: Index,
    /// Next slot the consumer reads (only the consumer stores it).
    tail: Index,
}

// SAFETY: slots are shared between exactly one producer and one consumer
// (`split` takes `&mut self`, so there is one of each); a slot is written
// only between the producer's load of `tail` (Acquire: the consumer is done
// with it) and its Release store of `head`, and read only between the
// consumer's Acquire load of `head` and its Release store of `tail`, so no
// slot is ever accessed by both at once.
unsafe impl Sync for RecordRing {}

impl RecordRing {
    /// A ring of `capacity` slots (rounded up to a power of two, at least 2),
    /// touched once so that the poll loops never page-fault on it.
    pub fn new(capacity: usize) -> Self {
        let n = capacity.max(2).next_power_of_two();
        let empty = Slot {
            kind: SlotKind::Record,
            record: BookRecord::EMPTY,
        };
        Self {
            slots: (0..n).map(|_| UnsafeCell::new(empty)).collect(),
            mask: n - 1,
            head: Index::default(),
            tail: Index::default(),
        }
    }

    /// Slots.
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// The two ends; one of each exists at a time.
    pub fn split(&mut self) -> (Producer<'_>, Consumer<'_>) {
        let head = self.head.0.load(Ordering::Relaxed);
        let tail = self.tail.0.load(Ordering::Relaxed);
        let ring = &*self;
        (
            Producer {
                ring,
                head,
                published: head,
                tail_cache: tail,
            },
            Consumer {
                ring,
                tail,
                head_cache: head,
            },
        )
    }
}

/// The writing end (the book lcore). Slots are filled one by one and made
/// visible together by [`Producer::publish`]: one store to the shared index
/// per batch, not per record, so the consumer's polling of that cache line
/// costs the producer one transfer per boundary.
pub struct Producer<'r> {
    ring: &'r RecordRing,
    head: usize,
    published: usize,
    tail_cache: usize,
}

impl Producer<'_> {
    /// Fills the next slot in place (visible to the consumer at the next
    /// [`Producer::publish`]); false (nothing written) when the ring is full.
    #[inline]
    pub fn push_with(&mut self, fill: impl FnOnce(&mut Slot)) -> bool {
        if self.head.wrapping_sub(self.tail_cache) > self.ring.mask {
            self.tail_cache = self.ring.tail.0.load(Ordering::Acquire);
            if self.head.wrapping_sub(self.tail_cache) > self.ring.mask {
                return false;
            }
        }
        let cell = &self.ring.slots[self.head & self.ring.mask];
        // SAFETY: the slot is between tail and head + capacity, so the
        // consumer has released it (Acquire load of tail above) and will not
        // read it before our Release store of head in `publish`; we are the
        // only producer (see `RecordRing`'s Sync argument).
        fill(unsafe { &mut *cell.get() });
        self.head = self.head.wrapping_add(1);
        true
    }

    /// Makes every slot filled so far visible to the consumer.
    #[inline]
    pub fn publish(&mut self) {
        if self.published != self.head {
            self.published = self.head;
            self.ring.head.0.store(self.head, Ordering::Release);
        }
    }
}

/// The reading end (the publisher).
pub struct Consumer<'r> {
    ring: &'r RecordRing,
    tail: usize,
    head_cache: usize,
}

impl Consumer<'_> {
    /// Hands up to `max` published slots to `f`, oldest first; returns how
    /// many.
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(&Slot)) -> usize {
        self.drain_until(max, |slot| {
            f(slot);
            true
        })
    }

    /// Like [`Consumer::drain`], but `f` may decline a slot (return false):
    /// it then stays in the ring, first in line, and draining stops.
    pub fn drain_until(&mut self, max: usize, mut f: impl FnMut(&Slot) -> bool) -> usize {
        let mut n = 0;
        while n < max {
            if self.tail == self.head_cache {
                self.head_cache = self.ring.head.0.load(Ordering::Acquire);
                if self.tail == self.head_cache {
                    break;
                }
            }
            let cell = &self.ring.slots[self.tail & self.ring.mask];
            // SAFETY: the slot is below head (Acquire load above), so the
            // producer finished writing it, and it will not write it again
            // before our Release store of tail.
            if !f(unsafe { &*cell.get() }) {
                break;
            }
            self.tail = self.tail.wrapping_add(1);
            n += 1;
        }
        if n > 0 {
            self.ring.tail.0.store(self.tail, Ordering::Release);
        }
        n
    }

    /// Slots published and not yet drained (a snapshot).
    pub fn len(&self) -> usize {
        self.ring
            .head
            .0
            .load(Ordering::Acquire)
            .wrapping_sub(self.tail)
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_ring_refuses_and_order_is_kept_across_threads() {
        let mut ring = RecordRing::new(8);
        assert_eq!(ring.capacity(), 8);
        let (mut p, mut c) = ring.split();
        for i in 0..8u16 {
            assert!(p.push_with(|s| s.record.locate = i));
        }
        assert!(!p.push_with(|s| s.record.locate = 99));
        let mut seen = Vec::new();
        assert_eq!(
            c.drain(3, |s| seen.push(s.record.locate)),
            0,
            "not yet published"
        );
        p.publish();
        assert_eq!(c.drain(3, |s| seen.push(s.record.locate)), 3);
        assert!(p.push_with(|s| s.record.locate = 8));
        p.publish();
        c.drain(usize::MAX, |s| seen.push(s.record.locate));
        assert_eq!(seen, (0..9).collect::<Vec<_>>());
        assert!(c.is_empty());
        // Declined slots stay first in line.
        for i in 0..4u16 {
            assert!(p.push_with(|s| s.record.locate = i));
        }
        p.publish();
        let mut got = Vec::new();
        c.drain_until(10, |s| {
            if s.record.locate == 2 {
                return false;
            }
            got.push(s.record.locate);
            true
        });
        assert_eq!(got, [0, 1]);
        c.drain(10, |s| got.push(s.record.locate));
        assert_eq!(got, [0, 1, 2, 3]);

        // Two threads: every pushed value arrives once, in order.
        let mut ring = RecordRing::new(64);
        let (mut p, mut c) = ring.split();
        const N: u64 = 200_000;
        std::thread::scope(|s| {
            s.spawn(move || {
                let mut i = 0u64;
                while i < N {
                    if p.push_with(|s| s.record.boundary_ns = i) {
                        i += 1;
                        if i.is_multiple_of(7) || i == N {
                            p.publish();
                        }
                    } else {
                        p.publish(); // full: let the consumer see it all
                    }
                }
            });
            let mut next = 0u64;
            while next < N {
                c.drain(32, |s| {
                    assert_eq!(s.record.boundary_ns, next);
                    next += 1;
                });
            }
        });
    }
}
