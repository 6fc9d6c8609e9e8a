//! Input files as people have them: NASDAQ BinaryFILEs, classic pcap,
//! pcapng, and any of them gzip-compressed (NASDAQ ships its days as
//! `MMDDYYYY.NASDAQ_ITCH50.gz`). The format is told from the content, never
//! from the name; anything else is refused at once, naming what was
//! expected (see docs/semantics.md "Inputs").

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// How many bytes [`detect`] looks at (and [`Input::open`] reads first).
pub const SNIFF_LEN: usize = 64 * 1024;

/// How many leading messages the BinaryFILE plausibility check reads.
pub const BINFILE_CHECK_MESSAGES: usize = 16;

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// NASDAQ BinaryFILE: a 2-byte big-endian length before each message.
    BinFile,
    /// Classic pcap (µs or ns, either byte order).
    Pcap,
    /// pcapng.
    PcapNg,
}

impl Format {
    /// A capture (pcap or pcapng), as opposed to a BinaryFILE.
    pub fn is_capture(self) -> bool {
        matches!(self, Format::Pcap | Format::PcapNg)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::BinFile => "BinaryFILE",
            Format::Pcap => "pcap",
            Format::PcapNg => "pcapng",
        })
    }
}

/// What [`detect`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// A plain file of this format.
    Plain(Format),
    /// gzip (its content has to be decompressed to be told).
    Gzip,
}

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnInput {
    /// The first bytes, for the message.
    pub head: Vec<u8>,
    /// Inside a gzip.
    pub in_gzip: bool,
    /// Why it is no BinaryFILE either, when it came that far.
    pub why_not_binfile: Option<String>,
}

impl fmt::Display for NotAnInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: String = self
            .head
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect();
        if self.in_gzip {
            write!(f, "gzip whose content is not a BinaryFILE, pcap or pcapng")?;
        } else {
            write!(f, "not a BinaryFILE, pcap, pcapng or gzip")?;
        }
        if self.head.is_empty() {
            write!(f, " (empty)")?;
        } else {
            write!(f, " (starts with 0x{hex}")?;
            if let Some(w) = &self.why_not_binfile {
                write!(f, "; as a BinaryFILE: {w}")?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}

impl std::error::Error for NotAnInput {}

/// Why `head` (the start of a file) is not a plausible BinaryFILE, or None
/// if it is: its first message is whole and, like at least half of the
/// first [`BINFILE_CHECK_MESSAGES`] whole messages in `head`, has a known
/// ITCH 5.0 type and exactly that type's length.
pub fn binfile_implausible(head: &[u8]) -> Option<String> {
    use tickwire_core::wire::itch::expected_length;
    let (mut pos, mut whole, mut valid) = (0usize, 0usize, 0usize);
    while whole < BINFILE_CHECK_MESSAGES {
        let Some(&[a, b]) = head.get(pos..pos + 2) else {
            break;
        };
        let len = usize::from(u16::from_be_bytes([a, b]));
        let Some(msg) = head.get(pos + 2..pos + 2 + len) else {
            if whole == 0 {
                return Some(format!(
                    "the first length prefix says {len} bytes, the file has {}",
                    head.len().saturating_sub(2)
                ));
            }
            break;
        };
        let ok = msg.first().and_then(|&t| expected_length(t)) == Some(len);
        if whole == 0 && !ok {
            return Some(match msg.first() {
                None => "the first message is empty".to_string(),
                Some(&t) => match expected_length(t) {
                    None => format!("the first message's type {t:#04x} is not an ITCH 5.0 type"),
                    Some(n) => format!(
                        "the first message, type '{}', is {len} bytes, not {n}",
                        char::from(t)
                    ),
                },
            });
        }
        whole += 1;
        valid += usize::from(ok);
        pos += 2 + len;
    }
    if valid * 2 < whole {
        return Some(format!(
            "only {valid} of the first {whole} messages have an ITCH 5.0 type and its length"
        ));
    }
    None
}

/// Tells the format of a file from its first bytes (up to [`SNIFF_LEN`]).
pub fn detect(head: &[u8]) -> Result<Detected, NotAnInput> {
    match head.get(..4) {
        Some([0x1f, 0x8b, ..]) => return Ok(Detected::Gzip),
        Some(
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d],
        ) => return Ok(Detected::Plain(Format::Pcap)),
        Some(m) if m == crate::pcap::PCAPNG_MAGIC => return Ok(Detected::Plain(Format::PcapNg)),
        _ => {}
    }
    match binfile_implausible(head) {
        None => Ok(Detected::Plain(Format::BinFile)),
        Some(why) => Err(NotAnInput {
            head: head.iter().take(4).copied().collect(),
            in_gzip: false,
            why_not_binfile: Some(why),
        }),
    }
}

