#![no_main]
use libfuzzer_sys::fuzz_target;
use tickwire_core::wire::{classify_frame, itch::Message, Frame};

fuzz_target!(|data: &[u8]| {
    if let Ok(Frame::Mold { packet, .. }) = classify_frame(data, &[26400]) {
        for msg in packet.messages().flatten() {
            let _ = Message::parse(msg);
        }
    }
});
