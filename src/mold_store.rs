//! A BinaryFILE indexed by MoldUDP64 sequence number: what a publisher and a
//! re-request server need to send any run of messages again.
//!
//! Message `i` of the file (from 0) is sequence `i + 1`, as in a NASDAQ
//! session. The index keeps the byte offset of every [`INDEX_STRIDE`]th
//! message only (8 bytes per 64 messages), so a day's file costs a few MB of
//! index; finding any other message walks at most 63 length prefixes.

use std::path::Path;

use anyhow::Context;

use crate::binfile::{map_file, BinFileError, BinFileReader};
use crate::mold_packet::{PacketCutter, PacketLimits, SessionName, HEADER_LEN};

/// Messages between two indexed offsets.
pub const INDEX_STRIDE: u64 = 64;

/// A checked BinaryFILE in memory with its sequence index.
#[derive(Debug)]
pub struct MoldStore<B: AsRef<[u8]> = memmap2::Mmap> {
    bytes: B,
    session: SessionName,
    messages: u64,
    /// Byte offset of message `k * INDEX_STRIDE` (0-based), for every k.
    checkpoints: Vec<usize>,
}

impl MoldStore<memmap2::Mmap> {
    /// Maps and indexes a BinaryFILE (see [`map_file`] for the caveat about
    /// files changed while mapped). Errors name the file, and the offset of a
    /// truncated last message.
    pub fn open(path: impl AsRef<Path>, session: SessionName) -> anyhow::Result<Self> {
        let path = path.as_ref();
        let map = map_file(path)?;
        MoldStore::new(map, session)
            .with_context(|| format!("{} is not a whole BinaryFILE", path.display()))
    }
}

impl<B: AsRef<[u8]>> MoldStore<B> {
    /// Indexes `bytes` (a BinaryFILE) for `session`. A file that ends inside
    /// a message is refused: serving its valid prefix would make the last
    /// sequence numbers disagree with the file's author.
    pub fn new(bytes: B, session: SessionName) -> Result<Self, BinFileError> {
        let mut checkpoints = Vec::new();
        let mut messages = 0u64;
        let mut r = BinFileReader::new(bytes.as_ref());
        loop {
            let at = r.offset();
            match r.next() {
                None => break,
                Some(Err(e)) => return Err(e),
                Some(Ok(_)) => {
                    if messages.is_multiple_of(INDEX_STRIDE) {
                        checkpoints.push(at);
                    }
                    messages += 1;
                }
            }
        }
        Ok(MoldStore {
            bytes,
            session,
            messages,
            checkpoints,
        })
    }

    /// The session this store answers for.
    pub fn session(&self) -> &SessionName {
        &self.session
    }

    /// Number of messages (the last sequence number).
    pub fn message_count(&self) -> u64 {
        self.messages
    }

    /// The sequence number after the last message (what a heartbeat at the
    /// end of the file carries).
    pub fn next_sequence(&self) -> u64 {
        self.messages + 1
    }

    /// Byte offset of message `sequence`'s block; `next_sequence()` gives the
    /// end of the file; `None` for 0 or beyond.
    pub fn offset_of(&self, sequence: u64) -> Option<usize> {
        let bytes = self.bytes.as_ref();
        if sequence == self.next_sequence() {
            return Some(bytes.len());
        }
        let index = sequence.checked_sub(1).filter(|i| *i < self.messages)?;
        let k = usize::try_from(index / INDEX_STRIDE).ok()?;
        let mut at = *self.checkpoints.get(k)?;
        for _ in 0..index % INDEX_STRIDE {
            let len = bytes.get(at..at + 2)?;
            at += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        }
        Some(at)
    }

    /// The message with this sequence number.
    pub fn message(&self, sequence: u64) -> Option<&[u8]> {
        if sequence > self.messages {
            return None;
        }
        let at = self.offset_of(sequence)?;
        let bytes = self.bytes.as_ref();
        let len = bytes.get(at..at + 2)?;
        bytes.get(at + 2..at + 2 + usize::from(u16::from_be_bytes([len[0], len[1]])))
    }

