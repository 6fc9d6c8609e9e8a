//! The DPDK feed handler: EAL, ports and queues, one pinned poll loop and one
//! engine per RX queue, FIX out through a TX port, a final report.

pub mod args;
pub mod config;
pub mod feed;
pub mod metrics;
pub mod out_sink;
pub mod publisher;
pub mod record_ring;
pub mod report;
pub mod tx;
pub mod worker;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use tickwire_core::engine::{Counters, EngineConfig};

use tickwire::publish::{Publisher, PublisherConfig, PublisherStorage};
use tickwire_core::fix::session::SessionConfig;
use tickwire_core::fix::{CompId, FixSession};
use tickwire_core::wire::ethernet::ipv4_multicast_mac;

use crate::control::device::{MbufDevice, RxSource};
use crate::control::forward::ForwardRing;
use crate::control::{igmp, recovery, sessions, ControlPlane, ControlSettings};
use crate::dpdk::{self, signal, DpdkBox, Eal, Mempool, Port, PortConfig};
use args::HostArgs;
use feed::FeedSetup;
use out_sink::WorkerSink;
use publisher::{FeedHold, HostPublisher};
use record_ring::RecordRing;
use tx::{OutputAddress, TxSink};
use worker::{LiveStats, WorkerContext, WorkerReport, WorkerStorage};

/// Splits `tickwire [EAL args] -- [app args]` into the app args.
/// `tickwire --config FILE [app args]` (no `--`) is app args only: the
/// EAL arguments then come from the file.
fn app_args(argv: &[String]) -> &[String] {
    match argv.iter().position(|a| a == "--") {
        Some(i) => &argv[i + 1..],
        None if starts_with_config(argv) => &argv[1..],
        None => &[],
    }
}

fn starts_with_config(argv: &[String]) -> bool {
    argv.get(1)
        .is_some_and(|a| a == "--config" || a.starts_with("--config="))
}

/// Whether the command line gives EAL arguments (anything before `--`).
fn has_eal_args(argv: &[String]) -> bool {
    match argv.iter().position(|a| a == "--") {
        Some(i) => i > 1,
        None => !starts_with_config(argv) && argv.len() > 1,
    }
}

fn resolve_port(eal: &Eal, spec: &str) -> Result<u16> {
    if let Ok(id) = spec.parse::<u16>() {
        if id < eal.port_count() {
            return Ok(id);
        }
        let names: Vec<String> = eal
            .port_ids()
            .filter_map(|p| eal.port_name(p).ok())
            .collect();
        bail!(
            "port {id} does not exist; DPDK found {} port(s): {}",
            eal.port_count(),
            names.join(", ")
        );
    }
    eal.port_by_name(spec).map_err(|e| {
        let names: Vec<String> = eal.port_ids().filter_map(|p| eal.port_name(p).ok()).collect();
        // A --vdev argument (separate or `--vdev=...`) naming this device.
        let argv: Vec<String> = std::env::args().collect();
        let given_vdev = argv
            .windows(2)
            .any(|w| w[0] == "--vdev" && w[1].starts_with(spec))
            || argv.iter().any(|a| a.starts_with(&format!("--vdev={spec}")));
        let hint = if given_vdev {
            format!("; a --vdev {spec} was given but did not probe: see the driver's message above (a missing rx_pcap file, a bad iface)")
        } else {
            String::new()
        };
        anyhow!(
            "port {spec:?}: {e}{hint}; DPDK found: {}",
            if names.is_empty() { "no ports (add --vdev or bind a NIC)".into() } else { names.join(", ") }
        )
    })
}

/// What the main lcore calls on every turn of its loop, after polling the
/// control plane, with the TSC of that poll: where the FIX publisher plugs
/// in (accept sessions, read requests, write snapshots).
pub type ControlHook<'h> = dyn FnMut(&mut ControlPlane<'_, '_>, u64) + 'h;

/// Largest Ethernet frame the control plane sends or expects (1500-byte IP
/// MTU plus the Ethernet header).
const CONTROL_FRAME_MAX: usize = 1514;
/// Mbufs for the control plane's TX and, on a port of its own, its RX ring.
const CONTROL_MBUFS: u32 = 4095;

/// Runs the host with the full argv. Until a publisher drives them, FIX
/// sessions are accepted and what clients send is discarded (see
/// [`sessions::discard`]; `--control-echo` echoes it instead).
pub fn run(argv: &[String]) -> Result<()> {
    run_with_hook(argv, &mut sessions::discard())
}