/// Counts the compressed bytes the decoder has taken, for error messages.
#[derive(Debug)]
pub struct Counting<R> {
    inner: R,
    /// Bytes read so far.
    pub bytes: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A gzip file decompressed as a stream (all members, as `gzip -d` does),
/// with the compressed bytes read so far counted.
pub type GzStream = flate2::bufread::MultiGzDecoder<BufReader<Counting<File>>>;

/// Opens `path` as a decompressing stream.
pub fn gz_stream(path: &Path) -> io::Result<GzStream> {
    let f = File::open(path)?;
    Ok(flate2::bufread::MultiGzDecoder::new(
        BufReader::with_capacity(1 << 16, Counting { inner: f, bytes: 0 }),
    ))
}

/// Compressed bytes a [`GzStream`] has read.
pub fn gz_position(s: &GzStream) -> u64 {
    s.get_ref().get_ref().bytes
}

/// Reads until `buf` is full or the stream ends; returns the bytes read and
/// the error that ended it early, if any (`Interrupted` is retried).
pub fn fill(r: &mut impl Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// The bytes of an input, held as they are best read.
#[derive(Debug)]
pub enum Body {
    /// A plain file, memory-mapped (populated: page faults stay out of the
    /// timed loop).
    Mapped(memmap2::Mmap),
    /// A gzip-compressed BinaryFILE: decompressed as a stream when replayed
    /// (bounded memory, see [`crate::replay::replay_binfile_stream`]).
    GzBinFile,
    /// A gzip-compressed capture, decompressed into memory (as a plain one
    /// is mapped whole), with the decompression error that cut it short.
    Decompressed(Vec<u8>, Option<String>),
}

/// An opened input file.
#[derive(Debug)]
pub struct Input {
    /// The path.
    pub path: PathBuf,
    /// The format (inside the gzip, for a compressed file).
    pub format: Format,
    /// Whether the file is gzip-compressed.
    pub gzip: bool,
    /// The file's size on disk.
    pub file_bytes: u64,
    /// The content.
    pub body: Body,
}

impl Input {
    /// Opens `path`, telling its format from the content; refuses anything
    /// that is not a BinaryFILE, pcap, pcapng or gzip of one of them.
    pub fn open(path: &Path) -> Result<Input> {
        let mut file =
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let file_bytes = file
            .metadata()
            .with_context(|| format!("cannot stat {}", path.display()))?
            .len();
        if file_bytes == 0 {
            bail!("{} is empty", path.display());
        }
        let mut head = vec![0u8; SNIFF_LEN];
        let (n, err) = fill(&mut file, &mut head);
        if let Some(e) = err {
            return Err(e).with_context(|| format!("cannot read {}", path.display()));
        }
        head.truncate(n);
        let detected = detect(&head).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let (format, body) = match detected {
            Detected::Plain(f) => {
                // SAFETY: the file is mapped read-only and only read through
                // the slice; a concurrent truncation by another process would
                // be a SIGBUS, the usual caveat of mapping files, documented
                // in the README.
                #[allow(unsafe_code)]
                let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }
                    .with_context(|| format!("cannot map {}", path.display()))?;
                (f, Body::Mapped(map))
            }
            Detected::Gzip => {
                let mut s =
                    gz_stream(path).with_context(|| format!("cannot open {}", path.display()))?;
                let mut inner = vec![0u8; SNIFF_LEN];
                let (n, err) = fill(&mut s, &mut inner);
                inner.truncate(n);
                let f = match detect(&inner) {
                    Ok(Detected::Plain(f)) => f,
                    Ok(Detected::Gzip) => bail!(
                        "{}: gzip inside gzip: decompress it once first",
                        path.display()
                    ),
                    Err(mut e) if n > 0 => {
                        e.in_gzip = true;
                        bail!("{}: {e}", path.display())
                    }
                    Err(_) => bail!(
                        "{}: gzip with no content{}",
                        path.display(),
                        err.map(|e| format!(" ({e})")).unwrap_or_default()
                    ),
                };
                if f == Format::BinFile {
                    (f, Body::GzBinFile)
                } else {
                    let mut all = inner;
                    let mut e = err.map(|e| e.to_string());
                    if e.is_none() {
                        if let Err(x) = s.read_to_end(&mut all) {
                            e = Some(format!(
                                "gzip: {x} after {} decompressed bytes (compressed offset {})",
                                all.len(),
                                gz_position(&s)
                            ));
                        }
                    }
                    (f, Body::Decompressed(all, e))
                }
            }
        };
        Ok(Input {
            path: path.to_path_buf(),
            format,
            gzip: detected == Detected::Gzip,
            file_bytes,
            body,
        })
    }

    /// The whole content in memory, when it is held so (not a streamed
    /// gzip BinaryFILE).
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Mapped(m) => Some(m),
            Body::Decompressed(v, _) => Some(v),
            Body::GzBinFile => None,
        }
    }

    /// The whole content in memory, decompressing a gzip BinaryFILE whole if
    /// need be (for the modes that need random access: FIX sessions, lines).
    pub fn load(&mut self) -> Result<&[u8]> {
        if let Body::GzBinFile = self.body {
            let mut s = gz_stream(&self.path)
                .with_context(|| format!("cannot open {}", self.path.display()))?;
            let mut v = Vec::new();
            let e = s.read_to_end(&mut v).err().map(|x| {
                format!(
                    "gzip: {x} after {} decompressed bytes (compressed offset {})",
                    v.len(),
                    gz_position(&s)
                )
            });
            self.body = Body::Decompressed(v, e);
        }
        Ok(self.bytes().unwrap_or(&[]))
    }

    /// A decompression error that cut a decompressed capture short.
    pub fn decompress_error(&self) -> Option<&str> {
        match &self.body {
            Body::Decompressed(_, e) => e.as_deref(),
            _ => None,
        }
    }

    /// "pcapng", "BinaryFILE (gzip)"...
    pub fn describe(&self) -> String {
        if self.gzip {
            format!("{} (gzip)", self.format)
        } else {
            self.format.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content() {
        assert_eq!(
            detect(&[0xd4, 0xc3, 0xb2, 0xa1, 0]),
            Ok(Detected::Plain(Format::Pcap))
        );
        assert_eq!(
            detect(&[0xa1, 0xb2, 0x3c, 0x4d]),
            Ok(Detected::Plain(Format::Pcap))
        );
        assert_eq!(
            detect(&[0x0a, 0x0d, 0x0d, 0x0a, 0x1c]),
            Ok(Detected::Plain(Format::PcapNg))
        );
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), Ok(Detected::Gzip));
        // A system event (S, 12 bytes) then a truncated rest.
        let mut bin = vec![0u8, 12, b'S'];
        bin.extend_from_slice(&[0; 11]);
        bin.extend_from_slice(&[0, 36, b'A']);
        assert_eq!(detect(&bin), Ok(Detected::Plain(Format::BinFile)));
        let elf = detect(b"\x7fELF\x02\x01\x01\0").unwrap_err();
        let text = elf.to_string();
        assert!(
            text.starts_with("not a BinaryFILE, pcap, pcapng or gzip (starts with 0x7f454c46"),
            "{text}"
        );
        // The right length for the wrong type, and the wrong length.
        assert!(binfile_implausible(&[0, 12, b'Z', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_some());
        assert!(binfile_implausible(&[0, 3, b'S', 0, 0]).is_some());
        assert!(detect(b"hello world, this is text").is_err());
    }
}
