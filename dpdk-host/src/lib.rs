//! `tickwire-host` library: the safe DPDK layer ([`dpdk`]) used by the
//! `tickwire` binary's poll loops.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod control;
pub mod dpdk;
pub mod host;
