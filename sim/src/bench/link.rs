//! `tandem-sim bench link`: many simulated nodes against one coordinator.
//!
//! The coordinator runs in a child process (this same binary, hidden subcommand
//! `coordinator-child`) so its resident memory can be read alone from /proc. The
//! nodes are real QUIC + mTLS sessions with real enrolled identities, speaking the
//! real control protocol, from this process. Like real gateways, simulated nodes
//! do not all share one UDP socket: each client endpoint carries
//! [`NODES_PER_SOCKET`] of them (one shared socket overflows its receive buffer
//! under concurrent handshake flights and measures the harness, not the coordinator).

use super::nodes::{Pinger, connect, enroll_all};
use super::percentile;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_coordinator::Coordinator;
use tandem_coordinator::admin::{self, AdminRequest, AdminResponse};
use tokio::sync::{Semaphore, oneshot};

/// Simulated nodes per client UDP socket.
pub const NODES_PER_SOCKET: usize = 16;

/// Benchmark parameters.
#[derive(Debug, Clone)]
pub struct LinkBenchOptions {
    pub nodes: usize,
    /// Handshakes in flight at once.
    pub concurrency: usize,
    /// Round trips measured per node.
    pub pings: usize,
    /// Settling time before memory is read.
    pub idle: Duration,
}

/// What the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct LinkBenchReport {
    pub nodes: usize,
    pub connected: usize,
    pub online_per_coordinator: usize,
    pub handshakes_per_sec: f64,
    pub connect_p50_ms: f64,
    pub connect_p99_ms: f64,
    pub coordinator_rss_base_kib: u64,
    pub coordinator_rss_loaded_kib: u64,
    pub kib_per_idle_node: f64,
    pub baseline_rtt_p50_ms: f64,
    pub baseline_rtt_p99_ms: f64,
    pub rtt_p50_ms: f64,
    pub rtt_p99_ms: f64,
    pub rtt_max_ms: f64,
    pub rtt_samples: usize,
}

/// Runs the benchmark; `exe` is the binary holding the `coordinator-child` command.
pub async fn run(options: &LinkBenchOptions, exe: &Path) -> Result<LinkBenchReport> {
    let dir = tempfile::tempdir()?;
    eprintln!("enrolling {} nodes...", options.nodes);
    let started = Instant::now();
    let enrolled = {
        let dir = dir.path().to_path_buf();
        let n = options.nodes;
        tokio::task::spawn_blocking(move || enroll_all(&dir, n)).await??
    };
    eprintln!("enrolled in {:.1?}", started.elapsed());

    let mut child = ChildCoordinator::spawn(exe, dir.path())?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let local: std::net::SocketAddr = "127.0.0.1:0".parse()?;
    let endpoints = (0..options.nodes.div_ceil(NODES_PER_SOCKET))
        .map(|_| quinn::Endpoint::client(local))
        .collect::<Result<Vec<_>, _>>()?;
    let endpoint = &endpoints[0];
    let addr = child.addr;

    // Baseline: one node alone, before the crowd arrives.
    let mut enrolled = enrolled.into_iter();
    let first = enrolled.next().context("no nodes")?;
    let (probe, _) = connect(endpoint, addr, first).await?;
    let baseline = ping_all(std::slice::from_ref(&probe), options.pings.max(50)).await;
    let base_rss = child.rss_kib()?;

    eprintln!(
        "connecting {} nodes, {} at a time...",
        options.nodes - 1,
        options.concurrency
    );
    let gate = Arc::new(Semaphore::new(options.concurrency));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, node) in enrolled.enumerate() {
        let endpoint = endpoints[(i + 1) / NODES_PER_SOCKET].clone();
        let gate = gate.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            connect(&endpoint, addr, node).await
        });
    }
    let mut pingers = vec![probe];
    let mut connect_times = Vec::new();
    let mut failures = 0usize;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((pinger, took))) => {
                pingers.push(pinger);
                connect_times.push(took);
            }
            Ok(Err(e)) => {
                failures += 1;
                if failures <= 3 {
                    eprintln!("connect failed: {e:#}");
                }
            }
            Err(e) => bail!("node task failed: {e}"),
        }
    }
    let elapsed = started.elapsed();
    let handshakes_per_sec = connect_times.len() as f64 / elapsed.as_secs_f64();
    connect_times.sort();
    eprintln!(
        "{} connected in {elapsed:.1?} ({handshakes_per_sec:.0}/s), {failures} failed; settling {:?}",
        pingers.len(),
        options.idle
    );
    tokio::time::sleep(options.idle).await;
    let loaded_rss = child.rss_kib()?;
    let online = match admin::request(dir.path(), AdminRequest::ListNodes).await? {
        AdminResponse::Nodes { nodes } => nodes.iter().filter(|n| n.online).count(),
        other => bail!("unexpected admin answer {other:?}"),
    };
    eprintln!("measuring control round trips...");
    let loaded = ping_all(&pingers, options.pings).await;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let connected = pingers.len();
    let report = LinkBenchReport {
        nodes: options.nodes,
        connected,
        online_per_coordinator: online,
        handshakes_per_sec,
        connect_p50_ms: ms(percentile(&connect_times, 50.0)),
        connect_p99_ms: ms(percentile(&connect_times, 99.0)),
        coordinator_rss_base_kib: base_rss,
        coordinator_rss_loaded_kib: loaded_rss,
        kib_per_idle_node: loaded_rss.saturating_sub(base_rss) as f64
            / (connected.saturating_sub(1).max(1)) as f64,
        baseline_rtt_p50_ms: ms(percentile(&baseline, 50.0)),
        baseline_rtt_p99_ms: ms(percentile(&baseline, 99.0)),
        rtt_p50_ms: ms(percentile(&loaded, 50.0)),
        rtt_p99_ms: ms(percentile(&loaded, 99.0)),
        rtt_max_ms: ms(loaded.last().copied().unwrap_or_default()),
        rtt_samples: loaded.len(),
    };
    for p in &pingers {
        p.conn.close(quinn::VarInt::from_u32(0), b"bench done");
    }
    for e in &endpoints {
        e.wait_idle().await;
    }
    child.stop();
    Ok(report)
}

