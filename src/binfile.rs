//! NASDAQ BinaryFILE: the format NASDAQ publishes its historical ITCH files
//! in. Each message is preceded by a 2-byte big-endian length; there is no
//! file header.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Writes messages as `u16 BE length` + bytes.
#[derive(Debug)]
pub struct BinFileWriter<W: Write> {
    w: W,
    messages: u64,
    bytes: u64,
}

impl<W: Write> BinFileWriter<W> {
    /// Wrap a writer (use a `BufWriter` for files).
    pub fn new(w: W) -> Self {
        BinFileWriter {
            w,
            messages: 0,
            bytes: 0,
        }
    }

    /// Append one message. Fails with `InvalidInput` for messages longer than
    /// 65535 bytes.
    #[inline]
    pub fn write_message(&mut self, msg: &[u8]) -> io::Result<()> {
        let len = u16::try_from(msg.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "BinaryFILE message longer than 65535 bytes",
            )
        })?;
        self.w.write_all(&len.to_be_bytes())?;
        self.w.write_all(msg)?;
        self.messages += 1;
        self.bytes += 2 + u64::from(len);
        Ok(())
    }

    /// Messages written so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
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

/// Why a BinaryFILE could not be read further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinFileError {
    /// One byte left where a 2-byte length prefix was expected.
    TruncatedLength {
        /// Offset of the partial length prefix.
        offset: usize,
    },
    /// The last message is shorter than its length prefix says.
    TruncatedMessage {
        /// Offset of the length prefix.
        offset: usize,
        /// Length the prefix declares.
        declared: u16,
        /// Bytes actually left.
        available: usize,
    },
}

impl fmt::Display for BinFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BinFileError::TruncatedLength { offset } => {
                write!(f, "BinaryFILE truncated: 1 byte left at offset {offset}, a length prefix needs 2")
            }
            BinFileError::TruncatedMessage { offset, declared, available } => write!(
                f,
                "BinaryFILE truncated: message at offset {offset} declares {declared} bytes, {available} left"
            ),
        }
    }
}

impl std::error::Error for BinFileError {}

/// Zero-copy iterator over the messages of a BinaryFILE held in memory.
/// Yields `Err` once (then `None`) if the file ends inside a message.
#[derive(Debug, Clone)]
pub struct BinFileReader<'a> {
    data: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> BinFileReader<'a> {
    /// Read messages from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        BinFileReader {
            data,
            pos: 0,
            failed: false,
        }
    }

    /// Byte offset of the next length prefix.
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for BinFileReader<'a> {
    type Item = Result<&'a [u8], BinFileError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let (len, body) = match rest {
            [] => return None,
            [_] => {
                self.failed = true;
                return Some(Err(BinFileError::TruncatedLength { offset: self.pos }));
            }
            [a, b, body @ ..] => (u16::from_be_bytes([*a, *b]), body),
        };
        match body.get(..usize::from(len)) {
            Some(msg) => {
                self.pos += 2 + usize::from(len);
                Some(Ok(msg))
            }
            None => {
                self.failed = true;
                Some(Err(BinFileError::TruncatedMessage {
                    offset: self.pos,
                    declared: len,
                    available: body.len(),
                }))
            }
        }
    }
}

/// Map a file read-only into memory.
///
/// The mapping is only sound while no other process truncates or rewrites
/// the file; tickwire's tools only map files they are not writing.
pub fn map_file(path: impl AsRef<Path>) -> io::Result<memmap2::Mmap> {
    let path = path.as_ref();
    let file = File::open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))?;
    // SAFETY: the map is read-only and private to this process; the caller is
    // documented not to map a file that is being modified concurrently, which
    // is the only way the mapped bytes could change under us.
    unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| io::Error::new(e.kind(), format!("cannot map {}: {e}", path.display())))
}

/// A BinaryFILE mapped into memory.
#[derive(Debug)]
pub struct MappedBinFile {
    map: memmap2::Mmap,
}

impl MappedBinFile {
    /// Map `path` read-only (see [`map_file`] for the caveat).
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(MappedBinFile {
            map: map_file(path)?,
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Iterate the messages.
    pub fn messages(&self) -> BinFileReader<'_> {
        BinFileReader::new(&self.map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut w = BinFileWriter::new(Vec::new());
        w.write_message(b"abc").unwrap();
        w.write_message(b"").unwrap();
        w.write_message(&[7; 300]).unwrap();
        assert_eq!(w.messages(), 3);
        let f = w.into_inner();
        assert_eq!(&f[..5], &[0, 3, b'a', b'b', b'c']);
        let msgs: Vec<_> = BinFileReader::new(&f).map(Result::unwrap).collect();
        assert_eq!(msgs, vec![&b"abc"[..], &b""[..], &[7u8; 300][..]]);
    }

    #[test]
    fn truncated() {
        let f = [0u8, 3, b'a', b'b', b'c', 0, 5, b'x'];
        let mut r = BinFileReader::new(&f);
        assert_eq!(r.next(), Some(Ok(&b"abc"[..])));
        assert_eq!(
            r.next(),
            Some(Err(BinFileError::TruncatedMessage {
                offset: 5,
                declared: 5,
                available: 1
            }))
        );
        assert_eq!(r.next(), None);
        let f = [0u8, 1, b'a', 0];
        let v: Vec<_> = BinFileReader::new(&f).collect();
        assert_eq!(
            v,
            vec![
                Ok(&b"a"[..]),
                Err(BinFileError::TruncatedLength { offset: 3 })
            ]
        );
        assert!(BinFileWriter::new(Vec::new())
            .write_message(&vec![0; 70_000])
            .is_err());
    }

    #[test]
    fn mmap() {
        let dir = std::env::temp_dir().join(format!("tickwire-binfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.itch");
        std::fs::write(&p, [0u8, 2, 1, 2, 0, 1, 9]).unwrap();
        let m = MappedBinFile::open(&p).unwrap();
        let v: Vec<_> = m.messages().map(Result::unwrap).collect();
        assert_eq!(v, vec![&[1u8, 2][..], &[9u8][..]]);
        assert!(MappedBinFile::open(dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
