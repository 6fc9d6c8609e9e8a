//! Classic libpcap files: a writer and a zero-copy reader over a byte slice;
//! pcapng through the `pcap-parser` crate ([`PcapNgReader`]); [`Packets`]
//! reads either.
//!
//! File layout: a 24-byte global header (magic, version 2.4, thiszone,
//! sigfigs, snaplen, linktype) followed by records, each a 16-byte header
//! (ts_sec, ts_usec-or-nsec, incl_len, orig_len) and `incl_len` bytes of data.
//! The magic `0xa1b2c3d4` means microsecond timestamps, `0xa1b23c4d`
//! nanosecond ones; reading it byte-swapped means the file was written on a
//! machine of the other endianness. The reader accepts all four forms and
//! never panics, whatever the input.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;

/// Magic number of a microsecond-resolution pcap file.
pub const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Magic number of a nanosecond-resolution pcap file.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// Link type of Ethernet II frames.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Size of the global file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Size of a record header.
pub const RECORD_HEADER_LEN: usize = 16;
/// Records longer than this (and longer than the file's snaplen) are rejected
/// as corrupt rather than trusted.
pub const MAX_RECORD_LEN: u32 = 262_144;

/// Timestamp resolution of a pcap file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsResolution {
    /// The fractional field is microseconds (magic `0xa1b2c3d4`).
    Micros,
    /// The fractional field is nanoseconds (magic `0xa1b23c4d`).
    Nanos,
}

impl TsResolution {
    /// The magic number written for this resolution.
    pub fn magic(self) -> u32 {
        match self {
            TsResolution::Micros => MAGIC_MICROS,
            TsResolution::Nanos => MAGIC_NANOS,
        }
    }
}

/// Writes a classic pcap file (native little-endian byte order).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
    res: TsResolution,
    snaplen: u32,
    records: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Write the global header. `snaplen` 65535 and linktype 1 (Ethernet)
    /// are usual.
    pub fn new(mut w: W, res: TsResolution, snaplen: u32, linktype: u32) -> io::Result<Self> {
        let mut h = [0u8; FILE_HEADER_LEN];
        h[0..4].copy_from_slice(&res.magic().to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone = 0, sigfigs = 0
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter {
            w,
            res,
            snaplen,
            records: 0,
        })
    }

    /// Ethernet file with snaplen 65535.
    pub fn ethernet(w: W, res: TsResolution) -> io::Result<Self> {
        Self::new(w, res, 65_535, LINKTYPE_ETHERNET)
    }

    /// Timestamp resolution of this file.
    pub fn resolution(&self) -> TsResolution {
        self.res
    }

    /// Number of records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Write one record with explicit timestamp fields (`ts_frac` is µs or ns
    /// according to the resolution). Data longer than snaplen is truncated in
    /// the file, with `orig_len` still the full length.
    pub fn write_record(&mut self, ts_sec: u32, ts_frac: u32, data: &[u8]) -> io::Result<()> {
        let orig = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "pcap record longer than 4 GiB")
        })?;
        let incl = orig.min(self.snaplen);
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[0..4].copy_from_slice(&ts_sec.to_le_bytes());
        h[4..8].copy_from_slice(&ts_frac.to_le_bytes());
        h[8..12].copy_from_slice(&incl.to_le_bytes());
        h[12..16].copy_from_slice(&orig.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(&data[..incl as usize])?;
        self.records += 1;
        Ok(())
    }

    /// Write one record stamped `epoch_ns` nanoseconds since the Unix epoch
    /// (rounded down to microseconds in a µs file).
    pub fn write_packet_ns(&mut self, epoch_ns: u64, data: &[u8]) -> io::Result<()> {
        let sec = (epoch_ns / 1_000_000_000) as u32;
        let ns = (epoch_ns % 1_000_000_000) as u32;
        let frac = match self.res {
            TsResolution::Micros => ns / 1_000,
            TsResolution::Nanos => ns,
        };
        self.write_record(sec, frac, data)
    }

    /// Flush the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Give back the underlying writer.
    pub fn into_inner(self) -> W {
        self.w
    }
}

