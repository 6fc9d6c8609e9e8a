#![no_main]
//! The feed sequencer driven by arbitrary packets on arbitrary lines at
//! arbitrary times, with arbitrary requests answered or not: no panic; every
//! number from the first to the next expected one applied or lost exactly
//! once, in order; a packet comes back unless it is held.
use libfuzzer_sys::fuzz_target;
use tickwire_core::feed::{Arrival, Deliver, FeedConfig, Held, Line, Sequencer};
use tickwire_core::wire::moldudp64::MoldPacket;

#[derive(Default)]
struct Model {
    next: Option<u64>,
}

impl Model {
    fn decide(&mut self, s: u64) {
        if let Some(n) = self.next {
            assert_eq!(s, n, "decided out of order");
        }
        self.next = Some(s + 1);
    }
}

impl Deliver for Model {
    fn deliver(&mut self, packet: &[u8], skip: u16) {
        let p = MoldPacket::new_checked(packet).expect("delivered a packet it could not read");
        let first = p.sequence() + u64::from(skip);
        for i in 0..u64::from(p.message_count() - skip) {
            self.decide(first + i);
        }
    }
    fn lost(&mut self, first: u64, count: u64) {
        for s in first..first + count {
            self.decide(s);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cfg_byte, mut rest)) = data.split_first() else {
        return;
    };
    let cfg = FeedConfig {
        lines: 1 + (cfg_byte & 1),
        servers: (cfg_byte >> 1) & 3,
        arbitration_ns: 1_000,
        arbitration_packets: 4,
        request_timeout_ns: 500,
        max_attempts: 2,
        recovery_timeout_ns: 5_000,
        max_request: 1 + u16::from(cfg_byte >> 4),
        backfill: cfg_byte & 0x08 != 0,
        clean_ns: 10_000,
    };
    let mut slots: Vec<Option<Held<Vec<u8>>>> = (0..usize::from(cfg_byte % 7)).map(|_| None).collect();
    let mut seq = Sequencer::new(cfg, &mut slots);
    let mut model = Model::default();
    let mut now = 0u64;
    // Each record: line/flags byte, time step, sequence (u16 low bits
    // around 1..), count byte.
    while rest.len() >= 4 {
        let (rec, tail) = rest.split_at(4);
        rest = tail;
        now += u64::from(rec[1]) * 37;
        let line = match rec[0] & 3 {
            0 => Line::A,
            1 => Line::B,
            _ => Line::Recovery,
        };
        let first = 1 + u64::from(rec[2]);
        let count: u16 = match rec[3] {
            0xff => 0xffff,
            c => u16::from(c % 12),
        };
        let mut p = Vec::with_capacity(20 + 3 * 12);
        p.extend_from_slice(if rec[0] & 0x80 != 0 { b"OTHERSESS1" } else { b"SESSION001" });
        p.extend_from_slice(&first.to_be_bytes());
        p.extend_from_slice(&count.to_be_bytes());
        if count != 0xffff {
            for _ in 0..count {
                p.extend_from_slice(&1u16.to_be_bytes());
                p.push(b'S');
            }
        }
        let (arrival, back) = seq.on_packet(now, line, p, &mut model);
        assert_eq!(arrival == Arrival::Held, back.is_none());
        seq.poll(now, &mut model, &mut |r| {
            assert!(r.count >= 1 && r.count <= cfg.max_request);
            assert!(r.server < cfg.servers.max(1));
            rec[0] & 0x40 == 0
        });
        if let Some(n) = model.next {
            assert!(n <= seq.expected(), "applied past the expected number");
        }
    }
    // Time runs out: everything still open is given up or applied.
    for _ in 0..64 {
        now += 10_000;
        seq.poll(now, &mut model, &mut |_| true);
    }
    assert_eq!(seq.held(), 0);
    assert!(seq.expected() >= seq.horizon());
});
