//! End-to-end smoke test of the safe DPDK layer on virtual devices, with no
//! hugepages and no PCI devices: EAL init, mempool, ports (net_null, net_ring,
//! net_pcap), rx/tx bursts including a partial tx, stats, lcore launch and
//! scope, rings of mbufs (single and multi producer, across lcores),
//! DPDK-heap tables, cleanup.
//!
//! DPDK allows one `rte_eal_init` per process, so everything lives in one
//! `#[test]`. Needs root (or the capabilities EAL wants) and the
//! Debian `dpdk` plugin PMDs (librte_net_null/ring/pcap in the PMD dir).

use std::path::{Path, PathBuf};

use tickwire_host::dpdk::{
    sys, DpdkBox, Eal, Error, Mbuf, MbufBurst, Mempool, Port, PortConfig, Producers, Ring,
};

/// Three small Ethernet frames.
fn frames() -> Vec<Vec<u8>> {
    (0u8..3)
        .map(|i| {
            let mut f = Vec::new();
            f.extend_from_slice(&[0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]); // dst (multicast)
            f.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, 0x00, 0x10 + i]); // src
            f.extend_from_slice(&[0x88, 0xb5]); // local experimental ethertype
            f.extend((0..(50 + usize::from(i) * 7)).map(|b| b as u8 ^ i));
            f
        })
        .collect()
}

/// Writes a classic little-endian pcap (LINKTYPE_ETHERNET) by hand.
fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic, microseconds
    out.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        out.extend_from_slice(&(i as u32 * 10).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

/// Whether we run as root (EAL then uses /var/run/dpdk), without `unsafe`.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn fill(m: &mut Mbuf<'_>, seq: u32) {
    let mut payload = [0u8; 60];
    payload[..4].copy_from_slice(&seq.to_be_bytes());
    assert!(m.extend_from_slice(&payload));
}

fn seq_of(m: &Mbuf<'_>) -> u32 {
    u32::from_be_bytes(m.data()[..4].try_into().unwrap())
}

