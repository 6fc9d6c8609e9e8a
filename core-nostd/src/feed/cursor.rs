//! Immediate sequencing: one line, nothing to wait for. A gap is counted and
//! skipped at once; messages below the expected number are duplicates. This
//! is the contract of `docs/semantics.md` ("Sequencing"), and what
//! [`super::Sequencer`] does when it has no other line and no re-request
//! server.

/// Where one MoldUDP64 packet stands against the expected sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Step {
    /// Messages missing before the packet (skipped now).
    pub gap: u64,
    /// Leading messages of the packet already applied (duplicates).
    pub skip: u64,
}

impl Step {
    /// Whether every message of a packet of `count` messages is a duplicate
    /// (false for packets without messages).
    pub fn all_duplicate(&self, count: u64) -> bool {
        count > 0 && self.skip >= count
    }
}

/// The next expected sequence number of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Cursor {
    expected: u64,
}

impl Cursor {
    /// A session whose first packet carries sequence `first`: the expected
    /// sequence starts there.
    pub const fn new(first: u64) -> Self {
        Self { expected: first }
    }

    /// The next sequence number expected.
    pub const fn expected(&self) -> u64 {
        self.expected
    }

    /// A packet of `count` messages starting at `seq` (heartbeats and end of
    /// session: `count` 0, `seq` the next number) arrived: how many messages
    /// were skipped before it and how many of its own are duplicates. The
    /// expected number moves past the packet.
    pub fn advance(&mut self, seq: u64, count: u64) -> Step {
        let gap = seq.saturating_sub(self.expected);
        let start = seq.max(self.expected);
        let end = seq.saturating_add(count);
        self.expected = start.max(end);
        Step {
            gap,
            skip: (start - seq).min(count),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_sequence_gap_and_duplicates() {
        let mut c = Cursor::new(10);
        assert_eq!(c.advance(10, 3), Step { gap: 0, skip: 0 });
        assert_eq!(c.expected(), 13);
        // A heartbeat at the expected number.
        assert_eq!(c.advance(13, 0), Step { gap: 0, skip: 0 });
        // A gap of 2.
        assert_eq!(c.advance(15, 1), Step { gap: 2, skip: 0 });
        assert_eq!(c.expected(), 16);
        // Partly duplicate: 14..17, 14 and 15 seen.
        let s = c.advance(14, 3);
        assert_eq!(s, Step { gap: 0, skip: 2 });
        assert!(!s.all_duplicate(3));
        // Wholly duplicate.
        let s = c.advance(10, 2);
        assert!(s.all_duplicate(2));
        assert_eq!(c.expected(), 17);
        // A heartbeat ahead opens a gap.
        assert_eq!(c.advance(20, 0), Step { gap: 3, skip: 0 });
        assert_eq!(c.expected(), 20);
    }
}