/// Why a pcap file could not be read (further).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PcapError {
    /// Fewer than 24 bytes: no complete global header.
    TruncatedFileHeader {
        /// Bytes present.
        len: usize,
    },
    /// The first four bytes are not a known pcap magic (pcapng, for example,
    /// starts with `0x0a0d0d0a` and is not supported).
    BadMagic(u32),
    /// The file ends inside a 16-byte record header.
    TruncatedRecordHeader {
        /// Offset of the record header.
        offset: usize,
        /// Bytes left in the file.
        available: usize,
    },
    /// A record's data runs past the end of the file.
    TruncatedRecordData {
        /// Offset of the record header.
        offset: usize,
        /// `incl_len` from the header.
        needed: u32,
        /// Bytes left after the header.
        available: usize,
    },
    /// `incl_len` is larger than both the snaplen and [`MAX_RECORD_LEN`]:
    /// the file is corrupt.
    RecordTooLarge {
        /// Offset of the record header.
        offset: usize,
        /// `incl_len` from the header.
        incl_len: u32,
    },
    /// The link type is not Ethernet (1): tickwire classifies Ethernet II
    /// frames only.
    NotEthernet {
        /// The link type.
        linktype: u32,
        /// The pcapng interface it describes (None in a classic pcap).
        interface: Option<u32>,
    },
    /// pcapng: the file ends inside a block.
    NgTruncated {
        /// Offset of the block.
        offset: usize,
    },
    /// pcapng: a block the parser rejects (bad length, bad byte-order mark...).
    NgCorrupt {
        /// Offset of the block.
        offset: usize,
        /// What the parser said.
        what: String,
    },
    /// pcapng: a packet names an interface no Interface Description Block
    /// of its section described.
    NgNoInterface {
        /// Offset of the packet block.
        offset: usize,
        /// The interface id it names.
        interface: u32,
    },
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PcapError::TruncatedFileHeader { len } => {
                write!(f, "pcap file too short: {len} bytes, the global header needs 24")
            }
            PcapError::BadMagic(m) => write!(
                f,
                "not a classic pcap file: magic {m:#010x} (expected a1b2c3d4 or a1b23c4d in either byte order; pcapng is not supported)"
            ),
            PcapError::TruncatedRecordHeader { offset, available } => write!(
                f,
                "pcap file truncated: record header at offset {offset} needs 16 bytes, {available} left"
            ),
            PcapError::TruncatedRecordData { offset, needed, available } => write!(
                f,
                "pcap file truncated: record at offset {offset} declares {needed} bytes, {available} left"
            ),
            PcapError::RecordTooLarge { offset, incl_len } => write!(
                f,
                "corrupt pcap record at offset {offset}: captured length {incl_len} exceeds snaplen and {MAX_RECORD_LEN}"
            ),
            PcapError::NotEthernet { linktype, interface: None } => write!(
                f,
                "pcap link type {linktype} is not Ethernet (1): only Ethernet II frames are read"
            ),
            PcapError::NotEthernet { linktype, interface: Some(i) } => write!(
                f,
                "pcapng interface {i} has link type {linktype}, not Ethernet (1): only Ethernet II frames are read"
            ),
            PcapError::NgTruncated { offset } => {
                write!(f, "pcapng file truncated: the block at offset {offset} runs past the end")
            }
            PcapError::NgCorrupt { offset, ref what } => {
                write!(f, "corrupt pcapng block at offset {offset}: {what}")
            }
            PcapError::NgNoInterface { offset, interface } => write!(
                f,
                "corrupt pcapng: packet block at offset {offset} names interface {interface}, which no Interface Description Block describes"
            ),
        }
    }
}

impl std::error::Error for PcapError {}

/// The parsed global header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapHeader {
    /// Whether the file's integers are big-endian.
    pub big_endian: bool,
    /// Timestamp resolution.
    pub resolution: TsResolution,
    /// Major version (2).
    pub version_major: u16,
    /// Minor version (4).
    pub version_minor: u16,
    /// Snapshot length.
    pub snaplen: u32,
    /// Link-layer type (1 = Ethernet).
    pub linktype: u32,
}