    /// Cuts the messages from `sequence` to the end into packets; `None`
    /// when `sequence` is 0 or past the last message.
    pub fn packets_from(&self, sequence: u64, limits: PacketLimits) -> Option<PacketCutter<'_>> {
        if sequence > self.messages {
            return None;
        }
        let at = self.offset_of(sequence)?;
        Some(PacketCutter::new(
            &self.bytes.as_ref()[at..],
            sequence,
            limits,
        ))
    }

    /// Writes into `out` (cleared first) the packet a NASDAQ re-request
    /// server sends for "`count` messages of `session` from `sequence`":
    /// those messages from `sequence` on, as many whole ones as fit
    /// `max_payload` bytes (header included; a single message longer than
    /// that still goes alone), at most `count`. Returns the number of
    /// messages, or `None` (send nothing) when `sequence` is 0 or past the
    /// last message, `count` is 0 or the session is not this store's.
    pub fn answer_into(
        &self,
        session: &SessionName,
        sequence: u64,
        count: u16,
        max_payload: usize,
        out: &mut Vec<u8>,
    ) -> Option<u16> {
        if *session != self.session || count == 0 {
            return None;
        }
        let limits = PacketLimits {
            max_payload,
            max_messages: count,
        };
        let p = self.packets_from(sequence, limits)?.next()?;
        p.write_into(&self.session, out);
        Some(p.count)
    }

    /// [`MoldStore::answer_into`] into a new buffer.
    pub fn answer(
        &self,
        session: &SessionName,
        sequence: u64,
        count: u16,
        max_payload: usize,
    ) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(max_payload.clamp(HEADER_LEN, 64 * 1024));
        self.answer_into(session, sequence, count, max_payload, &mut out)?;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binfile::BinFileWriter;
    use crate::mold_packet::DEFAULT_MAX_PAYLOAD;

    const S: SessionName = *b"SESSION001";

    /// `n` messages; message k (from 1) is `[k as u8; (k % 7) + 1]`.
    fn file(n: u64) -> Vec<u8> {
        let mut w = BinFileWriter::new(Vec::new());
        for k in 1..=n {
            w.write_message(&vec![k as u8; (k % 7) as usize + 1])
                .unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn index_finds_every_message() {
        let f = file(300);
        let s = MoldStore::new(&f[..], S).unwrap();
        assert_eq!(s.message_count(), 300);
        assert_eq!(s.next_sequence(), 301);
        for k in 1..=300u64 {
            assert_eq!(s.message(k), Some(&vec![k as u8; (k % 7) as usize + 1][..]));
        }
        assert_eq!(s.message(0), None);
        assert_eq!(s.message(301), None);
        assert_eq!(s.offset_of(301), Some(f.len()));
        assert_eq!(s.offset_of(302), None);
        assert_eq!(s.offset_of(u64::MAX), None);
    }

    #[test]
    fn answer_bytes() {
        let f = file(10);
        let s = MoldStore::new(&f[..], S).unwrap();
        // Messages 3 and 4: [3;4] and [4;5].
        let a = s.answer(&S, 3, 2, DEFAULT_MAX_PAYLOAD).unwrap();
        let mut want = b"SESSION001".to_vec();
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3, 0, 2]);
        want.extend_from_slice(&[0, 4, 3, 3, 3, 3, 0, 5, 4, 4, 4, 4, 4]);
        assert_eq!(a, want);
        // Request past the end is cut at the end.
        let a = s.answer(&S, 9, 100, DEFAULT_MAX_PAYLOAD).unwrap();
        assert_eq!(&a[10..20], &[0, 0, 0, 0, 0, 0, 0, 9, 0, 2]);
        assert_eq!(a.len(), 20 + (2 + 3) + (2 + 4));
    }

    #[test]
    fn answer_fits_payload() {
        let f = file(10);
        let s = MoldStore::new(&f[..], S).unwrap();
        // From 1: blocks of 4, 5, 6, 7 bytes; 20 + 4 + 5 = 29 fits 30, +6 does not.
        let a = s.answer(&S, 1, 10, 30).unwrap();
        assert_eq!(&a[18..20], &[0, 2]);
        assert_eq!(a.len(), 29);
        // Less room than one message: it goes alone.
        let a = s.answer(&S, 1, 10, 20).unwrap();
        assert_eq!(&a[18..20], &[0, 1]);
    }

    #[test]
    fn silence() {
        let f = file(10);
        let s = MoldStore::new(&f[..], S).unwrap();
        assert_eq!(s.answer(&S, 0, 1, 1400), None);
        assert_eq!(s.answer(&S, 11, 1, 1400), None);
        assert_eq!(s.answer(&S, 5, 0, 1400), None);
        assert_eq!(s.answer(b"OTHER00001", 5, 1, 1400), None);
        assert!(s.answer(&S, 10, 1, 1400).is_some());
        let empty = MoldStore::new(&[][..], S).unwrap();
        assert_eq!(empty.next_sequence(), 1);
        assert_eq!(empty.answer(&S, 1, 1, 1400), None);
    }

    #[test]
    fn packets_cover_file() {
        let f = file(1000);
        let s = MoldStore::new(&f[..], S).unwrap();
        let limits = PacketLimits {
            max_payload: 100,
            max_messages: 9,
        };
        let mut next = 1;
        let mut bytes = Vec::new();
        for p in s.packets_from(1, limits).unwrap() {
            assert_eq!(p.sequence, next);
            assert!(p.count <= 9 && p.payload_len() <= 100);
            next = p.end_sequence();
            bytes.extend_from_slice(p.blocks);
        }
        assert_eq!(next, 1001);
        assert_eq!(bytes, f);
        assert!(s.packets_from(1001, limits).is_none());
    }

    #[test]
    fn truncated_file_refused() {
        let mut f = file(3);
        f.pop();
        assert!(matches!(
            MoldStore::new(&f[..], S),
            Err(BinFileError::TruncatedMessage { .. })
        ));
    }
}