/// [`run`], calling `hook` on every turn of the main lcore's loop while the
/// control plane (`--ip`) runs.
pub fn run_with_hook(argv: &[String], hook: &mut ControlHook<'_>) -> Result<()> {
    let cli_app = app_args(argv);
    // --config: the file's app arguments first, the command line's win;
    // its `eal = [...]` when the command line has no EAL arguments.
    let file = match config::config_path(cli_app) {
        Some(p) => Some(config::ConfigFile::load(&p).map_err(|e| anyhow!("{e}"))?),
        None => None,
    };
    let merged;
    let app: &[String] = match &file {
        Some(f) => {
            merged = config::merge(f, cli_app).map_err(|e| anyhow!("{e}"))?;
            &merged
        }
        None => cli_app,
    };
    let Some(args) = tickwire::cli::parse::<HostArgs>("tickwire [EAL args] --", app)? else {
        return Ok(());
    };
    let eal_argv: Vec<String>;
    let argv: &[String] = match &file {
        Some(f) if !f.eal.is_empty() && !has_eal_args(argv) => {
            eal_argv = argv
                .iter()
                .take(1)
                .cloned()
                .chain(f.eal.iter().cloned())
                .chain(std::iter::once("--".to_string()))
                .chain(app.iter().cloned())
                .collect();
            &eal_argv
        }
        _ => argv,
    };
    let engine_cfg = args.engine_config();
    let sizes = engine_cfg
        .storage_sizes()
        .map_err(|e| anyhow!("engine configuration: {e}"))?;
    FixSession::new(
        args.sender.as_bytes(),
        tickwire::publish::first_client(&args.target).as_bytes(),
        args.time_precision,
    )
    .map_err(|e| anyhow!("--sender/--target: {e}"))?;
    tickwire::publish::parse_clients(&args.target)?;
    if args.rx_queues == 0 {
        bail!("--rx-queues must be at least 1");
    }
    let control = args.control_settings().map_err(|e| anyhow!("{e}"))?;
    let mut echo = sessions::echo();
    let hook: &mut ControlHook<'_> = if args.control_echo { &mut echo } else { hook };

    // The CPUs we were given, before the EAL pins this thread to the main
    // lcore: helper threads (the NATS bridge) run on those no lcore polls.
    let cpus_before_eal = tickwire::affinity::current();
    let (eal, _consumed) =
        Eal::init(argv).context("EAL initialisation failed (see the EAL messages above)")?;
    signal::install().context("installing SIGINT/SIGTERM handlers")?;
    let result = run_with_eal(
        &eal,
        &args,
        &engine_cfg,
        sizes.bytes(),
        control.as_ref(),
        hook,
        cpus_before_eal,
    );
    drop(eal);
    result
}