/// Every node measures `rounds` round trips, spread over time so the load is the
/// steady trickle of a live network rather than one burst.
async fn ping_all(pingers: &[Pinger], rounds: usize) -> Vec<Duration> {
    let mut set = tokio::task::JoinSet::new();
    let spread_ms = 1000u64;
    for (i, p) in pingers.iter().enumerate() {
        let ping = p.ping.clone();
        let offset = Duration::from_millis((i as u64 * 7919) % spread_ms);
        set.spawn(async move {
            let mut out = Vec::with_capacity(rounds);
            tokio::time::sleep(offset).await;
            for _ in 0..rounds {
                let (tx, rx) = oneshot::channel();
                if ping.send(tx).await.is_err() {
                    break;
                }
                match tokio::time::timeout(Duration::from_secs(5), rx).await {
                    Ok(Ok(Some(rtt))) => out.push(rtt),
                    _ => break,
                }
                tokio::time::sleep(Duration::from_millis(spread_ms / 4)).await;
            }
            out
        });
    }
    let mut all = Vec::new();
    while let Some(Ok(mut v)) = set.join_next().await {
        all.append(&mut v);
    }
    all.sort();
    all
}

/// The coordinator under test, in its own process.
struct ChildCoordinator {
    child: Child,
    addr: std::net::SocketAddr,
}

impl ChildCoordinator {
    fn spawn(exe: &Path, data: &Path) -> Result<Self> {
        let mut child = Command::new(exe)
            .arg("coordinator-child")
            .arg("--data")
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .spawn()?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .context("child did not report its address")?
            .parse()?;
        Ok(Self { child, addr })
    }

    fn rss_kib(&self) -> Result<u64> {
        super::rss_kib(Some(self.child.id())).context("no VmRSS in /proc status")
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildCoordinator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Body of the hidden `coordinator-child` command: serve and report the address.
pub async fn coordinator_child(data: &Path) -> Result<()> {
    let coordinator = Coordinator::open(data)?;
    let running = coordinator
        .serve(tandem_coordinator::server::ServeOptions {
            listen: "127.0.0.1:0".parse()?,
            http: None,
            http_tls: None,
        })
        .await?;
    let addr = running.local_addr().context("no local address")?;
    println!("listening {addr}");
    use std::io::Write;
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}

impl std::fmt::Display for LinkBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        writeln!(
            f,
            "link benchmark: {} nodes ({} connected, {} online per coordinator)",
            self.nodes, self.connected, self.online_per_coordinator
        )?;
        writeln!(
            f,
            "  handshakes (mTLS + hello/welcome): {:.0}/s; connect p50 {:.1} ms, p99 {:.1} ms",
            self.handshakes_per_sec, self.connect_p50_ms, self.connect_p99_ms
        )?;
        writeln!(
            f,
            "  coordinator RSS: {} KiB with 1 node, {} KiB with {} -> {:.1} KiB per idle node (goal < 100)",
            self.coordinator_rss_base_kib,
            self.coordinator_rss_loaded_kib,
            self.connected,
            self.kib_per_idle_node
        )?;
        writeln!(
            f,
            "  control round trip, 1 node:        p50 {:.2} ms, p99 {:.2} ms",
            self.baseline_rtt_p50_ms, self.baseline_rtt_p99_ms
        )?;
        writeln!(
            f,
            "  control round trip, {} nodes: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} samples (goal p99 < 5)",
            self.connected, self.rtt_p50_ms, self.rtt_p99_ms, self.rtt_max_ms, self.rtt_samples
        )?;
        write!(
            f,
            "  ratio loaded/baseline: p50 x{:.2}, p99 x{:.2}",
            ratio(self.rtt_p50_ms, self.baseline_rtt_p50_ms),
            ratio(self.rtt_p99_ms, self.baseline_rtt_p99_ms)
        )
    }
}