#[test]
fn eal_smoke() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("tickwire-eal-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rx_pcap = dir.join("in.pcap");
    let tx_pcap = dir.join("out.pcap");
    let frames = frames();
    write_pcap(&rx_pcap, &frames);

    // Default: no hugepages. With TICKWIRE_SMOKE_HUGEPAGES=1, run on 2 MiB
    // hugepages instead (needs `echo 512 > /proc/sys/vm/nr_hugepages` and
    // hugetlbfs mounted, e.g. `mount -t hugetlbfs nodev /dev/hugepages`).
    let huge = std::env::var_os("TICKWIRE_SMOKE_HUGEPAGES").is_some_and(|v| v == "1");
    let prefix = format!("tickwire-smoke-{}", std::process::id());
    let mut args: Vec<String> = vec!["eal_smoke".into()];
    if huge {
        // Hugepage memory backed by memfd: no files in hugetlbfs, no shared
        // config, nothing left behind.
        args.extend(["--in-memory", "-m", "256"].map(String::from));
    } else {
        // --in-memory is rejected with --no-huge ("--legacy-mem is not
        // compatible with --in-memory": --no-huge implies legacy memory), so
        // --no-shconf: no shared config files, no multi-process IPC socket.
        args.extend(["--no-huge", "-m", "256", "--no-shconf"].map(String::from));
    }
    args.extend(
        [
            "--no-pci",
            "--no-telemetry",
            "-l",
            "0,1",
            "--log-level=warning",
            "--vdev",
            "net_null0",
            "--vdev",
            "net_null1",
            "--vdev",
            "net_ring0",
        ]
        .map(String::from),
    );
    args.extend([
        // Unique per process so parallel runs do not collide in /var/run/dpdk.
        format!("--file-prefix={prefix}"),
        "--vdev".into(),
        format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            rx_pcap.display(),
            tx_pcap.display()
        ),
        "--".into(),
        "--app-flag".into(),
    ]);

    let (eal, consumed) = Eal::init(&args).expect("rte_eal_init");
    assert_eq!(consumed, args.len() - 2, "all EAL args and the -- consumed");
    assert_eq!(Eal::app_args(&args, consumed), &["--app-flag".to_string()]);
    assert!(matches!(Eal::init(&args), Err(Error::AlreadyInitialized)));
    assert_eq!(eal.has_hugepages(), huge);
    assert!(eal.tsc_hz() > 0);

    // --- lcores --------------------------------------------------------------
    assert_eq!(eal.lcore_count(), 2);
    assert_eq!(eal.main_lcore(), 0);
    assert_eq!(tickwire_host::dpdk::lcore::current(), Some(0));
    let workers: Vec<u32> = eal.worker_lcores().collect();
    assert_eq!(workers, [1]);
    assert!(eal.lcore_socket(1).is_some());
    assert_eq!(eal.lcore_socket(200), None);

    let h = eal
        .launch(1, || {
            tickwire_host::dpdk::lcore::current().unwrap() * 100 + 42
        })
        .unwrap();
    assert_eq!(h.join().unwrap(), 142);
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // the next panic is expected
    let h = eal
        .launch(1, || -> u32 { panic!("boom on a worker lcore") })
        .unwrap();
    let payload = h.join().expect_err("panic must be caught and reported");
    std::panic::set_hook(quiet);
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"boom on a worker lcore")
    );
    assert!(eal.launch(0, || ()).is_err(), "main lcore is not a worker");

    // --- ports ---------------------------------------------------------------
    assert_eq!(eal.port_count(), 4);
    let ids: Vec<u16> = eal.port_ids().collect();
    assert_eq!(ids.len(), 4);
    let null0 = eal.port_by_name("net_null0").unwrap();
    let null1 = eal.port_by_name("net_null1").unwrap();
    let ring0 = eal.port_by_name("net_ring0").unwrap();
    let pcap0 = eal.port_by_name("net_pcap0").unwrap();
    assert_eq!(eal.port_name(pcap0).unwrap(), "net_pcap0");
    assert!(matches!(
        eal.port_by_name("nope"),
        Err(Error::PortNotFound(_))
    ));

    let pool = Mempool::pktmbuf(
        &eal,
        "smoke_pool",
        4095,
        128,
        Mempool::DEFAULT_DATA_ROOM,
        None,
    )
    .expect("mempool");
    assert_eq!(pool.name(), "smoke_pool");
    assert_eq!(pool.in_use_count(), 0);
    let conf = PortConfig {
        rx_descriptors: 256,
        tx_descriptors: 256,
        ..PortConfig::default()
    };
    let mut p_null0 = Port::configure(&eal, null0, &conf, &[pool]).unwrap();
    let mut p_null1 = Port::configure(&eal, null1, &conf, &[pool]).unwrap();
    assert!(
        Port::configure(&eal, null1, &conf, &[pool]).is_err(),
        "one Port per port id"
    );
    let mut p_ring = Port::configure(&eal, ring0, &conf, &[pool]).unwrap();
    let mut p_pcap = Port::configure(&eal, pcap0, &conf, &[pool]).unwrap();
    for p in [&mut p_null0, &mut p_null1, &mut p_ring, &mut p_pcap] {
        p.start().unwrap();
        assert!(p.is_started());
        let _mac = p.mac_address().unwrap();
        let _link = p.link().unwrap();
    }
    p_null0.reset_stats().unwrap();

    // tx on net_null1: allocate, fill, send; the PMD frees what it takes.
    {
        let mut txq = p_null1.tx_queue(0).unwrap();
        assert!(matches!(p_null1.tx_queue(0), Err(Error::QueueBusy { .. })));
        let mut burst = MbufBurst::<32>::new();
        burst.alloc_from(&pool, 32).unwrap();
        for (i, m) in burst.iter_mut().enumerate() {
            fill(m, i as u32);
        }
        assert_eq!(burst[5].data_len(), 60);
        // The safe layer reads mbuf fields directly; the C shim's
        // rte_pktmbuf_mtod/data_len/pkt_len wrappers must agree.
        let m = &burst[5];
        // SAFETY: `m` is a live, owned mbuf; the accessors only read it.
        let (mtod, dlen, plen, head, tail) = unsafe {
            (
                sys::tw_pktmbuf_mtod(m.as_ptr()),
                sys::tw_pktmbuf_data_len(m.as_ptr()),
                sys::tw_pktmbuf_pkt_len(m.as_ptr()),
                sys::tw_pktmbuf_headroom(m.as_ptr()),
                sys::tw_pktmbuf_tailroom(m.as_ptr()),
            )
        };
        assert_eq!(mtod.cast_const().cast::<u8>(), m.data().as_ptr());
        assert_eq!(usize::from(dlen), m.data_len());
        assert_eq!(plen, m.pkt_len());
        assert_eq!(usize::from(head), m.headroom());
        assert_eq!(usize::from(tail), m.tailroom());
        assert_eq!(seq_of(&burst[5]), 5);
        assert_eq!(pool.in_use_count(), 32);
        assert_eq!(txq.tx_burst(&mut burst), 32);
        assert!(burst.is_empty());
        let one = pool.alloc().unwrap();
        assert!(txq.tx_one(one).is_ok());
    }
    assert_eq!(p_null1.stats().unwrap().opackets, 33);
    assert_eq!(pool.in_use_count(), 0);

    // rx on net_null0: the null PMD returns a full burst of 64-byte packets.
    {
        let mut rxq = p_null0.rx_queue(0).unwrap();
        let mut burst = MbufBurst::<32>::new();
        assert_eq!(rxq.rx_burst(&mut burst), 32);
        assert_eq!(burst.len(), 32);
        assert!(burst
            .iter()
            .all(|m| m.data_len() == 64 && m.port() == null0));
        assert_eq!(rxq.rx_burst(&mut burst), 0, "burst is full");
        burst.retain(|m| m.data_len() == 64);
        assert_eq!(burst.len(), 32);
        let drained: Vec<Mbuf<'_>> = burst.drain().take(2).collect();
        assert_eq!(drained.len(), 2);
        assert!(burst.is_empty()); // the other 30 were freed by the Drain
        drop(drained);
        assert_eq!(pool.in_use_count(), 0);
        // Poll on the worker lcore through a scope that borrows the queue.
        let got = eal.scope(|s| {
            let h = s
                .launch(1, || {
                    let mut b = MbufBurst::<16>::new();
                    let n = rxq.rx_burst(&mut b);
                    (n, tickwire_host::dpdk::lcore::current())
                })
                .unwrap();
            h.join().unwrap()
        });
        assert_eq!(got, (16, Some(1)));
    }
    assert_eq!(p_null0.stats().unwrap().ipackets, 48);
    assert_eq!(pool.in_use_count(), 0);

    // net_ring0 loops tx back to rx through a 1024-slot ring: fill it until a
    // tx burst is partial, check the unsent rest stays owned, then read all.
    {
        let mut rxq = p_ring.rx_queue(0).unwrap();
        let mut txq = p_ring.tx_queue(0).unwrap();
        let mut seq = 0u32;
        let mut sent_total = 0usize;
        let mut partial = false;
        while !partial {
            let mut burst = MbufBurst::<64>::new();
            burst.alloc_from(&pool, 64).unwrap();
            for m in burst.iter_mut() {
                fill(m, seq);
                seq += 1;
            }
            let sent = txq.tx_burst(&mut burst);
            sent_total += sent;
            if sent < 64 {
                partial = true;
                assert_eq!(burst.len(), 64 - sent, "unsent mbufs stay in the burst");
                // The first unsent one is the one right after the sent ones.
                assert_eq!(seq_of(&burst[0]), (sent_total) as u32);
                assert_eq!(txq.tx_burst(&mut burst), 0, "ring still full");
                // Dropping the burst frees exactly the unsent ones.
            }
        }
        assert!(sent_total >= 1000, "ring holds ~1023, sent {sent_total}");
        assert_eq!(pool.in_use_count() as usize, sent_total);
        let mut got = 0usize;
        let mut burst = MbufBurst::<64>::new();
        loop {
            let n = rxq.rx_burst(&mut burst);
            if n == 0 {
                break;
            }
            for m in burst.iter() {
                assert_eq!(seq_of(m), got as u32, "ring preserves order");
                got += 1;
            }
            burst.clear();
        }
        assert_eq!(got, sent_total);
    }
    assert_eq!(pool.in_use_count(), 0, "no leak, no double free");

    // net_pcap0 replays the hand-written file and records what we send.
    {
        let mut rxq = p_pcap.rx_queue(0).unwrap();
        let mut txq = p_pcap.tx_queue(0).unwrap();
        let mut burst = MbufBurst::<8>::new();
        let mut n = 0;
        for _ in 0..100 {
            n += rxq.rx_burst(&mut burst);
            if n >= frames.len() {
                break;
            }
        }
        assert_eq!(n, frames.len());
        for (m, f) in burst.iter().zip(&frames) {
            assert_eq!(m.data(), &f[..]);
        }
        assert_eq!(txq.tx_burst_or_drop(&mut burst), frames.len());
        assert_eq!(rxq.rx_burst(&mut burst), 0, "pcap rx stops at end of file");
    }
    let st = p_pcap.stats().unwrap();
    assert_eq!((st.ipackets, st.opackets), (3, 3));
    drop(p_pcap); // stop + close flushes and closes the tx pcap
    let out = std::fs::read(&tx_pcap).unwrap();
    let expect_len = 24 + frames.iter().map(|f| 16 + f.len()).sum::<usize>();
    assert_eq!(out.len(), expect_len);
    assert_eq!(&out[out.len() - frames[2].len()..], &frames[2][..]);

    // --- rings of mbufs -------------------------------------------------------
    {
        assert!(Ring::new(&eal, "smoke_bad", 6, None, Producers::Single).is_err());
        let ring = Ring::new(&eal, "smoke_sp", 8, None, Producers::Single).unwrap();
        assert_eq!(ring.capacity(), 7);
        let mut prod = ring.producer().unwrap();
        assert!(ring.producer().is_err(), "single producer");
        let mut cons = ring.consumer().unwrap();
        assert!(ring.consumer().is_err(), "single consumer");
        let mut burst = MbufBurst::<16>::new();
        for seq in 0..10 {
            let mut m = pool.alloc().unwrap();
            fill(&mut m, seq);
            burst.push(m).unwrap();
        }
        assert_eq!(
            prod.enqueue_burst(&mut burst),
            7,
            "a full ring takes what fits"
        );
        assert_eq!(ring.count(), 7);
        let left: Vec<u32> = burst.iter().map(seq_of).collect();
        assert_eq!(left, [7, 8, 9], "the rest stays, in order");
        // Taking one out of a burst keeps the order and the ownership.
        let m8 = burst.remove(1).unwrap();
        assert_eq!(seq_of(&m8), 8);
        assert!(burst.remove(2).is_none());
        assert_eq!(burst.iter().map(seq_of).collect::<Vec<_>>(), [7, 9]);
        let back = prod.enqueue(m8).expect_err("the ring is full");
        drop(back);
        let mut out = MbufBurst::<4>::new();
        assert_eq!(cons.dequeue_burst(&mut out), 4);
        assert_eq!(cons.dequeue_burst(&mut out), 0, "no spare slot");
        assert_eq!(out.iter().map(seq_of).collect::<Vec<_>>(), [0, 1, 2, 3]);
        out.clear();
        assert_eq!(prod.enqueue_burst(&mut burst), 2);
        assert_eq!(ring.count(), 5);
        drop((prod, cons));
        assert_eq!(pool.in_use_count(), 5, "only the ring holds mbufs");
        drop(ring); // frees the five still in it
        assert_eq!(pool.in_use_count(), 0);

        // Multi producer: the worker lcore and the main lcore both enqueue,
        // the main lcore consumes; every mbuf arrives once.
        let ring = Ring::new(&eal, "smoke_mp", 64, None, Producers::Multi).unwrap();
        let mut cons = ring.consumer().unwrap();
        let total = eal.scope(|scope| {
            let mut remote = ring.producer().unwrap();
            let h = scope
                .launch(1, move || {
                    let mut sent = 0u32;
                    while sent < 500 {
                        let mut m = pool.alloc().unwrap();
                        fill(&mut m, 1_000_000 + sent);
                        if remote.enqueue(m).is_ok() {
                            sent += 1;
                        }
                    }
                })
                .unwrap();
            let mut local = ring.producer().unwrap();
            let (mut got, mut remote_next, mut sent) = (0u32, 1_000_000u32, 0u32);
            let mut out = MbufBurst::<32>::new();
            while got < 1000 {
                if sent < 500 {
                    let mut m = pool.alloc().unwrap();
                    fill(&mut m, sent);
                    if local.enqueue(m).is_ok() {
                        sent += 1;
                    }
                }
                cons.dequeue_burst(&mut out);
                for m in out.drain() {
                    let seq = seq_of(&m);
                    if seq >= 1_000_000 {
                        assert_eq!(seq, remote_next, "one producer's order is kept");
                        remote_next += 1;
                    }
                    got += 1;
                }
            }
            h.join().unwrap();
            got
        });
        assert_eq!(total, 1000);
        assert_eq!(ring.count(), 0);
        drop(cons);
        drop(ring);
        assert_eq!(pool.in_use_count(), 0, "no leak, no double free");
    }

    // --- control-plane forwarding: frames leave a burst for the ring ----------
    {
        use tickwire_host::control::forward::{ForwardRing, RING_SIZE};
        let fr = ForwardRing::new(&eal, 1, None).unwrap();
        let mut fwd = fr.forwarder().unwrap();
        let mut cons = fr.ring().consumer().unwrap();
        let mut burst = MbufBurst::<32>::new();
        for seq in 0..10 {
            let mut m = pool.alloc().unwrap();
            fill(&mut m, seq);
            burst.push(m).unwrap();
        }
        fwd.forward(&mut burst, 1 << 1 | 1 << 3 | 1 << 4 | 1 << 8);
        assert_eq!(
            burst.iter().map(seq_of).collect::<Vec<_>>(),
            [0, 2, 5, 6, 7, 9]
        );
        burst.clear(); // the bulk free skips what was forwarded
        let mut out = MbufBurst::<32>::new();
        assert_eq!(cons.dequeue_burst(&mut out), 4);
        assert_eq!(out.iter().map(seq_of).collect::<Vec<_>>(), [1, 3, 4, 8]);
        out.clear();
        assert_eq!((fwd.forwarded, fwd.ring_full), (4, 0));
        // Fill the ring, then overflow it: the overflow is freed and counted.
        let cap = fr.ring().capacity();
        assert_eq!(cap, RING_SIZE as usize - 1);
        let mut pushed = 0;
        while pushed < cap + 5 {
            for _ in 0..32 {
                burst.push(pool.alloc().unwrap()).unwrap();
            }
            fwd.forward(&mut burst, u64::from(u32::MAX));
            assert!(burst.is_empty());
            pushed += 32;
        }
        assert_eq!(fwd.forwarded, 4 + cap as u64);
        assert_eq!(fwd.ring_full, (pushed - cap) as u64);
        assert_eq!(
            (fr.forwarded(), fr.ring_full()),
            (fwd.forwarded, fwd.ring_full)
        );
        assert_eq!(
            pool.in_use_count() as usize,
            cap,
            "dropped frames were freed"
        );
        drop((fwd, cons));
        drop(fr);
        assert_eq!(pool.in_use_count(), 0);
    }

    // --- DPDK-heap tables ---------------------------------------------------
    {
        let mut table = DpdkBox::<[u64]>::new_zeroed_slice(&eal, 1 << 16, Some(0)).unwrap();
        assert_eq!(table.len(), 1 << 16);
        assert!(table.iter().all(|&x| x == 0));
        assert_eq!(table.as_ptr() as usize % 64, 0);
        table[12345] = 7;
        assert_eq!(table.iter().sum::<u64>(), 7);
        let page = DpdkBox::<[u8; 4096]>::new_zeroed(&eal, None).unwrap();
        assert!(page.iter().all(|&b| b == 0));
        let empty = DpdkBox::<[u32]>::new_zeroed_slice(&eal, 0, None).unwrap();
        assert!(empty.is_empty());
    }

    p_null0.stop().unwrap();
    drop((p_null0, p_null1, p_ring));
    eal.cleanup().expect("rte_eal_cleanup");
    std::fs::remove_dir_all(&dir).ok();
    // EAL leaves its (now empty) runtime directory behind.
    let runtime_root = if running_as_root() {
        PathBuf::from("/var/run/dpdk")
    } else {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join("dpdk")
    };
    std::fs::remove_dir(runtime_root.join(&prefix)).ok();
    std::fs::remove_dir(&runtime_root).ok(); // only if nothing else is there
}