fn run_with_eal(
    eal: &Eal,
    args: &HostArgs,
    engine_cfg: &EngineConfig,
    storage_bytes: usize,
    control: Option<&ControlSettings>,
    hook: &mut ControlHook<'_>,
    cpus_before_eal: Option<Vec<usize>>,
) -> Result<()> {
    let rx_id = resolve_port(eal, &args.rx_port)?;
    let tx_id = match &args.tx_port {
        Some(s) => resolve_port(eal, s)?,
        None => rx_id,
    };
    let n = usize::from(args.rx_queues);

    // Lcores: explicit, or the EAL's workers, or the main lcore alone.
    let lcores: Vec<u32> = if !args.lcores.is_empty() {
        for &l in &args.lcores {
            if !eal.lcore_enabled(l) || l == eal.main_lcore() {
                bail!(
                    "--lcores: lcore {l} is not an enabled worker lcore (give the EAL -l with it)"
                );
            }
        }
        args.lcores.clone()
    } else {
        let workers: Vec<u32> = eal.worker_lcores().collect();
        if workers.is_empty() {
            vec![eal.main_lcore()]
        } else {
            workers
        }
    };
    if lcores.len() < n {
        bail!("{n} RX queue(s) need {n} worker lcore(s), the EAL has {}: widen -l or lower --rx-queues", lcores.len());
    }
    let lcores = &lcores[..n];
    let on_main = lcores == [eal.main_lcore()];
    if args.nats.enabled() && on_main {
        bail!(
            "--nats: the main lcore drains the book records into the NATS bridge while worker lcores poll the feed, \
             and this EAL has no worker lcore: give it two or more lcores (e.g. -l 0,1)"
        );
    }
    if control.is_some() && on_main {
        bail!(
            "the control plane (--ip{}) runs on the main lcore while worker lcores poll the feed, \
             and this EAL has no worker lcore: give it two or more lcores (e.g. -l 0,1)",
            if args.fix_listen.is_some() {
                ", --fix-listen"
            } else {
                ""
            }
        );
    }
    // Where the control plane runs: on the feed's RX port (frames reach it
    // through the workers' ring), on the TX port or on a port of its own
    // (it polls RX queue 0 itself). Either way it sends on a TX queue of its
    // own, one past the workers'.
    let ctl_id = match control {
        Some(c) => Some(match &c.port {
            Some(p) => resolve_port(eal, p).context("--control-port")?,
            None => rx_id,
        }),
        None => None,
    };
    let same_port = rx_id == tx_id;
    let ctl_on_rx = ctl_id == Some(rx_id);
    let ctl_on_tx = !same_port && ctl_id == Some(tx_id);
    let ctl_own = ctl_id.filter(|&c| c != rx_id && c != tx_id);
    let ctl_pool = match control {
        Some(_) => Some(
            Mempool::pktmbuf(
                eal,
                "tw_ctl_pool",
                CONTROL_MBUFS,
                64,
                Mempool::DEFAULT_DATA_ROOM,
                eal.lcore_socket(eal.main_lcore()),
            )
            .context("creating the control plane's mbuf pool")?,
        ),
        None => None,
    };

    let pools: Vec<Mempool<'_>> = lcores
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            Mempool::pktmbuf(
                eal,
                &format!("tw_pool_{i}"),
                args.mbufs,
                256,
                Mempool::DEFAULT_DATA_ROOM,
                eal.lcore_socket(l),
            )
            .with_context(|| format!("creating mbuf pool {i} ({} mbufs)", args.mbufs))
        })
        .collect::<Result<_>>()?;

    let rx_cfg = PortConfig {
        rx_queues: args.rx_queues,
        tx_queues: if same_port { args.rx_queues } else { 1 } + u16::from(ctl_on_rx),
        rx_descriptors: args.descriptors,
        tx_descriptors: args.descriptors,
        tx_fast_free: same_port,
        ..PortConfig::default()
    };
    let (mut rx_port, rx_extra) = configure_port(eal, rx_id, &rx_cfg, &pools, ctl_pool)
        .with_context(|| format!("configuring RX port {}", args.rx_port))?;
    let tx_port_own = if same_port {
        None
    } else {
        let cfg = PortConfig {
            rx_queues: 1,
            tx_queues: args.rx_queues + u16::from(ctl_on_tx),
            tx_fast_free: true,
            ..rx_cfg.clone()
        };
        Some(
            configure_port(eal, tx_id, &cfg, &pools[..1], ctl_pool)
                .with_context(|| format!("configuring TX port {tx_id}"))?,
        )
    };
    let (mut tx_port_own, tx_extra) = match tx_port_own {
        Some((p, extra)) => (Some(p), extra),
        None => (None, 0..0),
    };
    // Extra RX queues get frames (the device spreads flows over all of
    // them): those of the RX port are polled by the first worker in turn
    // with its own (feed frames there reach the engine; the rest is
    // forwarded to the control plane as usual); those of a separate TX port
    // by the control plane when it runs there; elsewhere nobody can.
    if !rx_extra.is_empty() {
        eprintln!(
            "tickwire: note: port {rx_id} ({}) needs as many RX as TX queues; worker 0 also polls its RX queue(s) {rx_extra:?}",
            eal.port_name(rx_id).unwrap_or_default(),
        );
    }
    if !tx_extra.is_empty() {
        eprintln!(
            "tickwire: warning: port {tx_id} ({}) needs as many RX as TX queues; its RX queue(s) {tx_extra:?} {}",
            eal.port_name(tx_id).unwrap_or_default(),
            if ctl_on_tx {
                "are polled by the control plane"
            } else {
                "are not polled (frames landing there are lost)"
            }
        );
    }
    let mut ctl_port_own = match (ctl_own, ctl_pool) {
        (Some(id), Some(pool)) => {
            let cfg = PortConfig {
                rx_queues: 1,
                tx_queues: 1,
                rx_descriptors: 512,
                tx_descriptors: 512,
                ..PortConfig::default()
            };
            Some(
                Port::configure(eal, id, &cfg, &[pool])
                    .with_context(|| format!("configuring control port {id}"))?,
            )
        }
        _ => None,
    };
    // Line B on a port of its own: one RX queue, polled by the worker in
    // turn with its RX queue.
    let mut line_b_port = match &args.line_b {
        Some(feed::LineSpec::Port(name)) => {
            let id = resolve_port(eal, name).context("--line-b")?;
            if id == rx_id || Some(id) == ctl_own || (!same_port && id == tx_id) {
                bail!(
                    "--line-b {name}: that port already has a role (RX, TX or control); give line B's own port, or GROUP:PORT on the RX port"
                );
            }
            let cfg = PortConfig {
                rx_queues: 1,
                tx_queues: 1,
                ..rx_cfg.clone()
            };
            Some(
                Port::configure(eal, id, &cfg, &pools[..1])
                    .with_context(|| format!("configuring line B's port {name}"))?,
            )
        }
        _ => None,
    };
    if let Some(p) = line_b_port.as_mut() {
        p.start().context("starting line B's port")?;
    }
    rx_port.start().context("starting RX port")?;
    if let Some(p) = tx_port_own.as_mut() {
        p.start().context("starting TX port")?;
    }
    if let Some(p) = ctl_port_own.as_mut() {
        p.start().context("starting control port")?;
    }
    let tx_port = tx_port_own.as_ref().unwrap_or(&rx_port);
    let src_mac = match args.src_mac {
        Some(m) => m,
        None => tx_port.mac_address().context("reading the TX port's MAC")?,
    };
    let dst_ip = args.dst_ip.octets();
    let dst_mac = args.dst_mac.unwrap_or(if args.dst_ip.is_multicast() {
        ipv4_multicast_mac(dst_ip)
    } else {
        [0xff; 6]
    });
    let addr = OutputAddress {
        src_mac,
        dst_mac,
        src_ip: args.src_ip.octets(),
        dst_ip,
        src_port: args.src_port,
        dst_port: args.dst_port,
        max_payload: usize::from(args.mtu) - 28,
    };

    // Engine tables per worker, on the worker's socket.
    let s = engine_cfg.storage_sizes().map_err(|e| anyhow!("{e}"))?;
    let mut storages = Vec::with_capacity(n);
    for &l in lcores {
        let sock = eal.lcore_socket(l);
        let ctx = |what: &str| {
            format!("allocating the {what} table in DPDK memory (socket {sock:?}); lower --max-orders/--max-levels or give the EAL more memory (-m)")
        };
        storages.push(WorkerStorage {
            orders: DpdkBox::new_zeroed_slice(eal, s.order_slots, sock)
                .with_context(|| ctx("order"))?,
            levels: DpdkBox::new_zeroed_slice(eal, s.levels, sock).with_context(|| ctx("level"))?,
            symbols: DpdkBox::new_zeroed_slice(eal, s.symbols, sock)
                .with_context(|| ctx("symbol"))?,
            vwap: DpdkBox::new_zeroed_slice(eal, s.vwap_buckets, sock)
                .with_context(|| ctx("VWAP"))?,
        });
    }

    let tsc_hz = eal.tsc_hz();
    let wall_base_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let tsc_base = dpdk::rdtsc();
    let idle_exit_cycles = args
        .idle_exit
        .map(|ns| (u128::from(ns) * u128::from(tsc_hz) / 1_000_000_000) as u64);
    let live: Vec<LiveStats> = (0..n).map(|_| LiveStats::default()).collect();
    // Live metrics: a slot per worker, copied at its housekeeping tick,
    // read by the HTTP server (--metrics-listen) and DPDK telemetry.
    let hub = std::sync::Arc::new(metrics::Hub::new(
        n,
        tsc_hz,
        Duration::from_nanos(args.stale_after),
        control.is_some_and(|c| c.fix_listen.is_some()),
        !on_main,
    ));

    // FIX sessions: a record ring per worker into the publisher on the
    // main lcore.
    let serve_fix = control.is_some_and(|c| c.fix_listen.is_some()) && !args.control_echo;
    // NATS takes the same records: from the FIX publisher when there is
    // one, else straight from the rings.
    let mut nats = match args.nats.enabled() {
        true => {
            let mut cfg = args.nats.config("tickwire");
            cfg.cpus = helper_cpus(eal, cpus_before_eal.as_deref(), lcores);
            Some(tickwire::nats::Bridge::start(cfg).context("--nats")?)
        }
        false => None,
    };
    if nats.is_some() {
        eprintln!(
            "tickwire: NATS bridge connected to {}{}, subjects {}.SESSION.SYMBOL",
            args.nats.servers.join(", "),
            args.nats
                .nats_stream
                .as_ref()
                .map(|s| format!(", JetStream stream {s}"))
                .unwrap_or_default(),
            args.nats.nats_prefix
        );
    }
    let nats_watch = nats.as_ref().map(|(_, b)| b.watch());
    let nats_on = nats.is_some();
    let record_depth = match (serve_fix, nats_on) {
        (true, true) => args.max_depth.max(args.nats.nats_depth),
        (true, false) => args.max_depth,
        (false, _) => args.nats.nats_depth,
    };
    let mut record_rings: Vec<RecordRing> = if serve_fix || nats.is_some() {
        (0..n).map(|_| RecordRing::new(args.record_ring)).collect()
    } else {
        Vec::new()
    };
    let (mut producers, consumers_all): (Vec<_>, Vec<_>) =
        record_rings.iter_mut().map(RecordRing::split).unzip();
    let mut consumers = Some(consumers_all);
    let mut producers = producers.drain(..).map(Some).collect::<Vec<_>>();
    producers.resize_with(n, || None);
    let hold = FeedHold::default();
    let mut publisher_storage = None;
    let mut nats_tx = nats.as_mut().map(|(tx, _)| tx);
    let mut host_publisher = match control.and_then(|c| c.fix_listen.as_ref()) {
        Some(listen) if serve_fix => {
            let clients = tickwire::publish::parse_clients(&args.target)?;
            let pcfg = PublisherConfig {
                session: SessionConfig {
                    sender: CompId::new(args.sender.as_bytes())
                        .map_err(|e| anyhow!("--sender: {e}"))?,
                    target: clients[0],
                    precision: args.time_precision,
                    max_skew_ns: 120_000_000_000,
                },
                clients,
                one_session_per_client: args.one_session_per_client,
                max_sessions: listen.max_sessions,
                requests_per_session: usize::from(args.fix_max_requests),
                max_depth: args.max_depth,
                max_locates: args.max_locates,
            };
            let storage = publisher_storage.insert(PublisherStorage::new(&pcfg));
            Some(HostPublisher::new(
                Publisher::new(pcfg, storage)?,
                consumers.take().unwrap_or_default(),
                args.wait_for_subscription.then_some(&hold),
                wall_base_ns,
                tsc_base,
                tsc_hz,
                args.slow_consumer_grace,
                nats_tx.take(),
            ))
        }
        _ => None,
    };
    // NATS without FIX sessions: the main lcore only moves records.
    let mut nats_pump = nats_tx
        .take()
        .map(|tx| publisher::RecordPump::new(consumers.take().unwrap_or_default(), tx));
    let forward_ring = if ctl_on_rx {
        Some(
            ForwardRing::new(eal, n, eal.lcore_socket(eal.main_lcore()))
                .context("creating the control plane's forwarding ring")?,
        )
    } else {
        None
    };

    eprintln!(
        "tickwire: {} worker(s) on lcore(s) {:?}, RX port {} ({}), TX port {} ({}), UDP ports {:?}, hugepages: {}, engine tables {:.1} MiB/worker",
        n,
        lcores,
        rx_id,
        eal.port_name(rx_id).unwrap_or_default(),
        tx_id,
        eal.port_name(tx_id).unwrap_or_default(),
        args.ports,
        eal.has_hugepages(),
        storage_bytes as f64 / (1 << 20) as f64
    );

    // MoldUDP64 re-request channels into the control plane: one per worker
    // (the one that sequences the feed in lines mode) and, last, the main
    // lcore's (--control-send-request).
    let (recovery_tx, mut recovery_rx) = recovery::channels(n + 1, recovery::CHANNEL_SLOTS);
    let mut recovery_tx: Vec<Option<recovery::RecoveryTx>> =
        recovery_tx.into_iter().map(Some).collect();
    let mut main_recovery_tx = recovery_tx.pop().flatten();
    let lines = if args.lines_mode() {
        Some(lines_setup(args, control, rx_id, line_b_port.is_some())?)
    } else {
        None
    };
    let mut rxq_b = match &line_b_port {
        Some(p) => Some(p.rx_queue(0).context("line B's RX queue")?),
        None => None,
    };

    let mut contexts = Vec::with_capacity(n);
    for (q, (storage, &lcore)) in storages.into_iter().zip(lcores).enumerate() {
        let q16 = q as u16;
        let rxq = rx_port.rx_queue(q16).context("RX queue")?;
        let txq = tx_port.tx_queue(q16).context("TX queue")?;
        let session = FixSession::new(
            args.sender.as_bytes(),
            tickwire::publish::first_client(&args.target).as_bytes(),
            args.time_precision,
        )
        .map_err(|e| anyhow!("{e}"))?;
        let records = producers.get_mut(q).and_then(Option::take);
        contexts.push(WorkerContext {
            lcore,
            rxq,
            sink: WorkerSink {
                tx: TxSink::new(pools[q], txq, session, addr),
                // With FIX sessions or NATS the datagrams are opt-out.
                udp: !((serve_fix || nats_on) && args.no_udp_output),
                records,
                depth: usize::from(record_depth),
                stall_start: None,
                directory_refused: 0,
                udp_skipped: 0,
            },
            storage,
            engine: *engine_cfg,
            ports: args.ports.clone(),
            tsc_hz,
            idle_exit_cycles,
            wall_base_ns,
            tsc_base,
            live: &live[q],
            exit_on_end_of_session: args.exit_on_end_of_session,
            forward: match &forward_ring {
                Some(r) => Some(r.forwarder().context("forwarding ring producer")?),
                None => None,
            },
            release: (serve_fix && args.wait_for_subscription).then_some(&hold),
            feed: lines.as_ref().map(|l| FeedSetup {
                select: l.select,
                config: l.config,
                reorder_buffer: l.reorder_buffer,
                servers: l.servers.clone(),
                requests: if l.servers.is_empty() {
                    None
                } else {
                    recovery_tx.get_mut(q).and_then(Option::take)
                },
            }),
            rxq_b: rxq_b.take(),
            rxq_extra: if q == 0 {
                rx_extra
                    .clone()
                    .map(|x| rx_port.rx_queue(x).context("extra RX queue"))
                    .collect::<Result<Vec<_>>>()?
            } else {
                Vec::new()
            },
            metrics: Some(&hub.slots[q]),
        });
    }

    let mut control_plane = match (control, ctl_id, ctl_pool) {
        (Some(settings), Some(id), Some(pool)) => {
            let port: &Port<'_> = if ctl_on_rx {
                &rx_port
            } else if ctl_on_tx {
                tx_port
            } else {
                ctl_port_own
                    .as_ref()
                    .ok_or_else(|| anyhow!("control port {id} was not configured"))?
            };
            let mut rx = match &forward_ring {
                Some(r) => RxSource::ring(r.ring().consumer().context("forwarding ring consumer")?),
                None => RxSource::queue(port.rx_queue(0).context("control RX queue")?),
            };
            let extra = if ctl_on_tx { tx_extra.clone() } else { 0..0 };
            for q in extra {
                rx = rx.and_queue(port.rx_queue(q).context("control RX queue")?);
            }
            let txq = port
                .tx_queue(port.tx_queue_count() - 1)
                .context("control TX queue")?;
            let mac = port
                .mac_address()
                .context("reading the control port's MAC")?;
            let device = MbufDevice::new(rx, txq, pool, CONTROL_FRAME_MAX);
            let mut cp = ControlPlane::new(
                device,
                mac,
                settings,
                forward_ring.as_ref(),
                dpdk::rdtsc(),
                tsc_hz,
            );
            eprintln!(
                "tickwire: control plane on port {id} ({}) MAC {}, {}/{}{}{}, {}",
                eal.port_name(id).unwrap_or_default(),
                mac.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":"),
                settings.ip,
                settings.prefix_len,
                settings
                    .gateway
                    .map(|g| format!(" via {g}"))
                    .unwrap_or_default(),
                settings
                    .fix_listen
                    .map(|l| format!(
                        ", FIX listening on {} ({} sessions)",
                        l.addr, l.max_sessions
                    ))
                    .unwrap_or_default(),
                if ctl_on_rx {
                    "fed by the workers' ring"
                } else {
                    "polling its RX queue 0"
                }
            );
            let rr_port = cp.attach_recovery(
                settings.rerequest_source_port,
                std::mem::take(&mut recovery_rx),
                dpdk::rdtsc(),
            );
            for &r in &settings.send_requests {
                // A full channel refuses and counts it (channel_full).
                let _ = main_recovery_tx.as_mut().map(|tx| tx.try_send(r));
            }
            cp.join_multicast_groups(&settings.joins)
                .map_err(|e| anyhow!("--join: {e}"))?;
            let filter = igmp::set_port_filter(port, &settings.joins)
                .context("--join: setting the port's multicast filter")?;
            eprintln!(
                "tickwire: control plane re-requests from UDP port {rr_port}; multicast groups joined: {:?} (port filter: {filter})",
                settings.joins
            );
            Some(cp)
        }
        _ => None,
    };

    // Ports as the main lcore reports them (statistics, link).
    let mut port_list: Vec<(&'static str, &Port<'_>)> = vec![("rx", &rx_port)];
    if let Some(p) = tx_port_own.as_ref() {
        port_list.push(("tx", p));
    }
    if let Some(p) = ctl_port_own.as_ref() {
        port_list.push(("control", p));
    }
    if let Some(p) = line_b_port.as_ref() {
        port_list.push(("line_b", p));
    }
    let mut metrics_tick = |cp: Option<&ControlPlane<'_, '_>>| {
        let ports = port_list
            .iter()
            .map(|(role, p)| metrics::PortSnap {
                role,
                name: eal.port_name(p.id()).unwrap_or_default(),
                stats: p.stats().ok(),
                link_up: p.link().is_ok_and(|l| l.up),
            })
            .collect();
        hub.main_tick(ports, cp.map(|c| (c.counters(), c.fix_listening())));
        if let Some(w) = &nats_watch {
            hub.set_nats(w.counters());
        }
    };
    metrics_tick(control_plane.as_ref());
    let _telemetry = metrics::telemetry::register(std::sync::Arc::clone(&hub))
        .map_err(|e| anyhow!("DPDK telemetry: {e}"))?;
    let _metrics_server = match args.metrics_listen {
        Some(addr) => {
            let s = metrics::http::spawn(std::sync::Arc::clone(&hub), addr)
                .with_context(|| format!("--metrics-listen {addr}"))?;
            eprintln!(
                "tickwire: metrics on http://{}/metrics (/livez, /readyz)",
                s.addr
            );
            Some(s)
        }
        None => None,
    };

    let started = Instant::now();
    let results: Vec<std::result::Result<WorkerReport, String>> = if on_main {
        contexts.into_iter().map(worker::run).collect()
    } else {
        eal.scope(|scope| {
            let mut handles = Vec::new();
            for ctx in contexts {
                let lcore = ctx.lcore;
                handles.push((lcore, scope.launch(lcore, move || worker::run(ctx))));
            }
            let mut fix_next = 0u64;
            let fix_every = tsc_hz / 10;
            let mut fix_turn = |cp: &mut ControlPlane<'_, '_>, tsc: u64| {
                if let Some(p) = host_publisher.as_mut() {
                    p.turn(cp, tsc);
                    if tsc >= fix_next {
                        fix_next = tsc + fix_every;
                        hub.set_fix(p.counters(), p.drained);
                    }
                }
            };
            let hook: &mut ControlHook<'_> = if serve_fix { &mut fix_turn } else { &mut *hook };
            let has_pump = nats_pump.is_some();
            let mut pump_turn = || nats_pump.as_mut().is_some_and(|p| p.turn());
            main_loop(
                &live,
                args.stats_interval,
                started,
                control_plane.as_mut(),
                hook,
                has_pump.then_some(&mut pump_turn as &mut dyn FnMut() -> bool),
                serve_fix.then(|| Duration::from_nanos(args.linger)),
                &mut metrics_tick,
            );
            handles
                .into_iter()
                .map(|(lcore, h)| match h {
                    Ok(h) => h.join().unwrap_or_else(|p| {
                        Err(format!(
                            "worker on lcore {lcore} panicked: {}",
                            panic_text(&p)
                        ))
                    }),
                    Err(e) => Err(format!("launching on lcore {lcore}: {e}")),
                })
                .collect()
        })
    };
    let elapsed = started.elapsed();
    if let Some(cp) = control_plane.as_mut() {
        // IGMPv2 Leave Group for every group, before the port stops.
        cp.leave_all_multicast_groups();
    }
    let control_counters = control_plane.as_ref().map(ControlPlane::counters);
    drop(control_plane);

    let rx_stats = rx_port.stats().ok();
    let tx_stats = if same_port {
        rx_stats
    } else {
        tx_port.stats().ok()
    };
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(r) => reports.push(r),
            Err(e) => failures.push(e),
        }
    }
    let mut summary = report::build(
        &reports,
        tsc_hz,
        elapsed,
        rx_stats,
        tx_stats,
        eal.has_hugepages(),
        storage_bytes,
    );
    report::add_control(&mut summary, control_counters);
    report::add_fix(
        &mut summary,
        host_publisher.as_ref().map(|p| (p.counters(), p.drained)),
    );
    drop(host_publisher);
    // What the workers left in the rings goes out too (waiting a little
    // for room: the feed is over), then the bridge finishes its publishes.
    let pump_drained = nats_pump.as_mut().map(|p| {
        p.finish(Duration::from_secs(2));
        p.drained
    });
    drop(nats_pump);
    let nats_final = nats.take().map(|(tx, b)| {
        let watch = b.watch();
        let c = b.finish(tx);
        (c, watch.last_error())
    });
    report::add_nats(&mut summary, nats_final, pump_drained);
    eprintln!("{}", report::human(&summary));
    if let Some(p) = &args.stats_json {
        std::fs::write(p, serde_json::to_string_pretty(&summary)? + "\n")
            .with_context(|| format!("writing {}", p.display()))?;
    }
    drop(forward_ring);
    drop(ctl_port_own);
    drop(rx_port);
    drop(tx_port_own);
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    Ok(())
}