impl PcapHeader {
    /// Parse the 24-byte global header at the start of `data`.
    pub fn parse(data: &[u8]) -> Result<PcapHeader, PcapError> {
        let Some(h) = data.get(..FILE_HEADER_LEN) else {
            return Err(PcapError::TruncatedFileHeader { len: data.len() });
        };
        let raw = [h[0], h[1], h[2], h[3]];
        let le = u32::from_le_bytes(raw);
        let (big_endian, resolution) = match le {
            MAGIC_MICROS => (false, TsResolution::Micros),
            MAGIC_NANOS => (false, TsResolution::Nanos),
            _ => match u32::from_be_bytes(raw) {
                MAGIC_MICROS => (true, TsResolution::Micros),
                MAGIC_NANOS => (true, TsResolution::Nanos),
                _ => return Err(PcapError::BadMagic(u32::from_be_bytes(raw))),
            },
        };
        let u16at = |i: usize| {
            let b = [h[i], h[i + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32at = |i: usize| read_u32(&[h[i], h[i + 1], h[i + 2], h[i + 3]], big_endian);
        Ok(PcapHeader {
            big_endian,
            resolution,
            version_major: u16at(4),
            version_minor: u16at(6),
            snaplen: u32at(16),
            linktype: u32at(20),
        })
    }
}

#[inline]
fn read_u32(b: &[u8; 4], big_endian: bool) -> u32 {
    if big_endian {
        u32::from_be_bytes(*b)
    } else {
        u32::from_le_bytes(*b)
    }
}

/// One record, borrowing its data from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Seconds since the Unix epoch.
    pub ts_sec: u32,
    /// Microseconds or nanoseconds, per the file's [`TsResolution`].
    pub ts_frac: u32,
    /// Original length on the wire (may exceed `data.len()` when the capture
    /// was truncated to snaplen).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

impl Record<'_> {
    /// Timestamp in nanoseconds since the Unix epoch.
    pub fn ts_nanos(&self, res: TsResolution) -> u64 {
        let frac = match res {
            TsResolution::Micros => u64::from(self.ts_frac) * 1_000,
            TsResolution::Nanos => u64::from(self.ts_frac),
        };
        u64::from(self.ts_sec) * 1_000_000_000 + frac
    }
}

/// Zero-copy reader: iterates records of a pcap file held in memory.
/// Yields `Err` once (then `None`) when the file turns out to be truncated or
/// corrupt.
#[derive(Debug, Clone)]
pub struct PcapReader<'a> {
    data: &'a [u8],
    pos: usize,
    header: PcapHeader,
    failed: bool,
}

impl<'a> PcapReader<'a> {
    /// Parse the global header; records follow from the iterator.
    pub fn new(data: &'a [u8]) -> Result<Self, PcapError> {
        let header = PcapHeader::parse(data)?;
        Ok(PcapReader {
            data,
            pos: FILE_HEADER_LEN,
            header,
            failed: false,
        })
    }

    /// The global header.
    pub fn header(&self) -> &PcapHeader {
        &self.header
    }

    /// Byte offset of the next record header.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn next_record(&mut self) -> Result<Option<Record<'a>>, PcapError> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            return Ok(None);
        }
        let Some(h) = rest.get(..RECORD_HEADER_LEN) else {
            return Err(PcapError::TruncatedRecordHeader {
                offset: self.pos,
                available: rest.len(),
            });
        };
        let be = self.header.big_endian;
        let field = |i: usize| read_u32(&[h[i], h[i + 1], h[i + 2], h[i + 3]], be);
        let (ts_sec, ts_frac, incl_len, orig_len) = (field(0), field(4), field(8), field(12));
        if incl_len > MAX_RECORD_LEN && incl_len > self.header.snaplen {
            return Err(PcapError::RecordTooLarge {
                offset: self.pos,
                incl_len,
            });
        }
        let body = &rest[RECORD_HEADER_LEN..];
        let Some(data) = body.get(..incl_len as usize) else {
            return Err(PcapError::TruncatedRecordData {
                offset: self.pos,
                needed: incl_len,
                available: body.len(),
            });
        };
        self.pos += RECORD_HEADER_LEN + incl_len as usize;
        Ok(Some(Record {
            ts_sec,
            ts_frac,
            orig_len,
            data,
        }))
    }
}

