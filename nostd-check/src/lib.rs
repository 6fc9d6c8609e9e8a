//! Links tickwire-core into a `#![no_std]` static library with its own panic
//! handler and no global allocator. If anything in the core pulled in `std`
//! (a second panic handler) or `alloc` (no allocator to link), this crate
//! would fail to build; `scripts/nostd-check.sh` also inspects the symbols.
#![no_std]
#![deny(unsafe_code)]

pub mod firmware;

use tickwire_core::bus::{self, BusRecord};
use tickwire_core::engine::{BookRecord, RECORD_DEPTH};
use tickwire_core::wire::{classify_frame, itch::Message, Frame};

#[panic_handler]
fn on_panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Counts the ITCH messages of one frame that parse: an entry point that makes
/// the linker keep the whole wire layer.
// `no_mangle` is what the lint calls unsafe: the symbol name must be unique,
// and nothing else in this library exports it.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn tickwire_count_messages(frame: &[u8; 2048], len: usize) -> u32 {
    count_messages(frame.get(..len).unwrap_or(&[]))
}

/// The same walk over a frame given as a slice, for Rust callers of the check.
pub fn count_messages(frame: &[u8]) -> u32 {
    match classify_frame(frame, &[26400]) {
        Ok(Frame::Mold { packet, .. }) => packet
            .messages()
            .filter_map(Result::ok)
            .filter(|m| Message::parse(m).is_ok())
            .count() as u32,
        _ => 0,
    }
}

/// Writes the bus record of an empty book for `locate` into `out` and reads
/// it back: the length, or 0 if either step refused. Links the bus record's
/// writer and reader.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn tickwire_bus_encode(
    locate: u16,
    pub_seq: u64,
    out: &mut [u8; bus::MAX_LEN],
) -> usize {
    let mut record = BookRecord::EMPTY;
    record.locate = locate;
    let Ok(n) = bus::encode(&record, pub_seq, RECORD_DEPTH, out) else {
        return 0;
    };
    match BusRecord::new_checked(out.get(..n).unwrap_or(&[])) {
        Ok(r) if r.to_book_record() == record => n,
        _ => 0,
    }
}
