//! tickwire core: zero-copy wire views for Ethernet, IPv4, UDP, MoldUDP64 and
//! NASDAQ TotalView-ITCH 5.0; full-depth order books, VWAP windows and FIX
//! snapshot encoding, and the binary bus record tickwire publishes, over
//! storage the caller hands in.
//!
//! `no_std`, no `alloc`, no `unsafe`, no floating point. Every view validates its
//! length once in `new_checked`; accessors after that cannot panic.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod book;
pub mod bus;
pub mod engine;
pub mod feed;
pub mod fix;
pub mod vwap;
pub mod wire;
