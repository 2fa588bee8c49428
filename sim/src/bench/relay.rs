//! `tandem-sim bench relay`: media datagrams through the coordinator's relay.
//!
//! The coordinator runs on a runtime of its own, one OS thread, so the CPU it
//! spends is read exactly from that thread's scheduler statistics; forwarded
//! datagrams per CPU-second of that thread is the relay's cost per core, whatever
//! the simulated nodes (QUIC senders and receivers in this process) cost.

use super::nodes::{Pinger, connect, enroll_all};
use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tandem_coordinator::Coordinator;
use tandem_coordinator::media::LegEnd;
use tandem_coordinator::server::ServeOptions;
use tandem_node::media::LegId;
use tandem_node::media::datagram::{Flags, Header};

/// Benchmark parameters.
#[derive(Debug, Clone)]
pub struct RelayBenchOptions {
    /// Relayed legs (each joins two simulated nodes).
    pub pairs: usize,
    /// Datagrams per second sent on each leg (one direction).
    pub rate_per_leg: u32,
    /// Measurement window.
    pub window: Duration,
}

/// What the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct RelayBenchReport {
    pub pairs: usize,
    pub offered_per_sec: f64,
    pub forwarded_per_sec: f64,
    pub delivered_per_sec: f64,
    /// Share of one core the coordinator thread used during the window.
    pub coordinator_cpu_share: f64,
    /// Forwarded datagrams per CPU-second of the coordinator: the per-core figure.
    pub forwarded_per_core_sec: f64,
    pub datagram_bytes: usize,
}

/// A 20 ms wideband Opus frame is ~70–100 bytes; 80 bytes of payload plus the
/// media header is a typical voice datagram.
const PAYLOAD: usize = 80;

/// Nanoseconds the thread `tid` of this process has run (from schedstat).
fn thread_cpu_ns(tid: u32) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))?;
    text.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .context("unreadable schedstat")
}

fn current_tid() -> Result<u32> {
    let link = std::fs::read_link("/proc/thread-self")?;
    link.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .context("cannot read the thread id")
}