/// CPUs for a helper thread: those we were given that no lcore runs on,
/// else those no worker lcore polls (sharing the main lcore's), else
/// None (stay where started).
fn helper_cpus(eal: &Eal, given: Option<&[usize]>, workers: &[u32]) -> Option<Vec<usize>> {
    let given = given?;
    let cpu = |l: u32| eal.lcore_cpu(l).map(|c| c as usize);
    let worker_cpus: Vec<usize> = workers.iter().filter_map(|&l| cpu(l)).collect();
    let main_cpu = cpu(eal.main_lcore());
    let free: Vec<usize> = given
        .iter()
        .copied()
        .filter(|c| !worker_cpus.contains(c) && Some(*c) != main_cpu)
        .collect();
    if !free.is_empty() {
        return Some(free);
    }
    let off_workers: Vec<usize> = given
        .iter()
        .copied()
        .filter(|c| !worker_cpus.contains(c))
        .collect();
    (!off_workers.is_empty()).then_some(off_workers)
}

/// Configures a port. Some devices (net_tap) need as many RX as TX queues
/// and refuse the uneven layouts used here (a TX queue per worker plus the
/// control plane's, RX queues only for workers): then the port is configured
/// again with the larger count for both, the added RX queues taking mbufs
/// from `extra_pool` (or the first pool). Returns the port and the RX queues
/// added that way, which nobody polls unless the caller sees to it.
fn configure_port<'e>(
    eal: &'e Eal,
    id: u16,
    cfg: &PortConfig,
    pools: &[Mempool<'e>],
    extra_pool: Option<Mempool<'e>>,
) -> dpdk::Result<(Port<'e>, std::ops::Range<u16>)> {
    let err = match Port::configure(eal, id, cfg, pools) {
        Ok(p) => return Ok((p, 0..0)),
        Err(e) => e,
    };
    if cfg.tx_queues <= cfg.rx_queues {
        return Err(err);
    }
    let even = PortConfig {
        rx_queues: cfg.tx_queues,
        ..cfg.clone()
    };
    let mut even_pools = pools.to_vec();
    if pools.len() > 1 {
        let extra = extra_pool.unwrap_or(pools[0]);
        even_pools.resize(usize::from(even.rx_queues), extra);
    }
    match Port::configure(eal, id, &even, &even_pools) {
        Ok(p) => Ok((p, cfg.rx_queues..even.rx_queues)),
        Err(_) => Err(err),
    }
}