impl<'a> Iterator for PcapReader<'a> {
    type Item = Result<Record<'a>, PcapError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_record() {
            Ok(r) => r.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Magic of a pcapng Section Header Block (the same in both byte orders).
pub const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// What a pcapng interface says about its packets.
#[derive(Debug, Clone, Copy)]
struct NgInterface {
    /// Timestamp units per second (`if_tsresol`; 10^6 by default).
    units_per_s: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset_s: i64,
    /// Snap length, for Simple Packet Blocks.
    snaplen: u32,
}

/// Zero-copy pcapng reader over a file held in memory, built on the
/// `pcap-parser` crate's block parsers: Enhanced and Simple Packet Blocks,
/// any number of sections (each with its own byte order) and interfaces
/// (each with its own `if_tsresol` and `if_tsoffset`). Every record comes
/// out with a nanosecond timestamp ([`TsResolution::Nanos`]); a Simple
/// Packet Block has none and carries the previous packet's. Interfaces
/// whose link type is not Ethernet are refused ([`PcapError::NotEthernet`]).
/// Other blocks (statistics, name resolution, custom...) are skipped.
#[derive(Debug, Clone)]
pub struct PcapNgReader<'a> {
    data: &'a [u8],
    pos: usize,
    big_endian: bool,
    interfaces: Vec<NgInterface>,
    last_ns: u64,
    failed: bool,
}

impl<'a> PcapNgReader<'a> {
    /// Checks the Section Header Block magic; blocks follow from the
    /// iterator.
    pub fn new(data: &'a [u8]) -> Result<Self, PcapError> {
        match data.get(..4) {
            Some(m) if m == PCAPNG_MAGIC => Ok(PcapNgReader {
                data,
                pos: 0,
                big_endian: false,
                interfaces: Vec::new(),
                last_ns: 0,
                failed: false,
            }),
            Some(m) => Err(PcapError::BadMagic(u32::from_be_bytes([
                m[0], m[1], m[2], m[3],
            ]))),
            None => Err(PcapError::TruncatedFileHeader { len: data.len() }),
        }
    }

    /// Byte offset of the next block.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn record(&mut self, ns: u64, orig_len: u32, data: &'a [u8]) -> Record<'a> {
        self.last_ns = ns;
        Record {
            ts_sec: (ns / 1_000_000_000) as u32,
            ts_frac: (ns % 1_000_000_000) as u32,
            orig_len,
            data,
        }
    }

    fn next_record(&mut self) -> Result<Option<Record<'a>>, PcapError> {
        use pcap_parser::pcapng::{parse_block_be, parse_block_le, Block};
        loop {
            let offset = self.pos;
            let rest = self.data.get(offset..).unwrap_or(&[]);
            if rest.is_empty() {
                return Ok(None);
            }
            let at_shb = rest.get(..4) == Some(&PCAPNG_MAGIC[..]);
            let parsed = if self.big_endian && !at_shb {
                parse_block_be(rest)
            } else {
                parse_block_le(rest)
            };
            let (left, block) = match parsed {
                Ok(x) => x,
                Err(pcap_parser::nom::Err::Incomplete(_)) => {
                    return Err(PcapError::NgTruncated { offset })
                }
                Err(pcap_parser::nom::Err::Error(e) | pcap_parser::nom::Err::Failure(e)) => {
                    // A block length past the end is how a cut file shows.
                    let what = match e {
                        pcap_parser::PcapError::NomError(_, k) => format!("{k:?}"),
                        other => format!("{other:?}"),
                    };
                    return Err(PcapError::NgCorrupt { offset, what });
                }
            };
            let consumed = rest.len() - left.len();
            if consumed == 0 {
                return Err(PcapError::NgCorrupt {
                    offset,
                    what: "zero-length block".into(),
                });
            }
            self.pos += consumed;
            match block {
                Block::SectionHeader(shb) => {
                    self.big_endian = shb.big_endian();
                    self.interfaces.clear();
                }
                Block::InterfaceDescription(idb) => {
                    let interface = self.interfaces.len() as u32;
                    if idb.linktype != pcap_parser::Linktype::ETHERNET {
                        return Err(PcapError::NotEthernet {
                            linktype: idb.linktype.0 as u32,
                            interface: Some(interface),
                        });
                    }
                    let Some(units_per_s) = idb.ts_resolution() else {
                        return Err(PcapError::NgCorrupt {
                            offset,
                            what: format!(
                                "interface {interface}: if_tsresol {:#04x} out of range",
                                idb.if_tsresol
                            ),
                        });
                    };
                    self.interfaces.push(NgInterface {
                        units_per_s,
                        offset_s: idb.if_tsoffset,
                        snaplen: idb.snaplen,
                    });
                }
                Block::EnhancedPacket(epb) => {
                    let Some(ifc) = self.interfaces.get(epb.if_id as usize).copied() else {
                        return Err(PcapError::NgNoInterface {
                            offset,
                            interface: epb.if_id,
                        });
                    };
                    let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let ns = u128::from(ticks) * 1_000_000_000 / u128::from(ifc.units_per_s.max(1));
                    let ns = (ns as i128 + i128::from(ifc.offset_s) * 1_000_000_000)
                        .clamp(0, i128::from(u64::MAX)) as u64;
                    let data: &'a [u8] = epb.data;
                    let data = &data[..data.len().min(epb.caplen as usize)];
                    return Ok(Some(self.record(ns, epb.origlen, data)));
                }
                Block::SimplePacket(spb) => {
                    let Some(ifc) = self.interfaces.first().copied() else {
                        return Err(PcapError::NgNoInterface {
                            offset,
                            interface: 0,
                        });
                    };
                    let data: &'a [u8] = spb.data;
                    let mut cap = data.len().min(spb.origlen as usize);
                    if ifc.snaplen != 0 {
                        cap = cap.min(ifc.snaplen as usize);
                    }
                    let ns = self.last_ns;
                    return Ok(Some(self.record(ns, spb.origlen, &data[..cap])));
                }
                _ => {}
            }
        }
    }
}

