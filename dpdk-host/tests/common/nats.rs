//! Real `nats-server` processes (Debian's) for the NATS tests: one server or
//! a three-node JetStream cluster on loopback ports of their own, with their
//! store in the test's temp dir, killed (SIGKILL, like a crash) and
//! restarted on demand, stopped on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian installs it in /usr/sbin, which a non-root PATH may lack.
pub fn nats_server_bin() -> PathBuf {
    for p in ["/usr/sbin/nats-server", "/usr/bin/nats-server"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("nats-server is not installed: run scripts/setup.sh (Debian package nats-server)")
}

/// A loopback port nobody listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One server.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    /// Client port.
    pub port: u16,
    /// Monitoring port (/healthz).
    pub http_port: u16,
    config: PathBuf,
    log: PathBuf,
}

/// Cluster membership of a server: its name, route port and every route.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Cluster name.
    pub cluster: String,
    /// This server's route port.
    pub route_port: u16,
    /// Every member's route port (this one's included).
    pub routes: Vec<u16>,
}

impl NatsServer {
    /// Starts a JetStream server named `name` with its store under `dir`,
    /// and waits until it is healthy (JetStream included).
    pub fn start(dir: &Path, name: &str, cluster: Option<ClusterSpec>) -> NatsServer {
        let port = free_port();
        let http_port = free_port();
        let store = dir.join(format!("{name}-store"));
        std::fs::create_dir_all(&store).expect("nats store dir");
        let mut conf = format!(
            "server_name: {name}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{http_port}\n\
             jetstream {{\n  store_dir: {store:?}\n  max_memory_store: 64MB\n  max_file_store: 1GB\n}}\n"
        );
        if let Some(c) = &cluster {
            let routes: Vec<String> = c
                .routes
                .iter()
                .map(|p| format!("nats-route://127.0.0.1:{p}"))
                .collect();
            conf += &format!(
                "cluster {{\n  name: {}\n  listen: 127.0.0.1:{}\n  routes: [{}]\n}}\n",
                c.cluster,
                c.route_port,
                routes.join(", ")
            );
        }
        let config = dir.join(format!("{name}.conf"));
        std::fs::write(&config, conf).expect("nats config");
        let log = dir.join(format!("{name}.log"));
        let mut s = NatsServer {
            child: None,
            port,
            http_port,
            config,
            log,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("nats log");
        let child = Command::new(nats_server_bin())
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting nats-server");
        self.child = Some(child);
    }

    /// nats://127.0.0.1:PORT
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Waits until /healthz says ok (JetStream ready; in a cluster, a
    /// meta leader known), up to `timeout`.
    pub fn wait_healthy(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.healthz().is_some_and(|b| b.contains("\"ok\"")) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nats-server on {} not healthy after {timeout:?}; log:\n{}",
                self.port,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn healthz(&self) -> Option<String> {
        super::http_get(self.http_port, "/healthz")
            .ok()
            .map(|(_, body)| body)
    }

    /// SIGKILL, as a crash: nothing is flushed or said to clients.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same ports and store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three JetStream servers routed to each other.
pub fn cluster3(dir: &Path) -> Vec<NatsServer> {
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let servers: Vec<NatsServer> = (0..3)
        .map(|i| {
            NatsServer::start(
                dir,
                &format!("n{i}"),
                Some(ClusterSpec {
                    cluster: "tickwire-test".into(),
                    route_port: routes[i],
                    routes: routes.clone(),
                }),
            )
        })
        .collect();
    for s in &servers {
        s.wait_healthy(Duration::from_secs(30));
    }
    servers
}
