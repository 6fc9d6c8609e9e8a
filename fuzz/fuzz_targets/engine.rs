#![no_main]
//! Issue 9: structurally valid ITCH messages with adversarial fields
//! (colliding and reused references, shares and prices at 0 and their
//! maxima, Cross shares near 2^64, timestamps jumping back, to the end of
//! the day and to 2^48 - 1, locates at the table's edges) through the whole
//! engine with small tables, against a model of the contract: no panic (the
//! fuzz build has overflow checks), the book, the refusal counters and every
//! snapshot as the model says. The harness is shared with the property test
//! in core-nostd/tests/hostile.rs.
use libfuzzer_sys::fuzz_target;

#[path = "../../core-nostd/tests/hostile/harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    harness::run(data);
});