impl<'a> Iterator for PcapNgReader<'a> {
    type Item = Result<Record<'a>, PcapError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_record() {
            Ok(r) => r.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The records of a capture, classic pcap or pcapng, chosen by the magic.
/// Classic pcap is read by tickwire's own zero-copy reader (measured faster
/// in the replayer's loop than the crate's; see the README), pcapng by
/// [`PcapNgReader`]. Both refuse link types other than Ethernet.
#[derive(Debug, Clone)]
pub enum Packets<'a> {
    /// A classic pcap.
    Pcap(PcapReader<'a>),
    /// A pcapng.
    PcapNg(PcapNgReader<'a>),
}

impl<'a> Packets<'a> {
    /// Reads `data`, a whole classic pcap or pcapng.
    pub fn new(data: &'a [u8]) -> Result<Self, PcapError> {
        if data.get(..4) == Some(&PCAPNG_MAGIC[..]) {
            return Ok(Packets::PcapNg(PcapNgReader::new(data)?));
        }
        let r = PcapReader::new(data)?;
        if r.header().linktype != LINKTYPE_ETHERNET {
            return Err(PcapError::NotEthernet {
                linktype: r.header().linktype,
                interface: None,
            });
        }
        Ok(Packets::Pcap(r))
    }

    /// What [`Record::ts_frac`] counts.
    pub fn resolution(&self) -> TsResolution {
        match self {
            Packets::Pcap(r) => r.header().resolution,
            Packets::PcapNg(_) => TsResolution::Nanos,
        }
    }

    /// Byte offset of the next record (or block).
    pub fn offset(&self) -> usize {
        match self {
            Packets::Pcap(r) => r.offset(),
            Packets::PcapNg(r) => r.offset(),
        }
    }
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<Record<'a>, PcapError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Packets::Pcap(r) => r.next(),
            Packets::PcapNg(r) => r.next(),
        }
    }
}

/// A pcap file mapped into memory (see [`crate::binfile::map_file`]).
#[derive(Debug)]
pub struct MappedPcap {
    map: memmap2::Mmap,
}

impl MappedPcap {
    /// Map `path` read-only.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(MappedPcap {
            map: crate::binfile::map_file(path)?,
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// A reader over the mapped bytes.
    pub fn reader(&self) -> Result<PcapReader<'_>, PcapError> {
        PcapReader::new(&self.map)
    }
}

