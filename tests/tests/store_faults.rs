//! A full disk is survivable: the coordinator's and a gateway's databases sit on
//! small tmpfs mounts that the test fills, then frees, while a real gateway
//! uploads over real QUIC. While the coordinator cannot write, uploads are not
//! acknowledged (they stay in the gateway's outbox), `/healthz` answers 503 with
//! the reason and a configuration change is refused; once space returns the
//! store reopens by itself, `/healthz` is 200 again, every record arrives
//! exactly once and nothing committed before the fault is lost. The gateway's
//! outbox refuses appends on its own full disk and takes them again after.
//!
//! Mounting tmpfs needs root (or passwordless sudo). Under CI (`CI=true`) or as
//! root a failed mount fails the test; elsewhere, without the rights, the test
//! says loudly that it did not run.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tandem_coordinator::Coordinator;
use tandem_coordinator::server::ServeOptions;
use tandem_gateway::outbox::Outbox;
use tandem_gateway::uplink::UplinkState;
use tandem_node::names::NodeId;
use tandem_node::proto::RecordKind;
use tandem_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Size of the coordinator's tmpfs: room for its database and for everything
/// the gateway sends, little more.
const COORDINATOR_DISK: &str = "32m";
/// Size of the gateway's tmpfs.
const GATEWAY_DISK: &str = "16m";
/// Body of the records sent while the coordinator's disk is full: large
/// enough that a batch needs new pages in the database file.
const BIG: usize = 16 * 1024;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` owned by this user: directly as root, else
    /// through `sudo -n` when it is allowed without a password. `None` when
    /// neither works.
    fn mount(size: &str) -> Result<Option<Self>> {
        let dir = tempfile::tempdir()?;
        let owner = format!("size={size},mode=0700,uid={},gid={}", id("-u")?, id("-g")?);
        let mut mount = privileged();
        let status = mount
            .args(["mount", "-t", "tmpfs", "-o", &owner, "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .context("running mount")?;
        Ok(status.success().then_some(Self { dir }))
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the mount is full; returns its path.
    fn fill(&self) -> Result<PathBuf> {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path)?;
        let chunk = vec![0xa5u8; 64 * 1024];
        loop {
            match file.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => return Err(e.into()),
            }
        }
        // Fill the last partial chunk too.
        loop {
            match file.write(&chunk[..512]) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(path)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = privileged()
            .args(["umount", "-l"])
            .arg(self.dir.path())
            .status();
    }
}

fn running_as_root() -> bool {
    id("-u").is_ok_and(|uid| uid == "0")
}

/// `id FLAG`'s answer (this process's user or group id).
fn id(flag: &str) -> Result<String> {
    let out = Command::new("id").arg(flag).output()?;
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// A command line that runs with root rights: as is when root, else `sudo -n`.
fn privileged() -> Command {
    if running_as_root() {
        Command::new("env")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg("-n");
        sudo
    }
}

/// One plain HTTP/1.1 GET: status and body.
async fn get(addr: std::net::SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    Ok((status, body))
}

/// A counter or gauge from `/metrics`.
async fn metric(addr: std::net::SocketAddr, name: &str) -> Result<u64> {
    let (_, body) = get(addr, "/metrics").await?;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .with_context(|| format!("no {name} in /metrics"))
}

async fn append(outbox: &Outbox, from: u32, count: u32, size: usize) -> Result<()> {
    match appended(outbox, from, count, size).await? {
        (n, None) if n == count => Ok(()),
        (n, err) => bail!("only {n} of {count} appended: {err:?}"),
    }
}

/// Appends records `from..from + count` until the outbox refuses one: how
/// many it took, and its refusal.
async fn appended(
    outbox: &Outbox,
    from: u32,
    count: u32,
    size: usize,
) -> Result<(u32, Option<String>)> {
    let outbox = outbox.clone();
    Ok(tokio::task::spawn_blocking(move || {
        for i in from..from + count {
            if let Err(err) = outbox.append(RecordKind::IvrEvent, u64::from(i), body(i, size)) {
                return (i - from, Some(err.to_string()));
            }
        }
        (count, None)
    })
    .await?)
}

/// Record `i`'s body: its index, big-endian, padded to `size`.
fn body(i: u32, size: usize) -> Vec<u8> {
    let mut b = i.to_be_bytes().to_vec();
    b.resize(size.max(4), (i % 251) as u8);
    b
}

/// Waits until the coordinator holds exactly `n` records of `node`, each the
/// index it was written with, in order, without duplicates.
async fn stored_exactly(coordinator: &Coordinator, node: &NodeId, n: u32) -> Result<()> {
    let c = coordinator.clone();
    let who = node.clone();
    eventually(Duration::from_secs(30), "records stored", || {
        let c = c.clone();
        let who = who.clone();
        async move {
            tokio::task::spawn_blocking(move || c.store().uploads(&who).map(|v| v.len()))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0)
                >= n as usize
        }
    })
    .await?;
    let uploads = coordinator.store().uploads(node)?;
    assert_eq!(uploads.len(), n as usize, "no duplicates");
    for (i, (seq, rec)) in uploads.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(
            rec.body[..4],
            (i as u32).to_be_bytes(),
            "record {seq} intact"
        );
    }
    Ok(())
}

async fn wait_online(gateway: &tandem_gateway::Gateway) -> Result<()> {
    let mut state = gateway.state();
    tokio::time::timeout(
        Duration::from_secs(15),
        state.wait_for(|s| matches!(s, UplinkState::Online { .. })),
    )
    .await??;
    Ok(())
}

async fn healthz_becomes(addr: std::net::SocketAddr, status: u16) -> Result<String> {
    eventually(
        Duration::from_secs(20),
        &format!("/healthz {status}"),
        || async move { get(addr, "/healthz").await.map(|(s, _)| s).unwrap_or(0) == status },
    )
    .await?;
    Ok(get(addr, "/healthz").await?.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_loses_nothing_and_recovers_without_a_restart() -> Result<()> {
    init_logs();
    let (Some(coordinator_disk), Some(gateway_disk)) =
        (Tmpfs::mount(COORDINATOR_DISK)?, Tmpfs::mount(GATEWAY_DISK)?)
    else {
        if std::env::var("CI").is_ok_and(|v| v == "true") || running_as_root() {
            bail!(
                "cannot mount tmpfs (root: {}); CI must run this test",
                running_as_root()
            );
        }
        eprintln!(
            "\n*** SKIPPED store_faults: mounting tmpfs needs root or passwordless sudo ***\n"
        );
        return Ok(());
    };
    let options = ServeOptions {
        listen: "127.0.0.1:0".parse()?,
        http: Some("127.0.0.1:0".parse()?),
        http_tls: None,
    };
    let running = Coordinator::open(&coordinator_disk.path().join("data"))?
        .serve(options)
        .await?;
    let http = running.http_addr().context("no HTTP address")?;
    let quic = running.local_addr().context("no QUIC address")?;
    let token = running
        .coordinator()
        .create_token(tandem_node::names::Site::new("bj-01")?, 600)?
        .encode();
    let gw_dir = gateway_disk.path().join("gw");
    let identity = {
        let store = tandem_gateway::identity::GatewayStore::open(&gw_dir)?;
        tandem_gateway::enroll::enroll(&store, &quic.to_string(), &token, false).await?
    };
    let gateway = start_gateway(&gw_dir, &sim_board())?;
    wait_online(&gateway).await?;
    let node = &identity.node_id;

    // Healthy: records arrive, /healthz is 200.
    append(gateway.outbox(), 0, 50, 64).await?;
    stored_exactly(running.coordinator(), node, 50).await?;
    assert_eq!(get(http, "/healthz").await?, (200, "ok".to_owned()));
    assert_eq!(metric(http, "tandem_store_up").await?, 1);

    // The coordinator's disk fills; the gateway keeps sending large records.
    let filler = coordinator_disk.fill()?;
    append(gateway.outbox(), 50, 200, BIG).await?;
    let reason = healthz_becomes(http, 503).await?;
    assert!(reason.contains("store"), "reason given: {reason}");
    tracing::info!(%reason, "coordinator reports the fault");
    assert_eq!(metric(http, "tandem_store_up").await?, 0);
    assert!(metric(http, "tandem_store_faults_total").await? >= 1);
    assert!(metric(http, "tandem_store_io_errors_total").await? >= 1);
    // Nothing the store could not keep was acknowledged.
    let held = gateway.outbox().len()?;
    let stored = running.coordinator().store().uploads(node).map(|u| u.len());
    assert!(
        stored.is_err(),
        "the store refuses reads while faulted instead of answering from a latched file"
    );
    assert!(
        held > 0,
        "records stay in the outbox while the store cannot write"
    );
    // A configuration change is refused with the reason, not lost.
    let c = running.coordinator().clone();
    let refused =
        tokio::task::spawn_blocking(move || c.load_config(tandem_sim::world::DEMO_CONFIG)).await?;
    let err = refused.expect_err("a configuration cannot be stored on a full disk");
    assert!(err.to_string().contains("storage"), "{err}");
    // Still faulted a few retries later: the store never claims health it lacks.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(get(http, "/healthz").await?.0, 503);

    // Space returns: the store reopens by itself, everything arrives once.
    std::fs::remove_file(&filler)?;
    healthz_becomes(http, 200).await?;
    stored_exactly(running.coordinator(), node, 250).await?;
    let outbox = gateway.outbox().clone();
    eventually(Duration::from_secs(15), "outbox drained", || {
        let empty = outbox.is_empty().unwrap_or(false);
        async move { empty }
    })
    .await?;
    assert!(metric(http, "tandem_store_recoveries_total").await? >= 1);
    assert_eq!(metric(http, "tandem_store_up").await?, 1);
    let c = running.coordinator().clone();
    let version =
        tokio::task::spawn_blocking(move || c.load_config(tandem_sim::world::DEMO_CONFIG))
            .await??;
    assert_eq!(version, 1, "the refused configuration took no version");

    // The gateway's own disk fills: its outbox refuses appends, then recovers.
    let gw_filler = gateway_disk.fill()?;
    // Pages freed inside the database file take the first appends; it cannot grow.
    let (taken, refusal) = appended(gateway.outbox(), 250, 1000, BIG).await?;
    let refusal = refusal.context("an outbox on a full disk refuses appends")?;
    tracing::info!(taken, %refusal, "gateway outbox refuses on a full disk");
    assert!(
        gateway.outbox().health().report().fault.is_some(),
        "the gateway store reports the fault"
    );
    std::fs::remove_file(&gw_filler)?;
    tokio::time::sleep(tandem_node_io::durable::RETRY).await;
    // What was appended before the refusal is kept; new appends are taken.
    let next = 250 + taken;
    append(gateway.outbox(), next, 10, 64).await?;
    let health = gateway.outbox().health().report();
    assert!(health.fault.is_none(), "the gateway store recovered");
    assert!(health.recoveries >= 1);
    stored_exactly(running.coordinator(), node, next + 10).await?;

    gateway.stop().await?;
    running.shutdown().await;
    Ok(())
}
