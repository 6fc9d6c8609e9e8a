//! std-side tooling for tickwire: the ITCH 5.0 generator, BinaryFILE and pcap
//! readers/writers, and the replayer. Not DPDK.

pub mod affinity;
pub mod binfile;
pub mod bus_json;
pub mod cli;
pub mod feed_args;
pub mod gen;
pub mod input;
pub mod itch_encode;
pub mod lines;
pub mod mold_packet;
pub mod mold_store;
pub mod nats;
pub mod pcap;
pub mod plot;
pub mod provenance;
pub mod publish;
pub mod replay;
pub mod replay_cli;
pub mod report;
pub mod rerequest;
pub mod send;
pub mod serve;
pub mod stop_signal;
pub mod udp_socket;