/// Copies a pcap of MoldUDP64 frames, leaving out the data packets (those
/// with messages, numbered from 0 in file order, on `ports`) for which
/// `drop` says so, and shifting every capture time by `shift_ns`: one line
/// of an A/B pair with its own losses, for tests and demonstrations.
/// Returns the new pcap (nanosecond timestamps) and how many were dropped.
pub fn copy_dropping(
    src: &[u8],
    ports: &[u16],
    shift_ns: u64,
    mut drop: impl FnMut(u64) -> bool,
) -> anyhow::Result<(Vec<u8>, u64)> {
    let r = Packets::new(src).map_err(|e| anyhow::anyhow!("pcap: {e}"))?;
    let res = r.resolution();
    let mut w = PcapWriter::ethernet(Vec::new(), TsResolution::Nanos)?;
    let (mut i, mut dropped) = (0u64, 0u64);
    for rec in r {
        let rec = rec.map_err(|e| anyhow::anyhow!("pcap: {e}"))?;
        if let Ok(tickwire_core::wire::Frame::Mold { packet, .. }) =
            tickwire_core::wire::classify_frame(rec.data, ports)
        {
            if packet.message_count() > 0 {
                let d = drop(i);
                i += 1;
                if d {
                    dropped += 1;
                    continue;
                }
            }
        }
        w.write_packet_ns(rec.ts_nanos(res) + shift_ns, rec.data)?;
    }
    Ok((w.into_inner(), dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(res: TsResolution) -> Vec<u8> {
        let mut w = PcapWriter::ethernet(Vec::new(), res).unwrap();
        w.write_record(1, 2, b"hello").unwrap();
        w.write_packet_ns(3_000_004_005, b"").unwrap();
        w.write_record(7, 8, &[0xAA; 100]).unwrap();
        w.into_inner()
    }

    #[test]
    fn roundtrip_both_resolutions() {
        for res in [TsResolution::Micros, TsResolution::Nanos] {
            let f = sample(res);
            let r = PcapReader::new(&f).unwrap();
            assert_eq!(r.header().resolution, res);
            assert!(!r.header().big_endian);
            assert_eq!(r.header().linktype, 1);
            let recs: Vec<_> = r.map(Result::unwrap).collect();
            assert_eq!(recs.len(), 3);
            assert_eq!(
                (recs[0].ts_sec, recs[0].ts_frac, recs[0].data),
                (1, 2, &b"hello"[..])
            );
            assert_eq!(recs[1].ts_sec, 3);
            let frac = if res == TsResolution::Micros { 4 } else { 4005 };
            assert_eq!(recs[1].ts_frac, frac);
            assert_eq!(recs[2].data.len(), 100);
        }
    }

    #[test]
    fn big_endian_file() {
        // Hand-built big-endian nanosecond file with one 3-byte record.
        let mut f = Vec::new();
        f.extend_from_slice(&MAGIC_NANOS.to_be_bytes());
        f.extend_from_slice(&2u16.to_be_bytes());
        f.extend_from_slice(&4u16.to_be_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&65535u32.to_be_bytes());
        f.extend_from_slice(&1u32.to_be_bytes());
        for v in [10u32, 20, 3, 3] {
            f.extend_from_slice(&v.to_be_bytes());
        }
        f.extend_from_slice(b"abc");
        let r = PcapReader::new(&f).unwrap();
        assert!(r.header().big_endian);
        assert_eq!(r.header().resolution, TsResolution::Nanos);
        let recs: Vec<_> = r.map(Result::unwrap).collect();
        assert_eq!(
            recs,
            vec![Record {
                ts_sec: 10,
                ts_frac: 20,
                orig_len: 3,
                data: b"abc"
            }]
        );
        assert_eq!(recs[0].ts_nanos(TsResolution::Nanos), 10_000_000_020);
    }

    #[test]
    fn errors() {
        assert_eq!(
            PcapReader::new(&[0; 5]).unwrap_err(),
            PcapError::TruncatedFileHeader { len: 5 }
        );
        assert!(matches!(
            PcapReader::new(&[0; 24]).unwrap_err(),
            PcapError::BadMagic(0)
        ));
        let f = sample(TsResolution::Micros);
        // Cut inside the last record's data, then inside its header.
        let cut = &f[..f.len() - 1];
        let last = PcapReader::new(cut).unwrap().last().unwrap();
        assert!(matches!(
            last,
            Err(PcapError::TruncatedRecordData {
                needed: 100,
                available: 99,
                ..
            })
        ));
        let cut = &f[..f.len() - 100 - 4];
        let last = PcapReader::new(cut).unwrap().last().unwrap();
        assert!(matches!(
            last,
            Err(PcapError::TruncatedRecordHeader { available: 12, .. })
        ));
        // After an error the iterator ends.
        let mut r = PcapReader::new(cut).unwrap();
        assert!(r.by_ref().any(|x| x.is_err()));
        assert!(r.next().is_none());
    }
}