struct CoordinatorThread {
    coordinator: Coordinator,
    addr: std::net::SocketAddr,
    tid: u32,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

fn start_coordinator(dir: std::path::PathBuf) -> Result<CoordinatorThread> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("coordinator".into())
        .spawn(move || {
            let started = (|| -> Result<_> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let coordinator = Coordinator::open(&dir)?;
                let running = rt.block_on(coordinator.serve(ServeOptions {
                    listen: "127.0.0.1:0".parse()?,
                    http: None,
                    http_tls: None,
                }))?;
                let addr = running.local_addr().context("no address")?;
                Ok((rt, coordinator, running, addr, current_tid()?))
            })();
            match started {
                Ok((rt, coordinator, running, addr, tid)) => {
                    let _ = ready_tx.send(Ok((coordinator, addr, tid)));
                    rt.block_on(async move {
                        let _ = stop_rx.await;
                        running.shutdown().await;
                    });
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })?;
    let (coordinator, addr, tid) = ready_rx.recv()??;
    Ok(CoordinatorThread {
        coordinator,
        addr,
        tid,
        stop,
        thread,
    })
}

/// Runs the benchmark.
pub async fn run(options: &RelayBenchOptions) -> Result<RelayBenchReport> {
    let dir = tempfile::tempdir()?;
    let nodes = {
        let dir = dir.path().to_path_buf();
        let n = options.pairs * 2;
        tokio::task::spawn_blocking(move || enroll_all(&dir, n)).await??
    };
    let ids: Vec<_> = nodes.iter().map(|n| n.node_id.clone()).collect();
    let server = start_coordinator(dir.path().to_path_buf())?;
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    let mut sessions: Vec<Pinger> = Vec::with_capacity(nodes.len());
    for node in nodes {
        sessions.push(connect(&endpoint, server.addr, node).await?.0);
    }
    for pair in 0..options.pairs {
        server.coordinator.open_leg(
            LegId(pair as u32 + 1),
            "bench",
            LegEnd {
                node: &ids[2 * pair],
                endpoint: "fxo1",
            },
            LegEnd {
                node: &ids[2 * pair + 1],
                endpoint: "headset",
            },
        )?;
    }
    let running = Arc::new(AtomicBool::new(true));
    let delivered = Arc::new(AtomicU64::new(0));
    let offered = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for pair in 0..options.pairs {
        let receiver = sessions[2 * pair + 1].conn.clone();
        let delivered = delivered.clone();
        tasks.spawn(async move {
            while receiver.read_datagram().await.is_ok() {
                delivered.fetch_add(1, Ordering::Relaxed);
            }
        });
        let sender = sessions[2 * pair].conn.clone();
        let (running, offered) = (running.clone(), offered.clone());
        let per_tick = (options.rate_per_leg / 50).max(1);
        tasks.spawn(async move {
            let leg = LegId(pair as u32 + 1);
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let mut seq = 0u16;
            let mut bytes = Vec::with_capacity(PAYLOAD + 16);
            while running.load(Ordering::Relaxed) {
                tick.tick().await;
                for _ in 0..per_tick {
                    seq = seq.wrapping_add(1);
                    bytes.clear();
                    let header = Header {
                        leg,
                        seq,
                        timestamp: u32::from(seq) * 960,
                        flags: Flags::empty(),
                    };
                    if header.write(&[0x5a; PAYLOAD], &mut bytes).is_ok()
                        && sender.send_datagram(bytes.clone().into()).is_ok()
                    {
                        offered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // warm-up
    let forwarded_at = |c: &Coordinator| c.relay_counters().forwarded;
    let (f0, d0, o0) = (
        forwarded_at(&server.coordinator),
        delivered.load(Ordering::Relaxed),
        offered.load(Ordering::Relaxed),
    );
    let cpu0 = thread_cpu_ns(server.tid)?;
    let started = Instant::now();
    tokio::time::sleep(options.window).await;
    let cpu = thread_cpu_ns(server.tid)? - cpu0;
    let wall = started.elapsed().as_secs_f64();
    let forwarded = forwarded_at(&server.coordinator) - f0;
    let report = RelayBenchReport {
        pairs: options.pairs,
        offered_per_sec: (offered.load(Ordering::Relaxed) - o0) as f64 / wall,
        forwarded_per_sec: forwarded as f64 / wall,
        delivered_per_sec: (delivered.load(Ordering::Relaxed) - d0) as f64 / wall,
        coordinator_cpu_share: cpu as f64 / 1e9 / wall,
        forwarded_per_core_sec: forwarded as f64 / (cpu as f64 / 1e9).max(1e-9),
        datagram_bytes: PAYLOAD + tandem_node::media::datagram::HEADER_LEN,
    };
    running.store(false, Ordering::Relaxed);
    for s in &sessions {
        s.conn.close(quinn::VarInt::from_u32(0), b"bench done");
    }
    tasks.abort_all();
    let _ = server.stop.send(());
    server
        .thread
        .join()
        .map_err(|_| anyhow!("coordinator thread panicked"))?;
    Ok(report)
}

impl std::fmt::Display for RelayBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "relay benchmark: {} legs, {}-byte datagrams",
            self.pairs, self.datagram_bytes
        )?;
        writeln!(
            f,
            "  offered {:.0}/s, forwarded {:.0}/s, delivered {:.0}/s",
            self.offered_per_sec, self.forwarded_per_sec, self.delivered_per_sec
        )?;
        write!(
            f,
            "  coordinator thread busy {:.0} % of one core -> {:.0} datagrams forwarded per core-second (goal >= 300,000)",
            self.coordinator_cpu_share * 100.0,
            self.forwarded_per_core_sec
        )
    }
}