/// Lines mode, resolved.
struct LinesSetup {
    select: feed::LineSelect,
    config: tickwire_core::feed::FeedConfig,
    reorder_buffer: usize,
    servers: Vec<std::net::SocketAddrV4>,
}

/// Checks the lines options against the rest and resolves them.
fn lines_setup(
    args: &HostArgs,
    control: Option<&ControlSettings>,
    rx_id: u16,
    b_own_port: bool,
) -> Result<LinesSetup> {
    if args.rx_queues != 1 {
        bail!(
            "lines mode (--line-a/--line-b/--rerequest/--backfill) runs the feed on one worker: give --rx-queues 1"
        );
    }
    let group = |l: &Option<feed::LineSpec>| match l {
        Some(feed::LineSpec::Group(ip, port)) => Some((ip.octets(), *port)),
        _ => None,
    };
    for (l, name) in [(&args.line_a, "--line-a"), (&args.line_b, "--line-b")] {
        if let Some(feed::LineSpec::Group(_, port)) = l {
            if !args.ports.is_empty() && !args.ports.contains(port) {
                bail!(
                    "{name}: UDP port {port} is not one of --ports {:?}",
                    args.ports
                );
            }
        }
    }
    if let Some(feed::LineSpec::Port(name)) = &args.line_a {
        let _ = (name, rx_id); // the RX port by definition (checked by name below)
        if name != &args.rx_port && name.parse::<u16>().ok() != Some(rx_id) {
            bail!("--line-a {name}: line A is read from the RX port; give --rx-port {name} instead (or GROUP:PORT)");
        }
    }
    if args.line_a.is_some() && args.line_a == args.line_b {
        bail!("--line-a and --line-b name the same line");
    }
    let lines = if args.line_b.is_some() { 2 } else { 1 };
    let servers = args.rerequest.clone();
    if servers.len() > usize::from(u8::MAX) {
        bail!("--rerequest: at most 255 servers");
    }
    if args.recovery.backfill && servers.is_empty() {
        bail!("--backfill fetches the session from sequence 1 through a re-request server: give --rerequest ADDR:PORT");
    }
    Ok(LinesSetup {
        select: feed::LineSelect {
            a: group(&args.line_a),
            b: group(&args.line_b),
            b_own_port,
            our_ip: control.map(|c| c.ip.octets()),
        },
        config: args.recovery.config(lines, servers.len() as u8),
        reorder_buffer: args.recovery.reorder_buffer as usize,
        servers,
    })
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

/// The main lcore's loop while workers run: polls the control plane (if
/// any) and calls the hook as fast as it can, pausing briefly when there is
/// nothing to do, and prints a stats line every interval.
#[allow(clippy::too_many_arguments)]
fn main_loop(
    live: &[LiveStats],
    interval_ns: u64,
    started: Instant,
    mut control: Option<&mut ControlPlane<'_, '_>>,
    hook: &mut ControlHook<'_>,
    mut pump: Option<&mut dyn FnMut() -> bool>,
    linger: Option<Duration>,
    metrics_tick: &mut dyn FnMut(Option<&ControlPlane<'_, '_>>),
) {
    use std::sync::atomic::Ordering::Relaxed;
    // Without a control plane or records to move there is nothing to poll:
    // check on the workers every 50 ms as before.
    let polling = control.is_some() || pump.is_some();
    let idle_pause = if polling {
        Duration::from_micros(20)
    } else {
        Duration::from_millis(50)
    };
    let every = Duration::from_nanos(interval_ns);
    let mut next = started + every;
    let mut last_msgs = 0u64;
    let mut last_t = started;
    let mut idle_turns = 0u32;
    let tick_every = Duration::from_millis(100);
    let mut next_tick = Instant::now();
    while !live.iter().all(|l| l.done.load(Relaxed)) {
        if Instant::now() >= next_tick {
            next_tick = Instant::now() + tick_every;
            metrics_tick(control.as_deref());
        }
        let mut busy = false;
        if let Some(cp) = control.as_deref_mut() {
            let now = dpdk::rdtsc();
            busy = cp.poll(now);
            hook(cp, now);
        }
        if let Some(p) = pump.as_deref_mut() {
            busy |= p();
        }
        if busy {
            idle_turns = 0;
        } else {
            // Spin a little after traffic (replies tend to follow), then
            // give the core back in short naps.
            idle_turns = idle_turns.saturating_add(1);
            if polling && idle_turns < 1024 {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(idle_pause);
            }
        }
        if interval_ns == 0 || Instant::now() < next {
            continue;
        }
        next += every;
        let rx: u64 = live.iter().map(|l| l.rx_packets.load(Relaxed)).sum();
        let msgs: u64 = live.iter().map(|l| l.messages.load(Relaxed)).sum();
        let sent: u64 = live.iter().map(|l| l.fix_sent.load(Relaxed)).sum();
        let dropped: u64 = live.iter().map(|l| l.fix_dropped.load(Relaxed)).sum();
        let now = Instant::now();
        let rate = (msgs - last_msgs) as f64 / now.duration_since(last_t).as_secs_f64().max(1e-9);
        (last_msgs, last_t) = (msgs, now);
        let ctl = control.as_deref().map_or(String::new(), |cp| {
            let c = cp.counters();
            format!(
                ", control {} in / {} out, {} sessions open",
                c.device.rx_frames, c.device.tx_frames, c.tcp_open
            )
        });
        eprintln!("[{:>7.1}s] rx {rx} frames, {msgs} msgs ({:.2} M msg/s), fix {sent} sent / {dropped} dropped{ctl}", started.elapsed().as_secs_f64(), rate / 1e6);
    }
    // The feed is over; FIX sessions are served on (their last snapshots
    // are still draining) until none has been open for `linger`.
    let (Some(linger), Some(cp)) = (linger, control) else {
        return;
    };
    eprintln!(
        "tickwire: workers done; serving FIX sessions until none has been open for {linger:?}"
    );
    let mut idle_since: Option<Instant> = None;
    while !signal::quit_requested() {
        if Instant::now() >= next_tick {
            next_tick = Instant::now() + tick_every;
            metrics_tick(Some(&*cp));
        }
        let now = dpdk::rdtsc();
        let busy = cp.poll(now);
        hook(cp, now);
        if cp.counters().tcp_open > 0 {
            idle_since = None;
        } else if idle_since.get_or_insert_with(Instant::now).elapsed() >= linger {
            break;
        }
        if !busy {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}
