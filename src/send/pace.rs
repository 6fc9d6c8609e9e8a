//! When each message is due, relative to the start of sending.

/// How `tickwire send` paces messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As fast as the socket takes them.
    Max,
    /// This many messages per second.
    Rate(f64),
    /// By the ITCH timestamps (ns since midnight), from the first message's,
    /// divided by this speed factor (1.0 real time).
    EventTime(f64),
}

/// ITCH 5.0 timestamp of a message: 48-bit big-endian ns since midnight at
/// bytes 5..11 (after type, locate and tracking number). `None` for a
/// message too short to have one.
pub fn itch_timestamp(msg: &[u8]) -> Option<u64> {
    let t = msg.get(5..11)?;
    Some(t.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// Due times in ns after the start for each message.
#[derive(Debug, Clone)]
pub struct Pacer {
    pace: Pace,
    first_sequence: u64,
    first_timestamp: u64,
}

impl Pacer {
    /// `first_sequence` is due at 0; for event time, `first_message` gives
    /// the origin of the clock.
    pub fn new(pace: Pace, first_sequence: u64, first_message: Option<&[u8]>) -> Pacer {
        Pacer {
            pace,
            first_sequence,
            first_timestamp: first_message.and_then(itch_timestamp).unwrap_or(0),
        }
    }

    /// Whether messages wait for their time at all.
    pub fn is_paced(&self) -> bool {
        self.pace != Pace::Max
    }

    /// When message `sequence` is due, in ns after the start; `None` for
    /// `Pace::Max`, or a message without a timestamp (it goes with its
    /// neighbours). Timestamps before the first one count as 0.
    pub fn due_ns(&self, sequence: u64, msg: &[u8]) -> Option<u64> {
        match self.pace {
            Pace::Max => None,
            Pace::Rate(r) => {
                let i = sequence.saturating_sub(self.first_sequence) as f64;
                Some((i * 1e9 / r) as u64)
            }
            Pace::EventTime(speed) => {
                let t = itch_timestamp(msg)?.saturating_sub(self.first_timestamp);
                Some((t as f64 / speed) as u64)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ts: u64) -> Vec<u8> {
        let mut m = vec![b'S', 0, 0, 0, 0];
        m.extend_from_slice(&ts.to_be_bytes()[2..]);
        m.push(b'O');
        m
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            itch_timestamp(&msg(0x0102_0304_0506)),
            Some(0x0102_0304_0506)
        );
        assert_eq!(itch_timestamp(&[0; 10]), None);
    }

    #[test]
    fn due_times() {
        let p = Pacer::new(Pace::Rate(1000.0), 1, None);
        assert_eq!(p.due_ns(1, b""), Some(0));
        assert_eq!(p.due_ns(3, b""), Some(2_000_000));
        let first = msg(5_000_000_000);
        let p = Pacer::new(Pace::EventTime(2.0), 1, Some(&first));
        assert_eq!(p.due_ns(9, &msg(5_000_001_000)), Some(500));
        assert_eq!(p.due_ns(9, &msg(1)), Some(0));
        assert_eq!(p.due_ns(9, b"short"), None);
        let p = Pacer::new(Pace::Max, 1, None);
        assert!(!p.is_paced());
        assert_eq!(p.due_ns(5, &first), None);
    }
}
